//! proptest strategies for every packet type (feature `proptest`).
//!
//! Small strategies (characters, strings, topic names and filters, property values) are
//! composed into one strategy per control packet type, and those into [`packet`], which
//! covers every type that exists in the given protocol version. Every value generated is one
//! the strict encoder accepts for that version, so `decode(encode(p)) == p` is expected of all
//! of them (the statement ids cited are MQTT 5.0's):
//!
//! - strings are well-formed UTF-8 without U+0000 ([MQTT-1.5.4-1], [MQTT-1.5.4-2]);
//!   non-ASCII text and U+FEFF are generated on purpose, since a receiver has to keep them
//!   as they are ([MQTT-1.5.4-3]);
//! - Topic Names are non-empty and wildcard-free ([MQTT-4.7.3-1], [MQTT-4.7.0-1]); Topic
//!   Filters place `#` and `+` as whole levels ([MQTT-4.7.1-1], [MQTT-4.7.1-2]); shared
//!   subscriptions (`$share/{ShareName}/{filter}`, [MQTT-4.8.2-1], [MQTT-4.8.2-2]) are
//!   generated for MQTT 5.0 only, and never with No Local ([MQTT-3.8.3-4]);
//! - [`properties`] sets only properties allowed in its [`PropertyContext`], each once unless
//!   it may repeat, with values in range (no zero Receive Maximum, Topic Alias or Maximum
//!   Packet Size, Subscription Identifiers up to 268,435,455, Maximum QoS 0 or 1,
//!   Authentication Data only with an Authentication Method);
//! - MQTT 3.1.1 packets carry no MQTT 5.0-only data: no properties, Success reason codes, no
//!   AUTH, UNSUBACK without reason codes, CONNACK return codes 0..=5 and SUBACK return codes
//!   0x00, 0x01, 0x02, 0x80 only, Subscription Options with the QoS bits only, and no Password
//!   without a User Name.
//!
//! Values are built with the types' public constructors, so a strategy cannot produce what the
//! model itself refuses.
//!
//! ```
//! use mqttspec_codec::{strategy, Packet, ProtocolVersion};
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::deterministic();
//! let v = ProtocolVersion::V5;
//! let packet = strategy::packet(v).new_tree(&mut runner).unwrap().current();
//! let bytes = packet.encode(v).unwrap();
//! assert_eq!(Packet::decode(bytes, v).unwrap(), packet);
//! ```
//!
//! [MQTT-1.5.4-1]: crate::StatementId::V5_1_5_4_1
//! [MQTT-1.5.4-2]: crate::StatementId::V5_1_5_4_2
//! [MQTT-1.5.4-3]: crate::StatementId::V5_1_5_4_3
//! [MQTT-3.8.3-4]: crate::StatementId::V5_3_8_3_4
//! [MQTT-4.7.0-1]: crate::StatementId::V5_4_7_0_1
//! [MQTT-4.7.1-1]: crate::StatementId::V5_4_7_1_1
//! [MQTT-4.7.1-2]: crate::StatementId::V5_4_7_1_2
//! [MQTT-4.7.3-1]: crate::StatementId::V5_4_7_3_1
//! [MQTT-4.8.2-1]: crate::StatementId::V5_4_8_2_1
//! [MQTT-4.8.2-2]: crate::StatementId::V5_4_8_2_2

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use crate::{
    Auth, ConnAck, Connect, Delivery, Disconnect, LastWill, MqttString, Packet, PacketId,
    PacketType, PayloadFormatIndicator, Properties, PropertyContext, PropertyId, ProtocolVersion,
    PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe, MAX_VARIABLE_BYTE_INTEGER,
};

/// How often an optional property is present.
const PRESENT: f64 = 0.3;

/// The codes an MQTT 3.1.1 SUBACK can carry.
const V311_SUBACK_CODES: [ReasonCode; 4] = [
    ReasonCode::Success,
    ReasonCode::GrantedQoS1,
    ReasonCode::GrantedQoS2,
    ReasonCode::UnspecifiedError,
];

// ---------------------------------------------------------------------------------------------
// Characters and strings
// ---------------------------------------------------------------------------------------------

/// A character allowed in a UTF-8 Encoded String: mostly ASCII, often any Unicode scalar
/// value (non-ASCII, control characters), sometimes U+FEFF; never U+0000.
pub fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('a', 'z'),
        2 => proptest::char::range(' ', '~'),
        2 => any::<char>(),
        1 => Just('\u{FEFF}'),
    ]
    .prop_filter("U+0000 is not allowed", |c| *c != '\0')
}

