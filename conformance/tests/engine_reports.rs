//! Reports: JSON round trip, the traceability matrix, well-formed JUnit XML, and HTML that
//! escapes whatever the broker sent.

use std::time::Duration;

use mqttspec::baseline::Baseline;
use mqttspec::client::{Direction, Entry};
use mqttspec::profile::Capabilities;
use mqttspec::report::{Report, NOT_COVERED};
use mqttspec::runner::{BrokerInfo, CaseRun, Pass, RunResults};
use mqttspec::verdict::{Outcome, Verdict};
use mqttspec_codec::{ProtocolVersion, StatementId};

const NASTY: &str = "<script>alert('x')</script> & \"q\" ]]> \u{1b}[31m\u{0}";

fn case(id: &str) -> mqttspec::scenario::Case {
    mqttspec::cases::all()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

fn results() -> RunResults {
    let entry = Entry {
        at_us: 1500,
        client: NASTY.to_owned(),
        direction: Direction::In,
        hex: "20020000".to_owned(),
        summary: format!("CONNACK props{{Reason String={NASTY:?}}} {NASTY}"),
    };
    let run = |id: &str, v, outcome: Outcome| CaseRun {
        case: case(id),
        protocol: v,
        outcome,
        duration: Duration::from_millis(12),
        transcript: vec![entry.clone()],
        pass: Pass::Main,
        main_outcome: None,
    };
    RunResults {
        broker: BrokerInfo {
            address: "127.0.0.1:1883".parse().unwrap(),
            embedded: false,
            faults: Vec::new(),
            capabilities: Capabilities::default(),
            notes: vec![format!("probe: {NASTY}")],
            restricted: None,
        },
        protocols: vec![ProtocolVersion::V311, ProtocolVersion::V5],
        runs: vec![
            run("connect.accepted", ProtocolVersion::V5, Outcome::pass()),
            run(
                "connect.second-connect-is-protocol-error",
                ProtocolVersion::V5,
                Outcome::fail("DISCONNECT 0x82", NASTY),
            ),
            run(
                "connect.second-connect-is-protocol-error",
                ProtocolVersion::V311,
                Outcome::error(NASTY),
            ),
            run(
                "connect.pingreq-answered",
                ProtocolVersion::V311,
                Outcome::unsupported("no"),
            ),
            run(
                "connect.pingreq-answered",
                ProtocolVersion::V5,
                Outcome::non_strict("a", "b"),
            ),
        ],
        wall_time: Duration::from_millis(1234),
        started_unix: 1_700_000_000,
    }
}

fn report() -> Report {
    Report::build(&results(), NASTY, &Baseline::default())
}

#[test]
fn json_report_round_trips_and_carries_the_schema_version() {
    let r = report();
    let text = serde_json::to_string(&r).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["cases"][1]["verdict"], "FAIL");
    assert_eq!(v["cases"][1]["expected"], "DISCONNECT 0x82");
    assert_eq!(v["summary"]["by_verdict"]["FAIL"], 1);
    assert_eq!(v["summary"]["by_verdict"]["NON-STRICT"], 1);
    assert!(v["cases"][0]["transcript"][0]["hex"].is_string());
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
    assert_eq!(row("MQTT-4.7.1-1", "5").verdict, NOT_COVERED);
    assert_eq!(
        r.statements.len(),
        StatementId::all_of(mqttspec_codec::Spec::V5).count()
            + StatementId::all_of(mqttspec_codec::Spec::V311).count()
    );
    let covered: usize = r.summary.coverage.iter().map(|c| c.covered).sum();
    assert!(covered >= 4, "{covered}");
}

#[test]
fn junit_xml_is_well_formed_and_counts_failures_and_errors() {
    let xml = mqttspec::report::junit::render(&report());
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("failures"), Some("1"));
    assert_eq!(root.attribute("errors"), Some("1"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 5);
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    assert!(failure.attribute("message").unwrap().contains("<script>"));
    assert!(doc.descendants().any(|n| n.has_tag_name("skipped")));
}

#[test]
fn baselined_failures_are_skipped_in_junit() {
    let baseline = Baseline::parse(
        "[[expected]]\ncase = \"connect.second-connect-is-protocol-error\"\nprotocol = \"5\"\nverdict = \"FAIL\"\nreason = \"known\"\n",
    )
    .unwrap();
    let r = Report::build(&results(), "b", &baseline);
    assert_eq!(r.gate.baselined.len(), 1);
    assert_eq!(r.gate.exit_code(), 2, "the ERROR is not baselined");
    let xml = mqttspec::report::junit::render(&r);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert!(!doc.descendants().any(|n| n.has_tag_name("failure")));
}

#[test]
fn html_escapes_everything_from_the_broker_and_is_self_contained() {
    let html = mqttspec::report::html::render(&report());
    assert!(!html.contains("<script>"), "unescaped script tag");
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains('\u{0}') && !html.contains('\u{1b}'));
    assert!(
        !html.contains("src=") && !html.contains("<link"),
        "no external assets"
    );
    assert!(html.contains("<details>"));
    assert!(html.contains("MQTT-3.1.0-2"));
    let compare = mqttspec::report::compare::render(&[report(), report()]);
    assert!(!compare.contains("<script>"));
    assert!(compare.contains("connect.second-connect-is-protocol-error"));
}

#[test]
fn markdown_summary_lists_the_non_passing_cases() {
    let md = mqttspec::report::markdown::render(&report());
    assert!(md.contains("| FAIL | 1 |"), "{md}");
    assert!(
        md.contains("`connect.second-connect-is-protocol-error` | 5 | FAIL"),
        "{md}"
    );
    assert!(!md.contains("<script>"));
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
