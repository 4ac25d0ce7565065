//! The broker-core fuzz oracle: the function the cargo-fuzz target `broker_core` wraps, and
//! that `reference-broker/core/tests/fuzz_corpus.rs` replays over the committed seeds and
//! regression inputs on stable Rust.
//!
//! [`run_events`] reads a script of up to [`MAX_EVENTS`] [`Event`]s from the input bytes (see
//! [`Event::parse_script`] for the layout) and plays it against a [`Broker`] with small limits
//! ([`fuzz_config`]), on up to [`SLOTS`] connections at a time: connections open and close,
//! clients send well-formed packets (CONNECT, SUBSCRIBE, PUBLISH, acknowledgements, ...),
//! packets built with `arbitrary` from the codec's model, or raw bytes, and time moves on.
//! After each event it drains [`Broker::poll_action`], calls [`Broker::handle_timeout`]
//! whenever [`Broker::poll_timeout`] is due (as the shell does), and checks:
//!
//! | invariant | why it holds |
//! |---|---|
//! | every `Send` carries one packet whose bytes are exactly the packet's encoding for the connection's version, and decode strictly to it | the core's contract ([`Action::Send`]) |
//! | nothing at all is asked for a connection after its `Close`, or for one never opened | the core's contract ([`Action::Close`]) |
//! | the first packet sent is CONNACK (MQTT 5.0: or AUTH); nothing follows a refusing CONNACK but the close | MQTT-3.2.0-1 (both versions), MQTT-3.2.2-7 (5.0) |
//! | no DISCONNECT or AUTH is sent to a MQTT 3.1.1 client | 3.1.1 has no server DISCONNECT and no AUTH |
//! | a QoS 1/2 PUBLISH never reuses a Packet Identifier the client has not yet released on that connection (3.1.1 only: unless it is the same message again with DUP set) | MQTT-2.2.1-4 (5.0), MQTT-2.3.1-4 (3.1.1); MQTT-4.4.0-1 (5.0: no resending within a connection) |
//! | no more unreleased QoS 1/2 PUBLISH on a connection than the client's Receive Maximum (5.0) and [`Config::max_inflight_messages`] | MQTT-3.3.4-9 (5.0); the documented memory bound |
//! | no packet larger than the client's Maximum Packet Size (5.0) | MQTT-3.1.2-24 (5.0) |
//! | queued messages per known session, retained messages, sessions and connections stay within their bounds | the core's documented memory bounds |
//! | after `handle_timeout(now)`, `poll_timeout` is not at or before `now` | every due timer ran |
//!
//! A panic here is a finding. What the clients send is deliberately allowed to break every
//! rule: refusing it (closing the connection, an error reason code) is the expected outcome.
//! Only the broker's own behaviour is checked, and a client's acknowledgements are counted
//! from what its byte stream decodes to (an own copy of the framing), so an acknowledgement
//! the broker has not processed yet only makes the checks more lenient.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttspec_codec::packet::connect_protocol_version;
use mqttspec_codec::{
    Connect, ConnectProperties, Delivery, Disconnect, FrameDecoder, LastWill, MqttString, Packet,
    PacketId, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode,
    RetainHandling, Subscribe, SubscribeProperties, SubscriptionOptions, TopicFilter, TopicName,
    Unsubscribe,
};

use crate::config::{Config, User};
use crate::{Action, Broker, ConnectionId};

/// How many events of a script are played at most.
pub const MAX_EVENTS: usize = 64;

/// How many connections a script can hold open at once.
pub const SLOTS: usize = 4;

/// The number of event kinds (the low nibble of an event's first byte, modulo this).
const KINDS: u8 = 15;

/// Client Identifiers the structured CONNECT picks from (the empty one asks for an assigned
/// identifier; repeating one takes a session over).
const CLIENT_IDS: [&str; 5] = ["", "c0", "c1", "c2", "c3"];

/// Topic Names the structured PUBLISH picks from.
const TOPICS: [&str; 6] = ["a", "a/b", "b", "$SYS/x", "a/b/c", "w"];

/// Topic Filters the structured SUBSCRIBE and UNSUBSCRIBE pick from.
const FILTERS: [&str; 10] = [
    "a",
    "a/b",
    "a/+",
    "#",
    "+/b",
    "$share/g/a",
    "$share/g/#",
    "$SYS/#",
    "a/#",
    "w",
];

