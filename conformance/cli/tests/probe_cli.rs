//! `mqttspec probe` as the built binary: against the embedded reference broker it prints the
//! findings and writes the JSON and a profile that loads; a broker that closes every
//! connection, or nothing listening, is exit status 2 with the reason.

use std::process::{Command, Output};

use mqttspec::limits::{LimitsReport, Measure};
use mqttspec::profile::Profile;

fn probe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqttspec"))
        .arg("probe")
        .args(args)
        .output()
        .expect("run mqttspec probe")
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn probes_the_embedded_broker_and_writes_json_and_a_profile() {
    let dir = std::env::temp_dir().join(format!("mqttspec-probe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("limits.json");
    let profile = dir.join("profile.toml");
    let out = probe(&[
        "--protocol",
        "5",
        "--json",
        json.to_str().unwrap(),
        "--profile-out",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("topic_levels"), "{stdout}");
    assert!(stdout.contains("CONNACK announces"), "{stdout}");
    let report: LimitsReport =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let v5 = &report.versions[0];
    assert_eq!(
        v5.finding("topic_levels").map(|f| &f.value),
        Some(&Measure::Exactly { value: 128 })
    );
    let p = Profile::load(&profile).expect("the profile written loads");
    assert_eq!(p.features.topic_alias_maximum, Some(16));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broker_that_closes_everything_or_is_absent_is_exit_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let closer = std::thread::spawn(move || {
        for s in listener.incoming().take(2) {
            drop(s);
        }
    });
    let out = probe(&["--broker", &addr]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("not probed") && all.contains("nothing could be probed"),
        "{all}"
    );
    closer.join().unwrap();

    // Nothing listens there any more.
    let out = probe(&["--broker", &addr, "--time-limit", "5"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cannot connect"), "{}", text(&out));
}
