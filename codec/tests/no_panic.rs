//! Decoding untrusted bytes: never a panic, never a hang, never an allocation driven by a
//! claimed length; every refusal explains itself; and whatever decodes is something the
//! encoder can produce again (decode accepts nothing that encode refuses).
//!
//! Inputs are plain random bytes, random bodies behind every possible first byte, and valid
//! encodings of generated packets with bytes flipped, overwritten, inserted or deleted.

use bytes::{Bytes, BytesMut};
use mqttspec_codec::packet::FixedHeader;
use mqttspec_codec::strategy;
use mqttspec_codec::{
    connect_protocol_version, decode_packet, DecodeError, ErrorClass, FrameDecoder, Packet,
    PropertyContext, PropertyId, ProtocolVersion, RawPacket, ReasonCode, Violation,
    MAX_VARIABLE_BYTE_INTEGER,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::RngAlgorithm;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V5, ProtocolVersion::V311];

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

/// A refusal must say what went wrong, in the version it was decoded as.
fn check_error(err: &DecodeError, v: ProtocolVersion) -> Result<(), TestCaseError> {
    prop_assert!(!err.to_string().is_empty());
    prop_assert!(!err.violation.to_string().is_empty());
    prop_assert_eq!(err.version, v);
    if let Some(statement) = err.statement() {
        prop_assert_eq!(
            statement.spec(),
            v.spec(),
            "{} cites a statement of the other specification",
            err
        );
    }
    if err.class() != ErrorClass::Incomplete {
        prop_assert!(err.reason_code().is_some_and(|c| c.is_error()), "{}", err);
    }
    Ok(())
}

/// A decoded packet must be valid for encoding, encode to a form that decodes to the same
/// value, and report its encoded length truthfully.
fn check_decoded(packet: &Packet, v: ProtocolVersion, input: &[u8]) -> Result<(), TestCaseError> {
    let bytes = packet.encode(v).map_err(|e| {
        TestCaseError::fail(format!(
            "decoded a packet the encoder refuses: {e}\ninput: {input:02X?}\npacket: {packet:?}"
        ))
    })?;
    prop_assert_eq!(packet.encoded_len(v).ok(), Some(bytes.len()));
    let again = Packet::decode(bytes.clone(), v).map_err(|e| {
        TestCaseError::fail(format!(
            "re-encoded packet does not decode: {e}\ninput: {input:02X?}\nre-encoded: {bytes:02X?}"
        ))
    })?;
    prop_assert_eq!(&again, packet, "input: {:02X?}", input);
    Ok(())
}

/// Runs every decoding entry point over `input` and checks that they agree.
fn check_all_decoders(input: &[u8], v: ProtocolVersion) -> Result<(), TestCaseError> {
    let bytes = Bytes::copy_from_slice(input);

    // One whole packet.
    let whole = Packet::decode(bytes.clone(), v);
    match &whole {
        Ok(p) => check_decoded(p, v, input)?,
        Err(e) => check_error(e, v)?,
    }

    // The first packet of a buffer.
    let first = decode_packet(&bytes, v);
    match &first {
        Ok((p, used)) => {
            prop_assert!(*used >= 2 && *used <= input.len());
            check_decoded(p, v, input)?;
            if *used == input.len() {
                prop_assert_eq!(whole.as_ref().ok(), Some(p));
            }
        }
        Err(e) => {
            check_error(e, v)?;
            prop_assert!(whole.is_err());
        }
    }
    if let Ok(p) = &whole {
        prop_assert_eq!(first.as_ref().ok(), Some(&(p.clone(), input.len())));
    }

    // The fixed header alone, and the version sniffing a server does on the first bytes.
    if let Err(e) = FixedHeader::parse(input, v) {
        check_error(&e, v)?;
    }
    if let Err(e) = connect_protocol_version(input) {
        check_error(&e, ProtocolVersion::V5)?;
    }

    // The streaming decoder over the whole input: each step consumes a packet or stops.
    let mut decoder = FrameDecoder::new(v);
    let mut buf = BytesMut::from(input);
    let mut steps = 0;
    loop {
        steps += 1;
        prop_assert!(
            steps <= input.len() / 2 + 1,
            "the frame decoder does not progress"
        );
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => {
                prop_assert!(buf.len() + 2 <= before, "a packet consumed under two bytes");
                check_decoded(&p, v, input)?;
                if steps == 1 {
                    prop_assert_eq!(first.as_ref().ok().map(|(q, _)| q), Some(&p));
                }
            }
            Ok(None) => {
                prop_assert_eq!(buf.len(), before);
                prop_assert!(decoder.needed(&buf) >= 1);
                if steps == 1 {
                    prop_assert!(first.as_ref().is_err_and(DecodeError::is_incomplete));
                }
                break;
            }
            Err(e) => {
                check_error(&e, v)?;
                prop_assert!(!e.is_incomplete());
                if steps == 1 {
                    prop_assert!(first.is_err());
                }
                break;
            }
        }
    }
    Ok(())
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    Overwrite(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::FlipBit(i, bit)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<Index>().prop_map(Mutation::Delete),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        if let Mutation::Insert(_, b) = m {
            bytes.push(*b);
        }
        return;
    }
    match m {
        Mutation::FlipBit(i, bit) => {
            let at = i.index(bytes.len());
            bytes[at] ^= 1 << bit;
        }
        Mutation::Overwrite(i, b) => {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
        Mutation::Insert(i, b) => {
            let at = i.index(bytes.len() + 1);
            bytes.insert(at, *b);
        }
        Mutation::Delete(i) => {
            bytes.remove(i.index(bytes.len()));
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len())),
    }
}

