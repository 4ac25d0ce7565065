//! The packet model: [`Packet`] with one struct per control packet type (one file each), the
//! fixed header, and the one-shot [`decode_packet`] / [`encode_packet`] entry points.
//!
//! Every packet body implements [`PacketBody`]: decode from a bounded [`Reader`] (which has
//! exactly the Remaining Length bytes, so no field can run past the packet), validation for
//! encoding, the size of the body, and the writer. Decoding then checks that no bytes are left.
//!
//! Encoding first tries one walk that checks and sizes together ([`PacketBody::fast_lens`]:
//! PUBLISH, CONNECT and SUBSCRIBE have their own, every other packet runs `validate` and then
//! `body_len`). It answers only "fine, these are the lengths" or "something is wrong"; in the
//! second case the encoder runs `validate` and `body_len` on their own, so the error is exactly
//! the one, in the same order, that they give (unit tests compare the two on edge cases and on
//! 20,000 arbitrary packets).

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod ping;
mod publish;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use ack::{PubAck, PubComp, PubRec, PubRel};
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{connect_protocol_version, Connect, LastWill};
pub use disconnect::Disconnect;
pub use ping::{PingReq, PingResp};
pub use publish::Publish;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::protocol::ProtocolVersion;
use crate::qos::QoS;
use crate::reader::Reader;
use crate::violation::Violation;
use crate::writer::{put_variable_byte_integer, variable_byte_integer_len};

/// The control packet type (the high nibble of the first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PacketType {
    /// 1: connection request.
    Connect = 1,
    /// 2: connect acknowledgement.
    ConnAck = 2,
    /// 3: publish message.
    Publish = 3,
    /// 4: publish acknowledgement (QoS 1).
    PubAck = 4,
    /// 5: publish received (QoS 2, part 1).
    PubRec = 5,
    /// 6: publish release (QoS 2, part 2).
    PubRel = 6,
    /// 7: publish complete (QoS 2, part 3).
    PubComp = 7,
    /// 8: subscribe request.
    Subscribe = 8,
    /// 9: subscribe acknowledgement.
    SubAck = 9,
    /// 10: unsubscribe request.
    Unsubscribe = 10,
    /// 11: unsubscribe acknowledgement.
    UnsubAck = 11,
    /// 12: PING request.
    PingReq = 12,
    /// 13: PING response.
    PingResp = 13,
    /// 14: disconnect notification.
    Disconnect = 14,
    /// 15: authentication exchange (MQTT 5.0 only).
    Auth = 15,
}

impl PacketType {
    /// Every packet type, in numeric order.
    pub const ALL: [PacketType; 15] = [
        PacketType::Connect,
        PacketType::ConnAck,
        PacketType::Publish,
        PacketType::PubAck,
        PacketType::PubRec,
        PacketType::PubRel,
        PacketType::PubComp,
        PacketType::Subscribe,
        PacketType::SubAck,
        PacketType::Unsubscribe,
        PacketType::UnsubAck,
        PacketType::PingReq,
        PacketType::PingResp,
        PacketType::Disconnect,
        PacketType::Auth,
    ];

    /// The type for a type nibble, in the given version (AUTH only exists in MQTT 5.0).
    pub fn from_nibble(nibble: u8, version: ProtocolVersion) -> Option<PacketType> {
        let t = *Self::ALL.get(usize::from(nibble).checked_sub(1)?)?;
        if t == PacketType::Auth && !version.is_v5() {
            return None;
        }
        Some(t)
    }

    /// The specification's name of the packet, e.g. "PUBACK".
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::ConnAck => "CONNACK",
            PacketType::Publish => "PUBLISH",
            PacketType::PubAck => "PUBACK",
            PacketType::PubRec => "PUBREC",
            PacketType::PubRel => "PUBREL",
            PacketType::PubComp => "PUBCOMP",
            PacketType::Subscribe => "SUBSCRIBE",
            PacketType::SubAck => "SUBACK",
            PacketType::Unsubscribe => "UNSUBSCRIBE",
            PacketType::UnsubAck => "UNSUBACK",
            PacketType::PingReq => "PINGREQ",
            PacketType::PingResp => "PINGRESP",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Auth => "AUTH",
        }
    }

    /// The fixed-header flags this type must carry (PUBLISH: `None`, its flags are data).
    pub fn required_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

