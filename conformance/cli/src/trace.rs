//! `mqttspec trace` and `mqttspec list`: how the cases cover the statement registry.

use std::collections::BTreeMap;

use mqttspec_codec::{Spec, StatementId, Testability};

use mqttspec_harness::scenario::Case;

/// Coverage of one area of one specification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AreaCoverage {
    /// Statements.
    pub statements: usize,
    /// Testable (yes or partially).
    pub testable: usize,
    /// Cited by at least one case that runs on this spec's protocol.
    pub covered: usize,
}

/// The coverage of one specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecCoverage {
    /// The specification.
    pub spec: Spec,
    /// Totals.
    pub total: AreaCoverage,
    /// Per area.
    pub areas: BTreeMap<&'static str, AreaCoverage>,
    /// Testable statements no case cites (with or without an
    /// [`unobservable_reason`](StatementId::unobservable_reason)).
    pub uncovered: Vec<StatementId>,
    /// The WebSocket statements of section 6 (not testable over plain TCP, says the catalogue)
    /// that a case cites: their cases run only over `ws://` and `wss://`.
    /// They do not count as covered here (a static trace knows no transport); a report of a
    /// WebSocket run shows their verdicts.
    pub transport_only: Vec<StatementId>,
}

impl SpecCoverage {
    /// The uncovered statements with no reason to be unobservable: the ones a case is missing for.
    pub fn without_case(&self) -> impl Iterator<Item = StatementId> + '_ {
        self.uncovered
            .iter()
            .copied()
            .filter(|s| s.unobservable_reason().is_none())
    }

    /// The uncovered statements the catalogue says cannot be observed from the wire, with the
    /// reason. They stay in [`uncovered`](Self::uncovered) and in the denominators.
    pub fn unobservable(&self) -> impl Iterator<Item = (StatementId, &'static str)> + '_ {
        self.uncovered
            .iter()
            .filter_map(|&s| s.unobservable_reason().map(|r| (s, r)))
    }
}

/// Computes the coverage of `spec` by `cases`.
pub fn coverage(spec: Spec, cases: &[Case]) -> SpecCoverage {
    let version = match spec {
        Spec::V311 => mqttspec_codec::ProtocolVersion::V311,
        Spec::V5 => mqttspec_codec::ProtocolVersion::V5,
    };
    let cited = |s: StatementId| {
        cases
            .iter()
            .any(|c| c.protocols().includes(version) && c.cites(s))
    };
    let mut out = SpecCoverage {
        spec,
        total: AreaCoverage::default(),
        areas: BTreeMap::new(),
        uncovered: Vec::new(),
        transport_only: Vec::new(),
    };
    for s in StatementId::all_of(spec) {
        let testable = s.testability() != Testability::No;
        let cited = cited(s);
        // Section 6 is judged only in WebSocket runs: cited, but not covered in general.
        let websocket_only = cited && !testable && s.area() == "WebSocket";
        // Only a testable statement counts as covered: the denominators are the testable ones
        // (a case may also cite a statement the catalogue marks untestable over TCP).
        let covered = cited && testable && !websocket_only;
        if websocket_only {
            out.transport_only.push(s);
        }
        for slot in [&mut out.total, out.areas.entry(s.area()).or_default()] {
            slot.statements += 1;
            slot.testable += usize::from(testable);
            slot.covered += usize::from(covered);
        }
        if testable && !covered {
            out.uncovered.push(s);
        }
    }
    out
}

