//! DISCONNECT: the disconnect notification.

use bytes::{BufMut, BytesMut};

use super::{check_reason_code, read_reason_code, Lens, PacketBody, PacketType};
use crate::property::block_len;
use crate::property::{DisconnectProperties, PropertyContext, PropertySet, Props};
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
    pub properties: Props<DisconnectProperties>,
}

impl Disconnect {
    /// A DISCONNECT with this reason code and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: Props::none(),
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
                out.properties = DisconnectProperties::decode(r, PropertyContext::Disconnect)?;
            }
        }
        Ok(out)
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if v.is_v5() {
            check_reason_code(self.reason_code, Self::TYPE)?;
            self.properties.validate()
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

    fn body_len(&self, v: ProtocolVersion) -> Result<Lens, Violation> {
        if !v.is_v5() || (self.reason_code == ReasonCode::Success && self.properties.is_empty()) {
            Ok(Lens::body(0))
        } else if self.properties.is_empty() {
            Ok(Lens::body(1))
        } else {
            let props = self.properties.body_len()?;
            Ok(Lens {
                body: 1 + block_len(props)?,
                props,
                will_props: 0,
            })
        }
    }

    fn encode_body(
        &self,
        dst: &mut BytesMut,
        _v: ProtocolVersion,
        lens: &Lens,
    ) -> Result<(), Violation> {
        if lens.body >= 1 {
            dst.put_u8(self.reason_code.as_u8());
        }
        if lens.body > 1 {
            self.properties.encode_with_len(dst, lens.props)?;
        }
        Ok(())
    }
}
