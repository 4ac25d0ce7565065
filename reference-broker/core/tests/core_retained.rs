//! Retained messages: storing, replacing, clearing, delivery on subscribe, the RETAIN flag
//! on forwarded messages, Retain Handling, Retain As Published and expiry.

mod common;

use common::*;
use mqttspec_broker_core::Config;
use mqttspec_codec::{Packet, QoS, RetainHandling, SubscriptionOptions};

fn retained_opts(qos: QoS, handling: RetainHandling, rap: bool) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        no_local: false,
        retain_as_published: rap,
        retain_handling: handling,
    }
}

#[test]
fn a_retained_message_is_delivered_to_a_new_subscription_with_retain_1() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let publ = sim.connect(v, "pub");
        sim.publish_retained(publ, "r/a", QoS::AtLeastOnce, "kept");
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "r/#", QoS::AtLeastOnce);
        let got = sim.take_and_ack(sub);
        assert_eq!(payloads(&got), vec!["kept"]);
        assert!(got[0].retain);
        assert_eq!(got[0].qos(), QoS::AtLeastOnce);
    }
}

#[test]
fn a_new_retained_message_replaces_the_old_one() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let publ = sim.connect(v, "pub");
        sim.publish_retained(publ, "r", QoS::AtMostOnce, "one");
        sim.publish_retained(publ, "r", QoS::AtMostOnce, "two");
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "r", QoS::AtMostOnce);
        assert_eq!(payloads(&sim.take_publishes(sub)), vec!["two"]);
        assert_eq!(sim.broker.retained_count(), 1);
    }
}

#[test]
fn an_empty_retained_payload_clears_the_topic_and_is_still_forwarded() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let publ = sim.connect(v, "pub");
        sim.publish_retained(publ, "r", QoS::AtLeastOnce, "kept");
        let existing = sim.connect(v, "existing");
        sim.subscribe(existing, "r", QoS::AtLeastOnce);
        sim.take_and_ack(existing);
        sim.publish_retained(publ, "r", QoS::AtLeastOnce, "");
        let got = sim.take_and_ack(existing);
        assert_eq!(got.len(), 1);
        assert!(got[0].payload.is_empty());
        assert_eq!(sim.broker.retained_count(), 0);
        let late = sim.connect(v, "late");
        sim.subscribe(late, "r", QoS::AtLeastOnce);
        assert!(sim.take_publishes(late).is_empty());
    }
}

#[test]
fn a_publish_without_retain_leaves_the_retained_message_alone() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let publ = sim.connect(v, "pub");
        sim.publish_retained(publ, "r", QoS::AtMostOnce, "kept");
        sim.publish(publ, "r", QoS::AtMostOnce, "not retained");
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "r", QoS::AtMostOnce);
        assert_eq!(payloads(&sim.take_publishes(sub)), vec!["kept"]);
    }
}

#[test]
fn established_subscriptions_get_retain_0_unless_retain_as_published() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "r", QoS::AtMostOnce);
        let publ = sim.connect(v, "pub");
        sim.publish_retained(publ, "r", QoS::AtMostOnce, "x");
        let got = sim.take_publishes(sub);
        assert!(!got[0].retain, "{v:?}");
    }
    let mut sim = Sim::default_config();
    let sub = sim.connect(V5, "sub");
    sim.subscribe_with(
        sub,
        "r",
        retained_opts(QoS::AtMostOnce, RetainHandling::SendOnSubscribe, true),
        None,
    );
    let publ = sim.connect(V5, "pub");
    sim.publish_retained(publ, "r", QoS::AtMostOnce, "x");
    sim.publish(publ, "r", QoS::AtMostOnce, "y");
    let got = sim.take_publishes(sub);
    assert_eq!(
        got.iter().map(|p| p.retain).collect::<Vec<_>>(),
        vec![true, false]
    );
}

#[test]
fn retain_handling_0_sends_on_every_subscribe_1_only_for_new_and_2_never() {
    let mut sim = Sim::default_config();
    let publ = sim.connect(V5, "pub");
    sim.publish_retained(publ, "r", QoS::AtMostOnce, "x");
    let sub = sim.connect(V5, "sub");
    let count = |sim: &mut Sim, h: RetainHandling| {
        sim.subscribe_with(sub, "r", retained_opts(QoS::AtMostOnce, h, false), None);
        sim.take_publishes(sub).len()
    };
    assert_eq!(
        count(&mut sim, RetainHandling::SendIfNew),
        1,
        "new subscription"
    );
    assert_eq!(
        count(&mut sim, RetainHandling::SendIfNew),
        0,
        "existing subscription"
    );
    assert_eq!(
        count(&mut sim, RetainHandling::SendOnSubscribe),
        1,
        "0 always sends"
    );
    assert_eq!(count(&mut sim, RetainHandling::DoNotSend), 0);
    sim.unsubscribe(sub, "r");
    assert_eq!(
        count(&mut sim, RetainHandling::DoNotSend),
        0,
        "2 never sends"
    );
}

