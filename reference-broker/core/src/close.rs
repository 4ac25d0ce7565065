//! Ending things: malformed packets and protocol errors, refused connections, DISCONNECT from
//! the client, the end of a connection (Will Message, session expiry) and the end of a
//! session.

use std::sync::Arc;
use std::time::Duration;

use mqttspec_codec::{
    ConnAck, ConnAckProperties, DecodeError, Disconnect, ErrorClass, MqttString, Packet,
    PacketType, ProtocolVersion, ReasonCode, StatementId as S,
};

use super::connection::Phase;
use super::fault::Fault;
use super::lenient_strings;
use super::session::OutgoingState;
use super::timers::TimerKey;
use super::{Action, Broker, CloseReason, ConnectionId};

impl Broker {
    /// A packet could not be decoded (or broke a rule the codec checks). Before CONNACK an
    /// MQTT 5.0 client gets CONNACK with the reason code, after it DISCONNECT; a 3.1.1 client
    /// is simply disconnected (MQTT-4.13.1-1 in 5.0; MQTT-4.8.0-1 in 3.1.1).
    pub(super) fn decode_error(&mut self, id: ConnectionId, e: &DecodeError) {
        if let Some(statement) = e.statement() {
            self.record_id(statement);
        }
        let Some(conn) = self.connections.get(&id) else {
            return;
        };
        let connected = conn.is_connected();
        let v = conn.version_or_v5();
        if let Some(fault) = lenient_strings::fault_for(e.packet_type, &e.violation) {
            if self.fault(fault) {
                self.overlook_bad_string(id, connected);
                return;
            }
        }
        if connected
            && e.packet_type == Some(PacketType::Disconnect)
            && self.fault(Fault::LenientDisconnect)
        {
            self.handle_disconnect(id, Disconnect::default());
            return;
        }
        if connected
            && matches!(
                e.packet_type,
                Some(PacketType::Publish | PacketType::PubRel)
            )
            && self.fault(Fault::IgnoreMalformedPublish)
        {
            if let Some(conn) = self.connections.get_mut(&id) {
                conn.input.clear();
            }
            return;
        }
        if connected
            && matches!(
                e.packet_type,
                Some(PacketType::Subscribe | PacketType::Unsubscribe)
            )
            && self.fault(Fault::IgnoreMalformedSubscribe)
        {
            if let Some(conn) = self.connections.get_mut(&id) {
                conn.input.clear();
            }
            return;
        }
        if !connected
            && e.packet_type == Some(PacketType::Connect)
            && self.fault(Fault::ConnackMalformedConnect)
        {
            let connack = ConnAck {
                session_present: false,
                reason_code: ReasonCode::Success,
                properties: Default::default(),
            };
            self.send(id, Packet::ConnAck(connack));
            return;
        }
        let fallback = match e.class() {
            ErrorClass::ProtocolError => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        };
        let wanted = e.reason_code().unwrap_or(fallback);
        let allowed_in = if connected {
            PacketType::Disconnect
        } else {
            PacketType::ConnAck
        };
        let code = if wanted.is_allowed_in(allowed_in) {
            wanted
        } else {
            fallback
        };
        if connected {
            self.protocol_error(id, code, e.to_string());
        } else {
            if e.packet_type == Some(PacketType::Connect) {
                // A CONNECT that does not match section 3.1 closes the connection
                // (MQTT-3.1.4-1 in both versions).
                self.record(v, &[S::V5_3_1_4_1], &[S::V311_3_1_4_1]);
            }
            self.refuse(id, code, e.to_string());
        }
    }

    /// Under a string fault (see [`lenient_strings`]): the packet whose string field broke
    /// a rule is let through without being acted on. On an accepted connection it is dropped
    /// with the rest of the buffered input and the connection stays open; a CONNECT is
    /// answered with CONNACK 0x00.
    fn overlook_bad_string(&mut self, id: ConnectionId, connected: bool) {
        if connected {
            if let Some(conn) = self.connections.get_mut(&id) {
                conn.input.clear();
            }
            return;
        }
        let connack = ConnAck {
            session_present: false,
            reason_code: ReasonCode::Success,
            properties: Default::default(),
        };
        self.send(id, Packet::ConnAck(connack));
    }

