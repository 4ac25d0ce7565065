//! A decoded packet as JSON (a [`serde_json::Value`]), for people and scripts to read.
//!
//! The shape, shared by every command that shows packets:
//!
//! - `type`: the packet's name, e.g. `"PUBLISH"`; [`decoded_packet`] adds `flags` (the low
//!   nibble of the first byte, a number) and `remaining_length` from the fixed header.
//! - Then the packet's fields in wire order, each under the snake_case form of the name the
//!   specification gives it (`packet_identifier`, `topic_name`, `client_identifier`, ...).
//!   Optional fields that are absent are left out; fields MQTT 3.1.1 does not have (properties,
//!   reason codes, the MQTT 5.0 subscription options) are left out for 3.1.1.
//! - `properties`: an object with one key per property present, in identifier order, named
//!   after the property (`session_expiry_interval`, `maximum_qos`, ...). Two properties may
//!   repeat and are lists: `user_properties` (`[name, value]` pairs, in wire order) and
//!   `subscription_identifiers`. Properties that are a Byte valued 0 or 1 in the wire format
//!   are shown as JSON booleans, except the Payload Format Indicator and Maximum QoS, which
//!   are numbers.
//! - Binary data (payloads, Password, Correlation Data, Authentication Data) is a lowercase hex
//!   string without spaces. A PUBLISH or Will payload that is valid UTF-8 is also shown as text
//!   under `payload_utf8` (whatever the Payload Format Indicator says).
//! - MQTT 5.0 reason codes are `{ "value": "0x87", "name": "Not authorized" }`, named as the
//!   packet's own reason code table names them. MQTT 3.1.1 return codes (CONNACK and SUBACK)
//!   are `{ "value": 5, "name": ... }` with the 3.1.1 names.
//!
//! Keys keep the order they are inserted in (serde_json's `preserve_order` feature).

use bytes::Bytes;
use mqttspec_codec::packet::FixedHeader;
use mqttspec_codec::{
    Connect, LastWill, Packet, PacketType, PayloadFormatIndicator, Properties, PropertyId,
    ProtocolVersion, ReasonCode, SubscriptionOptions,
};
use serde_json::{json, Map, Value};

/// A packet decoded from the wire, with its fixed header: `type`, `flags`, `remaining_length`,
/// then the fields (see the module docs).
pub fn decoded_packet(packet: &Packet, header: &FixedHeader, version: ProtocolVersion) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!(packet.packet_type().name()));
    out.insert("flags".into(), json!(header.flags));
    out.insert("remaining_length".into(), json!(header.remaining_length));
    packet_fields(&mut out, packet, version);
    Value::Object(out)
}

/// A packet without fixed-header details: `type`, then the fields (see the module docs).
pub fn packet(packet: &Packet, version: ProtocolVersion) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!(packet.packet_type().name()));
    packet_fields(&mut out, packet, version);
    Value::Object(out)
}

