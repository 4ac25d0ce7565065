//! One fuzzing round: a few clients connect (valid CONNECT, CONNACK awaited), then a random
//! sequence of actions interleaves their traffic (valid packets for their state, mutated
//! packets, corpus seeds, split writes, bursts, reconnects, closes), the broker's answers are
//! acknowledged as a client would and checked by the [oracles](super::oracle), a PINGREQ
//! barrier lets the answers arrive, and a fresh client checks that the broker still serves.
//!
//! All traffic comes from one task in a fixed order, and every write is logged as a replay
//! [`Step`], so the log is a scenario that `mqttspec replay` runs in the same order. Each
//! action's random choices come from a generator seeded by (campaign seed, round, action), so
//! a seed gives the same traffic; only the broker's answers (and what the fuzzer does in
//! reply) can differ between runs.

use mqttspec_harness::transport::Endpoint;
use std::time::Duration;

use bytes::BytesMut;
use mqttspec_codec::{
    connect_protocol_version, FrameDecoder, Packet, ProtocolVersion, PubAck, PubComp, PubRec,
    PubRel, QoS, ReasonCode,
};
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::generate::{self, Limits, SessionModel, Topics};
use super::mutate;
use super::oracle::{Breach, FindingKind, Watch};
use super::seeds::Seeds;
use super::ws_frame;
use super::Rng;
use mqttspec_harness::client::{summary, ClientOptions, Entry, Received, TestClient, Transcript};
use mqttspec_harness::profile::Credentials;
use mqttspec_harness::replay::template::CLIENT_ID_LEN;
use mqttspec_harness::replay::Step;

/// What one round does.
#[derive(Debug, Clone)]
pub struct RoundSettings {
    /// The campaign seed.
    pub seed: u64,
    /// The round number.
    pub index: u64,
    /// The protocol of every client of the round.
    pub version: ProtocolVersion,
    /// The most clients.
    pub max_clients: usize,
    /// The most actions.
    pub max_actions: usize,
    /// How long an answer may take (CONNACK, PINGRESP, the liveness probe).
    pub wait: Duration,
    /// The User Name and Password of every generated CONNECT and of the liveness probe
    /// (`--profile`, `--username`); mutated CONNECTs start from a CONNECT carrying them.
    pub credentials: Option<Credentials>,
}

/// One logged write, as a replay step with a comment.
#[derive(Debug, Clone)]
pub struct LoggedStep {
    /// The step.
    pub step: Step,
    /// What it is (packet summary, mutation), for the scenario file.
    pub note: Option<String>,
}

/// An oracle violation seen during the round.
#[derive(Debug, Clone)]
pub struct Detected {
    /// The scenario client it was seen on.
    pub client: String,
    /// What was seen.
    pub breach: Breach,
    /// How many steps of the log had been written when it was seen.
    pub at_step: usize,
    /// The client's subscriptions then (for a `publishes-match` reproducer).
    pub filters: Vec<(String, u8)>,
    /// The Topic Alias Maximum its CONNECT declared.
    pub alias_max: Option<u16>,
}

/// Everything a round produced.
#[derive(Debug, Clone)]
pub struct RoundResult {
    /// The protocol version of the round.
    pub version: ProtocolVersion,
    /// The writes, in order.
    pub log: Vec<LoggedStep>,
    /// Oracle violations (one per signature).
    pub detected: Vec<Detected>,
    /// Why the liveness probe failed, if it did.
    pub not_serving: Option<String>,
    /// Packets written (a burst counts each packet).
    pub packets_sent: u64,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Packets (and malformed data) received.
    pub packets_received: u64,
    /// TCP connections opened (the probe included).
    pub connections: u64,
    /// The wire transcript.
    pub transcript: Vec<Entry>,
}