    /// Refuses a connection before CONNACK 0x00 was sent: an MQTT 5.0 client gets CONNACK
    /// with `code`; a 3.1.1 client gets CONNACK with the return code of the same meaning if
    /// 3.1.1 has one, else the connection is just closed (MQTT-3.2.2-6 in 3.1.1). The
    /// connection is then closed (MQTT-3.2.2-7 and MQTT-4.13.2-1 in 5.0; MQTT-3.2.2-5 in
    /// 3.1.1) and nothing it sends afterwards is processed (MQTT-3.1.4-6 / MQTT-3.1.4-5).
    pub(super) fn refuse(&mut self, id: ConnectionId, code: ReasonCode, detail: impl Into<String>) {
        let detail = detail.into();
        let Some(conn) = self.connections.get(&id) else {
            return;
        };
        let v = conn.version_or_v5();
        let version_known = conn.version.is_some();
        // Without a decoded CONNECT the client's Maximum Packet Size is unknown: no Reason
        // String then, so the CONNACK stays as small as it can be (MQTT-3.2.2-19).
        let limits_known = conn.limits_known || self.fault(Fault::OversizedReasonString);
        let send_connack = version_known
            && (v.is_v5() && code.is_allowed_in(PacketType::ConnAck)
                || !v.is_v5() && code.to_connect_return_code().is_some());
        if send_connack {
            let mut properties = ConnAckProperties::default();
            if v.is_v5() && self.config.send_reason_strings && limits_known {
                properties.reason_string = MqttString::new(detail.clone(), "Reason String").ok();
            }
            // Session Present is 0 on every refusal (MQTT-3.2.2-6 in 5.0, MQTT-3.2.2-4 in
            // 3.1.1).
            let connack = ConnAck {
                session_present: false,
                reason_code: code,
                properties: properties.into(),
            };
            self.record(v, &[S::V5_3_2_2_6], &[S::V311_3_2_2_4]);
            if v.is_v5() && self.fault(Fault::DisconnectBeforeConnack) {
                let code = if code.is_allowed_in(PacketType::Disconnect) {
                    code
                } else {
                    ReasonCode::UnspecifiedError
                };
                self.send(id, Packet::Disconnect(Disconnect::new(code)));
            } else {
                self.send(id, Packet::ConnAck(connack));
            }
            if v.is_v5() && code.is_error() && self.fault(Fault::OpenAfterRefusal) {
                return;
            }
            // Never a DISCONNECT before a successful CONNACK (MQTT-3.14.0-1).
            self.record(
                v,
                &[S::V5_3_2_2_7, S::V5_4_13_2_1, S::V5_3_1_4_6, S::V5_3_14_0_1],
                &[S::V311_3_2_2_5, S::V311_3_1_4_5],
            );
        } else if version_known {
            self.record(v, &[S::V5_3_1_4_6], &[S::V311_3_2_2_6, S::V311_3_1_4_5]);
        }
        let reason = if code.is_error()
            && code != ReasonCode::MalformedPacket
            && code != ReasonCode::ProtocolError
        {
            CloseReason::ConnectRefused(code)
        } else {
            CloseReason::ProtocolViolation {
                reason_code: code,
                detail,
            }
        };
        self.end_connection(id, Some(reason), false);
    }

    /// A protocol violation on a connected connection: MQTT 5.0 gets DISCONNECT with `code`
    /// first; the connection is closed (MQTT-4.13.1-1) and the Will Message published.
    pub(super) fn protocol_error(
        &mut self,
        id: ConnectionId,
        code: ReasonCode,
        detail: impl Into<String>,
    ) {
        let detail = detail.into();
        if let Some(v) = self.connections.get(&id).and_then(|c| c.version) {
            self.record(v, &[S::V5_4_13_1_1], &[]);
        }
        tracing::debug!(conn = id.0, code = %code, %detail, "protocol violation");
        let reason = CloseReason::ProtocolViolation {
            reason_code: code,
            detail: detail.clone(),
        };
        self.close_with(id, code, &detail, reason, true);
    }

