//! The load itself: connect the subscribers (each on `{prefix}/+`) and the publishers (each
//! on `{prefix}/{index}`), publish for the run's duration, drain, and collect the results.
//!
//! Publishers are paced by a tokio interval (missed ticks delayed, never burst) at a fixed
//! rate, or send as fast as TCP and flow control allow. At QoS 1 and 2 each publisher keeps
//! at most its window of PUBLISH packets unacknowledged: the broker's Receive Maximum in
//! MQTT 5.0 (MQTT-3.3.4-7 binds the sender to it), a fixed window in 3.1.1. A reader task
//! per publisher decodes the acknowledgements; the publisher loop owns the writing half.
//!
//! Any connection failing (closed, undecodable input, DISCONNECT from the broker, a write or
//! an acknowledgement that does not come in time) ends the run with that error: every wait
//! is bounded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mqttspec_codec::{
    encode_packet, FrameDecoder, Packet, PacketId, PacketType, ProtocolVersion, PubAck, PubComp,
    PubRec, PubRel, QoS, ReasonCode, Subscribe, SubscriptionOptions, TopicFilter, TopicName,
};
use mqttspec_transport::conn::{ReadHalf as OwnedReadHalf, WriteHalf as OwnedWriteHalf};
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::runtimes::SubscriberRuntime;
use super::stats::{
    new_histogram, per_sec, BenchResult, DrainEnd, LatencySummary, PublisherReport,
    SubscriberReport, Tracker,
};
use super::wire::{
    describe_disconnect, write_within, Session, Stamp, Template, KEEP_ALIVE, SETUP_TIMEOUT,
};
use super::{BenchConfig, BenchError};

/// How long a publisher with a full window waits for an acknowledgement, and how long the
/// publishers wait for the last ones after the end.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many messages are encoded into one write.
const MAX_BATCH: usize = 64;
/// ... and at most about this many bytes.
const BATCH_BYTES: usize = 64 * 1024;
/// Fixed-rate pacing never ticks faster than this; higher rates send several per tick.
const MIN_TICK: Duration = Duration::from_millis(1);
/// How long subscribers get to send DISCONNECT and hand back their counts.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the drain checks the subscribers' progress.
const DRAIN_POLL: Duration = Duration::from_millis(10);
/// How many bytes a read asks the socket for at once.
const READ_CHUNK: usize = 64 * 1024;