/// One step of a script. Every field is a raw byte (or bytes) interpreted when the event is
/// played, so any input is a script and [`Event::encode`] writes back exactly what
/// [`Event::parse_script`] read. `slot` is taken modulo [`SLOTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new connection in `slot` (the one already there, if any, is closed by the peer).
    Open {
        /// The slot.
        slot: u8,
    },
    /// The peer closes the slot's network connection.
    Close {
        /// The slot.
        slot: u8,
    },
    /// The caller has written out everything sent to the slot's connection.
    Flushed {
        /// The slot.
        slot: u8,
    },
    /// Time moves on by `step % 121` seconds.
    Advance {
        /// The step.
        step: u8,
    },
    /// Raw bytes from the slot's client.
    Raw {
        /// The slot.
        slot: u8,
        /// The bytes (at most 255).
        bytes: Vec<u8>,
    },
    /// A packet built with `arbitrary` from `seed`, encoded for MQTT 5.0 (`v5`) or 3.1.1;
    /// when it cannot be built or encoded, `seed` itself is sent as raw bytes.
    Arbitrary {
        /// The slot.
        slot: u8,
        /// The version to encode for.
        v5: bool,
        /// The input of `arbitrary` (at most 255 bytes).
        seed: Vec<u8>,
    },
    /// A well-formed CONNECT; the slot's version becomes the CONNECT's.
    Connect {
        /// The slot.
        slot: u8,
        /// Index into the Client Identifiers (modulo 5; 0 is the empty one).
        client: u8,
        /// bit 0: MQTT 5.0; bit 1: Clean Start; bit 2: a Will; bits 3-4: its QoS; bit 5: its
        /// RETAIN; bit 6: Keep Alive 5 s (else 0); bit 7: User Name and Password.
        flags: u8,
        /// MQTT 5.0 properties: bits 0-1 Session Expiry Interval (none, 0, 10 s, never);
        /// bits 2-3 Receive Maximum (none, 1, 2, 10); bits 4-5 Maximum Packet Size (none,
        /// 40, 128, 1024); bit 6: Will Delay Interval 5 s; bit 7: Request Problem
        /// Information 0 and Topic Alias Maximum 2.
        extras: u8,
    },
    /// A SUBSCRIBE with one Topic Filter.
    Subscribe {
        /// The slot.
        slot: u8,
        /// Index into the Topic Filters (modulo 10).
        filter: u8,
        /// bits 0-1: QoS (3 is sent as 2); bit 2: No Local; bit 3: Retain As Published;
        /// bits 4-5: Retain Handling (3 is sent as 2); bit 6: a Subscription Identifier
        /// (5.0 only; the option bits 2-5 are cleared for 3.1.1).
        options: u8,
        /// The Packet Identifier (0 is sent as 1).
        id: u8,
    },
    /// An UNSUBSCRIBE of one Topic Filter.
    Unsubscribe {
        /// The slot.
        slot: u8,
        /// Index into the Topic Filters.
        filter: u8,
        /// The Packet Identifier (0 is sent as 1).
        id: u8,
    },
    /// A PUBLISH whose payload is a fresh marker (`m<n>`).
    Publish {
        /// The slot.
        slot: u8,
        /// Index into the Topic Names (modulo 6).
        topic: u8,
        /// bits 0-1: QoS (3 is sent as 2); bit 2: RETAIN; bit 3: DUP (QoS 1/2 only);
        /// bit 4: Message Expiry Interval 3 s (5.0); bit 5: Topic Alias 1 (5.0);
        /// bit 6: empty payload (clears a retained message).
        flags: u8,
        /// The Packet Identifier for QoS 1/2 (0 is sent as 1).
        id: u8,
    },
    /// The client answers the oldest of the broker's flows it has not answered yet (PUBACK
    /// for QoS 1, PUBREC for QoS 2, PUBCOMP for PUBREL).
    Answer {
        /// bits 0-2: answer that many plus one; bit 7: answer PUBLISH with an error reason
        /// code (5.0; the flow ends there).
        count: u8,
        /// The slot.
        slot: u8,
    },
    /// The client sends PUBREL for one of its own QoS 2 messages.
    Release {
        /// The slot.
        slot: u8,
        /// The Packet Identifier (0 is sent as 1).
        id: u8,
    },
    /// The client sends DISCONNECT.
    Disconnect {
        /// The slot.
        slot: u8,
        /// bits 0-1: reason (0x00, 0x04 with Will, 0x80, 0x00); bit 2: a Session Expiry
        /// Interval of 10 s (5.0).
        flags: u8,
    },
    /// The client sends PINGREQ.
    Ping {
        /// The slot.
        slot: u8,
    },
    /// The server shuts down.
    Shutdown,
}

impl Event {
    fn kind(&self) -> u8 {
        match self {
            Event::Open { .. } => 0,
            Event::Close { .. } => 1,
            Event::Flushed { .. } => 2,
            Event::Advance { .. } => 3,
            Event::Raw { .. } => 4,
            Event::Arbitrary { .. } => 5,
            Event::Connect { .. } => 6,
            Event::Subscribe { .. } => 7,
            Event::Unsubscribe { .. } => 8,
            Event::Publish { .. } => 9,
            Event::Answer { .. } => 10,
            Event::Release { .. } => 11,
            Event::Disconnect { .. } => 12,
            Event::Ping { .. } => 13,
            Event::Shutdown => 14,
        }
    }

