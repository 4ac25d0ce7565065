//! Reports: JSON round trip and its JSON Schema (`reports/report.schema.json`), schema 1
//! reports still loading, the traceability matrix, INCONCLUSIVE runs shown apart (grouped
//! by precondition, pointing at the case that tests it) in every output, well-formed JUnit
//! XML, HTML that escapes whatever the broker sent, and capability tables limited to the
//! protocols run.

use std::collections::BTreeSet;
use std::time::Duration;

use mqttspec::baseline::Baseline;
use mqttspec::client::{Direction, Entry};
use mqttspec::limits::{Caps, Finding, LimitsReport, Measure, VersionLimits};
use mqttspec::probe::VersionStatus;
use mqttspec::profile::Capabilities;
use mqttspec::report::{Report, NOT_COVERED, SCHEMA_VERSION};
use mqttspec::runner::{BrokerInfo, CaseRun, Pass, RestrictedInfo, RunResults};
use mqttspec::transport::{Endpoint, TransportInfo};
use mqttspec::verdict::{Outcome, Precondition, Verdict};
use mqttspec_codec::{ProtocolVersion, StatementId};
use serde_json::Value;

const NASTY: &str = "<script>alert('x')</script> & \"q\" ]]> \u{1b}[31m\u{0}";

fn case(id: &str) -> mqttspec::scenario::Case {
    mqttspec::cases::all()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

fn run(id: &str, protocol: ProtocolVersion, outcome: Outcome) -> CaseRun {
    CaseRun {
        case: case(id),
        protocol,
        outcome,
        duration: Duration::from_millis(12),
        transcript: vec![Entry {
            at_us: 1500,
            client: NASTY.to_owned(),
            direction: Direction::In,
            hex: "20020000".to_owned(),
            summary: format!("CONNACK props{{Reason String={NASTY:?}}} {NASTY}"),
        }],
        pass: Pass::Main,
        main_outcome: None,
        rerun: None,
    }
}

fn results_of(protocols: Vec<ProtocolVersion>, runs: Vec<CaseRun>) -> RunResults {
    RunResults {
        broker: BrokerInfo {
            address: Endpoint::tcp("127.0.0.1:1883".parse().unwrap()),
            transport: TransportInfo {
                transport: "mqtt".to_owned(),
                endpoint: "127.0.0.1:1883".to_owned(),
                ..TransportInfo::default()
            },
            embedded: false,
            faults: Vec::new(),
            capabilities: Capabilities::default(),
            notes: vec![format!("probe: {NASTY}")],
            restricted: None,
            versions: protocols
                .iter()
                .map(|v| (*v, VersionStatus::Usable))
                .collect(),
            unhealthy_after: None,
            command: None,
            stopped_serving: Vec::new(),
        },
        protocols,
        runs,
        wall_time: Duration::from_millis(1234),
        started_unix: 1_700_000_000,
        limits: Some(limits()),
    }
}

/// Limits as `mqttspec probe` finds them, with whatever a broker may send in the texts.
fn limits() -> LimitsReport {
    LimitsReport {
        address: "127.0.0.1:1883".to_owned(),
        topic_prefix: "mqttspec-probe/abc".to_owned(),
        time_limit_ms: 120_000,
        wall_time_ms: 2_500,
        caps: Caps::default(),
        versions: vec![
            VersionLimits {
                protocol: "3.1.1".to_owned(),
                unusable: Some(format!("CONNECT got {NASTY}")),
                connack: serde_json::json!({}),
                findings: Vec::new(),
            },
            VersionLimits {
                protocol: "5".to_owned(),
                unusable: None,
                connack: serde_json::json!({"receive_maximum": 20, "reason_string": NASTY}),
                findings: vec![
                    Finding::new(
                        "topic_levels",
                        "Deepest Topic Name accepted and delivered",
                        "levels",
                        Measure::Exactly { value: 12 },
                        format!("12 accepted; 13: {NASTY}"),
                    ),
                    Finding::new(
                        "client_id_bytes",
                        "Longest Client Identifier accepted",
                        "bytes",
                        Measure::AtLeast { value: 65_535 },
                        String::new(),
                    ),
                    Finding::new(
                        "payload_bytes",
                        "Largest payload accepted and delivered",
                        "bytes",
                        Measure::Between { low: 1, high: 9 },
                        String::new(),
                    ),
                    Finding::new(
                        "qos0_queued_offline",
                        "QoS 0 messages queued for an offline session",
                        "",
                        Measure::Choice { value: false },
                        String::new(),
                    ),
                    Finding::new(
                        "retained_messages",
                        "Retained messages kept",
                        "messages",
                        Measure::Unknown {
                            reason: NASTY.to_owned(),
                        },
                        String::new(),
                    ),
                ],
            },
        ],
        cleanup: vec![format!("left: {NASTY}")],
    }
}

/// Every verdict; three INCONCLUSIVE runs: one whose pointer case ran on another protocol
/// only, one whose pointer case ran on the same protocol, and one without a pointer.
fn results() -> RunResults {
    use ProtocolVersion::{V311, V5};
    results_of(
        vec![V311, V5],
        vec![
            run("connect.accepted", V5, Outcome::pass()),
            run(
                "connect.second-connect-is-protocol-error",
                V5,
                Outcome::fail("DISCONNECT 0x82", NASTY),
            ),
            run(
                "connect.second-connect-is-protocol-error",
                V311,
                Outcome::error(NASTY),
            ),
            run("connect.pingreq-answered", V311, Outcome::unsupported("no")),
            run(
                "connect.pingreq-answered",
                V5,
                Outcome::non_strict("a", "b"),
            ),
            run(
                "connect.client-id-23-alphanumerics-accepted",
                V311,
                Outcome::inconclusive(Precondition::Connect, NASTY),
            ),
            run(
                "connect.receive-maximum-zero",
                V5,
                Outcome::inconclusive(Precondition::Ping, "no PINGRESP within 3 s"),
            ),
            run(
                "connect.will-qos-3",
                V311,
                Outcome::inconclusive(Precondition::Twin, "the well-formed twin was refused too"),
            ),
        ],
    )
}

fn report() -> Report {
    Report::build(&results(), NASTY, &Baseline::default())
}

/// The report with a restricted broker and one verdict of it, so that every optional field
/// is present.
fn report_with_restricted() -> Report {
    let mut results = results();
    results.broker.restricted = Some(RestrictedInfo {
        address: Endpoint::tcp("127.0.0.1:1884".parse().unwrap()),
        settings: vec!["Maximum QoS 1".to_owned()],
        capabilities: Capabilities {
            maximum_qos: 1,
            ..Capabilities::default()
        },
        notes: vec!["restricted".to_owned()],
        reruns: 1,
    });
    let mut r = run(
        "connect.pingreq-answered",
        ProtocolVersion::V311,
        Outcome::pass(),
    );
    r.pass = Pass::Restricted;
    r.main_outcome = Some(Outcome::unsupported("no"));
    results.runs[3] = r;
    // A broker started with --broker-cmd that stopped serving once and was restarted.
    results.broker.command = Some(format!("broker {NASTY}"));
    results.broker.stopped_serving = vec![mqttspec::runner::StoppedServing {
        case: "connect.accepted".to_owned(),
        protocol: "5".to_owned(),
        alone: true,
        probe: NASTY.to_owned(),
        exit: Some(NASTY.to_owned()),
        output: vec![format!("panicked at {NASTY}")],
        restarted: true,
        then: "restarted".to_owned(),
    }];
    results.runs[0].rerun = Some(format!("run again alone: {NASTY}"));
    Report::build(&results, "restricted", &Baseline::default())
}

fn json(r: &Report) -> Value {
    serde_json::to_value(r).unwrap()
}

fn case_json<'a>(v: &'a Value, id: &str, protocol: &str) -> &'a Value {
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id && c["protocol"] == protocol)
        .unwrap_or_else(|| panic!("no case {id} {protocol}"))
}

