//! Negative tests: one or more per validation rule of the codec. Each builds the offending bytes
//! (with `RawPacket` or as literal hex) and checks the exact `Violation`, its `ErrorClass`, the
//! MQTT 5.0 reason code and the normative statement cited for the protocol version.
//!
//! The expected statement ids were checked against the specification text; `None` means the
//! specification has no tagged statement for the rule.

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{
    Auth, ConnAck, Connect, DecodeError, Delivery, Disconnect, EncodeError, ErrorClass,
    FrameDecoder, MqttString, Packet, PacketId, PacketType as T, PropertyContext as C,
    PropertyId as P, ProtocolVersion, PubAck, Publish, QoS, RawPacket, ReasonCode,
    StatementId as S, Subscribe, SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Violation,
};
use ProtocolVersion::{V311, V5};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Class and MQTT 5.0 reason code of a violation.
type Kind = (ErrorClass, Option<ReasonCode>);

const MALFORMED: Kind = (
    ErrorClass::MalformedPacket,
    Some(ReasonCode::MalformedPacket),
);
const PROTOCOL: Kind = (ErrorClass::ProtocolError, Some(ReasonCode::ProtocolError));
const TOPIC_NAME_MALFORMED: Kind = (
    ErrorClass::MalformedPacket,
    Some(ReasonCode::TopicNameInvalid),
);
const TOPIC_NAME_PROTOCOL: Kind = (
    ErrorClass::ProtocolError,
    Some(ReasonCode::TopicNameInvalid),
);
const UNSUPPORTED_VERSION: Kind = (
    ErrorClass::ProtocolError,
    Some(ReasonCode::UnsupportedProtocolVersion),
);

