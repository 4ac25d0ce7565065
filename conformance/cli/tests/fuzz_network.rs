//! `mqttspec fuzz`: the network fuzzer finds nothing on the reference broker, finds each kind
//! of injected broker fault, minimises it, and writes a reproducer that `mqttspec replay`
//! fails against the faulty broker and passes against the correct one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mqttspec::fuzz::campaign::{self, CampaignConfig, CampaignReport};
use mqttspec::fuzz::oracle::FindingKind;
use mqttspec::fuzz::round::{self, RoundSettings};
use mqttspec::fuzz::seeds::Seeds;
use mqttspec::fuzz::target::Target;
use mqttspec::replay::{self, ReplayConfig, Scenario, Step};
use mqttspec::verdict::Verdict;
use mqttspec_codec::ProtocolVersion;

fn seeds() -> Seeds {
    Seeds::load(&Seeds::default_corpus_dir().expect("corpus in the source tree"))
}

fn config(seed: u64, rounds: u64, out: Option<PathBuf>) -> CampaignConfig {
    CampaignConfig {
        seed,
        duration: Duration::from_secs(120),
        max_rounds: Some(rounds),
        clients: 3,
        actions: 25,
        protocols: vec![ProtocolVersion::V311, ProtocolVersion::V5],
        wait: Duration::from_secs(1),
        minimize: true,
        minimize_trials: 60,
        minimize_time: Duration::from_secs(10),
        out,
        command: "test".to_owned(),
        progress: false,
        credentials: None,
    }
}

fn campaign(faults: &[&str], cfg: &CampaignConfig) -> CampaignReport {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let faults: Vec<String> = faults.iter().map(|f| f.to_string()).collect();
        let mut target = Target::embedded(&faults).await.unwrap();
        let report = campaign::run(&mut target, cfg, &seeds()).await;
        target.shutdown().await;
        report
    })
}

