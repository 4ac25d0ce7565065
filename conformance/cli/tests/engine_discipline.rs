//! Verdict discipline: against listeners that are not MQTT brokers (or only pretend to be),
//! every case, run on its own, ends INCONCLUSIVE (or UNSUPPORTED), except where its checking
//! step saw the very behaviour its statements are about: those judgements (a FAIL, or a PASS
//! of a case about CONNECT or PINGREQ against a fake that does accept them) are listed with
//! the reason in `tests/data/fake-broker-fails.txt`. Setup that cannot be established is INCONCLUSIVE;
//! a verdict resting on a refusal needs its twin, one resting on an absence its control.
//!
//! `MQTTSPEC_CASES=prefix,prefix` restricts the cases (while writing them).

mod support;

use std::sync::Arc;
use std::time::Duration;

use mqttspec::client::Transcript;
use mqttspec::profile::{Capabilities, Profile};
use mqttspec::runner::run_case;
use mqttspec::scenario::CaseEnv;
use mqttspec::verdict::Verdict;
use support::fake_broker::{self, allowed_verdicts, Fake};
use support::selection::selected_cases;
use tokio::sync::Semaphore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_case_passes_against_a_broken_listener() {
    let allowed = allowed_verdicts();
    let mut problems = Vec::new();
    for how in Fake::ALL {
        let (addr, task) = fake_broker::start(how).await;
        let mut profile = Profile::default();
        profile.limits.response_timeout_ms = Some(400);
        let profile = Arc::new(profile);
        // Everything offered: the cases run and meet the broken listener themselves.
        let caps = Arc::new(Capabilities {
            topic_alias_maximum: 10,
            ..Capabilities::default()
        });
        let semaphore = Arc::new(Semaphore::new(64));
        let mut jobs = tokio::task::JoinSet::new();
        for (index, case) in selected_cases().into_iter().enumerate() {
            for protocol in case.protocols().versions() {
                let env = CaseEnv {
                    broker: addr.into(),
                    protocol,
                    capabilities: caps.clone(),
                    profile: profile.clone(),
                    topic_prefix: format!("mqttspec/d{index}/{}/", protocol.label()),
                    id_stem: format!("msdisc{index:05}"),
                    transcript: Transcript::default(),
                };
                let semaphore = semaphore.clone();
                jobs.spawn(async move {
                    let _permit = semaphore.acquire_owned().await;
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
                    run_case(case, env, deadline).await
                });
            }
        }
        while let Some(done) = jobs.join_next().await {
            let r = done.expect("no panic");
            let v = r.outcome.verdict;
            let key = format!("{how:?} {} {}", r.case.id, r.protocol.label());
            let listed = allowed.contains(&format!("{key} {}", v.label()));
            let bad = match v {
                Verdict::Pass | Verdict::NonStrict | Verdict::Informational | Verdict::Fail => {
                    !listed
                }
                Verdict::Error => !r
                    .outcome
                    .actual
                    .as_deref()
                    .is_some_and(|a| a.contains("time limit")),
                _ => false,
            };
            if bad {
                problems.push(format!(
                    "{key}: {v} (expected {:?}; actual {:?})",
                    r.outcome.expected, r.outcome.actual
                ));
            }
        }
        task.abort();
    }
    problems.sort();
    assert!(
        problems.is_empty(),
        "{} case run(s) judged a broken listener:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
