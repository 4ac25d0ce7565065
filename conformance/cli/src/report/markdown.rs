//! `summary.md`: the headline numbers, the capabilities, the per-area table, every
//! non-passing case, the INCONCLUSIVE runs grouped by precondition (each group pointing at
//! the case that tests it), and the verdicts of the restricted broker (embedded runs).

use super::{capability_rows, runs_v5, InconclusiveGroup, Report, RESTRICTED_MARK};
use mqttspec_harness::runner::Pass;
use mqttspec_harness::verdict::Verdict;

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
    for s in b.stopped_serving.iter().filter(|s| !s.output.is_empty()) {
        out.push_str(&format!(
            "> the broker's last output lines before it was restarted, after {}:\n",
            md(&s.after())
        ));
        for line in &s.output {
            out.push_str(&format!(">\n> {}\n", md(line)));
        }
        out.push('\n');
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
    capabilities(&mut out, report);
    limits(&mut out, report);
    out.push_str("\n## By area\n\n| area | protocol | PASS | FAIL | NON-STRICT | INFO | UNSUPP. | INCONC. | ERROR | statements covered |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for a in &report.summary.by_area {
        let c = &a.cases;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |\n",
            md(&a.area),
            a.protocol,
            c.pass,
            c.fail,
            c.non_strict,
            c.informational,
            c.unsupported,
            c.inconclusive,
            c.error,
            a.statements_covered,
            a.statements
        ));
    }
    // INCONCLUSIVE runs have their own section.
    let problems: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict != Verdict::Pass && c.verdict != Verdict::Inconclusive)
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
    inconclusive(&mut out, report);
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
    let reruns: Vec<_> = report.cases.iter().filter(|c| c.rerun.is_some()).collect();
    if !reruns.is_empty() {
        out.push_str("\n## Run again alone after a broker restart\n\n| case | protocol | verdict | first run |\n|---|---|---|---|\n");
        for c in reruns {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.id,
                c.protocol,
                c.verdict.label(),
                md(c.rerun.as_deref().unwrap_or(""))
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

/// The capability table (MQTT 5.0 CONNACK properties; see [`capability_rows`]).
fn capabilities(out: &mut String, report: &Report) {
    let rows = capability_rows(&report.broker.capabilities, &report.protocols);
    out.push_str("\n## Capabilities\n\n");
    if !runs_v5(&report.protocols) {
        out.push_str("MQTT 3.1.1 declares no capabilities in CONNACK");
        if rows.is_empty() {
            out.push_str("; the profile sets none.\n");
            return;
        }
        out.push_str("; the profile sets these:\n\n");
    }
    if rows.is_empty() {
        return;
    }
    out.push_str("| capability | value | source |\n|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            r.name,
            md(&r.value),
            md(&r.source)
        ));
    }
}

/// The "Inconclusive (not tested)" section, one table per precondition.
fn inconclusive(out: &mut String, report: &Report) {
    let groups = report.inconclusive_groups();
    if groups.is_empty() {
        return;
    }
    out.push_str("\n## Inconclusive (not tested)\n\nA precondition could not be established, so the statements these cases cite were not tested. Each group names the case that tests the precondition itself: look there first.\n");
    for g in &groups {
        out.push_str(&format!(
            "\n### {} (`{}`): {} case run(s)\n\n{}\n\n| case | protocol | what happened |\n|---|---|---|\n",
            md(&g.description),
            md(&g.precondition),
            g.cases.len(),
            see_case(report, g)
        ));
        for c in &g.cases {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.id,
                c.protocol,
                md(c.actual.as_deref().unwrap_or(""))
            ));
        }
    }
}

/// "See `connect.accepted` (3.1.1: PASS, 5: FAIL)."
fn see_case(report: &Report, g: &InconclusiveGroup<'_>) -> String {
    let Some(id) = &g.see_case else {
        return "No case tests this precondition by itself; the detail says what happened."
            .to_owned();
    };
    let runs: Vec<String> = report
        .protocols
        .iter()
        .filter_map(|p| report.case(id, p))
        .map(|c| format!("{}: {}", c.protocol, c.verdict.label()))
        .collect();
    if runs.is_empty() {
        format!("See `{id}` (not run).")
    } else {
        format!("See `{id}` ({}).", runs.join(", "))
    }
}

/// Makes text safe inside a Markdown table cell: no table or HTML syntax, no line breaks,
/// and no other control characters (a broker's reason string may hold escape sequences).
fn md(s: &str) -> String {
    s.replace('|', "\\|")
        .replace(['\n', '\r', '\t'], " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(char::is_control, "\u{FFFD}")
}

/// The "Practical limits" section ([`super::limits`]).
fn limits(out: &mut String, report: &Report) {
    let s = super::limits::section(report);
    out.push_str(&format!(
        "\n## Practical limits (INFORMATIONAL)\n\n{}\n",
        md(&s.intro)
    ));
    for v in &s.versions {
        out.push_str(&format!("\n### MQTT {}\n\n", v.protocol));
        if let Some(why) = &v.unusable {
            out.push_str(&format!("Not measured: {}\n", md(why)));
            continue;
        }
        out.push_str("| limit | value | how |\n|---|---|---|\n");
        for (what, value, how) in &v.rows {
            out.push_str(&format!("| {} | {} | {} |\n", md(what), md(value), md(how)));
        }
        if !v.connack.is_empty() {
            out.push_str(&format!(
                "\nCONNACK announces: {}\n",
                md(&v.connack.join(", "))
            ));
        }
    }
    for c in &s.cleanup {
        out.push_str(&format!("\n> cleanup: {}\n", md(c)));
    }
}
