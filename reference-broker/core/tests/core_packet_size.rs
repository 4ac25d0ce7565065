//! MQTT 5.0 Maximum Packet Size of the client on every packet the broker sends: a Reason
//! String (then User Properties) is left out when it would make the packet too large, on
//! refusals before CONNACK as well as after it, and the `oversized-reason-string` fault puts
//! the oversized packets back.

mod common;

use std::num::NonZeroU32;

use bytes::Bytes;
use common::*;
use mqttspec_broker_core::config::User;
use mqttspec_broker_core::scram::{ScramClient, MECHANISM};
use mqttspec_broker_core::{Action, Config, ConnectionId};
use mqttspec_codec::{Auth, Connect, Packet, PacketType, PubRec, QoS, ReasonCode};

/// The Maximum Packet Size the tests declare: room for every packet without its Reason
/// String, too little with it.
const LIMIT: u32 = 30;

/// A v5 CONNECT declaring Maximum Packet Size `limit`.
fn limited(client_id: &str, limit: u32) -> Connect {
    let mut c = connect_packet(V5, client_id);
    c.properties.maximum_packet_size = NonZeroU32::new(limit);
    c
}

/// The size and type of every packet the broker sent on `c`.
fn sent(sim: &Sim, c: ConnectionId) -> Vec<(PacketType, usize)> {
    sim.log
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                conn,
                packet,
                bytes,
            } if *conn == c => Some((packet.packet_type(), bytes.len())),
            _ => None,
        })
        .collect()
}

/// Asserts that a packet of type `t` was sent on `c` and that nothing sent was larger than
/// `limit`.
fn all_within(sim: &Sim, c: ConnectionId, t: PacketType, limit: u32) {
    let sent = sent(sim, c);
    assert!(sent.iter().any(|(p, _)| *p == t), "{t} sent: {sent:?}");
    assert!(
        sent.iter().all(|(_, len)| *len <= limit as usize),
        "every packet within {limit} bytes: {sent:?}"
    );
}

/// Whether some packet sent on `c` was larger than `limit`.
fn any_beyond(sim: &Sim, c: ConnectionId, limit: u32) -> bool {
    sent(sim, c).iter().any(|(_, len)| *len > limit as usize)
}

fn unknown_method(sim: &mut Sim, limit: u32) -> (ConnectionId, Option<Packet>) {
    let mut connect = limited("m", limit);
    connect.properties.authentication_method = Some(s("x-no-such-method"));
    sim.try_connect(connect)
}

#[test]
fn a_refusing_connack_leaves_out_the_reason_string_that_would_not_fit() {
    let mut sim = Sim::default_config();
    let (c, first) = unknown_method(&mut sim, LIMIT);
    let Some(Packet::ConnAck(ack)) = first else {
        panic!("expected CONNACK, got {first:?}");
    };
    assert_eq!(ack.reason_code, ReasonCode::BadAuthenticationMethod);
    assert_eq!(ack.properties.reason_string, None);
    all_within(&sim, c, PacketType::ConnAck, LIMIT);
    assert!(sim.is_closed(c));
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&mqttspec_codec::StatementId::V5_3_2_2_19));
}

#[test]
fn a_refusing_connack_keeps_its_reason_string_when_it_fits() {
    let mut sim = Sim::default_config();
    let (_, first) = unknown_method(&mut sim, 1000);
    let Some(Packet::ConnAck(ack)) = first else {
        panic!("expected CONNACK, got {first:?}");
    };
    assert!(ack.properties.reason_string.is_some());
}

#[test]
fn the_fault_sends_the_oversized_connack() {
    let mut sim = Sim::with_faults(&["oversized-reason-string"]);
    let (c, first) = unknown_method(&mut sim, LIMIT);
    assert!(matches!(first, Some(Packet::ConnAck(a)) if a.properties.reason_string.is_some()));
    assert!(any_beyond(&sim, c, LIMIT));
}

#[test]
fn a_connack_for_an_undecodable_connect_has_no_reason_string() {
    let mut sim = Sim::default_config();
    let c = sim.open();
    sim.peers.get_mut(&c).unwrap().version = Some(V5);
    // A v5 CONNECT whose Connect Flags have the reserved bit set: malformed.
    let mut bytes = connect_packet(V5, "x").encode_packet();
    bytes[9] |= 0x01;
    sim.send_raw(c, &bytes);
    let got = sim.take(c);
    let ack = connack(&got).expect("CONNACK");
    assert!(ack.reason_code.is_error());
    assert_eq!(ack.properties.reason_string, None);
}

/// Helper: the CONNECT encoded for v5.
trait EncodePacket {
    fn encode_packet(self) -> Vec<u8>;
}

impl EncodePacket for Connect {
    fn encode_packet(self) -> Vec<u8> {
        Packet::Connect(Box::new(self))
            .encode(V5)
            .expect("encodes")
            .to_vec()
    }
}

/// Runs `provoke` on a connection limited to [`LIMIT`] and on one without a limit; returns
/// the sizes sent on each.
fn both(
    faults: &[&str],
    t: PacketType,
    provoke: impl Fn(&mut Sim, ConnectionId),
) -> (Sim, ConnectionId, ConnectionId) {
    let mut sim = Sim::with_faults(faults);
    let (small, _) = sim.connect_with(limited("small", LIMIT));
    provoke(&mut sim, small);
    let (large, _) = sim.connect_with(limited("large", 100_000));
    provoke(&mut sim, large);
    let has_reason = sent(&sim, large)
        .iter()
        .any(|(p, len)| *p == t && *len > LIMIT as usize);
    assert!(has_reason, "unlimited: a {t} with a Reason String is sent");
    (sim, small, large)
}

