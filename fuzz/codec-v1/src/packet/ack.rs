//! PUBACK, PUBREC, PUBREL and PUBCOMP: the acknowledgements of the QoS 1 and QoS 2 flows.
//! They share one layout (Packet Identifier, then in MQTT 5.0 an optional Reason Code and
//! optional properties), so one macro defines the four structs.

use bytes::{BufMut, BytesMut};

use super::{check_reason_code, read_packet_id, read_reason_code, PacketBody, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::protocol::ProtocolVersion;
use crate::qos::PacketId;
use crate::reader::Reader;
use crate::reason_code::ReasonCode;
use crate::violation::Violation;

macro_rules! publish_ack {
    ($(#[$doc:meta])* $name:ident, $context:ident) => {
        $(#[$doc])*
        ///
        /// In MQTT 5.0 the short forms decode: Remaining Length 2 means reason code 0x00
        /// without properties, 3 means a reason code without properties. Encoding writes the
        /// shortest form that carries the value.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
        pub struct $name {
            /// Packet Identifier of the PUBLISH this belongs to.
            pub packet_id: PacketId,
            /// Reason Code (MQTT 5.0; always Success in 3.1.1).
            pub reason_code: ReasonCode,
            /// Properties (MQTT 5.0).
            pub properties: Properties,
        }

        impl $name {
            /// A successful acknowledgement without properties.
            pub fn new(packet_id: PacketId) -> Self {
                $name {
                    packet_id,
                    reason_code: ReasonCode::Success,
                    properties: Properties::default(),
                }
            }
        }

        impl PacketBody for $name {
            const TYPE: PacketType = PacketType::$name;

            fn decode_body(_flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
                let packet_id = read_packet_id(r, Self::TYPE)?;
                let mut out = $name::new(packet_id);
                if v.is_v5() && !r.is_empty() {
                    out.reason_code = read_reason_code(r, Self::TYPE)?;
                    if !r.is_empty() {
                        out.properties = Properties::decode(r, PropertyContext::$context)?;
                    }
                }
                Ok(out)
            }

            fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
                if v.is_v5() {
                    check_reason_code(self.reason_code, Self::TYPE)?;
                    self.properties.validate(PropertyContext::$context)
                } else if self.reason_code != ReasonCode::Success {
                    Err(Violation::NotInV311 { what: "reason codes" })
                } else if !self.properties.is_empty() {
                    Err(Violation::NotInV311 { what: "properties" })
                } else {
                    Ok(())
                }
            }

            fn body_len(&self, v: ProtocolVersion) -> Result<usize, Violation> {
                if !v.is_v5() || (self.reason_code == ReasonCode::Success && self.properties.is_empty()) {
                    Ok(2)
                } else if self.properties.is_empty() {
                    Ok(3)
                } else {
                    Ok(3 + self.properties.encoded_len()?)
                }
            }

            fn encode_body(&self, dst: &mut BytesMut, v: ProtocolVersion) -> Result<(), Violation> {
                dst.put_u16(self.packet_id.get());
                let len = self.body_len(v)?;
                if len >= 3 {
                    dst.put_u8(self.reason_code.as_u8());
                }
                if len > 3 {
                    self.properties.encode(dst)?;
                }
                Ok(())
            }
        }
    };
}

publish_ack!(
    /// PUBACK: acknowledges a QoS 1 PUBLISH.
    PubAck,
    PubAck
);
publish_ack!(
    /// PUBREC: first acknowledgement of a QoS 2 PUBLISH.
    PubRec,
    PubRec
);
publish_ack!(
    /// PUBREL: releases a QoS 2 PUBLISH (fixed-header flags 0b0010).
    PubRel,
    PubRel
);
publish_ack!(
    /// PUBCOMP: completes a QoS 2 flow.
    PubComp,
    PubComp
);
