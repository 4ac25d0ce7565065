//! Build script for `mqttspec-codec`.
//!
//! Reads the normative-statement catalogues in `data/` (one row per `[MQTT-x.y.z-n]` tag of
//! MQTT 3.1.1 and MQTT 5.0) and the pairing table `data/statement-pairs.tsv`, validates them,
//! and writes `$OUT_DIR/statements.rs`, which `src/statement.rs` includes. The generated file
//! defines the `StatementId` enum (one variant per row), `StatementId::ALL`, a `match` from
//! each variant to its metadata and a `match` from each variant to its counterparts in the
//! other specification.
//!
//! Any problem with the data (wrong header, wrong row count, duplicate id, empty field,
//! unknown `who` / `testable_over_tcp` value, malformed id) fails the build with a message
//! naming the file and line. Only `std` is used.
//!
//! # The pairing table
//!
//! `data/statement-pairs.tsv` has the header `v5<TAB>v311<TAB>note` and one row per pair of
//! statements, one of MQTT 5.0 (`v5`) and one of MQTT 3.1.1 (`v311`), that require the same
//! behaviour of the same party. Statements are paired by meaning, never by number. A
//! statement may appear in several rows when one specification splits what the other states
//! once. `note` says in a few words what the shared behaviour is.
//!
//! The build checks that each id exists in the catalogue of its column's specification, that
//! no pair is listed twice, and that both statements have the same `who`. A pair whose `who`
//! differs (one specification states the rule for both sides at once, the other for one side
//! only) is accepted only when its note starts with the marker `[who-differs]` (see
//! [`WHO_DIFFERS`]) followed by the explanation; the marker on a pair whose `who` agrees is an
//! error too.

use std::collections::HashMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The exact header line both catalogues must start with.
const HEADER: [&str; 7] = [
    "id",
    "section",
    "title",
    "area",
    "who",
    "testable_over_tcp",
    "paraphrase",
];

/// The exact header line of the pairing table.
const PAIRS_HEADER: [&str; 3] = ["v5", "v311", "note"];

/// The pairing table's file name in `data/`.
const PAIRS_FILE: &str = "statement-pairs.tsv";

/// Prefix of a pairing-table note that allows the two statements to differ in `who`.
const WHO_DIFFERS: &str = "[who-differs]";

/// One catalogue: file name, Rust `Spec` variant, variant-name prefix, label, expected rows.
struct Source {
    file: &'static str,
    spec_variant: &'static str,
    prefix: &'static str,
    label: &'static str,
    expected_rows: usize,
}

/// Order matters: `StatementId::ALL` lists v3.1.1 rows first, then v5.0 rows.
const SOURCES: [Source; 2] = [
    Source {
        file: "mqtt-v3.1.1-statements.tsv",
        spec_variant: "V311",
        prefix: "V311",
        label: "MQTT 3.1.1",
        expected_rows: 141,
    },
    Source {
        file: "mqtt-v5.0-statements.tsv",
        spec_variant: "V5",
        prefix: "V5",
        label: "MQTT 5.0",
        expected_rows: 251,
    },
];

/// One validated row.
struct Row {
    spec_variant: &'static str,
    label: &'static str,
    variant: String,
    id: String,
    section: String,
    title: String,
    area: String,
    obligation: &'static str,
    testability: &'static str,
    description: String,
    /// The catalogue's `who` value as written (`broker`, `client`, `both`).
    who: String,
}

/// One validated row of the pairing table: indexes into the statement rows.
struct Pair {
    v5: usize,
    v311: usize,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(errors) => {
            eprintln!("error: the normative-statement data in codec/data/ is invalid:");
            for e in &errors {
                eprintln!("error:   {e}");
            }
            eprintln!(
                "error: {} problem(s); fix the TSV file(s) (catalogue format: \
                 /work/shared/spec/README.md; pairing table: the doc comment of codec/build.rs)",
                errors.len()
            );
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Vec<String>> {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| vec!["CARGO_MANIFEST_DIR is not set".to_owned()])?;
    let out_dir = env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| vec!["OUT_DIR is not set".to_owned()])?;
    let data_dir = manifest_dir.join("data");

    println!("cargo:rerun-if-changed=build.rs");
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    for source in &SOURCES {
        let path = data_dir.join(source.file);
        println!("cargo:rerun-if-changed={}", path.display());
        match fs::read_to_string(&path) {
            Ok(text) => rows.extend(parse(source, &path, &text, &mut errors)),
            Err(e) => errors.push(format!("cannot read {}: {e}", path.display())),
        }
    }

