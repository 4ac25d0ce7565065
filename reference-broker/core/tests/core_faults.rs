//! Fault injection: each named fault makes the broker deviate from the specification in the
//! way it says. Every test here enables one fault and observes the wrong behaviour (the same
//! scenario without the fault is covered by the other core tests).

mod common;

use common::*;
use mqttspec_broker_core::fault::Fault;
use mqttspec_broker_core::{CloseReason, Config};
use mqttspec_codec::{
    Disconnect, Packet, PubAck, QoS, ReasonCode, RetainHandling, SubscriptionOptions,
};
use std::num::{NonZeroU16, NonZeroU32};

/// The faults exercised below; checked against `Fault::ALL` so none is left untested.
const TESTED: &[&str] = &[
    "no-retain-delivery",
    "forward-dup",
    "no-will",
    "will-on-normal-disconnect",
    "ignore-qos2-dedup",
    "no-session-present",
    "wrong-packet-id",
    "no-keepalive-timeout",
    "retain-flag-on-forward",
    "ignore-no-local",
    "no-takeover-disconnect",
    "accept-second-connect",
    "no-redelivery",
    "ignore-receive-maximum",
    "ignore-maximum-packet-size",
    "no-message-expiry",
    "no-subscription-identifiers",
    "no-qos-downgrade",
    "ignore-retain-handling",
    "shared-deliver-all",
    "no-retained-clear",
    "reverse-user-properties",
    "no-unsubscribe",
    "keep-session-on-clean-start",
    "no-session-expiry",
    "accept-invalid-topic-alias",
    // Tested in core_faults_session.rs.
    "ignore-packet-before-connect",
    "client-id-strict-close",
    "duplicate-assigned-client-id",
    "accept-empty-client-id-persistent",
    "no-pingresp",
    "malformed-connack",
    "session-present-on-refusal",
    "discard-session-on-disconnect",
    "keep-session-at-expiry-zero",
    "keep-alive-zero-times-out",
    "keep-alive-pingreq-only",
    "announce-unused-server-keep-alive",
    "reason-string-always",
    "unrequested-response-information",
    "no-takeover",
    "client-id-pattern-match",
    "accept-unknown-auth-method",
    // Tested in core_faults_subscriptions.rs.
    "ignore-malformed-subscribe",
    "wrong-subscribe-ack-id",
    "keep-old-subscription",
    "overlapping-lowest-qos",
    "ignore-retain-as-published",
    "plus-skips-empty-levels",
    "normalise-topic-names",
    "retain-zero-replaces",
    "unenforced-retain-available",
    // Tested in core_faults_v5_features.rs.
    "shared-first-group-only",
    "retained-to-shared",
    "unenforced-shared-subscription-available",
    "forget-topic-aliases",
    "send-topic-aliases",
    "unenforced-receive-maximum",
    "unenforced-maximum-packet-size",
    "accept-unexpected-auth",
    "auth-continue-as-success",
    "accept-wrong-password",
    "hang-on-reserved-type",
    "hang-on-multibyte-topic-start",
];

#[test]
fn every_fault_tested_here_exists() {
    // Faults added later (with their own tests elsewhere) may be missing from this list,
    // but every name here must still parse.
    for name in TESTED {
        assert!(name.parse::<Fault>().is_ok(), "{name}");
    }
    assert!(TESTED.len() >= 15);
}

#[test]
fn no_retain_delivery_skips_retained_messages_on_subscribe() {
    let mut sim = Sim::with_faults(&["no-retain-delivery"]);
    let p = sim.connect(V5, "pub");
    sim.publish_retained(p, "r", QoS::AtMostOnce, "x");
    let s = sim.connect(V5, "sub");
    sim.subscribe(s, "r", QoS::AtMostOnce);
    assert!(sim.take_publishes(s).is_empty());
}

