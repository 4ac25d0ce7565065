//! # mqttspec-bench
//!
//! The load generator behind `mqttspec bench` that measures a broker's throughput, loss, ordering and
//! latency with raw MQTT (the codec, no client library).
//!
//! | module | what it holds |
//! |---|---|
//! | [`wire`] | one connection, the 20-byte payload stamp, the pre-encoded PUBLISH template |
//! | [`load`] | the run: subscribers, paced or flat-out publishers with a flow-control window, the drain |
//! | `runtimes` | the subscribers' own runtime, apart from the publishers' (see `--shared-runtime`) |
//! | [`stats`] | per-subscriber tracking (loss, duplicates, reordering, latency) and the results |
//!
//! Every publisher `i` publishes to `{prefix}/i`; every subscriber subscribes to `{prefix}/+`,
//! so N publishers and one subscriber is a fan-in, one publisher and N subscribers a fan-out.
//! Each payload starts with the publisher's index, its sequence number and the send time, so
//! a subscriber can tell what was lost, duplicated or reordered and how long it took.
//! The run ends with a drain: subscribers keep reading until they have everything, nothing
//! arrives for `--drain` seconds (what is missing then is lost), or `--drain-max` has passed
//! (what is missing may only be late; the result says which).

pub mod load;
mod runtimes;
pub mod stats;
pub mod wire;

use mqttspec_transport::Endpoint;
use std::time::Duration;

use mqttspec_codec::{ProtocolVersion, QoS};

pub use load::run;
pub use stats::{
    BenchResult, DrainEnd, LatencySummary, PublisherReport, SubscriberReport, JSON_SCHEMA,
};
pub use wire::{Stamp, STAMP_LEN};

/// The QoS 1/2 window of an MQTT 3.1.1 publisher when `--window` is not given (3.1.1 has no
/// Receive Maximum to learn it from).
pub const DEFAULT_V311_WINDOW: u16 = 64;
/// The largest `--payload` accepted.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;
/// The longest drain unless `--drain-max` or a longer `--duration` says otherwise.
pub const DEFAULT_DRAIN_MAX: Duration = Duration::from_secs(10);
/// The most publishers, and the most subscribers, one run may have.
pub const MAX_CLIENTS: u32 = 10_000;

/// A validated benchmark run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// The broker.
    pub broker: Endpoint,
    /// Protocol version.
    pub protocol: ProtocolVersion,
    /// Number of publishers (at least 1).
    pub publishers: u32,
    /// Number of subscribers.
    pub subscribers: u32,
    /// QoS of messages and subscriptions.
    pub qos: QoS,
    /// Payload size (at least [`STAMP_LEN`]).
    pub payload: usize,
    /// Publishing time.
    pub duration: Duration,
    /// Messages per second per publisher; `None` is flat out.
    pub rate: Option<f64>,
    /// Topic prefix: publisher `i` publishes to `{topic}/i`.
    pub topic: String,
    /// Window override for QoS 1/2.
    pub window: Option<u16>,
    /// Idle time that ends the drain.
    pub drain: Duration,
    /// Longest drain.
    pub drain_max: Duration,
    /// Subscribers on the publishers' runtime instead of one of their own (see
    /// `runtimes`).
    pub shared_runtime: bool,
}

impl BenchConfig {
    /// A run against `broker` with the defaults of the command line (one publisher, one
    /// subscriber, MQTT 5.0, QoS 1, 64-byte payload, 10 s flat out, a unique topic prefix).
    pub fn new(broker: impl Into<Endpoint>) -> BenchConfig {
        BenchConfig {
            broker: broker.into(),
            protocol: ProtocolVersion::V5,
            publishers: 1,
            subscribers: 1,
            qos: QoS::AtLeastOnce,
            payload: 64,
            duration: Duration::from_secs(10),
            rate: None,
            topic: default_topic(),
            window: None,
            drain: Duration::from_secs(2),
            drain_max: DEFAULT_DRAIN_MAX,
            shared_runtime: false,
        }
    }
}

/// A topic prefix unique to this process and moment.
pub fn default_topic() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "mqttspec-bench/{}-{}",
        std::process::id(),
        nanos % 1_000_000_000
    )
}

/// Why a run could not complete: which connection ("publisher 2", "subscriber 0", "setup")
/// and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchError {
    /// The connection or phase.
    pub who: String,
    /// What went wrong.
    pub what: String,
}

impl BenchError {
    /// An error of `who`.
    pub fn new(who: &str, what: impl Into<String>) -> BenchError {
        BenchError {
            who: who.to_owned(),
            what: what.into(),
        }
    }
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.who, self.what)
    }
}

impl std::error::Error for BenchError {}
