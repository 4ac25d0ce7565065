//! `summary.md`: the headline numbers, per-area table, and every non-passing case.

use super::Report;
use crate::verdict::Verdict;

/// Renders the Markdown summary of `report`.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let b = &report.broker;
    out.push_str(&format!("# mqttspec conformance: {}\n\n", md(&b.name)));
    out.push_str(&format!(
        "Broker `{}`{}; protocols {}; {} case runs in {:.1} s.\n\n",
        b.address,
        if b.embedded {
            " (embedded reference broker)"
        } else {
            ""
        },
        report.protocols.join(", "),
        report.summary.total,
        report.wall_time_ms as f64 / 1000.0
    ));
    if !b.faults.is_empty() {
        out.push_str(&format!("Injected faults: {}\n\n", b.faults.join(", ")));
    }
    for n in &b.notes {
        out.push_str(&format!("> note: {}\n\n", md(n)));
    }
    out.push_str("| verdict | cases |\n|---|---:|\n");
    for v in Verdict::ALL {
        out.push_str(&format!(
            "| {} | {} |\n",
            v.label(),
            report.summary.by_verdict.get(v)
        ));
    }
    out.push_str("\n| protocol | statements | testable | covered |\n|---|---:|---:|---:|\n");
    for c in &report.summary.coverage {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.protocol, c.statements, c.testable, c.covered
        ));
    }
    out.push_str("\n## By area\n\n| area | protocol | PASS | FAIL | NON-STRICT | INFO | UNSUPP. | ERROR | statements covered |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for a in &report.summary.by_area {
        let c = &a.cases;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |\n",
            md(&a.area),
            a.protocol,
            c.pass,
            c.fail,
            c.non_strict,
            c.informational,
            c.unsupported,
            c.error,
            a.statements_covered,
            a.statements
        ));
    }
    let problems: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .collect();
    if !problems.is_empty() {
        out.push_str("\n## Not passing\n\n| case | protocol | verdict | expected | actual |\n|---|---|---|---|---|\n");
        for c in problems {
            let verdict = match &c.baselined {
                Some(_) => format!("{} (baselined)", c.verdict.label()),
                None => c.verdict.label().to_owned(),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                c.id,
                c.protocol,
                verdict,
                md(c.expected.as_deref().unwrap_or("")),
                md(c.actual.as_deref().unwrap_or(""))
            ));
        }
    }
    let g = &report.gate;
    if !g.now_passing.is_empty() {
        out.push_str("\n## Baselined but now passing (trim the baseline)\n\n");
        for i in &g.now_passing {
            out.push_str(&format!("- `{}` ({})\n", i.case, i.protocol));
        }
    }
    out
}

/// Makes text safe inside a Markdown table cell.
fn md(s: &str) -> String {
    s.replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