    fn slot(&self) -> u8 {
        match self {
            Event::Open { slot }
            | Event::Close { slot }
            | Event::Flushed { slot }
            | Event::Raw { slot, .. }
            | Event::Arbitrary { slot, .. }
            | Event::Connect { slot, .. }
            | Event::Subscribe { slot, .. }
            | Event::Unsubscribe { slot, .. }
            | Event::Publish { slot, .. }
            | Event::Answer { slot, .. }
            | Event::Release { slot, .. }
            | Event::Disconnect { slot, .. }
            | Event::Ping { slot } => *slot % SLOTS as u8,
            Event::Advance { .. } | Event::Shutdown => 0,
        }
    }

    /// Reads a script: each event starts with a byte whose low nibble (modulo 15) is its
    /// kind, in the order of the variants, and whose bits 4-5 are its slot; then come its
    /// fields, one byte each, in the order declared (`Raw` and `Arbitrary`: a length byte
    /// and that many bytes; `Arbitrary`: a version byte first, bit 0 = MQTT 5.0). A script
    /// ends with the input, or after [`MAX_EVENTS`] events; a field cut off by the end of the
    /// input reads as 0 (bytes: as many as there are).
    pub fn parse_script(data: &[u8]) -> Vec<Event> {
        let mut r = Cursor { data, pos: 0 };
        let mut events = Vec::new();
        while events.len() < MAX_EVENTS {
            let Some(op) = r.next() else { break };
            let slot = (op >> 4) & 0b11;
            let event = match (op & 0x0F) % KINDS {
                0 => Event::Open { slot },
                1 => Event::Close { slot },
                2 => Event::Flushed { slot },
                3 => Event::Advance { step: r.byte() },
                4 => Event::Raw {
                    slot,
                    bytes: r.chunk(),
                },
                5 => Event::Arbitrary {
                    slot,
                    v5: r.byte() & 1 == 1,
                    seed: r.chunk(),
                },
                6 => Event::Connect {
                    slot,
                    client: r.byte(),
                    flags: r.byte(),
                    extras: r.byte(),
                },
                7 => Event::Subscribe {
                    slot,
                    filter: r.byte(),
                    options: r.byte(),
                    id: r.byte(),
                },
                8 => Event::Unsubscribe {
                    slot,
                    filter: r.byte(),
                    id: r.byte(),
                },
                9 => Event::Publish {
                    slot,
                    topic: r.byte(),
                    flags: r.byte(),
                    id: r.byte(),
                },
                10 => Event::Answer {
                    slot,
                    count: r.byte(),
                },
                11 => Event::Release { slot, id: r.byte() },
                12 => Event::Disconnect {
                    slot,
                    flags: r.byte(),
                },
                13 => Event::Ping { slot },
                _ => Event::Shutdown,
            };
            events.push(event);
        }
        events
    }

    /// Writes the event in the layout [`Event::parse_script`] reads (for building seeds).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind() | (self.slot() << 4));
        let chunk = |out: &mut Vec<u8>, bytes: &[u8]| {
            let n = bytes.len().min(255);
            out.push(n as u8);
            out.extend_from_slice(bytes.get(..n).unwrap_or_default());
        };
        match self {
            Event::Open { .. }
            | Event::Close { .. }
            | Event::Flushed { .. }
            | Event::Ping { .. }
            | Event::Shutdown => {}
            Event::Advance { step } => out.push(*step),
            Event::Raw { bytes, .. } => chunk(out, bytes),
            Event::Arbitrary { v5, seed, .. } => {
                out.push(u8::from(*v5));
                chunk(out, seed);
            }
            Event::Connect {
                client,
                flags,
                extras,
                ..
            } => out.extend_from_slice(&[*client, *flags, *extras]),
            Event::Subscribe {
                filter,
                options,
                id,
                ..
            } => out.extend_from_slice(&[*filter, *options, *id]),
            Event::Unsubscribe { filter, id, .. } => out.extend_from_slice(&[*filter, *id]),
            Event::Publish {
                topic, flags, id, ..
            } => out.extend_from_slice(&[*topic, *flags, *id]),
            Event::Answer { count, .. } => out.push(*count),
            Event::Release { id, .. } => out.push(*id),
            Event::Disconnect { flags, .. } => out.push(*flags),
        }
    }

    /// A whole script in the layout [`Event::parse_script`] reads.
    pub fn encode_script(events: &[Event]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in events {
            e.encode(&mut out);
        }
        out
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = self.data.get(self.pos).copied()?;
        self.pos += 1;
        Some(b)
    }

    fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }

    fn chunk(&mut self) -> Vec<u8> {
        let n = usize::from(self.byte());
        let end = self.pos.saturating_add(n).min(self.data.len());
        let bytes = self.data.get(self.pos..end).unwrap_or_default().to_vec();
        self.pos = end;
        bytes
    }
}

