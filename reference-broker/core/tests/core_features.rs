//! MQTT 5.0 message features and server policies: properties passed through, No Local,
//! Subscription Identifiers, message expiry on forward, access rules, `$SYS`, payload format
//! validation, and capabilities announced as absent.

mod common;

use bytes::Bytes;
use common::*;
use mqttspec_broker_core::config::AclRule;
use mqttspec_broker_core::Config;
use mqttspec_codec::{
    Packet, PayloadFormatIndicator, QoS, ReasonCode, StatementId, SubscriptionOptions,
};

#[test]
fn request_response_and_content_properties_are_forwarded_unchanged() {
    let mut sim = Sim::default_config();
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "req", QoS::AtMostOnce);
    let publ = sim.connect(V5, "pub");
    let mut p = publish("req", QoS::AtMostOnce, "{\"a\":1}");
    p.properties.response_topic = Some(topic("resp/pub"));
    p.properties.correlation_data = Some(Bytes::from_static(&[0, 1, 2, 255]));
    p.properties.content_type = Some(s("application/json"));
    p.properties.payload_format_indicator = Some(PayloadFormatIndicator::Utf8);
    p.properties.user_properties =
        vec![(s("z"), s("1")), (s("a"), s("2")), (s("z"), s("3"))].into();
    let sent = p.properties.clone();
    sim.send(publ, Packet::Publish(p));
    let got = sim.take_publishes(sub);
    let q = &got[0].properties;
    assert_eq!(q.response_topic, sent.response_topic);
    assert_eq!(q.correlation_data, sent.correlation_data);
    assert_eq!(q.content_type, sent.content_type);
    assert_eq!(q.payload_format_indicator, sent.payload_format_indicator);
    assert_eq!(q.user_properties, sent.user_properties);
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_3_3_2_18));
}

#[test]
fn a_311_subscriber_gets_the_message_without_properties() {
    let mut sim = Sim::default_config();
    let sub = sim.connect(V311, "sub");
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    let publ = sim.connect(V5, "pub");
    let mut p = publish("t", QoS::AtMostOnce, "x");
    p.properties.user_properties = vec![(s("k"), s("v"))].into();
    p.properties.message_expiry_interval = Some(100);
    sim.send(publ, Packet::Publish(p));
    let got = sim.take_publishes(sub);
    assert_eq!(payloads(&got), vec!["x"]);
    assert!(got[0].properties.is_empty());
}

#[test]
fn no_local_keeps_a_clients_own_messages_from_it() {
    let mut sim = Sim::default_config();
    let c = sim.connect(V5, "self");
    let o = SubscriptionOptions {
        no_local: true,
        ..opts(QoS::AtMostOnce)
    };
    sim.subscribe_with(c, "t", o, None);
    let other = sim.connect(V5, "other");
    sim.subscribe(other, "t", QoS::AtMostOnce);
    sim.publish(c, "t", QoS::AtMostOnce, "mine");
    assert!(sim.take_publishes(c).is_empty());
    assert_eq!(sim.take_publishes(other).len(), 1);
    sim.publish(other, "t", QoS::AtMostOnce, "theirs");
    assert_eq!(payloads(&sim.take_publishes(c)), vec!["theirs"]);
}

#[test]
fn the_subscription_identifier_comes_with_matching_messages() {
    let mut sim = Sim::default_config();
    let c = sim.connect(V5, "sub");
    sim.subscribe_with(c, "t/#", opts(QoS::AtMostOnce), Some(268_435_455));
    sim.subscribe(c, "other", QoS::AtMostOnce);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t/x", QoS::AtMostOnce, "x");
    sim.publish(publ, "other", QoS::AtMostOnce, "y");
    let got = sim.take_publishes(c);
    assert_eq!(
        got[0].properties.subscription_identifiers[0].get(),
        268_435_455
    );
    assert!(got[1].properties.subscription_identifiers.is_empty());
}

#[test]
fn resubscribing_without_an_identifier_removes_it() {
    let mut sim = Sim::default_config();
    let c = sim.connect(V5, "sub");
    sim.subscribe_with(c, "t", opts(QoS::AtMostOnce), Some(5));
    sim.subscribe(c, "t", QoS::AtMostOnce);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::AtMostOnce, "x");
    assert!(sim.take_publishes(c)[0]
        .properties
        .subscription_identifiers
        .is_empty());
}

#[test]
fn a_forwarded_message_carries_its_remaining_expiry_interval() {
    let mut sim = Sim::default_config();
    let mut connect = connect_packet(V5, "slow");
    connect.properties.receive_maximum = std::num::NonZeroU16::new(1);
    let (sub, _) = sim.connect_with(connect);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    let publ = sim.connect(V5, "pub");
    for payload in ["first", "second"] {
        let mut p = publish("t", QoS::AtLeastOnce, payload);
        p.properties.message_expiry_interval = Some(20);
        sim.publish_msg(publ, p);
    }
    let first = sim.take_publishes(sub);
    assert_eq!(first[0].properties.message_expiry_interval, Some(20));
    sim.advance(secs(8));
    sim.ack(sub, &first[0]);
    let second = sim.take_publishes(sub);
    assert_eq!(payloads(&second), vec!["second"]);
    assert_eq!(second[0].properties.message_expiry_interval, Some(12));
}

fn acl(filter: &str, action: &str) -> Config {
    Config {
        acl: vec![AclRule {
            filter: filter.into(),
            action: action.into(),
            permission: "deny".into(),
            username: None,
        }],
        ..Config::default()
    }
}