/// What all tasks of a run share.
#[derive(Debug)]
struct Shared {
    /// Nanosecond timestamps count from here.
    origin: Instant,
    /// Per publisher: how many messages it has sent (updated before each write, so a
    /// delivered sequence number is always below it).
    sent: Vec<AtomicU64>,
    /// Per subscriber: distinct messages received so far.
    unique: Vec<AtomicU64>,
    /// Payload size, to tell a well-formed delivered payload.
    payload: usize,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Runs the benchmark described by `config` and returns what it measured.
pub async fn run(config: BenchConfig) -> Result<BenchResult, BenchError> {
    let origin = Instant::now();
    let publishers = usize::try_from(config.publishers).unwrap_or(usize::MAX);
    let subscribers = usize::try_from(config.subscribers).unwrap_or(usize::MAX);
    let filter = TopicFilter::new(format!("{}/+", config.topic))
        .map_err(|e| BenchError::new("setup", format!("bad topic prefix: {e}")))?;
    let run_id = run_id();
    let shared = Arc::new(Shared {
        origin,
        sent: (0..publishers).map(|_| AtomicU64::new(0)).collect(),
        unique: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
        payload: config.payload,
    });
    // The largest packet we accept: one benchmark PUBLISH with a generous allowance for the
    // topic and properties a broker may add.
    let max_in = u32::try_from(config.payload + 64 * 1024).unwrap_or(u32::MAX);

    // Subscribers first, so nothing published is missed; on their own runtime unless asked
    // otherwise (they connect there, so their sockets belong to it).
    let sub_runtime =
        SubscriberRuntime::new(config.subscribers, config.shared_runtime).map_err(|e| {
            BenchError::new(
                "setup",
                format!("cannot start the subscribers' runtime: {e}"),
            )
        })?;
    let sub_handle = sub_runtime.handle();
    let mut connecting = JoinSet::new();
    for index in 0..config.subscribers {
        let (broker, v, qos, filter) = (
            config.broker.clone(),
            config.protocol,
            config.qos,
            filter.clone(),
        );
        let client_id = format!("mb{run_id}s{index}");
        connecting.spawn_on(
            async move {
                let mut s =
                    Session::connect(format!("subscriber {index}"), broker, &client_id, v, max_in)
                        .await?;
                let granted = subscribe(&mut s, filter, qos).await?;
                Ok::<_, BenchError>((index, s, granted))
            },
            &sub_handle,
        );
    }
    let mut subs = Vec::with_capacity(subscribers);
    while let Some(joined) = connecting.join_next().await {
        subs.push(joined.map_err(task_failed)??);
    }
    subs.sort_by_key(|(index, _, _)| *index);

    let mut connecting = JoinSet::new();
    for index in 0..config.publishers {
        let (broker, v, qos) = (config.broker.clone(), config.protocol, config.qos);
        let topic = TopicName::new(format!("{}/{index}", config.topic))
            .map_err(|e| BenchError::new("setup", format!("bad topic prefix: {e}")))?;
        let template = Template::new(&topic, qos, config.payload, v)
            .map_err(|e| BenchError::new("setup", e))?;
        let client_id = format!("mb{run_id}p{index}");
        let window = config.window;
        connecting.spawn(async move {
            let who = format!("publisher {index}");
            let s = Session::connect(who, broker, &client_id, v, max_in).await?;
            let window = check_capabilities(&s, qos, &template, window)?;
            Ok::<_, BenchError>((index, s, template, window))
        });
    }
    let mut pubs = Vec::with_capacity(publishers);
    while let Some(joined) = connecting.join_next().await {
        pubs.push(joined.map_err(task_failed)??);
    }

    let (failures_tx, mut failures) = mpsc::unbounded_channel::<BenchError>();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut sub_tasks = JoinSet::new();
    let mut granted_qos = vec![0u8; subscribers];
    for (index, session, granted) in subs {
        if let Some(g) = granted_qos.get_mut(usize::try_from(index).unwrap_or(usize::MAX)) {
            *g = granted;
        }
        let (shared, stop, failures) = (shared.clone(), stop_rx.clone(), failures_tx.clone());
        sub_tasks.spawn_on(
            async move {
                let result = subscriber_loop(session, index, &shared, stop).await;
                if let Err(e) = &result {
                    let _ = failures.send(e.clone());
                }
                (index, result)
            },
            &sub_handle,
        );
    }

    let start = Instant::now();
    let end = start + config.duration;
    let mut pub_tasks = JoinSet::new();
    for (index, session, template, window) in pubs {
        let shared = shared.clone();
        let plan = Plan {
            index,
            template,
            window,
            qos: config.qos,
            rate: config.rate,
            start,
            end,
        };
        pub_tasks.spawn(async move { publisher_loop(session, plan, &shared).await });
    }

    // Publishing: wait for every publisher, or the first failure anywhere.
    let mut reports: Vec<(PublisherReport, Instant)> = Vec::with_capacity(publishers);
    loop {
        tokio::select! {
            joined = pub_tasks.join_next() => match joined {
                Some(r) => reports.push(r.map_err(task_failed)??),
                None => break,
            },
            Some(e) = failures.recv() => return Err(e),
        }
    }
    reports.sort_by_key(|(r, _)| r.index);
    let stopped = reports.iter().map(|(_, t)| *t).max().unwrap_or(end);
    let publishing = stopped.saturating_duration_since(start);
    let expected: u64 = reports.iter().map(|(r, _)| r.sent - r.refused).sum();

    // Drain: until every subscriber has everything, nothing arrives for `config.drain`, or
    // `config.drain_max` has passed.
    let drain_start = Instant::now();
    let cap = drain_start + config.drain_max;
    let total = |s: &Shared| {
        s.unique
            .iter()
            .map(|u| u.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let (mut last_total, mut last_change) = (total(&shared), drain_start);
    let drain_end = loop {
        let complete = shared
            .unique
            .iter()
            .all(|u| u.load(Ordering::Relaxed) >= expected);
        let now = Instant::now();
        if complete {
            break DrainEnd::Complete;
        }
        if now.duration_since(last_change) >= config.drain {
            break DrainEnd::Idle;
        }
        if now >= cap {
            break DrainEnd::Cap;
        }
        tokio::select! {
            Some(e) = failures.recv() => return Err(e),
            () = tokio::time::sleep(DRAIN_POLL) => {}
        }
        let t = total(&shared);
        if t != last_total {
            (last_total, last_change) = (t, Instant::now());
        }
    };
    let drain = drain_start.elapsed();
    let _ = stop_tx.send(true);

    let mut trackers: Vec<(u32, Tracker)> = Vec::with_capacity(subscribers);
    let collect = async {
        while let Some(joined) = sub_tasks.join_next().await {
            let (index, result) = joined.map_err(task_failed)?;
            trackers.push((index, result?));
        }
        Ok::<_, BenchError>(())
    };
    tokio::time::timeout(STOP_TIMEOUT, collect)
        .await
        .map_err(|_| BenchError::new("run", "subscribers did not stop in time"))??;
    trackers.sort_by_key(|(index, _)| *index);

    let start_ns = u64::try_from(start.duration_since(origin).as_nanos()).unwrap_or(0);
    let mut all = new_histogram();
    let mut longest = publishing;
    let mut delivered = 0u64;
    let mut subscriber_reports = Vec::with_capacity(subscribers);
    for (index, t) in &trackers {
        let _ = all.add(&t.latency);
        let until_last = Duration::from_nanos(t.last_receive_ns.saturating_sub(start_ns));
        let span = publishing.max(until_last);
        longest = longest.max(span);
        delivered += t.unique;
        subscriber_reports.push(SubscriberReport {
            index: *index,
            granted_qos: granted_qos
                .get(usize::try_from(*index).unwrap_or(usize::MAX))
                .copied()
                .unwrap_or(0),
            expected,
            received: t.received,
            unique: t.unique,
            lost: expected.saturating_sub(t.unique),
            duplicates: t.duplicates,
            reordered: t.reordered,
            malformed: t.malformed,
            msgs_per_sec: per_sec(t.unique, span),
            latency: LatencySummary::of(&t.latency),
        });
    }
    Ok(BenchResult {
        config,
        publishing,
        drain,
        drain_end,
        publishers: reports.into_iter().map(|(r, _)| r).collect(),
        subscribers: subscriber_reports,
        latency: LatencySummary::of(&all),
        delivered_per_sec: per_sec(delivered, longest),
    })
}

/// A short identifier making this run's Client Identifiers unique (and at most 23
/// characters in all, which every 3.1.1 server accepts).
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = (u64::from(std::process::id()) << 32 | u64::from(nanos))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:06x}", mixed >> 40)
}

fn task_failed(e: tokio::task::JoinError) -> BenchError {
    BenchError::new("run", format!("a benchmark task failed: {e}"))
}

/// Sends SUBSCRIBE and returns the granted QoS from SUBACK.
async fn subscribe(s: &mut Session, filter: TopicFilter, qos: QoS) -> Result<u8, BenchError> {
    let packet_id = PacketId::new(1).ok_or_else(|| s.error("no packet identifier"))?;
    let subscribe = Subscribe {
        packet_id,
        properties: Default::default(),
        filters: vec![(filter, SubscriptionOptions::qos(qos))],
    };
    s.send_packet(&Packet::Subscribe(subscribe)).await?;
    let deadline = Instant::now() + SETUP_TIMEOUT;
    match s.next_packet_until(deadline, "SUBACK").await? {
        Packet::SubAck(ack) => match ack.reason_codes.first() {
            Some(code) if !code.is_error() => Ok(code.as_u8()),
            Some(code) => Err(s.error(format!(
                "the broker refused the subscription: SUBACK {:#04x} ({})",
                code.as_u8(),
                code.name_in(PacketType::SubAck)
            ))),
            None => Err(s.error("SUBACK without a reason code")),
        },
        other => Err(s.error(format!("expected SUBACK, got {}", other.packet_type()))),
    }
}

/// Checks what the broker declared in CONNACK against the run, and returns the window.
fn check_capabilities(
    s: &Session,
    qos: QoS,
    template: &Template,
    window: Option<u16>,
) -> Result<u16, BenchError> {
    let p = &s.connack.properties;
    if let Some(max) = p.maximum_qos {
        if max < qos {
            return Err(s.error(format!(
                "the broker supports QoS {} at most (Maximum QoS in CONNACK)",
                max.as_u8()
            )));
        }
    }
    if let Some(max) = p.maximum_packet_size {
        if template.len() as u64 > u64::from(max.get()) {
            return Err(s.error(format!(
                "a PUBLISH is {} bytes, the broker accepts at most {} (Maximum Packet Size)",
                template.len(),
                max
            )));
        }
    }
    if qos == QoS::AtMostOnce {
        return Ok(0);
    }
    Ok(match s.version {
        ProtocolVersion::V5 => {
            let receive_maximum = p.receive_maximum.map(|r| r.get()).unwrap_or(u16::MAX);
            window.map_or(receive_maximum, |w| w.min(receive_maximum))
        }
        ProtocolVersion::V311 => window.unwrap_or(super::DEFAULT_V311_WINDOW),
    })
}

/// The ping interval: half the Keep Alive in force.
fn ping_period(s: &Session) -> Duration {
    let keep_alive = match s.connack.properties.server_keep_alive {
        Some(k) if k > 0 => k,
        Some(_) => KEEP_ALIVE * 4,
        None => KEEP_ALIVE,
    };
    Duration::from_secs(u64::from(keep_alive / 2).max(1))
}

/// One subscriber: acknowledges and tracks every delivered message until told to stop.
async fn subscriber_loop(
    mut s: Session,
    index: u32,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) -> Result<Tracker, BenchError> {
    let mut tracker = Tracker::new(shared.sent.len());
    let progress = shared
        .unique
        .get(usize::try_from(index).unwrap_or(usize::MAX))
        .ok_or_else(|| s.error("no progress counter"))?;
    let mut out = BytesMut::new();
    let period = ping_period(&s);
    let mut ping = tokio::time::interval_at(Instant::now() + period, period);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        while let Some(packet) = s.decode_buffered()? {
            let reply = match packet {
                Packet::Publish(p) => {
                    if tracker.record(&p.payload, shared.payload, shared.now_ns(), &shared.sent) {
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                    match (p.qos(), p.packet_id()) {
                        (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(PubAck::new(id))),
                        (QoS::ExactlyOnce, Some(id)) => Some(Packet::PubRec(PubRec::new(id))),
                        _ => None,
                    }
                }
                Packet::PubRel(r) => Some(Packet::PubComp(PubComp::new(r.packet_id))),
                Packet::PingResp => None,
                Packet::Disconnect(d) => return Err(s.error(describe_disconnect(&d))),
                other => {
                    return Err(s.error(format!(
                        "unexpected {} from the broker",
                        other.packet_type()
                    )))
                }
            };
            if let Some(reply) = reply {
                encode_packet(&reply, s.version, &mut out)
                    .map_err(|e| s.error(format!("cannot encode an acknowledgement: {e}")))?;
            }
        }
        if !out.is_empty() {
            s.write(&out).await?;
            out.clear();
        }
        s.buf.reserve(READ_CHUNK);
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            read = s.stream.read_buf(&mut s.buf) => match read {
                Ok(0) => return Err(s.error("the broker closed the connection")),
                Ok(_) => {}
                Err(e) => return Err(s.error(format!("read failed: {e}"))),
            },
            _ = ping.tick() => {
                encode_packet(&Packet::PingReq, s.version, &mut out)
                    .map_err(|e| s.error(format!("cannot encode PINGREQ: {e}")))?;
            }
        }
    }
    s.disconnect().await;
    Ok(tracker)
}

