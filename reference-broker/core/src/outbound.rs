//! Everything the core sends goes through [`Broker::send`]: it encodes the packet for the
//! connection's protocol version and applies the rules on what a server may send an MQTT 5.0
//! client:
//!
//! - with Request Problem Information 0, no Reason String or User Properties except on
//!   PUBLISH, CONNACK and DISCONNECT (MQTT-3.1.2-29);
//! - nothing larger than the client's Maximum Packet Size (MQTT-3.1.2-24): a Reason String
//!   and then the User Properties are left out when that makes it fit (MQTT-3.2.2-19, -20,
//!   MQTT-3.4.2-2, -3, ... for each acknowledgement type); a PUBLISH that does not fit is
//!   dropped and counts as delivered (MQTT-3.1.2-25).
//!
//! With [`Config::assign_topic_aliases`](crate::Config::assign_topic_aliases) a PUBLISH to
//! an MQTT 5.0 client gets a Topic Alias within the client's Topic Alias Maximum (see
//! `outbound_alias`); a new alias is recorded only once the packet is queued, so a PUBLISH
//! dropped as too large leaves no mapping the client never saw.
//!
//! The client's limits are recorded as soon as its CONNECT is decoded, so they hold for a
//! refusing CONNACK and for the AUTH exchange too; a CONNACK answering a CONNECT that could
//! not be decoded carries no Reason String (the limit is unknown). Under the
//! `oversized-reason-string` fault a packet other than PUBLISH keeps its Reason String and
//! User Properties and is sent even when they make it too large.

use bytes::{Bytes, BytesMut};
use mqttspec_codec::writer::variable_byte_integer_len;
use mqttspec_codec::{
    MqttString, Packet, PacketType, PublishProperties, QoS, ReasonCode, StatementId as S,
    TopicName, UserProperties,
};

use super::fault::Fault;
use super::outbound_alias::AliasUse;
use super::{Action, Broker, ConnectionId};

/// What happened to a packet handed to [`Broker::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    /// Queued for writing.
    Yes,
    /// Dropped: larger than the client's Maximum Packet Size.
    TooLarge,
    /// Not sent: unknown connection or not encodable.
    No,
}

/// The Reason String and User Properties of a packet that may carry them.
struct ProblemProperties<'a> {
    reason_string: &'a mut Option<MqttString>,
    user_properties: &'a mut UserProperties,
}

/// The properties of a packet that may carry a Reason String or User Properties, if any.
fn problem_properties(packet: &mut Packet) -> Option<ProblemProperties<'_>> {
    macro_rules! of {
        ($p:expr) => {{
            let p = &mut *$p.properties;
            Some(ProblemProperties {
                reason_string: &mut p.reason_string,
                user_properties: &mut p.user_properties,
            })
        }};
    }
    match packet {
        Packet::PubAck(p) => of!(p),
        Packet::PubRec(p) => of!(p),
        Packet::PubRel(p) => of!(p),
        Packet::PubComp(p) => of!(p),
        Packet::SubAck(p) => of!(p),
        Packet::UnsubAck(p) => of!(p),
        Packet::Auth(p) => of!(p),
        Packet::ConnAck(p) => of!(p),
        Packet::Disconnect(p) => of!(p),
        _ => None,
    }
}

/// The statements on leaving out optional properties to respect Maximum Packet Size, per
/// packet type.
fn size_statements(t: PacketType) -> &'static [S] {
    match t {
        PacketType::ConnAck => &[S::V5_3_2_2_19, S::V5_3_2_2_20],
        PacketType::PubAck => &[S::V5_3_4_2_2, S::V5_3_4_2_3],
        PacketType::PubRec => &[S::V5_3_5_2_2, S::V5_3_5_2_3],
        PacketType::PubRel => &[S::V5_3_6_2_2, S::V5_3_6_2_3],
        PacketType::PubComp => &[S::V5_3_7_2_2, S::V5_3_7_2_3],
        PacketType::SubAck => &[S::V5_3_9_2_1, S::V5_3_9_2_2],
        PacketType::UnsubAck => &[S::V5_3_11_2_1, S::V5_3_11_2_2],
        PacketType::Disconnect => &[S::V5_3_14_2_3, S::V5_3_14_2_4],
        PacketType::Auth => &[S::V5_3_15_2_2, S::V5_3_15_2_3],
        _ => &[],
    }
}