/// Appends the fields of `packet` to `out`, in wire order.
fn packet_fields(out: &mut Map<String, Value>, packet: &Packet, v: ProtocolVersion) {
    let v5 = v.is_v5();
    let t = packet.packet_type();
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_owned(), value);
    };
    match packet {
        Packet::Connect(c) => connect_fields(&mut put, c, v),
        Packet::ConnAck(p) => {
            put("session_present", json!(p.session_present));
            if v5 {
                put("reason_code", reason_code(p.reason_code, t));
                put("properties", properties(&p.properties.to_properties()));
            } else {
                put("return_code", v311_connect_return_code(p.reason_code));
            }
        }
        Packet::Publish(p) => {
            put("dup", json!(p.dup));
            put("qos", json!(p.qos().as_u8()));
            put("retain", json!(p.retain));
            put("topic_name", json!(p.topic.as_str()));
            if let Some(id) = p.packet_id() {
                put("packet_identifier", json!(id.get()));
            }
            if v5 {
                put("properties", properties(&p.properties.to_properties()));
            }
            payload_fields(&mut put, "payload", &p.payload);
        }
        Packet::PubAck(p) => ack_fields(
            &mut put,
            p.packet_id.get(),
            p.reason_code,
            &p.properties.to_properties(),
            t,
            v,
        ),
        Packet::PubRec(p) => ack_fields(
            &mut put,
            p.packet_id.get(),
            p.reason_code,
            &p.properties.to_properties(),
            t,
            v,
        ),
        Packet::PubRel(p) => ack_fields(
            &mut put,
            p.packet_id.get(),
            p.reason_code,
            &p.properties.to_properties(),
            t,
            v,
        ),
        Packet::PubComp(p) => ack_fields(
            &mut put,
            p.packet_id.get(),
            p.reason_code,
            &p.properties.to_properties(),
            t,
            v,
        ),
        Packet::Subscribe(p) => {
            put("packet_identifier", json!(p.packet_id.get()));
            if v5 {
                put("properties", properties(&p.properties.to_properties()));
            }
            let subscriptions = p
                .filters
                .iter()
                .map(|(filter, options)| subscription(filter.as_str(), *options, v))
                .collect();
            put("subscriptions", Value::Array(subscriptions));
        }
        Packet::SubAck(p) => {
            put("packet_identifier", json!(p.packet_id.get()));
            if v5 {
                put("properties", properties(&p.properties.to_properties()));
                put("reason_codes", reason_codes(&p.reason_codes, t));
            } else {
                let codes = p.reason_codes.iter().map(|c| v311_suback_return_code(*c));
                put("return_codes", Value::Array(codes.collect()));
            }
        }
        Packet::Unsubscribe(p) => {
            put("packet_identifier", json!(p.packet_id.get()));
            if v5 {
                put("properties", properties(&p.properties.to_properties()));
            }
            let filters = p.filters.iter().map(|f| json!(f.as_str())).collect();
            put("topic_filters", Value::Array(filters));
        }
        Packet::UnsubAck(p) => {
            put("packet_identifier", json!(p.packet_id.get()));
            if v5 {
                put("properties", properties(&p.properties.to_properties()));
                put("reason_codes", reason_codes(&p.reason_codes, t));
            }
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(p) => {
            if v5 {
                put("reason_code", reason_code(p.reason_code, t));
                put("properties", properties(&p.properties.to_properties()));
            }
        }
        Packet::Auth(p) => {
            // AUTH only decodes as MQTT 5.0; show it in full whatever `v` says.
            put("reason_code", reason_code(p.reason_code, t));
            put("properties", properties(&p.properties.to_properties()));
        }
    }
}

fn connect_fields(put: &mut impl FnMut(&str, Value), c: &Connect, v: ProtocolVersion) {
    let v5 = v.is_v5();
    put("protocol_name", json!("MQTT"));
    put("protocol_level", json!(c.protocol_version.level()));
    // Bit 1 of the Connect Flags is "Clean Session" in 3.1.1 and "Clean Start" in 5.0.
    let clean = if v5 { "clean_start" } else { "clean_session" };
    put(clean, json!(c.clean_start));
    put("keep_alive", json!(c.keep_alive));
    if v5 {
        put("properties", properties(&c.properties.to_properties()));
    }
    put("client_identifier", json!(c.client_id.as_str()));
    if let Some(will) = &c.will {
        put("will", last_will(will, v));
    }
    if let Some(user_name) = &c.username {
        put("user_name", json!(user_name.as_str()));
    }
    if let Some(password) = &c.password {
        put("password", json!(hex::encode(password)));
    }
}

fn last_will(will: &LastWill, v: ProtocolVersion) -> Value {
    let mut out = Map::new();
    out.insert("will_qos".into(), json!(will.qos.as_u8()));
    out.insert("will_retain".into(), json!(will.retain));
    if v.is_v5() {
        out.insert(
            "will_properties".into(),
            properties(&will.properties.to_properties()),
        );
    }
    out.insert("will_topic".into(), json!(will.topic.as_str()));
    payload_fields(
        &mut |k: &str, value| {
            out.insert(k.to_owned(), value);
        },
        "will_payload",
        &will.payload,
    );
    Value::Object(out)
}

