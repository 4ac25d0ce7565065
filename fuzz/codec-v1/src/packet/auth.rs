//! AUTH: the MQTT 5.0 authentication exchange (type 15 is reserved in MQTT 3.1.1).

use bytes::{BufMut, BytesMut};

use super::{check_reason_code, read_reason_code, PacketBody, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::protocol::ProtocolVersion;
use crate::reader::Reader;
use crate::reason_code::ReasonCode;
use crate::violation::Violation;

/// AUTH. Remaining Length 0 means Success without properties; otherwise both the reason code
/// and the Property Length are present.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Auth {
    /// Authenticate Reason Code.
    pub reason_code: ReasonCode,
    /// AUTH properties.
    pub properties: Properties,
}

impl PacketBody for Auth {
    const TYPE: PacketType = PacketType::Auth;

    fn decode_body(_flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
        if !v.is_v5() {
            return Err(Violation::ReservedPacketType { packet_type: 15 });
        }
        let mut out = Auth::default();
        if !r.is_empty() {
            out.reason_code = read_reason_code(r, Self::TYPE)?;
            out.properties = Properties::decode(r, PropertyContext::Auth)?;
        }
        Ok(out)
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if !v.is_v5() {
            return Err(Violation::NotInV311 { what: "AUTH" });
        }
        check_reason_code(self.reason_code, Self::TYPE)?;
        self.properties.validate(PropertyContext::Auth)
    }

    fn body_len(&self, _v: ProtocolVersion) -> Result<usize, Violation> {
        if self.reason_code == ReasonCode::Success && self.properties.is_empty() {
            Ok(0)
        } else {
            Ok(1 + self.properties.encoded_len()?)
        }
    }

    fn encode_body(&self, dst: &mut BytesMut, v: ProtocolVersion) -> Result<(), Violation> {
        if self.body_len(v)? > 0 {
            dst.put_u8(self.reason_code.as_u8());
            self.properties.encode(dst)?;
        }
        Ok(())
    }
}
