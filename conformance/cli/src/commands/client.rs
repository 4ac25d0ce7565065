//! `mqttspec client`: the client conformance suite. mqttspec plays the broker; the library
//! under test is driven by an adapter program (`conformance/clients/ADAPTER.md`) given as a
//! command line. Writes `client-report.json`, `summary.md`, `report.html` and `junit.xml` into
//! `--out`; with `--baseline` every case run the baseline covers is marked in them.
//!
//! Exit status: 0 when no case FAILed (beyond the `--baseline`) or ERRORed, 1 when one
//! FAILed that the baseline does not list, 2 when the adapter could not be started or a case
//! ERRORed.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqttspec_client_suite::cases;
use mqttspec_client_suite::report;
use mqttspec_client_suite::run::{self, RunConfig};
use mqttspec_harness::transport::Scheme;
use mqttspec_harness::verdict::Verdict;

use super::run::{parse_protocols, Protocols};
use crate::baseline::Baseline;

/// How `mqttspec client` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The arguments cannot be used.
    #[error("{0}")]
    Usage(String),
    /// The runtime or the adapter could not start.
    #[error("{0}")]
    Harness(String),
    /// Reports could not be written.
    #[error("cannot write the reports to {}: {source}", dir.display())]
    Write {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A case FAILed that the baseline does not list.
    #[error("{0} case run(s) FAILED (not in the baseline)")]
    Failed(usize),
    /// A case ERRORed (the harness could not judge it).
    #[error("{0} case run(s) in ERROR")]
    Errors(usize),
}

/// Arguments of `mqttspec client`.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The adapter's command line (run with `sh -c`), e.g. "python3 conformance/clients/adapters/paho_python.py".
    #[arg(long, value_name = "COMMAND LINE")]
    pub adapter: String,
    /// Protocols to run: 3.1.1, 5 or all.
    #[arg(long, default_value = "all", value_parser = parse_protocols)]
    pub protocol: Protocols,
    /// Run only the cases whose id contains one of these.
    #[arg(long)]
    pub filter: Vec<String>,
    /// Seconds the client gets for each thing it is asked to do.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
    /// How many case runs at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Where to write the reports.
    #[arg(long, default_value = "reports/clients/latest")]
    pub out: PathBuf,
    /// Expected non-passes of this library (the TOML format of `mqttspec run --baseline`):
    /// a FAIL listed there does not fail the run.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// The transport the scripted broker listens on: mqtt (plain TCP, the default), mqtts
    /// (TLS with a throwaway CA whose certificate file the adapter is given), ws or wss
    /// (WebSocket at /mqtt). The websocket. cases run over WebSocket whatever this says (wss
    /// on a TLS run). A library whose adapter cannot use the transport is UNSUPPORTED.
    #[arg(long, value_name = "SCHEME", value_parser = super::run::parse_transport, default_value = "mqtt")]
    pub transport: Scheme,
    /// List the cases and exit.
    #[arg(long)]
    pub list: bool,
}

impl ClientArgs {
    /// Runs the suite.
    pub fn run(&self) -> Result<(), ClientError> {
        let all = cases::all();
        if self.list {
            for c in run::select(&all, &self.filter) {
                let ids: Vec<_> = c
                    .checks
                    .iter()
                    .map(|s| format!("{} ({})", s.id(), s.spec()))
                    .collect();
                crate::outln!("{}  {}\n    {}", c.id, c.title, ids.join(", "));
            }
            return Ok(());
        }
        if self.timeout == 0 {
            return Err(ClientError::Usage("--timeout must be at least 1".into()));
        }
        // Entries for other transports do not apply to this run.
        let baseline = match &self.baseline {
            Some(p) => Baseline::load(p).map_err(ClientError::Usage)?,
            None => Baseline::default(),
        }
        .for_transport(self.transport.as_str());
        let mut config = RunConfig::new(self.adapter.clone())
            .over(self.transport)
            .map_err(ClientError::Harness)?;
        config.protocols = self.protocol.0.clone();
        config.filters = self.filter.clone();
        config.jobs = self.jobs.max(1);
        config.timing.response = Duration::from_secs(self.timeout);
        let rt = tokio::runtime::Runtime::new()
            .map_err(|e| ClientError::Harness(format!("cannot start the async runtime: {e}")))?;
        let results = rt
            .block_on(run::run(&config, &all))
            .map_err(|e| ClientError::Harness(e.to_string()))?;
        let mut unbaselined_fails = 0;
        let mut marks = report::Marks {
            baseline: self.baseline.as_ref().map(|p| p.display().to_string()),
            reasons: Vec::new(),
        };
        for r in &results.runs {
            let o = &r.outcome;
            let covered = baseline.covering(r.case.id, r.protocol, o.verdict);
            marks.reasons.push(
                covered
                    .filter(|_| o.verdict != Verdict::Pass)
                    .map(|e| e.reason.clone()),
            );
            if o.verdict == Verdict::Fail && covered.is_none() {
                unbaselined_fails += 1;
            }
            let mut line = format!("{:<13} {} [{}]", o.verdict.label(), r.case.id, r.protocol);
            if covered.is_some() && o.verdict != Verdict::Pass {
                line.push_str(" (baselined)");
            }
            if let Some(s) = o.statement {
                line.push_str(&format!(" {}", s.id()));
            }
            if let Some(a) = &o.actual {
                line.push_str(&format!(": {a}"));
            }
            crate::outln!("{line}");
            if o.verdict == Verdict::Pass {
                if let Some(e) = baseline.about(r.case.id, r.protocol) {
                    crate::outln!(
                        "  note: baselined as {} but passed now; the entry can go ({})",
                        e.verdict,
                        e.reason
                    );
                }
            }
        }
        let write_err = |source| ClientError::Write {
            dir: self.out.clone(),
            source,
        };
        let mut written = report::write_all(&results, &marks, &self.out).map_err(write_err)?;
        let html = self.out.join("report.html");
        let page = crate::report::client_html::render(&report::to_json(&results, &marks));
        std::fs::write(&html, page).map_err(write_err)?;
        written.push(html);
        let junit = self.out.join("junit.xml");
        std::fs::write(&junit, crate::report::client_junit::render(&results)).map_err(write_err)?;
        written.push(junit);
        let counts = report::counts(&results);
        crate::outln!(
            "{}",
            counts
                .iter()
                .map(|(v, n)| format!("{v}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for p in written {
            crate::outln!("wrote {}", p.display());
        }
        let errors = results
            .runs
            .iter()
            .filter(|r| r.outcome.verdict == Verdict::Error)
            .count();
        match (unbaselined_fails, errors) {
            (0, 0) => Ok(()),
            (0, e) => Err(ClientError::Errors(e)),
            (f, _) => Err(ClientError::Failed(f)),
        }
    }
}
