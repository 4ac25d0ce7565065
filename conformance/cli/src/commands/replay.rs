//! `mqttspec replay`: regression scenarios (TOML files) against a broker, with the replay
//! runner of [`mqttspec_harness::replay`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqttspec_harness::address::AddressError;

use super::endpoint::{self, TlsArgs};
use super::login::LoginArgs;
use mqttspec_harness::client::transcript::render_text;
use mqttspec_harness::replay::{
    collect_files, load_all, replay, result_line, ReplayConfig, Restarted, ScenarioError,
    ScenarioRun,
};
use mqttspec_harness::verdict::Verdict;

/// Arguments of `mqttspec replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Scenario files, or directories (every `*.toml` inside, sorted).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The broker under test: HOST:PORT, mqtt://HOST[:PORT], mqtts://HOST[:PORT],
    /// ws://HOST[:PORT][/PATH] or wss://HOST[:PORT][/PATH] (path default /mqtt). Without it,
    /// the reference broker runs in-process.
    #[arg(long, value_name = "ADDRESS")]
    pub broker: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub login: LoginArgs,
    /// How long each expectation waits, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3)]
    pub timeout: u64,
    /// Start the embedded reference broker with this fault (repeatable; no --broker).
    #[arg(long, value_name = "NAME")]
    pub fault: Vec<String>,
    /// Print the wire transcript of every scenario that does not pass.
    #[arg(long)]
    pub transcript: bool,
    /// Start the broker at --broker with this shell command, and restart it when it no
    /// longer serves a client before a scenario (that scenario then runs again on the fresh
    /// broker; the output says after which scenario it stopped and shows its last output).
    #[arg(long, value_name = "CMD", requires = "broker")]
    pub broker_cmd: Option<String>,
    /// With --broker-cmd: how many restarts at most.
    #[arg(long, value_name = "N", default_value_t = 20, requires = "broker_cmd")]
    pub max_restarts: usize,
}

/// How `mqttspec replay` failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// `--broker` does not resolve, or the TLS options cannot be used.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The broker's transport cannot be set up (refused, TLS or WebSocket handshake).
    #[error("{0}")]
    Endpoint(#[from] mqttspec_harness::transport::ConnectError),
    /// The profile cannot be read.
    #[error("{0}")]
    Usage(String),
    /// A scenario path cannot be read.
    #[error("{0}")]
    Files(String),
    /// The paths hold no scenario file.
    #[error("no scenario files found")]
    NoFiles,
    /// A scenario file is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The replay could not run (runtime, embedded broker, `--fault` with `--broker`).
    #[error("{0}")]
    Harness(String),
    /// Some scenarios FAILed.
    #[error("{fail} of {total} scenarios FAIL ({error} ERROR)")]
    Failed {
        /// Scenarios that FAILed.
        fail: usize,
        /// Scenarios in ERROR.
        error: usize,
        /// All scenarios.
        total: usize,
    },
    /// No scenario FAILed but some could not run.
    #[error("{error} of {total} scenarios could not run (ERROR)")]
    NotRun {
        /// Scenarios in ERROR.
        error: usize,
        /// All scenarios.
        total: usize,
    },
}

impl ReplayArgs {
    /// Replays the scenarios: exit 0 when all pass, 1 when any FAILs, 2 on a harness error.
    pub fn run(&self) -> Result<(), ReplayError> {
        let (profile, credentials) = self.login.load().map_err(ReplayError::Usage)?;
        let broker = self.tls.endpoint(self.broker.as_deref(), &profile.tls)?;
        let files = collect_files(&self.files).map_err(ReplayError::Files)?;
        if files.is_empty() {
            return Err(ReplayError::NoFiles);
        }
        let scenarios = load_all(&files)?;
        let config = ReplayConfig {
            broker,
            faults: self.fault.clone(),
            wait: Duration::from_secs(self.timeout.max(1)),
            credentials,
            broker_command: self.broker_cmd.clone(),
            max_restarts: self.max_restarts,
        };
        let rt = tokio::runtime::Runtime::new()
            .map_err(|e| ReplayError::Harness(format!("cannot start the runtime: {e}")))?;
        if let (Some(b), None) = (&config.broker, &config.broker_command) {
            let limit = config.wait;
            rt.block_on(endpoint::check(b, limit))?;
        }
        let runs = rt
            .block_on(replay(&scenarios, &config))
            .map_err(ReplayError::Harness)?;
        for run in &runs {
            if let Some(r) = &run.restarted {
                crate::outln!("{}", restart_lines(r));
            }
            crate::outln!("{}", result_line(run));
            if self.transcript && run.outcome.verdict != Verdict::Pass {
                crate::outln!("{}", render_text(&run.transcript));
            }
        }
        summarize(&runs)
    }
}

/// What the output says before a scenario that ran again on a restarted broker.
fn restart_lines(r: &Restarted) -> String {
    let after = r
        .after
        .as_deref()
        .map_or("before the first scenario".to_owned(), |id| {
            format!("after {id}")
        });
    let process = r
        .exit
        .as_deref()
        .map_or("process still running".to_owned(), |e| {
            format!("process {e}")
        });
    let mut text = format!(
        "RESTART the broker stopped serving {after} ({process}); restarted, the next scenario runs again"
    );
    if !r.output.is_empty() {
        text.push_str("\n        its last output:");
        for line in &r.output {
            text.push_str(&format!("\n        | {line}"));
        }
    }
    text
}

/// The exit decision: any FAIL is 1, otherwise any ERROR is 2.
pub fn summarize(runs: &[ScenarioRun]) -> Result<(), ReplayError> {
    let count = |v: Verdict| runs.iter().filter(|r| r.outcome.verdict == v).count();
    let (fail, error) = (count(Verdict::Fail), count(Verdict::Error));
    let total = runs.len();
    if fail > 0 {
        Err(ReplayError::Failed { fail, error, total })
    } else if error > 0 {
        Err(ReplayError::NotRun { error, total })
    } else {
        eprintln!("all {total} scenarios PASS");
        Ok(())
    }
}