/// Hex bytes separated by spaces, e.g. `"40 02 00 01"`.
fn h(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

fn decode(bytes: impl AsRef<[u8]>, v: ProtocolVersion) -> Result<Packet, DecodeError> {
    Packet::decode(Bytes::copy_from_slice(bytes.as_ref()), v)
}

#[track_caller]
fn accepts(bytes: impl AsRef<[u8]>, v: ProtocolVersion) -> Packet {
    let bytes = bytes.as_ref();
    decode(bytes, v).unwrap_or_else(|e| panic!("{bytes:02x?} rejected in MQTT {v}: {e}"))
}

/// Asserts that `bytes` are refused in `v` with exactly this violation, class, reason code and
/// statement.
#[track_caller]
fn rejects(
    bytes: impl AsRef<[u8]>,
    v: ProtocolVersion,
    violation: Violation,
    (class, reason): Kind,
    statement: Option<S>,
) -> DecodeError {
    let bytes = bytes.as_ref();
    let err = match decode(bytes, v) {
        Ok(p) => panic!("{bytes:02x?} accepted in MQTT {v} as {p:?}; expected {violation:?}"),
        Err(e) => e,
    };
    assert_eq!(
        err.violation, violation,
        "violation for {bytes:02x?} in {v}"
    );
    assert_eq!(err.class(), class, "class of {violation:?} in {v}");
    assert_eq!(err.reason_code(), reason, "reason code of {violation:?}");
    assert_eq!(
        err.statement(),
        statement,
        "statement of {violation:?} in {v}"
    );
    assert_eq!(err.version, v);
    if let Some(s) = statement {
        assert_eq!(s.spec(), v.spec(), "{s} cited for the wrong specification");
    }
    err
}

/// A CONNECT with the given Protocol Level and Connect Flags, an empty property block in
/// MQTT 5.0 and client id "c"; the payload fields the flags announce are appended by the caller.
fn connect(v: ProtocolVersion, flags: u8) -> RawPacket {
    let p = RawPacket::new(0x10)
        .string("MQTT")
        .u8(v.level())
        .u8(flags)
        .u16(0);
    let p = if v.is_v5() { p.properties(&[]) } else { p };
    p.string("c")
}

/// A packet of MQTT 5.0 that carries `props` as the property block of `context`, and is valid
/// otherwise.
fn with_properties(context: C, props: &[u8]) -> Bytes {
    let ack = |first: u8| RawPacket::new(first).u16(1).u8(0).properties(props);
    match context {
        C::Connect => RawPacket::new(0x10)
            .string("MQTT")
            .u8(5)
            .u8(0x02)
            .u16(0)
            .properties(props)
            .string("c"),
        C::Will => RawPacket::new(0x10)
            .string("MQTT")
            .u8(5)
            .u8(0x06)
            .u16(0)
            .properties(&[])
            .string("c")
            .properties(props)
            .string("t")
            .binary(b""),
        C::ConnAck => RawPacket::new(0x20).u8(0).u8(0).properties(props),
        C::Publish => RawPacket::new(0x30).string("t").properties(props),
        C::PubAck => ack(0x40),
        C::PubRec => ack(0x50),
        C::PubRel => ack(0x62),
        C::PubComp => ack(0x70),
        C::Subscribe => RawPacket::new(0x82)
            .u16(1)
            .properties(props)
            .string("a")
            .u8(0),
        C::SubAck => RawPacket::new(0x90).u16(1).properties(props).u8(0),
        C::Unsubscribe => RawPacket::new(0xa2).u16(1).properties(props).string("a"),
        C::UnsubAck => RawPacket::new(0xb0).u16(1).properties(props).u8(0),
        C::Disconnect => RawPacket::new(0xe0).u8(0).properties(props),
        C::Auth => RawPacket::new(0xf0).u8(0x18).properties(props),
    }
    .build()
}

const ALL_CONTEXTS: [C; 14] = [
    C::Connect,
    C::Will,
    C::ConnAck,
    C::Publish,
    C::PubAck,
    C::PubRec,
    C::PubRel,
    C::PubComp,
    C::Subscribe,
    C::SubAck,
    C::Unsubscribe,
    C::UnsubAck,
    C::Disconnect,
    C::Auth,
];

/// One property with a valid, non-zero value.
fn property(id: P) -> Vec<u8> {
    let mut out = vec![id as u8];
    match id {
        P::PayloadFormatIndicator
        | P::RequestProblemInformation
        | P::RequestResponseInformation
        | P::MaximumQoS
        | P::RetainAvailable
        | P::WildcardSubscriptionAvailable
        | P::SubscriptionIdentifierAvailable
        | P::SharedSubscriptionAvailable
        | P::SubscriptionIdentifier => out.push(1),
        P::MessageExpiryInterval
        | P::SessionExpiryInterval
        | P::WillDelayInterval
        | P::MaximumPacketSize => out.extend([0, 0, 0, 1]),
        P::ServerKeepAlive | P::ReceiveMaximum | P::TopicAliasMaximum | P::TopicAlias => {
            out.extend([0, 1])
        }
        P::ContentType
        | P::ResponseTopic
        | P::AssignedClientIdentifier
        | P::AuthenticationMethod
        | P::ResponseInformation
        | P::ServerReference
        | P::ReasonString => out.extend([0, 1, b'a']),
        P::CorrelationData | P::AuthenticationData => out.extend([0, 1, 0xff]),
        P::UserProperty => out.extend([0, 1, b'k', 0, 1, b'v']),
    }
    out
}

/// Where each property may appear, transcribed from Table 2-4 of the MQTT 5.0 specification
/// (independently of the codec's own table).
fn spec_allows(id: P, context: C) -> bool {
    let allowed: &[C] = match id {
        P::PayloadFormatIndicator
        | P::MessageExpiryInterval
        | P::ContentType
        | P::ResponseTopic
        | P::CorrelationData => &[C::Publish, C::Will],
        P::SubscriptionIdentifier => &[C::Publish, C::Subscribe],
        P::SessionExpiryInterval => &[C::Connect, C::ConnAck, C::Disconnect],
        P::AssignedClientIdentifier
        | P::ServerKeepAlive
        | P::ResponseInformation
        | P::MaximumQoS
        | P::RetainAvailable
        | P::WildcardSubscriptionAvailable
        | P::SubscriptionIdentifierAvailable
        | P::SharedSubscriptionAvailable => &[C::ConnAck],
        P::AuthenticationMethod | P::AuthenticationData => &[C::Connect, C::ConnAck, C::Auth],
        P::RequestProblemInformation | P::RequestResponseInformation => &[C::Connect],
        P::WillDelayInterval => &[C::Will],
        P::ServerReference => &[C::ConnAck, C::Disconnect],
        P::ReasonString => &[
            C::ConnAck,
            C::PubAck,
            C::PubRec,
            C::PubRel,
            C::PubComp,
            C::SubAck,
            C::UnsubAck,
            C::Disconnect,
            C::Auth,
        ],
        P::ReceiveMaximum | P::TopicAliasMaximum | P::MaximumPacketSize => {
            &[C::Connect, C::ConnAck]
        }
        P::TopicAlias => &[C::Publish],
        P::UserProperty => &ALL_CONTEXTS,
    };
    allowed.contains(&context)
}

fn mqtt_string(s: &str) -> MqttString {
    MqttString::new(s, "test").expect("valid string")
}

// ---------------------------------------------------------------------------------------------
// Fixed header: packet type, reserved flags, Remaining Length
// ---------------------------------------------------------------------------------------------

#[test]
fn pubrel_subscribe_unsubscribe_with_flags_other_than_0010_are_malformed() {
    let cases = [
        (T::PubRel, S::V5_3_6_1_1, S::V311_3_6_1_1),
        (T::Subscribe, S::V5_3_8_1_1, S::V311_3_8_1_1),
        (T::Unsubscribe, S::V5_3_10_1_1, S::V311_3_10_1_1),
    ];
    for (packet_type, v5, v311) in cases {
        for flags in [0b0000, 0b0011, 0b0110, 0b1010] {
            let bytes = [((packet_type as u8) << 4) | flags, 0x00];
            let violation = Violation::ReservedFlags { packet_type, flags };
            rejects(bytes, V5, violation.clone(), MALFORMED, Some(v5));
            rejects(bytes, V311, violation, MALFORMED, Some(v311));
        }
    }
}

#[test]
fn disconnect_with_reserved_flags_set_is_malformed() {
    for flags in [0b0001, 0b0010, 0b1000] {
        let violation = Violation::ReservedFlags {
            packet_type: T::Disconnect,
            flags,
        };
        let bytes = [0xe0 | flags, 0x00];
        rejects(
            bytes,
            V5,
            violation.clone(),
            MALFORMED,
            Some(S::V5_3_14_1_1),
        );
        rejects(bytes, V311, violation, MALFORMED, Some(S::V311_3_14_1_1));
    }
}

#[test]
fn auth_with_reserved_flags_set_is_malformed() {
    for flags in [0b0001, 0b0100, 0b1111] {
        rejects(
            [0xf0 | flags, 0x00],
            V5,
            Violation::ReservedFlags {
                packet_type: T::Auth,
                flags,
            },
            MALFORMED,
            Some(S::V5_3_15_1_1),
        );
    }
}

#[test]
fn other_packet_types_with_non_zero_flags_are_malformed() {
    let types = [
        T::Connect,
        T::ConnAck,
        T::PubAck,
        T::PubRec,
        T::PubComp,
        T::SubAck,
        T::UnsubAck,
        T::PingReq,
        T::PingResp,
    ];
    for packet_type in types {
        for flags in [0b0001, 0b0010, 0b1000] {
            let bytes = [((packet_type as u8) << 4) | flags, 0x00];
            let violation = Violation::ReservedFlags { packet_type, flags };
            rejects(bytes, V5, violation.clone(), MALFORMED, Some(S::V5_2_1_3_1));
            rejects(bytes, V311, violation, MALFORMED, Some(S::V311_2_2_2_1));
        }
    }
}

#[test]
fn packet_type_0_is_reserved_in_both_versions() {
    for v in [V5, V311] {
        let err = rejects(
            [0x00, 0x00],
            v,
            Violation::ReservedPacketType { packet_type: 0 },
            MALFORMED,
            None,
        );
        assert_eq!(err.packet_type, None);
    }
}

#[test]
fn auth_packet_type_15_is_reserved_in_v311() {
    let err = rejects(
        h("f0 00"),
        V311,
        Violation::ReservedPacketType { packet_type: 15 },
        MALFORMED,
        None,
    );
    assert_eq!(err.packet_type, None);
    assert!(matches!(accepts(h("f0 00"), V5), Packet::Auth(_)));
}

#[test]
fn remaining_length_of_five_bytes_is_malformed() {
    for v in [V5, V311] {
        rejects(
            h("30 80 80 80 80 01"),
            v,
            Violation::RemainingLengthTooLong,
            MALFORMED,
            None,
        );
        rejects(
            h("c0 ff ff ff ff 7f"),
            v,
            Violation::RemainingLengthTooLong,
            MALFORMED,
            None,
        );
    }
}

#[test]
fn non_minimal_remaining_length_is_rejected_in_v5_and_accepted_in_v311() {
    let non_minimal = Violation::NonMinimalVariableByteInteger {
        field: "Remaining Length",
    };
    for hex in [
        "c0 80 00",
        "c0 80 80 00",
        "c0 80 80 80 00",
        "30 83 00 00 01 61",
    ] {
        rejects(
            h(hex),
            V5,
            non_minimal.clone(),
            MALFORMED,
            Some(S::V5_1_5_5_1),
        );
        accepts(h(hex), V311);
    }
    assert_eq!(accepts(h("c0 80 80 00"), V311), Packet::PingReq);
}

// ---------------------------------------------------------------------------------------------
// Bounded reading: varints, strings and properties stay within their packet / block
// ---------------------------------------------------------------------------------------------

#[test]
fn non_minimal_property_length_is_malformed() {
    rejects(
        h("40 05 00 01 00 80 00"),
        V5,
        Violation::NonMinimalVariableByteInteger {
            field: "Property Length",
        },
        MALFORMED,
        Some(S::V5_1_5_5_1),
    );
}

#[test]
fn non_minimal_property_identifier_is_malformed() {
    // Reason String (0x1F) written as the two-byte varint 9F 00.
    rejects(
        h("40 08 00 01 00 04 9f 00 00 00"),
        V5,
        Violation::NonMinimalVariableByteInteger {
            field: "Property Identifier",
        },
        MALFORMED,
        Some(S::V5_1_5_5_1),
    );
}

#[test]
fn non_minimal_or_overlong_subscription_identifier_is_malformed() {
    rejects(
        with_properties(C::Subscribe, &h("0b 81 00")),
        V5,
        Violation::NonMinimalVariableByteInteger {
            field: "Subscription Identifier",
        },
        MALFORMED,
        Some(S::V5_1_5_5_1),
    );
    rejects(
        with_properties(C::Subscribe, &h("0b 80 80 80 80 01")),
        V5,
        Violation::VariableByteIntegerTooLong {
            field: "Subscription Identifier",
        },
        MALFORMED,
        None,
    );
}

#[test]
fn string_running_past_the_end_of_the_packet_is_malformed() {
    let truncated = |field| Violation::Truncated {
        field,
        within: "packet",
    };
    for v in [V5, V311] {
        // Topic Name claims 10 bytes; 3 follow.
        rejects(
            h("30 05 00 0a 61 62 63"),
            v,
            truncated("Topic Name"),
            MALFORMED,
            None,
        );
    }
    let p = RawPacket::new(0x10)
        .string("MQTT")
        .u8(4)
        .u8(0x02)
        .u16(0)
        .u16(5)
        .bytes(b"c")
        .build();
    rejects(p, V311, truncated("Client Identifier"), MALFORMED, None);
}

#[test]
fn property_running_past_its_property_block_is_malformed() {
    // Property Length 4 covers `1F 00 03 61`, but the Reason String claims 3 bytes; the two
    // bytes after the block must not be read as part of it.
    rejects(
        h("40 0a 00 01 00 04 1f 00 03 61 62 63"),
        V5,
        Violation::Truncated {
            field: "Reason String",
            within: "property block",
        },
        MALFORMED,
        None,
    );
    // Property Length 2 cuts the Receive Maximum (a Two Byte Integer) in half; its second
    // byte lies outside the block.
    let p = RawPacket::new(0x10)
        .string("MQTT")
        .u8(5)
        .u8(0x02)
        .u16(0)
        .varint(2)
        .bytes(&[0x21, 0x00, 0x14])
        .string("c")
        .build();
    rejects(
        p,
        V5,
        Violation::Truncated {
            field: "Receive Maximum",
            within: "property block",
        },
        MALFORMED,
        None,
    );
}

#[test]
fn property_length_running_past_the_packet_is_malformed() {
    rejects(
        h("40 04 00 01 00 05"),
        V5,
        Violation::Truncated {
            field: "Property Length",
            within: "packet",
        },
        MALFORMED,
        None,
    );
}

#[test]
fn trailing_bytes_after_the_last_field_are_malformed() {
    let trailing = |packet_type, count| Violation::TrailingBytes { packet_type, count };
    let cases = [
        ("20 03 00 00 00", V311, trailing(T::ConnAck, 1)),
        ("20 04 00 00 00 ff", V5, trailing(T::ConnAck, 1)),
        ("c0 01 00", V311, trailing(T::PingReq, 1)),
        ("c0 01 00", V5, trailing(T::PingReq, 1)),
        ("d0 02 00 00", V5, trailing(T::PingResp, 2)),
        ("e0 01 00", V311, trailing(T::Disconnect, 1)),
        ("b0 03 00 01 00", V311, trailing(T::UnsubAck, 1)),
        ("40 03 00 01 00", V311, trailing(T::PubAck, 1)),
        ("40 05 00 01 00 00 ff", V5, trailing(T::PubAck, 1)),
        ("e0 03 00 00 ff", V5, trailing(T::Disconnect, 1)),
        ("f0 03 00 00 ff", V5, trailing(T::Auth, 1)),
        // A whole second packet after the first one, given to the one-packet decoder.
        ("c0 00 c0 00", V5, trailing(T::PingReq, 2)),
    ];
    for (hex, v, violation) in cases {
        rejects(h(hex), v, violation, MALFORMED, None);
    }
    // The same DISCONNECT body is a valid v5 short form.
    accepts(h("e0 01 00"), V5);
}

#[test]
fn auth_with_a_reason_code_but_no_property_length_is_malformed() {
    rejects(
        h("f0 01 18"),
        V5,
        Violation::Truncated {
            field: "Property Length",
            within: "packet",
        },
        MALFORMED,
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// UTF-8 strings
// ---------------------------------------------------------------------------------------------

#[test]
fn ill_formed_utf8_is_malformed() {
    let invalid = |field| Violation::InvalidUtf8 { field };
    for (v, statement) in [(V5, S::V5_1_5_4_1), (V311, S::V311_1_5_3_1)] {
        // A lone 0xFF in a Topic Name.
        let p = RawPacket::new(0x30).binary(&[b'a', 0xff]);
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        rejects(
            p.build(),
            v,
            invalid("Topic Name"),
            MALFORMED,
            Some(statement),
        );
        // An overlong encoding of '/' (C0 AF) in a Topic Filter.
        let p = RawPacket::new(0x82).u16(1);
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        let p = p.binary(&[b'a', 0xc0, 0xaf]).u8(0).build();
        rejects(p, v, invalid("Topic Filter"), MALFORMED, Some(statement));
    }
}

#[test]
fn surrogate_code_point_is_malformed() {
    // ED A0 80 would be U+D800, a surrogate, which UTF-8 must not encode.
    for (v, statement) in [(V5, S::V5_1_5_4_1), (V311, S::V311_1_5_3_1)] {
        let p = RawPacket::new(0x10)
            .string("MQTT")
            .u8(v.level())
            .u8(0x02)
            .u16(0);
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        let p = p.binary(&h("61 ed a0 80")).build();
        rejects(
            p,
            v,
            Violation::InvalidUtf8 {
                field: "Client Identifier",
            },
            MALFORMED,
            Some(statement),
        );
    }
    rejects(
        with_properties(C::PubAck, &h("26 00 01 6b 00 03 ed b0 80")),
        V5,
        Violation::InvalidUtf8 {
            field: "User Property value",
        },
        MALFORMED,
        Some(S::V5_1_5_4_1),
    );
}

#[test]
fn null_character_in_topic_client_id_and_user_property_is_malformed() {
    let null = |field| Violation::NullCharacter { field };
    for (v, statement) in [(V5, S::V5_1_5_4_2), (V311, S::V311_1_5_3_2)] {
        let p = RawPacket::new(0x30).string("a\0b");
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        rejects(p.build(), v, null("Topic Name"), MALFORMED, Some(statement));

        let p = RawPacket::new(0x10)
            .string("MQTT")
            .u8(v.level())
            .u8(0x02)
            .u16(0);
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        rejects(
            p.string("c\0").build(),
            v,
            null("Client Identifier"),
            MALFORMED,
            Some(statement),
        );

        let p = RawPacket::new(0xa2).u16(1);
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        rejects(
            p.string("\0").build(),
            v,
            null("Topic Filter"),
            MALFORMED,
            Some(statement),
        );
    }
    rejects(
        with_properties(C::Publish, &h("26 00 02 6b 00 00 01 76")),
        V5,
        null("User Property name"),
        MALFORMED,
        Some(S::V5_1_5_4_2),
    );
    rejects(
        with_properties(C::Connect, &h("26 00 01 6b 00 01 00")),
        V5,
        null("User Property value"),
        MALFORMED,
        Some(S::V5_1_5_4_2),
    );
}

#[test]
fn bad_strings_in_will_properties_are_named_as_will_properties() {
    // CONNECT 5.0 with the Will Flag and Clean Start, no CONNECT properties, Client
    // Identifier "c", then the Will Properties under test, Will Topic "t", Will Payload "w".
    let will_connect = |props: &str| {
        RawPacket::new(0x10)
            .string("MQTT")
            .u8(5)
            .u8(0x06)
            .u16(0)
            .properties(&[])
            .string("c")
            .properties(&h(props))
            .string("t")
            .binary(b"w")
            .build()
    };
    let null = |field| Violation::NullCharacter { field };
    let ill = |field| Violation::InvalidUtf8 { field };
    let cases = [
        ("03 00 01 00", null("Will Content Type"), S::V5_1_5_4_2),
        ("08 00 02 61 ff", ill("Will Response Topic"), S::V5_1_5_4_1),
        (
            "26 00 01 00 00 01 76",
            null("Will User Property name"),
            S::V5_1_5_4_2,
        ),
        (
            "26 00 01 6b 00 01 ff",
            ill("Will User Property value"),
            S::V5_1_5_4_1,
        ),
    ];
    for (props, violation, statement) in cases {
        rejects(
            will_connect(props),
            V5,
            violation,
            MALFORMED,
            Some(statement),
        );
    }
}

#[test]
fn byte_order_mark_is_kept_not_stripped() {
    for v in [V5, V311] {
        let p = RawPacket::new(0x30).binary(&h("ef bb bf 61"));
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        let Packet::Publish(publish) = accepts(p.build(), v) else {
            panic!("not a PUBLISH");
        };
        assert_eq!(publish.topic.as_str(), "\u{feff}a");
        assert_eq!(&publish.topic.as_bytes()[..3], &[0xef, 0xbb, 0xbf]);

        let p = RawPacket::new(0x10)
            .string("MQTT")
            .u8(v.level())
            .u8(0x02)
            .u16(0);
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        let Packet::Connect(connect) = accepts(p.binary(&h("ef bb bf 63")).build(), v) else {
            panic!("not a CONNECT");
        };
        assert_eq!(connect.client_id.as_str(), "\u{feff}c");
    }
    let Packet::PubAck(ack) = accepts(
        with_properties(C::PubAck, &h("26 00 03 ef bb bf 00 00")),
        V5,
    ) else {
        panic!("not a PUBACK");
    };
    assert_eq!(
        ack.properties.user_properties.get(0).map(|(name, _)| name),
        Some("\u{feff}")
    );
}

// ---------------------------------------------------------------------------------------------
// Topic Names and Topic Filters
// ---------------------------------------------------------------------------------------------

#[test]
fn wildcard_in_publish_topic_name_is_refused() {
    for (v, statement) in [(V5, S::V5_3_3_2_2), (V311, S::V311_3_3_2_2)] {
        for topic in ["a/+", "a/#", "+", "#", "a+b"] {
            let p = RawPacket::new(0x30).string(topic);
            let p = if v.is_v5() { p.properties(&[]) } else { p };
            rejects(
                p.build(),
                v,
                Violation::WildcardInTopicName {
                    field: "Topic Name",
                },
                TOPIC_NAME_MALFORMED,
                Some(statement),
            );
        }
    }
}

#[test]
fn wildcard_in_will_topic_is_refused() {
    for (v, statement) in [(V5, S::V5_4_7_0_1), (V311, S::V311_4_7_1_1)] {
        let p = connect(v, 0x06);
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        rejects(
            p.string("w/#").binary(b"").build(),
            v,
            Violation::WildcardInTopicName {
                field: "Will Topic",
            },
            TOPIC_NAME_MALFORMED,
            Some(statement),
        );
    }
}

#[test]
fn wildcard_in_response_topic_is_refused() {
    rejects(
        with_properties(C::Publish, &h("08 00 03 61 2f 2b")),
        V5,
        Violation::WildcardInTopicName {
            field: "Response Topic",
        },
        TOPIC_NAME_MALFORMED,
        Some(S::V5_3_3_2_14),
    );
}

#[test]
fn empty_topic_name_is_refused_in_v311() {
    rejects(
        h("30 02 00 00"),
        V311,
        Violation::EmptyTopicName {
            field: "Topic Name",
        },
        TOPIC_NAME_PROTOCOL,
        Some(S::V311_4_7_3_1),
    );
}

#[test]
fn empty_topic_name_without_topic_alias_is_refused_in_v5() {
    rejects(
        h("30 03 00 00 00"),
        V5,
        Violation::EmptyTopicName {
            field: "Topic Name",
        },
        TOPIC_NAME_PROTOCOL,
        Some(S::V5_4_7_3_1),
    );
    // Other properties do not stand in for a Topic Alias.
    rejects(
        h("30 05 00 00 02 01 01"),
        V5,
        Violation::EmptyTopicName {
            field: "Topic Name",
        },
        TOPIC_NAME_PROTOCOL,
        Some(S::V5_4_7_3_1),
    );
}

#[test]
fn empty_topic_name_with_topic_alias_is_accepted_in_v5() {
    let Packet::Publish(p) = accepts(h("30 06 00 00 03 23 00 01"), V5) else {
        panic!("not a PUBLISH");
    };
    assert!(p.topic.is_empty());
    assert_eq!(p.properties.topic_alias.map(|a| a.get()), Some(1));
}

#[test]
fn empty_will_topic_is_refused() {
    for (v, statement) in [(V5, S::V5_4_7_3_1), (V311, S::V311_4_7_3_1)] {
        let p = connect(v, 0x06);
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        rejects(
            p.string("").binary(b"x").build(),
            v,
            Violation::EmptyTopicName {
                field: "Will Topic",
            },
            TOPIC_NAME_PROTOCOL,
            Some(statement),
        );
    }
}

/// A SUBSCRIBE (packet id 1) of `filter` with `options`, for `v`.
fn subscribe(v: ProtocolVersion, filter: &str, options: u8) -> Bytes {
    let p = RawPacket::new(0x82).u16(1);
    let p = if v.is_v5() { p.properties(&[]) } else { p };
    p.string(filter).u8(options).build()
}

/// An UNSUBSCRIBE (packet id 1) of `filter`, for `v`.
fn unsubscribe(v: ProtocolVersion, filter: &str) -> Bytes {
    let p = RawPacket::new(0xa2).u16(1);
    let p = if v.is_v5() { p.properties(&[]) } else { p };
    p.string(filter).build()
}

#[test]
fn empty_topic_filter_is_malformed() {
    for (v, statement) in [(V5, S::V5_4_7_3_1), (V311, S::V311_4_7_3_1)] {
        for bytes in [subscribe(v, "", 0), unsubscribe(v, "")] {
            rejects(
                bytes,
                v,
                Violation::EmptyTopicFilter,
                MALFORMED,
                Some(statement),
            );
        }
    }
}

#[test]
fn misplaced_multi_level_wildcard_is_malformed() {
    for (v, statement) in [(V5, S::V5_4_7_1_1), (V311, S::V311_4_7_1_2)] {
        for filter in ["a/#/b", "a#", "#/", "a/b#", "#/#"] {
            let violation = Violation::MultiLevelWildcardPlacement {
                filter: filter.to_owned(),
            };
            for bytes in [subscribe(v, filter, 0), unsubscribe(v, filter)] {
                rejects(bytes, v, violation.clone(), MALFORMED, Some(statement));
            }
        }
    }
}

#[test]
fn misplaced_single_level_wildcard_is_malformed() {
    for (v, statement) in [(V5, S::V5_4_7_1_2), (V311, S::V311_4_7_1_3)] {
        for filter in ["a+/b", "a/+b", "++", "+a", "a/b+"] {
            let violation = Violation::SingleLevelWildcardPlacement {
                filter: filter.to_owned(),
            };
            for bytes in [subscribe(v, filter, 0), unsubscribe(v, filter)] {
                rejects(bytes, v, violation.clone(), MALFORMED, Some(statement));
            }
        }
    }
}

#[test]
fn bad_shared_subscription_forms_are_refused_in_v5_but_plain_filters_in_v311() {
    let cases = [
        ("$share//a", "ShareName is empty", S::V5_4_8_2_1),
        (
            "$share/g",
            "ShareName is not followed by '/' and a topic filter",
            S::V5_4_8_2_2,
        ),
        ("$share/+/a", "ShareName contains a wildcard", S::V5_4_8_2_2),
        ("$share/#", "ShareName contains a wildcard", S::V5_4_8_2_2),
        (
            "$share/g/",
            "topic filter after the ShareName is empty",
            S::V5_4_8_2_2,
        ),
    ];
    for (filter, problem, statement) in cases {
        let violation = Violation::InvalidSharedSubscription {
            filter: filter.to_owned(),
            problem,
        };
        rejects(
            subscribe(V5, filter, 0),
            V5,
            violation.clone(),
            PROTOCOL,
            Some(statement),
        );
        rejects(
            unsubscribe(V5, filter),
            V5,
            violation,
            PROTOCOL,
            Some(statement),
        );
        let Packet::Subscribe(s) = accepts(subscribe(V311, filter, 0), V311) else {
            panic!("not a SUBSCRIBE");
        };
        assert_eq!(s.filters[0].0.as_str(), filter);
        accepts(unsubscribe(V311, filter), V311);
    }
}

#[test]
fn share_name_with_a_partial_wildcard_breaks_the_filter_rules_in_both_versions() {
    // `$share/g+/a`: the level `g+` is a misplaced '+' before the shared-subscription syntax
    // is even considered, so 3.1.1 refuses it too.
    let violation = Violation::SingleLevelWildcardPlacement {
        filter: "$share/g+/a".to_owned(),
    };
    rejects(
        subscribe(V5, "$share/g+/a", 0),
        V5,
        violation.clone(),
        MALFORMED,
        Some(S::V5_4_7_1_2),
    );
    rejects(
        subscribe(V311, "$share/g+/a", 0),
        V311,
        violation,
        MALFORMED,
        Some(S::V311_4_7_1_3),
    );
}

#[test]
fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    rejects(
        subscribe(V5, "$share/g/a", 0x04),
        V5,
        Violation::NoLocalOnSharedSubscription,
        PROTOCOL,
        Some(S::V5_3_8_3_4),
    );
    // No Local on an ordinary subscription is fine.
    accepts(subscribe(V5, "a", 0x04), V5);
}

// ---------------------------------------------------------------------------------------------
// PUBLISH flags
// ---------------------------------------------------------------------------------------------

#[test]
fn publish_with_qos_3_is_malformed() {
    for (v, statement) in [(V5, S::V5_3_3_1_4), (V311, S::V311_3_3_1_4)] {
        for first in [0x36, 0x37, 0x3e] {
            let err = rejects(
                [first, 0x05, 0x00, 0x01, b'a', 0x00, 0x01],
                v,
                Violation::InvalidQoS {
                    field: "PUBLISH QoS",
                },
                MALFORMED,
                Some(statement),
            );
            assert_eq!(err.packet_type, Some(T::Publish));
        }
    }
}

#[test]
fn publish_with_dup_and_qos_0_is_malformed() {
    for (v, statement) in [(V5, S::V5_3_3_1_2), (V311, S::V311_3_3_1_2)] {
        for first in [0x38, 0x39] {
            rejects(
                [first, 0x03, 0x00, 0x01, b'a'],
                v,
                Violation::DupWithQoS0,
                MALFORMED,
                Some(statement),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------------

#[test]
fn protocol_name_other_than_mqtt_is_refused() {
    for (v, statement) in [(V5, S::V5_3_1_2_1), (V311, S::V311_3_1_2_1)] {
        for (name, level) in [("MQIsdp", 3u8), ("mqtt", v.level()), ("MQTT5", v.level())] {
            let p = RawPacket::new(0x10)
                .string(name)
                .u8(level)
                .u8(0x02)
                .u16(0)
                .properties(&[])
                .string("c")
                .build();
            rejects(
                p,
                v,
                Violation::InvalidProtocolName,
                UNSUPPORTED_VERSION,
                Some(statement),
            );
        }
    }
}

#[test]
fn unsupported_protocol_level_is_refused() {
    for (v, statement) in [(V5, S::V5_3_1_2_2), (V311, S::V311_3_1_2_2)] {
        for level in [3u8, 6, 0, 0xff] {
            let p = RawPacket::new(0x10)
                .string("MQTT")
                .u8(level)
                .u8(0x02)
                .u16(0)
                .string("c")
                .build();
            rejects(
                p,
                v,
                Violation::UnsupportedProtocolLevel { level },
                UNSUPPORTED_VERSION,
                Some(statement),
            );
        }
    }
}

#[test]
fn connect_decoded_as_the_other_protocol_version_is_refused() {
    rejects(
        connect(V311, 0x02).build(),
        V5,
        Violation::ProtocolVersionMismatch {
            expected: 5,
            found: 4,
        },
        UNSUPPORTED_VERSION,
        Some(S::V5_3_1_2_2),
    );
    rejects(
        connect(V5, 0x02).build(),
        V311,
        Violation::ProtocolVersionMismatch {
            expected: 4,
            found: 5,
        },
        UNSUPPORTED_VERSION,
        Some(S::V311_3_1_2_2),
    );
}

#[test]
fn connect_reserved_flag_set_is_malformed() {
    for (v, statement) in [(V5, S::V5_3_1_2_3), (V311, S::V311_3_1_2_3)] {
        for flags in [0x01, 0x03] {
            rejects(
                connect(v, flags).build(),
                v,
                Violation::ConnectReservedFlag,
                MALFORMED,
                Some(statement),
            );
        }
    }
}

#[test]
fn will_qos_3_is_malformed() {
    for (v, statement) in [(V5, S::V5_3_1_2_12), (V311, S::V311_3_1_2_14)] {
        let p = connect(v, 0x1e);
        let p = if v.is_v5() { p.properties(&[]) } else { p };
        rejects(
            p.string("t").binary(b"").build(),
            v,
            Violation::InvalidQoS { field: "Will QoS" },
            MALFORMED,
            Some(statement),
        );
    }
}

#[test]
fn will_qos_without_will_flag_is_malformed() {
    for (v, statement) in [(V5, S::V5_3_1_2_11), (V311, S::V311_3_1_2_13)] {
        for flags in [0x0a, 0x12, 0x1a] {
            rejects(
                connect(v, flags).build(),
                v,
                Violation::WillQoSWithoutWill,
                MALFORMED,
                Some(statement),
            );
        }
    }
}

#[test]
fn will_retain_without_will_flag_is_malformed() {
    for (v, statement) in [(V5, S::V5_3_1_2_13), (V311, S::V311_3_1_2_15)] {
        rejects(
            connect(v, 0x22).build(),
            v,
            Violation::WillRetainWithoutWill,
            MALFORMED,
            Some(statement),
        );
    }
}

#[test]
fn password_without_user_name_is_refused_in_v311_and_allowed_in_v5() {
    rejects(
        connect(V311, 0x42).binary(b"pw").build(),
        V311,
        Violation::PasswordWithoutUserName,
        MALFORMED,
        Some(S::V311_3_1_2_22),
    );
    let Packet::Connect(c) = accepts(connect(V5, 0x42).binary(b"pw").build(), V5) else {
        panic!("not a CONNECT");
    };
    assert_eq!(c.username, None);
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE options
// ---------------------------------------------------------------------------------------------

#[test]
fn subscription_options_reserved_bits_are_malformed() {
    for options in [0x40, 0x80, 0xc0, 0xc1] {
        rejects(
            subscribe(V5, "a", options),
            V5,
            Violation::SubscriptionOptionsReservedBits { options },
            MALFORMED,
            Some(S::V5_3_8_3_5),
        );
    }
    // In 3.1.1 everything above the two QoS bits is reserved.
    for options in [0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xfd] {
        rejects(
            subscribe(V311, "a", options),
            V311,
            Violation::SubscriptionOptionsReservedBits { options },
            MALFORMED,
            Some(S::V311_3_8_3_4),
        );
    }
}

#[test]
fn retain_handling_3_is_a_protocol_error() {
    for options in [0x30, 0x31, 0x3e] {
        rejects(
            subscribe(V5, "a", options),
            V5,
            Violation::InvalidRetainHandling,
            PROTOCOL,
            None,
        );
    }
}

#[test]
fn subscribe_with_requested_qos_3_is_refused() {
    let violation = Violation::InvalidQoS {
        field: "Requested QoS",
    };
    rejects(
        subscribe(V5, "a", 0x03),
        V5,
        violation.clone(),
        PROTOCOL,
        None,
    );
    rejects(
        subscribe(V311, "a", 0x03),
        V311,
        violation,
        PROTOCOL,
        Some(S::V311_3_8_3_4),
    );
}

#[test]
fn subscribe_and_unsubscribe_without_topic_filters_are_protocol_errors() {
    let none = |packet_type| Violation::NoTopicFilters { packet_type };
    let cases = [
        ("82 02 00 01", V311, T::Subscribe, S::V311_3_8_3_3),
        ("82 03 00 01 00", V5, T::Subscribe, S::V5_3_8_3_2),
        ("a2 02 00 01", V311, T::Unsubscribe, S::V311_3_10_3_2),
        ("a2 03 00 01 00", V5, T::Unsubscribe, S::V5_3_10_3_2),
    ];
    for (hex, v, packet_type, statement) in cases {
        rejects(h(hex), v, none(packet_type), PROTOCOL, Some(statement));
    }
}

#[test]
fn suback_without_reason_codes_is_malformed() {
    let violation = Violation::NoReasonCodes {
        packet_type: T::SubAck,
    };
    rejects(
        h("90 02 00 01"),
        V311,
        violation.clone(),
        MALFORMED,
        Some(S::V311_3_8_4_5),
    );
    rejects(
        h("90 03 00 01 00"),
        V5,
        violation,
        MALFORMED,
        Some(S::V5_3_8_4_6),
    );
    rejects(
        h("b0 03 00 01 00"),
        V5,
        Violation::NoReasonCodes {
            packet_type: T::UnsubAck,
        },
        MALFORMED,
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// Packet Identifiers
// ---------------------------------------------------------------------------------------------

#[test]
fn packet_identifier_zero_is_malformed() {
    let cases = [
        (
            "32 05 00 01 61 00 00",
            T::Publish,
            S::V5_2_2_1_3,
            Some(S::V311_2_3_1_1),
        ),
        (
            "34 05 00 01 61 00 00",
            T::Publish,
            S::V5_2_2_1_3,
            Some(S::V311_2_3_1_1),
        ),
        (
            "40 02 00 00",
            T::PubAck,
            S::V5_2_2_1_5,
            Some(S::V311_2_3_1_6),
        ),
        (
            "50 02 00 00",
            T::PubRec,
            S::V5_2_2_1_5,
            Some(S::V311_2_3_1_6),
        ),
        (
            "62 02 00 00",
            T::PubRel,
            S::V5_2_2_1_5,
            Some(S::V311_2_3_1_6),
        ),
        ("70 02 00 00", T::PubComp, S::V5_2_2_1_5, None),
        (
            "82 06 00 00 00 01 61 00",
            T::Subscribe,
            S::V5_2_2_1_3,
            Some(S::V311_2_3_1_1),
        ),
        (
            "a2 05 00 00 00 01 61",
            T::Unsubscribe,
            S::V5_2_2_1_3,
            Some(S::V311_2_3_1_1),
        ),
        (
            "90 03 00 00 00",
            T::SubAck,
            S::V5_2_2_1_6,
            Some(S::V311_2_3_1_7),
        ),
        (
            "b0 02 00 00",
            T::UnsubAck,
            S::V5_2_2_1_6,
            Some(S::V311_2_3_1_7),
        ),
    ];
    for (hex, packet_type, v5, v311) in cases {
        let violation = Violation::PacketIdentifierZero { packet_type };
        rejects(h(hex), V5, violation.clone(), MALFORMED, Some(v5));
        rejects(h(hex), V311, violation, MALFORMED, v311);
    }
}

// ---------------------------------------------------------------------------------------------
// Properties (MQTT 5.0)
// ---------------------------------------------------------------------------------------------

#[test]
fn every_property_that_may_appear_once_is_refused_when_repeated() {
    for &id in P::ALL {
        if id == P::UserProperty {
            continue;
        }
        // Subscription Identifier may repeat in PUBLISH, so SUBSCRIBE is where it may not.
        let context = if id == P::SubscriptionIdentifier {
            C::Subscribe
        } else {
            *ALL_CONTEXTS
                .iter()
                .find(|c| spec_allows(id, **c))
                .expect("every property is allowed somewhere")
        };
        let mut props = Vec::new();
        if id == P::AuthenticationData {
            props.extend(property(P::AuthenticationMethod));
        }
        props.extend(property(id));
        props.extend(property(id));
        rejects(
            with_properties(context, &props),
            V5,
            Violation::DuplicateProperty { property: id },
            PROTOCOL,
            None,
        );
    }
}

#[test]
fn two_session_expiry_intervals_are_a_protocol_error() {
    rejects(
        with_properties(C::Connect, &h("11 00 00 00 0a 11 00 00 00 0b")),
        V5,
        Violation::DuplicateProperty {
            property: P::SessionExpiryInterval,
        },
        PROTOCOL,
        None,
    );
}

#[test]
fn two_subscription_identifiers_are_refused_in_subscribe_and_kept_in_publish() {
    rejects(
        with_properties(C::Subscribe, &h("0b 01 0b 02")),
        V5,
        Violation::DuplicateProperty {
            property: P::SubscriptionIdentifier,
        },
        PROTOCOL,
        None,
    );
    let Packet::Publish(p) = accepts(with_properties(C::Publish, &h("0b 02 0b 01")), V5) else {
        panic!("not a PUBLISH");
    };
    let ids: Vec<u32> = p
        .properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect();
    assert_eq!(ids, vec![2, 1]);
}

#[test]
fn repeated_user_properties_are_kept_in_order() {
    let props = h("26 00 01 62 00 01 31 26 00 01 61 00 01 32 26 00 01 62 00 01 33");
    let Packet::Disconnect(d) = accepts(with_properties(C::Disconnect, &props), V5) else {
        panic!("not a DISCONNECT");
    };
    let pairs: Vec<(&str, &str)> = d.properties.user_properties.iter().collect();
    assert_eq!(pairs, vec![("b", "1"), ("a", "2"), ("b", "3")]);
}

#[test]
fn each_property_is_accepted_exactly_where_table_2_4_allows_it() {
    for &id in P::ALL {
        for context in ALL_CONTEXTS {
            if spec_allows(id, context) {
                let mut props = Vec::new();
                if id == P::AuthenticationData {
                    props.extend(property(P::AuthenticationMethod));
                }
                props.extend(property(id));
                accepts(with_properties(context, &props), V5);
                continue;
            }
            rejects(
                with_properties(context, &property(id)),
                V5,
                Violation::PropertyNotAllowed {
                    property: id,
                    context,
                },
                MALFORMED,
                None,
            );
        }
    }
}

#[test]
fn property_not_allowed_in_the_packet_is_malformed() {
    let cases = [
        (C::Connect, "23 00 01", P::TopicAlias),
        (C::Publish, "18 00 00 00 05", P::WillDelayInterval),
        (C::Will, "11 00 00 00 05", P::SessionExpiryInterval),
        (C::Subscribe, "1f 00 01 61", P::ReasonString),
        (C::Unsubscribe, "0b 01", P::SubscriptionIdentifier),
    ];
    for (context, hex, property) in cases {
        rejects(
            with_properties(context, &h(hex)),
            V5,
            Violation::PropertyNotAllowed { property, context },
            MALFORMED,
            None,
        );
    }
}

#[test]
fn unknown_property_identifier_is_malformed() {
    for (hex, id) in [
        ("04 00", 4u32),
        ("00 00", 0),
        ("2b 00", 0x2b),
        ("80 01 00", 128),
    ] {
        rejects(
            with_properties(C::PubAck, &h(hex)),
            V5,
            Violation::UnknownProperty { id },
            MALFORMED,
            None,
        );
    }
}

#[test]
fn zero_values_that_the_spec_forbids_are_protocol_errors() {
    let zero = |property| Violation::ZeroPropertyValue { property };
    let cases = [
        (C::Connect, "21 00 00", P::ReceiveMaximum),
        (C::ConnAck, "21 00 00", P::ReceiveMaximum),
        (C::Connect, "27 00 00 00 00", P::MaximumPacketSize),
        (C::ConnAck, "27 00 00 00 00", P::MaximumPacketSize),
        (C::Subscribe, "0b 00", P::SubscriptionIdentifier),
        (C::Publish, "0b 00", P::SubscriptionIdentifier),
    ];
    for (context, hex, property) in cases {
        rejects(
            with_properties(context, &h(hex)),
            V5,
            zero(property),
            PROTOCOL,
            None,
        );
    }
}

#[test]
fn topic_alias_0_is_a_protocol_error_reported_as_topic_alias_invalid() {
    rejects(
        h("30 07 00 01 74 03 23 00 00"),
        V5,
        Violation::ZeroPropertyValue {
            property: P::TopicAlias,
        },
        (
            ErrorClass::ProtocolError,
            Some(ReasonCode::TopicAliasInvalid),
        ),
        Some(S::V5_3_3_2_8),
    );
}

#[test]
fn zero_is_accepted_where_the_spec_allows_it() {
    accepts(with_properties(C::Connect, &h("22 00 00")), V5);
    accepts(with_properties(C::ConnAck, &h("13 00 00")), V5);
    accepts(with_properties(C::Connect, &h("11 00 00 00 00")), V5);
    accepts(with_properties(C::Publish, &h("02 00 00 00 00")), V5);
}

#[test]
fn boolean_properties_with_value_2_are_protocol_errors() {
    let cases = [
        (C::Connect, P::RequestProblemInformation),
        (C::Connect, P::RequestResponseInformation),
        (C::ConnAck, P::RetainAvailable),
        (C::ConnAck, P::WildcardSubscriptionAvailable),
        (C::ConnAck, P::SubscriptionIdentifierAvailable),
        (C::ConnAck, P::SharedSubscriptionAvailable),
    ];
    for (context, property) in cases {
        rejects(
            with_properties(context, &[property as u8, 2]),
            V5,
            Violation::InvalidPropertyValue { property, value: 2 },
            PROTOCOL,
            None,
        );
        accepts(with_properties(context, &[property as u8, 0]), V5);
    }
}

#[test]
fn maximum_qos_2_is_a_protocol_error() {
    for value in [2u8, 3] {
        rejects(
            with_properties(C::ConnAck, &[0x24, value]),
            V5,
            Violation::InvalidPropertyValue {
                property: P::MaximumQoS,
                value: u32::from(value),
            },
            PROTOCOL,
            None,
        );
    }
}

#[test]
fn payload_format_indicator_2_is_a_protocol_error() {
    for context in [C::Publish, C::Will] {
        rejects(
            with_properties(context, &h("01 02")),
            V5,
            Violation::InvalidPropertyValue {
                property: P::PayloadFormatIndicator,
                value: 2,
            },
            PROTOCOL,
            None,
        );
    }
}

#[test]
fn authentication_data_without_method_is_a_protocol_error() {
    for context in [C::Connect, C::ConnAck, C::Auth] {
        rejects(
            with_properties(context, &h("16 00 01 61")),
            V5,
            Violation::AuthenticationDataWithoutMethod,
            PROTOCOL,
            None,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Reason codes and CONNACK
// ---------------------------------------------------------------------------------------------

#[test]
fn reason_code_not_allowed_in_the_packet_type_is_malformed() {
    let cases = [
        ("20 03 00 10 00", T::ConnAck, 0x10, S::V5_3_2_2_8),
        ("20 03 00 8e 00", T::ConnAck, 0x8e, S::V5_3_2_2_8),
        ("40 03 00 01 92", T::PubAck, 0x92, S::V5_3_4_2_1),
        ("40 03 00 01 03", T::PubAck, 0x03, S::V5_3_4_2_1),
        ("50 03 00 01 92", T::PubRec, 0x92, S::V5_3_5_2_1),
        ("62 03 00 01 10", T::PubRel, 0x10, S::V5_3_6_2_1),
        ("70 03 00 01 80", T::PubComp, 0x80, S::V5_3_7_2_1),
        ("90 04 00 01 00 04", T::SubAck, 0x04, S::V5_3_9_3_2),
        ("b0 04 00 01 00 02", T::UnsubAck, 0x02, S::V5_3_11_3_2),
        ("e0 01 01", T::Disconnect, 0x01, S::V5_3_14_2_1),
        ("f0 02 80 00", T::Auth, 0x80, S::V5_3_15_2_1),
    ];
    for (hex, packet_type, code, statement) in cases {
        rejects(
            h(hex),
            V5,
            Violation::InvalidReasonCode { packet_type, code },
            MALFORMED,
            Some(statement),
        );
    }
}

#[test]
fn v311_connack_return_code_6_is_malformed() {
    for code in [6u8, 0x80, 0xff] {
        rejects(
            [0x20, 0x02, 0x00, code],
            V311,
            Violation::InvalidReasonCode {
                packet_type: T::ConnAck,
                code,
            },
            MALFORMED,
            None,
        );
    }
}

#[test]
fn v311_suback_return_code_3_is_malformed() {
    for code in [0x03u8, 0x87, 0x81] {
        rejects(
            [0x90, 0x03, 0x00, 0x01, code],
            V311,
            Violation::InvalidReasonCode {
                packet_type: T::SubAck,
                code,
            },
            MALFORMED,
            Some(S::V311_3_9_3_2),
        );
    }
}

#[test]
fn connack_reserved_acknowledge_flags_are_malformed() {
    for flags in [0x02u8, 0x80, 0xff] {
        let violation = Violation::ConnAckReservedFlags { flags };
        rejects(
            [0x20, 0x03, flags, 0x00, 0x00],
            V5,
            violation.clone(),
            MALFORMED,
            Some(S::V5_3_2_2_1),
        );
        rejects([0x20, 0x02, flags, 0x00], V311, violation, MALFORMED, None);
    }
}

#[test]
fn session_present_with_an_error_code_is_malformed() {
    rejects(
        h("20 03 01 87 00"),
        V5,
        Violation::SessionPresentOnError,
        MALFORMED,
        Some(S::V5_3_2_2_6),
    );
    rejects(
        h("20 02 01 05"),
        V311,
        Violation::SessionPresentOnError,
        MALFORMED,
        Some(S::V311_3_2_2_4),
    );
}

// ---------------------------------------------------------------------------------------------
// Incomplete input and the streaming decoder
// ---------------------------------------------------------------------------------------------

#[test]
fn incomplete_input_is_its_own_class_without_reason_code() {
    let cases: [(&str, usize); 5] = [
        ("", 2),
        ("30", 1),
        ("30 80", 1),
        ("30 05 00 01", 3),
        ("c0 80 80 80", 1),
    ];
    for v in [V5, V311] {
        for (hex, needed) in cases {
            let err = rejects(
                h(hex),
                v,
                Violation::Incomplete { needed },
                (ErrorClass::Incomplete, None),
                None,
            );
            assert!(err.is_incomplete());
        }
    }
}

#[test]
fn frame_decoder_waits_for_more_bytes_on_a_partial_packet() {
    let mut decoder = FrameDecoder::new(V5);
    let mut buf = BytesMut::from(&h("30 05 00 01")[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), 4, "a partial packet must stay in the buffer");
}

#[test]
fn frame_decoder_refuses_an_oversized_packet_from_its_fixed_header_alone() {
    for v in [V5, V311] {
        let mut decoder = FrameDecoder::new(v).with_max_packet_size(1024);
        // Five bytes claiming a Remaining Length of 268,435,455 (256 MB); no body follows.
        let mut buf = BytesMut::from(&h("30 ff ff ff 7f")[..]);
        let err = decoder
            .decode(&mut buf)
            .expect_err("an oversized packet must be refused before its body arrives");
        assert_eq!(
            err.violation,
            Violation::PacketTooLarge {
                size: 268_435_455 + 5,
                maximum: 1024
            }
        );
        assert_eq!(err.class(), ErrorClass::ProtocolError);
        assert_eq!(err.reason_code(), Some(ReasonCode::PacketTooLarge));
        assert_eq!(err.statement(), None);
        assert_eq!(err.packet_type, Some(T::Publish));
    }
}

#[test]
fn maximum_packet_size_counts_the_whole_packet_including_the_fixed_header() {
    // 10 bytes in all: 2 of fixed header and a Remaining Length of 8.
    let fits = h("30 08 00 01 74 61 62 63 64 65");
    let mut decoder = FrameDecoder::new(V311).with_max_packet_size(10);
    let mut buf = BytesMut::from(&fits[..]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Some(Packet::Publish(_)))
    ));

    // 11 bytes: refused as soon as the two header bytes are there.
    let mut buf = BytesMut::from(&h("30 09")[..]);
    let err = decoder.decode(&mut buf).expect_err("11 bytes exceed 10");
    assert_eq!(
        err.violation,
        Violation::PacketTooLarge {
            size: 11,
            maximum: 10
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn encode_refused(packet: &Packet, v: ProtocolVersion, violation: Violation) -> EncodeError {
    let err = packet
        .encode(v)
        .expect_err("the encoder must refuse this packet");
    assert_eq!(err.violation, violation);
    assert_eq!(err.version, v);
    assert_eq!(err.packet_type, packet.packet_type());
    assert_eq!(packet.validate(v), Err(err.clone()));
    err
}

fn publish(qos: QoS) -> Publish {
    Publish {
        delivery: Delivery::new(qos, PacketId::new(7).expect("non-zero")),
        ..Publish::new(TopicName::new("t").expect("topic"), &b"x"[..])
    }
}

#[test]
fn encoder_refuses_v5_only_data_in_v311() {
    let id = PacketId::new(1).expect("non-zero");
    let not_in_v311 = |what| Violation::NotInV311 { what };

    let mut p = publish(QoS::AtMostOnce);
    p.properties.message_expiry_interval = Some(5);
    let p = Packet::Publish(p);
    encode_refused(&p, V311, not_in_v311("PUBLISH properties"));
    p.encode(V5).expect("fine in v5");

    let mut ack = PubAck::new(id);
    ack.reason_code = ReasonCode::NoMatchingSubscribers;
    let ack = Packet::PubAck(ack);
    encode_refused(&ack, V311, not_in_v311("reason codes"));
    ack.encode(V5).expect("fine in v5");

    let mut ack = PubAck::new(id);
    ack.properties.reason_string = Some(mqtt_string("why"));
    encode_refused(&Packet::PubAck(ack), V311, not_in_v311("properties"));

    let auth = Packet::Auth(Auth::default());
    let err = encode_refused(&auth, V311, not_in_v311("AUTH"));
    assert_eq!(err.statement(), None);
    auth.encode(V5).expect("fine in v5");

    let d = Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage));
    encode_refused(&d, V311, not_in_v311("DISCONNECT reason codes"));

    let u = Packet::UnsubAck(UnsubAck {
        packet_id: id,
        properties: Default::default(),
        reason_codes: vec![ReasonCode::Success],
    });
    encode_refused(&u, V311, not_in_v311("UNSUBACK reason codes"));

    let c = Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ReasonCode::Banned,
        properties: Default::default(),
    });
    encode_refused(&c, V311, not_in_v311("this CONNACK reason code"));

    let mut connect = Connect {
        protocol_version: V311,
        clean_start: true,
        keep_alive: 0,
        properties: Default::default(),
        client_id: mqtt_string("c"),
        will: None,
        username: None,
        password: None,
    };
    connect.properties.session_expiry_interval = Some(10);
    encode_refused(
        &Packet::Connect(Box::new(connect)),
        V311,
        not_in_v311("CONNECT properties"),
    );

    let s = Packet::Subscribe(Subscribe {
        packet_id: id,
        properties: Default::default(),
        filters: vec![(
            TopicFilter::new("a").expect("filter"),
            SubscriptionOptions {
                no_local: true,
                ..SubscriptionOptions::qos(QoS::AtLeastOnce)
            },
        )],
    });
    encode_refused(&s, V311, not_in_v311("subscription options other than QoS"));
    s.encode(V5).expect("fine in v5");
}

/// MQTT-2.2.1-2 / MQTT-2.2.1-3 (5.0), MQTT-2.3.1-1 / MQTT-2.3.1-5 (3.1.1): the model holds a
/// PUBLISH's QoS and Packet Identifier as one `Delivery`, so the encoder has no mismatch to
/// refuse; the bytes of a QoS 1 PUBLISH that ends before its Packet Identifier can still be
/// built with `RawPacket`, and the decoder refuses them.
#[test]
fn qos_1_publish_without_packet_identifier_cannot_be_built_and_is_refused_on_receipt() {
    assert_eq!(Delivery::from_parts(QoS::AtLeastOnce, None), None);
    assert_eq!(Delivery::from_parts(QoS::ExactlyOnce, None), None);
    assert_eq!(
        Delivery::from_parts(QoS::AtMostOnce, PacketId::new(7)),
        None
    );

    // QoS 1, Topic Name "a", and nothing after it.
    let bytes = RawPacket::with_type(3, 0b0010).string("a").build();
    for v in [V5, V311] {
        rejects(
            &bytes,
            v,
            Violation::Truncated {
                field: "Packet Identifier",
                within: "packet",
            },
            MALFORMED,
            None,
        );
    }

    let encoded = |qos, v| Packet::Publish(publish(qos)).encode(v).expect("encodes");
    assert_eq!(
        &encoded(QoS::AtLeastOnce, V311)[..],
        &h("32 06 00 01 74 00 07 78")[..]
    );
    assert_eq!(
        &encoded(QoS::ExactlyOnce, V5)[..],
        &h("34 07 00 01 74 00 07 00 78")[..]
    );
    assert_eq!(
        &encoded(QoS::AtMostOnce, V311)[..],
        &h("30 04 00 01 74 78")[..]
    );
}

// ---------------------------------------------------------------------------------------------
// Error display
// ---------------------------------------------------------------------------------------------

#[test]
fn decode_error_display_names_class_reason_code_and_statement() {
    let err = decode(h("80 02 00 01"), V5).expect_err("flags 0000 on SUBSCRIBE");
    let text = err.to_string();
    assert!(text.starts_with("malformed packet"), "{text}");
    assert!(text.contains("0x81"), "{text}");
    assert!(text.contains("MQTT-3.8.1-1"), "{text}");
    assert!(text.contains("SUBSCRIBE"), "{text}");

    let err = decode(with_properties(C::Connect, &h("21 00 00")), V5).expect_err("RM 0");
    let text = err.to_string();
    assert!(text.starts_with("protocol error"), "{text}");
    assert!(text.contains("0x82"), "{text}");
    assert!(!text.contains("[MQTT-"), "no statement is tagged: {text}");

    let err = decode(h("30 03 00 01 2b"), V5).expect_err("wildcard topic");
    let text = err.to_string();
    assert!(text.contains("0x90"), "{text}");
    assert!(text.contains("MQTT-3.3.2-2"), "{text}");

    let err = decode(h("80 02 00 01"), V311).expect_err("flags 0000 on SUBSCRIBE");
    let text = err.to_string();
    assert!(text.starts_with("malformed packet"), "{text}");
    assert!(text.contains("MQTT-3.8.1-1"), "{text}");
    assert!(text.contains("3.1.1"), "{text}");

    let err = decode(h("30"), V5).expect_err("incomplete");
    assert!(err.to_string().starts_with("incomplete"), "{err}");
}
