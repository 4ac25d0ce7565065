//! Sessions: Clean Start / Clean Session, Session Present, Session Expiry (0, finite, never,
//! changed at DISCONNECT), queued messages for offline sessions and their bound, redelivery
//! on resumption, QoS 2 state across connections, message expiry while queued.

mod common;

use common::*;
use mqttspec_broker_core::Config;
use mqttspec_codec::{Disconnect, Packet, PubComp, PubRec, PubRel, QoS, ReasonCode, StatementId};

#[test]
fn clean_start_discards_the_old_session() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let (c, present) = sim.connect_persistent(v, "a", 100);
        assert!(!present);
        sim.subscribe(c, "t", QoS::AtLeastOnce);
        sim.drop_connection(c);
        let c = sim.connect(v, "a");
        let publ = sim.connect(v, "pub");
        sim.publish(publ, "t", QoS::AtLeastOnce, "x");
        assert!(
            sim.take_publishes(c).is_empty(),
            "subscription was discarded"
        );
    }
}

#[test]
fn resuming_a_session_reports_it_present_and_keeps_subscriptions_and_queue() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let (c, _) = sim.connect_persistent(v, "a", 100);
        sim.subscribe(c, "t", QoS::AtLeastOnce);
        sim.drop_connection(c);
        let publ = sim.connect(v, "pub");
        sim.publish(publ, "t", QoS::AtLeastOnce, "while away");
        assert_eq!(sim.broker.queued_messages("a"), Some(1));
        let (c, present) = sim.connect_persistent(v, "a", 100);
        assert!(present);
        assert_eq!(payloads(&sim.take_and_ack(c)), vec!["while away"]);
        let want = if v == V5 {
            StatementId::V5_3_2_2_3
        } else {
            StatementId::V311_3_2_2_2
        };
        assert!(sim.broker.enforced_statements().contains(&want));
    }
}

#[test]
fn a_new_persistent_session_is_not_present() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let (_, present) = sim.connect_persistent(v, "fresh", 100);
        assert!(!present);
    }
}

#[test]
fn a_311_clean_session_0_lasts_forever() {
    let mut sim = Sim::default_config();
    let (c, _) = sim.connect_persistent(V311, "a", 0);
    sim.drop_connection(c);
    sim.advance(secs(10 * 365 * 24 * 3600));
    assert!(sim.broker.has_session("a"));
    assert_eq!(sim.broker.poll_timeout(), None);
}

#[test]
fn session_expiry_0_ends_the_session_at_disconnect() {
    let mut sim = Sim::default_config();
    let (c, _) = sim.connect_persistent(V5, "a", 0);
    sim.drop_connection(c);
    assert!(!sim.broker.has_session("a"));
}

#[test]
fn a_finite_session_expiry_ends_the_session_after_the_interval() {
    let mut sim = Sim::default_config();
    let (c, _) = sim.connect_persistent(V5, "a", 30);
    sim.drop_connection(c);
    sim.advance(secs(29));
    assert!(sim.broker.has_session("a"));
    sim.advance(secs(2));
    assert!(!sim.broker.has_session("a"));
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_4_1_0_2));
    let (_, present) = sim.connect_persistent(V5, "a", 30);
    assert!(!present);
}

#[test]
fn session_expiry_0xffffffff_never_ends() {
    let mut sim = Sim::default_config();
    let (c, _) = sim.connect_persistent(V5, "a", u32::MAX);
    sim.drop_connection(c);
    sim.advance(secs(u64::from(u32::MAX) + 10));
    assert!(sim.broker.has_session("a"));
}

#[test]
fn disconnect_can_change_the_session_expiry() {
    let mut sim = Sim::default_config();
    let (c, _) = sim.connect_persistent(V5, "short", 100);
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(0);
    sim.send(c, Packet::Disconnect(d));
    assert!(!sim.broker.has_session("short"));

    let (c, _) = sim.connect_persistent(V5, "long", 10);
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(1000);
    sim.send(c, Packet::Disconnect(d));
    sim.advance(secs(500));
    assert!(sim.broker.has_session("long"));
    sim.advance(secs(501));
    assert!(!sim.broker.has_session("long"));
}

#[test]
fn changing_the_session_expiry_from_0_at_disconnect_is_a_protocol_error() {
    let mut sim = Sim::default_config();
    let c = sim.connect(V5, "a");
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(10);
    sim.send(c, Packet::Disconnect(d));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::ProtocolError)
    );
    assert!(sim.is_closed(c));
    assert!(!sim.broker.has_session("a"));
}