#[test]
fn forward_dup_copies_the_incoming_dup_flag() {
    let mut sim = Sim::with_faults(&["forward-dup"]);
    let s = sim.connect(V311, "sub");
    sim.subscribe(s, "t", QoS::AtLeastOnce);
    let p = sim.connect(V311, "pub");
    let mut m = publish("t", QoS::AtLeastOnce, "x");
    m.dup = true;
    m.set_packet_id(pid(1));
    sim.send(p, Packet::Publish(m));
    assert!(sim.take_publishes(s)[0].dup);
}

#[test]
fn no_will_never_publishes_the_will() {
    let mut sim = Sim::with_faults(&["no-will"]);
    let w = sim.connect(V5, "w");
    sim.subscribe(w, "will", QoS::AtMostOnce);
    let mut c = connect_packet(V5, "dying");
    c.will = Some(will("will", "x", QoS::AtMostOnce, false));
    let (c, _) = sim.connect_with(c);
    sim.drop_connection(c);
    assert!(sim.take_publishes(w).is_empty());
}

#[test]
fn will_on_normal_disconnect_publishes_after_disconnect_0x00() {
    let mut sim = Sim::with_faults(&["will-on-normal-disconnect"]);
    let w = sim.connect(V311, "w");
    sim.subscribe(w, "will", QoS::AtMostOnce);
    let mut c = connect_packet(V311, "leaving");
    c.will = Some(will("will", "x", QoS::AtMostOnce, false));
    let (c, _) = sim.connect_with(c);
    sim.disconnect(c);
    assert_eq!(sim.take_publishes(w).len(), 1);
}

