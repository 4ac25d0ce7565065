//! Broker settings: every server capability the specification lets a server choose, the
//! access rules, and the documented defaults for the choices the specification leaves open.
//!
//! [`Config`] deserializes from TOML (serde); the `reference-broker` binary of the
//! `mqttspec-reference-broker` crate reads it from the file given with `--config` and
//! overrides it with command-line flags. [`Config::validate`] checks what the types do not.

use serde::Deserialize;

use crate::fault::{self, Faults, UnknownFault};

/// All settings of the reference broker. Every field has a default (see [`Config::default`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Maximum QoS the server supports (0, 1 or 2). Sent in CONNACK when below 2.
    pub maximum_qos: u8,
    /// Retain Available.
    pub retain_available: bool,
    /// Maximum Packet Size the server accepts (whole packet, bytes). Sent in CONNACK.
    pub maximum_packet_size: u32,
    /// Receive Maximum of the server (how many QoS 1/2 PUBLISH it accepts unacknowledged).
    pub receive_maximum: u16,
    /// Topic Alias Maximum of the server (0 = no aliases from clients).
    pub topic_alias_maximum: u16,
    /// Wildcard Subscription Available.
    pub wildcard_subscription_available: bool,
    /// Subscription Identifier Available.
    pub subscription_identifier_available: bool,
    /// Shared Subscription Available.
    pub shared_subscription_available: bool,
    /// Server Keep Alive: when set, overrides the client's Keep Alive (sent in CONNACK, v5).
    pub server_keep_alive: Option<u16>,
    /// Largest Session Expiry Interval the server grants (seconds); larger requests are cut
    /// down and the granted value is returned in CONNACK.
    pub maximum_session_expiry_interval: u32,
    /// Whether an empty Client Identifier gets an assigned one (otherwise it is refused).
    pub allow_empty_client_id: bool,
    /// Whether a username/password is required.
    pub require_authentication: bool,
    /// Accepted username/password pairs.
    pub users: Vec<User>,
    /// Enhanced authentication methods offered (e.g. "SCRAM-SHA-256").
    pub authentication_methods: Vec<String>,
    /// Access rules, checked in order; the first matching rule decides. No match allows.
    pub acl: Vec<AclRule>,
    /// Overlapping subscriptions of one client: `true` sends one message per matching
    /// subscription, `false` (default) one message with the highest QoS (spec allows both).
    pub overlapping_deliver_each: bool,
    /// Whether QoS 0 messages are queued for offline sessions (spec allows both; default no).
    pub queue_qos0_offline: bool,
    /// Maximum number of messages queued per session (offline or over its Receive Maximum);
    /// past it, QoS 0 messages are dropped and the publisher is held back (backpressure).
    pub max_queued_messages: usize,
    /// Maximum number of topic levels accepted in a Topic Name or Filter.
    pub max_topic_levels: usize,
    /// Maximum number of subscriptions per session.
    pub max_subscriptions_per_session: usize,
    /// Maximum number of retained messages kept.
    pub max_retained_messages: usize,
    /// Maximum number of sessions kept, connected or not. A new session beyond it discards
    /// the session that has been disconnected longest (section 4.1 lets a server discard
    /// Session State under resource constraints); when every session is connected the CONNECT
    /// is refused (MQTT 5.0: 0x97 Quota exceeded; 3.1.1: 0x03 Server unavailable).
    pub max_sessions: usize,
    /// Bytes of stored state the broker may hold, across retained messages, queued and
    /// in-flight messages, Will Messages, sessions and subscriptions (estimates of their heap;
    /// see the `memory` module of the core). When it is exhausted the sessions disconnected
    /// longest are discarded first, then new sessions, subscriptions and retained messages
    /// are refused (MQTT 5.0: 0x97 Quota exceeded) and copies for subscribers are treated like
    /// a full queue. Default 128 MiB.
    pub memory_budget_bytes: usize,
    /// Outgoing QoS 1/2 PUBLISH packets in flight per connection, at most. For MQTT 5.0 the
    /// window is the smaller of this and the client's Receive Maximum; MQTT 3.1.1 has no
    /// Receive Maximum, so this alone bounds it. Default 1024.
    pub max_inflight_messages: u16,
    /// Whether a PUBLISH whose Payload Format Indicator says UTF-8 has its payload checked;
    /// an invalid one is answered with PUBACK/PUBREC 0x99 (MQTT 5.0; QoS 0 ones are dropped).
    /// The spec lets a server choose. Default no.
    pub validate_payload_format: bool,
    /// Response Information sent in CONNACK to MQTT 5.0 clients that ask for it (Request
    /// Response Information 1); `{client_id}` is replaced by the client's identifier. Sending
    /// it is optional; default none (not sent).
    pub response_information: Option<String>,
    /// Seconds a new connection may take to send CONNECT (and finish enhanced
    /// authentication) before it is closed; 0 = no limit. Default 30.
    pub connect_timeout_secs: u32,
    /// Seconds a publisher may stay held back by backpressure (see the crate docs)
    /// before its connection is closed (MQTT 5.0: DISCONNECT 0x97 Quota exceeded); 0 = no
    /// limit. Default 60.
    pub backpressure_timeout_secs: u32,
    /// Bytes sent to a connection and not yet reported written by the caller
    /// (`connection_flushed`) after which no further PUBLISH is sent to it until it is.
    /// Acknowledgements and other control packets are never held back. Default 4 MiB.
    pub max_unflushed_bytes: usize,
    /// When an *offline* session's queue is full and a QoS 1/2 message for it arrives:
    /// `false` (default) drops that session's copy (a session storage limit, 4.1.1 of the
    /// 5.0 spec); `true` holds the publisher back as for online sessions (which can stall a
    /// topic for as long as the session stays offline).
    pub hold_publishers_for_offline_sessions: bool,
    /// Whether clients may publish to topics starting with `$SYS` (server-reserved; the spec
    /// lets a server decide). Default no: such publishes are refused like an access-rule
    /// denial. Other `$` topics are allowed.
    pub allow_publish_to_sys: bool,
    /// Whether Reason Strings are added to error acknowledgements, CONNACK and DISCONNECT
    /// (MQTT 5.0; always subject to Request Problem Information and Maximum Packet Size).
    /// Default yes.
    pub send_reason_strings: bool,
    /// Whether the broker gives the Topic Names of the PUBLISH packets it sends an MQTT 5.0
    /// client Topic Aliases, within the Topic Alias Maximum that client declared (the spec
    /// lets a server choose; clients must understand them). Default no.
    pub assign_topic_aliases: bool,
    /// Seed for everything the core derives that would otherwise be random (assigned client
    /// identifiers, SCRAM nonces and salts), so runs are reproducible. The core never draws
    /// one itself: when absent (the default) it uses 0 (see [`Config::core_seed`]), and the
    /// `reference-broker` binary draws a random seed at start unless this key or its
    /// `--seed` flag sets one.
    pub seed: Option<u64>,
    /// PBKDF2 iteration count for SCRAM-SHA-256 credentials derived from `users`. Default 4096.
    pub scram_iterations: u32,
    /// Fault injection for proving conformance cases can fail. Empty in normal use. Every
    /// name must be one of [`Fault`](crate::fault::Fault) (an unknown name is a load error),
    /// and a build without the `faults` feature refuses any (see [`Config::validate`]).
    #[serde(deserialize_with = "deserialize_faults")]
    pub faults: Vec<String>,
}

