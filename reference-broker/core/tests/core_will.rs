//! Will Messages: when they are published and when not, the Will Delay Interval and its
//! interaction with session expiry and reconnection, and what the published message carries.

mod common;

use common::*;
use mqttspec_codec::{
    Connect, Disconnect, Packet, PayloadFormatIndicator, ProtocolVersion, QoS, ReasonCode,
    StatementId,
};

fn with_will(v: ProtocolVersion, id: &str, delay: Option<u32>, expiry: u32) -> Connect {
    let mut c = connect_packet(v, id);
    let mut w = will("will/t", "gone", QoS::AtLeastOnce, false);
    if v == V5 {
        w.properties.will_delay_interval = delay;
        c.properties.session_expiry_interval = Some(expiry);
    }
    c.will = Some(w);
    c
}

fn watcher(sim: &mut Sim, v: ProtocolVersion) -> mqttspec_broker_core::ConnectionId {
    let w = sim.connect(v, "watcher");
    sim.subscribe(w, "will/#", QoS::AtLeastOnce);
    w
}

#[test]
fn the_will_is_published_when_the_network_connection_drops() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let w = watcher(&mut sim, v);
        let (c, _) = sim.connect_with(with_will(v, "dying", None, 0));
        sim.drop_connection(c);
        let got = sim.take_and_ack(w);
        assert_eq!(payloads(&got), vec!["gone"]);
        assert_eq!(got[0].qos(), QoS::AtLeastOnce);
        assert!(!got[0].retain);
        let want = if v == V5 {
            StatementId::V5_3_1_2_8
        } else {
            StatementId::V311_3_1_2_8
        };
        assert!(sim.broker.enforced_statements().contains(&want));
    }
}

#[test]
fn the_will_is_not_published_after_a_normal_disconnect() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let w = watcher(&mut sim, v);
        let (c, _) = sim.connect_with(with_will(v, "leaving", None, 0));
        sim.disconnect(c);
        sim.advance(secs(100));
        assert!(sim.take_publishes(w).is_empty());
    }
}

#[test]
fn disconnect_with_will_message_publishes_the_will() {
    let mut sim = Sim::default_config();
    let w = watcher(&mut sim, V5);
    let (c, _) = sim.connect_with(with_will(V5, "leaving", None, 0));
    sim.send(
        c,
        Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage)),
    );
    assert_eq!(payloads(&sim.take_and_ack(w)), vec!["gone"]);
}

#[test]
fn the_will_is_published_after_a_protocol_error() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let w = watcher(&mut sim, v);
        let (c, _) = sim.connect_with(with_will(v, "bad", None, 0));
        sim.send_raw(c, &[0x00, 0x00]); // reserved packet type 0
        assert!(sim.is_closed(c));
        assert_eq!(payloads(&sim.take_and_ack(w)), vec!["gone"]);
    }
}

#[test]
fn the_will_is_published_after_a_keep_alive_timeout() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let w = watcher(&mut sim, v);
        let mut c = with_will(v, "silent", None, 0);
        c.keep_alive = 10;
        let (conn, _) = sim.connect_with(c);
        sim.advance(secs(14));
        assert!(!sim.is_closed(conn));
        sim.send(w, Packet::PingReq);
        sim.take(w);
        sim.advance(secs(2));
        assert!(sim.is_closed(conn));
        assert_eq!(payloads(&sim.take_and_ack(w)), vec!["gone"]);
    }
}

#[test]
fn the_will_waits_for_its_delay() {
    let mut sim = Sim::default_config();
    let w = watcher(&mut sim, V5);
    let (c, _) = sim.connect_with(with_will(V5, "delayed", Some(10), 100));
    sim.drop_connection(c);
    sim.advance(secs(9));
    assert!(sim.take_publishes(w).is_empty());
    sim.advance(secs(2));
    assert_eq!(payloads(&sim.take_and_ack(w)), vec!["gone"]);
}

#[test]
fn reconnecting_before_the_delay_cancels_the_will() {
    let mut sim = Sim::default_config();
    let w = watcher(&mut sim, V5);
    let (c, _) = sim.connect_with(with_will(V5, "back", Some(10), 100));
    sim.drop_connection(c);
    sim.advance(secs(5));
    let (_, present) = sim.connect_persistent(V5, "back", 100);
    assert!(present);
    sim.advance(secs(20));
    assert!(sim.take_publishes(w).is_empty());
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_3_1_3_9));
}

