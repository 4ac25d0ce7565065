//! Runs client cases × protocol versions against one adapter, a few at a time, each within a
//! time limit, and checks that every verdict was earned.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mqttspec_codec::ProtocolVersion;
use mqttspec_harness::client::{Entry, Transcript};
use mqttspec_harness::verdict::{Outcome, Verdict};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::adapter::{Adapter, AdapterError};
use crate::case::{ClientCase, Ctx, Timing};
use crate::transport::{SharedTransports, Transports};
use mqttspec_harness::transport::Scheme;

/// What a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The adapter's command line.
    pub adapter: String,
    /// Extra environment for the adapter.
    pub env: Vec<(String, String)>,
    /// The versions to run.
    pub protocols: Vec<ProtocolVersion>,
    /// Case id substrings; empty runs all.
    pub filters: Vec<String>,
    /// How many case runs at once.
    pub jobs: usize,
    /// Wait bounds.
    pub timing: Timing,
    /// The limit of one case run; past it the run is ERROR and the adapter killed.
    pub case_time_limit: Duration,
    /// The transports (the run's scheme, and the throwaway CA of a TLS run).
    pub transports: SharedTransports,
}

impl RunConfig {
    /// Defaults for `adapter`: both versions, all cases, two at a time.
    pub fn new(adapter: impl Into<String>) -> Self {
        RunConfig {
            adapter: adapter.into(),
            env: Vec::new(),
            protocols: vec![ProtocolVersion::V311, ProtocolVersion::V5],
            filters: Vec::new(),
            jobs: 2,
            timing: Timing::default(),
            case_time_limit: Duration::from_secs(40),
            transports: Arc::new(Transports::plain()),
        }
    }

    /// The same over `scheme` (TLS schemes generate a throwaway CA).
    pub fn over(mut self, scheme: Scheme) -> Result<Self, String> {
        self.transports = Arc::new(Transports::new(scheme)?);
        Ok(self)
    }
}

/// One case run.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// The case.
    pub case: ClientCase,
    /// The version it ran on.
    pub protocol: ProtocolVersion,
    /// The verdict.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
    /// Everything on the wire and every adapter line.
    pub transcript: Vec<Entry>,
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct RunResults {
    /// The adapter's `ready` event (library and version).
    pub library: Map<String, Value>,
    /// The adapter's command line.
    pub adapter: String,
    /// The run's transport.
    pub transport: Scheme,
    /// The case runs, in case order.
    pub runs: Vec<CaseRun>,
}

impl RunResults {
    /// The worst verdict.
    pub fn worst(&self) -> Verdict {
        self.runs
            .iter()
            .map(|r| r.outcome.verdict)
            .fold(Verdict::Pass, Verdict::worst)
    }
}

/// Starts the adapter once and returns its `ready` event: which library, which version.
pub async fn identify(config: &RunConfig) -> Result<Map<String, Value>, AdapterError> {
    let mut a = Adapter::spawn(
        &config.adapter,
        &config.env,
        Transcript::default(),
        config.timing.ready,
    )
    .await?;
    let ready = match a.ready() {
        Some(crate::adapter::Event::Json(m)) => m.clone(),
        _ => Map::new(),
    };
    a.shutdown().await;
    Ok(ready)
}

/// The cases selected by `filters` (any substring of the id; none selects all).
pub fn select(cases: &[ClientCase], filters: &[String]) -> Vec<ClientCase> {
    cases
        .iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.id.contains(f.as_str())))
        .copied()
        .collect()
}

/// Runs `cases` on every configured version each supports.
pub async fn run(config: &RunConfig, cases: &[ClientCase]) -> Result<RunResults, AdapterError> {
    let library = identify(config).await?;
    let sem = Arc::new(Semaphore::new(config.jobs.max(1)));
    let mut handles = Vec::new();
    for case in select(cases, &config.filters) {
        for v in case.protocols() {
            if !config.protocols.contains(&v) {
                continue;
            }
            let sem = sem.clone();
            let config = config.clone();
            handles.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                run_one(&config, case, v).await
            }));
        }
    }
    let mut runs = Vec::new();
    for h in handles {
        match h.await {
            Ok(r) => runs.push(r),
            Err(e) => {
                // A panicking case: reported through the join error; the run goes on.
                eprintln!("a client case panicked: {e}");
            }
        }
    }
    Ok(RunResults {
        library,
        adapter: config.adapter.clone(),
        transport: config.transports.scheme(),
        runs,
    })
}

/// Runs one case on one version.
pub async fn run_one(config: &RunConfig, case: ClientCase, v: ProtocolVersion) -> CaseRun {
    let transcript = Transcript::default();
    let ctx = Ctx {
        case_id: case.id,
        version: v,
        adapter: config.adapter.clone(),
        env: config.env.clone(),
        transcript: transcript.clone(),
        timing: config.timing,
        transports: config.transports.clone(),
    };
    let started = Instant::now();
    let outcome = match tokio::time::timeout(config.case_time_limit, (case.run)(ctx)).await {
        Ok(Ok(o)) | Ok(Err(o)) => earned(&case, v, o),
        Err(_) => Outcome::error(format!(
            "the case did not finish within {:?}",
            config.case_time_limit
        )),
    };
    CaseRun {
        case,
        protocol: v,
        outcome,
        duration: started.elapsed(),
        transcript: transcript.entries(),
    }
}

/// A FAIL or NON-STRICT must name one of the case's statements of that version: anything else
/// is a case bug, reported as ERROR.
pub fn earned(case: &ClientCase, v: ProtocolVersion, o: Outcome) -> Outcome {
    if !matches!(o.verdict, Verdict::Fail | Verdict::NonStrict) {
        return o;
    }
    match o.statement {
        Some(s) if case.checks_for(v).contains(&s) => o,
        other => Outcome::error(format!(
            "case bug: {} names {:?}, not one of the case's statements ({}): {}",
            o.verdict,
            other.map(|s| s.id()),
            o.actual.clone().unwrap_or_default(),
            case.id
        )),
    }
}
