//! The campaign: rounds one after the other until the duration (or round count) is used up;
//! each new finding is minimised and written at once, repeats are counted. A broker that
//! stops serving is restarted when the fuzzer can (the embedded broker, `--broker-cmd`),
//! otherwise the campaign ends there with that finding.

use std::path::PathBuf;
use std::time::Duration;

use mqttspec_codec::ProtocolVersion;
use rand::RngExt;
use tokio::time::Instant;

use super::finding::{self, Finding, Header, Size, Totals};
use super::minimize::{self, Budget};
use super::oracle::FindingKind;
use super::round::{self, LoggedStep, RoundResult, RoundSettings};
use super::seeds::Seeds;
use super::target::Target;
use mqttspec_harness::client::transcript::render_text;
use mqttspec_harness::replay::Step;

/// The most distinct findings kept (further signatures are only counted).
pub const MAX_FINDINGS: usize = 50;

/// How a campaign runs.
#[derive(Debug, Clone)]
pub struct CampaignConfig {
    /// The seed.
    pub seed: u64,
    /// How long to fuzz (minimisation not counted).
    pub duration: Duration,
    /// Stop after this many rounds (tests).
    pub max_rounds: Option<u64>,
    /// The most clients per round.
    pub clients: usize,
    /// The most actions per round.
    pub actions: usize,
    /// The protocols to fuzz (a round picks one).
    pub protocols: Vec<ProtocolVersion>,
    /// How long an answer may take.
    pub wait: Duration,
    /// Whether to minimise findings.
    pub minimize: bool,
    /// Minimisation limits per finding.
    pub minimize_trials: usize,
    /// Minimisation time per finding.
    pub minimize_time: Duration,
    /// Where the findings and reports go (`None`: nowhere).
    pub out: Option<PathBuf>,
    /// The command line, for the report.
    pub command: String,
    /// Print progress on stderr.
    pub progress: bool,
    /// The User Name and Password the fuzz clients and the liveness probe log in with
    /// (`--profile`, `--username`); the reproducers record them for `mqttspec replay`.
    pub credentials: Option<mqttspec_harness::profile::Credentials>,
}

/// What a campaign produced.
#[derive(Debug, Clone)]
pub struct CampaignReport {
    /// Settings and the broker.
    pub header: Header,
    /// Counters.
    pub totals: Totals,
    /// Distinct findings.
    pub findings: Vec<Finding>,
    /// Occurrences of signatures beyond [`MAX_FINDINGS`].
    pub dropped: u64,
}

/// Runs a campaign against `target`.
pub async fn run(target: &mut Target, cfg: &CampaignConfig, seeds: &Seeds) -> CampaignReport {
    let mut header = Header {
        broker: target.label(),
        seed: cfg.seed,
        command: cfg.command.clone(),
        protocols: cfg.protocols.clone(),
        stopped: None,
        login: cfg.credentials.as_ref().map(|c| c.username.clone()),
    };
    let mut totals = Totals::default();
    let mut findings: Vec<Finding> = Vec::new();
    let mut dropped = 0;
    let started = Instant::now();
    let mut minimizing = Duration::ZERO;
    let mut last_progress = Instant::now();
    let mut index = 0u64;
    loop {
        let fuzzing = started.elapsed().saturating_sub(minimizing);
        if fuzzing >= cfg.duration || cfg.max_rounds.is_some_and(|m| index >= m) {
            break;
        }
        let mut pick = round::rng_for(cfg.seed, index, 0xbeef);
        let version = cfg.protocols[pick.random_range(0..cfg.protocols.len().max(1))];
        let settings = RoundSettings {
            seed: cfg.seed,
            index,
            version,
            max_clients: cfg.clients,
            max_actions: cfg.actions,
            wait: cfg.wait,
            credentials: cfg.credentials.clone(),
        };
        let result = round::run_round(target.addr(), &settings, seeds).await;
        totals.rounds += 1;
        totals.packets_sent += result.packets_sent;
        totals.bytes_sent += result.bytes_sent;
        totals.packets_received += result.packets_received;
        totals.connections += result.connections;

        let mut new_findings = Vec::new();
        for d in &result.detected {
            let signature = format!("{}:{}", version.label(), d.breach.signature);
            if let Some(f) = findings.iter_mut().find(|f| f.signature == signature) {
                f.occurrences += 1;
                continue;
            }
            if findings.len() + new_findings.len() >= MAX_FINDINGS {
                dropped += 1;
                continue;
            }
            let steps = result.log[..d.at_step.min(result.log.len())].to_vec();
            let tail = finding::tail(d.breach.kind, &d.client, &d.filters, d.alias_max);
            new_findings.push(NewFinding {
                signature,
                kind: d.breach.kind,
                statement: d.breach.statement,
                detail: d.breach.detail.clone(),
                steps,
                tail,
            });
        }
        let mut stop = false;
        if let Some(why) = &result.not_serving {
            // A second look after a pause: a broker that was only slow is not a finding.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let again = probe_again(target, &settings).await;
            if again.is_err() {
                let mut detail = format!("a fresh client is not served: {why}");
                if let Some(status) = target.exit_status() {
                    detail.push_str(&format!("; {status}"));
                }
                let signature = format!("{}:not-serving", version.label());
                match findings.iter_mut().find(|f| f.signature == signature) {
                    Some(f) => f.occurrences += 1,
                    None => new_findings.push(NewFinding {
                        signature,
                        kind: FindingKind::NotServing,
                        statement: None,
                        detail,
                        steps: result.log.clone(),
                        tail: Vec::new(),
                    }),
                }
                if target.can_restart() {
                    if let Err(e) = target.restart().await {
                        header.stopped = Some(e);
                        stop = true;
                    }
                    totals.restarts += 1;
                } else {
                    header.stopped = Some(
                        "the broker stopped serving and the fuzzer cannot restart it (give --broker-cmd to let it)"
                            .to_owned(),
                    );
                    stop = true;
                }
            }
        }
        for n in new_findings {
            let t0 = Instant::now();
            let f = handle_finding(target, cfg, &result, index, n).await;
            minimizing += t0.elapsed();
            if cfg.progress {
                eprintln!(
                    "[fuzz] round {index}: {} ({}) — {}",
                    f.kind.slug(),
                    f.version.label(),
                    f.detail
                );
            }
            findings.push(f);
        }
        if cfg.progress && last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            let secs = started.elapsed().saturating_sub(minimizing).as_secs_f64();
            eprintln!(
                "[fuzz] {secs:.0} s: {} rounds, {} packets ({:.0}/s), {} findings",
                totals.rounds,
                totals.packets_sent,
                totals.packets_sent as f64 / secs.max(0.001),
                findings.len()
            );
        }
        if index.is_multiple_of(100) {
            sample_memory(target, &mut totals);
        }
        index += 1;
        if stop {
            break;
        }
    }
    sample_memory(target, &mut totals);
    totals.minimizing = minimizing;
    totals.fuzzing = started.elapsed().saturating_sub(minimizing);
    let report = CampaignReport {
        header,
        totals,
        findings,
        dropped,
    };
    if let Some(out) = &cfg.out {
        let _ = write_reports(out, &report);
    }
    report
}

