//! The memory budget (`Config::memory_budget_bytes`, the core's `memory` module): stored
//! state stays within it, what does not fit is refused the way the specifications allow, the
//! sessions disconnected longest make room first, and the accounting returns to zero.

mod common;

use common::*;
use mqttspec_broker_core::Config;
use mqttspec_codec::{Packet, QoS, ReasonCode};

const BUDGET: usize = 64 * 1024;

fn budget_sim() -> Sim {
    Sim::new(Config {
        memory_budget_bytes: BUDGET,
        ..Config::default()
    })
}

fn kib() -> String {
    "x".repeat(1024)
}

/// Publishes a retained QoS 1 message and returns the PUBACK's reason code.
fn retained_qos1(sim: &mut Sim, c: mqttspec_broker_core::ConnectionId, t: &str) -> ReasonCode {
    let mut p = publish(t, QoS::AtLeastOnce, &kib());
    p.retain = true;
    p.set_packet_id(sim.next_id(c));
    sim.send(c, Packet::Publish(p));
    sim.expect_from(c, |p| match p {
        Packet::PubAck(a) => Some(a.reason_code),
        _ => None,
    })
}

/// Fills the budget with retained messages (which no session discard can free); returns how
/// many were stored.
fn fill_with_retained(sim: &mut Sim) -> usize {
    let c = sim.connect(V5, "filler");
    let mut stored = 0;
    for i in 0..200 {
        match retained_qos1(sim, c, &format!("r/{i}")) {
            ReasonCode::Success => stored += 1,
            code => {
                assert_eq!(code, ReasonCode::QuotaExceeded);
                break;
            }
        }
    }
    sim.disconnect(c);
    stored
}

#[test]
fn retained_messages_beyond_the_budget_are_refused_with_quota_exceeded() {
    let mut sim = budget_sim();
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "r/new", QoS::AtLeastOnce);
    let c = sim.connect(V5, "pub");
    let stored = fill_with_retained(&mut sim);
    assert!((10..64).contains(&stored), "{stored} stored");
    assert_eq!(sim.broker.retained_count(), stored);
    assert!(
        sim.broker.memory_used() <= BUDGET,
        "{}",
        sim.broker.memory_used()
    );
    // A refused message is not forwarded either (MQTT 5.0 QoS 1 said 0x97).
    assert_eq!(
        retained_qos1(&mut sim, c, "r/new"),
        ReasonCode::QuotaExceeded
    );
    assert!(sim.take_publishes(sub).is_empty());
    // Clearing retained messages gives the room back.
    for i in 0..4 {
        let mut p = publish(&format!("r/{i}"), QoS::AtMostOnce, "");
        p.retain = true;
        sim.send(c, Packet::Publish(p));
    }
    assert_eq!(retained_qos1(&mut sim, c, "r/new"), ReasonCode::Success);
    assert_eq!(sim.broker.retained_count(), stored - 4 + 1);
}

#[test]
fn a_retained_message_that_cannot_be_refused_is_forwarded_and_not_stored() {
    for (v, qos) in [
        (V5, QoS::AtMostOnce),
        (V311, QoS::AtMostOnce),
        (V311, QoS::AtLeastOnce),
    ] {
        let mut sim = budget_sim();
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "r/late", QoS::AtLeastOnce);
        let c = sim.connect(v, "pub");
        let stored = fill_with_retained(&mut sim);
        sim.publish_retained(c, "r/late", qos, &kib());
        assert_eq!(sim.take_publishes(sub).len(), 1, "{v:?} {qos:?}: forwarded");
        assert_eq!(
            sim.broker.retained_count(),
            stored,
            "{v:?} {qos:?}: not stored"
        );
    }
}

#[test]
fn an_offline_session_queue_stops_at_the_budget_and_keeps_what_it_has() {
    for v in BOTH {
        let mut sim = budget_sim();
        let (s, _) = sim.connect_persistent(v, "s", 600);
        sim.subscribe(s, "q/#", QoS::AtLeastOnce);
        sim.disconnect(s);
        let p = sim.connect(v, "pub");
        for _ in 0..200 {
            sim.publish(p, "q/x", QoS::AtLeastOnce, &kib());
            assert!(sim.broker.memory_used() <= BUDGET + 2048);
        }
        let queued = sim
            .broker
            .queued_messages("s")
            .expect("the session is kept");
        assert!((10..64).contains(&queued), "{v:?}: {queued} queued");
        let (s, present) = sim.connect_persistent(v, "s", 600);
        assert!(present);
        assert_eq!(sim.take_and_ack(s).len(), queued, "{v:?}");
    }
}

