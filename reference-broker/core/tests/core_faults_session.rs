//! Fault injection for CONNECT / CONNACK, sessions and Keep Alive: each test enables one fault
//! and observes the wrong behaviour it promises (the healthy behaviour is covered by the
//! other core tests). The names are listed in `core_faults.rs`'s inventory.

mod common;

use common::*;
use mqttspec_broker_core::{Action, Broker, CloseReason, Config, ConnectionId};
use mqttspec_codec::{Packet, PubRel, QoS, ReasonCode};
use std::time::Duration;

/// The bytes of the first packet the broker sends after `connect` on a fresh connection of a
/// broker with `fault` (read from the actions directly: the faulty CONNACKs do not decode).
fn first_bytes_sent(fault: &str, connect: mqttspec_codec::Connect) -> Vec<u8> {
    let mut broker = Broker::new(Config {
        faults: vec![fault.to_owned()],
        ..Config::default()
    });
    let conn = ConnectionId(1);
    broker.connection_opened(conn, Duration::ZERO);
    let v = connect.protocol_version;
    let bytes = Packet::Connect(Box::new(connect)).encode(v).unwrap();
    broker.bytes_received(conn, &bytes, Duration::ZERO);
    while let Some(action) = broker.poll_action() {
        if let Action::Send { bytes, .. } = action {
            return bytes.to_vec();
        }
    }
    panic!("nothing sent");
}

#[test]
fn ignore_packet_before_connect_keeps_the_connection_open() {
    let mut sim = Sim::with_faults(&["ignore-packet-before-connect"]);
    let c = sim.open();
    sim.send_raw(c, &[0xC0, 0x00]);
    assert!(!sim.is_closed(c));
    assert!(sim.take(c).is_empty());
}

#[test]
fn client_id_strict_close_closes_on_a_23_character_identifier() {
    let mut sim = Sim::with_faults(&["client-id-strict-close"]);
    let (c, first) = sim.try_connect(connect_packet(V311, "abcdefghijklmnopqrstuvw"));
    assert_eq!(first, None);
    assert!(sim.is_closed(c));
    let (_, ack) = sim.connect_with(connect_packet(V5, "abcdefghijklmnopqrstuv"));
    assert_eq!(ack.reason_code, ReasonCode::Success);
}

#[test]
fn duplicate_assigned_client_id_makes_the_second_empty_id_take_over_the_first() {
    let mut sim = Sim::with_faults(&["duplicate-assigned-client-id"]);
    let (a, first) = sim.connect_with(connect_packet(V5, ""));
    let (_, second) = sim.connect_with(connect_packet(V5, ""));
    assert_eq!(
        first.properties.assigned_client_identifier,
        second.properties.assigned_client_identifier
    );
    assert!(sim.is_closed(a));
}

#[test]
fn accept_empty_client_id_persistent_accepts_clean_session_0() {
    let mut sim = Sim::with_faults(&["accept-empty-client-id-persistent"]);
    let mut c = connect_packet(V311, "");
    c.clean_start = false;
    let (_, ack) = sim.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::Success);
}

#[test]
fn no_pingresp_leaves_pingreq_unanswered() {
    let mut sim = Sim::with_faults(&["no-pingresp"]);
    let c = sim.connect(V5, "a");
    sim.send(c, Packet::PingReq);
    assert!(sim.take(c).is_empty());
    assert!(!sim.is_closed(c));
}

#[test]
fn malformed_connack_sets_a_reserved_acknowledge_flag() {
    for v in BOTH {
        let bytes = first_bytes_sent("malformed-connack", connect_packet(v, "a"));
        assert_eq!(bytes.first(), Some(&0x20));
        assert_eq!(bytes.get(2).map(|f| f & 0x02), Some(0x02), "{bytes:?}");
        assert!(Packet::decode(bytes.into(), v).is_err());
    }
}

#[test]
fn session_present_on_refusal_sets_session_present_on_an_error_connack() {
    let mut c = connect_packet(V311, "");
    c.clean_start = false;
    let bytes = first_bytes_sent("session-present-on-refusal", c);
    assert_eq!(bytes, vec![0x20, 0x02, 0x01, 0x02]);
    // Accepted connections are not touched.
    let bytes = first_bytes_sent("session-present-on-refusal", connect_packet(V311, "a"));
    assert_eq!(bytes, vec![0x20, 0x02, 0x00, 0x00]);
}