/// The generator of one purpose (`salt`) of one round.
pub fn rng_for(seed: u64, round: u64, salt: u64) -> Rng {
    Rng::seed_from_u64(splitmix(seed ^ splitmix(round ^ splitmix(salt))))
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The [`CLIENT_ID_LEN`]-character Client Identifier of client `i` of a round (`fz` and
/// base 36).
pub fn client_id(seed: u64, round: u64, i: u64) -> String {
    let mut h = splitmix(seed ^ splitmix(round ^ splitmix(i ^ 0xc1)));
    let mut s = String::from("fz");
    for _ in 2..CLIENT_ID_LEN {
        let d = (h % 36) as u32;
        s.push(char::from_digit(d, 36).unwrap_or('0'));
        h /= 36;
    }
    s
}

#[derive(Debug)]
struct Client {
    name: String,
    id: String,
    conn: Option<TestClient>,
    model: SessionModel,
    watch: Watch,
    outgoing: FrameDecoder,
    out_buf: BytesMut,
    /// Every byte written on this connection so far decoded strictly.
    framed: bool,
    /// Every byte of every connection with this Client Identifier decoded strictly.
    id_clean: bool,
    /// The filters (and QoS asked) of every SUBSCRIBE written with this Client Identifier.
    filters: Vec<(String, u8)>,
    connack_ok: bool,
    awaiting_ping: bool,
}

impl Client {
    fn open(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| !c.is_ended())
    }
}

struct Round<'a> {
    addr: Endpoint,
    s: &'a RoundSettings,
    seeds: &'a Seeds,
    topics: Topics,
    transcript: Transcript,
    clients: Vec<Client>,
    log: Vec<LoggedStep>,
    detected: Vec<Detected>,
    packets_sent: u64,
    bytes_sent: u64,
    packets_received: u64,
    connections: u64,
}

/// Runs one round against the broker at `addr`.
pub async fn run_round(addr: Endpoint, s: &RoundSettings, seeds: &Seeds) -> RoundResult {
    let mut plan = rng_for(s.seed, s.index, 0);
    let n_clients = plan.random_range(1..=s.max_clients.max(1));
    let n_actions = plan.random_range(1..=s.max_actions.max(1));
    let v = s.version;
    let mut round = Round {
        addr,
        s,
        seeds,
        topics: Topics::new(&format!("fz/{}", client_id(s.seed, s.index, 0xffff))),
        transcript: Transcript::new(std::time::Instant::now()),
        clients: (0..n_clients)
            .map(|i| Client {
                name: format!("c{}", i + 1),
                id: client_id(s.seed, s.index, i as u64),
                conn: None,
                model: SessionModel::new(v),
                watch: Watch::default(),
                outgoing: FrameDecoder::new(v),
                out_buf: BytesMut::new(),
                framed: true,
                id_clean: true,
                filters: Vec::new(),
                connack_ok: false,
                awaiting_ping: false,
            })
            .collect(),
        log: Vec::new(),
        detected: Vec::new(),
        packets_sent: 0,
        bytes_sent: 0,
        packets_received: 0,
        connections: 0,
    };
    for i in 0..n_clients {
        let mut rng = rng_for(s.seed, s.index, 1 + i as u64);
        round.connect_valid(&mut rng, i, true).await;
        if round.clients[i].connack_ok {
            let p = generate::subscribe(&mut rng, &mut round.clients[i].model, &round.topics);
            round.send_packet(i, &Packet::Subscribe(p)).await;
        }
    }
    round.drain_all().await;
    for k in 0..n_actions {
        let mut rng = rng_for(s.seed, s.index, 1000 + k as u64);
        round.act(&mut rng).await;
        round.drain_all().await;
    }
    round.barrier().await;
    let not_serving = round.probe().await.err();
    for c in &mut round.clients {
        if let Some(conn) = c.conn.as_mut() {
            conn.abort();
        }
    }
    RoundResult {
        version: v,
        log: round.log,
        detected: round.detected,
        not_serving,
        packets_sent: round.packets_sent,
        bytes_sent: round.bytes_sent,
        packets_received: round.packets_received,
        connections: round.connections,
        transcript: round.transcript.entries(),
    }
}

