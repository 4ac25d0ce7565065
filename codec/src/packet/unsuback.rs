//! UNSUBACK: the unsubscribe acknowledgement.

use bytes::{BufMut, BytesMut};

use super::{check_reason_code, read_packet_id, read_reason_code, Lens, PacketBody, PacketType};
use crate::property::block_len;
use crate::property::{AckProperties, PropertyContext, PropertySet, Props};
use crate::protocol::ProtocolVersion;
use crate::qos::PacketId;
use crate::reader::Reader;
use crate::reason_code::ReasonCode;
use crate::violation::Violation;

/// UNSUBACK. In MQTT 5.0 it carries one reason code per Topic Filter of the UNSUBSCRIBE; in
/// MQTT 3.1.1 it has no payload (`reason_codes` is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct UnsubAck {
    /// Packet Identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// UNSUBACK properties (MQTT 5.0).
    pub properties: Props<AckProperties>,
    /// The reason codes (MQTT 5.0), one per filter.
    pub reason_codes: Vec<ReasonCode>,
}

impl PacketBody for UnsubAck {
    const TYPE: PacketType = PacketType::UnsubAck;

    fn decode_body(_flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = read_packet_id(r, Self::TYPE)?;
        let mut out = UnsubAck {
            packet_id,
            properties: Props::none(),
            reason_codes: Vec::new(),
        };
        if v.is_v5() {
            out.properties = AckProperties::decode(r, PropertyContext::UnsubAck)?;
            while !r.is_empty() {
                out.reason_codes.push(read_reason_code(r, Self::TYPE)?);
            }
            if out.reason_codes.is_empty() {
                return Err(Violation::NoReasonCodes {
                    packet_type: Self::TYPE,
                });
            }
        }
        Ok(out)
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if v.is_v5() {
            if self.reason_codes.is_empty() {
                return Err(Violation::NoReasonCodes {
                    packet_type: Self::TYPE,
                });
            }
            for code in &self.reason_codes {
                check_reason_code(*code, Self::TYPE)?;
            }
            self.properties.validate()
        } else if !self.reason_codes.is_empty() {
            Err(Violation::NotInV311 {
                what: "UNSUBACK reason codes",
            })
        } else if !self.properties.is_empty() {
            Err(Violation::NotInV311 {
                what: "UNSUBACK properties",
            })
        } else {
            Ok(())
        }
    }

    fn body_len(&self, v: ProtocolVersion) -> Result<Lens, Violation> {
        if !v.is_v5() {
            return Ok(Lens::body(2));
        }
        let props = self.properties.body_len()?;
        Ok(Lens {
            body: 2 + block_len(props)? + self.reason_codes.len(),
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
        dst.put_u16(self.packet_id.get());
        if v.is_v5() {
            self.properties.encode_with_len(dst, lens.props)?;
            for code in &self.reason_codes {
                dst.put_u8(code.as_u8());
            }
        }
        Ok(())
    }
}