fn ack_fields(
    put: &mut impl FnMut(&str, Value),
    packet_id: u16,
    code: ReasonCode,
    props: &Properties,
    t: PacketType,
    v: ProtocolVersion,
) {
    put("packet_identifier", json!(packet_id));
    if v.is_v5() {
        put("reason_code", reason_code(code, t));
        put("properties", properties(props));
    }
}

fn subscription(filter: &str, options: SubscriptionOptions, v: ProtocolVersion) -> Value {
    let mut out = Map::new();
    out.insert("topic_filter".into(), json!(filter));
    if v.is_v5() {
        out.insert("maximum_qos".into(), json!(options.qos.as_u8()));
        out.insert("no_local".into(), json!(options.no_local));
        out.insert(
            "retain_as_published".into(),
            json!(options.retain_as_published),
        );
        out.insert(
            "retain_handling".into(),
            json!(options.retain_handling as u8),
        );
    } else {
        out.insert("requested_qos".into(), json!(options.qos.as_u8()));
    }
    Value::Object(out)
}

/// `key` as hex, and `key_utf8` as text when the bytes are valid UTF-8.
fn payload_fields(put: &mut impl FnMut(&str, Value), key: &str, payload: &Bytes) {
    put(key, json!(hex::encode(payload)));
    if let Ok(text) = std::str::from_utf8(payload) {
        put(&format!("{key}_utf8"), json!(text));
    }
}

/// An MQTT 5.0 reason code: `{ "value": "0x87", "name": "Not authorized" }`, with the name the
/// packet type `t` gives the code.
pub fn reason_code(code: ReasonCode, t: PacketType) -> Value {
    json!({
        "value": format!("0x{:02X}", code.as_u8()),
        "name": code.name_in(t),
    })
}

fn reason_codes(codes: &[ReasonCode], t: PacketType) -> Value {
    Value::Array(codes.iter().map(|c| reason_code(*c, t)).collect())
}

/// The MQTT 3.1.1 CONNACK return code for `code` (its names come from the 3.1.1 table of
/// return codes), as `{ "value": 5, "name": ... }`.
fn v311_connect_return_code(code: ReasonCode) -> Value {
    const NAMES: [&str; 6] = [
        "Connection Accepted",
        "Connection Refused, unacceptable protocol version",
        "Connection Refused, identifier rejected",
        "Connection Refused, Server unavailable",
        "Connection Refused, bad user name or password",
        "Connection Refused, not authorized",
    ];
    match code.to_connect_return_code() {
        Some(value) => json!({
            "value": value,
            "name": NAMES.get(usize::from(value)).copied().unwrap_or("Reserved"),
        }),
        // Not reachable from a 3.1.1 decode; show the 5.0 code rather than nothing.
        None => reason_code(code, PacketType::ConnAck),
    }
}

/// An MQTT 3.1.1 SUBACK return code, as `{ "value": 1, "name": "Success - Maximum QoS 1" }`.
fn v311_suback_return_code(code: ReasonCode) -> Value {
    let name = match code {
        ReasonCode::Success => "Success - Maximum QoS 0",
        ReasonCode::GrantedQoS1 => "Success - Maximum QoS 1",
        ReasonCode::GrantedQoS2 => "Success - Maximum QoS 2",
        ReasonCode::UnspecifiedError => "Failure",
        // Not reachable from a 3.1.1 decode; show the 5.0 code rather than nothing.
        other => return reason_code(other, PacketType::SubAck),
    };
    json!({ "value": code.as_u8(), "name": name })
}

