//! Valid packets for the state a fuzz client is in: a CONNECT with random (valid) properties,
//! then PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT that respect what the broker
//! announced in its CONNACK (Maximum QoS, Retain Available, Topic Alias Maximum, Receive
//! Maximum, Maximum Packet Size, wildcard / shared / Subscription Identifier availability) and
//! use the round's small topic space, so that publications meet subscriptions.
//!
//! The packets are built with the codec's model and encoded strictly; the mutator then damages
//! some of them. Everything depends only on the random generator, so a seed gives the same
//! packets.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqttspec_codec::{
    ConnAck, Connect, ConnectProperties, Disconnect, LastWill, MqttString, Packet, PacketId,
    PayloadFormatIndicator, PropertySet, ProtocolVersion, Publish, PublishProperties, QoS,
    ReasonCode, RetainHandling, Subscribe, SubscribeProperties, SubscriptionOptions, TopicFilter,
    TopicName, Unsubscribe, WillProperties,
};
use rand::RngExt;

use super::Rng;
use mqttspec_harness::profile::Credentials;

/// What the broker allows, from its CONNACK (MQTT 5.0 properties; 3.1.1 has no limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Receive Maximum: QoS 1 and 2 PUBLISHes the client may have unacknowledged.
    pub receive_maximum: u16,
    /// Maximum QoS.
    pub maximum_qos: QoS,
    /// Retain Available.
    pub retain_available: bool,
    /// Topic Alias Maximum.
    pub topic_alias_maximum: u16,
    /// Maximum Packet Size.
    pub maximum_packet_size: u32,
    /// Wildcard Subscription Available.
    pub wildcards: bool,
    /// Subscription Identifiers Available.
    pub subscription_ids: bool,
    /// Shared Subscription Available.
    pub shared: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            receive_maximum: 65_535,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            topic_alias_maximum: 0,
            maximum_packet_size: 268_435_460,
            wildcards: true,
            subscription_ids: true,
            shared: true,
        }
    }
}

impl Limits {
    /// The limits a CONNACK announces (defaults for what it leaves out).
    pub fn from_connack(a: &ConnAck) -> Limits {
        let p = &a.properties;
        let d = Limits::default();
        Limits {
            receive_maximum: p.receive_maximum.map_or(d.receive_maximum, NonZeroU16::get),
            maximum_qos: p.maximum_qos.unwrap_or(d.maximum_qos),
            retain_available: p.retain_available.unwrap_or(true),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            maximum_packet_size: p
                .maximum_packet_size
                .map_or(d.maximum_packet_size, NonZeroU32::get),
            wildcards: p.wildcard_subscription_available.unwrap_or(true),
            subscription_ids: p.subscription_identifier_available.unwrap_or(true),
            shared: p.shared_subscription_available.unwrap_or(true),
        }
    }
}

/// The topic space of one round: a prefix of its own, so that rounds do not see each
/// other's messages, and filters with and without wildcards over it.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Topic Names.
    pub names: Vec<String>,
    /// Topic Filters (some with wildcards, some shared).
    pub filters: Vec<String>,
}

impl Topics {
    /// The topic space under `prefix` (a valid topic level, e.g. `fz/r12`).
    pub fn new(prefix: &str) -> Topics {
        let names = ["a", "a/b", "a/b/c", "b", "c/d", "e f"]
            .iter()
            .map(|s| format!("{prefix}/{s}"))
            .collect();
        let filters = [
            "a", "a/b", "b", "#", "+", "a/+", "+/b", "a/#", "+/+/c", "c/d", "e f",
        ]
        .iter()
        .map(|s| format!("{prefix}/{s}"))
        .chain([
            format!("$share/g1/{prefix}/a"),
            format!("$share/g2/{prefix}/#"),
        ])
        .collect();
        Topics { names, filters }
    }
}

/// What a fuzz client knows about its connection, for generating valid packets.
#[derive(Debug, Clone)]
pub struct SessionModel {
    /// The protocol version.
    pub version: ProtocolVersion,
    /// The broker's limits.
    pub limits: Limits,
    /// The next Packet Identifier to use.
    pub next_id: u16,
    /// QoS 1 and 2 PUBLISHes sent and not yet completed.
    pub outstanding: usize,
    /// Topic Filters subscribed on this connection (for UNSUBSCRIBE).
    pub subscribed: Vec<String>,
    /// Topic Aliases this client has set: alias -> topic.
    pub aliases: Vec<(u16, String)>,
}

