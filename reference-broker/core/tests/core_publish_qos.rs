//! QoS 0, 1 and 2 in both directions: acknowledgements, exactly-once reception, packet
//! identifiers, DUP, granted QoS, ordering, Maximum QoS and overlapping subscriptions.

mod common;

use common::*;
use mqttspec_broker_core::Config;
use mqttspec_codec::{Packet, PubAck, PubComp, PubRec, PubRel, QoS, ReasonCode, StatementId};

const QOS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];

#[test]
fn messages_reach_subscribers_of_either_version_at_every_qos() {
    for pv in BOTH {
        for sv in BOTH {
            for qos in QOS {
                let mut sim = Sim::default_config();
                let sub = sim.connect(sv, "sub");
                sim.subscribe(sub, "a/+", QoS::ExactlyOnce);
                let publ = sim.connect(pv, "pub");
                sim.publish(publ, "a/b", qos, "hello");
                let got = sim.take_and_ack(sub);
                assert_eq!(payloads(&got), vec!["hello"], "{pv:?}->{sv:?} {qos:?}");
                assert_eq!(got[0].qos(), qos);
                assert_eq!(got[0].topic.as_str(), "a/b");
                assert!(!got[0].dup);
                assert_eq!(got[0].packet_id().is_some(), qos != QoS::AtMostOnce);
            }
        }
    }
}

#[test]
fn the_delivered_qos_is_the_lower_of_published_and_granted() {
    for v in BOTH {
        for granted in QOS {
            for published in QOS {
                let mut sim = Sim::default_config();
                let sub = sim.connect(v, "sub");
                sim.subscribe(sub, "t", granted);
                let publ = sim.connect(v, "pub");
                sim.publish(publ, "t", published, "x");
                let got = sim.take_and_ack(sub);
                assert_eq!(got.len(), 1);
                assert_eq!(got[0].qos(), published.min(granted));
            }
        }
    }
}

#[test]
fn a_qos1_publish_is_acknowledged_with_its_packet_id() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.connect(v, "a");
        let mut p = publish("t", QoS::AtLeastOnce, "x");
        p.set_packet_id(pid(77));
        sim.send(c, Packet::Publish(p));
        assert_eq!(sim.take(c), vec![Packet::PubAck(PubAck::new(pid(77)))]);
    }
}

#[test]
fn a_repeated_qos2_publish_before_pubrel_is_acknowledged_but_not_forwarded_again() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "t", QoS::ExactlyOnce);
        let c = sim.connect(v, "pub");
        let mut p = publish("t", QoS::ExactlyOnce, "once");
        p.set_packet_id(pid(5));
        sim.send(c, Packet::Publish(p.clone()));
        assert_eq!(sim.take(c), vec![Packet::PubRec(PubRec::new(pid(5)))]);
        // The same id again, DUP set, before PUBREL.
        p.dup = true;
        sim.send(c, Packet::Publish(p.clone()));
        assert_eq!(sim.take(c), vec![Packet::PubRec(PubRec::new(pid(5)))]);
        // The same id again without DUP: still the same message until PUBREL.
        p.dup = false;
        sim.send(c, Packet::Publish(p.clone()));
        assert_eq!(sim.take(c), vec![Packet::PubRec(PubRec::new(pid(5)))]);
        assert_eq!(payloads(&sim.take_and_ack(sub)), vec!["once"]);
        sim.send(c, Packet::PubRel(PubRel::new(pid(5))));
        assert_eq!(sim.take(c), vec![Packet::PubComp(PubComp::new(pid(5)))]);
        // After PUBCOMP the id starts a new message.
        sim.send(
            c,
            Packet::Publish(publish_with_id("t", QoS::ExactlyOnce, "again", 5)),
        );
        assert_eq!(sim.take(c), vec![Packet::PubRec(PubRec::new(pid(5)))]);
        assert_eq!(payloads(&sim.take_and_ack(sub)), vec!["again"]);
        let want = if v == V5 {
            StatementId::V5_4_3_3_10
        } else {
            StatementId::V311_4_3_3_2
        };
        assert!(sim.broker.enforced_statements().contains(&want));
    }
}

fn publish_with_id(t: &str, qos: QoS, payload: &str, id: u16) -> mqttspec_codec::Publish {
    let mut p = publish(t, qos, payload);
    p.set_packet_id(pid(id));
    p
}

