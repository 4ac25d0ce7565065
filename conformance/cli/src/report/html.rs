//! `report.html`: one self-contained page (inline CSS, no scripts, no external assets):
//! summary, the INCONCLUSIVE runs grouped by precondition (each group linking to the case
//! that tests the precondition), capabilities, per-area table, statement × verdict matrix,
//! and every case with its tags and its transcript in a collapsible block. Verdicts of the
//! restricted embedded broker are marked where they appear, and its capabilities have their
//! own column.
//!
//! The page is the template `templates/report.html` (askama); this module builds its view,
//! `ReportPage`, out of plain text and numbers. The template HTML-escapes every value, so
//! whatever the broker sent stays text.

use askama::Template;

use super::view::{anchor, CaseLink, VerdictBadge};
use super::xml_text::XmlText;
use super::{
    capability_rows, precondition_named, runs_v5, CaseReport, InconclusiveGroup, Report,
    RESTRICTED_MARK,
};
use mqttspec_harness::runner::Pass;
use mqttspec_harness::verdict::Verdict;

/// The id of the "Inconclusive (not tested)" section.
pub const INCONCLUSIVE_ANCHOR: &str = "inconclusive";

/// Renders the HTML page of `report`.
pub fn render(report: &Report) -> String {
    // The view holds strings and numbers only and the template uses no fallible filter, so
    // rendering into a string cannot fail.
    ReportPage::of(report)
        .render()
        .expect("rendering report.html into memory")
}

/// The view of `templates/report.html`.
#[derive(Debug, Template)]
#[template(path = "report.html")]
struct ReportPage {
    broker: XmlText,
    address: XmlText,
    transport: XmlText,
    embedded: bool,
    protocols: XmlText,
    total: usize,
    wall_time_s: f64,
    tool_version: XmlText,
    schema_version: u32,
    faults: Option<XmlText>,
    notes: Vec<XmlText>,
    stops: Vec<BrokerOutput>,
    restricted: Option<RestrictedBrokerView>,
    inconclusive_anchor: &'static str,
    verdicts: Vec<VerdictCount>,
    coverage: Vec<CoverageRow>,
    inconclusive: Vec<InconclusiveGroupView>,
    capabilities: CapabilitiesView,
    limits: LimitsView,
    verdict_labels: Vec<XmlText>,
    areas: Vec<AreaRow>,
    statements: Vec<StatementRow>,
    cases: Vec<CaseBlock>,
}

/// What a broker that stopped serving wrote last (`--broker-cmd`).
#[derive(Debug)]
struct BrokerOutput {
    after: XmlText,
    lines: Vec<XmlText>,
}

/// The restricted embedded broker: what it did, its verdicts, its probe's notes.
#[derive(Debug)]
struct RestrictedBrokerView {
    description: XmlText,
    cases: Vec<CaseLink>,
    notes: Vec<XmlText>,
}

/// One row of the summary: a verdict and its case runs (linked to the INCONCLUSIVE section
/// when `link`).
#[derive(Debug)]
struct VerdictCount {
    verdict: VerdictBadge,
    count: usize,
    link: bool,
}

/// Statement coverage of one protocol.
#[derive(Debug)]
struct CoverageRow {
    protocol: XmlText,
    statements: usize,
    testable: usize,
    covered: usize,
}

/// The INCONCLUSIVE runs of one precondition.
#[derive(Debug)]
struct InconclusiveGroupView {
    description: XmlText,
    precondition: XmlText,
    /// The case that tests the precondition, if one does.
    see_case: Option<PointerCase>,
    cases: Vec<InconclusiveRun>,
}

/// The case that tests a precondition, and its runs on each protocol (empty: not run).
#[derive(Debug)]
struct PointerCase {
    id: XmlText,
    runs: Vec<CaseLink>,
}

/// One INCONCLUSIVE run in its group's table.
#[derive(Debug)]
struct InconclusiveRun {
    link: CaseLink,
    what_happened: XmlText,
}

/// The capability table; `rows` is empty when there is nothing to show.
#[derive(Debug)]
struct CapabilitiesView {
    /// MQTT 5.0 is among the protocols run (else the page says 3.1.1 declares none).
    v5: bool,
    /// A restricted broker ran: its values have their own columns.
    restricted: bool,
    restricted_mark: &'static str,
    rows: Vec<CapabilityRowView>,
}