    /// Closes a connection for a server-side reason: a connected MQTT 5.0 client gets
    /// DISCONNECT with `code` (and a Reason String when allowed) first; others are closed.
    pub(super) fn close_with(
        &mut self,
        id: ConnectionId,
        code: ReasonCode,
        detail: &str,
        reason: CloseReason,
        publish_will: bool,
    ) {
        let Some(conn) = self.connections.get(&id) else {
            return;
        };
        let v5_connected = conn.is_connected() && conn.version == Some(ProtocolVersion::V5);
        if v5_connected {
            let code = if code.is_allowed_in(PacketType::Disconnect) {
                code
            } else {
                ReasonCode::UnspecifiedError
            };
            let mut d = Disconnect::new(code);
            if self.config.send_reason_strings && !detail.is_empty() {
                d.properties.reason_string = MqttString::new(detail, "Reason String").ok();
            }
            // Only after CONNACK 0x00 (MQTT-3.14.0-1); never with a Session Expiry Interval
            // (MQTT-3.14.2-2); nothing follows it on the connection (MQTT-3.14.4-1, -2).
            self.record_id(S::V5_3_14_0_1);
            self.record_id(S::V5_3_14_2_2);
            self.record_id(S::V5_3_14_4_1);
            self.record_id(S::V5_3_14_4_2);
            self.send(id, Packet::Disconnect(d));
            if self.fault(Fault::PacketAfterDisconnect) {
                self.send(id, Packet::PingResp);
            }
        }
        self.end_connection(id, Some(reason), publish_will);
    }

    /// The client sent DISCONNECT.
    pub(super) fn handle_disconnect(&mut self, id: ConnectionId, d: Disconnect) {
        let Some(conn) = self.connections.get(&id) else {
            return;
        };
        let v = conn.version_or_v5();
        let connect_expiry = conn.connect_session_expiry;
        let client = conn.client_id.clone();
        if v.is_v5() {
            if let Some(new_expiry) = d.properties.session_expiry_interval {
                // Moving from 0 to non-zero at DISCONNECT is a protocol error (3.14.2.2.2);
                // the DISCONNECT is then not treated as valid, so the Will is published.
                if connect_expiry == 0
                    && new_expiry != 0
                    && !self.fault(Fault::AcceptSessionExpiryFromZero)
                {
                    self.protocol_error(
                        id,
                        ReasonCode::ProtocolError,
                        "Session Expiry Interval changed from 0 at DISCONNECT",
                    );
                    return;
                }
                let granted = new_expiry.min(self.config.maximum_session_expiry_interval);
                let ignore = self.fault(Fault::IgnoreDisconnectSessionExpiry);
                if let Some(session) = client.as_ref().and_then(|c| self.sessions.get_mut(c)) {
                    if !ignore {
                        session.expiry_interval = granted;
                    }
                }
            }
        }
        // Reason 0x00 discards the Will (MQTT-3.14.4-3, MQTT-3.1.2-10 in 5.0; MQTT-3.14.4-3,
        // MQTT-3.1.2-10 in 3.1.1); 0x04 and any other reason keep it (MQTT-3.1.2-8).
        let normal = !v.is_v5()
            || d.reason_code == ReasonCode::Success
            || self.fault(Fault::DisconnectAlwaysNormal);
        let publish_will = !normal || self.fault(Fault::WillOnNormalDisconnect);
        if normal {
            self.record(
                v,
                &[S::V5_3_14_4_3, S::V5_3_1_2_10],
                &[S::V311_3_14_4_3, S::V311_3_1_2_10],
            );
        }
        self.end_connection(id, Some(CloseReason::ClientDisconnect), publish_will);
    }

    /// Forgets a connection: emits [`Action::Close`] when `reason` is given (the caller did
    /// not see it close), cancels its timers and detaches its session, which then publishes
    /// its Will Message (now or after the Will Delay Interval) if `publish_will`, and ends or
    /// starts counting down to its expiry.
    pub(super) fn end_connection(
        &mut self,
        id: ConnectionId,
        reason: Option<CloseReason>,
        publish_will: bool,
    ) {
        let Some(conn) = self.connections.remove(&id) else {
            return;
        };
        self.held_connections.remove(&id);
        if let Some(reason) = reason {
            self.push(Action::Close { conn: id, reason });
        }
        for key in [
            TimerKey::ConnectTimeout(id),
            TimerKey::KeepAlive(id),
            TimerKey::Backpressure(id),
        ] {
            self.timers.cancel(&key);
        }
        if !matches!(conn.phase, Phase::Connected) {
            return;
        }
        let v = conn.version.unwrap_or(ProtocolVersion::V5);
        let Some(client) = conn.client_id else {
            return;
        };
        let drop_will = !publish_will || self.fault(Fault::NoWill);
        let now = self.now;
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        if session.connection != Some(id) {
            return;
        }
        session.connection = None;
        session.offline_since = now;
        // Whatever was sent on this connection is resent on the next one (MQTT-4.4.0-1).
        session.inflight.mark_none_sent_here();
        if self.fault(Fault::SharedRedistributeOnDisconnect) {
            self.redistribute_qos2_inflight(&client);
        }
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let expiry = session.expiry_interval;
        if drop_will {
            session.will = None;
        }
        // The session lives on for its Session Expiry Interval (MQTT-3.1.2-23 in 5.0;
        // MQTT-3.1.2-4 in 3.1.1), or ends now when that is 0.
        let keep_anyway = expiry == 0 && self.fault(Fault::KeepSessionAtExpiryZero);
        if (expiry == 0 && !keep_anyway) || self.fault(Fault::DiscardSessionOnDisconnect) {
            self.end_session(&client);
            return;
        }
        self.record(v, &[S::V5_3_1_2_23], &[S::V311_3_1_2_4]);
        self.schedule_will(&client);
        if expiry != u32::MAX && !keep_anyway && !self.fault(Fault::NoSessionExpiry) {
            let at = self
                .now
                .saturating_add(Duration::from_secs(u64::from(expiry)));
            self.timers.set(TimerKey::SessionExpiry(client), at);
        }
        // Its queue may now be dropped from instead of held for: retry held publishers.
        self.queues_drained = true;
    }

