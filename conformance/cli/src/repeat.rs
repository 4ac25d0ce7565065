//! `mqttspec run --repeat N`: the same suite run N times against the same broker, and every
//! case whose verdict differed between runs, with the transcripts of the first run and of the
//! first run that disagreed. With the harness deterministic, a disagreement is the broker
//! answering differently from run to run: a finding in itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::report::{CaseReport, Report};
use mqttspec_harness::client::transcript::render_text;

/// One case × protocol whose verdicts differed.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    /// Case id.
    pub case: String,
    /// Protocol label.
    pub protocol: String,
    /// The verdict of each run, in order.
    pub verdicts: Vec<String>,
    /// What each run said (Actual).
    pub actual: Vec<Option<String>>,
    /// The first run's transcript, as text.
    pub first_transcript: String,
    /// The transcript of the first run whose verdict differed from the first run's.
    pub differing_transcript: String,
    /// Which run that was (1-based).
    pub differing_run: usize,
}

/// The comparison of several runs.
#[derive(Debug, Clone, Serialize)]
pub struct Repeat {
    /// How many runs.
    pub runs: usize,
    /// Case runs compared (present in every run).
    pub compared: usize,
    /// The case runs whose verdicts differed.
    pub disagreements: Vec<Disagreement>,
}

fn key(c: &CaseReport) -> (String, String) {
    (c.id.clone(), c.protocol.clone())
}

/// Compares the reports of repeated runs.
pub fn compare(reports: &[Report]) -> Repeat {
    let mut by_case: BTreeMap<(String, String), Vec<&CaseReport>> = BTreeMap::new();
    for r in reports {
        for c in &r.cases {
            by_case.entry(key(c)).or_default().push(c);
        }
    }
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for ((case, protocol), runs) in by_case {
        if runs.len() != reports.len() {
            continue;
        }
        compared += 1;
        let Some(first) = runs.first() else { continue };
        let Some((i, differing)) = runs
            .iter()
            .enumerate()
            .find(|(_, c)| c.verdict != first.verdict)
        else {
            continue;
        };
        disagreements.push(Disagreement {
            case,
            protocol,
            verdicts: runs.iter().map(|c| c.verdict.label().to_owned()).collect(),
            actual: runs.iter().map(|c| c.actual.clone()).collect(),
            first_transcript: render_text(&first.transcript),
            differing_transcript: render_text(&differing.transcript),
            differing_run: i + 1,
        });
    }
    Repeat {
        runs: reports.len(),
        compared,
        disagreements,
    }
}

impl Repeat {
    /// The lines printed after the run.
    pub fn console(&self) -> String {
        let mut out = format!(
            "repeat: {} runs, {} case runs compared, {} disagreement(s)\n",
            self.runs,
            self.compared,
            self.disagreements.len()
        );
        for d in &self.disagreements {
            out.push_str(&format!(
                "  {} ({}): {}\n",
                d.case,
                d.protocol,
                d.verdicts.join(" / ")
            ));
        }
        out
    }

    /// The Markdown page: every disagreement with both transcripts.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Repeated runs\n\n{} runs, {} case runs compared, **{} disagreement(s)**.\n",
            self.runs,
            self.compared,
            self.disagreements.len()
        );
        for d in &self.disagreements {
            out.push_str(&format!(
                "\n## `{}` (MQTT {})\n\nVerdicts by run: {}\n\n",
                d.case,
                d.protocol,
                d.verdicts.join(", ")
            ));
            for (i, a) in d.actual.iter().enumerate() {
                if let Some(a) = a {
                    out.push_str(&format!("- run {}: {a}\n", i + 1));
                }
            }
            out.push_str(&format!(
                "\nRun 1:\n\n```\n{}```\n\nRun {}:\n\n```\n{}```\n",
                d.first_transcript, d.differing_run, d.differing_transcript
            ));
        }
        out
    }

    /// Writes `repeat.json` and `repeat.md` into `dir`.
    pub fn write_all(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join("repeat.json");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&json, text)?;
        let md = dir.join("repeat.md");
        std::fs::write(&md, self.markdown())?;
        Ok(vec![json, md])
    }
}
