//! Baselines: a per-broker file of expected non-passes, so CI gates on regressions only.
//!
//! ```toml
//! [[expected]]
//! case = "connect.second-connect-is-protocol-error"
//! protocol = "5"          # "3.1.1", "5", or omitted for both
//! verdict = "FAIL"
//! reason = "closes without DISCONNECT 0x82; upstream issue #123"   # mandatory
//! transports = ["ws", "wss"]   # optional: only runs over these (mqtt, mqtts, ws, wss)
//! ```
//!
//! An entry with `transports` applies only to runs over one of them ([`Baseline::for_transport`]
//! drops the others before the gate): a broker may behave differently on its WebSocket
//! listener than on its TCP one.
//!
//! Gate (the exit status of `mqttspec run`): **1** whenever a FAIL is not baselined, whatever
//! else happened; else **2** when nothing could be judged (every run INCONCLUSIVE or ERROR:
//! no usable broker); else **0**. INCONCLUSIVE and ERROR runs
//! are listed but do not fail the run, unless `strict` (`--strict`): then an unbaselined
//! INCONCLUSIVE or ERROR makes it 1. A baselined case that now passes is reported so the
//! entry can be removed, but does not fail the run; an entry whose verdict differs from the
//! one observed does not cover it. Baselines may list INCONCLUSIVE runs too (with a reason).

use std::path::Path;

use mqttspec_codec::ProtocolVersion;
use serde::{Deserialize, Serialize};

use mqttspec_harness::verdict::Verdict;

/// The transport names an entry's `transports` may use.
const TRANSPORTS: [&str; 4] = ["mqtt", "mqtts", "ws", "wss"];

/// A baseline file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// The expected non-passes.
    #[serde(default)]
    pub expected: Vec<Expected>,
}

/// One expected non-pass.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Case id.
    pub case: String,
    /// Protocol ("3.1.1" or "5"); both when absent.
    #[serde(default)]
    pub protocol: Option<String>,
    /// The verdict expected.
    pub verdict: Verdict,
    /// Why (mandatory, non-empty).
    pub reason: String,
    /// The transports (`mqtt`, `mqtts`, `ws`, `wss`) whose runs the entry applies to; all
    /// when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<String>,
}

impl Expected {
    fn applies_to(&self, case: &str, protocol: ProtocolVersion) -> bool {
        self.case == case
            && self
                .protocol
                .as_deref()
                .is_none_or(|p| p.parse::<ProtocolVersion>() == Ok(protocol))
    }
}

impl Baseline {
    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read baseline {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("baseline {}: {e}", path.display()))
    }

    /// Parses baseline TOML and checks every entry has a reason and a known protocol.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let b: Baseline = toml::from_str(text).map_err(|e| e.to_string())?;
        for e in &b.expected {
            if e.reason.trim().is_empty() {
                return Err(format!("entry for case `{}` has an empty reason", e.case));
            }
            if let Some(p) = &e.protocol {
                p.parse::<ProtocolVersion>()
                    .map_err(|err| format!("entry for case `{}`: {err}", e.case))?;
            }
            if let Some(t) = e
                .transports
                .iter()
                .find(|t| !TRANSPORTS.contains(&t.as_str()))
            {
                return Err(format!(
                    "entry for case `{}`: unknown transport {t:?} (use {})",
                    e.case,
                    TRANSPORTS.join(", ")
                ));
            }
        }
        Ok(b)
    }

    /// The entries that apply to a run over `transport` (`mqtt`, `mqtts`, `ws`, `wss`).
    pub fn for_transport(&self, transport: &str) -> Baseline {
        Baseline {
            expected: self
                .expected
                .iter()
                .filter(|e| e.transports.is_empty() || e.transports.iter().any(|t| t == transport))
                .cloned()
                .collect(),
        }
    }

    /// The entry covering this result, if any (same case, protocol and verdict).
    pub fn covering(
        &self,
        case: &str,
        protocol: ProtocolVersion,
        verdict: Verdict,
    ) -> Option<&Expected> {
        self.expected
            .iter()
            .find(|e| e.applies_to(case, protocol) && e.verdict == verdict)
    }

    /// Any entry about this case and protocol (whatever its verdict).
    pub fn about(&self, case: &str, protocol: ProtocolVersion) -> Option<&Expected> {
        self.expected.iter().find(|e| e.applies_to(case, protocol))
    }
}