impl std::fmt::Display for PacketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Packet {
    /// CONNECT (boxed: it is by far the largest packet and the rarest).
    Connect(Box<Connect>),
    /// CONNACK.
    ConnAck(ConnAck),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubAck),
    /// PUBREC.
    PubRec(PubRec),
    /// PUBREL.
    PubRel(PubRel),
    /// PUBCOMP.
    PubComp(PubComp),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (MQTT 5.0 only).
    Auth(Auth),
}

/// The lengths an encode computes once and passes down to the writer: the body (the
/// Remaining Length) and the contents of the property blocks (without their Property Length).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Lens {
    /// The Remaining Length.
    pub body: usize,
    /// The packet's properties.
    pub props: usize,
    /// The Will Properties (CONNECT).
    pub will_props: usize,
}

impl Lens {
    /// A body without properties.
    pub(crate) fn body(body: usize) -> Lens {
        Lens {
            body,
            ..Lens::default()
        }
    }
}

/// The decode/encode contract of one packet body (the part after the fixed header).
pub(crate) trait PacketBody: Sized {
    const TYPE: PacketType;

    /// Decodes the body from exactly Remaining Length bytes; `flags` is the low nibble.
    fn decode_body(flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation>;

    /// The low nibble of the first byte when encoding.
    fn flags(&self) -> u8 {
        Self::TYPE.required_flags().unwrap_or(0)
    }

    /// Checks that the value can be encoded for `v`.
    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation>;

    /// The size of the encoded body (the Remaining Length), with the property lengths that
    /// [`PacketBody::encode_body`] then writes without computing them again.
    fn body_len(&self, v: ProtocolVersion) -> Result<Lens, Violation>;

    /// The encode fast path: the checks of [`PacketBody::validate`] and the lengths of
    /// [`PacketBody::body_len`] in one walk, `None` when any check would fail. It must accept
    /// nothing that those two refuse, and return their lengths; it may refuse what they accept
    /// (the encoder then runs them, which gives the exact error, or the lengths).
    #[inline(always)]
    fn fast_lens(&self, v: ProtocolVersion) -> Option<Lens> {
        self.validate(v).ok()?;
        self.body_len(v).ok()
    }

    /// Writes the body; `lens` is what [`PacketBody::body_len`] returned.
    fn encode_body(
        &self,
        dst: &mut BytesMut,
        v: ProtocolVersion,
        lens: &Lens,
    ) -> Result<(), Violation>;
}

/// The parsed fixed header of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// The low nibble of the first byte.
    pub flags: u8,
    /// The Remaining Length.
    pub remaining_length: u32,
    /// The size of the fixed header itself (2..=5 bytes).
    pub header_len: usize,
}

impl FixedHeader {
    /// The size of the whole packet.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_length as usize
    }

    /// Reads a fixed header from the start of `buf`. `Ok(None)` means more bytes are needed.
    /// Checks the packet type, the reserved flags (and the PUBLISH QoS and DUP rules) and the
    /// Remaining Length encoding, so a bad packet is refused before its body arrives.
    pub fn parse(buf: &[u8], v: ProtocolVersion) -> Result<Option<FixedHeader>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let nibble = first >> 4;
        let flags = first & 0x0F;
        let packet_type = PacketType::from_nibble(nibble, v).ok_or_else(|| {
            DecodeError::new(
                Violation::ReservedPacketType {
                    packet_type: nibble,
                },
                v,
                None,
            )
        })?;
        let err = |violation| DecodeError::new(violation, v, Some(packet_type));
        match packet_type.required_flags() {
            Some(required) if flags != required => {
                return Err(err(Violation::ReservedFlags { packet_type, flags }))
            }
            Some(_) => {}
            None => {
                let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or_else(|| {
                    err(Violation::InvalidQoS {
                        field: "PUBLISH QoS",
                    })
                })?;
                if qos == QoS::AtMostOnce && flags & 0b1000 != 0 {
                    return Err(err(Violation::DupWithQoS0));
                }
            }
        }
        let mut remaining_length: u32 = 0;
        for i in 0..4usize {
            let Some(&byte) = buf.get(1 + i) else {
                return Ok(None);
            };
            remaining_length |= u32::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 && v.is_v5() {
                    return Err(err(Violation::NonMinimalVariableByteInteger {
                        field: "Remaining Length",
                    }));
                }
                return Ok(Some(FixedHeader {
                    packet_type,
                    flags,
                    remaining_length,
                    header_len: 2 + i,
                }));
            }
        }
        Err(err(Violation::RemainingLengthTooLong))
    }
}

