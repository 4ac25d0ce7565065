//! Flow control: Receive Maximum both ways, Maximum Packet Size both ways, problem
//! information, backpressure on publishers, and the unflushed-bytes limit.

mod common;

use common::*;
use mqttspec_broker_core::config::AclRule;
use mqttspec_broker_core::{Action, CloseReason, Config};
use mqttspec_codec::{Packet, PubAck, QoS, ReasonCode, StatementId};
use std::num::{NonZeroU16, NonZeroU32};

#[test]
fn no_more_than_the_clients_receive_maximum_is_in_flight() {
    let mut sim = Sim::default_config();
    let mut connect = connect_packet(V5, "sub");
    connect.properties.receive_maximum = NonZeroU16::new(2);
    let (sub, _) = sim.connect_with(connect);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    let publ = sim.connect(V5, "pub");
    for i in 0..5 {
        sim.publish(publ, "t", QoS::AtLeastOnce, &i.to_string());
    }
    let first = sim.take_publishes(sub);
    assert_eq!(payloads(&first), vec!["0", "1"]);
    // Other packets are not held back by the quota.
    sim.send(sub, Packet::PingReq);
    assert_eq!(sim.take(sub), vec![Packet::PingResp]);
    // Each acknowledgement lets exactly one more through.
    sim.ack(sub, &first[0]);
    let second = sim.take_publishes(sub);
    assert_eq!(payloads(&second), vec!["2"]);
    sim.ack(sub, &first[1]);
    let third = sim.take_publishes(sub);
    assert_eq!(payloads(&third), vec!["3"]);
    sim.ack(sub, &second[0]);
    sim.ack(sub, &third[0]);
    assert_eq!(payloads(&sim.take_and_ack(sub)), vec!["4"]);
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_3_3_4_9));
}

#[test]
fn exceeding_the_servers_receive_maximum_is_disconnected_with_0x93() {
    let mut sim = Sim::new(Config {
        receive_maximum: 2,
        ..Config::default()
    });
    let c = sim.connect(V5, "pub");
    for id in 1..=2 {
        let mut p = publish("t", QoS::ExactlyOnce, "x");
        p.set_packet_id(pid(id));
        sim.send(c, Packet::Publish(p));
    }
    assert!(!sim.is_closed(c));
    let mut p = publish("t", QoS::ExactlyOnce, "x");
    p.set_packet_id(pid(3));
    sim.send(c, Packet::Publish(p));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::ReceiveMaximumExceeded)
    );
}

#[test]
fn a_publish_larger_than_the_clients_maximum_packet_size_is_dropped_and_counts_as_delivered() {
    let mut sim = Sim::default_config();
    let mut connect = connect_packet(V5, "sub");
    connect.properties.maximum_packet_size = NonZeroU32::new(40);
    let (sub, _) = sim.connect_with(connect);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::AtLeastOnce, &"x".repeat(100));
    sim.publish(publ, "t", QoS::AtLeastOnce, "small");
    assert_eq!(payloads(&sim.take_and_ack(sub)), vec!["small"]);
    assert!(sim.bytes_sent(sub).len() < 200);
    // Nothing is left in flight to resend.
    sim.drop_connection(sub);
    let mut connect = connect_packet(V5, "sub");
    connect.clean_start = false;
    connect.properties.maximum_packet_size = NonZeroU32::new(40);
    let (sub, _) = sim.connect_with(connect);
    assert!(sim.take(sub).is_empty());
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_3_1_2_25));
}

fn deny_all() -> Vec<AclRule> {
    vec![AclRule {
        filter: "#".into(),
        action: "publish".into(),
        permission: "deny".into(),
        username: None,
    }]
}

