//! The runner: runs the selected cases on each selected protocol against one broker, with
//! bounded concurrency and time, and collects one [`CaseRun`] per case × protocol.
//!
//! Without a broker address it starts the reference broker in-process on `127.0.0.1:0`
//! (optionally with fault injection). It first probes the broker to discover its
//! capabilities ([`crate::profile::discover`]); cases requiring an absent capability are
//! UNSUPPORTED without running.
//!
//! Time bounds: every expectation inside a case has its own deadline (the response timeout,
//! 3 s by default), so a case normally ends well within its time limit (`--timeout`, 10 s).
//! A case that exceeds the limit anyway is ERROR, not FAIL: the limit only fires when the
//! case itself is slower than the harness allows (too many waits, or a broker trickling bytes
//! so that each wait nearly runs out), and the specification sets no overall time for a
//! scenario. The broker failing to send something the specification requires is caught by
//! the expectation's own deadline and is FAIL. A whole-run limit stops cases still waiting to
//! start (ERROR "run time limit reached").
//!
//! Each case runs in its own task: a case that panics is ERROR and does not stop the run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};
use mqttspec_codec::ProtocolVersion;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Entry, Transcript};
use crate::profile::{discover, Capabilities, Discovery, Profile};
use crate::scenario::ctx_base36;
use crate::scenario::{Case, CaseEnv, Ctx};
use crate::verdict::{Outcome, Verdict};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on a terminal, plain lines otherwise.
    Auto,
    /// One line per finished case on stderr.
    Plain,
    /// Nothing.
    Quiet,
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The broker under test; `None` starts the reference broker in-process.
    pub broker: Option<SocketAddr>,
    /// Protocols to run, in order.
    pub protocols: Vec<ProtocolVersion>,
    /// Selection: a case runs if any filter matches (id prefix, area, statement id); none
    /// selects all.
    pub filters: Vec<String>,
    /// How many cases run at once.
    pub jobs: usize,
    /// Time limit of one case.
    pub case_timeout: Duration,
    /// Time limit of the whole run (`None`: computed from the number of cases).
    pub run_timeout: Option<Duration>,
    /// The broker profile.
    pub profile: Profile,
    /// Reference-broker faults to inject (embedded broker only).
    pub faults: Vec<String>,
    /// Settings of the embedded broker (faults are added to them).
    pub embedded_config: mqttspec_reference_broker::Config,
    /// Progress display.
    pub progress: Progress,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            broker: None,
            protocols: vec![ProtocolVersion::V311, ProtocolVersion::V5],
            filters: Vec::new(),
            jobs: default_jobs(),
            case_timeout: Duration::from_secs(10),
            run_timeout: None,
            profile: Profile::default(),
            faults: Vec::new(),
            embedded_config: embedded_broker_config(),
            progress: Progress::Auto,
        }
    }
}

/// The user the embedded reference broker knows, so that the cases needing credentials or
/// enhanced authentication (SCRAM-SHA-256) run in the main job instead of being UNSUPPORTED.
/// Authentication stays optional: anonymous clients are accepted too.
pub const EMBEDDED_USER: (&str, &str) = ("mqttspec", "mqttspec-password");

/// The default settings of the embedded reference broker: its defaults plus
/// [`EMBEDDED_USER`].
pub fn embedded_broker_config() -> mqttspec_reference_broker::Config {
    mqttspec_reference_broker::Config {
        users: vec![mqttspec_reference_broker::config::User {
            username: EMBEDDED_USER.0.to_owned(),
            password: EMBEDDED_USER.1.to_owned(),
        }],
        ..mqttspec_reference_broker::Config::default()
    }
}

/// For the embedded broker, a profile without credentials gets those of the broker's first
/// user, and the enhanced authentication methods the broker offers.
fn complete_embedded_profile(profile: &mut Profile, broker: &mqttspec_reference_broker::Config) {
    if profile.credentials.is_none() {
        if let Some(user) = broker.users.first() {
            profile.credentials = Some(crate::profile::Credentials {
                username: user.username.clone(),
                password: Some(user.password.clone()),
            });
            if profile.features.enhanced_auth.is_none() {
                profile.features.enhanced_auth = Some(broker.authentication_methods.clone());
            }
        }
    }
}

