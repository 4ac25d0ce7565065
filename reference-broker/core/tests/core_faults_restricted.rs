//! The "unenforced" capability faults on a broker whose settings turn the capability down
//! (the restricted embedded broker of `mqttspec run`): the setting is announced in CONNACK
//! as usual, but the fault stops it from being enforced. Each scenario also runs without
//! the fault, where the broker enforces what it announced.

mod common;

use common::*;
use mqttspec_broker_core::Config;
use mqttspec_codec::{Packet, QoS, Subscribe};

/// A broker with Maximum QoS 1, Retain Available 0, Shared Subscription Available 0 and
/// Server Keep Alive 2, with `fault` if given.
fn restricted(fault: Option<&str>) -> Sim {
    Sim::new(Config {
        maximum_qos: 1,
        retain_available: false,
        shared_subscription_available: false,
        server_keep_alive: Some(2),
        faults: fault.iter().map(|f| f.to_string()).collect(),
        ..Config::default()
    })
}

#[test]
fn unenforced_maximum_qos_accepts_qos_2_although_maximum_qos_1_is_configured() {
    for fault in [None, Some("unenforced-maximum-qos")] {
        let mut sim = restricted(fault);
        let (c, ack) = sim.connect_with(connect_packet(V5, "a"));
        assert_eq!(ack.properties.maximum_qos, Some(QoS::AtLeastOnce));
        let mut p = publish("t", QoS::ExactlyOnce, "x");
        p.set_packet_id(sim.next_id(c));
        sim.send(c, Packet::Publish(p));
        assert_eq!(sim.is_closed(c), fault.is_none(), "{fault:?}");
    }
}

#[test]
fn unenforced_retain_available_accepts_retain_although_retain_is_configured_off() {
    for fault in [None, Some("unenforced-retain-available")] {
        let mut sim = restricted(fault);
        let (c, ack) = sim.connect_with(connect_packet(V5, "a"));
        assert_eq!(ack.properties.retain_available, Some(false));
        let mut p = publish("t", QoS::AtLeastOnce, "x");
        p.retain = true;
        p.set_packet_id(sim.next_id(c));
        sim.send(c, Packet::Publish(p));
        assert_eq!(sim.is_closed(c), fault.is_none(), "{fault:?}");
        if fault.is_some() {
            // Accepted, but not kept: a later subscriber gets nothing.
            let s = sim.connect(V5, "s");
            sim.subscribe(s, "t", QoS::AtLeastOnce);
            assert!(sim.take_publishes(s).is_empty());
        }
    }
}

#[test]
fn unenforced_shared_subscription_available_grants_a_shared_subscription_although_configured_off() {
    for fault in [None, Some("unenforced-shared-subscription-available")] {
        let mut sim = restricted(fault);
        let (c, ack) = sim.connect_with(connect_packet(V5, "a"));
        assert_eq!(ack.properties.shared_subscription_available, Some(false));
        let packet_id = sim.next_id(c);
        sim.send(
            c,
            Packet::Subscribe(Subscribe {
                packet_id,
                properties: Default::default(),
                filters: vec![(filter("$share/g/t"), opts(QoS::AtMostOnce))],
            }),
        );
        let granted = sim
            .take(c)
            .iter()
            .any(|p| matches!(p, Packet::SubAck(s) if !s.reason_codes[0].is_error()));
        assert_eq!(granted, fault.is_some(), "{fault:?}");
        assert_eq!(sim.is_closed(c), fault.is_none(), "{fault:?}");
    }
}

#[test]
fn announce_unused_server_keep_alive_keeps_the_clients_keep_alive_although_one_is_configured() {
    for fault in [None, Some("announce-unused-server-keep-alive")] {
        let mut sim = restricted(fault);
        let mut connect = connect_packet(V5, "a");
        connect.keep_alive = 60;
        let (c, ack) = sim.connect_with(connect);
        assert_eq!(ack.properties.server_keep_alive, Some(2));
        // 1.5 × the announced 2 s is 3 s: silent for 5 s, the connection is closed unless
        // the client's 60 s are in force.
        sim.advance(secs(5));
        assert_eq!(sim.is_closed(c), fault.is_none(), "{fault:?}");
    }
}
