//! The broker profile: what the broker under test offers.
//!
//! Capabilities are discovered from the CONNACK of a probe connection (MQTT 5.0 CONNACK
//! properties: Maximum QoS, Retain Available, Wildcard / Subscription Identifier / Shared
//! Subscription Available, Topic Alias Maximum, Receive Maximum, Maximum Packet Size, Server
//! Keep Alive) and can be overridden by a TOML profile file (`--profile FILE`), which also
//! carries what cannot be discovered: credentials, enhanced authentication methods, timing.
//!
//! ```toml
//! name = "mosquitto 2.0"            # optional: default report name
//! topic_prefix = "test/mqttspec"    # optional: first levels of every test topic (default "mqttspec")
//!
//! [credentials]                     # used by every client unless a case says otherwise
//! username = "tester"
//! password = "secret"
//!
//! [features]                        # each optional: overrides what CONNACK said
//! maximum_qos = 2
//! retain = true
//! wildcards = true
//! subscription_identifiers = true
//! shared_subscriptions = false
//! topic_alias_maximum = 10
//! enhanced_auth = ["SCRAM-SHA-256"] # methods the broker offers (not discoverable)
//!
//! [limits]
//! response_timeout_ms = 3000        # how long to wait for each required response
//! max_packet_size = 4194304         # largest packet the test client accepts
//!
//! [tls]                             # for mqtts:// and wss:// addresses; --tls-* flags win
//! ca = "certs/ca.pem"               # else the system roots (paths are relative to the working directory)
//! cert = "certs/client.pem"         # mutual TLS, with key
//! key = "certs/client.key"
//! server_name = "broker.example"    # else the host of the address
//! insecure = false                  # true: do not verify the broker's certificate (reports say so)
//! ```
//!
//! A case whose [`Capability`] requirement is not met is UNSUPPORTED, with the reason. With
//! the embedded broker, such runs are tried again on a restricted second embedded broker,
//! probed the same way, with the same profile ([`crate::runner`], the restricted pass).

use std::path::Path;
use std::time::Duration;

use mqttspec_codec::ConnAck;
use serde::{Deserialize, Serialize};

use crate::transport::tls::TlsOptions;

/// Default time to wait for each response the specification requires.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// A profile file. Every section is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// A name for the broker (used by reports when `--name` is not given).
    pub name: Option<String>,
    /// The first levels of every test topic (`--topic-prefix` wins over it).
    pub topic_prefix: Option<String>,
    /// Credentials every client presents unless a case overrides them.
    pub credentials: Option<Credentials>,
    /// Capability overrides.
    pub features: Features,
    /// Timing and size limits of the harness.
    pub limits: Limits,
    /// TLS options for `mqtts://` and `wss://` addresses (command-line flags win).
    #[serde(skip_serializing_if = "TlsOptions::is_unset")]
    pub tls: TlsOptions,
}

/// User Name and Password.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// User Name.
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
}

/// Capability overrides: `None` keeps what the broker declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Features {
    /// Maximum QoS (0, 1 or 2).
    pub maximum_qos: Option<u8>,
    /// Retain Available.
    pub retain: Option<bool>,
    /// Wildcard Subscription Available.
    pub wildcards: Option<bool>,
    /// Subscription Identifier Available.
    pub subscription_identifiers: Option<bool>,
    /// Shared Subscription Available.
    pub shared_subscriptions: Option<bool>,
    /// Topic Alias Maximum.
    pub topic_alias_maximum: Option<u16>,
    /// Enhanced authentication methods offered.
    pub enhanced_auth: Option<Vec<String>>,
}

/// Harness limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Milliseconds to wait for each required response (default 3000).
    pub response_timeout_ms: Option<u64>,
    /// Largest packet the test client accepts from the broker (default 4 MiB).
    pub max_packet_size: Option<u32>,
}

