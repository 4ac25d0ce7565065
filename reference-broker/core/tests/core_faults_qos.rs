//! Fault injection for PUBLISH handling, the QoS flows, topic matching and ordering: each test
//! enables one fault and observes the deviation it promises (the healthy behaviour is covered
//! by the other core tests; a few are repeated here as the contrast).

mod common;

use bytes::Bytes;
use common::*;
use mqttspec_codec::{Packet, PayloadFormatIndicator, PubRel, PublishProperties, QoS, RawPacket};

/// A raw QoS 0 PUBLISH with DUP 1 (MQTT 5.0 layout when `v5`).
fn dup_qos0_publish(v5: bool) -> Bytes {
    let mut p = RawPacket::new(0x38).string("t");
    if v5 {
        p = p.properties(&[]);
    }
    p.bytes(b"x").build()
}

#[test]
fn ignore_malformed_publish_keeps_the_connection_open() {
    for v in BOTH {
        let mut sim = Sim::with_faults(&["ignore-malformed-publish"]);
        let c = sim.connect(v, "a");
        sim.send_raw(c, &dup_qos0_publish(v.is_v5()));
        assert!(!sim.is_closed(c), "{v}");
        // A PUBREL with flags 0000 is dropped the same way.
        sim.send_raw(c, &RawPacket::new(0x60).u16(1).build());
        assert!(!sim.is_closed(c), "{v}");
        sim.send(c, Packet::PingReq);
        assert_eq!(sim.take(c), vec![Packet::PingResp], "{v}");
    }
    let mut sim = Sim::default_config();
    let c = sim.connect(V311, "a");
    sim.send_raw(c, &dup_qos0_publish(false));
    assert!(sim.is_closed(c));
}

