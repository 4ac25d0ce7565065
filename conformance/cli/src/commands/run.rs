//! `mqttspec run`: the cases against a broker, the reports and the baseline gate.
//!
//! `mqttspec run` without `--broker` tests the embedded reference broker twice over: every
//! case against its default settings, then the case runs that were UNSUPPORTED there against
//! a second embedded broker with the optional capabilities turned down (the restricted pass,
//! see [`mqttspec_harness::runner`]), so that the main job leaves no case UNSUPPORTED. Both sets of
//! verdicts go into the same reports, summary and gate; `--no-restricted` skips the second
//! pass.
//!
//! After the cases it measures the broker's practical limits ([`mqttspec_harness::limits`],
//! the same probe as `mqttspec probe`) for the reports' "Practical limits" section, all
//! INFORMATIONAL; `--no-limits` skips that.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqttspec_codec::ProtocolVersion;

use mqttspec_harness::address::AddressError;

use super::endpoint::TlsArgs;
use mqttspec_harness::limits::LimitsConfig;
use mqttspec_harness::profile::check_topic_prefix;
use mqttspec_harness::runner::{self, Pass, Progress, RunConfig};
use mqttspec_harness::transport::Scheme;
use mqttspec_harness::verdict::Verdict;

use crate::baseline::Baseline;
use crate::report::{Report, RESTRICTED_MARK};

/// The protocols chosen on the command line: `3.1.1`, `5` or `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocols(pub Vec<ProtocolVersion>);

pub(crate) fn parse_protocols(s: &str) -> Result<Protocols, String> {
    match s {
        "all" | "both" => Ok(Protocols(vec![ProtocolVersion::V311, ProtocolVersion::V5])),
        other => other.parse::<ProtocolVersion>().map(|v| Protocols(vec![v])),
    }
}

/// How `mqttspec run` failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--broker` does not resolve, or the TLS options cannot be used.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The arguments, profile or baseline cannot be used.
    #[error("{0}")]
    Usage(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The run itself could not happen (no broker listening, embedded broker not started).
    #[error("{0}")]
    Run(String),
    /// Reports could not be written.
    #[error("cannot write {what} to {}: {source}", dir.display())]
    Write {
        /// Which reports.
        what: &'static str,
        /// The `--out` folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The run completed and the gate failed (an unbaselined FAIL; with `--strict`, an
    /// unbaselined INCONCLUSIVE or ERROR).
    #[error("the gate failed (see the last line above)")]
    GateFailed,
    /// Nothing could be judged: no usable protocol version, no judged case.
    #[error("nothing could be judged: no usable broker (see the notes above)")]
    NothingJudged,
}

/// Arguments of `mqttspec run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The broker under test: HOST:PORT, mqtt://HOST[:PORT], mqtts://HOST[:PORT],
    /// ws://HOST[:PORT][/PATH] or wss://HOST[:PORT][/PATH] (path default /mqtt). Without it,
    /// the reference broker runs in-process.
    #[arg(long, value_name = "ADDRESS")]
    pub broker: Option<String>,
    /// With --broker: the shell command that starts the broker on that address. mqttspec
    /// starts it, restarts it when it stops serving (the case after which it did is named,
    /// the cases alongside run again one at a time, the rest go on against the fresh broker)
    /// and stops it at the end; the reports keep its exit status and last output lines.
    #[arg(long, value_name = "CMD", requires = "broker")]
    pub broker_cmd: Option<String>,
    /// How many times --broker-cmd's broker may be restarted; after that the cases left are
    /// INCONCLUSIVE.
    #[arg(long, value_name = "N", default_value_t = runner::DEFAULT_MAX_RESTARTS, requires = "broker_cmd")]
    pub max_restarts: usize,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Protocols to run.
    #[arg(long, value_name = "3.1.1|5|all", default_value = "all", value_parser = parse_protocols)]
    pub protocol: Protocols,
    /// Run only cases whose id starts with X, whose area is X, or which cite statement X
    /// (repeatable: any match selects).
    #[arg(long, value_name = "X")]
    pub filter: Vec<String>,
    /// Cases run at once (default: CPUs × 4).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Time limit of one case, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub timeout: u64,
    /// Time limit of the whole run, in seconds (default: from the number of cases).
    #[arg(long, value_name = "SECS")]
    pub run_timeout: Option<u64>,
    /// Broker profile (TOML): credentials, capability overrides, limits.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Expected non-passes (TOML); baselined results do not fail the run.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Directory for report.json, junit.xml, summary.md and report.html.
    #[arg(long, value_name = "DIR", default_value = "reports/latest")]
    pub out: PathBuf,
    /// Broker name shown in the reports.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Start the embedded reference broker with this fault (repeatable; no --broker).
    #[arg(long, value_name = "NAME")]
    pub fault: Vec<String>,
    /// Embedded broker only: the transport of the embedded reference broker: mqtt (plain
    /// TCP, the default), mqtts (TLS with a throwaway CA), ws or wss (WebSocket at /mqtt;
    /// the websocket. cases need ws or wss).
    #[arg(long, value_name = "SCHEME", value_parser = parse_transport, conflicts_with = "broker")]
    pub transport: Option<Scheme>,
    /// Embedded broker only: do not rerun the cases UNSUPPORTED on its default settings
    /// against a second, restricted embedded broker (Maximum QoS 1, Retain Available 0,
    /// Shared Subscription Available 0, a Server Keep Alive).
    #[arg(long)]
    pub no_restricted: bool,
    /// One line per finished case instead of a progress bar.
    #[arg(long, conflicts_with = "quiet")]
    pub plain: bool,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
    /// First levels of every test topic (default `mqttspec`, or the profile's
    /// `topic_prefix`): each case run's topics are `<prefix>/<unique token>/...`, built from
    /// letters and digits only.
    #[arg(long, value_name = "TOPIC")]
    pub topic_prefix: Option<String>,
    /// Also fail the gate (exit 1) on INCONCLUSIVE and ERROR runs not in the baseline.
    #[arg(long)]
    pub strict: bool,
    /// Do not measure the broker's practical limits after the cases (the reports' "Practical
    /// limits" section, as `mqttspec probe` does; bounded by 120 s).
    #[arg(long)]
    pub no_limits: bool,
    /// Run the suite N times and report every case whose verdict differs between runs, with
    /// the transcripts of both (repeat.md, repeat.json); the reports are those of the first run.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeat: u32,
}

