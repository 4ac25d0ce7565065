//! `mqttspec report --compare A.json B.json ... --out compare.html`: several brokers' reports
//! side by side — one row per case × protocol, one column per broker. A verdict of a
//! report's restricted embedded broker is marked in its cell.

use std::collections::BTreeMap;

use super::escape::html;
use super::{css_class, Report, CSS, RESTRICTED_MARK};
use crate::runner::Pass;
use crate::verdict::Verdict;

/// One case × protocol: its title and, per broker, the verdict, its explanation and the
/// broker that produced it.
type Row = (String, Vec<Option<(Verdict, String, Pass)>>);

/// Renders the comparison page of `reports` (in the given column order).
pub fn render(reports: &[Report]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mqttspec comparison</title><style>{CSS}</style></head><body>\n<h1>mqttspec: brokers compared</h1>\n"
    ));
    out.push_str("<table><tr><th>broker</th><th>address</th>");
    for v in Verdict::ALL {
        out.push_str(&format!("<th>{}</th>", v.label()));
    }
    out.push_str("</tr>\n");
    for r in reports {
        let restricted = r.broker.restricted.as_ref().map_or(String::new(), |b| {
            format!(
                "<br><small>{} verdict(s) from the {RESTRICTED_MARK}: {}</small>",
                b.replaced,
                html(&b.settings_text())
            )
        });
        out.push_str(&format!(
            "<tr><td>{}{restricted}</td><td><code>{}</code></td>",
            html(&r.broker.name),
            html(&r.broker.address)
        ));
        for v in Verdict::ALL {
            out.push_str(&format!(
                "<td class=\"num\">{}</td>",
                r.summary.by_verdict.get(v)
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");

    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        for c in &r.cases {
            let row = rows
                .entry((c.id.clone(), c.protocol.clone()))
                .or_insert_with(|| (c.title.clone(), vec![None; reports.len()]));
            if let Some(slot) = row.1.get_mut(i) {
                let mut detail = match (&c.expected, &c.actual) {
                    (Some(e), Some(a)) => format!("expected {e}; actual {a}"),
                    (None, Some(a)) => a.clone(),
                    _ => String::new(),
                };
                if c.pass == Pass::Restricted {
                    let settings = r
                        .broker
                        .restricted
                        .as_ref()
                        .map(|b| b.settings_text())
                        .unwrap_or_default();
                    detail = format!(
                        "run against the {RESTRICTED_MARK} ({settings}); UNSUPPORTED on the main broker: {}. {detail}",
                        c.unsupported_on_main.as_deref().unwrap_or("-")
                    );
                }
                *slot = Some((c.verdict, detail, c.pass));
            }
        }
    }
    out.push_str("<h2>Cases</h2>\n<table><tr><th>case</th><th>protocol</th>");
    for r in reports {
        out.push_str(&format!("<th>{}</th>", html(&r.broker.name)));
    }
    out.push_str("</tr>\n");
    for ((id, protocol), (title, verdicts)) in &rows {
        let differs = verdicts.windows(2).any(|w| match w {
            [a, b] => a.as_ref().map(|x| x.0) != b.as_ref().map(|x| x.0),
            _ => false,
        });
        out.push_str(&format!(
            "<tr><td title=\"{}\"><code>{}</code>{}</td><td>{}</td>",
            html(title),
            html(id),
            if differs { " <strong>≠</strong>" } else { "" },
            html(protocol)
        ));
        for v in verdicts {
            match v {
                Some((verdict, detail, pass)) => out.push_str(&format!(
                    "<td class=\"{}\" title=\"{}\">{}{}</td>",
                    css_class(verdict.label()),
                    html(detail),
                    verdict.label(),
                    if *pass == Pass::Restricted {
                        format!(" <small>({RESTRICTED_MARK})</small>")
                    } else {
                        String::new()
                    }
                )),
                None => out.push_str("<td class=\"muted\">not run</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n</body></html>\n");
    out
}