#[test]
fn unacknowledged_messages_are_resent_with_dup_and_the_same_ids_on_resume() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let (sub, _) = sim.connect_persistent(v, "sub", 100);
        sim.subscribe(sub, "t", QoS::ExactlyOnce);
        let publ = sim.connect(v, "pub");
        sim.publish(publ, "t", QoS::AtLeastOnce, "one");
        sim.publish(publ, "t", QoS::ExactlyOnce, "two");
        sim.publish(publ, "t", QoS::ExactlyOnce, "three");
        let first = sim.take_publishes(sub);
        assert_eq!(payloads(&first), vec!["one", "two", "three"]);
        assert!(first.iter().all(|p| !p.dup));
        // "three" gets as far as PUBREC/PUBREL.
        let three = first[2].packet_id().unwrap();
        sim.send(sub, Packet::PubRec(PubRec::new(three)));
        assert_eq!(sim.take(sub), vec![Packet::PubRel(PubRel::new(three))]);
        sim.drop_connection(sub);

        let (sub, present) = sim.connect_persistent(v, "sub", 100);
        assert!(present);
        let got = sim.take(sub);
        // PUBREL for the one in PUBCOMP state first, then the two PUBLISH packets again.
        assert_eq!(got[0], Packet::PubRel(PubRel::new(three)));
        let again: Vec<_> = got[1..]
            .iter()
            .map(|p| match p {
                Packet::Publish(p) => p.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(payloads(&again), vec!["one", "two"]);
        assert!(again.iter().all(|p| p.dup));
        assert_eq!(again[0].packet_id(), first[0].packet_id());
        assert_eq!(again[1].packet_id(), first[1].packet_id());
        for p in &again {
            sim.ack(sub, p);
        }
        sim.send(sub, Packet::PubComp(PubComp::new(three)));
        assert!(sim.take(sub).is_empty());
        // Nothing more is resent on a further resume.
        sim.drop_connection(sub);
        let (sub, _) = sim.connect_persistent(v, "sub", 100);
        assert!(sim.take(sub).is_empty());
    }
}

#[test]
fn inbound_qos2_state_survives_a_reconnection() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let watcher = sim.connect(v, "watcher");
        sim.subscribe(watcher, "t", QoS::AtMostOnce);
        let (c, _) = sim.connect_persistent(v, "pub", 100);
        let mut p = publish("t", QoS::ExactlyOnce, "x");
        p.set_packet_id(pid(4));
        sim.send(c, Packet::Publish(p.clone()));
        sim.take(c);
        sim.drop_connection(c);
        let (c, _) = sim.connect_persistent(v, "pub", 100);
        // The client resends the PUBLISH (DUP) before PUBREL: not forwarded twice.
        p.dup = true;
        sim.send(c, Packet::Publish(p));
        assert_eq!(sim.take(c), vec![Packet::PubRec(PubRec::new(pid(4)))]);
        sim.send(c, Packet::PubRel(PubRel::new(pid(4))));
        assert_eq!(sim.take(c), vec![Packet::PubComp(PubComp::new(pid(4)))]);
        assert_eq!(payloads(&sim.take_publishes(watcher)), vec!["x"]);
    }
}

#[test]
fn the_offline_queue_is_bounded_and_drops_what_does_not_fit() {
    let mut sim = Sim::new(Config {
        max_queued_messages: 3,
        ..Config::default()
    });
    let (sub, _) = sim.connect_persistent(V5, "sub", 100);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.drop_connection(sub);
    let publ = sim.connect(V5, "pub");
    for i in 0..5 {
        sim.publish(publ, "t", QoS::AtLeastOnce, &i.to_string());
    }
    assert_eq!(sim.broker.queued_messages("sub"), Some(3));
    let (sub, _) = sim.connect_persistent(V5, "sub", 100);
    assert_eq!(payloads(&sim.take_and_ack(sub)), vec!["0", "1", "2"]);
}

#[test]
fn a_queued_message_expires_and_the_rest_carry_the_time_left() {
    let mut sim = Sim::default_config();
    let (sub, _) = sim.connect_persistent(V5, "sub", 100);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.drop_connection(sub);
    let publ = sim.connect(V5, "pub");
    let mut short = publish("t", QoS::AtLeastOnce, "short");
    short.properties.message_expiry_interval = Some(5);
    sim.publish_msg(publ, short);
    let mut long = publish("t", QoS::AtLeastOnce, "long");
    long.properties.message_expiry_interval = Some(60);
    sim.publish_msg(publ, long);
    sim.advance(secs(10));
    let (sub, _) = sim.connect_persistent(V5, "sub", 100);
    let got = sim.take_and_ack(sub);
    assert_eq!(payloads(&got), vec!["long"]);
    assert_eq!(got[0].properties.message_expiry_interval, Some(50));
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_3_3_2_5));
}

#[test]
fn unsubscribe_stops_delivery_and_reports_whether_the_subscription_existed() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.connect(v, "a");
        sim.subscribe(c, "t/+", QoS::AtLeastOnce);
        let ack = sim.unsubscribe(c, "t/+");
        let missing = sim.unsubscribe(c, "t/+");
        if v == V5 {
            assert_eq!(ack.reason_codes, vec![ReasonCode::Success]);
            assert_eq!(
                missing.reason_codes,
                vec![ReasonCode::NoSubscriptionExisted]
            );
        } else {
            assert!(ack.reason_codes.is_empty());
        }
        let publ = sim.connect(v, "pub");
        sim.publish(publ, "t/x", QoS::AtLeastOnce, "x");
        assert!(sim.take_publishes(c).is_empty());
    }
}

#[test]
fn a_session_taken_over_keeps_its_state_for_the_new_connection() {
    let mut sim = Sim::default_config();
    let (old, _) = sim.connect_persistent(V5, "a", 100);
    sim.subscribe(old, "t", QoS::AtLeastOnce);
    let (new, present) = sim.connect_persistent(V5, "a", 100);
    assert!(present);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::AtLeastOnce, "x");
    assert_eq!(payloads(&sim.take_and_ack(new)), vec!["x"]);
    assert!(sim.take_publishes(old).is_empty());
}
