//! The fault `forward-wildcard-response-topic`: a PUBLISH whose Response Topic holds `+` or
//! `#` is accepted and forwarded with that Response Topic (MQTT-3.3.2-14 forbids the server
//! to send it so).
//!
//! The codec refuses such a Response Topic when it decodes (a [`TopicName`] cannot hold a
//! wildcard), so the fault works on the bytes, as the other faults that bend encodings do:
//! in the frame of the incoming MQTT 5.0 PUBLISH each `+` of the Response Topic becomes
//! [`MASK_PLUS`] and each `#` [`MASK_HASH`] (one byte for one, so every length stays right)
//! before it is decoded again, and in each encoded PUBLISH sent to an MQTT 5.0 client the
//! masks in the Response Topic become the wildcards again. Under the fault a Response Topic
//! that really holds those two control characters is sent with wildcards in their place.
//!
//! [`TopicName`]: mqttspec_codec::TopicName

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use mqttspec_codec::reader::Reader;
use mqttspec_codec::PropertyId;

/// What a `+` of the Response Topic becomes while the core holds the message.
pub(super) const MASK_PLUS: u8 = 0x01;
/// What a `#` of the Response Topic becomes while the core holds the message.
pub(super) const MASK_HASH: u8 = 0x02;

/// The bytes of the Response Topic's characters (after its length prefix) in `packet`, a
/// whole encoded MQTT 5.0 PUBLISH (fixed header included); `None` when it has none or the
/// bytes do not walk as a PUBLISH.
fn response_topic_range(packet: &Bytes) -> Option<Range<usize>> {
    let first = *packet.first()?;
    if first >> 4 != 3 {
        return None;
    }
    let qos = (first >> 1) & 0x03;
    let total = packet.len();
    let mut r = Reader::new(packet.clone());
    let at = |r: &Reader| total - r.remaining();
    r.u8("fixed header").ok()?;
    r.variable_byte_integer("Remaining Length").ok()?;
    r.binary("Topic Name").ok()?;
    if qos > 0 {
        r.u16("Packet Identifier").ok()?;
    }
    let length = r.variable_byte_integer("Property Length").ok()?;
    let end = at(&r).checked_add(usize::try_from(length).ok()?)?;
    while at(&r) < end {
        let id = r.variable_byte_integer("Property Identifier").ok()?;
        match PropertyId::from_u32(id)? {
            PropertyId::PayloadFormatIndicator => {
                r.u8("property").ok()?;
            }
            PropertyId::MessageExpiryInterval => {
                r.u32("property").ok()?;
            }
            PropertyId::TopicAlias => {
                r.u16("property").ok()?;
            }
            PropertyId::SubscriptionIdentifier => {
                r.variable_byte_integer("property").ok()?;
            }
            PropertyId::ContentType | PropertyId::CorrelationData => {
                r.binary("property").ok()?;
            }
            PropertyId::UserProperty => {
                r.binary("property").ok()?;
                r.binary("property").ok()?;
            }
            PropertyId::ResponseTopic => {
                let start = at(&r) + 2;
                let value = r.binary("property").ok()?;
                return Some(start..start + value.len());
            }
            _ => return None,
        }
    }
    None
}

/// `packet` with each byte of its Response Topic that `from` selects replaced by `to(byte)`;
/// `None` when nothing was replaced.
fn replace_in_response_topic(
    packet: &Bytes,
    from: impl Fn(u8) -> bool,
    to: impl Fn(u8) -> u8,
) -> Option<Bytes> {
    let range = response_topic_range(packet)?;
    let mut out = BytesMut::from(packet.as_ref());
    let mut replaced = false;
    for b in out.get_mut(range)?.iter_mut() {
        if from(*b) {
            *b = to(*b);
            replaced = true;
        }
    }
    replaced.then(|| out.freeze())
}

/// The incoming PUBLISH frame `packet` with the wildcards of its Response Topic masked, if
/// it has any.
pub(super) fn mask(packet: &Bytes) -> Option<Bytes> {
    replace_in_response_topic(
        packet,
        |b| b == b'+' || b == b'#',
        |b| if b == b'+' { MASK_PLUS } else { MASK_HASH },
    )
}

/// The outgoing encoded PUBLISH `packet` with the masks of its Response Topic turned back
/// into wildcards (unchanged when it holds none).
pub(super) fn unmask(packet: Bytes) -> Bytes {
    replace_in_response_topic(
        &packet,
        |b| b == MASK_PLUS || b == MASK_HASH,
        |b| if b == MASK_PLUS { b'+' } else { b'#' },
    )
    .unwrap_or(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttspec_codec::{Packet, ProtocolVersion, QoS};

    fn publish_with_response_topic(topic: &str) -> Bytes {
        // PUBLISH QoS 1, Topic Name "a", Packet Identifier 7, then the properties: Message
        // Expiry Interval, a User Property, the Response Topic, Correlation Data.
        let mut props = vec![0x02, 0, 0, 0, 9, 0x26, 0, 1, b'k', 0, 1, b'v', 0x08];
        props.extend_from_slice(&u16::try_from(topic.len()).unwrap().to_be_bytes());
        props.extend_from_slice(topic.as_bytes());
        props.extend_from_slice(&[0x09, 0, 2, b'+', b'#']);
        let mut body = vec![0, 1, b'a', 0, 7, u8::try_from(props.len()).unwrap()];
        body.extend_from_slice(&props);
        body.extend_from_slice(b"payload");
        let mut packet = vec![0x32, u8::try_from(body.len()).unwrap()];
        packet.extend_from_slice(&body);
        Bytes::from(packet)
    }

    #[test]
    fn masking_lets_the_codec_decode_and_unmasking_restores_the_wildcards() {
        let original = publish_with_response_topic("reply/+/x/#");
        assert!(Packet::decode(original.clone(), ProtocolVersion::V5).is_err());
        let masked = mask(&original).unwrap();
        let Packet::Publish(p) = Packet::decode(masked.clone(), ProtocolVersion::V5).unwrap()
        else {
            panic!("not a PUBLISH");
        };
        assert_eq!(p.qos(), QoS::AtLeastOnce);
        assert_eq!(
            p.properties.response_topic.clone().unwrap().as_str(),
            "reply/\u{1}/x/\u{2}"
        );
        // The Correlation Data keeps its wildcard bytes: only the Response Topic is touched.
        assert_eq!(
            p.properties.correlation_data.clone().unwrap().as_ref(),
            b"+#"
        );
        assert_eq!(unmask(masked), original);
    }

    #[test]
    fn packets_without_a_response_topic_are_left_alone() {
        let plain = Bytes::from_static(&[0x30, 0x05, 0, 1, b'a', 0, b'x']);
        assert_eq!(mask(&plain), None);
        assert_eq!(unmask(plain.clone()), plain);
        assert_eq!(mask(&Bytes::new()), None);
        assert_eq!(mask(&Bytes::from_static(&[0x32, 0x7F])), None);
    }
}
