//! Round-trip properties of the codec, for every packet type in both protocol versions.
//!
//! For any packet the strategies generate: encoding succeeds, `encoded_len` is the encoded
//! length, decoding the bytes gives back the same value, and encoding that value again gives
//! the same bytes. The strategies themselves are checked too (every packet type is generated,
//! properties stay within their context), so a strategy that quietly stopped producing some
//! value cannot hide a codec bug.

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use mqttspec_codec::reader::Reader;
use mqttspec_codec::strategy;
use mqttspec_codec::{
    decode_packet, Packet, PacketType, Properties, PropertyContext, ProtocolVersion, Publish,
    TopicName,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use proptest::test_runner::{RngAlgorithm, TestRng};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V311;

/// Every property context, for the property-set checks.
const CONTEXTS: [PropertyContext; 14] = [
    PropertyContext::Connect,
    PropertyContext::Will,
    PropertyContext::ConnAck,
    PropertyContext::Publish,
    PropertyContext::PubAck,
    PropertyContext::PubRec,
    PropertyContext::PubRel,
    PropertyContext::PubComp,
    PropertyContext::Subscribe,
    PropertyContext::SubAck,
    PropertyContext::Unsubscribe,
    PropertyContext::UnsubAck,
    PropertyContext::Disconnect,
    PropertyContext::Auth,
];

/// The round-trip property for one packet in one version.
fn assert_round_trip(packet: &Packet, v: ProtocolVersion) -> Result<(), TestCaseError> {
    packet
        .validate(v)
        .map_err(|e| TestCaseError::fail(format!("generated packet does not validate: {e}")))?;
    let bytes = packet
        .encode(v)
        .map_err(|e| TestCaseError::fail(format!("encode failed: {e}")))?;
    let len = packet
        .encoded_len(v)
        .map_err(|e| TestCaseError::fail(format!("encoded_len failed: {e}")))?;
    prop_assert_eq!(len, bytes.len(), "encoded_len disagrees with encode");

    let first = *bytes.first().unwrap_or(&0);
    prop_assert_eq!(
        first >> 4,
        packet.packet_type() as u8,
        "wrong packet type nibble"
    );

    let (decoded, used) = decode_packet(&bytes, v)
        .map_err(|e| TestCaseError::fail(format!("decode_packet failed: {e}\n{bytes:02X?}")))?;
    prop_assert_eq!(used, bytes.len(), "decode_packet used a different length");
    prop_assert_eq!(&decoded, packet, "decode gave a different packet");

    let whole = Packet::decode(bytes.clone(), v)
        .map_err(|e| TestCaseError::fail(format!("Packet::decode failed: {e}")))?;
    prop_assert_eq!(&whole, packet);

    let again = decoded
        .encode(v)
        .map_err(|e| TestCaseError::fail(format!("re-encode failed: {e}")))?;
    prop_assert_eq!(again, bytes, "re-encoding gave different bytes");
    Ok(())
}

macro_rules! round_trip_tests {
    ($( $name:ident: $strategy:expr, $version:expr; )*) => {
        proptest! {
            #![proptest_config(config(256))]
            $(
                #[test]
                fn $name(packet in $strategy) {
                    assert_round_trip(&packet, $version)?;
                }
            )*
        }
    };
}

/// The proptest configuration: `default` cases unless `PROPTEST_CASES` says otherwise, and
/// the fast XorShift generator unless `PROPTEST_RNG_ALGORITHM` names one (ChaCha, the default,
/// is several times slower in unoptimised test builds).
fn config(default: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default;
    }
    if std::env::var_os("PROPTEST_RNG_ALGORITHM").is_none() {
        config.rng_algorithm = RngAlgorithm::XorShift;
    }
    config
}

