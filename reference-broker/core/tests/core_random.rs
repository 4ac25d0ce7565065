//! Randomised scenarios (deterministic seeds): publishers and persistent subscribers that
//! disconnect, reconnect and acknowledge late. Checked at the end: every QoS 1/2 message the
//! broker acknowledged reached every subscriber, nothing was invented, and first deliveries
//! kept the publishing order.

mod common;

use std::collections::BTreeMap;

use common::*;
use mqttspec_broker_core::{Config, ConnectionId};
use mqttspec_codec::{Packet, ProtocolVersion, PubComp, Publish, QoS};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Subscriber {
    name: String,
    version: ProtocolVersion,
    conn: Option<ConnectionId>,
    /// Received and not yet acknowledged on this connection.
    unacked: Vec<Publish>,
    /// Every payload received, in order (DUP copies included).
    received: Vec<String>,
}

fn connect_subscriber(sim: &mut Sim, s: &mut Subscriber) {
    let mut c = connect_packet(s.version, &s.name);
    c.clean_start = false;
    if s.version == V5 {
        c.properties.session_expiry_interval = Some(10_000);
        c.properties.receive_maximum = std::num::NonZeroU16::new(2);
    }
    let (conn, _) = sim.connect_with(c);
    s.conn = Some(conn);
    s.unacked.clear();
}

/// Reads what arrived: PUBLISH packets are recorded, PUBREL is answered.
fn service(sim: &mut Sim, s: &mut Subscriber) {
    let Some(c) = s.conn else { return };
    for p in sim.take(c) {
        match p {
            Packet::Publish(p) => {
                s.received
                    .push(String::from_utf8_lossy(&p.payload).into_owned());
                if p.qos() != QoS::AtMostOnce {
                    s.unacked.push(p);
                }
            }
            Packet::PubRel(r) => sim.send(c, Packet::PubComp(PubComp::new(r.packet_id))),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn ack_some(sim: &mut Sim, s: &mut Subscriber, n: usize) {
    let Some(c) = s.conn else { return };
    let n = n.min(s.unacked.len());
    for p in s.unacked.drain(..n).collect::<Vec<_>>() {
        sim.ack(c, &p);
    }
}

fn run(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut sim = Sim::new(Config {
        max_inflight_messages: 3,
        ..Config::default()
    });
    let versions = [V5, V311];
    let mut subs: Vec<Subscriber> = (0..2)
        .map(|i| Subscriber {
            name: format!("sub{i}"),
            version: versions[rng.below(2) as usize],
            conn: None,
            unacked: Vec::new(),
            received: Vec::new(),
        })
        .collect();
    for s in &mut subs {
        connect_subscriber(&mut sim, s);
        let c = s.conn.unwrap();
        sim.subscribe(c, "t/#", QoS::ExactlyOnce);
    }
    let pubs: Vec<ConnectionId> = (0..2)
        .map(|i| sim.connect(versions[rng.below(2) as usize], &format!("pub{i}")))
        .collect();
    // Per publisher and QoS: the payloads in publishing order.
    let mut published: BTreeMap<(usize, u8), Vec<String>> = BTreeMap::new();
    let mut count = 0;
    for _ in 0..80 {
        match rng.below(7) {
            0..=2 => {
                let p = rng.below(2) as usize;
                let qos = QoS::from_u8(rng.below(3) as u8).unwrap();
                count += 1;
                let payload = format!("p{p}-q{}-{count}", qos.as_u8());
                sim.publish(pubs[p], &format!("t/{p}"), qos, &payload);
                published.entry((p, qos.as_u8())).or_default().push(payload);
            }
            3 => {
                let s = &mut subs[rng.below(2) as usize];
                service(&mut sim, s);
                let n = rng.below(4) as usize;
                ack_some(&mut sim, s, n);
            }
            4 => {
                let s = &mut subs[rng.below(2) as usize];
                if let Some(c) = s.conn.take() {
                    service(&mut sim, s);
                    sim.drop_connection(c);
                } else {
                    connect_subscriber(&mut sim, s);
                }
            }
            5 => {
                let s = &mut subs[rng.below(2) as usize];
                service(&mut sim, s);
            }
            _ => sim.advance(secs(1)),
        }
    }
    for s in &mut subs {
        if s.conn.is_none() {
            connect_subscriber(&mut sim, s);
        }
        for _ in 0..200 {
            service(&mut sim, s);
            if s.unacked.is_empty() {
                service(&mut sim, s);
                if s.unacked.is_empty() {
                    break;
                }
            }
            let n = s.unacked.len();
            ack_some(&mut sim, s, n);
        }
        assert!(s.unacked.is_empty(), "seed {seed}: {} stuck", s.name);
    }
    for s in &subs {
        let all: Vec<&String> = published.values().flatten().collect();
        for r in &s.received {
            assert!(all.contains(&r), "seed {seed}: {} got unknown {r}", s.name);
        }
        for ((_, qos), list) in &published {
            let firsts: Vec<&String> = {
                let mut seen = Vec::new();
                for r in &s.received {
                    if list.contains(r) && !seen.contains(&r) {
                        seen.push(r);
                    }
                }
                seen
            };
            if *qos > 0 {
                assert_eq!(
                    firsts.len(),
                    list.len(),
                    "seed {seed}: {} missed QoS {qos} messages",
                    s.name
                );
            }
            let order: Vec<&String> = list.iter().filter(|m| firsts.contains(m)).collect();
            assert_eq!(firsts, order, "seed {seed}: {} order", s.name);
        }
    }
}

#[test]
fn acknowledged_messages_reach_every_persistent_subscriber_in_order() {
    for seed in 1..=60 {
        run(seed);
    }
}
