//! A simulated world for the broker core: a [`Sim`] owns a [`Broker`], opens connections,
//! sends packets encoded with the codec, decodes (strictly) what the broker sends back per
//! connection, and moves a simulated clock forward by calling `handle_timeout` at the
//! deadlines the core asks for. No sockets, no sleeps: keep alive, will delay, session and
//! message expiry run in microseconds.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::time::Duration;

use bytes::Bytes;
use mqttspec_broker_core::{Action, Broker, CloseReason, Config, ConnectionId};
use mqttspec_codec::{
    ConnAck, Connect, Delivery, Disconnect, LastWill, MqttString, Packet, PacketId,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, SubAck, Subscribe,
    SubscribeProperties, SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe,
};

pub use mqttspec_codec::ProtocolVersion::{V311, V5};

/// Both protocol versions, for tests that run the same scenario on each.
pub const BOTH: [ProtocolVersion; 2] = [V311, V5];

/// Seconds as a Duration.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Milliseconds as a Duration.
pub fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A Topic Name.
pub fn topic(s: &str) -> TopicName {
    TopicName::new(s).expect("valid topic name")
}

/// A Topic Filter (MQTT 5.0 rules, so `$share/...` is checked too).
pub fn filter(s: &str) -> TopicFilter {
    TopicFilter::new(s).expect("valid topic filter")
}

/// A UTF-8 string.
pub fn s(v: &str) -> MqttString {
    MqttString::new(v, "test").expect("valid string")
}

/// A Packet Identifier.
pub fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero packet id")
}

/// A CONNECT with Clean Start 1, Keep Alive 0 and nothing else.
pub fn connect_packet(v: ProtocolVersion, client_id: &str) -> Connect {
    Connect {
        protocol_version: v,
        clean_start: true,
        keep_alive: 0,
        properties: Default::default(),
        client_id: s(client_id),
        will: None,
        username: None,
        password: None,
    }
}

/// A Will Message.
pub fn will(t: &str, payload: &str, qos: QoS, retain: bool) -> LastWill {
    LastWill {
        qos,
        retain,
        properties: Default::default(),
        topic: topic(t),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    }
}

/// A PUBLISH. At QoS 1/2 it carries Packet Identifier 1: set another with
/// `Publish::set_packet_id`, or send it with [`Sim::publish_msg`], which gives it the
/// connection's next one.
pub fn publish(t: &str, qos: QoS, payload: &str) -> Publish {
    Publish {
        dup: false,
        delivery: Delivery::new(qos, PacketId::MIN),
        retain: false,
        topic: topic(t),
        properties: Default::default(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    }
}

/// Subscription options with this QoS.
pub fn opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions::qos(qos)
}

/// What a connection's client saw.
#[derive(Debug, Default)]
pub struct Peer {
    /// Its protocol version (how its bytes are decoded).
    pub version: Option<ProtocolVersion>,
    /// Packets received and not yet taken.
    pub inbox: Vec<Packet>,
    /// How the broker closed it, if it did.
    pub closed: Option<CloseReason>,
    /// Whether the broker asked to stop reading from it.
    pub paused: bool,
    /// The next Packet Identifier the client uses.
    next_id: u16,
}

/// The simulated world. See the module docs.
pub struct Sim {
    /// The broker under test.
    pub broker: Broker,
    /// The simulated time.
    pub now: Duration,
    /// Every connection's client.
    pub peers: BTreeMap<ConnectionId, Peer>,
    /// Every action, in order (for tests on pause/resume and raw bytes).
    pub log: Vec<Action>,
    next_conn: u64,
    /// Whether to report every connection flushed after its output is read.
    pub auto_flush: bool,
}

impl Sim {
    /// A world with this configuration.
    pub fn new(config: Config) -> Sim {
        Sim {
            broker: Broker::new(config),
            now: Duration::ZERO,
            peers: BTreeMap::new(),
            log: Vec::new(),
            next_conn: 1,
            auto_flush: true,
        }
    }

    /// A world with the default configuration.
    pub fn default_config() -> Sim {
        Sim::new(Config::default())
    }

    /// A world with the default configuration and these faults.
    pub fn with_faults(faults: &[&str]) -> Sim {
        Sim::new(Config {
            faults: faults.iter().map(|f| f.to_string()).collect(),
            ..Config::default()
        })
    }

    /// Opens a connection.
    pub fn open(&mut self) -> ConnectionId {
        let id = ConnectionId(self.next_conn);
        self.next_conn += 1;
        self.peers.insert(
            id,
            Peer {
                next_id: 1,
                ..Peer::default()
            },
        );
        self.broker.connection_opened(id, self.now);
        self.drain();
        id
    }

