//! `mqttspec bench` against the embedded reference broker: short QoS 1 runs that must lose
//! and reorder nothing (fan-in and fan-out), the JSON document the binary writes, argument
//! validation, and a broker that goes away mid-run (an error, not a hang).

use std::process::{Command, Output};
use std::time::Duration;

use clap::Parser;
use mqttspec::bench::{self, BenchConfig, BenchResult, DrainEnd};
use mqttspec::cli::{Cli, Exit};
use mqttspec_codec::{ProtocolVersion, QoS};
use mqttspec_reference_broker::shell::RunningBroker;
use serde_json::Value;

async fn broker() -> RunningBroker {
    RunningBroker::start(([127, 0, 0, 1], 0).into(), Default::default())
        .await
        .expect("broker starts")
}

/// A short, modest-rate run: `publishers` -> `subscribers` at QoS 1.
fn short_run(broker: &RunningBroker, publishers: u32, subscribers: u32) -> BenchConfig {
    BenchConfig {
        publishers,
        subscribers,
        qos: QoS::AtLeastOnce,
        duration: Duration::from_millis(1200),
        rate: Some(200.0),
        drain: Duration::from_secs(2),
        ..BenchConfig::new(broker.local_addr())
    }
}

fn assert_complete_and_in_order(r: &BenchResult) {
    let sent = r.sent();
    assert_eq!(r.drain_end, DrainEnd::Complete, "every message arrived");
    // 200 msg/s for 1.2 s per publisher: well above zero even on a busy machine.
    assert!(
        sent >= 50 * u64::from(r.config.publishers),
        "sent only {sent}"
    );
    assert_eq!(r.subscribers.len(), r.config.subscribers as usize);
    for s in &r.subscribers {
        assert_eq!(s.expected, sent, "subscriber {} expects all", s.index);
        assert_eq!(s.unique, sent, "subscriber {} got {}", s.index, s.unique);
        assert_eq!(
            (s.lost, s.reordered, s.duplicates, s.malformed),
            (0, 0, 0, 0),
            "{s:?}"
        );
        assert_eq!(s.granted_qos, 1);
        assert_eq!(s.latency.count, sent);
        assert!(s.latency.p50_us > 0.0 && s.latency.max_us >= s.latency.p99_us);
    }
    for p in &r.publishers {
        assert_eq!((p.acknowledged, p.refused), (p.sent, 0), "{p:?}");
        assert!(p.window > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_in_at_qos1_loses_and_reorders_nothing() {
    let broker = broker().await;
    let result = bench::run(short_run(&broker, 4, 1)).await.expect("run");
    broker.stop().await;
    assert_complete_and_in_order(&result);
    // Four publishers at 200 msg/s: the subscriber sees about 800 msg/s.
    assert!(
        result.delivered_per_sec > 200.0,
        "{}",
        result.delivered_per_sec
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_on_the_publishers_runtime_also_lose_and_reorder_nothing() {
    let broker = broker().await;
    let config = BenchConfig {
        shared_runtime: true,
        ..short_run(&broker, 4, 2)
    };
    let result = bench::run(config).await.expect("run");
    broker.stop().await;
    assert!(result.config.shared_runtime);
    assert_complete_and_in_order(&result);
    assert_eq!(result.to_json()["parameters"]["shared_runtime"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_at_qos1_loses_and_reorders_nothing_at_any_subscriber() {
    let broker = broker().await;
    let result = bench::run(short_run(&broker, 1, 4)).await.expect("run");
    broker.stop().await;
    assert_complete_and_in_order(&result);
    let total: u64 = result.subscribers.iter().map(|s| s.unique).sum();
    assert_eq!(total, 4 * result.sent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_out_run_at_qos1_uses_the_broker_receive_maximum_as_window() {
    let broker = broker().await;
    let config = BenchConfig {
        rate: None,
        duration: Duration::from_millis(500),
        ..short_run(&broker, 2, 1)
    };
    let result = bench::run(config).await.expect("run");
    broker.stop().await;
    // The reference broker's default Receive Maximum.
    assert!(result.publishers.iter().all(|p| p.window == 64));
    assert_complete_and_in_order(&result);
}

fn mqttspec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqttspec"))
        .args(args)
        .output()
        .expect("run mqttspec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_carries_parameters_per_client_results_and_latency() {
    let broker = broker().await;
    let addr = broker.local_addr().to_string();
    let path = std::env::temp_dir().join(format!("mqttspec-bench-{}.json", std::process::id()));
    let json = path.to_string_lossy().into_owned();
    let out = tokio::task::spawn_blocking(move || {
        mqttspec(&[
            "bench",
            "--broker",
            &addr,
            "--protocol",
            "3.1.1",
            "--qos",
            "2",
            "--publishers",
            "2",
            "--subscribers",
            "2",
            "--payload",
            "100",
            "--duration",
            "1",
            "--rate",
            "100",
            "--topic",
            "bench-test/json",
            "--json",
            &json,
        ])
    })
    .await
    .expect("join");
    broker.stop().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout {stdout}\nstderr {stderr}"
    );
    assert!(stdout.contains("latency (us)"), "{stdout}");
    assert!(stdout.contains("subscriber"), "{stdout}");
    let text = std::fs::read_to_string(&path).expect("JSON written");
    let _ = std::fs::remove_file(&path);
    let v: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(v["schema"], bench::JSON_SCHEMA);
    let p = &v["parameters"];
    assert_eq!(p["protocol"], "3.1.1");
    assert_eq!(p["qos"], 2);
    assert_eq!(p["publishers"], 2);
    assert_eq!(p["subscribers"], 2);
    assert_eq!(p["payload_bytes"], 100);
    assert_eq!(p["rate_per_publisher"], 100.0);
    assert_eq!(p["topic_prefix"], "bench-test/json");
    assert_eq!(
        p["shared_runtime"], false,
        "subscribers on their own runtime by default"
    );
    let sent = v["sent"].as_u64().expect("sent");
    assert!(sent > 0);
    assert_eq!(v["drain_end"], "complete");
    assert_eq!(v["publishers"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["publishers"][0]["window"], 64, "3.1.1 default window");
    let subs = v["subscribers"].as_array().expect("subscribers");
    assert_eq!(subs.len(), 2);
    for s in subs {
        assert_eq!(s["expected"].as_u64(), Some(sent));
        assert_eq!(s["lost"], 0);
        assert_eq!(s["reordered"], 0);
        assert_eq!(s["duplicates"], 0);
        assert_eq!(s["granted_qos"], 2);
        for key in ["p50", "p90", "p99", "p99_9", "max", "mean", "count"] {
            assert!(s["latency_us"][key].is_number(), "{key} in {s}");
        }
    }
    let total = &v["total"];
    assert_eq!(total["unique"].as_u64(), Some(2 * sent));
    assert_eq!(total["lost"], 0);
    assert!(total["delivered_per_sec"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(total["latency_us"]["p99_9"].as_f64().unwrap_or(0.0) > 0.0);
}

/// The usage error `mqttspec bench <args>` gives.
fn usage_error(args: &[&str]) -> String {
    let mut argv = vec!["mqttspec", "bench", "--broker", "127.0.0.1:1"];
    argv.extend_from_slice(args);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return e.to_string(),
    };
    let mqttspec::cli::Command::Bench(args) = cli.command else {
        panic!("not the bench command");
    };
    match args.config().map_err(Exit::from) {
        Err(Exit::Usage(m)) => m,
        other => panic!("{argv:?} accepted: {other:?}"),
    }
}

#[test]
fn unusable_arguments_are_usage_errors() {
    assert!(usage_error(&["--payload", "19"]).contains("at least 20"));
    assert!(usage_error(&["--qos", "3"]).contains("--qos"));
    assert!(usage_error(&["--publishers", "0"]).contains("--publishers"));
    assert!(usage_error(&["--duration", "0"]).contains("--duration"));
    assert!(usage_error(&["--duration", "NaN"]).contains("--duration"));
    assert!(usage_error(&["--rate=-5"]).contains("--rate"));
    assert!(usage_error(&["--rate", "0"]).contains("--rate"));
    assert!(usage_error(&["--window", "0"]).contains("--window"));
    assert!(usage_error(&["--topic", "a/+/b"]).contains("--topic"));
    assert!(usage_error(&["--topic", ""]).contains("--topic"));
    assert!(usage_error(&["--protocol", "4.0"]).contains("4.0"));
}

#[test]
fn well_formed_arguments_become_the_run_configuration() {
    let cli = Cli::try_parse_from([
        "mqttspec",
        "bench",
        "--broker",
        "127.0.0.1:1883",
        "--protocol",
        "3.1.1",
        "--qos",
        "0",
        "--payload",
        "20",
        "--publishers",
        "3",
        "--subscribers",
        "0",
        "--rate",
        "50",
        "--duration",
        "1.5",
        "--topic",
        "t/x",
        "--window",
        "8",
        "--shared-runtime",
    ])
    .expect("parses");
    let mqttspec::cli::Command::Bench(args) = cli.command else {
        panic!("not the bench command");
    };
    let c = args.config().expect("valid");
    assert_eq!(c.protocol, ProtocolVersion::V311);
    assert_eq!(c.qos, QoS::AtMostOnce);
    assert_eq!((c.payload, c.publishers, c.subscribers), (20, 3, 0));
    assert_eq!(c.rate, Some(50.0));
    assert_eq!(c.duration, Duration::from_millis(1500));
    assert_eq!((c.topic.as_str(), c.window), ("t/x", Some(8)));
    assert!(c.shared_runtime);
}

#[test]
fn too_small_payload_exits_with_status_2_before_connecting() {
    let out = mqttspec(&["bench", "--broker", "127.0.0.1:1", "--payload", "8"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 20"), "{stderr}");
    assert!(stderr.contains("mqttspec bench"), "usage line: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_exits_with_status_2() {
    // A port that was just free: nothing listens there.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let out = tokio::task::spawn_blocking(move || {
        mqttspec(&["bench", "--broker", &addr, "--duration", "1"])
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_going_away_mid_run_is_a_prompt_error() {
    let broker = broker().await;
    let config = BenchConfig {
        duration: Duration::from_secs(30),
        ..short_run(&broker, 2, 2)
    };
    let run = tokio::spawn(bench::run(config));
    tokio::time::sleep(Duration::from_millis(500)).await;
    broker.stop().await;
    let result = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the run ends soon after the broker, not at its 30 s duration")
        .expect("join");
    let err = result.expect_err("the run fails");
    let text = err.to_string();
    assert!(
        text.contains("DISCONNECT") || text.contains("closed"),
        "clear error: {text}"
    );
}
