//! The runner: runs the selected cases on each selected protocol against a broker, with
//! bounded concurrency and time, and collects one [`CaseRun`] per case × protocol.
//!
//! Without a broker address it starts the reference broker in-process on `127.0.0.1:0`
//! (optionally with fault injection). It first probes the broker to discover its
//! capabilities ([`crate::profile::discover`]); cases requiring an absent capability are
//! UNSUPPORTED without running.
//!
//! With [`RunConfig::limits`] set, the main broker's practical limits are measured after
//! the main pass ([`crate::limits`], on the usable protocol versions only, with the run's
//! profile) and returned in [`RunResults::limits`]; the reports show them as INFORMATIONAL.
//!
//! ## The restricted pass (embedded broker only)
//!
//! The embedded broker's default settings ([`embedded_broker_config`]) offer every
//! capability, so the cases about a broker that declares a capability absent (Maximum QoS
//! below 2, Retain Available 0, Shared Subscription Available 0, a Server Keep Alive) end
//! UNSUPPORTED there. After the main pass, every case run that ended UNSUPPORTED is run again
//! against a second embedded reference broker with [`restricted_broker_config`] (same users,
//! authentication methods and faults; the capabilities turned down). When the rerun reaches
//! another verdict, that verdict replaces the UNSUPPORTED one, marked [`Pass::Restricted`]
//! with the main pass's reason kept ([`CaseRun::main_outcome`]); a rerun that is UNSUPPORTED
//! as well leaves the main result in place. The reports say which broker configuration
//! produced each verdict. The pass is skipped with `--broker` (the harness cannot
//! reconfigure a broker it did not start) and when [`RunConfig::restricted_pass`] is off.
//!
//! Time bounds: every expectation inside a case has its own deadline (the response timeout,
//! 3 s by default), so a case normally ends well within its time limit (`--timeout`, 10 s).
//! A case that exceeds the limit anyway is ERROR, not FAIL: the limit only fires when the
//! case itself is slower than the harness allows (too many waits, or a broker trickling bytes
//! so that each wait nearly runs out), and the specification sets no overall time for a
//! scenario. The broker failing to send something the specification requires is caught by
//! the expectation's own deadline and is FAIL. A whole-run limit stops cases still waiting to
//! start (ERROR "run time limit reached"); when it is computed (no `--run-timeout`), each
//! pass gets its own, from its number of cases.
//!
//! Each case runs in its own task: a case that panics is ERROR and does not stop the run.
//!
//! ## A broker that stops serving
//!
//! A health probe follows every case ([`health`]). When it fails, the case after which it did
//! is named and the runs alongside end INCONCLUSIVE. With [`RunConfig::broker_command`]
//! (`--broker-cmd`) the runner then restarts the broker and the remaining cases run against
//! the fresh one; after the pass, the named case and the runs alongside it run again one at
//! a time ([`CaseRun::rerun`] says so), so that the case that stops the broker by itself is
//! named alone and the others get their own verdicts. Without a command, the cases after it
//! run only if the broker serves again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::embedded::EmbeddedBroker;
use indicatif::{ProgressBar, ProgressStyle};
use mqttspec_codec::ProtocolVersion;
use mqttspec_reference_broker::Config as BrokerConfig;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Entry, Transcript};
use crate::limits::{LimitsConfig, LimitsReport};
use crate::probe::{self, VersionStatus};
use crate::profile::{Capabilities, Profile};
use crate::scenario::ctx_base36;
use crate::scenario::{Case, CaseEnv, Ctx, Observations};
use crate::transport::{self, Endpoint, Scheme, TransportInfo};
use crate::verdict::{Outcome, Precondition, Verdict};

pub mod health;

use crate::broker_process::BrokerProcess;
pub use health::StoppedServing;

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
    /// The broker under test (address and transport); `None` starts the reference broker
    /// in-process.
    pub broker: Option<Endpoint>,
    /// With [`RunConfig::broker`]: the shell command that starts that broker (`--broker-cmd`).
    /// The runner starts it before the probes, restarts it when it stops serving (see
    /// [`health`]) and stops it at the end.
    pub broker_command: Option<String>,
    /// How many times the runner may restart the broker of [`RunConfig::broker_command`].
    pub max_restarts: usize,
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
    /// Reference-broker faults to inject (embedded broker only; both embedded brokers get
    /// them).
    pub faults: Vec<String>,
    /// Settings of the embedded broker (faults are added to them).
    pub embedded_config: BrokerConfig,
    /// The transport of the embedded brokers (plain TCP by default; TLS and WebSocket use
    /// the reference broker's own listeners, see [`crate::embedded`]).
    pub embedded_transport: Scheme,
    /// Embedded broker only: rerun the case runs UNSUPPORTED on it against a second embedded
    /// broker with [`restricted_broker_config`] of `embedded_config` (see the module docs).
    pub restricted_pass: bool,
    /// Progress display.
    pub progress: Progress,
    /// The first levels of every test topic (`--topic-prefix`, default `mqttspec`): each
    /// case run's topics are `<prefix>/<unique token>/...`.
    pub topic_prefix: String,
    /// Run a health probe (CONNECT + PINGREQ) after each case (see the module docs).
    pub health_probe: bool,
    /// After the cases, measure the broker's practical limits ([`crate::limits`]) on the
    /// usable protocol versions, with the run's profile; `None` skips it.
    pub limits: Option<LimitsConfig>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            broker: None,
            broker_command: None,
            max_restarts: DEFAULT_MAX_RESTARTS,
            protocols: vec![ProtocolVersion::V311, ProtocolVersion::V5],
            filters: Vec::new(),
            jobs: default_jobs(),
            case_timeout: Duration::from_secs(10),
            run_timeout: None,
            profile: Profile::default(),
            faults: Vec::new(),
            embedded_config: embedded_broker_config(),
            embedded_transport: Scheme::Tcp,
            restricted_pass: true,
            progress: Progress::Auto,
            topic_prefix: DEFAULT_TOPIC_PREFIX.to_owned(),
            health_probe: true,
            limits: None,
        }
    }
}