/// One capability, of the main broker and (if it ran) of the restricted one.
#[derive(Debug)]
struct CapabilityRowView {
    name: &'static str,
    value: XmlText,
    source: XmlText,
    /// The restricted broker's value and source, when it ran and has the row.
    restricted: Option<(XmlText, XmlText)>,
}

/// Counts of one area on one protocol, in the order of [`Verdict::ALL`].
#[derive(Debug)]
struct AreaRow {
    area: XmlText,
    protocol: XmlText,
    counts: Vec<AreaCount>,
    statements: usize,
    statements_covered: usize,
}

/// One cell of an area's row: the count, coloured by its verdict when not zero.
#[derive(Debug)]
struct AreaCount {
    count: usize,
    class: XmlText,
}

/// One row of the traceability matrix.
#[derive(Debug)]
struct StatementRow {
    id: XmlText,
    protocol: XmlText,
    area: XmlText,
    obligation: XmlText,
    testability: XmlText,
    verdict: VerdictBadge,
    /// The cases citing it, with the anchors of their blocks.
    cases: Vec<(XmlText, XmlText)>,
    description: XmlText,
}

/// One case run's block.
#[derive(Debug)]
struct CaseBlock {
    anchor: XmlText,
    verdict: VerdictBadge,
    id: XmlText,
    protocol: XmlText,
    /// "(baselined)", "(restricted broker)", both, or nothing.
    mark: XmlText,
    title: XmlText,
    statements: XmlText,
    duration_ms: u64,
    tags: Vec<XmlText>,
    restricted: Option<RestrictedRun>,
    not_tested: Option<NotTested>,
    expected: Option<XmlText>,
    actual: Option<XmlText>,
    violated: Option<XmlText>,
    baselined: Option<XmlText>,
    rerun: Option<XmlText>,
    transcript: Vec<TranscriptRow>,
}

/// A verdict of the restricted broker: its settings, and why the main broker's was
/// UNSUPPORTED.
#[derive(Debug)]
struct RestrictedRun {
    settings: XmlText,
    unsupported_on_main: XmlText,
}

/// Why an INCONCLUSIVE case run was not tested.
#[derive(Debug)]
struct NotTested {
    description: XmlText,
    precondition: Option<XmlText>,
    see_case: Option<SeeCase>,
}

/// The "Practical limits" section ([`super::limits`]).
#[derive(Debug)]
struct LimitsView {
    intro: XmlText,
    versions: Vec<LimitsVersionView>,
    cleanup: Vec<XmlText>,
}

/// The limits of one protocol version.
#[derive(Debug)]
struct LimitsVersionView {
    protocol: XmlText,
    unusable: Option<XmlText>,
    /// (what, value, how).
    rows: Vec<(XmlText, XmlText, XmlText)>,
    connack: Option<XmlText>,
}

impl LimitsView {
    fn of(report: &Report) -> LimitsView {
        let s = super::limits::section(report);
        LimitsView {
            intro: XmlText::new(&s.intro),
            versions: s
                .versions
                .iter()
                .map(|v| LimitsVersionView {
                    protocol: XmlText::new(&v.protocol),
                    unusable: v.unusable.as_deref().map(XmlText::new),
                    rows: v
                        .rows
                        .iter()
                        .map(|(a, b, c)| (XmlText::new(a), XmlText::new(b), XmlText::new(c)))
                        .collect(),
                    connack: (!v.connack.is_empty()).then(|| XmlText::new(&v.connack.join(", "))),
                })
                .collect(),
            cleanup: s.cleanup.iter().map(XmlText::from).collect(),
        }
    }
}

/// The case that tests the precondition, on the same protocol: linked when it ran there.
#[derive(Debug)]
struct SeeCase {
    id: XmlText,
    protocol: XmlText,
    run: Option<CaseLink>,
}

/// One transcript entry.
#[derive(Debug)]
struct TranscriptRow {
    ms: f64,
    client: XmlText,
    arrow: XmlText,
    summary: XmlText,
    hex: XmlText,
}

