//! Criterion benchmarks of mqttspec-codec against rumqttc's `mqttbytes` (its `v4` module for
//! MQTT 3.1.1 and `v5::mqttbytes::v5` for MQTT 5.0).
//!
//! Every group runs both codecs on the same wire bytes: the packet is built once with our
//! model, encoded, and that byte string is what both sides decode; the packets both sides
//! decoded from it are what both sides encode. Before a group is measured, both decodings are
//! compared field by field and both encodings are compared with the original bytes, so the two
//! arms provably do the same work.
//!
//! - decode: each iteration starts from a fresh `BytesMut` holding exactly one packet (made
//!   outside the timing, identically for both arms, by `time_decodes`) and takes one packet off
//!   it through the streaming API (`FrameDecoder::decode` / `Packet::read`), both with the same
//!   1 MiB packet size limit. The decoded packets are dropped outside the timing.
//! - encode: each iteration clears one reused `BytesMut` and writes the packet into it
//!   (`encode_packet` / `Packet::write`).
//!
//! Run with
//! `cargo bench -p mqttspec-codec --bench codec -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqttspec_codec::{
    encode_packet, Connect, ConnectProperties, Delivery, FrameDecoder, LastWill, MqttString,
    Packet, PacketId, ProtocolVersion, Publish, QoS, RetainHandling, Subscribe,
    SubscribeProperties, SubscriptionOptions, TopicFilter, TopicName, UserProperties,
    WillProperties,
};
use rumqttc::mqttbytes::v4 as m4;
use rumqttc::v5::mqttbytes::v5 as m5;

/// The packet size limit both decoders are given (whole packet for ours, Remaining Length for
/// mqttbytes; the difference does not matter for packets this small).
const MAX_PACKET_SIZE: usize = 1 << 20;

/// The payload sizes of the PUBLISH benchmarks.
const PAYLOAD_SIZES: [(usize, &str); 4] =
    [(0, "0B"), (64, "64B"), (1024, "1KiB"), (65536, "64KiB")];

const PUBLISH_TOPIC: &str = "sensors/building-7/floor-3/room-12/temperature";

// ---------------------------------------------------------------------------------------------
// The packets, built with our model.

fn s(text: &str) -> MqttString {
    MqttString::new(text, "bench").unwrap()
}

fn user_properties() -> UserProperties {
    (0..4)
        .map(|i| (s(&format!("key-{i}")), s(&format!("value-number-{i}"))))
        .collect()
}

/// A QoS 1 PUBLISH (so it carries a Packet Identifier) with `payload_len` bytes of payload.
fn publish(payload_len: usize, with_user_properties: bool) -> Packet {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i % 251) as u8).collect();
    let mut p = Publish::new(TopicName::new(PUBLISH_TOPIC).unwrap(), payload);
    p.delivery = Delivery::AtLeastOnce(PacketId::new(4242).unwrap());
    if with_user_properties {
        p.properties.user_properties = user_properties();
    }
    Packet::Publish(p)
}

/// A CONNECT with a Will Message, a User Name and a Password. In MQTT 5.0 it also carries a
/// Session Expiry Interval and a Receive Maximum, and the Will a Will Delay Interval.
fn connect(v: ProtocolVersion) -> Packet {
    let mut properties = ConnectProperties::default();
    let mut will_properties = WillProperties::default();
    if v.is_v5() {
        properties.session_expiry_interval = Some(3600);
        properties.receive_maximum = NonZeroU16::new(100);
        will_properties.will_delay_interval = Some(30);
    }
    Packet::Connect(Box::new(Connect {
        protocol_version: v,
        clean_start: true,
        keep_alive: 60,
        properties: properties.into(),
        client_id: s("mqttspec-bench-client-0001"),
        will: Some(LastWill {
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: will_properties.into(),
            topic: TopicName::new("clients/mqttspec-bench-client-0001/status").unwrap(),
            payload: Bytes::from_static(b"offline: connection lost"),
        }),
        username: Some(s("bench-user")),
        password: Some(Bytes::from_static(b"correct-horse-battery-staple")),
    }))
}

const SUBSCRIBE_FILTERS: [&str; 10] = [
    "sensors/+/temperature",
    "sensors/+/humidity",
    "sensors/building-7/#",
    "alerts/#",
    "devices/+/status",
    "devices/+/config/+",
    "$SYS/broker/uptime",
    "home/kitchen/light",
    "home/+/+/battery",
    "#",
];