/// The default of [`RunConfig::max_restarts`].
pub const DEFAULT_MAX_RESTARTS: usize = 20;

/// The default first level of every test topic.
pub const DEFAULT_TOPIC_PREFIX: &str = "mqttspec";

/// The user the embedded reference broker knows, so that the cases needing credentials or
/// enhanced authentication (SCRAM-SHA-256) run in the main job instead of being UNSUPPORTED.
/// Authentication stays optional: anonymous clients are accepted too.
pub const EMBEDDED_USER: (&str, &str) = ("mqttspec", "mqttspec-password");

/// The default settings of the embedded reference broker: its defaults plus
/// [`EMBEDDED_USER`].
pub fn embedded_broker_config() -> BrokerConfig {
    BrokerConfig {
        users: vec![mqttspec_reference_broker::config::User {
            username: EMBEDDED_USER.0.to_owned(),
            password: EMBEDDED_USER.1.to_owned(),
        }],
        ..BrokerConfig::default()
    }
}

/// The Server Keep Alive (seconds) of the restricted embedded broker: short enough for
/// `keepalive.server-keep-alive-enforced` to wait for, long enough for the other reruns.
pub const RESTRICTED_SERVER_KEEP_ALIVE: u16 = 2;

/// The settings of the restricted embedded broker of the second pass: `base` (users,
/// authentication methods, limits, faults) with Maximum QoS 1, Retain Available 0, Shared
/// Subscription Available 0 and a Server Keep Alive of [`RESTRICTED_SERVER_KEEP_ALIVE`] s.
///
/// Wildcard and Subscription Identifier subscriptions stay available: no case needs them
/// absent, and the reruns subscribe with them.
pub fn restricted_broker_config(base: &BrokerConfig) -> BrokerConfig {
    BrokerConfig {
        maximum_qos: base.maximum_qos.min(1),
        retain_available: false,
        shared_subscription_available: false,
        server_keep_alive: Some(RESTRICTED_SERVER_KEEP_ALIVE),
        ..base.clone()
    }
}

/// The server capabilities in which `restricted` differs from `base`, in the spec's words
/// ("Maximum QoS 1", "Retain Available 0", ...): how the reports describe the restricted
/// broker.
pub fn capability_differences(base: &BrokerConfig, restricted: &BrokerConfig) -> Vec<String> {
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut out = Vec::new();
    if base.maximum_qos != restricted.maximum_qos {
        out.push(format!("Maximum QoS {}", restricted.maximum_qos));
    }
    let flags = [
        (
            "Retain Available",
            base.retain_available,
            restricted.retain_available,
        ),
        (
            "Wildcard Subscription Available",
            base.wildcard_subscription_available,
            restricted.wildcard_subscription_available,
        ),
        (
            "Subscription Identifier Available",
            base.subscription_identifier_available,
            restricted.subscription_identifier_available,
        ),
        (
            "Shared Subscription Available",
            base.shared_subscription_available,
            restricted.shared_subscription_available,
        ),
    ];
    for (name, b, r) in flags {
        if b != r {
            out.push(format!("{name} {}", flag(r)));
        }
    }
    if base.server_keep_alive != restricted.server_keep_alive {
        out.push(match restricted.server_keep_alive {
            Some(k) => format!("Server Keep Alive {k} s"),
            None => "no Server Keep Alive".to_owned(),
        });
    }
    if base.topic_alias_maximum != restricted.topic_alias_maximum {
        out.push(format!(
            "Topic Alias Maximum {}",
            restricted.topic_alias_maximum
        ));
    }
    if base.receive_maximum != restricted.receive_maximum {
        out.push(format!("Receive Maximum {}", restricted.receive_maximum));
    }
    if base.maximum_packet_size != restricted.maximum_packet_size {
        out.push(format!(
            "Maximum Packet Size {}",
            restricted.maximum_packet_size
        ));
    }
    out
}

/// For the embedded broker, a profile without credentials gets those of the broker's first
/// user, and the enhanced authentication methods the broker offers.
fn complete_embedded_profile(profile: &mut Profile, broker: &BrokerConfig) {
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

/// Which broker a result came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pass {
    /// The broker under test: the one given with `--broker`, or the embedded reference
    /// broker with its default settings.
    #[default]
    Main,
    /// The second embedded reference broker, with [`restricted_broker_config`]: it reruns
    /// the case runs that were UNSUPPORTED in the main pass.
    Restricted,
}