/// The settings the fuzzer runs the broker with: small limits so that queues fill, windows
/// close, packets are too large and timers fire within a short script. `variant` (the first
/// input byte) flips some of the server's choices.
pub fn fuzz_config(variant: u8) -> Config {
    Config {
        maximum_qos: if variant & 0b11 == 3 { 1 } else { 2 },
        retain_available: variant & 0b100 == 0,
        maximum_packet_size: 512,
        receive_maximum: 3,
        topic_alias_maximum: 2,
        maximum_session_expiry_interval: 300,
        require_authentication: variant & 0b1000 != 0,
        users: vec![User {
            username: "u".into(),
            password: "p".into(),
        }],
        overlapping_deliver_each: variant & 0b1_0000 != 0,
        queue_qos0_offline: variant & 0b10_0000 != 0,
        hold_publishers_for_offline_sessions: variant & 0b100_0000 != 0,
        validate_payload_format: variant & 0b1000_0000 != 0,
        max_queued_messages: 4,
        max_topic_levels: 4,
        max_subscriptions_per_session: 4,
        max_retained_messages: 3,
        max_inflight_messages: 3,
        connect_timeout_secs: 30,
        backpressure_timeout_secs: 20,
        max_unflushed_bytes: 256,
        memory_budget_bytes: 16 * 1024,
        scram_iterations: 16,
        ..Config::default()
    }
}

/// What [`run_events`] did, for the replay test (a fuzz target ignores it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events played.
    pub events: usize,
    /// Packets the broker sent.
    pub sent: usize,
    /// CONNACKs with reason code Success.
    pub connacks_accepted: usize,
    /// PUBLISH packets the broker sent.
    pub publishes_delivered: usize,
    /// Connections the broker closed.
    pub closed_by_broker: usize,
}

/// Plays the script in `data` (byte 0: the [`fuzz_config`] variant; then
/// [`Event::parse_script`]) and checks the invariants listed in the module docs after every
/// event. Panics only on a broken invariant.
pub fn run_events(data: &[u8]) -> Summary {
    let Some((&variant, script)) = data.split_first() else {
        return Summary::default();
    };
    run_events_with(fuzz_config(variant), script)
}

/// Plays the script `script` ([`Event::parse_script`], no variant byte) against a broker with
/// `config` and checks the invariants. For tests: a config with faults shows which invariant
/// catches which deviation.
pub fn run_events_with(config: Config, script: &[u8]) -> Summary {
    let mut h = Harness::new(config);
    for event in Event::parse_script(script) {
        h.play(&event);
        h.summary.events += 1;
    }
    h.summary
}

/// An outbound QoS 1/2 PUBLISH the client has not released yet.
#[derive(Debug, Clone)]
struct InFlight {
    qos: QoS,
    /// The client sent PUBREC with a success code (QoS 2): PUBREL may follow.
    received: bool,
    message: (TopicName, Bytes),
}

/// The broker's answer to CONNECT so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnAckState {
    None,
    Accepted,
    Refused,
}

/// What the harness knows about one open connection.
#[derive(Debug)]
struct Conn {
    id: ConnectionId,
    /// The version structured packets are encoded for.
    version: ProtocolVersion,
    /// Own framing of the client's byte stream.
    input: BytesMut,
    decoder: Option<FrameDecoder>,
    /// The own framing failed: acknowledgements are no longer known.
    desynced: bool,
    /// From the first CONNECT the own framing decoded.
    connect_seen: bool,
    client_max_packet: Option<u32>,
    client_receive_max: u16,
    client_id: Option<String>,
    connack: ConnAckState,
    sent_any: bool,
    in_flight: BTreeMap<u16, InFlight>,
    /// The broker's flows the client has not answered: (PUBREL?, id, qos).
    to_answer: VecDeque<(bool, u16, QoS)>,
}

impl Conn {
    fn new(id: ConnectionId) -> Self {
        Conn {
            id,
            version: ProtocolVersion::V5,
            input: BytesMut::new(),
            decoder: None,
            desynced: false,
            connect_seen: false,
            client_max_packet: None,
            client_receive_max: u16::MAX,
            client_id: None,
            connack: ConnAckState::None,
            sent_any: false,
            in_flight: BTreeMap::new(),
            to_answer: VecDeque::new(),
        }
    }

    /// The version the broker learned from CONNECT, as the own framing saw it.
    fn wire_version(&self) -> Option<ProtocolVersion> {
        self.decoder.as_ref().map(FrameDecoder::version)
    }

    /// Follows the client's byte stream: learns the CONNECT and the acknowledgements.
    fn observe_input(&mut self, bytes: &[u8]) {
        if self.desynced {
            return;
        }
        self.input.extend_from_slice(bytes);
        loop {
            if self.decoder.is_none() {
                match connect_protocol_version(&self.input) {
                    Ok(Some(v)) => self.decoder = Some(FrameDecoder::new(v)),
                    Ok(None) => return,
                    Err(_) => {
                        self.desynced = true;
                        return;
                    }
                }
            }
            let Some(decoder) = self.decoder.as_mut() else {
                return;
            };
            match decoder.decode(&mut self.input) {
                Ok(Some(p)) => self.observe_packet(p),
                Ok(None) => return,
                Err(_) => {
                    self.desynced = true;
                    return;
                }
            }
        }
    }