impl Profile {
    /// Reads a profile file.
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read profile {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("profile {}: {e}", path.display()))
    }

    /// Parses profile TOML.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let p: Profile = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(prefix) = &p.topic_prefix {
            check_topic_prefix(prefix).map_err(|e| format!("topic_prefix {prefix:?}: {e}"))?;
        }
        if let Some(q) = p.features.maximum_qos {
            if q > 2 {
                return Err(format!("features.maximum_qos = {q}: must be 0, 1 or 2"));
            }
        }
        Ok(p)
    }

    /// The response timeout in force.
    pub fn response_timeout(&self) -> Duration {
        self.limits
            .response_timeout_ms
            .map_or(DEFAULT_RESPONSE_TIMEOUT, Duration::from_millis)
    }
}

/// Checks a test-topic prefix: a non-empty Topic Name of at most 128 bytes, without
/// wildcards, U+0000 or a leading `$` (which would make every test topic a `$` topic).
pub fn check_topic_prefix(prefix: &str) -> Result<(), String> {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if p.len() > 128 {
        return Err("longer than 128 bytes".to_owned());
    }
    if p.contains(['+', '#', '\0']) {
        return Err("must not contain '+', '#' or U+0000".to_owned());
    }
    if p.starts_with('$') {
        return Err("must not start with '$'".to_owned());
    }
    Ok(())
}

/// What the broker offers, after discovery and profile overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Maximum QoS.
    pub maximum_qos: u8,
    /// Retain Available.
    pub retain_available: bool,
    /// Wildcard Subscription Available.
    pub wildcard_subscription_available: bool,
    /// Subscription Identifier Available.
    pub subscription_identifier_available: bool,
    /// Shared Subscription Available.
    pub shared_subscription_available: bool,
    /// Topic Alias Maximum (0: no Topic Aliases from clients).
    pub topic_alias_maximum: u16,
    /// Receive Maximum.
    pub receive_maximum: u16,
    /// Maximum Packet Size the broker accepts, if it declared one.
    pub maximum_packet_size: Option<u32>,
    /// Server Keep Alive, if the broker declared one.
    pub server_keep_alive: Option<u16>,
    /// Enhanced authentication methods offered (from the profile).
    pub enhanced_auth: Vec<String>,
    /// Whether the profile gives credentials.
    pub credentials: bool,
    /// Whether the run is over WebSocket (`ws://`, `wss://`): the section 6 cases need it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub websocket: bool,
    /// Where each value came from: `connack`, `default` or `profile`, per field name.
    pub sources: std::collections::BTreeMap<String, String>,
}

impl Default for Capabilities {
    /// What the specification says a server offers when CONNACK declares nothing.
    fn default() -> Self {
        Capabilities {
            maximum_qos: 2,
            retain_available: true,
            wildcard_subscription_available: true,
            subscription_identifier_available: true,
            shared_subscription_available: true,
            topic_alias_maximum: 0,
            receive_maximum: 65_535,
            maximum_packet_size: None,
            server_keep_alive: None,
            enhanced_auth: Vec::new(),
            credentials: false,
            websocket: false,
            sources: Default::default(),
        }
    }
}

