//! `--broker-cmd`: a broker that stops serving is restarted, the case that stopped it is
//! named (run alone), the cases alongside get the verdict they reach without it, and the rest
//! of the run goes on against the fresh broker.
//!
//! The broker is `mqttspec broker` (the reference broker as a process) with the
//! `hang-on-multibyte-topic-start` fault: a PUBLISH whose Topic Name starts with a multi-byte
//! character stops it serving anyone, while the process stays up — what rumqttd 0.20.0's
//! router panic looks like. The same run against the broker without the fault is the control:
//! apart from the cases that stop it, every verdict must be the same.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use mqttspec::runner::{self, Progress, RunConfig, RunResults};
use mqttspec::transport::Endpoint;
use mqttspec::verdict::{Precondition, Verdict};
use mqttspec_codec::ProtocolVersion;

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

async fn run(fault: Option<&str>, max_restarts: usize) -> RunResults {
    let addr = free_addr();
    let mut command = format!("{} broker --listen {addr}", env!("CARGO_BIN_EXE_mqttspec"));
    if let Some(f) = fault {
        command.push_str(&format!(" --fault {f}"));
    }
    let cases = runner::select(&mqttspec::cases::all(), &["string.".to_owned()]);
    let config = RunConfig {
        broker: Some(Endpoint::tcp(addr)),
        broker_command: Some(command),
        max_restarts,
        protocols: vec![ProtocolVersion::V5],
        jobs: 8,
        progress: Progress::Quiet,
        ..RunConfig::default()
    };
    tokio::time::timeout(Duration::from_secs(240), runner::run(&cases, config))
        .await
        .expect("the run ends")
        .expect("the run starts")
}

fn verdicts(r: &RunResults) -> BTreeMap<&'static str, Verdict> {
    r.runs
        .iter()
        .map(|r| (r.case.id, r.outcome.verdict))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_stops_serving_is_restarted_and_the_case_that_stopped_it_is_named() {
    let clean = run(None, 5).await;
    assert!(
        clean.broker.stopped_serving.is_empty(),
        "{:?}",
        clean.broker.notes
    );
    assert!(clean.runs.iter().all(|r| r.rerun.is_none()));

    let faulty = run(Some("hang-on-multibyte-topic-start"), 5).await;
    let stops = &faulty.broker.stopped_serving;
    assert!(!stops.is_empty(), "the broker stopped serving");
    assert!(stops.iter().all(|s| s.restarted), "{stops:?}");
    assert_eq!(faulty.broker.unhealthy_after, None);
    let named: Vec<&str> = stops
        .iter()
        .filter(|s| s.alone)
        .map(|s| s.case.as_str())
        .collect();
    assert!(
        named.contains(&"string.subscribe-filter-bom-kept"),
        "the case whose topic starts with U+FEFF is named alone: {stops:?}"
    );
    assert!(
        stops
            .iter()
            .all(|s| s.output.iter().any(|l| l.contains("listening"))),
        "the broker's output is kept: {stops:?}"
    );
    for r in &faulty.runs {
        assert_ne!(
            r.outcome.precondition,
            Some(Precondition::BrokerHealthy),
            "{}: nothing is left INCONCLUSIVE for the broker's health: {:?}",
            r.case.id,
            r.outcome
        );
    }
    // Everything else: the verdict of the broker without the fault.
    let want = verdicts(&clean);
    for (id, got) in verdicts(&faulty) {
        if named.contains(&id) {
            continue;
        }
        assert_eq!(Some(&got), want.get(id), "{id}");
    }
    // The cases named alone were run again alone, and say why.
    for id in &named {
        let r = faulty.runs.iter().find(|r| r.case.id == *id).expect("ran");
        assert!(
            r.outcome
                .actual
                .as_deref()
                .is_some_and(|a| a.contains("broker stopped serving")),
            "{id}: {:?}",
            r.outcome
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_restarts_left_the_cases_after_are_inconclusive() {
    let faulty = run(Some("hang-on-multibyte-topic-start"), 0).await;
    let stops = &faulty.broker.stopped_serving;
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert!(!stops[0].restarted);
    assert!(
        stops[0].then.contains("--max-restarts"),
        "{}",
        stops[0].then
    );
    assert!(faulty.broker.unhealthy_after.is_some());
    assert!(faulty.runs.iter().all(|r| r.rerun.is_none()));
    assert!(
        faulty
            .runs
            .iter()
            .any(|r| r.outcome.precondition == Some(Precondition::BrokerHealthy)),
        "the runs after it are INCONCLUSIVE"
    );
}
