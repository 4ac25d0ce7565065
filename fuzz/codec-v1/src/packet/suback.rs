//! SUBACK: the subscribe acknowledgement.

use bytes::{BufMut, BytesMut};

use super::{check_reason_code, read_packet_id, read_reason_code, v5_only, PacketBody, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::protocol::ProtocolVersion;
use crate::qos::PacketId;
use crate::reader::Reader;
use crate::reason_code::ReasonCode;
use crate::violation::Violation;

/// SUBACK: one reason code per Topic Filter of the SUBSCRIBE, in order. In MQTT 3.1.1 only
/// 0x00, 0x01, 0x02 and 0x80 exist.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SubAck {
    /// Packet Identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// SUBACK properties (MQTT 5.0).
    pub properties: Properties,
    /// The reason codes, one per filter.
    pub reason_codes: Vec<ReasonCode>,
}

impl PacketBody for SubAck {
    const TYPE: PacketType = PacketType::SubAck;

    fn decode_body(_flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = read_packet_id(r, Self::TYPE)?;
        let properties = if v.is_v5() {
            Properties::decode(r, PropertyContext::SubAck)?
        } else {
            Properties::default()
        };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let code = if v.is_v5() {
                read_reason_code(r, Self::TYPE)?
            } else {
                let b = r.u8("Return Code")?;
                ReasonCode::from_u8(b)
                    .filter(|c| c.is_v311_suback_return_code())
                    .ok_or(Violation::InvalidReasonCode {
                        packet_type: Self::TYPE,
                        code: b,
                    })?
            };
            reason_codes.push(code);
        }
        if reason_codes.is_empty() {
            return Err(Violation::NoReasonCodes {
                packet_type: Self::TYPE,
            });
        }
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if self.reason_codes.is_empty() {
            return Err(Violation::NoReasonCodes {
                packet_type: Self::TYPE,
            });
        }
        for code in &self.reason_codes {
            if v.is_v5() {
                check_reason_code(*code, Self::TYPE)?;
            } else if !code.is_v311_suback_return_code() {
                return Err(Violation::NotInV311 {
                    what: "this SUBACK reason code",
                });
            }
        }
        v5_only(!self.properties.is_empty(), v, "SUBACK properties")?;
        self.properties.validate(PropertyContext::SubAck)
    }

    fn body_len(&self, v: ProtocolVersion) -> Result<usize, Violation> {
        let props = if v.is_v5() {
            self.properties.encoded_len()?
        } else {
            0
        };
        Ok(2 + props + self.reason_codes.len())
    }

    fn encode_body(&self, dst: &mut BytesMut, v: ProtocolVersion) -> Result<(), Violation> {
        dst.put_u16(self.packet_id.get());
        if v.is_v5() {
            self.properties.encode(dst)?;
        }
        for code in &self.reason_codes {
            dst.put_u8(code.as_u8());
        }
        Ok(())
    }
}
