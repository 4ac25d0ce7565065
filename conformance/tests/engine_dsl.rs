//! The scenario DSL against the embedded reference broker: publish / subscribe / expect
//! flows, and how the runner turns case endings into verdicts.

use std::sync::Arc;
use std::time::Duration;

use mqttspec::client::Transcript;
use mqttspec::profile::{Capabilities, Profile};
use mqttspec::runner::{run_case, CaseRun};
use mqttspec::scenario::{millis, BoxFuture, Case, CaseEnv, CaseResult, Ctx, Protocols};
use mqttspec::verdict::Verdict;
use mqttspec_codec::{ProtocolVersion, StatementId as S};
use mqttspec_reference_broker::shell::RunningBroker;

fn case(id: &'static str, run: fn(Ctx) -> BoxFuture<'static, CaseResult>) -> Case {
    Case {
        id,
        title: "engine test",
        area: "PUBLISH",
        statements: &[S::V5_3_3_1_1, S::V311_3_3_1_1],
        protocols: Protocols::Both,
        requires: &[],
        faults: &[],
        unfaultable: Some("engine test"),
        run,
    }
}

async fn run(c: Case, v: ProtocolVersion, limit: Duration) -> CaseRun {
    let broker = RunningBroker::start(([127, 0, 0, 1], 0).into(), Default::default())
        .await
        .expect("broker starts");
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(1000);
    let env = CaseEnv {
        broker: broker.local_addr(),
        protocol: v,
        capabilities: Arc::new(Capabilities::default()),
        profile: Arc::new(profile),
        topic_prefix: format!("test/{}/{}/", c.id, v.label()),
        id_stem: "mstest00000".to_owned(),
        transcript: Transcript::default(),
    };
    let result = run_case(c, env, tokio::time::Instant::now() + limit).await;
    broker.stop().await;
    result
}

fn qos_flows(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q");
        let mut sub = t.client("sub").connect().await?;
        let codes = sub.subscribe(&topic).qos(2).await?;
        t.check_eq("SUBACK codes", 1, codes.len())?;
        let mut publisher = t.client("pub").connect().await?;
        for qos in 0..=2u8 {
            publisher
                .publish(&topic)
                .qos(qos)
                .payload(format!("m{qos}"))
                .await?;
            sub.expect_publish()
                .topic(&topic)
                .qos(qos)
                .payload(format!("m{qos}"))
                .await?;
        }
        sub.expect_no_publish().for_(millis(200)).await?;
        sub.alive().await?;
        t.pass()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_subscribe_and_expect_work_at_every_qos_on_both_protocols() {
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let r = run(case("dsl.qos", qos_flows), v, Duration::from_secs(10)).await;
        assert_eq!(r.outcome.verdict, Verdict::Pass, "{v}: {:?}", r.outcome);
        assert!(r
            .transcript
            .iter()
            .any(|e| e.summary.starts_with("PUBCOMP")));
    }
}

fn wrong_payload(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("w");
        let mut c = t.client("c").connect().await?;
        c.subscribe(&topic).qos(1).await?;
        c.publish(&topic).qos(1).payload("actual").await?;
        c.expect_publish().payload("expected").await?;
        t.pass()
    })
}

#[tokio::test]
async fn an_unmet_expectation_is_fail_with_expected_and_actual() {
    let r = run(
        case("dsl.wrong", wrong_payload),
        ProtocolVersion::V5,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(r.outcome.verdict, Verdict::Fail);
    assert!(r
        .outcome
        .expected
        .as_deref()
        .unwrap()
        .contains("\"expected\""));
    assert!(r.outcome.actual.as_deref().unwrap().contains("\"actual\""));
}

fn nothing(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { t.pass() })
}

#[tokio::test]
async fn a_case_that_checks_nothing_is_error() {
    let r = run(
        case("dsl.nothing", nothing),
        ProtocolVersion::V5,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r.outcome.verdict, Verdict::Error);
    assert!(r.outcome.actual.unwrap().contains("observed nothing"));
}

fn panics(_t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { panic!("boom") })
}

#[tokio::test]
async fn a_panicking_case_is_error_and_does_not_take_the_runner_down() {
    let r = run(
        case("dsl.panic", panics),
        ProtocolVersion::V5,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r.outcome.verdict, Verdict::Error);
    assert!(r.outcome.actual.unwrap().contains("boom"));
}

fn slow(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        t.wait(Duration::from_secs(30)).await;
        c.alive().await?;
        t.pass()
    })
}

#[tokio::test]
async fn a_case_over_its_time_limit_is_error_and_keeps_its_transcript() {
    let started = std::time::Instant::now();
    let r = run(
        case("dsl.slow", slow),
        ProtocolVersion::V311,
        Duration::from_millis(500),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.outcome.verdict, Verdict::Error);
    assert!(r.outcome.actual.unwrap().contains("time limit"));
    assert!(r
        .transcript
        .iter()
        .any(|e| e.summary.starts_with("CONNACK")));
}

fn setup_with_credentials(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // Refused by the broker: a setup step the broker may refuse is ERROR, not FAIL.
        t.client("c")
            .protocol(ProtocolVersion::V5)
            .client_id("")
            .clean_start(true)
            .credentials("nobody", "wrong")
            .connect()
            .await?;
        t.pass()
    })
}

#[tokio::test]
async fn a_passing_setup_counts_as_a_check() {
    // The reference broker accepts any credentials by default: connect() is a met check.
    let r = run(
        case("dsl.setup", setup_with_credentials),
        ProtocolVersion::V5,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r.outcome.verdict, Verdict::Pass, "{:?}", r.outcome);
}

#[tokio::test]
async fn capabilities_the_broker_lacks_make_a_case_unsupported_without_running() {
    let mut c = case("dsl.caps", panics);
    c.requires = &[mqttspec::scenario::Capability::Credentials];
    let r = run(c, ProtocolVersion::V5, Duration::from_secs(5)).await;
    assert_eq!(r.outcome.verdict, Verdict::Unsupported);
    assert!(r.outcome.actual.unwrap().contains("credentials"));
}
