//! The limits probe against the embedded reference broker with limits set (it must find
//! them), and against listeners that close everything or never answer (it must end soon and
//! say so).

use std::net::SocketAddr;
use std::time::Duration;

use mqttspec_codec::ProtocolVersion;
use mqttspec_harness::limits::{self, Caps, LimitsConfig, LimitsReport, Measure, VersionLimits};
use mqttspec_harness::profile::Profile;
use mqttspec_reference_broker::config::Config;
use mqttspec_reference_broker::shell::RunningBroker;
use tokio::net::TcpListener;

fn config(protocols: Vec<ProtocolVersion>, timeout_ms: u64) -> LimitsConfig {
    LimitsConfig {
        protocols,
        profile: Profile::parse(&format!("[limits]\nresponse_timeout_ms = {timeout_ms}\n"))
            .unwrap(),
        caps: Caps {
            inflight_messages: 40,
            retained_messages: 30,
            ..Caps::default()
        },
        time_limit: Duration::from_secs(60),
    }
}

fn value<'a>(v: &'a VersionLimits, id: &str) -> &'a Measure {
    &v.finding(id)
        .unwrap_or_else(|| panic!("no finding {id} in {v:#?}"))
        .value
}

fn exactly(v: &VersionLimits, id: &str) -> u64 {
    match value(v, id) {
        Measure::Exactly { value } => *value,
        other => panic!("{id}: {other:?} ({v:#?})"),
    }
}

async fn probe_broker(
    broker: Config,
    protocols: Vec<ProtocolVersion>,
) -> (LimitsReport, SocketAddr, RunningBroker) {
    let b = RunningBroker::start(([127, 0, 0, 1], 0).into(), broker)
        .await
        .unwrap();
    let addr = b.local_addr();
    let report = limits::probe(&addr.into(), &config(protocols, 1000)).await;
    (report, addr, b)
}

#[tokio::test]
async fn finds_the_limits_the_reference_broker_is_configured_with() {
    let broker = Config {
        maximum_packet_size: 4096,
        max_topic_levels: 12,
        max_inflight_messages: 7,
        max_retained_messages: 20,
        queue_qos0_offline: true,
        maximum_session_expiry_interval: 3600,
        topic_alias_maximum: 5,
        receive_maximum: 9,
        ..Config::default()
    };
    let (report, addr, b) =
        probe_broker(broker, vec![ProtocolVersion::V311, ProtocolVersion::V5]).await;
    assert!(report.cleanup.is_empty(), "{:#?}", report.cleanup);
    assert_eq!(report.versions.len(), 2);
    for v in &report.versions {
        assert_eq!(v.unusable, None, "{v:#?}");
        for id in ["client_id_bytes", "topic_bytes", "payload_bytes"] {
            let n = exactly(v, id);
            assert!(
                (3800..4096).contains(&n),
                "{id} = {n} under Maximum Packet Size 4096"
            );
        }
        assert_eq!(exactly(v, "topic_levels"), 12, "{v:#?}");
        assert_eq!(exactly(v, "inflight_messages"), 7, "{v:#?}");
        assert_eq!(exactly(v, "retained_messages"), 20, "{v:#?}");
        assert_eq!(
            value(v, "qos0_queued_offline"),
            &Measure::Choice { value: true }
        );
        assert!(v
            .findings
            .iter()
            .all(|f| f.verdict == mqttspec_harness::verdict::Verdict::Informational));
    }
    let v5 = &report.versions[1];
    assert_eq!(exactly(v5, "session_expiry_seconds"), 3600);
    assert_eq!(v5.connack["topic_alias_maximum"], 5);
    assert_eq!(v5.connack["receive_maximum"], 9);
    assert_eq!(v5.connack["maximum_packet_size"], 4096);
    assert!(report.versions[0]
        .finding("session_expiry_seconds")
        .is_none());

    // Nothing retained is left below the prefix.
    let left = mqttspec_harness::probe::sweep_retained(
        &addr.into(),
        ProtocolVersion::V5,
        &Profile::default(),
        "checkleft",
        &format!("{}/", report.topic_prefix),
    )
    .await
    .unwrap();
    assert_eq!(left, 0);
    b.stop().await;
}

#[tokio::test]
async fn default_reference_broker_reaches_the_caps_and_drops_qos0_for_offline_sessions() {
    let (report, _, b) = probe_broker(Config::default(), vec![ProtocolVersion::V5]).await;
    let v = &report.versions[0];
    assert_eq!(
        value(v, "client_id_bytes"),
        &Measure::AtLeast { value: 65_535 }
    );
    // Its Maximum Packet Size (1 MiB) is the bound, a little above the payload.
    let payload = exactly(v, "payload_bytes");
    assert!((1_048_000..1_048_576).contains(&payload), "{payload}");
    assert_eq!(
        value(v, "inflight_messages"),
        &Measure::AtLeast { value: 40 }
    );
    assert_eq!(
        value(v, "retained_messages"),
        &Measure::AtLeast { value: 30 }
    );
    assert_eq!(
        value(v, "qos0_queued_offline"),
        &Measure::Choice { value: false }
    );
    assert_eq!(exactly(v, "topic_levels"), 128);
    assert_eq!(exactly(v, "session_expiry_seconds"), u64::from(u32::MAX));
    b.stop().await;
}

#[tokio::test]
async fn a_listener_that_closes_everything_is_reported_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let started = std::time::Instant::now();
    let report = limits::probe(
        &addr.into(),
        &config(vec![ProtocolVersion::V311, ProtocolVersion::V5], 1000),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    for v in &report.versions {
        let why = v.unusable.as_deref().unwrap_or_else(|| panic!("{v:#?}"));
        assert!(why.contains("closed") || why.contains("not sent"), "{why}");
        assert!(v.findings.is_empty());
    }
    task.abort();
}

#[tokio::test]
async fn a_listener_that_never_answers_is_reported_after_one_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            if held.len() < 64 {
                held.push(s);
            }
        }
    });
    let started = std::time::Instant::now();
    let report = limits::probe(
        &addr.into(),
        &config(vec![ProtocolVersion::V311, ProtocolVersion::V5], 200),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    for v in &report.versions {
        let why = v.unusable.as_deref().unwrap_or_else(|| panic!("{v:#?}"));
        assert!(why.contains("no answer within 200 ms"), "{why}");
    }
    task.abort();
}

#[tokio::test]
async fn the_overall_time_limit_bounds_a_slow_probe() {
    let b = RunningBroker::start(([127, 0, 0, 1], 0).into(), Config::default())
        .await
        .unwrap();
    let mut c = config(vec![ProtocolVersion::V5], 1000);
    c.time_limit = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let report = limits::probe(&b.local_addr().into(), &c).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let v = &report.versions[0];
    assert!(
        v.findings.iter().any(
            |f| matches!(&f.value, Measure::Unknown { reason } if reason.contains("time limit"))
        ),
        "{v:#?}"
    );
    assert!(report.cleanup.is_empty(), "{:#?}", report.cleanup);
    b.stop().await;
}