#[test]
fn ignore_qos2_dedup_forwards_a_repeated_qos2_publish_again() {
    let mut sim = Sim::with_faults(&["ignore-qos2-dedup"]);
    let s = sim.connect(V5, "sub");
    sim.subscribe(s, "t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    let mut m = publish("t", QoS::ExactlyOnce, "x");
    m.set_packet_id(pid(1));
    sim.send(p, Packet::Publish(m.clone()));
    m.dup = true;
    sim.send(p, Packet::Publish(m));
    assert_eq!(sim.take_publishes(s).len(), 2);
}

#[test]
fn no_session_present_reports_0_for_a_resumed_session() {
    let mut sim = Sim::with_faults(&["no-session-present"]);
    let (c, _) = sim.connect_persistent(V5, "a", 100);
    sim.drop_connection(c);
    let (_, present) = sim.connect_persistent(V5, "a", 100);
    assert!(!present);
}

#[test]
fn wrong_packet_id_acknowledges_with_another_id() {
    let mut sim = Sim::with_faults(&["wrong-packet-id"]);
    let c = sim.connect(V311, "a");
    let mut m = publish("t", QoS::AtLeastOnce, "x");
    m.set_packet_id(pid(10));
    sim.send(c, Packet::Publish(m));
    assert_eq!(sim.take(c), vec![Packet::PubAck(PubAck::new(pid(11)))]);
}

#[test]
fn no_keepalive_timeout_keeps_silent_clients() {
    let mut sim = Sim::with_faults(&["no-keepalive-timeout"]);
    let mut c = connect_packet(V5, "a");
    c.keep_alive = 1;
    let (c, _) = sim.connect_with(c);
    sim.advance(secs(100));
    assert!(!sim.is_closed(c));
}

#[test]
fn retain_flag_on_forward_keeps_retain_1_for_established_subscriptions() {
    let mut sim = Sim::with_faults(&["retain-flag-on-forward"]);
    let s = sim.connect(V311, "sub");
    sim.subscribe(s, "r", QoS::AtMostOnce);
    let p = sim.connect(V311, "pub");
    sim.publish_retained(p, "r", QoS::AtMostOnce, "x");
    assert!(sim.take_publishes(s)[0].retain);
}

#[test]
fn ignore_no_local_sends_a_clients_own_messages_back() {
    let mut sim = Sim::with_faults(&["ignore-no-local"]);
    let c = sim.connect(V5, "self");
    let o = SubscriptionOptions {
        no_local: true,
        ..opts(QoS::AtMostOnce)
    };
    sim.subscribe_with(c, "t", o, None);
    sim.publish(c, "t", QoS::AtMostOnce, "mine");
    assert_eq!(sim.take_publishes(c).len(), 1);
}

#[test]
fn no_takeover_disconnect_closes_the_old_connection_without_0x8e() {
    let mut sim = Sim::with_faults(&["no-takeover-disconnect"]);
    let old = sim.connect(V5, "same");
    sim.connect(V5, "same");
    assert!(sim.take(old).is_empty());
    assert_eq!(sim.closed(old), Some(&CloseReason::SessionTakenOver));
}

#[test]
fn accept_second_connect_ignores_a_second_connect() {
    let mut sim = Sim::with_faults(&["accept-second-connect"]);
    let c = sim.connect(V5, "a");
    sim.send(c, Packet::Connect(Box::new(connect_packet(V5, "a"))));
    assert!(!sim.is_closed(c));
}

#[test]
fn no_redelivery_skips_unacknowledged_messages_on_resume() {
    let mut sim = Sim::with_faults(&["no-redelivery"]);
    let (s, _) = sim.connect_persistent(V5, "sub", 100);
    sim.subscribe(s, "t", QoS::AtLeastOnce);
    let p = sim.connect(V5, "pub");
    sim.publish(p, "t", QoS::AtLeastOnce, "x");
    assert_eq!(sim.take_publishes(s).len(), 1);
    sim.drop_connection(s);
    let (s, _) = sim.connect_persistent(V5, "sub", 100);
    assert!(sim.take_publishes(s).is_empty());
}

#[test]
fn ignore_receive_maximum_sends_beyond_the_clients_limit() {
    let mut sim = Sim::with_faults(&["ignore-receive-maximum"]);
    let mut c = connect_packet(V5, "sub");
    c.properties.receive_maximum = NonZeroU16::new(1);
    let (s, _) = sim.connect_with(c);
    sim.subscribe(s, "t", QoS::AtLeastOnce);
    let p = sim.connect(V5, "pub");
    for _ in 0..3 {
        sim.publish(p, "t", QoS::AtLeastOnce, "x");
    }
    assert_eq!(sim.take_publishes(s).len(), 3);
}

#[test]
fn ignore_maximum_packet_size_sends_oversized_packets() {
    let mut sim = Sim::with_faults(&["ignore-maximum-packet-size"]);
    let mut c = connect_packet(V5, "sub");
    c.properties.maximum_packet_size = NonZeroU32::new(30);
    let (s, _) = sim.connect_with(c);
    sim.subscribe(s, "t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    sim.publish(p, "t", QoS::AtMostOnce, &"x".repeat(100));
    assert_eq!(sim.take_publishes(s).len(), 1);
}

#[test]
fn no_message_expiry_delivers_expired_messages_with_the_original_interval() {
    let mut sim = Sim::with_faults(&["no-message-expiry"]);
    let (s, _) = sim.connect_persistent(V5, "sub", 100);
    sim.subscribe(s, "t", QoS::AtLeastOnce);
    sim.drop_connection(s);
    let p = sim.connect(V5, "pub");
    let mut m = publish("t", QoS::AtLeastOnce, "old");
    m.properties.message_expiry_interval = Some(5);
    sim.publish_msg(p, m);
    sim.advance(secs(10));
    let (s, _) = sim.connect_persistent(V5, "sub", 100);
    let got = sim.take_publishes(s);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].properties.message_expiry_interval, Some(5));
}