impl ReportPage {
    fn of(report: &Report) -> ReportPage {
        let b = &report.broker;
        ReportPage {
            broker: XmlText::new(&b.name),
            address: XmlText::new(&b.address),
            transport: XmlText::new(&b.transport.describe()),
            embedded: b.embedded,
            protocols: XmlText::new(&report.protocols.join(", ")),
            total: report.summary.total,
            wall_time_s: report.wall_time_ms as f64 / 1000.0,
            tool_version: XmlText::new(&report.tool.version),
            schema_version: report.schema_version,
            faults: (!b.faults.is_empty()).then(|| XmlText::new(&b.faults.join(", "))),
            notes: b.notes.iter().map(XmlText::from).collect(),
            stops: b
                .stopped_serving
                .iter()
                .filter(|s| !s.output.is_empty())
                .map(|s| BrokerOutput {
                    after: XmlText::from(s.after()),
                    lines: s.output.iter().map(XmlText::from).collect(),
                })
                .collect(),
            restricted: b.restricted.as_ref().map(|r| RestrictedBrokerView {
                description: XmlText::new(&r.describe()),
                cases: report.restricted_cases().map(CaseLink::to).collect(),
                notes: r.notes.iter().map(XmlText::from).collect(),
            }),
            inconclusive_anchor: INCONCLUSIVE_ANCHOR,
            verdicts: Verdict::ALL
                .into_iter()
                .map(|v| {
                    let count = report.summary.by_verdict.get(v);
                    VerdictCount {
                        verdict: VerdictBadge::of(v.label()),
                        count,
                        link: v == Verdict::Inconclusive && count > 0,
                    }
                })
                .collect(),
            coverage: report
                .summary
                .coverage
                .iter()
                .map(|c| CoverageRow {
                    protocol: XmlText::new(&c.protocol),
                    statements: c.statements,
                    testable: c.testable,
                    covered: c.covered,
                })
                .collect(),
            inconclusive: report
                .inconclusive_groups()
                .iter()
                .map(|g| InconclusiveGroupView::of(report, g))
                .collect(),
            capabilities: CapabilitiesView::of(report),
            limits: LimitsView::of(report),
            verdict_labels: Verdict::ALL
                .iter()
                .map(|v| XmlText::new(v.label()))
                .collect(),
            areas: report
                .summary
                .by_area
                .iter()
                .map(|a| AreaRow {
                    area: XmlText::new(&a.area),
                    protocol: XmlText::new(&a.protocol),
                    counts: Verdict::ALL
                        .into_iter()
                        .map(|v| {
                            let count = a.cases.get(v);
                            AreaCount {
                                count,
                                class: if count > 0 {
                                    VerdictBadge::of(v.label()).class
                                } else {
                                    XmlText::default()
                                },
                            }
                        })
                        .collect(),
                    statements: a.statements,
                    statements_covered: a.statements_covered,
                })
                .collect(),
            statements: report
                .statements
                .iter()
                .map(|s| StatementRow {
                    id: XmlText::new(&s.id),
                    protocol: XmlText::new(&s.protocol),
                    area: XmlText::new(&s.area),
                    obligation: XmlText::new(&s.obligation),
                    testability: XmlText::new(&s.testability),
                    verdict: VerdictBadge::of(&s.verdict),
                    cases: s
                        .cases
                        .iter()
                        .map(|c| (anchor(c, &s.protocol), XmlText::new(c)))
                        .collect(),
                    description: XmlText::new(&s.description),
                })
                .collect(),
            cases: report
                .cases
                .iter()
                .map(|c| CaseBlock::of(report, c))
                .collect(),
        }
    }
}

impl InconclusiveGroupView {
    fn of(report: &Report, g: &InconclusiveGroup<'_>) -> InconclusiveGroupView {
        InconclusiveGroupView {
            description: XmlText::new(&g.description),
            precondition: XmlText::new(&g.precondition),
            see_case: g.see_case.as_ref().map(|id| PointerCase {
                id: XmlText::new(id),
                runs: report
                    .protocols
                    .iter()
                    .filter_map(|p| report.case(id, p))
                    .map(CaseLink::to)
                    .collect(),
            }),
            cases: g
                .cases
                .iter()
                .map(|c| InconclusiveRun {
                    link: CaseLink::to(c),
                    what_happened: XmlText::new(c.actual.as_deref().unwrap_or("")),
                })
                .collect(),
        }
    }
}

