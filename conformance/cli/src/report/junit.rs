//! `junit.xml`, written by [`quick_junit`]: one `<testsuite>` per protocol, one `<testcase>`
//! per case. FAIL is a `<failure>`, ERROR an `<error>`, UNSUPPORTED, INCONCLUSIVE and
//! baselined non-passes are `<skipped>` (an INCONCLUSIVE one says which precondition failed
//! and which case tests it); NON-STRICT and INFORMATIONAL pass with the note in
//! `<system-out>`. The counts of `<testsuites>` are the sums of its suites'. A verdict of the
//! restricted embedded broker says so in `<system-out>` (the test case keeps its name, so CI
//! history follows it).
//!
//! quick-junit escapes markup, but drops ANSI escape sequences, tabs, carriage returns and
//! other control characters, and lets U+FFFE and U+FFFF (not XML) through. So every string
//! passes `text` first: a control character becomes U+FFFD (as in the HTML pages) instead of
//! disappearing with what follows it, and the file is always well-formed XML.

use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::xml_text::XmlText;
use super::{precondition_named, CaseReport, Report, RESTRICTED_MARK};
use mqttspec_harness::client::transcript::render_text;
use mqttspec_harness::runner::Pass;
use mqttspec_harness::verdict::Verdict;

/// Renders the JUnit XML of `report`.
pub fn render(report: &Report) -> String {
    let mut junit = quick_junit::Report::new(text(&format!("mqttspec {}", report.broker.name)));
    junit.set_time(Duration::from_millis(report.wall_time_ms));
    let restricted = report
        .broker
        .restricted
        .as_ref()
        .map(|r| format!("{} ({})", r.address, r.settings_text()));
    for protocol in &report.protocols {
        let cases: Vec<&CaseReport> = report
            .cases
            .iter()
            .filter(|c| &c.protocol == protocol)
            .collect();
        let mut suite = TestSuite::new(text(&format!("MQTT {protocol}")));
        suite.set_time(Duration::from_millis(
            cases.iter().map(|c| c.duration_ms).sum(),
        ));
        suite.add_property(("transport", report.broker.transport.describe().as_str()));
        suite.add_test_cases(cases.iter().map(|c| testcase(c, restricted.as_deref())));
        junit.add_test_suite(suite);
    }
    // Serialising into memory has no I/O to fail, and quick-junit writes whatever strings it
    // is given; an error here would be a bug in it.
    junit
        .to_string()
        .expect("quick-junit serialises into memory")
}

/// `s` as text that quick-junit writes unchanged: an [`XmlText`] (characters XML cannot
/// carry are U+FFFD), in which the characters quick-junit would silently drop become what
/// they stand for: a line end `\r\n` or `\r` becomes `\n` (as an XML parser reads it
/// anyway), a tab a space, a C1 control character (U+0080 to U+009F) U+FFFD.
pub(super) fn text(s: &str) -> XmlText {
    let s = s
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\t', " ")
        .replace(|c: char| ('\u{80}'..='\u{9F}').contains(&c), "\u{FFFD}");
    XmlText::from(s)
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
    let mut message = format!("not tested, precondition not established: {description}");
    if let Some(name) = &c.precondition {
        message.push_str(&format!(" ({name})"));
    }
    if let Some(id) = &c.see_case {
        message.push_str(&format!(" → see {id}"));
    }
    if let Some(a) = &c.actual {
        message.push_str(&format!(": {a}"));
    }
    message
}

/// One `<testcase>`; `restricted` describes the restricted broker, if there was one.
fn testcase(c: &CaseReport, restricted: Option<&str>) -> TestCase {
    let mut notes = Vec::new();
    if c.pass == Pass::Restricted {
        notes.push(format!(
            "run against the {RESTRICTED_MARK} {}: UNSUPPORTED on the main broker ({})",
            restricted.unwrap_or("(not described)"),
            c.unsupported_on_main.as_deref().unwrap_or("-")
        ));
    }
    let detail = || {
        format!(
            "{}{}\nstatements: {}\nexpected: {}\nactual: {}{}\n\n{}",
            notes.first().map(|n| format!("{n}\n")).unwrap_or_default(),
            c.title,
            c.statements.join(", "),
            c.expected.as_deref().unwrap_or("-"),
            c.actual.as_deref().unwrap_or("-"),
            c.violated
                .as_ref()
                .map(|s| format!("\nviolates: {s}"))
                .unwrap_or_default(),
            render_text(&c.transcript)
        )
    };
    let mut message = match (&c.expected, &c.actual) {
        _ if c.verdict == Verdict::Inconclusive => inconclusive_message(c),
        (Some(e), Some(a)) => format!("expected {e}; actual {a}"),
        (None, Some(a)) => a.clone(),
        _ => c.verdict.label().to_owned(),
    };
    if c.pass == Pass::Restricted {
        message = format!("[{RESTRICTED_MARK}] {message}");
    }
    let status = if let Some(reason) = &c.baselined {
        let mut s = TestCaseStatus::skipped();
        s.set_message(text(&format!("baselined {}: {reason}", c.verdict.label())));
        s
    } else {
        let (status, note) = verdict_status(c.verdict, &message, detail);
        notes.extend(note);
        status
    };
    let mut case = TestCase::new(text(&c.id), status);
    case.set_classname(text(&format!(
        "mqttspec.v{}.{}",
        c.protocol,
        c.id.split('.').next().unwrap_or("")
    )))
    .set_time(Duration::from_millis(c.duration_ms));
    if !notes.is_empty() {
        case.set_system_out(text(&notes.join("\n")));
    }
    case
}

/// The JUnit status of a verdict: FAIL a `<failure>` and ERROR an `<error>` (with `detail`),
/// UNSUPPORTED and INCONCLUSIVE `<skipped>`; NON-STRICT and INFORMATIONAL pass, with the note
/// for `<system-out>` returned beside the status. Shared with the client run's `junit.xml`.
pub(super) fn verdict_status(
    verdict: Verdict,
    message: &str,
    detail: impl FnOnce() -> String,
) -> (TestCaseStatus, Option<String>) {
    match verdict {
        Verdict::Fail | Verdict::Error => {
            let (kind, ty) = if verdict == Verdict::Fail {
                (NonSuccessKind::Failure, "FAIL")
            } else {
                (NonSuccessKind::Error, "ERROR")
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_type(ty)
                .set_message(text(message))
                .set_description(text(&detail()));
            (s, None)
        }
        Verdict::Unsupported | Verdict::Inconclusive => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(text(&format!("{}: {message}", verdict.label())));
            (s, None)
        }
        Verdict::NonStrict | Verdict::Informational => (
            TestCaseStatus::success(),
            Some(format!("{}: {message}", verdict.label())),
        ),
        Verdict::Pass => (TestCaseStatus::success(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_junit::XmlString;

    /// quick-junit drops what it takes for ANSI escape sequences and control characters;
    /// after `text` none are left, so it keeps every character.
    #[test]
    fn quick_junit_keeps_every_character_of_text() {
        let all: String = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .flat_map(|c| [c, 'x'])
            .collect();
        let kept = text(&all);
        assert_eq!(XmlString::new(&kept).as_str(), kept.as_ref());
        // An escape sequence: the ESC becomes U+FFFD, the rest stays readable.
        assert_eq!(
            XmlString::new(text("a\u{1b}[31mb\u{0}c")).as_str(),
            "a\u{FFFD}[31mb\u{FFFD}c"
        );
        assert_eq!(
            text("a\tb\r\nc\rd\u{85}e\u{FFFE}").as_ref(),
            "a b\nc\nd\u{FFFD}e\u{FFFD}"
        );
    }
}