/// What a publisher is to do.
#[derive(Debug)]
struct Plan {
    index: u32,
    template: Template,
    window: u16,
    qos: QoS,
    rate: Option<f64>,
    start: Instant,
    end: Instant,
}

/// What a publisher's reader task reports.
#[derive(Debug)]
enum FromBroker {
    PubAck(PacketId, ReasonCode),
    PubRec(PacketId, ReasonCode),
    PubComp(PacketId),
    Failed(BenchError),
}

/// The Packet Identifiers in flight and the state of each.
#[derive(Debug)]
struct Flight {
    /// Per identifier: 0 free, 1 waiting for PUBACK / PUBREC, 2 waiting for PUBCOMP.
    state: Vec<u8>,
    in_flight: usize,
    next: u16,
}

const FREE: u8 = 0;
const AWAITING_ACK: u8 = 1;
const AWAITING_COMP: u8 = 2;

impl Flight {
    fn new() -> Flight {
        Flight {
            state: vec![FREE; 65_536],
            in_flight: 0,
            next: 1,
        }
    }

    fn state(&self, id: PacketId) -> u8 {
        self.state
            .get(usize::from(id.get()))
            .copied()
            .unwrap_or(FREE)
    }

    fn set(&mut self, id: PacketId, state: u8) {
        if let Some(s) = self.state.get_mut(usize::from(id.get())) {
            match (*s == FREE, state == FREE) {
                (true, false) => self.in_flight += 1,
                (false, true) => self.in_flight -= 1,
                _ => {}
            }
            *s = state;
        }
    }