round_trip_tests! {
    connect_round_trips_in_v5: strategy::connect(V5).prop_map(|c| Packet::Connect(Box::new(c))), V5;
    connect_round_trips_in_v311: strategy::connect(V311).prop_map(|c| Packet::Connect(Box::new(c))), V311;
    connack_round_trips_in_v5: strategy::connack(V5).prop_map(Packet::ConnAck), V5;
    connack_round_trips_in_v311: strategy::connack(V311).prop_map(Packet::ConnAck), V311;
    publish_round_trips_in_v5: strategy::publish(V5).prop_map(Packet::Publish), V5;
    publish_round_trips_in_v311: strategy::publish(V311).prop_map(Packet::Publish), V311;
    puback_round_trips_in_v5: strategy::puback(V5).prop_map(Packet::PubAck), V5;
    puback_round_trips_in_v311: strategy::puback(V311).prop_map(Packet::PubAck), V311;
    pubrec_round_trips_in_v5: strategy::pubrec(V5).prop_map(Packet::PubRec), V5;
    pubrec_round_trips_in_v311: strategy::pubrec(V311).prop_map(Packet::PubRec), V311;
    pubrel_round_trips_in_v5: strategy::pubrel(V5).prop_map(Packet::PubRel), V5;
    pubrel_round_trips_in_v311: strategy::pubrel(V311).prop_map(Packet::PubRel), V311;
    pubcomp_round_trips_in_v5: strategy::pubcomp(V5).prop_map(Packet::PubComp), V5;
    pubcomp_round_trips_in_v311: strategy::pubcomp(V311).prop_map(Packet::PubComp), V311;
    subscribe_round_trips_in_v5: strategy::subscribe(V5).prop_map(Packet::Subscribe), V5;
    subscribe_round_trips_in_v311: strategy::subscribe(V311).prop_map(Packet::Subscribe), V311;
    suback_round_trips_in_v5: strategy::suback(V5).prop_map(Packet::SubAck), V5;
    suback_round_trips_in_v311: strategy::suback(V311).prop_map(Packet::SubAck), V311;
    unsubscribe_round_trips_in_v5: strategy::unsubscribe(V5).prop_map(Packet::Unsubscribe), V5;
    unsubscribe_round_trips_in_v311: strategy::unsubscribe(V311).prop_map(Packet::Unsubscribe), V311;
    unsuback_round_trips_in_v5: strategy::unsuback(V5).prop_map(Packet::UnsubAck), V5;
    unsuback_round_trips_in_v311: strategy::unsuback(V311).prop_map(Packet::UnsubAck), V311;
    disconnect_round_trips_in_v5: strategy::disconnect(V5).prop_map(Packet::Disconnect), V5;
    disconnect_round_trips_in_v311: strategy::disconnect(V311).prop_map(Packet::Disconnect), V311;
    auth_round_trips_in_v5: strategy::auth().prop_map(Packet::Auth), V5;
    any_v5_packet_round_trips: strategy::packet(V5), V5;
    any_v311_packet_round_trips: strategy::packet(V311), V311;
}

