//! The broker being fuzzed: the embedded reference broker (restarted in-process after a
//! crash and before each minimisation trial), or a broker at an address, optionally started
//! and restarted by the fuzzer with a shell command (`--broker-cmd`), which is what makes
//! a crash of a third-party broker minimisable.

use mqttspec_harness::broker_process::BrokerProcess;
use mqttspec_harness::transport::Endpoint;
use std::time::Duration;

pub use mqttspec_harness::broker_process::Memory;
use mqttspec_reference_broker::shell::RunningBroker;

/// A broker under test.
#[derive(Debug)]
pub enum Target {
    /// The reference broker, in this process.
    Embedded {
        /// The running broker.
        broker: Option<RunningBroker>,
        /// Its configuration (faults included).
        config: mqttspec_reference_broker::Config,
        /// Where it listens now.
        addr: Endpoint,
    },
    /// A broker at an address.
    External {
        /// Its address (and transport).
        addr: Endpoint,
        /// The process the fuzzer started (`--broker-cmd`), which it restarts when needed.
        process: Option<BrokerProcess>,
    },
}

impl Target {
    /// Starts the embedded reference broker (with `faults`) on a free loopback port.
    pub async fn embedded(faults: &[String]) -> Result<Target, String> {
        let mut config = mqttspec_harness::runner::embedded_broker_config();
        config.faults.extend(faults.iter().cloned());
        Target::embedded_with(config).await
    }

    /// Starts the reference broker with `config` (a broker that requires a login, say) on a
    /// free loopback port.
    pub async fn embedded_with(
        config: mqttspec_reference_broker::Config,
    ) -> Result<Target, String> {
        let broker = RunningBroker::start(([127, 0, 0, 1], 0).into(), config.clone())
            .await
            .map_err(|e| format!("cannot start the reference broker: {e}"))?;
        let addr = Endpoint::tcp(broker.local_addr());
        Ok(Target::Embedded {
            broker: Some(broker),
            config,
            addr,
        })
    }

    /// A broker at `addr`; with `command`, the fuzzer starts it now (`sh -c "exec CMD"`) and
    /// restarts it when needed.
    pub async fn external(addr: Endpoint, command: Option<String>) -> Result<Target, String> {
        let process = match &command {
            Some(c) => Some(BrokerProcess::start(c, addr.clone()).await?),
            None => None,
        };
        Ok(Target::External { addr, process })
    }

    /// Where the broker listens.
    pub fn addr(&self) -> Endpoint {
        match self {
            Target::Embedded { addr, .. } | Target::External { addr, .. } => addr.clone(),
        }
    }

    /// A label for reports.
    pub fn label(&self) -> String {
        match self {
            Target::Embedded { config, .. } if config.faults.is_empty() => {
                "embedded reference broker".to_owned()
            }
            Target::Embedded { config, .. } => format!(
                "embedded reference broker with fault(s) {}",
                config.faults.join(", ")
            ),
            Target::External {
                addr,
                process: Some(p),
            } => format!("{addr} (started with `{}`)", p.command()),
            Target::External { addr, .. } => addr.to_string(),
        }
    }

    /// Whether the fuzzer can restart the broker (after a crash, for minimisation).
    pub fn can_restart(&self) -> bool {
        match self {
            Target::Embedded { .. } => true,
            Target::External { process, .. } => process.is_some(),
        }
    }

    /// What happened to a broker process the fuzzer started, if it has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        match self {
            Target::External {
                process: Some(p), ..
            } => p
                .exit_status()
                .map(|status| format!("the broker process exited: {status}")),
            _ => None,
        }
    }

    /// The resident and virtual memory (KiB) of a broker process the fuzzer started (Linux
    /// `/proc`), for the report: growth that does not come back is worth a look even when
    /// no oracle fired.
    pub fn broker_memory(&self) -> Option<Memory> {
        match self {
            Target::External {
                process: Some(p), ..
            } => p.memory(),
            _ => None,
        }
    }

    /// Stops the broker (if the fuzzer owns it) and starts a fresh one.
    pub async fn restart(&mut self) -> Result<(), String> {
        match self {
            Target::Embedded {
                broker,
                config,
                addr,
            } => {
                if let Some(b) = broker.take() {
                    // A broker whose core died stops at once; a hung one is abandoned.
                    let _ = tokio::time::timeout(Duration::from_secs(2), b.stop()).await;
                }
                let b = RunningBroker::start(([127, 0, 0, 1], 0).into(), config.clone())
                    .await
                    .map_err(|e| format!("cannot restart the reference broker: {e}"))?;
                *addr = b.local_addr().into();
                *broker = Some(b);
                Ok(())
            }
            Target::External {
                process: Some(p), ..
            } => p.restart().await,
            Target::External { .. } => {
                Err("the broker cannot be restarted (no --broker-cmd)".to_owned())
            }
        }
    }

    /// Stops whatever the fuzzer started.
    pub async fn shutdown(mut self) {
        match &mut self {
            Target::Embedded { broker, .. } => {
                if let Some(b) = broker.take() {
                    let _ = tokio::time::timeout(Duration::from_secs(2), b.stop()).await;
                }
            }
            Target::External { process, .. } => {
                if let Some(p) = process.as_mut() {
                    p.stop().await;
                }
            }
        }
    }
}
