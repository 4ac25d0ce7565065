//! `mqttspec report --compare`: several brokers' report.json side by side in one HTML page,
//! or several client libraries' client-report.json (`mqttspec client`) when all the inputs
//! are client reports.

use std::path::PathBuf;

use clap::Args;

use crate::report::Report;

/// Arguments of `mqttspec report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Compare these report.json files side by side (one column per broker), or these
    /// client-report.json files (one column per client library).
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
        let html = match self.client_reports()? {
            Some(clients) => crate::report::client_compare::render(&clients),
            None => self.broker_page()?,
        };
        std::fs::write(&self.out, html).map_err(|e| CompareError::Write {
            path: self.out.clone(),
            source: e,
        })?;
        crate::outln!("wrote {}", self.out.display());
        Ok(())
    }

    /// The inputs as client reports when the first one is a client report (then all must be).
    fn client_reports(&self) -> Result<Option<Vec<serde_json::Value>>, CompareError> {
        let mut out = Vec::new();
        for (i, p) in self.compare.iter().enumerate() {
            let text = std::fs::read_to_string(p)
                .map_err(|e| CompareError::Input(format!("cannot read {}: {e}", p.display())))?;
            let value: Option<serde_json::Value> = serde_json::from_str(&text).ok();
            let client = value
                .as_ref()
                .is_some_and(crate::report::client_compare::is_client_report);
            match (i, client) {
                (0, false) => return Ok(None),
                (_, true) => out.extend(value),
                (_, false) => {
                    return Err(CompareError::Input(format!(
                    "{} is not a client report, but {} is: compare brokers or clients, not both",
                    p.display(),
                    self.compare[0].display()
                )))
                }
            }
        }
        Ok(Some(out))
    }

    /// The brokers' comparison page.
    fn broker_page(&self) -> Result<String, CompareError> {
        let reports = self
            .compare
            .iter()
            .map(|p| Report::load(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CompareError::Input)?;
        Ok(crate::report::compare::render(&reports))
    }
}