// ---------------------------------------------------------------------------------------------
// Nearly-valid packets, built field by field
// ---------------------------------------------------------------------------------------------
//
// Random mutation of valid encodings rarely turns one well-formed field into another
// well-formed but forbidden one (a property that is not allowed in the packet, a repeated
// one, a zero Topic Alias, a shared subscription with No Local...). These strategies build
// packets from fields that are individually plausible but combined without regard for the
// rules, so the decoder's semantic checks are exercised: whatever it accepts must be something
// the encoder produces.

/// A Two Byte Integer length prefix and the bytes.
fn prefixed(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A minimal Variable Byte Integer.
fn varint(value: u32) -> Vec<u8> {
    RawPacket::new(0).varint(u64::from(value)).body().to_vec()
}

/// A length-prefixed string: valid text, topic-ish and filter-ish edge cases, or raw bytes
/// (often not UTF-8, sometimes with U+0000).
fn raw_string() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        5 => strategy::text(10, &[]).prop_map(String::into_bytes),
        3 => select(&[
            "", "a", "a/b", "+", "#", "a/#", "a/+/b", "a#", "a+", "#/a", "/", "$SYS/x",
            "$share/g/a", "$share/g/#", "$share//a", "$share/g", "$share/g/", "$share/+/a",
            "$share", "\u{FEFF}", "a\u{0}b",
        ][..])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => vec(any::<u8>(), 0..=6),
    ]
    .prop_map(|b| prefixed(&b))
}

/// Length-prefixed Binary Data.
fn raw_binary() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=6).prop_map(|b| prefixed(&b))
}

/// A byte that is usually small (0, 1, 2), the values most fields accept.
fn small_u8() -> impl Strategy<Value = u8> {
    prop_oneof![4 => 0u8..=2, 1 => any::<u8>()]
}

/// A Two Byte Integer, zero and one favoured.
fn raw_u16() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(0u16), Just(1u16), any::<u16>()].prop_map(|v| v.to_be_bytes().to_vec())
}

/// A Four Byte Integer, zero favoured.
fn raw_u32() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(0u32), any::<u32>()].prop_map(|v| v.to_be_bytes().to_vec())
}

