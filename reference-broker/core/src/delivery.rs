//! Routing accepted messages to subscribers, the per-session queues, and the QoS 1/2 flows
//! from the server to its clients.
//!
//! # Routing
//!
//! [`Broker::route`] finds the matching subscriptions and makes one [`Delivery`] per
//! receiving session: for one client's overlapping non-shared subscriptions a single copy at
//! the highest QoS granted with all their Subscription Identifiers (MQTT-3.3.4-2, -3, -4), or
//! one copy per subscription when `overlapping_deliver_each` is set (MQTT-3.3.4-5); for each
//! shared subscription one member, chosen round robin (4.8.2). The QoS is the published one
//! limited by the granted one (MQTT-3.8.4-8); RETAIN is cleared unless Retain As Published
//! (MQTT-3.3.1-12, -13); No Local skips the publisher's own subscriptions (MQTT-3.8.3-3).
//! Routing is all or nothing: if one QoS 1/2 copy cannot be queued and may be held for, the
//! message is left with the caller (see `flow_control`), so it is acknowledged only once it is
//! in every subscriber's session (MQTT-4.5.0-1).
//!
//! # Sending
//!
//! [`Broker::pump`] moves a connected session's queue onto the wire: first the PUBLISH
//! packets of messages in flight that were not sent on this connection (a resumed session,
//! DUP 1, same Packet Identifier, MQTT-4.4.0-1), then queued messages in order (MQTT-4.6.0-5,
//! -6), each QoS 1/2 one with a fresh Packet Identifier (MQTT-2.2.1-4) and DUP 0. It stops at
//! the client's Receive Maximum (MQTT-3.3.4-9, MQTT-4.9.0-2) and when the caller has too many
//! unflushed bytes; messages whose expiry passed while queued are dropped (MQTT-3.3.2-5) and the
//! others carry the interval left (MQTT-3.3.2-6).

use std::collections::BTreeMap;
use std::sync::Arc;

use mqttspec_codec::{
    Packet, PacketId, PubAck, PubComp, PubRec, PubRel, QoS, ReasonCode, StatementId as S,
};

use super::fault::Fault;
use super::message::{Delivery, Message, Shape, Tamper};
use super::outbound::Sent;
use super::path::{Family, Path};
use super::session::{InflightEntry, OutgoingState};
use super::subscriptions::Subscription;
use super::{Broker, ConnectionId};

/// How many shared-subscription rotation positions are remembered before they are reset.
const MAX_SHARED_CURSORS: usize = 65_536;

/// Whether a session can take one more message of some QoS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Room {
    /// It can.
    Yes,
    /// Its copy is dropped (QoS 0 and full or offline, or an offline session that is full).
    Drop,
    /// A QoS 1/2 copy that must not be dropped: the publisher has to wait.
    Hold,
}

/// One copy for one session.
#[derive(Debug)]
struct Target {
    client: Arc<str>,
    delivery: Delivery,
}