impl SessionModel {
    /// A model for a new connection.
    pub fn new(version: ProtocolVersion) -> SessionModel {
        SessionModel {
            version,
            limits: Limits::default(),
            next_id: 1,
            outstanding: 0,
            subscribed: Vec::new(),
            aliases: Vec::new(),
        }
    }

    fn packet_id(&mut self) -> PacketId {
        loop {
            let value = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if let Some(id) = PacketId::new(value) {
                return id;
            }
        }
    }
}

fn string(s: &str) -> MqttString {
    MqttString::new(s, "fuzz").unwrap_or_default()
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.random_range(0..items.len()))
    }
}

fn qos(rng: &mut Rng, max: QoS) -> QoS {
    match rng.random_range(0..=(max as u8)) {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn payload(rng: &mut Rng, utf8: bool) -> Bytes {
    let len = match rng.random_range(0..10u32) {
        0 => 0,
        1 => rng.random_range(100..2000),
        _ => rng.random_range(1..24),
    };
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            if utf8 {
                rng.random_range(b' '..=b'~')
            } else {
                rng.random()
            }
        })
        .collect();
    Bytes::from(bytes)
}

fn user_properties(rng: &mut Rng, props: &mut impl PropertySet) {
    for i in 0..rng.random_range(0..3u32) {
        props
            .user_properties_mut()
            .push(string(&format!("k{i}")), string("v"));
    }
}

/// A CONNECT for a fuzz client: the given Client Identifier and Clean Start, random Keep
/// Alive, and (5.0) random valid properties and sometimes a Will; with `login`'s User Name
/// and Password when given (no random draw depends on them, so a seed makes the same
/// choices with or without credentials).
pub fn connect(
    rng: &mut Rng,
    version: ProtocolVersion,
    client_id: &str,
    clean_start: bool,
    topics: &Topics,
    login: Option<&Credentials>,
) -> Connect {
    let mut properties = ConnectProperties::default();
    if version == ProtocolVersion::V5 {
        if rng.random_bool(0.3) {
            properties.session_expiry_interval = Some(rng.random_range(0..120));
        }
        if rng.random_bool(0.3) {
            properties.receive_maximum = NonZeroU16::new(rng.random_range(1..=20));
        }
        if rng.random_bool(0.4) {
            properties.topic_alias_maximum = Some(rng.random_range(0..=8));
        }
        if rng.random_bool(0.2) {
            properties.request_problem_information = Some(rng.random());
        }
        if rng.random_bool(0.1) {
            properties.request_response_information = Some(rng.random());
        }
        user_properties(rng, &mut properties);
    }
    let will = if rng.random_bool(0.2) {
        let mut wp = WillProperties::default();
        if version == ProtocolVersion::V5 {
            if rng.random_bool(0.3) {
                wp.will_delay_interval = Some(rng.random_range(0..3));
            }
            if rng.random_bool(0.3) {
                wp.message_expiry_interval = Some(rng.random_range(1..100));
            }
        }
        let topic = pick(rng, &topics.names).cloned().unwrap_or_default();
        Some(LastWill {
            qos: qos(rng, QoS::ExactlyOnce),
            retain: rng.random_bool(0.2),
            properties: wp.into(),
            topic: TopicName::new(topic).unwrap_or_else(|_| fallback_topic()),
            payload: payload(rng, false),
        })
    } else {
        None
    };
    Connect {
        protocol_version: version,
        clean_start,
        keep_alive: *pick(rng, &[0u16, 30, 60, 60, 600, 65_535]).unwrap_or(&60),
        properties: properties.into(),
        client_id: string(client_id),
        will,
        username: login.map(|c| string(&c.username)),
        password: login.and_then(|c| c.password.as_ref().map(|p| Bytes::from(p.clone()))),
    }
}

fn fallback_topic() -> TopicName {
    TopicName::new("fz").expect("`fz` is a valid Topic Name")
}

