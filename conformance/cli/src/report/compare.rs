//! `mqttspec report --compare A.json B.json ... --out compare.html`: several brokers' reports
//! side by side — one row per case × protocol, one column per broker. A verdict of a
//! report's restricted embedded broker is marked in its cell. INCONCLUSIVE runs are also
//! listed apart, grouped by precondition, with a link to the row of the case that tests the
//! precondition. Reports of schema 1 (no INCONCLUSIVE) compare with newer ones.

use std::collections::BTreeMap;

use super::escape::html;
use super::html::{anchor, INCONCLUSIVE_ANCHOR};
use super::{css_class, precondition_named, CaseReport, Report, CSS, RESTRICTED_MARK};
use mqttspec_harness::runner::Pass;
use mqttspec_harness::verdict::{Precondition, Verdict};

/// One broker's result of a case × protocol: the verdict, its explanation, the broker that
/// produced it, and the precondition of an INCONCLUSIVE one.
type Cell = (Verdict, String, Pass, Option<String>);

/// One case × protocol: its title and, per broker, its result.
type Row = (String, Vec<Option<Cell>>);

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
                    _ if c.verdict == Verdict::Inconclusive => inconclusive_detail(c),
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
                *slot = Some((c.verdict, detail, c.pass, c.precondition.clone()));
            }
        }
    }
    inconclusive(&mut out, reports, &rows);

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
            "<tr id=\"{}\"><td title=\"{}\"><code>{}</code>{}</td><td>{}</td>",
            anchor(id, protocol),
            html(title),
            html(id),
            if differs { " <strong>≠</strong>" } else { "" },
            html(protocol)
        ));
        for v in verdicts {
            match v {
                Some((verdict, detail, pass, precondition)) => out.push_str(&format!(
                    "<td class=\"{}\" title=\"{}\">{}{}{}</td>",
                    css_class(verdict.label()),
                    html(detail),
                    verdict.label(),
                    match precondition {
                        Some(p) => format!(" <small>({})</small>", html(p)),
                        None => String::new(),
                    },
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

/// "not tested, precondition not established: ... (connect) → see connect.accepted: ...".
fn inconclusive_detail(c: &CaseReport) -> String {
    let mut text = format!(
        "not tested, precondition not established: {}",
        c.expected.as_deref().unwrap_or("-")
    );
    if let Some(p) = &c.precondition {
        text.push_str(&format!(" ({p})"));
    }
    if let Some(id) = &c.see_case {
        text.push_str(&format!(" → see {id}"));
    }
    if let Some(a) = &c.actual {
        text.push_str(&format!(": {a}"));
    }
    text
}

/// The "Inconclusive (not tested)" table: one row per precondition, one column per broker
/// with its INCONCLUSIVE runs and the verdicts of the case that tests the precondition.
/// Nothing when no report has an INCONCLUSIVE run.
fn inconclusive(out: &mut String, reports: &[Report], rows: &BTreeMap<(String, String), Row>) {
    let per_report: Vec<_> = reports.iter().map(Report::inconclusive_groups).collect();
    // Preconditions in the order of `Precondition::ALL`, unknown names (newer reports) last.
    let mut names: Vec<(usize, String, String, Option<String>)> = Vec::new();
    for g in per_report.iter().flatten() {
        if !names.iter().any(|n| n.1 == g.precondition) {
            let rank = precondition_named(&g.precondition)
                .and_then(|p| Precondition::ALL.iter().position(|q| *q == p))
                .unwrap_or(usize::MAX);
            names.push((
                rank,
                g.precondition.clone(),
                g.description.clone(),
                g.see_case.clone(),
            ));
        }
    }
    if names.is_empty() {
        return;
    }
    names.sort();
    out.push_str(&format!("<h2 id=\"{INCONCLUSIVE_ANCHOR}\">Inconclusive (not tested)</h2>\n<p class=\"muted\">Case runs that could not establish a precondition, so the statements they cite were not tested; grouped by precondition, with the case that tests the precondition itself.</p>\n<table><tr><th>precondition</th><th>see case</th>"));
    for r in reports {
        out.push_str(&format!("<th>{}</th>", html(&r.broker.name)));
    }
    out.push_str("</tr>\n");
    for (_, name, description, see_case) in &names {
        let see = match see_case {
            Some(id) => {
                let target = rows
                    .keys()
                    .find(|(case, _)| case == id)
                    .map(|(case, protocol)| anchor(case, protocol));
                match target {
                    Some(a) => format!("<a href=\"#{a}\"><code>{}</code></a>", html(id)),
                    None => format!("<code>{}</code> (not run)", html(id)),
                }
            }
            None => "-".to_owned(),
        };
        out.push_str(&format!(
            "<tr><td class=\"v-inconclusive\">{} <code>{}</code></td><td>{see}</td>",
            html(description),
            html(name)
        ));
        for (r, groups) in reports.iter().zip(&per_report) {
            let Some(g) = groups.iter().find(|g| &g.precondition == name) else {
                out.push_str("<td class=\"num\">0</td>");
                continue;
            };
            let cases: Vec<String> = g
                .cases
                .iter()
                .map(|c| {
                    format!(
                        "<li><a href=\"#{}\"><code>{}</code></a> (MQTT {})</li>",
                        anchor(&c.id, &c.protocol),
                        html(&c.id),
                        html(&c.protocol)
                    )
                })
                .collect();
            let pointer: Vec<String> = see_case
                .iter()
                .flat_map(|id| r.protocols.iter().filter_map(|p| r.case(id, p)))
                .map(|c| {
                    format!(
                        "MQTT {}: <span class=\"{}\">{}</span>",
                        html(&c.protocol),
                        css_class(c.verdict.label()),
                        c.verdict.label()
                    )
                })
                .collect();
            out.push_str(&format!(
                "<td><details><summary>{} case run(s)</summary><ul>{}</ul></details>{}</td>",
                g.cases.len(),
                cases.join(""),
                if pointer.is_empty() {
                    String::new()
                } else {
                    format!("<small>see case: {}</small>", pointer.join(", "))
                }
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}
