//! `Broker::frames_received` is `Broker::bytes_received` without the copy: two brokers fed
//! the same byte streams, one through `bytes_received` in the chunks a socket might deliver
//! and the other through `frames_received` with each chunk cut again (at packet boundaries,
//! as the shell's reader cuts, and at arbitrary points), must ask for exactly the same
//! actions after every event and want the same timeouts.
//!
//! The streams mix well-formed packets of both versions, malformed bytes, reserved packet
//! types and packets over the Maximum Packet Size; the brokers have the fuzzer's small limits
//! (so queues fill, publishers are held and paused, unflushed bytes stop delivery) and
//! sometimes one fault (several of which change how input is handled).

use std::num::NonZeroU16;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use mqttspec_broker_core::fault::Fault;
use mqttspec_broker_core::fuzzing::fuzz_config;
use mqttspec_broker_core::{Action, Broker, ConnectionId};
use mqttspec_codec::{
    Connect, ConnectProperties, Disconnect, MqttString, Packet, PacketId, ProtocolVersion, PubAck,
    PubComp, PubRec, PubRel, Publish, QoS, Subscribe, SubscriptionOptions, TopicFilter, TopicName,
};
use proptest::prelude::*;

const CONNECTIONS: usize = 3;
const CLIENT_IDS: [&str; 3] = ["a", "b", "c"];
const TOPICS: [&str; 3] = ["t", "t/u", "v"];
const FILTERS: [&str; 4] = ["#", "t/+", "t", "$share/g/t"];

/// One item of a client's byte stream.
#[derive(Debug, Clone)]
enum Token {
    Connect {
        client: usize,
        clean_start: bool,
        keep_alive: bool,
        receive_maximum: u16,
    },
    Subscribe {
        id: u16,
        filter: usize,
        qos: u8,
    },
    Publish {
        topic: usize,
        qos: u8,
        id: u16,
        retain: bool,
        payload: usize,
    },
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    PingReq,
    Disconnect,
    /// Arbitrary bytes.
    Garbage(Vec<u8>),
    /// A packet of reserved type 0.
    Reserved,
    /// A PUBLISH fixed header announcing 100,000 bytes.
    Oversized,
    /// A PUBLISH whose Topic Name has a wildcard.
    BadPublish,
    /// A SUBSCRIBE whose Subscription Options have reserved bits set.
    BadSubscribe,
}

/// Mostly within the fuzzer's Maximum Packet Size (512), sometimes not.
fn payload_size() -> impl Strategy<Value = usize> {
    prop_oneof![20 => 0usize..300, 1 => 400usize..600]
}

fn token() -> impl Strategy<Value = Token> {
    let id = 1u16..6;
    prop_oneof![
        2 => (0..CLIENT_IDS.len(), any::<bool>(), any::<bool>(), 0u16..4).prop_map(
            |(client, clean_start, keep_alive, receive_maximum)| Token::Connect {
                client,
                clean_start,
                keep_alive,
                receive_maximum,
            }
        ),
        20 => (id.clone(), 0..FILTERS.len(), 0u8..3)
            .prop_map(|(id, filter, qos)| Token::Subscribe { id, filter, qos }),
        80 => (0..TOPICS.len(), 0u8..3, id.clone(), any::<bool>(), payload_size()).prop_map(
            |(topic, qos, id, retain, payload)| Token::Publish {
                topic,
                qos,
                id,
                retain,
                payload,
            }
        ),
        20 => id.clone().prop_map(Token::PubAck),
        10 => id.clone().prop_map(Token::PubRec),
        10 => id.clone().prop_map(Token::PubRel),
        10 => id.prop_map(Token::PubComp),
        10 => Just(Token::PingReq),
        2 => Just(Token::Disconnect),
        2 => proptest::collection::vec(any::<u8>(), 1..12).prop_map(Token::Garbage),
        2 => Just(Token::Reserved),
        2 => Just(Token::Oversized),
        3 => Just(Token::BadPublish),
        3 => Just(Token::BadSubscribe),
    ]
}

fn s(v: &str) -> MqttString {
    MqttString::new(v, "test").expect("valid string")
}

fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero packet id")
}

fn qos(v: u8) -> QoS {
    QoS::from_u8(v).unwrap_or(QoS::AtMostOnce)
}

