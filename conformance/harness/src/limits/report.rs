//! What the limits probe found: one [`VersionLimits`] per protocol version, each a list of
//! [`Finding`]s. Serialised as the `limits` object of `report.json` and as the file
//! `mqttspec probe --json` writes.

use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// Everything one limits probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsReport {
    /// The broker's address.
    pub address: String,
    /// The topic prefix of this probe (unique per run): every topic it used is below it.
    pub topic_prefix: String,
    /// The overall time limit, in milliseconds.
    pub time_limit_ms: u64,
    /// How long the probe took, in milliseconds.
    pub wall_time_ms: u64,
    /// The caps the probes stop at.
    pub caps: Caps,
    /// One entry per protocol version probed.
    pub versions: Vec<VersionLimits>,
    /// What the cleanup did (retained messages cleared, sessions ended), and anything it
    /// could not do.
    pub cleanup: Vec<String>,
}

/// Where each probe stops: a broker that accepts the cap is reported as "≥ cap".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caps {
    /// Client Identifier length, bytes (at most 65535, the longest a UTF-8 string field holds).
    pub client_id_bytes: u64,
    /// Topic Name length, bytes (at most 65535).
    pub topic_bytes: u64,
    /// Topic levels.
    pub topic_levels: u64,
    /// Payload size, bytes.
    pub payload_bytes: u64,
    /// QoS 1 messages published for the in-flight probe.
    pub inflight_messages: u64,
    /// Retained messages set for the retained-count probe.
    pub retained_messages: u64,
    /// Attempts a binary search makes at most.
    pub search_steps: u32,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            client_id_bytes: 65_535,
            topic_bytes: 65_535,
            topic_levels: 1024,
            payload_bytes: 1024 * 1024,
            inflight_messages: 256,
            retained_messages: 100,
            search_steps: 24,
        }
    }
}

/// The findings on one protocol version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionLimits {
    /// "3.1.1" or "5".
    pub protocol: String,
    /// `None` when a well-formed CONNECT was accepted (the probes ran); else why nothing could
    /// be measured (closed, no answer, refused).
    pub unusable: Option<String>,
    /// The CONNACK's properties as JSON (MQTT 5.0; an empty object for MQTT 3.1.1, or when
    /// there was no CONNACK).
    pub connack: serde_json::Value,
    /// The measurements.
    pub findings: Vec<Finding>,
}

impl VersionLimits {
    /// The finding named `id`, if it was measured.
    pub fn finding(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }
}

/// One measured limit or choice. Always INFORMATIONAL: the specification leaves these to
/// the implementation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// A stable name: `client_id_bytes`, `topic_bytes`, `topic_levels`, `payload_bytes`,
    /// `inflight_messages`, `qos0_queued_offline`, `retained_messages`,
    /// `session_expiry_seconds`.
    pub id: String,
    /// What was measured, in words.
    pub title: String,
    /// Always INFORMATIONAL.
    pub verdict: Verdict,
    /// The value.
    pub value: Measure,
    /// The unit of a number ("bytes", "levels", "messages", "seconds"; empty for a yes/no).
    pub unit: String,
    /// How it was measured and what the broker did at the boundary.
    pub detail: String,
}

/// A measured value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Measure {
    /// Exactly this much (the largest value accepted; the next one was refused).
    Exactly {
        /// The value.
        value: u64,
    },
    /// The broker accepted the probe's cap: the limit is at least this.
    AtLeast {
        /// The cap.
        value: u64,
    },
    /// A search that ran out of steps: accepted at `low`, refused at `high`.
    Between {
        /// Largest value seen accepted.
        low: u64,
        /// Smallest value seen refused.
        high: u64,
    },
    /// A yes/no choice.
    Choice {
        /// The answer.
        value: bool,
    },
    /// Could not be measured (the reason says why).
    Unknown {
        /// Why.
        reason: String,
    },
}

impl Measure {
    /// The value in words, with `unit`: "1024 bytes", "≥ 65535 bytes", "yes", "unknown".
    pub fn text(&self, unit: &str) -> String {
        let with = |n: String| {
            if unit.is_empty() {
                n
            } else {
                format!("{n} {unit}")
            }
        };
        match self {
            Measure::Exactly { value } => with(value.to_string()),
            Measure::AtLeast { value } => with(format!("≥ {value}")),
            Measure::Between { low, high } => with(format!("{low}..{}", high.saturating_sub(1))),
            Measure::Choice { value: true } => "yes".to_owned(),
            Measure::Choice { value: false } => "no".to_owned(),
            Measure::Unknown { .. } => "unknown".to_owned(),
        }
    }
}

impl Finding {
    /// A finding (always INFORMATIONAL).
    pub fn new(id: &str, title: &str, unit: &str, value: Measure, detail: String) -> Finding {
        Finding {
            id: id.to_owned(),
            title: title.to_owned(),
            verdict: Verdict::Informational,
            value,
            unit: unit.to_owned(),
            detail,
        }
    }

    /// The value in words ([`Measure::text`]).
    pub fn value_text(&self) -> String {
        self.value.text(&self.unit)
    }

    /// The detail, with the reason of an unknown value in front.
    pub fn detail_text(&self) -> String {
        match &self.value {
            Measure::Unknown { reason } if self.detail.is_empty() => reason.clone(),
            Measure::Unknown { reason } => format!("{reason}; {}", self.detail),
            _ => self.detail.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_read_as_words_and_serialise_with_their_kind() {
        assert_eq!(Measure::Exactly { value: 7 }.text("bytes"), "7 bytes");
        assert_eq!(Measure::AtLeast { value: 9 }.text("levels"), "≥ 9 levels");
        assert_eq!(Measure::Between { low: 3, high: 9 }.text(""), "3..8");
        assert_eq!(Measure::Choice { value: false }.text(""), "no");
        let v = serde_json::to_value(Measure::AtLeast { value: 9 }).unwrap();
        assert_eq!(v, serde_json::json!({"kind": "at_least", "value": 9}));
        let f = Finding::new(
            "x",
            "X",
            "",
            Measure::Unknown {
                reason: "closed".to_owned(),
            },
            String::new(),
        );
        assert_eq!(f.detail_text(), "closed");
        assert_eq!(
            serde_json::to_value(&f).unwrap()["verdict"],
            "INFORMATIONAL"
        );
    }
}
