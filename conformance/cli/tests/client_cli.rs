//! `mqttspec client` end to end against the reference client (`mqttspec reference-client`):
//! a few fast cases PASS with exit status 0 and a JSON report; under a fault the case FAILs
//! with exit status 1. The real-library adapters run only when installed.

use std::path::Path;
use std::process::Command;

const MQTTSPEC: &str = env!("CARGO_BIN_EXE_mqttspec");

fn run(out: &Path, filter: &str, faults: &str) -> (i32, String) {
    let o = Command::new(MQTTSPEC)
        .args([
            "client",
            "--adapter",
            &format!("{MQTTSPEC} reference-client"),
            "--protocol",
            "all",
            "--filter",
            filter,
            "--out",
        ])
        .arg(out)
        .env("MQTTSPEC_CLIENT_FAULTS", faults)
        .output()
        .expect("run mqttspec");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn reference_client_passes_with_exit_0_and_a_json_report() {
    let dir = std::env::temp_dir().join(format!("mqttspec-client-cli-{}", std::process::id()));
    let (code, stdout) = run(&dir, "qos.", "");
    assert_eq!(code, 0, "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("client-report.json")).unwrap())
            .unwrap();
    assert_eq!(report["schema"], "mqttspec-client-report/1");
    assert_eq!(report["library"]["library"], "mqttspec-reference-client");
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 12, "six qos cases on both versions");
    assert!(cases.iter().all(|c| c["verdict"] == "PASS"), "{stdout}");
    let covered = report["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] == "MQTT-4.3.3-4" && s["spec"] == "5.0")
        .map(|s| s["verdict"].clone())
        .collect::<Vec<_>>();
    assert_eq!(covered, vec![serde_json::json!("PASS")]);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).expect("well-formed junit.xml");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count(),
        12
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("qos.qos1-received-puback"));
    let (code, stdout) = run(&dir, "qos.qos1-received-puback", "no-puback");
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");
    // The same FAIL listed in a baseline does not fail the run.
    std::fs::create_dir_all(&dir).unwrap();
    let baseline = dir.join("baseline.toml");
    std::fs::write(
        &baseline,
        "[[expected]]\ncase = \"qos.qos1-received-puback\"\nverdict = \"FAIL\"\nreason = \"the no-puback fault\"\n",
    )
    .unwrap();
    let o = Command::new(MQTTSPEC)
        .args([
            "client",
            "--adapter",
            &format!("{MQTTSPEC} reference-client"),
        ])
        .args(["--filter", "qos.qos1-received-puback", "--baseline"])
        .arg(&baseline)
        .arg("--out")
        .arg(&dir)
        .env("MQTTSPEC_CLIENT_FAULTS", "no-puback")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("(baselined)"), "{stdout}");
    // The JSON says which baseline and why.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("client-report.json")).unwrap())
            .unwrap();
    assert_eq!(report["cases"][0]["baselined"], "the no-puback fault");
    assert!(report["baseline"].as_str().is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a real library's adapter on two cases when its dependencies are installed (see
/// `scripts/install-client-adapters.sh`); prints a notice and passes otherwise.
#[test]
fn real_library_adapters_run_when_installed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let adapters = [
        (
            "paho-mqtt",
            root.join("conformance/clients/adapters/paho/venv/bin/python"),
            root.join("conformance/clients/adapters/paho/paho_adapter.py"),
        ),
        (
            "MQTT.js",
            Path::new("/usr/bin/node").to_path_buf(),
            root.join("conformance/clients/adapters/mqttjs/mqttjs_adapter.js"),
        ),
    ];
    for (name, interpreter, script) in adapters {
        let installed = interpreter.exists()
            && script.exists()
            && (name != "MQTT.js"
                || root
                    .join("conformance/clients/adapters/mqttjs/node_modules/mqtt")
                    .exists());
        if !installed {
            println!("notice: the {name} adapter is not installed; skipped (scripts/install-client-adapters.sh)");
            continue;
        }
        let dir =
            std::env::temp_dir().join(format!("mqttspec-client-{name}-{}", std::process::id()));
        let o = Command::new(MQTTSPEC)
            .args(["client", "--adapter"])
            .arg(format!("{} {}", interpreter.display(), script.display()))
            .args(["--filter", "qos.qos1-received-puback", "--out"])
            .arg(&dir)
            .output()
            .expect("run mqttspec");
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.contains("qos.qos1-received-puback"),
            "{name}: {stdout}"
        );
        assert!(!stdout.contains("ERROR"), "{name}: {stdout}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn reference_client_passes_over_tls_websocket_and_websocket_over_tls() {
    for transport in ["mqtts", "ws", "wss"] {
        let dir = std::env::temp_dir().join(format!(
            "mqttspec-client-{transport}-{}",
            std::process::id()
        ));
        let o = Command::new(MQTTSPEC)
            .args([
                "client",
                "--adapter",
                &format!("{MQTTSPEC} reference-client"),
                "--transport",
                transport,
                "--filter",
                "qos.qos1-received-puback",
                "--filter",
                "websocket.mqtt-subprotocol",
                "--out",
            ])
            .arg(&dir)
            .env("MQTTSPEC_CLIENT_FAULTS", "")
            .output()
            .expect("run mqttspec");
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{transport}: {stdout}");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("client-report.json")).unwrap())
                .unwrap();
        assert_eq!(report["transport"], transport);
        let cases = report["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 4, "{transport}: {stdout}");
        assert!(
            cases.iter().all(|c| c["verdict"] == "PASS"),
            "{transport}: {stdout}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