#[test]
fn json_report_round_trips_and_carries_the_schema_version() {
    let r = report();
    let text = serde_json::to_string(&r).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema_version"], SCHEMA_VERSION);
    assert_eq!(
        v["limits"]["versions"][1]["findings"][0]["value"]["kind"],
        "exactly"
    );
    assert_eq!(
        v["limits"]["versions"][1]["findings"][0]["verdict"],
        "INFORMATIONAL"
    );
    assert_eq!(v["cases"][1]["verdict"], "FAIL");
    assert_eq!(v["cases"][1]["expected"], "DISCONNECT 0x82");
    assert_eq!(v["summary"]["by_verdict"]["FAIL"], 1);
    assert_eq!(v["summary"]["by_verdict"]["NON-STRICT"], 1);
    assert_eq!(v["summary"]["by_verdict"]["INCONCLUSIVE"], 3);
    assert!(v["cases"][0]["transcript"][0]["hex"].is_string());
}

#[test]
fn inconclusive_runs_name_their_precondition_and_the_case_that_tests_it() {
    let v = json(&report());
    let c = case_json(&v, "connect.client-id-23-alphanumerics-accepted", "3.1.1");
    assert_eq!(c["verdict"], "INCONCLUSIVE");
    assert_eq!(c["precondition"], "connect");
    assert_eq!(c["see_case"], "connect.accepted");
    assert_eq!(c["expected"], Precondition::Connect.describe());
    let twin = case_json(&v, "connect.will-qos-3", "3.1.1");
    assert_eq!(twin["precondition"], "twin");
    assert!(twin.get("see_case").is_none(), "no case tests the twin");
    // Only INCONCLUSIVE runs carry the two fields.
    for c in v["cases"].as_array().unwrap() {
        let inconclusive = c["verdict"] == "INCONCLUSIVE";
        assert_eq!(c.get("precondition").is_some(), inconclusive, "{c}");
    }
    let by_precondition: Vec<(String, Option<String>, u64)> = v["summary"]["by_precondition"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["precondition"].as_str().unwrap().to_owned(),
                p.get("see_case").map(|s| s.as_str().unwrap().to_owned()),
                p["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_precondition,
        vec![
            ("connect".to_owned(), Some("connect.accepted".to_owned()), 1),
            (
                "ping".to_owned(),
                Some("connect.pingreq-answered".to_owned()),
                1
            ),
            ("twin".to_owned(), None, 1),
        ]
    );
    let r = report();
    let groups = r.inconclusive_groups();
    assert_eq!(groups.len(), 3);
    assert_eq!(
        groups[0].cases[0].id,
        "connect.client-id-23-alphanumerics-accepted"
    );
}

#[test]
fn cases_record_their_tags() {
    let v = json(&report());
    for c in v["cases"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let expected: Vec<&str> = case(id).tags.iter().map(|t| t.label()).collect();
        let tags: Vec<&str> = c["tags"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: no tags array"))
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tags, expected, "{id}");
    }
}

#[test]
fn summary_counts_every_verdict() {
    let r = report();
    let s = &r.summary.by_verdict;
    assert_eq!(s.total(), r.summary.total);
    assert_eq!(
        s.iter()
            .map(|(v, _)| v.label())
            .collect::<BTreeSet<_>>()
            .len(),
        Verdict::ALL.len()
    );
    assert_eq!(
        s.describe(),
        "1 passed, 1 failed, 1 non-strict, 0 informational, 1 unsupported, 3 inconclusive, 1 errors"
    );
}

#[test]
fn statement_verdict_is_the_worst_of_its_cases_and_uncited_ones_are_not_covered() {
    let r = report();
    let row = |id: &str, p: &str| {
        r.statements
            .iter()
            .find(|s| s.id == id && s.protocol == p)
            .unwrap_or_else(|| panic!("no row {id} {p}"))
    };
    // MQTT-3.1.0-2 (5.0) is cited by the failing case only.
    assert_eq!(row("MQTT-3.1.0-2", "5").verdict, "FAIL");
    assert_eq!(row("MQTT-3.1.0-2", "3.1.1").verdict, "ERROR");
    assert_eq!(row("MQTT-3.12.4-1", "5").verdict, "NON-STRICT");
    assert_eq!(row("MQTT-3.12.4-1", "3.1.1").verdict, "UNSUPPORTED");
    // Cited by INCONCLUSIVE runs only.
    assert_eq!(row("MQTT-3.1.3-5", "3.1.1").verdict, "INCONCLUSIVE");
    assert_eq!(row("MQTT-3.1.4-1", "5").verdict, "INCONCLUSIVE");
    assert_eq!(row("MQTT-4.7.1-1", "5").verdict, NOT_COVERED);
    assert_eq!(
        r.statements.len(),
        StatementId::all_of(mqttspec_codec::Spec::V5).count()
            + StatementId::all_of(mqttspec_codec::Spec::V311).count()
    );
    let covered: usize = r.summary.coverage.iter().map(|c| c.covered).sum();
    assert!(covered >= 4, "{covered}");
    let inconclusive: usize = r
        .summary
        .by_area
        .iter()
        .map(|a| a.cases.get(Verdict::Inconclusive))
        .sum();
    assert_eq!(inconclusive, 3, "per-area counts include INCONCLUSIVE");
}

#[test]
fn junit_xml_is_well_formed_and_counts_failures_and_errors() {
    let xml = mqttspec::report::junit::render(&report());
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("8"));
    assert_eq!(root.attribute("failures"), Some("1"));
    assert_eq!(root.attribute("errors"), Some("1"));
    assert_eq!(
        root.attribute("skipped"),
        Some("4"),
        "UNSUPPORTED + INCONCLUSIVE"
    );
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 8);
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    assert!(failure.attribute("message").unwrap().contains("<script>"));
    let skipped = |id: &str| {
        cases
            .iter()
            .find(|c| c.attribute("name") == Some(id))
            .and_then(|c| c.children().find(|n| n.has_tag_name("skipped")))
            .and_then(|s| s.attribute("message"))
            .unwrap_or_else(|| panic!("{id} not skipped"))
            .to_owned()
    };
    let m = skipped("connect.client-id-23-alphanumerics-accepted");
    assert!(m.starts_with("INCONCLUSIVE: "), "{m}");
    assert!(m.contains(Precondition::Connect.describe()), "{m}");
    assert!(m.contains("see connect.accepted"), "{m}");
    let m = skipped("connect.will-qos-3");
    assert!(
        m.contains(Precondition::Twin.describe()) && !m.contains("see "),
        "{m}"
    );
    let suite_skipped: usize = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|s| s.attribute("skipped").unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(suite_skipped, 4);
}

