//! Transports: the cases over TLS, WebSocket and WebSocket over TLS, against the embedded
//! reference broker behind an in-test terminating proxy, against the reference broker's own
//! TLS and WebSocket listeners, and against Mosquitto's own TLS and WebSocket listeners when
//! `mosquitto` is installed.
//!
//! - A cross-section of about 20 cases gives the same verdicts over every transport as over
//!   plain TCP (the transport is beneath the test client: cases run unchanged).
//! - The `websocket.` cases PASS against a conforming WebSocket front end and FAIL against
//!   one broken the matching way (a proof independent of the reference broker's own
//!   WebSocket faults, which `engine_faults` checks).
//! - The same cross-section over the reference broker's own TLS, WebSocket and secure
//!   WebSocket listeners (`RunConfig::embedded_transport`, `mqttspec run --transport`);
//!   `--insecure` is said in the reports.
//! - A misconfigured or unreachable endpoint is exit status 2 and one line, without a hang.
//!
//! Certificates are generated at test time (rcgen); no private key is committed.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqttspec::address::broker_address;
use mqttspec::client::Transcript;
use mqttspec::profile::{Capabilities, Profile};
use mqttspec::runner::{self, run_case, Progress, RunConfig, RunResults};
use mqttspec::scenario::{Case, CaseEnv};
use mqttspec::transport::tls::TlsOptions;
use mqttspec::transport::{Endpoint, Scheme};
use mqttspec::verdict::Verdict;
use mqttspec_codec::ProtocolVersion;
use mqttspec_reference_broker::shell::RunningBroker;
use support::proxy::{self, WsMode};

/// About 20 cases from every area (every 12th case, the `websocket.` ones aside).
fn cross_section() -> Vec<Case> {
    mqttspec::cases::all()
        .into_iter()
        .filter(|c| !c.id.starts_with("websocket."))
        .step_by(12)
        .collect()
}

fn endpoint(address: &str, ca: Option<&Path>) -> Endpoint {
    let tls = TlsOptions {
        ca: ca.map(Path::to_path_buf),
        ..TlsOptions::default()
    };
    let tls = if address.starts_with("mqtts") || address.starts_with("wss") {
        tls
    } else {
        TlsOptions::default()
    };
    broker_address(Some(address), &tls)
        .expect("address resolves")
        .expect("an endpoint")
}

async fn run(cases: &[Case], broker: Endpoint) -> RunResults {
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(2000);
    let config = RunConfig {
        broker: Some(broker),
        jobs: 8,
        progress: Progress::Quiet,
        restricted_pass: false,
        profile,
        ..RunConfig::default()
    };
    runner::run(cases, config).await.expect("the run starts")
}

fn verdicts(r: &RunResults) -> BTreeMap<(String, String), Verdict> {
    r.runs
        .iter()
        .map(|c| {
            (
                (c.case.id.to_owned(), c.protocol.label().to_owned()),
                c.outcome.verdict,
            )
        })
        .collect()
}