    /// A free identifier, marked as waiting for its acknowledgement (the caller checks the
    /// window first, so one is free).
    fn allocate(&mut self) -> Option<PacketId> {
        for _ in 0..u16::MAX {
            let id = PacketId::new(self.next);
            self.next = self.next.checked_add(1).unwrap_or(1);
            if let Some(id) = id.filter(|id| self.state(*id) == FREE) {
                self.set(id, AWAITING_ACK);
                return Some(id);
            }
        }
        None
    }
}

/// One publisher: publishes until the end of the run, then waits for its last
/// acknowledgements and disconnects. Returns its report and when it stopped sending.
async fn publisher_loop(
    s: Session,
    plan: Plan,
    shared: &Shared,
) -> Result<(PublisherReport, Instant), BenchError> {
    let who = s.who.clone();
    let period = ping_period(&s);
    let version = s.version;
    let Session {
        stream,
        buf,
        decoder,
        ..
    } = s;
    let (read, mut write) = stream.into_split();
    let (acks_tx, mut acks) = mpsc::channel(usize::from(plan.window) + 64);
    let reader = tokio::spawn(publisher_reader(read, buf, decoder, who.clone(), acks_tx));
    let result = publish(&mut write, &mut acks, &plan, shared, &who, period, version).await;
    drop(acks);
    if result.is_ok() {
        disconnect(&mut write, version).await;
    }
    reader.abort();
    result
}

