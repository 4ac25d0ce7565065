//! `report.html`: one self-contained page (inline CSS, no scripts, no external assets):
//! summary, per-area table, statement × verdict matrix, and every case with its transcript
//! in a collapsible block. Everything from the broker is HTML-escaped. Verdicts of the
//! restricted embedded broker are marked where they appear, and its capabilities have their
//! own column.

use super::escape::html;
use super::{css_class, Report, CSS, RESTRICTED_MARK};
use crate::profile::Capabilities;
use crate::runner::Pass;
use crate::verdict::Verdict;

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
        out.push_str(&format!(
            "<tr><td class=\"{}\">{}</td><td class=\"num\">{}</td></tr>\n",
            css_class(v.label()),
            v.label(),
            report.summary.by_verdict.get(v)
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

    let restricted = b
        .restricted
        .as_ref()
        .map(|r| capability_rows(&r.capabilities));
    out.push_str(&format!(
        "<h2>Capabilities</h2>\n<table><tr><th>capability</th><th>value</th><th>source</th>{}</tr>\n",
        if restricted.is_some() {
            format!("<th>{RESTRICTED_MARK}</th><th>source</th>")
        } else {
            String::new()
        }
    ));
    for (i, (name, value, source)) in capability_rows(&b.capabilities).into_iter().enumerate() {
        out.push_str(&format!(
            "<tr><td>{name}</td><td>{}</td><td class=\"muted\">{}</td>",
            html(&value),
            html(&source)
        ));
        if let Some((_, value, source)) = restricted.as_ref().and_then(|rows| rows.get(i)) {
            out.push_str(&format!(
                "<td>{}</td><td class=\"muted\">{}</td>",
                html(value),
                html(source)
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");

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
        if let Some(e) = &c.expected {
            out.push_str(&format!("<p><strong>Expected:</strong> {}</p>\n", html(e)));
        }
        if let Some(a) = &c.actual {
            out.push_str(&format!("<p><strong>Actual:</strong> {}</p>\n", html(a)));
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

/// The capability table's rows: name, value and where the value came from.
fn capability_rows(caps: &Capabilities) -> Vec<(&'static str, String, String)> {
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
        .map(|(name, value)| {
            let source = caps.sources.get(name).map_or("default", String::as_str);
            (name, value, source.to_owned())
        })
        .collect()
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
