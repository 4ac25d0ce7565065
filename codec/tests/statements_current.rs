//! The committed statement enum (`src/statement/generated.rs`) is what the data in `data/`
//! gives, and stays formatted.
//!
//! After changing a catalogue or the pairing table (or the generator in `statement_gen/`),
//! regenerate the file with
//! `MQTTSPEC_BLESS=1 cargo test -p mqttspec-codec --test statements_current` and commit it.
//! Problems in the data fail this test with the file and line of each.

mod statement_gen;

use std::env;
use std::fs;
use std::io::{ErrorKind, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;

use statement_gen::render::{REGENERATE, TARGET};

/// The crate root (`codec/`).
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The source the data gives; panics listing every problem if the data is invalid.
fn rendered() -> String {
    statement_gen::generate(&crate_dir().join("data")).unwrap_or_else(|problems| {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        panic!(
            "the normative-statement data in codec/data/ is invalid:\n{}\n{} problem(s); fix the \
             TSV file(s) (catalogue format: /work/shared/spec/README.md; pairing table: \
             codec/tests/statement_gen/pairs.rs)",
            list.join("\n"),
            problems.len()
        )
    })
}

/// Whether the run should rewrite the committed file instead of failing.
fn bless() -> bool {
    env::var_os("MQTTSPEC_BLESS").is_some_and(|v| v == "1")
}

/// `None` if `a == b`, else the first differing line (1-based) and both versions of it.
fn first_difference(a: &str, b: &str) -> Option<String> {
    if a == b {
        return None;
    }
    let (mut a_lines, mut b_lines) = (a.lines(), b.lines());
    let mut number = 1;
    loop {
        match (a_lines.next(), b_lines.next()) {
            (Some(x), Some(y)) if x == y => number += 1,
            (x, y) => {
                let show =
                    |l: Option<&str>| l.map_or("<end of file>".to_owned(), |l| format!("{l:?}"));
                return Some(format!(
                    "line {number}:\n  expected: {}\n  found:    {}",
                    show(x),
                    show(y)
                ));
            }
        }
    }
}

#[test]
fn committed_statement_enum_is_what_the_data_gives() {
    let expected = rendered();
    let path = crate_dir().join(TARGET);
    let committed = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    };
    let Some(difference) = first_difference(&expected, &committed) else {
        return;
    };
    if bless() {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        }
        fs::write(&path, &expected)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("MQTTSPEC_BLESS=1: rewrote {}", path.display());
        return;
    }
    panic!(
        "codec/{TARGET} is out of date with codec/data/ (first difference at {difference})\n\
         regenerate it with `{REGENERATE}` and commit the result"
    );
}

/// The renderer writes what rustfmt would, so the committed file passes `cargo fmt --check`.
/// Skipped (with a note) where rustfmt is not installed; `cargo fmt --check` still guards the
/// committed file there.
#[test]
fn rendered_source_is_rustfmt_stable() {
    let source = rendered();
    let rustfmt = env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let child = Command::new(&rustfmt)
        .args(["--edition", "2021", "--emit", "stdout"])
        .current_dir(crate_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!("skipped: {} not found", rustfmt.to_string_lossy());
            return;
        }
        Err(e) => panic!("cannot run {}: {e}", rustfmt.to_string_lossy()),
    };
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = source.clone();
    let writer = thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("rustfmt runs");
    writer
        .join()
        .expect("the writer thread does not panic")
        .expect("rustfmt reads its input");
    assert!(
        output.status.success(),
        "rustfmt failed on the rendered source: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let formatted = String::from_utf8(output.stdout).expect("rustfmt writes UTF-8");
    if let Some(difference) = first_difference(&formatted, &source) {
        panic!(
            "rustfmt changes the rendered source (first difference at {difference}); make \
             codec/tests/statement_gen/render.rs render what rustfmt would"
        );
    }
}
