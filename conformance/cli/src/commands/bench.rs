//! `mqttspec bench`: the load generator of [`mqttspec_bench`] against a broker.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqttspec_bench::{
    default_topic, run, BenchConfig, BenchError, DEFAULT_DRAIN_MAX, MAX_CLIENTS, MAX_PAYLOAD,
    STAMP_LEN,
};
use mqttspec_codec::{ProtocolVersion, QoS, TopicFilter, TopicName};
use mqttspec_harness::address::AddressError;

use super::endpoint::TlsArgs;

/// Arguments of `mqttspec bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The broker to load: HOST:PORT, mqtt://, mqtts://, ws:// or wss:// (see `mqttspec run
    /// --help`).
    #[arg(long, value_name = "ADDRESS")]
    pub broker: String,
    #[command(flatten)]
    pub tls: TlsArgs,
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
    /// Run the subscribers on the publishers' async runtime. By default they have one of
    /// their own, so the time a subscriber takes a message is not held up by publisher work
    /// queued on the same threads (such as the broker's acknowledgements).
    #[arg(long)]
    pub shared_runtime: bool,
    /// Also write the result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// How `mqttspec bench` failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchArgsError {
    /// `--broker` does not resolve.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// An argument is out of range.
    #[error("{0}")]
    Usage(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The run could not complete (broker unreachable, a connection closed, no answer).
    #[error("bench failed: {0}")]
    Run(BenchError),
    /// The result could not be rendered as JSON.
    #[error("cannot render JSON: {0}")]
    Json(serde_json::Error),
    /// The JSON file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The `--json` path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn seconds(name: &str, secs: f64, min_exclusive: bool) -> Result<Duration, BenchArgsError> {
    let bad = !(0.0..=86_400.0).contains(&secs) || (min_exclusive && secs == 0.0);
    if bad {
        let range = if min_exclusive {
            "above 0"
        } else {
            "0 or more"
        };
        return Err(BenchArgsError::Usage(format!(
            "--{name} must be {range} and at most 86400 seconds, not {secs}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl BenchArgs {
    /// Checks the arguments and resolves the broker address.
    pub fn config(&self) -> Result<BenchConfig, BenchArgsError> {
        let usage = |m: String| Err(BenchArgsError::Usage(m));
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
        let broker = self
            .tls
            .endpoint(Some(&self.broker), &Default::default())?
            .ok_or_else(|| BenchArgsError::Usage("--broker: no address".to_owned()))?;
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
            shared_runtime: self.shared_runtime,
        })
    }

    /// Runs the benchmark, prints the table and writes the JSON. Exit status 0 when the run
    /// completed (whatever it measured), 2 when the arguments are unusable or the broker
    /// failed (unreachable, closed a connection, stopped answering).
    pub fn run(&self) -> Result<(), BenchArgsError> {
        let config = self.config()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(BenchArgsError::Runtime)?;
        let result = rt.block_on(run(config)).map_err(BenchArgsError::Run)?;
        crate::out!("{}", result.table());
        if let Some(path) = &self.json {
            let text =
                serde_json::to_string_pretty(&result.to_json()).map_err(BenchArgsError::Json)?;
            std::fs::write(path, text + "\n").map_err(|e| BenchArgsError::Write {
                path: path.clone(),
                source: e,
            })?;
        }
        Ok(())
    }
}
