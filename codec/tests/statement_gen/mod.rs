//! The generator of `codec/src/statement/generated.rs` (the [`StatementId`] enum) from the
//! normative-statement data in `codec/data/`.
//!
//! It is test code, not part of the library: the integration test `statements_current.rs` runs
//! it, fails when the committed file differs from what the data gives, and rewrites the file
//! when `MQTTSPEC_BLESS=1` is set. The library compiles the committed file as a plain module,
//! so every statement id can be found with grep, as variant (`V5_3_3_1_9`) and as text
//! (`"MQTT-3.3.1-9"`).
//!
//! | module | what it holds |
//! |---|---|
//! | [`tsv`] | the header check and the split of a line into fields, for every table |
//! | [`catalogue`] | the two statement catalogues: columns, sources, row validation, variant names |
//! | [`pairs`] | the pairing table `statement-pairs.tsv`: its format and validation |
//! | [`render`] | the Rust source of the generated module, already rustfmt-formatted |
//! | [`problem`] | [`Problem`]: what is wrong with the data, naming file and line |
//!
//! Any problem with the data (wrong header, wrong row count, duplicate id, empty field, unknown
//! `who` / `testable_over_tcp` value, malformed id, a `reason` on an untestable row, bad pair) is reported with the file and
//! line; all problems are collected before giving up.
//!
//! # Changing the catalogue format
//!
//! The last column, `reason`, is `-` for most rows; on a testable row it says why the statement
//! cannot be observed from the wire after all (`mqttspec trace` lists those apart, still
//! uncovered). To add a column: add it to [`catalogue::COLUMNS`] (the header check and the
//! field count follow), bind it in `catalogue::parse_row`, carry it in [`catalogue::Row`] and
//! render it in [`render`]. Regenerate *before* changing the library's `Meta` struct: the test
//! links the library, which must still compile with the old generated file. Then add the field
//! and its accessor to `codec/src/statement.rs`.
//!
//! [`StatementId`]: mqttspec_codec::StatementId

pub mod catalogue;
pub mod pairs;
pub mod problem;
pub mod render;
pub mod tsv;

use std::fs;
use std::path::Path;

pub use problem::Problem;

/// Reads and validates the data in `data_dir` and renders the generated module's source.
///
/// On invalid data, every problem found (the pairing table is checked only once both
/// catalogues are valid).
pub fn generate(data_dir: &Path) -> Result<String, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    for source in &catalogue::SOURCES {
        let path = data_dir.join(source.file);
        let file = path.display().to_string();
        match fs::read_to_string(&path) {
            Ok(text) => rows.extend(catalogue::parse(source, &file, &text, &mut problems)),
            Err(e) => problems.push(Problem::in_file(&file, e.into())),
        }
    }
    catalogue::check_unique_variants(&rows, &data_dir.display().to_string(), &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }

    let path = data_dir.join(pairs::FILE);
    let file = path.display().to_string();
    let pairs = match fs::read_to_string(&path) {
        Ok(text) => pairs::parse(&rows, &file, &text, &mut problems),
        Err(e) => {
            problems.push(Problem::in_file(&file, e.into()));
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(render::render(&rows, &pairs))
}