/// Text of `0..=max_chars` characters from [`text_char`], without the characters in `exclude`.
pub fn text(max_chars: usize, exclude: &'static [char]) -> impl Strategy<Value = String> {
    vec(
        text_char().prop_filter("excluded character", move |c| !exclude.contains(c)),
        0..=max_chars,
    )
    .prop_map(String::from_iter)
}

/// A UTF-8 Encoded String (possibly empty).
pub fn mqtt_string() -> impl Strategy<Value = MqttString> {
    text(16, &[]).prop_filter_map("valid UTF-8 Encoded String", |s| {
        MqttString::new(s, "string").ok()
    })
}

/// Binary Data, or a payload: usually short, sometimes long enough for a two-byte length.
pub fn binary() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..=32),
        1 => vec(any::<u8>(), 100..=300),
    ]
    .prop_map(Bytes::from)
}

/// A non-empty Topic Name: no wildcards, `/` level separators (empty levels included), now
/// and then a `$`-topic.
pub fn topic_name() -> impl Strategy<Value = TopicName> {
    let name_char = prop_oneof![
        5 => text_char().prop_filter("wildcard", |c| *c != '+' && *c != '#'),
        1 => Just('/'),
    ];
    (
        prop_oneof![6 => Just(""), 1 => Just("$SYS/"), 1 => Just("$")],
        vec(name_char, 1..=20),
    )
        .prop_map(|(prefix, chars)| {
            let mut s = prefix.to_owned();
            s.extend(chars);
            s
        })
        .prop_filter_map("valid Topic Name", |s| TopicName::new(s).ok())
}

/// One topic level of a filter: text, `+`, or now and then `$SYS`.
fn filter_level() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => text(8, &['/', '+', '#']),
        2 => Just("+".to_owned()),
        1 => Just("$SYS".to_owned()),
    ]
}

/// The text of a Topic Filter that is not a shared subscription: one to five levels, the
/// last possibly `#`.
fn plain_filter_text() -> impl Strategy<Value = String> {
    (vec(filter_level(), 1..=5), any::<bool>())
        .prop_map(|(mut levels, multi_level)| {
            if multi_level {
                levels.pop();
                levels.push("#".to_owned());
            }
            levels.join("/")
        })
        .prop_filter("empty or shared Topic Filter", |s| {
            !s.is_empty() && !s.starts_with("$share")
        })
}

/// A shared-subscription Topic Filter (MQTT 5.0): `$share/`, a ShareName, `/`, a filter.
pub fn shared_topic_filter() -> impl Strategy<Value = TopicFilter> {
    let share_name = vec(
        text_char().prop_filter("not allowed in a ShareName", |c| {
            !matches!(c, '/' | '+' | '#')
        }),
        1..=8,
    )
    .prop_map(String::from_iter);
    (share_name, plain_filter_text())
        .prop_filter_map("valid shared subscription", |(name, filter)| {
            TopicFilter::new_v5(format!("$share/{name}/{filter}")).ok()
        })
}

/// A Topic Filter valid in `version`: wildcards as whole levels, `#` last; for MQTT 5.0 also
/// shared subscriptions. MQTT 3.1.1 filters never start with `$share`.
pub fn topic_filter(version: ProtocolVersion) -> BoxedStrategy<TopicFilter> {
    let plain = plain_filter_text().prop_filter_map("valid Topic Filter", move |s| {
        let filter = TopicFilter::new(s).ok()?;
        if version.is_v5() {
            filter.check_shared().ok()?;
        }
        Some(filter)
    });
    if version.is_v5() {
        prop_oneof![4 => plain, 1 => shared_topic_filter()].boxed()
    } else {
        plain.boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Small values
// ---------------------------------------------------------------------------------------------

/// A QoS level (0, 1 or 2).
pub fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce),
    ]
}

/// A non-zero Packet Identifier, with the extremes 1 and 65,535 favoured.
pub fn packet_id() -> impl Strategy<Value = PacketId> {
    prop_oneof![
        1 => Just(1u16),
        1 => Just(u16::MAX),
        6 => 1..=u16::MAX,
    ]
    .prop_filter_map("non-zero Packet Identifier", PacketId::new)
}

