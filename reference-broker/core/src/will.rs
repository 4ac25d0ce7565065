//! Will Messages (3.1.2.5 and 3.1.3.2 of the 5.0 spec, 3.1.2.5 of 3.1.1).
//!
//! The Will of a CONNECT is stored with the session (MQTT-3.1.2-7). When the connection ends
//! without a DISCONNECT 0x00 (network failure, Keep Alive timeout, protocol error, takeover,
//! DISCONNECT 0x04 or another reason), the Will is published once the Will Delay Interval
//! has passed or the session ends, whichever comes first (MQTT-3.1.2-8): with delay 0 or a
//! session that ends at once, immediately; otherwise a timer runs, and the session expiry
//! (which publishes a waiting Will before discarding the session) may come first. A new
//! connection that resumes the session before the delay cancels it (MQTT-3.1.3-9). Once
//! published, or after DISCONNECT 0x00, the Will is gone (MQTT-3.1.2-10).
//!
//! The Will is published like a PUBLISH from its client: RETAIN as declared (MQTT-3.1.2-14,
//! -15), its properties forwarded (User Properties in order, MQTT-3.1.3-10), its Message
//! Expiry Interval counted from publication. It is never held back by backpressure: a full
//! subscriber queue drops its copy.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{LastWill, ProtocolVersion, QoS, StatementId as S, TopicName};

use super::fault::Fault;
use super::memory::{message_bytes, owned_bytes, owned_topic, Charge, Meter, WILL_OVERHEAD};
use super::message::{forwardable, Message, Tamper};
use super::path::{Family, Path};
use super::timers::TimerKey;
use super::Broker;
use mqttspec_codec::PublishProperties;

/// A stored Will Message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Will {
    /// Will Topic.
    pub topic: TopicName,
    /// Will Payload.
    pub payload: Bytes,
    /// Will QoS (already limited to the server's Maximum QoS).
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// The Will Properties forwarded with the message.
    pub properties: PublishProperties,
    /// Will Delay Interval, seconds (0 for 3.1.1).
    pub delay: u32,
    /// The protocol version of the connection that declared it (for traceability).
    pub version: ProtocolVersion,
    /// Its bytes, charged against the memory budget.
    pub charge: Charge,
}

impl Will {
    /// The Will of a CONNECT, owning copies of its bytes (it outlives the packet) and
    /// charged to `meter`.
    pub fn from_connect(w: &LastWill, v: ProtocolVersion, maximum_qos: QoS, meter: &Meter) -> Will {
        let properties = forwardable(&w.properties.to_properties());
        let charge = meter.charge(Will::bytes(w));
        Will {
            topic: owned_topic(&w.topic),
            payload: owned_bytes(&w.payload),
            qos: w.qos.min(maximum_qos),
            retain: w.retain,
            properties,
            delay: w.properties.will_delay_interval.unwrap_or(0),
            version: v,
            charge,
        }
    }

    /// What the Will of `w` is charged against the memory budget.
    pub fn bytes(w: &LastWill) -> usize {
        WILL_OVERHEAD + message_bytes(&w.topic, &w.payload, &*w.properties)
    }
}

impl Broker {
    /// The session's connection ended with its Will armed: publish it now (delay 0) or when
    /// the delay ends (unless the session ends or resumes first).
    pub(super) fn schedule_will(&mut self, client: &Arc<str>) {
        let Some(will) = self.sessions.get(client).and_then(|s| s.will.as_ref()) else {
            return;
        };
        if will.delay == 0 || self.fault(Fault::IgnoreWillDelay) {
            self.publish_will(client);
            return;
        }
        let at = self
            .now
            .saturating_add(Duration::from_secs(u64::from(will.delay)));
        self.timers.set(TimerKey::WillDelay(Arc::clone(client)), at);
    }

    /// The Will Delay Interval of a disconnected session has passed.
    pub(super) fn will_delay_elapsed(&mut self, client: &Arc<str>) {
        let waiting = self
            .sessions
            .get(client)
            .is_some_and(|s| s.connection.is_none() && s.will.is_some());
        if waiting {
            self.publish_will(client);
        }
    }

    /// A new connection resumed the session before the Will was published: drop it
    /// (MQTT-3.1.3-9).
    pub(super) fn cancel_waiting_will(&mut self, client: &Arc<str>) {
        if self.fault(Fault::WillOnResume) {
            self.will_delay_elapsed(client);
            return;
        }
        self.timers.cancel(&TimerKey::WillDelay(Arc::clone(client)));
        if let Some(session) = self.sessions.get_mut(client) {
            if session.connection.is_none() {
                if let Some(will) = session.will.take() {
                    if will.version.is_v5() {
                        self.record_id(S::V5_3_1_3_9);
                    }
                }
            }
        }
    }

    /// Publishes the session's Will Message and removes it (MQTT-3.1.2-10).
    pub(super) fn publish_will(&mut self, client: &Arc<str>) {
        self.timers.cancel(&TimerKey::WillDelay(Arc::clone(client)));
        let Some(mut will) = self.sessions.get_mut(client).and_then(|s| s.will.take()) else {
            return;
        };
        if self.fault(Fault::NoWill) {
            return;
        }
        if self.fault(Fault::WillAtQos0) {
            will.qos = QoS::AtMostOnce;
        }
        if self.fault(Fault::WillRetainFlipped) {
            will.retain = !will.retain;
        }
        if self.fault(Fault::DropWillProperties) {
            will.properties = PublishProperties::default();
        }
        // Each kind of Will (at once, or after its delay) has faults of its own.
        let path = if will.delay == 0 {
            Path::Will
        } else {
            Path::DelayedWill
        };
        Tamper::of_faults(
            self.path_fault(Family::StripProperties, path),
            self.path_fault(Family::AddProperties, path),
        )
        .apply(&mut will.properties);
        let v = will.version;
        self.record(
            v,
            &[S::V5_3_1_2_8, S::V5_3_1_2_10],
            &[S::V311_3_1_2_8, S::V311_3_1_2_10],
        );
        if will.retain {
            self.record(v, &[S::V5_3_1_2_15], &[S::V311_3_1_2_17]);
        } else {
            self.record(v, &[S::V5_3_1_2_14], &[S::V311_3_1_2_16]);
        }
        if !will.properties.user_properties.is_empty() {
            self.record(v, &[S::V5_3_1_3_10], &[]);
        }
        let expires_at = will
            .properties
            .message_expiry_interval
            .map(|s| self.now.saturating_add(Duration::from_secs(u64::from(s))));
        let message = self.charged(Message {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            // Only the `dup-on-will` / `dup-on-delayed-will` faults mark the Will's first
            // delivery as a resend.
            dup: self.path_fault(Family::Dup, path),
            properties: will.properties,
            will: true,
            delayed_will: will.delay > 0,
            publisher: Some(Arc::clone(client)),
            expires_at,
            charge: Charge::default(),
        });
        if message.retain && self.config.retain_available {
            self.store_retained(&message, v);
        }
        self.route(&message, false);
    }
}
