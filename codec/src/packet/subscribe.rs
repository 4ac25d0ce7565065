//! SUBSCRIBE: the subscribe request, and its Subscription Options.

use bytes::{BufMut, BytesMut};

use super::{read_packet_id, v5_only, Lens, PacketBody, PacketType};
use crate::property::block_len;
use crate::property::{PropertyContext, PropertySet, Props, SubscribeProperties};
use crate::protocol::ProtocolVersion;
use crate::qos::{PacketId, QoS};
use crate::reader::Reader;
use crate::string::TopicFilter;
use crate::violation::Violation;
use crate::writer::prefixed_len;

/// Retain Handling: when retained messages are sent for a new subscription (MQTT 5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum RetainHandling {
    /// 0: send retained messages when the subscription is made.
    #[default]
    SendOnSubscribe = 0,
    /// 1: send them only if the subscription did not exist before.
    SendIfNew = 1,
    /// 2: do not send retained messages.
    DoNotSend = 2,
}

/// The Subscription Options byte. In MQTT 3.1.1 only `qos` exists (the other fields must
/// keep their defaults to encode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// No Local (MQTT 5.0).
    pub no_local: bool,
    /// Retain As Published (MQTT 5.0).
    pub retain_as_published: bool,
    /// Retain Handling (MQTT 5.0).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with this QoS and the other fields at their defaults.
    pub fn qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            ..Default::default()
        }
    }

    /// Parses the options byte for `v`.
    pub fn from_byte(b: u8, v: ProtocolVersion) -> Result<Self, Violation> {
        let reserved = if v.is_v5() { 0b1100_0000 } else { 0b1111_1100 };
        if b & reserved != 0 {
            return Err(Violation::SubscriptionOptionsReservedBits { options: b });
        }
        let Some(qos) = QoS::from_u8(b & 0b11) else {
            return Err(Violation::InvalidQoS {
                field: "Requested QoS",
            });
        };
        let retain_handling = match (b >> 4) & 0b11 {
            0 => RetainHandling::SendOnSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(Violation::InvalidRetainHandling),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: b & 0b0100 != 0,
            retain_as_published: b & 0b1000 != 0,
            retain_handling,
        })
    }

    /// The options byte.
    pub fn to_byte(self) -> u8 {
        self.qos.as_u8()
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }
}

/// SUBSCRIBE: at least one Topic Filter with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Subscribe {
    /// Packet Identifier.
    pub packet_id: PacketId,
    /// SUBSCRIBE properties (MQTT 5.0): at most one Subscription Identifier, User Properties.
    pub properties: Props<SubscribeProperties>,
    /// The Topic Filters and their options, in order.
    pub filters: Vec<(TopicFilter, SubscriptionOptions)>,
}

impl PacketBody for Subscribe {
    const TYPE: PacketType = PacketType::Subscribe;

    fn decode_body(_flags: u8, r: &mut Reader, v: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = read_packet_id(r, Self::TYPE)?;
        let properties = if v.is_v5() {
            SubscribeProperties::decode(r, PropertyContext::Subscribe)?
        } else {
            Props::none()
        };
        // Each entry takes at least 4 bytes (length, one character, options); the cap keeps
        // the up-front allocation small whatever the Remaining Length claims.
        let mut filters = Vec::with_capacity((r.remaining() / 4).min(16));
        while !r.is_empty() {
            let filter = r.topic_filter("Topic Filter")?;
            let options = SubscriptionOptions::from_byte(r.u8("Subscription Options")?, v)?;
            // In 5.0 the shared-subscription rules (MQTT-4.8.2-1/-2, and No Local on a shared
            // subscription, MQTT-3.8.3-4); a filter that does not start with `$share` passes
            // them without looking further (only its first byte is read), as in `fast_lens`.
            if v.is_v5() && is_share_candidate(filter.as_str().as_bytes()) {
                filter.check_shared()?;
                if options.no_local && filter.shared_parts().is_some() {
                    return Err(Violation::NoLocalOnSharedSubscription);
                }
            }
            filters.push((filter, options));
        }
        if filters.is_empty() {
            return Err(Violation::NoTopicFilters {
                packet_type: Self::TYPE,
            });
        }
        Ok(Subscribe {
            packet_id,
            properties,
            filters,
        })
    }