fn deserialize_faults<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let names = Vec::<String>::deserialize(deserializer)?;
    Faults::parse(&names).map_err(serde::de::Error::custom)?;
    Ok(names)
}

impl Config {
    /// The seed the core uses: [`Config::seed`], 0 when absent.
    pub fn core_seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }

    /// Checks settings that the type system does not: every fault name is known (and fault
    /// injection is compiled in when any is configured), Maximum QoS is 0..=2, Receive
    /// Maximum, Maximum Packet Size and the in-flight window are non-zero.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        Faults::parse(&self.faults)?;
        if !self.faults.is_empty() && !fault::COMPILED_IN {
            return Err(InvalidConfig::FaultsNotCompiledIn(self.faults.clone()));
        }
        if self.maximum_qos > 2 {
            return Err(InvalidConfig::MaximumQos(self.maximum_qos));
        }
        if self.receive_maximum == 0 {
            return Err(InvalidConfig::ZeroReceiveMaximum);
        }
        if self.maximum_packet_size == 0 {
            return Err(InvalidConfig::ZeroMaximumPacketSize);
        }
        if self.max_inflight_messages == 0 {
            return Err(InvalidConfig::ZeroMaxInflightMessages);
        }
        if self.memory_budget_bytes == 0 {
            return Err(InvalidConfig::ZeroMemoryBudget);
        }
        Ok(())
    }
}

