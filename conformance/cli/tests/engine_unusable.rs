//! Unusable brokers, fast and clear: nothing listening is a run error at once; a listener
//! that closes, never answers, answers garbage, drips bytes or claims a huge packet gets every
//! case INCONCLUSIVE after one probe timeout (no PASS, no FAIL), "nothing could be judged";
//! one that accepts CONNECT and nothing else (or only PINGREQ) is judged only by the cases
//! about what it does; a broker that refuses MQTT 5.0 the way MQTT 3.1.1 says
//! gets the 5.0 cases UNSUPPORTED and one case judging the refusal itself.

mod support;

use std::time::{Duration, Instant};

use mqttspec::baseline::Baseline;
use mqttspec::probe::VersionStatus;
use mqttspec::profile::Profile;
use mqttspec::report::Report;
use mqttspec::runner::{self, Progress, RunConfig, RunResults};
use mqttspec::verdict::{Precondition, Verdict};
use mqttspec_codec::ProtocolVersion;
use support::fake_broker::{self, Fake};
use tokio::net::TcpListener;

async fn run_against(how: Fake) -> (RunResults, Duration) {
    let (addr, task) = fake_broker::start(how).await;
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(500);
    let config = RunConfig {
        broker: Some(addr.into()),
        protocols: vec![ProtocolVersion::V311, ProtocolVersion::V5],
        jobs: 32,
        case_timeout: Duration::from_secs(4),
        profile,
        progress: Progress::Quiet,
        ..RunConfig::default()
    };
    let started = Instant::now();
    let results = tokio::time::timeout(
        Duration::from_secs(120),
        runner::run(&mqttspec::cases::all(), config),
    )
    .await
    .unwrap_or_else(|_| panic!("{how:?}: the run did not end"))
    .unwrap_or_else(|e| panic!("{how:?}: the run did not start: {e}"));
    task.abort();
    (results, started.elapsed())
}