#[test]
fn pings_round_trip_in_both_versions() {
    for v in [V5, V311] {
        for packet in [Packet::PingReq, Packet::PingResp] {
            let bytes = packet.encode(v).unwrap();
            assert_eq!(bytes.len(), 2);
            assert_eq!(packet.encoded_len(v).unwrap(), 2);
            assert_eq!(Packet::decode(bytes, v).unwrap(), packet);
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Each context's property set validates there, holds only properties allowed there,
    /// and survives an encode/decode of the property block unchanged.
    #[test]
    fn properties_round_trip_in_every_context(
        (context, props) in select(&CONTEXTS[..])
            .prop_flat_map(|c| (Just(c), strategy::properties(c))),
    ) {
        prop_assert_eq!(props.validate(context), Ok(()));
        for id in props.present() {
            prop_assert!(id.is_allowed_in(context), "{} in {}", id, context);
        }
        let mut buf = BytesMut::new();
        props.encode(&mut buf).unwrap();
        prop_assert_eq!(buf.len(), props.encoded_len().unwrap());
        let mut reader = Reader::new(buf.freeze());
        let decoded = Properties::decode(&mut reader, context).unwrap();
        prop_assert!(reader.is_empty());
        prop_assert_eq!(decoded, props);
    }

    /// Topic Filters for MQTT 5.0 pass the shared-subscription check; those for 3.1.1 are
    /// never shared subscriptions.
    #[test]
    fn generated_topic_filters_are_valid_for_their_version(
        v5 in strategy::topic_filter(V5),
        v311 in strategy::topic_filter(V311),
    ) {
        prop_assert_eq!(v5.check_shared(), Ok(()));
        prop_assert!(!v311.as_str().starts_with("$share"));
        prop_assert!(!v311.is_empty());
    }

    /// Topic Names are never empty and carry no wildcard.
    #[test]
    fn generated_topic_names_are_non_empty_and_wildcard_free(name in strategy::topic_name()) {
        prop_assert!(!name.is_empty());
        prop_assert!(!name.contains(['+', '#', '\0']));
    }
}

/// Draws `n` values of `s` from a deterministic runner.
fn samples<S: Strategy>(s: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::deterministic_rng(RngAlgorithm::XorShift),
    );
    (0..n)
        .map(|_| s.new_tree(&mut runner).unwrap().current())
        .collect()
}

#[test]
fn the_packet_strategy_covers_every_type_of_each_version() {
    for v in [V5, V311] {
        let seen: BTreeSet<PacketType> = samples(strategy::packet(v), 400)
            .iter()
            .map(Packet::packet_type)
            .collect();
        let expected: BTreeSet<PacketType> = strategy::packet_types(v).into_iter().collect();
        assert_eq!(seen, expected, "MQTT {v}");
    }
    assert!(!strategy::packet_types(V311).contains(&PacketType::Auth));
    assert_eq!(strategy::packet_types(V5).len(), 15);
}

#[test]
fn v311_packets_carry_no_v5_only_data() {
    for packet in samples(strategy::packet(V311), 400) {
        let (reason_code, properties) = match &packet {
            Packet::Connect(c) => {
                assert!(c.will.as_ref().is_none_or(|w| w.properties.is_empty()));
                assert!(c.password.is_none() || c.username.is_some());
                (None, Some(c.properties.to_properties()))
            }
            Packet::ConnAck(p) => {
                assert!(p.reason_code.to_connect_return_code().is_some());
                (None, Some(p.properties.to_properties()))
            }
            Packet::Publish(p) => (None, Some(p.properties.to_properties())),
            Packet::PubAck(p) => (Some(p.reason_code), Some(p.properties.to_properties())),
            Packet::PubRec(p) => (Some(p.reason_code), Some(p.properties.to_properties())),
            Packet::PubRel(p) => (Some(p.reason_code), Some(p.properties.to_properties())),
            Packet::PubComp(p) => (Some(p.reason_code), Some(p.properties.to_properties())),
            Packet::Subscribe(p) => {
                for (_, options) in &p.filters {
                    assert_eq!(options.to_byte() & !0b11, 0);
                }
                (None, Some(p.properties.to_properties()))
            }
            Packet::SubAck(p) => {
                assert!(p
                    .reason_codes
                    .iter()
                    .all(|c| c.is_v311_suback_return_code()));
                (None, Some(p.properties.to_properties()))
            }
            Packet::Unsubscribe(p) => (None, Some(p.properties.to_properties())),
            Packet::UnsubAck(p) => {
                assert!(p.reason_codes.is_empty());
                (None, Some(p.properties.to_properties()))
            }
            Packet::Disconnect(p) => (Some(p.reason_code), Some(p.properties.to_properties())),
            Packet::PingReq | Packet::PingResp => (None, None),
            Packet::Auth(_) => panic!("AUTH generated for MQTT 3.1.1"),
        };
        if let Some(code) = reason_code {
            assert_eq!(code, mqttspec_codec::ReasonCode::Success, "{packet:?}");
        }
        if let Some(props) = properties {
            assert!(props.is_empty(), "{packet:?}");
        }
    }
}

#[test]
fn v5_strategies_produce_the_interesting_cases() {
    let publishes = samples(strategy::publish(V5), 500);
    assert!(
        publishes.iter().any(|p| p.topic.is_empty()),
        "no alias-only PUBLISH"
    );
    assert!(
        publishes
            .iter()
            .any(|p| p.properties.subscription_identifiers.len() > 1),
        "no PUBLISH with several Subscription Identifiers"
    );
    assert!(
        publishes.iter().any(|p| p.topic.contains('\u{FEFF}')),
        "no U+FEFF"
    );
    assert!(
        publishes.iter().any(|p| !p.topic.is_ascii()),
        "no non-ASCII text"
    );
    let subscribes = samples(strategy::subscribe(V5), 200);
    assert!(
        subscribes
            .iter()
            .flat_map(|s| &s.filters)
            .any(|(f, _)| f.shared_parts().is_some()),
        "no shared subscription"
    );
    assert!(
        subscribes
            .iter()
            .flat_map(|s| &s.filters)
            .any(|(f, _)| f.as_str().ends_with('#')),
        "no multi-level wildcard"
    );
}

/// Remaining Lengths at the edges of each Variable Byte Integer size round-trip.
#[test]
fn remaining_length_boundaries_round_trip() {
    let topic = TopicName::new("t").unwrap();
    // Body = 2 (length prefix) + 1 (topic) + payload, QoS 0, MQTT 3.1.1 (no properties).
    for remaining in [3usize, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
        let publish = Packet::Publish(Publish::new(
            topic.clone(),
            Bytes::from(vec![0xA5; remaining - 3]),
        ));
        let bytes = publish.encode(V311).unwrap();
        let header_len = match remaining {
            0..=127 => 2,
            128..=16_383 => 3,
            16_384..=2_097_151 => 4,
            _ => 5,
        };
        assert_eq!(bytes.len(), header_len + remaining, "{remaining}");
        assert_eq!(publish.encoded_len(V311).unwrap(), bytes.len());
        assert_eq!(Packet::decode(bytes, V311).unwrap(), publish);
    }
}