/// A Retain Handling option.
pub fn retain_handling() -> impl Strategy<Value = RetainHandling> {
    prop_oneof![
        Just(RetainHandling::SendOnSubscribe),
        Just(RetainHandling::SendIfNew),
        Just(RetainHandling::DoNotSend),
    ]
}

/// Subscription Options for `version`: every field in MQTT 5.0, the QoS only in MQTT 3.1.1.
pub fn subscription_options(version: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    if version.is_v5() {
        (qos(), any::<bool>(), any::<bool>(), retain_handling())
            .prop_map(
                |(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published,
                    retain_handling,
                },
            )
            .boxed()
    } else {
        qos().prop_map(SubscriptionOptions::qos).boxed()
    }
}

/// A reason code `packet_type` may carry in `version`: any of its MQTT 5.0 set in 5.0; in
/// 3.1.1 the CONNACK return codes 0..=5, the four SUBACK return codes, and otherwise Success.
pub fn reason_code(packet_type: PacketType, version: ProtocolVersion) -> BoxedStrategy<ReasonCode> {
    let allowed = ReasonCode::allowed_in(packet_type);
    if version.is_v5() && !allowed.is_empty() {
        return select(allowed).boxed();
    }
    match (version, packet_type) {
        (ProtocolVersion::V311, PacketType::ConnAck) => (0u8..=5)
            .prop_filter_map("CONNACK return code", ReasonCode::from_connect_return_code)
            .boxed(),
        (ProtocolVersion::V311, PacketType::SubAck) => select(&V311_SUBACK_CODES[..]).boxed(),
        _ => Just(ReasonCode::Success).boxed(),
    }
}

/// A Subscription Identifier (1..=268,435,455), spread over the four Variable Byte Integer
/// sizes.
pub fn subscription_identifier() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![
        1u32..=127,
        128u32..=16_383,
        16_384u32..=2_097_151,
        2_097_152u32..=MAX_VARIABLE_BYTE_INTEGER,
    ]
    .prop_filter_map("non-zero Subscription Identifier", NonZeroU32::new)
}

/// A non-zero Two Byte Integer (Receive Maximum, Topic Alias).
pub fn non_zero_u16() -> impl Strategy<Value = NonZeroU16> {
    prop_oneof![1 => Just(1u16), 1 => Just(u16::MAX), 4 => 1..=u16::MAX]
        .prop_filter_map("non-zero", NonZeroU16::new)
}

/// A non-zero Four Byte Integer (Maximum Packet Size).
pub fn non_zero_u32() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![1 => Just(1u32), 1 => Just(u32::MAX), 4 => 1..=u32::MAX]
        .prop_filter_map("non-zero", NonZeroU32::new)
}

/// A Payload Format Indicator.
pub fn payload_format_indicator() -> impl Strategy<Value = PayloadFormatIndicator> {
    prop_oneof![
        Just(PayloadFormatIndicator::Unspecified),
        Just(PayloadFormatIndicator::Utf8),
    ]
}

