//! The memory budget: how many bytes of stored state the network can make the core hold.
//!
//! Counts alone do not bound memory: 100,000 retained messages of up to one Maximum Packet
//! Size each are 100 GB. So every piece of state that outlives the packet that created it is
//! charged, in bytes, against one budget ([`Config::memory_budget_bytes`]):
//!
//! - Application Messages held by the broker ([`Message`]: in session queues, in flight, held
//!   back by backpressure) and each session's copy of one ([`Delivery`]);
//! - Will Messages waiting in sessions;
//! - sessions themselves (a fixed overhead plus the Client Identifier);
//! - subscriptions (counted by the subscription tree) and retained messages (counted by the
//!   retained store).
//!
//! Messages, deliveries, Wills and sessions carry a [`Charge`]: taken when the value is
//! built, given back when it is dropped (and taken again when it is cloned), so nothing can
//! forget to release its bytes. The two stores keep their own byte counts. The figures are
//! estimates of the heap each value holds (its variable-length parts plus a fixed overhead
//! per value), on the generous side.
//!
//! What is charged must also *own* its bytes: a payload that is a slice of a 16 KiB read
//! buffer keeps the whole buffer alive. Everything the core keeps beyond the packet that
//! carried it is therefore copied out of that packet first ([`owned_bytes`],
//! [`owned_properties`], ...), so the charge is what the value really holds.
//!
//! Lasting state (sessions, Wills, subscriptions, retained messages) may fill three quarters
//! of the budget; the last quarter is kept for messages on their way to subscribers, so a
//! full retained store never stops live traffic.
//!
//! When the budget is exhausted the core refuses with the means the specifications give it
//! (see [`Broker::make_room`] for what is discarded first): a new session is refused with
//! CONNACK 0x97 Quota exceeded (3.1.1: 0x03 Server unavailable), a subscription with SUBACK
//! 0x97 (3.1.1: 0x80), a retained message with PUBACK/PUBREC 0x97 (MQTT 5.0 QoS 1/2; else it is
//! forwarded and not stored), and a copy for a subscriber is treated like a full queue
//! (dropped for an offline session, the publisher held back for an online one; see
//! "Backpressure" in the crate docs). Before refusing, the session disconnected longest is
//! discarded, as section 4.1 of both specifications allows a server under resource
//! constraints.
//!
//! [`Config::memory_budget_bytes`]: crate::Config::memory_budget_bytes
//! [`Message`]: crate::message::Message
//! [`Delivery`]: crate::message::Delivery

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mqttspec_codec::{
    MqttString, Properties, PublishProperties, TopicFilter, TopicName, UserProperties,
    WillProperties,
};

use crate::Broker;

// The fixed overheads below are measured, not guessed: `tests/core_memory_heap.rs` counts
// the heap a few thousand of each item really take (a counting allocator) and fails when the
// charges fall below it. Most of it is the structs themselves (the codec's `Properties` is
// large) and the collections around them (a B-tree leaf or a hash table per trie node).

/// Fixed heap overhead of one Application Message (the `Arc`, the struct, its properties).
pub(crate) const MESSAGE_OVERHEAD: usize = 512;
/// Fixed overhead of one session's copy of a message (queue slot or in-flight entry).
pub(crate) const DELIVERY_OVERHEAD: usize = 160;
/// Fixed overhead of one session (the struct, its map entries, sets and timers).
pub(crate) const SESSION_OVERHEAD: usize = 1536;
/// Fixed overhead of one Will Message.
pub(crate) const WILL_OVERHEAD: usize = 512;
/// Fixed overhead of one subscription (per-client and trie entries: B-tree leaves).
pub(crate) const SUBSCRIPTION_OVERHEAD: usize = 1216;
/// Fixed overhead of one retained message (the boxed struct, the expiry index entry).
pub(crate) const RETAINED_OVERHEAD: usize = 512;
/// Heap of one trie level (node, hash-table slots, boxed level name), beyond the name's bytes.
pub(crate) const LEVEL_OVERHEAD: usize = 256;
/// The share of the budget lasting state may fill (numerator, denominator): the rest is
/// kept for messages on their way.
pub(crate) const DURABLE_SHARE: (usize, usize) = (3, 4);
/// Heap of one User Property beyond its name and value.
const USER_PROPERTY_OVERHEAD: usize = 64;

/// The running total of every [`Charge`] of one broker.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meter(Arc<AtomicUsize>);

