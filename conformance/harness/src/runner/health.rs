//! Whether the broker still serves: the health probe after each case, what the runner does
//! when it fails, and the broker restarts of `--broker-cmd`.
//!
//! After every case a fresh client connects and pings ([`probe::healthy`]). The first probe
//! that fails while the broker runs as started (one *generation* of it) records an incident
//! ([`StoppedServing`]) against the case it followed, whose outcome says so; the runs that
//! overlapped that case end INCONCLUSIVE ([`mark_alongside`]), since what they saw may be
//! the broker failing rather than their statement.
//!
//! Without a broker command the broker cannot be brought back: every later case first probes
//! again ([`still_down`]) and runs only if the broker serves again, else ends INCONCLUSIVE.
//! With one, the runner restarts it ([`restart`]): the case runs hold a read lock on the
//! broker's generation for as long as they talk to it, the restart takes the write lock
//! (so it waits for the cases in flight and holds back the cases not yet started), stops the
//! process, keeps its exit status and last output lines for the report, starts it again and
//! lets the remaining cases run against the fresh broker. At most
//! [`super::RunConfig::max_restarts`] restarts; after that the broker counts as gone, as
//! without a command.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use mqttspec_codec::ProtocolVersion;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{CaseRun, Shared};
use crate::broker_process::BrokerProcess;
use crate::probe::{self, VersionStatus};
use crate::scenario::ctx_base36;
use crate::transport::Endpoint;
use crate::verdict::{Outcome, Precondition, Verdict};

/// What the health probe appends to the outcome of the case after which the broker stopped
/// serving.
pub(super) const STOPPED_SERVING: &str = "after this case the broker stopped serving";

/// One time the broker stopped serving during a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppedServing {
    /// The case after which the health probe failed.
    pub case: String,
    /// Its protocol (`3.1.1`, `5`).
    pub protocol: String,
    /// Whether that case ran alone (the isolation reruns, see [`super`]): then it stopped the
    /// broker by itself; otherwise it, or one of the runs alongside it, did.
    pub alone: bool,
    /// What the health probe saw.
    pub probe: String,
    /// How the broker process had ended, when it had (`--broker-cmd` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    /// The broker's last output lines before the restart (`--broker-cmd` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
    /// Whether the runner restarted it (`--broker-cmd`).
    pub restarted: bool,
    /// What the runner did: restarted it, or why not.
    pub then: String,
}

impl StoppedServing {
    /// "`case` (MQTT 5)".
    pub fn after(&self) -> String {
        format!("`{}` (MQTT {})", self.case, self.protocol)
    }

    /// One line for the report's notes.
    pub fn note(&self) -> String {
        let exit = self
            .exit
            .as_deref()
            .map(|e| format!("; the broker process had exited ({e})"))
            .unwrap_or_default();
        format!(
            "the broker stopped serving after {}{} (health probe: {}){exit}; {}",
            self.after(),
            if self.alone {
                ", run alone"
            } else {
                " or a case alongside it"
            },
            self.probe,
            self.then
        )
    }
}

/// What [`StoppedServing::then`] says when the runner could not bring the broker back.
const NOT_RESTARTED: &str =
    "not restarted (no --broker-cmd): the cases after it are INCONCLUSIVE unless it serves again";

/// An incident: the case after which the broker stopped serving, in its pass.
#[derive(Debug)]
struct Incident {
    index: usize,
    generation: u64,
    /// When the broker stopped serving, at the widest: from the end of the last case run
    /// whose health probe it answered (or its start) to the failed probe.
    window: (Instant, Instant),
    record: StoppedServing,
}

/// A time the broker stopped serving in a pass, as [`run_pass`](super::run_pass) returns it.
#[derive(Debug)]
pub(super) struct Stop {
    /// The run after which the health probe failed.
    pub index: usize,
    /// When the broker stopped serving, at the widest (see [`mark_alongside`]).
    pub window: (Instant, Instant),
    /// What the report says about it.
    pub record: StoppedServing,
}