impl Pass {
    /// `main` or `restricted`.
    pub fn label(self) -> &'static str {
        match self {
            Pass::Main => "main",
            Pass::Restricted => "restricted",
        }
    }
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
    /// The broker that produced this result.
    pub pass: Pass,
    /// For a result of the restricted pass: the UNSUPPORTED outcome of the main pass that it
    /// replaces. `None` for results of the main pass.
    pub main_outcome: Option<Outcome>,
    /// Why this result comes from a second run of the case, alone, after a broker restart
    /// (the first ran alongside a case after which the broker stopped serving); `None` for a
    /// first run.
    pub rerun: Option<String>,
}

/// The broker a run talked to.
#[derive(Debug, Clone)]
pub struct BrokerInfo {
    /// Its address.
    pub address: Endpoint,
    /// The transport of the run and what it negotiated (TLS version, cipher suite, WebSocket
    /// subprotocol), from a connection opened before the probes.
    pub transport: TransportInfo,
    /// Whether it was the in-process reference broker.
    pub embedded: bool,
    /// Faults injected into the embedded broker.
    pub faults: Vec<String>,
    /// Capabilities in force.
    pub capabilities: Capabilities,
    /// Notes from the probe (and about the restricted pass).
    pub notes: Vec<String>,
    /// The restricted embedded broker, when the restricted pass ran.
    pub restricted: Option<RestrictedInfo>,
    /// What the probe of each protocol version found.
    pub versions: Vec<(ProtocolVersion, VersionStatus)>,
    /// The case after which the broker stopped serving (health probe) and was not brought
    /// back; `None` while it kept serving or was restarted.
    pub unhealthy_after: Option<String>,
    /// The command that started the broker (`--broker-cmd`), when the runner started it.
    pub command: Option<String>,
    /// Every time the broker stopped serving, in order (main pass, then the reruns alone).
    pub stopped_serving: Vec<StoppedServing>,
}

impl BrokerInfo {
    /// Whether any protocol version was usable (else nothing could be judged).
    pub fn any_version_usable(&self) -> bool {
        self.versions.iter().any(|(_, s)| s.is_usable())
    }
}