    // Variant names must be unique across both specs (they are also the Rust identifiers).
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for row in &rows {
        if let Some(prev) = seen.insert(&row.variant, &row.id) {
            errors.push(format!(
                "generated variant name `{}` is not unique ({} and {})",
                row.variant, prev, row.id
            ));
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }

    let pairs_path = data_dir.join(PAIRS_FILE);
    println!("cargo:rerun-if-changed={}", pairs_path.display());
    let pairs = match fs::read_to_string(&pairs_path) {
        Ok(text) => parse_pairs(&rows, &pairs_path, &text, &mut errors),
        Err(e) => {
            errors.push(format!("cannot read {}: {e}", pairs_path.display()));
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    let code = generate(&rows, &pairs);
    let out = out_dir.join("statements.rs");
    fs::write(&out, code).map_err(|e| vec![format!("cannot write {}: {e}", out.display())])
}

/// Parse and validate one catalogue. Problems are appended to `errors`.
fn parse(source: &Source, path: &Path, text: &str, errors: &mut Vec<String>) -> Vec<Row> {
    let file = path.display();
    let mut rows = Vec::new();
    let mut lines = text.lines().enumerate();

    let Some((_, header)) = lines.next() else {
        errors.push(format!("{file}: file is empty"));
        return rows;
    };
    let fields: Vec<&str> = header.split('\t').collect();
    if fields != HEADER {
        errors.push(format!(
            "{file}:1: header must be `{}` (tab-separated), found `{header}`",
            HEADER.join("<TAB>")
        ));
        return rows;
    }

    let mut ids: HashMap<String, usize> = HashMap::new();
    for (index, line) in lines {
        let lineno = index + 1;
        match parse_row(source, line) {
            Ok(row) => {
                if let Some(first) = ids.insert(row.id.clone(), lineno) {
                    errors.push(format!(
                        "{file}:{lineno}: duplicate id `{}` (first on line {first})",
                        row.id
                    ));
                } else {
                    rows.push(row);
                }
            }
            Err(problems) => {
                errors.extend(
                    problems
                        .into_iter()
                        .map(|p| format!("{file}:{lineno}: {p}")),
                );
            }
        }
    }

    let data_rows = text.lines().count().saturating_sub(1);
    if data_rows != source.expected_rows {
        errors.push(format!(
            "{file}: expected {} statement rows for {}, found {data_rows}",
            source.expected_rows, source.label
        ));
    }
    rows
}

/// Parse and validate one data line; on failure, returns every problem found in it.
fn parse_row(source: &Source, line: &str) -> Result<Row, Vec<String>> {
    if line.trim().is_empty() {
        return Err(vec!["blank line".to_owned()]);
    }
    if line.contains('\r') {
        return Err(vec![
            "carriage return in line (use LF line endings)".to_owned()
        ]);
    }
    let fields: Vec<&str> = line.split('\t').collect();
    let [id, section, title, area, who, testable, paraphrase] = fields.as_slice() else {
        return Err(vec![format!(
            "expected 7 tab-separated fields, found {}",
            fields.len()
        )]);
    };

    let mut problems = Vec::new();
    for (name, value) in HEADER.iter().zip(fields.iter()) {
        if value.trim().is_empty() {
            problems.push(format!("field `{name}` is empty"));
        } else if value.trim() != *value {
            problems.push(format!("field `{name}` has leading or trailing whitespace"));
        }
    }
    let obligation = match *who {
        "broker" => "Broker",
        "client" => "Client",
        "both" => "Both",
        other => {
            problems.push(format!(
                "`who` must be broker, client or both, found `{other}`"
            ));
            ""
        }
    };
    let testability = match *testable {
        "yes" => "Yes",
        "partially" => "Partially",
        "no" => "No",
        other => {
            problems.push(format!(
                "`testable_over_tcp` must be yes, partially or no, found `{other}`"
            ));
            ""
        }
    };
    let variant = variant_name(source.prefix, id).unwrap_or_else(|why| {
        problems.push(format!("bad id `{id}`: {why}"));
        String::new()
    });
    if !problems.is_empty() {
        return Err(problems);
    }

    Ok(Row {
        spec_variant: source.spec_variant,
        label: source.label,
        variant,
        id: (*id).to_owned(),
        section: (*section).to_owned(),
        title: (*title).to_owned(),
        area: (*area).to_owned(),
        obligation,
        testability,
        description: (*paraphrase).to_owned(),
        who: (*who).to_owned(),
    })
}

/// Parse and validate the pairing table against the catalogue `rows`. Problems are appended
/// to `errors`.
fn parse_pairs(rows: &[Row], path: &Path, text: &str, errors: &mut Vec<String>) -> Vec<Pair> {
    let file = path.display();
    let mut pairs = Vec::new();
    let mut lines = text.lines().enumerate();

    let Some((_, header)) = lines.next() else {
        errors.push(format!("{file}: file is empty"));
        return pairs;
    };
    let fields: Vec<&str> = header.split('\t').collect();
    if fields != PAIRS_HEADER {
        errors.push(format!(
            "{file}:1: header must be `{}` (tab-separated), found `{header}`",
            PAIRS_HEADER.join("<TAB>")
        ));
        return pairs;
    }

    // (spec variant, id) -> index into `rows`.
    let index: HashMap<(&str, &str), usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.spec_variant, r.id.as_str()), i))
        .collect();
    let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
    for (i, line) in lines {
        let lineno = i + 1;
        match parse_pair(rows, &index, line) {
            Ok(pair) => {
                if let Some(&first) = seen.get(&(pair.v5, pair.v311)) {
                    errors.push(format!(
                        "{file}:{lineno}: duplicate pair `{}` / `{}` (first on line {first})",
                        rows[pair.v5].id, rows[pair.v311].id
                    ));
                } else {
                    seen.insert((pair.v5, pair.v311), lineno);
                    pairs.push(pair);
                }
            }
            Err(problems) => {
                errors.extend(
                    problems
                        .into_iter()
                        .map(|p| format!("{file}:{lineno}: {p}")),
                );
            }
        }
    }
    pairs
}