fn replay_verdict(file: &Path, faults: &[&str]) -> Verdict {
    let scenario = Scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
    let config = ReplayConfig {
        faults: faults.iter().map(|f| f.to_string()).collect(),
        wait: Duration::from_secs(2),
        ..ReplayConfig::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let runs = rt.block_on(replay::replay(&[scenario], &config)).unwrap();
    runs[0].outcome.verdict
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mqttspec-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs a campaign against the broker with `fault` until it finds `kind`, and checks the
/// reproducer: minimised, FAIL with the fault, PASS without.
fn finds(fault: &str, kind: FindingKind, seed: u64, rounds: u64) {
    let out = temp_dir(fault);
    let report = campaign(&[fault], &config(seed, rounds, Some(out.clone())));
    let f = report
        .findings
        .iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| {
            panic!(
                "{fault}: no {} finding in {} rounds; findings: {:?}",
                kind.slug(),
                report.totals.rounds,
                report
                    .findings
                    .iter()
                    .map(|f| &f.signature)
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(f.reproduced, Some(true), "{fault}: {f:?}");
    assert!(
        f.minimized.steps <= f.original.steps && f.minimized.bytes <= f.original.bytes,
        "{f:?}"
    );
    let file = f.file.clone().expect("reproducer written");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("--seed {seed}")), "{text}");
    assert_eq!(replay_verdict(&file, &[fault]), Verdict::Fail, "{text}");
    assert_eq!(replay_verdict(&file, &[]), Verdict::Pass, "{text}");
    assert!(out.join("summary.json").is_file() && out.join("summary.md").is_file());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_reference_broker_survives_a_short_campaign_without_findings() {
    let report = campaign(&[], &config(7, 60, None));
    assert!(
        report.findings.is_empty(),
        "{:#?}",
        report
            .findings
            .iter()
            .map(|f| (&f.signature, &f.detail))
            .collect::<Vec<_>>()
    );
    assert_eq!(report.totals.rounds, 60);
    assert!(report.totals.packets_sent > 300, "{:?}", report.totals);
    assert!(report.totals.packets_received > 100, "{:?}", report.totals);
}

/// Each injected fault is found by the oracle it breaks, in a few rounds. The campaigns
/// mostly wait on the network, so they run side by side.
#[test]
fn every_kind_of_finding_is_found_minimised_and_reproduced() {
    let cases = [
        ("hang-on-reserved-type", FindingKind::NotServing, 5, 80),
        ("malformed-connack", FindingKind::MalformedOutput, 3, 5),
        ("no-qos-downgrade", FindingKind::QosTooHigh, 3, 40),
        ("send-topic-aliases", FindingKind::TopicAliasTooHigh, 3, 40),
        ("no-pingresp", FindingKind::PingUnanswered, 3, 5),
    ];
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(fault, kind, seed, rounds)| {
            std::thread::spawn(move || finds(fault, kind, seed, rounds))
        })
        .collect();
    let mut failures = Vec::new();
    for h in handles {
        if let Err(e) = h.join() {
            failures.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            );
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_same_seed_makes_the_same_setup_traffic() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seeds = seeds();
    let logs: Vec<Vec<Step>> = (0..2)
        .map(|_| {
            rt.block_on(async {
                let target = Target::embedded(&[]).await.unwrap();
                let s = RoundSettings {
                    seed: 99,
                    index: 4,
                    version: ProtocolVersion::V5,
                    max_clients: 4,
                    max_actions: 30,
                    wait: Duration::from_secs(2),
                    credentials: None,
                };
                let r = round::run_round(target.addr(), &s, &seeds).await;
                target.shutdown().await;
                assert!(r.not_serving.is_none() && r.detected.is_empty(), "{r:?}");
                r.log.into_iter().map(|l| l.step).collect()
            })
        })
        .collect();
    // The setup (CONNECT and SUBSCRIBE of every client) never depends on timing.
    let setup = |log: &[Step]| -> Vec<Step> {
        let connects = log
            .iter()
            .take_while(|s| matches!(s, Step::Connect { .. } | Step::Send { .. }))
            .cloned()
            .collect::<Vec<_>>();
        connects.into_iter().take(4).collect()
    };
    assert_eq!(setup(&logs[0]), setup(&logs[1]));
    assert!(!setup(&logs[0]).is_empty());
}

#[test]
fn the_command_line_exits_0_without_findings_and_1_with_them() {
    let bin = env!("CARGO_BIN_EXE_mqttspec");
    let out = temp_dir("cli");
    let ok = std::process::Command::new(bin)
        .args(["fuzz", "--rounds", "10", "--seed", "1", "-q", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["rounds"], 10);
    assert_eq!(summary["seed"], 1);
    assert!(summary["packets_per_second"].as_f64().unwrap() > 0.0);
    let bad = std::process::Command::new(bin)
        .args(["fuzz", "--rounds", "5", "--seed", "3", "-q", "--wait", "1"])
        .args(["--minimize-secs", "3", "--fault", "malformed-connack"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(std::fs::read_dir(out.join("findings")).unwrap().count() >= 2);
    let usage = std::process::Command::new(bin)
        .args(["fuzz", "--protocol", "6", "--rounds", "1"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&out);
}

/// A broker that accepts every CONNECT and answers PINGREQ with bytes that cannot be framed
/// (packet type 0), like rumqttd's DISCONNECT with a stray byte: the campaign must end, with a
/// malformed-output finding, instead of waiting forever for the PINGRESP on an ended
/// connection.
#[test]
fn a_broker_sending_unframeable_bytes_is_judged_and_does_not_hang_the_fuzzer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // On its own thread, so that a fuzzer spinning forever fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let report = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                while let Ok((mut s, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let mut answered = false;
                        while let Ok(n) = s.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            if !answered {
                                answered = true;
                                let level = buf.get(8).copied().unwrap_or(5);
                                let connack: &[u8] = if level == 5 {
                                    &[0x20, 0x03, 0x00, 0x00, 0x00]
                                } else {
                                    &[0x20, 0x02, 0x00, 0x00]
                                };
                                let _ = s.write_all(connack).await;
                            } else if buf[..n].ends_with(&[0xc0, 0x00]) {
                                // A PINGREQ (alone, or after other packets in the same read
                                // when the machine is busy): answer with unframeable bytes.
                                let _ = s.write_all(&[0x00, 0x00]).await;
                            }
                        }
                    });
                }
            });
            let mut target = Target::external(addr.into(), None).await.unwrap();
            let mut cfg = config(11, 5, None);
            cfg.minimize = false;
            cfg.actions = 1;
            cfg.clients = 1;
            let report = campaign::run(&mut target, &cfg, &seeds()).await;
            target.shutdown().await;
            report
        });
        let _ = tx.send(report);
    });
    let report = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the campaign ends within a minute");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::MalformedOutput),
        "{:?}",
        report.findings
    );
}

