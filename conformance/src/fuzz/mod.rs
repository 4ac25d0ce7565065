//! `mqttspec fuzz`: a state-aware network fuzzer for any MQTT broker.
//!
//! A campaign is a sequence of rounds ([`round`]). In each round a few clients connect with
//! valid CONNECTs and subscribe, then a random sequence of actions mixes valid packets for
//! their state ([`generate`]), mutated packets ([`mutate`]), seeds from the project corpus
//! ([`seeds`]), split writes, bursts, reconnects and closes. The [`oracle`]s judge the
//! broker's answers as they arrive and, after the round, whether a fresh client is still
//! served. Each new finding is minimised ([`minimize`]: fewest clients, steps, bytes) with the
//! replay runner as the test, and written as a scenario file that `mqttspec replay`
//! reproduces ([`finding`]). [`target`] starts or restarts the broker; [`campaign`] runs the
//! loop and writes the report.
//!
//! Determinism: every action draws its random choices from a generator seeded by (seed,
//! round, action), so a seed always makes the same choices. What is actually written also
//! depends on the broker's answers (a connection the broker closed is reconnected rather than
//! written to; answers are acknowledged), so two runs are identical only as far as the broker
//! answers identically and in time. A finding's scenario file is the exact record.
//!
//! | file | role |
//! |---|---|
//! | [`campaign`] | the loop, deduplication of findings, restarts, reports |
//! | [`round`] | one round: clients, actions, PINGREQ barrier, liveness probe; the step log |
//! | [`generate`] | valid packets for a client's state and the broker's CONNACK limits |
//! | [`mutate`] | byte-level mutations aware of MQTT framing |
//! | [`seeds`] | corpus seeds and dictionary tokens |
//! | [`oracle`] | the checks, one [`oracle::FindingKind`] each |
//! | [`minimize`] | delta debugging of a finding with replays |
//! | [`finding`] | findings, reproducer files, `summary.json` / `summary.md` |
//! | [`target`] | embedded broker, external broker, `--broker-cmd` restarts |

pub mod campaign;
pub mod finding;
pub mod generate;
pub mod minimize;
pub mod mutate;
pub mod oracle;
pub mod round;
pub mod seeds;
pub mod target;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqttspec_codec::ProtocolVersion;

use crate::cli::CommandError;

/// The random generator of the fuzzer (value-stable across releases of its crate).
pub type Rng = rand_xorshift::XorShiftRng;

/// Arguments of `mqttspec fuzz`.
#[derive(Debug, Clone, Args)]
pub struct FuzzArgs {
    /// The broker under test (HOST:PORT, loopback or a lab network you own). Without it the
    /// embedded reference broker is fuzzed.
    #[arg(long, value_name = "HOST:PORT")]
    pub broker: Option<String>,
    /// A shell command that starts the broker listening on --broker; the fuzzer runs it,
    /// restarts it after a crash and before crash-minimisation replays, and stops it at the
    /// end.
    #[arg(long, value_name = "CMD", requires = "broker")]
    pub broker_cmd: Option<String>,
    /// How long to fuzz, in seconds (minimisation time not counted).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub duration: u64,
    /// Stop after this many rounds, even if time is left.
    #[arg(long, value_name = "N")]
    pub rounds: Option<u64>,
    /// The seed (default: from the clock; printed so the campaign can be repeated).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The most clients connected at once in a round.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub clients: usize,
    /// The most actions in a round.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub actions: usize,
    /// Protocol versions to fuzz: 3.1.1, 5 or both.
    #[arg(long, value_name = "VERSION", default_value = "both")]
    pub protocol: String,
    /// Where to write summary.json, summary.md and findings/.
    #[arg(long, value_name = "DIR", default_value = "reports/fuzz/latest")]
    pub out: PathBuf,
    /// The corpus folder (golden/, regressions/, fuzz/mqtt.dict) to take seeds from
    /// (default: the one of this source tree, if present).
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// How long an answer may take (CONNACK, PINGRESP, liveness probe), in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3)]
    pub wait: u64,
    /// Write findings as they were found, without minimising them.
    #[arg(long)]
    pub no_minimize: bool,
    /// The most minimisation replays per finding.
    #[arg(long, value_name = "N", default_value_t = 300)]
    pub minimize_trials: usize,
    /// The most minimisation time per finding, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub minimize_secs: u64,
    /// Start the embedded reference broker with this fault (repeatable; no --broker).
    #[arg(long, value_name = "NAME")]
    pub fault: Vec<String>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Parses `--protocol`.
pub fn parse_protocols(s: &str) -> Result<Vec<ProtocolVersion>, String> {
    match s {
        "both" | "all" => Ok(vec![ProtocolVersion::V311, ProtocolVersion::V5]),
        other => other.parse::<ProtocolVersion>().map(|v| vec![v]),
    }
}

impl FuzzArgs {
    /// The campaign settings these arguments describe.
    pub fn config(&self, seed: u64) -> Result<campaign::CampaignConfig, CommandError> {
        let protocols = parse_protocols(&self.protocol)
            .map_err(|e| CommandError::Usage(format!("--protocol {}: {e}", self.protocol)))?;
        if self.clients == 0 || self.clients > 64 {
            return Err(CommandError::Usage("--clients must be 1..=64".to_owned()));
        }
        if self.actions == 0 || self.actions > 10_000 {
            return Err(CommandError::Usage(
                "--actions must be 1..=10000".to_owned(),
            ));
        }
        let mut command = format!(
            "mqttspec fuzz --seed {seed} --duration {} --clients {} --actions {} --protocol {}",
            self.duration, self.clients, self.actions, self.protocol
        );
        if let Some(b) = &self.broker {
            command.push_str(&format!(" --broker {b}"));
        }
        for f in &self.fault {
            command.push_str(&format!(" --fault {f}"));
        }
        Ok(campaign::CampaignConfig {
            seed,
            duration: Duration::from_secs(self.duration),
            max_rounds: self.rounds,
            clients: self.clients,
            actions: self.actions,
            protocols,
            wait: Duration::from_secs(self.wait.max(1)),
            minimize: !self.no_minimize,
            minimize_trials: self.minimize_trials,
            minimize_time: Duration::from_secs(self.minimize_secs),
            out: Some(self.out.clone()),
            command,
            progress: !self.quiet,
        })
    }

