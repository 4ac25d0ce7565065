//! `mqttspec report --compare A.json B.json ... --out compare.html`: several brokers' reports
//! side by side — one row per case × protocol, one column per broker. A verdict of a
//! report's restricted embedded broker is marked in its cell. INCONCLUSIVE runs are also
//! listed apart, grouped by precondition, with a link to the row of the case that tests the
//! precondition. Reports of schema 1 (no INCONCLUSIVE) compare with newer ones.
//!
//! The page is the template `templates/compare.html` (askama); this module builds its view,
//! `ComparePage`, out of plain text and numbers. The template HTML-escapes every value.

use std::collections::BTreeMap;

use askama::Template;

use super::html::INCONCLUSIVE_ANCHOR;
use super::view::{anchor, CaseLink, VerdictBadge};
use super::xml_text::XmlText;
use super::{precondition_named, CaseReport, Report, RESTRICTED_MARK};
use mqttspec_harness::runner::Pass;
use mqttspec_harness::verdict::{Precondition, Verdict};

/// Renders the comparison page of `reports` (in the given column order).
pub fn render(reports: &[Report]) -> String {
    // The view holds strings and numbers only and the template uses no fallible filter, so
    // rendering into a string cannot fail.
    ComparePage::of(reports)
        .render()
        .expect("rendering compare.html into memory")
}

/// The view of `templates/compare.html`.
#[derive(Debug, Template)]
#[template(path = "compare.html")]
struct ComparePage {
    verdict_labels: Vec<XmlText>,
    brokers: Vec<BrokerRow>,
    inconclusive_anchor: &'static str,
    restricted_mark: &'static str,
    inconclusive: Vec<PreconditionRow>,
    rows: Vec<CaseRow>,
}

/// One broker: its name, address, counts per verdict, and its restricted broker.
#[derive(Debug)]
struct BrokerRow {
    name: XmlText,
    address: XmlText,
    counts: Vec<usize>,
    /// How many verdicts came from the restricted broker, and its settings.
    restricted: Option<(usize, XmlText)>,
}

/// The INCONCLUSIVE runs of one precondition, per broker.
#[derive(Debug)]
struct PreconditionRow {
    name: XmlText,
    description: XmlText,
    /// The case that tests the precondition: its id, and the anchor of its row if it ran.
    see_case: Option<(XmlText, Option<XmlText>)>,
    /// Per broker (column order): its INCONCLUSIVE runs, if it has any.
    brokers: Vec<Option<BrokerInconclusive>>,
}

/// One broker's INCONCLUSIVE runs of a precondition, and the verdicts of the case that
/// tests the precondition there.
#[derive(Debug)]
struct BrokerInconclusive {
    cases: Vec<CaseLink>,
    pointer: Vec<CaseLink>,
}

/// One case × protocol.
#[derive(Debug)]
struct CaseRow {
    anchor: XmlText,
    id: XmlText,
    protocol: XmlText,
    title: XmlText,
    /// The brokers' verdicts are not all the same.
    differs: bool,
    /// Per broker (column order): its result, if it ran the case.
    cells: Vec<Option<Cell>>,
}

/// One broker's result of a case × protocol.
#[derive(Debug, Clone)]
struct Cell {
    verdict: VerdictBadge,
    /// What happened, for the cell's tooltip.
    detail: XmlText,
    /// The verdict comes from the restricted broker.
    restricted: bool,
    /// The precondition of an INCONCLUSIVE run.
    precondition: Option<XmlText>,
}

impl ComparePage {
    fn of(reports: &[Report]) -> ComparePage {
        let mut results: Results = BTreeMap::new();
        for (i, r) in reports.iter().enumerate() {
            for c in &r.cases {
                let row = results
                    .entry((c.id.clone(), c.protocol.clone()))
                    .or_insert_with(|| (c.title.clone(), vec![None; reports.len()]));
                if let Some(slot) = row.1.get_mut(i) {
                    *slot = Some((c.verdict, cell(r, c)));
                }
            }
        }
        let inconclusive = inconclusive(reports, &results);
        let rows: Vec<CaseRow> = results
            .into_iter()
            .map(|((id, protocol), (title, cells))| CaseRow {
                anchor: anchor(&id, &protocol),
                differs: cells.windows(2).any(|w| match w {
                    [a, b] => a.as_ref().map(|x| x.0) != b.as_ref().map(|x| x.0),
                    _ => false,
                }),
                id: XmlText::from(id),
                protocol: XmlText::from(protocol),
                title: XmlText::from(title),
                cells: cells.into_iter().map(|c| c.map(|(_, cell)| cell)).collect(),
            })
            .collect();
        ComparePage {
            verdict_labels: Verdict::ALL
                .iter()
                .map(|v| XmlText::new(v.label()))
                .collect(),
            brokers: reports
                .iter()
                .map(|r| BrokerRow {
                    name: XmlText::new(&r.broker.name),
                    address: XmlText::new(&r.broker.address),
                    counts: Verdict::ALL
                        .iter()
                        .map(|v| r.summary.by_verdict.get(*v))
                        .collect(),
                    restricted: r
                        .broker
                        .restricted
                        .as_ref()
                        .map(|b| (b.replaced, XmlText::from(b.settings_text()))),
                })
                .collect(),
            inconclusive_anchor: INCONCLUSIVE_ANCHOR,
            restricted_mark: RESTRICTED_MARK,
            inconclusive,
            rows,
        }
    }
}

/// Every case × protocol of the reports: its title and, per broker (column order), the
/// verdict and cell of its run there.
type Results = BTreeMap<(String, String), (String, Vec<Option<(Verdict, Cell)>>)>;

/// Report `r`'s result of case run `c`, with what happened for the tooltip.
fn cell(r: &Report, c: &CaseReport) -> Cell {
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
    Cell {
        verdict: VerdictBadge::of(c.verdict.label()),
        detail: XmlText::from(detail),
        restricted: c.pass == Pass::Restricted,
        precondition: c.precondition.as_deref().map(XmlText::new),
    }
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

/// The rows of the "Inconclusive (not tested)" table: one per precondition, in the order of
/// `Precondition::ALL` (unknown names, of newer reports, last), each with every broker's
/// INCONCLUSIVE runs and the verdicts of the case that tests the precondition. Empty when no
/// report has an INCONCLUSIVE run.
fn inconclusive(reports: &[Report], results: &Results) -> Vec<PreconditionRow> {
    let per_report: Vec<_> = reports.iter().map(Report::inconclusive_groups).collect();
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
    names.sort();
    names
        .into_iter()
        .map(|(_, name, description, see_case)| PreconditionRow {
            see_case: see_case.as_ref().map(|id| {
                let row = results.keys().find(|(case, _)| case == id);
                (
                    XmlText::new(id),
                    row.map(|(case, protocol)| anchor(case, protocol)),
                )
            }),
            brokers: reports
                .iter()
                .zip(&per_report)
                .map(|(r, groups)| {
                    groups
                        .iter()
                        .find(|g| g.precondition == name)
                        .map(|g| BrokerInconclusive {
                            cases: g.cases.iter().map(|c| CaseLink::to(c)).collect(),
                            pointer: see_case
                                .iter()
                                .flat_map(|id| r.protocols.iter().filter_map(|p| r.case(id, p)))
                                .map(CaseLink::to)
                                .collect(),
                        })
                })
                .collect(),
            name: XmlText::from(name),
            description: XmlText::from(description),
        })
        .collect()
}
