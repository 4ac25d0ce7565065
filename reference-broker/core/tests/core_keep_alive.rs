//! Keep Alive: one and a half times the Keep Alive without a packet closes the connection;
//! Server Keep Alive overrides the client's value for MQTT 5.0.

mod common;

use common::*;
use mqttspec_broker_core::{CloseReason, Config};
use mqttspec_codec::{Packet, ReasonCode, StatementId};

fn connect_with_keep_alive(
    sim: &mut Sim,
    v: mqttspec_codec::ProtocolVersion,
    ka: u16,
) -> mqttspec_broker_core::ConnectionId {
    let mut c = connect_packet(v, "ka");
    c.keep_alive = ka;
    sim.connect_with(c).0
}

#[test]
fn a_silent_client_is_closed_after_one_and_a_half_keep_alives() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = connect_with_keep_alive(&mut sim, v, 10);
        sim.advance(millis(14_999));
        assert!(!sim.is_closed(c));
        sim.advance(millis(2));
        assert_eq!(sim.closed(c), Some(&CloseReason::KeepAliveTimeout));
        let got = sim.take(c);
        if v == V5 {
            assert_eq!(disconnect_code(&got), Some(ReasonCode::KeepAliveTimeout));
        } else {
            assert!(got.is_empty());
        }
        let want = if v == V5 {
            StatementId::V5_3_1_2_22
        } else {
            StatementId::V311_3_1_2_24
        };
        assert!(sim.broker.enforced_statements().contains(&want));
    }
}

#[test]
fn every_packet_restarts_the_keep_alive_period() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = connect_with_keep_alive(&mut sim, v, 10);
        for _ in 0..5 {
            sim.advance(secs(14));
            sim.send(c, Packet::PingReq);
            assert_eq!(sim.take(c), vec![Packet::PingResp]);
        }
        assert!(!sim.is_closed(c));
        sim.advance(secs(16));
        assert!(sim.is_closed(c));
    }
}

#[test]
fn keep_alive_0_never_times_out() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = connect_with_keep_alive(&mut sim, v, 0);
        sim.advance(secs(100_000));
        assert!(!sim.is_closed(c));
    }
}

#[test]
fn server_keep_alive_replaces_the_clients_value_in_v5() {
    let mut sim = Sim::new(Config {
        server_keep_alive: Some(4),
        ..Config::default()
    });
    let mut connect = connect_packet(V5, "ka");
    connect.keep_alive = 100;
    let (c, ack) = sim.connect_with(connect);
    assert_eq!(ack.properties.server_keep_alive, Some(4));
    sim.advance(millis(5_900));
    assert!(!sim.is_closed(c));
    sim.advance(millis(200));
    assert!(sim.is_closed(c));
}

#[test]
fn server_keep_alive_does_not_apply_to_311_clients() {
    let mut sim = Sim::new(Config {
        server_keep_alive: Some(4),
        ..Config::default()
    });
    let c = connect_with_keep_alive(&mut sim, V311, 100);
    sim.advance(secs(100));
    assert!(!sim.is_closed(c));
    sim.advance(secs(51));
    assert!(sim.is_closed(c));
}

#[test]
fn a_partial_packet_does_not_count_as_activity() {
    let mut sim = Sim::default_config();
    let c = connect_with_keep_alive(&mut sim, V5, 2);
    sim.advance(secs(2));
    sim.send_raw(c, &[0xC0]); // first byte of PINGREQ only
    sim.advance(millis(1100));
    assert!(sim.is_closed(c));
}
