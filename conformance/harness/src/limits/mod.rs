//! The limits probe (`mqttspec probe`, and the "Practical limits" section of every report):
//! the broker's practical limits and choices, measured from the wire. Not to be confused
//! with [`crate::probe`], which only decides whether a protocol version is usable.
//!
//! Per protocol version, after one plain CONNECT (whose CONNACK, for MQTT 5.0, is kept as
//! what the broker announces), one probe per file:
//!
//! | module | finding | how |
//! |---|---|---|
//! | [`client_id`] | `client_id_bytes` | CONNECTs with longer and longer Client Identifiers (binary search) |
//! | [`topic_length`] | `topic_bytes` | a QoS 1 PUBLISH that must come back through a subscription |
//! | [`topic_depth`] | `topic_levels` | the same with more and more levels |
//! | [`payload`] | `payload_bytes` | the same with larger and larger payloads |
//! | [`inflight`] | `inflight_messages` | QoS 1 messages sent to a subscriber that acknowledges none |
//! | [`offline_qos0`] | `qos0_queued_offline` | a QoS 0 message published while a kept session is offline |
//! | [`retained`] | `retained_messages` | retained messages set, counted by a new subscriber |
//! | [`session_expiry`] | `session_expiry_seconds` | MQTT 5.0: CONNACK's answer to Session Expiry Interval 0xFFFFFFFF |
//!
//! Every finding is INFORMATIONAL: the specification leaves these to the implementation.
//! [`bisect`] is the search the size probes share, [`delivery`] their attempt, [`env`] the
//! connection helpers and the undo list, [`report`] the result types, [`profile_out`] the
//! profile TOML written from the findings.
//!
//! Safe to point at someone else's broker: every topic is below a prefix unique to the run
//! (`mqttspec-probe/<random>/...`, or the profile's `topic_prefix` instead of
//! `mqttspec-probe`); every Client Identifier is unique to the run; each probe stops at a
//! cap (reported as "≥ cap"); messages are published one at a time, each after the previous
//! acknowledgement; every connection ends with DISCONNECT; sessions the probes keep are
//! ended (Clean Start, no session expiry) and retained messages cleared (empty retained
//! message) when the probe ends, on time or not. Every wait is bounded by the profile's
//! response timeout, and the whole probe by an overall time limit; a broker that closes or
//! never answers is reported as such.

pub mod bisect;
pub mod client_id;
pub mod delivery;
pub mod env;
pub mod inflight;
pub mod offline_qos0;
pub mod payload;
pub mod profile_out;
pub mod report;
pub mod retained;
pub mod session_expiry;
pub mod topic_depth;
pub mod topic_length;

use crate::transport::Endpoint;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use mqttspec_codec::ProtocolVersion;
use tokio::time::Instant;

pub use report::{Caps, Finding, LimitsReport, Measure, VersionLimits};

use env::Env;

use crate::profile::Profile;

/// The default overall time limit.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(120);

/// The default first level of the probe's topics.
pub const DEFAULT_PREFIX: &str = "mqttspec-probe";

/// How to probe.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Protocol versions, in order.
    pub protocols: Vec<ProtocolVersion>,
    /// Credentials, response timeout, topic prefix.
    pub profile: Profile,
    /// Where each probe stops.
    pub caps: Caps,
    /// The whole probe, all versions, cleanup excluded (which has its own bound).
    pub time_limit: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            protocols: vec![ProtocolVersion::V311, ProtocolVersion::V5],
            profile: Profile::default(),
            caps: Caps::default(),
            time_limit: DEFAULT_TIME_LIMIT,
        }
    }
}

/// A random token of 10 letters and digits (std's randomly keyed hasher: no dependency).
fn random_token() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let mut n = h.finish();
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..10)
        .map(|_| {
            let c = alphabet[(n % 36) as usize] as char;
            n /= 36;
            c
        })
        .collect()
}

