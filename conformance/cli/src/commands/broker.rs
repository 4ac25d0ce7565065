//! `mqttspec broker`: the reference broker as a process of its own, with injected faults.
//!
//! The `reference-broker` binary serves without faults (its crate builds without the
//! `faults` feature); this command runs the same broker with the faults `mqttspec run
//! --fault` injects into the embedded one, on an address of your choosing. It is what a
//! broker that misbehaves on purpose looks like to any tool that only knows addresses and
//! commands: `mqttspec run --broker-cmd` and `mqttspec fuzz --broker-cmd` are tested with
//! it (a fault that stops the broker serving, then a restart).

use std::net::SocketAddr;

use clap::Args;
use mqttspec_harness::runner;
use mqttspec_reference_broker::core::fault::Faults;
use mqttspec_reference_broker::shell::RunningBroker;

/// Arguments of `mqttspec broker`.
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// The address to listen on (plain TCP).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:1883")]
    pub listen: SocketAddr,
    /// Inject this reference-broker fault (repeatable; `mqttspec list` cases name them).
    #[arg(long, value_name = "NAME")]
    pub fault: Vec<String>,
}

/// Why `mqttspec broker` stopped.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A fault name is unknown.
    #[error("{0}")]
    Usage(String),
    /// The broker could not start (the address is taken, say).
    #[error("{0}")]
    Start(String),
}

impl BrokerArgs {
    /// Serves until SIGINT or SIGTERM, then shuts down cleanly.
    pub fn run(&self) -> Result<(), BrokerError> {
        Faults::parse(&self.fault).map_err(|e| BrokerError::Usage(e.to_string()))?;
        let mut config = runner::embedded_broker_config();
        config.faults.extend(self.fault.iter().cloned());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| BrokerError::Start(format!("cannot start the async runtime: {e}")))?;
        rt.block_on(async {
            let broker = RunningBroker::start(self.listen, config)
                .await
                .map_err(|e| {
                    BrokerError::Start(format!("cannot listen on {}: {e}", self.listen))
                })?;
            eprintln!(
                "reference broker listening on {}{}",
                broker.local_addr(),
                if self.fault.is_empty() {
                    String::new()
                } else {
                    format!(" with fault(s) {}", self.fault.join(", "))
                }
            );
            stopped().await;
            broker.stop().await;
            Ok(())
        })
    }
}

/// SIGINT or SIGTERM.
async fn stopped() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