    /// Feeds raw bytes.
    pub fn send_raw(&mut self, c: ConnectionId, bytes: &[u8]) {
        self.broker.bytes_received(c, bytes, self.now);
        self.drain();
    }

    /// Encodes `packet` for `v` and feeds it.
    pub fn send_as(&mut self, c: ConnectionId, v: ProtocolVersion, packet: Packet) {
        let bytes = packet.encode(v).expect("test packet encodes");
        self.send_raw(c, &bytes);
    }

    /// Encodes `packet` for the connection's version and feeds it.
    pub fn send(&mut self, c: ConnectionId, packet: Packet) {
        let v = self.version(c);
        self.send_as(c, v, packet);
    }

    /// The client closes the network connection.
    pub fn drop_connection(&mut self, c: ConnectionId) {
        self.broker.connection_closed(c, self.now);
        self.drain();
    }

    /// The connection's protocol version.
    pub fn version(&self, c: ConnectionId) -> ProtocolVersion {
        self.peers
            .get(&c)
            .and_then(|p| p.version)
            .expect("connection has a version")
    }

    /// A fresh Packet Identifier of the client on `c`.
    pub fn next_id(&mut self, c: ConnectionId) -> PacketId {
        let peer = self.peers.get_mut(&c).expect("known connection");
        let id = pid(peer.next_id);
        peer.next_id = peer.next_id.wrapping_add(1).max(1);
        id
    }

    /// Sends CONNECT and returns the connection and the first packet received (usually
    /// CONNACK). Nothing is asserted.
    pub fn try_connect(&mut self, connect: Connect) -> (ConnectionId, Option<Packet>) {
        let c = self.open();
        let v = connect.protocol_version;
        self.peers.get_mut(&c).expect("opened").version = Some(v);
        self.send_as(c, v, Packet::Connect(Box::new(connect)));
        let mut got = self.take(c);
        let first = if got.is_empty() {
            None
        } else {
            Some(got.remove(0))
        };
        // Keep the rest (e.g. redelivered messages) for the test.
        self.peers.get_mut(&c).expect("opened").inbox = got;
        (c, first)
    }

    /// Connects with this CONNECT and asserts CONNACK 0x00; returns the connection and the
    /// CONNACK.
    pub fn connect_with(&mut self, connect: Connect) -> (ConnectionId, ConnAck) {
        let (c, first) = self.try_connect(connect);
        match first {
            Some(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => (c, ack),
            other => panic!("expected CONNACK 0x00, got {other:?}"),
        }
    }

    /// Connects a client with Clean Start 1 and Keep Alive 0; asserts success.
    pub fn connect(&mut self, v: ProtocolVersion, client_id: &str) -> ConnectionId {
        self.connect_with(connect_packet(v, client_id)).0
    }

    /// Connects a client that keeps its session: MQTT 5.0 Session Expiry Interval
    /// `expiry` seconds and Clean Start 0; MQTT 3.1.1 Clean Session 0. Returns the
    /// connection and Session Present.
    pub fn connect_persistent(
        &mut self,
        v: ProtocolVersion,
        client_id: &str,
        expiry: u32,
    ) -> (ConnectionId, bool) {
        let mut c = connect_packet(v, client_id);
        c.clean_start = false;
        if v == V5 {
            c.properties.session_expiry_interval = Some(expiry);
        }
        let (conn, ack) = self.connect_with(c);
        (conn, ack.session_present)
    }

    /// Subscribes `c` to `f` with options `o`; asserts one SUBACK and returns its code.
    pub fn subscribe_with(
        &mut self,
        c: ConnectionId,
        f: &str,
        o: SubscriptionOptions,
        id: Option<u32>,
    ) -> ReasonCode {
        let packet_id = self.next_id(c);
        let mut properties = SubscribeProperties::default();
        if let Some(id) = id {
            properties
                .subscription_identifiers
                .push(NonZeroU32::new(id).expect("non-zero"));
        }
        self.send(
            c,
            Packet::Subscribe(Subscribe {
                packet_id,
                properties: properties.into(),
                filters: vec![(filter(f), o)],
            }),
        );
        let got = self.take(c);
        let suback = got.iter().find_map(|p| match p {
            Packet::SubAck(s) => Some(s.clone()),
            _ => None,
        });
        let SubAck {
            packet_id: echoed,
            reason_codes,
            ..
        } = suback.unwrap_or_else(|| panic!("expected SUBACK, got {got:?}"));
        assert_eq!(echoed, packet_id, "SUBACK echoes the packet id");
        // Keep whatever else came (retained messages) for the test.
        let rest: Vec<Packet> = got
            .into_iter()
            .filter(|p| !matches!(p, Packet::SubAck(_)))
            .collect();
        self.peers.get_mut(&c).expect("known").inbox = rest;
        reason_codes[0]
    }

    /// Subscribes `c` to `f` at `qos`; asserts the granted QoS is `qos`.
    pub fn subscribe(&mut self, c: ConnectionId, f: &str, qos: QoS) {
        let code = self.subscribe_with(c, f, opts(qos), None);
        assert_eq!(code.as_u8(), qos.as_u8(), "granted QoS for {f}");
    }

    /// Unsubscribes; returns the UNSUBACK.
    pub fn unsubscribe(&mut self, c: ConnectionId, f: &str) -> UnsubAck {
        let packet_id = self.next_id(c);
        self.send(
            c,
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties: Default::default(),
                filters: vec![filter(f)],
            }),
        );
        let got = self.take(c);
        match got.as_slice() {
            [Packet::UnsubAck(u)] => {
                assert_eq!(u.packet_id, packet_id);
                u.clone()
            }
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
    }