    fn observe_packet(&mut self, p: Packet) {
        match p {
            Packet::Connect(c) if !self.connect_seen => {
                self.connect_seen = true;
                if c.protocol_version.is_v5() {
                    self.client_max_packet = c.properties.maximum_packet_size.map(NonZeroU32::get);
                    self.client_receive_max = c
                        .properties
                        .receive_maximum
                        .map_or(u16::MAX, NonZeroU16::get);
                }
                if !c.client_id.as_str().is_empty() {
                    self.client_id = Some(c.client_id.as_str().to_owned());
                }
            }
            Packet::PubAck(a) => {
                self.in_flight.remove(&a.packet_id.get());
            }
            Packet::PubComp(a) => {
                self.in_flight.remove(&a.packet_id.get());
            }
            Packet::PubRec(a) => {
                let id = a.packet_id.get();
                let release = match self.in_flight.get_mut(&id) {
                    Some(f) if f.qos == QoS::ExactlyOnce && !a.reason_code.is_error() => {
                        f.received = true;
                        false
                    }
                    Some(_) => true,
                    None => false,
                };
                if release {
                    self.in_flight.remove(&id);
                }
            }
            _ => {}
        }
    }
}

struct Harness {
    broker: Broker,
    config: Config,
    now: Duration,
    next_id: u64,
    slots: [Option<Conn>; SLOTS],
    /// Connections the broker closed or the peer closed: nothing may follow.
    gone: BTreeSet<ConnectionId>,
    /// Client Identifiers of sessions that may exist.
    client_ids: BTreeSet<String>,
    /// CONNECT packets seen on any connection (each can create at most one session).
    connects: usize,
    /// Payload markers handed out.
    markers: u64,
    summary: Summary,
}

impl Harness {
    fn new(config: Config) -> Self {
        Harness {
            broker: Broker::new(config.clone()),
            config,
            now: Duration::ZERO,
            next_id: 1,
            slots: [None, None, None, None],
            gone: BTreeSet::new(),
            client_ids: BTreeSet::new(),
            connects: 0,
            markers: 0,
            summary: Summary::default(),
        }
    }

    fn play(&mut self, event: &Event) {
        let slot = usize::from(event.slot());
        match event {
            Event::Open { .. } => {
                if let Some(old) = self.slots.get_mut(slot).and_then(Option::take) {
                    self.gone.insert(old.id);
                    self.broker.connection_closed(old.id, self.now);
                    self.drain();
                }
                let id = ConnectionId(self.next_id);
                self.next_id += 1;
                if let Some(s) = self.slots.get_mut(slot) {
                    *s = Some(Conn::new(id));
                }
                self.broker.connection_opened(id, self.now);
            }
            Event::Close { .. } => {
                if let Some(old) = self.slots.get_mut(slot).and_then(Option::take) {
                    self.gone.insert(old.id);
                    self.broker.connection_closed(old.id, self.now);
                }
            }
            Event::Flushed { .. } => {
                if let Some(id) = self.conn_id(slot) {
                    self.broker.connection_flushed(id, self.now);
                }
            }
            Event::Advance { step } => {
                self.now += Duration::from_secs(u64::from(*step % 121));
            }
            Event::Raw { bytes, .. } => self.feed(slot, bytes),
            Event::Arbitrary { v5, seed, .. } => {
                let v = if *v5 {
                    ProtocolVersion::V5
                } else {
                    ProtocolVersion::V311
                };
                let bytes = arbitrary_packet(seed, v).unwrap_or_else(|| seed.clone());
                self.feed(slot, &bytes);
            }
            Event::Shutdown => self.broker.shutdown(self.now),
            other => {
                if let Some(packet) = self.structured(slot, other) {
                    let v = self.slot_version(slot);
                    if let Ok(bytes) = packet.encode(v) {
                        self.feed(slot, &bytes);
                    }
                }
            }
        }
        self.drain();
        self.check_bounds();
        if self.broker.poll_timeout().is_some_and(|t| t <= self.now) {
            self.broker.handle_timeout(self.now);
            self.drain();
            self.check_bounds();
            if let Some(t) = self.broker.poll_timeout() {
                assert!(
                    t > self.now,
                    "after handle_timeout({:?}) the next timeout is {t:?}",
                    self.now
                );
            }
        }
    }

    fn conn_id(&self, slot: usize) -> Option<ConnectionId> {
        self.slots.get(slot)?.as_ref().map(|c| c.id)
    }

    fn slot_version(&self, slot: usize) -> ProtocolVersion {
        self.slots
            .get(slot)
            .and_then(Option::as_ref)
            .map_or(ProtocolVersion::V5, |c| {
                c.wire_version().unwrap_or(c.version)
            })
    }

    fn feed(&mut self, slot: usize, bytes: &[u8]) {
        let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let before = conn.connect_seen;
        conn.observe_input(bytes);
        if conn.connect_seen && !before {
            self.connects += 1;
            if let Some(cid) = &conn.client_id {
                self.client_ids.insert(cid.clone());
            }
        }
        let id = conn.id;
        self.broker.bytes_received(id, bytes, self.now);
    }