/// A one-line description of bytes a client sends: the packet, or why they are not one.
pub fn describe(bytes: &[u8], v: ProtocolVersion) -> String {
    match Packet::decode(bytes::Bytes::copy_from_slice(bytes), v) {
        Ok(p) => summary::packet(&p, v),
        Err(e) => format!("{} bytes, not a valid packet: {e}", bytes.len()),
    }
}

impl Round<'_> {
    fn v(&self) -> ProtocolVersion {
        self.s.version
    }

    /// Replaces client `i`'s connection with a new TCP connection (logged with its first
    /// bytes by the caller).
    async fn new_connection(&mut self, i: usize) -> bool {
        if let Some(mut old) = self.clients[i].conn.take() {
            old.abort();
        }
        self.connections += 1;
        let options = ClientOptions::new(self.clients[i].name.clone(), self.v());
        match TestClient::connect_with(&self.addr, options, self.transcript.clone()).await {
            Ok(c) => {
                let c_ = &mut self.clients[i];
                c_.conn = Some(c);
                c_.outgoing = FrameDecoder::new(self.s.version);
                c_.out_buf.clear();
                c_.framed = true;
                c_.connack_ok = false;
                c_.awaiting_ping = false;
                true
            }
            Err(_) => false,
        }
    }

    /// Connects client `i` with a valid generated CONNECT and waits for the CONNACK.
    async fn connect_valid(&mut self, rng: &mut Rng, i: usize, clean_start: bool) {
        let v = self.v();
        let connect = generate::connect(
            rng,
            v,
            &self.clients[i].id,
            clean_start,
            &self.topics,
            self.s.credentials.as_ref(),
        );
        let alias_max = connect.properties.topic_alias_maximum.or(Some(0));
        let packet = Packet::Connect(Box::new(connect));
        let Ok(bytes) = packet.encode(v) else { return };
        if !self.new_connection(i).await {
            return;
        }
        let c = &mut self.clients[i];
        c.watch = Watch::new(Some(v), alias_max);
        let keep = c.model.subscribed.clone();
        c.model = SessionModel::new(v);
        if !clean_start {
            c.model.subscribed = keep;
        }
        let id = c.id.clone().into_bytes();
        let slots: Vec<usize> = bytes
            .windows(id.len())
            .position(|w| w == id.as_slice())
            .into_iter()
            .collect();
        let note = summary::packet(&packet, v);
        if !self.write(i, bytes.to_vec(), 1).await {
            return;
        }
        self.log.push(LoggedStep {
            step: Step::Connect {
                client: self.clients[i].name.clone(),
                raw: Some(bytes.to_vec()),
                client_id_slots: slots,
                keep_alive: 60,
                same_id_as: None,
                maximum_packet_size: None,
            },
            note: Some(note),
        });
        // The first thing the broker sends must be the CONNACK; whatever it is, it is judged
        // and the client goes on (or stays closed).
        let deadline = Instant::now() + self.s.wait;
        if let Some(conn) = self.clients[i].conn.as_mut() {
            match conn.recv_until(deadline).await {
                Received::Timeout => {}
                r => self.handle(i, r).await,
            }
        }
    }

    /// Connects client `i` with raw first bytes (a damaged CONNECT, or any seed).
    async fn connect_raw(&mut self, i: usize, bytes: Vec<u8>, what: &str) {
        if !self.new_connection(i).await {
            return;
        }
        let v = self.v();
        let declared = matches!(connect_protocol_version(&bytes), Ok(Some(x)) if x == v);
        let alias_max = match Packet::decode(bytes::Bytes::copy_from_slice(&bytes), v) {
            Ok(Packet::Connect(c)) => Some(c.properties.topic_alias_maximum.unwrap_or(0)),
            _ => None,
        };
        let c = &mut self.clients[i];
        c.watch = Watch::new(declared.then_some(v), alias_max);
        c.id_clean = false;
        c.model = SessionModel::new(v);
        let note = format!("{what}: {}", describe(&bytes, v));
        if !self.write(i, bytes.clone(), 1).await {
            return;
        }
        self.log.push(LoggedStep {
            step: Step::Connect {
                client: self.clients[i].name.clone(),
                raw: Some(bytes),
                client_id_slots: Vec::new(),
                keep_alive: 60,
                same_id_as: None,
                maximum_packet_size: None,
            },
            note: Some(note),
        });
    }

    /// Writes `bytes` on client `i`'s connection and tracks them; false when not written.
    async fn write(&mut self, i: usize, bytes: Vec<u8>, packets: u64) -> bool {
        let Some(conn) = self.clients[i].conn.as_mut() else {
            return false;
        };
        if conn.is_ended() {
            return false;
        }
        let len = bytes.len() as u64;
        if conn.send_raw(bytes.clone()).await.is_err() {
            return false;
        }
        self.packets_sent += packets;
        self.bytes_sent += len;
        self.track_outgoing(i, &bytes);
        true
    }

    /// Feeds written bytes to the client's own strict decoder: decides whether the
    /// connection is still framed, and collects the filters it subscribed to.
    fn track_outgoing(&mut self, i: usize, bytes: &[u8]) {
        let v = self.v();
        let c = &mut self.clients[i];
        if !c.framed {
            return;
        }
        c.out_buf.extend_from_slice(bytes);
        loop {
            match c.outgoing.next_frame(&mut c.out_buf) {
                Ok(Some(frame)) => match frame.decode(v) {
                    Ok(Packet::Subscribe(s)) => {
                        for (f, o) in &s.filters {
                            let entry = (f.as_str().to_owned(), o.qos as u8);
                            if let Some(e) = c.filters.iter_mut().find(|(x, _)| *x == entry.0) {
                                e.1 = e.1.max(entry.1);
                            } else {
                                c.filters.push(entry);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        c.framed = false;
                        c.id_clean = false;
                        return;
                    }
                },
                Ok(None) => return,
                Err(_) => {
                    c.framed = false;
                    c.id_clean = false;
                    return;
                }
            }
        }
    }

    /// Sends and logs bytes on client `i`.
    async fn send_logged(&mut self, i: usize, bytes: Vec<u8>, note: String, packets: u64) {
        if self.write(i, bytes.clone(), packets).await {
            self.log.push(LoggedStep {
                step: Step::Send {
                    client: self.clients[i].name.clone(),
                    bytes,
                    repeat: 1,
                    or_closed: true,
                    ws_wire: false,
                },
                note: Some(note),
            });
        }
    }

    /// Encodes `p` strictly and sends it on client `i`.
    async fn send_packet(&mut self, i: usize, p: &Packet) {
        let v = self.v();
        if let Ok(bytes) = p.encode(v) {
            let note = summary::packet(p, v);
            self.send_logged(i, bytes.to_vec(), note, 1).await;
        }
    }

    async fn close(&mut self, i: usize) {
        if let Some(conn) = self.clients[i].conn.as_mut() {
            if !conn.is_ended() {
                conn.close().await;
                self.log.push(LoggedStep {
                    step: Step::Close {
                        client: self.clients[i].name.clone(),
                    },
                    note: None,
                });
            }
        }
    }

    /// Reads whatever has arrived on every connection, without waiting.
    async fn drain_all(&mut self) {
        for i in 0..self.clients.len() {
            while let Some(conn) = self.clients[i].conn.as_mut() {
                if conn.is_ended() {
                    break;
                }
                match conn.try_recv() {
                    Received::Timeout => break,
                    r => self.handle(i, r).await,
                }
            }
        }
    }

    /// Checks one thing received by client `i` and answers it as a client would.
    async fn handle(&mut self, i: usize, r: Received) {
        self.packets_received += 1;
        let c = &mut self.clients[i];
        let filters = c.id_clean.then_some(c.filters.as_slice());
        if let Some(breach) = c.watch.check(&r, filters) {
            self.detect(i, breach, self.log.len());
        }
        let Received::Packet(p) = r else { return };
        let reply = match p {
            Packet::ConnAck(a) => {
                let c = &mut self.clients[i];
                if a.reason_code == ReasonCode::Success {
                    c.connack_ok = true;
                    if self.s.version == ProtocolVersion::V5 {
                        c.model.limits = Limits::from_connack(&a);
                    }
                }
                None
            }
            Packet::Publish(p) => match (p.qos(), p.packet_id()) {
                (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(PubAck::new(id))),
                (QoS::ExactlyOnce, Some(id)) => Some(Packet::PubRec(PubRec::new(id))),
                _ => None,
            },
            Packet::PubRel(r) => Some(Packet::PubComp(PubComp::new(r.packet_id))),
            Packet::PubRec(r) => {
                if r.reason_code.is_error() {
                    self.finish_outgoing(i);
                    None
                } else {
                    Some(Packet::PubRel(PubRel::new(r.packet_id)))
                }
            }
            Packet::PubAck(_) | Packet::PubComp(_) => {
                self.finish_outgoing(i);
                None
            }
            Packet::PingResp => {
                self.clients[i].awaiting_ping = false;
                None
            }
            _ => None,
        };
        if let Some(reply) = reply {
            self.send_packet(i, &reply).await;
        }
    }

    /// Records `breach` seen by client `i` (reproducible from the first `at_step` steps),
    /// unless the round already has one with the same signature.
    fn detect(&mut self, i: usize, breach: Breach, at_step: usize) {
        if self
            .detected
            .iter()
            .any(|d| d.breach.signature == breach.signature)
        {
            return;
        }
        let c = &self.clients[i];
        self.detected.push(Detected {
            client: c.name.clone(),
            breach,
            at_step,
            filters: c.filters.clone(),
            alias_max: c.watch.alias_max,
        });
    }

    fn finish_outgoing(&mut self, i: usize) {
        let m = &mut self.clients[i].model;
        m.outstanding = m.outstanding.saturating_sub(1);
    }

    /// One random action by one random client.
    async fn act(&mut self, rng: &mut Rng) {
        let v = self.v();
        let i = rng.random_range(0..self.clients.len());
        if !self.clients[i].open() {
            match rng.random_range(0..20u32) {
                0..=11 => {
                    let clean = rng.random_bool(0.5);
                    self.connect_valid(rng, i, clean).await;
                }
                12..=16 => {
                    let (bytes, what) = self.raw_connect_bytes(rng, i);
                    self.connect_raw(i, bytes, &what).await;
                }
                _ => {}
            }
            return;
        }
        // WebSocket targets only (no extra draw otherwise, so TCP rounds are unchanged).
        if self.addr.scheme().is_websocket() && rng.random_bool(0.15) {
            self.send_ws_frames(rng, i).await;
            return;
        }
        match rng.random_range(0..100u32) {
            0..=44 => {
                let p = generate::any(rng, &mut self.clients[i].model, &self.topics);
                self.send_packet(i, &p).await;
            }
            45..=64 => {
                let (base, origin) = self.base_packet(rng, i);
                let other = self.any_seed(rng).unwrap_or_default();
                let (bytes, ops) = mutate::mutate(rng, &base, &self.seeds.tokens, &other);
                let note = format!("mutated {origin} ({ops}): {}", describe(&bytes, v));
                self.send_logged(i, bytes, note, 1).await;
            }
            65..=74 => match self.any_seed(rng) {
                Some(seed) => {
                    let note = format!("corpus seed: {}", describe(&seed, v));
                    self.send_logged(i, seed, note, 1).await;
                }
                None => {
                    let p = generate::any(rng, &mut self.clients[i].model, &self.topics);
                    self.send_packet(i, &p).await;
                }
            },
            75..=80 => {
                let p = generate::any(rng, &mut self.clients[i].model, &self.topics);
                let Ok(bytes) = p.encode(v) else { return };
                let cuts = rng.random_range(1..=2usize);
                let mut points: Vec<usize> = (0..cuts)
                    .map(|_| rng.random_range(0..=bytes.len()))
                    .collect();
                points.sort_unstable();
                let mut start = 0;
                let total = points.len() + 1;
                for (n, end) in points.into_iter().chain([bytes.len()]).enumerate() {
                    if end > start {
                        let part = bytes.slice(start..end).to_vec();
                        let note =
                            format!("part {} of {total} of {}", n + 1, summary::packet(&p, v));
                        self.send_logged(i, part, note, u64::from(n == 0)).await;
                        tokio::task::yield_now().await;
                    }
                    start = end;
                }
            }
            81..=88 => {
                let n = rng.random_range(2..=30u32);
                let mut all = Vec::new();
                for _ in 0..n {
                    let p = generate::publish(rng, &mut self.clients[i].model, &self.topics);
                    if let Ok(b) = Packet::Publish(p).encode(v) {
                        all.extend_from_slice(&b);
                    }
                }
                let note = format!("{n} PUBLISH packets in one write");
                self.send_logged(i, all, note, u64::from(n)).await;
            }
            89..=92 => {
                let d = generate::disconnect(rng, v);
                self.send_packet(i, &Packet::Disconnect(d)).await;
                self.close(i).await;
            }
            93..=95 => self.close(i).await,
            _ => {
                let clean = rng.random_bool(0.5);
                self.connect_valid(rng, i, clean).await;
            }
        }
    }

    /// A packet (mutated or not) in hand-built WebSocket frames broken at the frame layer,
    /// written beneath client `i`'s WebSocket layer.
    async fn send_ws_frames(&mut self, rng: &mut Rng, i: usize) {
        let v = self.v();
        let (base, origin) = self.base_packet(rng, i);
        let (packet, origin) = if rng.random_bool(0.3) {
            let other = self.any_seed(rng).unwrap_or_default();
            let (bytes, ops) = mutate::mutate(rng, &base, &self.seeds.tokens, &other);
            (bytes, format!("mutated {origin} ({ops})"))
        } else {
            (base, origin.to_owned())
        };
        let (wire, frames) = ws_frame::mutate(rng, &packet);
        let note = format!(
            "WebSocket frames: {frames}; around {origin}: {}",
            describe(&packet, v)
        );
        let Some(conn) = self.clients[i].conn.as_mut() else {
            return;
        };
        if conn.is_ended() || conn.send_ws_wire(wire.clone()).await.is_err() {
            return;
        }
        self.packets_sent += 1;
        self.bytes_sent += wire.len() as u64;
        // What the broker makes of these bytes is not a strictly framed MQTT stream any more.
        let c = &mut self.clients[i];
        c.framed = false;
        c.id_clean = false;
        self.log.push(LoggedStep {
            step: Step::Send {
                client: self.clients[i].name.clone(),
                bytes: wire,
                repeat: 1,
                or_closed: true,
                ws_wire: true,
            },
            note: Some(note),
        });
    }

    /// A packet to mutate: a generated one (on a copy of the model) or a corpus seed.
    fn base_packet(&self, rng: &mut Rng, i: usize) -> (Vec<u8>, &'static str) {
        if rng.random_bool(0.6) {
            let mut model = self.clients[i].model.clone();
            let p = generate::any(rng, &mut model, &self.topics);
            if let Ok(b) = p.encode(self.v()) {
                return (b.to_vec(), "generated packet");
            }
        }
        match self.any_seed(rng) {
            Some(s) => (s, "corpus seed"),
            None => (vec![0xc0, 0x00], "PINGREQ"),
        }
    }

    fn any_seed(&self, rng: &mut Rng) -> Option<Vec<u8>> {
        let seeds = self.seeds.for_version(self.v());
        if seeds.is_empty() {
            None
        } else {
            seeds.get(rng.random_range(0..seeds.len())).cloned()
        }
    }

    /// First bytes for a raw connection: a damaged CONNECT of this client, a corpus CONNECT,
    /// or any corpus seed.
    fn raw_connect_bytes(&self, rng: &mut Rng, i: usize) -> (Vec<u8>, String) {
        let v = self.v();
        let seeds = self.seeds.for_version(v);
        let connects: Vec<&Vec<u8>> = seeds.iter().filter(|s| s.first() == Some(&0x10)).collect();
        let choice = rng.random_range(0..10u32);
        if choice < 5 || seeds.is_empty() {
            let c = generate::connect(
                rng,
                v,
                &self.clients[i].id,
                true,
                &self.topics,
                self.s.credentials.as_ref(),
            );
            let base = Packet::Connect(Box::new(c))
                .encode(v)
                .map(|b| b.to_vec())
                .unwrap_or_default();
            let other = self.any_seed(rng).unwrap_or_default();
            let (bytes, ops) = mutate::mutate(rng, &base, &self.seeds.tokens, &other);
            (bytes, format!("mutated CONNECT ({ops})"))
        } else if choice < 8 && !connects.is_empty() {
            let s = connects[rng.random_range(0..connects.len())].clone();
            (s, "corpus CONNECT".to_owned())
        } else {
            let s = seeds[rng.random_range(0..seeds.len())].clone();
            (s, "corpus seed as the first packet".to_owned())
        }
    }

    /// Sends PINGREQ on every open, framed, accepted connection and waits for the PINGRESP
    /// (or the close), handling what arrives meanwhile.
    async fn barrier(&mut self) {
        // A PINGREQ finding is reproduced from here: its tail sends the PINGREQ itself.
        let before_pings = self.log.len();
        for i in 0..self.clients.len() {
            let c = &self.clients[i];
            if c.open() && c.framed && c.connack_ok && c.out_buf.is_empty() {
                self.send_logged(i, vec![0xc0, 0x00], "PINGREQ (barrier)".to_owned(), 1)
                    .await;
                if self.clients[i].open() {
                    self.clients[i].awaiting_ping = true;
                }
            }
        }
        let deadline = Instant::now() + self.s.wait;
        for i in 0..self.clients.len() {
            while self.clients[i].awaiting_ping {
                let Some(conn) = self.clients[i].conn.as_mut() else {
                    break;
                };
                match conn.recv_until(deadline).await {
                    Received::Timeout => {
                        let v = self.s.version;
                        let breach = Breach {
                            kind: FindingKind::PingUnanswered,
                            detail: format!(
                                "no PINGRESP within {} ms on an open connection",
                                self.s.wait.as_millis()
                            ),
                            statement: FindingKind::PingUnanswered.statement(v),
                            signature: "pingreq-unanswered".to_owned(),
                        };
                        self.detect(i, breach, before_pings);
                        self.clients[i].awaiting_ping = false;
                    }
                    Received::Closed => {
                        self.clients[i].awaiting_ping = false;
                    }
                    r => {
                        self.handle(i, r).await;
                        // Bytes that cannot even be framed end the connection; the client
                        // keeps returning that ending, so stop waiting.
                        if !self.clients[i].open() {
                            self.clients[i].awaiting_ping = false;
                        }
                    }
                }
            }
        }
        self.drain_all().await;
    }

    async fn probe(&mut self) -> Result<(), String> {
        self.connections += 1;
        let id = client_id(self.s.seed, self.s.index, 0xfffe);
        probe(
            self.addr.clone(),
            self.v(),
            id,
            self.s.wait,
            self.transcript.clone(),
            true,
            self.s.credentials.as_ref(),
        )
        .await
    }
}

/// How many PUBLISH packets the liveness probe lets pass while it waits for its PINGRESP.
const PROBE_SKIPPED_PUBLISHES: usize = 64;

/// The liveness oracle: a fresh client connects (CONNACK 0x00; with `login`'s User Name and
/// Password when given) and (when `ping`) its PINGREQ is answered, each within `wait`
/// (PUBLISH packets before the PINGRESP are let pass).
pub async fn probe(
    addr: Endpoint,
    v: ProtocolVersion,
    client_id: String,
    wait: Duration,
    transcript: Transcript,
    ping: bool,
    login: Option<&Credentials>,
) -> Result<(), String> {
    let options = ClientOptions::new("probe", v);
    let mut c = TestClient::connect_with(addr, options, transcript)
        .await
        .map_err(|e| format!("TCP connect failed: {e}"))?;
    let connect = mqttspec_codec::Connect {
        protocol_version: v,
        clean_start: true,
        keep_alive: 60,
        properties: Default::default(),
        client_id: mqttspec_codec::MqttString::new(client_id, "probe").unwrap_or_default(),
        will: None,
        username: login
            .map(|c| mqttspec_codec::MqttString::new(&c.username, "probe").unwrap_or_default()),
        password: login.and_then(|c| c.password.as_ref().map(|p| bytes::Bytes::from(p.clone()))),
    };
    let result = async {
        c.send(&Packet::Connect(Box::new(connect)))
            .await
            .map_err(|e| format!("CONNECT not written: {e}"))?;
        match c.recv_until(Instant::now() + wait).await {
            Received::Packet(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => {}
            // An answer, if a broken one: the broker is alive (the output oracle judges the
            // bytes on the round's own connections).
            Received::Malformed { .. } => return Ok(()),
            other => return Err(format!("CONNECT answered by {}", other.describe(v))),
        }
        if !ping {
            return Ok(());
        }
        c.send(&Packet::PingReq)
            .await
            .map_err(|e| format!("PINGREQ not written: {e}"))?;
        let deadline = Instant::now() + wait;
        // A PUBLISH before the PINGRESP shows the broker alive (whether this fresh session
        // should get any is not this oracle's question): keep waiting, a bounded number.
        for _ in 0..PROBE_SKIPPED_PUBLISHES {
            match c.recv_until(deadline).await {
                Received::Packet(Packet::PingResp) | Received::Malformed { .. } => return Ok(()),
                Received::Packet(Packet::Publish(_)) => continue,
                other => return Err(format!("PINGREQ answered by {}", other.describe(v))),
            }
        }
        Err(format!(
            "PINGREQ not answered: only PUBLISH packets ({PROBE_SKIPPED_PUBLISHES}) arrived"
        ))
    }
    .await;
    c.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake broker: CONNACK 0x00, then `publishes` QoS 0 PUBLISH packets and, when `pong`,
    /// a PINGRESP after the PINGREQ.
    async fn fake_broker(publishes: usize, pong: bool) -> Endpoint {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).await; // CONNECT
            s.write_all(&[0x20, 0x02, 0x00, 0x00]).await.unwrap();
            let _ = s.read(&mut buf).await; // PINGREQ
            for _ in 0..publishes {
                // QoS 0 PUBLISH, topic "t", payload "x"
                s.write_all(&[0x30, 0x04, 0x00, 0x01, b't', b'x'])
                    .await
                    .unwrap();
            }
            if pong {
                s.write_all(&[0xd0, 0x00]).await.unwrap();
            }
            let _ = s.read(&mut buf).await;
        });
        Endpoint::tcp(addr)
    }

    async fn probe_of(addr: Endpoint) -> Result<(), String> {
        let transcript = Transcript::new(std::time::Instant::now());
        probe(
            addr,
            ProtocolVersion::V311,
            "probe".to_owned(),
            Duration::from_secs(2),
            transcript,
            true,
            None,
        )
        .await
    }

    #[tokio::test]
    async fn probe_lets_publish_packets_pass_before_the_pingresp() {
        assert_eq!(probe_of(fake_broker(3, true).await).await, Ok(()));
    }

    #[tokio::test]
    async fn probe_fails_when_only_publish_packets_arrive() {
        let err = probe_of(fake_broker(PROBE_SKIPPED_PUBLISHES + 1, false).await)
            .await
            .unwrap_err();
        assert!(err.contains("PINGREQ not answered"), "{err}");
    }

    #[tokio::test]
    async fn probe_fails_without_pingresp() {
        let err = probe_of(fake_broker(0, false).await).await.unwrap_err();
        assert!(err.starts_with("PINGREQ answered by"), "{err}");
    }

    #[test]
    fn client_ids_are_fixed_length_unique_and_deterministic() {
        let a = client_id(1, 2, 3);
        assert_eq!(a.len(), CLIENT_ID_LEN);
        assert!(a.starts_with("fz") && a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(a, client_id(1, 2, 3));
        assert_ne!(a, client_id(1, 2, 4));
        assert_ne!(a, client_id(1, 3, 3));
        assert_ne!(a, client_id(2, 2, 3));
    }
}
