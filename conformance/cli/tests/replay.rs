//! `mqttspec replay`: the regression scenarios under `corpus/regressions/` parse and pass
//! against the reference broker, fail against it with a matching fault, and bad scenario
//! files are refused with a clear message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mqttspec::replay::{self, ReplayConfig, Scenario};
use mqttspec::verdict::Verdict;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/regressions")
}

fn load_corpus() -> Vec<Scenario> {
    let files = replay::collect_files(&[corpus()]).expect("corpus directory readable");
    replay::load_all(&files).unwrap_or_else(|e| panic!("invalid scenario: {e}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Replays `scenarios` against the reference broker; every one must PASS.
fn assert_all_pass(scenarios: &[Scenario]) {
    let runs = runtime()
        .block_on(replay::replay(scenarios, &ReplayConfig::default()))
        .expect("replay runs");
    let bad: Vec<String> = runs
        .iter()
        .filter(|r| r.outcome.verdict != Verdict::Pass)
        .map(replay::result_line)
        .collect();
    assert!(bad.is_empty(), "not PASS:\n{}", bad.join("\n"));
}

#[test]
fn every_regression_scenario_parses_names_its_source_and_passes_against_the_reference_broker() {
    let scenarios = load_corpus();
    assert!(scenarios.len() >= 55, "only {} scenarios", scenarios.len());
    for s in &scenarios {
        assert!(!s.source.trim().is_empty(), "{}: no source", s.id);
        assert!(!s.expect.trim().is_empty(), "{}: no expect", s.id);
        let stem = s.path.file_stem().and_then(|f| f.to_str());
        assert_eq!(stem, Some(s.id.as_str()), "file name differs from the id");
    }
    assert_all_pass(&scenarios);
}

/// Runs the named corpus scenarios against the reference broker with `fault`.
fn verdicts_with_fault(fault: &str, ids: &[&str]) -> Vec<(String, Verdict)> {
    let scenarios: Vec<Scenario> = load_corpus()
        .into_iter()
        .filter(|s| ids.contains(&s.id.as_str()))
        .collect();
    assert_eq!(scenarios.len(), ids.len(), "a named scenario is missing");
    let config = ReplayConfig {
        faults: vec![fault.to_owned()],
        wait: Duration::from_millis(800),
        ..ReplayConfig::default()
    };
    runtime()
        .block_on(replay::replay(&scenarios, &config))
        .expect("replay runs")
        .into_iter()
        .map(|r| (r.id, r.outcome.verdict))
        .collect()
}

#[test]
fn malformed_publish_scenarios_fail_when_the_broker_ignores_malformed_publish() {
    let ids = [
        "cve-2021-34432-publish-zero-length-topic-v5",
        "cve-2017-7653-invalid-utf8-topic",
        "vernemq-2355-null-in-topic-name",
    ];
    for (id, verdict) in verdicts_with_fault("ignore-malformed-publish", &ids) {
        assert_eq!(verdict, Verdict::Fail, "{id}");
    }
}

#[test]
fn packet_before_connect_scenarios_fail_when_the_broker_ignores_them() {
    let ids = [
        "sol-15-puback-before-connect",
        "flashmq-104-pingreq-before-connect",
    ];
    for (id, verdict) in verdicts_with_fault("ignore-packet-before-connect", &ids) {
        assert_eq!(verdict, Verdict::Fail, "{id}");
    }
}

#[test]
fn malformed_connect_scenarios_fail_when_the_broker_accepts_malformed_connect() {
    let ids = [
        "hivemq-493-connect-will-flag-without-will-fields",
        "rumqtt-1038-connect-receive-maximum-zero",
    ];
    for (id, verdict) in verdicts_with_fault("connack-malformed-connect", &ids) {
        assert_eq!(verdict, Verdict::Fail, "{id}");
    }
}

/// Each fault of the reference broker that breaks a rule the 2024-2026 advisory scenarios
/// check, with the scenarios it must turn red.
#[test]
fn advisory_scenarios_fail_under_the_faults_that_break_their_rules() {
    let table: [(&str, &[&str]); 12] = [
        (
            "ignore-malformed-publish",
            &[
                "activemq-cve-2025-66168-five-byte-remaining-length-publish",
                "nanomq-cve-2026-21888-five-byte-property-length-publish",
                "nanomq-2270-qos1-publish-without-packet-identifier-v311",
                "nanomq-2270-qos1-publish-without-property-length",
                "nanomq-2270-qos2-publish-without-packet-identifier",
                "nanomq-2270-qos2-publish-without-packet-identifier-v311",
            ],
        ),
        (
            "connack-malformed-connect",
            &["nanomq-cve-2026-21888-five-byte-property-length-connect"],
        ),
        (
            "ignore-malformed-subscribe",
            &[
                "activemq-cve-2025-66168-five-byte-remaining-length-subscribe",
                "nanomq-cve-2026-21888-five-byte-property-length-subscribe",
                "nanomq-cve-2026-21888-five-byte-property-length-unsubscribe",
                "mosquitto-2-0-21-malformed-subscribe-repeated",
                "nanomq-cve-2025-68699-share-name-with-empty-filter",
            ],
        ),
        (
            "no-unsubscribe",
            &[
                "cve-2024-8376-normal-and-shared-across-session-resume",
                "cve-2024-8376-unsubscribe-shared-before-subscribe",
                "nanomq-cve-2025-59946-concurrent-subscribe-unsubscribe",
            ],
        ),
        (
            "no-session-present",
            &["cve-2024-8376-normal-and-shared-across-session-resume"],
        ),
        (
            "wrong-subscribe-ack-id",
            &["nanomq-cve-2025-59946-concurrent-subscribe-unsubscribe"],
        ),
        (
            "no-takeover",
            &["nanomq-cve-2026-22040-takeover-during-publish-flood"],
        ),
        (
            "no-session-expiry",
            &["flashmq-cve-2025-62723-expired-session-keeps-no-messages"],
        ),
        (
            "ignore-qos2-dedup",
            &["emqx-cve-2026-8741-qos2-publish-resent-after-reconnect"],
        ),
        (
            "discard-session-on-disconnect",
            &[
                "emqx-cve-2026-8741-qos2-publish-resent-after-reconnect",
                "emqx-cve-2026-8741-qos2-redelivered-once-per-reconnect",
            ],
        ),
        (
            "no-redelivery",
            &["emqx-cve-2026-8741-qos2-redelivered-once-per-reconnect"],
        ),
        (
            "client-id-pattern-match",
            &["rabbitmq-cve-2026-44838-regex-characters-in-client-identifier"],
        ),
    ];
    for (fault, ids) in table {
        for (id, verdict) in verdicts_with_fault(fault, ids) {
            assert_eq!(verdict, Verdict::Fail, "{id} under {fault}");
        }
    }
}

/// The reproducers of bugs the suite found in third-party brokers, each red under the fault
/// that puts the bug into the reference broker.
#[test]
fn third_party_report_scenarios_fail_under_the_faults_that_break_their_rules() {
    let table: [(&str, &[&str]); 4] = [
        (
            "oversized-reason-string",
            &["ejabberd-23-01-puback-reason-string-beyond-maximum-packet-size"],
        ),
        (
            "no-message-expiry",
            &["rmqtt-0-24-0-retained-expiry-not-counted-down"],
        ),
        (
            "add-properties-live",
            &["rmqtt-0-24-0-expiry-added-to-message-without-one"],
        ),
        (
            "lenient-topic-name-string",
            &["null-in-topic-name-v311-accepted-by-several-brokers"],
        ),
    ];
    for (fault, ids) in table {
        for (id, verdict) in verdicts_with_fault(fault, ids) {
            assert_eq!(verdict, Verdict::Fail, "{id} under {fault}");
        }
    }
}

fn parse_error(text: &str) -> String {
    Scenario::parse(Path::new("bad.toml"), text)
        .expect_err("must be refused")
        .to_string()
}

const HEAD: &str = "id = \"x\"\ntitle = \"t\"\nsource = \"s\"\nprotocol = \"5\"\nexpect = \"e\"\n";

#[test]
fn malformed_scenario_files_are_refused_with_the_file_and_the_reason() {
    let cases = [
        // (scenario text, fragment the message must contain)
        (HEAD.to_owned(), "no `[[step]]`"),
        (
            format!("{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nsend = \"a\"\nhex = \"3\"\n"),
            "step 2: `hex`: odd hex digit",
        ),
        (
            format!("{HEAD}[[step]]\nsend = \"a\"\nhex = \"c0 00\"\n"),
            "client `a` has not connected",
        ),
        (
            format!("{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nexpect = \"maybe\"\n"),
            "unknown expectation `maybe`",
        ),
        (
            format!("{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nexpect = \"closed\"\nms = 5\n"),
            "`ms` does not apply",
        ),
        (
            format!("{HEAD}statements = [\"MQTT-9.9.9-9\"]\n[[step]]\nconnect = \"a\"\n"),
            "unknown statement `MQTT-9.9.9-9`",
        ),
        (
            "id = \"x\"\ntitle = \"t\"\nprotocol = \"5\"\nexpect = \"e\"\n".to_owned(),
            "missing field `source`",
        ),
        (
            format!("{HEAD}[[step]]\nconnect = \"a\"\nsend = \"a\"\n"),
            "exactly one of",
        ),
        (
            format!("{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nexpect = \"packet\"\npacket = \"HELLO\"\n"),
            "unknown packet type `HELLO`",
        ),
        (
            format!("{HEAD}[[step]]\nconnect = \"a\"\nmaximum_packet_size = 0\n"),
            "`maximum_packet_size` must be at least 1",
        ),
        (
            format!("{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nexpect = \"closed\"\nabsent = [\"properties\"]\n"),
            "`absent` does not apply",
        ),
        (
            format!("{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nexpect = \"packet\"\npacket = \"PUBLISH\"\nabsent = [\"properties..x\"]\n"),
            "`absent` holds dotted paths",
        ),
        (
            format!("{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nexpect = \"packet\"\npacket = \"PUBLISH\"\nat_most = 3\n"),
            "`at_most` is a table",
        ),
    ];
    for (text, fragment) in cases {
        let message = parse_error(&text);
        assert!(message.starts_with("bad.toml: "), "{message}");
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    }
}

#[test]
fn replay_command_exits_0_on_pass_1_on_fail_and_2_on_a_bad_file() {
    let bin = env!("CARGO_BIN_EXE_mqttspec");
    let one = corpus().join("sol-15-puback-before-connect.toml");
    let pass = Command::new(bin)
        .args(["replay"])
        .arg(&one)
        .output()
        .expect("runs");
    assert_eq!(pass.status.code(), Some(0), "{pass:?}");
    let stdout = String::from_utf8_lossy(&pass.stdout);
    assert!(
        stdout.starts_with("PASS  sol-15-puback-before-connect"),
        "{stdout}"
    );

    let fail = Command::new(bin)
        .args([
            "replay",
            "--timeout",
            "1",
            "--fault",
            "ignore-packet-before-connect",
        ])
        .arg(&one)
        .output()
        .expect("runs");
    assert_eq!(fail.status.code(), Some(1), "{fail:?}");
    let stdout = String::from_utf8_lossy(&fail.stdout);
    assert!(
        stdout.starts_with("FAIL  sol-15-puback-before-connect"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected: the connection closed"),
        "{stdout}"
    );

    let dir = std::env::temp_dir().join(format!("mqttspec-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "id = \"x\"\n").expect("write");
    let refused = Command::new(bin)
        .args(["replay"])
        .arg(&bad)
        .output()
        .expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("missing field"),
        "{stderr}"
    );
}

fn verdict_of(text: &str) -> (Verdict, Option<String>) {
    let s = Scenario::parse(Path::new("inline.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    let config = ReplayConfig {
        wait: Duration::from_millis(800),
        ..ReplayConfig::default()
    };
    let run = runtime()
        .block_on(replay::replay(&[s], &config))
        .expect("replay runs")
        .remove(0);
    (run.outcome.verdict, run.outcome.actual)
}

#[test]
fn alternative_fields_pass_when_one_matches_and_fail_when_none_does() {
    let scenario = |alternatives: &str| {
        format!(
            "{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nsend = \"a\"\nhex = \"82 {{len}} 00 07 00 {{u16:1}} 'x' 01\"\n\
             [[step]]\nexpect = \"packet\"\npacket = \"SUBACK\"\nfields = {alternatives}\n"
        )
    };
    let ok = scenario(r#"[{ packet_identifier = 9 }, { packet_identifier = 7 }]"#);
    assert_eq!(verdict_of(&ok).0, Verdict::Pass);
    let bad = scenario(r#"[{ packet_identifier = 9 }, { packet_identifier = 8 }]"#);
    let (verdict, actual) = verdict_of(&bad);
    assert_eq!(verdict, Verdict::Fail, "{actual:?}");
}

#[test]
fn absent_and_at_most_judge_the_packet_s_json_form() {
    // A SUBACK for Packet Identifier 7 has no properties.
    let scenario = |extra: &str| {
        format!(
            "{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nsend = \"a\"\nhex = \"82 {{len}} 00 07 00 {{u16:1}} 'x' 01\"\n\
             [[step]]\nexpect = \"packet\"\npacket = \"SUBACK\"\n{extra}\n"
        )
    };
    assert_eq!(
        verdict_of(&scenario("absent = [\"properties.reason_string\"]")).0,
        Verdict::Pass
    );
    assert_eq!(
        verdict_of(&scenario("absent = [\"packet_identifier\"]")).0,
        Verdict::Fail
    );
    assert_eq!(
        verdict_of(&scenario("at_most = { packet_identifier = 7 }")).0,
        Verdict::Pass
    );
    assert_eq!(
        verdict_of(&scenario("at_most = { packet_identifier = 6 }")).0,
        Verdict::Fail
    );
    // A bound on a value the packet does not have is not met.
    assert_eq!(
        verdict_of(&scenario("at_most = { properties = { x = 1 } }")).0,
        Verdict::Fail
    );
}

#[test]
fn the_runner_s_connect_declares_the_client_s_maximum_packet_size() {
    // A QoS 1 PUBLISH to a `$SYS` topic is refused by the reference broker with PUBACK 0x87
    // and a Reason String, which it leaves out when the client's Maximum Packet Size (in the
    // runner's CONNECT) would not hold it.
    let scenario = |maximum: u32| {
        format!(
            "{HEAD}[[step]]\nconnect = \"a\"\nmaximum_packet_size = {maximum}\n[[step]]\nsend = \"a\"\n\
             hex = \"32 {{len}} {{u16:6}} '$SYS/x' {{u16:1}} 00 'x'\"\n[[step]]\nexpect = \"packet\"\n\
             packet = \"PUBACK\"\nabsent = [\"properties.reason_string\"]\n"
        )
    };
    assert_eq!(verdict_of(&scenario(20)).0, Verdict::Pass);
    let (verdict, actual) = verdict_of(&scenario(1000));
    assert_eq!(verdict, Verdict::Fail, "{actual:?}");
}

#[test]
fn or_disconnect_accepts_only_the_listed_reason_codes() {
    // Topic Alias 0 is answered with DISCONNECT 0x94 by the reference broker.
    let scenario = |codes: &str| {
        format!(
            "{HEAD}[[step]]\nconnect = \"a\"\n[[step]]\nsend = \"a\"\nhex = \"32 {{len}} {{u16:1}} 'x' 00 01 03 23 00 00\"\n\
             [[step]]\nexpect = \"packet\"\npacket = \"PUBACK\"\nor_disconnect = {codes}\n"
        )
    };
    assert_eq!(verdict_of(&scenario("[0x94]")).0, Verdict::Pass);
    let (verdict, actual) = verdict_of(&scenario("[0x95, 0x97]"));
    assert_eq!(verdict, Verdict::Fail, "{actual:?}");
}

/// The reproducers the network fuzzer wrote for third-party brokers
/// (`reports/fuzz/network/*/findings/`) are regression scenarios for the reference broker.
#[test]
fn third_party_fuzz_findings_pass_against_the_reference_broker() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports/fuzz/network");
    let dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("findings")))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !dirs.is_empty(),
        "no published findings under {}",
        root.display()
    );
    // One campaign at a time: finding ids are unique within a campaign (kind, version, seed,
    // round), and two brokers fuzzed with the same seed can have the same one.
    for dir in &dirs {
        let files = replay::collect_files(std::slice::from_ref(dir)).expect("findings readable");
        let scenarios = replay::load_all(&files).unwrap_or_else(|e| panic!("invalid finding: {e}"));
        assert_all_pass(&scenarios);
    }
}

/// `--broker-cmd`: the broker is `mqttspec broker` with the `hang-on-multibyte-topic-start`
/// fault, which stops serving anyone after the rumqttd router-panic scenario (as rumqttd
/// 0.20.0 does). The scenario after it finds the broker not serving: without restarts it is
/// an ERROR; with them the broker is restarted, the scenario runs again and passes, and the
/// run names the scenario after which the broker stopped.
#[test]
fn a_broker_that_stops_serving_is_restarted_and_the_next_scenario_runs_again() {
    let corpus = load_corpus();
    let pick = |id: &str| {
        corpus
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("scenario {id} is missing"))
    };
    let culprit = "rumqttd-0.20.0-router-panic-multibyte-first-character";
    let next = "auth-packet-in-v311";
    let scenarios = vec![pick(culprit), pick(next)];
    let run = |max_restarts: usize| {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let config = ReplayConfig {
            broker: Some(mqttspec::transport::Endpoint::tcp(addr)),
            broker_command: Some(format!(
                "{} broker --listen {addr} --fault hang-on-multibyte-topic-start",
                env!("CARGO_BIN_EXE_mqttspec")
            )),
            max_restarts,
            wait: Duration::from_millis(800),
            ..ReplayConfig::default()
        };
        runtime()
            .block_on(replay::replay(&scenarios, &config))
            .expect("replay runs")
    };

    let without = run(0);
    assert_eq!(
        without[0].outcome.verdict,
        Verdict::Fail,
        "{:?}",
        without[0]
    );
    assert_eq!(without[1].outcome.verdict, Verdict::Error);
    assert!(without[1].broker_down && without[1].restarted.is_none());

    let with = run(5);
    assert_eq!(with[0].outcome.verdict, Verdict::Fail, "{:?}", with[0]);
    assert!(with[0].restarted.is_none());
    assert_eq!(with[1].outcome.verdict, Verdict::Pass, "{:?}", with[1]);
    assert!(!with[1].broker_down);
    let restarted = with[1]
        .restarted
        .as_ref()
        .expect("restarted before the second");
    assert_eq!(restarted.after.as_deref(), Some(culprit));
    assert_eq!(
        restarted.exit, None,
        "the hung broker's process was still running"
    );
}
