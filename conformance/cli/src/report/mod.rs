//! Reports of a run, written into one directory (`--out`, default `reports/latest/`):
//!
//! | file | what |
//! |---|---|
//! | `report.json` | everything, versioned ([`SCHEMA_VERSION`]; JSON Schema in `reports/report.schema.json`): broker, capabilities, every case with its tags and transcript, the statement traceability matrix, summaries, the gate, the broker's practical limits |
//! | `junit.xml` | one testcase per case × protocol, for CI systems |
//! | `summary.md` | a short Markdown summary |
//! | `report.html` | one self-contained page: summary, inconclusive runs, per-area table, statement × verdict matrix, every case with its transcript |
//!
//! `mqttspec report --compare A.json B.json --out compare.html` puts several brokers' JSON
//! reports side by side ([`compare`]).
//!
//! | module | what it holds |
//! |---|---|
//! | this one | the [`Report`] model (serialised as `report.json`), its summaries and capability rows |
//! | [`html`] | the view of `report.html`, rendered by the askama template `templates/report.html` |
//! | [`compare`] | the view of the comparison page, rendered by `templates/compare.html` |
//! | `view` | view pieces both pages share: verdict badges, links to case runs, anchors |
//! | [`junit`] | `junit.xml`, built with quick-junit |
//! | [`client_html`] | `report.html` of a client run (`mqttspec client`), rendered by `templates/client-report.html` |
//! | [`client_compare`] | the comparison page of several client runs, rendered by `templates/client-compare.html` |
//! | [`client_junit`] | `junit.xml` of a client run (`mqttspec client`) |
//! | [`limits`] | the "Practical limits" section of `report.html` and `summary.md`, as plain text |
//! | [`markdown`] | `summary.md` |
//! | `xml_text` | text an HTML or XML document can carry: the characters XML 1.0 cannot hold become U+FFFD |
//!
//! Markup is escaped by construction: the templates (`conformance/cli/templates/`, shared
//! frame `layout.html` and CSS `style.css`) HTML-escape every value and mark none safe, and
//! quick-junit escapes what it writes. The views hold only plain text and numbers.
//!
//! INCONCLUSIVE runs (a precondition could not be established, so nothing was tested) are
//! shown apart in every output, grouped by [`Precondition`], each group pointing at the case
//! that tests the precondition itself ([`Precondition::pointer`]): in JSON a case carries
//! `precondition` and `see_case`, and the summary counts them per precondition
//! (`by_precondition`).
//!
//! Embedded runs may hold results of the restricted pass (see [`mqttspec_harness::runner`]): such a case
//! has `"pass": "restricted"` and the main pass's UNSUPPORTED reason in
//! `unsupported_on_main`, and [`Broker::restricted`] describes the restricted broker. Every
//! page marks those results.
//!
//! Schema 2 added the INCONCLUSIVE verdict, `tags`, `precondition` and `see_case` per case
//! and `summary.by_precondition`. [`Report::load`] still reads schema 1 reports (published
//! reports may be compared with new ones): the fields they lack read as absent or empty.

pub mod client_compare;
pub mod client_html;
pub mod client_junit;
pub mod compare;
pub mod html;
pub mod junit;
pub mod limits;
pub mod markdown;
mod view;
mod xml_text;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mqttspec_codec::{ProtocolVersion, StatementId, Testability};
use serde::{Deserialize, Serialize};

use crate::baseline::{Baseline, Gate};
use mqttspec_harness::client::Entry;
use mqttspec_harness::limits::LimitsReport;
use mqttspec_harness::profile::Capabilities;
use mqttspec_harness::runner::{Pass, RunResults, StoppedServing};
use mqttspec_harness::transport::TransportInfo;
use mqttspec_harness::verdict::{Precondition, Verdict};

/// The version of the `report.json` schema; bumped when fields change (2: the INCONCLUSIVE
/// verdict, case tags, preconditions; 3: `limits`).
pub const SCHEMA_VERSION: u32 = 3;

/// The oldest schema version [`Report::load`] reads.
pub const OLDEST_READABLE_SCHEMA: u32 = 1;

/// The verdict of a statement that no case covers.
pub const NOT_COVERED: &str = "NOT COVERED";

