//! Application Messages as the broker holds them, and the per-subscriber copies it delivers.
//!
//! A [`Message`] is what the broker took ownership of: its topic, payload, QoS, RETAIN flag
//! and the properties that travel with it to subscribers. It is shared (`Arc`) by every
//! [`Delivery`] made from it; a delivery adds what differs per subscriber: the QoS granted,
//! the RETAIN flag to send and the Subscription Identifiers.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    MqttString, PacketId, Properties, ProtocolVersion, Publish, PublishProperties, QoS, TopicName,
};

use crate::memory::{message_bytes, owned_properties, Charge, DELIVERY_OVERHEAD};
use crate::Broker;

/// An Application Message the broker has accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// The Topic Name (never empty: aliases are resolved before this is built).
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// The QoS it was published with.
    pub qos: QoS,
    /// The RETAIN flag it was published with.
    pub retain: bool,
    /// The DUP flag it arrived with; only the `forward-dup` fault looks at it.
    pub dup: bool,
    /// The properties forwarded to subscribers (see [`forwardable`]).
    pub properties: PublishProperties,
    /// Whether it is a Will Message (the faults of the live, queued and shared paths leave
    /// Wills alone: the Will path has its own).
    pub will: bool,
    /// Whether it is a Will Message published after a Will Delay Interval (the delayed-Will
    /// path, which has flag faults of its own).
    pub delayed_will: bool,
    /// The Client Identifier of the publisher (for No Local); `None` for server messages.
    pub publisher: Option<Arc<str>>,
    /// When the message expires (arrival time plus its Message Expiry Interval).
    pub expires_at: Option<Duration>,
    /// Its bytes, charged against the memory budget (see [`crate::memory`]); set by
    /// `Broker::charged`.
    pub charge: Charge,
}

impl Message {
    /// Whether the message has expired at `now`.
    pub fn is_expired(&self, now: Duration) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// The Message Expiry Interval still left at `now`, in whole seconds rounded up (so a
    /// message forwarded at once keeps its interval unchanged).
    pub fn remaining_expiry(&self, now: Duration) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_sub(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }
}

/// The properties of an incoming PUBLISH (or Will) that are passed on to subscribers
/// unchanged: Payload Format Indicator, Message Expiry Interval, Content Type, Response
/// Topic, Correlation Data and the User Properties in their order (MQTT-3.3.2-4, -15, -16,
/// -17, -18, -20). Topic Alias and Subscription Identifiers are per hop and are dropped. The
/// copy owns its bytes (it outlives the packet; see [`crate::memory`]).
pub(crate) fn forwardable(p: &Properties) -> PublishProperties {
    owned_properties(p)
}

/// One copy of a message for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// The message.
    pub message: Arc<Message>,
    /// The QoS it is delivered with (the published QoS limited by the granted one).
    pub qos: QoS,
    /// The RETAIN flag to send.
    pub retain: bool,
    /// The Subscription Identifiers of the matching subscriptions.
    pub subscription_identifiers: Vec<NonZeroU32>,
    /// The copy's own bytes, charged against the memory budget; set by `Broker::delivery`.
    pub charge: Charge,
    /// What a path-specific fault does to this copy's properties (see [`Tamper`]).
    pub tamper: Tamper,
    /// Whether a path-specific fault (`forward-dup-queued`, `forward-dup-shared`,
    /// `dup-on-retained`, `dup-on-will`, `dup-on-delayed-will`) copies the
    /// incoming DUP flag onto this copy.
    pub keep_dup: bool,
    /// Whether a path-specific fault (`ignore-maximum-packet-size-queued`, `-retained`,
    /// `-will`, `-shared`) sends this copy whatever the client's Maximum Packet Size.
    pub oversize: bool,
    /// Whether a path-specific fault (`ignore-receive-maximum-queued`, `-retained`, `-will`,
    /// `-shared`) sends this copy whatever the client's Receive Maximum.
    pub beyond_quota: bool,
    /// Whether a path-specific fault (`send-topic-aliases-queued`, `-retained`, `-will`,
    /// `-shared`) gives this copy Topic Alias 65535 whatever the client's Topic Alias Maximum.
    pub alias: bool,
    /// Whether a fault `topic-alias-from-old-connection*` (of this copy's path) sends it as if
    /// a Topic Alias mapping of the session's previous connection still held: Topic Alias 1
    /// and an empty Topic Name, never set on the connection it goes out on.
    pub stale_alias: bool,
    /// Whether a path-specific fault (`reverse-user-properties-*`) sends this copy's User
    /// Properties in reverse order.
    pub reverse_user_properties: bool,
    /// Whether a path-specific fault (`no-message-expiry-*`) sends this copy's Message Expiry
    /// Interval as received, not less the time the message waited.
    pub keep_expiry: bool,
}

/// What a fault of one delivery path (`strip-properties-*`, `add-properties-*`) does to the
/// properties of a copy; [`Tamper::None`] without such a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Tamper {
    /// The properties go out as the publisher sent them.
    #[default]
    None,
    /// Payload Format Indicator, Content Type, Response Topic, Correlation Data and the User
    /// Properties are left out.
    Strip,
    /// A Content Type and a Message Expiry Interval are added when the publisher set none.
    Add,
}