fn refused_subscribe(sim: &mut Sim, c: ConnectionId) {
    let deep = "a/".repeat(200);
    let code = sim.subscribe_with(c, &deep, opts(QoS::AtMostOnce), None);
    assert_eq!(code, ReasonCode::TopicFilterInvalid);
}

fn unknown_unsubscribe(sim: &mut Sim, c: ConnectionId) {
    sim.unsubscribe(c, "no/such/subscription");
}

fn sys_publish(qos: QoS) -> impl Fn(&mut Sim, ConnectionId) {
    move |sim, c| {
        let mut p = publish("$SYS/mqttspec", qos, "x");
        p.set_packet_id(sim.next_id(c));
        sim.send(c, Packet::Publish(p));
    }
}

fn unknown_pubrec(sim: &mut Sim, c: ConnectionId) {
    sim.send(c, Packet::PubRec(PubRec::new(pid(77))));
}

fn unknown_pubrel(sim: &mut Sim, c: ConnectionId) {
    sim.send(c, Packet::PubRel(mqttspec_codec::PubRel::new(pid(77))));
}

fn protocol_error(sim: &mut Sim, c: ConnectionId) {
    // AUTH from a client that did not start enhanced authentication.
    sim.send_raw(c, &[0xF0, 0x00]);
}

type Provocation = (PacketType, Box<dyn Fn(&mut Sim, ConnectionId)>);

fn provocations() -> Vec<Provocation> {
    vec![
        (PacketType::SubAck, Box::new(refused_subscribe)),
        (PacketType::UnsubAck, Box::new(unknown_unsubscribe)),
        (PacketType::PubAck, Box::new(sys_publish(QoS::AtLeastOnce))),
        (PacketType::PubRec, Box::new(sys_publish(QoS::ExactlyOnce))),
        (PacketType::PubRel, Box::new(unknown_pubrec)),
        (PacketType::PubComp, Box::new(unknown_pubrel)),
        (PacketType::Disconnect, Box::new(protocol_error)),
    ]
}

#[test]
fn every_acknowledgement_and_disconnect_leaves_out_what_does_not_fit() {
    for (t, provoke) in provocations() {
        let (sim, small, _) = both(&[], t, &provoke);
        all_within(&sim, small, t, LIMIT);
    }
}

#[test]
fn the_fault_sends_every_oversized_acknowledgement_and_disconnect() {
    for (t, provoke) in provocations() {
        let (sim, small, _) = both(&["oversized-reason-string"], t, &provoke);
        assert!(
            any_beyond(&sim, small, LIMIT),
            "{t} oversized under the fault"
        );
    }
}

#[test]
fn a_publish_too_large_is_dropped_without_wedging_the_session() {
    let mut sim = Sim::default_config();
    let (sub, _) = sim.connect_with(limited("sub", 40));
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::AtLeastOnce, &"B".repeat(100));
    sim.publish(publ, "t", QoS::AtLeastOnce, "small");
    let got = sim.take_and_ack(sub);
    assert_eq!(payloads(&got), vec!["small"]);
    // The dropped message left no delivery state: more messages keep flowing.
    for i in 0..3 {
        sim.publish(publ, "t", QoS::AtLeastOnce, &format!("m{i}"));
    }
    assert_eq!(payloads(&sim.take_and_ack(sub)), vec!["m0", "m1", "m2"]);
}

fn scram_config(faults: &[&str]) -> Config {
    Config {
        users: vec![User {
            username: "alice".into(),
            password: "wonderland".into(),
        }],
        faults: faults.iter().map(|f| f.to_string()).collect(),
        ..Config::default()
    }
}

/// CONNECT starting SCRAM-SHA-256 with Maximum Packet Size `limit`; the size of the AUTH
/// the broker answers with.
fn scram_auth(faults: &[&str], limit: u32) -> (Option<Auth>, Vec<(PacketType, usize)>) {
    let mut sim = Sim::new(scram_config(faults));
    let client = ScramClient::new("alice", "wonderland", "clientnonce123").unwrap();
    let mut c = limited("alice-client", limit);
    c.properties.authentication_method = Some(s(MECHANISM));
    c.properties.authentication_data = Some(Bytes::from(client.client_first()));
    let (conn, first) = sim.try_connect(c);
    let auth = match first {
        Some(Packet::Auth(a)) => Some(a),
        _ => None,
    };
    (auth, sent(&sim, conn))
}

#[test]
fn the_server_auth_leaves_out_its_reason_string_when_it_would_not_fit() {
    let (auth, _) = scram_auth(&[], 100_000);
    let auth = auth.expect("AUTH 0x18");
    assert!(auth.properties.reason_string.is_some());
    let mut bare = auth.clone();
    bare.properties.reason_string = None;
    let bare_len = Packet::Auth(bare).encoded_len(V5).unwrap() as u32;
    let (auth, sizes) = scram_auth(&[], bare_len);
    let auth = auth.expect("AUTH 0x18 without its Reason String");
    assert_eq!(auth.properties.reason_string, None);
    assert!(sizes.iter().all(|(_, len)| *len <= bare_len as usize));
    let (_, sizes) = scram_auth(&["oversized-reason-string"], bare_len);
    assert!(sizes.iter().any(|(_, len)| *len > bare_len as usize));
}

#[test]
fn a_connack_that_cannot_fit_closes_the_connection_instead_of_leaving_the_client_waiting() {
    let mut sim = Sim::default_config();
    // Even the bare CONNACK with the broker's capability properties needs more than 8 bytes.
    let (c, first) = sim.try_connect(limited("tiny", 8));
    assert_eq!(first, None, "nothing larger than 8 bytes is sent");
    assert!(!any_beyond(&sim, c, 8));
    assert!(sim.is_closed(c), "the connection is closed");
}