    /// Builds the packet of a structured event (None when there is nothing to send).
    fn structured(&mut self, slot: usize, event: &Event) -> Option<Packet> {
        let v = self.slot_version(slot);
        let v5 = v.is_v5();
        let packet = match *event {
            Event::Connect {
                client,
                flags,
                extras,
                ..
            } => {
                let version = if flags & 1 == 1 {
                    ProtocolVersion::V5
                } else {
                    ProtocolVersion::V311
                };
                if let Some(c) = self.slots.get_mut(slot).and_then(Option::as_mut) {
                    c.version = version;
                }
                Packet::Connect(Box::new(connect(version, client, flags, extras)?))
            }
            Event::Subscribe {
                filter,
                options,
                id,
                ..
            } => {
                let mut o = SubscriptionOptions::qos(qos_of(options));
                if v5 {
                    o.no_local = options & 0b100 != 0;
                    o.retain_as_published = options & 0b1000 != 0;
                    o.retain_handling = match (options >> 4) & 0b11 {
                        0 => RetainHandling::SendOnSubscribe,
                        1 => RetainHandling::SendIfNew,
                        _ => RetainHandling::DoNotSend,
                    };
                }
                let mut properties = SubscribeProperties::default();
                if v5 && options & 0b100_0000 != 0 {
                    properties
                        .subscription_identifiers
                        .extend(NonZeroU32::new(u32::from(id) + 1));
                }
                Packet::Subscribe(Subscribe {
                    packet_id: packet_id(id)?,
                    properties: properties.into(),
                    filters: vec![(topic_filter(filter)?, o)],
                })
            }
            Event::Unsubscribe { filter, id, .. } => Packet::Unsubscribe(Unsubscribe {
                packet_id: packet_id(id)?,
                properties: Default::default(),
                filters: vec![topic_filter(filter)?],
            }),
            Event::Publish {
                topic, flags, id, ..
            } => {
                let qos = qos_of(flags);
                self.markers += 1;
                let payload = if flags & 0b100_0000 != 0 {
                    Bytes::new()
                } else {
                    Bytes::from(format!("m{}", self.markers))
                };
                let name = TOPICS
                    .get(usize::from(topic) % TOPICS.len())
                    .copied()
                    .unwrap_or("a");
                let mut p = Publish::new(TopicName::new(name).ok()?, payload);
                p.retain = flags & 0b100 != 0;
                if qos != QoS::AtMostOnce {
                    p.delivery = Delivery::new(qos, packet_id(id)?);
                    p.dup = flags & 0b1000 != 0;
                }
                if v5 && flags & 0b1_0000 != 0 {
                    p.properties.message_expiry_interval = Some(3);
                }
                if v5 && flags & 0b10_0000 != 0 {
                    p.properties.topic_alias = NonZeroU16::new(1);
                }
                Packet::Publish(p)
            }
            Event::Answer { count, .. } => {
                let conn = self.slots.get_mut(slot).and_then(Option::as_mut)?;
                let n = usize::from(count & 0b111) + 1;
                let error = v5 && count & 0x80 != 0;
                let mut out = BytesMut::new();
                for _ in 0..n {
                    let Some((pubrel, id, qos)) = conn.to_answer.pop_front() else {
                        break;
                    };
                    let pid = PacketId::new(id)?;
                    let answer = if pubrel {
                        Packet::PubComp(PubComp::new(pid))
                    } else if qos == QoS::AtLeastOnce {
                        let mut a = PubAck::new(pid);
                        if error {
                            a.reason_code = ReasonCode::UnspecifiedError;
                        }
                        Packet::PubAck(a)
                    } else {
                        let mut a = PubRec::new(pid);
                        if error {
                            a.reason_code = ReasonCode::UnspecifiedError;
                        }
                        Packet::PubRec(a)
                    };
                    if let Ok(b) = answer.encode(v) {
                        out.extend_from_slice(&b);
                    }
                }
                if !out.is_empty() {
                    self.feed(slot, &out);
                }
                return None;
            }
            Event::Release { id, .. } => Packet::PubRel(PubRel::new(packet_id(id)?)),
            Event::Disconnect { flags, .. } => {
                let mut d = Disconnect::new(match flags & 0b11 {
                    1 => ReasonCode::DisconnectWithWillMessage,
                    2 => ReasonCode::UnspecifiedError,
                    _ => ReasonCode::Success,
                });
                if !v5 {
                    d.reason_code = ReasonCode::Success;
                } else if flags & 0b100 != 0 {
                    d.properties.session_expiry_interval = Some(10);
                }
                Packet::Disconnect(d)
            }
            Event::Ping { .. } => Packet::PingReq,
            _ => return None,
        };
        Some(packet)
    }