    /// A disconnected session's Session Expiry Interval has passed (MQTT-4.1.0-2).
    pub(super) fn session_expired(&mut self, client: &Arc<str>) {
        let offline = self
            .sessions
            .get(client)
            .is_some_and(|s| s.connection.is_none());
        if offline
            || self.fault(Fault::ExpiryCountedFromConnect)
            || self.fault(Fault::DiscardSessionWhileConnected)
        {
            self.record_id(S::V5_4_1_0_2);
            self.end_session(client);
        }
    }

    /// Ends a session: a Will Message still waiting is published first (the session end is
    /// one of its triggers, MQTT-3.1.2-8), then its state and subscriptions are discarded.
    /// Messages in flight to it are not given to anyone else (MQTT-4.8.2-5).
    pub(super) fn end_session(&mut self, client: &Arc<str>) {
        let waiting_will = self
            .sessions
            .get(client)
            .is_some_and(|s| s.connection.is_none() && s.will.is_some());
        let delayed = self
            .sessions
            .get(client)
            .and_then(|s| s.will.as_ref())
            .is_some_and(|w| w.delay > 0);
        if waiting_will && !(delayed && self.fault(Fault::NoWillAtSessionEnd)) {
            self.publish_will(client);
        }
        if self.fault(Fault::SharedRedistributeOnSessionEnd) {
            self.redistribute_qos2_inflight(client);
        }
        if let Some(session) = self.sessions.remove(client) {
            if session
                .inflight
                .iter()
                .any(|e| e.delivery.qos == mqttspec_codec::QoS::ExactlyOnce)
            {
                self.record_id(S::V5_4_8_2_5);
            }
        }
        self.subscriptions.remove_client(client);
        self.timers.cancel(&TimerKey::WillDelay(Arc::clone(client)));
        self.timers
            .cancel(&TimerKey::SessionExpiry(Arc::clone(client)));
        self.queues_drained = true;
    }

    /// Faults `shared-redistribute-on-*`: the QoS 2 messages of `client` still waiting for
    /// PUBREC leave its session and go to another member of its matching shared
    /// subscriptions.
    fn redistribute_qos2_inflight(&mut self, client: &Arc<str>) {
        let Some(session) = self.sessions.get(client) else {
            return;
        };
        let ids: Vec<_> = session
            .inflight
            .iter()
            .filter(|e| e.state == OutgoingState::Qos2Sent)
            .filter(|e| {
                self.subscriptions
                    .matches(&e.delivery.message.topic)
                    .shared
                    .iter()
                    .any(|g| g.members.iter().any(|m| m.client_id == *client))
            })
            .map(|e| e.packet_id)
            .collect();
        let Some(session) = self.sessions.get_mut(client) else {
            return;
        };
        let taken: Vec<_> = ids
            .into_iter()
            .filter_map(|id| session.inflight.remove(id))
            .collect();
        for entry in taken {
            self.give_to_other_members(client, &entry.delivery);
        }
    }

    /// No CONNECT, or no end of enhanced authentication, in time (3.1.4 lets the server
    /// close such a connection).
    pub(super) fn connect_timed_out(&mut self, id: ConnectionId) {
        let waiting = self.connections.get(&id).is_some_and(|c| !c.is_connected());
        if waiting {
            self.end_connection(id, Some(CloseReason::ConnectTimeout), false);
        }
    }
}
