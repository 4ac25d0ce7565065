//! Topic Aliases (MQTT 5.0): inbound mapping, its limits and errors, per-connection scope;
//! the broker never sends aliases.

mod common;

use common::*;
use mqttspec_broker_core::Config;
use mqttspec_codec::{Packet, QoS, RawPacket, ReasonCode};
use std::num::NonZeroU16;

fn aliased(t: &str, alias: u16, payload: &str) -> mqttspec_codec::Publish {
    let mut p = publish("placeholder", QoS::AtMostOnce, payload);
    p.topic = mqttspec_codec::TopicName::new(t).unwrap();
    p.properties.topic_alias = NonZeroU16::new(alias);
    p
}

#[test]
fn an_alias_set_with_a_topic_is_used_by_later_empty_topics() {
    let mut sim = Sim::default_config();
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "long/topic/+", QoS::AtMostOnce);
    let c = sim.connect(V5, "pub");
    sim.send(c, Packet::Publish(aliased("long/topic/a", 1, "first")));
    sim.send(c, Packet::Publish(aliased("", 1, "second")));
    // Remapping the alias.
    sim.send(c, Packet::Publish(aliased("long/topic/b", 1, "third")));
    sim.send(c, Packet::Publish(aliased("", 1, "fourth")));
    let got = sim.take_publishes(sub);
    let topics: Vec<&str> = got.iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(
        topics,
        vec![
            "long/topic/a",
            "long/topic/a",
            "long/topic/b",
            "long/topic/b"
        ]
    );
    assert!(got.iter().all(|p| p.properties.topic_alias.is_none()));
    assert!(!sim.is_closed(c));
}

#[test]
fn an_alias_above_the_server_maximum_is_disconnected_with_0x94() {
    let mut sim = Sim::new(Config {
        topic_alias_maximum: 3,
        ..Config::default()
    });
    let c = sim.connect(V5, "pub");
    sim.send(c, Packet::Publish(aliased("t", 4, "x")));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::TopicAliasInvalid)
    );
    assert!(sim.is_closed(c));
}

#[test]
fn any_alias_is_invalid_when_the_server_maximum_is_0() {
    let mut sim = Sim::new(Config {
        topic_alias_maximum: 0,
        ..Config::default()
    });
    let c = sim.connect(V5, "pub");
    sim.send(c, Packet::Publish(aliased("t", 1, "x")));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::TopicAliasInvalid)
    );
}

#[test]
fn alias_0_is_disconnected_with_0x94() {
    let mut sim = Sim::default_config();
    let c = sim.connect(V5, "pub");
    // PUBLISH QoS 0, topic "t", properties: Topic Alias (0x23) = 0.
    let raw = RawPacket::new(0x30)
        .string("t")
        .properties(&[0x23, 0x00, 0x00])
        .build();
    sim.send_raw(c, &raw);
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::TopicAliasInvalid)
    );
}

#[test]
fn an_unknown_alias_with_an_empty_topic_is_a_protocol_error() {
    let mut sim = Sim::default_config();
    let c = sim.connect(V5, "pub");
    sim.send(c, Packet::Publish(aliased("", 2, "x")));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::ProtocolError)
    );
}

#[test]
fn aliases_do_not_survive_the_connection() {
    let mut sim = Sim::default_config();
    let (c, _) = sim.connect_persistent(V5, "pub", 100);
    sim.send(c, Packet::Publish(aliased("t", 1, "x")));
    sim.drop_connection(c);
    let (c, _) = sim.connect_persistent(V5, "pub", 100);
    sim.send(c, Packet::Publish(aliased("", 1, "y")));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::ProtocolError)
    );
}

#[test]
fn the_broker_never_sends_aliases_even_when_the_client_accepts_them() {
    let mut sim = Sim::default_config();
    let mut connect = connect_packet(V5, "sub");
    connect.properties.topic_alias_maximum = Some(10);
    let (sub, _) = sim.connect_with(connect);
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    let c = sim.connect(V5, "pub");
    for _ in 0..3 {
        sim.publish(c, "t", QoS::AtMostOnce, "x");
    }
    let got = sim.take_publishes(sub);
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|p| p.topic.as_str() == "t" && p.properties.topic_alias.is_none()));
}