    /// Publishes and completes the flow from the client side (PUBACK, or PUBREC + PUBREL +
    /// PUBCOMP); asserts the acknowledgements are successful and echo the packet id. A QoS 1/2
    /// PUBLISH is sent with the connection's next Packet Identifier.
    pub fn publish_msg(&mut self, c: ConnectionId, mut p: Publish) {
        if p.qos() != QoS::AtMostOnce {
            p.set_packet_id(self.next_id(c));
        }
        let qos = p.qos();
        let id = p.packet_id();
        self.send(c, Packet::Publish(p));
        match (qos, id) {
            (QoS::AtMostOnce, _) | (_, None) => {}
            (QoS::AtLeastOnce, Some(id)) => {
                let ack = self.expect_from(c, |p| match p {
                    Packet::PubAck(a) => Some(a.clone()),
                    _ => None,
                });
                assert_eq!(ack.packet_id, id);
                assert_eq!(ack.reason_code, ReasonCode::Success);
            }
            (QoS::ExactlyOnce, Some(id)) => {
                let rec = self.expect_from(c, |p| match p {
                    Packet::PubRec(a) => Some(a.clone()),
                    _ => None,
                });
                assert_eq!(rec.packet_id, id);
                assert_eq!(rec.reason_code, ReasonCode::Success);
                self.send(c, Packet::PubRel(PubRel::new(id)));
                let comp = self.expect_from(c, |p| match p {
                    Packet::PubComp(a) => Some(a.clone()),
                    _ => None,
                });
                assert_eq!(comp.packet_id, id);
            }
        }
    }

    /// Publishes `payload` to `t` at `qos` and completes the flow.
    pub fn publish(&mut self, c: ConnectionId, t: &str, qos: QoS, payload: &str) {
        self.publish_msg(c, publish(t, qos, payload));
    }

    /// Publishes with RETAIN 1 and completes the flow.
    pub fn publish_retained(&mut self, c: ConnectionId, t: &str, qos: QoS, payload: &str) {
        let mut p = publish(t, qos, payload);
        p.retain = true;
        self.publish_msg(c, p);
    }

    /// Removes and returns the first packet of `c`'s inbox that `f` accepts; panics if none.
    pub fn expect_from<T>(&mut self, c: ConnectionId, f: impl Fn(&Packet) -> Option<T>) -> T {
        let peer = self.peers.get_mut(&c).expect("known connection");
        let pos = peer.inbox.iter().position(|p| f(p).is_some());
        match pos {
            Some(i) => {
                let p = peer.inbox.remove(i);
                f(&p).expect("matched above")
            }
            None => panic!("expected packet not received; inbox: {:?}", peer.inbox),
        }
    }

    /// Takes every packet received on `c`.
    pub fn take(&mut self, c: ConnectionId) -> Vec<Packet> {
        std::mem::take(&mut self.peers.get_mut(&c).expect("known connection").inbox)
    }

