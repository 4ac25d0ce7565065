//! A profile TOML ([`crate::profile`]) written from what the limits probe found: the
//! `[features]` an MQTT 5.0 CONNACK declared (so that a later run need not trust the
//! CONNACK, or can be checked against it), `retain = false` when no retained message was
//! kept, everything else of the profile the probe ran with, and every finding as a comment
//! (the profile has no keys for them: they inform, they do not change what cases run).

use super::report::{LimitsReport, Measure};
use crate::profile::Profile;

/// The profile TOML for `report`, starting from `base` (the profile the probe ran with).
/// It parses back with [`Profile::parse`].
pub fn render(report: &LimitsReport, base: &Profile) -> Result<String, String> {
    let mut profile = base.clone();
    let f = &mut profile.features;
    if let Some(v5) = report
        .versions
        .iter()
        .find(|v| v.protocol == "5" && v.unusable.is_none())
    {
        let c = &v5.connack;
        let flag = |k: &str| c.get(k).and_then(serde_json::Value::as_bool);
        let number = |k: &str| c.get(k).and_then(serde_json::Value::as_u64);
        if let Some(q) = number("maximum_qos").and_then(|q| u8::try_from(q).ok()) {
            f.maximum_qos = Some(q);
        }
        f.retain = flag("retain_available").or(f.retain);
        f.wildcards = flag("wildcard_subscription_available").or(f.wildcards);
        f.subscription_identifiers =
            flag("subscription_identifier_available").or(f.subscription_identifiers);
        f.shared_subscriptions = flag("shared_subscription_available").or(f.shared_subscriptions);
        if let Some(n) = number("topic_alias_maximum").and_then(|n| u16::try_from(n).ok()) {
            f.topic_alias_maximum = Some(n);
        }
    }
    let none_kept = report.versions.iter().any(|v| {
        v.finding("retained_messages")
            .is_some_and(|x| x.value == Measure::Exactly { value: 0 })
    });
    if none_kept && f.retain.is_none() {
        f.retain = Some(false);
    }
    let body = toml::to_string(&profile).map_err(|e| format!("cannot write the profile: {e}"))?;
    let mut out = format!(
        "# Broker profile written by `mqttspec probe` from what {} showed on the wire.\n\
         # [features] holds what an MQTT 5.0 CONNACK declared (and retain = false when no\n\
         # retained message was kept); the other sections come from the profile the probe\n\
         # ran with. Measured limits (INFORMATIONAL, for reference):\n",
        report.address
    );
    for v in &report.versions {
        match &v.unusable {
            Some(why) => out.push_str(&format!("#   MQTT {}: not probed: {why}\n", v.protocol)),
            None => {
                for x in &v.findings {
                    out.push_str(&format!(
                        "#   MQTT {} {}: {}\n",
                        v.protocol,
                        x.id,
                        x.value_text()
                    ));
                }
            }
        }
    }
    out.push('\n');
    out.push_str(&body);
    Profile::parse(&out).map_err(|e| format!("the profile written does not parse back: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::report::{Caps, Finding, VersionLimits};

    #[test]
    fn the_profile_takes_connack_features_and_parses_back() {
        let report = LimitsReport {
            address: "127.0.0.1:1883".to_owned(),
            topic_prefix: "p/x".to_owned(),
            time_limit_ms: 1,
            wall_time_ms: 1,
            caps: Caps::default(),
            versions: vec![VersionLimits {
                protocol: "5".to_owned(),
                unusable: None,
                connack: serde_json::json!({"maximum_qos": 1, "topic_alias_maximum": 10, "shared_subscription_available": false}),
                findings: vec![Finding::new(
                    "payload_bytes",
                    "P",
                    "bytes",
                    Measure::AtLeast { value: 5 },
                    String::new(),
                )],
            }],
            cleanup: Vec::new(),
        };
        let text = render(&report, &Profile::default()).unwrap();
        let p = Profile::parse(&text).unwrap();
        assert_eq!(p.features.maximum_qos, Some(1));
        assert_eq!(p.features.topic_alias_maximum, Some(10));
        assert_eq!(p.features.shared_subscriptions, Some(false));
        assert_eq!(p.features.retain, None);
        assert!(text.contains("MQTT 5 payload_bytes: ≥ 5 bytes"), "{text}");
    }
}
