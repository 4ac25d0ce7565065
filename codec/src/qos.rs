//! Quality of Service levels and Packet Identifiers.

use std::num::NonZeroU16;

/// A Quality of Service level. Value 3 is reserved and cannot be represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum QoS {
    /// At most once delivery.
    #[default]
    AtMostOnce = 0,
    /// At least once delivery.
    AtLeastOnce = 1,
    /// Exactly once delivery.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for the two-bit value, or `None` for the reserved value 3 (or anything larger).
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// The numeric level.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// A Packet Identifier: a non-zero 16-bit value (zero is never a valid identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// The smallest identifier, 1.
    pub const MIN: PacketId = PacketId(NonZeroU16::MIN);

    /// A Packet Identifier, or `None` for zero.
    pub fn new(value: u16) -> Option<Self> {
        NonZeroU16::new(value).map(PacketId)
    }

    /// The numeric value.
    pub fn get(self) -> u16 {
        self.0.get()
    }

    /// The next identifier after this one, wrapping from 65535 to 1.
    pub fn next(self) -> Self {
        PacketId(NonZeroU16::new(self.0.get().wrapping_add(1)).unwrap_or(NonZeroU16::MIN))
    }
}

impl std::fmt::Display for PacketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How a PUBLISH is delivered: its QoS level together with the Packet Identifier that QoS 1
/// and QoS 2 need and QoS 0 must not have (MQTT-2.2.1-2 / MQTT-2.2.1-3 in 5.0, MQTT-2.3.1-1 /
/// MQTT-2.3.1-5 in 3.1.1). A QoS 1 or 2 PUBLISH without an identifier, or a QoS 0 one with an
/// identifier, cannot be represented; [`RawPacket`](crate::RawPacket) builds those bytes for
/// negative tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Delivery {
    /// QoS 0: no Packet Identifier.
    #[default]
    AtMostOnce,
    /// QoS 1, with its Packet Identifier.
    AtLeastOnce(PacketId),
    /// QoS 2, with its Packet Identifier.
    ExactlyOnce(PacketId),
}

impl Delivery {
    /// Delivery at `qos`; `packet_id` is used for QoS 1 and 2 and ignored for QoS 0.
    #[inline]
    pub fn new(qos: QoS, packet_id: PacketId) -> Self {
        match qos {
            QoS::AtMostOnce => Delivery::AtMostOnce,
            QoS::AtLeastOnce => Delivery::AtLeastOnce(packet_id),
            QoS::ExactlyOnce => Delivery::ExactlyOnce(packet_id),
        }
    }

    /// Delivery from a QoS and an optional Packet Identifier, or `None` when they do not fit
    /// together (QoS 0 with an identifier, QoS 1 or 2 without one).
    #[inline]
    pub fn from_parts(qos: QoS, packet_id: Option<PacketId>) -> Option<Self> {
        match (qos, packet_id) {
            (QoS::AtMostOnce, None) => Some(Delivery::AtMostOnce),
            (QoS::AtLeastOnce, Some(id)) => Some(Delivery::AtLeastOnce(id)),
            (QoS::ExactlyOnce, Some(id)) => Some(Delivery::ExactlyOnce(id)),
            _ => None,
        }
    }

    /// The QoS level.
    #[inline]
    pub fn qos(self) -> QoS {
        match self {
            Delivery::AtMostOnce => QoS::AtMostOnce,
            Delivery::AtLeastOnce(_) => QoS::AtLeastOnce,
            Delivery::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The Packet Identifier (`None` exactly for QoS 0).
    #[inline]
    pub fn packet_id(self) -> Option<PacketId> {
        match self {
            Delivery::AtMostOnce => None,
            Delivery::AtLeastOnce(id) | Delivery::ExactlyOnce(id) => Some(id),
        }
    }

    /// The same QoS with `packet_id` as its identifier (QoS 0 stays without one).
    #[inline]
    pub fn with_packet_id(self, packet_id: PacketId) -> Self {
        Delivery::new(self.qos(), packet_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_pairs_qos_with_a_packet_identifier_exactly_for_qos_1_and_2() {
        let id = PacketId::new(7).unwrap();
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let d = Delivery::new(qos, id);
            assert_eq!(d.qos(), qos);
            assert_eq!(d.packet_id().is_some(), qos != QoS::AtMostOnce);
            assert_eq!(Delivery::from_parts(qos, d.packet_id()), Some(d));
            let other = if qos == QoS::AtMostOnce {
                Some(id)
            } else {
                None
            };
            assert_eq!(Delivery::from_parts(qos, other), None);
        }
        let other = PacketId::new(9).unwrap();
        assert_eq!(
            Delivery::ExactlyOnce(id).with_packet_id(other),
            Delivery::ExactlyOnce(other)
        );
        assert_eq!(
            Delivery::AtMostOnce.with_packet_id(other),
            Delivery::AtMostOnce
        );
    }
}
