//! `summary.md`: the headline numbers, per-area table, every non-passing case, and the
//! verdicts of the restricted broker (embedded runs).

use super::{Report, RESTRICTED_MARK};
use crate::runner::Pass;
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
    if let Some(r) = &b.restricted {
        out.push_str(&format!("{}\n\n", md(&r.describe())));
        for n in &r.notes {
            out.push_str(&format!("> note (restricted broker): {}\n\n", md(n)));
        }
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
            let mut verdict = c.verdict.label().to_owned();
            if c.baselined.is_some() {
                verdict.push_str(" (baselined)");
            }
            if c.pass == Pass::Restricted {
                verdict.push_str(&format!(" ({RESTRICTED_MARK})"));
            }
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
    let restricted: Vec<_> = report.restricted_cases().collect();
    if !restricted.is_empty() {
        out.push_str(&format!(
            "\n## Verdicts of the {RESTRICTED_MARK}\n\n| case | protocol | verdict | UNSUPPORTED on the main broker because |\n|---|---|---|---|\n"
        ));
        for c in restricted {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.id,
                c.protocol,
                c.verdict.label(),
                md(c.unsupported_on_main.as_deref().unwrap_or(""))
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