impl Meter {
    /// Bytes currently charged.
    pub fn used(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Charges `bytes` until the returned [`Charge`] is dropped.
    pub fn charge(&self, bytes: usize) -> Charge {
        self.0.fetch_add(bytes, Ordering::Relaxed);
        Charge {
            meter: Some(self.clone()),
            bytes,
        }
    }
}

/// Bytes charged to a [`Meter`] for as long as the value holding it lives.
#[derive(Debug, Default)]
pub(crate) struct Charge {
    meter: Option<Meter>,
    bytes: usize,
}

impl Charge {
    /// How many bytes this charge holds.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Clone for Charge {
    fn clone(&self) -> Self {
        match &self.meter {
            Some(m) => m.charge(self.bytes),
            None => Charge::default(),
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(m) = &self.meter {
            m.0.fetch_sub(self.bytes, Ordering::Relaxed);
        }
    }
}

/// Charges are bookkeeping, not content: two values that differ only in their charges are
/// equal.
impl PartialEq for Charge {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Charge {}

/// The properties that travel with a message and hold heap: those of a PUBLISH or of a Will.
pub(crate) trait MessageProperties {
    /// Content Type, Response Topic, Correlation Data and the User Properties.
    #[allow(clippy::type_complexity)]
    fn variable_parts(
        &self,
    ) -> (
        Option<&MqttString>,
        Option<&TopicName>,
        Option<&Bytes>,
        &UserProperties,
    );
}

macro_rules! message_properties {
    ($($t:ty),*) => {$(
        impl MessageProperties for $t {
            fn variable_parts(
                &self,
            ) -> (
                Option<&MqttString>,
                Option<&TopicName>,
                Option<&Bytes>,
                &UserProperties,
            ) {
                (
                    self.content_type.as_ref(),
                    self.response_topic.as_ref(),
                    self.correlation_data.as_ref(),
                    &self.user_properties,
                )
            }
        }
    )*};
}

message_properties!(PublishProperties, WillProperties);

/// The heap held by the variable-length properties that travel with a message.
pub(crate) fn properties_bytes(p: &impl MessageProperties) -> usize {
    let (content_type, response_topic, correlation_data, user_properties) = p.variable_parts();
    let strings = [
        content_type.map_or(0, MqttString::len),
        response_topic.map_or(0, TopicName::len),
        correlation_data.map_or(0, Bytes::len),
    ];
    let users: usize = user_properties
        .iter()
        .map(|(k, v)| k.len() + v.len() + USER_PROPERTY_OVERHEAD)
        .sum();
    strings.iter().sum::<usize>() + users
}

/// What one Application Message (topic, payload, properties) is charged.
pub(crate) fn message_bytes(
    topic: &TopicName,
    payload: &Bytes,
    properties: &impl MessageProperties,
) -> usize {
    MESSAGE_OVERHEAD + topic.len() + payload.len() + properties_bytes(properties)
}

/// What a retained message is charged: the message, its trie path and its index entry.
pub(crate) fn retained_bytes(
    topic: &TopicName,
    payload: &Bytes,
    properties: &PublishProperties,
) -> usize {
    let levels = topic.split('/').count();
    RETAINED_OVERHEAD
        + 2 * topic.len()
        + levels * LEVEL_OVERHEAD
        + payload.len()
        + properties_bytes(properties)
}

/// What one subscription is charged: its filter (kept twice: per client and in the trie),
/// its trie path and entries.
pub(crate) fn subscription_bytes(filter: &TopicFilter, client_id: &str) -> usize {
    let levels = filter.split('/').count();
    SUBSCRIPTION_OVERHEAD + 2 * filter.len() + levels * LEVEL_OVERHEAD + client_id.len()
}

/// What a session is charged besides its messages, Will and subscriptions.
pub(crate) fn session_bytes(client_id: &str) -> usize {
    SESSION_OVERHEAD + 2 * client_id.len()
}

/// A copy of `b` in an allocation of its own (not a slice of a larger packet or read buffer).
pub(crate) fn owned_bytes(b: &Bytes) -> Bytes {
    Bytes::copy_from_slice(b)
}

/// A copy of `s` that owns its bytes.
pub(crate) fn owned_string(s: &MqttString, field: &'static str) -> MqttString {
    // The text was valid when `s` was built, so it is valid again; keep `s` if not.
    MqttString::from_bytes(owned_bytes(s.as_bytes()), field).unwrap_or_else(|_| s.clone())
}

/// A copy of `t` that owns its bytes.
pub(crate) fn owned_topic(t: &TopicName) -> TopicName {
    TopicName::from_string(owned_string(t.as_mqtt_str(), "Topic Name"), "Topic Name")
        .unwrap_or_else(|_| t.clone())
}

/// A copy of `f` that owns its bytes.
pub(crate) fn owned_filter(f: &TopicFilter) -> TopicFilter {
    TopicFilter::from_string(owned_string(f.as_mqtt_str(), "Topic Filter"))
        .unwrap_or_else(|_| f.clone())
}

/// A copy of the properties that travel with a message (Payload Format Indicator, Message
/// Expiry Interval, Content Type, Response Topic, Correlation Data, User Properties in their
/// order), owning their bytes.
pub(crate) fn owned_properties(p: &Properties) -> PublishProperties {
    PublishProperties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        content_type: p
            .content_type
            .as_ref()
            .map(|s| owned_string(s, "Content Type")),
        response_topic: p.response_topic.as_ref().map(owned_topic),
        correlation_data: p.correlation_data.as_ref().map(owned_bytes),
        user_properties: p.user_properties.detached(),
        ..PublishProperties::default()
    }
}

impl Broker {
    /// Bytes of stored state charged against the budget.
    pub fn memory_used(&self) -> usize {
        self.meter
            .used()
            .saturating_add(self.retained.bytes())
            .saturating_add(self.subscriptions.bytes())
    }