/// The whole report (the content of `report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The tool that made it.
    pub tool: Tool,
    /// When the run started (seconds since the Unix epoch).
    pub started_unix: u64,
    /// Wall time of the run.
    pub wall_time_ms: u64,
    /// The broker under test.
    pub broker: Broker,
    /// Protocols run ("3.1.1", "5").
    pub protocols: Vec<String>,
    /// Counts.
    pub summary: Summary,
    /// Every case × protocol.
    pub cases: Vec<CaseReport>,
    /// The traceability matrix: every statement of every protocol run.
    pub statements: Vec<StatementReport>,
    /// The baseline gate.
    pub gate: Gate,
    /// The broker's practical limits and choices measured from the wire (INFORMATIONAL);
    /// `null` when not measured, absent in reports of schema 1 and 2.
    #[serde(default)]
    pub limits: Option<LimitsReport>,
}

/// Tool name and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// "mqttspec".
    pub name: String,
    /// The crate version.
    pub version: String,
}

/// The broker under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broker {
    /// Address tested.
    pub address: String,
    /// Name given with `--name` (or the profile's, or "reference-broker").
    pub name: String,
    /// Whether it was the in-process reference broker.
    pub embedded: bool,
    /// Faults injected (embedded broker only).
    pub faults: Vec<String>,
    /// Capabilities in force.
    pub capabilities: Capabilities,
    /// The transport of the run (`mqtt`, `mqtts`, `ws`, `wss`) and what it negotiated: TLS
    /// version and cipher suite, whether the certificate was verified, the WebSocket
    /// subprotocol. Empty in reports written before transports existed.
    #[serde(default)]
    pub transport: TransportInfo,
    /// Notes from the probe connection.
    pub notes: Vec<String>,
    /// The restricted embedded broker, when the restricted pass ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted: Option<RestrictedBroker>,
    /// The command that started the broker (`--broker-cmd`), when mqttspec started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Every time the broker stopped serving during the run: after which case, whether that
    /// case ran alone, what the health probe saw, how the process ended and its last output
    /// lines, and whether it was restarted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stopped_serving: Vec<StoppedServing>,
}

/// The second embedded reference broker, with the optional capabilities turned down, that
/// reruns the case runs UNSUPPORTED on the main one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictedBroker {
    /// Address tested.
    pub address: String,
    /// How its settings differ from the main embedded broker's ("Maximum QoS 1", ...).
    pub settings: Vec<String>,
    /// Capabilities in force.
    pub capabilities: Capabilities,
    /// Notes from its probe connection.
    pub notes: Vec<String>,
    /// Case runs it ran again (all UNSUPPORTED in the main pass).
    pub reruns: usize,
    /// Of which reached another verdict there, which replaced the UNSUPPORTED one (the cases
    /// with `"pass": "restricted"`).
    pub replaced: usize,
}

/// How the pages mark a verdict of the restricted broker.
pub const RESTRICTED_MARK: &str = "restricted broker";

impl RestrictedBroker {
    /// "Maximum QoS 1, Retain Available 0, ..." (or "the same capabilities").
    pub fn settings_text(&self) -> String {
        if self.settings.is_empty() {
            "the same capabilities".to_owned()
        } else {
            self.settings.join(", ")
        }
    }

    /// One sentence (plain text) saying what the restricted pass did.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} case run(s) UNSUPPORTED on the embedded broker's default settings ran again against a second embedded reference broker ({}) with a restricted configuration: {}. {} verdict(s) come from it, marked \"{RESTRICTED_MARK}\".",
            self.reruns,
            self.address,
            self.settings_text(),
            self.replaced
        );
        if self.replaced < self.reruns {
            text.push_str(&format!(
                " {} rerun(s) were UNSUPPORTED there too and keep the main result.",
                self.reruns - self.replaced
            ));
        }
        text
    }
}

/// Counts per verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// PASS.
    #[serde(rename = "PASS")]
    pub pass: usize,
    /// FAIL.
    #[serde(rename = "FAIL")]
    pub fail: usize,
    /// NON-STRICT.
    #[serde(rename = "NON-STRICT")]
    pub non_strict: usize,
    /// INFORMATIONAL.
    #[serde(rename = "INFORMATIONAL")]
    pub informational: usize,
    /// UNSUPPORTED.
    #[serde(rename = "UNSUPPORTED")]
    pub unsupported: usize,
    /// INCONCLUSIVE.
    #[serde(rename = "INCONCLUSIVE", default)]
    pub inconclusive: usize,
    /// ERROR.
    #[serde(rename = "ERROR")]
    pub error: usize,
}

