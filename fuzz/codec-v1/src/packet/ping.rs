//! PINGREQ and PINGRESP: no variable header, no payload.

use bytes::BytesMut;

use super::{PacketBody, PacketType};
use crate::protocol::ProtocolVersion;
use crate::reader::Reader;
use crate::violation::Violation;

macro_rules! empty_packet {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl PacketBody for $name {
            const TYPE: PacketType = PacketType::$name;

            fn decode_body(_flags: u8, _r: &mut Reader, _v: ProtocolVersion) -> Result<Self, Violation> {
                // Any byte in the body is reported as trailing by the caller.
                Ok($name)
            }

            fn validate(&self, _v: ProtocolVersion) -> Result<(), Violation> {
                Ok(())
            }

            fn body_len(&self, _v: ProtocolVersion) -> Result<usize, Violation> {
                Ok(0)
            }

            fn encode_body(&self, _dst: &mut BytesMut, _v: ProtocolVersion) -> Result<(), Violation> {
                Ok(())
            }
        }
    };
}

empty_packet!(
    /// PINGREQ.
    PingReq
);
empty_packet!(
    /// PINGRESP.
    PingResp
);