impl Broker {
    /// Routes `message` to every matching subscription (see the module docs). Returns
    /// `false`, having changed nothing, when a copy would have to be held for and `allow_hold`
    /// is set; without `allow_hold` such copies are dropped instead.
    pub(super) fn route(&mut self, message: &Arc<Message>, allow_hold: bool) -> bool {
        let mut matches = self.subscriptions.matches(&message.topic);
        if self.fault(Fault::HashExcludesParent) {
            let topic = message.topic.as_str();
            matches
                .direct
                .retain(|s| s.filter.as_str().strip_suffix("/#") != Some(topic));
        }
        if self.fault(Fault::PlusSkipsEmptyLevels) {
            let topic = message.topic.as_str();
            matches.direct.retain(|s| {
                !s.filter
                    .split('/')
                    .zip(topic.split('/'))
                    .any(|(f, t)| f == "+" && t.is_empty())
            });
        }
        if self.fault(Fault::MatchDollarTopics) {
            if let Some(rest) = message.topic.as_str().strip_prefix('$') {
                // No Topic Filter level can hold U+0000: only leading wildcards match this.
                let more = self.subscriptions.matches(&format!("\u{0}{rest}"));
                matches.direct.extend(more.direct);
                matches
                    .direct
                    .sort_by(|a, b| (&a.client_id, &a.filter).cmp(&(&b.client_id, &b.filter)));
            }
        }
        let mut targets: Vec<Target> = Vec::new();
        for subs in matches.direct.chunk_by(|a, b| a.client_id == b.client_id) {
            self.plan_direct(message, subs, &mut targets);
        }
        for t in &mut targets {
            let path = self.path_of(message, &t.client, false);
            self.bend_for_path(message, path, &mut t.delivery);
        }
        let mut cursor_updates: Vec<(String, usize)> = Vec::new();
        let mut pending: BTreeMap<Arc<str>, usize> = BTreeMap::new();
        for t in &targets {
            *pending.entry(Arc::clone(&t.client)).or_default() += 1;
        }
        let groups = if self.fault(Fault::SharedFirstGroupOnly) {
            1
        } else {
            usize::MAX
        };
        for group in matches.shared.iter().take(groups) {
            if self.fault(Fault::SharedDeliverAll) {
                for member in &group.members {
                    let mut target = self.delivery_for(message, member);
                    let path = self.path_of(message, &target.client, true);
                    self.bend_for_path(message, path, &mut target.delivery);
                    targets.push(target);
                }
                continue;
            }
            let lost = self.fault(Fault::SharedDropAlternate)
                && self
                    .shared_cursors
                    .get(group.filter.as_str())
                    .copied()
                    .unwrap_or(0)
                    % 2
                    == 1;
            let chosen =
                self.choose_shared_member(message, &group.members, &group.filter, &pending);
            if let Some((index, mut target)) = chosen {
                let path = self.path_of(message, &target.client, true);
                self.bend_for_path(message, path, &mut target.delivery);
                cursor_updates.push((group.filter.as_str().to_owned(), index + 1));
                if !lost {
                    *pending.entry(Arc::clone(&target.client)).or_default() += 1;
                    targets.push(target);
                }
            }
        }

        // Check room for every copy before queueing any.
        let mut extra: BTreeMap<Arc<str>, usize> = BTreeMap::new();
        let mut accepted: Vec<Target> = Vec::with_capacity(targets.len());
        for t in targets {
            let already = extra.get(&t.client).copied().unwrap_or(0);
            let mut room = self.room(&t.client, t.delivery.qos, already);
            if room != Room::Yes
                && self.is_online(&t.client)
                && !self.memory_fits(0)
                && self.make_room(0, Some(&t.client))
            {
                // A connected subscriber comes before the sessions disconnected longest
                // (`memory`); an offline one just has its copy dropped.
                room = self.room(&t.client, t.delivery.qos, already);
            }
            match room {
                Room::Yes => {
                    *extra.entry(Arc::clone(&t.client)).or_default() += 1;
                    accepted.push(t);
                }
                Room::Drop => {
                    tracing::debug!(client = %t.client, topic = %message.topic, "queue full or offline: copy dropped");
                }
                Room::Hold if allow_hold => return false,
                Room::Hold => {
                    tracing::debug!(client = %t.client, topic = %message.topic, "queue full: copy dropped (not held)");
                }
            }
        }
        if self.shared_cursors.len() > MAX_SHARED_CURSORS {
            // Groups come and go; forgetting the positions only restarts their rotation.
            self.shared_cursors.clear();
        }
        for (filter, next) in cursor_updates {
            self.shared_cursors.insert(filter, next);
        }
        if !matches.shared.is_empty() {
            self.record_id(S::V5_4_8_2_3);
        }
        let mut touched: Vec<Arc<str>> = Vec::new();
        for t in accepted {
            let v = self
                .sessions
                .get(&t.client)
                .and_then(|s| s.connection)
                .and_then(|c| self.connections.get(&c))
                .and_then(|c| c.version);
            if let Some(v) = v {
                self.record(
                    v,
                    &[S::V5_4_5_0_1, S::V5_3_3_2_3],
                    &[S::V311_4_5_0_1, S::V311_3_3_2_3],
                );
            }
            if let Some(session) = self.sessions.get_mut(&t.client) {
                session.queue.push_back(t.delivery);
                if !touched.contains(&t.client) {
                    touched.push(t.client);
                }
            }
        }
        for client in touched {
            self.pump(&client);
        }
        true
    }