/// The text of `mqttspec trace`.
///
/// The uncovered testable statements are listed in two groups: those a case is missing for, and
/// those the catalogue gives a reason for being unobservable from the wire (still uncovered and
/// still counted as testable).
pub fn render_trace(specs: &[Spec], cases: &[Case], list_uncovered: bool) -> String {
    let mut out = String::new();
    for spec in specs {
        let c = coverage(*spec, cases);
        let unobservable = c.unobservable().count();
        out.push_str(&format!(
            "MQTT {}: {} statements, {} testable, {} covered by cases ({} testable uncovered, \
             {} of them not observable from the wire)\n\n",
            spec.label(),
            c.total.statements,
            c.total.testable,
            c.total.covered,
            c.uncovered.len(),
            unobservable
        ));
        out.push_str(&format!(
            "  {:<28} {:>10} {:>9} {:>8}\n",
            "area", "statements", "testable", "covered"
        ));
        for (area, a) in &c.areas {
            out.push_str(&format!(
                "  {:<28} {:>10} {:>9} {:>8}\n",
                area, a.statements, a.testable, a.covered
            ));
        }
        if !c.transport_only.is_empty() {
            out.push_str(&format!(
                "\n  {} statement(s) not testable over plain TCP have cases that run only over WebSocket \
                 (ws://, wss://), not counted above: {}\n",
                c.transport_only.len(),
                c.transport_only
                    .iter()
                    .map(|s| s.id())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if list_uncovered && c.without_case().next().is_some() {
            out.push_str(&format!(
                "\n  testable statements of MQTT {} with no case:\n",
                spec.label()
            ));
            for s in c.without_case() {
                out.push_str(&format!(
                    "  {:<14} {:<9} {:<24} {}\n",
                    s.id(),
                    s.testability().as_str(),
                    s.area(),
                    s.description()
                ));
            }
        }
        if list_uncovered && unobservable > 0 {
            out.push_str(&format!(
                "\n  testable statements of MQTT {} with no case, not observable from the wire:\n",
                spec.label()
            ));
            for (s, reason) in c.unobservable() {
                out.push_str(&format!(
                    "  {:<14} {:<9} {:<24} {}\n  {:<14} reason: {}\n",
                    s.id(),
                    s.testability().as_str(),
                    s.area(),
                    s.description(),
                    "",
                    reason
                ));
            }
        }
        out.push('\n');
    }
    out
}

/// The text of `mqttspec trace --depth`: for each table of [`mqttspec_cases::depth`], each
/// statement and each aspect of it, the paths (or fields) with a case (the case and the
/// fault that turns it red, `*` when that fault breaks this path or field only), those
/// no case can check (`n/a` where the rule does not apply, `not observable` where nothing on
/// the wire shows it; with the reason) and those without a case.
pub fn render_depth(
    cells: &[mqttspec_cases::depth::Cell],
    not_applicable: &[mqttspec_cases::depth::NotApplicable],
) -> String {
    use mqttspec_cases::depth::{Cell, Table};
    let mut out = String::from(
        "Depth: where a rule applies in several places, which places have a case (the fault \
         that turns it red; * = that fault breaks this place only)\n",
    );
    for table in Table::ALL {
        let mine: Vec<&Cell> = cells.iter().filter(|c| c.table == table).collect();
        if mine.is_empty() {
            continue;
        }
        out.push_str(&format!("\n== {}\n", table.title()));
        let mut groups: Vec<(StatementId, &str, Vec<&Cell>)> = Vec::new();
        for c in mine {
            match groups.last_mut() {
                Some((s, a, rows)) if *s == c.statement && *a == c.aspect => rows.push(c),
                _ => groups.push((c.statement, c.aspect, vec![c])),
            }
        }
        let mut last = None;
        for (statement, aspect, rows) in groups {
            if last != Some(statement) {
                out.push_str(&format!("\n{}\n", statement.id()));
                last = Some(statement);
            }
            out.push_str(&format!("  {aspect}\n"));
            for c in &rows {
                out.push_str(&format!(
                    "    {:<22} {:<60} {}{}\n",
                    c.path,
                    c.case,
                    c.fault.name(),
                    if c.path_only { " *" } else { "" }
                ));
            }
            let na: Vec<_> = not_applicable
                .iter()
                .filter(|n| n.table == table && n.statement == statement && n.aspect == aspect)
                .collect();
            for n in &na {
                out.push_str(&format!(
                    "    {}: {} ({})\n",
                    n.kind.label(),
                    n.path,
                    n.reason
                ));
            }
            let missing: Vec<&str> = table
                .columns()
                .iter()
                .copied()
                .filter(|p| !rows.iter().any(|c| c.path == *p) && !na.iter().any(|n| n.path == *p))
                .collect();
            if !missing.is_empty() {
                out.push_str(&format!("    no case: {}\n", missing.join(", ")));
            }
        }
    }
    out
}

/// The text of `mqttspec list`.
pub fn render_list(cases: &[Case]) -> String {
    let mut out = String::new();
    for c in cases {
        let protocols: Vec<&str> = c.protocols().versions().iter().map(|v| v.label()).collect();
        let statements: Vec<String> = c
            .cited()
            .iter()
            .map(|s| format!("{}({})", s.id(), s.spec().label()))
            .collect();
        out.push_str(&format!(
            "{:<55} [{}] {:<20} {}\n    {}\n",
            c.id,
            protocols.join(","),
            c.area(),
            statements.join(" "),
            c.title
        ));
    }
    out.push_str(&format!("{} cases\n", cases.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_add_up_to_the_registry() {
        let cases = mqttspec_cases::all();
        for spec in [Spec::V311, Spec::V5] {
            let c = coverage(spec, &cases);
            assert_eq!(c.total.statements, StatementId::all_of(spec).count());
            let sum: usize = c.areas.values().map(|a| a.statements).sum();
            assert_eq!(sum, c.total.statements);
            assert!(c.total.covered > 0);
            for s in &c.uncovered {
                assert_ne!(s.testability(), Testability::No);
                assert!(!cases.iter().any(|k| k.statements.contains(s)), "{s}");
            }
        }
    }

    #[test]
    fn statements_with_a_reason_stay_uncovered_and_are_listed_apart() {
        let cases = mqttspec_cases::all();
        for spec in [Spec::V311, Spec::V5] {
            let c = coverage(spec, &cases);
            let apart: Vec<StatementId> = c.unobservable().map(|(s, _)| s).collect();
            let missing: Vec<StatementId> = c.without_case().collect();
            assert_eq!(apart.len() + missing.len(), c.uncovered.len());
            assert!(apart.iter().all(|s| !missing.contains(s)));
            let text = render_trace(&[spec], &cases, true);
            for (s, reason) in c.unobservable() {
                assert!(text.contains(&format!("reason: {reason}")), "{s}: {text}");
            }
        }
        // Without cases every testable statement is uncovered, reason or not: the reason
        // never moves a statement out of the denominator.
        for spec in [Spec::V311, Spec::V5] {
            let c = coverage(spec, &[]);
            assert_eq!(c.uncovered.len(), c.total.testable);
            assert_eq!(
                c.unobservable().count(),
                StatementId::all_of(spec)
                    .filter(|s| s.unobservable_reason().is_some())
                    .count()
            );
        }
    }

    #[test]
    fn websocket_statements_are_listed_apart_not_covered() {
        let cases = mqttspec_cases::all();
        for spec in [Spec::V311, Spec::V5] {
            let c = coverage(spec, &cases);
            let ws: Vec<&str> = c.transport_only.iter().map(|s| s.id()).collect();
            assert_eq!(
                ws,
                ["MQTT-6.0.0-1", "MQTT-6.0.0-2", "MQTT-6.0.0-4"],
                "{spec:?}"
            );
            let area = &c.areas["WebSocket"];
            assert_eq!((area.testable, area.covered), (0, 0));
            let text = render_trace(&[spec], &cases, false);
            assert!(text.contains("run only over WebSocket"), "{text}");
        }
    }

    #[test]
    fn depth_lists_every_place_with_a_case_or_a_reason() {
        let text = render_depth(
            &mqttspec_cases::depth::cells(),
            &mqttspec_cases::depth::not_applicable(),
        );
        assert!(text.contains("MQTT-3.3.2-20"), "{text}");
        assert!(
            text.contains("forwarding.queued-properties-unaltered"),
            "{text}"
        );
        assert!(text.contains("strip-properties-retained *"), "{text}");
        // Every place of every table has a case, or says why none can check it there.
        assert!(!text.contains("no case:"), "{text}");
        assert!(text.contains("String rules"), "{text}");
        assert!(text.contains("dup-on-retained *"), "{text}");
        assert!(text.contains("lenient-client-id-string *"), "{text}");
        assert!(text.contains("n/a: retained (a retained message"), "{text}");
        assert!(text.contains("not observable: Reason String ("), "{text}");
    }

    #[test]
    fn trace_lists_uncovered_statements() {
        let text = render_trace(&[Spec::V5], &mqttspec_cases::all(), true);
        assert!(text.contains("MQTT 5.0: 251 statements"), "{text}");
        assert!(text.contains("with no case"), "{text}");
    }
}