fn assert_same(transport: &str, tcp: &RunResults, other: &RunResults) {
    let (a, b) = (verdicts(tcp), verdicts(other));
    let differ: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, v)| {
            let run = other
                .runs
                .iter()
                .find(|c| c.case.id == k.0 && c.protocol.label() == k.1);
            format!(
                "{} {}: TCP {v}, {transport} {:?} ({:?})",
                k.0,
                k.1,
                b.get(k),
                run.map(|r| &r.outcome)
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{transport} verdicts differ:\n{}",
        differ.join("\n")
    );
    assert!(
        other
            .runs
            .iter()
            .all(|r| r.outcome.verdict != Verdict::Error),
        "{transport}: ERROR verdicts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_run_unchanged_over_tls_ws_and_wss() {
    let certs = proxy::certs("unchanged", false);
    let broker = RunningBroker::start(([127, 0, 0, 1], 0).into(), runner::embedded_broker_config())
        .await
        .unwrap();
    let up = broker.local_addr();
    let tls = proxy::start(up, Some(certs.server.clone()), None).await;
    let ws = proxy::start(up, None, Some(WsMode::Conforming)).await;
    let wss = proxy::start(up, Some(certs.server.clone()), Some(WsMode::Conforming)).await;

    let cases = cross_section();
    assert!((15..=30).contains(&cases.len()), "{}", cases.len());
    let tcp = run(&cases, Endpoint::tcp(up)).await;
    assert_eq!(tcp.broker.transport.transport, "mqtt");
    assert!(
        tcp.runs.iter().any(|r| r.outcome.verdict == Verdict::Pass),
        "nothing passed over TCP"
    );

    let over_tls = run(
        &cases,
        endpoint(
            &format!("mqtts://localhost:{}", tls.addr.port()),
            Some(&certs.ca),
        ),
    )
    .await;
    let t = &over_tls.broker.transport;
    assert_eq!(t.transport, "mqtts");
    assert!(
        t.tls_version
            .as_deref()
            .is_some_and(|v| v.starts_with("TLS")),
        "{t:?}"
    );
    assert!(t.cipher_suite.is_some(), "{t:?}");
    assert!(!t.insecure);
    assert_same("TLS", &tcp, &over_tls);

    let over_ws = run(
        &cases,
        endpoint(&format!("ws://127.0.0.1:{}/mqtt", ws.addr.port()), None),
    )
    .await;
    assert_eq!(
        over_ws.broker.transport.ws_subprotocol.as_deref(),
        Some("mqtt")
    );
    assert!(over_ws.broker.capabilities.websocket);
    assert_same("WebSocket", &tcp, &over_ws);

    let over_wss = run(
        &cases,
        endpoint(
            &format!("wss://localhost:{}", wss.addr.port()),
            Some(&certs.ca),
        ),
    )
    .await;
    let t = &over_wss.broker.transport;
    assert_eq!(
        (t.transport.as_str(), t.ws_subprotocol.as_deref()),
        ("wss", Some("mqtt"))
    );
    assert!(t.tls_version.is_some());
    assert_same("secure WebSocket", &tcp, &over_wss);
    broker.stop().await;
}

fn websocket_cases() -> Vec<Case> {
    mqttspec::cases::all()
        .into_iter()
        .filter(|c| c.id.starts_with("websocket."))
        .collect()
}

/// Runs `case` on `v` against `broker` as a WebSocket run (the runner's probe is skipped: a
/// front end that selects no subprotocol fails every handshake, probe included).
async fn run_ws_case(
    case: Case,
    v: ProtocolVersion,
    broker: Endpoint,
) -> mqttspec::runner::CaseRun {
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(1500);
    let capabilities = Capabilities {
        websocket: true,
        ..Capabilities::default()
    };
    let env = CaseEnv {
        broker,
        protocol: v,
        capabilities: Arc::new(capabilities),
        profile: Arc::new(profile),
        topic_prefix: format!("test/{}/{}/", case.id, v.label()),
        id_stem: "wscase".to_owned(),
        transcript: Transcript::new(std::time::Instant::now()),
    };
    run_case(
        case,
        env,
        tokio::time::Instant::now() + Duration::from_secs(10),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_cases_pass_when_conforming_and_fail_on_the_rule_they_check() {
    let certs = proxy::certs("ws-cases", false);
    let broker = RunningBroker::start(([127, 0, 0, 1], 0).into(), runner::embedded_broker_config())
        .await
        .unwrap();
    let up = broker.local_addr();
    let cases = websocket_cases();
    assert_eq!(cases.len(), 4);
    // Which broken front end must turn which case red.
    let broken = [
        ("websocket.text-frame-closes", WsMode::AcceptText),
        ("websocket.packet-spans-frames", WsMode::FrameAligned),
        ("websocket.packets-share-frame", WsMode::FrameAligned),
        ("websocket.subprotocol-selected", WsMode::NoSubprotocol),
    ];
    let conforming = proxy::start(up, None, Some(WsMode::Conforming)).await;
    let secure = proxy::start(up, Some(certs.server.clone()), Some(WsMode::Conforming)).await;
    for case in &cases {
        assert!(
            broken.iter().any(|(id, _)| *id == case.id),
            "{} has no proof",
            case.id
        );
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            for ep in [
                endpoint(&format!("ws://127.0.0.1:{}", conforming.addr.port()), None),
                endpoint(
                    &format!("wss://localhost:{}", secure.addr.port()),
                    Some(&certs.ca),
                ),
            ] {
                let r = run_ws_case(*case, v, ep.clone()).await;
                assert_eq!(
                    r.outcome.verdict,
                    Verdict::Pass,
                    "{} {v} over {ep}: {:?}\n{:#?}",
                    case.id,
                    r.outcome,
                    r.transcript
                );
            }
        }
    }
    for (id, mode) in broken {
        let case = *cases.iter().find(|c| c.id == id).unwrap();
        let front = proxy::start(up, None, Some(mode)).await;
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let r = run_ws_case(
                case,
                v,
                endpoint(&format!("ws://127.0.0.1:{}", front.addr.port()), None),
            )
            .await;
            assert_eq!(
                r.outcome.verdict,
                Verdict::Fail,
                "{id} {v} against {mode:?}: {:?}",
                r.outcome
            );
        }
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_cases_are_unsupported_over_tcp() {
    let broker = RunningBroker::start(([127, 0, 0, 1], 0).into(), runner::embedded_broker_config())
        .await
        .unwrap();
    let r = run(&websocket_cases(), Endpoint::tcp(broker.local_addr())).await;
    assert!(!r.runs.is_empty());
    for c in &r.runs {
        assert_eq!(c.outcome.verdict, Verdict::Unsupported, "{}", c.case.id);
    }
    broker.stop().await;
}

/// Runs `mqttspec run` with `args`; returns the exit status, the stderr and how long it took.
fn mqttspec_run(args: &[&str]) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mqttspec"))
        .arg("run")
        .args([
            "--filter",
            "connect.",
            "--protocol",
            "5",
            "--no-limits",
            "--quiet",
        ])
        .args([
            "--out",
            &std::env::temp_dir()
                .join("mqttspec-transport-out")
                .display()
                .to_string(),
        ])
        .args(args)
        .output()
        .expect("mqttspec runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

fn assert_one_line_exit_2(what: &str, args: &[&str], expected: &[&str]) {
    let (code, stderr, took) = mqttspec_run(args);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(code, Some(2), "{what}: {stderr}");
    assert_eq!(lines.len(), 1, "{what}: not one line:\n{stderr}");
    for e in expected {
        assert!(lines[0].contains(e), "{what}: {e:?} not in {:?}", lines[0]);
    }
    assert!(took < Duration::from_secs(20), "{what}: took {took:?}");
}

#[test]
fn a_bad_endpoint_is_exit_2_and_one_line() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let good = proxy::certs("good", false);
    let other = proxy::certs("other", false);
    let expired = proxy::certs("expired", true);
    let (broker, tls, tls_expired, ws, silent) = rt.block_on(async {
        let b = RunningBroker::start(([127, 0, 0, 1], 0).into(), runner::embedded_broker_config())
            .await
            .unwrap();
        let up = b.local_addr();
        let tls = proxy::start(up, Some(good.server.clone()), None).await;
        let tls_expired = proxy::start(up, Some(expired.server.clone()), None).await;
        let ws = proxy::start(up, None, Some(WsMode::Conforming)).await;
        // Accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        (b, tls, tls_expired, ws, silent)
    });
    let silent_addr: SocketAddr = silent.local_addr().unwrap();
    let _silent_task = rt.spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let port = |a: SocketAddr| a.port().to_string();
    let ca = good.ca.display().to_string();

    assert_one_line_exit_2(
        "wrong CA",
        &[
            "--broker",
            &format!("mqtts://localhost:{}", port(tls.addr)),
            "--tls-ca",
            &other.ca.display().to_string(),
        ],
        &["TLS handshake failed", "UnknownIssuer"],
    );
    assert_one_line_exit_2(
        "expired certificate",
        &[
            "--broker",
            &format!("mqtts://localhost:{}", port(tls_expired.addr)),
            "--tls-ca",
            &expired.ca.display().to_string(),
        ],
        &["TLS handshake failed", "expired"],
    );
    assert_one_line_exit_2(
        "wrong server name",
        &[
            "--broker",
            &format!("mqtts://localhost:{}", port(tls.addr)),
            "--tls-ca",
            &ca,
            "--tls-server-name",
            "other.example",
        ],
        &["TLS handshake failed", "--tls-server-name"],
    );
    assert_one_line_exit_2(
        "TLS on a plain port",
        &[
            "--broker",
            &format!("mqtts://localhost:{}", port(broker.local_addr())),
            "--tls-ca",
            &ca,
        ],
        &["TLS handshake failed", "TLS port"],
    );
    assert_one_line_exit_2(
        "plain TCP on a TLS port",
        &["--broker", &format!("127.0.0.1:{}", port(tls.addr))],
        &["TLS"],
    );
    assert_one_line_exit_2(
        "HTTP 404 on the WebSocket path",
        &[
            "--broker",
            &format!("ws://127.0.0.1:{}/nope", port(ws.addr)),
        ],
        &["WebSocket handshake failed", "404"],
    );
    assert_one_line_exit_2(
        "WebSocket to a plain MQTT port",
        &[
            "--broker",
            &format!("ws://127.0.0.1:{}", port(broker.local_addr())),
        ],
        &["WebSocket handshake failed"],
    );
    assert_one_line_exit_2(
        "TLS to a server that never answers",
        &[
            "--broker",
            &format!("mqtts://127.0.0.1:{}", port(silent_addr)),
            "--tls-ca",
            &ca,
        ],
        &["TLS handshake did not complete"],
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_one_line_exit_2(
        "nothing listening",
        &[
            "--broker",
            &format!("mqtts://127.0.0.1:{}", closed.port()),
            "--tls-ca",
            &ca,
        ],
        &["nothing is listening"],
    );
    // A usage error: clap's format (the message, then the usage line), exit status 2.
    let (code, stderr, _) = mqttspec_run(&[
        "--broker",
        &format!("mqtts://127.0.0.1:{}", port(tls.addr)),
        "--tls-ca",
        "/nonexistent/ca.pem",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read --tls-ca /nonexistent/ca.pem"),
        "{stderr}"
    );
    // And the good configuration runs (exit 0 or 1, not 2), recording the transport.
    let (code, stderr, _) = mqttspec_run(&[
        "--broker",
        &format!("mqtts://localhost:{}", port(tls.addr)),
        "--tls-ca",
        &ca,
    ]);
    assert!(matches!(code, Some(0) | Some(1)), "{code:?} {stderr}");
    assert!(stderr.contains("transport: mqtts (TLS"), "{stderr}");
    rt.block_on(broker.stop());
}

fn mosquitto() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/sbin")])
        .map(|d| d.join("mosquitto"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the Mosquitto it holds on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_over_tls_and_websocket() {
    let Some(mosquitto) = mosquitto() else {
        eprintln!("NOTICE: mosquitto not found on PATH or in /usr/sbin: the Mosquitto transport test is skipped");
        return;
    };
    let certs = proxy::certs("mosquitto", false);
    let (tcp, tls, ws, wss) = (free_port(), free_port(), free_port(), free_port());
    let conf = proxy::mosquitto_conf(&certs.dir, &certs, tcp, tls, ws, wss);
    let _child = Child(
        Command::new(mosquitto)
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mosquitto starts"),
    );
    let ready = Instant::now();
    for port in [tcp, tls, ws, wss] {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                ready.elapsed() < Duration::from_secs(10),
                "mosquitto does not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let cases = cross_section();
    let over_tcp = run(&cases, endpoint(&format!("127.0.0.1:{tcp}"), None)).await;
    let over_tls = run(
        &cases,
        endpoint(&format!("mqtts://localhost:{tls}"), Some(&certs.ca)),
    )
    .await;
    assert_eq!(over_tls.broker.transport.transport, "mqtts");
    assert!(over_tls.broker.transport.tls_version.is_some());
    assert_same("Mosquitto TLS", &over_tcp, &over_tls);
    let over_ws = run(&cases, endpoint(&format!("ws://127.0.0.1:{ws}/mqtt"), None)).await;
    assert_eq!(
        over_ws.broker.transport.ws_subprotocol.as_deref(),
        Some("mqtt")
    );
    assert_same("Mosquitto WebSocket", &over_tcp, &over_ws);
    let over_wss = run(
        &cases,
        endpoint(&format!("wss://localhost:{wss}/mqtt"), Some(&certs.ca)),
    )
    .await;
    assert_same("Mosquitto secure WebSocket", &over_tcp, &over_wss);
    // The section 6 cases: their verdicts are Mosquitto's (printed), never ERROR.
    let section6 = run(
        &websocket_cases(),
        endpoint(&format!("ws://127.0.0.1:{ws}/mqtt"), None),
    )
    .await;
    for r in &section6.runs {
        eprintln!("mosquitto ws {} {}: {:?}", r.case.id, r.protocol, r.outcome);
        assert_ne!(r.outcome.verdict, Verdict::Error, "{}", r.case.id);
        assert_ne!(r.outcome.verdict, Verdict::Unsupported, "{}", r.case.id);
    }
}

fn embedded_run_config(transport: Scheme) -> RunConfig {
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(2000);
    RunConfig {
        embedded_transport: transport,
        jobs: 8,
        progress: Progress::Quiet,
        restricted_pass: false,
        profile,
        ..RunConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_section_over_the_reference_brokers_own_tls_and_websocket_listeners() {
    let cases = cross_section();
    let tcp = runner::run(&cases, embedded_run_config(Scheme::Tcp))
        .await
        .expect("the run starts");
    assert!(tcp.runs.iter().any(|r| r.outcome.verdict == Verdict::Pass));
    for (scheme, label) in [
        (Scheme::Tls, "TLS listener"),
        (Scheme::Ws, "WebSocket listener"),
        (Scheme::Wss, "secure WebSocket listener"),
    ] {
        let r = runner::run(&cases, embedded_run_config(scheme))
            .await
            .expect("the run starts");
        let t = &r.broker.transport;
        assert_eq!(t.transport, scheme.as_str());
        assert!(r.broker.embedded);
        assert_eq!(t.tls_version.is_some(), scheme.is_tls(), "{t:?}");
        assert_eq!(
            t.ws_subprotocol.as_deref(),
            scheme.is_websocket().then_some("mqtt"),
            "{t:?}"
        );
        assert_same(label, &tcp, &r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_is_said_in_the_report() {
    let broker =
        mqttspec::embedded::EmbeddedBroker::start(runner::embedded_broker_config(), Scheme::Tls)
            .await
            .unwrap();
    let url = format!("mqtts://127.0.0.1:{}", broker.endpoint().addr().port());
    // Where `mqttspec_run` has the reports written.
    let out = std::env::temp_dir().join("mqttspec-transport-out");
    let args: Vec<String> = ["--broker", &url, "--insecure"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let (code, stderr, _) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        mqttspec_run(&args)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    let transport_line = stderr
        .lines()
        .find(|l| l.starts_with("transport:"))
        .unwrap_or_default();
    assert!(
        transport_line.contains("mqtts") && transport_line.contains("INSECURE"),
        "{stderr}"
    );
    for file in ["junit.xml", "report.html"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(text.contains("INSECURE"), "{file} does not say INSECURE");
    }
    let json = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(json.contains("\"insecure\": true"), "report.json");
    broker.stop().await;
}