    /// Takes the PUBLISH packets received on `c` (other packets stay).
    pub fn take_publishes(&mut self, c: ConnectionId) -> Vec<Publish> {
        let peer = self.peers.get_mut(&c).expect("known connection");
        let (pubs, rest): (Vec<Packet>, Vec<Packet>) = std::mem::take(&mut peer.inbox)
            .into_iter()
            .partition(|p| matches!(p, Packet::Publish(_)));
        peer.inbox = rest;
        pubs.into_iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// Takes the PUBLISH packets received on `c` and acknowledges every QoS 1/2 one fully.
    pub fn take_and_ack(&mut self, c: ConnectionId) -> Vec<Publish> {
        let pubs = self.take_publishes(c);
        for p in &pubs {
            self.ack(c, p);
        }
        pubs
    }

    /// Acknowledges one received PUBLISH fully (PUBACK, or PUBREC/PUBREL/PUBCOMP).
    pub fn ack(&mut self, c: ConnectionId, p: &Publish) {
        match (p.qos(), p.packet_id()) {
            (QoS::AtLeastOnce, Some(id)) => self.send(c, Packet::PubAck(PubAck::new(id))),
            (QoS::ExactlyOnce, Some(id)) => {
                self.send(c, Packet::PubRec(PubRec::new(id)));
                let rel = self.expect_from(c, |p| match p {
                    Packet::PubRel(r) => Some(r.clone()),
                    _ => None,
                });
                assert_eq!(rel.packet_id, id);
                self.send(c, Packet::PubComp(PubComp::new(id)));
            }
            _ => {}
        }
    }

    /// Sends DISCONNECT (reason 0x00 for MQTT 5.0).
    pub fn disconnect(&mut self, c: ConnectionId) {
        self.send(c, Packet::Disconnect(Disconnect::default()));
    }

    /// How the broker closed `c`, if it did.
    pub fn closed(&self, c: ConnectionId) -> Option<&CloseReason> {
        self.peers.get(&c).and_then(|p| p.closed.as_ref())
    }

    /// Whether the broker closed `c`.
    pub fn is_closed(&self, c: ConnectionId) -> bool {
        self.closed(c).is_some()
    }

    /// Moves the clock forward by `d`, running every timer that falls due on the way at its
    /// own deadline.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(deadline) = self.broker.poll_timeout() {
            if deadline > end {
                break;
            }
            self.now = self.now.max(deadline);
            self.broker.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }

    /// Carries out the broker's actions: decodes what it sends, records closes and pauses,
    /// and (with `auto_flush`) reports each connection flushed.
    pub fn drain(&mut self) {
        loop {
            let mut written: BTreeSet<ConnectionId> = BTreeSet::new();
            while let Some(action) = self.broker.poll_action() {
                self.log.push(action.clone());
                match action {
                    Action::Send {
                        conn,
                        packet,
                        bytes,
                    } => {
                        let peer = self
                            .peers
                            .get_mut(&conn)
                            .expect("send to a known connection");
                        assert!(
                            peer.closed.is_none(),
                            "packet {packet:?} sent after the connection was closed"
                        );
                        let v = peer.version.unwrap_or(V5);
                        let decoded = Packet::decode(bytes.clone(), v)
                            .unwrap_or_else(|e| panic!("broker sent undecodable bytes: {e}"));
                        assert_eq!(decoded, packet, "bytes and packet of Action::Send agree");
                        peer.inbox.push(decoded);
                        written.insert(conn);
                    }
                    Action::Close { conn, reason } => {
                        let peer = self.peers.get_mut(&conn).expect("close a known connection");
                        assert!(peer.closed.is_none(), "closed twice");
                        peer.closed = Some(reason);
                    }
                    Action::PauseReading { conn } => {
                        self.peers.get_mut(&conn).expect("known").paused = true;
                    }
                    Action::ResumeReading { conn } => {
                        self.peers.get_mut(&conn).expect("known").paused = false;
                    }
                }
            }
            if !self.auto_flush || written.is_empty() {
                return;
            }
            for conn in written {
                if self.peers.get(&conn).is_some_and(|p| p.closed.is_none()) {
                    self.broker.connection_flushed(conn, self.now);
                }
            }
        }
    }

    /// The bytes the broker sent on `c` so far, concatenated (from the log).
    pub fn bytes_sent(&self, c: ConnectionId) -> Vec<u8> {
        let mut out = Vec::new();
        for a in &self.log {
            if let Action::Send { conn, bytes, .. } = a {
                if *conn == c {
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }
}

/// The payloads of some PUBLISH packets, as strings.
pub fn payloads(pubs: &[Publish]) -> Vec<String> {
    pubs.iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect()
}

/// The DISCONNECT reason code among `packets`, if one was sent.
pub fn disconnect_code(packets: &[Packet]) -> Option<ReasonCode> {
    packets.iter().find_map(|p| match p {
        Packet::Disconnect(d) => Some(d.reason_code),
        _ => None,
    })
}

/// The CONNACK among `packets`.
pub fn connack(packets: &[Packet]) -> Option<ConnAck> {
    packets.iter().find_map(|p| match p {
        Packet::ConnAck(c) => Some(c.clone()),
        _ => None,
    })
}