#[test]
fn baselined_failures_are_skipped_in_junit() {
    let baseline = Baseline::parse(
        "[[expected]]\ncase = \"connect.second-connect-is-protocol-error\"\nprotocol = \"5\"\nverdict = \"FAIL\"\nreason = \"known\"\n",
    )
    .unwrap();
    let r = Report::build(&results(), "b", &baseline);
    assert_eq!(r.gate.baselined.len(), 1);
    assert_eq!(r.gate.new_failures.len(), 0);
    assert_eq!(r.gate.new_errors.len(), 1, "the ERROR is not baselined");
    let xml = mqttspec::report::junit::render(&r);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert!(!doc.descendants().any(|n| n.has_tag_name("failure")));
    assert_eq!(doc.root_element().attribute("failures"), Some("0"));
}

/// Every `href="#x"` of `page` has an element with `id="x"`.
fn assert_links_resolve(page: &str) {
    let ids: BTreeSet<&str> = page
        .split("id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    for target in page
        .split("href=\"#")
        .skip(1)
        .filter_map(|s| s.split('"').next())
    {
        assert!(ids.contains(target), "dangling link #{target}");
    }
}

#[test]
fn html_escapes_everything_from_the_broker_and_is_self_contained() {
    let html = mqttspec::report::html::render(&report());
    assert!(!html.contains("<script>"), "unescaped script tag");
    // Escaped, not dropped: a parser reads the broker's text back.
    let doc = parse_page(&html).expect("report.html is well-formed");
    assert!(
        doc.descendants()
            .filter_map(|n| n.text())
            .any(|t| t.contains("<script>alert('x')</script>")),
        "the script tag as text"
    );
    assert!(!html.contains('\u{0}') && !html.contains('\u{1b}'));
    assert!(
        !html.contains("src=") && !html.contains("<link") && !html.contains("url("),
        "no external resources"
    );
    assert!(html.contains("<details>"));
    assert!(html.contains("MQTT-3.1.0-2"));
    assert_links_resolve(&html);
    let compare = mqttspec::report::compare::render(&[report(), report()]);
    assert!(!compare.contains("<script>"));
    assert!(compare.contains("connect.second-connect-is-protocol-error"));
    assert!(!compare.contains("src=") && !compare.contains("<link") && !compare.contains("url("));
    assert_links_resolve(&compare);
}

/// Markup, an entity, quotes, a CDATA end, an ANSI escape sequence and characters XML 1.0
/// cannot carry (NUL, BEL, U+FFFE).
const HOSTILE: &str =
    "<script>alert(\"x\" & 'y')</script> ]]> &amp; \u{1b}[31mred\u{0}\u{7}\u{FFFE}";

/// [`HOSTILE`] as the pages show it: each character XML cannot carry is U+FFFD.
const HOSTILE_SHOWN: &str =
    "<script>alert(\"x\" & 'y')</script> ]]> &amp; \u{FFFD}[31mred\u{FFFD}\u{FFFD}\u{FFFD}";

/// `page` parsed as XML: the HTML pages are well-formed XML too (`<!DOCTYPE html>` is their
/// only DTD).
fn parse_page(page: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(page, options)
}

/// The text of every element and attribute of `doc`.
fn all_text<'a>(doc: &'a roxmltree::Document<'_>) -> Vec<&'a str> {
    doc.descendants()
        .flat_map(|n| {
            n.text()
                .into_iter()
                .chain(n.attributes().map(|a| a.value()))
        })
        .collect()
}

#[test]
fn hostile_broker_strings_are_text_in_every_page() {
    let mut r = report_with_restricted();
    r.broker.name = HOSTILE.to_owned();
    r.broker.notes = vec![HOSTILE.to_owned()];
    for c in &mut r.cases {
        c.title = HOSTILE.to_owned();
        c.actual = Some(HOSTILE.to_owned());
        c.tags = vec![HOSTILE.to_owned()];
        for e in &mut c.transcript {
            e.client = HOSTILE.to_owned();
            e.summary = HOSTILE.to_owned();
        }
    }
    let pages = [
        ("report.html", mqttspec::report::html::render(&r)),
        (
            "compare.html",
            mqttspec::report::compare::render(&[r.clone(), report()]),
        ),
        ("junit.xml", mqttspec::report::junit::render(&r)),
    ];
    for (name, page) in &pages {
        assert!(!page.contains("<script"), "{name}: unescaped markup");
        assert!(!page.contains("]]>"), "{name}: a raw CDATA end");
        assert!(
            !page.contains(|c: char| c.is_control() && c != '\n'),
            "{name}: a control character"
        );
        assert!(!page.contains('\u{FFFE}'), "{name}: a non-character");
        let doc = parse_page(page).unwrap_or_else(|e| panic!("{name} is not well-formed XML: {e}"));
        let text = all_text(&doc);
        assert!(
            text.iter().any(|t| t.contains(HOSTILE_SHOWN)),
            "{name}: the string is shown as text"
        );
    }
    let text_of = |page: &str, tag: &str| -> Vec<String> {
        let doc = parse_page(page).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name(tag))
            .map(|n| {
                n.descendants()
                    .filter(|d| d.is_text())
                    .filter_map(|d| d.text())
                    .collect()
            })
            .collect()
    };
    let [(_, html), (_, compare), (_, junit)] = &pages;
    // report.html: heading, notes, case titles, tags, reasons, transcripts.
    assert_eq!(
        text_of(html, "h1"),
        [format!("mqttspec conformance report: {HOSTILE_SHOWN}")]
    );
    for shown in [
        format!("Note: {HOSTILE_SHOWN}"),
        format!("Actual: {HOSTILE_SHOWN}"),
        format!("What happened: {HOSTILE_SHOWN}"),
        format!("{HOSTILE_SHOWN} [MQTT-3.1.0-2; 12 ms]"),
    ] {
        assert!(text_of(html, "p").contains(&shown), "{shown}");
    }
    assert!(
        text_of(html, "span").contains(&HOSTILE_SHOWN.to_owned()),
        "tag"
    );
    assert!(
        text_of(html, "td").contains(&HOSTILE_SHOWN.to_owned()),
        "transcript client and packet"
    );
    // compare.html: the broker's column and the cell's tooltip.
    assert!(text_of(compare, "th").contains(&HOSTILE_SHOWN.to_owned()));
    let doc = parse_page(compare).unwrap();
    let titles: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("title"))
        .collect();
    assert!(titles.contains(&HOSTILE_SHOWN), "case title");
    assert!(
        titles.contains(&format!("expected DISCONNECT 0x82; actual {HOSTILE_SHOWN}").as_str()),
        "{titles:?}"
    );
    // junit.xml: failure message and body (with the transcript), error, skipped, system-out.
    let doc = roxmltree::Document::parse(junit).unwrap();
    let element = |tag: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name(tag))
            .unwrap_or_else(|| panic!("no {tag}"))
    };
    assert_eq!(
        element("testsuites").attribute("name"),
        Some(format!("mqttspec {HOSTILE_SHOWN}").as_str())
    );
    let failure = element("failure");
    assert_eq!(
        failure.attribute("message"),
        Some(format!("expected DISCONNECT 0x82; actual {HOSTILE_SHOWN}").as_str())
    );
    let body = failure.text().unwrap_or_default();
    assert!(
        body.starts_with(&format!("{HOSTILE_SHOWN}\nstatements: ")),
        "{body}"
    );
    assert!(
        body.contains(&format!("{HOSTILE_SHOWN} <-  {HOSTILE_SHOWN}")),
        "{body}"
    );
    assert_eq!(element("error").attribute("message"), Some(HOSTILE_SHOWN));
    assert!(doc
        .descendants()
        .filter(|n| n.has_tag_name("skipped"))
        .filter_map(|n| n.attribute("message"))
        .any(|m| m.ends_with(&format!(": {HOSTILE_SHOWN}"))));
    assert!(doc
        .descendants()
        .filter(|n| n.has_tag_name("system-out"))
        .filter_map(|n| n.text())
        .any(|t| t == format!("NON-STRICT: expected a; actual {HOSTILE_SHOWN}")));
}

