//! Fault injection for Will Messages and DISCONNECT: each fault makes the broker deviate in
//! the way it says (the healthy behaviour is covered by `core_will.rs` and the other core
//! tests).

mod common;

use common::*;
use mqttspec_codec::{Connect, Disconnect, Packet, QoS, ReasonCode};

/// A subscriber to `will` and a client `dying` with a Will on `will` (Will Delay `delay`,
/// Session Expiry `expiry`); returns (subscriber, client).
fn with_will(
    sim: &mut Sim,
    v: mqttspec_codec::ProtocolVersion,
    qos: QoS,
    retain: bool,
    delay: Option<u32>,
    expiry: Option<u32>,
) -> (
    mqttspec_broker_core::ConnectionId,
    mqttspec_broker_core::ConnectionId,
) {
    let w = sim.connect(v, "w");
    sim.subscribe(w, "will", QoS::ExactlyOnce);
    let mut c: Connect = connect_packet(v, "dying");
    let mut lw = will("will", "x", qos, retain);
    lw.properties.will_delay_interval = delay;
    c.will = Some(lw);
    c.properties.session_expiry_interval = expiry;
    let (c, _) = sim.connect_with(c);
    (w, c)
}

#[test]
fn will_at_qos_0_publishes_the_will_at_qos_0() {
    let mut sim = Sim::with_faults(&["will-at-qos-0"]);
    let (w, c) = with_will(&mut sim, V311, QoS::AtLeastOnce, false, None, None);
    sim.drop_connection(c);
    assert_eq!(sim.take_publishes(w)[0].qos(), QoS::AtMostOnce);
}

#[test]
fn will_retain_flipped_retains_a_will_with_retain_0() {
    let mut sim = Sim::with_faults(&["will-retain-flipped"]);
    let (_, c) = with_will(&mut sim, V5, QoS::AtMostOnce, false, None, None);
    sim.drop_connection(c);
    let late = sim.connect(V5, "late");
    sim.subscribe(late, "will", QoS::AtMostOnce);
    assert_eq!(sim.take_publishes(late).len(), 1);
}

#[test]
fn drop_will_properties_publishes_without_them() {
    let mut sim = Sim::with_faults(&["drop-will-properties"]);
    let w = sim.connect(V5, "w");
    sim.subscribe(w, "will", QoS::AtMostOnce);
    let mut c = connect_packet(V5, "dying");
    let mut lw = will("will", "x", QoS::AtMostOnce, false);
    lw.properties.content_type = Some(s("text/plain"));
    c.will = Some(lw);
    let (c, _) = sim.connect_with(c);
    sim.drop_connection(c);
    assert_eq!(sim.take_publishes(w)[0].properties.content_type, None);
}

#[test]
fn ignore_will_delay_publishes_at_the_close() {
    let mut sim = Sim::with_faults(&["ignore-will-delay"]);
    let (w, c) = with_will(&mut sim, V5, QoS::AtMostOnce, false, Some(10), Some(60));
    sim.drop_connection(c);
    assert_eq!(sim.take_publishes(w).len(), 1);
}

#[test]
fn will_on_resume_publishes_the_waiting_will_when_the_session_resumes() {
    let mut sim = Sim::with_faults(&["will-on-resume"]);
    let (w, c) = with_will(&mut sim, V5, QoS::AtMostOnce, false, Some(10), Some(60));
    sim.drop_connection(c);
    assert!(sim.take_publishes(w).is_empty());
    sim.connect_persistent(V5, "dying", 60);
    assert_eq!(sim.take_publishes(w).len(), 1);
}

#[test]
fn no_will_at_session_end_drops_a_delayed_will_when_the_session_ends() {
    let mut sim = Sim::with_faults(&["no-will-at-session-end"]);
    let (w, c) = with_will(&mut sim, V5, QoS::AtMostOnce, false, Some(60), Some(1));
    sim.drop_connection(c);
    sim.advance(secs(120));
    assert!(sim.take_publishes(w).is_empty());
}

#[test]
fn disconnect_always_normal_discards_the_will_on_0x04() {
    let mut sim = Sim::with_faults(&["disconnect-always-normal"]);
    let (w, c) = with_will(&mut sim, V5, QoS::AtMostOnce, false, None, None);
    sim.send(
        c,
        Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage)),
    );
    assert!(sim.take_publishes(w).is_empty());
}

#[test]
fn lenient_disconnect_takes_a_malformed_disconnect_as_normal() {
    let mut sim = Sim::with_faults(&["lenient-disconnect"]);
    let (w, c) = with_will(&mut sim, V311, QoS::AtMostOnce, false, None, None);
    sim.send_raw(c, &[0xE2, 0x00]);
    assert!(sim.is_closed(c));
    assert!(sim.take_publishes(w).is_empty());
}

#[test]
fn connack_malformed_connect_accepts_will_qos_3() {
    let mut sim = Sim::with_faults(&["connack-malformed-connect"]);
    let c = sim.open();
    // CONNECT 5.0, Clean Start, Will Flag, Will QoS 3, Will Topic "w", Will Payload "x".
    let bytes = [
        0x10, 0x15, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x1E, 0x00, 0x3C, 0x00, 0x00, 0x01,
        b'c', 0x00, 0x00, 0x01, b'w', 0x00, 0x01, b'x',
    ];
    sim.send_raw(c, &bytes);
    assert!(matches!(
        connack(&sim.take(c)),
        Some(ack) if ack.reason_code == ReasonCode::Success
    ));
}

#[test]
fn accept_session_expiry_from_zero_takes_the_disconnect_as_valid() {
    let mut sim = Sim::with_faults(&["accept-session-expiry-from-zero"]);
    let c = sim.connect(V5, "a");
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(60);
    sim.send(c, Packet::Disconnect(d));
    assert_eq!(disconnect_code(&sim.take(c)), None);
    let (_, present) = sim.connect_persistent(V5, "a", 60);
    assert!(present);
}

#[test]
fn ignore_disconnect_session_expiry_keeps_the_connect_interval() {
    let mut sim = Sim::with_faults(&["ignore-disconnect-session-expiry"]);
    let (c, _) = sim.connect_persistent(V5, "a", 60);
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(0);
    sim.send(c, Packet::Disconnect(d));
    let (_, present) = sim.connect_persistent(V5, "a", 60);
    assert!(present);
}

#[test]
fn packet_after_disconnect_sends_pingresp_after_the_servers_disconnect() {
    let mut sim = Sim::with_faults(&["packet-after-disconnect"]);
    let old = sim.connect(V5, "same");
    sim.connect(V5, "same");
    let got = sim.take(old);
    assert!(matches!(
        got.as_slice(),
        [Packet::Disconnect(_), Packet::PingResp]
    ));
}
