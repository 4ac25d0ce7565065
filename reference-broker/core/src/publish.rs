//! Inbound PUBLISH and the QoS 2 release from the client.
//!
//! Checks, in order, for a PUBLISH from a connected client:
//!
//! 1. MQTT 5.0: no Subscription Identifier (MQTT-3.3.4-6, 0x82); the Topic Alias is resolved
//!    (above the server's maximum: 0x94; unknown with an empty name: 0x82); the QoS is within
//!    the Maximum QoS (0x9B) and RETAIN is only used when retain is available (0x9A).
//! 2. The Topic Name has at most `max_topic_levels` levels (a server limit; 5.0: 0x90).
//! 3. QoS 2 with a Packet Identifier still awaiting PUBREL: PUBREC again, no second
//!    forwarding (MQTT-4.3.3-10 in 5.0, MQTT-4.3.3-2 in 3.1.1).
//! 4. MQTT 5.0: more unacknowledged QoS 1/2 PUBLISH packets than the server's Receive Maximum
//!    is a protocol error (0x93, 3.3.4).
//! 5. Access rules and the `$SYS` rule: 5.0 refuses with PUBACK/PUBREC 0x87; 3.1.1
//!    acknowledges and drops (MQTT-3.3.5-2 of 3.1.1).
//! 6. Optional payload format check (5.0, PUBACK/PUBREC 0x99).
//!
//! Then the message is forwarded (QoS 0 at once; QoS 1/2 through `flow_control`), stored as
//! retained if RETAIN is set, and acknowledged.

use std::time::Duration;

use mqttspec_codec::{
    Packet, PayloadFormatIndicator, ProtocolVersion, PubComp, PubRel, Publish, QoS, ReasonCode,
    StatementId as S,
};

use super::acl::{self, Access};
use super::fault::Fault;
use super::memory::{owned_bytes, owned_topic, retained_bytes, Charge};
use super::message::{forwardable, Message};
use super::retained::RetainedMessage;
use super::topic;
use super::{Broker, ConnectionId};

/// Fault `normalise-topic-names`: the Topic Name lower-cased, without U+FEFF and without
/// empty levels (the original if that leaves nothing valid).
fn normalised(topic: &mqttspec_codec::TopicName) -> mqttspec_codec::TopicName {
    let folded = topic.to_lowercase().replace('\u{feff}', "");
    let levels: Vec<&str> = folded.split('/').filter(|l| !l.is_empty()).collect();
    mqttspec_codec::TopicName::new(levels.join("/")).unwrap_or_else(|_| topic.clone())
}

/// The server's Maximum QoS setting as a QoS.
pub(super) fn maximum_qos(setting: u8) -> QoS {
    QoS::from_u8(setting.min(2)).unwrap_or(QoS::ExactlyOnce)
}

