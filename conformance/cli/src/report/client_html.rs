//! `report.html` of a client run (`mqttspec client`): summary, cases, the statement ×
//! verdict table and every case run with its transcript, in one self-contained page.
//!
//! The page is the template `templates/client-report.html` (askama, sharing `layout.html`
//! and the verdict colours of the broker report); this module builds its view, `ClientPage`,
//! out of the JSON of `client-report.json` (so a published report renders the same as a
//! fresh run). The template HTML-escapes every value.

use askama::Template;
use serde_json::Value;

use super::view::{anchor, VerdictBadge};
use super::xml_text::XmlText;

/// Renders the page of one `client-report.json` value.
pub fn render(report: &Value) -> String {
    // The view holds strings and numbers only and the template uses no fallible filter.
    ClientPage::of(report)
        .render()
        .expect("rendering client-report.html into memory")
}

/// The view of `templates/client-report.html`.
#[derive(Debug, Template)]
#[template(path = "client-report.html")]
struct ClientPage {
    library: XmlText,
    adapter: XmlText,
    tool_version: XmlText,
    schema: XmlText,
    baseline: Option<XmlText>,
    total: usize,
    verdicts: Vec<(VerdictBadge, u64)>,
    /// Specification, statements, covered.
    coverage: Vec<(XmlText, usize, usize)>,
    cases: Vec<CaseView>,
    statements: Vec<StatementView>,
}

#[derive(Debug)]
struct CaseView {
    anchor: XmlText,
    id: XmlText,
    title: XmlText,
    protocol: XmlText,
    verdict: VerdictBadge,
    statement: Option<XmlText>,
    statements: Vec<XmlText>,
    expected: Option<XmlText>,
    actual: Option<XmlText>,
    detail: XmlText,
    baselined: Option<XmlText>,
    duration_ms: u64,
    transcript: Vec<XmlText>,
}

#[derive(Debug)]
struct StatementView {
    id: XmlText,
    spec: XmlText,
    who: XmlText,
    verdict: VerdictBadge,
    cases: Vec<XmlText>,
}

/// A string field of `v` ("" when absent).
pub(crate) fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn opt(v: &Value, key: &str) -> Option<XmlText> {
    v.get(key).and_then(Value::as_str).map(XmlText::new)
}

/// The library's name and version as the report's `library` holds them.
pub(crate) fn library_name(report: &Value) -> String {
    let lib = &report["library"];
    let name = text(lib, "library");
    let version = text(lib, "version");
    match (name.is_empty(), version.is_empty()) {
        (true, _) => "unknown library".into(),
        (false, true) => name,
        (false, false) => format!("{name} {version}"),
    }
}

/// The one-line detail of a case run: what was expected and what happened.
pub(crate) fn detail(c: &Value) -> String {
    match (opt(c, "expected"), opt(c, "actual")) {
        (Some(e), Some(a)) => format!("expected {e}; got {a}"),
        (None, Some(a)) => a.to_string(),
        _ => String::new(),
    }
}

fn strings(v: &Value) -> Vec<XmlText> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(XmlText::new)
                .collect()
        })
        .unwrap_or_default()
}

fn transcript_line(t: &Value) -> XmlText {
    let at = t.get("at_us").and_then(Value::as_u64).unwrap_or(0);
    let mut line = format!(
        "{:>9.3} ms  {:<8} {:<5} {}",
        at as f64 / 1000.0,
        text(t, "client"),
        text(t, "direction"),
        text(t, "summary")
    );
    let hex = text(t, "hex");
    if !hex.is_empty() {
        line.push_str(&format!("\n{:>26}{hex}", ""));
    }
    XmlText::from(line)
}

impl ClientPage {
    fn of(report: &Value) -> ClientPage {
        let empty = Vec::new();
        let cases_json = report["cases"].as_array().unwrap_or(&empty);
        let cases = cases_json
            .iter()
            .map(|c| CaseView {
                anchor: anchor(&text(c, "id"), &text(c, "protocol")),
                id: XmlText::from(text(c, "id")),
                title: XmlText::from(text(c, "title")),
                protocol: XmlText::from(text(c, "protocol")),
                verdict: VerdictBadge::of(&text(c, "verdict")),
                statement: opt(c, "statement"),
                statements: strings(&c["statements"]),
                expected: opt(c, "expected"),
                actual: opt(c, "actual"),
                detail: XmlText::from(detail(c)),
                baselined: opt(c, "baselined"),
                duration_ms: c["duration_ms"].as_u64().unwrap_or(0),
                transcript: c["transcript"]
                    .as_array()
                    .map(|t| t.iter().map(transcript_line).collect())
                    .unwrap_or_default(),
            })
            .collect::<Vec<_>>();
        let statements_json = report["statements"].as_array().unwrap_or(&empty);
        let statements = statements_json
            .iter()
            .map(|s| StatementView {
                id: XmlText::from(text(s, "id")),
                spec: XmlText::from(text(s, "spec")),
                who: XmlText::from(text(s, "who")),
                verdict: VerdictBadge::of(&text(s, "verdict")),
                cases: strings(&s["cases"]),
            })
            .collect::<Vec<_>>();
        let mut specs: Vec<String> = statements_json.iter().map(|s| text(s, "spec")).collect();
        specs.dedup();
        let coverage = specs
            .iter()
            .map(|spec| {
                let of: Vec<_> = statements_json
                    .iter()
                    .filter(|s| &text(s, "spec") == spec)
                    .collect();
                let covered = of
                    .iter()
                    .filter(|s| text(s, "verdict") != mqttspec_client_suite::report::NOT_COVERED)
                    .count();
                (XmlText::from(spec), of.len(), covered)
            })
            .collect();
        let verdicts = report["summary"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (VerdictBadge::of(k), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        ClientPage {
            library: XmlText::from(library_name(report)),
            adapter: XmlText::from(text(report, "adapter")),
            tool_version: XmlText::from(text(&report["tool"], "version")),
            schema: XmlText::from(text(report, "schema")),
            baseline: opt(report, "baseline"),
            total: cases.len(),
            verdicts,
            coverage,
            cases,
            statements,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_escaped_and_baselined_runs_marked() {
        let report = json!({
            "schema": "mqttspec-client-report/1",
            "tool": {"version": "0.1.0"},
            "library": {"library": "lib<x>", "version": "1"},
            "adapter": "run <me>",
            "baseline": "b.toml",
            "summary": {"FAIL": 1},
            "cases": [{
                "id": "a.b", "title": "t", "protocol": "5", "verdict": "FAIL",
                "expected": "x", "actual": "<y>", "statement": "MQTT-1.2.3-4",
                "statements": ["MQTT-1.2.3-4"], "duration_ms": 3, "baselined": "known",
                "transcript": [{"at_us": 1500, "client": "conn1", "direction": "in", "hex": "e000", "summary": "DISCONNECT"}]
            }],
            "statements": [{"id": "MQTT-1.2.3-4", "spec": "MQTT 5.0", "who": "client", "verdict": "FAIL", "cases": ["a.b"]}]
        });
        let html = render(&report);
        assert!(html.contains("lib&#60;x&#62; 1") || html.contains("lib&lt;x&gt; 1"));
        assert!(!html.contains("<y>"));
        assert!(html.contains("(baselined)"));
        assert!(html.contains("e000"));
        assert!(html.contains("case-a.b-v5"));
    }
}
