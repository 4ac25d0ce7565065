//! `mqttspec bench`: a load generator that measures a broker's throughput, loss, ordering and
//! latency with raw MQTT (the codec, no client library).
//!
//! | module | what it holds |
//! |---|---|
//! | [`wire`] | one connection, the 20-byte payload stamp, the pre-encoded PUBLISH template |
//! | [`load`] | the run: subscribers, paced or flat-out publishers with a flow-control window, the drain |
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
pub mod stats;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqttspec_codec::{ProtocolVersion, QoS, TopicFilter, TopicName};

pub use load::run;
pub use stats::{
    BenchResult, DrainEnd, LatencySummary, PublisherReport, SubscriberReport, JSON_SCHEMA,
};
pub use wire::{Stamp, STAMP_LEN};

use crate::cli::CommandError;

/// The QoS 1/2 window of an MQTT 3.1.1 publisher when `--window` is not given (3.1.1 has no
/// Receive Maximum to learn it from).
pub const DEFAULT_V311_WINDOW: u16 = 64;
/// The largest `--payload` accepted.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;
/// The longest drain unless `--drain-max` or a longer `--duration` says otherwise.
pub const DEFAULT_DRAIN_MAX: Duration = Duration::from_secs(10);
/// The most publishers, and the most subscribers, one run may have.
pub const MAX_CLIENTS: u32 = 10_000;

/// Arguments of `mqttspec bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The broker to load (HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    pub broker: String,
    /// Protocol version of every connection.
    #[arg(long, value_name = "3.1.1|5", default_value = "5")]
    pub protocol: ProtocolVersion,
    /// Publishers, each on its own topic.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub publishers: u32,
    /// Subscribers, each subscribed to every publisher's topic.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub subscribers: u32,
    /// QoS of the messages and the subscriptions.
    #[arg(long, value_name = "0|1|2", default_value_t = 1)]
    pub qos: u8,
    /// Payload size in bytes (at least 20: the stamp).
    #[arg(long, value_name = "BYTES", default_value_t = 64)]
    pub payload: usize,
    /// How long the publishers publish, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub duration: f64,
    /// Messages per second per publisher (default: as fast as flow control allows).
    #[arg(long, value_name = "MSGS_PER_SEC_PER_PUBLISHER")]
    pub rate: Option<f64>,
    /// Topic prefix (default: a unique one per run).
    #[arg(long, value_name = "PREFIX")]
    pub topic: Option<String>,
    /// Most unacknowledged QoS 1/2 messages per publisher (MQTT 5.0: capped by the broker's
    /// Receive Maximum; MQTT 3.1.1 default 64).
    #[arg(long, value_name = "N")]
    pub window: Option<u16>,
    /// The drain ends when nothing has arrived for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    pub drain: f64,
    /// The drain ends after this many seconds in any case (default: the duration, at least
    /// 10).
    #[arg(long, value_name = "SECS")]
    pub drain_max: Option<f64>,
    /// Also write the result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// A validated benchmark run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// The broker.
    pub broker: SocketAddr,
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
}

impl BenchConfig {
    /// A run against `broker` with the defaults of the command line (one publisher, one
    /// subscriber, MQTT 5.0, QoS 1, 64-byte payload, 10 s flat out, a unique topic prefix).
    pub fn new(broker: SocketAddr) -> BenchConfig {
        BenchConfig {
            broker,
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
        }
    }
}

/// A topic prefix unique to this process and moment.
fn default_topic() -> String {
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

fn seconds(name: &str, secs: f64, min_exclusive: bool) -> Result<Duration, CommandError> {
    let bad = !(0.0..=86_400.0).contains(&secs) || (min_exclusive && secs == 0.0);
    if bad {
        let range = if min_exclusive {
            "above 0"
        } else {
            "0 or more"
        };
        return Err(CommandError::Usage(format!(
            "--{name} must be {range} and at most 86400 seconds, not {secs}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl BenchArgs {
    /// Checks the arguments and resolves the broker address.
    pub fn config(&self) -> Result<BenchConfig, CommandError> {
        let usage = |m: String| Err(CommandError::Usage(m));
        if self.payload < STAMP_LEN {
            return usage(format!(
                "--payload must be at least {STAMP_LEN} bytes (the stamp), not {}",
                self.payload
            ));
        }
        if self.payload > MAX_PAYLOAD {
            return usage(format!(
                "--payload must be at most {MAX_PAYLOAD} bytes, not {}",
                self.payload
            ));
        }
        if self.publishers == 0 || self.publishers > MAX_CLIENTS {
            return usage(format!(
                "--publishers must be 1 to {MAX_CLIENTS}, not {}",
                self.publishers
            ));
        }
        if self.subscribers > MAX_CLIENTS {
            return usage(format!(
                "--subscribers must be 0 to {MAX_CLIENTS}, not {}",
                self.subscribers
            ));
        }
        let Some(qos) = QoS::from_u8(self.qos) else {
            return usage(format!("--qos must be 0, 1 or 2, not {}", self.qos));
        };
        if let Some(rate) = self.rate {
            if !rate.is_finite() || rate <= 0.0 || rate > 10_000_000.0 {
                return usage(format!(
                    "--rate must be above 0 and at most 10000000 messages per second, not {rate}"
                ));
            }
        }
        if self.window == Some(0) {
            return usage("--window must be at least 1".to_owned());
        }
        let duration = seconds("duration", self.duration, true)?;
        let drain = seconds("drain", self.drain, false)?;
        let drain_max = match self.drain_max {
            Some(secs) => seconds("drain-max", secs, false)?,
            None => DEFAULT_DRAIN_MAX.max(duration),
        };
        let topic = self.topic.clone().unwrap_or_else(default_topic);
        let topic_ok = TopicName::new(format!("{topic}/0")).is_ok()
            && TopicFilter::new(format!("{topic}/+")).is_ok();
        if topic.is_empty() || !topic_ok {
            return usage(format!(
                "--topic {topic:?} is not a usable prefix (no wildcards, no U+0000, not empty)"
            ));
        }
        let broker = crate::cli::broker_address(Some(&self.broker))?
            .ok_or_else(|| CommandError::Usage("--broker: no address".to_owned()))?;
        Ok(BenchConfig {
            broker,
            protocol: self.protocol,
            publishers: self.publishers,
            subscribers: self.subscribers,
            qos,
            payload: self.payload,
            duration,
            rate: self.rate,
            topic,
            window: self.window,
            drain,
            drain_max,
        })
    }

    /// Runs the benchmark, prints the table and writes the JSON. Exit status 0 when the run
    /// completed (whatever it measured), 2 when the arguments are unusable or the broker
    /// failed (unreachable, closed a connection, stopped answering).
    pub fn run(&self) -> Result<(), CommandError> {
        let config = self.config()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| CommandError::Harness(format!("cannot start the async runtime: {e}")))?;
        let result = rt
            .block_on(run(config))
            .map_err(|e| CommandError::Harness(format!("bench failed: {e}")))?;
        print!("{}", result.table());
        if let Some(path) = &self.json {
            let text = serde_json::to_string_pretty(&result.to_json())
                .map_err(|e| CommandError::Harness(format!("cannot render JSON: {e}")))?;
            std::fs::write(path, text + "\n").map_err(|e| {
                CommandError::Harness(format!("cannot write {}: {e}", path.display()))
            })?;
        }
        Ok(())
    }
}