/// Sends DISCONNECT on a publisher's writing half and shuts it down, within a second.
async fn disconnect(write: &mut OwnedWriteHalf, version: ProtocolVersion) {
    use tokio::io::AsyncWriteExt;
    let mut out = BytesMut::new();
    let packet = Packet::Disconnect(mqttspec_codec::Disconnect::new(ReasonCode::Success));
    if encode_packet(&packet, version, &mut out).is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), write.write_all(&out)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), write.shutdown()).await;
}

/// Decodes what the broker sends a publisher and hands the acknowledgements over.
async fn publisher_reader(
    mut read: OwnedReadHalf,
    mut buf: BytesMut,
    mut decoder: FrameDecoder,
    who: String,
    acks: mpsc::Sender<FromBroker>,
) {
    loop {
        loop {
            let ack = match decoder.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(Packet::PubAck(a))) => FromBroker::PubAck(a.packet_id, a.reason_code),
                Ok(Some(Packet::PubRec(r))) => FromBroker::PubRec(r.packet_id, r.reason_code),
                Ok(Some(Packet::PubComp(c))) => FromBroker::PubComp(c.packet_id),
                Ok(Some(Packet::PingResp)) => continue,
                Ok(Some(Packet::Disconnect(d))) => {
                    FromBroker::Failed(BenchError::new(&who, describe_disconnect(&d)))
                }
                Ok(Some(other)) => FromBroker::Failed(BenchError::new(
                    &who,
                    format!("unexpected {} from the broker", other.packet_type()),
                )),
                Err(e) => {
                    FromBroker::Failed(BenchError::new(&who, format!("undecodable packet: {e}")))
                }
            };
            let failed = matches!(ack, FromBroker::Failed(_));
            if acks.send(ack).await.is_err() || failed {
                return;
            }
        }
        buf.reserve(READ_CHUNK);
        let failure = match read.read_buf(&mut buf).await {
            Ok(0) => "the broker closed the connection".to_owned(),
            Ok(_) => continue,
            Err(e) => format!("read failed: {e}"),
        };
        let _ = acks
            .send(FromBroker::Failed(BenchError::new(&who, failure)))
            .await;
        return;
    }
}