/// Escaping by construction: no template marks a value safe or turns escaping off (the
/// views hold only text from reports and constants).
#[test]
fn templates_escape_every_value() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the templates folder") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for bad in ["|safe", "|escape(\"none\")", "|e(\"none\")", "{%autoescape"] {
            assert!(!squeezed.contains(bad), "{} uses {bad}", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 3, "report.html, compare.html and their layout");
}

#[test]
fn html_groups_inconclusive_runs_by_precondition_with_a_link_to_the_case_that_tests_it() {
    let html = mqttspec::report::html::render(&report());
    let start = html
        .find("<h2 id=\"inconclusive\">Inconclusive (not tested)</h2>")
        .expect("the section");
    let end = start
        + html[start..]
            .find("<h2>Capabilities")
            .expect("then capabilities");
    let section = &html[start..end];
    // Groups in precondition order, each with its runs.
    let connect = section
        .find(Precondition::Connect.describe())
        .expect("connect");
    let ping = section.find(Precondition::Ping.describe()).expect("ping");
    let twin = section.find(Precondition::Twin.describe()).expect("twin");
    assert!(connect < ping && ping < twin);
    assert!(
        section.contains("<code>connect.accepted</code> (<a href=\"#case-connect.accepted-v5\">MQTT 5</a>: <span class=\"v-pass\">PASS</span>)"),
        "{section}"
    );
    assert!(section.contains("href=\"#case-connect.will-qos-3-v3.1.1\""));
    assert!(section.contains("No case tests this precondition by itself"));
    // The case's own block points at the case of its protocol, linked when it ran there.
    assert!(html.contains(
        "→ see <a href=\"#case-connect.pingreq-answered-v5\"><code>connect.pingreq-answered</code></a> (<span class=\"v-non-strict\">NON-STRICT</span>)"
    ));
    assert!(html.contains("→ see <code>connect.accepted</code> (not run on MQTT 3.1.1)"));
    assert!(
        html.contains("<a href=\"#inconclusive\">3</a>"),
        "summary links to it"
    );
    assert!(html.contains(".v-inconclusive{"));
}