/// The restricted embedded broker of the second pass.
#[derive(Debug, Clone)]
pub struct RestrictedInfo {
    /// Its address.
    pub address: Endpoint,
    /// How its settings differ from the main embedded broker's
    /// ([`capability_differences`]).
    pub settings: Vec<String>,
    /// Capabilities in force (from its CONNACK and the profile).
    pub capabilities: Capabilities,
    /// Notes from its probe.
    pub notes: Vec<String>,
    /// How many case runs it ran (all UNSUPPORTED in the main pass), including those whose
    /// rerun was UNSUPPORTED too and left the main result in place.
    pub reruns: usize,
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
    /// The broker's practical limits, when [`RunConfig::limits`] asked for them.
    pub limits: Option<LimitsReport>,
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

/// A broker the cases of one pass run against: its address, its capabilities as probed,
/// and the embedded broker to stop afterwards, if the harness started one.
struct Target {
    address: Endpoint,
    transport: TransportInfo,
    embedded: Option<EmbeddedBroker>,
    capabilities: Arc<Capabilities>,
    notes: Vec<String>,
    versions: Vec<(ProtocolVersion, VersionStatus)>,
    /// Whether a health probe after each case can tell anything (not when every connection
    /// fails its WebSocket handshake).
    health: bool,
    /// The broker process the runner started (`--broker-cmd`), which it may restart.
    process: Option<Arc<tokio::sync::Mutex<BrokerProcess>>>,
}

impl Target {
    /// Starts the embedded broker with `embedded` settings unless `external` is given, and
    /// probes each of `protocols` ([`probe::probe_version`]). Capabilities come from the
    /// MQTT 5.0 CONNACK when 5.0 is usable (the profile overrides them).
    async fn start(
        external: Option<Endpoint>,
        command: Option<&str>,
        embedded: &BrokerConfig,
        embedded_transport: Scheme,
        profile: &Profile,
        protocols: &[ProtocolVersion],
        probe_client_id: &str,
    ) -> Result<Target, RunError> {
        let mut process = None;
        let (address, broker) = match external {
            Some(a) => {
                if let Some(command) = command {
                    let p = BrokerProcess::start(command, a.clone())
                        .await
                        .map_err(|e| RunError(format!("cannot start the broker: {e}")))?;
                    process = Some(Arc::new(tokio::sync::Mutex::new(p)));
                }
                (a, None)
            }
            None => {
                let b = EmbeddedBroker::start(embedded.clone(), embedded_transport)
                    .await
                    .map_err(RunError)?;
                (b.endpoint().clone(), Some(b))
            }
        };
        // One connection first, without MQTT: a misconfigured endpoint (wrong CA, TLS on a
        // plain port, a wrong WebSocket path, nothing listening) stops the run with one line,
        // and a good one tells the report what the transport negotiated.
        let limit = profile.response_timeout().max(Duration::from_secs(1));
        let transport = match transport::connect(&address, limit).await {
            Ok((conn, info)) => {
                conn.abort();
                info
            }
            Err(e) if e.is_refused() => {
                return Err(RunError(format!("nothing is listening at {address}: {e}")))
            }
            // A WebSocket server that selects no `mqtt` subprotocol breaks MQTT-6.0.0-4: that
            // is a verdict (websocket.subprotocol-selected FAILs), not a setup problem. Every
            // connection fails the same way, so nothing is probed and the other cases end
            // INCONCLUSIVE.
            Err(transport::ConnectError::Ws {
                failure: transport::WsFailure::Subprotocol,
                reason,
                ..
            }) => {
                let mut t =
                    Target::without_subprotocol(address, broker, profile, protocols, &reason);
                t.process = process;
                return Ok(t);
            }
            Err(e) => return Err(RunError(e.to_string())),
        };
        // On error the embedded broker is dropped, which shuts it down.
        let mut versions = Vec::new();
        let mut notes = Vec::new();
        let mut capabilities = Capabilities::default();
        // All versions at once: an unusable broker costs one timeout, not one per version.
        let mut probes = JoinSet::new();
        for (i, v) in protocols.iter().copied().enumerate() {
            let (profile, id) = (profile.clone(), format!("{probe_client_id}{i}"));
            let address = address.clone();
            probes
                .spawn(async move { (i, probe::probe_version(&address, v, &profile, &id).await) });
        }
        let mut found_all = Vec::new();
        while let Some(done) = probes.join_next().await {
            found_all.push(done.map_err(|e| RunError(format!("the probe failed: {e}")))?);
        }
        found_all.sort_by_key(|(i, _)| *i);
        for (v, (_, found)) in protocols.iter().zip(found_all) {
            let found = found.map_err(|e| RunError(e.to_string()))?;
            match &found.status {
                VersionStatus::Usable => {
                    if v.is_v5() {
                        if let Some(ack) = &found.connack {
                            capabilities = Capabilities::from_connack(ack);
                        }
                    }
                }
                VersionStatus::Degraded(why) => notes.push(format!(
                    "MQTT {v}: the probe did not complete ({why}): the cases run; most will be INCONCLUSIVE"
                )),
                VersionStatus::Refused(why) => notes.push(format!(
                    "MQTT {v}: refused the way the specification says ({why}): its cases are UNSUPPORTED"
                )),
                VersionStatus::Unusable(why) => notes.push(format!(
                    "MQTT {v}: unusable ({why}): its cases are INCONCLUSIVE"
                )),
            }
            versions.push((*v, found.status));
        }
        let mut capabilities = capabilities.with_profile(profile);
        capabilities.websocket = address.scheme().is_websocket();
        Ok(Target {
            address,
            transport,
            embedded: broker,
            capabilities: Arc::new(capabilities),
            notes,
            versions,
            health: true,
            process,
        })
    }

    /// A WebSocket broker whose handshake selects no `mqtt` subprotocol: the cases run
    /// (unprobed) so that the one checking the subprotocol gives its verdict.
    fn without_subprotocol(
        address: Endpoint,
        embedded: Option<EmbeddedBroker>,
        profile: &Profile,
        protocols: &[ProtocolVersion],
        reason: &str,
    ) -> Target {
        let why = format!("every WebSocket handshake fails: {reason}");
        let mut capabilities = Capabilities::default().with_profile(profile);
        capabilities.websocket = true;
        Target {
            transport: TransportInfo {
                transport: address.scheme().as_str().to_owned(),
                endpoint: address.to_string(),
                ..TransportInfo::default()
            },
            address,
            embedded,
            capabilities: Arc::new(capabilities),
            notes: vec![format!(
                "{why}: the cases run unprobed; all but websocket.subprotocol-selected will be INCONCLUSIVE"
            )],
            versions: protocols
                .iter()
                .map(|v| (*v, VersionStatus::Degraded(why.clone())))
                .collect(),
            health: false,
            process: None,
        }
    }

    /// The version a health probe after a case of `v` uses, and what the probe found for it
    /// at the start: `v` when the broker serves it, else the first version it serves.
    fn health_version(&self, v: ProtocolVersion) -> (ProtocolVersion, VersionStatus) {
        let own = self.status(v);
        if own.is_usable() {
            return (v, own);
        }
        self.versions
            .iter()
            .find(|(_, s)| s.is_usable())
            .map_or((v, own), |(p, s)| (*p, s.clone()))
    }

    /// What the probe found for `v` (usable when it was not probed).
    fn status(&self, v: ProtocolVersion) -> VersionStatus {
        self.versions
            .iter()
            .find(|(p, _)| *p == v)
            .map_or(VersionStatus::Usable, |(_, s)| s.clone())
    }