/// Runs `$body` with `$b` bound to the packet's body, one monomorphised copy per packet type
/// (no dynamic dispatch, so the body's validate / length / encode inline into one another).
macro_rules! with_body {
    ($packet:expr, $b:ident => $body:expr) => {
        match $packet {
            Packet::Connect(p) => {
                let $b: &Connect = p;
                $body
            }
            Packet::ConnAck($b) => $body,
            Packet::Publish($b) => $body,
            Packet::PubAck($b) => $body,
            Packet::PubRec($b) => $body,
            Packet::PubRel($b) => $body,
            Packet::PubComp($b) => $body,
            Packet::Subscribe($b) => $body,
            Packet::SubAck($b) => $body,
            Packet::Unsubscribe($b) => $body,
            Packet::UnsubAck($b) => $body,
            Packet::PingReq => {
                let $b = &PingReq;
                $body
            }
            Packet::PingResp => {
                let $b = &PingResp;
                $body
            }
            Packet::Disconnect($b) => $body,
            Packet::Auth($b) => $body,
        }
    };
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// Decodes the body of a packet whose fixed header is `header`; `body` holds exactly
    /// Remaining Length bytes.
    pub fn decode_body(
        header: &FixedHeader,
        body: Bytes,
        v: ProtocolVersion,
    ) -> Result<Packet, DecodeError> {
        let t = header.packet_type;
        let mut r = Reader::new(body);
        let f = header.flags;
        let result = match t {
            PacketType::Connect => {
                body_of::<Connect>(f, &mut r, v).map(|c| Packet::Connect(Box::new(c)))
            }
            PacketType::ConnAck => body_of::<ConnAck>(f, &mut r, v).map(Packet::ConnAck),
            PacketType::Publish => body_of::<Publish>(f, &mut r, v).map(Packet::Publish),
            PacketType::PubAck => body_of::<PubAck>(f, &mut r, v).map(Packet::PubAck),
            PacketType::PubRec => body_of::<PubRec>(f, &mut r, v).map(Packet::PubRec),
            PacketType::PubRel => body_of::<PubRel>(f, &mut r, v).map(Packet::PubRel),
            PacketType::PubComp => body_of::<PubComp>(f, &mut r, v).map(Packet::PubComp),
            PacketType::Subscribe => body_of::<Subscribe>(f, &mut r, v).map(Packet::Subscribe),
            PacketType::SubAck => body_of::<SubAck>(f, &mut r, v).map(Packet::SubAck),
            PacketType::Unsubscribe => {
                body_of::<Unsubscribe>(f, &mut r, v).map(Packet::Unsubscribe)
            }
            PacketType::UnsubAck => body_of::<UnsubAck>(f, &mut r, v).map(Packet::UnsubAck),
            PacketType::PingReq => body_of::<PingReq>(f, &mut r, v).map(|_| Packet::PingReq),
            PacketType::PingResp => body_of::<PingResp>(f, &mut r, v).map(|_| Packet::PingResp),
            PacketType::Disconnect => body_of::<Disconnect>(f, &mut r, v).map(Packet::Disconnect),
            PacketType::Auth => body_of::<Auth>(f, &mut r, v).map(Packet::Auth),
        };
        let packet = result.map_err(|violation| DecodeError::new(violation, v, Some(t)))?;
        if !r.is_empty() {
            return Err(DecodeError::new(
                Violation::TrailingBytes {
                    packet_type: t,
                    count: r.remaining(),
                },
                v,
                Some(t),
            ));
        }
        Ok(packet)
    }

    /// Decodes exactly one whole packet: `bytes` must hold the packet and nothing more.
    pub fn decode(bytes: Bytes, v: ProtocolVersion) -> Result<Packet, DecodeError> {
        let (packet, used) = decode_packet(&bytes, v)?;
        if used < bytes.len() {
            return Err(DecodeError::new(
                Violation::TrailingBytes {
                    packet_type: packet.packet_type(),
                    count: bytes.len() - used,
                },
                v,
                Some(packet.packet_type()),
            ));
        }
        Ok(packet)
    }

    /// Checks that this packet can be encoded for `v` (everything [`Packet::encode`] checks).
    pub fn validate(&self, v: ProtocolVersion) -> Result<(), EncodeError> {
        let err = |violation| EncodeError {
            violation,
            version: v,
            packet_type: self.packet_type(),
        };
        with_body!(self, b => b.validate(v)).map_err(err)
    }

    /// The size of the whole encoded packet.
    pub fn encoded_len(&self, v: ProtocolVersion) -> Result<usize, EncodeError> {
        let err = |violation| EncodeError {
            violation,
            version: v,
            packet_type: self.packet_type(),
        };
        let body = with_body!(self, b => b.body_len(v)).map_err(err)?.body;
        let len = variable_byte_integer_len(body, "Remaining Length").map_err(err)?;
        Ok(1 + len + body)
    }

    /// Encodes the packet for `v` into a new buffer.
    pub fn encode(&self, v: ProtocolVersion) -> Result<Bytes, EncodeError> {
        let mut dst = BytesMut::new();
        encode_packet(self, v, &mut dst)?;
        Ok(dst.freeze())
    }
}