#[test]
fn html_case_list_shows_tags() {
    let mut r = report();
    r.cases[0].tags = vec!["live".to_owned(), "from-broker".to_owned()];
    let html = mqttspec::report::html::render(&r);
    assert!(html.contains(
        "<p class=\"muted\">tags: <span class=\"tag\">live</span> <span class=\"tag\">from-broker</span></p>"
    ));
}

#[test]
fn markdown_summary_lists_the_non_passing_and_the_inconclusive_cases_apart() {
    let md = mqttspec::report::markdown::render(&report());
    assert!(md.contains("| FAIL | 1 |"), "{md}");
    assert!(md.contains("| INCONCLUSIVE | 3 |"), "{md}");
    assert!(
        md.contains("`connect.second-connect-is-protocol-error` | 5 | FAIL"),
        "{md}"
    );
    assert!(!md.contains("<script>"));
    let (passing, inconclusive) = md
        .split_once("## Inconclusive (not tested)")
        .expect("the section");
    assert!(
        !passing.contains("`connect.will-qos-3`"),
        "INCONCLUSIVE is not among the non-passing: {md}"
    );
    assert!(inconclusive.contains(&format!(
        "### {} (`connect`): 1 case run(s)\n\nSee `connect.accepted` (5: PASS).",
        Precondition::Connect.describe()
    )));
    assert!(inconclusive
        .contains("See `connect.pingreq-answered` (3.1.1: UNSUPPORTED, 5: NON-STRICT)."));
    assert!(inconclusive
        .contains("| `connect.will-qos-3` | 3.1.1 | the well-formed twin was refused too |"));
    assert!(md.contains("| INCONC. |"));
    assert!(
        !md.contains(|c: char| c.is_control() && c != '\n'),
        "{md:?}"
    );
    // The verdict table and everything after the per-area table (which follow the
    // statement catalogue).
    let verdicts = md
        .split_once("| verdict | cases |")
        .and_then(|(_, rest)| rest.split_once("\n\n"))
        .expect("the verdict table")
        .0;
    let tail = &md[md.find("## Not passing").expect("not passing")..];
    let excerpt = format!("| verdict | cases |{verdicts}\n\n[...]\n\n{tail}");
    insta::assert_snapshot!("summary_md", excerpt);
}

