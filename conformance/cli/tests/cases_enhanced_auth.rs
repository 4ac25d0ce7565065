//! The SCRAM-SHA-256 success cases (`auth.scram-exchange`, `auth.scram-reauthentication`)
//! need a broker with a SCRAM user and a profile that names it, which the default embedded
//! run lacks (they are UNSUPPORTED there, so `engine_faults.rs` cannot prove them). Here they
//! run against a reference broker configured with a user: they PASS, and the fault
//! `auth-continue-as-success` makes them FAIL.

use std::time::Duration;

use mqttspec::cases;
use mqttspec::profile::{Credentials, Profile};
use mqttspec::runner::{self, Progress, RunConfig, RunResults};
use mqttspec::verdict::Verdict;
use mqttspec_codec::ProtocolVersion;
use mqttspec_reference_broker::config::User;
use mqttspec_reference_broker::Config;

const CASES: &[&str] = &["auth.scram-exchange", "auth.scram-reauthentication"];

async fn run(faults: Vec<String>) -> RunResults {
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(1500);
    profile.credentials = Some(Credentials {
        username: "tester".to_owned(),
        password: Some("secret".to_owned()),
    });
    profile.features.enhanced_auth = Some(vec!["SCRAM-SHA-256".to_owned()]);
    let embedded_config = Config {
        users: vec![User {
            username: "tester".to_owned(),
            password: "secret".to_owned(),
        }],
        // Few iterations: PBKDF2 in a debug build is slow, and the count does not matter.
        scram_iterations: 256,
        ..Config::default()
    };
    let all = cases::all();
    let selected: Vec<_> = all
        .iter()
        .filter(|c| CASES.contains(&c.id))
        .copied()
        .collect();
    assert_eq!(selected.len(), CASES.len(), "the cases exist");
    let config = RunConfig {
        protocols: vec![ProtocolVersion::V5],
        jobs: 4,
        case_timeout: Duration::from_secs(10),
        profile,
        faults,
        embedded_config,
        progress: Progress::Quiet,
        ..RunConfig::default()
    };
    runner::run(&selected, config)
        .await
        .expect("the embedded broker starts")
}

fn verdicts(results: &RunResults) -> Vec<(&'static str, Verdict, Option<String>)> {
    results
        .runs
        .iter()
        .map(|r| (r.case.id, r.outcome.verdict, r.outcome.actual.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_cases_pass_against_a_reference_broker_with_a_scram_user() {
    let results = run(Vec::new()).await;
    let v = verdicts(&results);
    assert_eq!(v.len(), CASES.len());
    assert!(
        v.iter().all(|(_, verdict, _)| *verdict == Verdict::Pass),
        "{v:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_cases_fail_when_the_server_auth_does_not_say_continue() {
    let results = run(vec!["auth-continue-as-success".to_owned()]).await;
    let v = verdicts(&results);
    assert_eq!(v.len(), CASES.len());
    assert!(
        v.iter().all(|(_, verdict, _)| *verdict == Verdict::Fail),
        "{v:?}"
    );
}