/// The runner's view of the broker's health, shared by the case runs of a pass.
#[derive(Debug, Default)]
pub(super) struct Health {
    /// Incidents of the pass running now.
    incidents: Mutex<Vec<Incident>>,
    /// Whether the last health probe failed.
    down: AtomicBool,
    /// Set when the broker is gone for good (the restart limit, a failed restart).
    gave_up: AtomicBool,
    /// The generation of the broker process; case runs hold it read while they run.
    generation: tokio::sync::RwLock<u64>,
    /// Whether the incidents recorded now come from runs made one at a time.
    alone: AtomicBool,
    /// When the latest case run whose health probe the broker answered ended, or when the
    /// broker was (re)started.
    served_at: Mutex<Option<Instant>>,
}

impl Health {
    /// Whether the last health probe failed.
    pub(super) fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Whether the broker is gone for good.
    pub(super) fn gave_up(&self) -> bool {
        self.gave_up.load(Ordering::SeqCst)
    }

    /// The generation lock case runs hold while they talk to the broker.
    pub(super) fn generation(&self) -> &tokio::sync::RwLock<u64> {
        &self.generation
    }

    /// Starts a pass: no incidents yet, the broker taken as serving; `alone` when the pass runs
    /// one case at a time.
    pub(super) fn start_pass(&self, alone: bool) {
        self.lock().clear();
        self.down.store(false, Ordering::SeqCst);
        self.alone.store(alone, Ordering::SeqCst);
        self.served(Instant::now());
    }

    /// Ends a pass: its incidents, in the order they were noticed.
    pub(super) fn take(&self) -> Vec<Stop> {
        self.lock()
            .drain(..)
            .map(|i| Stop {
                index: i.index,
                window: i.window,
                record: i.record,
            })
            .collect()
    }