impl Broker {
    /// A Reason String of `text` when the configuration sends them (MQTT 5.0; `send` still
    /// leaves it out when Request Problem Information or Maximum Packet Size say so).
    pub(super) fn reason_string(&self, text: &str) -> Option<MqttString> {
        if self.config.send_reason_strings {
            MqttString::new(text, "Reason String").ok()
        } else {
            None
        }
    }

    /// Encodes and queues `packet` for `id` (see the module docs).
    pub(super) fn send(&mut self, id: ConnectionId, packet: Packet) -> Sent {
        self.send_sized(id, packet, false)
    }

    /// [`Broker::send`], but with `oversize` (set only by the path faults
    /// `ignore-maximum-packet-size-*`) the packet goes out whatever the client's Maximum
    /// Packet Size.
    pub(super) fn send_sized(
        &mut self,
        id: ConnectionId,
        mut packet: Packet,
        oversize: bool,
    ) -> Sent {
        let Some(conn) = self.connections.get(&id) else {
            return Sent::No;
        };
        let v = conn.version_or_v5();
        let limits = conn.limits;
        if v.is_v5() && self.fault(Fault::SendTopicAliases) {
            if let Packet::Publish(p) = &mut packet {
                p.properties.topic_alias = std::num::NonZeroU16::new(u16::MAX);
            }
        }
        let mut new_alias = None;
        if v.is_v5() && self.config.assign_topic_aliases {
            if let (Packet::Publish(p), Some(conn)) = (&mut packet, self.connections.get(&id)) {
                if p.properties.topic_alias.is_none() {
                    match conn
                        .outbound_aliases
                        .lookup(&p.topic, limits.topic_alias_maximum)
                    {
                        AliasUse::Known(a) => {
                            p.properties.topic_alias = std::num::NonZeroU16::new(a);
                            p.topic = TopicName::default();
                        }
                        AliasUse::New(a) => {
                            p.properties.topic_alias = std::num::NonZeroU16::new(a);
                            new_alias = Some((p.topic.clone(), a));
                        }
                        AliasUse::None => {}
                    }
                }
            }
        }
        if v.is_v5() && self.fault(Fault::StripBomFromProperties) {
            if let Packet::Publish(p) = &mut packet {
                strip_bom(&mut p.properties);
            }
        }
        if v.is_v5() && self.fault(Fault::ReasonStringAlways) {
            let t = packet.packet_type();
            if !matches!(
                t,
                PacketType::ConnAck | PacketType::Disconnect | PacketType::Auth
            ) {
                if let Some(p) = problem_properties(&mut packet) {
                    *p.reason_string = MqttString::new("fault: reason-string-always", "").ok();
                }
            }
        } else if v.is_v5() && !limits.request_problem_information {
            let t = packet.packet_type();
            if !matches!(t, PacketType::ConnAck | PacketType::Disconnect) {
                if let Some(p) = problem_properties(&mut packet) {
                    if p.reason_string.is_some() || !p.user_properties.is_empty() {
                        *p.reason_string = None;
                        p.user_properties.clear();
                        self.record_id(S::V5_3_1_2_29);
                    }
                }
            }
        }
        let max = if v.is_v5() && !oversize && !self.fault(Fault::IgnoreMaximumPacketSize) {
            limits.maximum_packet_size as usize
        } else {
            usize::MAX
        };
        let mut len = match packet.encoded_len(v) {
            Ok(len) => len,
            Err(e) => {
                tracing::error!(conn = id.0, error = %e, "cannot encode an outgoing packet");
                return Sent::No;
            }
        };
        let t = packet.packet_type();
        let keep_oversized = len > max
            && self.fault(Fault::OversizedReasonString)
            && problem_properties(&mut packet)
                .is_some_and(|p| p.reason_string.is_some() || !p.user_properties.is_empty());
        if keep_oversized {
            // Fault: sent as built, Reason String and User Properties included.
        } else if len > max {
            if let Some(p) = problem_properties(&mut packet) {
                *p.reason_string = None;
                len = packet.encoded_len(v).unwrap_or(usize::MAX);
                if len > max {
                    if let Some(p) = problem_properties(&mut packet) {
                        p.user_properties.clear();
                    }
                    len = packet.encoded_len(v).unwrap_or(usize::MAX);
                }
                self.enforced.extend(size_statements(t).iter().copied());
            }
            if len > max {
                self.record_id(S::V5_3_1_2_24);
                if t == PacketType::Publish {
                    self.record_id(S::V5_3_1_2_25);
                }
                tracing::debug!(conn = id.0, len, max, packet = %t, "dropped: larger than the client's Maximum Packet Size");
                return Sent::TooLarge;
            }
        }
        let bytes = match packet.encode(v) {
            Ok(b) => {
                let b = self.auth_faults(&packet, self.connack_flags_faults(&packet, b));
                let b = self.qos0_dup_fault(&packet, b);
                let b = if v.is_v5()
                    && matches!(packet, Packet::Publish(_))
                    && self.fault(Fault::ForwardWildcardResponseTopic)
                {
                    super::wildcard_response_topic::unmask(b)
                } else {
                    b
                };
                if v.is_v5() {
                    self.publish_encoding_faults(&packet, b)
                } else {
                    b
                }
            }
            Err(e) => {
                tracing::error!(conn = id.0, error = %e, "cannot encode an outgoing packet");
                return Sent::No;
            }
        };
        if let Some(conn) = self.connections.get_mut(&id) {
            conn.unflushed = conn.unflushed.saturating_add(bytes.len());
            if let Some((topic, alias)) = new_alias {
                conn.outbound_aliases.commit(topic, alias);
            }
        }
        self.push(Action::Send {
            conn: id,
            packet,
            bytes,
        });
        Sent::Yes
    }

