//! UNSUBSCRIBE: the unsubscribe request.

use bytes::{BufMut, BytesMut};

use super::{read_packet_id, v5_only, Lens, PacketBody, PacketType};
use crate::property::block_len;
use crate::property::{PropertyContext, PropertySet, Props, UnsubscribeProperties};
use crate::protocol::ProtocolVersion;
use crate::qos::PacketId;
use crate::reader::Reader;
use crate::string::TopicFilter;
use crate::violation::Violation;
use crate::writer::{prefixed_len, put_prefixed};

/// UNSUBSCRIBE: at least one Topic Filter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Unsubscribe {
    /// Packet Identifier.
    pub packet_id: PacketId,
    /// UNSUBSCRIBE properties (MQTT 5.0: User Properties only).
    pub properties: Props<UnsubscribeProperties>,
    /// The Topic Filters, in order.
    pub filters: Vec<TopicFilter>,
}

impl PacketBody for Unsubscribe {
    const TYPE: PacketType = PacketType::Unsubscribe;

    fn decode_body(_flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = read_packet_id(r, Self::TYPE)?;
        let properties = if v.is_v5() {
            UnsubscribeProperties::decode(r, PropertyContext::Unsubscribe)?
        } else {
            Props::none()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.topic_filter("Topic Filter")?;
            if v.is_v5() {
                filter.check_shared()?;
            }
            filters.push(filter);
        }
        if filters.is_empty() {
            return Err(Violation::NoTopicFilters {
                packet_type: Self::TYPE,
            });
        }
        Ok(Unsubscribe {
            packet_id,
            properties,
            filters,
        })
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if self.filters.is_empty() {
            return Err(Violation::NoTopicFilters {
                packet_type: Self::TYPE,
            });
        }
        if v.is_v5() {
            for f in &self.filters {
                f.check_shared()?;
            }
        }
        v5_only(!self.properties.is_empty(), v, "UNSUBSCRIBE properties")?;
        self.properties.validate()
    }

    fn body_len(&self, v: ProtocolVersion) -> Result<Lens, Violation> {
        let mut lens = Lens::default();
        let mut len = 2;
        if v.is_v5() {
            lens.props = self.properties.body_len()?;
            len += block_len(lens.props)?;
        }
        for filter in &self.filters {
            len += prefixed_len(filter.len(), "Topic Filter")?;
        }
        lens.body = len;
        Ok(lens)
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
        }
        for filter in &self.filters {
            put_prefixed(dst, filter.as_mqtt_str().as_bytes());
        }
        Ok(())
    }
}
