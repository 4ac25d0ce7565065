//! Broker settings: every server capability the specification lets a server choose, the
//! access rules, and the documented defaults for the choices the specification leaves open.
//!
//! Loaded from a TOML file (`--config`) and overridden by command-line flags (see `cli`).

use serde::Deserialize;

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
    /// Fault injection for proving conformance cases can fail. Empty in normal use.
    pub faults: Vec<String>,
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
            faults: Vec::new(),
        }
    }
}