/// The value of property `id`, in its data type but with any content.
fn raw_property_value(id: PropertyId) -> BoxedStrategy<Vec<u8>> {
    use PropertyId as P;
    match id {
        P::PayloadFormatIndicator
        | P::RequestProblemInformation
        | P::RequestResponseInformation
        | P::MaximumQoS
        | P::RetainAvailable
        | P::WildcardSubscriptionAvailable
        | P::SubscriptionIdentifierAvailable
        | P::SharedSubscriptionAvailable => small_u8().prop_map(|b| vec![b]).boxed(),
        P::ServerKeepAlive | P::ReceiveMaximum | P::TopicAliasMaximum | P::TopicAlias => {
            raw_u16().boxed()
        }
        P::MessageExpiryInterval
        | P::SessionExpiryInterval
        | P::WillDelayInterval
        | P::MaximumPacketSize => raw_u32().boxed(),
        P::SubscriptionIdentifier => prop_oneof![
            3 => (0u32..=MAX_VARIABLE_BYTE_INTEGER).prop_map(varint),
            1 => Just(vec![0x80, 0x00]),
        ]
        .boxed(),
        P::ContentType
        | P::ResponseTopic
        | P::AssignedClientIdentifier
        | P::AuthenticationMethod
        | P::ResponseInformation
        | P::ServerReference
        | P::ReasonString => raw_string().boxed(),
        P::CorrelationData | P::AuthenticationData => raw_binary().boxed(),
        P::UserProperty => (raw_string(), raw_string())
            .prop_map(|(mut k, v)| {
                k.extend(v);
                k
            })
            .boxed(),
    }
}

/// One property: usually one allowed in `context`, sometimes any, rarely an unknown id.
fn raw_property(context: PropertyContext) -> impl Strategy<Value = Vec<u8>> {
    let allowed: Vec<PropertyId> = PropertyId::ALL
        .iter()
        .copied()
        .filter(|id| id.is_allowed_in(context))
        .collect();
    let known = prop_oneof![
        4 => select(allowed),
        1 => select(PropertyId::ALL),
    ]
    .prop_flat_map(|id| {
        raw_property_value(id).prop_map(move |value| {
            let mut out = vec![id as u8];
            out.extend(value);
            out
        })
    });
    prop_oneof![
        20 => known,
        1 => (prop_oneof![Just(0u8), Just(0x04), Just(0x7F)], small_u8())
            .prop_map(|(id, b)| vec![id, b]),
    ]
}

/// A property block for `context`: a Property Length (rarely off by one) and properties.
fn raw_properties(context: PropertyContext) -> impl Strategy<Value = Vec<u8>> {
    (
        vec(raw_property(context), 0..=4),
        prop_oneof![20 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
    )
        .prop_map(|(props, skew)| {
            let body: Vec<u8> = props.concat();
            let len = (body.len() as i64 + i64::from(skew)).max(0) as u32;
            let mut out = varint(len);
            out.extend(body);
            out
        })
}

/// The property block in MQTT 5.0, nothing in 3.1.1.
fn props_for(context: PropertyContext, v: ProtocolVersion) -> BoxedStrategy<Vec<u8>> {
    if v.is_v5() {
        raw_properties(context).boxed()
    } else {
        Just(Vec::new()).boxed()
    }
}

/// A reason code byte: usually one of the defined codes, sometimes any byte.
fn raw_reason_code() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => select(ReasonCode::ALL).prop_map(ReasonCode::as_u8),
        1 => any::<u8>(),
    ]
}

