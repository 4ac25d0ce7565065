//! `mqttspec report --compare A/client-report.json B/client-report.json ... --out FILE`:
//! several client libraries' runs side by side — one row per case × protocol and one per
//! statement, one column per library, baselined verdicts marked.
//!
//! The page is the template `templates/client-compare.html` (askama); this module builds its
//! view, `ClientComparePage`, out of the JSON of the reports. The template HTML-escapes every
//! value.

use std::collections::BTreeMap;

use askama::Template;
use serde_json::Value;

use super::client_html::{detail, library_name, text};
use super::view::VerdictBadge;
use super::xml_text::XmlText;
use mqttspec_harness::verdict::Verdict;

/// The schema prefix that marks a client report (`client-report.json`).
pub const SCHEMA_PREFIX: &str = "mqttspec-client-report/";

/// Whether `v` is a client report.
pub fn is_client_report(v: &Value) -> bool {
    v.get("schema")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with(SCHEMA_PREFIX))
}

/// Renders the comparison page of `reports` (in the given column order).
pub fn render(reports: &[Value]) -> String {
    ClientComparePage::of(reports)
        .render()
        .expect("rendering client-compare.html into memory")
}

#[derive(Debug, Template)]
#[template(path = "client-compare.html")]
struct ClientComparePage {
    verdict_labels: Vec<XmlText>,
    libraries: Vec<LibraryRow>,
    rows: Vec<CaseRow>,
    statements: Vec<StatementRow>,
}

#[derive(Debug)]
struct LibraryRow {
    name: XmlText,
    adapter: XmlText,
    counts: Vec<u64>,
}

#[derive(Debug)]
struct CaseRow {
    id: XmlText,
    protocol: XmlText,
    title: XmlText,
    differs: bool,
    cells: Vec<Option<Cell>>,
}

#[derive(Debug)]
struct Cell {
    verdict: VerdictBadge,
    detail: XmlText,
    baselined: bool,
}

#[derive(Debug)]
struct StatementRow {
    id: XmlText,
    spec: XmlText,
    verdicts: Vec<Option<VerdictBadge>>,
}

fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

impl ClientComparePage {
    fn of(reports: &[Value]) -> ClientComparePage {
        let labels: Vec<&str> = Verdict::ALL.iter().map(|v| v.label()).collect();
        let libraries = reports
            .iter()
            .map(|r| LibraryRow {
                name: XmlText::from(library_name(r)),
                adapter: XmlText::from(text(r, "adapter")),
                counts: labels
                    .iter()
                    .map(|l| r["summary"][*l].as_u64().unwrap_or(0))
                    .collect(),
            })
            .collect();
        // Rows in first-seen order across the reports.
        let mut order: Vec<(String, String)> = Vec::new();
        let mut titles: BTreeMap<(String, String), String> = BTreeMap::new();
        for r in reports {
            for c in items(r, "cases") {
                let key = (text(c, "id"), text(c, "protocol"));
                if !order.contains(&key) {
                    titles.insert(key.clone(), text(c, "title"));
                    order.push(key);
                }
            }
        }
        let rows = order
            .iter()
            .map(|key| {
                let cells: Vec<Option<Cell>> = reports
                    .iter()
                    .map(|r| {
                        items(r, "cases")
                            .iter()
                            .find(|c| text(c, "id") == key.0 && text(c, "protocol") == key.1)
                            .map(|c| Cell {
                                verdict: VerdictBadge::of(&text(c, "verdict")),
                                detail: XmlText::from(detail(c)),
                                baselined: c.get("baselined").is_some_and(Value::is_string),
                            })
                    })
                    .collect();
                let seen: Vec<&str> = cells
                    .iter()
                    .flatten()
                    .map(|c| c.verdict.label.as_ref())
                    .collect();
                CaseRow {
                    id: XmlText::new(&key.0),
                    protocol: XmlText::new(&key.1),
                    title: XmlText::from(titles.get(key).cloned().unwrap_or_default()),
                    differs: seen.windows(2).any(|w| w[0] != w[1]),
                    cells,
                }
            })
            .collect();
        let mut st_order: Vec<(String, String)> = Vec::new();
        for r in reports {
            for s in items(r, "statements") {
                let key = (text(s, "id"), text(s, "spec"));
                if !st_order.contains(&key) {
                    st_order.push(key);
                }
            }
        }
        let statements = st_order
            .into_iter()
            .map(|(id, spec)| StatementRow {
                verdicts: reports
                    .iter()
                    .map(|r| {
                        items(r, "statements")
                            .iter()
                            .find(|s| text(s, "id") == id && text(s, "spec") == spec)
                            .map(|s| VerdictBadge::of(&text(s, "verdict")))
                    })
                    .collect(),
                id: XmlText::from(id),
                spec: XmlText::from(spec),
            })
            .collect();
        ClientComparePage {
            verdict_labels: labels.iter().map(|l| XmlText::new(l)).collect(),
            libraries,
            rows,
            statements,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(lib: &str, verdict: &str, baselined: Option<&str>) -> Value {
        json!({
            "schema": "mqttspec-client-report/1",
            "library": {"library": lib, "version": "1"},
            "adapter": "a",
            "summary": {verdict: 1},
            "cases": [{"id": "x.y", "title": "t", "protocol": "5", "verdict": verdict, "baselined": baselined}],
            "statements": [{"id": "MQTT-1.1.1-1", "spec": "MQTT 5.0", "verdict": verdict}]
        })
    }

    #[test]
    fn libraries_side_by_side_with_differences_and_baselines_marked() {
        let html = render(&[
            report("one", "PASS", None),
            report("two", "FAIL", Some("known")),
        ]);
        assert!(is_client_report(&report("one", "PASS", None)));
        assert!(html.contains("one 1") && html.contains("two 1"));
        assert!(html.contains("≠"));
        assert!(html.contains("(baselined)"));
        assert!(html.contains("MQTT-1.1.1-1"));
    }
}
