//! CONNECT: learning the protocol version, validating the request, and accepting it
//! (session takeover, Clean Start, Session Present, Keep Alive, CONNACK, resumption).
//!
//! Before anything else the first bytes must start a CONNECT (MQTT-3.1.0-1); the protocol
//! level in it chooses the version of the connection. An unknown level is answered with the
//! CONNACK a client of that level can read: return code 0x01 in the 3.1.1 form for levels
//! below 5 (MQTT-3.1.2-2 of 3.1.1), reason code 0x84 in the 5.0 form above (MQTT-3.1.2-2 of
//! 5.0), and the connection is closed. A wrong protocol name closes it (MQTT-3.1.2-1).
//!
//! Validation then refuses, with CONNACK and close: a Will QoS above the Maximum QoS (0x9B,
//! MQTT-3.2.2-12) or Will Retain without retain support (0x9A, MQTT-3.2.2-13) in 5.0; an empty
//! Client Identifier with Clean Session 0 in 3.1.1 (return code 2, MQTT-3.1.3-8) or when the
//! server does not allow empty ones (0x85 / 2); bad credentials (see `auth`); a Will Topic the
//! access rules deny (0x87 / 5) or with too many levels.
//!
//! Accepting: an empty Client Identifier gets a unique one (MQTT-3.1.3-6, -7,
//! MQTT-3.2.2-16); a connection already using the Client Identifier is closed, MQTT 5.0 with
//! DISCONNECT 0x8E (MQTT-3.1.4-3 in 5.0, MQTT-3.1.4-2 in 3.1.1); Clean Start 1 discards an
//! existing session (MQTT-3.1.2-4), otherwise it is resumed (MQTT-3.1.2-5) or created
//! (MQTT-3.1.2-6); CONNACK 0x00 says whether a session was present (MQTT-3.2.2-2, -3);
//! messages in flight are resent and the queue is delivered.

use std::sync::Arc;
use std::time::Duration;

use mqttspec_codec::{
    connect_protocol_version, packet::FixedHeader, ConnAck, ConnAckProperties, Connect,
    FrameDecoder, MqttString, Packet, PacketType, ProtocolVersion, QoS, ReasonCode,
    StatementId as S, Violation, MAX_VARIABLE_BYTE_INTEGER,
};

use super::acl::{self, Access};
use super::connection::{ClientLimits, Phase};
use super::fault::Fault;
use super::keep_alive;
use super::memory::session_bytes;
use super::outbound::Sent;
use super::publish::maximum_qos;
use super::session::Session;
use super::timers::TimerKey;
use super::topic;
use super::will::Will;
use super::{Broker, CloseReason, ConnectionId};