/// A packet (first byte and body) assembled from plausible fields without the rules.
fn nearly_valid_packet(v: ProtocolVersion) -> BoxedStrategy<(u8, Vec<u8>)> {
    use PropertyContext as C;
    let level = if v.is_v5() { 5u8 } else { 4 };
    let connect_flags = prop_oneof![
        3 => (any::<bool>(), any::<bool>(), 0u8..=2, any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(clean, will, qos, retain, password, user)| {
                u8::from(clean) << 1
                    | u8::from(will) << 2
                    | if will { qos << 3 | u8::from(retain) << 5 } else { 0 }
                    | u8::from(password) << 6
                    | u8::from(user) << 7
            }),
        1 => any::<u8>(),
    ];
    let connect = (
        connect_flags,
        raw_u16(),
        props_for(C::Connect, v),
        raw_string(),
        props_for(C::Will, v),
        (raw_string(), raw_binary(), raw_string(), raw_binary()),
    )
        .prop_map(
            move |(
                flags,
                keep_alive,
                props,
                client_id,
                will_props,
                (topic, payload, user, pass),
            )| {
                let mut b = prefixed(b"MQTT");
                b.push(level);
                b.push(flags);
                b.extend(keep_alive);
                b.extend(props);
                b.extend(client_id);
                if flags & 0x04 != 0 {
                    b.extend(will_props);
                    b.extend(topic);
                    b.extend(payload);
                }
                if flags & 0x80 != 0 {
                    b.extend(user);
                }
                if flags & 0x40 != 0 {
                    b.extend(pass);
                }
                (0x10, b)
            },
        );
    let connack = (small_u8(), raw_reason_code(), props_for(C::ConnAck, v)).prop_map(
        move |(flags, code, props)| {
            let code = if v.is_v5() { code } else { code % 8 };
            let mut b = vec![flags, code];
            b.extend(props);
            (0x20, b)
        },
    );
    let publish = (
        0u8..=0x0F,
        raw_string(),
        raw_u16(),
        props_for(C::Publish, v),
        vec(any::<u8>(), 0..=4),
    )
        .prop_map(|(flags, topic, id, props, payload)| {
            let mut b = topic;
            if flags & 0b0110 != 0 {
                b.extend(id);
            }
            b.extend(props);
            b.extend(payload);
            (0x30 | flags, b)
        });
    let ack = (
        select(
            &[
                (0x40u8, C::PubAck),
                (0x50, C::PubRec),
                (0x62, C::PubRel),
                (0x70, C::PubComp),
            ][..],
        ),
        raw_u16(),
        prop_oneof![Just(None), raw_reason_code().prop_map(Some)],
    )
        .prop_flat_map(|((first, context), id, code)| {
            (
                Just((first, id, code)),
                prop_oneof![Just(None), raw_properties(context).prop_map(Some)],
            )
        })
        .prop_map(move |((first, id, code), props)| {
            let mut b = id;
            if v.is_v5() {
                if let Some(code) = code {
                    b.push(code);
                    if let Some(props) = props {
                        b.extend(props);
                    }
                }
            }
            (first, b)
        });
    let filter_and_options = (raw_string(), prop_oneof![3 => 0u8..=0x3F, 1 => any::<u8>()])
        .prop_map(|(mut f, o)| {
            f.push(o);
            f
        });
    let subscribe = (
        raw_u16(),
        props_for(C::Subscribe, v),
        vec(filter_and_options, 0..=3),
    )
        .prop_map(|(id, props, filters)| {
            let mut b = id;
            b.extend(props);
            b.extend(filters.concat());
            (0x82, b)
        });
    let suback = (
        raw_u16(),
        props_for(C::SubAck, v),
        vec(raw_reason_code(), 0..=3),
    )
        .prop_map(|(id, props, codes)| {
            let mut b = id;
            b.extend(props);
            b.extend(codes);
            (0x90, b)
        });
    let unsubscribe = (
        raw_u16(),
        props_for(C::Unsubscribe, v),
        vec(raw_string(), 0..=3),
    )
        .prop_map(|(id, props, filters)| {
            let mut b = id;
            b.extend(props);
            b.extend(filters.concat());
            (0xA2, b)
        });
    let unsuback = (
        raw_u16(),
        props_for(C::UnsubAck, v),
        vec(raw_reason_code(), 0..=3),
    )
        .prop_map(move |(id, props, codes)| {
            let mut b = id;
            if v.is_v5() {
                b.extend(props);
                b.extend(codes);
            }
            (0xB0, b)
        });
    let disconnect_or_auth = (
        select(&[(0xE0u8, C::Disconnect), (0xF0, C::Auth)][..]),
        prop_oneof![Just(None), raw_reason_code().prop_map(Some)],
    )
        .prop_flat_map(|((first, context), code)| {
            (
                Just((first, code)),
                prop_oneof![Just(None), raw_properties(context).prop_map(Some)],
            )
        })
        .prop_map(move |((first, code), props)| {
            let mut b = Vec::new();
            if v.is_v5() {
                if let Some(code) = code {
                    b.push(code);
                    if let Some(props) = props {
                        b.extend(props);
                    }
                }
            }
            (first, b)
        });
    prop_oneof![
        2 => connect,
        1 => connack,
        2 => publish,
        2 => ack,
        2 => subscribe,
        1 => suback,
        1 => unsubscribe,
        1 => unsuback,
        1 => disconnect_or_auth,
    ]
    .boxed()
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V5), Just(ProtocolVersion::V311)]
}

