//! `junit.xml` of a client run (`mqttspec client`): one `<testsuite>` per protocol, one
//! `<testcase>` per case, with the verdicts mapped as in the broker's `junit.xml` ([`super::junit`]):
//! FAIL a `<failure>`, ERROR an `<error>`, UNSUPPORTED and INCONCLUSIVE `<skipped>`, NON-STRICT
//! and INFORMATIONAL passing with the note in `<system-out>`. Every string goes through the
//! same filter as the broker report, so adapter output of any kind keeps the file well-formed.

use std::time::Duration;

use mqttspec_client_suite::run::{CaseRun, RunResults};
use mqttspec_harness::client::transcript::render_text;
use quick_junit::{TestCase, TestSuite};

use super::junit::{text, verdict_status};

/// Renders the JUnit XML of a client run.
pub fn render(results: &RunResults) -> String {
    let library = results
        .library
        .get("library")
        .and_then(|v| v.as_str())
        .unwrap_or("client");
    let version = results
        .library
        .get("version")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let mut junit = quick_junit::Report::new(text(&format!("mqttspec client {library} {version}")));
    let mut protocols: Vec<_> = results.runs.iter().map(|r| r.protocol).collect();
    protocols.sort_by_key(|p| p.level());
    protocols.dedup();
    for p in protocols {
        let runs: Vec<&CaseRun> = results.runs.iter().filter(|r| r.protocol == p).collect();
        let mut suite = TestSuite::new(text(&format!("MQTT {p} client")));
        suite.set_time(runs.iter().map(|r| r.duration).sum());
        suite.add_test_cases(runs.iter().map(|r| testcase(r)));
        junit.add_test_suite(suite);
    }
    // Serialising into memory has no I/O to fail.
    junit
        .to_string()
        .expect("quick-junit serialises into memory")
}

fn testcase(r: &CaseRun) -> TestCase {
    let o = &r.outcome;
    let message = match (&o.expected, &o.actual) {
        (Some(e), Some(a)) => format!("expected {e}; actual {a}"),
        (None, Some(a)) => a.clone(),
        _ => o.verdict.label().to_owned(),
    };
    let statements: Vec<_> = r
        .case
        .checks_for(r.protocol)
        .iter()
        .map(|s| s.id())
        .collect();
    let detail = format!(
        "{}\nstatements: {}\n{}\n\n{}",
        r.case.title,
        statements.join(", "),
        message,
        render_text(&r.transcript)
    );
    let (status, out) = verdict_status(o.verdict, &message, || detail);
    let mut case = TestCase::new(text(r.case.id), status);
    case.set_classname(text(&format!(
        "mqttspec.client.v{}.{}",
        r.protocol,
        r.case.id.split('.').next().unwrap_or("")
    )))
    .set_time(Duration::from_millis(
        u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
    ));
    if let Some(o) = out {
        case.set_system_out(text(&o));
    }
    case
}