#[test]
fn compare_page_lists_inconclusive_runs_by_precondition() {
    let page = mqttspec::report::compare::render(&[report(), report_with_restricted()]);
    let section = page
        .split_once("Inconclusive (not tested)</h2>")
        .expect("the section")
        .1
        .split_once("<h2>Cases</h2>")
        .expect("then the cases")
        .0;
    assert!(
        section.contains("<a href=\"#case-connect.accepted-v5\"><code>connect.accepted</code></a>")
    );
    assert!(section.contains("<small>see case: MQTT 5: <span class=\"v-pass\">PASS</span></small>"));
    assert_eq!(section.matches("1 case run(s)").count(), 6);
    assert!(page.contains("INCONCLUSIVE <small>(twin)</small>"));
    assert!(page.contains("<tr id=\"case-connect.accepted-v5\">"));
}

#[test]
fn capability_rows_exist_only_for_the_protocols_run() {
    let v311 = results_of(
        vec![ProtocolVersion::V311],
        vec![run(
            "connect.accepted",
            ProtocolVersion::V311,
            Outcome::pass(),
        )],
    );
    let rows = [
        "maximum_qos",
        "retain_available",
        "wildcard_subscription_available",
        "subscription_identifier_available",
        "shared_subscription_available",
        "topic_alias_maximum",
        "receive_maximum",
        "maximum_packet_size",
        "server_keep_alive",
    ];
    let r = Report::build(&v311, "b", &Baseline::default());
    let html = mqttspec::report::html::render(&r);
    let md = mqttspec::report::markdown::render(&r);
    for name in rows {
        assert!(
            !html.contains(&format!("<td>{name}</td>")),
            "{name} in\n{html}"
        );
        assert!(!md.contains(&format!("| {name} |")), "{name} in\n{md}");
    }
    assert!(md.contains("MQTT 3.1.1 declares no capabilities in CONNACK; the profile sets none."));
    // A value the profile sets still decides which cases are UNSUPPORTED: it is shown.
    let mut profiled = v311.clone();
    profiled.broker.capabilities.maximum_qos = 1;
    profiled
        .broker
        .capabilities
        .sources
        .insert("maximum_qos".to_owned(), "profile".to_owned());
    let r = Report::build(&profiled, "b", &Baseline::default());
    let html = mqttspec::report::html::render(&r);
    assert!(
        html.contains("<tr><td>maximum_qos</td><td>1</td><td class=\"muted\">profile</td></tr>")
    );
    assert!(!html.contains("<td>receive_maximum</td>"));
    // With MQTT 5.0 every row is there.
    let html = mqttspec::report::html::render(&report());
    let md = mqttspec::report::markdown::render(&report());
    for name in rows {
        assert!(html.contains(&format!("<td>{name}</td>")), "{name}");
        assert!(md.contains(&format!("| {name} |")), "{name}");
    }
}