fn sample_memory(target: &Target, totals: &mut Totals) {
    let Some(m) = target.broker_memory() else {
        return;
    };
    totals.broker_memory = Some(match totals.broker_memory {
        None => (m, m, m),
        Some((first, peak, _)) => (
            first,
            super::target::Memory {
                rss_kib: peak.rss_kib.max(m.rss_kib),
                vsz_kib: peak.vsz_kib.max(m.vsz_kib),
            },
            m,
        ),
    });
}

async fn probe_again(target: &Target, settings: &RoundSettings) -> Result<(), String> {
    let id = round::client_id(settings.seed, settings.index, 0xfffd);
    let transcript = mqttspec_harness::client::Transcript::new(std::time::Instant::now());
    round::probe(
        target.addr(),
        settings.version,
        id,
        settings.wait * 2,
        transcript,
        true,
        settings.credentials.as_ref(),
    )
    .await
}

/// A finding seen for the first time, before minimisation.
struct NewFinding {
    signature: String,
    kind: FindingKind,
    statement: Option<mqttspec_codec::StatementId>,
    detail: String,
    steps: Vec<LoggedStep>,
    tail: Vec<Step>,
}

async fn handle_finding(
    target: &mut Target,
    cfg: &CampaignConfig,
    result: &RoundResult,
    index: u64,
    n: NewFinding,
) -> Finding {
    let version = result.version;
    let original = Size::of(&n.steps);
    let v = match version {
        ProtocolVersion::V311 => "v311",
        ProtocolVersion::V5 => "v5",
    };
    let mut f = Finding {
        id: format!("fuzz-{}-{v}-s{}-r{index}", n.kind.slug(), cfg.seed),
        kind: n.kind,
        signature: n.signature,
        version,
        statement: n.statement,
        detail: n.detail,
        seed: cfg.seed,
        round: index,
        occurrences: 1,
        reproduced: None,
        original,
        minimized: original,
        trials: 0,
        note: None,
        file: None,
    };
    let mut steps = n.steps;
    let replayable = n.kind != FindingKind::NotServing || target.can_restart();
    if cfg.minimize && replayable {
        let budget = Budget {
            trials: cfg.minimize_trials,
            deadline: Instant::now() + cfg.minimize_time,
            wait: cfg.wait,
        };
        let m = minimize::minimize(
            target,
            n.kind,
            version,
            steps.clone(),
            n.tail.clone(),
            budget,
            cfg.credentials.clone(),
        )
        .await;
        f.reproduced = Some(m.reproduced);
        f.trials = m.trials;
        f.note = m.note;
        if m.reproduced {
            steps = m.steps;
        }
        if target.can_restart() {
            // Leave a fresh broker for the next round.
            if let Err(e) = target.restart().await {
                f.note = Some(e);
            }
        }
    } else if !replayable {
        f.note = Some(
            "not minimised: the broker stopped serving and the fuzzer cannot restart it (--broker-cmd)"
                .to_owned(),
        );
    }
    f.minimized = Size::of(&steps);
    if let Some(out) = &cfg.out {
        let mut scenario = finding::scenario(&f, &target.label(), &steps, &n.tail);
        scenario.credentials = cfg.credentials.clone();
        let notes: Vec<Option<String>> = steps
            .iter()
            .map(|l| l.note.clone())
            .chain(n.tail.iter().map(|_| None))
            .collect();
        let transcript = render_text(&result.transcript);
        match finding::write(out, &scenario, &notes, &transcript) {
            Ok(p) => f.file = Some(p),
            Err(e) => f.note = Some(format!("could not write the reproducer: {e}")),
        }
    }
    f
}

/// Writes `summary.json` and `summary.md` into `out`.
pub fn write_reports(out: &std::path::Path, r: &CampaignReport) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let json = finding::summary_json(&r.header, &r.totals, &r.findings);
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )?;
    std::fs::write(
        out.join("summary.md"),
        finding::summary_markdown(&r.header, &r.totals, &r.findings),
    )?;
    Ok(())
}