    async fn stop(self) {
        if let Some(b) = self.embedded {
            b.stop().await;
        }
        if let Some(p) = self.process {
            p.lock().await.stop().await;
        }
    }
}

/// What every case run of a run shares.
struct Shared {
    token: String,
    profile: Arc<Profile>,
    case_timeout: Duration,
    parallel: usize,
    run_timeout: Option<Duration>,
    started: Instant,
    progress: ProgressDisplay,
    topic_prefix: String,
    health_probe: bool,
    protocols: Vec<ProtocolVersion>,
    /// The transport of the embedded brokers.
    embedded_transport: Scheme,
    /// Whether the broker serves, the incidents, the restarts.
    health: health::Health,
    /// How many times the broker may be restarted (`--broker-cmd`).
    max_restarts: usize,
}

impl Shared {
    /// The whole-run deadline of a pass of `jobs` case runs, `parallel` at once, starting
    /// now: the given `--run-timeout` from the start of the run, or one computed for this
    /// pass (with time for the broker restarts the pass may need).
    fn deadline(&self, jobs: usize, parallel: usize, restarts: bool) -> (Instant, Duration) {
        match self.run_timeout {
            Some(limit) => (self.started + limit, limit),
            None => {
                let waves = jobs.div_ceil(parallel.max(1)) as u32;
                let mut limit = self.case_timeout * waves.max(1) + Duration::from_secs(60);
                if restarts {
                    let each = self.case_timeout + crate::broker_process::START_TIMEOUT;
                    limit += each * u32::try_from(self.max_restarts).unwrap_or(u32::MAX);
                }
                (Instant::now() + limit, limit)
            }
        }
    }
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
    if config.broker.is_none() && config.broker_command.is_some() {
        return Err(RunError(
            "--broker-cmd needs --broker: the address the started broker listens on".to_owned(),
        ));
    }
    let mut config = config;
    let mut main_config = config.embedded_config.clone();
    if config.broker.is_none() {
        complete_embedded_profile(&mut config.profile, &main_config);
        main_config.faults.extend(config.faults.iter().cloned());
    }
    let token = run_token();

    let mut jobs: Vec<(usize, Case, ProtocolVersion)> = Vec::new();
    for case in cases {
        for v in &config.protocols {
            if case.protocols().includes(*v) {
                jobs.push((jobs.len(), *case, *v));
            }
        }
    }
    let shared = Arc::new(Shared {
        profile: Arc::new(config.profile.clone()),
        case_timeout: config.case_timeout,
        parallel: config.jobs.max(1),
        run_timeout: config.run_timeout,
        started,
        progress: ProgressDisplay::new(config.progress, jobs.len()),
        token: token.clone(),
        topic_prefix: config.topic_prefix.trim_end_matches('/').to_owned(),
        health_probe: config.health_probe,
        protocols: config.protocols.clone(),
        embedded_transport: config.embedded_transport,
        health: health::Health::default(),
        max_restarts: config.max_restarts,
    });

    let main = Target::start(
        config.broker.clone(),
        config.broker_command.as_deref(),
        &main_config,
        config.embedded_transport,
        &config.profile,
        &config.protocols,
        &format!("ms{token}probe"),
    )
    .await?;
    let (first, stops) = run_pass(&shared, &main, jobs, Pass::Main, shared.parallel).await;
    let mut runs: Vec<CaseRun> = first.into_iter().map(|(_, r)| r).collect();
    let mut again: Vec<usize> = Vec::new();
    let mut stopped_serving: Vec<StoppedServing> = Vec::new();
    for (stop, alongside) in stops {
        again.push(stop.index);
        again.extend(alongside);
        stopped_serving.push(stop.record);
    }
    if let Some(process) = &main.process {
        if !again.is_empty() && !shared.health.gave_up() {
            let alone = rerun_alone(&shared, &main, &mut runs, again).await;
            stopped_serving.extend(alone);
        }
        // The limits probe below needs a serving broker.
        if shared.health.is_down() {
            let generation = *shared.health.generation().read().await;
            health::restart(&shared.health, process, generation, shared.max_restarts).await;
        }
    }
    let address = main.address.clone();
    let transport = main.transport.clone();
    let capabilities = (*main.capabilities).clone();
    let mut notes = main.notes.clone();
    let versions = main.versions.clone();
    let limits = match &config.limits {
        Some(l) => {
            let mut l = l.clone();
            l.profile = config.profile.clone();
            l.protocols
                .retain(|v| versions.iter().any(|(x, s)| x == v && s.is_usable()));
            Some(crate::limits::probe(&address, &l).await)
        }
        None => None,
    };
    // The command the runner started the broker with (none for an embedded broker).
    let command = main.process.as_ref().and(config.broker_command.clone());
    main.stop().await;
    let unhealthy_after = stopped_serving
        .iter()
        .rev()
        .find(|s| !s.restarted)
        .map(StoppedServing::after);
    notes.extend(stopped_serving.iter().map(StoppedServing::note));

