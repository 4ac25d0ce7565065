//! A hostile or broken broker must give verdicts (FAIL or ERROR) within bounded time, never a
//! hang or a panic: a fake broker that never answers, answers garbage, closes at once, drips
//! one byte per 100 ms, or claims a 256 MB packet.

use std::net::SocketAddr;
use std::time::Duration;

use mqttspec::profile::Profile;
use mqttspec::runner::{self, Progress, RunConfig};
use mqttspec::verdict::Verdict;
use mqttspec_codec::ProtocolVersion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy)]
enum Hostility {
    Silent,
    Garbage,
    CloseAtOnce,
    Drip,
    HugePacket,
}

/// Reads and discards input for at most 20 s.
async fn drain(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

async fn serve(mut stream: TcpStream, how: Hostility) {
    match how {
        Hostility::Silent => drain(&mut stream).await,
        Hostility::Garbage => {
            let _ = stream
                .write_all(b"\x00\x01\x02HTTP/1.1 400 Bad Request\r\n\r\n")
                .await;
            drain(&mut stream).await;
        }
        Hostility::CloseAtOnce => drop(stream),
        Hostility::Drip => {
            // A PUBLISH claiming 16383 bytes, one byte per 100 ms, at most 20 s.
            let _ = stream.write_all(&[0x30, 0xFF, 0x7F]).await;
            for _ in 0..200 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(b"x").await.is_err() {
                    break;
                }
            }
        }
        Hostility::HugePacket => {
            let _ = stream
                .write_all(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F, b'a', b'b'])
                .await;
            drain(&mut stream).await;
        }
    }
}

async fn fake_broker(how: Hostility) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, how));
        }
    });
    (addr, task)
}

async fn check(how: Hostility) {
    let (addr, task) = fake_broker(how).await;
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(400);
    let config = RunConfig {
        broker: Some(addr),
        protocols: vec![ProtocolVersion::V311, ProtocolVersion::V5],
        jobs: 32,
        case_timeout: Duration::from_secs(3),
        profile,
        progress: Progress::Quiet,
        ..RunConfig::default()
    };
    let cases = mqttspec::cases::all();
    let started = std::time::Instant::now();
    let results = tokio::time::timeout(Duration::from_secs(60), runner::run(&cases, config))
        .await
        .unwrap_or_else(|_| panic!("{how:?}: the run did not end within 60 s"))
        .unwrap_or_else(|e| panic!("{how:?}: the run did not start: {e}"));
    task.abort();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{how:?}: took {:?}",
        started.elapsed()
    );
    assert!(!results.runs.is_empty());
    for r in &results.runs {
        let verdict = r.outcome.verdict;
        // Skipped before the broker is contacted (a capability the profile lacks).
        if verdict == Verdict::Unsupported {
            continue;
        }
        // Closing at once is the right answer to some refusals (e.g. a first packet that is
        // not CONNECT, an over-long Client Identifier), so those cases may pass or record
        // the choice; every case that needs a CONNACK must not pass.
        if matches!(how, Hostility::CloseAtOnce)
            && matches!(
                verdict,
                Verdict::Pass | Verdict::Informational | Verdict::NonStrict
            )
        {
            assert_ne!(r.case.id, "connect.accepted", "{how:?}");
            continue;
        }
        assert!(
            matches!(verdict, Verdict::Fail | Verdict::Error),
            "{how:?}: {} (MQTT {}) got {} ({:?})",
            r.case.id,
            r.protocol,
            verdict,
            r.outcome.actual
        );
    }
    assert!(
        results.runs.iter().any(|r| r.case.id == "connect.accepted"
            && matches!(r.outcome.verdict, Verdict::Fail | Verdict::Error)),
        "{how:?}: connect.accepted must not pass"
    );
    assert!(
        results
            .runs
            .iter()
            .any(|r| r.outcome.verdict == Verdict::Fail),
        "{how:?}: no FAIL at all"
    );
    assert!(
        !results.broker.notes.is_empty(),
        "{how:?}: the probe should note the problem"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_broker_gets_verdicts_not_a_hang() {
    check(Hostility::Silent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_answering_garbage_fails() {
    check(Hostility::Garbage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_closing_at_once_fails() {
    check(Hostility::CloseAtOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_dripping_bytes_is_bounded_by_deadlines() {
    check(Hostility::Drip).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_256_mb_packet_is_refused_without_buffering_it() {
    check(Hostility::HugePacket).await;
}

#[tokio::test]
async fn an_unreachable_broker_is_a_run_error() {
    // Bind then drop: nothing listens on this port any more.
    let addr = TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let config = RunConfig {
        broker: Some(addr),
        progress: Progress::Quiet,
        ..RunConfig::default()
    };
    let err = runner::run(&mqttspec::cases::all(), config)
        .await
        .unwrap_err();
    assert!(err.0.contains("cannot connect"), "{err}");
}
