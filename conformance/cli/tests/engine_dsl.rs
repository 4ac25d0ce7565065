//! The scenario DSL against the embedded reference broker: publish / subscribe / expect
//! flows, and how the runner turns case endings into verdicts.

use std::sync::Arc;
use std::time::Duration;

use mqttspec::client::Transcript;
use mqttspec::profile::{Capabilities, Profile};
use mqttspec::runner::{run_case, CaseRun};
use mqttspec::scenario::{millis, BoxFuture, Case, CaseEnv, CaseResult, Ctx};
use mqttspec::verdict::{Precondition, Verdict};
use mqttspec_codec::{ProtocolVersion, StatementId as S};
use mqttspec_reference_broker::shell::RunningBroker;

fn case(id: &'static str, run: fn(Ctx) -> BoxFuture<'static, CaseResult>) -> Case {
    Case {
        id,
        title: "engine test",
        statements: &[S::V5_3_3_1_1, S::V311_3_3_1_1],
        only: None,
        requires: &[],
        faults: &[],
        unfaultable: Some("engine test"),
        tags: &[],
        run,
        module: module_path!(),
        line: line!(),
    }
}

async fn run(c: Case, v: ProtocolVersion, limit: Duration) -> CaseRun {
    let broker = RunningBroker::start(([127, 0, 0, 1], 0).into(), Default::default())
        .await
        .expect("broker starts");
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(1000);
    let env = CaseEnv {
        broker: broker.local_addr().into(),
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
        // The positive control of that absence: a message that must arrive, does.
        publisher.publish(&topic).qos(1).payload("control").await?;
        sub.expect_publish()
            .topic(&topic)
            .payload("control")
            .as_control()
            .await?;
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
async fn setup_steps_alone_check_nothing() {
    // A setup step that succeeds establishes a precondition; it checks no statement.
    let r = run(
        case("dsl.setup", setup_with_credentials),
        ProtocolVersion::V5,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r.outcome.verdict, Verdict::Error, "{:?}", r.outcome);
    assert!(r
        .outcome
        .actual
        .as_deref()
        .is_some_and(|a| a.contains("observed nothing")));
}

fn setup_publish_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        // A PUBLISH on a topic with a wildcard cannot be built strictly, so send one raw:
        // the broker closes, and the setup step waiting for its PUBACK is INCONCLUSIVE.
        c.send_raw(
            mqttspec_codec::RawPacket::new(0x32)
                .string("a/+")
                .u16(1)
                .properties(&[])
                .build(),
        )
        .await?;
        c.publish(t.topic("x")).qos(1).await?;
        c.alive().await?;
        t.pass()
    })
}

#[tokio::test]
async fn a_failed_setup_step_is_inconclusive_naming_its_precondition() {
    let r = run(
        case("dsl.inconclusive", setup_publish_refused),
        ProtocolVersion::V5,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r.outcome.verdict, Verdict::Inconclusive, "{:?}", r.outcome);
    assert!(matches!(
        r.outcome.precondition,
        Some(Precondition::Publish | Precondition::Connection)
    ));
}

fn refusal_without_twin(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").open().await?;
        c.send_raw(vec![0xC0, 0x00]).await?; // PINGREQ before CONNECT
        c.expect_closed().await?;
        t.pass()
    })
}

fn refusal_with_twin(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut twin = t.client("c").as_twin().connect().await?;
        twin.alive().as_twin().await?;
        let mut c = t.client("c2").open().await?;
        c.send_raw(vec![0xC0, 0x00]).await?;
        c.expect_closed().await?;
        t.pass()
    })
}

#[tokio::test]
async fn a_pass_resting_on_a_refusal_needs_the_accepted_twin() {
    let without = run(
        case("dsl.no-twin", refusal_without_twin),
        ProtocolVersion::V311,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        without.outcome.verdict,
        Verdict::Error,
        "{:?}",
        without.outcome
    );
    assert!(without
        .outcome
        .actual
        .as_deref()
        .is_some_and(|a| a.contains("twin")));
    let with = run(
        case("dsl.twin", refusal_with_twin),
        ProtocolVersion::V311,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(with.outcome.verdict, Verdict::Pass, "{:?}", with.outcome);
}

fn absence_without_control(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        c.subscribe(t.topic("a")).await?;
        c.expect_no_publish().for_(millis(100)).await?;
        t.pass()
    })
}

#[tokio::test]
async fn a_pass_resting_on_an_absence_needs_a_control() {
    let r = run(
        case("dsl.no-control", absence_without_control),
        ProtocolVersion::V5,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r.outcome.verdict, Verdict::Error, "{:?}", r.outcome);
    assert!(r
        .outcome
        .actual
        .as_deref()
        .is_some_and(|a| a.contains("control")));
}

fn reconnecting(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        t.client("c").connect().await?.disconnect().await?;
        let mut c = t.client("c").connect().await?;
        c.alive().await?;
        t.pass()
    })
}

#[tokio::test]
async fn two_connections_of_one_client_are_labelled_apart() {
    let r = run(
        case("dsl.labels", reconnecting),
        ProtocolVersion::V5,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r.outcome.verdict, Verdict::Pass, "{:?}", r.outcome);
    assert!(r.transcript.iter().any(|e| e.client == "c#1"));
    assert!(r.transcript.iter().any(|e| e.client == "c#2"));
    assert!(!r.transcript.iter().any(|e| e.client == "c"));
}

#[tokio::test]
async fn capabilities_the_broker_lacks_make_a_case_unsupported_without_running() {
    let mut c = case("dsl.caps", panics);
    c.requires = &[mqttspec::scenario::Capability::Credentials];
    let r = run(c, ProtocolVersion::V5, Duration::from_secs(5)).await;
    assert_eq!(r.outcome.verdict, Verdict::Unsupported);
    assert!(r.outcome.actual.unwrap().contains("credentials"));
}