    let restricted = if config.broker.is_none() && config.restricted_pass {
        rerun_restricted(&shared, &mut runs, &main_config)
            .await
            .unwrap_or_else(|e| {
                notes.push(e);
                None
            })
    } else {
        None
    };
    check_pointers(&mut runs);
    shared.progress.done();
    Ok(RunResults {
        broker: BrokerInfo {
            address,
            transport,
            embedded: config.broker.is_none(),
            faults: config.faults.clone(),
            capabilities,
            notes,
            restricted,
            versions,
            unhealthy_after,
            command,
            stopped_serving,
        },
        protocols: config.protocols.clone(),
        runs,
        wall_time: started.elapsed(),
        started_unix,
        limits,
    })
}

/// After a main pass in which the broker stopped serving and was restarted: the case after
/// which it stopped and the runs alongside it run again, one at a time, each followed by a
/// health probe (and a restart when it fails). A case that stops the broker by itself is
/// then named alone; the others get the verdict they reach without it. Each rerun replaces
/// its first result, which [`CaseRun::rerun`] describes. Returns the times the broker
/// stopped serving during the reruns.
async fn rerun_alone(
    shared: &Arc<Shared>,
    target: &Target,
    runs: &mut [CaseRun],
    mut indices: Vec<usize>,
) -> Vec<StoppedServing> {
    indices.sort_unstable();
    indices.dedup();
    let again: Vec<(usize, Case, ProtocolVersion)> = indices
        .into_iter()
        .filter_map(|i| runs.get(i).map(|r| (i, r.case, r.protocol)))
        .collect();
    if again.is_empty() {
        return Vec::new();
    }
    shared.progress.add(again.len());
    let (done, stops) = run_pass(shared, target, again, Pass::Main, 1).await;
    for (index, rerun) in done {
        if let Some(slot) = runs.get_mut(index) {
            let first = std::mem::replace(slot, rerun);
            slot.rerun = Some(format!(
                "run again alone after the broker was restarted; the first run, alongside other cases, ended {}{}",
                first.outcome.verdict,
                first
                    .outcome
                    .actual
                    .map(|a| format!(": {a}"))
                    .unwrap_or_default()
            ));
        }
    }
    stops.into_iter().map(|(s, _)| s.record).collect()
}

/// The restricted pass: reruns the UNSUPPORTED results of `runs` against a broker with
/// [`restricted_broker_config`] of `main_config`, and puts each rerun that reached another
/// verdict in place of its main result. `None` when nothing was UNSUPPORTED; a note for the
/// report when the restricted broker could not be started or probed.
async fn rerun_restricted(
    shared: &Arc<Shared>,
    runs: &mut [CaseRun],
    main_config: &BrokerConfig,
) -> Result<Option<RestrictedInfo>, String> {
    let again: Vec<(usize, Case, ProtocolVersion)> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.outcome.verdict == Verdict::Unsupported)
        .map(|(i, r)| (i, r.case, r.protocol))
        .collect();
    if again.is_empty() {
        return Ok(None);
    }
    let reruns = again.len();
    let config = restricted_broker_config(main_config);
    let target = Target::start(
        None,
        None,
        &config,
        shared.embedded_transport,
        &shared.profile,
        &shared.protocols,
        &format!("ms{}prob2", shared.token),
    )
    .await
    .map_err(|e| {
        format!("the restricted pass did not run ({e}): its {reruns} case run(s) stay UNSUPPORTED")
    })?;
    shared.progress.add(reruns);
    let (done, stops) = run_pass(shared, &target, again, Pass::Restricted, shared.parallel).await;
    for (index, rerun) in done {
        if rerun.outcome.verdict == Verdict::Unsupported {
            continue;
        }
        if let Some(slot) = runs.get_mut(index) {
            let main_outcome = std::mem::replace(slot, rerun).outcome;
            slot.main_outcome = Some(main_outcome);
        }
    }
    let mut notes = target.notes.clone();
    notes.extend(stops.iter().map(|(s, _)| s.record.note()));
    let info = RestrictedInfo {
        address: target.address.clone(),
        settings: capability_differences(main_config, &config),
        capabilities: (*target.capabilities).clone(),
        notes,
        reruns,
    };
    target.stop().await;
    Ok(Some(info))
}