#[test]
fn the_will_is_published_when_the_session_expires_before_the_delay() {
    let mut sim = Sim::default_config();
    let w = watcher(&mut sim, V5);
    let (c, _) = sim.connect_with(with_will(V5, "short", Some(60), 5));
    sim.drop_connection(c);
    sim.advance(secs(4));
    assert!(sim.take_publishes(w).is_empty());
    sim.advance(secs(2));
    assert_eq!(payloads(&sim.take_and_ack(w)), vec!["gone"]);
    assert!(!sim.broker.has_session("short"));
}

#[test]
fn a_session_that_ends_at_disconnect_publishes_the_will_at_once_despite_a_delay() {
    let mut sim = Sim::default_config();
    let w = watcher(&mut sim, V5);
    let (c, _) = sim.connect_with(with_will(V5, "gone-now", Some(60), 0));
    sim.drop_connection(c);
    assert_eq!(payloads(&sim.take_and_ack(w)), vec!["gone"]);
}

#[test]
fn a_retained_will_is_stored_as_the_retained_message() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let mut c = connect_packet(v, "r");
        c.will = Some(will("will/r", "last", QoS::AtMostOnce, true));
        let (conn, _) = sim.connect_with(c);
        sim.drop_connection(conn);
        let late = sim.connect(v, "late");
        sim.subscribe(late, "will/r", QoS::AtMostOnce);
        let got = sim.take_publishes(late);
        assert_eq!(payloads(&got), vec!["last"]);
        assert!(got[0].retain);
    }
}

#[test]
fn the_will_carries_its_properties_with_user_properties_in_order() {
    let mut sim = Sim::default_config();
    let w = watcher(&mut sim, V5);
    let mut c = connect_packet(V5, "props");
    let mut lw = will("will/p", "{}", QoS::AtMostOnce, false);
    lw.properties.user_properties =
        vec![(s("k"), s("2")), (s("a"), s("1")), (s("k"), s("0"))].into();
    lw.properties.content_type = Some(s("application/json"));
    lw.properties.response_topic = Some(topic("reply/here"));
    lw.properties.correlation_data = Some(bytes::Bytes::from_static(b"corr"));
    lw.properties.payload_format_indicator = Some(PayloadFormatIndicator::Utf8);
    lw.properties.message_expiry_interval = Some(30);
    c.will = Some(lw.clone());
    let (conn, _) = sim.connect_with(c);
    sim.drop_connection(conn);
    let got = sim.take_publishes(w);
    let p = &got[0].properties;
    assert_eq!(p.user_properties, lw.properties.user_properties);
    assert_eq!(p.content_type, lw.properties.content_type);
    assert_eq!(p.response_topic, lw.properties.response_topic);
    assert_eq!(p.correlation_data, lw.properties.correlation_data);
    assert_eq!(
        p.payload_format_indicator,
        Some(PayloadFormatIndicator::Utf8)
    );
    assert_eq!(p.message_expiry_interval, Some(30));
    // A PUBLISH cannot carry a Will Delay Interval: PublishProperties has no such field.
}

#[test]
fn a_takeover_publishes_the_old_will_when_it_has_no_delay() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let w = watcher(&mut sim, v);
        let (old, _) = sim.connect_with(with_will(v, "same", None, 100));
        let _new = sim.connect(v, "same");
        assert!(sim.is_closed(old));
        assert_eq!(payloads(&sim.take_and_ack(w)), vec!["gone"]);
    }
}

#[test]
fn a_takeover_resuming_the_session_before_the_delay_suppresses_the_will() {
    let mut sim = Sim::default_config();
    let w = watcher(&mut sim, V5);
    let (old, _) = sim.connect_with(with_will(V5, "same", Some(30), 100));
    let (_new, present) = sim.connect_persistent(V5, "same", 100);
    assert!(present);
    assert!(sim.is_closed(old));
    sim.advance(secs(60));
    assert!(sim.take_publishes(w).is_empty());
}

#[test]
fn a_takeover_with_clean_start_publishes_the_delayed_will_as_the_session_ends() {
    let mut sim = Sim::default_config();
    let w = watcher(&mut sim, V5);
    let (_old, _) = sim.connect_with(with_will(V5, "same", Some(30), 100));
    let _new = sim.connect(V5, "same");
    assert_eq!(payloads(&sim.take_and_ack(w)), vec!["gone"]);
}

#[test]
fn a_will_with_an_invalid_session_expiry_change_at_disconnect_is_published() {
    let mut sim = Sim::default_config();
    let w = watcher(&mut sim, V5);
    let (c, _) = sim.connect_with(with_will(V5, "liar", None, 0));
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(100);
    sim.send(c, Packet::Disconnect(d));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::ProtocolError)
    );
    assert_eq!(payloads(&sim.take_and_ack(w)), vec!["gone"]);
}