#[test]
fn no_subscription_identifiers_drops_them_from_deliveries() {
    let mut sim = Sim::with_faults(&["no-subscription-identifiers"]);
    let s = sim.connect(V5, "sub");
    sim.subscribe_with(s, "t", opts(QoS::AtMostOnce), Some(9));
    let p = sim.connect(V5, "pub");
    sim.publish(p, "t", QoS::AtMostOnce, "x");
    assert!(sim.take_publishes(s)[0]
        .properties
        .subscription_identifiers
        .is_empty());
}

#[test]
fn no_qos_downgrade_delivers_above_the_granted_qos() {
    let mut sim = Sim::with_faults(&["no-qos-downgrade"]);
    let s = sim.connect(V311, "sub");
    sim.subscribe(s, "t", QoS::AtMostOnce);
    let p = sim.connect(V311, "pub");
    sim.publish(p, "t", QoS::AtLeastOnce, "x");
    assert_eq!(sim.take_publishes(s)[0].qos(), QoS::AtLeastOnce);
}

#[test]
fn ignore_retain_handling_sends_retained_messages_despite_2() {
    let mut sim = Sim::with_faults(&["ignore-retain-handling"]);
    let p = sim.connect(V5, "pub");
    sim.publish_retained(p, "r", QoS::AtMostOnce, "x");
    let s = sim.connect(V5, "sub");
    let o = SubscriptionOptions {
        retain_handling: RetainHandling::DoNotSend,
        ..opts(QoS::AtMostOnce)
    };
    sim.subscribe_with(s, "r", o, None);
    assert_eq!(sim.take_publishes(s).len(), 1);
}