/// The default concurrency: CPUs × 4 (cases wait on the network, not the CPU).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get()) * 4
}

/// The result of one case on one protocol.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// The case.
    pub case: Case,
    /// The protocol it ran on.
    pub protocol: ProtocolVersion,
    /// The verdict and its explanation.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
    /// Every byte of every client of the case.
    pub transcript: Vec<Entry>,
}

/// The broker a run talked to.
#[derive(Debug, Clone)]
pub struct BrokerInfo {
    /// Its address.
    pub address: SocketAddr,
    /// Whether it was the in-process reference broker.
    pub embedded: bool,
    /// Faults injected into the embedded broker.
    pub faults: Vec<String>,
    /// Capabilities in force.
    pub capabilities: Capabilities,
    /// Notes from the probe.
    pub notes: Vec<String>,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunResults {
    /// The broker.
    pub broker: BrokerInfo,
    /// Protocols run.
    pub protocols: Vec<ProtocolVersion>,
    /// One result per case × protocol, in registry order then protocol order.
    pub runs: Vec<CaseRun>,
    /// Wall time of the whole run.
    pub wall_time: Duration,
    /// When the run started (seconds since the Unix epoch).
    pub started_unix: u64,
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// The cases of `all` selected by `filters` (all when empty).
pub fn select(all: &[Case], filters: &[String]) -> Vec<Case> {
    all.iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.matches(f)))
        .copied()
        .collect()
}

/// A short token unique to this run (keeps topics and client ids apart between runs).
fn run_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mixed = nanos ^ (u64::from(std::process::id()) << 20);
    let mut t = ctx_base36(mixed % 36u64.pow(5), 5);
    t.truncate(5);
    t
}

/// Runs `cases` as configured.
pub async fn run(cases: &[Case], config: RunConfig) -> Result<RunResults, RunError> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if config.broker.is_some() && !config.faults.is_empty() {
        return Err(RunError(
            "--fault only works with the embedded reference broker (no --broker)".to_owned(),
        ));
    }
    let mut embedded = None;
    let mut config = config;
    if config.broker.is_none() {
        let broker = config.embedded_config.clone();
        complete_embedded_profile(&mut config.profile, &broker);
    }
    let address = match config.broker {
        Some(a) => a,
        None => {
            let mut broker_config = config.embedded_config.clone();
            broker_config.faults.extend(config.faults.iter().cloned());
            let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
            let b = mqttspec_reference_broker::shell::RunningBroker::start(addr, broker_config)
                .await
                .map_err(|e| RunError(format!("cannot start the reference broker: {e}")))?;
            let a = b.local_addr();
            embedded = Some(b);
            a
        }
    };
    let token = run_token();
    let probe_version = if config.protocols.contains(&ProtocolVersion::V5) {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    };
    let Discovery {
        capabilities,
        notes,
        ..
    } = discover(
        address,
        probe_version,
        &config.profile,
        &format!("ms{token}probe"),
    )
    .await
    .map_err(|e| RunError(e.to_string()))?;
    let caps = Arc::new(capabilities);
    let profile = Arc::new(config.profile.clone());

    let mut jobs: Vec<(usize, Case, ProtocolVersion)> = Vec::new();
    for case in cases {
        for v in &config.protocols {
            if case.protocols.includes(*v) {
                jobs.push((jobs.len(), *case, *v));
            }
        }
    }
    let parallel = config.jobs.max(1);
    let waves = jobs.len().div_ceil(parallel) as u32;
    let run_timeout = config
        .run_timeout
        .unwrap_or(config.case_timeout * waves.max(1) + Duration::from_secs(60));
    let run_deadline = started + run_timeout;
    let progress = ProgressDisplay::new(config.progress, jobs.len());

    let semaphore = Arc::new(Semaphore::new(parallel));
    let mut set = JoinSet::new();
    for (index, case, protocol) in jobs {
        let env = CaseEnv {
            broker: address,
            protocol,
            capabilities: caps.clone(),
            profile: profile.clone(),
            topic_prefix: format!("mqttspec/{token}/{}/{}/", case.id, protocol.label()),
            id_stem: format!("ms{token}{}", ctx_base36(index as u64, 4)),
            transcript: Transcript::new(std::time::Instant::now()),
        };
        let semaphore = semaphore.clone();
        let case_timeout = config.case_timeout;
        set.spawn(async move {
            let permit = semaphore.acquire_owned().await;
            let run = if Instant::now() >= run_deadline || permit.is_err() {
                CaseRun {
                    case,
                    protocol,
                    outcome: Outcome::error(format!(
                        "run time limit of {} s reached before the case started",
                        run_timeout.as_secs()
                    )),
                    duration: Duration::ZERO,
                    transcript: Vec::new(),
                }
            } else {
                let deadline = (Instant::now() + case_timeout).min(run_deadline);
                run_case(case, env, deadline).await
            };
            (index, run)
        });
    }
    let mut runs: Vec<(usize, CaseRun)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        // run_case catches the case's own panics; a panic here would be the runner's bug.
        if let Ok((index, run)) = joined {
            progress.finished(&run);
            runs.push((index, run));
        }
    }
    progress.done();
    runs.sort_by_key(|(i, _)| *i);
    if let Some(b) = embedded {
        b.stop().await;
    }
    Ok(RunResults {
        broker: BrokerInfo {
            address,
            embedded: config.broker.is_none(),
            faults: config.faults.clone(),
            capabilities: (*caps).clone(),
            notes,
        },
        protocols: config.protocols.clone(),
        runs: runs.into_iter().map(|(_, r)| r).collect(),
        wall_time: started.elapsed(),
        started_unix,
    })
}

