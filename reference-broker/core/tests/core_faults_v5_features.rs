//! Faults in the MQTT 5.0 features (shared subscriptions, topic aliases, flow control,
//! maximum packet size, enhanced authentication): each test enables one fault and observes
//! the wrong behaviour it names. The same scenarios without the fault are covered by the
//! feature tests (core_shared.rs, core_topic_alias.rs, core_flow_control.rs, core_auth.rs).

mod common;

use bytes::Bytes;
use common::*;
use mqttspec_broker_core::config::User;
use mqttspec_broker_core::scram::{ScramClient, MECHANISM};
use mqttspec_broker_core::Config;
use mqttspec_codec::{Auth, Packet, PubRec, QoS, ReasonCode};
use std::num::NonZeroU16;

fn with(config: Config, fault: &str) -> Sim {
    Sim::new(Config {
        faults: vec![fault.to_owned()],
        ..config
    })
}

#[test]
fn shared_first_group_only_gives_a_message_to_one_shared_subscription() {
    let mut sim = Sim::with_faults(&["shared-first-group-only"]);
    let a = sim.connect(V5, "a");
    let b = sim.connect(V5, "b");
    sim.subscribe(a, "$share/g1/t", QoS::AtMostOnce);
    sim.subscribe(b, "$share/g2/t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    sim.publish(p, "t", QoS::AtMostOnce, "x");
    assert_eq!(sim.take_publishes(a).len() + sim.take_publishes(b).len(), 1);
}

#[test]
fn retained_to_shared_sends_retained_messages_to_a_new_shared_subscription() {
    let mut sim = Sim::with_faults(&["retained-to-shared"]);
    let p = sim.connect(V5, "pub");
    sim.publish_retained(p, "t", QoS::AtMostOnce, "kept");
    let a = sim.connect(V5, "a");
    sim.subscribe(a, "$share/g/t", QoS::AtMostOnce);
    assert_eq!(payloads(&sim.take_publishes(a)), ["kept"]);
}

#[test]
fn unenforced_shared_subscription_available_announces_0_and_still_grants() {
    let mut sim = Sim::with_faults(&["unenforced-shared-subscription-available"]);
    let (a, ack) = sim.connect_with(connect_packet(V5, "a"));
    assert_eq!(ack.properties.shared_subscription_available, Some(false));
    sim.subscribe(a, "$share/g/t", QoS::AtMostOnce);
    assert!(!sim.is_closed(a));
}

#[test]
fn forget_topic_aliases_drops_a_publish_that_uses_only_an_alias() {
    let mut sim = Sim::with_faults(&["forget-topic-aliases"]);
    let s = sim.connect(V5, "sub");
    sim.subscribe(s, "t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    let mut named = publish("t", QoS::AtMostOnce, "named");
    named.properties.topic_alias = NonZeroU16::new(1);
    sim.send(p, Packet::Publish(named));
    let mut aliased = publish("", QoS::AtMostOnce, "aliased");
    aliased.properties.topic_alias = NonZeroU16::new(1);
    sim.send(p, Packet::Publish(aliased));
    assert_eq!(payloads(&sim.take_publishes(s)), ["named"]);
    assert!(!sim.is_closed(p));
}

#[test]
fn send_topic_aliases_sends_an_alias_to_a_client_that_accepts_none() {
    let mut sim = Sim::with_faults(&["send-topic-aliases"]);
    let s = sim.connect(V5, "sub");
    sim.subscribe(s, "t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    sim.publish(p, "t", QoS::AtMostOnce, "x");
    let got = sim.take_publishes(s);
    assert_eq!(got[0].properties.topic_alias, NonZeroU16::new(u16::MAX));
}

#[test]
fn unenforced_receive_maximum_accepts_more_unacknowledged_publishes() {
    let config = Config {
        receive_maximum: 2,
        ..Config::default()
    };
    let mut sim = with(config, "unenforced-receive-maximum");
    let p = sim.connect(V5, "pub");
    for i in 1..=3 {
        let mut m = publish("t", QoS::ExactlyOnce, "x");
        m.set_packet_id(pid(i));
        sim.send(p, Packet::Publish(m));
    }
    let recs = sim
        .take(p)
        .into_iter()
        .filter(|p| matches!(p, Packet::PubRec(PubRec { .. })))
        .count();
    assert_eq!(recs, 3);
    assert!(!sim.is_closed(p));
}

#[test]
fn unenforced_maximum_packet_size_accepts_larger_packets() {
    let config = Config {
        maximum_packet_size: 100,
        ..Config::default()
    };
    let mut sim = with(config, "unenforced-maximum-packet-size");
    let (s, ack) = sim.connect_with(connect_packet(V5, "sub"));
    assert_eq!(
        ack.properties.maximum_packet_size.map(|m| m.get()),
        Some(100)
    );
    sim.subscribe(s, "t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    sim.publish(p, "t", QoS::AtMostOnce, &"x".repeat(200));
    assert!(!sim.is_closed(p));
    assert_eq!(sim.take_publishes(s).len(), 1);
}

#[test]
fn accept_unexpected_auth_ignores_auth_without_enhanced_authentication() {
    let mut sim = Sim::with_faults(&["accept-unexpected-auth"]);
    let c = sim.connect(V5, "c");
    let mut a = Auth {
        reason_code: ReasonCode::ReAuthenticate,
        ..Auth::default()
    };
    a.properties.authentication_method = Some(s(MECHANISM));
    sim.send(c, Packet::Auth(a));
    assert!(!sim.is_closed(c));
    assert!(sim.take(c).is_empty());
}

#[test]
fn auth_continue_as_success_sends_auth_0x00_for_server_first() {
    let config = Config {
        users: vec![User {
            username: "alice".into(),
            password: "wonderland".into(),
        }],
        ..Config::default()
    };
    let mut sim = with(config, "auth-continue-as-success");
    let client = ScramClient::new("alice", "wonderland", "clientnonce123").unwrap();
    let mut connect = connect_packet(V5, "alice-client");
    connect.properties.authentication_method = Some(s(MECHANISM));
    connect.properties.authentication_data = Some(Bytes::from(client.client_first()));
    let (_, first) = sim.try_connect(connect);
    match first {
        Some(Packet::Auth(a)) => assert_eq!(a.reason_code, ReasonCode::Success),
        other => panic!("expected AUTH, got {other:?}"),
    }
}

#[test]
fn accept_wrong_password_lets_a_wrong_password_in() {
    let config = || Config {
        users: vec![User {
            username: "alice".into(),
            password: "wonderland".into(),
        }],
        ..Config::default()
    };
    let wrong = || {
        let mut connect = connect_packet(V311, "alice-client");
        connect.username = Some(s("alice"));
        connect.password = Some(Bytes::from_static(b"looking-glass"));
        connect
    };
    let mut healthy = Sim::new(config());
    match healthy.try_connect(wrong()).1 {
        Some(Packet::ConnAck(ack)) => {
            assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword)
        }
        other => panic!("expected a refusing CONNACK, got {other:?}"),
    }
    let mut faulty = with(config(), "accept-wrong-password");
    match faulty.try_connect(wrong()).1 {
        Some(Packet::ConnAck(ack)) => assert_eq!(ack.reason_code, ReasonCode::Success),
        other => panic!("expected an accepting CONNACK, got {other:?}"),
    }
}