/// Runs `jobs` (index, case, protocol) against `target`, at most `parallel` at once;
/// returns the results with their indices, in index order, and the times the broker stopped
/// serving, each with the indices of the runs alongside (see [`health::mark_alongside`]).
///
/// Runs of a protocol version the probe found refused are UNSUPPORTED (except the `version.`
/// cases, which judge the refusal), of one it found unusable INCONCLUSIVE, without running.
/// After each case a health probe runs (when enabled): a failure marks the case after which
/// the broker stopped serving, and the runs that overlapped it end INCONCLUSIVE ("the broker
/// still serving after the cases alongside"). Then the runner restarts the broker when it
/// started it; otherwise every later run ends INCONCLUSIVE too unless the broker serves
/// again (see [`health`]).
///
/// `parallel == 1` is a pass of runs made one at a time (the reruns alone after a broker
/// restart when `pass` is [`Pass::Main`] and the run used more): their topics and Client
/// Identifiers differ from those of the first runs with the same indices.
async fn run_pass(
    shared: &Arc<Shared>,
    target: &Target,
    jobs: Vec<(usize, Case, ProtocolVersion)>,
    pass: Pass,
    parallel: usize,
) -> (Vec<(usize, CaseRun)>, Vec<(health::Stop, Vec<usize>)>) {
    let alone = parallel == 1;
    let rerun = alone && shared.parallel > 1;
    let restarts = target.process.is_some();
    let (run_deadline, run_timeout) = shared.deadline(jobs.len(), parallel, restarts);
    let semaphore = Arc::new(Semaphore::new(parallel.max(1)));
    shared.health.start_pass(alone);
    let mut set = JoinSet::new();
    for (index, case, protocol) in jobs {
        // A rerun's Client Identifiers must not meet the sessions of its first run: its
        // index is shifted past any first run's (four base-36 digits hold both).
        let id_index = if rerun {
            index + RERUN_ID_OFFSET
        } else {
            index
        };
        let env = CaseEnv {
            broker: target.address.clone(),
            protocol,
            capabilities: target.capabilities.clone(),
            profile: shared.profile.clone(),
            topic_prefix: format!(
                "{}/{}{}{}/",
                shared.topic_prefix,
                shared.token,
                match (pass, rerun) {
                    (Pass::Main, false) => "m",
                    (Pass::Main, true) => "a",
                    (Pass::Restricted, _) => "r",
                },
                ctx_base36(index as u64, 4)
            ),
            id_stem: format!("ms{}{}", shared.token, ctx_base36(id_index as u64, 4)),
            transcript: Transcript::new(std::time::Instant::now()),
        };
        let semaphore = semaphore.clone();
        let case_timeout = shared.case_timeout;
        let status = target.status(protocol);
        // The health probe speaks a version the broker serves: the case's own, or (for the
        // `version.` cases run on a refused version) the first usable one.
        let (health_version, health_status) = target.health_version(protocol);
        let shared = shared.clone();
        let address = target.address.clone();
        let health = target.health;
        let process = target.process.clone();
        set.spawn(async move {
            let permit = semaphore.acquire_owned().await;
            // The broker's generation, held while the case talks to it: a restart waits for
            // it. A broker that stopped serving is restarted first, when it can be.
            let mut generation = shared.health.generation().read().await;
            if let Some(p) = process.as_deref() {
                if shared.health.is_down() && !shared.health.gave_up() {
                    let stopped = *generation;
                    drop(generation);
                    health::restart(&shared.health, p, stopped, shared.max_restarts).await;
                    generation = shared.health.generation().read().await;
                }
            }
            let not_run = |outcome: Outcome| CaseRun {
                case,
                protocol,
                outcome,
                duration: Duration::ZERO,
                transcript: Vec::new(),
                pass,
                main_outcome: None,
                rerun: None,
            };
            let started = Instant::now();
            let mut stopped = false;
            let mut run = match status {
                VersionStatus::Refused(why) if !case.id.starts_with(VERSION_CASES) => {
                    not_run(Outcome::unsupported(format!("MQTT {protocol}: {why}")))
                }
                VersionStatus::Unusable(why) => not_run(Outcome::inconclusive(
                    Precondition::ProtocolUsable,
                    format!("MQTT {protocol}: {why}"),
                )),
                _ if Instant::now() >= run_deadline || permit.is_err() => {
                    not_run(Outcome::error(format!(
                        "run time limit of {} s reached before the case started",
                        run_timeout.as_secs()
                    )))
                }
                _ => {
                    match health::still_down(
                        &shared,
                        &address,
                        health_version,
                        index,
                        &health_status,
                    )
                    .await
                    {
                        Some(after) => not_run(Outcome::inconclusive(
                            Precondition::BrokerHealthy,
                            format!("the broker stopped serving after {after}"),
                        )),
                        None => {
                            let deadline = (Instant::now() + case_timeout).min(run_deadline);
                            let prefix = env.topic_prefix.clone();
                            let mut run = run_case(case, env, deadline).await;
                            if shared.health_probe && health {
                                stopped = health::check(
                                    &shared,
                                    &address,
                                    &mut run,
                                    index,
                                    health_version,
                                    &health_status,
                                    *generation,
                                )
                                .await;
                                health::sweep(&shared, &address, &run, index, &prefix).await;
                            }
                            run
                        }
                    }
                }
            };
            run.pass = pass;
            let ended = Instant::now();
            if !stopped {
                shared.health.served(ended);
            }
            let stopped_generation = *generation;
            drop(generation);
            if let (true, Some(p)) = (stopped, process.as_deref()) {
                health::restart(&shared.health, p, stopped_generation, shared.max_restarts).await;
            }
            (index, run, started, ended)
        });
    }
    let mut runs: Vec<(usize, CaseRun, Instant, Instant)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        // run_case catches the case's own panics; a panic here would be the runner's bug.
        if let Ok(done) = joined {
            shared.progress.finished(&done.1);
            runs.push(done);
        }
    }
    let stops = shared
        .health
        .take()
        .into_iter()
        .map(|stop| {
            let alongside = health::mark_alongside(&mut runs, &stop);
            (stop, alongside)
        })
        .collect();
    runs.sort_by_key(|(i, ..)| *i);
    (runs.into_iter().map(|(i, r, ..)| (i, r)).collect(), stops)
}

/// What a rerun alone adds to its index for its Client Identifiers (see [`run_pass`]).
const RERUN_ID_OFFSET: usize = 36usize.pow(4) / 2;