#[test]
fn a_reason_string_is_left_out_when_it_would_exceed_the_maximum_packet_size() {
    let mut sim = Sim::new(Config {
        acl: deny_all(),
        ..Config::default()
    });
    let mut connect = connect_packet(V5, "a");
    // Room for CONNACK and a plain PUBACK, not for a Reason String.
    connect.properties.maximum_packet_size = NonZeroU32::new(16);
    let (c, _) = sim.connect_with(connect);
    let mut p = publish("t", QoS::AtLeastOnce, "x");
    p.set_packet_id(pid(1));
    sim.send(c, Packet::Publish(p));
    let got = sim.take(c);
    match got.as_slice() {
        [Packet::PubAck(a)] => {
            assert_eq!(a.reason_code, ReasonCode::NotAuthorized);
            assert!(a.properties.reason_string.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_problem_information_0_removes_reason_strings_from_acknowledgements_only() {
    let mut sim = Sim::new(Config {
        acl: deny_all(),
        ..Config::default()
    });
    let mut connect = connect_packet(V5, "a");
    connect.properties.request_problem_information = Some(false);
    let (c, _) = sim.connect_with(connect);
    let mut p = publish("t", QoS::AtLeastOnce, "x");
    p.set_packet_id(pid(1));
    sim.send(c, Packet::Publish(p));
    match sim.take(c).as_slice() {
        [Packet::PubAck(a)] => assert!(a.properties.reason_string.is_none()),
        other => panic!("{other:?}"),
    }
    // DISCONNECT may still carry one.
    sim.send(c, Packet::PingResp);
    let got = sim.take(c);
    match got.as_slice() {
        [Packet::Disconnect(d)] => assert!(d.properties.reason_string.is_some()),
        other => panic!("{other:?}"),
    }
    // With problem information requested (the default), PUBACK carries the reason.
    let mut sim = Sim::new(Config {
        acl: deny_all(),
        ..Config::default()
    });
    let c = sim.connect(V5, "b");
    let mut p = publish("t", QoS::AtLeastOnce, "x");
    p.set_packet_id(pid(1));
    sim.send(c, Packet::Publish(p));
    match sim.take(c).as_slice() {
        [Packet::PubAck(a)] => assert!(a.properties.reason_string.is_some()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_inbound_packet_larger_than_the_servers_maximum_is_refused() {
    for v in BOTH {
        let mut sim = Sim::new(Config {
            maximum_packet_size: 100,
            ..Config::default()
        });
        let c = sim.connect(v, "a");
        sim.send(
            c,
            Packet::Publish(publish("t", QoS::AtMostOnce, &"x".repeat(200))),
        );
        let got = sim.take(c);
        if v == V5 {
            assert_eq!(disconnect_code(&got), Some(ReasonCode::PacketTooLarge));
        } else {
            assert!(got.is_empty());
        }
        assert!(sim.is_closed(c));
    }
}

/// A subscriber that accepts one message at a time and a queue of two.
fn congested(
    v_pub: mqttspec_codec::ProtocolVersion,
) -> (
    Sim,
    mqttspec_broker_core::ConnectionId,
    mqttspec_broker_core::ConnectionId,
) {
    let mut sim = Sim::new(Config {
        max_queued_messages: 2,
        receive_maximum: 3,
        ..Config::default()
    });
    let mut connect = connect_packet(V5, "slow");
    connect.properties.receive_maximum = NonZeroU16::new(1);
    let (sub, _) = sim.connect_with(connect);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    let publ = sim.connect(v_pub, "pub");
    (sim, sub, publ)
}

fn send_qos1(sim: &mut Sim, c: mqttspec_broker_core::ConnectionId, id: u16) {
    let mut p = publish("t", QoS::AtLeastOnce, &id.to_string());
    p.set_packet_id(pid(id));
    sim.send(c, Packet::Publish(p));
}

#[test]
fn a_full_subscriber_queue_holds_the_publisher_without_acknowledging() {
    let (mut sim, sub, publ) = congested(V5);
    // 1 goes in flight, 2 and 3 fill the queue, 4 must wait.
    for id in 1..=4 {
        send_qos1(&mut sim, publ, id);
    }
    let acks = sim.take(publ);
    assert_eq!(
        acks,
        (1..=3)
            .map(|i| Packet::PubAck(PubAck::new(pid(i))))
            .collect::<Vec<_>>()
    );
    // QoS 0 still flows (and is dropped for the full queue).
    sim.publish(publ, "t", QoS::AtMostOnce, "q0");
    assert!(!sim.is_closed(publ));
    // The subscriber acknowledges: 4 moves into the queue and is acknowledged.
    let first = sim.take_publishes(sub);
    assert_eq!(payloads(&first), vec!["1"]);
    sim.ack(sub, &first[0]);
    assert_eq!(sim.take(publ), vec![Packet::PubAck(PubAck::new(pid(4)))]);
    let mut got = Vec::new();
    loop {
        let batch = sim.take_and_ack(sub);
        if batch.is_empty() {
            break;
        }
        got.extend(payloads(&batch));
    }
    assert_eq!(got, vec!["2", "3", "4"], "nothing lost, order kept");
}

#[test]
fn a_311_publisher_is_paused_when_too_many_messages_are_held_and_resumed_after() {
    let (mut sim, sub, publ) = congested(V311);
    for id in 1..=6 {
        send_qos1(&mut sim, publ, id);
    }
    // 1 in flight, 2-3 queued, 4-6 held: the third held one pauses reading.
    assert!(sim.peers[&publ].paused);
    assert!(sim
        .log
        .iter()
        .any(|a| matches!(a, Action::PauseReading { conn } if *conn == publ)));
    // Bytes that arrive while paused are kept, not processed.
    sim.send(publ, Packet::PingReq);
    let acks = sim.take(publ);
    assert_eq!(acks.len(), 3, "{acks:?}");
    let mut got = Vec::new();
    for _ in 0..10 {
        let batch = sim.take_and_ack(sub);
        got.extend(payloads(&batch));
    }
    assert_eq!(got, vec!["1", "2", "3", "4", "5", "6"]);
    assert!(!sim.peers[&publ].paused);
    let rest = sim.take(publ);
    assert_eq!(
        rest.last(),
        Some(&Packet::PingResp),
        "buffered input processed on resume"
    );
    assert_eq!(rest.len(), 4);
}

#[test]
fn a_publisher_held_too_long_is_disconnected_with_0x97() {
    let (mut sim, _sub, publ) = congested(V5);
    for id in 1..=4 {
        send_qos1(&mut sim, publ, id);
    }
    sim.take(publ);
    sim.advance(secs(61));
    assert_eq!(sim.closed(publ), Some(&CloseReason::Overloaded));
    assert_eq!(
        disconnect_code(&sim.take(publ)),
        Some(ReasonCode::QuotaExceeded)
    );
}

#[test]
fn publishers_can_be_held_for_full_offline_sessions_when_configured() {
    for hold in [false, true] {
        let mut sim = Sim::new(Config {
            max_queued_messages: 1,
            hold_publishers_for_offline_sessions: hold,
            ..Config::default()
        });
        let (sub, _) = sim.connect_persistent(V5, "sub", 100);
        sim.subscribe(sub, "t", QoS::AtLeastOnce);
        sim.drop_connection(sub);
        let publ = sim.connect(V5, "pub");
        send_qos1(&mut sim, publ, 1);
        send_qos1(&mut sim, publ, 2);
        let acks = sim.take(publ).len();
        assert_eq!(acks, if hold { 1 } else { 2 });
        let (sub, _) = sim.connect_persistent(V5, "sub", 100);
        let got = sim.take_and_ack(sub);
        if hold {
            // Sending 1 emptied the queue: the held message moved in and was acknowledged.
            assert_eq!(payloads(&got), vec!["1", "2"]);
            assert_eq!(sim.take(publ), vec![Packet::PubAck(PubAck::new(pid(2)))]);
        } else {
            assert_eq!(payloads(&got), vec!["1"], "2 was dropped");
        }
    }
}

#[test]
fn publishes_wait_for_the_caller_to_flush_but_acknowledgements_do_not() {
    let mut sim = Sim::new(Config {
        max_unflushed_bytes: 20,
        ..Config::default()
    });
    sim.auto_flush = false;
    let sub = sim.connect(V5, "sub");
    sim.broker.connection_flushed(sub, sim.now);
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    sim.broker.connection_flushed(sub, sim.now);
    let publ = sim.connect(V5, "pub");
    for i in 0..5 {
        sim.publish(publ, "t", QoS::AtMostOnce, &format!("message {i}"));
    }
    let first = sim.take_publishes(sub);
    assert!(first.len() < 5, "stopped at the unflushed limit");
    sim.send(sub, Packet::PingReq);
    assert_eq!(sim.take(sub), vec![Packet::PingResp]);
    let mut total = first.len();
    for _ in 0..10 {
        sim.broker.connection_flushed(sub, sim.now);
        sim.drain();
        total += sim.take_publishes(sub).len();
    }
    assert_eq!(total, 5);
}
