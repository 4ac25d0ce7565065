//! Rendering the validated catalogues and pairs as the Rust source of
//! `codec/src/statement/generated.rs`.
//!
//! The text is rendered already formatted as `rustfmt` (default settings, edition 2021) would
//! format it, so the committed file passes `cargo fmt --check` unchanged.

use std::fmt::Write as _;

use super::catalogue::Row;
use super::pairs::Pair;

/// The file the rendered source is committed as, relative to the crate root.
pub const TARGET: &str = "src/statement/generated.rs";

/// The command that rewrites [`TARGET`] from the data.
pub const REGENERATE: &str =
    "MQTTSPEC_BLESS=1 cargo test -p mqttspec-codec --test statements_current";

/// rustfmt's default `max_width`.
const MAX_WIDTH: usize = 100;

/// rustfmt's default `array_width` (60% of `max_width`): wider array literals go one item a line.
const ARRAY_WIDTH: usize = 60;

/// The Rust source of the statement module for `rows` (`StatementId::ALL` order) and `pairs`.
pub fn render(rows: &[Row], pairs: &[Pair]) -> String {
    let mut out = String::with_capacity(rows.len() * 700);
    header(&mut out);
    statement_enum(&mut out, rows);
    out.push_str("impl StatementId {\n");
    all(&mut out, rows);
    meta(&mut out, rows);
    paired(&mut out, rows, pairs);
    out.push_str("}\n");
    out
}

// `write!` into a `String` cannot fail; its results are ignored below.

fn header(out: &mut String) {
    let _ = write!(
        out,
        "// @generated from codec/data/*.tsv by codec/tests/statements_current.rs; do not edit by hand.
// After changing the data, regenerate it with
// {REGENERATE}

//! The [`StatementId`] enum and the catalogue row and counterparts of each statement, generated
//! from the statement catalogues and the pairing table in `codec/data/`.

use super::{{Meta, Obligation, Spec, Testability}};

"
    );
}

fn statement_enum(out: &mut String, rows: &[Row]) {
    out.push_str(
        "/// One normative statement id (`[MQTT-x.y.z-n]` tag) of one MQTT specification.
///
/// Generated from `codec/data/*.tsv`: one variant per statement, named `V311_<numbers>` for
/// MQTT 3.1.1 and `V5_<numbers>` for MQTT 5.0, with the numbers of the tag joined by `_` (v5.0
/// `MQTT-1.5.4-2` is [`StatementId::V5_1_5_4_2`]). The same tag means different things in the
/// two specifications, hence two variants.
///
/// Variants are ordered as in [`StatementId::ALL`]: all v3.1.1 statements, then all v5.0
/// statements, each in the order they appear in the specification.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatementId {
",
    );
    for row in rows {
        let _ = writeln!(
            out,
            "    /// `{}` ({}, section {} \"{}\"; {}): {}",
            row.id, row.source.label, row.section, row.title, row.area, row.paraphrase
        );
        let _ = writeln!(out, "    {},", row.variant);
    }
    out.push_str("}\n\n");
}

fn all(out: &mut String, rows: &[Row]) {
    out.push_str(
        "    /// Every statement: the MQTT 3.1.1 statements, then the MQTT 5.0 statements, each in
    /// the order of the specification.
    pub const ALL: &[StatementId] = &[
",
    );
    for row in rows {
        let _ = writeln!(out, "        StatementId::{},", row.variant);
    }
    out.push_str("    ];\n\n");
}

fn meta(out: &mut String, rows: &[Row]) {
    out.push_str(
        "    /// The catalogue row of this statement.
    #[allow(clippy::too_many_lines)]
    pub(super) const fn meta(self) -> &'static Meta {
        match self {
",
    );
    for row in rows {
        let _ = write!(
            out,
            "            StatementId::{variant} => &Meta {{
                spec: Spec::{spec},
                id: {id},
                section: {section},
                title: {title},
                area: {area},
                obligation: Obligation::{obligation},
                testability: Testability::{testability},
                description: {description},
                reason: {reason},
            }},
",
            variant = row.variant,
            spec = row.source.spec,
            id = literal(&row.id),
            section = literal(&row.section),
            title = literal(&row.title),
            area = literal(&row.area),
            obligation = row.obligation,
            testability = row.testability,
            description = literal(&row.paraphrase),
            reason = row
                .reason
                .as_deref()
                .map_or_else(|| "None".to_owned(), |r| format!("Some({})", literal(r))),
        );
    }
    out.push_str("        }\n    }\n\n");
}

fn paired(out: &mut String, rows: &[Row], pairs: &[Pair]) {
    // For each statement, its partners in `StatementId::ALL` order.
    let mut partners: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    for pair in pairs {
        partners[pair.v5].push(pair.v311);
        partners[pair.v311].push(pair.v5);
    }
    let _ = write!(
        out,
        "    /// The statements of the other specification paired with this one in
    /// `codec/data/statement-pairs.tsv` ({} pairs), in the order of [`StatementId::ALL`].
    #[allow(clippy::too_many_lines)]
    pub(super) const fn paired(self) -> &'static [StatementId] {{
        match self {{
",
        pairs.len()
    );
    for (row, list) in rows.iter().zip(&mut partners) {
        if list.is_empty() {
            continue;
        }
        list.sort_unstable();
        let items: Vec<String> = list
            .iter()
            .map(|&j| format!("StatementId::{}", rows[j].variant))
            .collect();
        let array = format!("[{}]", items.join(", "));
        let arm = format!("            StatementId::{} => &{array},", row.variant);
        if array.len() <= ARRAY_WIDTH && arm.len() <= MAX_WIDTH {
            out.push_str(&arm);
            out.push('\n');
        } else {
            let _ = writeln!(out, "            StatementId::{} => &[", row.variant);
            for item in &items {
                let _ = writeln!(out, "                {item},");
            }
            out.push_str("            ],\n");
        }
    }
    out.push_str("            _ => &[],\n        }\n    }\n");
}

/// A Rust string literal for `s` (`Debug` for `str` produces valid escapes).
fn literal(s: &str) -> String {
    format!("{s:?}")
}
