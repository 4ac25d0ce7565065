//! The reports of a client run, written into one folder: `client-report.json` (everything:
//! library, every case run with its transcript, the traceability of the client-side and
//! both-sides statements) and `summary.md`. A run checked against a baseline carries the
//! baseline's file and, on every case run an entry of it covers, that entry's reason
//! (`baselined`): see [`Marks`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mqttspec_codec::{Obligation, StatementId};
use mqttspec_harness::verdict::Verdict;
use serde_json::{json, Value};

use crate::run::RunResults;

/// The schema of `client-report.json`.
pub const SCHEMA: &str = "mqttspec-client-report/1";

/// The verdict of a statement no case covers.
pub const NOT_COVERED: &str = "NOT COVERED";

/// What a baseline said about a run: the file, and per case run (in the order of
/// [`RunResults::runs`]) the reason of the entry that covers its non-pass, if one does.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// The baseline file the run was checked against.
    pub baseline: Option<String>,
    /// Per case run: the covering entry's reason.
    pub reasons: Vec<Option<String>>,
}

impl Marks {
    /// The reason the baseline gives for run number `i`, if it covers it.
    pub fn reason(&self, i: usize) -> Option<&str> {
        self.reasons.get(i).and_then(|r| r.as_deref())
    }
}

/// Counts of verdicts.
pub fn counts(results: &RunResults) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in &results.runs {
        *out.entry(r.outcome.verdict.label()).or_insert(0) += 1;
    }
    out
}

/// The statement × verdict table: every client-side or both-sides statement of the versions
/// run, with the worst verdict of the case runs citing it.
pub fn traceability(results: &RunResults) -> Vec<Value> {
    let specs: Vec<_> = {
        let mut s: Vec<_> = results.runs.iter().map(|r| r.protocol.spec()).collect();
        s.sort();
        s.dedup();
        s
    };
    StatementId::ALL
        .iter()
        .filter(|s| specs.contains(&s.spec()) && s.obligation() != Obligation::Broker)
        .map(|s| {
            let runs: Vec<_> = results
                .runs
                .iter()
                .filter(|r| r.case.checks_for(r.protocol).contains(s))
                .collect();
            let verdict = runs
                .iter()
                .map(|r| r.outcome.verdict)
                .reduce(Verdict::worst)
                .map_or(NOT_COVERED, Verdict::label);
            json!({
                "id": s.id(),
                "spec": s.spec().label(),
                "who": s.obligation().as_str(),
                "verdict": verdict,
                "cases": runs.iter().map(|r| r.case.id).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// The whole JSON report.
pub fn to_json(results: &RunResults, marks: &Marks) -> Value {
    let cases: Vec<Value> = results
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let o = &r.outcome;
            json!({
                "id": r.case.id,
                "title": r.case.title,
                "protocol": r.protocol.to_string(),
                "verdict": o.verdict.label(),
                "expected": o.expected,
                "actual": o.actual,
                "statement": o.statement.map(|s| s.id()),
                "precondition": o.precondition.map(|p| p.name()),
                "statements": r.case.checks_for(r.protocol).iter().map(|s| s.id()).collect::<Vec<_>>(),
                "duration_ms": u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
                "baselined": marks.reason(i),
                "transcript": r.transcript,
            })
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "tool": {"name": "mqttspec", "version": env!("CARGO_PKG_VERSION")},
        "library": results.library,
        "adapter": results.adapter,
        "transport": results.transport.as_str(),
        "baseline": marks.baseline,
        "summary": counts(results),
        "cases": cases,
        "statements": traceability(results),
    })
}

/// The Markdown summary.
pub fn to_markdown(results: &RunResults, marks: &Marks) -> String {
    let lib = |k: &str| {
        results
            .library
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let mut s = format!(
        "# Client conformance: {} {}\n\nAdapter: `{}`\n\nTransport: {} (the websocket. cases: {})\n\n",
        lib("library"),
        lib("version"),
        results.adapter,
        results.transport.as_str(),
        if results.transport.is_tls() { "wss" } else { "ws" },
    );
    for (v, n) in counts(results) {
        s.push_str(&format!("- {v}: {n}\n"));
    }
    if let Some(b) = &marks.baseline {
        s.push_str(&format!(
            "\nBaseline: `{b}` (a baselined verdict is marked)\n"
        ));
    }
    s.push_str("\n| case | protocol | verdict | statement | detail |\n|---|---|---|---|---|\n");
    for (i, r) in results.runs.iter().enumerate() {
        let o = &r.outcome;
        let verdict = match marks.reason(i) {
            Some(_) => format!("{} (baselined)", o.verdict),
            None => o.verdict.to_string(),
        };
        let detail = match (&o.expected, &o.actual) {
            (Some(e), Some(a)) => format!("expected {e}; got {a}"),
            (None, Some(a)) => a.clone(),
            _ => String::new(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.case.id,
            r.protocol,
            verdict,
            o.statement.map_or("", |st| st.id()),
            detail.replace('|', "\\|").replace('\n', " ")
        ));
    }
    let trace = traceability(results);
    let covered = trace.iter().filter(|t| t["verdict"] != NOT_COVERED).count();
    s.push_str(&format!(
        "\n{covered} of {} client-side and both-sides statements covered.\n",
        trace.len()
    ));
    s
}

/// Writes `client-report.json` and `summary.md` into `dir`.
pub fn write_all(results: &RunResults, marks: &Marks, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json_path = dir.join("client-report.json");
    let text =
        serde_json::to_string_pretty(&to_json(results, marks)).map_err(std::io::Error::other)?;
    std::fs::write(&json_path, text)?;
    let md_path = dir.join("summary.md");
    std::fs::write(&md_path, to_markdown(results, marks))?;
    Ok(vec![json_path, md_path])
}
