//! A message routed to many subscribers is encoded once per shape and its bytes reused for
//! the next subscriber (`outbound`'s PUBLISH cache): every subscriber still gets exactly
//! the bytes a fresh encoding of its own packet gives, whatever its protocol version, QoS,
//! RETAIN, Subscription Identifiers or Packet Identifier.

mod common;

use common::*;
use mqttspec_broker_core::{Action, ConnectionId};
use mqttspec_codec::{Packet, QoS, SubscriptionOptions};

/// The PUBLISH packets sent so far, with their connection and bytes.
fn sent_publishes(sim: &Sim) -> Vec<(ConnectionId, Packet, bytes::Bytes)> {
    sim.log
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                conn,
                packet: p @ Packet::Publish(_),
                bytes,
            } => Some((*conn, p.clone(), bytes.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn every_subscriber_gets_the_encoding_of_its_own_packet() {
    let mut sim = Sim::default_config();
    let mut subscribers = Vec::new();
    for (i, v) in [V5, V5, V311, V311, V5, V311, V5].into_iter().enumerate() {
        let c = sim.connect(v, &format!("sub-{i}"));
        match i {
            // Two of each QoS, then one with a Subscription Identifier and Retain As
            // Published.
            0..=5 => {
                let qos = QoS::from_u8((i / 2) as u8).expect("QoS");
                sim.subscribe(c, "fan/#", qos);
            }
            _ => {
                let mut o = SubscriptionOptions::qos(QoS::ExactlyOnce);
                o.retain_as_published = true;
                sim.subscribe_with(c, "fan/#", o, Some(7));
            }
        }
        subscribers.push(c);
    }
    let publisher = sim.connect(V5, "pub");
    sim.log.clear();
    for (n, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let mut p = publish("fan/out", qos, &"x".repeat(300 + n));
        p.retain = n == 1;
        if qos != QoS::AtMostOnce {
            p.packet_id = Some(sim.next_id(publisher));
        }
        sim.send(publisher, Packet::Publish(p));
    }
    let sent = sent_publishes(&sim);
    assert!(sent.len() >= 3 * subscribers.len(), "{} sent", sent.len());
    for (conn, packet, bytes) in &sent {
        let v = sim.version(*conn);
        let fresh = packet.encode(v).expect("encodes");
        assert_eq!(&fresh[..], &bytes[..], "{conn:?} ({v:?}) got other bytes");
    }
    // The two QoS 0 subscribers of the same version share one encoding of the QoS 0
    // message.
    let qos0: Vec<&bytes::Bytes> = sent
        .iter()
        .filter(|(c, p, _)| {
            (*c == subscribers[0] || *c == subscribers[1])
                && matches!(p, Packet::Publish(p) if p.qos == QoS::AtMostOnce)
        })
        .map(|(_, _, b)| b)
        .collect();
    assert!(qos0.len() >= 2);
    assert!(
        qos0.windows(2).any(|w| w[0].as_ptr() == w[1].as_ptr()),
        "the QoS 0 encoding was not shared"
    );
}