#[test]
fn websocket_frame_mutations_leave_the_reference_broker_serving() {
    use mqttspec_reference_broker::listeners::{ListenerKind, ListenerSpec};
    use mqttspec_reference_broker::shell::RunningBroker;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(async {
        let spec = ListenerSpec {
            kind: ListenerKind::Ws,
            addr: ([127, 0, 0, 1], 0).into(),
            path: "/mqtt".to_owned(),
        };
        let broker = RunningBroker::start_listeners(
            &[spec],
            None,
            mqttspec::runner::embedded_broker_config(),
        )
        .await
        .unwrap();
        let url = format!("ws://{}/mqtt", broker.local_addr());
        let endpoint = mqttspec::address::broker_address(Some(&url), &Default::default())
            .unwrap()
            .unwrap();
        // The rounds write hand-built frames beneath the WebSocket layer.
        let mut wire_steps = 0;
        for index in 0..10 {
            let settings = RoundSettings {
                seed: 14,
                index,
                version: ProtocolVersion::V5,
                max_clients: 3,
                max_actions: 25,
                wait: Duration::from_secs(1),
                credentials: None,
            };
            let r = round::run_round(endpoint.clone(), &settings, &seeds()).await;
            assert!(r.not_serving.is_none(), "{:?}", r.not_serving);
            wire_steps += r
                .log
                .iter()
                .filter(|l| matches!(l.step, Step::Send { ws_wire: true, .. }))
                .count();
        }
        assert!(wire_steps > 0, "no WebSocket frame mutation in 10 rounds");
        let mut target = Target::external(endpoint, None).await.unwrap();
        let mut cfg = config(14, 40, None);
        cfg.minimize = false;
        let report = campaign::run(&mut target, &cfg, &seeds()).await;
        target.shutdown().await;
        broker.stop().await;
        report
    });
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert!(report.totals.rounds >= 40, "{:?}", report.totals);
}

/// A broker that refuses clients without a User Name and Password (like ejabberd's
/// mod_mqtt): the reference broker with `require_authentication` and one user.
fn login_broker_config(faults: &[&str]) -> mqttspec_reference_broker::Config {
    let mut config = mqttspec::runner::embedded_broker_config();
    config.require_authentication = true;
    config.faults = faults.iter().map(|f| f.to_string()).collect();
    config
}

fn login() -> mqttspec::profile::Credentials {
    let (username, password) = mqttspec::runner::EMBEDDED_USER;
    mqttspec::profile::Credentials {
        username: username.to_owned(),
        password: Some(password.to_owned()),
    }
}

