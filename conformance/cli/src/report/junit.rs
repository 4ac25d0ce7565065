//! `junit.xml`: one `<testsuite>` per protocol, one `<testcase>` per case. FAIL is a
//! `<failure>`, ERROR an `<error>`, UNSUPPORTED, INCONCLUSIVE and baselined non-passes are
//! `<skipped>` (an INCONCLUSIVE one says which precondition failed and which case tests it);
//! NON-STRICT and INFORMATIONAL pass with the note in `<system-out>`. The counts of
//! `<testsuites>` are the sums of its suites'. A verdict of the
//! restricted embedded broker says so in `<system-out>` (the test case keeps its name, so CI
//! history follows it).

use super::escape::xml;
use super::{precondition_named, CaseReport, Report, RESTRICTED_MARK};
use mqttspec_harness::client::transcript::render_text;
use mqttspec_harness::runner::Pass;
use mqttspec_harness::verdict::Verdict;

/// Renders the JUnit XML of `report`.
pub fn render(report: &Report) -> String {
    let mut suites = String::new();
    let mut totals = [0usize; 4];
    for protocol in &report.protocols {
        let cases: Vec<&CaseReport> = report
            .cases
            .iter()
            .filter(|c| &c.protocol == protocol)
            .collect();
        let count = |v: Verdict| {
            cases
                .iter()
                .filter(|c| c.verdict == v && c.baselined.is_none())
                .count()
        };
        let skipped = cases
            .iter()
            .filter(|c| {
                matches!(c.verdict, Verdict::Unsupported | Verdict::Inconclusive)
                    || c.baselined.is_some()
            })
            .count();
        let time: u64 = cases.iter().map(|c| c.duration_ms).sum();
        let counts = [
            cases.len(),
            count(Verdict::Fail),
            count(Verdict::Error),
            skipped,
        ];
        for (total, n) in totals.iter_mut().zip(counts) {
            *total += n;
        }
        let [tests, failures, errors, skipped] = counts;
        let out = &mut suites;
        out.push_str(&format!(
            "  <testsuite name=\"MQTT {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
            xml(protocol),
            time as f64 / 1000.0
        ));
        let restricted = report
            .broker
            .restricted
            .as_ref()
            .map(|r| format!("{} ({})", r.address, r.settings_text()));
        for c in cases {
            testcase(out, c, restricted.as_deref());
        }
        out.push_str("  </testsuite>\n");
    }
    let [tests, failures, errors, skipped] = totals;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"mqttspec {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
        xml(&report.broker.name),
        report.wall_time_ms as f64 / 1000.0
    ));
    out.push_str(&suites);
    out.push_str("</testsuites>\n");
    out
}

/// Why an INCONCLUSIVE case run was not tested: "precondition not established: a valid
/// CONNECT accepted (connect) → see connect.accepted: <what happened>".
fn inconclusive_message(c: &CaseReport) -> String {
    let description = c
        .precondition
        .as_deref()
        .and_then(precondition_named)
        .map(|p| p.describe().to_owned())
        .or_else(|| c.expected.clone())
        .unwrap_or_default();
    let mut text = format!("not tested, precondition not established: {description}");
    if let Some(name) = &c.precondition {
        text.push_str(&format!(" ({name})"));
    }
    if let Some(id) = &c.see_case {
        text.push_str(&format!(" → see {id}"));
    }
    if let Some(a) = &c.actual {
        text.push_str(&format!(": {a}"));
    }
    text
}

/// One `<testcase>`; `restricted` describes the restricted broker, if there was one.
fn testcase(out: &mut String, c: &CaseReport, restricted: Option<&str>) {
    let classname = format!(
        "mqttspec.v{}.{}",
        c.protocol,
        c.id.split('.').next().unwrap_or("")
    );
    out.push_str(&format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">\n",
        xml(&classname),
        xml(&c.id),
        c.duration_ms as f64 / 1000.0
    ));
    let mut notes = Vec::new();
    if c.pass == Pass::Restricted {
        notes.push(format!(
            "run against the {RESTRICTED_MARK} {}: UNSUPPORTED on the main broker ({})",
            restricted.unwrap_or("(not described)"),
            c.unsupported_on_main.as_deref().unwrap_or("-")
        ));
    }
    let detail = format!(
        "{}{}\nstatements: {}\nexpected: {}\nactual: {}{}",
        notes.first().map(|n| format!("{n}\n")).unwrap_or_default(),
        c.title,
        c.statements.join(", "),
        c.expected.as_deref().unwrap_or("-"),
        c.actual.as_deref().unwrap_or("-"),
        c.violated
            .as_ref()
            .map(|s| format!("\nviolates: {s}"))
            .unwrap_or_default()
    );
    let mut message = match (&c.expected, &c.actual) {
        _ if c.verdict == Verdict::Inconclusive => inconclusive_message(c),
        (Some(e), Some(a)) => format!("expected {e}; actual {a}"),
        (None, Some(a)) => a.clone(),
        _ => c.verdict.label().to_owned(),
    };
    if c.pass == Pass::Restricted {
        message = format!("[{RESTRICTED_MARK}] {message}");
    }
    if let Some(reason) = &c.baselined {
        out.push_str(&format!(
            "      <skipped message=\"baselined {}: {}\"/>\n",
            c.verdict.label(),
            xml(reason)
        ));
    } else {
        match c.verdict {
            Verdict::Fail => out.push_str(&format!(
                "      <failure type=\"FAIL\" message=\"{}\">{}</failure>\n",
                xml(&message),
                xml(&format!("{detail}\n\n{}", render_text(&c.transcript)))
            )),
            Verdict::Error => out.push_str(&format!(
                "      <error type=\"ERROR\" message=\"{}\">{}</error>\n",
                xml(&message),
                xml(&format!("{detail}\n\n{}", render_text(&c.transcript)))
            )),
            Verdict::Unsupported | Verdict::Inconclusive => out.push_str(&format!(
                "      <skipped message=\"{}: {}\"/>\n",
                c.verdict.label(),
                xml(&message)
            )),
            Verdict::NonStrict | Verdict::Informational => {
                notes.push(format!("{}: {message}", c.verdict.label()));
            }
            Verdict::Pass => {}
        }
    }
    if !notes.is_empty() {
        out.push_str(&format!(
            "      <system-out>{}</system-out>\n",
            xml(&notes.join("\n"))
        ));
    }
    out.push_str("    </testcase>\n");
}