impl Broker {
    /// A PUBLISH from a connected client (see the module docs).
    pub(super) fn handle_publish(&mut self, id: ConnectionId, p: Publish) {
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        let v = conn.version_or_v5();
        let client = conn.client_id.clone();
        let username = conn.username.clone();
        let max_qos = if self.faults.has(Fault::UnannouncedQos2Refusal) {
            maximum_qos(self.config.maximum_qos).min(QoS::AtLeastOnce)
        } else {
            maximum_qos(self.config.maximum_qos)
        };

        let mut topic_name = p.topic.clone();
        if v.is_v5() {
            if !p.properties.subscription_identifiers.is_empty()
                && !self.faults.has(Fault::AcceptPublishSubscriptionIdentifier)
            {
                self.record_id(S::V5_3_3_4_6);
                self.protocol_error(
                    id,
                    ReasonCode::ProtocolError,
                    "PUBLISH from a client carries a Subscription Identifier",
                );
                return;
            }
            if let Some(alias) = p.properties.topic_alias {
                if p.topic.is_empty() && self.faults.has(Fault::ForgetTopicAliases) {
                    return;
                }
                let maximum = self.config.topic_alias_maximum;
                let accept_any = self.faults.has(Fault::AcceptInvalidTopicAlias);
                match conn
                    .aliases
                    .resolve(alias.get(), &p.topic, maximum, accept_any)
                {
                    Ok(t) => {
                        self.record_id(S::V5_3_3_2_12);
                        topic_name = t;
                    }
                    Err(e) => {
                        if maximum == 0 {
                            self.record_id(S::V5_3_2_2_18);
                        } else {
                            self.record_id(S::V5_3_3_2_9);
                            self.record_id(S::V5_3_2_2_17);
                        }
                        self.protocol_error(id, e.reason_code(), "invalid Topic Alias");
                        return;
                    }
                }
            }
            if p.qos() > max_qos && !self.faults.has(Fault::UnenforcedMaximumQos) {
                self.record_id(S::V5_3_2_2_11);
                self.protocol_error(
                    id,
                    ReasonCode::QoSNotSupported,
                    "QoS above the server's Maximum QoS",
                );
                return;
            }
            if p.retain
                && !self.config.retain_available
                && !self.faults.has(Fault::UnenforcedRetainAvailable)
            {
                self.record_id(S::V5_3_2_2_14);
                self.protocol_error(
                    id,
                    ReasonCode::RetainNotSupported,
                    "RETAIN used while Retain Available is 0",
                );
                return;
            }
        }
        if self.fault(Fault::NormaliseTopicNames) {
            topic_name = normalised(&topic_name);
        }
        if self.fault(Fault::HangOnMultibyteTopicStart)
            && topic_name
                .as_str()
                .as_bytes()
                .first()
                .is_some_and(|b| *b >= 0x80)
        {
            self.hung = true;
            return;
        }
        if topic::levels(&topic_name) > self.config.max_topic_levels {
            self.protocol_error(
                id,
                ReasonCode::TopicNameInvalid,
                "Topic Name has more levels than the server accepts",
            );
            return;
        }

        let packet_id = p.packet_id();
        if let (QoS::ExactlyOnce, Some(pid), Some(client)) = (p.qos(), packet_id, client.as_ref()) {
            let pending = self
                .sessions
                .get(client)
                .is_some_and(|s| s.inbound_qos2.contains(&pid));
            if pending && !self.fault(Fault::IgnoreQos2Dedup) {
                self.record(v, &[S::V5_4_3_3_10], &[S::V311_4_3_3_2]);
                let ack_id = if self.fault(Fault::WrongPacketId) {
                    pid.next()
                } else {
                    pid
                };
                self.send(id, Packet::PubRec(mqttspec_codec::PubRec::new(ack_id)));
                return;
            }
        }
        if let Some(pid) = packet_id {
            let Some(conn) = self.connections.get(&id) else {
                return;
            };
            if conn.held.iter().any(|h| h.packet_id == pid) {
                // Already waiting to be forwarded; it is acknowledged when it is.
                return;
            }
            if v.is_v5()
                && !self.faults.has(Fault::UnenforcedReceiveMaximum)
                && conn.inbound_unacknowledged() >= usize::from(self.config.receive_maximum)
            {
                self.record_id(S::V5_3_3_4_7);
                self.protocol_error(
                    id,
                    ReasonCode::ReceiveMaximumExceeded,
                    "more unacknowledged QoS 1/2 PUBLISH packets than the Receive Maximum",
                );
                return;
            }
        }

        let is_sys = topic_name.starts_with("$SYS");
        let denied = !acl::allowed(
            &self.config.acl,
            username.as_deref(),
            Access::Publish,
            &topic_name,
        ) || (is_sys && !self.config.allow_publish_to_sys);
        if denied {
            self.publish_denied(
                id,
                v,
                &p,
                ReasonCode::NotAuthorized,
                "not authorized to publish to this topic",
            );
            return;
        }
        if v.is_v5()
            && self.config.validate_payload_format
            && p.properties.payload_format_indicator == Some(PayloadFormatIndicator::Utf8)
            && std::str::from_utf8(&p.payload).is_err()
        {
            self.publish_denied(
                id,
                v,
                &p,
                ReasonCode::PayloadFormatInvalid,
                "the payload is not UTF-8 as its Payload Format Indicator says",
            );
            return;
        }

        let expires_at = p
            .properties
            .message_expiry_interval
            .map(|s| self.now.saturating_add(Duration::from_secs(u64::from(s))));
        // The message outlives the packet: it owns copies of its bytes (see `memory`).
        let message = self.charged(Message {
            topic: owned_topic(&topic_name),
            payload: if self.fault(Fault::TruncateLargePayloads) {
                owned_bytes(&p.payload.slice(..p.payload.len().min(65_535)))
            } else {
                owned_bytes(&p.payload)
            },
            qos: p.qos().min(max_qos),
            retain: p.retain && self.config.retain_available,
            dup: p.dup,
            properties: if self.fault(Fault::DropMessageProperties) {
                mqttspec_codec::PublishProperties {
                    message_expiry_interval: p.properties.message_expiry_interval,
                    ..Default::default()
                }
            } else {
                forwardable(&p.properties.to_properties())
            },
            will: false,
            delayed_will: false,
            publisher: client,
            expires_at,
            charge: Charge::default(),
        });
        self.record(
            v,
            &[
                S::V5_3_3_2_4,
                S::V5_3_3_2_15,
                S::V5_3_3_2_16,
                S::V5_3_3_2_17,
                S::V5_3_3_2_18,
                S::V5_3_3_2_20,
            ],
            &[],
        );
        if message.retain && !message.payload.is_empty() && !self.retained_room(&message) {
            // No room in the memory budget to store it: MQTT 5.0 can say so for QoS 1/2 (the
            // message is then not accepted at all); otherwise it is forwarded and not stored.
            if let (true, Some(pid)) = (v.is_v5(), packet_id) {
                self.refuse_publish(
                    id,
                    p.qos(),
                    pid,
                    ReasonCode::QuotaExceeded,
                    "retained messages exceed the memory budget",
                );
                return;
            }
        }
        match (p.qos(), packet_id) {
            (QoS::AtMostOnce, _) | (_, None) => {
                self.route(&message, false);
                self.message_accepted(&message, id);
            }
            // 3.1.1 above a Maximum QoS of 0: forwarded at QoS 0, acknowledged at its own QoS.
            (ack_qos, Some(pid)) if message.qos == QoS::AtMostOnce => {
                self.route(&message, false);
                self.message_accepted(&message, id);
                self.acknowledge(id, ack_qos, pid);
            }
            (ack_qos, Some(pid)) => self.accept_or_hold(id, message, pid, ack_qos),
        }
    }

