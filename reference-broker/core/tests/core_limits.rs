//! Bad and extreme input: malformed packets, huge claimed lengths, thousands of properties,
//! very deep topics, byte-by-byte input, per-session limits, and random bytes (no panic).

mod common;

use common::*;
use mqttspec_broker_core::{Config, ConnectionId};
use mqttspec_codec::{Packet, QoS, RawPacket, ReasonCode, Subscribe};

#[test]
fn a_256_mb_remaining_length_before_connect_is_refused_from_the_header() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.open();
        sim.peers.get_mut(&c).unwrap().version = Some(v);
        // CONNECT fixed header claiming 268,435,455 bytes, then the protocol name and level.
        let mut bytes = vec![0x10, 0xFF, 0xFF, 0xFF, 0x7F];
        bytes.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', v.level()]);
        sim.send_raw(c, &bytes);
        assert!(sim.is_closed(c), "refused without waiting for the body");
        let got = sim.take(c);
        if v == V5 {
            assert_eq!(
                connack(&got).map(|a| a.reason_code),
                Some(ReasonCode::PacketTooLarge)
            );
        } else {
            assert!(got.is_empty());
        }
    }
}

#[test]
fn a_256_mb_remaining_length_after_connect_is_refused_at_once() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.connect(v, "a");
        sim.send_raw(c, &[0x30, 0xFF, 0xFF, 0xFF, 0x7F]);
        assert!(sim.is_closed(c));
        if v == V5 {
            assert_eq!(
                disconnect_code(&sim.take(c)),
                Some(ReasonCode::PacketTooLarge)
            );
        }
    }
}

#[test]
fn thousands_of_user_properties_pass_through_in_order() {
    let mut sim = Sim::default_config();
    let sub = sim.connect(V5, "sub");
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    let publ = sim.connect(V5, "pub");
    let mut p = publish("t", QoS::AtMostOnce, "x");
    p.properties.user_properties = (0..5000)
        .map(|i| (s(&format!("k{}", i % 7)), s(&i.to_string())))
        .collect();
    let sent = p.properties.user_properties.clone();
    sim.send(publ, Packet::Publish(p));
    assert!(!sim.is_closed(publ));
    let got = sim.take_publishes(sub);
    assert_eq!(got[0].properties.user_properties, sent);
}

fn deep_topic(levels: usize) -> String {
    "/".repeat(levels - 1)
}

#[test]
fn a_topic_with_65000_levels_is_refused_as_a_server_limit() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.connect(v, "a");
        sim.send(
            c,
            Packet::Publish(publish(&deep_topic(65_000), QoS::AtMostOnce, "x")),
        );
        assert!(sim.is_closed(c));
        if v == V5 {
            assert_eq!(
                disconnect_code(&sim.take(c)),
                Some(ReasonCode::TopicNameInvalid)
            );
        }
    }
}

#[test]
fn a_filter_with_65000_levels_is_refused_in_suback() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.connect(v, "a");
        let packet_id = sim.next_id(c);
        sim.send(
            c,
            Packet::Subscribe(Subscribe {
                packet_id,
                properties: Default::default(),
                filters: vec![
                    (filter(&deep_topic(65_000)), opts(QoS::AtMostOnce)),
                    (filter("ok"), opts(QoS::AtMostOnce)),
                ],
            }),
        );
        let got = sim.take(c);
        let codes = match got.as_slice() {
            [Packet::SubAck(a)] => a.reason_codes.clone(),
            other => panic!("{other:?}"),
        };
        let refused = if v == V5 {
            ReasonCode::TopicFilterInvalid
        } else {
            ReasonCode::UnspecifiedError
        };
        assert_eq!(codes, vec![refused, ReasonCode::Success]);
    }
}

