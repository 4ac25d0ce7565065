//! Reading one tab-separated table of `codec/data/`: the header check and the split of a data
//! line into fields, in one place for every table.
//!
//! A table's columns are a `[&str; N]` constant next to the code that reads its rows
//! ([`catalogue::COLUMNS`](super::catalogue::COLUMNS), [`pairs::COLUMNS`](super::pairs::COLUMNS)).
//! The header must list exactly those columns and every data line must have exactly `N`
//! non-empty fields without surrounding whitespace, so adding a column means adding it to the
//! constant (and binding the new field where the rows are read; the compiler points there).

use super::problem::{Problem, ProblemKind};

/// The data lines of `text` (the contents of `file`) with their 1-based line numbers, after
/// checking that the first line is the header `columns`; `None` when it is not (the problem is
/// appended to `problems`).
pub fn data_lines<'t>(
    file: &str,
    text: &'t str,
    columns: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<impl Iterator<Item = (usize, &'t str)>> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        problems.push(Problem::in_file(file, ProblemKind::Empty));
        return None;
    };
    if header.split('\t').ne(columns.iter().copied()) {
        let kind = ProblemKind::Header {
            expected: columns.join("<TAB>"),
            found: header.to_owned(),
        };
        problems.push(Problem::at(file, 1, kind));
        return None;
    }
    Some(lines.enumerate().map(|(i, line)| (i + 2, line)))
}

/// The fields of one data `line` of a table with `columns`; on failure, every problem found in
/// the line.
pub fn fields<'l, const N: usize>(
    columns: &[&'static str; N],
    line: &'l str,
) -> Result<[&'l str; N], Vec<ProblemKind>> {
    if line.trim().is_empty() {
        return Err(vec![ProblemKind::BlankLine]);
    }
    if line.contains('\r') {
        return Err(vec![ProblemKind::CarriageReturn]);
    }
    let found: Vec<&str> = line.split('\t').collect();
    let Ok(fields) = <[&str; N]>::try_from(found.as_slice()) else {
        return Err(vec![ProblemKind::FieldCount {
            expected: N,
            found: found.len(),
        }]);
    };
    let problems: Vec<ProblemKind> = columns
        .iter()
        .zip(fields)
        .filter_map(|(&column, value)| {
            if value.trim().is_empty() {
                Some(ProblemKind::EmptyField { column })
            } else if value.trim() != value {
                Some(ProblemKind::Whitespace { column })
            } else {
                None
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(fields)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [&str; 3] = ["a", "b", "c"];

    fn messages(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn data_lines_are_numbered_from_2_after_a_matching_header() {
        let mut problems = Vec::new();
        let lines: Vec<(usize, &str)> =
            data_lines("t.tsv", "a\tb\tc\nx\ny\n", &COLUMNS, &mut problems)
                .expect("header matches")
                .collect();
        assert_eq!(lines, [(2, "x"), (3, "y")]);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_wrong_or_missing_header_is_reported_with_file_and_line() {
        let mut problems = Vec::new();
        assert!(data_lines("t.tsv", "a\tc\tb\nx\n", &COLUMNS, &mut problems).is_none());
        assert!(data_lines("t.tsv", "a\tb\nx\n", &COLUMNS, &mut problems).is_none());
        assert!(data_lines("t.tsv", "a\tb\tc\td\n", &COLUMNS, &mut problems).is_none());
        assert!(data_lines("e.tsv", "", &COLUMNS, &mut problems).is_none());
        assert_eq!(
            messages(&problems),
            [
                "t.tsv:1: header must be `a<TAB>b<TAB>c` (tab-separated), found `a\tc\tb`",
                "t.tsv:1: header must be `a<TAB>b<TAB>c` (tab-separated), found `a\tb`",
                "t.tsv:1: header must be `a<TAB>b<TAB>c` (tab-separated), found `a\tb\tc\td`",
                "e.tsv: file is empty",
            ]
        );
    }

    fn field_problems(line: &str) -> Vec<String> {
        match fields(&COLUMNS, line) {
            Ok(_) => Vec::new(),
            Err(kinds) => kinds.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn fields_are_split_and_checked() {
        assert_eq!(fields(&COLUMNS, "x\ty z\tw").ok(), Some(["x", "y z", "w"]));
        assert_eq!(field_problems("  "), ["blank line"]);
        assert_eq!(
            field_problems("x\ty\tz\r"),
            ["carriage return in line (use LF line endings)"]
        );
        assert_eq!(
            field_problems("x\ty"),
            ["expected 3 tab-separated fields, found 2"]
        );
        assert_eq!(
            field_problems(" x\t\tz "),
            [
                "field `a` has leading or trailing whitespace",
                "field `b` is empty",
                "field `c` has leading or trailing whitespace",
            ]
        );
    }
}