impl Capabilities {
    /// The capabilities a v5 CONNACK declares (absent properties take the spec's defaults).
    pub fn from_connack(c: &ConnAck) -> Capabilities {
        let p = &c.properties;
        let mut caps = Capabilities::default();
        let mut src = |name: &str, present: bool| {
            caps.sources.insert(
                name.to_owned(),
                if present { "connack" } else { "default" }.to_owned(),
            );
        };
        src("maximum_qos", p.maximum_qos.is_some());
        src("retain_available", p.retain_available.is_some());
        src(
            "wildcard_subscription_available",
            p.wildcard_subscription_available.is_some(),
        );
        src(
            "subscription_identifier_available",
            p.subscription_identifier_available.is_some(),
        );
        src(
            "shared_subscription_available",
            p.shared_subscription_available.is_some(),
        );
        src("topic_alias_maximum", p.topic_alias_maximum.is_some());
        src("receive_maximum", p.receive_maximum.is_some());
        src("maximum_packet_size", p.maximum_packet_size.is_some());
        src("server_keep_alive", p.server_keep_alive.is_some());
        if let Some(q) = p.maximum_qos {
            caps.maximum_qos = q.as_u8();
        }
        if let Some(x) = p.retain_available {
            caps.retain_available = x;
        }
        if let Some(x) = p.wildcard_subscription_available {
            caps.wildcard_subscription_available = x;
        }
        if let Some(x) = p.subscription_identifier_available {
            caps.subscription_identifier_available = x;
        }
        if let Some(x) = p.shared_subscription_available {
            caps.shared_subscription_available = x;
        }
        if let Some(x) = p.topic_alias_maximum {
            caps.topic_alias_maximum = x;
        }
        if let Some(x) = p.receive_maximum {
            caps.receive_maximum = x.get();
        }
        caps.maximum_packet_size = p.maximum_packet_size.map(|x| x.get());
        caps.server_keep_alive = p.server_keep_alive;
        caps
    }

    /// Applies the profile's overrides.
    pub fn with_profile(mut self, profile: &Profile) -> Capabilities {
        let f = &profile.features;
        let mut set = |name: &str| {
            self.sources.insert(name.to_owned(), "profile".to_owned());
        };
        if f.maximum_qos.is_some() {
            set("maximum_qos");
        }
        if f.retain.is_some() {
            set("retain_available");
        }
        if f.wildcards.is_some() {
            set("wildcard_subscription_available");
        }
        if f.subscription_identifiers.is_some() {
            set("subscription_identifier_available");
        }
        if f.shared_subscriptions.is_some() {
            set("shared_subscription_available");
        }
        if f.topic_alias_maximum.is_some() {
            set("topic_alias_maximum");
        }
        self.maximum_qos = f.maximum_qos.unwrap_or(self.maximum_qos);
        self.retain_available = f.retain.unwrap_or(self.retain_available);
        self.wildcard_subscription_available =
            f.wildcards.unwrap_or(self.wildcard_subscription_available);
        self.subscription_identifier_available = f
            .subscription_identifiers
            .unwrap_or(self.subscription_identifier_available);
        self.shared_subscription_available = f
            .shared_subscriptions
            .unwrap_or(self.shared_subscription_available);
        self.topic_alias_maximum = f.topic_alias_maximum.unwrap_or(self.topic_alias_maximum);
        if let Some(methods) = &f.enhanced_auth {
            self.enhanced_auth = methods.clone();
        }
        self.credentials = profile.credentials.is_some();
        self
    }

    fn source(&self, field: &str) -> &str {
        self.sources.get(field).map_or("default", String::as_str)
    }

    fn declared(&self, field: &str, what: String) -> String {
        match self.source(field) {
            "profile" => format!("{what} (set by the profile)"),
            "connack" => format!("{what} (declared in CONNACK)"),
            _ => what,
        }
    }