impl Broker {
    /// Reads the protocol version from the start of the first packet. `Some(true)`: the
    /// decoder is ready; `Some(false)`: more bytes are needed; `None`: the connection was
    /// closed.
    pub(super) fn learn_version(&mut self, id: ConnectionId) -> Option<bool> {
        let max_packet_size = if self.fault(Fault::UnenforcedMaximumPacketSize) {
            u32::MAX
        } else {
            self.config.maximum_packet_size
        };
        let ignore_non_connect = self.fault(Fault::IgnorePacketBeforeConnect);
        let accept_malformed = self.fault(Fault::ConnackMalformedConnect);
        let conn = self.connections.get_mut(&id)?;
        let first_is_connect = match FixedHeader::parse(&conn.input, ProtocolVersion::V5) {
            Ok(None) => return Some(false),
            Ok(Some(h)) => h.packet_type == PacketType::Connect,
            Err(_) => false,
        };
        if !first_is_connect {
            // Malformed fixed header of a CONNECT, or another packet first; the version is
            // not known yet, so both specs' rule is recorded.
            let connect_nibble = conn.input.first().is_some_and(|b| b >> 4 == 1);
            if ignore_non_connect && !connect_nibble {
                conn.input.clear();
                return Some(false);
            }
            if connect_nibble {
                self.record_id(S::V5_3_1_4_1);
                self.record_id(S::V311_3_1_4_1);
            } else {
                self.record_id(S::V5_3_1_0_1);
                self.record_id(S::V311_3_1_0_1);
            }
            self.end_connection(
                id,
                Some(CloseReason::ProtocolViolation {
                    reason_code: ReasonCode::ProtocolError,
                    detail: "the first packet is not CONNECT".into(),
                }),
                false,
            );
            return None;
        }
        match connect_protocol_version(&conn.input) {
            Ok(None) => Some(false),
            Ok(Some(v)) => {
                conn.version = Some(v);
                conn.decoder = Some(FrameDecoder::new(v).with_max_packet_size(max_packet_size));
                Some(true)
            }
            Err(e) => {
                match e.violation {
                    Violation::UnsupportedProtocolLevel { level } => {
                        // Answer in the form a client of that level can read.
                        let v = if level < 5 {
                            ProtocolVersion::V311
                        } else {
                            ProtocolVersion::V5
                        };
                        conn.version = Some(v);
                        self.record(v, &[S::V5_3_1_2_2], &[S::V311_3_1_2_2]);
                        self.refuse(
                            id,
                            ReasonCode::UnsupportedProtocolVersion,
                            format!("unsupported protocol level {level}"),
                        );
                    }
                    _ if accept_malformed => {
                        // Fault: "accept" the wrong Protocol Name in the layout of its level.
                        let level = FixedHeader::parse(&conn.input, ProtocolVersion::V5)
                            .ok()
                            .flatten()
                            .and_then(|h| conn.input.get(h.header_len + 6).copied());
                        conn.version = Some(if level == Some(4) {
                            ProtocolVersion::V311
                        } else {
                            ProtocolVersion::V5
                        });
                        let connack = ConnAck {
                            session_present: false,
                            reason_code: ReasonCode::Success,
                            properties: Default::default(),
                        };
                        self.send(id, Packet::ConnAck(connack));
                        self.end_connection(
                            id,
                            Some(CloseReason::ProtocolViolation {
                                reason_code: ReasonCode::UnsupportedProtocolVersion,
                                detail: e.to_string(),
                            }),
                            false,
                        );
                    }
                    _ => {
                        // A wrong Protocol Name: not MQTT as we know it; close.
                        self.record_id(S::V5_3_1_2_1);
                        self.record_id(S::V311_3_1_2_1);
                        self.end_connection(
                            id,
                            Some(CloseReason::ProtocolViolation {
                                reason_code: ReasonCode::UnsupportedProtocolVersion,
                                detail: e.to_string(),
                            }),
                            false,
                        );
                    }
                }
                None
            }
        }
    }