/// The first byte of the fixed header of `b`.
#[inline]
fn first_byte<T: PacketBody>(b: &T) -> u8 {
    ((T::TYPE as u8) << 4) | (b.flags() & 0x0F)
}

/// Validates `b` and writes the whole packet, each length computed once.
#[inline]
fn encode_one<T: PacketBody>(
    b: &T,
    v: ProtocolVersion,
    dst: &mut BytesMut,
) -> Result<(), Violation> {
    let lens = match b.fast_lens(v) {
        Some(lens) => lens,
        None => slow_lens(b, v)?,
    };
    let body_len = lens.body;
    dst.reserve(5 + body_len);
    dst.put_u8(first_byte(b));
    put_variable_byte_integer(dst, body_len, "Remaining Length")?;
    let start = dst.len();
    b.encode_body(dst, v, &lens)?;
    debug_assert_eq!(
        dst.len() - start,
        body_len,
        "body_len disagrees with encode_body"
    );
    Ok(())
}

/// What [`PacketBody::fast_lens`] refused: the separate checks and lengths, for the exact
/// error (the same one, in the same order, as without the fast path).
#[cold]
#[inline(never)]
fn slow_lens<T: PacketBody>(b: &T, v: ProtocolVersion) -> Result<Lens, Violation> {
    b.validate(v)?;
    b.body_len(v)
}