    /// The copies for one client's matching non-shared subscriptions (all for the same
    /// client, adjacent in the match list).
    fn plan_direct(&self, message: &Arc<Message>, subs: &[Subscription], out: &mut Vec<Target>) {
        let ignore_no_local = self.fault(Fault::IgnoreNoLocal);
        let usable: Vec<&Subscription> = subs
            .iter()
            .filter(|s| {
                let own = message.publisher.as_deref() == Some(&*s.client_id);
                !(s.options.no_local && own && !ignore_no_local)
            })
            .collect();
        let Some(first) = usable.first() else {
            return;
        };
        if self.config.overlapping_deliver_each {
            for s in usable {
                out.push(self.delivery_for(message, s));
            }
            return;
        }
        let lowest = self.fault(Fault::OverlappingLowestQos);
        let mut qos = if lowest {
            QoS::ExactlyOnce
        } else {
            QoS::AtMostOnce
        };
        let mut retain = false;
        let mut ids = Vec::new();
        for s in &usable {
            let granted = self.granted(message.qos, s.options.qos);
            qos = if lowest {
                qos.min(granted)
            } else {
                qos.max(granted)
            };
            retain |= self.forwarded_retain(message, s);
            ids.extend(s.identifier);
        }
        if self.fault(Fault::NoSubscriptionIdentifiers) {
            ids.clear();
        }
        out.push(Target {
            client: Arc::clone(&first.client_id),
            delivery: self.delivery(Arc::clone(message), qos, retain, ids),
        });
    }

    /// What the faults of the copy's `path` (see [`Family::on`]) do to it: its properties
    /// stripped or added to (a Will's are bent where it is published), the incoming DUP kept,
    /// RETAIN kept without Retain As Published or dropped with it, the published QoS kept
    /// above the granted one, the client's Maximum Packet Size, Receive Maximum or Topic
    /// Alias Maximum ignored, an old connection's Topic Alias used, the User Properties
    /// reversed, the Subscription Identifiers left out, the Message Expiry Interval sent as
    /// received.
    pub(super) fn bend_for_path(&self, message: &Message, path: Path, delivery: &mut Delivery) {
        let on = |family: Family| self.path_fault(family, path);
        if !path.is_will() {
            delivery.tamper =
                Tamper::of_faults(on(Family::StripProperties), on(Family::AddProperties));
        }
        // A retained message or a Will has no DUP of its own: the fault of its path sets the
        // message's, and it is sent.
        delivery.keep_dup = on(Family::Dup);
        // RETAIN is 1 on a forwarded copy only through Retain As Published.
        if on(Family::IgnoreRetainAsPublished) {
            delivery.retain = false;
        }
        if on(Family::RetainFlagOnForward) {
            delivery.retain = message.retain;
        }
        if on(Family::NoQosDowngrade) {
            delivery.qos = message.qos;
        }
        delivery.oversize = on(Family::IgnoreMaximumPacketSize);
        delivery.beyond_quota = on(Family::IgnoreReceiveMaximum);
        delivery.alias = on(Family::SendTopicAliases);
        delivery.stale_alias = on(Family::TopicAliasFromOldConnection);
        delivery.reverse_user_properties = on(Family::ReverseUserProperties);
        delivery.keep_expiry = on(Family::NoMessageExpiry);
        if on(Family::NoSubscriptionIdentifiers) {
            delivery.subscription_identifiers.clear();
        }
    }

    /// The path of a copy of a routed `message` for `client`, through a Shared Subscription
    /// or not.
    fn path_of(&self, message: &Message, client: &str, shared: bool) -> Path {
        Path::of_routed(
            message.will,
            message.delayed_will,
            shared,
            self.is_online(client),
        )
    }