/// A PUBLISH allowed by the model's limits (and recorded in it).
pub fn publish(rng: &mut Rng, m: &mut SessionModel, topics: &Topics) -> Publish {
    let mut max = m.limits.maximum_qos;
    if m.outstanding >= usize::from(m.limits.receive_maximum) {
        max = QoS::AtMostOnce;
    }
    let q = qos(rng, max);
    let topic = pick(rng, &topics.names).cloned().unwrap_or_default();
    let mut properties = PublishProperties::default();
    let mut utf8 = false;
    let mut name = topic.clone();
    if m.version == ProtocolVersion::V5 {
        if rng.random_bool(0.2) {
            utf8 = rng.random();
            properties.payload_format_indicator = Some(if utf8 {
                PayloadFormatIndicator::Utf8
            } else {
                PayloadFormatIndicator::Unspecified
            });
        }
        if rng.random_bool(0.2) {
            properties.message_expiry_interval = Some(rng.random_range(1..600));
        }
        if rng.random_bool(0.1) {
            properties.content_type = Some(string("text/plain"));
        }
        if rng.random_bool(0.1) {
            properties.response_topic = TopicName::new(format!("{topic}/reply")).ok();
            properties.correlation_data = Some(Bytes::from_static(b"\x00\x01"));
        }
        user_properties(rng, &mut properties);
        if m.limits.topic_alias_maximum > 0 && rng.random_bool(0.4) {
            let known = m.aliases.iter().find(|(_, t)| *t == topic).map(|(a, _)| *a);
            match known {
                Some(a) if rng.random_bool(0.7) => {
                    properties.topic_alias = NonZeroU16::new(a);
                    name.clear();
                }
                _ => {
                    let a = rng.random_range(1..=m.limits.topic_alias_maximum);
                    m.aliases.retain(|(x, _)| *x != a);
                    m.aliases.push((a, topic.clone()));
                    properties.topic_alias = NonZeroU16::new(a);
                }
            }
        }
    }
    let delivery = if q == QoS::AtMostOnce {
        mqttspec_codec::Delivery::AtMostOnce
    } else {
        m.outstanding += 1;
        mqttspec_codec::Delivery::new(q, m.packet_id())
    };
    Publish {
        dup: false,
        delivery,
        retain: m.limits.retain_available && rng.random_bool(0.15),
        topic: TopicName::new(name).unwrap_or_else(|_| fallback_topic()),
        properties: properties.into(),
        payload: payload(rng, utf8),
    }
}

/// A SUBSCRIBE to 1..=3 filters of the round that the broker's limits allow.
pub fn subscribe(rng: &mut Rng, m: &mut SessionModel, topics: &Topics) -> Subscribe {
    let allowed: Vec<&String> = topics
        .filters
        .iter()
        .filter(|f| m.limits.wildcards || !(f.contains('+') || f.contains('#')))
        .filter(|f| {
            !f.starts_with("$share/") || (m.limits.shared && m.version == ProtocolVersion::V5)
        })
        .collect();
    let mut filters = Vec::new();
    for _ in 0..rng.random_range(1..=3u32) {
        let Some(f) = pick(rng, &allowed) else { break };
        let shared = f.starts_with("$share/");
        let options = if m.version == ProtocolVersion::V5 {
            SubscriptionOptions {
                qos: qos(rng, QoS::ExactlyOnce),
                // No Local on a shared subscription is a Protocol Error.
                no_local: !shared && rng.random_bool(0.2),
                retain_as_published: rng.random_bool(0.2),
                retain_handling: match rng.random_range(0..3u32) {
                    0 => RetainHandling::SendOnSubscribe,
                    1 => RetainHandling::SendIfNew,
                    _ => RetainHandling::DoNotSend,
                },
            }
        } else {
            SubscriptionOptions::qos(qos(rng, QoS::ExactlyOnce))
        };
        if let Ok(filter) = TopicFilter::new((*f).clone()) {
            if !m.subscribed.contains(f) {
                m.subscribed.push((*f).clone());
            }
            filters.push((filter, options));
        }
    }
    if filters.is_empty() {
        if let Ok(filter) = TopicFilter::new(topics.names.first().cloned().unwrap_or_default()) {
            filters.push((filter, SubscriptionOptions::default()));
        }
    }
    let mut properties = SubscribeProperties::default();
    if m.version == ProtocolVersion::V5 {
        if m.limits.subscription_ids && rng.random_bool(0.3) {
            properties
                .subscription_identifiers
                .extend(NonZeroU32::new(rng.random_range(1..=268_435_455)));
        }
        user_properties(rng, &mut properties);
    }
    Subscribe {
        packet_id: m.packet_id(),
        properties: properties.into(),
        filters,
    }
}