#[test]
fn pubrel_for_an_unknown_id_gets_pubcomp_0x92_in_v5() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.connect(v, "a");
        sim.send(c, Packet::PubRel(PubRel::new(pid(9))));
        let got = sim.take(c);
        let want = if v == V5 {
            ReasonCode::PacketIdentifierNotFound
        } else {
            ReasonCode::Success
        };
        assert!(
            matches!(got.as_slice(), [Packet::PubComp(p)] if p.packet_id == pid(9) && p.reason_code == want)
        );
    }
}

#[test]
fn outgoing_qos2_runs_pubrec_pubrel_pubcomp() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "t", QoS::ExactlyOnce);
        let publ = sim.connect(v, "pub");
        sim.publish(publ, "t", QoS::ExactlyOnce, "x");
        let got = sim.take_publishes(sub);
        let id = got[0].packet_id().unwrap();
        sim.send(sub, Packet::PubRec(PubRec::new(id)));
        assert_eq!(sim.take(sub), vec![Packet::PubRel(PubRel::new(id))]);
        // A repeated PUBREC gets the PUBREL again.
        sim.send(sub, Packet::PubRec(PubRec::new(id)));
        assert_eq!(sim.take(sub), vec![Packet::PubRel(PubRel::new(id))]);
        sim.send(sub, Packet::PubComp(PubComp::new(id)));
        assert!(sim.take(sub).is_empty());
    }
}

#[test]
fn a_refusing_pubrec_ends_the_flow_without_pubrel() {
    let mut sim = Sim::default_config();
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "t", QoS::ExactlyOnce);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::ExactlyOnce, "x");
    let id = sim.take_publishes(sub)[0].packet_id().unwrap();
    let mut rec = PubRec::new(id);
    rec.reason_code = ReasonCode::UnspecifiedError;
    sim.send(sub, Packet::PubRec(rec));
    assert!(sim.take(sub).is_empty());
}

#[test]
fn packet_ids_in_flight_are_distinct_and_never_zero() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "t", QoS::AtLeastOnce);
        let publ = sim.connect(v, "pub");
        for i in 0..50 {
            sim.publish(publ, "t", QoS::AtLeastOnce, &i.to_string());
        }
        let got = sim.take_publishes(sub);
        let mut ids: Vec<u16> = got.iter().map(|p| p.packet_id().unwrap().get()).collect();
        assert_eq!(ids.len(), 50);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 50, "no id reused while in flight");
        assert!(!ids.contains(&0));
    }
}

#[test]
fn dup_is_never_forwarded() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "t", QoS::AtLeastOnce);
        let publ = sim.connect(v, "pub");
        let mut p = publish_with_id("t", QoS::AtLeastOnce, "x", 3);
        p.dup = true;
        sim.send(publ, Packet::Publish(p));
        let got = sim.take_publishes(sub);
        assert!(!got[0].dup);
    }
}

#[test]
fn messages_from_one_publisher_arrive_in_order() {
    for v in BOTH {
        for qos in QOS {
            let mut sim = Sim::default_config();
            let sub = sim.connect(v, "sub");
            sim.subscribe(sub, "t", QoS::ExactlyOnce);
            let publ = sim.connect(v, "pub");
            let sent: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
            for m in &sent {
                sim.publish(publ, "t", qos, m);
            }
            let mut got = Vec::new();
            loop {
                let batch = sim.take_and_ack(sub);
                if batch.is_empty() {
                    break;
                }
                got.extend(payloads(&batch));
            }
            assert_eq!(got, sent);
        }
    }
}

#[test]
fn a_publish_above_the_maximum_qos_is_disconnected_with_0x9b_in_v5() {
    let mut sim = Sim::new(Config {
        maximum_qos: 1,
        ..Config::default()
    });
    let c = sim.connect(V5, "a");
    sim.send(
        c,
        Packet::Publish(publish_with_id("t", QoS::ExactlyOnce, "x", 1)),
    );
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::QoSNotSupported)
    );
    assert!(sim.is_closed(c));
}