    /// The copy of `message` for one subscription.
    fn delivery_for(&self, message: &Arc<Message>, s: &Subscription) -> Target {
        let mut ids: Vec<_> = s.identifier.into_iter().collect();
        if self.fault(Fault::NoSubscriptionIdentifiers) {
            ids.clear();
        }
        Target {
            client: Arc::clone(&s.client_id),
            delivery: self.delivery(
                Arc::clone(message),
                self.granted(message.qos, s.options.qos),
                self.forwarded_retain(message, s),
                ids,
            ),
        }
    }

    /// The QoS a message published at `published` is delivered with on a subscription
    /// granted `granted` (MQTT-3.8.4-8 in 5.0, MQTT-3.8.4-6 in 3.1.1).
    fn granted(&self, published: QoS, granted: QoS) -> QoS {
        if self.fault(Fault::NoQosDowngrade) {
            published
        } else {
            published.min(granted)
        }
    }

    /// The RETAIN flag of a copy sent on an established subscription: the published flag
    /// with Retain As Published, else 0 (MQTT-3.3.1-12, -13 in 5.0; MQTT-3.3.1-9 in 3.1.1).
    fn forwarded_retain(&self, message: &Message, s: &Subscription) -> bool {
        let as_published =
            s.options.retain_as_published && !self.fault(Fault::IgnoreRetainAsPublished);
        message.retain && (as_published || self.fault(Fault::RetainFlagOnForward))
    }

    /// Chooses the member of a shared subscription that gets `message`: round robin from the
    /// group's cursor, preferring connected members with room, then any member with room,
    /// then (so the publisher can be held) a member that must be waited for.
    fn choose_shared_member(
        &self,
        message: &Arc<Message>,
        members: &[Subscription],
        filter: &mqttspec_codec::TopicFilter,
        pending: &BTreeMap<Arc<str>, usize>,
    ) -> Option<(usize, Target)> {
        let n = members.len();
        if n == 0 {
            return None;
        }
        let cursor = self
            .shared_cursors
            .get(filter.as_str())
            .copied()
            .unwrap_or(0)
            % n;
        let order: Vec<usize> = (0..n).map(|i| (cursor + i) % n).collect();
        let room_of = |i: usize| {
            let Some(m) = members.get(i) else {
                return (Room::Drop, false);
            };
            let qos = self.granted(message.qos, m.options.qos);
            let already = pending.get(&m.client_id).copied().unwrap_or(0);
            (
                self.room(&m.client_id, qos, already),
                self.is_online(&m.client_id),
            )
        };
        let pick = order
            .iter()
            .copied()
            .find(|&i| room_of(i) == (Room::Yes, true))
            .or_else(|| order.iter().copied().find(|&i| room_of(i).0 == Room::Yes))
            .or_else(|| order.iter().copied().find(|&i| room_of(i).0 == Room::Hold))?;
        let member = members.get(pick)?;
        Some((pick, self.delivery_for(message, member)))
    }

    /// Whether the session of `client` is attached to a connection.
    pub(super) fn is_online(&self, client: &str) -> bool {
        self.sessions
            .get(client)
            .is_some_and(|s| s.connection.is_some())
    }

    /// Whether `client`'s session can queue one more copy at `qos`, counting `already` copies
    /// planned for it in the same routing.
    pub(super) fn room(&self, client: &str, qos: QoS, already: usize) -> Room {
        let Some(session) = self.sessions.get(client) else {
            return Room::Drop;
        };
        let online = session.connection.is_some();
        if !online && qos == QoS::AtMostOnce && !self.config.queue_qos0_offline {
            return Room::Drop;
        }
        // The planned copies are already charged: room means still within the budget.
        if session.queue.len() + already < self.config.max_queued_messages && self.memory_fits(0) {
            return Room::Yes;
        }
        match (qos, online) {
            (QoS::AtMostOnce, _) => Room::Drop,
            (_, true) => Room::Hold,
            (_, false) if self.config.hold_publishers_for_offline_sessions => Room::Hold,
            (_, false) => Room::Drop,
        }
    }