/// The id prefix of the cases that judge how a broker refuses a protocol version: they run
/// even when the probe found the version refused.
pub const VERSION_CASES: &str = "version.";

/// Runs one case on one protocol with the given environment, until `deadline` at most.
/// The result is marked [`Pass::Main`].
pub async fn run_case(case: Case, env: CaseEnv, deadline: Instant) -> CaseRun {
    let start = Instant::now();
    let protocol = env.protocol;
    let transcript = env.transcript.clone();
    let missing = case
        .requires
        .iter()
        .find_map(|cap| env.capabilities.missing(cap));
    let mut reconnected = Vec::new();
    let outcome = if let Some(reason) = missing {
        Outcome::unsupported(reason)
    } else {
        let ctx = Ctx::new(env);
        let outcome = run_in_task(case, &ctx, deadline, start, &transcript).await;
        reconnected = ctx.reconnected();
        outcome
    };
    let mut entries = transcript.entries();
    // Two connections of one client read apart: `c#1`, `c#2`, ...
    for e in entries.iter_mut() {
        if reconnected.contains(&e.client) {
            e.client.push_str("#1");
        }
    }
    CaseRun {
        case,
        protocol,
        outcome,
        duration: start.elapsed(),
        transcript: entries,
        pass: Pass::Main,
        main_outcome: None,
        rerun: None,
    }
}

/// Runs the case's scenario in its own task (a panic is ERROR, the deadline is ERROR).
async fn run_in_task(
    case: Case,
    ctx: &Ctx,
    deadline: Instant,
    start: Instant,
    transcript: &Transcript,
) -> Outcome {
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
        Ok(Ok(Ok(outcome))) => earned(outcome, ctx.observations()),
    }
}

/// `outcome` if the observations earn it, else ERROR naming the case bug: a PASS,
/// NON-STRICT or INFORMATIONAL must rest on at least one met check; one that rests on a
/// refusal (the connection closed, an error CONNACK, a DISCONNECT) needs a well-formed twin
/// accepted by the same broker in the same case; one that rests on an absence (nothing
/// arrived) needs a positive control that arrived. Without them, a listener that closes
/// every connection or never answers would pass.
pub fn earned(outcome: Outcome, seen: Observations) -> Outcome {
    if !matches!(
        outcome.verdict,
        Verdict::Pass | Verdict::NonStrict | Verdict::Informational
    ) {
        return outcome;
    }
    if seen.checks == 0 {
        return Outcome::error("case observed nothing: it checked no broker behaviour");
    }
    if seen.refusals > 0 && seen.twins == 0 {
        return Outcome::error(format!(
            "case bug: its {} verdict rests on a refusal, but no well-formed twin was accepted in the case",
            outcome.verdict
        ));
    }
    if seen.absences > 0 && seen.controls == 0 {
        return Outcome::error(format!(
            "case bug: its {} verdict rests on something not arriving, but no positive control arrived in the case",
            outcome.verdict
        ));
    }
    outcome
}

/// An INCONCLUSIVE run whose precondition is tested by a case that PASSED on the same
/// protocol in the same run points at a harness bug: it becomes ERROR, naming that case.
pub fn check_pointers(runs: &mut [CaseRun]) {
    let passed: std::collections::HashSet<(&'static str, ProtocolVersion)> = runs
        .iter()
        .filter(|r| r.outcome.verdict == Verdict::Pass)
        .map(|r| (r.case.id, r.protocol))
        .collect();
    for r in runs.iter_mut() {
        if r.outcome.verdict != Verdict::Inconclusive
            || r.outcome
                .actual
                .as_deref()
                .is_some_and(|a| a.contains(health::STOPPED_SERVING))
        {
            continue;
        }
        let Some(pointer) = r.outcome.precondition.and_then(|p| p.pointer()) else {
            continue;
        };
        if pointer != r.case.id && passed.contains(&(pointer, r.protocol)) {
            let was = r.outcome.actual.clone().unwrap_or_default();
            r.outcome = Outcome::error(format!(
                "harness bug: INCONCLUSIVE for want of {} although `{pointer}`, which tests it, passed in this run ({was})",
                r.outcome
                    .precondition
                    .map_or("a precondition", |p| p.describe())
            ));
        }
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
    total: AtomicUsize,
    done: AtomicUsize,
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
            total: AtomicUsize::new(total),
            done: AtomicUsize::new(0),
        }
    }

    /// `n` more case runs to wait for (the restricted pass).
    fn add(&self, n: usize) {
        self.total.fetch_add(n, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc_length(n as u64);
        }
    }

    fn finished(&self, run: &CaseRun) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let line = format!(
            "{:<13} {} ({}){} {} ms",
            run.outcome.verdict.label(),
            run.case.id,
            run.protocol.label(),
            match run.pass {
                Pass::Main => "",
                Pass::Restricted => " [restricted broker]",
            },
            run.duration.as_millis()
        );
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if run.outcome.verdict.is_problem() {
                bar.println(&line);
            }
            bar.set_message(run.case.id.to_owned());
        } else if self.plain {
            eprintln!("[{n:>4}/{}] {line}", self.total.load(Ordering::Relaxed));
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
