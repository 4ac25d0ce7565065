//! `mqttspec report --compare`: several brokers' report.json side by side in one HTML page.

use std::path::PathBuf;

use clap::Args;

use crate::report::Report;

/// Arguments of `mqttspec report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Compare these report.json files side by side (one column per broker).
    #[arg(long, value_name = "REPORT.json", num_args = 1.., required = true)]
    pub compare: Vec<PathBuf>,
    /// Where to write the comparison page.
    #[arg(long, value_name = "FILE", default_value = "compare.html")]
    pub out: PathBuf,
}

/// How `mqttspec report` failed.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A report cannot be read or is not a report.json.
    #[error("{0}")]
    Input(String),
    /// The page could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The `--out` path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl ReportArgs {
    /// Writes the comparison page.
    pub fn run(&self) -> Result<(), CompareError> {
        let reports = self
            .compare
            .iter()
            .map(|p| Report::load(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CompareError::Input)?;
        let html = crate::report::compare::render(&reports);
        std::fs::write(&self.out, html).map_err(|e| CompareError::Write {
            path: self.out.clone(),
            source: e,
        })?;
        println!("wrote {}", self.out.display());
        Ok(())
    }
}
