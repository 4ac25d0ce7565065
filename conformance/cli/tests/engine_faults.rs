//! Proof that the cases can fail: each case run against the reference broker with each fault
//! it names must be FAIL; and run against the healthy reference broker it must not be.
//!
//! The healthy run is the main job's (`mqttspec run` without `--broker`): every case against
//! the embedded broker's default settings, then the case runs UNSUPPORTED there against the
//! restricted embedded broker. It must leave no case UNSUPPORTED. The cases whose verdict
//! comes from the restricted broker are also run against the restricted broker with each
//! fault they name, and must FAIL there: their verdict in the main job comes from that
//! broker configuration, so that is where they must be shown able to fail.

mod support;

use std::time::Duration;

use mqttspec::cases;
use mqttspec::profile::Profile;
use mqttspec::runner::{self, Pass, Progress, RunConfig, RunResults};
use mqttspec::transport::Scheme;
use mqttspec::verdict::Verdict;
use mqttspec_codec::ProtocolVersion;
use support::selection::{filtered, selected_cases};
use tokio::sync::OnceCell;

/// The cases that are UNSUPPORTED on the default embedded broker because it offers every
/// capability; the restricted broker must give each a verdict.
const RESTRICTED_ONLY: &[&str] = &[
    "keepalive.server-keep-alive-enforced",
    "qos.maximum-qos-enforced",
    "shared.unavailable-subscribe-refused",
    "retain.refused-when-retain-unavailable",
    "will.beyond-announced-capabilities-refused",
];

fn config(protocols: Vec<ProtocolVersion>, faults: Vec<String>) -> RunConfig {
    let mut profile = Profile::default();
    profile.limits.response_timeout_ms = Some(1500);
    RunConfig {
        protocols,
        jobs: 16,
        case_timeout: Duration::from_secs(10),
        profile,
        faults,
        progress: Progress::Quiet,
        ..RunConfig::default()
    }
}

/// Runs case `id` on `protocols` with `faults` as the main job would (both embedded brokers
/// get the faults).
async fn run(id: &str, protocols: Vec<ProtocolVersion>, faults: Vec<String>) -> RunResults {
    run_with(id, config(protocols, faults)).await
}

async fn run_with(id: &str, mut config: RunConfig) -> RunResults {
    let all = cases::all();
    let selected: Vec<_> = all.iter().filter(|c| c.id == id).copied().collect();
    assert_eq!(selected.len(), 1, "case {id} exists");
    if needs_websocket(&selected[0]) {
        config.embedded_transport = Scheme::Ws;
    }
    runner::run(&selected, config)
        .await
        .expect("the embedded broker starts")
}

/// Whether a case needs a WebSocket run (section 6): those run against the embedded broker's
/// WebSocket listener.
fn needs_websocket(case: &mqttspec::scenario::Case) -> bool {
    case.requires
        .contains(&mqttspec::profile::Capability::WebSocket)
}

/// The healthy main job, run once for the tests that look at it.
async fn healthy() -> &'static RunResults {
    static HEALTHY: OnceCell<RunResults> = OnceCell::const_new();
    HEALTHY
        .get_or_init(|| async {
            let all = selected_cases();
            let c = config(vec![ProtocolVersion::V311, ProtocolVersion::V5], Vec::new());
            runner::run(&all, c)
                .await
                .expect("the embedded broker starts")
        })
        .await
}

/// Cases whose fault breaks a rule the spec states without a MUST on the broker's side: their
/// fault must make them NON-STRICT (the red they can show) rather than FAIL.
/// `alias.server-mapping-ends-with-connection`: a broker using a Topic Alias mapping of the
/// client's previous connection (MQTT-3.3.2-7 binds the receiver, 3.3.2.3.4 the sender
/// untagged).
const NON_STRICT_PROOFS: &[&str] = &[
    "alias.server-mapping-ends-with-connection",
    "alias.server-mapping-ends-with-connection-on-every-path",
];