    /// Whether storing `message` as retained fits in the memory budget (after discarding
    /// sessions disconnected longest, if need be).
    fn retained_room(&mut self, message: &Message) -> bool {
        let replaced = self
            .retained
            .get(&message.topic)
            .map_or(0, RetainedMessage::bytes);
        let stored = retained_bytes(&message.topic, &message.payload, &message.properties);
        self.make_durable_room(stored.saturating_sub(replaced), None)
    }

    /// A PUBLISH the broker does not forward (access rules, payload format). MQTT 5.0 says so
    /// in PUBACK/PUBREC; MQTT 3.1.1 acknowledges it as usual and drops it (MQTT-3.3.5-2).
    fn publish_denied(
        &mut self,
        id: ConnectionId,
        v: ProtocolVersion,
        p: &Publish,
        code: ReasonCode,
        detail: &str,
    ) {
        let Some(pid) = p.packet_id() else {
            return;
        };
        if v.is_v5() {
            self.refuse_publish(id, p.qos(), pid, code, detail);
        } else if !self.fault(Fault::SilentPublishDenial) {
            self.record_id(S::V311_3_3_5_2);
            self.acknowledge(id, p.qos(), pid);
        }
    }

    /// The broker took ownership of `message` (it is queued for every subscriber): store it
    /// as retained if RETAIN is set.
    pub(super) fn message_accepted(&mut self, message: &Message, id: ConnectionId) {
        let v = self
            .connections
            .get(&id)
            .map_or(ProtocolVersion::V5, |c| c.version_or_v5());
        if message.retain || self.fault(Fault::RetainZeroReplaces) {
            self.store_retained(message, v);
        } else {
            // RETAIN 0 neither stores nor touches the retained message (MQTT-3.3.1-8 in 5.0,
            // MQTT-3.3.1-12 in 3.1.1).
            self.record(v, &[S::V5_3_3_1_8], &[S::V311_3_3_1_12]);
        }
    }

