//! The `reference-broker` binary as a child process: it serves MQTT on the address given with
//! `--listen`, shuts down cleanly on SIGTERM (DISCONNECT 0x8B to MQTT 5.0 clients, exit
//! status 0), honours `--config FILE` (flags override the file), and refuses a bad
//! configuration with exit status 2 and a message.

mod tcp_support;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use mqttspec_codec::{Packet, QoS, ReasonCode};
use tcp_support::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

const BINARY: &str = env!("CARGO_BIN_EXE_reference-broker");

/// A loopback address with a port that was free a moment ago (the binary is told the port;
/// with port 0 the test would have to parse it from the log).
fn free_address() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe listener");
    probe.local_addr().expect("probe address")
}

/// Writes a configuration file unique to `name` and returns its path.
fn config_file(name: &str, toml: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tcp_binary-{name}-{}.toml", std::process::id()));
    std::fs::write(&path, toml).expect("write the configuration file");
    path
}

/// A running broker process; killed if the test fails before it exits.
struct BrokerProcess {
    child: Child,
    addr: SocketAddr,
    /// The rest of its log, collected so the pipe never fills.
    log: JoinHandle<String>,
}

impl BrokerProcess {
    /// Starts the binary on a free port with `args` and waits until it logs that it listens.
    async fn start(args: &[&str]) -> BrokerProcess {
        let addr = free_address();
        let mut child = Command::new(BINARY)
            .arg("--listen")
            .arg(addr.to_string())
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the reference-broker binary");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = String::new();
        within("the broker to log that it listens", async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        seen.push_str(&line);
                        seen.push('\n');
                        if line.contains("listening") {
                            return;
                        }
                    }
                    _ => panic!("the broker exited before listening; its log:\n{seen}"),
                }
            }
        })
        .await;
        let log = tokio::spawn(async move {
            let mut rest = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                rest.push_str(&line);
                rest.push('\n');
            }
            rest
        });
        BrokerProcess { child, addr, log }
    }

    /// Sends SIGTERM (through kill(1): the crate forbids unsafe code, so no libc call).
    async fn terminate(&self) {
        let pid = self.child.id().expect("the broker is running");
        let status = within(
            "kill -TERM",
            Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status(),
        )
        .await
        .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Waits for the process to exit; returns its status and log.
    async fn exit(mut self) -> (ExitStatus, String) {
        let status = within("the broker to exit", self.child.wait())
            .await
            .expect("wait for the broker");
        let log = within("the broker's log", self.log)
            .await
            .unwrap_or_default();
        (status, log)
    }
}

/// Runs the binary with `args` (expected to fail at once); returns status and stderr.
async fn run_to_failure(args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(BINARY)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the reference-broker binary");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let mut text = String::new();
    within(
        "the broker's error output",
        stderr.read_to_string(&mut text),
    )
    .await
    .expect("read stderr");
    let status = within("the broker to exit", child.wait())
        .await
        .expect("wait for the broker");
    (status, text)
}

#[tokio::test]
async fn the_binary_serves_both_versions_and_exits_0_on_sigterm() {
    let broker = BrokerProcess::start(&[]).await;
    let (mut v5, connack) = TestClient::connect(broker.addr, V5, "binary-v5").await;
    assert_eq!(
        connack.properties.maximum_qos, None,
        "default Maximum QoS is 2"
    );
    let (mut v311, _) = TestClient::connect(broker.addr, V311, "binary-v311").await;
    v5.subscribe("binary/t", QoS::AtLeastOnce).await;
    v311.publish("binary/t", QoS::AtLeastOnce, b"over the wire")
        .await;
    let got = v5.expect_publish().await;
    assert_eq!(&got.payload[..], b"over the wire");
    v5.ack(&got).await;

    broker.terminate().await;
    match v5.recv_or_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::ServerShuttingDown),
        other => panic!("expected DISCONNECT 0x8B on SIGTERM, got {other:?}"),
    }
    v5.expect_closed().await;
    v311.expect_closed().await;
    let (status, log) = broker.exit().await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM; log:\n{log}"
    );
}