/// A setting [`Config::validate`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConfig {
    /// A fault name that is not one of [`Fault::ALL`](crate::fault::Fault::ALL).
    #[error(transparent)]
    UnknownFault(#[from] UnknownFault),
    /// Faults are configured (these names) in a build without the `faults` feature.
    #[error("this build has no fault injection; build with feature `faults` (configured: {})", .0.join(", "))]
    FaultsNotCompiledIn(Vec<String>),
    /// Maximum QoS above 2.
    #[error("maximum_qos must be 0, 1 or 2, not {0}")]
    MaximumQos(u8),
    /// Receive Maximum 0.
    #[error("receive_maximum must not be 0")]
    ZeroReceiveMaximum,
    /// Maximum Packet Size 0.
    #[error("maximum_packet_size must not be 0")]
    ZeroMaximumPacketSize,
    /// An in-flight window of 0 messages.
    #[error("max_inflight_messages must not be 0")]
    ZeroMaxInflightMessages,
    /// A memory budget of 0 bytes.
    #[error("memory_budget_bytes must not be 0")]
    ZeroMemoryBudget,
}

/// One username/password pair.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// User Name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// An access rule: deny (or allow) publish and/or subscribe on topics matching a filter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRule {
    /// The topic filter the rule applies to.
    pub filter: String,
    /// Which action: "publish", "subscribe" or "both".
    pub action: String,
    /// "deny" or "allow".
    pub permission: String,
    /// Only for this username (all users when absent).
    #[serde(default)]
    pub username: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            maximum_qos: 2,
            retain_available: true,
            maximum_packet_size: 1024 * 1024,
            receive_maximum: 64,
            topic_alias_maximum: 16,
            wildcard_subscription_available: true,
            subscription_identifier_available: true,
            shared_subscription_available: true,
            server_keep_alive: None,
            maximum_session_expiry_interval: u32::MAX,
            allow_empty_client_id: true,
            require_authentication: false,
            users: Vec::new(),
            authentication_methods: vec!["SCRAM-SHA-256".to_owned()],
            acl: Vec::new(),
            overlapping_deliver_each: false,
            queue_qos0_offline: false,
            max_queued_messages: 1000,
            max_topic_levels: 128,
            max_subscriptions_per_session: 1000,
            max_retained_messages: 100_000,
            max_sessions: 100_000,
            memory_budget_bytes: 128 * 1024 * 1024,
            max_inflight_messages: 1024,
            validate_payload_format: false,
            response_information: None,
            connect_timeout_secs: 30,
            backpressure_timeout_secs: 60,
            max_unflushed_bytes: 4 * 1024 * 1024,
            hold_publishers_for_offline_sessions: false,
            allow_publish_to_sys: false,
            send_reason_strings: true,
            assign_topic_aliases: false,
            seed: None,
            scram_iterations: 4096,
            faults: Vec::new(),
        }
    }
}