/// Every case run INCONCLUSIVE for want of a usable protocol version, within a few seconds,
/// and the gate says nothing could be judged (exit 2).
async fn nothing_judged(how: Fake) {
    let (results, took) = run_against(how).await;
    assert!(took < Duration::from_secs(10), "{how:?}: took {took:?}");
    assert!(!results.broker.any_version_usable(), "{how:?}");
    for r in &results.runs {
        assert_eq!(
            r.outcome.verdict,
            Verdict::Inconclusive,
            "{how:?}: {} (MQTT {}): {:?}",
            r.case.id,
            r.protocol,
            r.outcome.actual
        );
        assert_eq!(r.outcome.precondition, Some(Precondition::ProtocolUsable));
    }
    assert!(
        results.broker.notes.iter().any(|n| n.contains("unusable")),
        "{how:?}: {:?}",
        results.broker.notes
    );
    let report = Report::build(&results, "fake", &Baseline::default());
    assert_eq!(report.gate.exit_code(false), 2, "{how:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_closes_everything_judges_nothing() {
    nothing_judged(Fake::CloseAll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_never_answers_judges_nothing_after_one_timeout() {
    nothing_judged(Fake::Silent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_answering_garbage_judges_nothing() {
    nothing_judged(Fake::Garbage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_listener_is_bounded_by_the_probe_timeout() {
    nothing_judged(Fake::Drip).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_256_mb_packet_is_refused_without_buffering_it() {
    nothing_judged(Fake::HugePacket).await;
}

/// The whole suite against a fake that answers CONNECT: no judgement but those listed in
/// `tests/data/fake-broker-fails.txt` (shared with engine_discipline.rs), e.g. the cases
/// about CONNECT and PINGREQ themselves.
async fn judges_only_what_it_sees(how: Fake) {
    let (results, took) = run_against(how).await;
    assert!(took < Duration::from_secs(90), "{how:?}: took {took:?}");
    let allowed = fake_broker::allowed_verdicts();
    let mut passed = Vec::new();
    for r in &results.runs {
        let key = format!(
            "{how:?} {} {} {}",
            r.case.id,
            r.protocol.label(),
            r.outcome.verdict.label()
        );
        if allowed.contains(&key) {
            continue;
        }
        if matches!(
            r.outcome.verdict,
            Verdict::Pass | Verdict::NonStrict | Verdict::Informational | Verdict::Fail
        ) {
            passed.push(format!(
                "{} (MQTT {}): {} {:?}",
                r.case.id, r.protocol, r.outcome.verdict, r.outcome.actual
            ));
        }
    }
    assert!(
        passed.is_empty(),
        "{how:?}: judged what it did not see:\n{}",
        passed.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_accepts_only_pings_is_judged_only_on_connect_and_ping() {
    judges_only_what_it_sees(Fake::PingOnly).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_accepts_connect_and_nothing_else_is_judged_only_on_that() {
    judges_only_what_it_sees(Fake::ConnackThenClose).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v311_only_broker_gets_v5_unsupported_and_a_judged_refusal() {
    let (results, _) = run_against(Fake::RefuseV5).await;
    let v5 = results
        .broker
        .versions
        .iter()
        .find(|(v, _)| *v == ProtocolVersion::V5)
        .map(|(_, s)| s.clone());
    assert!(matches!(v5, Some(VersionStatus::Refused(_))), "{v5:?}");
    // The health probes speak the version the broker serves: a refused version is not a
    // broker that stopped serving.
    assert_eq!(results.broker.unhealthy_after, None);
    for r in results
        .runs
        .iter()
        .filter(|r| r.protocol == ProtocolVersion::V5)
    {
        if r.case.id == "version.refusal-as-specified" {
            assert_eq!(r.outcome.verdict, Verdict::Pass, "{:?}", r.outcome);
        } else {
            assert_eq!(r.outcome.verdict, Verdict::Unsupported, "{}", r.case.id);
        }
    }
    let (kept_open, _) = run_against(Fake::RefuseV5KeepOpen).await;
    let judged = kept_open
        .runs
        .iter()
        .find(|r| r.case.id == "version.refusal-as-specified" && r.protocol == ProtocolVersion::V5)
        .expect("the version case ran on MQTT 5");
    assert_eq!(
        judged.outcome.verdict,
        Verdict::Fail,
        "{:?}",
        judged.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_stops_serving_makes_the_cases_alongside_and_after_inconclusive() {
    let (results, took) = run_against(Fake::DyingPingOnly).await;
    assert!(took < Duration::from_secs(90), "took {took:?}");
    let after = results
        .broker
        .unhealthy_after
        .clone()
        .expect("the health probe noticed the broker stop serving");
    assert!(
        results
            .broker
            .notes
            .iter()
            .any(|n| n.contains("stopped serving")),
        "{:?}",
        results.broker.notes
    );
    let culprit = results
        .runs
        .iter()
        .filter(|r| {
            r.outcome
                .actual
                .as_deref()
                .is_some_and(|a| a.contains("after this case the broker stopped serving"))
        })
        .count();
    assert_eq!(
        culprit, 1,
        "exactly one case says the broker stopped after it ({after})"
    );
    let stopped = results
        .runs
        .iter()
        .filter(|r| r.outcome.precondition == Some(Precondition::BrokerHealthy))
        .count();
    assert!(
        stopped > 100,
        "only {stopped} runs INCONCLUSIVE for the broker's health"
    );
    for r in &results.runs {
        assert!(
            !matches!(r.outcome.verdict, Verdict::Error),
            "{} (MQTT {}): {:?}",
            r.case.id,
            r.protocol,
            r.outcome
        );
    }
}

#[tokio::test]
async fn nothing_listening_is_a_run_error_at_once() {
    // Bind then drop: nothing listens on this port any more.
    let addr = TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let config = RunConfig {
        broker: Some(addr.into()),
        progress: Progress::Quiet,
        ..RunConfig::default()
    };
    let started = Instant::now();
    let err = runner::run(&mqttspec::cases::all(), config)
        .await
        .unwrap_err();
    assert!(err.0.contains("nothing is listening"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