#[test]
fn discard_session_on_disconnect_ends_persistent_sessions() {
    for v in BOTH {
        let mut sim = Sim::with_faults(&["discard-session-on-disconnect"]);
        let (c, _) = sim.connect_persistent(v, "a", 100);
        sim.drop_connection(c);
        assert!(!sim.broker.has_session("a"));
        let (_, present) = sim.connect_persistent(v, "a", 100);
        assert!(!present);
    }
}

#[test]
fn keep_session_at_expiry_zero_keeps_clean_sessions() {
    for v in BOTH {
        let mut sim = Sim::with_faults(&["keep-session-at-expiry-zero"]);
        let c = sim.connect(v, "a");
        sim.drop_connection(c);
        sim.advance(secs(10));
        let mut again = connect_packet(v, "a");
        again.clean_start = false;
        let (_, ack) = sim.connect_with(again);
        assert!(ack.session_present);
    }
}

#[test]
fn keep_alive_zero_times_out_closes_silent_clients_with_0x8d() {
    let mut sim = Sim::with_faults(&["keep-alive-zero-times-out"]);
    let c = sim.connect(V5, "a");
    sim.advance(secs(2));
    assert_eq!(sim.closed(c), Some(&CloseReason::KeepAliveTimeout));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::KeepAliveTimeout)
    );
}

#[test]
fn keep_alive_pingreq_only_closes_a_client_that_only_publishes() {
    let mut sim = Sim::with_faults(&["keep-alive-pingreq-only"]);
    let mut connect = connect_packet(V311, "a");
    connect.keep_alive = 1;
    let (c, _) = sim.connect_with(connect);
    for _ in 0..6 {
        sim.advance(millis(500));
        if sim.is_closed(c) {
            break;
        }
        sim.send(c, Packet::Publish(publish("t", QoS::AtMostOnce, "x")));
    }
    assert_eq!(sim.closed(c), Some(&CloseReason::KeepAliveTimeout));
}

#[test]
fn announce_unused_server_keep_alive_announces_1_and_enforces_the_clients_value() {
    let mut sim = Sim::with_faults(&["announce-unused-server-keep-alive"]);
    let mut connect = connect_packet(V5, "a");
    connect.keep_alive = 60;
    let (c, ack) = sim.connect_with(connect);
    assert_eq!(ack.properties.server_keep_alive, Some(1));
    sim.advance(secs(5));
    assert!(!sim.is_closed(c));
}

#[test]
fn reason_string_always_ignores_request_problem_information_0() {
    let mut sim = Sim::with_faults(&["reason-string-always"]);
    let mut connect = connect_packet(V5, "a");
    connect.properties.request_problem_information = Some(false);
    let (c, _) = sim.connect_with(connect);
    sim.send(c, Packet::PubRel(PubRel::new(pid(9))));
    let comp = sim.expect_from(c, |p| match p {
        Packet::PubComp(comp) => Some(comp.clone()),
        _ => None,
    });
    assert_eq!(comp.reason_code, ReasonCode::PacketIdentifierNotFound);
    assert!(comp.properties.reason_string.is_some());
}

#[test]
fn unrequested_response_information_is_sent_without_a_request() {
    let mut sim = Sim::with_faults(&["unrequested-response-information"]);
    let (_, ack) = sim.connect_with(connect_packet(V5, "a"));
    assert!(ack.properties.response_information.is_some());
}

#[test]
fn no_takeover_leaves_the_old_connection_open() {
    for v in BOTH {
        let mut sim = Sim::with_faults(&["no-takeover"]);
        let old = sim.connect(v, "same");
        sim.connect(v, "same");
        assert!(!sim.is_closed(old));
        assert!(sim.take(old).is_empty());
    }
}

#[test]
fn client_id_pattern_match_takes_over_clients_the_pattern_matches() {
    for v in BOTH {
        let mut sim = Sim::with_faults(&["client-id-pattern-match"]);
        let victim = sim.connect(v, "rgvictim");
        let other = sim.connect(v, "other");
        sim.connect(v, "rg.*");
        assert_eq!(sim.closed(victim), Some(&CloseReason::SessionTakenOver));
        assert!(!sim.is_closed(other));
    }
    // Without the fault the identifiers are different clients.
    let mut sim = Sim::with_faults(&[]);
    let victim = sim.connect(V5, "rgvictim");
    sim.connect(V5, "rg.*");
    assert!(!sim.is_closed(victim));
}

#[test]
fn accept_unknown_auth_method_connects_without_authentication() {
    let mut sim = Sim::with_faults(&["accept-unknown-auth-method"]);
    let mut connect = connect_packet(V5, "a");
    connect.properties.authentication_method = Some(s("no-such-method"));
    let (_, ack) = sim.connect_with(connect);
    assert_eq!(ack.reason_code, ReasonCode::Success);
}