    /// CONNECT on a connection awaiting it (see the module docs).
    pub(super) fn handle_connect(&mut self, id: ConnectionId, connect: Box<Connect>) {
        let v = connect.protocol_version;
        // Everything sent from now on, refusals and AUTH included, respects the client's
        // Maximum Packet Size and Request Problem Information (MQTT-3.1.2-24, -29).
        if let Some(conn) = self.connections.get_mut(&id) {
            conn.limits = ClientLimits::from_connect(&connect);
            conn.limits_known = true;
        }
        self.record(
            v,
            &[S::V5_3_1_2_3, S::V5_3_1_4_1],
            &[S::V311_3_1_2_3, S::V311_3_1_4_1],
        );
        let max_qos = maximum_qos(self.config.maximum_qos);
        if let Some(will) = &connect.will {
            if v.is_v5() && will.qos > max_qos && !self.fault(Fault::AcceptWillAboveMaximumQos) {
                self.record_id(S::V5_3_2_2_12);
                self.refuse(
                    id,
                    ReasonCode::QoSNotSupported,
                    "Will QoS above the Maximum QoS",
                );
                return;
            }
            if v.is_v5()
                && will.retain
                && !self.config.retain_available
                && !self.fault(Fault::AcceptUnsupportedWillRetain)
            {
                self.record_id(S::V5_3_2_2_13);
                self.refuse(
                    id,
                    ReasonCode::RetainNotSupported,
                    "Will Retain is not supported",
                );
                return;
            }
            if topic::levels(&will.topic) > self.config.max_topic_levels {
                self.refuse(
                    id,
                    ReasonCode::TopicNameInvalid,
                    "Will Topic has more levels than the server accepts",
                );
                return;
            }
        }
        let strict_id = connect.client_id.as_str();
        if self.fault(Fault::ClientIdStrictClose)
            && !strict_id.is_empty()
            && (strict_id.len() > 22 || !strict_id.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            let reason = CloseReason::ConnectRefused(ReasonCode::ClientIdentifierNotValid);
            self.end_connection(id, Some(reason), false);
            return;
        }
        if connect.client_id.is_empty() {
            if !v.is_v5()
                && !connect.clean_start
                && !self.fault(Fault::AcceptEmptyClientIdPersistent)
            {
                self.record_id(S::V311_3_1_3_8);
                self.refuse(
                    id,
                    ReasonCode::ClientIdentifierNotValid,
                    "empty Client Identifier with Clean Session 0",
                );
                return;
            }
            if !self.config.allow_empty_client_id {
                self.record(v, &[S::V5_3_1_3_8], &[S::V311_3_1_3_9]);
                self.refuse(
                    id,
                    ReasonCode::ClientIdentifierNotValid,
                    "empty Client Identifier not allowed",
                );
                return;
            }
        }
        if v.is_v5() {
            if let Some(method) = connect.properties.authentication_method.clone() {
                self.start_enhanced_auth(id, connect, method.as_str().to_owned());
                return;
            }
        }
        // A verified client certificate names the user: the CONNECT's credentials are not
        // checked (the transport authenticated the client).
        if let Some(user) = self
            .connections
            .get(&id)
            .and_then(|c| c.certificate_user.clone())
        {
            self.accept_connect(id, connect, Some(user), None);
            return;
        }
        if let Err(code) = self.check_password(&connect) {
            self.record(v, &[S::V5_3_1_4_2], &[]);
            self.refuse(id, code, "authentication failed");
            return;
        }
        let username = connect.username.as_ref().map(|u| u.as_str().to_owned());
        self.accept_connect(id, connect, username, None);
    }

    /// A unique Client Identifier for a client that sent an empty one.
    fn assign_client_id(&mut self) -> Arc<str> {
        if self.fault(Fault::DuplicateAssignedClientId) {
            return Arc::from("mqttspec-assigned");
        }
        loop {
            self.assigned_ids = self.assigned_ids.wrapping_add(1);
            let id = format!(
                "mqttspec-{:x}-{}",
                self.config.core_seed(),
                self.assigned_ids
            );
            if !self.sessions.contains_key(id.as_str()) {
                return Arc::from(id);
            }
        }
    }