/// The bytes of `token` for a client of version `v`.
fn encode(token: &Token, v: ProtocolVersion) -> Vec<u8> {
    let packet = match token {
        Token::Connect {
            client,
            clean_start,
            keep_alive,
            receive_maximum,
        } => {
            let mut properties = ConnectProperties::default();
            if v.is_v5() {
                properties.receive_maximum = NonZeroU16::new(*receive_maximum);
            }
            Packet::Connect(Box::new(Connect {
                protocol_version: v,
                clean_start: *clean_start,
                keep_alive: if *keep_alive { 5 } else { 0 },
                properties: properties.into(),
                client_id: s(CLIENT_IDS[*client]),
                will: None,
                username: None,
                password: None,
            }))
        }
        Token::Subscribe { id, filter, qos: q } => {
            let options = SubscriptionOptions {
                qos: qos(*q),
                ..SubscriptionOptions::default()
            };
            Packet::Subscribe(Subscribe {
                packet_id: pid(*id),
                properties: Default::default(),
                filters: vec![(
                    TopicFilter::new(FILTERS[*filter]).expect("valid filter"),
                    options,
                )],
            })
        }
        Token::Publish {
            topic,
            qos: q,
            id,
            retain,
            payload,
        } => {
            let mut p = Publish::new(
                TopicName::new(TOPICS[*topic]).expect("valid topic"),
                Bytes::from(vec![b'x'; *payload]),
            );
            p.delivery = mqttspec_codec::Delivery::new(qos(*q), pid(*id));
            p.retain = *retain;
            Packet::Publish(p)
        }
        Token::PubAck(id) => Packet::PubAck(PubAck::new(pid(*id))),
        Token::PubRec(id) => Packet::PubRec(PubRec::new(pid(*id))),
        Token::PubRel(id) => Packet::PubRel(PubRel::new(pid(*id))),
        Token::PubComp(id) => Packet::PubComp(PubComp::new(pid(*id))),
        Token::PingReq => Packet::PingReq,
        Token::Disconnect => Packet::Disconnect(Disconnect::default()),
        Token::Garbage(bytes) => return bytes.clone(),
        Token::Reserved => return vec![0x00, 0x00],
        Token::Oversized => return vec![0x30, 0xA0, 0x8D, 0x06, 0x00],
        Token::BadPublish if v.is_v5() => return b"\x30\x06\x00\x03a/#\x00".to_vec(),
        Token::BadPublish => return b"\x30\x05\x00\x03a/#".to_vec(),
        Token::BadSubscribe if v.is_v5() => return b"\x82\x07\x00\x01\x00\x00\x01t\xC1".to_vec(),
        Token::BadSubscribe => return b"\x82\x06\x00\x01\x00\x01t\xC1".to_vec(),
    };
    packet.encode(v).expect("test packets encode").to_vec()
}

/// One client's byte stream and the positions where its packets start.
#[derive(Debug, Clone)]
struct Stream {
    bytes: Bytes,
    boundaries: Vec<usize>,
    sent: usize,
}

fn stream(v5: bool, connect: Token, tokens: &[Token]) -> Stream {
    let v = if v5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    };
    let mut bytes = BytesMut::new();
    let mut boundaries = Vec::new();
    for t in std::iter::once(&connect).chain(tokens) {
        boundaries.push(bytes.len());
        bytes.put_slice(&encode(t, v));
    }
    Stream {
        bytes: bytes.freeze(),
        boundaries,
        sent: 0,
    }
}

/// What happens next.
#[derive(Debug, Clone)]
enum Step {
    /// About the next `len` bytes of a client's stream arrive; `cuts` (fractions of the
    /// chunk, in 1/256) cut it again for `frames_received`. With `whole_frames` the chunk ends
    /// at a packet boundary and is also cut at every packet boundary, as the shell's reader
    /// cuts; without, it ends anywhere.
    Input {
        conn: usize,
        len: usize,
        cuts: Vec<u8>,
        whole_frames: bool,
    },
    Flushed(usize),
    Advance(u64),
    Close(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (
            0..CONNECTIONS,
            1usize..400,
            prop_oneof![3 => Just(Vec::new()), 1 => proptest::collection::vec(any::<u8>(), 1..4)],
            proptest::bool::weighted(0.8),
        )
            .prop_map(|(conn, len, cuts, whole_frames)| Step::Input {
                conn,
                len,
                cuts,
                whole_frames,
            }),
        3 => (0..CONNECTIONS).prop_map(Step::Flushed),
        1 => (0u64..20).prop_map(Step::Advance),
        1 => (0..CONNECTIONS).prop_map(Step::Close),
    ]
}