    /// `None` when `cap` is available, else why not (the UNSUPPORTED reason).
    pub fn missing(&self, cap: &Capability) -> Option<String> {
        match cap {
            Capability::QoS1 if self.maximum_qos < 1 => Some(self.declared(
                "maximum_qos",
                format!("Maximum QoS = {}", self.maximum_qos),
            )),
            Capability::QoS2 if self.maximum_qos < 2 => Some(self.declared(
                "maximum_qos",
                format!("Maximum QoS = {}", self.maximum_qos),
            )),
            Capability::Retain if !self.retain_available => Some(
                self.declared("retain_available", "Retain Available = 0".to_owned()),
            ),
            Capability::Wildcards if !self.wildcard_subscription_available => {
                Some(self.declared(
                    "wildcard_subscription_available",
                    "Wildcard Subscription Available = 0".to_owned(),
                ))
            }
            Capability::SubscriptionIdentifiers if !self.subscription_identifier_available => {
                Some(self.declared(
                    "subscription_identifier_available",
                    "Subscription Identifier Available = 0".to_owned(),
                ))
            }
            Capability::SharedSubscriptions if !self.shared_subscription_available => {
                Some(self.declared(
                    "shared_subscription_available",
                    "Shared Subscription Available = 0".to_owned(),
                ))
            }
            Capability::TopicAliases if self.topic_alias_maximum == 0 => Some(self.declared(
                "topic_alias_maximum",
                "Topic Alias Maximum = 0".to_owned(),
            )),
            Capability::EnhancedAuth(method)
                if !self.enhanced_auth.iter().any(|m| m == method) =>
            {
                Some(format!(
                    "authentication method {method:?} not listed in the profile's features.enhanced_auth"
                ))
            }
            Capability::Credentials if !self.credentials => {
                Some("no [credentials] in the profile".to_owned())
            }
            Capability::WebSocket if !self.websocket => Some(
                "not a WebSocket run (the broker address is not ws:// or wss://): section 6 does not apply"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// A broker capability a case may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Maximum QoS at least 1.
    QoS1,
    /// Maximum QoS 2.
    QoS2,
    /// Retain Available.
    Retain,
    /// Wildcard Subscription Available.
    Wildcards,
    /// Shared Subscription Available.
    SharedSubscriptions,
    /// Subscription Identifier Available.
    SubscriptionIdentifiers,
    /// Topic Alias Maximum above 0.
    TopicAliases,
    /// The given enhanced authentication method (from the profile).
    EnhancedAuth(&'static str),
    /// The profile gives a User Name and Password.
    Credentials,
    /// The run is over WebSocket (`ws://` or `wss://`).
    WebSocket,
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttspec_codec::ReasonCode;
    use std::num::NonZeroU16;

    #[test]
    fn profile_overrides_win_over_connack_and_say_so() {
        let mut ack = ConnAck {
            session_present: false,
            reason_code: ReasonCode::Success,
            properties: Default::default(),
        };
        ack.properties.shared_subscription_available = Some(true);
        ack.properties.receive_maximum = NonZeroU16::new(10);
        let profile = Profile::parse("[features]\nshared_subscriptions = false\n").unwrap();
        let caps = Capabilities::from_connack(&ack).with_profile(&profile);
        assert_eq!(caps.receive_maximum, 10);
        let why = caps.missing(&Capability::SharedSubscriptions).unwrap();
        assert!(why.contains("set by the profile"), "{why}");
        assert_eq!(caps.missing(&Capability::Retain), None);
    }

    #[test]
    fn connack_declarations_make_capabilities_missing() {
        let mut ack = ConnAck {
            session_present: false,
            reason_code: ReasonCode::Success,
            properties: Default::default(),
        };
        ack.properties.maximum_qos = Some(mqttspec_codec::QoS::AtLeastOnce);
        ack.properties.retain_available = Some(false);
        let caps = Capabilities::from_connack(&ack);
        assert_eq!(caps.missing(&Capability::QoS1), None);
        assert!(caps.missing(&Capability::QoS2).unwrap().contains("CONNACK"));
        assert!(caps.missing(&Capability::Retain).is_some());
        assert!(caps.missing(&Capability::TopicAliases).is_some());
        assert!(caps.missing(&Capability::Credentials).is_some());
        assert!(caps
            .missing(&Capability::EnhancedAuth("SCRAM-SHA-256"))
            .is_some());
    }

    #[test]
    fn profile_rejects_unknown_keys_and_bad_qos() {
        assert!(Profile::parse("[features]\nretainn = true\n").is_err());
        assert!(Profile::parse("[features]\nmaximum_qos = 3\n").is_err());
        let p = Profile::parse(
            "name = \"b\"\n[credentials]\nusername = \"u\"\npassword = \"p\"\n[limits]\nresponse_timeout_ms = 500\n",
        )
        .unwrap();
        assert_eq!(p.response_timeout(), Duration::from_millis(500));
        assert_eq!(p.credentials.unwrap().username, "u");
    }
}
