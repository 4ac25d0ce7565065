//! CONNECT: the connection request.

use bytes::{BufMut, Bytes, BytesMut};

use super::{v5_only, Lens, PacketBody, PacketType};
use crate::error::DecodeError;
use crate::property::block_len;
use crate::property::{ConnectProperties, PropertyContext, PropertySet, Props, WillProperties};
use crate::protocol::ProtocolVersion;
use crate::qos::QoS;
use crate::reader::Reader;
use crate::string::{MqttString, TopicName};
use crate::violation::Violation;
use crate::writer::{prefixed_len, put_prefixed};

/// The Will Message declared in CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct LastWill {
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will Properties (MQTT 5.0).
    pub properties: Props<WillProperties>,
    /// Will Topic (never empty).
    pub topic: TopicName,
    /// Will Payload.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::packet::arbitrary_bytes))]
    pub payload: Bytes,
}

/// A string rule broken in the Will Properties, with the field named as a Will Property
/// ("Will Content Type", …), so that a bad string there can be told from the same property
/// elsewhere in the CONNECT (its properties also carry User Properties). Other violations
/// are unchanged.
fn of_will_properties(v: Violation) -> Violation {
    let will = |field: &'static str| match field {
        "Content Type" => "Will Content Type",
        "Response Topic" => "Will Response Topic",
        "User Property name" => "Will User Property name",
        "User Property value" => "Will User Property value",
        other => other,
    };
    match v {
        Violation::InvalidUtf8 { field } => Violation::InvalidUtf8 { field: will(field) },
        Violation::NullCharacter { field } => Violation::NullCharacter { field: will(field) },
        other => other,
    }
}

/// CONNECT. `protocol_version` is the Protocol Level the packet carries; the Protocol Name is
/// always "MQTT" (anything else is refused when decoding and can only be sent with
/// [`RawPacket`](crate::RawPacket)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Connect {
    /// The protocol version (Protocol Level 4 or 5).
    pub protocol_version: ProtocolVersion,
    /// Clean Start (MQTT 5.0) / Clean Session (MQTT 3.1.1).
    pub clean_start: bool,
    /// Keep Alive, in seconds.
    pub keep_alive: u16,
    /// CONNECT properties (MQTT 5.0).
    pub properties: Props<ConnectProperties>,
    /// Client Identifier (may be empty).
    pub client_id: MqttString,
    /// The Will Message, if the Will Flag is set.
    pub will: Option<LastWill>,
    /// User Name.
    pub username: Option<MqttString>,
    /// Password.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::packet::arbitrary_opt_bytes))]
    pub password: Option<Bytes>,
}

const PROTOCOL_NAME: &[u8] = b"MQTT";

/// Reads the protocol version a CONNECT packet declares, from its first bytes (fixed header
/// included). A server uses this to choose the version for the rest of the connection.
pub fn connect_protocol_version(buf: &[u8]) -> Result<Option<ProtocolVersion>, DecodeError> {
    let v = ProtocolVersion::V5;
    // The version is not known yet and MQTT 3.1.1 allows a Remaining Length that is not
    // minimally encoded: when that is all 5.0's rules refuse, read the header by 3.1.1's (a
    // 5.0 CONNECT written that way is refused when the packet itself is decoded).
    let header = match super::FixedHeader::parse(buf, v) {
        Err(e) if matches!(e.violation, Violation::NonMinimalVariableByteInteger { .. }) => {
            super::FixedHeader::parse(buf, ProtocolVersion::V311)
                .map_err(|e| DecodeError { version: v, ..e })?
        }
        other => other?,
    };
    let Some(header) = header else {
        return Ok(None);
    };
    let err = |violation| DecodeError::new(violation, v, Some(header.packet_type));
    if header.packet_type != PacketType::Connect {
        return Err(err(Violation::ReservedPacketType {
            packet_type: header.packet_type as u8,
        }));
    }
    let start = header.header_len;
    let Some(prefix) = buf.get(start..start + 7) else {
        return Ok(None);
    };
    if prefix.get(..6) != Some(&[0, 4, b'M', b'Q', b'T', b'T'][..]) {
        return Err(err(Violation::InvalidProtocolName));
    }
    let level = prefix.get(6).copied().unwrap_or(0);
    ProtocolVersion::from_level(level)
        .map(Some)
        .ok_or_else(|| err(Violation::UnsupportedProtocolLevel { level }))
}

impl PacketBody for Connect {
    const TYPE: PacketType = PacketType::Connect;

