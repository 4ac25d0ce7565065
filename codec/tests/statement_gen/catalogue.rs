//! The two statement catalogues (`mqtt-v3.1.1-statements.tsv`, `mqtt-v5.0-statements.tsv`):
//! one row per `[MQTT-x.y.z-n]` tag of the specification. The column meanings are described in
//! `/work/shared/spec/README.md`.

use std::collections::HashMap;

use super::problem::{Problem, ProblemKind};
use super::tsv;

/// The columns of both catalogues, in order; the header must be exactly these.
pub const COLUMNS: [&str; 8] = [
    "id",
    "section",
    "title",
    "area",
    "who",
    "testable_over_tcp",
    "paraphrase",
    "reason",
];

/// The `reason` value of a statement with no reason: every field must be non-empty, so "none"
/// is spelled `-`.
pub const NO_REASON: &str = "-";

/// One catalogue: its file in `data/`, its specification and how many statements it tags.
#[derive(Debug)]
pub struct Source {
    /// The file name in `codec/data/`.
    pub file: &'static str,
    /// The `Spec` variant of the library, also the prefix of the `StatementId` variant names.
    pub spec: &'static str,
    /// How the specification is named in documentation and messages (`MQTT 5.0`).
    pub label: &'static str,
    /// How many statements the specification tags (the row count is checked).
    pub expected_rows: usize,
}

/// The catalogues, in the order of `StatementId::ALL`: v3.1.1 rows first, then v5.0 rows.
pub const SOURCES: [Source; 2] = [
    Source {
        file: "mqtt-v3.1.1-statements.tsv",
        spec: "V311",
        label: "MQTT 3.1.1",
        expected_rows: 141,
    },
    Source {
        file: "mqtt-v5.0-statements.tsv",
        spec: "V5",
        label: "MQTT 5.0",
        expected_rows: 251,
    },
];

/// The `Obligation` variants of the library, by `who` value.
const OBLIGATIONS: [(&str, &str); 3] =
    [("broker", "Broker"), ("client", "Client"), ("both", "Both")];

/// The `Testability` variants of the library, by `testable_over_tcp` value.
const TESTABILITIES: [(&str, &str); 3] = [("yes", "Yes"), ("partially", "Partially"), ("no", "No")];

/// One validated catalogue row.
#[derive(Debug)]
pub struct Row {
    /// The catalogue it comes from.
    pub source: &'static Source,
    /// The `StatementId` variant name (`V5_1_5_4_2`).
    pub variant: String,
    /// The id as printed in the specification (`MQTT-1.5.4-2`).
    pub id: String,
    /// The most specific section holding the statement.
    pub section: String,
    /// That section's heading.
    pub title: String,
    /// The grouping area.
    pub area: String,
    /// The `who` value as written (`broker`, `client`, `both`).
    pub who: String,
    /// The `Obligation` variant for `who`.
    pub obligation: &'static str,
    /// The `Testability` variant for `testable_over_tcp`.
    pub testability: &'static str,
    /// The paraphrase (the project's words, not the normative text).
    pub paraphrase: String,
    /// Why a testable statement cannot be observed from the wire after all (no second client,
    /// reconnect or provoked error reveals it); `None` for `-`.
    pub reason: Option<String>,
}

