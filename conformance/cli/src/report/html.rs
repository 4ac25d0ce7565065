//! `report.html`: one self-contained page (inline CSS, no scripts, no external assets):
//! summary, the INCONCLUSIVE runs grouped by precondition (each group linking to the case
//! that tests the precondition), capabilities, per-area table, statement × verdict matrix,
//! and every case with its tags and its transcript in a collapsible block. Everything from
//! the broker is HTML-escaped. Verdicts of the restricted embedded broker are marked where
//! they appear, and its capabilities have their own column.

use super::escape::html;
use super::{
    capability_rows, css_class, runs_v5, CaseReport, InconclusiveGroup, Report, CSS,
    RESTRICTED_MARK,
};
use mqttspec_harness::runner::Pass;
use mqttspec_harness::verdict::Verdict;

/// The id of the "Inconclusive (not tested)" section.
pub const INCONCLUSIVE_ANCHOR: &str = "inconclusive";

/// Renders the HTML page of `report`.
pub fn render(report: &Report) -> String {
    let b = &report.broker;
    let mut out = String::new();
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mqttspec: {}</title><style>{CSS}</style></head><body>\n",
        html(&b.name)
    ));
    out.push_str(&format!(
        "<h1>mqttspec conformance report: {}</h1>\n",
        html(&b.name)
    ));
    out.push_str(&format!(
        "<p>Broker <code>{}</code>{}; protocols {}; {} case runs in {:.1} s; mqttspec {} (report schema {}).</p>\n",
        html(&b.address),
        if b.embedded { " (embedded reference broker)" } else { "" },
        html(&report.protocols.join(", ")),
        report.summary.total,
        report.wall_time_ms as f64 / 1000.0,
        html(&report.tool.version),
        report.schema_version
    ));
    if !b.faults.is_empty() {
        out.push_str(&format!(
            "<p><strong>Injected faults:</strong> {}</p>\n",
            html(&b.faults.join(", "))
        ));
    }
    for n in &b.notes {
        out.push_str(&format!("<p class=\"muted\">Note: {}</p>\n", html(n)));
    }
    if let Some(r) = &b.restricted {
        out.push_str(&format!(
            "<p><strong>Restricted broker:</strong> {}</p>\n",
            html(&r.describe())
        ));
        let links: Vec<String> = report
            .restricted_cases()
            .map(|c| {
                format!(
                    "<a href=\"#{}\">{}</a> (MQTT {}) <span class=\"{}\">{}</span>",
                    anchor(&c.id, &c.protocol),
                    html(&c.id),
                    html(&c.protocol),
                    css_class(c.verdict.label()),
                    c.verdict.label()
                )
            })
            .collect();
        if !links.is_empty() {
            out.push_str(&format!("<ul><li>{}</li></ul>\n", links.join("</li><li>")));
        }
        for n in &r.notes {
            out.push_str(&format!(
                "<p class=\"muted\">Note (restricted broker): {}</p>\n",
                html(n)
            ));
        }
    }

    out.push_str("<h2>Summary</h2>\n<table><tr><th>verdict</th><th>cases</th></tr>\n");
    for v in Verdict::ALL {
        let n = report.summary.by_verdict.get(v);
        out.push_str(&format!(
            "<tr><td class=\"{}\">{}</td><td class=\"num\">{}</td></tr>\n",
            css_class(v.label()),
            v.label(),
            if v == Verdict::Inconclusive && n > 0 {
                format!("<a href=\"#{INCONCLUSIVE_ANCHOR}\">{n}</a>")
            } else {
                n.to_string()
            }
        ));
    }
    out.push_str("</table>\n<table><tr><th>protocol</th><th>statements</th><th>testable</th><th>covered</th></tr>\n");
    for c in &report.summary.coverage {
        out.push_str(&format!(
            "<tr><td>MQTT {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            html(&c.protocol),
            c.statements,
            c.testable,
            c.covered
        ));
    }
    out.push_str("</table>\n");

    inconclusive(&mut out, report);
    capabilities(&mut out, report);

    out.push_str("<h2>By area</h2>\n<table><tr><th>area</th><th>protocol</th>");
    for v in Verdict::ALL {
        out.push_str(&format!("<th>{}</th>", v.label()));
    }
    out.push_str("<th>statements covered</th></tr>\n");
    for a in &report.summary.by_area {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td>",
            html(&a.area),
            html(&a.protocol)
        ));
        for v in Verdict::ALL {
            let n = a.cases.get(v);
            let class = if n > 0 {
                css_class(v.label())
            } else {
                String::new()
            };
            out.push_str(&format!("<td class=\"num {class}\">{n}</td>"));
        }
        out.push_str(&format!(
            "<td class=\"num\">{}/{}</td></tr>\n",
            a.statements_covered, a.statements
        ));
    }
    out.push_str("</table>\n");

    out.push_str("<h2>Statements</h2>\n<p class=\"muted\">A statement's verdict is the worst verdict of the cases that check it. Descriptions are paraphrases, not the normative text.</p>\n");
    out.push_str("<table><tr><th>statement</th><th>protocol</th><th>area</th><th>who</th><th>testable</th><th>verdict</th><th>cases</th><th>paraphrase</th></tr>\n");
    for s in &report.statements {
        let cases: Vec<String> = s
            .cases
            .iter()
            .map(|c| format!("<a href=\"#{}\">{}</a>", anchor(c, &s.protocol), html(c)))
            .collect();
        out.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td class=\"muted\">{}</td></tr>\n",
            html(&s.id),
            html(&s.protocol),
            html(&s.area),
            html(&s.obligation),
            html(&s.testability),
            css_class(&s.verdict),
            html(&s.verdict),
            cases.join(" "),
            html(&s.description)
        ));
    }
    out.push_str("</table>\n");

    out.push_str("<h2>Cases</h2>\n");
    for c in &report.cases {
        out.push_str(&format!(
            "<div id=\"{}\"><h3 class=\"{}\">{} — <code>{}</code> (MQTT {}) {}</h3>\n<p>{} <span class=\"muted\">[{}; {} ms]</span></p>\n",
            anchor(&c.id, &c.protocol),
            css_class(c.verdict.label()),
            c.verdict.label(),
            html(&c.id),
            html(&c.protocol),
            match (c.baselined.is_some(), c.pass) {
                (true, Pass::Restricted) => format!("(baselined; {RESTRICTED_MARK})"),
                (true, Pass::Main) => "(baselined)".to_owned(),
                (false, Pass::Restricted) => format!("({RESTRICTED_MARK})"),
                (false, Pass::Main) => String::new(),
            },
            html(&c.title),
            html(&c.statements.join(", ")),
            c.duration_ms
        ));
        if !c.tags.is_empty() {
            out.push_str(&format!("<p class=\"muted\">tags: {}</p>\n", tags(&c.tags)));
        }
        if c.pass == Pass::Restricted {
            let settings = b
                .restricted
                .as_ref()
                .map(|r| r.settings_text())
                .unwrap_or_default();
            out.push_str(&format!(
                "<p><strong>Broker:</strong> the restricted embedded reference broker ({}); on the main broker the case was UNSUPPORTED: {}</p>\n",
                html(&settings),
                html(c.unsupported_on_main.as_deref().unwrap_or("-"))
            ));
        }
        if c.verdict == Verdict::Inconclusive {
            out.push_str(&format!(
                "<p><strong>Not tested:</strong> precondition not established: {}</p>\n",
                precondition_text(report, c)
            ));
            if let Some(a) = &c.actual {
                out.push_str(&format!(
                    "<p><strong>What happened:</strong> {}</p>\n",
                    html(a)
                ));
            }
        } else {
            if let Some(e) = &c.expected {
                out.push_str(&format!("<p><strong>Expected:</strong> {}</p>\n", html(e)));
            }
            if let Some(a) = &c.actual {
                out.push_str(&format!("<p><strong>Actual:</strong> {}</p>\n", html(a)));
            }
        }
        if let Some(s) = &c.violated {
            out.push_str(&format!(
                "<p><strong>Violates:</strong> <code>{}</code></p>\n",
                html(s)
            ));
        }
        if let Some(r) = &c.baselined {
            out.push_str(&format!("<p><strong>Baseline:</strong> {}</p>\n", html(r)));
        }
        if !c.transcript.is_empty() {
            out.push_str(&format!(
                "<details><summary>transcript ({} entries)</summary>\n<table><tr><th>ms</th><th>client</th><th></th><th>packet</th><th>bytes</th></tr>\n",
                c.transcript.len()
            ));
            for e in &c.transcript {
                out.push_str(&format!(
                    "<tr><td class=\"num\">{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
                    e.at_us as f64 / 1000.0,
                    html(&e.client),
                    html(e.direction.arrow()),
                    html(&e.summary),
                    html(&e.hex)
                ));
            }
            out.push_str("</table></details>\n");
        }
        out.push_str("</div>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// The "Inconclusive (not tested)" section: one table per precondition, linking to the case
/// that tests it. Nothing when no run was INCONCLUSIVE.
fn inconclusive(out: &mut String, report: &Report) {
    let groups = report.inconclusive_groups();
    if groups.is_empty() {
        return;
    }
    out.push_str(&format!(
        "<h2 id=\"{INCONCLUSIVE_ANCHOR}\">Inconclusive (not tested)</h2>\n<p class=\"muted\">These case runs could not establish a precondition, so the statements they cite were not tested. Each group names the case that tests the precondition itself: look there first.</p>\n"
    ));
    for g in &groups {
        out.push_str(&format!(
            "<h3 class=\"v-inconclusive\">{} <code>{}</code>: {} case run(s)</h3>\n<p>{}</p>\n",
            html(&g.description),
            html(&g.precondition),
            g.cases.len(),
            see_case_text(report, g)
        ));
        out.push_str("<table><tr><th>case</th><th>protocol</th><th>what happened</th></tr>\n");
        for c in &g.cases {
            out.push_str(&format!(
                "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td></tr>\n",
                anchor(&c.id, &c.protocol),
                html(&c.id),
                html(&c.protocol),
                html(c.actual.as_deref().unwrap_or(""))
            ));
        }
        out.push_str("</table>\n");
    }
}

/// "See `connect.accepted` (MQTT 5: FAIL)", linking to each run of the group's pointer case.
fn see_case_text(report: &Report, g: &InconclusiveGroup<'_>) -> String {
    let Some(id) = &g.see_case else {
        return "No case tests this precondition by itself; the detail says what happened."
            .to_owned();
    };
    format!("See {}.", case_links(report, id))
}

/// `<code>id</code>` with a link to each protocol's run of the case and its verdict, or
/// "(not run)".
fn case_links(report: &Report, id: &str) -> String {
    let runs: Vec<String> = report
        .protocols
        .iter()
        .filter_map(|p| report.case(id, p))
        .map(|c| {
            format!(
                "<a href=\"#{}\">MQTT {}</a>: <span class=\"{}\">{}</span>",
                anchor(&c.id, &c.protocol),
                html(&c.protocol),
                css_class(c.verdict.label()),
                c.verdict.label()
            )
        })
        .collect();
    if runs.is_empty() {
        format!("<code>{}</code> (not run)", html(id))
    } else {
        format!("<code>{}</code> ({})", html(id), runs.join(", "))
    }
}

/// The precondition of an INCONCLUSIVE case run, with a link to the case that tests it on
/// the same protocol when that ran.
fn precondition_text(report: &Report, c: &CaseReport) -> String {
    let description = c
        .precondition
        .as_deref()
        .and_then(|name| {
            report
                .summary
                .by_precondition
                .iter()
                .find(|p| p.precondition == name)
                .map(|p| p.description.clone())
                .or_else(|| super::precondition_named(name).map(|p| p.describe().to_owned()))
        })
        .or_else(|| c.expected.clone())
        .unwrap_or_default();
    let mut text = html(&description);
    if let Some(name) = &c.precondition {
        text.push_str(&format!(" (<code>{}</code>)", html(name)));
    }
    if let Some(id) = &c.see_case {
        let target = match report.case(id, &c.protocol) {
            Some(t) => format!(
                "<a href=\"#{}\"><code>{}</code></a> (<span class=\"{}\">{}</span>)",
                anchor(&t.id, &t.protocol),
                html(id),
                css_class(t.verdict.label()),
                t.verdict.label()
            ),
            None => format!(
                "<code>{}</code> (not run on MQTT {})",
                html(id),
                html(&c.protocol)
            ),
        };
        text.push_str(&format!(" → see {target}"));
    }
    text
}

/// The capability table (MQTT 5.0 CONNACK properties; see [`capability_rows`]).
fn capabilities(out: &mut String, report: &Report) {
    let b = &report.broker;
    let rows = capability_rows(&b.capabilities, &report.protocols);
    let restricted = b
        .restricted
        .as_ref()
        .map(|r| capability_rows(&r.capabilities, &report.protocols));
    out.push_str("<h2>Capabilities</h2>\n");
    if !runs_v5(&report.protocols) {
        out.push_str(&format!(
            "<p class=\"muted\">MQTT 3.1.1 declares no capabilities in CONNACK (they are MQTT 5.0 CONNACK properties); {}.</p>\n",
            if rows.is_empty() {
                "the profile sets none"
            } else {
                "only the values the profile sets are listed"
            }
        ));
    }
    if rows.is_empty() {
        return;
    }
    out.push_str(&format!(
        "<table><tr><th>capability</th><th>value</th><th>source</th>{}</tr>\n",
        if restricted.is_some() {
            format!("<th>{RESTRICTED_MARK}</th><th>source</th>")
        } else {
            String::new()
        }
    ));
    for row in &rows {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"muted\">{}</td>",
            row.name,
            html(&row.value),
            html(&row.source)
        ));
        if let Some(rows) = &restricted {
            match rows.iter().find(|r| r.name == row.name) {
                Some(r) => out.push_str(&format!(
                    "<td>{}</td><td class=\"muted\">{}</td>",
                    html(&r.value),
                    html(&r.source)
                )),
                None => out.push_str("<td class=\"muted\">-</td><td></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Tag labels as small badges.
fn tags(tags: &[String]) -> String {
    tags.iter()
        .map(|t| format!("<span class=\"tag\">{}</span>", html(t)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The id of a case's block: `case-<id>-v<protocol>` with only safe characters.
pub(crate) fn anchor(id: &str, protocol: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("case-{}-v{}", clean(id), clean(protocol))
}
