//! Every client case against the reference client: PASS as it is, and red (FAIL, or
//! NON-STRICT for a SHOULD) under each fault the case names. Also: every fault is named by
//! some case, and a client that never connects or hangs yields a verdict in bounded time.

use std::collections::BTreeSet;
use std::time::Duration;

use mqttspec_client_suite::case::ClientCase;
use mqttspec_client_suite::cases;
use mqttspec_client_suite::reference::{Fault, FAULTS_ENV};
use mqttspec_client_suite::run::{run_one, RunConfig};
use mqttspec_harness::client::transcript::render_text;
use mqttspec_harness::verdict::Verdict;
use tokio::sync::Semaphore;

const REFERENCE: &str = env!("CARGO_BIN_EXE_mqttspec-reference-client");

fn config(faults: &[Fault]) -> RunConfig {
    let mut c = RunConfig::new(REFERENCE);
    let names: Vec<_> = faults.iter().map(|f| f.name()).collect();
    c.env = vec![(FAULTS_ENV.to_owned(), names.join(","))];
    c.timing.response = Duration::from_secs(2);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_on_the_reference_client_and_fails_under_its_faults() {
    let sem = std::sync::Arc::new(Semaphore::new(6));
    let mut handles = Vec::new();
    for case in cases::all() {
        for v in case.protocols() {
            let mut variants: Vec<Option<Fault>> = vec![None];
            variants.extend(case.faults.iter().copied().map(Some));
            for fault in variants {
                let sem = sem.clone();
                handles.push(tokio::spawn(async move {
                    let _p = sem.acquire_owned().await;
                    let faults: Vec<Fault> = fault.into_iter().collect();
                    let run = run_one(&config(&faults), case, v).await;
                    (case, v, fault, run)
                }));
            }
        }
    }
    let mut problems = Vec::new();
    for h in handles {
        let (case, v, fault, run) = h.await.expect("case task");
        let verdict = run.outcome.verdict;
        let ok = match fault {
            // INFORMATIONAL: where the specification lets the library choose, the case says
            // what the reference client chose.
            None => matches!(verdict, Verdict::Pass | Verdict::Informational),
            Some(_) => matches!(verdict, Verdict::Fail | Verdict::NonStrict),
        };
        if !ok {
            problems.push(format!(
                "{} [{v}] fault {:?}: {verdict} {:?}\n{}",
                case.id,
                fault.map(|f| f.name()),
                run.outcome,
                render_text(&run.transcript)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_fault_is_named_by_a_case_and_every_case_names_one() {
    let all = cases::all();
    let named: BTreeSet<Fault> = all
        .iter()
        .flat_map(|c: &ClientCase| c.faults.iter().copied())
        .collect();
    for f in Fault::ALL {
        assert!(named.contains(f), "no case names the fault {f}");
    }
    for c in &all {
        assert!(!c.faults.is_empty(), "{} names no fault", c.id);
        assert!(!c.protocols().is_empty(), "{} cites no statement", c.id);
    }
    let mut ids: Vec<_> = all.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "duplicate case ids");
}

#[tokio::test]
async fn a_client_that_never_connects_or_hangs_gets_a_verdict_in_bounded_time() {
    let case = cases::all()
        .into_iter()
        .find(|c| c.id == "qos.qos1-received-puback")
        .expect("case");
    // Says ready, then reads nothing and never connects.
    let mut c = RunConfig::new(r#"sh -c 'echo "{\"event\":\"ready\"}"; sleep 60'"#);
    c.timing.response = Duration::from_millis(500);
    let started = std::time::Instant::now();
    let run = run_one(&c, case, mqttspec_codec::ProtocolVersion::V5).await;
    assert_eq!(
        run.outcome.verdict,
        Verdict::Inconclusive,
        "{:?}",
        run.outcome
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Never says ready: ERROR, bounded by the ready timeout.
    let mut c = RunConfig::new("sleep 60");
    c.timing.ready = Duration::from_millis(500);
    let run = run_one(&c, case, mqttspec_codec::ProtocolVersion::V5).await;
    assert_eq!(run.outcome.verdict, Verdict::Error, "{:?}", run.outcome);
    // Floods stdout with garbage: still a verdict.
    let mut c = RunConfig::new(r#"sh -c 'echo "{\"event\":\"ready\"}"; yes garbage'"#);
    c.timing.response = Duration::from_millis(500);
    let run = run_one(&c, case, mqttspec_codec::ProtocolVersion::V311).await;
    assert_eq!(
        run.outcome.verdict,
        Verdict::Inconclusive,
        "{:?}",
        run.outcome
    );
}