/// Zero to three User Properties (name, value), any valid strings.
pub fn user_properties() -> impl Strategy<Value = Vec<(MqttString, MqttString)>> {
    vec((mqtt_string(), mqtt_string()), 0..4)
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// `Some` of `value` now and then if `id` may appear in `context`, otherwise always `None`.
fn optional<S>(
    context: PropertyContext,
    id: PropertyId,
    value: S,
) -> BoxedStrategy<Option<S::Value>>
where
    S: Strategy + 'static,
    S::Value: Clone,
{
    if id.is_allowed_in(context) {
        option::weighted(PRESENT, value).boxed()
    } else {
        Just(None).boxed()
    }
}

/// A property set valid in `context`: only allowed properties, repeated only where the
/// specification allows it (Subscription Identifiers in PUBLISH, User Properties anywhere),
/// each value in range.
pub fn properties(context: PropertyContext) -> impl Strategy<Value = Properties> {
    use PropertyId as P;
    let c = context;
    let subscription_ids = if P::SubscriptionIdentifier.may_repeat_in(c) {
        vec(subscription_identifier(), 0..=3).boxed()
    } else if P::SubscriptionIdentifier.is_allowed_in(c) {
        vec(subscription_identifier(), 0..=1).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    let user = if P::UserProperty.is_allowed_in(c) {
        user_properties().boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    // Authentication Data only ever comes with an Authentication Method.
    let authentication = optional(
        c,
        P::AuthenticationMethod,
        (mqtt_string(), optional(c, P::AuthenticationData, binary())),
    );
    let message = (
        optional(c, P::PayloadFormatIndicator, payload_format_indicator()),
        optional(c, P::MessageExpiryInterval, any::<u32>()),
        optional(c, P::ContentType, mqtt_string()),
        optional(c, P::ResponseTopic, topic_name()),
        optional(c, P::CorrelationData, binary()),
        subscription_ids,
        optional(c, P::TopicAlias, non_zero_u16()),
    );
    let session = (
        optional(c, P::SessionExpiryInterval, any::<u32>()),
        optional(c, P::AssignedClientIdentifier, mqtt_string()),
        optional(c, P::ServerKeepAlive, any::<u16>()),
        authentication,
        optional(c, P::RequestProblemInformation, any::<bool>()),
        optional(c, P::WillDelayInterval, any::<u32>()),
        optional(c, P::RequestResponseInformation, any::<bool>()),
        optional(c, P::ResponseInformation, mqtt_string()),
        optional(c, P::ServerReference, mqtt_string()),
        optional(c, P::ReasonString, mqtt_string()),
    );
    let capabilities = (
        optional(c, P::ReceiveMaximum, non_zero_u16()),
        optional(c, P::TopicAliasMaximum, any::<u16>()),
        optional(
            c,
            P::MaximumQoS,
            prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)],
        ),
        optional(c, P::RetainAvailable, any::<bool>()),
        optional(c, P::MaximumPacketSize, non_zero_u32()),
        optional(c, P::WildcardSubscriptionAvailable, any::<bool>()),
        optional(c, P::SubscriptionIdentifierAvailable, any::<bool>()),
        optional(c, P::SharedSubscriptionAvailable, any::<bool>()),
    );
    (message, session, capabilities, user).prop_map(
        |(
            (
                payload_format_indicator,
                message_expiry_interval,
                content_type,
                response_topic,
                correlation_data,
                subscription_identifiers,
                topic_alias,
            ),
            (
                session_expiry_interval,
                assigned_client_identifier,
                server_keep_alive,
                authentication,
                request_problem_information,
                will_delay_interval,
                request_response_information,
                response_information,
                server_reference,
                reason_string,
            ),
            (
                receive_maximum,
                topic_alias_maximum,
                maximum_qos,
                retain_available,
                maximum_packet_size,
                wildcard_subscription_available,
                subscription_identifier_available,
                shared_subscription_available,
            ),
            user_properties,
        )| {
            let (authentication_method, authentication_data) = match authentication {
                Some((method, data)) => (Some(method), data),
                None => (None, None),
            };
            Properties {
                payload_format_indicator,
                message_expiry_interval,
                content_type,
                response_topic,
                correlation_data,
                subscription_identifiers,
                session_expiry_interval,
                assigned_client_identifier,
                server_keep_alive,
                authentication_method,
                authentication_data,
                request_problem_information,
                will_delay_interval,
                request_response_information,
                response_information,
                server_reference,
                reason_string,
                receive_maximum,
                topic_alias_maximum,
                topic_alias,
                maximum_qos,
                retain_available,
                user_properties: user_properties.into(),
                maximum_packet_size,
                wildcard_subscription_available,
                subscription_identifier_available,
                shared_subscription_available,
            }
        },
    )
}

/// A flat set from [`properties`] as the packet's own set type (the strategy only draws
/// properties allowed in the context, so nothing is dropped).
fn into_set<T: crate::property::PropertySet>(p: Properties) -> crate::property::Props<T> {
    T::from_flat(p).unwrap_or_default().into()
}

/// [`properties`] in MQTT 5.0; always empty in MQTT 3.1.1.
pub fn properties_for(
    context: PropertyContext,
    version: ProtocolVersion,
) -> BoxedStrategy<Properties> {
    if version.is_v5() {
        properties(context).boxed()
    } else {
        Just(Properties::default()).boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------------

/// A Will Message for `version`.
pub fn last_will(version: ProtocolVersion) -> impl Strategy<Value = LastWill> {
    (
        qos(),
        any::<bool>(),
        properties_for(PropertyContext::Will, version),
        topic_name(),
        binary(),
    )
        .prop_map(|(qos, retain, properties, topic, payload)| LastWill {
            qos,
            retain,
            properties: into_set(properties),
            topic,
            payload,
        })
}

/// A CONNECT for `version` (in 3.1.1 a Password only with a User Name).
pub fn connect(version: ProtocolVersion) -> impl Strategy<Value = Connect> {
    (
        any::<bool>(),
        any::<u16>(),
        properties_for(PropertyContext::Connect, version),
        mqtt_string(),
        option::of(last_will(version)),
        option::of(mqtt_string()),
        option::of(binary()),
    )
        .prop_map(
            move |(clean_start, keep_alive, properties, client_id, will, username, password)| {
                let password = if version.is_v5() || username.is_some() {
                    password
                } else {
                    None
                };
                Connect {
                    protocol_version: version,
                    clean_start,
                    keep_alive,
                    properties: into_set(properties),
                    client_id,
                    will,
                    username,
                    password,
                }
            },
        )
}

/// A CONNACK for `version` (Session Present only with a success code).
pub fn connack(version: ProtocolVersion) -> impl Strategy<Value = ConnAck> {
    (
        any::<bool>(),
        reason_code(PacketType::ConnAck, version),
        properties_for(PropertyContext::ConnAck, version),
    )
        .prop_map(|(session_present, reason_code, properties)| ConnAck {
            session_present: session_present && !reason_code.is_error(),
            reason_code,
            properties: into_set(properties),
        })
}

/// A PUBLISH for `version`: DUP only with QoS 1 or 2, a Packet Identifier exactly with QoS 1
/// or 2, and in MQTT 5.0 sometimes an empty Topic Name when a Topic Alias is present.
pub fn publish(version: ProtocolVersion) -> impl Strategy<Value = Publish> {
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        properties_for(PropertyContext::Publish, version),
        binary(),
        any::<bool>(),
    )
        .prop_map(
            |(dup, qos, retain, topic, id, properties, payload, alias_only)| {
                let topic = if alias_only && properties.topic_alias.is_some() {
                    TopicName::default()
                } else {
                    topic
                };
                let delivery = Delivery::new(qos, id);
                Publish {
                    dup: dup && delivery != Delivery::AtMostOnce,
                    delivery,
                    retain,
                    topic,
                    properties: into_set(properties),
                    payload,
                }
            },
        )
}

macro_rules! publish_ack_strategy {
    ($(#[$doc:meta])* $fn_name:ident, $ty:ident) => {
        $(#[$doc])*
        pub fn $fn_name(version: ProtocolVersion) -> impl Strategy<Value = $ty> {
            (
                packet_id(),
                reason_code(PacketType::$ty, version),
                properties_for(PropertyContext::$ty, version),
            )
                .prop_map(|(packet_id, reason_code, properties)| $ty {
                    packet_id,
                    reason_code,
                    properties: into_set(properties),
                })
        }
    };
}

publish_ack_strategy!(
    /// A PUBACK for `version`.
    puback,
    PubAck
);
publish_ack_strategy!(
    /// A PUBREC for `version`.
    pubrec,
    PubRec
);
publish_ack_strategy!(
    /// A PUBREL for `version`.
    pubrel,
    PubRel
);
publish_ack_strategy!(
    /// A PUBCOMP for `version`.
    pubcomp,
    PubComp
);

/// A Topic Filter with Subscription Options for `version` (never No Local on a shared
/// subscription).
pub fn subscription(
    version: ProtocolVersion,
) -> impl Strategy<Value = (TopicFilter, SubscriptionOptions)> {
    (topic_filter(version), subscription_options(version)).prop_map(|(filter, mut options)| {
        if filter.shared_parts().is_some() {
            options.no_local = false;
        }
        (filter, options)
    })
}

/// A SUBSCRIBE for `version` with one to four filters.
pub fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Subscribe> {
    (
        packet_id(),
        properties_for(PropertyContext::Subscribe, version),
        vec(subscription(version), 1..=4),
    )
        .prop_map(|(packet_id, properties, filters)| Subscribe {
            packet_id,
            properties: into_set(properties),
            filters,
        })
}

/// A SUBACK for `version` with one to four reason codes.
pub fn suback(version: ProtocolVersion) -> impl Strategy<Value = SubAck> {
    (
        packet_id(),
        properties_for(PropertyContext::SubAck, version),
        vec(reason_code(PacketType::SubAck, version), 1..=4),
    )
        .prop_map(|(packet_id, properties, reason_codes)| SubAck {
            packet_id,
            properties: into_set(properties),
            reason_codes,
        })
}

/// An UNSUBSCRIBE for `version` with one to four filters.
pub fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Unsubscribe> {
    (
        packet_id(),
        properties_for(PropertyContext::Unsubscribe, version),
        vec(topic_filter(version), 1..=4),
    )
        .prop_map(|(packet_id, properties, filters)| Unsubscribe {
            packet_id,
            properties: into_set(properties),
            filters,
        })
}

/// An UNSUBACK for `version`: one to four reason codes in MQTT 5.0, none in 3.1.1.
pub fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = UnsubAck> {
    let codes = if version.is_v5() {
        vec(reason_code(PacketType::UnsubAck, version), 1..=4).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (
        packet_id(),
        properties_for(PropertyContext::UnsubAck, version),
        codes,
    )
        .prop_map(|(packet_id, properties, reason_codes)| UnsubAck {
            packet_id,
            properties: into_set(properties),
            reason_codes,
        })
}

/// A DISCONNECT for `version`.
pub fn disconnect(version: ProtocolVersion) -> impl Strategy<Value = Disconnect> {
    (
        reason_code(PacketType::Disconnect, version),
        properties_for(PropertyContext::Disconnect, version),
    )
        .prop_map(|(reason_code, properties)| Disconnect {
            reason_code,
            properties: into_set(properties),
        })
}

/// An AUTH (MQTT 5.0 only: AUTH does not exist in 3.1.1, so there is no version parameter).
pub fn auth() -> impl Strategy<Value = Auth> {
    (
        reason_code(PacketType::Auth, ProtocolVersion::V5),
        properties(PropertyContext::Auth),
    )
        .prop_map(|(reason_code, properties)| Auth {
            reason_code,
            properties: into_set(properties),
        })
}

/// The packet types that exist in `version` (all fifteen in MQTT 5.0, AUTH excluded in
/// 3.1.1).
pub fn packet_types(version: ProtocolVersion) -> Vec<PacketType> {
    PacketType::ALL
        .iter()
        .copied()
        .filter(|t| version.is_v5() || *t != PacketType::Auth)
        .collect()
}

/// A packet of the given type for `version`. For AUTH in MQTT 3.1.1, where the type does not
/// exist, it yields PINGREQ instead; use [`packet_types`] to iterate over the valid types.
pub fn packet_of_type(packet_type: PacketType, version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let v = version;
    match packet_type {
        PacketType::Connect => connect(v)
            .prop_map(|c| Packet::Connect(Box::new(c)))
            .boxed(),
        PacketType::ConnAck => connack(v).prop_map(Packet::ConnAck).boxed(),
        PacketType::Publish => publish(v).prop_map(Packet::Publish).boxed(),
        PacketType::PubAck => puback(v).prop_map(Packet::PubAck).boxed(),
        PacketType::PubRec => pubrec(v).prop_map(Packet::PubRec).boxed(),
        PacketType::PubRel => pubrel(v).prop_map(Packet::PubRel).boxed(),
        PacketType::PubComp => pubcomp(v).prop_map(Packet::PubComp).boxed(),
        PacketType::Subscribe => subscribe(v).prop_map(Packet::Subscribe).boxed(),
        PacketType::SubAck => suback(v).prop_map(Packet::SubAck).boxed(),
        PacketType::Unsubscribe => unsubscribe(v).prop_map(Packet::Unsubscribe).boxed(),
        PacketType::UnsubAck => unsuback(v).prop_map(Packet::UnsubAck).boxed(),
        PacketType::PingReq => Just(Packet::PingReq).boxed(),
        PacketType::PingResp => Just(Packet::PingResp).boxed(),
        PacketType::Disconnect => disconnect(v).prop_map(Packet::Disconnect).boxed(),
        PacketType::Auth if v.is_v5() => auth().prop_map(Packet::Auth).boxed(),
        PacketType::Auth => Just(Packet::PingReq).boxed(),
    }
}

/// Any packet valid in `version`, every type that exists in it equally likely.
pub fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let arms: Vec<(u32, BoxedStrategy<Packet>)> = packet_types(version)
        .into_iter()
        .map(|t| (1, packet_of_type(t, version)))
        .collect();
    proptest::strategy::Union::new_weighted(arms).boxed()
}