/// Parse and validate one data line of the pairing table.
fn parse_pair(
    rows: &[Row],
    index: &HashMap<(&str, &str), usize>,
    line: &str,
) -> Result<Pair, Vec<String>> {
    if line.trim().is_empty() {
        return Err(vec!["blank line".to_owned()]);
    }
    if line.contains('\r') {
        return Err(vec![
            "carriage return in line (use LF line endings)".to_owned()
        ]);
    }
    let fields: Vec<&str> = line.split('\t').collect();
    let [v5, v311, note] = fields.as_slice() else {
        return Err(vec![format!(
            "expected 3 tab-separated fields, found {}",
            fields.len()
        )]);
    };

    let mut problems = Vec::new();
    for (name, value) in PAIRS_HEADER.iter().zip(fields.iter()) {
        if value.trim().is_empty() {
            problems.push(format!("field `{name}` is empty"));
        } else if value.trim() != *value {
            problems.push(format!("field `{name}` has leading or trailing whitespace"));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    // Look up `id` in the catalogue of `spec`; on failure say whether it belongs to the other.
    let find = |column: &str, spec: &str, other: &str, id: &str| -> Result<usize, String> {
        if let Some(&i) = index.get(&(spec, id)) {
            return Ok(i);
        }
        let label = |variant: &str| {
            SOURCES
                .iter()
                .find(|s| s.spec_variant == variant)
                .map_or("?", |s| s.label)
        };
        if index.contains_key(&(other, id)) {
            Err(format!(
                "`{id}` in column `{column}` is not an {} statement (it exists only in {}; \
                 columns are v5 then v311)",
                label(spec),
                label(other)
            ))
        } else {
            Err(format!(
                "`{id}` in column `{column}` is not an {} statement",
                label(spec)
            ))
        }
    };
    let v5 = find("v5", "V5", "V311", v5);
    let v311 = find("v311", "V311", "V5", v311);
    let (v5, v311) = match (v5, v311) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => return Err(a.err().into_iter().chain(b.err()).collect()),
    };

    let (a, b) = (&rows[v5], &rows[v311]);
    let marked = note.starts_with(WHO_DIFFERS);
    if a.who != b.who && !marked {
        return Err(vec![format!(
            "`who` differs (`{}` is {}, `{}` is {}); pair them only if the note starts with \
             `{WHO_DIFFERS}` and explains why",
            a.id, a.who, b.id, b.who
        )]);
    }
    if a.who == b.who && marked {
        return Err(vec![format!(
            "note starts with `{WHO_DIFFERS}` but both statements have `who` = {}",
            a.who
        )]);
    }
    if marked && note[WHO_DIFFERS.len()..].trim().is_empty() {
        return Err(vec![format!(
            "`{WHO_DIFFERS}` must be followed by an explanation"
        )]);
    }
    Ok(Pair { v5, v311 })
}

/// `MQTT-1.5.4-2` with prefix `V5` becomes `V5_1_5_4_2`.
///
/// The id must be `MQTT-` followed by dot-separated decimal numbers, a `-`, and a decimal number.
fn variant_name(prefix: &str, id: &str) -> Result<String, String> {
    let rest = id
        .strip_prefix("MQTT-")
        .ok_or_else(|| "must start with `MQTT-`".to_owned())?;
    let (numbers, serial) = rest
        .split_once('-')
        .ok_or_else(|| "must look like MQTT-<x.y.z>-<n>".to_owned())?;
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !numbers.split('.').all(is_number) || !is_number(serial) {
        return Err("must look like MQTT-<x.y.z>-<n> with decimal numbers".to_owned());
    }
    let mut name = String::from(prefix);
    for part in numbers.split('.').chain(std::iter::once(serial)) {
        name.push('_');
        name.push_str(part);
    }
    Ok(name)
}

/// A Rust string literal for `s` (`Debug` for `str` produces valid escapes).
fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn generate(rows: &[Row], pairs: &[Pair]) -> String {
    let mut out = String::with_capacity(rows.len() * 400);
    // `write!` into a `String` cannot fail; the results are ignored deliberately.
    let _ = writeln!(
        out,
        "// @generated by codec/build.rs from codec/data/*.tsv. Do not edit.\n"
    );

    let _ = writeln!(
        out,
        "/// One normative statement id (`[MQTT-x.y.z-n]` tag) of one MQTT specification.\n\
         ///\n\
         /// Generated from `codec/data/*.tsv`: one variant per statement, named\n\
         /// `V311_<numbers>` for MQTT 3.1.1 and `V5_<numbers>` for MQTT 5.0, with the numbers of\n\
         /// the tag joined by `_` (v5.0 `MQTT-1.5.4-2` is [`StatementId::V5_1_5_4_2`]). The same\n\
         /// tag means different things in the two specifications, hence two variants.\n\
         ///\n\
         /// Variants are ordered as in [`StatementId::ALL`]: all v3.1.1 statements, then all\n\
         /// v5.0 statements, each in the order they appear in the specification.\n\
         #[allow(non_camel_case_types)]\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n\
         pub enum StatementId {{"
    );
    for row in rows {
        let doc = format!(
            "`{}` ({}, section {} \"{}\"; {}): {}",
            row.id, row.label, row.section, row.title, row.area, row.description
        );
        let _ = writeln!(out, "    #[doc = {}]", lit(&doc));
        let _ = writeln!(out, "    {},", row.variant);
    }
    let _ = writeln!(out, "}}\n");

    let _ = writeln!(out, "impl StatementId {{");
    let _ = writeln!(
        out,
        "    /// Every statement: the MQTT 3.1.1 statements, then the MQTT 5.0 statements, each in\n\
         \x20   /// the order of the specification.\n\
         \x20   pub const ALL: &'static [StatementId] = &["
    );
    for row in rows {
        let _ = writeln!(out, "        StatementId::{},", row.variant);
    }
    let _ = writeln!(out, "    ];\n");

    let _ = writeln!(
        out,
        "    /// The catalogue row of this statement.\n\
         \x20   #[allow(clippy::too_many_lines)]\n\
         \x20   const fn meta(self) -> &'static Meta {{\n\
         \x20       match self {{"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "            StatementId::{} => &Meta {{ spec: Spec::{}, id: {}, section: {}, title: {}, area: {}, \
             obligation: Obligation::{}, testability: Testability::{}, description: {} }},",
            row.variant,
            row.spec_variant,
            lit(&row.id),
            lit(&row.section),
            lit(&row.title),
            lit(&row.area),
            row.obligation,
            row.testability,
            lit(&row.description),
        );
    }
    let _ = writeln!(out, "        }}\n    }}\n");

    // Counterparts: for each statement, its partners in `StatementId::ALL` order.
    let mut partners: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    for pair in pairs {
        partners[pair.v5].push(pair.v311);
        partners[pair.v311].push(pair.v5);
    }
    let _ = writeln!(
        out,
        "    /// The statements of the other specification paired with this one in\n\
         \x20   /// `codec/data/statement-pairs.tsv` ({} pairs), in the order of [`StatementId::ALL`].\n\
         \x20   #[allow(clippy::too_many_lines)]\n\
         \x20   const fn paired(self) -> &'static [StatementId] {{\n\
         \x20       match self {{",
        pairs.len()
    );
    for (i, list) in partners.iter_mut().enumerate() {
        if list.is_empty() {
            continue;
        }
        list.sort_unstable();
        let items: Vec<String> = list
            .iter()
            .map(|&j| format!("StatementId::{}", rows[j].variant))
            .collect();
        let _ = writeln!(
            out,
            "            StatementId::{} => &[{}],",
            rows[i].variant,
            items.join(", ")
        );
    }
    let _ = writeln!(out, "            _ => &[],\n        }}\n    }}\n}}");
    out
}