impl Counts {
    /// Adds one verdict.
    pub fn add(&mut self, v: Verdict) {
        *self.slot(v) += 1;
    }

    fn slot(&mut self, v: Verdict) -> &mut usize {
        match v {
            Verdict::Pass => &mut self.pass,
            Verdict::Fail => &mut self.fail,
            Verdict::NonStrict => &mut self.non_strict,
            Verdict::Informational => &mut self.informational,
            Verdict::Unsupported => &mut self.unsupported,
            Verdict::Inconclusive => &mut self.inconclusive,
            Verdict::Error => &mut self.error,
        }
    }

    /// The count of one verdict.
    pub fn get(&self, v: Verdict) -> usize {
        match v {
            Verdict::Pass => self.pass,
            Verdict::Fail => self.fail,
            Verdict::NonStrict => self.non_strict,
            Verdict::Informational => self.informational,
            Verdict::Unsupported => self.unsupported,
            Verdict::Inconclusive => self.inconclusive,
            Verdict::Error => self.error,
        }
    }

    /// The total.
    pub fn total(&self) -> usize {
        Verdict::ALL.iter().map(|v| self.get(*v)).sum()
    }

    /// Every verdict with its count, in the order of the JSON object (and of
    /// [`Counts::describe`]): PASS, FAIL, NON-STRICT, INFORMATIONAL, UNSUPPORTED,
    /// INCONCLUSIVE, ERROR.
    pub fn iter(&self) -> impl Iterator<Item = (Verdict, usize)> + '_ {
        Self::ORDER.into_iter().map(|v| (v, self.get(v)))
    }

    /// The order of the JSON object's keys.
    pub const ORDER: [Verdict; 7] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::NonStrict,
        Verdict::Informational,
        Verdict::Unsupported,
        Verdict::Inconclusive,
        Verdict::Error,
    ];

    /// Every count in words, for a console line: "3 passed, 1 failed, 0 non-strict,
    /// 0 informational, 0 unsupported, 2 inconclusive, 0 errors".
    pub fn describe(&self) -> String {
        self.iter()
            .map(|(v, n)| {
                let word = match v {
                    Verdict::Pass => "passed",
                    Verdict::Fail => "failed",
                    Verdict::NonStrict => "non-strict",
                    Verdict::Informational => "informational",
                    Verdict::Unsupported => "unsupported",
                    Verdict::Inconclusive => "inconclusive",
                    Verdict::Error => "errors",
                };
                format!("{n} {word}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How many case runs were INCONCLUSIVE for one precondition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreconditionCount {
    /// The precondition's kebab-case name ([`Precondition::name`]).
    pub precondition: String,
    /// What had to hold ([`Precondition::describe`]).
    pub description: String,
    /// The case that tests the precondition itself ([`Precondition::pointer`]), if one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub see_case: Option<String>,
    /// INCONCLUSIVE case runs (all protocols).
    pub count: usize,
}

/// The INCONCLUSIVE case runs of one precondition ([`Report::inconclusive_groups`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InconclusiveGroup<'a> {
    /// The precondition's kebab-case name.
    pub precondition: String,
    /// What had to hold.
    pub description: String,
    /// The case that tests the precondition itself, if one does.
    pub see_case: Option<String>,
    /// The case runs, in report order.
    pub cases: Vec<&'a CaseReport>,
}

/// The precondition named `name` ([`Precondition::name`]), if this mqttspec knows it.
pub fn precondition_named(name: &str) -> Option<Precondition> {
    Precondition::ALL.into_iter().find(|p| p.name() == name)
}

/// Counts of one area on one protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaSummary {
    /// The area.
    pub area: String,
    /// The protocol.
    pub protocol: String,
    /// Case verdicts.
    pub cases: Counts,
    /// Statements of the area.
    pub statements: usize,
    /// Of which covered by at least one case.
    pub statements_covered: usize,
}

/// Statement coverage of one protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The protocol.
    pub protocol: String,
    /// All statements of its specification.
    pub statements: usize,
    /// Testable ones (fully or partially).
    pub testable: usize,
    /// Covered by at least one case that ran.
    pub covered: usize,
}

/// The summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Case runs.
    pub total: usize,
    /// Per verdict.
    pub by_verdict: Counts,
    /// Per area and protocol.
    pub by_area: Vec<AreaSummary>,
    /// Per protocol.
    pub coverage: Vec<Coverage>,
    /// INCONCLUSIVE case runs per precondition, in the order of [`Precondition::ALL`] (empty
    /// in schema 1 reports).
    #[serde(default)]
    pub by_precondition: Vec<PreconditionCount>,
}

