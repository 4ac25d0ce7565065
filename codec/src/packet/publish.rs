//! PUBLISH: an Application Message.

use bytes::{BufMut, Bytes, BytesMut};

use super::{read_packet_id, v5_only, Lens, PacketBody, PacketType};
use crate::property::block_len;
use crate::property::{PropertyContext, PropertySet, Props, PublishProperties};
use crate::protocol::ProtocolVersion;
use crate::qos::{Delivery, PacketId, QoS};
use crate::reader::Reader;
use crate::string::TopicName;
use crate::violation::Violation;
use crate::writer::{prefixed_len, put_prefixed};

/// PUBLISH. Its QoS and Packet Identifier are one [`Delivery`], so a Packet Identifier is present
/// exactly when the QoS is 1 or 2. The Topic Name may be empty only in MQTT 5.0 with a Topic
/// Alias.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Publish {
    /// DUP flag.
    pub dup: bool,
    /// QoS level and, for QoS 1 and 2, the Packet Identifier.
    pub delivery: Delivery,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic Name.
    pub topic: TopicName,
    /// PUBLISH properties (MQTT 5.0).
    pub properties: Props<PublishProperties>,
    /// The Application Message payload (a slice of the received frame).
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::packet::arbitrary_bytes))]
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 PUBLISH of `payload` to `topic`, without flags or properties.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Self {
        Publish {
            dup: false,
            delivery: Delivery::AtMostOnce,
            retain: false,
            topic,
            properties: Props::none(),
            payload: payload.into(),
        }
    }

    /// The QoS level.
    #[inline]
    pub fn qos(&self) -> QoS {
        self.delivery.qos()
    }

    /// The Packet Identifier (`None` exactly for QoS 0).
    #[inline]
    pub fn packet_id(&self) -> Option<PacketId> {
        self.delivery.packet_id()
    }

    /// Gives a QoS 1 or 2 PUBLISH `packet_id` as its identifier; a QoS 0 one stays without.
    #[inline]
    pub fn set_packet_id(&mut self, packet_id: PacketId) {
        self.delivery = self.delivery.with_packet_id(packet_id);
    }
}

impl PacketBody for Publish {
    const TYPE: PacketType = PacketType::Publish;

    #[inline(always)]
    fn decode_body(flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
        // The fixed-header parser already refused QoS 3 and DUP with QoS 0.
        let dup = flags & 0b1000 != 0;
        // (`let else` rather than `ok_or`: an error value built eagerly is dropped again on
        // the success path, a call per packet.)
        let Some(qos) = QoS::from_u8((flags >> 1) & 0b11) else {
            return Err(Violation::InvalidQoS {
                field: "PUBLISH QoS",
            });
        };
        if qos == QoS::AtMostOnce && dup {
            return Err(Violation::DupWithQoS0);
        }
        let retain = flags & 0b0001 != 0;
        let topic = r.topic_name("Topic Name")?;
        let delivery = match qos {
            QoS::AtMostOnce => Delivery::AtMostOnce,
            QoS::AtLeastOnce => Delivery::AtLeastOnce(read_packet_id(r, Self::TYPE)?),
            QoS::ExactlyOnce => Delivery::ExactlyOnce(read_packet_id(r, Self::TYPE)?),
        };
        let properties = if v.is_v5() {
            PublishProperties::decode(r, PropertyContext::Publish)?
        } else {
            Props::none()
        };
        if topic.is_empty() && properties.topic_alias.is_none() {
            return Err(Violation::EmptyTopicName {
                field: "Topic Name",
            });
        }
        let payload = r.rest();
        Ok(Publish {
            dup,
            delivery,
            retain,
            topic,
            properties,
            payload,
        })
    }

    fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | (self.qos().as_u8() << 1) | u8::from(self.retain)
    }

    #[inline(always)]
    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if self.dup && matches!(self.delivery, Delivery::AtMostOnce) {
            return Err(Violation::DupWithQoS0);
        }
        v5_only(!self.properties.is_empty(), v, "PUBLISH properties")?;
        self.properties.validate()?;
        if self.topic.is_empty() && self.properties.topic_alias.is_none() {
            return Err(Violation::EmptyTopicName {
                field: "Topic Name",
            });
        }
        Ok(())
    }

    /// One walk: DUP with QoS 0, properties only in 5.0, every property check and the
    /// Topic Alias / empty Topic Name rule, with the lengths.
    #[inline(always)]
    fn fast_lens(&self, v: ProtocolVersion) -> Option<Lens> {
        if self.dup && matches!(self.delivery, Delivery::AtMostOnce) {
            return None;
        }
        let topic = self.topic.len();
        let mut len = 2 + topic;
        if !matches!(self.delivery, Delivery::AtMostOnce) {
            len += 2;
        }
        let mut lens = Lens::default();
        if v.is_v5() {
            lens.props = self.properties.fast_body_len()?;
            len += block_len(lens.props).ok()?;
        } else if !self.properties.is_empty() {
            return None;
        }
        if (topic == 0 && self.properties.topic_alias.is_none()) || topic > usize::from(u16::MAX) {
            return None;
        }
        lens.body = len + self.payload.len();
        Some(lens)
    }

    #[inline(always)]
    fn body_len(&self, v: ProtocolVersion) -> Result<Lens, Violation> {
        let mut lens = Lens::default();
        let mut len = prefixed_len(self.topic.len(), "Topic Name")?;
        if !matches!(self.delivery, Delivery::AtMostOnce) {
            len += 2;
        }
        if v.is_v5() {
            lens.props = self.properties.body_len()?;
            len += block_len(lens.props)?;
        }
        lens.body = len + self.payload.len();
        Ok(lens)
    }

    #[inline(always)]
    fn encode_body(
        &self,
        dst: &mut BytesMut,
        v: ProtocolVersion,
        lens: &Lens,
    ) -> Result<(), Violation> {
        // `body_len` checked the Topic Name's length.
        put_prefixed(dst, self.topic.as_mqtt_str().as_bytes());
        if let Some(id) = self.delivery.packet_id() {
            dst.put_u16(id.get());
        }
        if v.is_v5() {
            self.properties.encode_with_len(dst, lens.props)?;
        }
        dst.put_slice(&self.payload);
        Ok(())
    }
}
