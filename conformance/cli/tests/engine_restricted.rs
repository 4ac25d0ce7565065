//! `mqttspec run` without `--broker`, as the built binary: the cases UNSUPPORTED on the
//! embedded broker's default settings are judged on the restricted embedded broker, and
//! every report says which broker produced those verdicts. `--no-restricted` leaves them
//! UNSUPPORTED. Reports written before the restricted pass existed still load.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mqttspec::report::Report;
use mqttspec::runner::Pass;
use mqttspec::verdict::Verdict;

/// The cases only a broker that declares a capability absent can judge.
const CASES: &[&str] = &[
    "keepalive.server-keep-alive-enforced",
    "qos.maximum-qos-enforced",
    "shared.unavailable-subscribe-refused",
    "retain.refused-when-retain-unavailable",
];

fn out_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("mqttspec-restricted-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `mqttspec run` on [`CASES`] (MQTT 5.0) with the embedded broker, plus `extra`.
fn run(out: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mqttspec"));
    cmd.args(["run", "--quiet", "--protocol", "5", "--out"])
        .arg(out)
        .args(extra);
    for id in CASES {
        cmd.args(["--filter", id]);
    }
    cmd.output().expect("run mqttspec")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_main_job_judges_capability_absent_cases_on_the_restricted_broker_and_says_so() {
    let dir = out_dir("on");
    let output = run(&dir, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("0 UNSUPPORTED")
            && stdout.contains("0 ERROR (0 new)")
            && stdout.contains("4 verdict(s) from the restricted broker"),
        "{stdout}"
    );
    assert!(
        stdout.contains("restricted pass: 4 case run(s)"),
        "{stdout}"
    );

    let report = Report::load(&dir.join("report.json")).expect("report.json loads");
    assert_eq!(report.summary.by_verdict.unsupported, 0);
    assert_eq!(report.summary.by_verdict.pass, CASES.len());
    assert!(report.gate.new_failures.is_empty() && report.gate.new_errors.is_empty());
    for id in CASES {
        let c = report
            .cases
            .iter()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("{id} is in the report"));
        assert_eq!(c.verdict, Verdict::Pass, "{id}");
        assert_eq!(c.pass, Pass::Restricted, "{id}");
        assert!(
            c.unsupported_on_main
                .as_ref()
                .is_some_and(|r| !r.is_empty()),
            "{id}: the main pass's reason is kept"
        );
    }
    let restricted = report
        .broker
        .restricted
        .as_ref()
        .expect("restricted broker");
    assert_eq!(
        restricted.settings,
        [
            "Maximum QoS 1",
            "Retain Available 0",
            "Shared Subscription Available 0",
            "Server Keep Alive 2 s"
        ]
    );
    assert_eq!((restricted.reruns, restricted.replaced), (4, 4));
    assert_ne!(restricted.address, report.broker.address);
    // The main broker's practical limits were measured after the cases.
    let limits = report.limits.as_ref().expect("limits measured");
    assert_eq!(limits.versions.len(), 1);
    assert_eq!(limits.versions[0].protocol, "5");
    assert!(limits.versions[0].finding("topic_levels").is_some());

    let markdown = read(dir.join("summary.md"));
    assert!(
        markdown.contains("## Verdicts of the restricted broker"),
        "{markdown}"
    );
    assert!(
        markdown.contains("Maximum QoS 1, Retain Available 0"),
        "{markdown}"
    );
    let junit = read(dir.join("junit.xml"));
    let html = read(dir.join("report.html"));
    for id in CASES {
        assert!(
            markdown
                .lines()
                .any(|l| l.starts_with(&format!("| `{id}` | 5 | PASS |"))),
            "{id} in summary.md:\n{markdown}"
        );
        let testcase = junit
            .split("<testcase ")
            .find(|t| t.contains(&format!("name=\"{id}\"")))
            .unwrap_or_else(|| panic!("{id} in junit.xml"));
        assert!(
            testcase.contains("<system-out>run against the restricted broker"),
            "{testcase}"
        );
        assert!(
            html.contains(&format!(
                "<code>{id}</code> (MQTT 5) (restricted broker)</h3>"
            )),
            "{id} marked in report.html"
        );
    }
    roxmltree::Document::parse(&junit).expect("junit.xml is well-formed");
    assert!(
        html.contains("<th>restricted broker</th>"),
        "capability column"
    );

    // A report written before the restricted pass existed (no `pass`, no `restricted`)
    // loads as main-pass results, and compares side by side with the new one.
    let mut old: serde_json::Value =
        serde_json::from_str(&read(dir.join("report.json"))).expect("json");
    old["broker"]
        .as_object_mut()
        .expect("broker")
        .remove("restricted");
    for c in old["cases"].as_array_mut().expect("cases") {
        let c = c.as_object_mut().expect("case");
        c.remove("pass");
        c.remove("unsupported_on_main");
    }
    let old_path = dir.join("old.json");
    std::fs::write(&old_path, old.to_string()).expect("write old.json");
    let old = Report::load(&old_path).expect("an older report loads");
    assert!(old.broker.restricted.is_none());
    assert!(old.cases.iter().all(|c| c.pass == Pass::Main));
    let page = mqttspec::report::compare::render(&[report, old]);
    assert_eq!(
        page.matches("PASS <small>(restricted broker)</small>")
            .count(),
        CASES.len(),
        "only the new report's cells are marked"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_the_restricted_pass_capability_absent_cases_stay_unsupported() {
    let dir = out_dir("off");
    let output = run(&dir, &["--no-restricted"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        !stdout.contains("restricted pass") && !stdout.contains("restricted broker"),
        "{stdout}"
    );
    let report = Report::load(&dir.join("report.json")).expect("report.json loads");
    assert_eq!(report.summary.by_verdict.unsupported, CASES.len());
    assert!(report.broker.restricted.is_none());
    assert!(report.cases.iter().all(|c| c.pass == Pass::Main));
    let json = read(dir.join("report.json"));
    assert!(!json.contains("\"restricted\":") && !json.contains("unsupported_on_main"));
    let _ = std::fs::remove_dir_all(&dir);
}