/// One case × protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReport {
    /// Case id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Area.
    pub area: String,
    /// Protocol.
    pub protocol: String,
    /// What the case exercises: delivery path, field, direction ([`mqttspec_harness::scenario::Tag`]
    /// labels; empty in schema 1 reports).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Statements of this protocol the case checks.
    pub statements: Vec<String>,
    /// Verdict.
    pub verdict: Verdict,
    /// Expected (FAIL, NON-STRICT), or the precondition that had to hold (INCONCLUSIVE).
    pub expected: Option<String>,
    /// Actual, or the reason (ERROR, UNSUPPORTED, INFORMATIONAL, INCONCLUSIVE).
    pub actual: Option<String>,
    /// INCONCLUSIVE only: the precondition that could not be established (kebab-case name,
    /// [`Precondition::name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precondition: Option<String>,
    /// INCONCLUSIVE only: the case that tests that precondition itself
    /// ([`Precondition::pointer`]), when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub see_case: Option<String>,
    /// The statement the failure points at, when known.
    pub violated: Option<String>,
    /// The baseline entry's reason, when the baseline covers this result.
    pub baselined: Option<String>,
    /// Which broker produced the verdict: `main` (the broker under test, or the embedded
    /// broker's default settings) or `restricted` (the restricted embedded broker).
    #[serde(default)]
    pub pass: Pass,
    /// For a `restricted` result: why the case was UNSUPPORTED on the main broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported_on_main: Option<String>,
    /// Why this result comes from a second run of the case, alone, after the broker was
    /// restarted (`--broker-cmd`), and how its first run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<String>,
    /// Duration.
    pub duration_ms: u64,
    /// The wire transcript of every client.
    pub transcript: Vec<Entry>,
}

/// One row of the traceability matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementReport {
    /// Statement id, e.g. "MQTT-3.1.0-1".
    pub id: String,
    /// "3.1.1" or "5".
    pub protocol: String,
    /// Area.
    pub area: String,
    /// Section.
    pub section: String,
    /// "broker", "client" or "both".
    pub obligation: String,
    /// "yes", "partially" or "no".
    pub testability: String,
    /// The project's paraphrase.
    pub description: String,
    /// Cases that cite it (and ran on this protocol).
    pub cases: Vec<String>,
    /// The worst verdict of those cases, or "NOT COVERED".
    pub verdict: String,
}