    /// The broker served up to `at`: a case run and its health probe ended then, or it was
    /// (re)started then.
    pub(super) fn served(&self, at: Instant) {
        let mut last = self.served_at.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|l| l < at) {
            *last = Some(at);
        }
    }

    fn served_at(&self) -> Option<Instant> {
        *self.served_at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The case after which the broker stopped serving last.
    fn last(&self) -> Option<String> {
        self.lock().last().map(|i| i.record.after())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Incident>> {
        self.incidents.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The health probe after `run`, made while the broker's generation was `generation`: when
/// the broker no longer serves a fresh client, the first such case of that generation is
/// recorded and its outcome says so. Returns whether the probe failed.
pub(super) async fn check(
    shared: &Shared,
    address: &Endpoint,
    run: &mut CaseRun,
    index: usize,
    version: ProtocolVersion,
    at_start: &VersionStatus,
    generation: u64,
) -> bool {
    let id = format!("ms{}h{}", shared.token, ctx_base36(index as u64, 4));
    let health = &shared.health;
    let Err(why) = probe::healthy(address, version, &shared.profile, &id, at_start).await else {
        return false;
    };
    let noticed = Instant::now();
    health.down.store(true, Ordering::SeqCst);
    let served_at = health.served_at().unwrap_or(noticed);
    let mut incidents = health.lock();
    if incidents.iter().any(|i| i.generation == generation) {
        return true;
    }
    let alone = health.alone.load(Ordering::SeqCst);
    incidents.push(Incident {
        index,
        generation,
        window: (served_at.min(noticed), noticed),
        record: StoppedServing {
            case: run.case.id.to_owned(),
            protocol: run.protocol.label().to_owned(),
            alone,
            probe: why.to_string(),
            exit: None,
            output: Vec::new(),
            restarted: false,
            then: NOT_RESTARTED.to_owned(),
        },
    });
    let was = run.outcome.actual.take().unwrap_or_default();
    run.outcome.actual = Some(if was.is_empty() {
        format!("{STOPPED_SERVING} (health probe: {why})")
    } else {
        format!("{was}; {STOPPED_SERVING} (health probe: {why})")
    });
    true
}

/// Restarts the broker after its generation `generation` stopped serving, unless another
/// run did already or the runner gave up: waits until no case run talks to the broker, holds
/// the new ones back, keeps what the process left behind in the incident, and starts it
/// again.
pub(super) async fn restart(
    health: &Health,
    process: &tokio::sync::Mutex<BrokerProcess>,
    generation: u64,
    max_restarts: usize,
) {
    let mut current = health.generation.write().await;
    if *current != generation || !health.is_down() || health.gave_up() {
        return;
    }
    let mut process = process.lock().await;
    let exit = process.exit_status();
    let output = process.output_tail();
    let outcome = if process.restarts() >= max_restarts {
        Err(format!(
            "not restarted: the limit of {max_restarts} restart(s) was reached (--max-restarts); the cases after it are INCONCLUSIVE"
        ))
    } else {
        process
            .restart()
            .await
            .map_err(|e| format!("the restart failed ({e}); the cases after it are INCONCLUSIVE"))
    };
    let mut incidents = health.lock();
    if let Some(i) = incidents
        .iter_mut()
        .rev()
        .find(|i| i.generation == generation)
    {
        i.record.exit = exit;
        i.record.output = output;
        i.record.restarted = outcome.is_ok();
        i.record.then = match &outcome {
            Ok(()) => format!("restarted with `{}`", process.command()),
            Err(why) => why.clone(),
        };
    }
    match outcome {
        Ok(()) => {
            *current += 1;
            health.down.store(false, Ordering::SeqCst);
            health.served(Instant::now());
        }
        Err(_) => health.gave_up.store(true, Ordering::SeqCst),
    }
}

/// Before a case starts while the last health probe failed and the broker is not restarted:
/// probes again; `None` (run the case) when the broker serves again, else the case after
/// which it stopped.
pub(super) async fn still_down(
    shared: &Shared,
    address: &Endpoint,
    protocol: ProtocolVersion,
    index: usize,
    at_start: &VersionStatus,
) -> Option<String> {
    if !shared.health.is_down() || !shared.health_probe {
        return None;
    }
    let id = format!("ms{}b{}", shared.token, ctx_base36(index as u64, 4));
    match probe::healthy(address, protocol, &shared.profile, &id, at_start).await {
        Ok(()) => {
            shared.health.down.store(false, Ordering::SeqCst);
            None
        }
        Err(_) => Some(
            shared
                .health
                .last()
                .unwrap_or_else(|| "an earlier case".to_owned()),
        ),
    }
}

/// Clears the retained messages the case left under its topic prefix (best effort: the
/// cases clear their own; this catches what a failed case left behind).
pub(super) async fn sweep(
    shared: &Shared,
    address: &Endpoint,
    run: &CaseRun,
    index: usize,
    prefix: &str,
) {
    if shared.health.is_down() {
        return;
    }
    let id = format!("ms{}s{}", shared.token, ctx_base36(index as u64, 4));
    let _ = probe::sweep_retained(address, run.protocol, &shared.profile, &id, prefix).await;
}

/// The runs that talked to the broker while it may have stopped serving (from the end of the
/// last run whose health probe it answered to the probe that failed, `stop.window`), other than
/// the one after which the probe failed: they end INCONCLUSIVE, since what they saw may be
/// the broker failing rather than their statement (one that is INCONCLUSIVE already keeps
/// its own reason). Returns their indices, INCONCLUSIVE ones included.
pub(super) fn mark_alongside(
    runs: &mut [(usize, CaseRun, Instant, Instant)],
    stop: &Stop,
) -> Vec<usize> {
    let (from, to) = stop.window;
    let after = stop.record.after();
    let mut alongside = Vec::new();
    for (i, r, start, end) in runs.iter_mut() {
        let talked = r.duration > Duration::ZERO && r.outcome.verdict != Verdict::Unsupported;
        if *i == stop.index || !talked || !(*start < to && *end > from) {
            continue;
        }
        alongside.push(*i);
        if r.outcome.verdict != Verdict::Inconclusive {
            r.outcome = Outcome::inconclusive(
                Precondition::BrokerHealthy,
                format!(
                    "ran alongside {after}, after which the broker stopped serving (its own verdict would have been {})",
                    r.outcome.verdict
                ),
            );
        }
    }
    alongside
}