/// The same events to a broker fed with `bytes_received` and one fed with `frames_received`.
struct Pair {
    raw: Broker,
    framed: Broker,
    now: Duration,
}

impl Pair {
    fn check(&mut self, what: &str) -> Result<(), TestCaseError> {
        loop {
            let a = self.raw.poll_action();
            let b = self.framed.poll_action();
            prop_assert_eq!(&a, &b, "after {}", what);
            if a.is_none() {
                break;
            }
        }
        prop_assert_eq!(
            self.raw.poll_timeout(),
            self.framed.poll_timeout(),
            "timeout after {}",
            what
        );
        prop_assert_eq!(self.raw.connection_count(), self.framed.connection_count());
        prop_assert_eq!(self.raw.session_count(), self.framed.session_count());
        Ok(())
    }

    /// Runs the timers due by `now`, as the shell does.
    fn timers(&mut self) -> Result<(), TestCaseError> {
        while let Some(at) = self.raw.poll_timeout().filter(|at| *at <= self.now) {
            self.raw.handle_timeout(at.max(self.now));
            self.framed.handle_timeout(at.max(self.now));
            self.check("a timeout")?;
        }
        Ok(())
    }
}

/// Cuts `chunk` (which starts at `start` in its stream) at the stream's packet boundaries
/// (if `at_boundaries`) and at `cuts`.
fn pieces(
    chunk: &Bytes,
    start: usize,
    boundaries: &[usize],
    cuts: &[u8],
    at_boundaries: bool,
) -> Vec<Bytes> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| usize::from(*c) * chunk.len() / 256)
        .collect();
    if at_boundaries {
        points.extend(
            boundaries
                .iter()
                .filter(|b| **b > start && **b < start + chunk.len())
                .map(|b| b - start),
        );
    }
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut from = 0;
    for p in points {
        out.push(chunk.slice(from..p));
        from = p;
    }
    out.push(chunk.slice(from..));
    out
}

fn play(
    variant: u8,
    fault: Option<Fault>,
    clients: Vec<(bool, Token, Vec<Token>)>,
    steps: Vec<Step>,
) -> Result<(), TestCaseError> {
    // Without `require_authentication` (bit 3), which would refuse every CONNECT here.
    let mut config = fuzz_config(variant & !0b1000);
    if let Some(f) = fault {
        config.faults = vec![f.name().to_owned()];
    }
    let mut pair = Pair {
        raw: Broker::new(config.clone()),
        framed: Broker::new(config),
        now: Duration::ZERO,
    };
    let mut streams: Vec<Stream> = clients
        .iter()
        .map(|(v5, connect, tokens)| stream(*v5, connect.clone(), tokens))
        .collect();
    let ids: Vec<ConnectionId> = (1..=CONNECTIONS as u64).map(ConnectionId).collect();
    for id in &ids {
        pair.raw.connection_opened(*id, pair.now);
        pair.framed.connection_opened(*id, pair.now);
        pair.check("opening")?;
    }
    for step in steps {
        match step {
            Step::Input {
                conn,
                len,
                cuts,
                whole_frames,
            } => {
                let (Some(stream), Some(id)) = (streams.get_mut(conn), ids.get(conn)) else {
                    continue;
                };
                let start = stream.sent;
                let mut end = (start + len).min(stream.bytes.len());
                if whole_frames {
                    // The last packet boundary within reach, else the next one: at least one
                    // whole packet.
                    let after = stream.boundaries.iter().copied().filter(|b| *b > start);
                    let within = after.clone().rfind(|b| *b <= end);
                    end = within
                        .or_else(|| after.clone().next())
                        .unwrap_or(stream.bytes.len());
                }
                let chunk = stream.bytes.slice(start..end);
                stream.sent = end;
                let framed = pieces(&chunk, start, &stream.boundaries, &cuts, whole_frames);
                pair.raw.bytes_received(*id, &chunk, pair.now);
                pair.framed.frames_received(*id, framed, pair.now);
                pair.check("input")?;
            }
            Step::Flushed(conn) => {
                if let Some(id) = ids.get(conn) {
                    pair.raw.connection_flushed(*id, pair.now);
                    pair.framed.connection_flushed(*id, pair.now);
                    pair.check("a flush")?;
                }
            }
            Step::Advance(secs) => {
                pair.now += Duration::from_secs(secs);
                pair.timers()?;
            }
            Step::Close(conn) => {
                if let Some(id) = ids.get(conn) {
                    pair.raw.connection_closed(*id, pair.now);
                    pair.framed.connection_closed(*id, pair.now);
                    pair.check("a close")?;
                }
            }
        }
    }
    // Whatever is left of every stream arrives at the end.
    for (stream, id) in streams.iter().zip(&ids) {
        let rest = stream.bytes.slice(stream.sent..);
        let framed = pieces(&rest, stream.sent, &stream.boundaries, &[], true);
        pair.raw.bytes_received(*id, &rest, pair.now);
        pair.framed.frames_received(*id, framed, pair.now);
        pair.check("the rest of the input")?;
    }
    Ok(())
}