impl Report {
    /// Builds the report of a run.
    pub fn build(results: &RunResults, name: &str, baseline: &Baseline) -> Report {
        let gate = Gate::decide(
            baseline,
            results
                .runs
                .iter()
                .map(|r| (r.case.id, r.protocol, r.outcome.verdict)),
        );
        let cases: Vec<CaseReport> = results
            .runs
            .iter()
            .map(|r| {
                // An INCONCLUSIVE outcome always names its precondition; one that does not is
                // case-specific.
                let precondition = (r.outcome.verdict == Verdict::Inconclusive)
                    .then(|| r.outcome.precondition.unwrap_or(Precondition::Other));
                CaseReport {
                    id: r.case.id.to_owned(),
                    title: r.case.title.to_owned(),
                    area: r.case.area().to_owned(),
                    protocol: r.protocol.label().to_owned(),
                    tags: r.case.tags.iter().map(|t| t.label().to_owned()).collect(),
                    statements: r
                        .case
                        .statements_for(r.protocol)
                        .iter()
                        .map(|s| s.id().to_owned())
                        .collect(),
                    verdict: r.outcome.verdict,
                    expected: r.outcome.expected.clone(),
                    actual: r.outcome.actual.clone(),
                    precondition: precondition.map(|p| p.name().to_owned()),
                    see_case: precondition
                        .and_then(Precondition::pointer)
                        .map(str::to_owned),
                    violated: r.outcome.statement.map(|s| s.id().to_owned()),
                    baselined: baseline
                        .covering(r.case.id, r.protocol, r.outcome.verdict)
                        .filter(|_| r.outcome.verdict != Verdict::Pass)
                        .map(|e| e.reason.clone()),
                    pass: r.pass,
                    unsupported_on_main: r.main_outcome.as_ref().map(|o| {
                        o.actual
                            .clone()
                            .unwrap_or_else(|| o.verdict.label().to_owned())
                    }),
                    rerun: r.rerun.clone(),
                    duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
                    transcript: r.transcript.clone(),
                }
            })
            .collect();
        let replaced = cases.iter().filter(|c| c.pass == Pass::Restricted).count();
        let statements = matrix(&results.protocols, &cases);
        let summary = summarize(&results.protocols, &cases, &statements);
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "mqttspec".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            started_unix: results.started_unix,
            wall_time_ms: u64::try_from(results.wall_time.as_millis()).unwrap_or(u64::MAX),
            broker: Broker {
                address: results.broker.address.to_string(),
                name: name.to_owned(),
                embedded: results.broker.embedded,
                faults: results.broker.faults.clone(),
                capabilities: results.broker.capabilities.clone(),
                transport: results.broker.transport.clone(),
                notes: results.broker.notes.clone(),
                restricted: results
                    .broker
                    .restricted
                    .as_ref()
                    .map(|r| RestrictedBroker {
                        address: r.address.to_string(),
                        settings: r.settings.clone(),
                        capabilities: r.capabilities.clone(),
                        notes: r.notes.clone(),
                        reruns: r.reruns,
                        replaced,
                    }),
                command: results.broker.command.clone(),
                stopped_serving: results.broker.stopped_serving.clone(),
            },
            protocols: results
                .protocols
                .iter()
                .map(|p| p.label().to_owned())
                .collect(),
            summary,
            cases,
            statements,
            gate,
            limits: results.limits.clone(),
        }
    }

    /// Reads a `report.json` of schema [`OLDEST_READABLE_SCHEMA`] to [`SCHEMA_VERSION`]. The
    /// fields an older schema lacks read as absent or empty (a schema 1 report has no
    /// INCONCLUSIVE runs, tags or preconditions); `schema_version` keeps the file's value.
    pub fn load(path: &Path) -> Result<Report, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the text of a `report.json` (see [`Report::load`]).
    pub fn parse(text: &str) -> Result<Report, String> {
        #[derive(Deserialize)]
        struct Version {
            schema_version: u32,
        }
        // The version first, so that a report of a newer schema says so rather than
        // failing on a field this mqttspec does not know.
        let version: Version =
            serde_json::from_str(text).map_err(|e| format!("not a mqttspec report: {e}"))?;
        if !(OLDEST_READABLE_SCHEMA..=SCHEMA_VERSION).contains(&version.schema_version) {
            return Err(format!(
                "schema version {}, this mqttspec reads {OLDEST_READABLE_SCHEMA} to {SCHEMA_VERSION}",
                version.schema_version
            ));
        }
        serde_json::from_str(text).map_err(|e| format!("not a mqttspec report: {e}"))
    }

    /// The case run `id` on `protocol`, if it ran.
    pub fn case(&self, id: &str, protocol: &str) -> Option<&CaseReport> {
        self.cases
            .iter()
            .find(|c| c.id == id && c.protocol == protocol)
    }

    /// The INCONCLUSIVE case runs grouped by precondition, in the order of
    /// `summary.by_precondition` (then any precondition it does not list).
    pub fn inconclusive_groups(&self) -> Vec<InconclusiveGroup<'_>> {
        let mut groups: Vec<InconclusiveGroup<'_>> = self
            .summary
            .by_precondition
            .iter()
            .map(|p| InconclusiveGroup {
                precondition: p.precondition.clone(),
                description: p.description.clone(),
                see_case: p.see_case.clone(),
                cases: Vec::new(),
            })
            .collect();
        for c in self
            .cases
            .iter()
            .filter(|c| c.verdict == Verdict::Inconclusive)
        {
            let name = c
                .precondition
                .clone()
                .unwrap_or_else(|| Precondition::Other.name().to_owned());
            let i = match groups.iter().position(|g| g.precondition == name) {
                Some(i) => i,
                None => {
                    let known = precondition_named(&name);
                    groups.push(InconclusiveGroup {
                        description: known.map_or_else(
                            || c.expected.clone().unwrap_or_else(|| name.clone()),
                            |p| p.describe().to_owned(),
                        ),
                        see_case: c
                            .see_case
                            .clone()
                            .or_else(|| known.and_then(Precondition::pointer).map(str::to_owned)),
                        precondition: name,
                        cases: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            groups[i].cases.push(c);
        }
        groups.retain(|g| !g.cases.is_empty());
        groups
    }

    /// The cases whose verdict comes from the restricted broker.
    pub fn restricted_cases(&self) -> impl Iterator<Item = &CaseReport> {
        self.cases.iter().filter(|c| c.pass == Pass::Restricted)
    }

    /// Writes `report.json`, `junit.xml`, `summary.md` and `report.html` into `dir`.
    pub fn write_all(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        for (file, text) in [
            ("report.json", json),
            ("junit.xml", junit::render(self)),
            ("summary.md", markdown::render(self)),
            ("report.html", html::render(self)),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, text)?;
            written.push(path);
        }
        Ok(written)
    }
}

fn matrix(protocols: &[ProtocolVersion], cases: &[CaseReport]) -> Vec<StatementReport> {
    let mut out = Vec::new();
    for v in protocols {
        for s in StatementId::all_of(v.spec()) {
            let citing: Vec<&CaseReport> = cases
                .iter()
                .filter(|c| c.protocol == v.label() && c.statements.iter().any(|id| id == s.id()))
                .collect();
            let verdict = citing
                .iter()
                .map(|c| c.verdict)
                .reduce(Verdict::worst)
                .map_or(NOT_COVERED.to_owned(), |v| v.label().to_owned());
            out.push(StatementReport {
                id: s.id().to_owned(),
                protocol: v.label().to_owned(),
                area: s.area().to_owned(),
                section: s.section().to_owned(),
                obligation: s.obligation().as_str().to_owned(),
                testability: s.testability().as_str().to_owned(),
                description: s.description().to_owned(),
                cases: citing.iter().map(|c| c.id.clone()).collect(),
                verdict,
            });
        }
    }
    out
}

fn summarize(
    protocols: &[ProtocolVersion],
    cases: &[CaseReport],
    statements: &[StatementReport],
) -> Summary {
    let mut by_verdict = Counts::default();
    let mut areas: BTreeMap<(String, String), AreaSummary> = BTreeMap::new();
    let mut preconditions: BTreeMap<Precondition, usize> = BTreeMap::new();
    for c in cases {
        by_verdict.add(c.verdict);
        if c.verdict == Verdict::Inconclusive {
            let p = c
                .precondition
                .as_deref()
                .and_then(precondition_named)
                .unwrap_or(Precondition::Other);
            *preconditions.entry(p).or_default() += 1;
        }
    }
    let by_precondition = Precondition::ALL
        .into_iter()
        .filter_map(|p| {
            preconditions.get(&p).map(|&count| PreconditionCount {
                precondition: p.name().to_owned(),
                description: p.describe().to_owned(),
                see_case: p.pointer().map(str::to_owned),
                count,
            })
        })
        .collect();
    for v in protocols {
        let label = v.label().to_owned();
        for s in statements.iter().filter(|s| s.protocol == label) {
            let entry = areas
                .entry((label.clone(), s.area.clone()))
                .or_insert_with(|| AreaSummary {
                    area: s.area.clone(),
                    protocol: label.clone(),
                    cases: Counts::default(),
                    statements: 0,
                    statements_covered: 0,
                });
            entry.statements += 1;
            if !s.cases.is_empty() {
                entry.statements_covered += 1;
            }
        }
        for c in cases.iter().filter(|c| c.protocol == label) {
            areas
                .entry((label.clone(), c.area.clone()))
                .or_insert_with(|| AreaSummary {
                    area: c.area.clone(),
                    protocol: label.clone(),
                    cases: Counts::default(),
                    statements: 0,
                    statements_covered: 0,
                })
                .cases
                .add(c.verdict);
        }
    }
    let coverage = protocols
        .iter()
        .map(|v| {
            let rows: Vec<&StatementReport> = statements
                .iter()
                .filter(|s| s.protocol == v.label())
                .collect();
            Coverage {
                protocol: v.label().to_owned(),
                statements: rows.len(),
                testable: rows
                    .iter()
                    .filter(|s| s.testability != Testability::No.as_str())
                    .count(),
                covered: rows.iter().filter(|s| !s.cases.is_empty()).count(),
            }
        })
        .collect();
    Summary {
        total: cases.len(),
        by_verdict,
        by_area: areas.into_values().collect(),
        coverage,
        by_precondition,
    }
}

/// One row of a capability table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityRow {
    /// The field name in `report.json` (`maximum_qos`, ...).
    pub name: &'static str,
    /// Its value ("-" when the broker declared none).
    pub value: String,
    /// Where the value came from: `connack`, `default` or `profile`.
    pub source: String,
}

