//! Fault injection for subscriptions, topic matching and retained messages: each test enables
//! one fault and observes the deviation it promises (the healthy behaviour is covered by the
//! other core tests).

mod common;

use common::*;
use mqttspec_codec::{Packet, QoS, RawPacket, SubscriptionOptions, UnsubAck, Unsubscribe};

#[test]
fn ignore_malformed_subscribe_keeps_the_connection_open() {
    for v in BOTH {
        let mut sim = Sim::with_faults(&["ignore-malformed-subscribe"]);
        let c = sim.connect(v, "a");
        // Reserved flags 0b0000 instead of 0b0010.
        let mut bad = RawPacket::new(0x80).u16(1);
        if v.is_v5() {
            bad = bad.properties(&[]);
        }
        sim.send_raw(c, &bad.string("t").u8(0).build());
        assert!(!sim.is_closed(c), "{v}");
        assert!(sim.take(c).is_empty(), "{v}");
    }
    // Without the fault the connection is closed.
    let mut sim = Sim::default_config();
    let c = sim.connect(V311, "a");
    sim.send_raw(c, &RawPacket::new(0x80).u16(1).string("t").u8(0).build());
    assert!(sim.is_closed(c));
}

#[test]
fn wrong_subscribe_ack_id_answers_with_another_packet_identifier() {
    let mut sim = Sim::with_faults(&["wrong-subscribe-ack-id"]);
    let c = sim.connect(V5, "a");
    sim.send(
        c,
        Packet::Subscribe(mqttspec_codec::Subscribe {
            packet_id: pid(7),
            properties: Default::default(),
            filters: vec![(filter("t"), opts(QoS::AtMostOnce))],
        }),
    );
    match sim.take(c).as_slice() {
        [Packet::SubAck(a)] => assert_eq!(a.packet_id, pid(8)),
        other => panic!("expected SUBACK, got {other:?}"),
    }
    sim.send(
        c,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(9),
            properties: Default::default(),
            filters: vec![filter("t")],
        }),
    );
    match sim.take(c).as_slice() {
        [Packet::UnsubAck(UnsubAck { packet_id, .. })] => assert_eq!(*packet_id, pid(10)),
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
}

#[test]
fn keep_old_subscription_keeps_the_first_options() {
    let mut sim = Sim::with_faults(&["keep-old-subscription"]);
    let s = sim.connect(V311, "sub");
    sim.subscribe(s, "t", QoS::AtMostOnce);
    sim.subscribe(s, "t", QoS::AtLeastOnce);
    let p = sim.connect(V311, "pub");
    sim.publish(p, "t", QoS::AtLeastOnce, "x");
    assert_eq!(sim.take_publishes(s)[0].qos(), QoS::AtMostOnce);
}

#[test]
fn overlapping_lowest_qos_delivers_at_the_lowest_granted_qos() {
    let mut sim = Sim::with_faults(&["overlapping-lowest-qos"]);
    let s = sim.connect(V5, "sub");
    sim.subscribe(s, "a/+", QoS::AtMostOnce);
    sim.subscribe(s, "a/b", QoS::AtLeastOnce);
    let p = sim.connect(V5, "pub");
    sim.publish(p, "a/b", QoS::AtLeastOnce, "x");
    let got = sim.take_publishes(s);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos(), QoS::AtMostOnce);
}

#[test]
fn ignore_retain_as_published_clears_retain_on_forward() {
    let mut sim = Sim::with_faults(&["ignore-retain-as-published"]);
    let s = sim.connect(V5, "sub");
    let o = SubscriptionOptions {
        retain_as_published: true,
        ..opts(QoS::AtMostOnce)
    };
    sim.subscribe_with(s, "r", o, None);
    let p = sim.connect(V5, "pub");
    sim.publish_retained(p, "r", QoS::AtMostOnce, "x");
    assert!(!sim.take_publishes(s)[0].retain);
}

#[test]
fn plus_skips_empty_levels_misses_an_empty_level() {
    let mut sim = Sim::with_faults(&["plus-skips-empty-levels"]);
    let s = sim.connect(V311, "sub");
    sim.subscribe(s, "a/+/b", QoS::AtMostOnce);
    let p = sim.connect(V311, "pub");
    sim.publish(p, "a//b", QoS::AtMostOnce, "empty");
    sim.publish(p, "a/x/b", QoS::AtMostOnce, "full");
    assert_eq!(payloads(&sim.take_publishes(s)), vec!["full"]);
}

#[test]
fn normalise_topic_names_folds_case_and_drops_bom_and_empty_levels() {
    let mut sim = Sim::with_faults(&["normalise-topic-names"]);
    let s = sim.connect(V5, "sub");
    sim.subscribe(s, "a/b", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    sim.publish(p, "A//\u{feff}b", QoS::AtMostOnce, "x");
    let got = sim.take_publishes(s);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].topic.as_str(), "a/b");
}

#[test]
fn retain_zero_replaces_lets_a_non_retained_publish_replace_the_retained_one() {
    let mut sim = Sim::with_faults(&["retain-zero-replaces"]);
    let p = sim.connect(V311, "pub");
    sim.publish_retained(p, "r", QoS::AtMostOnce, "kept");
    sim.publish(p, "r", QoS::AtMostOnce, "live");
    let s = sim.connect(V311, "sub");
    sim.subscribe(s, "r", QoS::AtMostOnce);
    assert_eq!(payloads(&sim.take_publishes(s)), vec!["live"]);
}

#[test]
fn unenforced_retain_available_announces_0_and_accepts_retain() {
    let mut sim = Sim::with_faults(&["unenforced-retain-available"]);
    let (c, ack) = sim.connect_with(connect_packet(V5, "a"));
    assert_eq!(ack.properties.retain_available, Some(false));
    sim.publish_retained(c, "r", QoS::AtLeastOnce, "x");
    assert!(!sim.is_closed(c));
}
