//! Topic Aliases (MQTT 5.0): inbound mapping, its limits and errors, per-connection scope;
//! the broker sends aliases only with `assign_topic_aliases`, within the client's Topic Alias
//! Maximum and per connection.

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

/// A MQTT 5.0 subscriber to `t/+` that allows `maximum` Topic Aliases.
fn alias_subscriber(sim: &mut Sim, maximum: Option<u16>) -> mqttspec_broker_core::ConnectionId {
    let mut connect = connect_packet(V5, "sub");
    connect.properties.topic_alias_maximum = maximum;
    let (sub, _) = sim.connect_with(connect);
    sim.subscribe(sub, "t/+", QoS::AtMostOnce);
    sub
}

fn topics_and_aliases(got: &[mqttspec_codec::Publish]) -> Vec<(String, Option<u16>)> {
    got.iter()
        .map(|p| {
            (
                p.topic.as_str().to_owned(),
                p.properties.topic_alias.map(|a| a.get()),
            )
        })
        .collect()
}

#[test]
fn with_assign_topic_aliases_outgoing_publishes_use_aliases_within_the_client_maximum() {
    let mut sim = Sim::new(Config {
        assign_topic_aliases: true,
        ..Config::default()
    });
    let sub = alias_subscriber(&mut sim, Some(1));
    let c = sim.connect(V5, "pub");
    for (t, payload) in [("t/a", "1"), ("t/a", "2"), ("t/b", "3"), ("t/b", "4")] {
        sim.publish(c, t, QoS::AtMostOnce, payload);
    }
    let got = sim.take_publishes(sub);
    assert_eq!(
        topics_and_aliases(&got),
        vec![
            ("t/a".to_owned(), Some(1)),
            (String::new(), Some(1)),
            // The client allows one alias: the second topic goes without.
            ("t/b".to_owned(), None),
            ("t/b".to_owned(), None),
        ]
    );
}

#[test]
fn no_aliases_are_sent_by_default_or_to_a_client_that_allows_none() {
    for (assign, maximum) in [(false, Some(5)), (true, None), (true, Some(0))] {
        let mut sim = Sim::new(Config {
            assign_topic_aliases: assign,
            ..Config::default()
        });
        let sub = alias_subscriber(&mut sim, maximum);
        let c = sim.connect(V5, "pub");
        sim.publish(c, "t/a", QoS::AtMostOnce, "1");
        sim.publish(c, "t/a", QoS::AtMostOnce, "2");
        let got = sim.take_publishes(sub);
        assert_eq!(
            topics_and_aliases(&got),
            vec![("t/a".to_owned(), None), ("t/a".to_owned(), None)],
            "assign {assign}, client maximum {maximum:?}"
        );
    }
}

#[test]
fn assigned_aliases_start_afresh_on_a_new_connection() {
    let mut sim = Sim::new(Config {
        assign_topic_aliases: true,
        ..Config::default()
    });
    let sub = alias_subscriber(&mut sim, Some(4));
    let c = sim.connect(V5, "pub");
    sim.publish(c, "t/a", QoS::AtMostOnce, "1");
    sim.publish(c, "t/a", QoS::AtMostOnce, "2");
    assert_eq!(sim.take_publishes(sub).len(), 2);
    sim.drop_connection(sub);
    let sub = alias_subscriber(&mut sim, Some(4));
    sim.publish(c, "t/a", QoS::AtMostOnce, "3");
    assert_eq!(
        topics_and_aliases(&sim.take_publishes(sub)),
        vec![("t/a".to_owned(), Some(1))]
    );
}