#[test]
fn reports_are_written_and_load_back() {
    let dir = std::env::temp_dir().join(format!("mqttspec-report-test-{}", std::process::id()));
    let r = report();
    let written = r.write_all(&dir).unwrap();
    assert_eq!(written.len(), 4);
    let back = Report::load(&dir.join("report.json")).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.summary.by_verdict.get(Verdict::Error), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `v` as a schema 1 report: no INCONCLUSIVE count, tags, preconditions or gate fields of
/// schema 2.
fn as_schema_1(mut v: Value) -> Value {
    v["schema_version"] = 1.into();
    let strip_counts = |c: &mut Value| {
        c.as_object_mut().unwrap().remove("INCONCLUSIVE");
    };
    strip_counts(&mut v["summary"]["by_verdict"]);
    for a in v["summary"]["by_area"].as_array_mut().unwrap() {
        strip_counts(&mut a["cases"]);
    }
    v["summary"]
        .as_object_mut()
        .unwrap()
        .remove("by_precondition");
    let gate = v["gate"].as_object_mut().unwrap();
    gate.remove("new_inconclusive");
    gate.remove("nothing_judged");
    for c in v["cases"].as_array_mut().unwrap() {
        let c = c.as_object_mut().unwrap();
        for key in [
            "tags",
            "precondition",
            "see_case",
            "pass",
            "unsupported_on_main",
        ] {
            c.remove(key);
        }
    }
    v
}

#[test]
fn schema_1_reports_still_load_and_compare() {
    use ProtocolVersion::{V311, V5};
    let judged: Vec<CaseRun> = results()
        .runs
        .into_iter()
        .filter(|r| r.outcome.verdict != Verdict::Inconclusive)
        .collect();
    let new = Report::build(
        &results_of(vec![V311, V5], judged),
        "new",
        &Baseline::default(),
    );
    let old = Report::parse(&as_schema_1(json(&new)).to_string()).expect("a schema 1 report");
    assert_eq!(old.schema_version, 1);
    assert!(old
        .cases
        .iter()
        .all(|c| c.tags.is_empty() && c.precondition.is_none()));
    assert!(old.summary.by_precondition.is_empty());
    assert_eq!(old.summary.by_verdict.inconclusive, 0);
    assert_eq!(old.cases.len(), new.cases.len());
    let page = mqttspec::report::compare::render(&[report(), old]);
    assert!(page.contains("Inconclusive (not tested)"));

    // A published schema 1 report.
    let published = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../reports/mosquitto-2.0.11/report.json");
    if published.exists() {
        let r = Report::load(&published).expect("the published report loads");
        assert!(!r.cases.is_empty());
    }

    let mut future = json(&new);
    future["schema_version"] = (SCHEMA_VERSION + 1).into();
    future["something_new"] = true.into();
    let err = Report::parse(&future.to_string()).unwrap_err();
    assert!(
        err.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// The JSON Schema of report.json.

fn schema() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports/report.schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_page_shows_the_practical_limits_and_says_when_they_were_not_measured() {
    let r = report();
    let md = mqttspec::report::markdown::render(&r);
    assert!(md.contains("## Practical limits (INFORMATIONAL)"), "{md}");
    assert!(
        md.contains("| Deepest Topic Name accepted and delivered | 12 levels |"),
        "{md}"
    );
    assert!(md.contains("≥ 65535 bytes"), "{md}");
    assert!(
        md.contains("CONNACK announces: receive_maximum = 20"),
        "{md}"
    );
    let html = mqttspec::report::html::render(&r);
    assert!(html.contains("<h2>Practical limits (INFORMATIONAL)</h2>"));
    assert!(html.contains("12 levels"));
    assert!(html.contains("Not measured: CONNECT got"));
    let mut none = report();
    none.limits = None;
    for page in [
        mqttspec::report::markdown::render(&none),
        mqttspec::report::html::render(&none),
    ] {
        assert!(page.contains("Not measured in this run"), "{page}");
    }
    // Not measured: null in JSON, still valid.
    let s = schema();
    let mut errors = Vec::new();
    validate(&s, &s, &json(&none), "", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(json(&none)["limits"].is_null());
}

#[test]
fn schema_is_json_and_lists_the_verdicts_and_preconditions_exactly() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["properties"]["schema_version"]["const"], SCHEMA_VERSION);
    let labels: Vec<String> = Verdict::ALL.iter().map(|v| v.label().to_owned()).collect();
    assert_eq!(strings(&s["$defs"]["verdict"]["enum"]), labels);
    let counts: BTreeSet<String> = s["$defs"]["counts"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(counts, labels.iter().cloned().collect::<BTreeSet<_>>());
    let names: Vec<String> = Precondition::ALL
        .iter()
        .map(|p| p.name().to_owned())
        .collect();
    assert_eq!(strings(&s["$defs"]["precondition"]["enum"]), names);
}

#[test]
fn schema_top_level_matches_a_serialized_report() {
    let s = schema();
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let serialized = keys(&json(&report()));
    let required: BTreeSet<String> = strings(&s["required"]).into_iter().collect();
    assert_eq!(required, serialized);
    assert_eq!(keys(&s["properties"]), serialized);
}

#[test]
fn serialized_reports_validate_against_the_schema() {
    let s = schema();
    for (what, r) in [
        ("plain", report()),
        ("restricted", report_with_restricted()),
        (
            "baselined",
            Report::build(
                &results(),
                "b",
                &Baseline::parse(
                    "[[expected]]\ncase = \"connect.second-connect-is-protocol-error\"\nprotocol = \"5\"\nverdict = \"FAIL\"\nreason = \"known\"\n",
                )
                .unwrap(),
            ),
        ),
    ] {
        let mut errors = Vec::new();
        validate(&s, &s, &json(&r), "", &mut errors);
        assert!(errors.is_empty(), "{what}: {errors:#?}");
    }
    // The schema is strict enough to notice an unknown field and a missing one.
    let mut v = json(&report());
    v["cases"][0]["surprise"] = 1.into();
    v["summary"]
        .as_object_mut()
        .unwrap()
        .remove("by_precondition");
    let mut errors = Vec::new();
    validate(&s, &s, &v, "", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

/// A small validator for the keywords `reports/report.schema.json` uses (the test fails on
/// any other keyword, so that it cannot silently skip one).
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        errors.push(format!("{at}: schema is not an object"));
        return;
    };
    for (key, rule) in schema {
        match key.as_str() {
            "$schema" | "$id" | "$defs" | "title" | "description" | "$comment" => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .unwrap_or_else(|| panic!("unsupported $ref {rule}"));
                let target = &root["$defs"][name];
                assert!(!target.is_null(), "$ref to a missing definition {name}");
                validate(root, target, v, at, errors);
            }
            "type" => {
                let types: Vec<String> = match rule {
                    Value::String(t) => vec![t.clone()],
                    _ => strings(rule),
                };
                if !types.iter().any(|t| has_type(v, t)) {
                    errors.push(format!("{at}: {v} is not {types:?}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(v) {
                    errors.push(format!("{at}: {v} not in {rule}"));
                }
            }
            "const" => {
                if rule != v {
                    errors.push(format!("{at}: {v} is not {rule}"));
                }
            }
            "minimum" => {
                if let Some(n) = v.as_f64() {
                    if n < rule.as_f64().unwrap() {
                        errors.push(format!("{at}: {n} < {rule}"));
                    }
                }
            }
            "maximum" => {
                if let Some(n) = v.as_f64() {
                    if n > rule.as_f64().unwrap() {
                        errors.push(format!("{at}: {n} > {rule}"));
                    }
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for k in strings(rule) {
                        if !o.contains_key(&k) {
                            errors.push(format!("{at}: missing {k}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(o) = v.as_object() {
                    for (k, sub) in rule.as_object().unwrap() {
                        if let Some(x) = o.get(k) {
                            validate(root, sub, x, &format!("{at}/{k}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(o) = v.as_object() {
                    let known = schema.get("properties").and_then(Value::as_object);
                    for (k, x) in o {
                        if known.is_some_and(|p| p.contains_key(k)) {
                            continue;
                        }
                        match rule {
                            Value::Bool(false) => errors.push(format!("{at}: unknown field {k}")),
                            Value::Bool(true) => {}
                            sub => validate(root, sub, x, &format!("{at}/{k}"), errors),
                        }
                    }
                }
            }
            "items" => {
                if let Some(a) = v.as_array() {
                    for (i, x) in a.iter().enumerate() {
                        validate(root, rule, x, &format!("{at}/{i}"), errors);
                    }
                }
            }
            "anyOf" => {
                let any = rule.as_array().unwrap().iter().any(|sub| {
                    let mut e = Vec::new();
                    validate(root, sub, v, at, &mut e);
                    e.is_empty()
                });
                if !any {
                    errors.push(format!("{at}: {v} matches none of anyOf"));
                }
            }
            "not" => {
                let mut e = Vec::new();
                validate(root, rule, v, at, &mut e);
                if e.is_empty() {
                    errors.push(format!("{at}: matches `not` {rule}"));
                }
            }
            "if" => {
                let mut e = Vec::new();
                validate(root, rule, v, at, &mut e);
                let branch = if e.is_empty() { "then" } else { "else" };
                if let Some(sub) = schema.get(branch) {
                    validate(root, sub, v, at, errors);
                }
            }
            "then" | "else" => {}
            other => panic!("the test's validator does not support the keyword {other}"),
        }
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        other => panic!("unknown type {other}"),
    }
}
