//! The "Practical limits" section every page shows, as plain text: one table per protocol
//! version (what was measured, the value, how), what an MQTT 5.0 CONNACK announced, and
//! anything the cleanup could not undo. `report.html` and `summary.md` both render it.

use super::Report;

/// The section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsSection {
    /// One sentence about the section (how it was measured, or that it was not).
    pub intro: String,
    /// One entry per version probed.
    pub versions: Vec<LimitsVersion>,
    /// Cleanup problems.
    pub cleanup: Vec<String>,
}

/// The findings on one protocol version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsVersion {
    /// "3.1.1" or "5".
    pub protocol: String,
    /// Why nothing was measured, if so.
    pub unusable: Option<String>,
    /// (what, value, how) per finding.
    pub rows: Vec<(String, String, String)>,
    /// "name = value" per CONNACK property (MQTT 5.0).
    pub connack: Vec<String>,
}

/// The section of `report`.
pub fn section(report: &Report) -> LimitsSection {
    let Some(l) = &report.limits else {
        return LimitsSection {
            intro: "Not measured in this run (`--no-limits`, or a report of an older mqttspec); `mqttspec probe` measures them.".to_owned(),
            versions: Vec::new(),
            cleanup: Vec::new(),
        };
    };
    let mut intro = format!(
        "Measured from the wire after the cases, in {:.1} s, below the topic prefix {}: every value is INFORMATIONAL (the specification leaves it to the broker); \"≥\" means the broker accepted the probe's cap.",
        l.wall_time_ms as f64 / 1000.0,
        l.topic_prefix
    );
    if l.versions.is_empty() {
        intro.push_str(" No protocol version was usable, so nothing was measured.");
    }
    LimitsSection {
        intro,
        versions: l
            .versions
            .iter()
            .map(|v| LimitsVersion {
                protocol: v.protocol.clone(),
                unusable: v.unusable.clone(),
                rows: v
                    .findings
                    .iter()
                    .map(|f| (f.title.clone(), f.value_text(), f.detail_text()))
                    .collect(),
                connack: v
                    .connack
                    .as_object()
                    .map(|o| o.iter().map(|(k, x)| format!("{k} = {x}")).collect())
                    .unwrap_or_default(),
            })
            .collect(),
        cleanup: l.cleanup.clone(),
    }
}
