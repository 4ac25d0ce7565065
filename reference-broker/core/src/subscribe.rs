//! SUBSCRIBE and UNSUBSCRIBE.
//!
//! A SUBSCRIBE is handled filter by filter as if each came alone, with one SUBACK carrying a
//! reason code per filter in order (MQTT-3.8.4-5, -6, -7, MQTT-3.9.3-1 in 5.0; MQTT-3.8.4-4,
//! -5, MQTT-3.9.3-1 in 3.1.1). The QoS granted is the requested one limited by the server's
//! Maximum QoS; every requested QoS is accepted (MQTT-3.2.2-10). A filter is refused (SUBACK
//! 0x87 / 0x8F / 0x97 in 5.0, 0x80 in 3.1.1) when an access rule denies it, when it has more
//! levels than `max_topic_levels`, or when the session already has
//! `max_subscriptions_per_session` subscriptions. In MQTT 5.0, shared, wildcard or identified
//! subscriptions sent to a server that announced it does not support them are protocol errors
//! (DISCONNECT 0x9E, 0xA2, 0xA1, 3.2.2.3.11-13); a 3.1.1 wildcard filter then gets 0x80
//! (MQTT-3.8.3-2 of 3.1.1).
//!
//! Subscribing again to the same filter replaces the subscription (MQTT-3.8.4-3). Retained
//! messages are sent after the SUBACK according to Retain Handling (MQTT-3.3.1-9, -10, -11;
//! always in 3.1.1, MQTT-3.3.1-6 and MQTT-3.8.4-3 there), with RETAIN 1, never for shared
//! subscriptions (4.8.2).

use std::sync::Arc;

use mqttspec_codec::{
    AckProperties, Packet, ProtocolVersion, QoS, ReasonCode, RetainHandling, StatementId as S,
    SubAck, Subscribe, TopicFilter, UnsubAck, Unsubscribe,
};

use super::acl::{self, Access};
use super::delivery::Room;
use super::fault::Fault;
use super::memory::{subscription_bytes, Charge};
use super::message::Message;
use super::path::{Family, Path};
use super::publish::maximum_qos;
use super::session::OutgoingState;
use super::topic;
use super::{Broker, ConnectionId};