/// The publisher's counters and flow-control state while it runs.
#[derive(Debug)]
struct Publisher<'a> {
    plan: &'a Plan,
    version: ProtocolVersion,
    who: &'a str,
    flight: Flight,
    report: PublisherReport,
    /// PUBREL packets to send.
    out: BytesMut,
    /// Last time the window moved (an acknowledgement freed a slot).
    last_progress: Instant,
}

impl Publisher<'_> {
    fn handle(&mut self, ack: FromBroker) -> Result<(), BenchError> {
        match ack {
            FromBroker::Failed(e) => return Err(e),
            FromBroker::PubAck(id, code) if self.plan.qos == QoS::AtLeastOnce => {
                if self.flight.state(id) == AWAITING_ACK {
                    self.flight.set(id, FREE);
                    self.count(code);
                } else {
                    self.report.unexpected_acks += 1;
                }
            }
            FromBroker::PubRec(id, code) if self.plan.qos == QoS::ExactlyOnce => {
                match self.flight.state(id) {
                    AWAITING_ACK if code.is_error() => {
                        // A refused QoS 2 message ends at PUBREC (no PUBREL follows).
                        self.flight.set(id, FREE);
                        self.count(code);
                    }
                    AWAITING_ACK | AWAITING_COMP => {
                        self.flight.set(id, AWAITING_COMP);
                        encode_packet(
                            &Packet::PubRel(PubRel::new(id)),
                            self.version,
                            &mut self.out,
                        )
                        .map_err(|e| BenchError::new(self.who, format!("PUBREL: {e}")))?;
                    }
                    _ => self.report.unexpected_acks += 1,
                }
            }
            FromBroker::PubComp(id) if self.plan.qos == QoS::ExactlyOnce => {
                if self.flight.state(id) == AWAITING_COMP {
                    self.flight.set(id, FREE);
                    self.count(ReasonCode::Success);
                } else {
                    self.report.unexpected_acks += 1;
                }
            }
            FromBroker::PubAck(..) | FromBroker::PubRec(..) | FromBroker::PubComp(_) => {
                self.report.unexpected_acks += 1;
            }
        }
        Ok(())
    }

    fn count(&mut self, code: ReasonCode) {
        self.last_progress = Instant::now();
        if code.is_error() {
            self.report.refused += 1;
        } else {
            self.report.acknowledged += 1;
        }
    }

    /// How many more messages the window lets out now.
    fn room(&self) -> usize {
        match self.plan.qos {
            QoS::AtMostOnce => usize::MAX,
            _ => usize::from(self.plan.window).saturating_sub(self.flight.in_flight),
        }
    }
}