    /// Takes every action and checks it.
    #[allow(clippy::panic)] // A fuzz oracle: a panic reports a broker bug to the fuzzer.
    fn drain(&mut self) {
        while let Some(action) = self.broker.poll_action() {
            let conn_id = match &action {
                Action::Send { conn, .. }
                | Action::Close { conn, .. }
                | Action::PauseReading { conn }
                | Action::ResumeReading { conn } => *conn,
            };
            assert!(
                !self.gone.contains(&conn_id),
                "an action for a connection that is already closed: {action:?}"
            );
            let Some(slot) = self
                .slots
                .iter()
                .position(|s| s.as_ref().is_some_and(|c| c.id == conn_id))
            else {
                panic!("an action for a connection never opened: {action:?}");
            };
            match action {
                Action::Close { .. } => {
                    self.gone.insert(conn_id);
                    if let Some(s) = self.slots.get_mut(slot) {
                        *s = None;
                    }
                    self.summary.closed_by_broker += 1;
                }
                Action::PauseReading { .. } | Action::ResumeReading { .. } => {}
                Action::Send { packet, bytes, .. } => {
                    let max_inflight = self.config.max_inflight_messages;
                    let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                        continue;
                    };
                    let learned = check_send(conn, &packet, &bytes, max_inflight);
                    if let Some(cid) = learned {
                        self.client_ids.insert(cid);
                    }
                    self.summary.sent += 1;
                    match packet {
                        Packet::ConnAck(c) if !c.reason_code.is_error() => {
                            self.summary.connacks_accepted += 1
                        }
                        Packet::Publish(_) => self.summary.publishes_delivered += 1,
                        _ => {}
                    }
                }
            }
        }
        for conn in self.slots.iter().flatten() {
            assert!(
                conn.connack != ConnAckState::Refused,
                "a refusing CONNACK was not followed by closing the connection"
            );
        }
    }

    fn check_bounds(&self) {
        let open = self.slots.iter().flatten().count();
        assert_eq!(
            self.broker.connection_count(),
            open,
            "the broker knows {} connections, the caller has {open} open",
            self.broker.connection_count()
        );
        assert!(
            self.broker.retained_count() <= self.config.max_retained_messages,
            "{} retained messages stored, the limit is {}",
            self.broker.retained_count(),
            self.config.max_retained_messages
        );
        assert!(
            self.broker.session_count() <= self.connects,
            "{} sessions after {} CONNECT packets",
            self.broker.session_count(),
            self.connects
        );
        // Stored state stays within the budget; beyond it only the messages held back by
        // backpressure (at most Receive Maximum per connection, each within one packet).
        let held = open
            * usize::from(self.config.receive_maximum)
            * (crate::memory::MESSAGE_OVERHEAD + self.config.maximum_packet_size as usize);
        assert!(
            self.broker.memory_used() <= self.config.memory_budget_bytes + held,
            "{} bytes of stored state, the budget is {} (+{held} held)",
            self.broker.memory_used(),
            self.config.memory_budget_bytes
        );
        for cid in &self.client_ids {
            if let Some(n) = self.broker.queued_messages(cid) {
                assert!(
                    n <= self.config.max_queued_messages,
                    "session {cid} queues {n} messages, the limit is {}",
                    self.config.max_queued_messages
                );
            }
        }
    }
}

/// Checks one packet the broker sends on `conn`; returns an assigned Client Identifier.
#[allow(clippy::panic)] // A fuzz oracle: a panic reports a broker bug to the fuzzer.
fn check_send(
    conn: &mut Conn,
    packet: &Packet,
    bytes: &Bytes,
    max_inflight: u16,
) -> Option<String> {
    // The encoding, for the version the broker learned from CONNECT (before a version is
    // known, e.g. a CONNACK refusing an unknown protocol level, either version will do).
    let versions: Vec<ProtocolVersion> = match conn.wire_version() {
        Some(v) => vec![v],
        None => vec![ProtocolVersion::V311, ProtocolVersion::V5],
    };
    let v = versions
        .iter()
        .copied()
        .find(|v| packet.encode(*v).ok().as_ref() == Some(bytes))
        .unwrap_or_else(|| {
            panic!(
                "sent bytes are not the encoding of the packet for {versions:?}\n{packet:?}\nbytes: {bytes:02X?}"
            )
        });
    let decoded = Packet::decode(bytes.clone(), v)
        .unwrap_or_else(|e| panic!("sent bytes do not decode as MQTT {v}: {e}\n{packet:?}"));
    assert_eq!(&decoded, packet, "sent bytes decode to another packet");

    assert!(
        conn.connack != ConnAckState::Refused,
        "sent after a refusing CONNACK: {packet:?}"
    );
    let first = !conn.sent_any;
    conn.sent_any = true;
    if conn.connack == ConnAckState::None {
        assert!(
            matches!(packet, Packet::ConnAck(_))
                || (v.is_v5() && matches!(packet, Packet::Auth(_))),
            "sent before CONNACK: {packet:?}"
        );
    }
    if !v.is_v5() {
        assert!(
            !matches!(packet, Packet::Disconnect(_) | Packet::Auth(_)),
            "{} sent to a MQTT 3.1.1 client",
            packet.packet_type()
        );
    }
    if let (true, Some(max)) = (v.is_v5(), conn.client_max_packet) {
        assert!(
            bytes.len() <= max as usize,
            "a {}-byte packet sent to a client whose Maximum Packet Size is {max}: {packet:?}",
            bytes.len()
        );
    }
    let mut learned = None;
    match packet {
        Packet::ConnAck(c) => {
            assert!(
                first || conn.connack == ConnAckState::None,
                "a second CONNACK"
            );
            if c.reason_code.is_error() {
                conn.connack = ConnAckState::Refused;
            } else {
                conn.connack = ConnAckState::Accepted;
                if let Some(id) = &c.properties.assigned_client_identifier {
                    learned = Some(id.as_str().to_owned());
                } else {
                    learned = conn.client_id.clone();
                }
            }
        }
        Packet::Publish(p) if p.qos() != QoS::AtMostOnce => {
            let Some(pid) = p.packet_id() else {
                panic!(
                    "a QoS {} PUBLISH without Packet Identifier",
                    p.qos().as_u8()
                )
            };
            let id = pid.get();
            let message = (p.topic.clone(), p.payload.clone());
            if !conn.desynced {
                if let Some(previous) = conn.in_flight.get(&id) {
                    let resend = !v.is_v5()
                        && p.dup
                        && previous.qos == p.qos()
                        && previous.message == message
                        && !previous.received;
                    assert!(
                        resend,
                        "Packet Identifier {id} reused while the client has not released it\nnow: {p:?}\nbefore: {previous:?}"
                    );
                }
                conn.in_flight.insert(
                    id,
                    InFlight {
                        qos: p.qos(),
                        received: false,
                        message,
                    },
                );
                let window = usize::from(conn.client_receive_max.min(max_inflight));
                assert!(
                    conn.in_flight.len() <= window,
                    "{} QoS 1/2 PUBLISH unreleased on one connection, the window is {window}",
                    conn.in_flight.len()
                );
            }
            conn.to_answer.push_back((false, id, p.qos()));
        }
        Packet::PubRel(r) => conn
            .to_answer
            .push_back((true, r.packet_id.get(), QoS::ExactlyOnce)),
        _ => {}
    }
    learned
}