#[test]
fn shared_deliver_all_gives_every_member_a_copy() {
    let mut sim = Sim::with_faults(&["shared-deliver-all"]);
    let a = sim.connect(V5, "a");
    let b = sim.connect(V5, "b");
    sim.subscribe(a, "$share/g/t", QoS::AtMostOnce);
    sim.subscribe(b, "$share/g/t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    sim.publish(p, "t", QoS::AtMostOnce, "x");
    assert_eq!(sim.take_publishes(a).len() + sim.take_publishes(b).len(), 2);
}

#[test]
fn no_retained_clear_keeps_the_retained_message_after_an_empty_payload() {
    let mut sim = Sim::with_faults(&["no-retained-clear"]);
    let p = sim.connect(V311, "pub");
    sim.publish_retained(p, "r", QoS::AtMostOnce, "x");
    sim.publish_retained(p, "r", QoS::AtMostOnce, "");
    let s = sim.connect(V311, "sub");
    sim.subscribe(s, "r", QoS::AtMostOnce);
    assert_eq!(payloads(&sim.take_publishes(s)), vec!["x"]);
}

#[test]
fn reverse_user_properties_changes_their_order() {
    let mut sim = Sim::with_faults(&["reverse-user-properties"]);
    let s = sim.connect(V5, "sub");
    sim.subscribe(s, "t", QoS::AtMostOnce);
    let p = sim.connect(V5, "pub");
    let mut m = publish("t", QoS::AtMostOnce, "x");
    m.properties.user_properties = vec![
        (common::s("a"), common::s("1")),
        (common::s("b"), common::s("2")),
    ]
    .into();
    sim.publish_msg(p, m);
    let got = sim.take_publishes(s);
    assert_eq!(
        got[0]
            .properties
            .user_properties
            .get(0)
            .map(|(name, _)| name),
        Some("b")
    );
}

#[test]
fn no_unsubscribe_keeps_delivering_after_unsuback() {
    let mut sim = Sim::with_faults(&["no-unsubscribe"]);
    let s = sim.connect(V5, "sub");
    sim.subscribe(s, "t", QoS::AtMostOnce);
    sim.unsubscribe(s, "t");
    let p = sim.connect(V5, "pub");
    sim.publish(p, "t", QoS::AtMostOnce, "x");
    assert_eq!(sim.take_publishes(s).len(), 1);
}

#[test]
fn keep_session_on_clean_start_resumes_the_old_session() {
    let mut sim = Sim::with_faults(&["keep-session-on-clean-start"]);
    let (c, _) = sim.connect_persistent(V311, "a", 0);
    sim.subscribe(c, "t", QoS::AtMostOnce);
    sim.drop_connection(c);
    let (c, ack) = sim.connect_with(connect_packet(V311, "a"));
    assert!(ack.session_present);
    let p = sim.connect(V311, "pub");
    sim.publish(p, "t", QoS::AtMostOnce, "x");
    assert_eq!(sim.take_publishes(c).len(), 1);
}

#[test]
fn no_session_expiry_keeps_expired_sessions() {
    let mut sim = Sim::with_faults(&["no-session-expiry"]);
    let (c, _) = sim.connect_persistent(V5, "a", 5);
    sim.drop_connection(c);
    sim.advance(secs(100));
    assert!(sim.broker.has_session("a"));
}

#[test]
fn accept_invalid_topic_alias_takes_aliases_above_the_maximum() {
    let mut sim = Sim::new(Config {
        topic_alias_maximum: 1,
        faults: vec!["accept-invalid-topic-alias".into()],
        ..Config::default()
    });
    let c = sim.connect(V5, "a");
    let mut m = publish("t", QoS::AtMostOnce, "x");
    m.properties.topic_alias = NonZeroU16::new(5);
    sim.send(c, Packet::Publish(m));
    assert!(!sim.is_closed(c));
}

#[test]
fn without_faults_the_same_scenarios_follow_the_spec() {
    // A sample of the scenarios above with no fault, to show the tests can tell apart.
    let mut sim = Sim::default_config();
    let c = sim.connect(V311, "a");
    let mut m = publish("t", QoS::AtLeastOnce, "x");
    m.set_packet_id(pid(10));
    sim.send(c, Packet::Publish(m));
    assert_eq!(sim.take(c), vec![Packet::PubAck(PubAck::new(pid(10)))]);
    let old = sim.connect(V5, "same");
    sim.connect(V5, "same");
    assert_eq!(
        disconnect_code(&sim.take(old)),
        Some(ReasonCode::SessionTakenOver)
    );
    let x = sim.connect(V5, "x");
    sim.send(x, Packet::Disconnect(Disconnect::default()));
    assert!(sim.is_closed(x));
}

#[test]
fn hang_on_multibyte_topic_start_stops_answering_everyone() {
    let mut sim = Sim::with_faults(&["hang-on-multibyte-topic-start"]);
    let a = sim.connect(V5, "a");
    sim.send(
        a,
        Packet::Publish(publish("ascii/first", QoS::AtMostOnce, "x")),
    );
    sim.send(a, Packet::PingReq);
    assert!(
        !sim.take(a).is_empty(),
        "an ASCII first character is served"
    );
    sim.send(
        a,
        Packet::Publish(publish("\u{e9}t\u{e9}/x", QoS::AtMostOnce, "x")),
    );
    sim.send(a, Packet::PingReq);
    assert!(sim.take(a).is_empty(), "no PINGRESP once hung");
    let (_, answer) = sim.try_connect(connect_packet(V311, "b"));
    assert!(answer.is_none(), "a new client gets no CONNACK: {answer:?}");
}

#[test]
fn hang_on_reserved_type_stops_answering_everyone() {
    let mut sim = Sim::with_faults(&["hang-on-reserved-type"]);
    let a = sim.connect(V311, "a");
    sim.send_raw(a, &[0x00, 0x00]);
    sim.send(a, Packet::PingReq);
    assert!(sim.take(a).is_empty(), "no PINGRESP once hung");
    let (_, answer) = sim.try_connect(connect_packet(V5, "b"));
    assert!(answer.is_none(), "a new client gets no CONNACK: {answer:?}");
    assert_eq!(
        sim.broker.poll_timeout(),
        None,
        "no timer keeps the shell busy"
    );
}
