//! The pairing table `statement-pairs.tsv`: which statement of MQTT 5.0 states the same
//! behaviour as which statement of MQTT 3.1.1.
//!
//! The table has the header `v5<TAB>v311<TAB>note` and one row per pair of statements, one of
//! MQTT 5.0 (`v5`) and one of MQTT 3.1.1 (`v311`), that require the same behaviour of the same
//! party. Statements are paired by meaning, never by number. A statement may appear in several
//! rows when one specification splits what the other states once. `note` says in a few words
//! what the shared behaviour is.
//!
//! Each id must exist in the catalogue of its column's specification, no pair may be listed
//! twice, and both statements must have the same `who`. A pair whose `who` differs (one
//! specification states the rule for both sides at once, the other for one side only) is
//! accepted only when its note starts with the marker [`WHO_DIFFERS`] followed by the
//! explanation; the marker on a pair whose `who` agrees is an error too.

use std::collections::HashMap;

use super::catalogue::{Row, SOURCES};
use super::problem::{Problem, ProblemKind};
use super::tsv;

/// The pairing table's file name in `codec/data/`.
pub const FILE: &str = "statement-pairs.tsv";

/// The columns of the pairing table, in order; the header must be exactly these.
pub const COLUMNS: [&str; 3] = ["v5", "v311", "note"];

/// Prefix of a note that allows the two statements of a pair to differ in `who`.
pub const WHO_DIFFERS: &str = "[who-differs]";

/// One validated pair: indexes into the catalogue rows.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    /// The MQTT 5.0 statement.
    pub v5: usize,
    /// The MQTT 3.1.1 statement.
    pub v311: usize,
}

/// Reads and validates the pairing table from `text` (the contents of `file`) against the
/// catalogue `rows`. Returns the valid pairs; every problem found is appended to `problems`.
pub fn parse(rows: &[Row], file: &str, text: &str, problems: &mut Vec<Problem>) -> Vec<Pair> {
    let Some(lines) = tsv::data_lines(file, text, &COLUMNS, problems) else {
        return Vec::new();
    };
    // (spec, id) -> index into `rows`.
    let index: HashMap<(&str, &str), usize> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| ((row.source.spec, row.id.as_str()), i))
        .collect();
    let mut pairs = Vec::new();
    let mut first_line_of: HashMap<(usize, usize), usize> = HashMap::new();
    for (line_number, line) in lines {
        match parse_pair(rows, &index, line) {
            Ok(pair) => {
                if let Some(&first_line) = first_line_of.get(&(pair.v5, pair.v311)) {
                    let kind = ProblemKind::DuplicatePair {
                        v5: rows[pair.v5].id.clone(),
                        v311: rows[pair.v311].id.clone(),
                        first_line,
                    };
                    problems.push(Problem::at(file, line_number, kind));
                } else {
                    first_line_of.insert((pair.v5, pair.v311), line_number);
                    pairs.push(pair);
                }
            }
            Err(kinds) => problems.extend(
                kinds
                    .into_iter()
                    .map(|kind| Problem::at(file, line_number, kind)),
            ),
        }
    }
    pairs
}