    /// How many QoS 1/2 PUBLISH packets may await acknowledgement on this connection.
    fn send_window(&self, conn: ConnectionId) -> usize {
        if self.fault(Fault::IgnoreReceiveMaximum) {
            return usize::MAX;
        }
        let client = self
            .connections
            .get(&conn)
            .map_or(u16::MAX, |c| c.limits.receive_maximum);
        usize::from(client.min(self.config.max_inflight_messages))
    }

    /// Sends what can be sent of a connected session's backlog (see the module docs).
    pub(super) fn pump(&mut self, client: &Arc<str>) {
        let Some(conn_id) = self.sessions.get(client).and_then(|s| s.connection) else {
            return;
        };
        let Some(conn) = self.connections.get(&conn_id) else {
            return;
        };
        if !conn.is_connected() {
            return;
        }
        let Some(version) = conn.version else {
            return;
        };
        let aliases_accepted = conn.limits.topic_alias_maximum > 0;
        let window = self.send_window(conn_id);
        let newest_first = self.fault(Fault::ReorderQueuedMessages);
        let reuse_packet_id = self.fault(Fault::ReusePacketId);
        let forget_sent = self.fault(Fault::ForgetSentPublish);
        let shape = Shape {
            version,
            now: self.now,
            keep_expiry: self.fault(Fault::NoMessageExpiry),
            forward_dup: self.fault(Fault::ForwardDup),
            reverse_user_properties: self.fault(Fault::ReverseUserProperties),
            aliases_accepted,
        };
        let Some(session) = self.sessions.get(client) else {
            return;
        };
        let mut used = session.inflight.counted();
        let resend: Vec<PacketId> = if session.inflight.any_not_sent_here() {
            session
                .inflight
                .iter()
                .filter(|e| !e.sent_here && e.state != OutgoingState::Released)
                .map(|e| e.packet_id)
                .collect()
        } else {
            Vec::new()
        };

        // Retransmissions of a resumed session come first, in their original order.
        for id in resend {
            if used >= window || !self.may_send_publish(conn_id) {
                return;
            }
            let Some(entry) = self
                .sessions
                .get_mut(client)
                .and_then(|s| s.inflight.get_mut(id))
            else {
                continue;
            };
            let publish = entry.delivery.to_publish(Some(id), true, shape);
            let oversize = entry.delivery.oversize;
            self.record(
                version,
                &[S::V5_3_3_1_1, S::V5_4_4_0_1],
                &[S::V311_3_3_1_1, S::V311_4_4_0_1, S::V311_2_3_1_3],
            );
            match self.send_sized(conn_id, Packet::Publish(publish), oversize) {
                Sent::Yes => {
                    if let Some(s) = self.sessions.get_mut(client) {
                        s.inflight.mark_sent_here(id);
                    }
                    used += 1;
                }
                Sent::TooLarge | Sent::No => {
                    // Counts as delivered (MQTT-3.1.2-25).
                    if let Some(s) = self.sessions.get_mut(client) {
                        s.inflight.remove(id);
                    }
                }
            }
        }

        // Then queued messages, oldest first.
        loop {
            if !self.may_send_publish(conn_id) {
                return;
            }
            let Some(session) = self.sessions.get_mut(client) else {
                return;
            };
            let front = if newest_first {
                session.queue.back()
            } else {
                session.queue.front()
            };
            let Some(front) = front else {
                return;
            };
            if front.message.is_expired(self.now) && !shape.keep_expiry {
                if newest_first {
                    session.queue.pop_back();
                } else {
                    session.queue.pop_front();
                }
                self.queues_drained = true;
                self.record_id(S::V5_3_3_2_5);
                continue;
            }
            let qos = front.qos;
            if qos != QoS::AtMostOnce && used >= window && !front.beyond_quota {
                self.record(version, &[S::V5_3_3_4_9, S::V5_4_9_0_2], &[]);
                return;
            }
            let packet_id = if qos == QoS::AtMostOnce {
                None
            } else {
                let allocated = if reuse_packet_id {
                    PacketId::new(1)
                } else {
                    session.allocate_packet_id()
                };
                match allocated {
                    Some(id) => Some(id),
                    None => return,
                }
            };
            let delivery = if newest_first {
                session.queue.pop_back()
            } else {
                session.queue.pop_front()
            };
            let Some(delivery) = delivery else {
                return;
            };
            self.queues_drained = true;
            let publish = delivery.to_publish(packet_id, false, shape);
            if publish.properties.message_expiry_interval.is_some() {
                self.record_id(S::V5_3_3_2_6);
            }
            self.record(
                version,
                &[S::V5_3_3_1_3, S::V5_2_2_1_4],
                &[S::V311_3_3_1_3, S::V311_2_3_1_4],
            );
            let sent = self.send_sized(conn_id, Packet::Publish(publish), delivery.oversize);
            if let (Sent::Yes, Some(packet_id)) = (sent, packet_id) {
                if forget_sent {
                    continue;
                }
                let state = if qos == QoS::ExactlyOnce {
                    OutgoingState::Qos2Sent
                } else {
                    OutgoingState::Qos1Sent
                };
                if let Some(s) = self.sessions.get_mut(client) {
                    s.inflight.push(InflightEntry {
                        packet_id,
                        delivery,
                        state,
                        sent_here: true,
                    });
                }
                used += 1;
            }
        }
    }