/// The faults that change how input is read, often; any other, sometimes.
fn fault() -> impl Strategy<Value = Option<Fault>> {
    let input = [
        Fault::HangOnReservedType,
        Fault::IgnoreMalformedPublish,
        Fault::IgnoreMalformedSubscribe,
        Fault::ConnackMalformedConnect,
        Fault::LenientDisconnect,
        Fault::KeepAlivePingreqOnly,
        Fault::UnenforcedMaximumPacketSize,
        Fault::IgnorePacketBeforeConnect,
    ];
    prop_oneof![
        5 => Just(None),
        4 => proptest::sample::select(input.to_vec()).prop_map(Some),
        2 => proptest::sample::select(Fault::ALL.to_vec()).prop_map(Some),
    ]
}

fn client() -> impl Strategy<Value = (bool, Token, Vec<Token>)> {
    (
        any::<bool>(),
        (0..CLIENT_IDS.len(), any::<bool>(), any::<bool>(), 0u16..4).prop_map(
            |(client, clean_start, keep_alive, receive_maximum)| Token::Connect {
                client,
                clean_start,
                keep_alive,
                receive_maximum,
            },
        ),
        proptest::collection::vec(token(), 0..40),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn frames_received_does_what_bytes_received_does(
        variant in any::<u8>(),
        fault in fault(),
        clients in proptest::collection::vec(client(), CONNECTIONS),
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        play(variant, fault, clients, steps)?;
    }
}

#[test]
fn whole_frames_are_handled_like_bytes_in_one_piece() {
    // A deterministic case that goes through the direct path: CONNECT, SUBSCRIBE and a
    // publication to itself, each its own frame.
    let v = ProtocolVersion::V5;
    let connect = Token::Connect {
        client: 0,
        clean_start: true,
        keep_alive: false,
        receive_maximum: 0,
    };
    let tokens = vec![
        Token::Subscribe {
            id: 1,
            filter: 0,
            qos: 1,
        },
        Token::Publish {
            topic: 0,
            qos: 1,
            id: 2,
            retain: false,
            payload: 10,
        },
        Token::PingReq,
    ];
    let st = stream(true, connect, &tokens);
    let mut raw = Broker::new(fuzz_config(0));
    let mut framed = Broker::new(fuzz_config(0));
    let id = ConnectionId(1);
    raw.connection_opened(id, Duration::ZERO);
    framed.connection_opened(id, Duration::ZERO);
    raw.bytes_received(id, &st.bytes, Duration::ZERO);
    let frames = pieces(&st.bytes, 0, &st.boundaries, &[], true);
    assert_eq!(frames.len(), 4);
    framed.frames_received(id, frames, Duration::ZERO);
    let a: Vec<Action> = std::iter::from_fn(|| raw.poll_action()).collect();
    let b: Vec<Action> = std::iter::from_fn(|| framed.poll_action()).collect();
    assert_eq!(a, b);
    // CONNACK, SUBACK, PUBLISH to itself, PUBACK, PINGRESP.
    assert_eq!(a.len(), 5, "{a:?}");
    assert_eq!(framed.protocol_version(id), Some(v));
}