/// With credentials, the fuzz clients and the liveness probe log in: a clean campaign
/// against a broker that wants a password finds nothing and gets answers; without them every
/// round ends with the probe refused. A finding's reproducer records the credentials, so
/// that its replay logs in the same way (and without them cannot even start).
#[test]
fn a_campaign_with_credentials_logs_in_and_its_reproducers_too() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seeds = seeds();
    let mut cfg = config(11, 20, None);
    cfg.credentials = Some(login());
    let report = rt.block_on(async {
        let mut target = Target::embedded_with(login_broker_config(&[]))
            .await
            .unwrap();
        let report = campaign::run(&mut target, &cfg, &seeds).await;
        target.shutdown().await;
        report
    });
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(report.totals.packets_received > 50, "{:?}", report.totals);
    assert_eq!(
        report.header.login.as_deref(),
        Some(login().username.as_str())
    );

    // Without credentials the same broker refuses every client: the probe says so.
    let mut anonymous = config(11, 2, None);
    anonymous.minimize = false;
    let report = rt.block_on(async {
        let mut target = Target::embedded_with(login_broker_config(&[]))
            .await
            .unwrap();
        let report = campaign::run(&mut target, &anonymous, &seeds).await;
        target.shutdown().await;
        report
    });
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::NotServing),
        "{:#?}",
        report.findings
    );

    // A finding against the login broker with a fault: its reproducer has the credentials.
    let out = temp_dir("login");
    let mut cfg = config(3, 5, Some(out.clone()));
    cfg.credentials = Some(login());
    let report = rt.block_on(async {
        let mut target = Target::embedded_with(login_broker_config(&["no-pingresp"]))
            .await
            .unwrap();
        let report = campaign::run(&mut target, &cfg, &seeds).await;
        target.shutdown().await;
        report
    });
    let f = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::PingUnanswered)
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(f.reproduced, Some(true), "{f:?}");
    let file = f.file.clone().expect("reproducer written");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("[credentials]"), "{text}");
    let scenario = Scenario::load(&file).unwrap();
    assert_eq!(scenario.credentials, Some(login()));
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("Login:"), "{summary}");
    assert!(
        !summary.contains(login().password.unwrap().as_str()),
        "{summary}"
    );

    // Replayed against the login broker: FAIL with the fault, PASS without; with the
    // credentials taken out, the runner's own first CONNECT is refused (ERROR).
    let replay_against = |faults: &[&str], scenario: &Scenario| {
        rt.block_on(async {
            let broker = mqttspec_reference_broker::shell::RunningBroker::start(
                ([127, 0, 0, 1], 0).into(),
                login_broker_config(faults),
            )
            .await
            .unwrap();
            let config = ReplayConfig {
                broker: Some(mqttspec::transport::Endpoint::tcp(broker.local_addr())),
                wait: Duration::from_secs(2),
                ..ReplayConfig::default()
            };
            let runs = replay::replay(std::slice::from_ref(scenario), &config)
                .await
                .unwrap();
            broker.stop().await;
            runs[0].outcome.verdict
        })
    };
    assert_eq!(replay_against(&["no-pingresp"], &scenario), Verdict::Fail);
    assert_eq!(replay_against(&[], &scenario), Verdict::Pass);
    let mut anonymous = scenario.clone();
    anonymous.credentials = None;
    assert_eq!(replay_against(&[], &anonymous), Verdict::Error);
    let _ = std::fs::remove_dir_all(&out);
}

/// `mqttspec fuzz --profile` and `--username/--password` reach the CONNECTs; without them
/// the broker that wants a login is reported as not serving before fuzzing (exit 2).
#[test]
fn the_command_line_takes_a_profile_or_a_user_name() {
    let bin = env!("CARGO_BIN_EXE_mqttspec");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let broker = rt
        .block_on(mqttspec_reference_broker::shell::RunningBroker::start(
            ([127, 0, 0, 1], 0).into(),
            login_broker_config(&[]),
        ))
        .unwrap();
    let addr = broker.local_addr().to_string();
    let out = temp_dir("cli-login");
    std::fs::create_dir_all(&out).unwrap();
    let profile = out.join("profile.toml");
    let (user, password) = mqttspec::runner::EMBEDDED_USER;
    std::fs::write(
        &profile,
        format!("[credentials]\nusername = \"{user}\"\npassword = \"{password}\"\n"),
    )
    .unwrap();
    let fuzz = |extra: &[&str]| {
        std::process::Command::new(bin)
            .args(["fuzz", "--rounds", "4", "--seed", "2", "-q", "--wait", "1"])
            .args(["--broker", &addr, "--out"])
            .arg(out.join("run"))
            .args(extra)
            .output()
            .unwrap()
    };
    let with_profile = fuzz(&["--profile", profile.to_str().unwrap()]);
    assert_eq!(
        with_profile.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with_profile.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["login_user_name"], user);
    assert!(summary["command"].as_str().unwrap().contains("--profile"));
    let with_flags = fuzz(&["--username", user, "--password", password]);
    assert_eq!(
        with_flags.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with_flags.stderr)
    );
    let summary = std::fs::read_to_string(out.join("run/summary.json")).unwrap();
    assert!(!summary.contains(password), "{summary}");
    let without = fuzz(&[]);
    assert_eq!(without.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("does not serve a client"),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    rt.block_on(broker.stop());
    let _ = std::fs::remove_dir_all(&out);
}
