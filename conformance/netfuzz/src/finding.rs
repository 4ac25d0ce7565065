//! A finding of a campaign, its reproducer (a replay scenario file) and the campaign report
//! (`summary.json`, `summary.md`) in the output folder:
//!
//! ```text
//! OUT/summary.json                     the campaign: settings, counters, findings
//! OUT/summary.md                       the same for people
//! OUT/findings/ID.toml                 one reproducer per finding: `mqttspec replay OUT/findings/ID.toml`
//! OUT/findings/ID.transcript.txt       the wire transcript of the round that found it
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use mqttspec_codec::{ProtocolVersion, StatementId};
use serde_json::json;

use super::oracle::FindingKind;
use super::round::LoggedStep;
use super::target::Memory;
use mqttspec_harness::replay::{Expectation, Scenario, Step};

/// The size of a reproducer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Size {
    /// Steps (the expectation tail excluded).
    pub steps: usize,
    /// Distinct clients.
    pub clients: usize,
    /// Bytes written.
    pub bytes: usize,
}

impl Size {
    /// The size of `steps`.
    pub fn of(steps: &[LoggedStep]) -> Size {
        let mut clients: Vec<&str> = Vec::new();
        let mut bytes = 0;
        for l in steps {
            let (client, n) = match &l.step {
                Step::Connect { client, raw, .. } => (client, raw.as_ref().map_or(0, Vec::len)),
                Step::Send {
                    client,
                    bytes,
                    repeat,
                    ..
                } => (client, bytes.len() * *repeat as usize),
                Step::Close { client } | Step::Expect { client, .. } => (client, 0),
                Step::Wait { .. } => continue,
            };
            bytes += n;
            if !clients.contains(&client.as_str()) {
                clients.push(client);
            }
        }
        Size {
            steps: steps.len(),
            clients: clients.len(),
            bytes,
        }
    }
}

/// One distinct finding (the first occurrence of its signature).
#[derive(Debug, Clone)]
pub struct Finding {
    /// The scenario id (and file stem).
    pub id: String,
    /// The oracle that fired.
    pub kind: FindingKind,
    /// What groups occurrences.
    pub signature: String,
    /// The protocol version of the round.
    pub version: ProtocolVersion,
    /// The statement broken, when known.
    pub statement: Option<StatementId>,
    /// What was seen.
    pub detail: String,
    /// The campaign seed.
    pub seed: u64,
    /// The round that found it first.
    pub round: u64,
    /// Rounds in which it was seen.
    pub occurrences: u64,
    /// Whether the reproducer failed the same way on replay (`None`: not tried).
    pub reproduced: Option<bool>,
    /// The round's log up to the finding.
    pub original: Size,
    /// The reproducer written.
    pub minimized: Size,
    /// Minimisation replays.
    pub trials: usize,
    /// Anything the reader should know (minimisation stopped early, ...).
    pub note: Option<String>,
    /// The scenario file, once written.
    pub file: Option<PathBuf>,
}

/// The expectation steps that make a replay check the finding's oracle.
pub fn tail(
    kind: FindingKind,
    client: &str,
    filters: &[(String, u8)],
    alias_max: Option<u16>,
) -> Vec<Step> {
    let watch = Duration::from_millis(500);
    let expectation = match kind {
        FindingKind::NotServing => return Vec::new(),
        FindingKind::MalformedOutput | FindingKind::WrongDirection => Expectation::WellFormed {
            duration: watch,
            topic_alias_maximum: None,
        },
        FindingKind::TopicAliasTooHigh => Expectation::WellFormed {
            duration: watch,
            topic_alias_maximum: Some(alias_max.unwrap_or(0)),
        },
        FindingKind::NotSubscribed | FindingKind::QosTooHigh => Expectation::PublishesMatch {
            duration: watch,
            filters: filters.to_vec(),
        },
        FindingKind::PingUnanswered => {
            return vec![
                Step::Send {
                    client: client.to_owned(),
                    bytes: vec![0xc0, 0x00],
                    repeat: 1,
                    or_closed: true,
                    ws_wire: false,
                },
                Step::Expect {
                    client: client.to_owned(),
                    expectation: Expectation::Packet {
                        packet_type: mqttspec_codec::PacketType::PingResp,
                        fields: None,
                        or_closed: true,
                        skip_others: true,
                        or_disconnect: Vec::new(),
                        absent: Vec::new(),
                        at_most: None,
                    },
                },
            ]
        }
    };
    vec![Step::Expect {
        client: client.to_owned(),
        expectation,
    }]
}