#[test]
fn accept_publish_subscription_identifier_forwards_the_message() {
    let mut sim = Sim::with_faults(&["accept-publish-subscription-identifier"]);
    let s = sim.connect(V5, "sub");
    sim.subscribe(s, "t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    let raw = RawPacket::new(0x30)
        .string("t")
        .properties(&[0x0B, 0x01])
        .bytes(b"x")
        .build();
    sim.send_raw(p, &raw);
    assert!(!sim.is_closed(p));
    let got = sim.take_publishes(s);
    assert_eq!(payloads(&got), vec!["x"]);
    // The identifier is not passed on.
    assert!(got[0].properties.subscription_identifiers.is_empty());
}

#[test]
fn ignore_unknown_pubrel_sends_no_pubcomp() {
    for v in BOTH {
        let mut sim = Sim::with_faults(&["ignore-unknown-pubrel"]);
        let c = sim.connect(v, "a");
        sim.send(c, Packet::PubRel(PubRel::new(pid(77))));
        assert!(sim.take(c).is_empty(), "{v}");
        // A known one is still completed.
        sim.publish(c, "t", QoS::ExactlyOnce, "x");
    }
}

#[test]
fn reuse_packet_id_sends_every_message_with_identifier_1() {
    for v in BOTH {
        let mut sim = Sim::with_faults(&["reuse-packet-id"]);
        let s = sim.connect(v, "sub");
        sim.subscribe(s, "t", QoS::AtLeastOnce);
        let p = sim.connect(v, "pub");
        sim.publish(p, "t", QoS::AtLeastOnce, "a");
        sim.publish(p, "t", QoS::AtLeastOnce, "b");
        let ids: Vec<_> = sim
            .take_publishes(s)
            .iter()
            .map(|m| m.packet_id())
            .collect();
        assert_eq!(ids, vec![Some(pid(1)), Some(pid(1))], "{v}");
    }
}

#[test]
fn drop_message_properties_forwards_only_the_expiry_interval() {
    let mut sim = Sim::with_faults(&["drop-message-properties"]);
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    let mut m = publish("t", QoS::AtMostOnce, "x");
    m.properties = PublishProperties {
        payload_format_indicator: Some(PayloadFormatIndicator::Utf8),
        content_type: Some(s("text/plain")),
        message_expiry_interval: Some(60),
        user_properties: vec![(s("k"), s("v"))].into(),
        ..PublishProperties::default()
    }
    .into();
    sim.publish_msg(p, m);
    let got = sim.take_publishes(sub);
    assert_eq!(got.len(), 1);
    let props = &got[0].properties;
    assert_eq!(props.payload_format_indicator, None);
    assert_eq!(props.content_type, None);
    assert!(props.user_properties.is_empty());
    assert_eq!(props.message_expiry_interval, Some(60));
}

#[test]
fn truncate_large_payloads_cuts_at_65535_bytes() {
    let mut sim = Sim::with_faults(&["truncate-large-payloads"]);
    let s = sim.connect(V311, "sub");
    sim.subscribe(s, "t", QoS::AtMostOnce);
    let p = sim.connect(V311, "pub");
    let mut m = publish("t", QoS::AtMostOnce, "");
    m.payload = Bytes::from(vec![7u8; 70_000]);
    sim.publish_msg(p, m);
    let got = sim.take_publishes(s);
    assert_eq!(got[0].payload.len(), 65_535);
}

#[test]
fn hash_excludes_parent_misses_the_parent_level() {
    let mut sim = Sim::with_faults(&["hash-excludes-parent"]);
    let s = sim.connect(V311, "sub");
    sim.subscribe(s, "a/#", QoS::AtMostOnce);
    let p = sim.connect(V311, "pub");
    sim.publish(p, "a", QoS::AtMostOnce, "parent");
    sim.publish(p, "a/b", QoS::AtMostOnce, "child");
    assert_eq!(payloads(&sim.take_publishes(s)), vec!["child"]);
}

#[test]
fn match_dollar_topics_lets_leading_wildcards_match() {
    for faults in [&["match-dollar-topics"][..], &[]] {
        let mut sim = Sim::with_faults(faults);
        let plus = sim.connect(V5, "plus");
        sim.subscribe(plus, "+/x", QoS::AtMostOnce);
        let hash = sim.connect(V5, "hash");
        sim.subscribe(hash, "#", QoS::AtMostOnce);
        let exact = sim.connect(V5, "exact");
        sim.subscribe(exact, "$d/x", QoS::AtMostOnce);
        let p = sim.connect(V5, "pub");
        sim.publish(p, "$d/x", QoS::AtMostOnce, "m");
        let expected: Vec<&str> = if faults.is_empty() { vec![] } else { vec!["m"] };
        assert_eq!(payloads(&sim.take_publishes(plus)), expected);
        assert_eq!(payloads(&sim.take_publishes(hash)), expected);
        assert_eq!(payloads(&sim.take_publishes(exact)), vec!["m"]);
    }
}

#[test]
fn unenforced_maximum_qos_announces_1_and_accepts_2() {
    let mut sim = Sim::with_faults(&["unenforced-maximum-qos"]);
    let (c, ack) = sim.connect_with(connect_packet(V5, "a"));
    assert_eq!(ack.properties.maximum_qos, Some(QoS::AtLeastOnce));
    sim.publish(c, "t", QoS::ExactlyOnce, "x");
    assert!(!sim.is_closed(c));
}

#[test]
fn reorder_queued_messages_sends_the_newest_first() {
    for v in BOTH {
        let mut sim = Sim::with_faults(&["reorder-queued-messages"]);
        let (s, _) = sim.connect_persistent(v, "sub", 60);
        sim.subscribe(s, "t", QoS::AtLeastOnce);
        sim.disconnect(s);
        let p = sim.connect(v, "pub");
        for m in ["1", "2", "3"] {
            sim.publish(p, "t", QoS::AtLeastOnce, m);
        }
        let (s, present) = sim.connect_persistent(v, "sub", 60);
        assert!(present, "{v}");
        assert_eq!(payloads(&sim.take_and_ack(s)), vec!["3", "2", "1"], "{v}");
    }
}