    /// Whether the caller can take more PUBLISH packets on this connection (unflushed bytes).
    fn may_send_publish(&self, conn: ConnectionId) -> bool {
        self.connections
            .get(&conn)
            .is_some_and(|c| c.unflushed < self.config.max_unflushed_bytes)
    }

    /// The client's session, if this connection is attached to it.
    fn attached_session(&self, conn: ConnectionId) -> Option<Arc<str>> {
        let c = self.connections.get(&conn)?;
        let client = c.client_id.clone()?;
        let session = self.sessions.get(&client)?;
        (session.connection == Some(conn)).then_some(client)
    }

    /// PUBACK from the client: the QoS 1 message is delivered (MQTT-4.3.2-3).
    pub(super) fn handle_puback(&mut self, conn: ConnectionId, ack: PubAck) {
        let Some(client) = self.attached_session(conn) else {
            return;
        };
        let keep_refused = self.fault(Fault::RetransmitRefused);
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let acked = session
            .inflight
            .get_mut(ack.packet_id)
            .is_some_and(|e| e.state == OutgoingState::Qos1Sent);
        if acked {
            if ack.reason_code.is_error() && keep_refused {
                return;
            }
            let removed = session.inflight.remove(ack.packet_id);
            if ack.reason_code.is_error() {
                // Treated as acknowledged, never retransmitted nor given to another shared
                // subscriber (MQTT-4.4.0-2, MQTT-4.8.2-6).
                self.record_id(S::V5_4_4_0_2);
                self.record_id(S::V5_4_8_2_6);
                if let Some(entry) = removed {
                    if self.fault(Fault::SharedRedistributeRefused) {
                        self.give_to_other_members(&client, &entry.delivery);
                    }
                }
            }
            self.pump(&client);
        }
    }

    /// Faults `shared-redistribute-*`: gives the message of `delivery` to another member of
    /// every shared subscription of `client` that it matches, as if `client` had not got it.
    pub(super) fn give_to_other_members(&mut self, client: &Arc<str>, delivery: &Delivery) {
        let matches = self.subscriptions.matches(&delivery.message.topic);
        let mut targets: Vec<Target> = Vec::new();
        for group in &matches.shared {
            if !group.members.iter().any(|m| m.client_id == *client) {
                continue;
            }
            if let Some(other) = group.members.iter().find(|m| m.client_id != *client) {
                targets.push(self.delivery_for(&delivery.message, other));
            }
        }
        let mut touched: Vec<Arc<str>> = Vec::new();
        for t in targets {
            if let Some(session) = self.sessions.get_mut(&t.client) {
                session.queue.push_back(t.delivery);
                touched.push(t.client);
            }
        }
        for c in touched {
            self.pump(&c);
        }
    }