    /// Stores (or, for an empty payload, clears) the retained message of the topic
    /// (MQTT-3.3.1-5, -6, -7 in 5.0; MQTT-3.3.1-5, -7, -10, -11 in 3.1.1).
    pub(super) fn store_retained(&mut self, message: &Message, v: ProtocolVersion) {
        if message.payload.is_empty() {
            if self.fault(Fault::NoRetainedClear) {
                return;
            }
            self.record(
                v,
                &[S::V5_3_3_1_6, S::V5_3_3_1_7],
                &[S::V311_3_3_1_10, S::V311_3_3_1_11],
            );
            self.retained.clear(&message.topic);
            return;
        }
        self.record(v, &[S::V5_3_3_1_5], &[S::V311_3_3_1_5, S::V311_3_3_1_7]);
        if !self.retained_room(message) {
            tracing::warn!(topic = %message.topic, "retained message not stored: memory budget exhausted");
            return;
        }
        let remaining = message.remaining_expiry(self.now);
        let mut properties = message.properties.clone();
        properties.message_expiry_interval = remaining;
        let stored = RetainedMessage::new(
            message.topic.clone(),
            message.payload.clone(),
            message.qos,
            properties,
            self.now,
        );
        if let Err(e) = self.retained.set(stored) {
            tracing::warn!(topic = %message.topic, error = %e, "retained message not stored");
        }
    }

    /// PUBREL from the client: release the QoS 2 Packet Identifier and answer PUBCOMP
    /// (MQTT-4.3.3-11 in 5.0, MQTT-4.3.3-2 in 3.1.1); an unknown one gets PUBCOMP 0x92 in 5.0.
    pub(super) fn handle_pubrel(&mut self, id: ConnectionId, rel: PubRel) {
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        let v = conn.version_or_v5();
        conn.inbound_qos2_here.remove(&rel.packet_id);
        let client = conn.client_id.clone();
        let now = self.now;
        let expire = self.fault(Fault::ExpireReceivedQos2);
        let known = client
            .and_then(|c| self.sessions.get_mut(&c))
            .is_some_and(|s| {
                // Fault: the message expired while its PUBREL was awaited, and went with
                // its Packet Identifier.
                let expired = s
                    .inbound_qos2_expiry
                    .remove(&rel.packet_id)
                    .is_some_and(|at| expire && at <= now);
                s.inbound_qos2.remove(&rel.packet_id) && !expired
            });
        let mut comp = PubComp::new(rel.packet_id);
        if known {
            self.record(v, &[S::V5_4_3_3_11, S::V5_4_3_3_12], &[S::V311_4_3_3_2]);
        } else if v.is_v5() {
            comp.reason_code = ReasonCode::PacketIdentifierNotFound;
            comp.properties.reason_string =
                self.reason_string("no QoS 2 message awaits PUBREL with this Packet Identifier");
        }
        if !known && self.fault(Fault::IgnoreUnknownPubrel) {
            return;
        }
        self.send(id, Packet::PubComp(comp));
    }
}