/// Encodes a packet built with `arbitrary` from `seed` for `v`, if it can.
#[cfg(feature = "arbitrary")]
fn arbitrary_packet(seed: &[u8], v: ProtocolVersion) -> Option<Vec<u8>> {
    use arbitrary::{Arbitrary, Unstructured};
    let packet = Packet::arbitrary_take_rest(Unstructured::new(seed)).ok()?;
    packet.encode(v).ok().map(|b| b.to_vec())
}

/// Without the `arbitrary` feature the seed is sent as it is.
#[cfg(not(feature = "arbitrary"))]
fn arbitrary_packet(_seed: &[u8], _v: ProtocolVersion) -> Option<Vec<u8>> {
    None
}

fn qos_of(bits: u8) -> QoS {
    match bits & 0b11 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn packet_id(id: u8) -> Option<PacketId> {
    PacketId::new(u16::from(id).max(1))
}

fn topic_filter(index: u8) -> Option<TopicFilter> {
    let f = FILTERS.get(usize::from(index) % FILTERS.len())?;
    TopicFilter::new(*f).ok()
}

fn connect(v: ProtocolVersion, client: u8, flags: u8, extras: u8) -> Option<Connect> {
    let v5 = v.is_v5();
    let client_id = CLIENT_IDS
        .get(usize::from(client) % CLIENT_IDS.len())
        .copied()
        .unwrap_or("");
    let mut properties = ConnectProperties::default();
    let mut will = None;
    if flags & 0b100 != 0 {
        let mut w = LastWill {
            qos: qos_of(flags >> 3),
            retain: flags & 0b10_0000 != 0,
            properties: Default::default(),
            topic: TopicName::new("w").ok()?,
            payload: Bytes::from_static(b"will"),
        };
        if v5 && extras & 0b100_0000 != 0 {
            w.properties.will_delay_interval = Some(5);
        }
        will = Some(w);
    }
    if v5 {
        properties.session_expiry_interval = match extras & 0b11 {
            0 => None,
            1 => Some(0),
            2 => Some(10),
            _ => Some(u32::MAX),
        };
        properties.receive_maximum = match (extras >> 2) & 0b11 {
            0 => None,
            1 => NonZeroU16::new(1),
            2 => NonZeroU16::new(2),
            _ => NonZeroU16::new(10),
        };
        properties.maximum_packet_size = match (extras >> 4) & 0b11 {
            0 => None,
            1 => NonZeroU32::new(40),
            2 => NonZeroU32::new(128),
            _ => NonZeroU32::new(1024),
        };
        if extras & 0x80 != 0 {
            properties.request_problem_information = Some(false);
            properties.topic_alias_maximum = Some(2);
        }
    }
    let (username, password) = if flags & 0x80 != 0 {
        (
            MqttString::new("u", "User Name").ok(),
            Some(Bytes::from_static(b"p")),
        )
    } else {
        (None, None)
    };
    Some(Connect {
        protocol_version: v,
        clean_start: flags & 0b10 != 0,
        keep_alive: if flags & 0b100_0000 != 0 { 5 } else { 0 },
        properties: properties.into(),
        client_id: MqttString::new(client_id, "Client Identifier").ok()?,
        will,
        username,
        password,
    })
}
