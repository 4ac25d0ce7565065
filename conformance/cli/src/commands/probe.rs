//! `mqttspec probe`: the broker's practical limits and choices, measured from the wire by
//! [`mqttspec_harness::limits`] (longest Client Identifier and topic, deepest topic, largest
//! payload, in-flight window, offline QoS 0 queueing, retained messages kept, Session Expiry
//! cap, what CONNACK announces). Everything it finds is INFORMATIONAL. It prints a table,
//! and writes the findings as JSON (`--json`, the same object as the `limits` of
//! `report.json`) and as a profile TOML (`--profile-out`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqttspec_codec::ProtocolVersion;
use mqttspec_harness::address::AddressError;
use mqttspec_harness::transport::Scheme;

use super::endpoint::{self, TlsArgs};
use mqttspec_harness::limits::{self, profile_out, Caps, LimitsConfig, LimitsReport};
use mqttspec_harness::profile::{check_topic_prefix, Profile};
use mqttspec_harness::runner::embedded_broker_config;
use mqttspec_reference_broker::shell::RunningBroker;

use crate::commands::run::{parse_protocols, Protocols};

/// Arguments of `mqttspec probe`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// The broker to probe: HOST:PORT, mqtt://HOST[:PORT], mqtts://HOST[:PORT],
    /// ws://HOST[:PORT][/PATH] or wss://HOST[:PORT][/PATH] (path default /mqtt). Without it,
    /// the reference broker runs in-process.
    #[arg(long, value_name = "ADDRESS")]
    pub broker: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Protocols to probe.
    #[arg(long, value_name = "3.1.1|5|all", default_value = "all", value_parser = parse_protocols)]
    pub protocol: Protocols,
    /// Broker profile (TOML): credentials, response timeout, topic prefix.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Write the findings as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a profile TOML built from the findings to FILE.
    #[arg(long, value_name = "FILE")]
    pub profile_out: Option<PathBuf>,
    /// Time limit of the whole probe, in seconds (the cleanup comes on top, bounded too).
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub time_limit: u64,
}

/// How `mqttspec probe` failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// `--broker` does not resolve, or the TLS options cannot be used.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The broker's transport cannot be set up (refused, TLS or WebSocket handshake).
    #[error("{0}")]
    Endpoint(#[from] mqttspec_harness::transport::ConnectError),
    /// The arguments or the profile cannot be used.
    #[error("{0}")]
    Usage(String),
    /// The async runtime or the embedded broker could not start.
    #[error("{0}")]
    Harness(String),
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No protocol version accepted a well-formed CONNECT: nothing was measured.
    #[error(
        "nothing could be probed at {address}: no protocol version accepted a CONNECT (see above)"
    )]
    NothingProbed {
        /// The broker's address.
        address: String,
    },
}

impl ProbeArgs {
    /// Probes, prints the table, writes the files. Exit status 0 when something was
    /// measured, 2 when the broker could not be probed at all or a file not written.
    pub fn run(&self) -> Result<(), ProbeError> {
        let profile = match &self.profile {
            Some(p) => Profile::load(p).map_err(ProbeError::Usage)?,
            None => Profile::default(),
        };
        let broker = self.tls.endpoint(self.broker.as_deref(), &profile.tls)?;
        if let Some(prefix) = &profile.topic_prefix {
            check_topic_prefix(prefix).map_err(ProbeError::Usage)?;
        }
        if self.time_limit == 0 {
            return Err(ProbeError::Usage(
                "--time-limit must be at least 1".to_owned(),
            ));
        }
        let mut protocols: Vec<ProtocolVersion> = Vec::new();
        for v in self.protocol.0.iter().copied() {
            if !protocols.contains(&v) {
                protocols.push(v);
            }
        }
        let config = LimitsConfig {
            protocols,
            profile: profile.clone(),
            caps: Caps::default(),
            time_limit: Duration::from_secs(self.time_limit),
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| ProbeError::Harness(format!("cannot start the async runtime: {e}")))?;
        let report = rt.block_on(async {
            match broker {
                Some(addr) => {
                    // TLS and WebSocket endpoints are checked first, so that a misconfigured
                    // one is one line (plain TCP: the probe itself says what it found).
                    if addr.scheme() != Scheme::Tcp {
                        let limit = profile.response_timeout().max(Duration::from_secs(1));
                        let info = endpoint::check(&addr, limit).await?;
                        eprintln!("transport: {}", info.describe());
                    }
                    Ok::<_, ProbeError>(limits::probe(&addr, &config).await)
                }
                None => {
                    let b =
                        RunningBroker::start(([127, 0, 0, 1], 0).into(), embedded_broker_config())
                            .await
                            .map_err(|e| {
                                ProbeError::Harness(format!(
                                    "cannot start the reference broker: {e}"
                                ))
                            })?;
                    let report = limits::probe(&b.local_addr().into(), &config).await;
                    b.stop().await;
                    Ok(report)
                }
            }
        })?;
        crate::out!("{}", console(&report));
        if let Some(path) = &self.json {
            let text = serde_json::to_string_pretty(&report)
                .map_err(|e| ProbeError::Harness(e.to_string()))?;
            std::fs::write(path, text + "\n").map_err(|source| ProbeError::Write {
                path: path.clone(),
                source,
            })?;
            crate::outln!("wrote {}", path.display());
        }
        if let Some(path) = &self.profile_out {
            let text = profile_out::render(&report, &profile).map_err(ProbeError::Harness)?;
            std::fs::write(path, text).map_err(|source| ProbeError::Write {
                path: path.clone(),
                source,
            })?;
            crate::outln!("wrote {}", path.display());
        }
        if report.versions.iter().all(|v| v.unusable.is_some()) {
            return Err(ProbeError::NothingProbed {
                address: report.address,
            });
        }
        Ok(())
    }
}

/// The table `mqttspec probe` prints: per version, each finding with its value and how it
/// was found, then what CONNACK announced and what the cleanup could not do.
pub fn console(report: &LimitsReport) -> String {
    let mut out = format!(
        "practical limits of {} (INFORMATIONAL; topics below {}; {:.1} s)\n",
        report.address,
        report.topic_prefix,
        report.wall_time_ms as f64 / 1000.0
    );
    for v in &report.versions {
        out.push_str(&format!("\nMQTT {}\n", v.protocol));
        if let Some(why) = &v.unusable {
            out.push_str(&format!("  not probed: {why}\n"));
            continue;
        }
        for f in &v.findings {
            out.push_str(&format!(
                "  {:<24} {:<18} {}\n",
                f.id,
                f.value_text(),
                f.detail_text()
            ));
        }
        if let Some(props) = v.connack.as_object().filter(|o| !o.is_empty()) {
            let list: Vec<String> = props.iter().map(|(k, x)| format!("{k}={x}")).collect();
            out.push_str(&format!("  CONNACK announces: {}\n", list.join(", ")));
        }
    }
    for line in &report.cleanup {
        out.push_str(&format!("cleanup: {line}\n"));
    }
    out
}
