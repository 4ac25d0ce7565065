//! MQTT 5.0 enhanced authentication with SCRAM-SHA-256: the CONNECT/AUTH/CONNACK exchange,
//! failures, unknown methods, and re-authentication.

mod common;

use bytes::Bytes;
use common::*;
use mqttspec_broker_core::config::User;
use mqttspec_broker_core::scram::{ScramClient, MECHANISM};
use mqttspec_broker_core::{CloseReason, Config, ConnectionId};
use mqttspec_codec::{Auth, Connect, Packet, QoS, ReasonCode, StatementId};

fn config() -> Config {
    Config {
        users: vec![User {
            username: "alice".into(),
            password: "wonderland".into(),
        }],
        ..Config::default()
    }
}

fn auth(code: ReasonCode, method: &str, data: Vec<u8>) -> Packet {
    let mut a = Auth {
        reason_code: code,
        ..Auth::default()
    };
    a.properties.authentication_method = Some(s(method));
    a.properties.authentication_data = Some(Bytes::from(data));
    Packet::Auth(a)
}

fn scram_connect(client: &ScramClient, id: &str) -> Connect {
    let mut c = connect_packet(V5, id);
    c.properties.authentication_method = Some(s(MECHANISM));
    c.properties.authentication_data = Some(Bytes::from(client.client_first()));
    c
}

fn expect_auth(sim: &mut Sim, c: ConnectionId) -> Auth {
    match sim.take(c).as_slice() {
        [Packet::Auth(a)] => a.clone(),
        other => panic!("expected AUTH, got {other:?}"),
    }
}

/// Runs the whole exchange with `password`; returns the connection and the last packet.
fn run_scram(sim: &mut Sim, password: &str) -> (ConnectionId, Packet) {
    let mut client = ScramClient::new("alice", password, "clientnonce123").unwrap();
    let (c, first) = sim.try_connect(scram_connect(&client, "alice-client"));
    let server_first = match first {
        Some(Packet::Auth(a)) => {
            assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
            assert_eq!(a.properties.authentication_method, Some(s(MECHANISM)));
            a.properties.authentication_data.clone().unwrap()
        }
        other => panic!("expected AUTH 0x18, got {other:?}"),
    };
    let client_final = client.handle_server_first(&server_first).unwrap();
    sim.send(
        c,
        auth(ReasonCode::ContinueAuthentication, MECHANISM, client_final),
    );
    let got = sim.take(c);
    let last = got.into_iter().next().expect("an answer to client-final");
    if let Packet::ConnAck(ack) = &last {
        if ack.reason_code == ReasonCode::Success {
            let server_final = ack.properties.authentication_data.clone().unwrap();
            client.handle_server_final(&server_final).unwrap();
        }
    }
    (c, last)
}

#[test]
fn scram_sha_256_authenticates_and_connack_carries_the_server_final_message() {
    let mut sim = Sim::new(config());
    let (c, last) = run_scram(&mut sim, "wonderland");
    match last {
        Packet::ConnAck(ack) => {
            assert_eq!(ack.reason_code, ReasonCode::Success);
            assert_eq!(ack.properties.authentication_method, Some(s(MECHANISM)));
        }
        other => panic!("{other:?}"),
    }
    assert!(!sim.is_closed(c));
    // The connection works normally afterwards.
    sim.subscribe(c, "t", QoS::AtMostOnce);
    for id in [StatementId::V5_4_12_0_2, StatementId::V5_4_12_0_5] {
        assert!(sim.broker.enforced_statements().contains(&id), "{id}");
    }
}

#[test]
fn a_wrong_password_is_refused_with_0x86() {
    let mut sim = Sim::new(config());
    let (c, last) = run_scram(&mut sim, "wrong");
    assert!(
        matches!(last, Packet::ConnAck(a) if a.reason_code == ReasonCode::BadUserNameOrPassword)
    );
    assert!(sim.is_closed(c));
}

#[test]
fn an_unsupported_method_is_refused_with_0x8c() {
    let mut sim = Sim::new(config());
    let mut c = connect_packet(V5, "a");
    c.properties.authentication_method = Some(s("GS2-KRB5"));
    let (conn, first) = sim.try_connect(c);
    assert!(
        matches!(first, Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::BadAuthenticationMethod)
    );
    assert!(sim.is_closed(conn));
}