/// One case × protocol result, as the gate sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateItem {
    /// Case id.
    pub case: String,
    /// Protocol label.
    pub protocol: String,
    /// Verdict observed.
    pub verdict: Verdict,
    /// The baseline's reason (baselined items) or what the baseline expected instead.
    pub note: Option<String>,
}

/// The gate's decision over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    /// FAILs not in the baseline.
    pub new_failures: Vec<GateItem>,
    /// ERRORs not in the baseline.
    pub new_errors: Vec<GateItem>,
    /// INCONCLUSIVE runs not in the baseline.
    #[serde(default)]
    pub new_inconclusive: Vec<GateItem>,
    /// Whether no run judged the broker: every run INCONCLUSIVE or ERROR.
    #[serde(default)]
    pub nothing_judged: bool,
    /// Non-passes the baseline covers.
    pub baselined: Vec<GateItem>,
    /// Baselined cases that now PASS (trim the baseline).
    pub now_passing: Vec<GateItem>,
    /// Baseline entries that match no case that ran.
    pub unused_entries: Vec<String>,
}

impl Gate {
    /// Decides over `(case id, protocol, verdict)` results.
    pub fn decide<'a>(
        baseline: &Baseline,
        results: impl IntoIterator<Item = (&'a str, ProtocolVersion, Verdict)>,
    ) -> Gate {
        let mut gate = Gate {
            nothing_judged: true,
            ..Gate::default()
        };
        let mut used = vec![false; baseline.expected.len()];
        for (case, protocol, verdict) in results {
            // UNSUPPORTED says something about the broker too (a capability it lacks).
            if verdict.is_judgement() || verdict == Verdict::Unsupported {
                gate.nothing_judged = false;
            }
            for (i, e) in baseline.expected.iter().enumerate() {
                if e.applies_to(case, protocol) {
                    used[i] = true;
                }
            }
            let item = |note: Option<String>| GateItem {
                case: case.to_owned(),
                protocol: protocol.label().to_owned(),
                verdict,
                note,
            };
            if let Some(e) = baseline.covering(case, protocol, verdict) {
                if verdict != Verdict::Pass {
                    gate.baselined.push(item(Some(e.reason.clone())));
                }
                continue;
            }
            let about = baseline.about(case, protocol);
            if verdict == Verdict::Pass {
                if let Some(e) = about {
                    gate.now_passing.push(item(Some(format!(
                        "baseline expected {}: {}",
                        e.verdict, e.reason
                    ))));
                }
                continue;
            }
            let note = about.map(|e| format!("baseline expected {}: {}", e.verdict, e.reason));
            match verdict {
                Verdict::Fail => gate.new_failures.push(item(note)),
                Verdict::Error => gate.new_errors.push(item(note)),
                Verdict::Inconclusive => gate.new_inconclusive.push(item(note)),
                _ => {}
            }
        }
        for (i, e) in baseline.expected.iter().enumerate() {
            if !used.get(i).copied().unwrap_or(false) {
                gate.unused_entries.push(match &e.protocol {
                    Some(p) => format!("{} ({p})", e.case),
                    None => e.case.clone(),
                });
            }
        }
        gate
    }