/// A SUBSCRIBE with ten Topic Filters at mixed QoS. In MQTT 5.0 it also carries a
/// Subscription Identifier and uses the v5-only subscription options on some filters.
fn subscribe(v: ProtocolVersion) -> Packet {
    let mut properties = SubscribeProperties::default();
    if v.is_v5() {
        properties.subscription_identifiers = vec![NonZeroU32::new(42).unwrap()];
    }
    let filters = SUBSCRIBE_FILTERS
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut options = SubscriptionOptions::qos(QoS::from_u8((i % 3) as u8).unwrap());
            if v.is_v5() {
                options.no_local = i % 2 == 1;
                options.retain_as_published = i % 4 == 0;
                options.retain_handling = match i % 3 {
                    0 => RetainHandling::SendOnSubscribe,
                    1 => RetainHandling::SendIfNew,
                    _ => RetainHandling::DoNotSend,
                };
            }
            (TopicFilter::new(*f).unwrap(), options)
        })
        .collect();
    Packet::Subscribe(Subscribe {
        packet_id: PacketId::new(7).unwrap(),
        properties: properties.into(),
        filters,
    })
}

// ---------------------------------------------------------------------------------------------
// What both sides decoded, in one comparable shape.

#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    qos: u8,
    dup: bool,
    retain: bool,
    topic: String,
    packet_id: u16,
    payload: Bytes,
    user_properties: Vec<(String, String)>,
    keep_alive: u16,
    clean_start: bool,
    client_id: String,
    will: Option<(String, Bytes, u8, bool, Option<u32>)>,
    username: Option<String>,
    password: Option<Bytes>,
    session_expiry_interval: Option<u32>,
    receive_maximum: Option<u16>,
    filters: Vec<(String, u8)>,
    subscription_identifier: Option<u32>,
}

fn owned_pairs(pairs: &UserProperties) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn seen_ours(p: &Packet) -> Seen {
    match p {
        Packet::Publish(p) => Seen {
            qos: p.qos().as_u8(),
            dup: p.dup,
            retain: p.retain,
            topic: p.topic.to_string(),
            packet_id: p.packet_id().map_or(0, PacketId::get),
            payload: p.payload.clone(),
            user_properties: owned_pairs(&p.properties.user_properties),
            ..Seen::default()
        },
        Packet::Connect(c) => Seen {
            keep_alive: c.keep_alive,
            clean_start: c.clean_start,
            client_id: c.client_id.to_string(),
            will: c.will.as_ref().map(|w| {
                (
                    w.topic.to_string(),
                    w.payload.clone(),
                    w.qos.as_u8(),
                    w.retain,
                    w.properties.will_delay_interval,
                )
            }),
            username: c.username.as_ref().map(|u| u.to_string()),
            password: c.password.clone(),
            session_expiry_interval: c.properties.session_expiry_interval,
            receive_maximum: c.properties.receive_maximum.map(NonZeroU16::get),
            ..Seen::default()
        },
        Packet::Subscribe(s) => Seen {
            packet_id: s.packet_id.get(),
            filters: s
                .filters
                .iter()
                .map(|(f, o)| (f.to_string(), o.to_byte()))
                .collect(),
            subscription_identifier: s
                .properties
                .subscription_identifiers
                .first()
                .map(|id| id.get()),
            ..Seen::default()
        },
        other => panic!("no benchmark decodes {other:?}"),
    }
}

fn seen_v4(p: &m4::Packet) -> Seen {
    match p {
        m4::Packet::Publish(p) => Seen {
            qos: p.qos as u8,
            dup: p.dup,
            retain: p.retain,
            topic: p.topic.clone(),
            packet_id: p.pkid,
            payload: p.payload.clone(),
            ..Seen::default()
        },
        m4::Packet::Connect(c) => Seen {
            keep_alive: c.keep_alive,
            clean_start: c.clean_session,
            client_id: c.client_id.clone(),
            will: c.last_will.as_ref().map(|w| {
                (
                    w.topic.clone(),
                    w.message.clone(),
                    w.qos as u8,
                    w.retain,
                    None,
                )
            }),
            username: c.login.as_ref().map(|l| l.username.clone()),
            password: c
                .login
                .as_ref()
                .map(|l| Bytes::from(l.password.clone().into_bytes())),
            ..Seen::default()
        },
        m4::Packet::Subscribe(s) => Seen {
            packet_id: s.pkid,
            filters: s
                .filters
                .iter()
                .map(|f| (f.path.clone(), f.qos as u8))
                .collect(),
            ..Seen::default()
        },
        other => panic!("no benchmark decodes {other:?}"),
    }
}