proptest! {
    #![proptest_config(config(1024))]

    /// Plain random bytes.
    #[test]
    fn decoding_random_bytes_never_panics(input in vec(any::<u8>(), 0..=128)) {
        for v in VERSIONS {
            check_all_decoders(&input, v)?;
        }
    }

    /// Every first byte (type and flags) with a correct Remaining Length and a random body,
    /// so decoding gets past the fixed header and into every packet type's body.
    #[test]
    fn decoding_random_bodies_never_panics(
        first_byte in any::<u8>(),
        body in vec(any::<u8>(), 0..=96),
        trailing in vec(any::<u8>(), 0..=4),
    ) {
        let mut input = RawPacket::new(first_byte).bytes(&body).build().to_vec();
        input.extend_from_slice(&trailing);
        for v in VERSIONS {
            check_all_decoders(&input, v)?;
        }
    }

    /// Valid encodings of generated packets, then damaged: decoding still never panics,
    /// refuses with a reason, or yields a packet the encoder can produce.
    #[test]
    fn decoding_mutated_valid_packets_never_panics(
        (v, packets) in version().prop_flat_map(|v| (Just(v), vec(strategy::packet(v), 1..=2))),
        mutations in vec(mutation(), 1..=4),
    ) {
        let mut input = Vec::new();
        for p in &packets {
            input.extend_from_slice(&p.encode(v).unwrap());
        }
        for m in &mutations {
            apply(&mut input, m);
        }
        check_all_decoders(&input, v)?;
        // The other version's decoder sees the same bytes too (a server sniffs the version).
        let other = if v.is_v5() { ProtocolVersion::V311 } else { ProtocolVersion::V5 };
        check_all_decoders(&input, other)?;
    }

    /// Packets built from plausible fields combined without regard for the rules: every
    /// one the decoder accepts re-encodes to the same value.
    #[test]
    fn decoding_nearly_valid_packets_accepts_only_encodable_packets(
        (v, (first_byte, body)) in version().prop_flat_map(|v| (Just(v), nearly_valid_packet(v))),
    ) {
        let input = RawPacket::new(first_byte).bytes(&body).build();
        check_all_decoders(&input, v)?;
    }
}

/// A five-byte header claiming the largest Remaining Length is "need more", and it does not
/// make the decoder reserve room for the claimed body.
#[test]
fn a_huge_claimed_remaining_length_does_not_allocate() {
    let header = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
    for v in VERSIONS {
        let parsed = FixedHeader::parse(&header, v).unwrap().unwrap();
        assert_eq!(parsed.remaining_length, MAX_VARIABLE_BYTE_INTEGER);

        let mut decoder = FrameDecoder::new(v);
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(&header);
        buf.extend_from_slice(&[0x00, 0x01, b't']);
        let capacity = buf.capacity();
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(buf.capacity(), capacity);
        assert_eq!(buf.len(), header.len() + 3);
        assert_eq!(
            decoder.needed(&buf),
            MAX_VARIABLE_BYTE_INTEGER as usize + header.len() - buf.len()
        );

        let err = decode_packet(&Bytes::copy_from_slice(&header), v).unwrap_err();
        assert!(err.is_incomplete(), "{err}");

        let mut limited = FrameDecoder::new(v).with_max_packet_size(1024);
        let mut buf = BytesMut::from(&header[..]);
        let capacity = buf.capacity();
        let err = limited.decode(&mut buf).unwrap_err();
        assert!(matches!(err.violation, Violation::PacketTooLarge { .. }));
        assert_eq!(buf.capacity(), capacity);
    }
}

/// A Remaining Length with a fifth continuation byte is refused at once, not waited on.
#[test]
fn a_remaining_length_over_four_bytes_is_refused_without_waiting() {
    for v in VERSIONS {
        let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF][..]);
        let err = FrameDecoder::new(v).decode(&mut buf).unwrap_err();
        assert_eq!(err.violation, Violation::RemainingLengthTooLong);
        check_error(&err, v).unwrap();
    }
}