    /// The exit status (see the module docs): 1 on an unbaselined FAIL; else 2 when nothing
    /// was judged; else 1 when `strict` and an unbaselined INCONCLUSIVE or ERROR exists;
    /// else 0.
    pub fn exit_code(&self, strict: bool) -> u8 {
        if !self.new_failures.is_empty() {
            1
        } else if self.nothing_judged {
            2
        } else if strict && !(self.new_errors.is_empty() && self.new_inconclusive.is_empty()) {
            1
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::{V311, V5};

    const TEXT: &str = r#"
[[expected]]
case = "a.fails"
protocol = "5"
verdict = "FAIL"
reason = "known bug"

[[expected]]
case = "b.fixed"
verdict = "FAIL"
reason = "was broken"

[[expected]]
case = "gone.case"
verdict = "ERROR"
reason = "removed case"
"#;

    #[test]
    fn baselined_failures_do_not_fail_the_run() {
        let b = Baseline::parse(TEXT).unwrap();
        let gate = Gate::decide(
            &b,
            [
                ("a.fails", V5, Verdict::Fail),
                ("a.fails", V311, Verdict::Pass),
            ],
        );
        assert_eq!(gate.exit_code(false), 0);
        assert_eq!(gate.baselined.len(), 1);
        assert_eq!(gate.baselined[0].note.as_deref(), Some("known bug"));
    }

    #[test]
    fn a_failure_on_another_protocol_is_new() {
        let b = Baseline::parse(TEXT).unwrap();
        let gate = Gate::decide(&b, [("a.fails", V311, Verdict::Fail)]);
        assert_eq!(gate.exit_code(false), 1);
        assert_eq!(gate.new_failures.len(), 1);
    }

    #[test]
    fn failures_outrank_errors_and_a_different_verdict_is_not_covered() {
        let b = Baseline::parse(TEXT).unwrap();
        let gate = Gate::decide(
            &b,
            [("a.fails", V5, Verdict::Error), ("x", V5, Verdict::Fail)],
        );
        assert_eq!(gate.exit_code(false), 1);
        assert_eq!(gate.exit_code(true), 1);
        assert!(gate.new_errors[0]
            .note
            .as_deref()
            .unwrap()
            .contains("expected FAIL"));
    }

    #[test]
    fn entries_for_other_transports_are_dropped() {
        let b = Baseline::parse(
            "[[expected]]\ncase = \"a\"\nverdict = \"FAIL\"\nreason = \"r\"\ntransports = [\"ws\"]\n\n\
             [[expected]]\ncase = \"b\"\nverdict = \"FAIL\"\nreason = \"r\"\n",
        )
        .unwrap();
        assert_eq!(b.for_transport("ws").expected.len(), 2);
        assert_eq!(b.for_transport("mqtt").expected.len(), 1);
        assert!(Baseline::parse(
            "[[expected]]\ncase = \"a\"\nverdict = \"FAIL\"\nreason = \"r\"\ntransports = [\"http\"]\n"
        )
        .is_err());
    }

    #[test]
    fn now_passing_and_unused_entries_are_reported() {
        let b = Baseline::parse(TEXT).unwrap();
        let gate = Gate::decide(&b, [("b.fixed", V5, Verdict::Pass)]);
        assert_eq!(gate.exit_code(false), 0);
        assert_eq!(gate.now_passing.len(), 1);
        assert_eq!(
            gate.unused_entries,
            vec!["a.fails (5)".to_owned(), "gone.case".to_owned()]
        );
    }

    #[test]
    fn inconclusive_and_errors_fail_only_a_strict_gate_and_nothing_judged_is_2() {
        let b = Baseline::default();
        let gate = Gate::decide(
            &b,
            [
                ("a", V5, Verdict::Pass),
                ("b", V5, Verdict::Inconclusive),
                ("c", V311, Verdict::Error),
            ],
        );
        assert_eq!(gate.exit_code(false), 0);
        assert_eq!(gate.exit_code(true), 1);
        assert_eq!(gate.new_inconclusive.len(), 1);
        let none = Gate::decide(
            &b,
            [("b", V5, Verdict::Inconclusive), ("e", V5, Verdict::Error)],
        );
        assert!(none.nothing_judged);
        assert_eq!(none.exit_code(false), 2);
        let failed = Gate::decide(
            &b,
            [("f", V5, Verdict::Fail), ("b", V5, Verdict::Inconclusive)],
        );
        assert_eq!(failed.exit_code(false), 1);
    }

    #[test]
    fn reason_is_mandatory_and_protocol_checked() {
        assert!(Baseline::parse("[[expected]]\ncase = \"a\"\nverdict = \"FAIL\"\n").is_err());
        assert!(Baseline::parse(
            "[[expected]]\ncase = \"a\"\nverdict = \"FAIL\"\nreason = \" \"\n"
        )
        .is_err());
        assert!(Baseline::parse(
            "[[expected]]\ncase = \"a\"\nprotocol = \"4.0\"\nverdict = \"FAIL\"\nreason = \"r\"\n"
        )
        .is_err());
        assert!(
            Baseline::parse("[[expected]]\ncase = \"a\"\nverdict = \"MEH\"\nreason = \"r\"\n")
                .is_err()
        );
    }
}