#[tokio::test]
async fn a_config_file_is_honoured() {
    let path = config_file("honoured", "maximum_qos = 1\nretain_available = false\n");
    let broker = BrokerProcess::start(&["--config", path.to_str().expect("UTF-8 path")]).await;
    let (client, connack) = TestClient::connect(broker.addr, V5, "binary-config").await;
    assert_eq!(connack.properties.maximum_qos, Some(QoS::AtLeastOnce));
    assert_eq!(connack.properties.retain_available, Some(false));
    client.disconnect().await;
    broker.terminate().await;
    let (status, log) = broker.exit().await;
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_flag_overrides_the_config_file() {
    let path = config_file("overridden", "maximum_qos = 1\n");
    let broker = BrokerProcess::start(&[
        "--config",
        path.to_str().expect("UTF-8 path"),
        "--maximum-qos",
        "0",
    ])
    .await;
    let (client, connack) = TestClient::connect(broker.addr, V5, "binary-override").await;
    assert_eq!(connack.properties.maximum_qos, Some(QoS::AtMostOnce));
    client.disconnect().await;
    broker.terminate().await;
    let (status, log) = broker.exit().await;
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    let _ = std::fs::remove_file(path);
}

/// The Client Identifier the broker started with `args` assigns to the first client that
/// sends an empty one.
async fn first_assigned_id(args: &[&str]) -> String {
    let broker = BrokerProcess::start(args).await;
    let (client, connack) = TestClient::connect(broker.addr, V5, "").await;
    client.disconnect().await;
    broker.terminate().await;
    let (status, log) = broker.exit().await;
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    connack
        .properties
        .assigned_client_identifier
        .clone()
        .expect("an assigned Client Identifier")
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn the_seed_comes_from_the_flag_or_the_file_and_is_random_otherwise() {
    // Assigned identifiers are `mqttspec-{seed:x}-{n}`.
    assert_eq!(first_assigned_id(&["--seed", "42"]).await, "mqttspec-2a-1");
    let path = config_file("seed", "seed = 7\n");
    let p = path.to_str().expect("UTF-8 path");
    assert_eq!(first_assigned_id(&["--config", p]).await, "mqttspec-7-1");
    assert_eq!(
        first_assigned_id(&["--config", p, "--seed", "8"]).await,
        "mqttspec-8-1"
    );
    let _ = std::fs::remove_file(path);
    let random = first_assigned_id(&[]).await;
    assert_ne!(random, "mqttspec-0-1", "no seed given: a random one, not 0");
}

#[tokio::test]
async fn a_fault_needs_a_build_with_the_faults_feature() {
    // Cargo unifies features per build: `cargo test -p mqttspec-reference-broker` builds the
    // binary without fault injection, a workspace-wide build (with mqttspec) with it.
    let args = ["--listen", "127.0.0.1:0", "--fault", "no-pingresp"];
    if mqttspec_reference_broker::core::fault::COMPILED_IN {
        let broker = BrokerProcess::start(&args[2..]).await;
        let (client, _) = TestClient::connect(broker.addr, V5, "binary-fault").await;
        client.disconnect().await;
        broker.terminate().await;
        let (status, log) = broker.exit().await;
        assert_eq!(status.code(), Some(0), "log:\n{log}");
    } else {
        let (status, stderr) = run_to_failure(&args).await;
        assert_eq!(status.code(), Some(2), "stderr:\n{stderr}");
        assert!(
            stderr.contains("build with feature `faults`"),
            "stderr:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn a_config_file_with_a_wrong_type_exits_2_naming_the_file() {
    let path = config_file("wrong-type", "maximum_qos = \"lots\"\n");
    let p = path.to_str().expect("UTF-8 path");
    let (status, stderr) = run_to_failure(&["--listen", "127.0.0.1:0", "--config", p]).await;
    assert_eq!(status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("invalid configuration") && stderr.contains(p),
        "the message names the problem and the file:\n{stderr}"
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_config_file_with_an_unknown_setting_exits_2() {
    let path = config_file("unknown", "maximum_qos = 1\nno_such_setting = true\n");
    let p = path.to_str().expect("UTF-8 path");
    let (status, stderr) = run_to_failure(&["--listen", "127.0.0.1:0", "--config", p]).await;
    assert_eq!(status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("no_such_setting"), "stderr:\n{stderr}");
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_config_value_out_of_range_exits_2() {
    let path = config_file("range", "maximum_qos = 3\n");
    let p = path.to_str().expect("UTF-8 path");
    let (status, stderr) = run_to_failure(&["--listen", "127.0.0.1:0", "--config", p]).await;
    assert_eq!(status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("maximum_qos"), "stderr:\n{stderr}");
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_missing_config_file_exits_2() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tcp_binary-does-not-exist.toml");
    let p = path.to_str().expect("UTF-8 path");
    let (status, stderr) = run_to_failure(&["--listen", "127.0.0.1:0", "--config", p]).await;
    assert_eq!(status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("cannot read"), "stderr:\n{stderr}");
}

#[tokio::test]
async fn an_address_in_use_exits_2() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    let (status, stderr) = run_to_failure(&["--listen", &addr]).await;
    assert_eq!(status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("cannot listen"), "stderr:\n{stderr}");
    drop(taken);
}
