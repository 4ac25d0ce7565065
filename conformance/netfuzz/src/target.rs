//! The broker being fuzzed: the embedded reference broker (restarted in-process after a
//! crash and before each minimisation trial), or a broker at an address, optionally started
//! and restarted by the fuzzer with a shell command (`--broker-cmd`), which is what makes
//! a crash of a third-party broker minimisable.

use mqttspec_harness::transport::Endpoint;
use std::time::Duration;

use mqttspec_reference_broker::shell::RunningBroker;
use tokio::process::{Child, Command};

/// How long a started broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Memory use of a broker process, KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Resident set size.
    pub rss_kib: u64,
    /// Virtual size.
    pub vsz_kib: u64,
}

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
        /// The command that starts it, when the fuzzer manages it.
        command: Option<String>,
        /// The running process started by `command`.
        child: Option<Child>,
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
        let mut t = Target::External {
            addr,
            command,
            child: None,
        };
        if t.can_restart() {
            t.start_command().await?;
        }
        Ok(t)
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
                command: Some(c),
                ..
            } => format!("{addr} (started with `{c}`)"),
            Target::External { addr, .. } => addr.to_string(),
        }
    }

    /// Whether the fuzzer can restart the broker (after a crash, for minimisation).
    pub fn can_restart(&self) -> bool {
        match self {
            Target::Embedded { .. } => true,
            Target::External { command, .. } => command.is_some(),
        }
    }

    /// What happened to a broker process the fuzzer started, if it has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        match self {
            Target::External {
                child: Some(child), ..
            } => match child.try_wait() {
                Ok(Some(status)) => Some(format!("the broker process exited: {status}")),
                _ => None,
            },
            _ => None,
        }
    }

    /// The resident and virtual memory (KiB) of a broker process the fuzzer started (Linux
    /// `/proc`), for the report: growth that does not come back is worth a look even when
    /// no oracle fired.
    pub fn broker_memory(&self) -> Option<Memory> {
        let Target::External {
            child: Some(child), ..
        } = self
        else {
            return None;
        };
        let pid = child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_whitespace().nth(1)?.parse().ok()
        };
        Some(Memory {
            rss_kib: field("VmRSS:")?,
            vsz_kib: field("VmSize:")?,
        })
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
            Target::External { command: None, .. } => {
                Err("the broker cannot be restarted (no --broker-cmd)".to_owned())
            }
            Target::External { .. } => {
                self.stop_command().await;
                self.start_command().await
            }
        }
    }

    async fn start_command(&mut self) -> Result<(), String> {
        let Target::External {
            addr,
            command: Some(command),
            child,
        } = self
        else {
            return Ok(());
        };
        let spawned = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run `{command}`: {e}"))?;
        *child = Some(spawned);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let attempt = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect(addr.addr()),
            );
            if matches!(attempt.await, Ok(Ok(_))) {
                return Ok(());
            }
            if let Some(c) = child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!("`{command}` exited before listening: {status}"));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "`{command}` does not listen on {addr} after {START_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop_command(&mut self) {
        if let Target::External { child, .. } = self {
            if let Some(mut c) = child.take() {
                let _ = c.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
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
            Target::External { .. } => self.stop_command().await,
        }
    }
}
