//! The broker core's own cost per message on the path `mqttspec bench` measures as "QoS 1
//! fan-in": four MQTT 5.0 publishers send one 1 KiB QoS 1 PUBLISH each to the topic one
//! subscriber has subscribed to at QoS 1; the core acknowledges each, forwards each, is told
//! the subscriber's output was written ("flushed"), and then takes the subscriber's four
//! PUBACKs. No sockets and no runtime: this is the part of the broker's CPU time that is the
//! broker's own (decode, route, store, encode, flow control), for comparing builds with
//! `valgrind --tool=callgrind` (deterministic) or wall clock.
//!
//! Built without the `faults` feature, like the `reference-broker` binary.
//!
//! `cargo bench -p mqttspec-reference-broker --bench core_fan_in`

use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqttspec_broker_core::{Action, Broker, Config, ConnectionId};
use mqttspec_codec::{
    Connect, Delivery, MqttString, Packet, PacketId, ProtocolVersion, PubAck, Publish, QoS,
    Subscribe, SubscriptionOptions, TopicFilter, TopicName,
};

const PUBLISHERS: u64 = 4;
const SUBSCRIBER: ConnectionId = ConnectionId(PUBLISHERS + 1);
const V: ProtocolVersion = ProtocolVersion::V5;

fn encode(packet: Packet) -> Bytes {
    packet.encode(V).expect("bench packet encodes")
}

fn connect(client_id: &str) -> Bytes {
    encode(Packet::Connect(Box::new(Connect {
        protocol_version: V,
        clean_start: true,
        keep_alive: 0,
        properties: Default::default(),
        client_id: MqttString::new(client_id, "client id").expect("valid"),
        will: None,
        username: None,
        password: None,
    })))
}

/// The world: a broker with four publishers and one subscriber connected, and the frames
/// the publishers send.
struct World {
    broker: Broker,
    now: Duration,
    publish: Bytes,
    /// Packet Identifiers of the PUBLISH packets the subscriber got and has not acknowledged.
    to_ack: Vec<PacketId>,
}

impl World {
    fn new() -> World {
        let mut broker = Broker::new(Config::default());
        let now = Duration::ZERO;
        for n in 1..=PUBLISHERS + 1 {
            let id = ConnectionId(n);
            broker.connection_opened(id, now);
            broker.frames_received(id, [connect(&format!("bench-{n}"))], now);
        }
        let subscribe = encode(Packet::Subscribe(Subscribe {
            packet_id: PacketId::MIN,
            properties: Default::default(),
            filters: vec![(
                TopicFilter::new("bench/fan-in").expect("valid"),
                SubscriptionOptions::qos(QoS::AtLeastOnce),
            )],
        }));
        broker.frames_received(SUBSCRIBER, [subscribe], now);
        while broker.poll_action().is_some() {}
        let publish = encode(Packet::Publish(Publish {
            dup: false,
            delivery: Delivery::new(QoS::AtLeastOnce, PacketId::MIN),
            retain: false,
            topic: TopicName::new("bench/fan-in").expect("valid"),
            properties: Default::default(),
            payload: Bytes::from(vec![0x5a; 1024]),
        }));
        World {
            broker,
            now,
            publish,
            to_ack: Vec::new(),
        }
    }

    /// One round: four PUBLISH packets in, the subscriber flushed, its PUBACKs in. (Not
    /// inlined, so callgrind can count it: `--toggle-collect=*World::round*`.)
    #[inline(never)]
    fn round(&mut self) -> usize {
        let mut sent = 0;
        self.now += Duration::from_micros(250);
        for n in 1..=PUBLISHERS {
            self.broker
                .frames_received(ConnectionId(n), [self.publish.clone()], self.now);
            sent += self.take_actions();
        }
        self.broker.connection_flushed(SUBSCRIBER, self.now);
        sent += self.take_actions();
        let acks: Vec<Bytes> = self
            .to_ack
            .drain(..)
            .map(|id| encode(Packet::PubAck(PubAck::new(id))))
            .collect();
        self.broker.frames_received(SUBSCRIBER, acks, self.now);
        sent + self.take_actions()
    }

    fn take_actions(&mut self) -> usize {
        let mut bytes = 0;
        while let Some(action) = self.broker.poll_action() {
            if let Action::Send {
                conn,
                packet,
                bytes: b,
            } = action
            {
                bytes += b.len();
                if conn == SUBSCRIBER {
                    if let Packet::Publish(p) = packet {
                        self.to_ack.extend(p.packet_id());
                    }
                }
            }
        }
        bytes
    }
}

fn fan_in(c: &mut Criterion) {
    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(PUBLISHERS));
    group.bench_function("qos1-fan-in-v5-1KiB", |b| {
        let mut world = World::new();
        b.iter(|| world.round())
    });
    group.finish();
}

criterion_group!(benches, fan_in);
criterion_main!(benches);
