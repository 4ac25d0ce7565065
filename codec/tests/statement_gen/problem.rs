//! [`Problem`]: what is wrong with the statement data, and where.

use std::fmt;

use thiserror::Error;

/// One problem with the data in `codec/data/`: the file, the line when it concerns one line,
/// and what is wrong.
#[derive(Debug)]
pub struct Problem {
    /// The file as given to the reader (usually a path).
    pub file: String,
    /// The 1-based line, if the problem concerns one line.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl Problem {
    /// A problem of the whole `file`.
    pub fn in_file(file: &str, kind: ProblemKind) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            kind,
        }
    }

    /// A problem on line `line` (1-based) of `file`.
    pub fn at(file: &str, line: usize, kind: ProblemKind) -> Self {
        Self {
            file: file.to_owned(),
            line: Some(line),
            kind,
        }
    }
}

impl fmt::Display for Problem {
    /// `file:line: what`, or `file: what` for a problem of the whole file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

/// What is wrong with a statement catalogue or the pairing table.
#[derive(Debug, Error)]
pub enum ProblemKind {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Unreadable(#[from] std::io::Error),
    /// The file has no header line.
    #[error("file is empty")]
    Empty,
    /// The header line is not the expected list of columns.
    #[error("header must be `{expected}` (tab-separated), found `{found}`")]
    Header {
        /// The expected columns joined by `<TAB>`.
        expected: String,
        /// The header line as found.
        found: String,
    },
    /// An empty or whitespace-only data line.
    #[error("blank line")]
    BlankLine,
    /// A data line ends in CR LF.
    #[error("carriage return in line (use LF line endings)")]
    CarriageReturn,
    /// A data line has another number of fields than the header.
    #[error("expected {expected} tab-separated fields, found {found}")]
    FieldCount {
        /// The number of columns of the table.
        expected: usize,
        /// The number of fields on the line.
        found: usize,
    },
    /// A field is empty or whitespace only.
    #[error("field `{column}` is empty")]
    EmptyField {
        /// The column of the field.
        column: &'static str,
    },
    /// A field starts or ends with whitespace.
    #[error("field `{column}` has leading or trailing whitespace")]
    Whitespace {
        /// The column of the field.
        column: &'static str,
    },
    /// The `who` column holds something other than `broker`, `client` or `both`.
    #[error("`who` must be broker, client or both, found `{0}`")]
    Who(String),
    /// The `testable_over_tcp` column holds something other than `yes`, `partially` or `no`.
    #[error("`testable_over_tcp` must be yes, partially or no, found `{0}`")]
    Testable(String),
    /// A statement marked not testable over TCP carries a `reason`: the column explains why a
    /// *testable* statement is not observable from the wire after all.
    #[error(
        "`reason` is only for testable statements (`testable_over_tcp` yes or partially); use \
         `-` on a `no` row"
    )]
    ReasonOnUntestable,
    /// The id is not of the form `MQTT-<x.y.z>-<n>`.
    #[error("bad id `{id}`: {why}")]
    BadId {
        /// The id as found.
        id: String,
        /// Which part of the form it misses.
        why: &'static str,
    },
    /// The id is already on an earlier line of the same catalogue.
    #[error("duplicate id `{id}` (first on line {first_line})")]
    DuplicateId {
        /// The repeated id.
        id: String,
        /// The line it first appears on.
        first_line: usize,
    },
    /// The catalogue does not have the number of statements its specification tags.
    #[error("expected {expected} statement rows for {spec}, found {found}")]
    RowCount {
        /// The specification's label (`MQTT 5.0`).
        spec: &'static str,
        /// How many statements the specification tags.
        expected: usize,
        /// How many data lines the file has.
        found: usize,
    },
    /// Two rows (of either catalogue) give the same Rust variant name.
    #[error("generated variant name `{variant}` is not unique ({first} and {second})")]
    VariantNotUnique {
        /// The variant name.
        variant: String,
        /// The id of the first row with that name.
        first: String,
        /// The id of this row.
        second: String,
    },
    /// A pairing-table id is not a statement of its column's specification (nor of the other).
    #[error("`{id}` in column `{column}` is not an {spec} statement")]
    NotInSpec {
        /// The id as found.
        id: String,
        /// The column (`v5` or `v311`).
        column: &'static str,
        /// The label of the column's specification.
        spec: &'static str,
    },
    /// A pairing-table id is a statement of the other specification only (columns swapped).
    #[error(
        "`{id}` in column `{column}` is not an {spec} statement (it exists only in {other}; \
         columns are v5 then v311)"
    )]
    InOtherSpec {
        /// The id as found.
        id: String,
        /// The column (`v5` or `v311`).
        column: &'static str,
        /// The label of the column's specification.
        spec: &'static str,
        /// The label of the specification the id belongs to.
        other: &'static str,
    },
    /// The two statements of a pair bind different parties and the note does not say why.
    #[error(
        "`who` differs (`{v5}` is {v5_who}, `{v311}` is {v311_who}); pair them only if the note \
         starts with `{marker}` and explains why",
        marker = super::pairs::WHO_DIFFERS
    )]
    WhoDiffers {
        /// The v5.0 id.
        v5: String,
        /// Its `who`.
        v5_who: String,
        /// The v3.1.1 id.
        v311: String,
        /// Its `who`.
        v311_who: String,
    },
    /// The note carries the who-differs marker but both statements bind the same party.
    #[error(
        "note starts with `{marker}` but both statements have `who` = {0}",
        marker = super::pairs::WHO_DIFFERS
    )]
    NeedlessWhoDiffers(String),
    /// The note carries the who-differs marker and nothing else.
    #[error("`{marker}` must be followed by an explanation", marker = super::pairs::WHO_DIFFERS)]
    WhoDiffersUnexplained,
    /// The same pair is already on an earlier line.
    #[error("duplicate pair `{v5}` / `{v311}` (first on line {first_line})")]
    DuplicatePair {
        /// The v5.0 id.
        v5: String,
        /// The v3.1.1 id.
        v311: String,
        /// The line the pair first appears on.
        first_line: usize,
    },
}