/// The SUBACK code for a granted QoS.
fn granted_code(qos: QoS) -> ReasonCode {
    match qos {
        QoS::AtMostOnce => ReasonCode::Success,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}

/// A subscription that was made and may get retained messages.
#[derive(Debug)]
struct Made {
    filter: TopicFilter,
    qos: QoS,
    identifier: Option<std::num::NonZeroU32>,
}

impl Broker {
    /// SUBSCRIBE from a connected client (see the module docs).
    pub(super) fn handle_subscribe(&mut self, id: ConnectionId, s: Subscribe) {
        let Some(conn) = self.connections.get(&id) else {
            return;
        };
        let v = conn.version_or_v5();
        let username = conn.username.clone();
        let Some(client) = conn.client_id.clone() else {
            return;
        };
        if v.is_v5() {
            if let Some(code) = self.unsupported_feature(&s) {
                self.protocol_error(
                    id,
                    code,
                    "SUBSCRIBE uses a feature the server does not offer",
                );
                return;
            }
        }
        let identifier = s.properties.subscription_identifiers.first().copied();
        let max_qos = maximum_qos(self.config.maximum_qos);
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut made: Vec<Made> = Vec::new();
        for (filter, options) in &s.filters {
            let shared = v.is_v5() && filter.shared_parts().is_some();
            let refusal = if topic::levels(filter) > self.config.max_topic_levels {
                Some(ReasonCode::TopicFilterInvalid)
            } else if !v.is_v5()
                && filter.has_wildcards()
                && !self.config.wildcard_subscription_available
            {
                self.record_id(S::V311_3_8_3_2);
                Some(ReasonCode::WildcardSubscriptionsNotSupported)
            } else if !v.is_v5()
                && filter.contains('+')
                && self.fault(Fault::RefusePlusWildcardOnly)
            {
                Some(ReasonCode::WildcardSubscriptionsNotSupported)
            } else if !acl::allowed(
                &self.config.acl,
                username.as_deref(),
                Access::Subscribe,
                filter,
            ) {
                Some(ReasonCode::NotAuthorized)
            } else if self.subscriptions.get(&client, filter).is_none()
                && self.subscriptions.client_count(&client)
                    >= self.config.max_subscriptions_per_session
            {
                Some(ReasonCode::QuotaExceeded)
            } else if self.subscriptions.get(&client, filter).is_none()
                && !self.make_durable_room(subscription_bytes(filter, &client), Some(&client))
            {
                // No room in the memory budget (`memory`).
                Some(ReasonCode::QuotaExceeded)
            } else {
                None
            };
            if let Some(code) = refusal {
                codes.push(if v.is_v5() {
                    code
                } else {
                    ReasonCode::UnspecifiedError
                });
                continue;
            }
            let granted = options.qos.min(max_qos);
            let mut opts = *options;
            opts.qos = granted;
            let existed = if self.fault(Fault::KeepOldSubscription)
                && self.subscriptions.get(&client, filter).is_some()
            {
                true
            } else if v.is_v5() {
                self.subscriptions
                    .subscribe(&client, filter, opts, identifier)
            } else {
                self.subscriptions
                    .subscribe_non_shared(&client, filter, opts, None)
            };
            if existed {
                self.record(v, &[S::V5_3_8_4_3], &[S::V311_3_8_4_3]);
            }
            if max_qos < QoS::ExactlyOnce {
                self.record(v, &[S::V5_3_2_2_10], &[]);
            }
            codes.push(granted_code(granted));
            let shared = shared && !self.fault(Fault::RetainedToShared);
            if shared || self.fault(Fault::NoRetainDelivery) {
                continue;
            }
            let handling = if self.fault(Fault::IgnoreRetainHandling) {
                RetainHandling::SendOnSubscribe
            } else {
                options.retain_handling
            };
            let send = match handling {
                RetainHandling::SendOnSubscribe => {
                    self.record(v, &[S::V5_3_3_1_9, S::V5_3_8_4_4], &[S::V311_3_3_1_6]);
                    true
                }
                RetainHandling::SendIfNew => {
                    self.record_id(S::V5_3_3_1_10);
                    !existed
                }
                RetainHandling::DoNotSend => {
                    self.record_id(S::V5_3_3_1_11);
                    false
                }
            };
            if send {
                made.push(Made {
                    filter: filter.clone(),
                    qos: granted,
                    identifier,
                });
            }
        }
        self.record(
            v,
            &[
                S::V5_3_8_4_1,
                S::V5_3_8_4_2,
                S::V5_3_8_4_5,
                S::V5_3_8_4_6,
                S::V5_3_8_4_7,
                S::V5_3_9_3_1,
                S::V5_3_9_3_2,
                S::V5_2_2_1_6,
            ],
            &[
                S::V311_3_8_4_1,
                S::V311_3_8_4_2,
                S::V311_3_8_4_4,
                S::V311_3_8_4_5,
                S::V311_3_9_3_1,
                S::V311_3_9_3_2,
                S::V311_2_3_1_7,
            ],
        );
        let mut properties = AckProperties::default();
        if v.is_v5() && codes.iter().any(|c| c.is_error()) {
            properties.reason_string =
                self.reason_string("one or more topic filters of this SUBSCRIBE were refused");
        }
        self.send(
            id,
            Packet::SubAck(SubAck {
                packet_id: if self.fault(Fault::WrongSubscribeAckId) {
                    s.packet_id.next()
                } else {
                    s.packet_id
                },
                properties: properties.into(),
                reason_codes: codes,
            }),
        );
        if !made.is_empty() {
            self.send_retained(&client, v, made);
        }
    }

    /// The DISCONNECT reason code for a SUBSCRIBE using a capability the server announced as
    /// absent (MQTT 5.0), if any.
    fn unsupported_feature(&self, s: &Subscribe) -> Option<ReasonCode> {
        if !s.properties.subscription_identifiers.is_empty()
            && !self.config.subscription_identifier_available
        {
            return Some(ReasonCode::SubscriptionIdentifiersNotSupported);
        }
        for (filter, _) in &s.filters {
            if filter.shared_parts().is_some()
                && !self.config.shared_subscription_available
                && !self.fault(Fault::UnenforcedSharedSubscriptionAvailable)
            {
                return Some(ReasonCode::SharedSubscriptionsNotSupported);
            }
            if filter.has_wildcards() && !self.config.wildcard_subscription_available {
                return Some(ReasonCode::WildcardSubscriptionsNotSupported);
            }
        }
        None
    }

    /// Queues the retained messages matching new subscriptions, RETAIN 1, at the lower of
    /// their QoS and the granted one (MQTT-3.3.1-8 in 3.1.1), then sends what can be sent.
    fn send_retained(&mut self, client: &Arc<str>, v: ProtocolVersion, made: Vec<Made>) {
        self.retained.remove_expired(self.now);
        let mut deliveries = Vec::new();
        for m in &made {
            // A Shared Subscription only gets here under the `retained-to-shared` fault.
            let inner = match m.filter.shared_parts() {
                Some((_, f)) if v.is_v5() => f,
                _ => m.filter.as_str(),
            };
            for r in self.retained.matching(inner) {
                let message = self.charged(Message {
                    topic: r.topic.clone(),
                    payload: r.payload.clone(),
                    qos: r.qos,
                    retain: true,
                    // Only the `dup-on-retained` fault marks a first delivery as a resend.
                    dup: self.path_fault(Family::Dup, Path::Retained),
                    properties: r.properties.clone(),
                    will: false,
                    delayed_will: false,
                    publisher: None,
                    expires_at: r.expires_at(),
                    charge: Charge::default(),
                });
                let qos = if self.fault(Fault::NoQosDowngrade) {
                    r.qos
                } else {
                    r.qos.min(m.qos)
                };
                let ids = if self.fault(Fault::NoSubscriptionIdentifiers) {
                    Vec::new()
                } else {
                    m.identifier.into_iter().collect()
                };
                let mut d = self.delivery(Arc::clone(&message), qos, true, ids);
                self.bend_for_path(&message, Path::Retained, &mut d);
                deliveries.push(d);
            }
        }
        if !deliveries.is_empty() {
            self.record(v, &[], &[S::V311_3_3_1_8]);
        }
        for d in deliveries {
            if self.room(client, d.qos, 0) != Room::Yes {
                tracing::debug!(client = %client, "queue full: retained message not sent");
                continue;
            }
            if let Some(session) = self.sessions.get_mut(client) {
                session.queue.push_back(d);
            }
        }
        self.pump(client);
    }

    /// UNSUBSCRIBE from a connected client: each filter is compared literally with the
    /// session's subscriptions and removed if equal (MQTT-3.10.4-1); one UNSUBACK answers the
    /// packet even when nothing was removed (MQTT-3.10.4-4, -5, -6). Messages already queued or
    /// in flight are still delivered (MQTT-3.10.4-3).
    pub(super) fn handle_unsubscribe(&mut self, id: ConnectionId, u: Unsubscribe) {
        let Some(conn) = self.connections.get(&id) else {
            return;
        };
        let v = conn.version_or_v5();
        let Some(client) = conn.client_id.clone() else {
            return;
        };
        let mut codes = Vec::with_capacity(u.filters.len());
        for filter in &u.filters {
            let existed = if self.fault(Fault::NoUnsubscribe) {
                true
            } else {
                self.subscriptions.unsubscribe(&client, filter)
            };
            if existed && self.fault(Fault::UnsubscribeDropsInflight) {
                self.drop_inflight_matching(&client, filter.as_str());
            }
            codes.push(if existed {
                ReasonCode::Success
            } else {
                ReasonCode::NoSubscriptionExisted
            });
        }
        self.record(
            v,
            &[
                S::V5_3_10_4_1,
                S::V5_3_10_4_2,
                S::V5_3_10_4_4,
                S::V5_3_10_4_5,
                S::V5_3_10_4_6,
                S::V5_3_11_3_1,
                S::V5_3_11_3_2,
            ],
            &[
                S::V311_3_10_4_1,
                S::V311_3_10_4_2,
                S::V311_3_10_4_4,
                S::V311_3_10_4_5,
                S::V311_3_10_4_6,
            ],
        );
        if !v.is_v5() {
            codes.clear();
        }
        let mut properties = AckProperties::default();
        if codes.contains(&ReasonCode::NoSubscriptionExisted) {
            properties.reason_string =
                self.reason_string("no subscription existed for one or more topic filters");
        }
        self.send(
            id,
            Packet::UnsubAck(UnsubAck {
                packet_id: if self.fault(Fault::WrongSubscribeAckId) {
                    u.packet_id.next()
                } else {
                    u.packet_id
                },
                properties: properties.into(),
                reason_codes: codes,
            }),
        );
    }

    /// Fault `unsubscribe-drops-inflight`: forgets the QoS 1/2 messages of `client` in flight
    /// (sent, not yet acknowledged) whose topic `filter` matches, as if the UNSUBSCRIBE had
    /// ended their delivery.
    fn drop_inflight_matching(&mut self, client: &Arc<str>, filter: &str) {
        let Some(session) = self.sessions.get_mut(client) else {
            return;
        };
        let ids: Vec<_> = session
            .inflight
            .iter()
            .filter(|e| e.state != OutgoingState::Released)
            .filter(|e| topic::matches(filter, &e.delivery.message.topic))
            .map(|e| e.packet_id)
            .collect();
        for id in ids {
            session.inflight.remove(id);
        }
    }
}