/// Reads and validates one data line; on failure, every problem found in it.
fn parse_pair(
    rows: &[Row],
    index: &HashMap<(&str, &str), usize>,
    line: &str,
) -> Result<Pair, Vec<ProblemKind>> {
    let [v5, v311, note] = tsv::fields(&COLUMNS, line)?;

    // The row of `id` in the catalogue of `spec`; on failure, whether it is one of `other`'s.
    let find = |column: &'static str, spec: &str, other: &str, id: &str| {
        if let Some(&i) = index.get(&(spec, id)) {
            return Ok(i);
        }
        let label = |spec: &str| {
            SOURCES
                .iter()
                .find(|s| s.spec == spec)
                .map_or("?", |s| s.label)
        };
        let (id, spec) = (id.to_owned(), label(spec));
        Err(if index.contains_key(&(other, &id)) {
            ProblemKind::InOtherSpec {
                id,
                column,
                spec,
                other: label(other),
            }
        } else {
            ProblemKind::NotInSpec { id, column, spec }
        })
    };
    let (v5, v311) = match (
        find("v5", "V5", "V311", v5),
        find("v311", "V311", "V5", v311),
    ) {
        (Ok(v5), Ok(v311)) => (v5, v311),
        (a, b) => return Err(a.err().into_iter().chain(b.err()).collect()),
    };

    let (a, b) = (&rows[v5], &rows[v311]);
    let explanation = note.strip_prefix(WHO_DIFFERS);
    match explanation {
        None if a.who != b.who => Err(vec![ProblemKind::WhoDiffers {
            v5: a.id.clone(),
            v5_who: a.who.clone(),
            v311: b.id.clone(),
            v311_who: b.who.clone(),
        }]),
        Some(_) if a.who == b.who => Err(vec![ProblemKind::NeedlessWhoDiffers(a.who.clone())]),
        Some(text) if text.trim().is_empty() => Err(vec![ProblemKind::WhoDiffersUnexplained]),
        _ => Ok(Pair { v5, v311 }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalogue::{self, tests as small};
    use super::*;

    /// Catalogue rows: v3.1.1 `MQTT-1.1-1` (broker), `MQTT-1.1-2` (both), then v5.0
    /// `MQTT-1.1-1` (broker), `MQTT-2.1-1` (client).
    fn rows() -> Vec<Row> {
        let mut problems = Vec::new();
        let mut rows = Vec::new();
        for (source, lines) in [
            (
                &small::V311,
                [
                    small::line("MQTT-1.1-1", "broker"),
                    small::line("MQTT-1.1-2", "both"),
                ],
            ),
            (
                &small::V5,
                [
                    small::line("MQTT-1.1-1", "broker"),
                    small::line("MQTT-2.1-1", "client"),
                ],
            ),
        ] {
            let text = format!("{}\n{}\n", small::header(), lines.join("\n"));
            rows.extend(catalogue::parse(source, source.file, &text, &mut problems));
        }
        assert!(problems.is_empty(), "{problems:?}");
        rows
    }

    fn parse_lines(lines: &[&str]) -> (Vec<Pair>, Vec<String>) {
        let text = format!("v5\tv311\tnote\n{}\n", lines.join("\n"));
        let mut problems = Vec::new();
        let pairs = parse(&rows(), FILE, &text, &mut problems);
        (pairs, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_valid_pair_points_at_both_rows() {
        let (pairs, problems) = parse_lines(&["MQTT-1.1-1\tMQTT-1.1-1\tsame rule"]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(pairs.len(), 1);
        assert_eq!((pairs[0].v5, pairs[0].v311), (2, 0));
    }

    #[test]
    fn ids_must_belong_to_their_columns_specification() {
        let (pairs, problems) = parse_lines(&[
            "MQTT-1.1-2\tMQTT-2.1-1\tcolumns swapped",
            "MQTT-9.9-9\tMQTT-1.1-1\tno such statement",
        ]);
        assert!(pairs.is_empty());
        assert_eq!(
            problems,
            [
                "statement-pairs.tsv:2: `MQTT-1.1-2` in column `v5` is not an MQTT 5.0 statement \
                 (it exists only in MQTT 3.1.1; columns are v5 then v311)",
                "statement-pairs.tsv:2: `MQTT-2.1-1` in column `v311` is not an MQTT 3.1.1 \
                 statement (it exists only in MQTT 5.0; columns are v5 then v311)",
                "statement-pairs.tsv:3: `MQTT-9.9-9` in column `v5` is not an MQTT 5.0 statement",
            ]
        );
    }

    #[test]
    fn who_must_agree_unless_the_note_explains_why_not() {
        let (pairs, problems) = parse_lines(&[
            "MQTT-2.1-1\tMQTT-1.1-2\tclient rule vs both",
            "MQTT-2.1-1\tMQTT-1.1-2\t[who-differs] 3.1.1 states it for both sides",
            "MQTT-1.1-1\tMQTT-1.1-1\t[who-differs] but it does not",
            "MQTT-2.1-1\tMQTT-1.1-2\t[who-differs]  ",
        ]);
        assert_eq!(pairs.len(), 1);
        assert_eq!(
            problems,
            [
                "statement-pairs.tsv:2: `who` differs (`MQTT-2.1-1` is client, `MQTT-1.1-2` is \
                 both); pair them only if the note starts with `[who-differs]` and explains why",
                "statement-pairs.tsv:4: note starts with `[who-differs]` but both statements \
                 have `who` = broker",
                "statement-pairs.tsv:5: field `note` has leading or trailing whitespace",
            ]
        );
        let (_, problems) = parse_lines(&["MQTT-2.1-1\tMQTT-1.1-2\t[who-differs]"]);
        assert_eq!(
            problems,
            ["statement-pairs.tsv:2: `[who-differs]` must be followed by an explanation"]
        );
    }

    #[test]
    fn a_pair_listed_twice_is_reported() {
        let (pairs, problems) = parse_lines(&[
            "MQTT-1.1-1\tMQTT-1.1-1\tsame rule",
            "MQTT-1.1-1\tMQTT-1.1-1\tsame rule again",
        ]);
        assert_eq!(pairs.len(), 1);
        assert_eq!(
            problems,
            ["statement-pairs.tsv:3: duplicate pair `MQTT-1.1-1` / `MQTT-1.1-1` (first on line 2)"]
        );
    }
}