fn seen_v5(p: &m5::Packet) -> Seen {
    match p {
        m5::Packet::Publish(p) => Seen {
            qos: p.qos as u8,
            dup: p.dup,
            retain: p.retain,
            topic: String::from_utf8(p.topic.to_vec()).unwrap(),
            packet_id: p.pkid,
            payload: p.payload.clone(),
            user_properties: p
                .properties
                .as_ref()
                .map(|props| props.user_properties.clone())
                .unwrap_or_default(),
            ..Seen::default()
        },
        m5::Packet::Connect(c, will, login) => Seen {
            keep_alive: c.keep_alive,
            clean_start: c.clean_start,
            client_id: c.client_id.clone(),
            will: will.as_ref().map(|w| {
                (
                    String::from_utf8(w.topic.to_vec()).unwrap(),
                    w.message.clone(),
                    w.qos as u8,
                    w.retain,
                    w.properties.as_ref().and_then(|p| p.delay_interval),
                )
            }),
            username: login.as_ref().map(|l| l.username.clone()),
            password: login
                .as_ref()
                .map(|l| Bytes::from(l.password.clone().into_bytes())),
            session_expiry_interval: c
                .properties
                .as_ref()
                .and_then(|p| p.session_expiry_interval),
            receive_maximum: c.properties.as_ref().and_then(|p| p.receive_maximum),
            ..Seen::default()
        },
        m5::Packet::Subscribe(s) => Seen {
            packet_id: s.pkid,
            filters: s
                .filters
                .iter()
                .map(|f| {
                    let rh = match f.retain_forward_rule {
                        m5::RetainForwardRule::OnEverySubscribe => 0,
                        m5::RetainForwardRule::OnNewSubscribe => 1,
                        m5::RetainForwardRule::Never => 2,
                    };
                    let options = f.qos as u8
                        | (u8::from(f.nolocal) << 2)
                        | (u8::from(f.preserve_retain) << 3)
                        | (rh << 4);
                    (f.path.clone(), options)
                })
                .collect(),
            subscription_identifier: s
                .properties
                .as_ref()
                .and_then(|p| p.id)
                .map(|id| u32::try_from(id).unwrap()),
            ..Seen::default()
        },
        other => panic!("no benchmark decodes {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The two arms of every group.

/// rumqttc's codec for one protocol version, seen through the two calls we measure.
trait TheirCodec {
    type Packet;
    fn read(buf: &mut BytesMut) -> Self::Packet;
    fn write(packet: &Self::Packet, buf: &mut BytesMut);
    fn seen(packet: &Self::Packet) -> Seen;
}

struct MqttBytesV4;

impl TheirCodec for MqttBytesV4 {
    type Packet = m4::Packet;
    fn read(buf: &mut BytesMut) -> m4::Packet {
        m4::Packet::read(buf, MAX_PACKET_SIZE).unwrap()
    }
    fn write(packet: &m4::Packet, buf: &mut BytesMut) {
        packet.write(buf, MAX_PACKET_SIZE).unwrap();
    }
    fn seen(packet: &m4::Packet) -> Seen {
        seen_v4(packet)
    }
}

struct MqttBytesV5;

impl TheirCodec for MqttBytesV5 {
    type Packet = m5::Packet;
    fn read(buf: &mut BytesMut) -> m5::Packet {
        m5::Packet::read(buf, Some(MAX_PACKET_SIZE as u32)).unwrap()
    }
    fn write(packet: &m5::Packet, buf: &mut BytesMut) {
        packet.write(buf, Some(MAX_PACKET_SIZE as u32)).unwrap();
    }
    fn seen(packet: &m5::Packet) -> Seen {
        seen_v5(packet)
    }
}

fn our_decoder(v: ProtocolVersion) -> FrameDecoder {
    FrameDecoder::new(v).with_max_packet_size(MAX_PACKET_SIZE as u32)
}

fn our_read(decoder: &mut FrameDecoder, buf: &mut BytesMut) -> Packet {
    decoder.decode(buf).unwrap().unwrap()
}

/// Times `iters` decodes of `wire` with `read`. The input buffers are made, and the decoded
/// packets dropped, outside the timed loops, in chunks of about 256 KiB (at least 16 packets,
/// so two clock reads are spread over 16 or more decodes); the output vector is reused, so no
/// timed store touches a fresh page. Both arms use this same function.
fn time_decodes<P>(iters: u64, wire: &[u8], mut read: impl FnMut(&mut BytesMut) -> P) -> Duration {
    let chunk = ((256 << 10) / (wire.len() + std::mem::size_of::<P>())).clamp(16, 512);
    let mut outputs: Vec<P> = Vec::with_capacity(chunk);
    let mut total = Duration::ZERO;
    let mut remaining = iters;
    while remaining > 0 {
        let n = remaining.min(chunk as u64) as usize;
        let mut inputs: Vec<BytesMut> = (0..n).map(|_| BytesMut::from(wire)).collect();
        let start = Instant::now();
        for buf in inputs.iter_mut() {
            outputs.push(read(black_box(buf)));
        }
        total += start.elapsed();
        black_box(&outputs);
        outputs.clear();
        remaining -= n as u64;
    }
    total
}

/// Checks that both codecs read `wire` as the same packet and write both decodings back as
/// exactly `wire`; returns both decodings.
fn same_packet_both_sides<T: TheirCodec>(
    name: &str,
    wire: &Bytes,
    v: ProtocolVersion,
) -> (Packet, T::Packet) {
    let ours = our_read(&mut our_decoder(v), &mut BytesMut::from(&wire[..]));
    let theirs = T::read(&mut BytesMut::from(&wire[..]));
    assert_eq!(
        seen_ours(&ours),
        T::seen(&theirs),
        "{name}: decodings differ"
    );
    assert_ne!(seen_ours(&ours), Seen::default(), "{name}: nothing decoded");
    let mut buf = BytesMut::new();
    encode_packet(&ours, v, &mut buf).unwrap();
    assert_eq!(&buf[..], &wire[..], "{name}: our encoding differs");
    buf.clear();
    T::write(&theirs, &mut buf);
    assert_eq!(&buf[..], &wire[..], "{name}: mqttbytes encoding differs");
    (ours, theirs)
}

/// Benchmarks decoding and encoding of `packet` (for `v`) in both codecs: groups
/// `decode/{name}` and `encode/{name}`, each with the functions `mqttspec` and `mqttbytes`.
fn bench_pair<T: TheirCodec>(c: &mut Criterion, name: &str, packet: &Packet, v: ProtocolVersion) {
    let wire = packet.encode(v).unwrap();
    let (ours, theirs) = same_packet_both_sides::<T>(name, &wire, v);
    let throughput = Throughput::Bytes(wire.len() as u64);

    let mut group = c.benchmark_group(format!("decode/{name}"));
    group.throughput(throughput.clone());
    group.bench_function("mqttspec", |b| {
        let mut decoder = our_decoder(v);
        b.iter_custom(|iters| time_decodes(iters, &wire, |buf| our_read(&mut decoder, buf)))
    });
    group.bench_function("mqttbytes", |b| {
        b.iter_custom(|iters| time_decodes(iters, &wire, T::read))
    });
    group.finish();

    let mut group = c.benchmark_group(format!("encode/{name}"));
    group.throughput(throughput);
    group.bench_function("mqttspec", |b| {
        let mut buf = BytesMut::with_capacity(wire.len());
        b.iter(|| {
            buf.clear();
            encode_packet(black_box(&ours), v, &mut buf).unwrap();
            black_box(&buf);
        })
    });
    group.bench_function("mqttbytes", |b| {
        let mut buf = BytesMut::with_capacity(wire.len());
        b.iter(|| {
            buf.clear();
            T::write(black_box(&theirs), &mut buf);
            black_box(&buf);
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------

fn publish_benches(c: &mut Criterion) {
    // The in-memory size of each side's packet value: decoding moves it through several
    // `Result`s, so it shows in the decode times.
    eprintln!(
        "size_of Packet: mqttspec {} B, mqttbytes v4 {} B, mqttbytes v5 {} B",
        std::mem::size_of::<Packet>(),
        std::mem::size_of::<m4::Packet>(),
        std::mem::size_of::<m5::Packet>()
    );
    for (len, label) in PAYLOAD_SIZES {
        bench_pair::<MqttBytesV4>(
            c,
            &format!("publish-v311/{label}"),
            &publish(len, false),
            ProtocolVersion::V311,
        );
        bench_pair::<MqttBytesV5>(
            c,
            &format!("publish-v5/{label}"),
            &publish(len, false),
            ProtocolVersion::V5,
        );
        bench_pair::<MqttBytesV5>(
            c,
            &format!("publish-v5-4props/{label}"),
            &publish(len, true),
            ProtocolVersion::V5,
        );
    }
}

fn connect_benches(c: &mut Criterion) {
    let v = ProtocolVersion::V311;
    bench_pair::<MqttBytesV4>(c, "connect-v311", &connect(v), v);
    let v = ProtocolVersion::V5;
    bench_pair::<MqttBytesV5>(c, "connect-v5", &connect(v), v);
}

fn subscribe_benches(c: &mut Criterion) {
    let v = ProtocolVersion::V311;
    bench_pair::<MqttBytesV4>(c, "subscribe-v311", &subscribe(v), v);
    let v = ProtocolVersion::V5;
    bench_pair::<MqttBytesV5>(c, "subscribe-v5", &subscribe(v), v);
}

criterion_group!(benches, publish_benches, connect_benches, subscribe_benches);
criterion_main!(benches);