/// Waits for the next tick of the pacing interval, or forever when there is none.
async fn next_tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn publish(
    write: &mut OwnedWriteHalf,
    acks: &mut mpsc::Receiver<FromBroker>,
    plan: &Plan,
    shared: &Shared,
    who: &str,
    ping_period: Duration,
    version: ProtocolVersion,
) -> Result<(PublisherReport, Instant), BenchError> {
    let index = usize::try_from(plan.index).unwrap_or(usize::MAX);
    let sent = shared
        .sent
        .get(index)
        .ok_or_else(|| BenchError::new(who, "no sent counter"))?;
    let mut p = Publisher {
        plan,
        version,
        who,
        flight: Flight::new(),
        report: PublisherReport {
            index: plan.index,
            window: plan.window,
            ..PublisherReport::default()
        },
        out: BytesMut::new(),
        last_progress: Instant::now(),
    };
    // Pacing: one tick per message up to 1000 msg/s, several per 1 ms tick above.
    let (mut ticker, per_tick) = match plan.rate {
        Some(rate) => {
            let period = Duration::from_secs_f64(1.0 / rate).max(MIN_TICK);
            let mut t = tokio::time::interval_at(plan.start, period);
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
            (Some(t), rate * period.as_secs_f64())
        }
        None => (None, 0.0),
    };
    let per_write = (BATCH_BYTES / plan.template.len().max(1)).clamp(1, MAX_BATCH);
    let mut credit = 0.0f64;
    let mut sequence = 0u64;
    let mut last_write = Instant::now();
    let gone = || BenchError::new(who, "the connection's reader stopped");
    loop {
        loop {
            match acks.try_recv() {
                Ok(ack) => p.handle(ack)?,
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return Err(gone()),
            }
        }
        let now = Instant::now();
        if now >= plan.end {
            break;
        }
        let wanted = match ticker {
            Some(_) => credit.floor() as usize,
            None => per_write,
        };
        let n = wanted.min(per_write).min(p.room());
        let mut out = std::mem::take(&mut p.out);
        for _ in 0..n {
            let packet_id = match plan.qos {
                QoS::AtMostOnce => None,
                _ => Some(p.flight.allocate().ok_or_else(|| {
                    BenchError::new(who, "no free Packet Identifier inside the window")
                })?),
            };
            let stamp = Stamp {
                publisher: plan.index,
                sequence,
                sent_ns: shared.now_ns(),
            };
            sequence += 1;
            sent.store(sequence, Ordering::Release);
            plan.template.write(&mut out, packet_id, stamp);
        }
        p.report.sent = sequence;
        credit -= n as f64;
        if !out.is_empty() {
            write_within(write, &out, who).await?;
            out.clear();
            last_write = Instant::now();
            if n > 0 {
                p.last_progress = last_write;
            }
        }
        p.out = out;
        if n > 0 && ticker.is_none() {
            continue;
        }
        let now = Instant::now();
        let ping_due = last_write + ping_period;
        if now >= ping_due {
            let mut ping = BytesMut::new();
            encode_packet(&Packet::PingReq, version, &mut ping)
                .map_err(|e| BenchError::new(who, format!("PINGREQ: {e}")))?;
            write_within(write, &ping, who).await?;
            last_write = Instant::now();
            continue;
        }
        let mut wake = plan.end.min(ping_due);
        if p.room() == 0 {
            let ack_deadline = p.last_progress + ACK_TIMEOUT;
            if now >= ack_deadline {
                return Err(BenchError::new(
                    who,
                    format!(
                        "no acknowledgement for {} s with {} messages in flight",
                        ACK_TIMEOUT.as_secs(),
                        p.flight.in_flight
                    ),
                ));
            }
            wake = wake.min(ack_deadline);
        }
        tokio::select! {
            ack = acks.recv() => p.handle(ack.ok_or_else(gone)?)?,
            () = next_tick(&mut ticker) => credit = (credit + per_tick).min(per_tick + 1.0),
            () = tokio::time::sleep_until(wake) => {}
        }
    }
    let stopped = Instant::now();
    // The last acknowledgements (and PUBRELs they call for).
    let deadline = stopped + ACK_TIMEOUT;
    loop {
        if !p.out.is_empty() {
            let out = std::mem::take(&mut p.out);
            write_within(write, &out, who).await?;
        }
        if p.flight.in_flight == 0 {
            break;
        }
        match tokio::time::timeout_at(deadline, acks.recv()).await {
            Ok(Some(ack)) => p.handle(ack)?,
            Ok(None) => return Err(gone()),
            Err(_) => {
                return Err(BenchError::new(
                    who,
                    format!(
                        "{} messages still unacknowledged {} s after the end",
                        p.flight.in_flight,
                        ACK_TIMEOUT.as_secs()
                    ),
                ))
            }
        }
    }
    if plan.qos == QoS::AtMostOnce {
        p.report.acknowledged = p.report.sent;
    }
    Ok((p.report, stopped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flight_allocates_free_identifiers_and_skips_those_in_use() {
        let mut f = Flight::new();
        let a = f.allocate().unwrap();
        let b = f.allocate().unwrap();
        assert_eq!((a.get(), b.get(), f.in_flight), (1, 2, 2));
        f.set(a, FREE);
        f.next = 65_535;
        let c = f.allocate().unwrap();
        let d = f.allocate().unwrap();
        assert_eq!(
            (c.get(), d.get()),
            (65_535, 1),
            "wraps to 1, which is free again"
        );
        let e = f.allocate().unwrap();
        assert_eq!(e.get(), 3);
        assert_eq!(f.in_flight, 4);
    }

    #[test]
    fn flight_runs_out_only_when_every_identifier_is_in_flight() {
        let mut f = Flight::new();
        for _ in 0..65_535 {
            assert!(f.allocate().is_some());
        }
        assert_eq!(f.in_flight, 65_535);
        assert!(f.allocate().is_none());
    }
}
