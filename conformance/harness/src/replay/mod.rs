//! The replay runner (`mqttspec replay`): re-runs regression scenarios (TOML files) against a broker.
//!
//! A scenario ([`format::Scenario`]) describes one published broker bug caused by malformed or
//! adversarial input: which clients connect, which bytes they send (raw, malformed on
//! purpose; see [`template`] for the byte notation) and what a conforming broker must do in
//! answer. After the steps the runner always checks that the broker still serves a new
//! client (CONNECT, then PINGREQ answered by PINGRESP): a crash or hang caused by the input is
//! a FAIL even when every step met its expectation. The file format is documented in
//! `corpus/regressions/README.md`.
//!
//! Verdicts: PASS; FAIL (an expectation or the "still alive" check not met, with Expected /
//! Actual and the transcript); ERROR (the harness could not run the scenario: the broker
//! unreachable before it started, a setup CONNECT refused).
//!
//! A broker that stops serving: every scenario starts with a probe (a fresh client is
//! served). With [`ReplayConfig::broker_command`] (`--broker-cmd`) the replay starts the
//! broker itself ([`BrokerProcess`]); when the probe before a scenario fails, it restarts the
//! broker and runs that scenario again, and the run records the scenario after which the
//! broker stopped serving, its exit status and last output ([`Restarted`]). Without it, the
//! scenarios after such a one are ERRORs.
//!
//! Credentials: the runner's own CONNECTs (setup `connect` steps without `hex`, the checks
//! before and after) carry the scenario's `[credentials]` (a fuzz finding recorded against a
//! broker that wants a password), or [`ReplayConfig::credentials`], which wins.

pub mod delivery;
pub mod format;
pub mod run;
pub mod template;
pub mod write;

use crate::profile::Credentials;
use crate::transport::Endpoint;
use std::path::PathBuf;
use std::time::Duration;

pub use format::{Expectation, Scenario, ScenarioError, Step};
pub use run::{run_scenario, Restarted, ScenarioRun};

use crate::broker_process::BrokerProcess;
use crate::verdict::Verdict;

/// Where and how to replay.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The broker; `None` starts the reference broker in-process.
    pub broker: Option<Endpoint>,
    /// Faults of the embedded broker.
    pub faults: Vec<String>,
    /// How long each expectation waits.
    pub wait: Duration,
    /// The User Name and Password of the runner's own CONNECTs (`--profile`, `--username`):
    /// when set, they replace the ones a scenario records.
    pub credentials: Option<Credentials>,
    /// The shell command that starts the broker at `broker` (`--broker-cmd`): the replay
    /// starts it, and restarts it when it no longer serves a client before a scenario, which
    /// then runs again on the fresh broker.
    pub broker_command: Option<String>,
    /// How many restarts at most.
    pub max_restarts: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            broker: None,
            faults: Vec::new(),
            wait: Duration::from_secs(3),
            credentials: None,
            broker_command: None,
            max_restarts: 20,
        }
    }
}

/// Expands directories into their `*.toml` files (sorted) and keeps files as given.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Loads every scenario; the first invalid file is the error.
pub fn load_all(files: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let scenarios = files
        .iter()
        .map(|f| Scenario::load(f))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, s) in scenarios.iter().enumerate() {
        if let Some(other) = scenarios[..i].iter().find(|o| o.id == s.id) {
            return Err(ScenarioError {
                path: s.path.clone(),
                message: format!("id `{}` is also used by {}", s.id, other.path.display()),
            });
        }
    }
    Ok(scenarios)
}

/// Runs `scenarios` one after the other (so a crash is blamed on the right one), starting
/// the embedded reference broker when no broker is given.
pub async fn replay(
    scenarios: &[Scenario],
    config: &ReplayConfig,
) -> Result<Vec<ScenarioRun>, String> {
    if config.broker.is_some() && !config.faults.is_empty() {
        return Err("--fault needs the embedded reference broker: drop --broker".to_owned());
    }
    if config.broker.is_none() && config.broker_command.is_some() {
        return Err(
            "--broker-cmd needs --broker (the address the command's broker serves)".to_owned(),
        );
    }
    let mut embedded = None;
    let address = match config.broker.clone() {
        Some(a) => a,
        None => {
            let mut broker_config = crate::runner::embedded_broker_config();
            broker_config.faults.extend(config.faults.iter().cloned());
            let b = mqttspec_reference_broker::shell::RunningBroker::start(
                ([127, 0, 0, 1], 0).into(),
                broker_config,
            )
            .await
            .map_err(|e| format!("cannot start the reference broker: {e}"))?;
            let a = b.local_addr();
            embedded = Some(b);
            Endpoint::tcp(a)
        }
    };
    let token = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        ^ u64::from(std::process::id());
    let token = crate::scenario::ctx_base36(token, 6);
    let mut process = match &config.broker_command {
        Some(command) => Some(BrokerProcess::start(command, address.clone()).await?),
        None => None,
    };
    let mut runs: Vec<ScenarioRun> = Vec::with_capacity(scenarios.len());
    for (i, s) in scenarios.iter().enumerate() {
        let stem = format!("rg{token}{}", crate::scenario::ctx_base36(i as u64, 3));
        let mut run = run_one(s, config, &address, &stem).await;
        let restartable = process
            .as_mut()
            .filter(|p| p.restarts() < config.max_restarts);
        if let (true, Some(p)) = (run.broker_down, restartable) {
            let restarted = Restarted {
                after: runs.last().map(|r| r.id.clone()),
                exit: p.exit_status(),
                output: p.output_tail(),
            };
            match p.restart().await {
                Ok(()) => {
                    run = run_one(s, config, &address, &format!("{stem}r")).await;
                    run.restarted = Some(restarted);
                }
                // The run stays an ERROR, and says why it was not run again.
                Err(e) => {
                    let actual = run.outcome.actual.take().unwrap_or_default();
                    run.outcome.actual = Some(format!("{actual}; restarting it failed: {e}"));
                }
            }
        }
        runs.push(run);
    }
    if let Some(mut p) = process {
        p.stop().await;
    }
    if let Some(b) = embedded {
        b.stop().await;
    }
    Ok(runs)
}

/// Runs one scenario, with the configured credentials if any.
async fn run_one(
    s: &Scenario,
    config: &ReplayConfig,
    address: &Endpoint,
    stem: &str,
) -> ScenarioRun {
    match &config.credentials {
        Some(login) => {
            let mut s = s.clone();
            s.credentials = Some(login.clone());
            run_scenario(&s, address.clone(), config.wait, stem).await
        }
        None => run_scenario(s, address.clone(), config.wait, stem).await,
    }
}

/// One line for a scenario result: verdict, id, and the reason when it did not pass.
pub fn result_line(run: &ScenarioRun) -> String {
    let o = &run.outcome;
    let mut line = format!(
        "{:<5} {} ({} ms)",
        o.verdict.label(),
        run.id,
        run.duration.as_millis()
    );
    if o.verdict != Verdict::Pass {
        if let Some(e) = &o.expected {
            line.push_str(&format!(" — expected: {e}"));
        }
        if let Some(a) = &o.actual {
            line.push_str(&format!("; actual: {a}"));
        }
        if let Some(s) = o.statement {
            line.push_str(&format!(" [{s}]"));
        }
    }
    line
}