/// `--transport`: a URL scheme (or its plain name).
pub(crate) fn parse_transport(s: &str) -> Result<Scheme, String> {
    match s.to_ascii_lowercase().as_str() {
        "mqtt" | "tcp" => Ok(Scheme::Tcp),
        "mqtts" | "tls" => Ok(Scheme::Tls),
        "ws" | "websocket" => Ok(Scheme::Ws),
        "wss" => Ok(Scheme::Wss),
        _ => Err(format!("`{s}`: expected mqtt, mqtts, ws or wss")),
    }
}

impl RunArgs {
    /// Runs the suite and writes the reports. Exit status: 1 when an unbaselined FAIL exists
    /// (whatever else happened); else 2 when nothing could be judged (no usable protocol
    /// version, no judged case); else 1 with `--strict` when an unbaselined INCONCLUSIVE or
    /// ERROR exists; else 0. An unreachable broker or bad arguments are 2 at once.
    pub fn run(&self) -> Result<(), RunError> {
        let profile =
            super::login::load_profile(self.profile.as_deref()).map_err(RunError::Usage)?;
        let broker = self.tls.endpoint(self.broker.as_deref(), &profile.tls)?;
        if broker.is_some() && !self.fault.is_empty() {
            return Err(RunError::Usage(
                "--fault needs the embedded reference broker: drop --broker".to_owned(),
            ));
        }
        let baseline = match &self.baseline {
            Some(p) => Baseline::load(p).map_err(RunError::Usage)?,
            None => Baseline::default(),
        };
        // Entries for other transports do not apply to this run.
        let transport = broker
            .as_ref()
            .map_or(self.transport.unwrap_or(Scheme::Tcp), |b| b.scheme());
        let baseline = baseline.for_transport(transport.as_str());
        let topic_prefix = self
            .topic_prefix
            .clone()
            .or_else(|| profile.topic_prefix.clone())
            .unwrap_or_else(|| runner::DEFAULT_TOPIC_PREFIX.to_owned());
        check_topic_prefix(&topic_prefix)
            .map_err(|e| RunError::Usage(format!("--topic-prefix {topic_prefix:?}: {e}")))?;
        if self.repeat == 0 {
            return Err(RunError::Usage("--repeat must be at least 1".to_owned()));
        }
        let mut protocols: Vec<ProtocolVersion> = Vec::new();
        for v in self.protocol.0.iter().copied() {
            if !protocols.contains(&v) {
                protocols.push(v);
            }
        }
        let all = mqttspec_cases::all();
        let cases = runner::select(&all, &self.filter);
        if cases.is_empty() {
            return Err(RunError::Usage(format!(
                "no case matches --filter {}",
                self.filter.join(", ")
            )));
        }
        let name = self
            .name
            .clone()
            .or_else(|| profile.name.clone())
            .unwrap_or_else(|| match &self.broker {
                Some(b) => b.clone(),
                None => "reference-broker".to_owned(),
            });
        let config = RunConfig {
            broker,
            broker_command: self.broker_cmd.clone(),
            max_restarts: self.max_restarts,
            protocols: protocols.clone(),
            filters: self.filter.clone(),
            jobs: self.jobs.unwrap_or_else(runner::default_jobs),
            case_timeout: Duration::from_secs(self.timeout.max(1)),
            run_timeout: self.run_timeout.map(Duration::from_secs),
            profile,
            faults: self.fault.clone(),
            restricted_pass: !self.no_restricted,
            embedded_transport: self.transport.unwrap_or(Scheme::Tcp),
            progress: if self.quiet {
                Progress::Quiet
            } else if self.plain {
                Progress::Plain
            } else {
                Progress::Auto
            },
            topic_prefix,
            limits: (!self.no_limits).then(|| LimitsConfig {
                protocols: protocols.clone(),
                ..LimitsConfig::default()
            }),
            ..RunConfig::default()
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(RunError::Runtime)?;
        let mut reports: Vec<Report> = Vec::new();
        let mut codes: Vec<u8> = Vec::new();
        for round in 0..self.repeat {
            let mut config = config.clone();
            if round > 0 {
                // The limits are measured once.
                config.limits = None;
            }
            let results = rt
                .block_on(runner::run(&cases, config))
                .map_err(|e| RunError::Run(e.to_string()))?;
            if round == 0 {
                eprintln!("transport: {}", results.broker.transport.describe());
                for line in version_lines(&results.broker) {
                    eprintln!("{line}");
                }
            }
            let report = Report::build(&results, &name, &baseline);
            codes.push(exit_code(&report, &results.broker, self.strict));
            reports.push(report);
        }
        let Some(report) = reports.first() else {
            return Err(RunError::Run("no run happened".to_owned()));
        };
        let mut written = report.write_all(&self.out).map_err(|e| RunError::Write {
            what: "reports",
            dir: self.out.clone(),
            source: e,
        })?;
        crate::out!("{}", console_summary(report));
        if reports.len() > 1 {
            let repeat = crate::repeat::compare(&reports);
            written.extend(repeat.write_all(&self.out).map_err(|e| RunError::Write {
                what: "repeat reports",
                dir: self.out.clone(),
                source: e,
            })?);
            crate::out!("{}", repeat.console());
        }
        for p in written {
            crate::outln!("wrote {}", p.display());
        }
        crate::outln!("{}", last_line(report, self.strict));
        let code = if codes.contains(&1) {
            1
        } else if codes.iter().all(|c| *c == 2) {
            2
        } else {
            0
        };
        match code {
            0 => Ok(()),
            1 => Err(RunError::GateFailed),
            _ => Err(RunError::NothingJudged),
        }
    }
}

/// The gate's exit status of one run: [`crate::baseline::Gate::exit_code`], and 2 when no
/// protocol version was usable and no unbaselined FAIL exists.
fn exit_code(report: &Report, broker: &runner::BrokerInfo, strict: bool) -> u8 {
    let code = report.gate.exit_code(strict);
    if code != 1 && !broker.any_version_usable() {
        2
    } else {
        code
    }
}

/// One stderr line per protocol version that was not usable.
fn version_lines(broker: &runner::BrokerInfo) -> Vec<String> {
    use mqttspec_harness::probe::VersionStatus;
    broker
        .versions
        .iter()
        .filter_map(|(v, s)| match s {
            VersionStatus::Usable => None,
            VersionStatus::Degraded(why) => Some(format!(
                "mqttspec: MQTT {v} at {}: the probe did not complete ({why}); the cases run",
                broker.address
            )),
            VersionStatus::Refused(why) => Some(format!(
                "mqttspec: MQTT {v} refused by {} ({why}): its cases are UNSUPPORTED",
                broker.address
            )),
            VersionStatus::Unusable(why) => Some(format!(
                "mqttspec: MQTT {v} unusable at {} ({why}): its cases are INCONCLUSIVE",
                broker.address
            )),
        })
        .collect()
}

/// The last line of `mqttspec run`: every count, and what the gate decided.
pub fn last_line(report: &Report, strict: bool) -> String {
    let s = &report.summary.by_verdict;
    let g = &report.gate;
    let code = report.gate.exit_code(strict);
    format!(
        "{}: {} case runs: {} PASS, {} FAIL ({} new), {} NON-STRICT, {} INFORMATIONAL, {} UNSUPPORTED, {} INCONCLUSIVE ({} new), {} ERROR ({} new), {} baselined; gate: {}",
        report.broker.name,
        report.summary.total,
        s.pass,
        s.fail,
        g.new_failures.len(),
        s.non_strict,
        s.informational,
        s.unsupported,
        s.inconclusive,
        g.new_inconclusive.len(),
        s.error,
        g.new_errors.len(),
        g.baselined.len(),
        match code {
            0 => "pass".to_owned(),
            1 if !g.new_failures.is_empty() => "FAIL (unbaselined conformance failures)".to_owned(),
            1 => "FAIL (--strict: unbaselined INCONCLUSIVE or ERROR)".to_owned(),
            _ => "nothing could be judged".to_owned(),
        }
    )
}

/// The summary printed at the end of `mqttspec run`.
pub fn console_summary(report: &Report) -> String {
    let mut out = String::new();
    for n in &report.broker.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    if let Some(r) = &report.broker.restricted {
        out.push_str(&format!("restricted pass: {}\n", r.describe()));
        for n in &r.notes {
            out.push_str(&format!("note (restricted broker): {n}\n"));
        }
    }
    // Runs not run because their protocol version was refused or unusable, or because the
    // broker stopped serving, are counted, not listed (the notes above say why).
    let not_run = |c: &&crate::report::CaseReport| {
        let version_refused = c.verdict == Verdict::Unsupported
            && c.actual
                .as_deref()
                .is_some_and(|a| a.starts_with(&format!("MQTT {}: ", c.protocol)));
        let not_served = c.verdict == Verdict::Inconclusive
            && matches!(
                c.precondition.as_deref(),
                Some("protocol-usable") | Some("broker-healthy")
            );
        (version_refused || not_served) && c.transcript.is_empty()
    };
    let skipped = report.cases.iter().filter(not_run).count();
    if skipped > 0 {
        out.push_str(&format!(
            "{skipped} case run(s) not run: protocol version refused or unusable, or the broker stopped serving (see the notes)\n"
        ));
    }
    for c in report
        .cases
        .iter()
        .filter(|c| c.verdict != Verdict::Pass && !not_run(c))
    {
        out.push_str(&format!(
            "{:<13} {} ({}){}{}",
            c.verdict.label(),
            c.id,
            c.protocol,
            if c.baselined.is_some() {
                " [baselined]"
            } else {
                ""
            },
            if c.pass == Pass::Restricted {
                format!(" [{RESTRICTED_MARK}]")
            } else {
                String::new()
            }
        ));
        match (&c.expected, &c.actual) {
            (Some(e), Some(a)) => {
                out.push_str(&format!("\n    expected: {e}\n    actual:   {a}\n"))
            }
            (None, Some(a)) => out.push_str(&format!("\n    {a}\n")),
            _ => out.push('\n'),
        }
    }
    out.push_str(&format!(
        "\nran in {:.1} s{}\n",
        report.wall_time_ms as f64 / 1000.0,
        match &report.broker.restricted {
            Some(r) => format!("; {} verdict(s) from the {RESTRICTED_MARK}", r.replaced),
            None => String::new(),
        }
    ));
    let g = &report.gate;
    for i in &g.now_passing {
        out.push_str(&format!(
            "baselined but now passing (remove it from the baseline): {} ({})\n",
            i.case, i.protocol
        ));
    }
    for e in &g.unused_entries {
        out.push_str(&format!("baseline entry matches no case that ran: {e}\n"));
    }
    out
}
