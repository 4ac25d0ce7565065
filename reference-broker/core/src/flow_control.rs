//! Backpressure on publishers (see "Backpressure" in the crate docs).
//!
//! An inbound QoS 1/2 message is acknowledged only after [`Broker::route`] has queued it for
//! every subscriber. When it cannot (a full queue that must be waited for), it is *held* on
//! the publisher's connection, and every later QoS 1/2 PUBLISH of that connection joins it
//! behind, so their order is kept. Held messages are retried whenever a queue drains; once a
//! connection holds none it resumes reading. Held messages count against the server's Receive
//! Maximum (the client has no acknowledgement for them), which stops a MQTT 5.0 client by
//! itself; a MQTT 3.1.1 client that reaches that many is paused.

use std::sync::Arc;
use std::time::Duration;

use mqttspec_codec::{Packet, PacketId, PubAck, PubRec, QoS, ReasonCode, StatementId as S};

use super::connection::HeldPublish;
use super::fault::Fault;
use super::message::Message;
use super::timers::TimerKey;
use super::{Action, Broker, CloseReason, ConnectionId};

impl Broker {
    /// Forwards an inbound QoS 1/2 message and acknowledges it, or holds it (see the module
    /// docs).
    pub(super) fn accept_or_hold(
        &mut self,
        id: ConnectionId,
        message: Arc<Message>,
        packet_id: PacketId,
        ack_qos: QoS,
    ) {
        let already_holding = self
            .connections
            .get(&id)
            .is_some_and(|c| !c.held.is_empty());
        if !already_holding && self.route(&message, true) {
            self.message_accepted(&message, id);
            self.acknowledge(id, ack_qos, packet_id);
            self.note_received_expiry(id, ack_qos, packet_id, &message);
            return;
        }
        let limit = usize::from(self.config.receive_maximum);
        let backpressure_timeout = self.config.backpressure_timeout_secs;
        let now = self.now;
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        let first = conn.held.is_empty();
        conn.held.push_back(HeldPublish {
            message,
            packet_id,
            ack_qos,
        });
        let must_pause = !conn.paused && conn.held.len() >= limit;
        self.held_connections.insert(id);
        if first && backpressure_timeout > 0 {
            let at = now.saturating_add(Duration::from_secs(u64::from(backpressure_timeout)));
            self.timers.set(TimerKey::Backpressure(id), at);
        }
        if must_pause {
            if let Some(conn) = self.connections.get_mut(&id) {
                conn.paused = true;
            }
            self.suspend_keep_alive(id);
            self.push(Action::PauseReading { conn: id });
        }
    }