#[test]
fn malformed_packets_after_connect_close_the_connection_with_the_right_code() {
    let cases: Vec<(&str, Vec<u8>, ReasonCode)> = vec![
        (
            "PUBLISH QoS 3",
            vec![0x36, 0x03, 0x00, 0x01, b't'],
            ReasonCode::MalformedPacket,
        ),
        (
            "SUBSCRIBE flags 0",
            RawPacket::new(0x80)
                .u16(1)
                .u8(0)
                .string("a")
                .u8(0)
                .build()
                .to_vec(),
            ReasonCode::MalformedPacket,
        ),
        (
            "PUBLISH topic with a wildcard",
            RawPacket::new(0x30).string("a/+").u8(0).build().to_vec(),
            ReasonCode::TopicNameInvalid,
        ),
        (
            "PUBLISH topic not UTF-8",
            RawPacket::new(0x30)
                .binary(&[0xFF, 0xFE])
                .u8(0)
                .build()
                .to_vec(),
            ReasonCode::MalformedPacket,
        ),
        (
            "property length past the packet",
            RawPacket::new(0x30).string("t").u8(0x10).build().to_vec(),
            ReasonCode::MalformedPacket,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut sim = Sim::default_config();
        let c = sim.connect(V5, "a");
        sim.send_raw(c, &bytes);
        assert_eq!(disconnect_code(&sim.take(c)), Some(code), "{what}");
        assert!(sim.is_closed(c), "{what}");
    }
}

#[test]
fn a_whole_session_fed_one_byte_at_a_time_behaves_like_one_chunk() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let sub = sim.connect(v, "sub");
        sim.subscribe(sub, "t", QoS::AtLeastOnce);
        let c = sim.open();
        sim.peers.get_mut(&c).unwrap().version = Some(v);
        let mut stream = Vec::new();
        stream.extend_from_slice(
            &Packet::Connect(Box::new(connect_packet(v, "pub")))
                .encode(v)
                .unwrap(),
        );
        for i in 1..=3u16 {
            let mut p = publish("t", QoS::AtLeastOnce, &format!("m{i}"));
            p.set_packet_id(pid(i));
            stream.extend_from_slice(&Packet::Publish(p).encode(v).unwrap());
        }
        stream.extend_from_slice(&Packet::PingReq.encode(v).unwrap());
        for b in &stream {
            sim.send_raw(c, &[*b]);
        }
        let got = sim.take(c);
        assert_eq!(got.len(), 5, "CONNACK, 3 PUBACK, PINGRESP: {got:?}");
        assert_eq!(payloads(&sim.take_and_ack(sub)), vec!["m1", "m2", "m3"]);
    }
}

#[test]
fn subscriptions_per_session_are_bounded() {
    for v in BOTH {
        let mut sim = Sim::new(Config {
            max_subscriptions_per_session: 2,
            ..Config::default()
        });
        let c = sim.connect(v, "a");
        sim.subscribe(c, "a", QoS::AtMostOnce);
        sim.subscribe(c, "b", QoS::AtMostOnce);
        // Replacing an existing one is fine.
        sim.subscribe(c, "a", QoS::AtLeastOnce);
        let code = sim.subscribe_with(c, "c", opts(QoS::AtMostOnce), None);
        let want = if v == V5 {
            ReasonCode::QuotaExceeded
        } else {
            ReasonCode::UnspecifiedError
        };
        assert_eq!(code, want);
    }
}

/// A tiny deterministic generator for the random-input test.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_bytes_after_a_valid_connect_never_panic_and_end_in_a_sane_state() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    for round in 0..300 {
        let v = if round % 2 == 0 { V5 } else { V311 };
        let mut sim = Sim::default_config();
        let watcher = sim.connect(v, "w");
        sim.subscribe(watcher, "#", QoS::ExactlyOnce);
        let c: ConnectionId = sim.connect(v, "fuzz");
        let len = (rng.next() % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xFF) as u8).collect();
        for chunk in bytes.chunks(1 + (rng.next() % 5) as usize) {
            sim.send_raw(c, chunk);
        }
        sim.advance(secs(3600));
        // The broker still serves a fresh client.
        let probe = sim.connect(v, "probe");
        sim.send(probe, Packet::PingReq);
        assert_eq!(sim.take(probe), vec![Packet::PingResp], "round {round}");
    }
}

#[test]
fn a_new_session_beyond_max_sessions_discards_the_longest_disconnected_one() {
    for v in BOTH {
        let mut sim = Sim::new(Config {
            max_sessions: 2,
            ..Config::default()
        });
        let (a, _) = sim.connect_persistent(v, "a", 600);
        sim.drop_connection(a);
        sim.advance(secs(1));
        let (b, _) = sim.connect_persistent(v, "b", 600);
        sim.drop_connection(b);
        let _c = sim.connect(v, "c");
        assert!(
            !sim.broker.has_session("a"),
            "{v:?}: the oldest offline session goes"
        );
        assert!(sim.broker.has_session("b") && sim.broker.has_session("c"));
        assert_eq!(sim.broker.session_count(), 2);
        // Resuming an existing session needs no room.
        let (_, present) = sim.connect_persistent(v, "b", 600);
        assert!(present);
    }
}

#[test]
fn a_new_session_is_refused_when_every_kept_session_is_connected() {
    for (v, code) in [
        (V5, ReasonCode::QuotaExceeded),
        (V311, ReasonCode::ServerUnavailable),
    ] {
        let mut sim = Sim::new(Config {
            max_sessions: 1,
            ..Config::default()
        });
        let _a = sim.connect(v, "a");
        let (b, answer) = sim.try_connect(connect_packet(v, "b"));
        let Some(Packet::ConnAck(ack)) = answer else {
            panic!("{v:?}: {answer:?}");
        };
        assert_eq!(ack.reason_code, code);
        assert!(sim.is_closed(b));
        assert!(sim.broker.has_session("a") && !sim.broker.has_session("b"));
    }
}