/// Runs one case on one protocol with the given environment, until `deadline` at most.
pub async fn run_case(case: Case, env: CaseEnv, deadline: Instant) -> CaseRun {
    let start = Instant::now();
    let protocol = env.protocol;
    let transcript = env.transcript.clone();
    let missing = case
        .requires
        .iter()
        .find_map(|cap| env.capabilities.missing(cap));
    let outcome = if let Some(reason) = missing {
        Outcome::unsupported(reason)
    } else {
        let ctx = Ctx::new(env);
        let mut handle = tokio::spawn((case.run)(ctx.clone()));
        match tokio::time::timeout_at(deadline, &mut handle).await {
            Err(_) => {
                handle.abort();
                let limit = deadline.saturating_duration_since(start);
                transcript.event(
                    "",
                    format!("case stopped: time limit of {} ms", limit.as_millis()),
                );
                Outcome::error(format!(
                    "the case did not finish within its time limit of {} ms",
                    limit.as_millis()
                ))
            }
            Ok(Err(e)) => Outcome::error(format!("the case panicked: {}", panic_message(e))),
            Ok(Ok(Err(failure))) => failure.into_outcome(),
            Ok(Ok(Ok(outcome))) => {
                if outcome.verdict == Verdict::Pass && ctx.checks() == 0 {
                    Outcome::error("case observed nothing: it checked no broker behaviour")
                } else {
                    outcome
                }
            }
        }
    };
    CaseRun {
        case,
        protocol,
        outcome,
        duration: start.elapsed(),
        transcript: transcript.entries(),
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return "cancelled".to_owned();
    }
    let payload = e.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

struct ProgressDisplay {
    bar: Option<ProgressBar>,
    plain: bool,
    total: usize,
    done: std::sync::atomic::AtomicUsize,
}

impl ProgressDisplay {
    fn new(mode: Progress, total: usize) -> Self {
        use std::io::IsTerminal;
        let terminal = std::io::stderr().is_terminal();
        let bar = (mode == Progress::Auto && terminal).then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        ProgressDisplay {
            plain: mode == Progress::Plain || (mode == Progress::Auto && !terminal),
            bar,
            total,
            done: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn finished(&self, run: &CaseRun) {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let line = format!(
            "{:<13} {} ({}) {} ms",
            run.outcome.verdict.label(),
            run.case.id,
            run.protocol.label(),
            run.duration.as_millis()
        );
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if run.outcome.verdict.is_problem() {
                bar.println(&line);
            }
            bar.set_message(run.case.id.to_owned());
        } else if self.plain {
            eprintln!("[{n:>4}/{}] {line}", self.total);
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
