//! Per-connection state: the input buffer and frame decoder, the protocol version learned
//! from CONNECT, where the connection is in its life ([`Phase`]), what the client told us
//! about itself in CONNECT (its limits), the inbound Topic Alias mapping, and the inbound
//! publications held back by backpressure.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mqttspec_codec::{Connect, FrameDecoder, PacketId, ProtocolVersion};

use super::message::Message;
use super::outbound_alias::OutboundAliases;
use super::topic_alias::InboundAliases;

/// An enhanced authentication exchange in progress (the `auth` module drives it).
#[derive(Debug)]
pub(crate) struct AuthExchange {
    /// The SCRAM server state waiting for client-final.
    pub handshake: crate::scram::ServerHandshake,
}

/// Where a connection is in its life.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Waiting for CONNECT.
    AwaitingConnect,
    /// CONNECT received with an Authentication Method; AUTH packets are being exchanged and
    /// CONNACK has not been sent. The CONNECT is kept to finish the connection.
    Authenticating {
        /// The CONNECT being authenticated.
        connect: Box<Connect>,
        /// The exchange in progress.
        exchange: Box<AuthExchange>,
    },
    /// CONNACK 0x00 sent; the session is attached.
    Connected,
}

/// An inbound QoS 1/2 PUBLISH accepted for processing but held back because a subscriber's
/// queue is full; it is neither forwarded nor acknowledged yet.
#[derive(Debug, Clone)]
pub(crate) struct HeldPublish {
    /// The message (topic alias already resolved).
    pub message: Arc<Message>,
    /// Its Packet Identifier (to acknowledge it once it is forwarded).
    pub packet_id: PacketId,
    /// The QoS of the PUBLISH, which decides the acknowledgement (it can differ from the
    /// forwarded QoS for a 3.1.1 client above the Maximum QoS).
    pub ack_qos: mqttspec_codec::QoS,
}

/// The limits and preferences a client declared in CONNECT (MQTT 5.0; defaults for 3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientLimits {
    /// Receive Maximum (65,535 when absent).
    pub receive_maximum: u16,
    /// Maximum Packet Size (`u32::MAX` when absent: only the protocol's own limit).
    pub maximum_packet_size: u32,
    /// Topic Alias Maximum (0 when absent); the broker sends aliases only with
    /// `assign_topic_aliases`, and within this.
    pub topic_alias_maximum: u16,
    /// Request Problem Information (1 when absent).
    pub request_problem_information: bool,
}

impl ClientLimits {
    /// The limits a CONNECT declares: its MQTT 5.0 properties, or the defaults for 3.1.1.
    pub fn from_connect(connect: &Connect) -> Self {
        if !connect.protocol_version.is_v5() {
            return ClientLimits::default();
        }
        let p = &connect.properties;
        ClientLimits {
            receive_maximum: p.receive_maximum.map_or(u16::MAX, |r| r.get()),
            maximum_packet_size: p.maximum_packet_size.map_or(u32::MAX, |m| m.get()),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            request_problem_information: p.request_problem_information.unwrap_or(true),
        }
    }
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            receive_maximum: u16::MAX,
            maximum_packet_size: u32::MAX,
            topic_alias_maximum: 0,
            request_problem_information: true,
        }
    }
}

/// One network connection.
#[derive(Debug)]
pub(crate) struct Connection {
    /// Where it is in its life.
    pub phase: Phase,
    /// The protocol version, once the start of CONNECT has been read.
    pub version: Option<ProtocolVersion>,
    /// The frame decoder (created when the version is known).
    pub decoder: Option<FrameDecoder>,
    /// Bytes received and not yet framed (at most one partial packet, which the decoder
    /// bounds by the server's Maximum Packet Size, unless reading is paused).
    pub input: BytesMut,
    /// The Client Identifier (once CONNECT is accepted, or being authenticated).
    pub client_id: Option<Arc<str>>,
    /// The User Name it authenticated as (for access rules).
    pub username: Option<String>,
    /// The User Name the transport vouches for (the subject of a verified TLS client
    /// certificate, see [`Broker::set_certificate_user`](crate::Broker::set_certificate_user)):
    /// it replaces the CONNECT's User Name and Password check.
    pub certificate_user: Option<String>,
    /// The Keep Alive period, already multiplied by 1.5; `None` when Keep Alive is 0.
    pub keep_alive: Option<Duration>,
    /// The client's limits, recorded as soon as CONNECT is decoded so that a refusal, the
    /// AUTH exchange and CONNACK respect them too.
    pub limits: ClientLimits,
    /// Whether a CONNECT was decoded (so `limits` are the client's, not defaults): before
    /// that an MQTT 5.0 client's Maximum Packet Size is unknown.
    pub limits_known: bool,
    /// The Session Expiry Interval the CONNECT asked for (MQTT 5.0), to check DISCONNECT.
    pub connect_session_expiry: u32,
    /// The Authentication Method of CONNECT (MQTT 5.0 enhanced authentication).
    pub auth_method: Option<String>,
    /// A re-authentication in progress (MQTT 5.0).
    pub reauth: Option<Box<AuthExchange>>,
    /// Inbound Topic Alias mapping (MQTT 5.0), never carried to another connection.
    pub aliases: InboundAliases,
    /// Outbound Topic Alias mapping (MQTT 5.0, only with `assign_topic_aliases`), never
    /// carried to another connection.
    pub outbound_aliases: OutboundAliases,
    /// QoS 2 Packet Identifiers received on this connection whose PUBREL has not arrived
    /// (with `held`, the unacknowledged publications counted against our Receive Maximum).
    pub inbound_qos2_here: BTreeSet<PacketId>,
    /// Inbound QoS 1/2 publications held back by backpressure, in arrival order.
    pub held: VecDeque<HeldPublish>,
    /// Whether the caller was asked to stop reading (Action::PauseReading).
    pub paused: bool,
    /// Bytes sent since the caller last reported everything written.
    pub unflushed: usize,
}

impl Connection {
    /// A fresh connection awaiting CONNECT.
    pub fn new() -> Self {
        Connection {
            phase: Phase::AwaitingConnect,
            version: None,
            decoder: None,
            input: BytesMut::new(),
            client_id: None,
            username: None,
            certificate_user: None,
            keep_alive: None,
            limits: ClientLimits::default(),
            limits_known: false,
            connect_session_expiry: 0,
            auth_method: None,
            reauth: None,
            aliases: InboundAliases::default(),
            outbound_aliases: OutboundAliases::default(),
            inbound_qos2_here: BTreeSet::new(),
            held: VecDeque::new(),
            paused: false,
            unflushed: 0,
        }
    }

    /// Whether CONNACK 0x00 has been sent.
    pub fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Connected)
    }

    /// The client's unacknowledged QoS 1/2 publications on this connection.
    pub fn inbound_unacknowledged(&self) -> usize {
        self.held.len() + self.inbound_qos2_here.len()
    }

    /// The version, or MQTT 5.0 if CONNECT has not been read far enough to know.
    pub fn version_or_v5(&self) -> ProtocolVersion {
        self.version.unwrap_or(ProtocolVersion::V5)
    }
}
