//! `mqttspec fuzz`: the network fuzzer of [`mqttspec_netfuzz`] against a broker.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqttspec_harness::address::AddressError;

use super::endpoint::{self, TlsArgs};
use super::login::LoginArgs;
use mqttspec_harness::client::Transcript;
use mqttspec_harness::profile::Credentials;
use mqttspec_netfuzz::campaign::{self, CampaignConfig};
use mqttspec_netfuzz::finding::summary_markdown;
use mqttspec_netfuzz::seeds::Seeds;
use mqttspec_netfuzz::target::Target;
use mqttspec_netfuzz::{parse_protocols, round};

/// Arguments of `mqttspec fuzz`.
#[derive(Debug, Clone, Args)]
pub struct FuzzArgs {
    /// The broker under test (loopback or a lab network you own): HOST:PORT, mqtt://,
    /// mqtts://, ws:// or wss:// (see `mqttspec run --help`). Without it the embedded
    /// reference broker is fuzzed.
    #[arg(long, value_name = "ADDRESS")]
    pub broker: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Credentials: every CONNECT the fuzzer generates to be accepted, the mutated CONNECTs
    /// before mutation, and the liveness probe carry them; the reproducers record them.
    #[command(flatten)]
    pub login: LoginArgs,
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

/// How `mqttspec fuzz` failed.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// `--broker` does not resolve, or the TLS options cannot be used.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The broker's transport cannot be set up (refused, TLS or WebSocket handshake).
    #[error("{0}")]
    Endpoint(#[from] mqttspec_harness::transport::ConnectError),
    /// The arguments cannot be used together or are out of range.
    #[error("{0}")]
    Usage(String),
    /// The campaign could not run (runtime, broker not serving before the first round).
    #[error("{0}")]
    Harness(String),
    /// The campaign ran and found something.
    #[error("{count} finding(s); reproducers in {}", dir.display())]
    Findings {
        /// How many distinct findings.
        count: usize,
        /// Where their reproducers are.
        dir: PathBuf,
    },
}

impl FuzzArgs {
    /// The campaign settings these arguments describe.
    pub fn config(
        &self,
        seed: u64,
        credentials: Option<Credentials>,
    ) -> Result<CampaignConfig, FuzzError> {
        let protocols = parse_protocols(&self.protocol)
            .map_err(|e| FuzzError::Usage(format!("--protocol {}: {e}", self.protocol)))?;
        if self.clients == 0 || self.clients > 64 {
            return Err(FuzzError::Usage("--clients must be 1..=64".to_owned()));
        }
        if self.actions == 0 || self.actions > 10_000 {
            return Err(FuzzError::Usage("--actions must be 1..=10000".to_owned()));
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
        command.push_str(&self.login.command_line());
        Ok(CampaignConfig {
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
            credentials,
        })
    }

    /// Runs the campaign: exit 0 without findings, 1 with findings, 2 when it cannot run.
    pub fn run(&self) -> Result<(), FuzzError> {
        if self.broker.is_some() && !self.fault.is_empty() {
            return Err(FuzzError::Usage(
                "--fault needs the embedded reference broker: drop --broker".to_owned(),
            ));
        }
        let seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        let (profile, credentials) = self.login.load().map_err(FuzzError::Usage)?;
        let config = self.config(seed, credentials)?;
        let broker = self.tls.endpoint(self.broker.as_deref(), &profile.tls)?;
        let corpus = self.corpus.clone().or_else(Seeds::default_corpus_dir);
        let seeds = match &corpus {
            Some(dir) => Seeds::load(dir),
            None => Seeds::default(),
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
            .map_err(|e| FuzzError::Harness(format!("cannot start the runtime: {e}")))?;
        let report = rt.block_on(async {
            if let (Some(b), None) = (&broker, &self.broker_cmd) {
                endpoint::check(b, config.wait.max(Duration::from_secs(1))).await?;
            }
            let mut target = match broker {
                None => Target::embedded(&self.fault).await,
                Some(addr) => Target::external(addr, self.broker_cmd.clone()).await,
            }
            .map_err(FuzzError::Harness)?;
            let t = round::client_id(seed, u64::MAX, 0);
            let alive = round::probe(
                target.addr(),
                config.protocols[0],
                t,
                config.wait,
                Transcript::default(),
                false,
                config.credentials.as_ref(),
            )
            .await;
            if let Err(e) = alive {
                target.shutdown().await;
                return Err(FuzzError::Harness(format!(
                    "the broker does not serve a client before fuzzing: {e}"
                )));
            }
            let report = campaign::run(&mut target, &config, &seeds).await;
            target.shutdown().await;
            Ok(report)
        })?;
        crate::out!(
            "{}",
            summary_markdown(&report.header, &report.totals, &report.findings)
        );
        crate::outln!("\nReports: {}", self.out.display());
        if report.findings.is_empty() {
            Ok(())
        } else {
            Err(FuzzError::Findings {
                count: report.findings.len(),
                dir: self.out.join("findings"),
            })
        }
    }
}