/// Probes the broker at `addr`. Never fails: what could not be measured says why.
pub async fn probe(addr: &Endpoint, config: &LimitsConfig) -> LimitsReport {
    let started = Instant::now();
    let deadline = started + config.time_limit;
    let token = random_token();
    let first = config
        .profile
        .topic_prefix
        .as_deref()
        .map_or(DEFAULT_PREFIX, |p| p.trim_end_matches('/'));
    let prefix = format!("{first}/{token}");
    let mut versions = Vec::new();
    let mut cleanup = Vec::new();
    for (i, version) in config.protocols.iter().enumerate() {
        let mut env = Env::new(
            addr.clone(),
            *version,
            config.profile.clone(),
            prefix.clone(),
            format!("{}{i}", &token[..8]),
        );
        let mut v = VersionLimits {
            protocol: version.label().to_owned(),
            unusable: None,
            connack: serde_json::json!({}),
            findings: Vec::new(),
        };
        match tokio::time::timeout_at(deadline, env.connect(&env.fresh())).await {
            Err(_) => v.unusable = Some("the overall time limit ran out".to_owned()),
            Ok(Err(e)) => v.unusable = Some(e),
            Ok(Ok((client, ack))) => {
                env.bye(client).await;
                if version.is_v5() {
                    v.connack = crate::json::properties(&ack.properties.to_properties());
                    env.wildcards = ack.properties.wildcard_subscription_available != Some(false);
                }
                run_probes(&env, config, deadline, &mut v.findings).await;
            }
        }
        // The cleanup has its own bound: it runs even after the time limit.
        let bound = env.timeout * 4 + Duration::from_secs(2);
        match tokio::time::timeout(bound, env.undo()).await {
            Ok(lines) => cleanup.extend(lines),
            Err(_) => cleanup.push(format!(
                "MQTT {version}: the cleanup did not finish within {} ms: retained messages below {} or sessions of clients mqp{}{i}* may be left",
                bound.as_millis(),
                env.prefix,
                &token[..8]
            )),
        }
        versions.push(v);
    }
    LimitsReport {
        address: addr.to_string(),
        topic_prefix: prefix,
        time_limit_ms: u64::try_from(config.time_limit.as_millis()).unwrap_or(u64::MAX),
        wall_time_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        caps: config.caps,
        versions,
        cleanup,
    }
}

/// The probes of one usable version, each cut off at `deadline`.
async fn run_probes(env: &Env, config: &LimitsConfig, deadline: Instant, out: &mut Vec<Finding>) {
    let caps = &config.caps;
    let out_of_time = |id: &str, title: &str, unit: &str| {
        Finding::new(
            id,
            title,
            unit,
            Measure::Unknown {
                reason: "the overall time limit ran out".to_owned(),
            },
            String::new(),
        )
    };
    macro_rules! run {
        ($fut:expr, $id:expr, $title:expr, $unit:expr) => {
            out.push(
                tokio::time::timeout_at(deadline, $fut)
                    .await
                    .unwrap_or_else(|_| out_of_time($id, $title, $unit)),
            )
        };
    }
    run!(
        client_id::probe(env, caps),
        "client_id_bytes",
        "Longest Client Identifier accepted",
        "bytes"
    );
    run!(
        topic_length::probe(env, caps),
        "topic_bytes",
        "Longest Topic Name accepted and delivered",
        "bytes"
    );
    run!(
        topic_depth::probe(env, caps),
        "topic_levels",
        "Deepest Topic Name accepted and delivered",
        "levels"
    );
    run!(
        payload::probe(env, caps),
        "payload_bytes",
        "Largest payload accepted and delivered",
        "bytes"
    );
    run!(
        inflight::probe(env, caps),
        "inflight_messages",
        "QoS 1 messages sent to a subscriber before it acknowledges any",
        "messages"
    );
    run!(
        offline_qos0::probe(env),
        "qos0_queued_offline",
        "QoS 0 messages queued for an offline session",
        ""
    );
    run!(
        retained::probe(env, caps),
        "retained_messages",
        "Retained messages kept (of those the probe set)",
        "messages"
    );
    if env.version.is_v5() {
        run!(
            session_expiry::probe(env),
            "session_expiry_seconds",
            "Session Expiry Interval granted when asked for the largest",
            "seconds"
        );
    }
}