/// The JSON key of a property: the snake_case form of its name; the two properties that may
/// repeat take the plural (`user_properties`, `subscription_identifiers`).
pub fn property_key(id: PropertyId) -> String {
    match id {
        PropertyId::UserProperty => "user_properties".to_owned(),
        PropertyId::SubscriptionIdentifier => "subscription_identifiers".to_owned(),
        other => other.name().to_ascii_lowercase().replace(' ', "_"),
    }
}

/// Every property present in `props`, in identifier order (see the module docs).
pub fn properties(props: &Properties) -> Value {
    let mut out = Map::new();
    for id in props.present() {
        if let Some(value) = property_value(props, id) {
            out.insert(property_key(id), value);
        }
    }
    Value::Object(out)
}

fn property_value(p: &Properties, id: PropertyId) -> Option<Value> {
    use PropertyId as P;
    let text = |s: &Option<mqttspec_codec::MqttString>| s.as_ref().map(|s| json!(s.as_str()));
    let binary = |b: &Option<Bytes>| b.as_ref().map(|b| json!(hex::encode(b)));
    let flag = |b: Option<bool>| b.map(|b| json!(b));
    match id {
        P::PayloadFormatIndicator => p.payload_format_indicator.map(|f| {
            json!(match f {
                PayloadFormatIndicator::Unspecified => 0,
                PayloadFormatIndicator::Utf8 => 1,
            })
        }),
        P::MessageExpiryInterval => p.message_expiry_interval.map(|n| json!(n)),
        P::ContentType => text(&p.content_type),
        P::ResponseTopic => p.response_topic.as_ref().map(|t| json!(t.as_str())),
        P::CorrelationData => binary(&p.correlation_data),
        P::SubscriptionIdentifier => Some(Value::Array(
            p.subscription_identifiers
                .iter()
                .map(|id| json!(id.get()))
                .collect(),
        )),
        P::SessionExpiryInterval => p.session_expiry_interval.map(|n| json!(n)),
        P::AssignedClientIdentifier => text(&p.assigned_client_identifier),
        P::ServerKeepAlive => p.server_keep_alive.map(|n| json!(n)),
        P::AuthenticationMethod => text(&p.authentication_method),
        P::AuthenticationData => binary(&p.authentication_data),
        P::RequestProblemInformation => flag(p.request_problem_information),
        P::WillDelayInterval => p.will_delay_interval.map(|n| json!(n)),
        P::RequestResponseInformation => flag(p.request_response_information),
        P::ResponseInformation => text(&p.response_information),
        P::ServerReference => text(&p.server_reference),
        P::ReasonString => text(&p.reason_string),
        P::ReceiveMaximum => p.receive_maximum.map(|n| json!(n.get())),
        P::TopicAliasMaximum => p.topic_alias_maximum.map(|n| json!(n)),
        P::TopicAlias => p.topic_alias.map(|n| json!(n.get())),
        P::MaximumQoS => p.maximum_qos.map(|q| json!(q.as_u8())),
        P::RetainAvailable => flag(p.retain_available),
        P::UserProperty => Some(Value::Array(
            p.user_properties
                .iter()
                .map(|(name, value)| json!([name, value]))
                .collect(),
        )),
        P::MaximumPacketSize => p.maximum_packet_size.map(|n| json!(n.get())),
        P::WildcardSubscriptionAvailable => flag(p.wildcard_subscription_available),
        P::SubscriptionIdentifierAvailable => flag(p.subscription_identifier_available),
        P::SharedSubscriptionAvailable => flag(p.shared_subscription_available),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttspec_codec::{
        MqttString, PacketId, PubAck, Publish, QoS, SubAck, Subscribe, TopicFilter, TopicName,
    };
    use std::num::{NonZeroU16, NonZeroU32};

    fn s(text: &str) -> MqttString {
        MqttString::new(text, "test").unwrap()
    }

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    #[test]
    fn property_keys_are_snake_case_of_the_spec_names() {
        assert_eq!(
            property_key(PropertyId::SessionExpiryInterval),
            "session_expiry_interval"
        );
        assert_eq!(property_key(PropertyId::MaximumQoS), "maximum_qos");
        assert_eq!(property_key(PropertyId::UserProperty), "user_properties");
        assert_eq!(
            property_key(PropertyId::SubscriptionIdentifier),
            "subscription_identifiers"
        );
        for id in PropertyId::ALL {
            let key = property_key(*id);
            assert!(
                key.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{key}"
            );
        }
    }

    #[test]
    fn every_property_of_the_model_is_shown() {
        let props = Properties {
            payload_format_indicator: Some(PayloadFormatIndicator::Utf8),
            message_expiry_interval: Some(1),
            content_type: Some(s("text/plain")),
            response_topic: Some(TopicName::new("r").unwrap()),
            correlation_data: Some(Bytes::from_static(&[0xCA, 0xFE])),
            subscription_identifiers: vec![NonZeroU32::new(7).unwrap()],
            session_expiry_interval: Some(2),
            assigned_client_identifier: Some(s("id")),
            server_keep_alive: Some(3),
            authentication_method: Some(s("m")),
            authentication_data: Some(Bytes::from_static(&[0x01])),
            request_problem_information: Some(false),
            will_delay_interval: Some(4),
            request_response_information: Some(true),
            response_information: Some(s("info")),
            server_reference: Some(s("other")),
            reason_string: Some(s("why")),
            receive_maximum: NonZeroU16::new(5),
            topic_alias_maximum: Some(6),
            topic_alias: NonZeroU16::new(7),
            maximum_qos: Some(QoS::AtLeastOnce),
            retain_available: Some(true),
            user_properties: vec![(s("k"), s("v"))].into(),
            maximum_packet_size: NonZeroU32::new(8),
            wildcard_subscription_available: Some(false),
            subscription_identifier_available: Some(true),
            shared_subscription_available: Some(false),
        };
        let value = properties(&props);
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), PropertyId::ALL.len());
        let keys: Vec<String> = PropertyId::ALL.iter().map(|p| property_key(*p)).collect();
        let shown: Vec<String> = object.keys().cloned().collect();
        assert_eq!(shown, keys, "one key per property, in identifier order");
        assert_eq!(value["correlation_data"], json!("cafe"));
        assert_eq!(value["receive_maximum"], json!(5));
        assert_eq!(value["maximum_qos"], json!(1));
        assert_eq!(value["request_problem_information"], json!(false));
        assert_eq!(value["payload_format_indicator"], json!(1));
    }

    #[test]
    fn user_properties_are_name_value_pairs_in_order() {
        let props = Properties {
            user_properties: vec![(s("b"), s("2")), (s("a"), s("1")), (s("b"), s("3"))].into(),
            ..Properties::default()
        };
        assert_eq!(
            properties(&props),
            json!({ "user_properties": [["b", "2"], ["a", "1"], ["b", "3"]] })
        );
    }

    #[test]
    fn empty_properties_are_an_empty_object() {
        assert_eq!(properties(&Properties::default()), json!({}));
    }

    #[test]
    fn reason_codes_use_the_name_of_their_packet() {
        assert_eq!(
            reason_code(ReasonCode::Success, PacketType::Disconnect),
            json!({ "value": "0x00", "name": "Normal disconnection" })
        );
        assert_eq!(
            reason_code(ReasonCode::Success, PacketType::SubAck),
            json!({ "value": "0x00", "name": "Granted QoS 0" })
        );
        assert_eq!(
            reason_code(ReasonCode::NotAuthorized, PacketType::PubAck),
            json!({ "value": "0x87", "name": "Not authorized" })
        );
    }

    #[test]
    fn publish_payload_is_hex_and_utf8_text_when_valid() {
        let mut p = Publish::new(TopicName::new("a/b").unwrap(), &b"hi"[..]);
        p.delivery = mqttspec_codec::Delivery::new(QoS::AtLeastOnce, id(9));
        let value = packet(&Packet::Publish(p.clone()), ProtocolVersion::V5);
        assert_eq!(value["payload"], json!("6869"));
        assert_eq!(value["payload_utf8"], json!("hi"));
        assert_eq!(value["packet_identifier"], json!(9));
        assert_eq!(value["properties"], json!({}));

        p.payload = Bytes::from_static(&[0xFF, 0x00]);
        let value = packet(&Packet::Publish(p), ProtocolVersion::V311);
        assert_eq!(value["payload"], json!("ff00"));
        assert!(value.get("payload_utf8").is_none());
        assert!(value.get("properties").is_none(), "no properties in 3.1.1");
    }

    #[test]
    fn fields_follow_the_type_key_in_wire_order() {
        let p = Publish::new(TopicName::new("t").unwrap(), Bytes::new());
        let value = packet(&Packet::Publish(p), ProtocolVersion::V5);
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "type",
                "dup",
                "qos",
                "retain",
                "topic_name",
                "properties",
                "payload",
                "payload_utf8"
            ]
        );
    }

    #[test]
    fn v311_acks_have_no_reason_code_or_properties() {
        let value = packet(&Packet::PubAck(PubAck::new(id(3))), ProtocolVersion::V311);
        assert_eq!(value, json!({ "type": "PUBACK", "packet_identifier": 3 }));
    }

    #[test]
    fn v311_suback_shows_return_codes_with_their_311_names() {
        let ack = SubAck {
            packet_id: id(2),
            properties: Default::default(),
            reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
        };
        let value = packet(&Packet::SubAck(ack), ProtocolVersion::V311);
        assert_eq!(
            value["return_codes"],
            json!([
                { "value": 1, "name": "Success - Maximum QoS 1" },
                { "value": 128, "name": "Failure" }
            ])
        );
        assert!(value.get("reason_codes").is_none());
    }

    #[test]
    fn v311_connack_shows_the_return_code_with_its_311_name() {
        let ack = mqttspec_codec::ConnAck {
            session_present: false,
            reason_code: ReasonCode::from_connect_return_code(5).unwrap(),
            properties: Default::default(),
        };
        let value = packet(&Packet::ConnAck(ack), ProtocolVersion::V311);
        assert_eq!(
            value,
            json!({
                "type": "CONNACK",
                "session_present": false,
                "return_code": { "value": 5, "name": "Connection Refused, not authorized" }
            })
        );
    }

    #[test]
    fn subscription_options_follow_the_version() {
        let filter = TopicFilter::new("a/+").unwrap();
        let sub = Subscribe {
            packet_id: id(1),
            properties: Default::default(),
            filters: vec![(filter, SubscriptionOptions::qos(QoS::ExactlyOnce))],
        };
        let v5 = packet(&Packet::Subscribe(sub.clone()), ProtocolVersion::V5);
        assert_eq!(
            v5["subscriptions"],
            json!([{
                "topic_filter": "a/+",
                "maximum_qos": 2,
                "no_local": false,
                "retain_as_published": false,
                "retain_handling": 0
            }])
        );
        let v311 = packet(&Packet::Subscribe(sub), ProtocolVersion::V311);
        assert_eq!(
            v311["subscriptions"],
            json!([{ "topic_filter": "a/+", "requested_qos": 2 }])
        );
    }

    #[test]
    fn decoded_packet_starts_with_the_fixed_header() {
        let bytes = Bytes::from_static(&[0x62, 0x02, 0x00, 0x07]);
        let header = FixedHeader::parse(&bytes, ProtocolVersion::V5)
            .unwrap()
            .unwrap();
        let p = Packet::decode(bytes, ProtocolVersion::V5).unwrap();
        let value = decoded_packet(&p, &header, ProtocolVersion::V5);
        assert_eq!(
            value,
            json!({
                "type": "PUBREL",
                "flags": 2,
                "remaining_length": 2,
                "packet_identifier": 7,
                "reason_code": { "value": "0x00", "name": "Success" },
                "properties": {}
            })
        );
    }
}