    /// Sends PUBACK (QoS 1) or records the Packet Identifier and sends PUBREC (QoS 2) for a
    /// message the broker now owns (MQTT-4.3.2-4, MQTT-4.3.3-8 in 5.0; MQTT-4.3.2-2,
    /// MQTT-4.3.3-2 in 3.1.1).
    pub(super) fn acknowledge(&mut self, id: ConnectionId, qos: QoS, packet_id: PacketId) {
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        let v = conn.version_or_v5();
        let client = conn.client_id.clone();
        if qos == QoS::ExactlyOnce {
            conn.inbound_qos2_here.insert(packet_id);
            if let Some(session) = client.and_then(|c| self.sessions.get_mut(&c)) {
                session.inbound_qos2.insert(packet_id);
            }
        }
        let ack_id = if self.faults.has(Fault::WrongPacketId) {
            packet_id.next()
        } else {
            packet_id
        };
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.record(
                    v,
                    &[S::V5_4_3_2_4, S::V5_3_3_4_1, S::V5_2_2_1_5],
                    &[S::V311_4_3_2_2, S::V311_3_3_4_1, S::V311_2_3_1_6],
                );
                self.send(id, Packet::PubAck(PubAck::new(ack_id)));
            }
            QoS::ExactlyOnce => {
                self.record(
                    v,
                    &[S::V5_4_3_3_8, S::V5_3_3_4_1, S::V5_2_2_1_5],
                    &[S::V311_4_3_3_2, S::V311_3_3_4_1, S::V311_2_3_1_6],
                );
                self.send(id, Packet::PubRec(PubRec::new(ack_id)));
            }
        }
    }

    /// Fault `expire-received-qos2`: remembers when the incoming QoS 2 `message` just
    /// acknowledged with PUBREC expires, so that a PUBREL arriving later finds it gone.
    fn note_received_expiry(
        &mut self,
        id: ConnectionId,
        ack_qos: QoS,
        packet_id: PacketId,
        message: &Message,
    ) {
        let Some(at) = message.expires_at else {
            return;
        };
        if ack_qos != QoS::ExactlyOnce || !self.fault(Fault::ExpireReceivedQos2) {
            return;
        }
        let client = self.connections.get(&id).and_then(|c| c.client_id.clone());
        if let Some(session) = client.and_then(|c| self.sessions.get_mut(&c)) {
            session.inbound_qos2_expiry.insert(packet_id, at);
        }
    }

    /// Sends a refusing PUBACK/PUBREC (MQTT 5.0) for a QoS 1/2 message the broker did not
    /// take; the Packet Identifier is free again at once (MQTT-4.3.3-9).
    pub(super) fn refuse_publish(
        &mut self,
        id: ConnectionId,
        qos: QoS,
        packet_id: PacketId,
        code: ReasonCode,
        detail: &str,
    ) {
        let reason_string = self.reason_string(detail);
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                let mut ack = PubAck::new(packet_id);
                ack.reason_code = code;
                ack.properties.reason_string = reason_string;
                self.send(id, Packet::PubAck(ack));
            }
            QoS::ExactlyOnce => {
                let mut rec = PubRec::new(packet_id);
                rec.reason_code = code;
                rec.properties.reason_string = reason_string;
                self.record_id(S::V5_4_3_3_9);
                self.send(id, Packet::PubRec(rec));
                if self.fault(Fault::RefusedQos2IdPending) {
                    let client = self.connections.get(&id).and_then(|c| c.client_id.clone());
                    if let Some(session) = client.and_then(|c| self.sessions.get_mut(&c)) {
                        session.inbound_qos2.insert(packet_id);
                    }
                }
            }
        }
    }

    /// Retries the held messages of every holding connection, oldest first.
    pub(super) fn retry_held(&mut self) {
        let ids: Vec<ConnectionId> = self.held_connections.iter().copied().collect();
        for id in ids {
            self.release_held(id);
        }
    }

    /// Forwards and acknowledges as many of a connection's held messages as can go now; when
    /// none is left, resumes reading and processes the input read meanwhile.
    fn release_held(&mut self, id: ConnectionId) {
        loop {
            let Some(front) = self
                .connections
                .get(&id)
                .and_then(|c| c.held.front().cloned())
            else {
                break;
            };
            if !self.route(&front.message, true) {
                return;
            }
            if let Some(conn) = self.connections.get_mut(&id) {
                conn.held.pop_front();
            }
            self.message_accepted(&front.message, id);
            self.acknowledge(id, front.ack_qos, front.packet_id);
            self.note_received_expiry(id, front.ack_qos, front.packet_id, &front.message);
        }
        self.held_connections.remove(&id);
        self.timers.cancel(&TimerKey::Backpressure(id));
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        if conn.paused {
            conn.paused = false;
            self.push(Action::ResumeReading { conn: id });
            self.packet_received(id);
            self.process_input(id);
        }
    }

    /// A connection was held back for longer than the backpressure timeout: close it (MQTT
    /// 5.0: DISCONNECT 0x97 Quota exceeded). Its held messages were never acknowledged, so
    /// the client still owns them.
    pub(super) fn backpressure_timed_out(&mut self, id: ConnectionId) {
        let holding = self
            .connections
            .get(&id)
            .is_some_and(|c| !c.held.is_empty());
        if holding {
            self.held_connections.remove(&id);
            self.close_with(
                id,
                ReasonCode::QuotaExceeded,
                "held back by backpressure for too long",
                CloseReason::Overloaded,
                true,
            );
        }
    }
}