#[test]
fn a_denied_publish_gets_0x87_in_v5_and_is_acknowledged_and_dropped_in_311() {
    for v in BOTH {
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut sim = Sim::new(acl("secret/#", "publish"));
            let sub = sim.connect(v, "sub");
            sim.subscribe(sub, "#", QoS::ExactlyOnce);
            let publ = sim.connect(v, "pub");
            let mut p = publish("secret/x", qos, "x");
            p.set_packet_id(pid(1));
            sim.send(publ, Packet::Publish(p));
            let got = sim.take(publ);
            let code = match got.as_slice() {
                [Packet::PubAck(a)] => a.reason_code,
                [Packet::PubRec(r)] => r.reason_code,
                other => panic!("{other:?}"),
            };
            let want = if v == V5 {
                ReasonCode::NotAuthorized
            } else {
                ReasonCode::Success
            };
            assert_eq!(code, want);
            assert!(sim.take_publishes(sub).is_empty());
            if v == V311 && qos == QoS::ExactlyOnce {
                sim.send(publ, Packet::PubRel(mqttspec_codec::PubRel::new(pid(1))));
                assert!(matches!(sim.take(publ).as_slice(), [Packet::PubComp(_)]));
            }
        }
    }
}

#[test]
fn a_denied_subscription_is_refused_in_suback() {
    for v in BOTH {
        let mut sim = Sim::new(acl("secret/#", "subscribe"));
        let c = sim.connect(v, "a");
        let code = sim.subscribe_with(c, "secret/+", opts(QoS::AtMostOnce), None);
        let want = if v == V5 {
            ReasonCode::NotAuthorized
        } else {
            ReasonCode::UnspecifiedError
        };
        assert_eq!(code, want);
        sim.subscribe(c, "public", QoS::AtMostOnce);
    }
}

#[test]
fn publishing_to_sys_topics_is_refused_unless_allowed() {
    for allow in [false, true] {
        let mut sim = Sim::new(Config {
            allow_publish_to_sys: allow,
            ..Config::default()
        });
        let sub = sim.connect(V5, "sub");
        sim.subscribe(sub, "$SYS/#", QoS::AtMostOnce);
        let publ = sim.connect(V5, "pub");
        let mut p = publish("$SYS/broker/x", QoS::AtLeastOnce, "x");
        p.set_packet_id(pid(1));
        sim.send(publ, Packet::Publish(p));
        let code = match sim.take(publ).as_slice() {
            [Packet::PubAck(a)] => a.reason_code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code == ReasonCode::Success, allow);
        assert_eq!(sim.take_publishes(sub).len(), usize::from(allow));
    }
}

#[test]
fn a_payload_that_is_not_utf8_is_refused_with_0x99_when_checked() {
    let mut sim = Sim::new(Config {
        validate_payload_format: true,
        ..Config::default()
    });
    let c = sim.connect(V5, "a");
    let mut p = publish("t", QoS::AtLeastOnce, "");
    p.payload = Bytes::from_static(&[0xC3, 0x28]);
    p.set_packet_id(pid(1));
    p.properties.payload_format_indicator = Some(PayloadFormatIndicator::Utf8);
    sim.send(c, Packet::Publish(p));
    assert!(
        matches!(sim.take(c).as_slice(), [Packet::PubAck(a)] if a.reason_code == ReasonCode::PayloadFormatInvalid)
    );
}

#[test]
fn subscribing_with_an_absent_capability_is_a_protocol_error_in_v5() {
    let cases = [
        (
            Config {
                wildcard_subscription_available: false,
                ..Config::default()
            },
            "a/#",
            None,
            ReasonCode::WildcardSubscriptionsNotSupported,
        ),
        (
            Config {
                subscription_identifier_available: false,
                ..Config::default()
            },
            "a",
            Some(1),
            ReasonCode::SubscriptionIdentifiersNotSupported,
        ),
    ];
    for (config, f, id, want) in cases {
        let mut sim = Sim::new(config);
        let c = sim.connect(V5, "a");
        let packet_id = sim.next_id(c);
        let mut properties = mqttspec_codec::SubscribeProperties::default();
        if let Some(id) = id {
            properties
                .subscription_identifiers
                .push(std::num::NonZeroU32::new(id).unwrap());
        }
        sim.send(
            c,
            Packet::Subscribe(mqttspec_codec::Subscribe {
                packet_id,
                properties: properties.into(),
                filters: vec![(filter(f), opts(QoS::AtMostOnce))],
            }),
        );
        assert_eq!(disconnect_code(&sim.take(c)), Some(want));
    }
}

#[test]
fn a_311_wildcard_subscription_is_refused_when_wildcards_are_not_available() {
    let mut sim = Sim::new(Config {
        wildcard_subscription_available: false,
        ..Config::default()
    });
    let c = sim.connect(V311, "a");
    let code = sim.subscribe_with(c, "a/+", opts(QoS::AtMostOnce), None);
    assert_eq!(code, ReasonCode::UnspecifiedError);
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V311_3_8_3_2));
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let mut sim = Sim::default_config();
    let all = sim.connect(V5, "all");
    sim.subscribe(all, "#", QoS::AtMostOnce);
    sim.subscribe(all, "+/x", QoS::AtMostOnce);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "$data/x", QoS::AtMostOnce, "dollar");
    sim.publish(publ, "plain/x", QoS::AtMostOnce, "plain");
    assert_eq!(payloads(&sim.take_publishes(all)), vec!["plain"]);
}

#[test]
fn the_enforced_statements_are_of_the_connections_spec() {
    let mut sim = Sim::default_config();
    let c = sim.connect(V311, "a");
    sim.send(c, Packet::PingReq);
    let ids = sim.broker.enforced_statements();
    assert!(ids.contains(&StatementId::V311_3_12_4_1));
    assert!(!ids.contains(&StatementId::V5_3_12_4_1));
}