    /// Accepts a validated (and authenticated) CONNECT. `auth` is the Authentication Method
    /// and the final Authentication Data of an enhanced authentication.
    pub(super) fn accept_connect(
        &mut self,
        id: ConnectionId,
        connect: Box<Connect>,
        username: Option<String>,
        auth: Option<(String, Vec<u8>)>,
    ) {
        let v = connect.protocol_version;
        if let Some(will) = &connect.will {
            if !acl::allowed(
                &self.config.acl,
                username.as_deref(),
                Access::Publish,
                &will.topic,
            ) {
                self.refuse(id, ReasonCode::NotAuthorized, "Will Topic not authorized");
                return;
            }
        }
        let assigned = connect
            .client_id
            .is_empty()
            .then(|| self.assign_client_id());
        let client: Arc<str> = match &assigned {
            Some(a) => Arc::clone(a),
            None if self.fault(Fault::StripBomFromClientId) => {
                Arc::from(connect.client_id.as_str().replace('\u{feff}', "").as_str())
            }
            None => Arc::from(connect.client_id.as_str()),
        };
        if assigned.is_some() {
            self.record(
                v,
                &[S::V5_3_1_3_6, S::V5_3_1_3_7, S::V5_3_2_2_16],
                &[S::V311_3_1_3_6],
            );
        }

        // Fault: the Will the session holds now (that of a connection this one takes over)
        // stays with it when this CONNECT has none.
        let earlier_will = if connect.will.is_none() && self.fault(Fault::KeepEarlierWill) {
            self.sessions.get(&client).and_then(|s| s.will.clone())
        } else {
            None
        };

        // Session takeover.
        let old = self
            .sessions
            .get(&client)
            .and_then(|s| s.connection)
            .filter(|old| *old != id && !self.fault(Fault::NoTakeover));
        if let Some(old) = old {
            self.record(v, &[S::V5_3_1_4_3], &[S::V311_3_1_4_2]);
            if self.fault(Fault::NoTakeoverDisconnect) {
                self.end_connection(old, Some(CloseReason::SessionTakenOver), true);
            } else {
                self.close_with(
                    old,
                    ReasonCode::SessionTakenOver,
                    "session taken over",
                    CloseReason::SessionTakenOver,
                    true,
                );
            }
        }

        // Fault: an identifier ending in `.*` or `.+` is read as a pattern and takes over
        // every connected client whose identifier it matches.
        if self.fault(Fault::ClientIdPatternMatch) {
            let prefix = client
                .strip_suffix(".*")
                .or_else(|| client.strip_suffix(".+"));
            if let Some(prefix) = prefix {
                let victims: Vec<_> = self
                    .sessions
                    .iter()
                    .filter(|(other, _)| other.starts_with(prefix) && **other != client)
                    .filter_map(|(_, s)| s.connection)
                    .filter(|c| *c != id)
                    .collect();
                for victim in victims {
                    self.close_with(
                        victim,
                        ReasonCode::SessionTakenOver,
                        "session taken over",
                        CloseReason::SessionTakenOver,
                        true,
                    );
                }
            }
        }

        // Clean Start / Clean Session.
        let clean = connect.clean_start && !self.fault(Fault::KeepSessionOnCleanStart);
        if clean && self.sessions.contains_key(&client) {
            self.end_session(&client);
        }
        self.record(v, &[S::V5_3_1_4_4], &[S::V311_3_1_4_3]);
        let resumed = self.sessions.contains_key(&client);
        // Room for a new session (count and bytes) and for the Will: discard the sessions
        // disconnected longest, or refuse (0x97 Quota exceeded; 3.1.1: 0x03 Server unavailable).
        let quota = if v.is_v5() {
            ReasonCode::QuotaExceeded
        } else {
            ReasonCode::ServerUnavailable
        };
        if !resumed
            && self.sessions.len() >= self.config.max_sessions.max(1)
            && !self.discard_longest_disconnected(Some(&client))
        {
            self.refuse(id, quota, "too many sessions");
            return;
        }
        let needed = connect.will.as_ref().map_or(0, Will::bytes)
            + if resumed { 0 } else { session_bytes(&client) };
        if !self.make_durable_room(needed, Some(&client)) {
            self.refuse(id, quota, "memory budget exhausted");
            return;
        }
        if connect.clean_start {
            self.record(
                v,
                &[S::V5_3_1_2_4, S::V5_3_2_2_2],
                &[S::V311_3_1_2_6, S::V311_3_2_2_1],
            );
        } else if resumed {
            self.record(
                v,
                &[S::V5_3_1_2_5, S::V5_3_2_2_3],
                &[S::V311_3_1_2_4, S::V311_3_2_2_2],
            );
        } else {
            self.record(
                v,
                &[S::V5_3_1_2_6, S::V5_3_2_2_3],
                &[S::V311_3_1_2_4, S::V311_3_2_2_3],
            );
        }
        if resumed {
            self.cancel_waiting_will(&client);
            self.timers
                .cancel(&TimerKey::SessionExpiry(Arc::clone(&client)));
        }
        let session_present = resumed && !self.fault(Fault::NoSessionPresent);

        let requested_expiry = if v.is_v5() {
            connect.properties.session_expiry_interval.unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            u32::MAX
        };
        let granted_expiry = requested_expiry.min(self.config.maximum_session_expiry_interval);
        // The fault: no session to resume, so the connection is silently handled as a clean
        // one whose session ends with it (CONNACK still shows the interval asked for).
        let session_expiry =
            if (!connect.clean_start && !resumed && self.fault(Fault::NoNewSessionOnResume))
                || (connect.clean_start && self.fault(Fault::CleanStartSessionNotKept))
            {
                0
            } else {
                granted_expiry
            };
        let max_qos = maximum_qos(self.config.maximum_qos);
        let will = connect
            .will
            .as_ref()
            .map(|w| Will::from_connect(w, v, max_qos, &self.meter));
        if will.is_some() {
            self.record(v, &[S::V5_3_1_2_7], &[S::V311_3_1_2_8]);
        } else {
            self.record(v, &[], &[S::V311_3_1_2_12]);
        }
        let session = self.sessions.entry(Arc::clone(&client)).or_insert_with(|| {
            Session::new(session_expiry, self.meter.charge(session_bytes(&client)))
        });
        session.expiry_interval = session_expiry;
        session.connection = Some(id);
        session.will = will.or(earlier_will);
        if session_expiry != 0
            && session_expiry != u32::MAX
            && self.fault(Fault::ExpiryCountedFromConnect)
        {
            let at = self
                .now
                .saturating_add(Duration::from_secs(u64::from(session_expiry)));
            self.timers
                .set(TimerKey::SessionExpiry(Arc::clone(&client)), at);
        }
        if session_expiry == 0 && self.fault(Fault::DiscardSessionWhileConnected) {
            // The sweeper's next round, a second from now, finds the session "expired".
            let at = self.now.saturating_add(Duration::from_secs(1));
            self.timers
                .set(TimerKey::SessionExpiry(Arc::clone(&client)), at);
        }

        // The connection's own state.
        let keep_alive_secs = match (v.is_v5(), self.config.server_keep_alive) {
            (true, Some(server)) if !self.fault(Fault::AnnounceUnusedServerKeepAlive) => server,
            _ => connect.keep_alive,
        };
        let keep_alive_secs = match keep_alive_secs {
            0 if self.fault(Fault::KeepAliveZeroTimesOut) => 1,
            secs => secs,
        };
        if v.is_v5() && self.config.server_keep_alive.is_none() {
            self.record_id(S::V5_3_2_2_22);
        }
        let limits = ClientLimits::from_connect(&connect);
        let auth_method = auth.as_ref().map(|(m, _)| m.clone());
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        conn.phase = Phase::Connected;
        conn.client_id = Some(Arc::clone(&client));
        conn.username = username;
        conn.keep_alive = keep_alive::grace(keep_alive_secs);
        conn.limits = limits;
        conn.connect_session_expiry = requested_expiry;
        conn.auth_method = auth_method;
        self.timers.cancel(&TimerKey::ConnectTimeout(id));

        let properties = if v.is_v5() {
            self.connack_properties(
                &connect,
                &client,
                assigned.is_some(),
                requested_expiry,
                granted_expiry,
                auth,
            )
        } else {
            ConnAckProperties::default()
        };
        self.record(
            v,
            &[
                S::V5_3_2_0_1,
                S::V5_3_2_0_2,
                S::V5_3_1_4_5,
                S::V5_3_2_2_1,
                S::V5_3_1_3_2,
            ],
            &[S::V311_3_2_0_1, S::V311_3_1_4_4, S::V311_3_1_3_2],
        );
        let sent = self.send(
            id,
            Packet::ConnAck(ConnAck {
                session_present,
                reason_code: ReasonCode::Success,
                properties: properties.into(),
            }),
        );
        if sent == Sent::TooLarge {
            // Even without Reason String and User Properties the CONNACK does not fit the
            // client's Maximum Packet Size (MQTT-3.1.2-24): the connection cannot start, so it
            // is closed rather than left waiting for a CONNACK that never comes.
            let detail = "the CONNACK does not fit the client's Maximum Packet Size";
            tracing::debug!(conn = id.0, detail, "closing");
            let reason = CloseReason::ProtocolViolation {
                reason_code: ReasonCode::PacketTooLarge,
                detail: detail.to_owned(),
            };
            self.end_connection(id, Some(reason), false);
            return;
        }
        self.packet_received(id);
        self.resume_delivery(id, &client);
    }