#[test]
fn a_311_publish_above_the_maximum_qos_is_acknowledged_and_forwarded_at_the_maximum() {
    let mut sim = Sim::new(Config {
        maximum_qos: 1,
        ..Config::default()
    });
    let sub = sim.connect(V311, "sub");
    let code = sim.subscribe_with(sub, "t", opts(QoS::ExactlyOnce), None);
    assert_eq!(
        code,
        ReasonCode::GrantedQoS1,
        "granted QoS is cut to the maximum"
    );
    let c = sim.connect(V311, "a");
    sim.publish(c, "t", QoS::ExactlyOnce, "x");
    let got = sim.take_publishes(sub);
    assert_eq!(got[0].qos(), QoS::AtLeastOnce);
}

#[test]
fn a_retained_publish_without_retain_support_is_disconnected_with_0x9a_in_v5() {
    let mut sim = Sim::new(Config {
        retain_available: false,
        ..Config::default()
    });
    let c = sim.connect(V5, "a");
    let mut p = publish("t", QoS::AtMostOnce, "x");
    p.retain = true;
    sim.send(c, Packet::Publish(p));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::RetainNotSupported)
    );
}

#[test]
fn overlapping_subscriptions_give_one_copy_at_the_highest_qos_with_every_identifier() {
    let mut sim = Sim::default_config();
    let sub = sim.connect(V5, "sub");
    sim.subscribe_with(sub, "a/+", opts(QoS::AtMostOnce), Some(1));
    sim.subscribe_with(sub, "a/#", opts(QoS::AtLeastOnce), Some(2));
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "a/b", QoS::ExactlyOnce, "x");
    let got = sim.take_and_ack(sub);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos(), QoS::AtLeastOnce);
    let mut ids: Vec<u32> = got[0]
        .properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn overlapping_subscriptions_can_give_one_copy_per_subscription() {
    let mut sim = Sim::new(Config {
        overlapping_deliver_each: true,
        ..Config::default()
    });
    let sub = sim.connect(V5, "sub");
    sim.subscribe_with(sub, "a/+", opts(QoS::AtMostOnce), Some(1));
    sim.subscribe_with(sub, "a/#", opts(QoS::AtLeastOnce), Some(2));
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "a/b", QoS::ExactlyOnce, "x");
    let got = sim.take_and_ack(sub);
    assert_eq!(got.len(), 2);
    let mut pairs: Vec<(u8, Vec<u32>)> = got
        .iter()
        .map(|p| {
            (
                p.qos().as_u8(),
                p.properties
                    .subscription_identifiers
                    .iter()
                    .map(|i| i.get())
                    .collect(),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(pairs, vec![(0, vec![1]), (1, vec![2])]);
}

#[test]
fn a_client_publish_with_a_subscription_identifier_is_a_protocol_error() {
    let mut sim = Sim::default_config();
    let c = sim.connect(V5, "a");
    let mut p = publish("t", QoS::AtMostOnce, "x");
    p.properties
        .subscription_identifiers
        .push(std::num::NonZeroU32::new(1).unwrap());
    sim.send(c, Packet::Publish(p));
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::ProtocolError)
    );
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_3_3_4_6));
}

#[test]
fn qos0_messages_go_to_connected_subscribers_only() {
    let mut sim = Sim::default_config();
    let (sub, _) = sim.connect_persistent(V5, "sub", 100);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.drop_connection(sub);
    let publ = sim.connect(V5, "pub");
    sim.publish(publ, "t", QoS::AtMostOnce, "lost");
    sim.publish(publ, "t", QoS::AtLeastOnce, "kept");
    let (sub, present) = sim.connect_persistent(V5, "sub", 100);
    assert!(present);
    assert_eq!(payloads(&sim.take_and_ack(sub)), vec!["kept"]);
}

#[test]
fn qos0_messages_are_queued_offline_when_configured() {
    let mut sim = Sim::new(Config {
        queue_qos0_offline: true,
        ..Config::default()
    });
    let (sub, _) = sim.connect_persistent(V311, "sub", 0);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.drop_connection(sub);
    let publ = sim.connect(V311, "pub");
    sim.publish(publ, "t", QoS::AtMostOnce, "queued");
    let (sub, _) = sim.connect_persistent(V311, "sub", 0);
    assert_eq!(payloads(&sim.take_and_ack(sub)), vec!["queued"]);
}