/// The reproducer scenario of `finding` with `steps` + `tail`.
pub fn scenario(finding: &Finding, broker: &str, steps: &[LoggedStep], tail: &[Step]) -> Scenario {
    let mut all: Vec<Step> = steps.iter().map(|l| l.step.clone()).collect();
    all.extend(tail.iter().cloned());
    let reproduced = match finding.reproduced {
        Some(true) => format!(
            "The replay of this file failed the same way ({} minimisation replays; {} steps, {} clients, {} bytes before minimising).",
            finding.trials, finding.original.steps, finding.original.clients, finding.original.bytes
        ),
        Some(false) => "The fuzzer could NOT reproduce this by replaying these steps one after the other (the original round may have depended on timing); the steps are the round's, unminimised.".to_owned(),
        None => "Not replayed by the fuzzer (the broker could not be restarted); the steps are the round's, unminimised.".to_owned(),
    };
    let note = finding
        .note
        .as_ref()
        .map(|n| format!("\nNote: {n}"))
        .unwrap_or_default();
    Scenario {
        path: PathBuf::from(format!("{}.toml", finding.id)),
        id: finding.id.clone(),
        title: format!("{}: {}", finding.kind.slug(), shorten(&finding.detail, 120)),
        source: format!(
            "mqttspec fuzz --seed {} (round {}) against {broker}",
            finding.seed, finding.round
        ),
        protocol: finding.version,
        expect: format!(
            "{}\n\nSeen: {}\n{reproduced}{note}\n",
            finding.kind.requirement(),
            finding.detail
        ),
        statements: finding.statement.into_iter().collect(),
        credentials: None,
        steps: all,
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Writes the reproducer (and the round's transcript) under `out/findings/`.
pub fn write(
    out: &Path,
    scenario: &Scenario,
    notes: &[Option<String>],
    transcript: &str,
) -> std::io::Result<PathBuf> {
    let dir = out.join("findings");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("{}.toml", scenario.id));
    std::fs::write(
        &file,
        mqttspec_harness::replay::write::to_toml(scenario, notes),
    )?;
    const MAX_TRANSCRIPT: usize = 2 * 1024 * 1024;
    let mut t = transcript.to_owned();
    if t.len() > MAX_TRANSCRIPT {
        let mut cut = MAX_TRANSCRIPT;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
        t.push_str("\n[transcript truncated]\n");
    }
    std::fs::write(dir.join(format!("{}.transcript.txt", scenario.id)), t)?;
    Ok(file)
}

/// The campaign's numbers, for the report.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Rounds run.
    pub rounds: u64,
    /// Packets written.
    pub packets_sent: u64,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Packets received.
    pub packets_received: u64,
    /// TCP connections opened.
    pub connections: u64,
    /// Broker restarts (crashes and minimisation).
    pub restarts: u64,
    /// Time spent fuzzing (minimisation excluded).
    pub fuzzing: Duration,
    /// Time spent minimising.
    pub minimizing: Duration,
    /// Memory of the broker process (when the fuzzer started it): first sample, peak, last
    /// sample (samples every 100 rounds; restarts reset it).
    pub broker_memory: Option<(Memory, Memory, Memory)>,
}

impl Totals {
    /// Packets written per second of fuzzing.
    pub fn packets_per_second(&self) -> f64 {
        let secs = self.fuzzing.as_secs_f64();
        if secs > 0.0 {
            self.packets_sent as f64 / secs
        } else {
            0.0
        }
    }
}

/// The campaign settings shown in the report.
#[derive(Debug, Clone)]
pub struct Header {
    /// The broker label.
    pub broker: String,
    /// The seed.
    pub seed: u64,
    /// The command line to run the same campaign.
    pub command: String,
    /// Protocols fuzzed.
    pub protocols: Vec<ProtocolVersion>,
    /// Why the campaign ended before its duration, if it did.
    pub stopped: Option<String>,
    /// The User Name the clients logged in with, if any (the password is not reported; the
    /// reproducers hold it, since a replay must log in the same way).
    pub login: Option<String>,
}

/// The JSON report.
pub fn summary_json(h: &Header, t: &Totals, findings: &[Finding]) -> serde_json::Value {
    json!({
        "schema_version": 1,
        "tool": format!("mqttspec {}", env!("CARGO_PKG_VERSION")),
        "broker": h.broker,
        "seed": h.seed,
        "command": h.command,
        "protocols": h.protocols.iter().map(|v| v.label()).collect::<Vec<_>>(),
        "stopped_early": h.stopped,
        "login_user_name": h.login,
        "rounds": t.rounds,
        "packets_sent": t.packets_sent,
        "bytes_sent": t.bytes_sent,
        "packets_received": t.packets_received,
        "connections": t.connections,
        "broker_restarts": t.restarts,
        "fuzzing_seconds": t.fuzzing.as_secs_f64(),
        "minimizing_seconds": t.minimizing.as_secs_f64(),
        "packets_per_second": t.packets_per_second(),
        "broker_memory_kib": t.broker_memory.map(|(first, peak, last)| json!({
            "first": {"rss": first.rss_kib, "vsz": first.vsz_kib},
            "peak": {"rss": peak.rss_kib, "vsz": peak.vsz_kib},
            "last": {"rss": last.rss_kib, "vsz": last.vsz_kib},
        })),
        "findings": findings.iter().map(|f| json!({
            "id": f.id,
            "kind": f.kind.slug(),
            "signature": f.signature,
            "protocol": f.version.label(),
            "statement": f.statement.map(|s| s.id()),
            "detail": f.detail,
            "round": f.round,
            "occurrences": f.occurrences,
            "reproduced": f.reproduced,
            "original": {"steps": f.original.steps, "clients": f.original.clients, "bytes": f.original.bytes},
            "minimized": {"steps": f.minimized.steps, "clients": f.minimized.clients, "bytes": f.minimized.bytes},
            "minimization_replays": f.trials,
            "note": f.note,
            "file": f.file.as_ref().map(|p| p.display().to_string()),
        })).collect::<Vec<_>>(),
    })
}

/// The Markdown report.
pub fn summary_markdown(h: &Header, t: &Totals, findings: &[Finding]) -> String {
    let mut s = String::new();
    s.push_str("# mqttspec fuzz campaign\n\n");
    s.push_str(&format!("- Broker: {}\n", h.broker));
    s.push_str(&format!("- Command: `{}`\n", h.command));
    let protocols: Vec<&str> = h.protocols.iter().map(|v| v.label()).collect();
    s.push_str(&format!("- Protocols: {}\n", protocols.join(", ")));
    if let Some(user) = &h.login {
        s.push_str(&format!(
            "- Login: every generated CONNECT and the liveness probe carry User Name `{user}` and the password; the reproducers record them (`[credentials]`)\n"
        ));
    }
    s.push_str(&format!(
        "- Fuzzing time: {:.0} s ({:.0} s more minimising)\n",
        t.fuzzing.as_secs_f64(),
        t.minimizing.as_secs_f64()
    ));
    s.push_str(&format!(
        "- Rounds: {}; connections: {}; packets sent: {} ({:.0} packets/s); bytes sent: {}; packets received: {}; broker restarts: {}\n",
        t.rounds, t.connections, t.packets_sent, t.packets_per_second(), t.bytes_sent, t.packets_received, t.restarts
    ));
    if let Some((first, peak, last)) = t.broker_memory {
        s.push_str(&format!(
            "- Broker process memory (every 100 rounds): resident {} → peak {} → last {} MiB; virtual {} → peak {} → last {} MiB\n",
            first.rss_kib / 1024,
            peak.rss_kib / 1024,
            last.rss_kib / 1024,
            first.vsz_kib / 1024,
            peak.vsz_kib / 1024,
            last.vsz_kib / 1024
        ));
    }
    if let Some(why) = &h.stopped {
        s.push_str(&format!("- **Stopped early:** {why}\n"));
    }
    s.push_str(&format!("\n## Findings: {}\n\n", findings.len()));
    if findings.is_empty() {
        s.push_str("None: every oracle held in every round.\n");
        return s;
    }
    s.push_str("| kind | protocol | statement | what was seen | first round | rounds | reproduced | reproducer (steps / clients / bytes) |\n|---|---|---|---|---|---|---|---|\n");
    for f in findings {
        let repro = match f.reproduced {
            Some(true) => "yes",
            Some(false) => "no",
            None => "not tried",
        };
        let file = f
            .file
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| format!("`findings/{}`", n.to_string_lossy()))
            .unwrap_or_else(|| "-".to_owned());
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} ({} / {} / {}, from {} / {} / {}) |\n",
            f.kind.slug(),
            f.version.label(),
            f.statement.map_or("-".to_owned(), |x| x.id().to_owned()),
            shorten(&f.detail, 160).replace('|', "\\|"),
            f.round,
            f.occurrences,
            repro,
            file,
            f.minimized.steps,
            f.minimized.clients,
            f.minimized.bytes,
            f.original.steps,
            f.original.clients,
            f.original.bytes,
        ));
        if let Some(n) = &f.note {
            s.push_str(&format!(
                "|  |  |  | note: {} |  |  |  |  |\n",
                n.replace('|', "\\|")
            ));
        }
    }
    s.push_str("\nReplay a finding with `mqttspec replay FILE --broker HOST:PORT --transcript`.\n");
    s
}