    /// The CONNACK properties for an MQTT 5.0 client: every capability below the protocol's
    /// default, the granted Session Expiry Interval if it differs, the Assigned Client
    /// Identifier, Server Keep Alive, Response Information and the enhanced authentication
    /// result.
    fn connack_properties(
        &mut self,
        connect: &Connect,
        client: &str,
        assigned: bool,
        requested_expiry: u32,
        granted_expiry: u32,
        auth: Option<(String, Vec<u8>)>,
    ) -> ConnAckProperties {
        let c = &self.config;
        let mut p = ConnAckProperties::default();
        if granted_expiry != requested_expiry {
            p.session_expiry_interval = Some(granted_expiry);
        }
        if c.receive_maximum != u16::MAX {
            p.receive_maximum = std::num::NonZeroU16::new(c.receive_maximum);
        }
        let max_qos = maximum_qos(c.maximum_qos);
        let mut records = Vec::new();
        if max_qos != QoS::ExactlyOnce {
            p.maximum_qos = Some(max_qos);
            records.push(S::V5_3_2_2_9);
        }
        if max_qos == QoS::ExactlyOnce && self.fault(Fault::UnenforcedMaximumQos) {
            p.maximum_qos = Some(QoS::AtLeastOnce);
        }
        if !c.retain_available || self.fault(Fault::UnenforcedRetainAvailable) {
            p.retain_available = Some(false);
        }
        if u64::from(c.maximum_packet_size) < u64::from(MAX_VARIABLE_BYTE_INTEGER) + 5 {
            p.maximum_packet_size = std::num::NonZeroU32::new(c.maximum_packet_size);
        }
        if assigned {
            p.assigned_client_identifier =
                MqttString::new(client, "Assigned Client Identifier").ok();
        }
        if c.topic_alias_maximum > 0 {
            p.topic_alias_maximum = Some(c.topic_alias_maximum);
        }
        if !c.wildcard_subscription_available {
            p.wildcard_subscription_available = Some(false);
        }
        if !c.subscription_identifier_available {
            p.subscription_identifier_available = Some(false);
        }
        if !c.shared_subscription_available
            || self.fault(Fault::UnenforcedSharedSubscriptionAvailable)
        {
            p.shared_subscription_available = Some(false);
        }
        p.server_keep_alive = c.server_keep_alive;
        if p.server_keep_alive.is_none() && self.fault(Fault::AnnounceUnusedServerKeepAlive) {
            p.server_keep_alive = Some(1);
        }
        if connect.properties.request_response_information == Some(true) {
            if let Some(info) = &c.response_information {
                p.response_information =
                    MqttString::new(info.replace("{client_id}", client), "Response Information")
                        .ok();
            }
        } else if self.fault(Fault::UnrequestedResponseInformation) {
            p.response_information = MqttString::new("mqttspec/response", "Response").ok();
        } else {
            records.push(S::V5_3_1_2_28);
        }
        match auth {
            Some((method, data)) => {
                p.authentication_method = MqttString::new(method, "Authentication Method").ok();
                p.authentication_data = Some(data.into());
                records.push(S::V5_4_12_0_5);
            }
            None if self.fault(Fault::UnrequestedAuthMethod) => {
                p.authentication_method = MqttString::new("SCRAM-SHA-256", "Method").ok();
            }
            None => records.push(S::V5_4_12_0_6),
        }
        self.enforced.extend(records);
        p
    }
}
