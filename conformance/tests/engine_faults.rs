//! Proof that the cases can fail: each case run against the reference broker with each fault
//! it names must be FAIL; and run against the healthy reference broker it must not be.

use std::time::Duration;

use mqttspec::cases;
use mqttspec::profile::Profile;
use mqttspec::runner::{self, Progress, RunConfig, RunResults};
use mqttspec::verdict::Verdict;
use mqttspec_codec::ProtocolVersion;

fn config(filter: &str, protocols: Vec<ProtocolVersion>, faults: Vec<String>) -> RunConfig {
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(1500);
    RunConfig {
        protocols,
        filters: vec![filter.to_owned()],
        jobs: 16,
        case_timeout: Duration::from_secs(10),
        profile,
        faults,
        progress: Progress::Quiet,
        ..RunConfig::default()
    }
}

async fn run(filter: &str, protocols: Vec<ProtocolVersion>, faults: Vec<String>) -> RunResults {
    let all = cases::all();
    let selected: Vec<_> = all.iter().filter(|c| c.id == filter).copied().collect();
    runner::run(&selected, config(filter, protocols, faults))
        .await
        .expect("the embedded broker starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_a_case_names_makes_it_fail() {
    let mut jobs = tokio::task::JoinSet::new();
    for case in cases::all() {
        for (fault, protocols) in case.fault_targets() {
            jobs.spawn(async move {
                let results = run(case.id, protocols.clone(), vec![fault.to_owned()]).await;
                let mut problems = Vec::new();
                for v in &protocols {
                    match results.runs.iter().find(|r| r.protocol == *v) {
                        Some(r) if r.outcome.verdict == Verdict::Fail => {}
                        Some(r) => problems.push(format!(
                            "{} (MQTT {v}) with fault {fault}: {} ({:?})",
                            case.id, r.outcome.verdict, r.outcome.actual
                        )),
                        None => problems.push(format!("{} (MQTT {v}) did not run", case.id)),
                    }
                }
                problems
            });
        }
    }
    let mut problems = Vec::new();
    while let Some(done) = jobs.join_next().await {
        problems.extend(done.expect("no panic"));
    }
    assert!(
        problems.is_empty(),
        "cases that did not FAIL under their fault:\n{}",
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_against_the_healthy_reference_broker() {
    let all = cases::all();
    let mut c = config(
        "",
        vec![ProtocolVersion::V311, ProtocolVersion::V5],
        Vec::new(),
    );
    c.filters.clear();
    let results = runner::run(&all, c)
        .await
        .expect("the embedded broker starts");
    let bad: Vec<String> = results
        .runs
        .iter()
        .filter(|r| r.outcome.verdict.is_problem())
        .map(|r| {
            format!(
                "{} (MQTT {}): {} expected {:?} actual {:?}",
                r.case.id, r.protocol, r.outcome.verdict, r.outcome.expected, r.outcome.actual
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "the reference broker should pass every case:\n{}",
        bad.join("\n")
    );
    assert!(!results.runs.is_empty());
}