impl Tamper {
    /// The tampering of a path whose strip fault is `strip` and add fault is `add`.
    pub fn of_faults(strip: bool, add: bool) -> Tamper {
        if strip {
            Tamper::Strip
        } else if add {
            Tamper::Add
        } else {
            Tamper::None
        }
    }

    /// Applies the tampering to the properties of an outgoing message.
    pub fn apply(self, properties: &mut PublishProperties) {
        match self {
            Tamper::None => {}
            Tamper::Strip => {
                properties.payload_format_indicator = None;
                properties.content_type = None;
                properties.response_topic = None;
                properties.correlation_data = None;
                properties.user_properties.clear();
            }
            Tamper::Add => {
                if properties.content_type.is_none() {
                    properties.content_type = MqttString::from_static(ADDED_CONTENT_TYPE).ok();
                }
                properties
                    .message_expiry_interval
                    .get_or_insert(ADDED_EXPIRY);
            }
        }
    }
}

/// The Content Type the `add-properties-*` faults put on messages that had none.
const ADDED_CONTENT_TYPE: &str = "application/octet-stream";

/// The Message Expiry Interval the `add-properties-*` faults put on messages that had none.
const ADDED_EXPIRY: u32 = 86_400;

/// How to shape an outgoing PUBLISH beyond what the delivery says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// The receiving connection's protocol version.
    pub version: ProtocolVersion,
    /// The current time (for the remaining Message Expiry Interval).
    pub now: Duration,
    /// `no-message-expiry` fault: forward the interval unchanged.
    pub keep_expiry: bool,
    /// `forward-dup` fault: copy the incoming DUP flag.
    pub forward_dup: bool,
    /// `reverse-user-properties` fault.
    pub reverse_user_properties: bool,
    /// Whether the receiving client accepts Topic Aliases (Topic Alias Maximum of 1 or more):
    /// only then does [`Delivery::stale_alias`] act (its fault breaks MQTT-3.3.2-7 alone).
    pub aliases_accepted: bool,
}

impl Delivery {
    /// The PUBLISH packet for this delivery. `packet_id` is the identifier a QoS 1 or 2
    /// delivery is sent with (callers pass `None` exactly for QoS 0; without one the PUBLISH
    /// goes out at QoS 0). `dup` is set only for a retransmission (MQTT-3.3.1-1,
    /// MQTT-3.3.1-3); MQTT 3.1.1 receivers get no properties.
    pub fn to_publish(&self, packet_id: Option<PacketId>, dup: bool, shape: Shape) -> Publish {
        let m = &self.message;
        let mut properties = PublishProperties::default();
        if shape.version.is_v5() {
            properties = m.properties.clone();
            if !shape.keep_expiry && !self.keep_expiry {
                properties.message_expiry_interval = m.remaining_expiry(shape.now);
            }
            properties.subscription_identifiers = self.subscription_identifiers.clone();
            if shape.reverse_user_properties || self.reverse_user_properties {
                properties.user_properties.pairs_mut().reverse();
            }
            self.tamper.apply(&mut properties);
            if self.alias {
                properties.topic_alias = std::num::NonZeroU16::new(u16::MAX);
            }
        }
        let stale_alias = shape.version.is_v5() && self.stale_alias && shape.aliases_accepted;
        if stale_alias {
            properties.topic_alias = std::num::NonZeroU16::new(1);
        }
        let qos = self.qos;
        let dup =
            qos != QoS::AtMostOnce && (dup || ((shape.forward_dup || self.keep_dup) && m.dup));
        Publish {
            dup,
            delivery: packet_id.map_or(mqttspec_codec::Delivery::AtMostOnce, |id| {
                mqttspec_codec::Delivery::new(qos, id)
            }),
            retain: self.retain,
            topic: if stale_alias {
                TopicName::default()
            } else {
                m.topic.clone()
            },
            properties: properties.into(),
            payload: m.payload.clone(),
        }
    }
}

impl Broker {
    /// `m` with its charge, shared.
    pub(crate) fn charged(&self, mut m: Message) -> Arc<Message> {
        m.charge = self
            .meter
            .charge(message_bytes(&m.topic, &m.payload, &m.properties));
        Arc::new(m)
    }

    /// One session's copy of `message`, with its charge.
    pub(crate) fn delivery(
        &self,
        message: Arc<Message>,
        qos: QoS,
        retain: bool,
        subscription_identifiers: Vec<NonZeroU32>,
    ) -> Delivery {
        let charge = self
            .meter
            .charge(DELIVERY_OVERHEAD + 4 * subscription_identifiers.len());
        Delivery {
            message,
            qos,
            retain,
            subscription_identifiers,
            charge,
            tamper: Tamper::None,
            keep_dup: false,
            oversize: false,
            beyond_quota: false,
            alias: false,
            stale_alias: false,
            reverse_user_properties: false,
            keep_expiry: false,
        }
    }
}