#[test]
fn a_311_resubscribe_resends_the_retained_message() {
    let mut sim = Sim::default_config();
    let publ = sim.connect(V311, "pub");
    sim.publish_retained(publ, "r", QoS::AtMostOnce, "x");
    let sub = sim.connect(V311, "sub");
    sim.subscribe(sub, "r", QoS::AtMostOnce);
    assert_eq!(sim.take_publishes(sub).len(), 1);
    sim.subscribe(sub, "r", QoS::AtMostOnce);
    assert_eq!(sim.take_publishes(sub).len(), 1);
}

#[test]
fn retained_messages_are_sent_at_the_lower_of_their_qos_and_the_granted_one() {
    let mut sim = Sim::default_config();
    let publ = sim.connect(V5, "pub");
    sim.publish_retained(publ, "r/2", QoS::ExactlyOnce, "two");
    sim.publish_retained(publ, "r/0", QoS::AtMostOnce, "zero");
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "r/#", QoS::AtLeastOnce);
    let mut got: Vec<(String, u8)> = sim
        .take_and_ack(sub)
        .iter()
        .map(|p| {
            (
                String::from_utf8_lossy(&p.payload).into_owned(),
                p.qos().as_u8(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, vec![("two".into(), 1), ("zero".into(), 0)]);
}

#[test]
fn shared_subscriptions_get_no_retained_messages() {
    let mut sim = Sim::default_config();
    let publ = sim.connect(V5, "pub");
    sim.publish_retained(publ, "r", QoS::AtMostOnce, "x");
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "$share/g/r", QoS::AtMostOnce);
    assert!(sim.take_publishes(sub).is_empty());
}

#[test]
fn retained_dollar_topics_are_not_matched_by_a_leading_wildcard() {
    let mut sim = Sim::default_config();
    let publ = sim.connect(V5, "pub");
    sim.publish_retained(publ, "$internal/x", QoS::AtMostOnce, "dollar");
    let all = sim.connect(V5, "all");
    sim.subscribe(all, "#", QoS::AtMostOnce);
    assert!(sim.take_publishes(all).is_empty());
    let explicit = sim.connect(V5, "explicit");
    sim.subscribe(explicit, "$internal/#", QoS::AtMostOnce);
    assert_eq!(payloads(&sim.take_publishes(explicit)), vec!["dollar"]);
}

#[test]
fn a_retained_message_expires_and_carries_the_time_left() {
    let mut sim = Sim::default_config();
    let publ = sim.connect(V5, "pub");
    let mut p = publish("r", QoS::AtMostOnce, "x");
    p.retain = true;
    p.properties.message_expiry_interval = Some(10);
    sim.publish_msg(publ, p);
    sim.advance(secs(4));
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "r", QoS::AtMostOnce);
    let got = sim.take_publishes(sub);
    assert_eq!(got[0].properties.message_expiry_interval, Some(6));
    sim.advance(secs(7));
    let late = sim.connect(V5, "late");
    sim.subscribe(late, "r", QoS::AtMostOnce);
    assert!(sim.take_publishes(late).is_empty());
}

#[test]
fn retained_messages_outlive_the_publishers_session() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let publ = sim.connect(v, "pub");
        sim.publish_retained(publ, "r", QoS::AtLeastOnce, "x");
        sim.disconnect(publ);
        assert!(!sim.broker.has_session("pub"));
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "r", QoS::AtLeastOnce);
        assert_eq!(sim.take_and_ack(sub).len(), 1);
    }
}

#[test]
fn the_retained_store_is_bounded() {
    let mut sim = Sim::new(Config {
        max_retained_messages: 2,
        ..Config::default()
    });
    let publ = sim.connect(V5, "pub");
    for t in ["a", "b", "c"] {
        sim.publish_retained(publ, t, QoS::AtMostOnce, t);
    }
    assert_eq!(sim.broker.retained_count(), 2);
    // Replacing an existing topic still works.
    sim.publish_retained(publ, "a", QoS::AtMostOnce, "a2");
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "a", QoS::AtMostOnce);
    assert_eq!(payloads(&sim.take_publishes(sub)), vec!["a2"]);
}

#[test]
fn retained_publishes_are_stored_only_once_the_message_is_accepted() {
    // A retained QoS 1 message refused by an access rule (v5) is not stored.
    let mut sim = Sim::new(Config {
        acl: vec![mqttspec_broker_core::config::AclRule {
            filter: "secret/#".into(),
            action: "publish".into(),
            permission: "deny".into(),
            username: None,
        }],
        ..Config::default()
    });
    let publ = sim.connect(V5, "pub");
    let mut p = publish("secret/x", QoS::AtLeastOnce, "x");
    p.retain = true;
    p.set_packet_id(pid(1));
    sim.send(publ, Packet::Publish(p));
    sim.take(publ);
    assert_eq!(sim.broker.retained_count(), 0);
}