    fn decode_body(_flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
        let name = r.binary("Protocol Name")?;
        if name.as_ref() != PROTOCOL_NAME {
            return Err(Violation::InvalidProtocolName);
        }
        let level = r.u8("Protocol Level")?;
        let found = ProtocolVersion::from_level(level)
            .ok_or(Violation::UnsupportedProtocolLevel { level })?;
        if found != v {
            return Err(Violation::ProtocolVersionMismatch {
                expected: v.level(),
                found: level,
            });
        }
        let flags = r.u8("Connect Flags")?;
        if flags & 0x01 != 0 {
            return Err(Violation::ConnectReservedFlag);
        }
        let clean_start = flags & 0x02 != 0;
        let will_flag = flags & 0x04 != 0;
        let will_qos_bits = (flags >> 3) & 0b11;
        let will_retain = flags & 0x20 != 0;
        let password_flag = flags & 0x40 != 0;
        let username_flag = flags & 0x80 != 0;
        if !will_flag {
            if will_qos_bits != 0 {
                return Err(Violation::WillQoSWithoutWill);
            }
            if will_retain {
                return Err(Violation::WillRetainWithoutWill);
            }
        }
        let will_qos =
            QoS::from_u8(will_qos_bits).ok_or(Violation::InvalidQoS { field: "Will QoS" })?;
        if !v.is_v5() && password_flag && !username_flag {
            return Err(Violation::PasswordWithoutUserName);
        }
        let keep_alive = r.u16("Keep Alive")?;
        let properties = if v.is_v5() {
            ConnectProperties::decode(r, PropertyContext::Connect)?
        } else {
            Props::none()
        };
        let client_id = r.string("Client Identifier")?;
        let will = if will_flag {
            let properties = if v.is_v5() {
                WillProperties::decode(r, PropertyContext::Will).map_err(of_will_properties)?
            } else {
                Props::none()
            };
            let topic = r.topic_name("Will Topic")?;
            if topic.is_empty() {
                return Err(Violation::EmptyTopicName {
                    field: "Will Topic",
                });
            }
            let payload = r.binary("Will Payload")?;
            Some(LastWill {
                qos: will_qos,
                retain: will_retain,
                properties,
                topic,
                payload,
            })
        } else {
            None
        };
        let username = if username_flag {
            Some(r.string("User Name")?)
        } else {
            None
        };
        let password = if password_flag {
            Some(r.binary("Password")?)
        } else {
            None
        };
        Ok(Connect {
            protocol_version: v,
            clean_start,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    #[inline(always)]
    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if self.protocol_version != v {
            return Err(Violation::ProtocolVersionMismatch {
                expected: v.level(),
                found: self.protocol_version.level(),
            });
        }
        v5_only(!self.properties.is_empty(), v, "CONNECT properties")?;
        self.properties.validate()?;
        if let Some(will) = &self.will {
            v5_only(!will.properties.is_empty(), v, "Will Properties")?;
            will.properties.validate()?;
            if will.topic.is_empty() {
                return Err(Violation::EmptyTopicName {
                    field: "Will Topic",
                });
            }
        }
        if !v.is_v5() && self.password.is_some() && self.username.is_none() {
            return Err(Violation::PasswordWithoutUserName);
        }
        Ok(())
    }

    /// One walk: the checks of `validate` (version, properties only in 5.0 and their checks,
    /// the Will Topic, Password without User Name in 3.1.1) with the lengths of `body_len`.
    #[inline(always)]
    fn fast_lens(&self, v: ProtocolVersion) -> Option<Lens> {
        if self.protocol_version != v {
            return None;
        }
        let mut lens = Lens::default();
        let mut len = 2 + PROTOCOL_NAME.len() + 1 + 1 + 2;
        if v.is_v5() {
            lens.props = self.properties.fast_body_len()?;
            len += block_len(lens.props).ok()?;
        } else if !self.properties.is_empty() {
            return None;
        }
        let mut any = self.client_id.len();
        len += 2 + any;
        if let Some(will) = &self.will {
            if v.is_v5() {
                lens.will_props = will.properties.fast_body_len()?;
                len += block_len(lens.will_props).ok()?;
            } else if !will.properties.is_empty() {
                return None;
            }
            if will.topic.is_empty() {
                return None;
            }
            len += 4 + will.topic.len() + will.payload.len();
            any |= will.topic.len() | will.payload.len();
        }
        if let Some(u) = &self.username {
            len += 2 + u.len();
            any |= u.len();
        } else if self.password.is_some() && !v.is_v5() {
            return None;
        }
        if let Some(p) = &self.password {
            len += 2 + p.len();
            any |= p.len();
        }
        if any > usize::from(u16::MAX) {
            return None;
        }
        lens.body = len;
        Some(lens)
    }

    #[inline(always)]
    fn body_len(&self, v: ProtocolVersion) -> Result<Lens, Violation> {
        let mut lens = Lens::default();
        let mut len = 2 + PROTOCOL_NAME.len() + 1 + 1 + 2;
        if v.is_v5() {
            lens.props = self.properties.body_len()?;
            len += block_len(lens.props)?;
        }
        len += prefixed_len(self.client_id.len(), "Client Identifier")?;
        if let Some(will) = &self.will {
            if v.is_v5() {
                lens.will_props = will.properties.body_len()?;
                len += block_len(lens.will_props)?;
            }
            len += prefixed_len(will.topic.len(), "Will Topic")?;
            len += prefixed_len(will.payload.len(), "Will Payload")?;
        }
        if let Some(u) = &self.username {
            len += prefixed_len(u.len(), "User Name")?;
        }
        if let Some(p) = &self.password {
            len += prefixed_len(p.len(), "Password")?;
        }
        lens.body = len;
        Ok(lens)
    }

    #[inline(always)]
    fn encode_body(
        &self,
        dst: &mut BytesMut,
        v: ProtocolVersion,
        lens: &Lens,
    ) -> Result<(), Violation> {
        put_prefixed(dst, PROTOCOL_NAME);
        dst.put_u8(v.level());
        let mut flags = 0u8;
        if self.clean_start {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | (will.qos.as_u8() << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        dst.put_u8(flags);
        dst.put_u16(self.keep_alive);
        if v.is_v5() {
            self.properties.encode_with_len(dst, lens.props)?;
        }
        put_prefixed(dst, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v.is_v5() {
                will.properties.encode_with_len(dst, lens.will_props)?;
            }
            put_prefixed(dst, will.topic.as_mqtt_str().as_bytes());
            put_prefixed(dst, &will.payload);
        }
        if let Some(u) = &self.username {
            put_prefixed(dst, u.as_bytes());
        }
        if let Some(p) = &self.password {
            put_prefixed(dst, p);
        }
        Ok(())
    }
}