/// "case (MQTT v) with fault f: VERDICT (actual)" for each run of `results` that is not FAIL
/// (NON-STRICT for the cases of [`NON_STRICT_PROOFS`]), and for each of `protocols` that did
/// not run.
fn not_failed(
    results: &RunResults,
    id: &str,
    protocols: &[ProtocolVersion],
    fault: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for v in protocols {
        match results.runs.iter().find(|r| r.protocol == *v) {
            Some(r) if r.outcome.verdict == Verdict::Fail && !NON_STRICT_PROOFS.contains(&id) => {}
            Some(r)
                if r.outcome.verdict == Verdict::NonStrict && NON_STRICT_PROOFS.contains(&id) => {}
            Some(r) => problems.push(format!(
                "{id} (MQTT {v}) with fault {fault}: {} ({:?})",
                r.outcome.verdict, r.outcome.actual
            )),
            None => problems.push(format!("{id} (MQTT {v}) did not run")),
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_a_case_names_makes_it_fail() {
    let mut jobs = tokio::task::JoinSet::new();
    for case in selected_cases() {
        for (fault, protocols) in case.fault_targets() {
            jobs.spawn(async move {
                let results = run(case.id, protocols.clone(), vec![fault.to_owned()]).await;
                not_failed(&results, case.id, &protocols, fault)
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
    let results = healthy().await;
    let bad: Vec<String> = results
        .runs
        .iter()
        .filter(|r| r.outcome.verdict.is_problem() || r.outcome.verdict == Verdict::Inconclusive)
        .map(|r| {
            format!(
                "{} (MQTT {}, {} broker): {} expected {:?} actual {:?}",
                r.case.id,
                r.protocol,
                r.pass.label(),
                r.outcome.verdict,
                r.outcome.expected,
                r.outcome.actual
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "the reference broker should pass every case (no FAIL, ERROR or INCONCLUSIVE):\n{}",
        bad.join("\n")
    );
    assert!(!results.runs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_run_leaves_no_case_unsupported() {
    let results = healthy().await;
    let unsupported: Vec<String> = results
        .runs
        .iter()
        // The section 6 cases need a WebSocket run: they are judged by
        // `the_websocket_cases_pass_over_the_embedded_websocket_listener`.
        .filter(|r| r.outcome.verdict == Verdict::Unsupported && !needs_websocket(&r.case))
        .map(|r| {
            format!(
                "{} (MQTT {}): {:?}",
                r.case.id, r.protocol, r.outcome.actual
            )
        })
        .collect();
    assert!(
        unsupported.is_empty(),
        "UNSUPPORTED in the embedded run:\n{}",
        unsupported.join("\n")
    );
    let filtered = filtered();
    for id in RESTRICTED_ONLY {
        if filtered && !results.runs.iter().any(|r| r.case.id == *id) {
            continue;
        }
        let run = results
            .runs
            .iter()
            .find(|r| r.case.id == *id)
            .unwrap_or_else(|| panic!("{id} did not run"));
        assert_eq!(
            run.pass,
            Pass::Restricted,
            "{id}: not from the restricted broker"
        );
        assert_eq!(
            run.outcome.verdict,
            Verdict::Pass,
            "{id}: {:?}",
            run.outcome
        );
        let main = run.main_outcome.as_ref().map(|o| o.verdict);
        assert_eq!(
            main,
            Some(Verdict::Unsupported),
            "{id}: the main pass result"
        );
    }
    if filtered && results.broker.restricted.is_none() {
        return;
    }
    let restricted = results
        .broker
        .restricted
        .as_ref()
        .expect("the restricted pass ran");
    assert_eq!(restricted.capabilities.maximum_qos, 1);
    assert!(!restricted.capabilities.retain_available);
    assert!(!restricted.capabilities.shared_subscription_available);
    assert_eq!(
        restricted.capabilities.server_keep_alive,
        Some(runner::RESTRICTED_SERVER_KEEP_ALIVE)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_judged_on_the_restricted_broker_fail_there_with_each_fault_they_name() {
    let results = healthy().await;
    let judged: Vec<(mqttspec::scenario::Case, ProtocolVersion)> = results
        .runs
        .iter()
        .filter(|r| r.pass == Pass::Restricted)
        .map(|r| (r.case, r.protocol))
        .collect();
    let filtered = filtered();
    assert!(
        filtered || judged.len() >= RESTRICTED_ONLY.len(),
        "the restricted broker judged {judged:?}"
    );
    let mut jobs = tokio::task::JoinSet::new();
    for (case, protocol) in judged {
        for (fault, protocols) in case.fault_targets() {
            if !protocols.contains(&protocol) {
                continue;
            }
            jobs.spawn(async move {
                // The restricted broker with the fault, alone: no second pass to fall back on.
                let mut c = config(vec![protocol], vec![fault.to_owned()]);
                c.embedded_config = runner::restricted_broker_config(&c.embedded_config);
                c.restricted_pass = false;
                let results = run_with(case.id, c).await;
                not_failed(&results, case.id, &[protocol], fault)
            });
        }
    }
    let mut problems = Vec::new();
    while let Some(done) = jobs.join_next().await {
        problems.extend(done.expect("no panic"));
    }
    assert!(
        problems.is_empty(),
        "cases that did not FAIL on the restricted broker under their fault:\n{}",
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_cases_pass_over_the_embedded_websocket_listener() {
    let cases: Vec<_> = selected_cases()
        .into_iter()
        .filter(needs_websocket)
        .collect();
    if cases.is_empty() && filtered() {
        return;
    }
    assert!(!cases.is_empty(), "no WebSocket case");
    for transport in [Scheme::Ws, Scheme::Wss] {
        let mut c = config(vec![ProtocolVersion::V311, ProtocolVersion::V5], Vec::new());
        c.embedded_transport = transport;
        let results = runner::run(&cases, c)
            .await
            .expect("the embedded broker starts");
        assert_eq!(results.broker.transport.transport, transport.as_str());
        assert_eq!(results.runs.len(), cases.len() * 2);
        for r in &results.runs {
            assert_eq!(
                r.outcome.verdict,
                Verdict::Pass,
                "{} (MQTT {}) over {}: {:?}",
                r.case.id,
                r.protocol,
                transport.as_str(),
                r.outcome
            );
        }
    }
}