fn body_of<T: PacketBody>(flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<T, Violation> {
    T::decode_body(flags, r, v)
}

/// Decodes the first packet in `buf`, returning it and the number of bytes it used.
/// An [`ErrorClass::Incomplete`](crate::ErrorClass::Incomplete) error means `buf` ends
/// before the packet does.
pub fn decode_packet(buf: &Bytes, v: ProtocolVersion) -> Result<(Packet, usize), DecodeError> {
    let header = FixedHeader::parse(buf, v)?.ok_or_else(|| {
        DecodeError::new(
            Violation::Incomplete {
                needed: if buf.is_empty() { 2 } else { 1 },
            },
            v,
            None,
        )
    })?;
    let total = header.packet_len();
    if buf.len() < total {
        return Err(DecodeError::new(
            Violation::Incomplete {
                needed: total - buf.len(),
            },
            v,
            Some(header.packet_type),
        ));
    }
    let body = buf.slice(header.header_len..total);
    let packet = Packet::decode_body(&header, body, v)?;
    Ok((packet, total))
}

/// Validates and encodes `packet` for `v`, appending it to `dst`.
pub fn encode_packet(
    packet: &Packet,
    v: ProtocolVersion,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let err = |violation| EncodeError {
        violation,
        version: v,
        packet_type: packet.packet_type(),
    };
    with_body!(packet, b => encode_one(b, v, dst)).map_err(err)
}

/// Fails with [`Violation::NotInV311`] when `cond` holds and `v` is MQTT 3.1.1.
pub(crate) fn v5_only(cond: bool, v: ProtocolVersion, what: &'static str) -> Result<(), Violation> {
    if cond && !v.is_v5() {
        return Err(Violation::NotInV311 { what });
    }
    Ok(())
}

/// Reads a non-zero Packet Identifier.
pub(crate) fn read_packet_id(
    r: &mut Reader,
    t: PacketType,
) -> Result<crate::qos::PacketId, Violation> {
    let id = r.u16("Packet Identifier")?;
    match crate::qos::PacketId::new(id) {
        Some(id) => Ok(id),
        None => Err(Violation::PacketIdentifierZero { packet_type: t }),
    }
}

/// Reads an MQTT 5.0 reason code and checks that this packet type may carry it.
pub(crate) fn read_reason_code(
    r: &mut Reader,
    t: PacketType,
) -> Result<crate::ReasonCode, Violation> {
    let code = r.u8("Reason Code")?;
    crate::ReasonCode::from_u8(code)
        .filter(|c| c.is_allowed_in(t))
        .ok_or(Violation::InvalidReasonCode {
            packet_type: t,
            code,
        })
}

/// Checks an MQTT 5.0 reason code for encoding.
pub(crate) fn check_reason_code(code: crate::ReasonCode, t: PacketType) -> Result<(), Violation> {
    if !code.is_allowed_in(t) {
        return Err(Violation::InvalidReasonCode {
            packet_type: t,
            code: code.as_u8(),
        });
    }
    Ok(())
}

/// Arbitrary payload bytes (at most 1 KiB) for the `arbitrary` derive.
#[cfg(feature = "arbitrary")]
pub(crate) fn arbitrary_bytes(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<Bytes> {
    let len = u.int_in_range(0..=1024usize)?;
    Ok(Bytes::copy_from_slice(u.bytes(len.min(u.len()))?))
}

/// Optional arbitrary bytes for the `arbitrary` derive.
#[cfg(feature = "arbitrary")]
pub(crate) fn arbitrary_opt_bytes(
    u: &mut arbitrary::Unstructured<'_>,
) -> arbitrary::Result<Option<Bytes>> {
    if u.arbitrary()? {
        Ok(Some(arbitrary_bytes(u)?))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fast_lens` against the separate `validate` and `body_len`: whatever it accepts, they
    /// accept with the same lengths. It refuses only what they refuse, except a 5.0 SUBSCRIBE
    /// with a `$share` filter, which it leaves to them on purpose.
    fn fast_agrees(packet: &Packet, v: ProtocolVersion) {
        let (fast, slow) =
            with_body!(packet, b => (b.fast_lens(v), b.validate(v).and_then(|()| b.body_len(v))));
        match fast {
            Some(lens) => assert_eq!(slow, Ok(lens), "{packet:?} in {v:?}"),
            None => {
                let shared = matches!(packet, Packet::Subscribe(s) if v.is_v5()
                    && s.filters.iter().any(|(f, _)| f.as_str().starts_with("$share")));
                assert!(slow.is_err() || shared, "{packet:?} in {v:?}: {slow:?}");
            }
        }
    }

    fn edge_cases() -> Vec<Packet> {
        use crate::property::{ConnectProperties, Props, PublishProperties, SubscribeProperties};
        use crate::qos::{Delivery, PacketId};
        use crate::string::{MqttString, TopicFilter, TopicName};
        use std::num::{NonZeroU16, NonZeroU32};
        let s = |t: &str| MqttString::new(t, "test").unwrap();
        // Strings cannot be longer than 65,535 bytes (`MqttString` refuses them); binary
        // data can.
        let long = Bytes::from(vec![b'x'; 70_000]);
        let mut out = Vec::new();
        // PUBLISH
        let base = Publish::new(TopicName::new("a/b").unwrap(), &b"p"[..]);
        let mut p = base.clone();
        p.dup = true;
        out.push(Packet::Publish(p.clone()));
        p.delivery = Delivery::AtLeastOnce(PacketId::MIN);
        out.push(Packet::Publish(p));
        let mut p = base.clone();
        p.topic = TopicName::default();
        out.push(Packet::Publish(p.clone()));
        p.properties.topic_alias = NonZeroU16::new(3);
        out.push(Packet::Publish(p));
        let mut p = base.clone();
        p.properties.user_properties = vec![(s("a"), s("b")), (s("k"), s("v"))].into();
        out.push(Packet::Publish(p.clone()));
        p.properties.correlation_data = Some(long.clone());
        out.push(Packet::Publish(p));
        let mut p = base.clone();
        p.properties = PublishProperties::default().into();
        p.properties.subscription_identifiers = vec![NonZeroU32::MAX, NonZeroU32::MIN];
        out.push(Packet::Publish(p.clone()));
        p.properties.subscription_identifiers = vec![NonZeroU32::new(268_435_455).unwrap()];
        out.push(Packet::Publish(p));
        // An allocated but empty property set.
        let mut p = base.clone();
        p.properties.user_properties.clear();
        out.push(Packet::Publish(p));
        // CONNECT
        let base = Connect {
            protocol_version: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: 10,
            properties: Props::none(),
            client_id: s("client"),
            will: None,
            username: None,
            password: None,
        };
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let mut c = base.clone();
            c.protocol_version = v;
            out.push(Packet::Connect(Box::new(c.clone())));
            c.password = Some(Bytes::from_static(b"pw"));
            out.push(Packet::Connect(Box::new(c.clone())));
            c.username = Some(s("u"));
            out.push(Packet::Connect(Box::new(c.clone())));
            c.password = Some(long.clone());
            out.push(Packet::Connect(Box::new(c.clone())));
            c.password = None;
            let mut props = ConnectProperties {
                authentication_data: Some(Bytes::from_static(b"d")),
                ..ConnectProperties::default()
            };
            c.properties = props.clone().into();
            out.push(Packet::Connect(Box::new(c.clone())));
            props.authentication_method = Some(s("m"));
            c.properties = props.into();
            out.push(Packet::Connect(Box::new(c.clone())));
            c.properties = Props::none();
            for topic in ["", "w"] {
                let mut will = LastWill {
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    properties: Props::none(),
                    topic: TopicName::new(topic).unwrap(),
                    payload: Bytes::from_static(b"bye"),
                };
                out.push(Packet::Connect(Box::new(Connect {
                    will: Some(will.clone()),
                    ..c.clone()
                })));
                will.properties.will_delay_interval = Some(1);
                out.push(Packet::Connect(Box::new(Connect {
                    will: Some(will.clone()),
                    ..c.clone()
                })));
                will.payload = long.clone();
                out.push(Packet::Connect(Box::new(Connect {
                    will: Some(will),
                    ..c.clone()
                })));
            }
        }
        // SUBSCRIBE
        let sub = |filters: &[(&str, u8)], props: SubscribeProperties| {
            Packet::Subscribe(Subscribe {
                packet_id: PacketId::MIN,
                properties: props.into(),
                filters: filters
                    .iter()
                    .map(|(f, o)| {
                        let mut options = SubscriptionOptions::qos(QoS::AtMostOnce);
                        options.no_local = o & 4 != 0;
                        (TopicFilter::new(*f).unwrap(), options)
                    })
                    .collect(),
            })
        };
        out.push(sub(&[], SubscribeProperties::default()));
        for f in [
            "a/+",
            "$share/g/a",
            "$share",
            "$share/g",
            "$SYS/x",
            "$sharex/y",
        ] {
            out.push(sub(&[("b", 0), (f, 0)], SubscribeProperties::default()));
            out.push(sub(&[(f, 4)], SubscribeProperties::default()));
        }
        let mut props = SubscribeProperties {
            subscription_identifiers: vec![NonZeroU32::MIN, NonZeroU32::MIN],
            ..SubscribeProperties::default()
        };
        out.push(sub(&[("a", 0)], props.clone()));
        props.subscription_identifiers = vec![NonZeroU32::MAX];
        out.push(sub(&[("a", 0)], props.clone()));
        props.subscription_identifiers = vec![NonZeroU32::MIN];
        out.push(sub(&[("a", 0)], props));
        out
    }

    #[test]
    fn the_encode_fast_path_agrees_with_validate_and_body_len_on_edge_cases() {
        for packet in edge_cases() {
            for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
                fast_agrees(&packet, v);
            }
        }
    }

    /// The same on arbitrary packets (valid and not), from a fixed pseudo-random stream.
    #[cfg(feature = "arbitrary")]
    #[test]
    fn the_encode_fast_path_agrees_with_validate_and_body_len_on_arbitrary_packets() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut bytes = vec![0u8; 4096];
        let mut checked = 0;
        for _ in 0..20_000 {
            for b in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            let mut u = arbitrary::Unstructured::new(&bytes);
            let Ok(packet) = <Packet as arbitrary::Arbitrary>::arbitrary(&mut u) else {
                continue;
            };
            for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
                fast_agrees(&packet, v);
            }
            checked += 1;
        }
        assert!(checked > 10_000, "only {checked} packets");
    }

    /// Issue 13: a `Packet` stays small, so decoding and queueing move little memory.
    /// Large and rare data (CONNECT, every property set) is boxed.
    #[test]
    fn packet_is_at_most_160_bytes() {
        let size = std::mem::size_of::<Packet>();
        println!("size_of::<Packet>() = {size}");
        assert!(size <= 160, "size_of::<Packet>() = {size}");
    }
}