impl CapabilitiesView {
    /// The capability table (MQTT 5.0 CONNACK properties; see [`capability_rows`]).
    fn of(report: &Report) -> CapabilitiesView {
        let b = &report.broker;
        let restricted = b
            .restricted
            .as_ref()
            .map(|r| capability_rows(&r.capabilities, &report.protocols));
        CapabilitiesView {
            v5: runs_v5(&report.protocols),
            restricted: restricted.is_some(),
            restricted_mark: RESTRICTED_MARK,
            rows: capability_rows(&b.capabilities, &report.protocols)
                .into_iter()
                .map(|row| CapabilityRowView {
                    restricted: restricted
                        .iter()
                        .flatten()
                        .find(|r| r.name == row.name)
                        .map(|r| (XmlText::new(&r.value), XmlText::new(&r.source))),
                    name: row.name,
                    value: XmlText::from(row.value),
                    source: XmlText::from(row.source),
                })
                .collect(),
        }
    }
}

impl CaseBlock {
    fn of(report: &Report, c: &CaseReport) -> CaseBlock {
        let mark = match (c.baselined.is_some(), c.pass) {
            (true, Pass::Restricted) => format!("(baselined; {RESTRICTED_MARK})"),
            (true, Pass::Main) => "(baselined)".to_owned(),
            (false, Pass::Restricted) => format!("({RESTRICTED_MARK})"),
            (false, Pass::Main) => String::new(),
        };
        let inconclusive = c.verdict == Verdict::Inconclusive;
        CaseBlock {
            anchor: anchor(&c.id, &c.protocol),
            verdict: VerdictBadge::of(c.verdict.label()),
            id: XmlText::new(&c.id),
            protocol: XmlText::new(&c.protocol),
            mark: XmlText::from(mark),
            title: XmlText::new(&c.title),
            statements: XmlText::new(&c.statements.join(", ")),
            duration_ms: c.duration_ms,
            tags: c.tags.iter().map(XmlText::from).collect(),
            restricted: (c.pass == Pass::Restricted).then(|| RestrictedRun {
                settings: XmlText::from(
                    report
                        .broker
                        .restricted
                        .as_ref()
                        .map(|r| r.settings_text())
                        .unwrap_or_default(),
                ),
                unsupported_on_main: XmlText::new(c.unsupported_on_main.as_deref().unwrap_or("-")),
            }),
            not_tested: inconclusive.then(|| not_tested(report, c)),
            expected: c
                .expected
                .as_deref()
                .filter(|_| !inconclusive)
                .map(XmlText::new),
            actual: c.actual.as_deref().map(XmlText::new),
            violated: c.violated.as_deref().map(XmlText::new),
            baselined: c.baselined.as_deref().map(XmlText::new),
            rerun: c.rerun.as_deref().map(XmlText::new),
            transcript: c
                .transcript
                .iter()
                .map(|e| TranscriptRow {
                    ms: e.at_us as f64 / 1000.0,
                    client: XmlText::new(&e.client),
                    arrow: XmlText::new(e.direction.arrow()),
                    summary: XmlText::new(&e.summary),
                    hex: XmlText::new(&e.hex),
                })
                .collect(),
        }
    }
}

/// The precondition of an INCONCLUSIVE case run, with the case that tests it on the same
/// protocol (linked when that ran).
fn not_tested(report: &Report, c: &CaseReport) -> NotTested {
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
                .or_else(|| precondition_named(name).map(|p| p.describe().to_owned()))
        })
        .or_else(|| c.expected.clone())
        .unwrap_or_default();
    NotTested {
        description: XmlText::from(description),
        precondition: c.precondition.as_deref().map(XmlText::new),
        see_case: c.see_case.as_ref().map(|id| SeeCase {
            id: XmlText::new(id),
            protocol: XmlText::new(&c.protocol),
            run: report.case(id, &c.protocol).map(CaseLink::to),
        }),
    }
}