/// Whether `protocols` (report labels) include MQTT 5.0.
pub fn runs_v5(protocols: &[String]) -> bool {
    protocols.iter().any(|p| p == ProtocolVersion::V5.label())
}

/// The capability table of `caps` for a run of `protocols`. Every row is an MQTT 5.0
/// CONNACK property, which MQTT 3.1.1 does not have: without MQTT 5.0 in the run only the
/// values the profile sets are shown (they still decide which cases are UNSUPPORTED).
pub fn capability_rows(caps: &Capabilities, protocols: &[String]) -> Vec<CapabilityRow> {
    let v5 = runs_v5(protocols);
    let rows = [
        ("maximum_qos", caps.maximum_qos.to_string()),
        ("retain_available", caps.retain_available.to_string()),
        (
            "wildcard_subscription_available",
            caps.wildcard_subscription_available.to_string(),
        ),
        (
            "subscription_identifier_available",
            caps.subscription_identifier_available.to_string(),
        ),
        (
            "shared_subscription_available",
            caps.shared_subscription_available.to_string(),
        ),
        ("topic_alias_maximum", caps.topic_alias_maximum.to_string()),
        ("receive_maximum", caps.receive_maximum.to_string()),
        (
            "maximum_packet_size",
            caps.maximum_packet_size
                .map_or("-".to_owned(), |x| x.to_string()),
        ),
        (
            "server_keep_alive",
            caps.server_keep_alive
                .map_or("-".to_owned(), |x| x.to_string()),
        ),
    ];
    rows.into_iter()
        .map(|(name, value)| CapabilityRow {
            name,
            value,
            source: caps
                .sources
                .get(name)
                .map_or("default", String::as_str)
                .to_owned(),
        })
        .filter(|row| v5 || row.source == "profile")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_describe_every_verdict_in_json_order() {
        let mut c = Counts::default();
        for v in Verdict::ALL {
            for _ in 0..=v.severity() {
                c.add(v);
            }
        }
        assert_eq!(c.iter().count(), Verdict::ALL.len());
        assert_eq!(c.total(), (1..=7).sum::<usize>());
        assert_eq!(
            c.describe(),
            "1 passed, 7 failed, 5 non-strict, 2 informational, 3 unsupported, 4 inconclusive, 6 errors"
        );
        let json = serde_json::to_value(c).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let order: Vec<&str> = Counts::ORDER.iter().map(|v| v.label()).collect();
        assert_eq!(keys, order);
    }

    #[test]
    fn schema_1_counts_read_without_inconclusive() {
        let c: Counts = serde_json::from_str(
            r#"{"PASS":1,"FAIL":0,"NON-STRICT":0,"INFORMATIONAL":0,"UNSUPPORTED":2,"ERROR":0}"#,
        )
        .unwrap();
        assert_eq!(c.inconclusive, 0);
        assert_eq!(c.total(), 3);
    }

    #[test]
    fn capability_rows_are_mqtt5_connack_properties() {
        let v5 = vec!["3.1.1".to_owned(), "5".to_owned()];
        let v311 = vec!["3.1.1".to_owned()];
        let mut caps = Capabilities::default();
        assert_eq!(capability_rows(&caps, &v5).len(), 9);
        assert!(capability_rows(&caps, &v311).is_empty());
        caps.sources
            .insert("retain_available".to_owned(), "profile".to_owned());
        caps.retain_available = false;
        let rows = capability_rows(&caps, &v311);
        assert_eq!(
            rows,
            vec![CapabilityRow {
                name: "retain_available",
                value: "false".to_owned(),
                source: "profile".to_owned(),
            }]
        );
    }

    #[test]
    fn parse_reads_schema_1_to_3_only() {
        for bad in [0, SCHEMA_VERSION + 1] {
            let err = Report::parse(&format!("{{\"schema_version\":{bad}}}")).unwrap_err();
            assert!(err.contains(&format!("schema version {bad}")), "{err}");
        }
        assert!(Report::parse("[]")
            .unwrap_err()
            .contains("not a mqttspec report"));
    }

    #[test]
    fn every_precondition_is_found_by_its_name() {
        for p in Precondition::ALL {
            assert_eq!(precondition_named(p.name()), Some(p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::Value::from(p.name())
            );
        }
        assert_eq!(precondition_named("nope"), None);
    }
}
