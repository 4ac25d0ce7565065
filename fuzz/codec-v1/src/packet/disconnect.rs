//! DISCONNECT: the disconnect notification.

use bytes::{BufMut, BytesMut};

use super::{check_reason_code, read_reason_code, PacketBody, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::protocol::ProtocolVersion;
use crate::reader::Reader;
use crate::reason_code::ReasonCode;
use crate::violation::Violation;

/// DISCONNECT. In MQTT 3.1.1 it is empty. In MQTT 5.0 the short forms decode: Remaining
/// Length 0 is a normal disconnection, 1 is a reason code without properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Disconnect {
    /// Disconnect Reason Code (MQTT 5.0).
    pub reason_code: ReasonCode,
    /// DISCONNECT properties (MQTT 5.0).
    pub properties: Properties,
}

impl Disconnect {
    /// A DISCONNECT with this reason code and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: Properties::default(),
        }
    }
}

impl PacketBody for Disconnect {
    const TYPE: PacketType = PacketType::Disconnect;

    fn decode_body(_flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
        let mut out = Disconnect::default();
        if v.is_v5() && !r.is_empty() {
            out.reason_code = read_reason_code(r, Self::TYPE)?;
            if !r.is_empty() {
                out.properties = Properties::decode(r, PropertyContext::Disconnect)?;
            }
        }
        Ok(out)
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if v.is_v5() {
            check_reason_code(self.reason_code, Self::TYPE)?;
            self.properties.validate(PropertyContext::Disconnect)
        } else if self.reason_code != ReasonCode::Success {
            Err(Violation::NotInV311 {
                what: "DISCONNECT reason codes",
            })
        } else if !self.properties.is_empty() {
            Err(Violation::NotInV311 {
                what: "DISCONNECT properties",
            })
        } else {
            Ok(())
        }
    }

    fn body_len(&self, v: ProtocolVersion) -> Result<usize, Violation> {
        if !v.is_v5() || (self.reason_code == ReasonCode::Success && self.properties.is_empty()) {
            Ok(0)
        } else if self.properties.is_empty() {
            Ok(1)
        } else {
            Ok(1 + self.properties.encoded_len()?)
        }
    }

    fn encode_body(&self, dst: &mut BytesMut, v: ProtocolVersion) -> Result<(), Violation> {
        let len = self.body_len(v)?;
        if len >= 1 {
            dst.put_u8(self.reason_code.as_u8());
        }
        if len > 1 {
            self.properties.encode(dst)?;
        }
        Ok(())
    }
}