/// An UNSUBSCRIBE of one or two filters (mostly subscribed ones).
pub fn unsubscribe(rng: &mut Rng, m: &mut SessionModel, topics: &Topics) -> Unsubscribe {
    let mut filters = Vec::new();
    for _ in 0..rng.random_range(1..=2u32) {
        let source = if m.subscribed.is_empty() || rng.random_bool(0.2) {
            &topics.filters
        } else {
            &m.subscribed
        };
        if let Some(f) = pick(rng, source).cloned() {
            if let Ok(filter) = TopicFilter::new(f.clone()) {
                m.subscribed.retain(|s| *s != f);
                filters.push(filter);
            }
        }
    }
    Unsubscribe {
        packet_id: m.packet_id(),
        properties: Default::default(),
        filters,
    }
}

/// A DISCONNECT: normal, or (5.0) asking for the Will to be published.
pub fn disconnect(rng: &mut Rng, version: ProtocolVersion) -> Disconnect {
    Disconnect {
        reason_code: if version == ProtocolVersion::V5 && rng.random_bool(0.3) {
            ReasonCode::DisconnectWithWillMessage
        } else {
            ReasonCode::Success
        },
        properties: Default::default(),
    }
}

/// One random valid packet for a connected client (PUBLISH most often).
pub fn any(rng: &mut Rng, m: &mut SessionModel, topics: &Topics) -> Packet {
    match rng.random_range(0..20u32) {
        0..=11 => Packet::Publish(publish(rng, m, topics)),
        12..=15 => Packet::Subscribe(subscribe(rng, m, topics)),
        16..=17 => Packet::Unsubscribe(unsubscribe(rng, m, topics)),
        _ => Packet::PingReq,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn generated_packets_encode_strictly_in_both_versions() {
        let topics = Topics::new("fz/r1");
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let mut rng = Rng::seed_from_u64(9);
            let c = connect(&mut rng, v, "fzabcdefghij", true, &topics, None);
            Packet::Connect(Box::new(c))
                .encode(v)
                .expect("CONNECT encodes");
            // With credentials: the same random choices, plus the User Name and Password.
            let login = Credentials {
                username: "fuzz-user".to_owned(),
                password: Some("fuzz-password".to_owned()),
            };
            let plain = connect(
                &mut Rng::seed_from_u64(3),
                v,
                "fzabcdefghij",
                true,
                &topics,
                None,
            );
            let c = connect(
                &mut Rng::seed_from_u64(3),
                v,
                "fzabcdefghij",
                true,
                &topics,
                Some(&login),
            );
            assert_eq!(c.username.as_ref().map(|u| u.as_str()), Some("fuzz-user"));
            assert_eq!(c.password.as_deref(), Some(&b"fuzz-password"[..]));
            assert_eq!((c.keep_alive, &c.will), (plain.keep_alive, &plain.will));
            Packet::Connect(Box::new(c))
                .encode(v)
                .expect("CONNECT with credentials encodes");
            let mut m = SessionModel::new(v);
            m.limits.topic_alias_maximum = 4;
            for _ in 0..2000 {
                let p = any(&mut rng, &mut m, &topics);
                if let Err(e) = p.encode(v) {
                    panic!("{p:?} does not encode in {v:?}: {e}");
                }
            }
            let d = disconnect(&mut rng, v);
            Packet::Disconnect(d).encode(v).expect("DISCONNECT encodes");
        }
    }

    #[test]
    fn publishes_respect_the_brokers_limits() {
        let topics = Topics::new("fz/r2");
        let mut rng = Rng::seed_from_u64(1);
        let mut m = SessionModel::new(ProtocolVersion::V5);
        m.limits.maximum_qos = QoS::AtLeastOnce;
        m.limits.retain_available = false;
        m.limits.receive_maximum = 3;
        for _ in 0..500 {
            let p = publish(&mut rng, &mut m, &topics);
            assert!(p.qos() != QoS::ExactlyOnce && !p.retain);
            assert!(p.properties.topic_alias.is_none());
        }
        assert_eq!(m.outstanding, 3, "no QoS 1 beyond the Receive Maximum");
    }

    #[test]
    fn subscriptions_avoid_wildcards_and_shares_the_broker_refuses() {
        let topics = Topics::new("fz/r3");
        let mut rng = Rng::seed_from_u64(2);
        let mut m = SessionModel::new(ProtocolVersion::V5);
        m.limits.wildcards = false;
        m.limits.shared = false;
        for _ in 0..300 {
            for (f, _) in subscribe(&mut rng, &mut m, &topics).filters {
                assert!(
                    !f.has_wildcards() && !f.as_str().starts_with("$share/"),
                    "{f}"
                );
            }
        }
    }
}