    #[inline(always)]
    fn validate(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if self.filters.is_empty() {
            return Err(Violation::NoTopicFilters {
                packet_type: Self::TYPE,
            });
        }
        v5_only(!self.properties.is_empty(), v, "SUBSCRIBE properties")?;
        self.properties.validate()?;
        for (filter, options) in &self.filters {
            if v.is_v5() {
                filter.check_shared()?;
                if options.no_local && filter.shared_parts().is_some() {
                    return Err(Violation::NoLocalOnSharedSubscription);
                }
            } else {
                v5_only(
                    options.to_byte() & !0b11 != 0,
                    v,
                    "subscription options other than QoS",
                )?;
            }
        }
        Ok(())
    }

    /// One walk over the filters: the checks of `validate` and the lengths of `body_len`. In
    /// 5.0 a filter that starts with `$share` goes to the exact checks (`check_shared`,
    /// MQTT-4.8.2-1/-2, and No Local on a shared subscription, MQTT-3.8.3-4); any other filter
    /// passes them without looking further, so only its first byte is read here.
    #[inline(always)]
    fn fast_lens(&self, v: ProtocolVersion) -> Option<Lens> {
        if self.filters.is_empty() {
            return None;
        }
        let mut lens = Lens::default();
        let mut len = 2;
        if v.is_v5() {
            lens.props = self.properties.fast_body_len()?;
            len += block_len(lens.props).ok()?;
        } else if !self.properties.is_empty() {
            return None;
        }
        let mut any = 0usize;
        for (filter, options) in &self.filters {
            let bytes = filter.as_mqtt_str().as_bytes();
            // `--cfg mqttspec_bench_unchecked` (a build that only measures what checks cost,
            // see `string.rs`) leaves out the two per-filter checks: the shared-subscription
            // screen in 5.0, and in 3.1.1 that the options use only the QoS bits.
            if cfg!(mqttspec_bench_unchecked) {
            } else if v.is_v5() {
                if is_share_candidate(bytes) {
                    return None;
                }
            } else if options.to_byte() & !0b11 != 0 {
                return None;
            }
            len += 3 + bytes.len();
            any |= bytes.len();
        }
        if any > usize::from(u16::MAX) {
            return None;
        }
        lens.body = len;
        Some(lens)
    }

    #[inline(always)]
    fn body_len(&self, v: ProtocolVersion) -> Result<Lens, Violation> {
        let mut lens = Lens::default();
        let mut len = 2;
        if v.is_v5() {
            lens.props = self.properties.body_len()?;
            len += block_len(lens.props)?;
        }
        for (filter, _) in &self.filters {
            len += prefixed_len(filter.len(), "Topic Filter")? + 1;
        }
        lens.body = len;
        Ok(lens)
    }

    #[inline(always)]
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
        // Each filter's options byte goes out in one write with the next filter's length
        // (`body_len` checked every length).
        if let Some((first, _)) = self.filters.first() {
            dst.put_u16(first.len() as u16);
        }
        // In 3.1.1 the options byte is the Requested QoS alone (the other options were
        // refused before anything was written).
        let v5 = v.is_v5();
        for (i, (filter, options)) in self.filters.iter().enumerate() {
            dst.put_slice(filter.as_mqtt_str().as_bytes());
            let byte = if v5 {
                options.to_byte()
            } else {
                options.qos.as_u8()
            };
            match self.filters.get(i + 1) {
                Some((next, _)) => {
                    let [hi, lo] = (next.len() as u16).to_be_bytes();
                    dst.put_slice(&[byte, hi, lo]);
                }
                None => dst.put_u8(byte),
            }
        }
        Ok(())
    }
}

/// Whether a Topic Filter starts with `$share`: only such a filter can break a
/// shared-subscription rule ([`TopicFilter::check_shared`], and No Local on a shared
/// subscription); any other passes them. The first byte alone settles the common case.
#[inline(always)]
fn is_share_candidate(filter: &[u8]) -> bool {
    filter.first() == Some(&b'$') && filter.starts_with(b"$share")
}