    /// Runs the campaign: exit 0 without findings, 1 with findings, 2 when it cannot run.
    pub fn run(&self) -> Result<(), CommandError> {
        if self.broker.is_some() && !self.fault.is_empty() {
            return Err(CommandError::Usage(
                "--fault needs the embedded reference broker: drop --broker".to_owned(),
            ));
        }
        let seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        let config = self.config(seed)?;
        let broker = crate::cli::broker_address(self.broker.as_deref())?;
        let corpus = self
            .corpus
            .clone()
            .or_else(seeds::Seeds::default_corpus_dir);
        let seeds = match &corpus {
            Some(dir) => seeds::Seeds::load(dir),
            None => seeds::Seeds::default(),
        };
        if !self.quiet {
            eprintln!(
                "[fuzz] seed {seed}; {} + {} seeds, {} dictionary tokens{}",
                seeds.v311.len(),
                seeds.v5.len(),
                seeds.tokens.len(),
                if seeds.skipped.is_empty() {
                    String::new()
                } else {
                    format!(" ({} corpus files skipped)", seeds.skipped.len())
                }
            );
        }
        let rt = tokio::runtime::Runtime::new()
            .map_err(|e| CommandError::Harness(format!("cannot start the runtime: {e}")))?;
        let report = rt.block_on(async {
            let mut target = match broker {
                None => target::Target::embedded(&self.fault).await,
                Some(addr) => target::Target::external(addr, self.broker_cmd.clone()).await,
            }
            .map_err(CommandError::Harness)?;
            let t = round::client_id(seed, u64::MAX, 0);
            let alive = round::probe(
                target.addr(),
                config.protocols[0],
                t,
                config.wait,
                crate::client::Transcript::default(),
                false,
            )
            .await;
            if let Err(e) = alive {
                target.shutdown().await;
                return Err(CommandError::Harness(format!(
                    "the broker does not serve a client before fuzzing: {e}"
                )));
            }
            let report = campaign::run(&mut target, &config, &seeds).await;
            target.shutdown().await;
            Ok(report)
        })?;
        print!(
            "{}",
            finding::summary_markdown(&report.header, &report.totals, &report.findings)
        );
        println!("\nReports: {}", self.out.display());
        if report.findings.is_empty() {
            Ok(())
        } else {
            Err(CommandError::Failed(format!(
                "{} finding(s); reproducers in {}",
                report.findings.len(),
                self.out.join("findings").display()
            )))
        }
    }
}