    /// Whether `extra` more bytes of messages on their way to subscribers fit in the budget.
    pub(crate) fn memory_fits(&self, extra: usize) -> bool {
        self.memory_used().saturating_add(extra) <= self.config.memory_budget_bytes
    }

    /// Whether `extra` more bytes of lasting state (a session, a Will, a subscription, a
    /// retained message) fit: these may fill [`DURABLE_SHARE`] of the budget, so that a full
    /// retained store or a crowd of sessions never stops messages from flowing.
    pub(crate) fn durable_fits(&self, extra: usize) -> bool {
        let limit = self.config.memory_budget_bytes / DURABLE_SHARE.1 * DURABLE_SHARE.0;
        self.memory_used().saturating_add(extra) <= limit
    }

    /// Makes room for `extra` bytes of lasting state (see [`Broker::durable_fits`]) by
    /// discarding the sessions disconnected longest (never a connected one, never `keep`'s);
    /// returns whether they fit now.
    /// Nothing new (`extra` 0, e.g. resuming a session without a Will) always fits.
    pub(crate) fn make_durable_room(&mut self, extra: usize, keep: Option<&str>) -> bool {
        extra == 0 || self.make_room_until(keep, |b| b.durable_fits(extra))
    }

    /// Makes room for `extra` bytes of messages (see [`Broker::memory_fits`]) by discarding
    /// the sessions disconnected longest (never a connected one, never `keep`'s); returns
    /// whether they fit now.
    ///
    /// Ending a session can publish its Will, which routes a message, which makes room
    /// again: that inner call only checks, so the discarding never recurses.
    pub(crate) fn make_room(&mut self, extra: usize, keep: Option<&str>) -> bool {
        self.make_room_until(keep, |b| b.memory_fits(extra))
    }

    fn make_room_until(&mut self, keep: Option<&str>, fits: impl Fn(&Broker) -> bool) -> bool {
        if self.making_room {
            return fits(self);
        }
        self.making_room = true;
        let mut ok = fits(self);
        while !ok && self.discard_longest_disconnected(keep) {
            ok = fits(self);
        }
        self.making_room = false;
        ok
    }

    /// Ends the session disconnected longest (other than `keep`'s), as section 4.1 lets a
    /// server discard Session State under resource constraints. Returns whether there was one.
    pub(crate) fn discard_longest_disconnected(&mut self, keep: Option<&str>) -> bool {
        let oldest = self
            .sessions
            .iter()
            .filter(|(c, s)| s.connection.is_none() && keep != Some(&***c))
            .min_by_key(|(c, s)| (s.offline_since, Arc::clone(c)))
            .map(|(c, _)| Arc::clone(c));
        match oldest {
            Some(c) => {
                tracing::debug!(client = %c, "session discarded for room");
                self.end_session(&c);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_is_given_back_when_dropped_and_taken_again_when_cloned() {
        let meter = Meter::default();
        let a = meter.charge(100);
        assert_eq!(meter.used(), 100);
        let b = a.clone();
        assert_eq!(meter.used(), 200);
        assert_eq!(b.bytes(), 100);
        drop(a);
        assert_eq!(meter.used(), 100);
        drop(b);
        assert_eq!(meter.used(), 0);
        assert_eq!(Charge::default().clone().bytes(), 0);
    }

    #[test]
    fn owned_copies_do_not_share_the_packet_buffer() {
        let packet = Bytes::from_static(b"xxtopic/axx");
        let topic = TopicName::from_string(
            MqttString::from_bytes(packet.slice(2..9), "Topic Name").unwrap(),
            "Topic Name",
        )
        .unwrap();
        let owned = owned_topic(&topic);
        assert_eq!(owned.as_str(), "topic/a");
        let inside = packet.as_ptr_range();
        assert!(!inside.contains(&owned.as_mqtt_str().as_bytes().as_ptr()));
    }

    #[test]
    fn properties_are_charged_for_their_variable_parts() {
        let mut p = PublishProperties::default();
        let empty = properties_bytes(&p);
        p.correlation_data = Some(Bytes::from_static(&[0; 100]));
        p.user_properties.push(
            MqttString::new("k", "User Property").unwrap(),
            MqttString::new("vvvv", "User Property").unwrap(),
        );
        assert_eq!(
            properties_bytes(&p),
            empty + 100 + 5 + USER_PROPERTY_OVERHEAD
        );
    }
}