#[test]
fn only_auth_or_disconnect_may_come_before_connack() {
    let mut sim = Sim::new(config());
    let client = ScramClient::new("alice", "wonderland", "nonce42").unwrap();
    let (c, _) = sim.try_connect(scram_connect(&client, "a"));
    sim.send(c, Packet::PingReq);
    assert!(
        matches!(sim.take(c).as_slice(), [Packet::ConnAck(a)] if a.reason_code == ReasonCode::ProtocolError)
    );
    assert!(sim.is_closed(c));
}

#[test]
fn auth_without_enhanced_authentication_in_connect_is_a_protocol_error() {
    let mut sim = Sim::new(config());
    let c = sim.connect(V5, "plain");
    sim.send(c, auth(ReasonCode::ReAuthenticate, MECHANISM, Vec::new()));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::ProtocolError)
    );
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_4_12_0_7));
}

#[test]
fn reauthentication_succeeds_with_auth_0x00_while_other_packets_flow() {
    let mut sim = Sim::new(config());
    let (c, _) = run_scram(&mut sim, "wonderland");
    sim.subscribe(c, "t", QoS::AtMostOnce);
    let mut client = ScramClient::new("alice", "wonderland", "second-nonce").unwrap();
    sim.send(
        c,
        auth(ReasonCode::ReAuthenticate, MECHANISM, client.client_first()),
    );
    let server_first = expect_auth(&mut sim, c);
    assert_eq!(server_first.reason_code, ReasonCode::ContinueAuthentication);
    // Other packets keep working in the middle of it.
    sim.send(c, Packet::PingReq);
    assert_eq!(sim.take(c), vec![Packet::PingResp]);
    let client_final = client
        .handle_server_first(&server_first.properties.authentication_data.clone().unwrap())
        .unwrap();
    sim.send(
        c,
        auth(ReasonCode::ContinueAuthentication, MECHANISM, client_final),
    );
    let done = expect_auth(&mut sim, c);
    assert_eq!(done.reason_code, ReasonCode::Success);
    client
        .handle_server_final(&done.properties.authentication_data.clone().unwrap())
        .unwrap();
    assert!(!sim.is_closed(c));
}

#[test]
fn a_failed_reauthentication_disconnects() {
    let mut sim = Sim::new(config());
    let (c, _) = run_scram(&mut sim, "wonderland");
    let mut client = ScramClient::new("alice", "not-it", "third-nonce").unwrap();
    sim.send(
        c,
        auth(ReasonCode::ReAuthenticate, MECHANISM, client.client_first()),
    );
    let server_first = expect_auth(&mut sim, c);
    let client_final = client
        .handle_server_first(&server_first.properties.authentication_data.clone().unwrap())
        .unwrap();
    sim.send(
        c,
        auth(ReasonCode::ContinueAuthentication, MECHANISM, client_final),
    );
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::NotAuthorized)
    );
    assert!(matches!(
        sim.closed(c),
        Some(CloseReason::ReauthenticationFailed(_))
    ));
}

#[test]
fn reauthentication_with_another_method_is_a_protocol_error() {
    let mut sim = Sim::new(config());
    let (c, _) = run_scram(&mut sim, "wonderland");
    sim.send(c, auth(ReasonCode::ReAuthenticate, "OTHER", Vec::new()));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::ProtocolError)
    );
}

#[test]
fn the_exchange_is_deterministic_for_a_given_seed() {
    let server_first = |seed: Option<u64>| {
        let mut sim = Sim::new(Config { seed, ..config() });
        let client = ScramClient::new("alice", "wonderland", "fixed").unwrap();
        let (_, first) = sim.try_connect(scram_connect(&client, "a"));
        match first {
            Some(Packet::Auth(a)) => a.properties.authentication_data.clone().unwrap(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(server_first(Some(7)), server_first(Some(7)));
    assert_ne!(server_first(Some(7)), server_first(Some(8)));
    // No seed is seed 0: the core never draws one itself.
    assert_eq!(server_first(None), server_first(None));
    assert_eq!(server_first(None), server_first(Some(0)));
}
