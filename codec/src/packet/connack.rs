//! CONNACK: the connect acknowledgement.

use bytes::{BufMut, BytesMut};

use super::{check_reason_code, read_reason_code, v5_only, Lens, PacketBody, PacketType};
use crate::property::block_len;
use crate::property::{ConnAckProperties, PropertyContext, PropertySet, Props};
use crate::protocol::ProtocolVersion;
use crate::reader::Reader;
use crate::reason_code::ReasonCode;
use crate::violation::Violation;

/// CONNACK. In MQTT 3.1.1 the return codes 0..=5 are carried as the MQTT 5.0 codes of the
/// same meaning (see [`ReasonCode::from_connect_return_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// Connect Reason Code (or the 3.1.1 return code).
    pub reason_code: ReasonCode,
    /// CONNACK properties (MQTT 5.0).
    pub properties: Props<ConnAckProperties>,
}

impl PacketBody for ConnAck {
    const TYPE: PacketType = PacketType::ConnAck;

    fn decode_body(_flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
        let ack_flags = r.u8("Connect Acknowledge Flags")?;
        if ack_flags & 0xFE != 0 {
            return Err(Violation::ConnAckReservedFlags { flags: ack_flags });
        }
        let session_present = ack_flags & 0x01 != 0;
        let reason_code = if v.is_v5() {
            read_reason_code(r, Self::TYPE)?
        } else {
            let code = r.u8("Connect Return code")?;
            ReasonCode::from_connect_return_code(code).ok_or(Violation::InvalidReasonCode {
                packet_type: Self::TYPE,
                code,
            })?
        };
        if session_present && reason_code.is_error() {
            return Err(Violation::SessionPresentOnError);
        }
        let properties = if v.is_v5() {
            ConnAckProperties::decode(r, PropertyContext::ConnAck)?
        } else {
            Props::none()
        };
        Ok(ConnAck {
            session_present,
            reason_code,
            properties,
        })
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if v.is_v5() {
            check_reason_code(self.reason_code, Self::TYPE)?;
        } else if self.reason_code.to_connect_return_code().is_none() {
            return Err(Violation::NotInV311 {
                what: "this CONNACK reason code",
            });
        }
        if self.session_present && self.reason_code.is_error() {
            return Err(Violation::SessionPresentOnError);
        }
        v5_only(!self.properties.is_empty(), v, "CONNACK properties")?;
        self.properties.validate()
    }

    fn body_len(&self, v: ProtocolVersion) -> Result<Lens, Violation> {
        if !v.is_v5() {
            return Ok(Lens::body(2));
        }
        let props = self.properties.body_len()?;
        Ok(Lens {
            body: 2 + block_len(props)?,
            props,
            will_props: 0,
        })
    }

    fn encode_body(
        &self,
        dst: &mut BytesMut,
        v: ProtocolVersion,
        lens: &Lens,
    ) -> Result<(), Violation> {
        dst.put_u8(u8::from(self.session_present));
        if v.is_v5() {
            dst.put_u8(self.reason_code.as_u8());
            self.properties.encode_with_len(dst, lens.props)?;
        } else {
            let code = self
                .reason_code
                .to_connect_return_code()
                .ok_or(Violation::NotInV311 {
                    what: "this CONNACK reason code",
                })?;
            dst.put_u8(code);
        }
        Ok(())
    }
}
