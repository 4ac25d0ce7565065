//! Shared subscriptions (MQTT 5.0, 4.8.2): one member per message, round robin, groups
//! independent of each other and of non-shared subscriptions, no redistribution.

mod common;

use common::*;
use mqttspec_broker_core::Config;
use mqttspec_codec::{Packet, PubAck, QoS, ReasonCode, StatementId};

#[test]
fn each_message_goes_to_one_member_in_turn() {
    let mut sim = Sim::default_config();
    let a = sim.connect(V5, "a");
    let b = sim.connect(V5, "b");
    sim.subscribe(a, "$share/g/t/#", QoS::AtLeastOnce);
    sim.subscribe(b, "$share/g/t/#", QoS::AtLeastOnce);
    let publ = sim.connect(V5, "pub");
    for i in 0..6 {
        sim.publish(publ, "t/x", QoS::AtLeastOnce, &i.to_string());
    }
    let got_a = payloads(&sim.take_and_ack(a));
    let got_b = payloads(&sim.take_and_ack(b));
    assert_eq!(got_a.len(), 3);
    assert_eq!(got_b.len(), 3);
    let mut all: Vec<String> = got_a.into_iter().chain(got_b).collect();
    all.sort();
    assert_eq!(all, vec!["0", "1", "2", "3", "4", "5"]);
}

#[test]
fn groups_are_independent_and_non_shared_subscribers_get_their_own_copy() {
    let mut sim = Sim::default_config();
    let g1 = sim.connect(V5, "g1");
    let g2 = sim.connect(V5, "g2");
    let plain = sim.connect(V5, "plain");
    sim.subscribe(g1, "$share/one/t", QoS::AtMostOnce);
    sim.subscribe(g2, "$share/two/t", QoS::AtMostOnce);
    sim.subscribe(plain, "t", QoS::AtMostOnce);
    // The plain subscriber is also in group one: it gets a copy from each.
    sim.subscribe(plain, "$share/one/t", QoS::AtMostOnce);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::AtMostOnce, "m");
    let from_one = sim.take_publishes(g1).len() + sim.take_publishes(plain).len();
    assert_eq!(from_one, 2, "one from group one plus the plain copy");
    assert_eq!(sim.take_publishes(g2).len(), 1);
}

#[test]
fn connected_members_are_preferred_over_disconnected_ones() {
    let mut sim = Sim::default_config();
    let (a, _) = sim.connect_persistent(V5, "a", 100);
    let b = sim.connect(V5, "b");
    sim.subscribe(a, "$share/g/t", QoS::AtLeastOnce);
    sim.subscribe(b, "$share/g/t", QoS::AtLeastOnce);
    sim.drop_connection(a);
    let publ = sim.connect(V5, "pub");
    for i in 0..4 {
        sim.publish(publ, "t", QoS::AtLeastOnce, &i.to_string());
    }
    assert_eq!(sim.take_and_ack(b).len(), 4);
    assert_eq!(sim.broker.queued_messages("a"), Some(0));
}

#[test]
fn a_member_that_unsubscribes_gets_nothing_more() {
    let mut sim = Sim::default_config();
    let a = sim.connect(V5, "a");
    let b = sim.connect(V5, "b");
    sim.subscribe(a, "$share/g/t", QoS::AtMostOnce);
    sim.subscribe(b, "$share/g/t", QoS::AtMostOnce);
    sim.unsubscribe(a, "$share/g/t");
    let publ = sim.connect(V5, "pub");
    for _ in 0..3 {
        sim.publish(publ, "t", QoS::AtMostOnce, "x");
    }
    assert!(sim.take_publishes(a).is_empty());
    assert_eq!(sim.take_publishes(b).len(), 3);
}

#[test]
fn each_member_gets_its_own_granted_qos_and_subscription_identifier() {
    let mut sim = Sim::default_config();
    let a = sim.connect(V5, "a");
    let b = sim.connect(V5, "b");
    sim.subscribe_with(a, "$share/g/t", opts(QoS::AtMostOnce), Some(7));
    sim.subscribe_with(b, "$share/g/t", opts(QoS::ExactlyOnce), Some(8));
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::ExactlyOnce, "1");
    sim.publish(publ, "t", QoS::ExactlyOnce, "2");
    let pa = sim.take_and_ack(a);
    let pb = sim.take_and_ack(b);
    assert_eq!(pa.len(), 1);
    assert_eq!(pb.len(), 1);
    assert_eq!(pa[0].qos(), QoS::AtMostOnce);
    assert_eq!(pb[0].qos(), QoS::ExactlyOnce);
    assert_eq!(pa[0].properties.subscription_identifiers[0].get(), 7);
    assert_eq!(pb[0].properties.subscription_identifiers[0].get(), 8);
}

#[test]
fn a_qos2_message_is_not_redistributed_when_its_members_session_ends() {
    let mut sim = Sim::default_config();
    let a = sim.connect(V5, "a");
    let b = sim.connect(V5, "b");
    sim.subscribe(a, "$share/g/t", QoS::ExactlyOnce);
    sim.subscribe(b, "$share/g/t", QoS::ExactlyOnce);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::ExactlyOnce, "only once");
    let (holder, other) = if sim.take_publishes(a).is_empty() {
        (b, a)
    } else {
        (a, b)
    };
    sim.take_publishes(holder);
    sim.drop_connection(holder);
    assert!(sim.take_publishes(other).is_empty());
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_4_8_2_5));
}

#[test]
fn a_message_refused_by_a_member_is_discarded() {
    let mut sim = Sim::default_config();
    let a = sim.connect(V5, "a");
    let b = sim.connect(V5, "b");
    sim.subscribe(a, "$share/g/t", QoS::AtLeastOnce);
    sim.subscribe(b, "$share/g/t", QoS::AtLeastOnce);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::AtLeastOnce, "x");
    let (holder, other) = if sim.take(a).is_empty() {
        (b, a)
    } else {
        (a, b)
    };
    let mut ack = PubAck::new(pid(1));
    ack.reason_code = ReasonCode::UnspecifiedError;
    sim.send(holder, Packet::PubAck(ack));
    sim.take(holder);
    assert!(sim.take(other).is_empty());
}

#[test]
fn a_shared_subscription_is_a_protocol_error_when_not_available() {
    let mut sim = Sim::new(Config {
        shared_subscription_available: false,
        ..Config::default()
    });
    let a = sim.connect(V5, "a");
    let packet_id = sim.next_id(a);
    sim.send(
        a,
        Packet::Subscribe(mqttspec_codec::Subscribe {
            packet_id,
            properties: Default::default(),
            filters: vec![(filter("$share/g/t"), opts(QoS::AtMostOnce))],
        }),
    );
    assert_eq!(
        disconnect_code(&sim.take(a)),
        Some(ReasonCode::SharedSubscriptionsNotSupported)
    );
}

#[test]
fn a_311_client_subscribing_to_a_share_filter_gets_an_ordinary_subscription() {
    let mut sim = Sim::default_config();
    let a = sim.connect(V311, "a");
    sim.subscribe(a, "$share/g/t", QoS::AtMostOnce);
    let publ = sim.connect(V311, "pub");
    sim.publish(publ, "t", QoS::AtMostOnce, "not for a");
    sim.publish(publ, "$share/g/t", QoS::AtMostOnce, "literal");
    assert_eq!(payloads(&sim.take_publishes(a)), vec!["literal"]);
}