/// Reads and validates the catalogue `source` from `text` (the contents of `file`). Returns the
/// valid rows; every problem found is appended to `problems`.
pub fn parse(
    source: &'static Source,
    file: &str,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Vec<Row> {
    let Some(lines) = tsv::data_lines(file, text, &COLUMNS, problems) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut data_rows = 0;
    for (line_number, line) in lines {
        data_rows += 1;
        match parse_row(source, line) {
            Ok(row) => {
                if let Some(&first_line) = first_line_of.get(&row.id) {
                    let kind = ProblemKind::DuplicateId {
                        id: row.id,
                        first_line,
                    };
                    problems.push(Problem::at(file, line_number, kind));
                } else {
                    first_line_of.insert(row.id.clone(), line_number);
                    rows.push(row);
                }
            }
            Err(kinds) => problems.extend(
                kinds
                    .into_iter()
                    .map(|kind| Problem::at(file, line_number, kind)),
            ),
        }
    }
    if data_rows != source.expected_rows {
        let kind = ProblemKind::RowCount {
            spec: source.label,
            expected: source.expected_rows,
            found: data_rows,
        };
        problems.push(Problem::in_file(file, kind));
    }
    rows
}

/// Reads and validates one data line; on failure, every problem found in it.
fn parse_row(source: &'static Source, line: &str) -> Result<Row, Vec<ProblemKind>> {
    let [id, section, title, area, who, testable, paraphrase, reason] =
        tsv::fields(&COLUMNS, line)?;
    let mut problems = Vec::new();
    let obligation = lookup(&OBLIGATIONS, who).unwrap_or_else(|| {
        problems.push(ProblemKind::Who(who.to_owned()));
        ""
    });
    let testability = lookup(&TESTABILITIES, testable).unwrap_or_else(|| {
        problems.push(ProblemKind::Testable(testable.to_owned()));
        ""
    });
    let variant = variant_name(source.spec, id).unwrap_or_else(|why| {
        problems.push(ProblemKind::BadId {
            id: id.to_owned(),
            why,
        });
        String::new()
    });
    let reason = (reason != NO_REASON).then(|| reason.to_owned());
    if reason.is_some() && testability == "No" {
        problems.push(ProblemKind::ReasonOnUntestable);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Row {
        source,
        variant,
        id: id.to_owned(),
        section: section.to_owned(),
        title: title.to_owned(),
        area: area.to_owned(),
        who: who.to_owned(),
        obligation,
        testability,
        paraphrase: paraphrase.to_owned(),
        reason,
    })
}

/// The value paired with `key` in `table`.
fn lookup(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// The variant name of `id`: `MQTT-1.5.4-2` with prefix `V5` becomes `V5_1_5_4_2`.
///
/// The id must be `MQTT-` followed by dot-separated decimal numbers, a `-`, and a decimal number.
pub fn variant_name(prefix: &str, id: &str) -> Result<String, &'static str> {
    let rest = id.strip_prefix("MQTT-").ok_or("must start with `MQTT-`")?;
    let (numbers, serial) = rest
        .split_once('-')
        .ok_or("must look like MQTT-<x.y.z>-<n>")?;
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !numbers.split('.').all(is_number) || !is_number(serial) {
        return Err("must look like MQTT-<x.y.z>-<n> with decimal numbers");
    }
    let mut name = String::from(prefix);
    for part in numbers.split('.').chain([serial]) {
        name.push('_');
        name.push_str(part);
    }
    Ok(name)
}

/// Checks that the variant names of `rows` (both catalogues) are unique: they are Rust
/// identifiers of one enum. Problems are appended to `problems`, located at the later row's file.
pub fn check_unique_variants(rows: &[Row], data_dir_display: &str, problems: &mut Vec<Problem>) {
    let mut first: HashMap<&str, &Row> = HashMap::new();
    for row in rows {
        if let Some(prev) = first.insert(&row.variant, row) {
            let kind = ProblemKind::VariantNotUnique {
                variant: row.variant.clone(),
                first: prev.id.clone(),
                second: row.id.clone(),
            };
            let file = format!("{data_dir_display}/{}", row.source.file);
            problems.push(Problem::in_file(&file, kind));
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A small v5.0 catalogue source for tests.
    pub static V5: Source = Source {
        file: "v5.tsv",
        spec: "V5",
        label: "MQTT 5.0",
        expected_rows: 2,
    };

    /// A small v3.1.1 catalogue source for tests.
    pub static V311: Source = Source {
        file: "v311.tsv",
        spec: "V311",
        label: "MQTT 3.1.1",
        expected_rows: 2,
    };

    /// The header line of a catalogue.
    pub fn header() -> String {
        COLUMNS.join("\t")
    }

    /// A valid catalogue line.
    pub fn line(id: &str, who: &str) -> String {
        format!("{id}\t1.2\tTitle\tArea\t{who}\tyes\tA paraphrase.\t-")
    }

    fn parse_text(source: &'static Source, lines: &[String]) -> (Vec<Row>, Vec<String>) {
        let text = format!("{}\n{}\n", header(), lines.join("\n"));
        let mut problems = Vec::new();
        let rows = parse(source, source.file, &text, &mut problems);
        (rows, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_valid_catalogue_gives_its_rows() {
        let (rows, problems) = parse_text(
            &V5,
            &[line("MQTT-1.2-1", "broker"), line("MQTT-1.2.3-10", "both")],
        );
        assert!(problems.is_empty(), "{problems:?}");
        let variants: Vec<&str> = rows.iter().map(|r| r.variant.as_str()).collect();
        assert_eq!(variants, ["V5_1_2_1", "V5_1_2_3_10"]);
        assert_eq!(rows[0].obligation, "Broker");
        assert_eq!(rows[1].obligation, "Both");
        assert_eq!(rows[1].testability, "Yes");
        assert_eq!(rows[1].paraphrase, "A paraphrase.");
    }

    #[test]
    fn every_problem_of_a_line_is_reported_with_file_and_line() {
        let bad = "MQTT-1.2\t1.2\tTitle\tArea\tserver\tmaybe\tA paraphrase.\t-".to_owned();
        let (rows, problems) = parse_text(&V5, &[line("MQTT-1.2-1", "client"), bad]);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            problems,
            [
                "v5.tsv:3: `who` must be broker, client or both, found `server`",
                "v5.tsv:3: `testable_over_tcp` must be yes, partially or no, found `maybe`",
                "v5.tsv:3: bad id `MQTT-1.2`: must look like MQTT-<x.y.z>-<n>",
            ]
        );
    }

    #[test]
    fn duplicate_ids_and_the_row_count_are_checked() {
        let (rows, problems) = parse_text(
            &V311,
            &[
                line("MQTT-1.2-1", "client"),
                line("MQTT-1.2-2", "client"),
                line("MQTT-1.2-1", "broker"),
            ],
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(
            problems,
            [
                "v311.tsv:4: duplicate id `MQTT-1.2-1` (first on line 2)",
                "v311.tsv: expected 2 statement rows for MQTT 3.1.1, found 3",
            ]
        );
    }

    #[test]
    fn a_line_with_a_missing_field_is_reported() {
        let (_, problems) = parse_text(
            &V5,
            &[line("MQTT-1.2-1", "client"), "MQTT-1.2-2\t1.2".to_owned()],
        );
        assert_eq!(
            problems,
            ["v5.tsv:3: expected 8 tab-separated fields, found 2"]
        );
    }

    #[test]
    fn a_reason_is_read_and_refused_on_an_untestable_statement() {
        let with_reason = "MQTT-1.2-1\t1.2\tTitle\tArea\tbroker\tpartially\tA paraphrase.\tNo \
                           packet shows it."
            .to_owned();
        let untestable = "MQTT-1.2-2\t1.2\tTitle\tArea\tbroker\tno\tA paraphrase.\tWhy.".to_owned();
        let (rows, problems) = parse_text(&V5, &[with_reason, untestable]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].reason.as_deref(), Some("No packet shows it."));
        assert_eq!(
            problems,
            [
                "v5.tsv:3: `reason` is only for testable statements (`testable_over_tcp` yes or \
              partially); use `-` on a `no` row"
            ]
        );
        let (rows, _) = parse_text(
            &V5,
            &[line("MQTT-1.2-1", "client"), line("MQTT-1.2-2", "both")],
        );
        assert!(rows.iter().all(|r| r.reason.is_none()));
    }

    #[test]
    fn variant_names_join_the_numbers_of_the_id() {
        assert_eq!(
            variant_name("V5", "MQTT-3.3.1-9").as_deref(),
            Ok("V5_3_3_1_9")
        );
        assert_eq!(
            variant_name("V311", "MQTT-4.2-1").as_deref(),
            Ok("V311_4_2_1")
        );
        assert_eq!(
            variant_name("V5", "mqtt-4.2-1"),
            Err("must start with `MQTT-`")
        );
        assert!(variant_name("V5", "MQTT-4.2.-1").is_err());
        assert!(variant_name("V5", "MQTT-4.2-1a").is_err());
        assert!(variant_name("V5", "MQTT-4.2-1-2").is_err());
    }
}