    /// The faults that bend an encoded AUTH (the encoder refuses to produce them): reserved
    /// fixed header flags set, or a Reason Code AUTH does not have.
    fn auth_faults(&self, packet: &Packet, bytes: Bytes) -> Bytes {
        let flags = self.fault(Fault::MalformedAuthFlags);
        let reason = self.fault(Fault::AuthReasonOutOfTable);
        if !matches!(packet, Packet::Auth(_)) || !(flags || reason) {
            return bytes;
        }
        let mut out = BytesMut::from(&bytes[..]);
        if flags {
            if let Some(first) = out.get_mut(0) {
                *first |= 0x01;
            }
        }
        // The Reason Code opens the variable header (an AUTH with Remaining Length 0 has none
        // to bend).
        if let (true, Some(at)) = (reason, variable_header_start(&bytes)) {
            if let Some(code) = out.get_mut(at) {
                *code = ReasonCode::NotAuthorized.as_u8();
            }
        }
        out.freeze()
    }

    /// The faults that bend the encoding of a PUBLISH to an MQTT 5.0 client (the encoder
    /// refuses to produce them): the Property Length of an empty property block left out,
    /// the Remaining Length in four bytes.
    fn publish_encoding_faults(&self, packet: &Packet, bytes: Bytes) -> Bytes {
        let Packet::Publish(p) = packet else {
            return bytes;
        };
        let omit = self.fault(Fault::OmitEmptyPropertyLength) && p.properties.is_empty();
        let pad = self.fault(Fault::NonMinimalRemainingLength);
        if !omit && !pad {
            return bytes;
        }
        let Some(at) = variable_header_start(&bytes) else {
            return bytes;
        };
        let Some(first) = bytes.first().copied() else {
            return bytes;
        };
        let mut body = bytes.get(at..).unwrap_or_default().to_vec();
        if omit {
            // Topic Name (length-prefixed), the Packet Identifier at QoS 1 and 2, then the
            // Property Length.
            let at = 2 + p.topic.len() + if p.packet_id().is_some() { 2 } else { 0 };
            if body.get(at) == Some(&0) {
                body.remove(at);
            }
        }
        let mut out = BytesMut::with_capacity(body.len() + 5);
        out.extend_from_slice(&[first]);
        let mut len = body.len();
        let digits = if pad {
            4
        } else {
            variable_byte_integer_len(len, "Remaining Length").unwrap_or(4)
        };
        for i in 0..digits {
            let more = if i + 1 < digits { 0x80 } else { 0 };
            out.extend_from_slice(&[(len % 128) as u8 | more]);
            len /= 128;
        }
        out.extend_from_slice(&body);
        out.freeze()
    }