    /// PUBREC from the client: answer with PUBREL (MQTT-4.3.3-4), or drop the message if
    /// the client refused it (reason code 0x80 or above, MQTT-4.4.0-2).
    pub(super) fn handle_pubrec(&mut self, conn: ConnectionId, rec: PubRec) {
        let v = self
            .connections
            .get(&conn)
            .map(|c| c.version_or_v5())
            .unwrap_or(mqttspec_codec::ProtocolVersion::V5);
        let Some(client) = self.attached_session(conn) else {
            return;
        };
        let keep_refused = self.fault(Fault::RetransmitRefused);
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let (state, expired) = session
            .inflight
            .get_mut(rec.packet_id)
            .map_or((None, false), |e| {
                (Some(e.state), e.delivery.message.is_expired(self.now))
            });
        if expired
            && state == Some(OutgoingState::Qos2Sent)
            && self.faults.has(Fault::ExpireSentQos2)
        {
            session.inflight.remove(rec.packet_id);
            let mut rel = PubRel::new(rec.packet_id);
            rel.reason_code = ReasonCode::PacketIdentifierNotFound;
            self.send(conn, Packet::PubRel(rel));
            self.pump(&client);
            return;
        }
        match state {
            Some(OutgoingState::Qos2Sent) if rec.reason_code.is_error() => {
                if keep_refused {
                    return;
                }
                let removed = session.inflight.remove(rec.packet_id);
                self.record_id(S::V5_4_4_0_2);
                self.record_id(S::V5_4_8_2_6);
                if let Some(entry) = removed {
                    if self.fault(Fault::SharedRedistributeRefused) {
                        self.give_to_other_members(&client, &entry.delivery);
                    }
                }
                self.pump(&client);
            }
            Some(OutgoingState::Qos2Sent) | Some(OutgoingState::Released) => {
                if let Some(e) = session.inflight.get_mut(rec.packet_id) {
                    e.state = OutgoingState::Released;
                }
                self.record(
                    v,
                    &[S::V5_4_3_3_4, S::V5_2_2_1_5],
                    &[S::V311_4_3_3_1, S::V311_2_3_1_6],
                );
                self.send(conn, Packet::PubRel(PubRel::new(rec.packet_id)));
            }
            Some(OutgoingState::Qos1Sent) => {}
            None => {
                if v.is_v5() {
                    let mut rel = PubRel::new(rec.packet_id);
                    rel.reason_code = ReasonCode::PacketIdentifierNotFound;
                    rel.properties.reason_string = self.reason_string(
                        "no QoS 2 message awaits PUBREC with this Packet Identifier",
                    );
                    self.send(conn, Packet::PubRel(rel));
                }
            }
        }
    }

    /// PUBCOMP from the client: the QoS 2 flow is complete (MQTT-4.3.3-5).
    pub(super) fn handle_pubcomp(&mut self, conn: ConnectionId, comp: PubComp) {
        let Some(client) = self.attached_session(conn) else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let done = session
            .inflight
            .get_mut(comp.packet_id)
            .is_some_and(|e| e.state == OutgoingState::Released);
        if done {
            session.inflight.remove(comp.packet_id);
            self.pump(&client);
        }
    }

    /// A session resumed on `conn`: resend PUBREL for messages waiting for PUBCOMP, then the
    /// unacknowledged PUBLISH packets and the queue (MQTT-4.4.0-1).
    pub(super) fn resume_delivery(&mut self, conn: ConnectionId, client: &Arc<str>) {
        if self.fault(Fault::NoRedelivery) {
            if let Some(s) = self.sessions.get_mut(client) {
                // Forget what was in flight instead of resending it.
                s.inflight = Default::default();
            }
        } else {
            let releases: Vec<PacketId> = self
                .sessions
                .get(client)
                .map(|s| {
                    s.inflight
                        .iter()
                        .filter(|e| e.state == OutgoingState::Released)
                        .map(|e| e.packet_id)
                        .collect()
                })
                .unwrap_or_default();
            if !releases.is_empty() {
                if let Some(v) = self.connections.get(&conn).and_then(|c| c.version) {
                    self.record(v, &[S::V5_4_4_0_1], &[S::V311_4_4_0_1]);
                }
            }
            for id in releases {
                self.send(conn, Packet::PubRel(PubRel::new(id)));
            }
        }
        self.pump(client);
    }
}