#[test]
fn a_connected_subscriber_gets_room_from_the_session_disconnected_longest() {
    let mut sim = budget_sim();
    let (hog, _) = sim.connect_persistent(V5, "hog", 600);
    sim.subscribe(hog, "q/#", QoS::AtLeastOnce);
    sim.disconnect(hog);
    let p = sim.connect(V5, "pub");
    for _ in 0..100 {
        sim.publish(p, "q/x", QoS::AtLeastOnce, &kib());
    }
    assert!(sim.broker.has_session("hog"));
    // A connected subscriber that does not read: its copies need room the hog holds.
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "live/#", QoS::AtLeastOnce);
    for _ in 0..20 {
        sim.publish(p, "live/x", QoS::AtLeastOnce, &kib());
    }
    assert!(
        !sim.broker.has_session("hog"),
        "the offline session was discarded"
    );
    assert_eq!(sim.take_and_ack(sub).len(), 20);
}

#[test]
fn a_new_session_discards_the_longest_disconnected_one_or_is_refused() {
    for (v, code) in [
        (V5, ReasonCode::QuotaExceeded),
        (V311, ReasonCode::ServerUnavailable),
    ] {
        let mut sim = budget_sim();
        let (old, _) = sim.connect_persistent(v, "old", 600);
        sim.disconnect(old);
        fill_with_retained(&mut sim);
        // New sessions until refused: "old" is discarded first (retained messages stay).
        let mut refused = None;
        for i in 0..50 {
            let (c, answer) = sim.try_connect(connect_packet(v, &format!("more{i}")));
            let Some(Packet::ConnAck(ack)) = answer else {
                panic!("{v:?}: {answer:?}");
            };
            if ack.reason_code != ReasonCode::Success {
                assert!(sim.is_closed(c));
                refused = Some(ack.reason_code);
                break;
            }
        }
        assert_eq!(refused, Some(code), "{v:?}");
        assert!(
            !sim.broker.has_session("old"),
            "{v:?}: discarded before refusing"
        );
        assert!(
            sim.broker.has_session("more0"),
            "{v:?}: connected ones are kept"
        );
    }
}

#[test]
fn subscriptions_beyond_the_budget_are_refused() {
    for (v, code) in [
        (V5, ReasonCode::QuotaExceeded),
        (V311, ReasonCode::UnspecifiedError),
    ] {
        let mut sim = budget_sim();
        fill_with_retained(&mut sim);
        let c = sim.connect(v, "sub");
        let long = "f".repeat(2000);
        let mut refused = None;
        for i in 0..100 {
            let got = sim.subscribe_with(c, &format!("{long}/{i}"), opts(QoS::AtMostOnce), None);
            if got != ReasonCode::Success {
                refused = Some(got);
                break;
            }
        }
        assert_eq!(refused, Some(code), "{v:?}");
        assert!(sim.broker.memory_used() <= BUDGET, "{v:?}");
    }
}

#[test]
fn the_accounting_returns_to_zero_when_everything_is_gone() {
    let mut sim = Sim::default_config();
    let (sub, _) = sim.connect_persistent(V5, "s", 600);
    sim.subscribe(sub, "a/#", QoS::ExactlyOnce);
    sim.subscribe(sub, "$share/g/a/#", QoS::AtLeastOnce);
    sim.disconnect(sub);
    let mut c = connect_packet(V5, "w");
    c.will = Some(will("a/will", "bye", QoS::AtLeastOnce, true));
    c.properties.session_expiry_interval = Some(600);
    let (w, _) = sim.connect_with(c);
    let p = sim.connect(V5, "p");
    for i in 0..10 {
        sim.publish_retained(p, &format!("a/{i}"), QoS::ExactlyOnce, "payload");
        sim.publish(p, "a/x", QoS::AtLeastOnce, "queued");
    }
    let mut with_props = publish("a/props", QoS::AtLeastOnce, "p");
    with_props.properties.content_type = Some(s("text/plain"));
    with_props.properties.user_properties.push(s("k"), s("v"));
    sim.publish_msg(p, with_props);
    assert!(sim.broker.memory_used() > 0);
    // Everything goes: Will published, sessions end, retained messages cleared.
    sim.drop_connection(w);
    for i in 0..10 {
        sim.publish_retained(p, &format!("a/{i}"), QoS::AtMostOnce, "");
    }
    sim.publish_retained(p, "a/will", QoS::AtMostOnce, "");
    sim.disconnect(p);
    let end = |sim: &mut Sim, id: &str| {
        let mut c = connect_packet(V5, id);
        c.clean_start = true;
        let (conn, _) = sim.connect_with(c);
        sim.disconnect(conn);
    };
    end(&mut sim, "s");
    end(&mut sim, "w");
    assert_eq!(sim.broker.session_count(), 0);
    assert_eq!(sim.broker.retained_count(), 0);
    assert_eq!(sim.broker.memory_used(), 0);
}

#[test]
fn a_zero_budget_is_a_configuration_error() {
    let config = Config {
        memory_budget_bytes: 0,
        ..Config::default()
    };
    let err = config.validate().unwrap_err();
    assert!(err.to_string().contains("memory_budget_bytes"), "{err}");
}