    /// The fault `dup-on-qos0`: the DUP flag set on an encoded QoS 0 PUBLISH (the encoder
    /// refuses to produce it).
    fn qos0_dup_fault(&self, packet: &Packet, bytes: Bytes) -> Bytes {
        let qos0 = matches!(packet, Packet::Publish(p) if p.qos() == QoS::AtMostOnce);
        if !qos0 || !self.fault(Fault::DupOnQos0) {
            return bytes;
        }
        let mut out = BytesMut::from(&bytes[..]);
        if let Some(first) = out.get_mut(0) {
            *first |= 0x08;
        }
        out.freeze()
    }

    /// The faults that bend the Connect Acknowledge Flags of an encoded CONNACK (the encoder
    /// refuses to produce them): a reserved bit set, or Session Present on a refusal.
    fn connack_flags_faults(&self, packet: &Packet, bytes: Bytes) -> Bytes {
        let Packet::ConnAck(ack) = packet else {
            return bytes;
        };
        let mut bits = 0u8;
        if self.fault(Fault::MalformedConnack) {
            bits |= 0x02;
        }
        if self.fault(Fault::SessionPresentOnRefusal) && ack.reason_code.is_error() {
            bits |= 0x01;
        }
        // The flags byte opens the variable header.
        let Some(at) = variable_header_start(&bytes) else {
            return bytes;
        };
        if bits == 0 {
            return bytes;
        }
        let mut out = BytesMut::from(&bytes[..]);
        if let Some(flags) = out.get_mut(at) {
            *flags |= bits;
        }
        out.freeze()
    }
}

/// Where the variable header of the encoded packet `bytes` starts: after the packet type
/// byte and the Remaining Length (for the faults that bend encoded packets).
fn variable_header_start(bytes: &[u8]) -> Option<usize> {
    let length_bytes = bytes.iter().skip(1).position(|b| b & 0x80 == 0)?;
    Some(length_bytes + 2)
}

/// The fault `strip-bom-from-properties`: U+FEFF taken out of the User Properties, Content
/// Type and Response Topic.
fn strip_bom(p: &mut PublishProperties) {
    let strip = |s: &MqttString| {
        MqttString::new(s.as_str().replace('\u{feff}', ""), "string").unwrap_or_else(|_| s.clone())
    };
    for (name, value) in p.user_properties.pairs_mut() {
        *name = strip(name);
        *value = strip(value);
    }
    if let Some(c) = &p.content_type {
        p.content_type = Some(strip(c));
    }
    if let Some(t) = &p.response_topic {
        if let Ok(stripped) = TopicName::new(t.as_str().replace('\u{feff}', "")) {
            p.response_topic = Some(stripped);
        }
    }
}
