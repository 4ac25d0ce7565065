//! The string faults: each lets one field's bad UTF-8 Encoded String through (the packet
//! dropped, a CONNECT answered with CONNACK 0x00) while the other fields stay checked.

mod common;

use common::*;
use mqttspec_codec::{Packet, RawPacket, ReasonCode};

/// A QoS 1 PUBLISH on a Topic Name with a UTF-16 surrogate encoded in UTF-8.
fn publish_with_bad_topic(v: mqttspec_codec::ProtocolVersion) -> Vec<u8> {
    let mut p = RawPacket::new(0x32).binary(b"a\xED\xA0\x80b").u16(1);
    if v.is_v5() {
        p = p.properties(&[]);
    }
    p.bytes(b"x").build().to_vec()
}

#[test]
fn lenient_topic_name_string_drops_the_publish_and_keeps_the_connection() {
    for v in [V311, V5] {
        let mut sim = Sim::with_faults(&["lenient-topic-name-string"]);
        let c = sim.connect(v, "a");
        sim.send_raw(c, &publish_with_bad_topic(v));
        assert!(!sim.is_closed(c), "{v}");
        assert!(sim.take(c).is_empty(), "{v}");
    }
    // Without the fault, or with another field's fault, the connection is closed.
    for faults in [&[][..], &["lenient-subscribe-filter-string"][..]] {
        let mut sim = Sim::with_faults(faults);
        let c = sim.connect(V311, "a");
        sim.send_raw(c, &publish_with_bad_topic(V311));
        assert!(sim.is_closed(c), "{faults:?}");
    }
}

#[test]
fn lenient_client_id_string_answers_connack_success() {
    let connect = |id: &[u8]| {
        RawPacket::new(0x10)
            .binary(b"MQTT")
            .u8(5)
            .u8(0x02)
            .u16(60)
            .properties(&[])
            .binary(id)
            .build()
            .to_vec()
    };
    let mut sim = Sim::with_faults(&["lenient-client-id-string"]);
    let c = sim.open();
    sim.send_raw(c, &connect(b"a\x00b"));
    match sim.take(c).first() {
        Some(Packet::ConnAck(ack)) => assert_eq!(ack.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK 0x00, got {other:?}"),
    }
    let mut sim = Sim::with_faults(&["lenient-will-topic-string"]);
    let c = sim.open();
    sim.send_raw(c, &connect(b"a\x00b"));
    assert!(sim.is_closed(c));
}

/// The bytes of the PUBLISH the broker sends (MQTT 5.0, QoS 0) to a client that subscribed
/// to `t` and published `payload` there itself.
fn forwarded_bytes(faults: &[&str], payload: &str) -> Vec<u8> {
    use mqttspec_broker_core::{Action, Broker, Config, ConnectionId};
    use mqttspec_codec::{QoS, Subscribe};
    use std::time::Duration;

    let mut broker = Broker::new(Config {
        faults: faults.iter().map(|f| (*f).to_owned()).collect(),
        ..Config::default()
    });
    let conn = ConnectionId(1);
    broker.connection_opened(conn, Duration::ZERO);
    let packets = [
        Packet::Connect(Box::new(connect_packet(V5, "a"))),
        Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            properties: Default::default(),
            filters: vec![(filter("t"), opts(QoS::AtMostOnce))],
        }),
        Packet::Publish(publish("t", QoS::AtMostOnce, payload)),
    ];
    let mut sent = Vec::new();
    for p in packets {
        broker.bytes_received(conn, &p.encode(V5).unwrap(), Duration::ZERO);
        while let Some(action) = broker.poll_action() {
            if let Action::Send { bytes, .. } = action {
                sent = bytes.to_vec();
            }
        }
    }
    sent
}

#[test]
fn non_minimal_remaining_length_pads_publish_to_four_bytes() {
    assert_eq!(forwarded_bytes(&[], "x"), b"\x30\x05\x00\x01t\x00x");
    assert_eq!(
        forwarded_bytes(&["non-minimal-remaining-length"], "x"),
        b"\x30\x85\x80\x80\x00\x00\x01t\x00x"
    );
}

#[test]
fn omit_empty_property_length_leaves_it_out_of_publish() {
    assert_eq!(
        forwarded_bytes(&["omit-empty-property-length"], "x"),
        b"\x30\x04\x00\x01tx"
    );
}

/// A 5.0 CONNECT with a Will whose Will Properties are `will_props` and whose CONNECT
/// properties are `props`.
fn will_connect(props: &[u8], will_props: &[u8]) -> Vec<u8> {
    RawPacket::new(0x10)
        .binary(b"MQTT")
        .u8(5)
        .u8(0x06)
        .u16(60)
        .properties(props)
        .binary(b"c")
        .properties(will_props)
        .binary(b"t")
        .binary(b"w")
        .build()
        .to_vec()
}

/// Whether `faults` have the broker answer `connect` with CONNACK 0x00.
fn connect_accepted(faults: &[&str], connect: &[u8]) -> bool {
    let mut sim = Sim::with_faults(faults);
    let c = sim.open();
    sim.send_raw(c, connect);
    matches!(
        sim.take(c).first(),
        Some(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success
    )
}

#[test]
fn the_will_user_property_fault_and_the_user_property_faults_keep_apart() {
    // A User Property name with U+0000, in the Will Properties and in the CONNECT properties.
    let bad = b"\x26\x00\x01\x00\x00\x01v";
    let in_will = will_connect(&[], bad);
    let in_connect = will_connect(bad, &[]);
    assert!(connect_accepted(
        &["lenient-will-user-property-string"],
        &in_will
    ));
    assert!(!connect_accepted(
        &["lenient-user-property-name-string"],
        &in_will
    ));
    assert!(connect_accepted(
        &["lenient-user-property-name-string"],
        &in_connect
    ));
    assert!(!connect_accepted(
        &["lenient-will-user-property-string"],
        &in_connect
    ));
    // The Will's Content Type and Response Topic have a fault each.
    let content_type = will_connect(&[], b"\x03\x00\x01\x00");
    assert!(connect_accepted(
        &["lenient-will-content-type-string"],
        &content_type
    ));
    assert!(!connect_accepted(
        &["lenient-will-response-topic-string"],
        &content_type
    ));
}
