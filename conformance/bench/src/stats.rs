//! What a benchmark run measured: the per-subscriber [`Tracker`] that reads each delivered
//! payload's stamp (loss, duplicates, reordering, latency), the per-publisher and
//! per-subscriber reports, and the [`BenchResult`] with its table and JSON forms.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::wire::Stamp;
use super::BenchConfig;

/// The version of the JSON document `--json` writes.
pub const JSON_SCHEMA: &str = "mqttspec-bench/1";

/// Highest latency the histograms hold (one hour, in nanoseconds); larger values are
/// recorded as this.
const LATENCY_MAX_NS: u64 = 3_600_000_000_000;

/// A latency histogram in nanoseconds, 3 significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts: this cannot fail whatever the input.
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("valid constant histogram bounds")
}

/// One publisher's messages as seen by one subscriber.
#[derive(Debug, Default, Clone)]
struct Stream {
    /// Bit `n` set: sequence number `n` was received.
    seen: Vec<u64>,
    /// The highest sequence number received so far.
    highest: Option<u64>,
}

impl Stream {
    /// Marks `seq`; returns whether it was already marked.
    fn mark(&mut self, seq: u64) -> bool {
        let word = usize::try_from(seq / 64).unwrap_or(usize::MAX);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        let bit = 1u64 << (seq % 64);
        match self.seen.get_mut(word) {
            Some(w) => {
                let was = *w & bit != 0;
                *w |= bit;
                was
            }
            None => false,
        }
    }
}

/// What one subscriber received, message by message.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    streams: Vec<Stream>,
    /// PUBLISH packets received (duplicates and malformed ones included).
    pub received: u64,
    /// Distinct messages received.
    pub unique: u64,
    /// Messages received again.
    pub duplicates: u64,
    /// Messages whose sequence number was lower than one already received from the same
    /// publisher (duplicates excluded).
    pub reordered: u64,
    /// Payloads without a valid stamp: too short, wrong size, unknown publisher, or a
    /// sequence number that publisher has not sent.
    pub malformed: u64,
    /// Latency of each distinct message, in nanoseconds.
    pub latency: Histogram<u64>,
    /// When the last distinct message arrived, in nanoseconds since the start of the run.
    pub last_receive_ns: u64,
}

impl Tracker {
    /// A tracker for `publishers` publishers.
    pub(crate) fn new(publishers: usize) -> Tracker {
        Tracker {
            streams: vec![Stream::default(); publishers],
            received: 0,
            unique: 0,
            duplicates: 0,
            reordered: 0,
            malformed: 0,
            latency: new_histogram(),
            last_receive_ns: 0,
        }
    }

    /// Records one delivered payload received at `now_ns`. `sent` holds how many messages
    /// each publisher has sent so far (so a sequence number never sent is malformed, and
    /// the bitmaps stay bounded by what was really sent). Returns whether it was a new
    /// distinct message.
    pub(crate) fn record(
        &mut self,
        payload: &[u8],
        expected_len: usize,
        now_ns: u64,
        sent: &[AtomicU64],
    ) -> bool {
        self.received += 1;
        let Some(stamp) = Stamp::parse(payload).filter(|_| payload.len() == expected_len) else {
            self.malformed += 1;
            return false;
        };
        let index = usize::try_from(stamp.publisher).unwrap_or(usize::MAX);
        let (Some(stream), Some(count)) = (self.streams.get_mut(index), sent.get(index)) else {
            self.malformed += 1;
            return false;
        };
        if stamp.sequence >= count.load(Ordering::Acquire) {
            self.malformed += 1;
            return false;
        }
        if stream.mark(stamp.sequence) {
            self.duplicates += 1;
            return false;
        }
        match stream.highest {
            Some(h) if stamp.sequence < h => self.reordered += 1,
            _ => stream.highest = Some(stamp.sequence),
        }
        self.unique += 1;
        self.latency
            .saturating_record(now_ns.saturating_sub(stamp.sent_ns).max(1));
        self.last_receive_ns = now_ns;
        true
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencySummary {
    /// Messages measured.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p99_9_us: f64,
    /// Largest.
    pub max_us: f64,
}

impl LatencySummary {
    /// The summary of a histogram in nanoseconds.
    pub(crate) fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            mean_us: h.mean() / 1000.0,
            p50_us: us(h.value_at_quantile(0.5)),
            p90_us: us(h.value_at_quantile(0.9)),
            p99_us: us(h.value_at_quantile(0.99)),
            p99_9_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        }
    }

    fn to_json(self) -> Value {
        json!({
            "count": self.count,
            "mean": round1(self.mean_us),
            "p50": round1(self.p50_us),
            "p90": round1(self.p90_us),
            "p99": round1(self.p99_us),
            "p99_9": round1(self.p99_9_us),
            "max": round1(self.max_us),
        })
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// What one publisher did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublisherReport {
    /// Its index (carried in every payload).
    pub index: u32,
    /// PUBLISH packets written.
    pub sent: u64,
    /// Of those, acknowledged as accepted (QoS 1: PUBACK, QoS 2: PUBCOMP after a successful
    /// PUBREC); at QoS 0, equal to `sent`.
    pub acknowledged: u64,
    /// Refused by the broker (PUBACK or PUBREC with a reason code of 0x80 or more); those
    /// are not expected at the subscribers.
    pub refused: u64,
    /// Acknowledgements for Packet Identifiers that were not in flight.
    pub unexpected_acks: u64,
    /// The flow-control window used: the largest number of unacknowledged QoS 1/2 PUBLISH
    /// packets (0 at QoS 0).
    pub window: u16,
}

/// What one subscriber received.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriberReport {
    /// Its index.
    pub index: u32,
    /// The QoS the broker granted in SUBACK.
    pub granted_qos: u8,
    /// Messages the publishers sent and the broker accepted (what it should deliver).
    pub expected: u64,
    /// PUBLISH packets received (duplicates included).
    pub received: u64,
    /// Distinct messages received.
    pub unique: u64,
    /// `expected` minus `unique` (never below 0).
    pub lost: u64,
    /// Messages received more than once.
    pub duplicates: u64,
    /// Messages that came after a later one of the same publisher.
    pub reordered: u64,
    /// Payloads that did not carry a valid stamp.
    pub malformed: u64,
    /// Distinct messages per second (see [`BenchResult`] for the time base).
    pub msgs_per_sec: f64,
    /// Latency of the distinct messages.
    pub latency: LatencySummary,
}

/// Why the drain after publishing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainEnd {
    /// Every subscriber had every expected message.
    Complete,
    /// Nothing arrived for the drain's idle time: what is missing is lost.
    Idle,
    /// Messages were still arriving when the drain's time limit came: what is missing may
    /// only be late (a backlog the broker had not delivered yet).
    Cap,
}

impl DrainEnd {
    /// "complete", "idle" or "cap".
    pub fn label(self) -> &'static str {
        match self {
            DrainEnd::Complete => "complete",
            DrainEnd::Idle => "idle",
            DrainEnd::Cap => "cap",
        }
    }
}

/// The outcome of a benchmark run.
///
/// Time bases: the send rate divides by the publishing time; a subscriber's delivery rate
/// divides by the publishing time or, when its last message came later (backlog drained
/// after the publishers stopped), by the time until that message.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// The parameters of the run.
    pub config: BenchConfig,
    /// How long the publishers actually published.
    pub publishing: Duration,
    /// How long the drain after publishing took.
    pub drain: Duration,
    /// Why it ended.
    pub drain_end: DrainEnd,
    /// Per publisher.
    pub publishers: Vec<PublisherReport>,
    /// Per subscriber.
    pub subscribers: Vec<SubscriberReport>,
    /// Latency over all subscribers.
    pub latency: LatencySummary,
    /// Distinct messages delivered per second over all subscribers.
    pub delivered_per_sec: f64,
}

impl BenchResult {
    /// Messages sent by all publishers.
    pub fn sent(&self) -> u64 {
        self.publishers.iter().map(|p| p.sent).sum()
    }

    /// Messages lost over all subscribers.
    pub fn lost(&self) -> u64 {
        self.subscribers.iter().map(|s| s.lost).sum()
    }

    /// Reordered messages over all subscribers.
    pub fn reordered(&self) -> u64 {
        self.subscribers.iter().map(|s| s.reordered).sum()
    }

    /// Duplicates over all subscribers.
    pub fn duplicates(&self) -> u64 {
        self.subscribers.iter().map(|s| s.duplicates).sum()
    }

    /// Messages sent per second.
    pub fn sent_per_sec(&self) -> f64 {
        per_sec(self.sent(), self.publishing)
    }

    /// The machine-readable result (schema [`JSON_SCHEMA`]).
    pub fn to_json(&self) -> Value {
        let c = &self.config;
        let sum = |f: fn(&SubscriberReport) -> u64| self.subscribers.iter().map(f).sum::<u64>();
        json!({
            "schema": JSON_SCHEMA,
            "parameters": {
                "broker": c.broker.to_string(),
                "protocol": c.protocol.label(),
                "publishers": c.publishers,
                "subscribers": c.subscribers,
                "qos": c.qos.as_u8(),
                "payload_bytes": c.payload,
                "duration_secs": c.duration.as_secs_f64(),
                "rate_per_publisher": c.rate,
                "topic_prefix": c.topic,
                "window": c.window,
                "drain_secs": c.drain.as_secs_f64(),
                "drain_max_secs": c.drain_max.as_secs_f64(),
                "shared_runtime": c.shared_runtime,
            },
            "publishing_secs": round3(self.publishing.as_secs_f64()),
            "drain_secs": round3(self.drain.as_secs_f64()),
            "drain_end": self.drain_end.label(),
            "sent": self.sent(),
            "sent_per_sec": round1(self.sent_per_sec()),
            "publishers": self.publishers.iter().map(|p| json!({
                "index": p.index,
                "sent": p.sent,
                "acknowledged": p.acknowledged,
                "refused": p.refused,
                "unexpected_acks": p.unexpected_acks,
                "window": p.window,
            })).collect::<Vec<_>>(),
            "subscribers": self.subscribers.iter().map(|s| json!({
                "index": s.index,
                "granted_qos": s.granted_qos,
                "expected": s.expected,
                "received": s.received,
                "unique": s.unique,
                "lost": s.lost,
                "duplicates": s.duplicates,
                "reordered": s.reordered,
                "malformed": s.malformed,
                "msgs_per_sec": round1(s.msgs_per_sec),
                "latency_us": s.latency.to_json(),
            })).collect::<Vec<_>>(),
            "total": {
                "expected": sum(|s| s.expected),
                "received": sum(|s| s.received),
                "unique": sum(|s| s.unique),
                "lost": self.lost(),
                "duplicates": self.duplicates(),
                "reordered": self.reordered(),
                "malformed": sum(|s| s.malformed),
                "delivered_per_sec": round1(self.delivered_per_sec),
                "latency_us": self.latency.to_json(),
            },
        })
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let c = &self.config;
        let mut s = String::new();
        let rate = match c.rate {
            Some(r) => format!("{r} msg/s per publisher"),
            None => "max".to_owned(),
        };
        let window = self.publishers.first().map(|p| p.window).unwrap_or(0);
        let _ = writeln!(
            s,
            "mqttspec bench  broker {}  MQTT {}  QoS {}  {} publisher(s) -> {} subscriber(s)",
            c.broker,
            c.protocol,
            c.qos.as_u8(),
            c.publishers,
            c.subscribers
        );
        let _ = writeln!(
            s,
            "payload {} B  duration {:.1} s  rate {}  window {}  topic {}/+",
            c.payload,
            c.duration.as_secs_f64(),
            rate,
            window,
            c.topic
        );
        let refused: u64 = self.publishers.iter().map(|p| p.refused).sum();
        let acked: u64 = self.publishers.iter().map(|p| p.acknowledged).sum();
        let _ = writeln!(
            s,
            "sent {} in {:.2} s ({:.0} msg/s), acknowledged {}, refused {}; drain {:.2} s ({})",
            self.sent(),
            self.publishing.as_secs_f64(),
            self.sent_per_sec(),
            acked,
            refused,
            self.drain.as_secs_f64(),
            self.drain_end.label()
        );
        if self.drain_end == DrainEnd::Cap {
            let _ = writeln!(
                s,
                "note: messages were still arriving when the drain limit came; \
                 'lost' includes messages that were only late"
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<10} {:>10} {:>10} {:>10} {:>6} {:>9} {:>9} {:>12}",
            "subscriber", "expected", "received", "lost", "dup", "reordered", "malformed", "msg/s"
        );
        for r in &self.subscribers {
            let _ = writeln!(
                s,
                "{:<10} {:>10} {:>10} {:>10} {:>6} {:>9} {:>9} {:>12.0}",
                r.index,
                r.expected,
                r.unique,
                r.lost,
                r.duplicates,
                r.reordered,
                r.malformed,
                r.msgs_per_sec
            );
        }
        let _ = writeln!(
            s,
            "{:<10} {:>10} {:>10} {:>10} {:>6} {:>9} {:>9} {:>12.0}",
            "total",
            self.subscribers.iter().map(|r| r.expected).sum::<u64>(),
            self.subscribers.iter().map(|r| r.unique).sum::<u64>(),
            self.lost(),
            self.duplicates(),
            self.reordered(),
            self.subscribers.iter().map(|r| r.malformed).sum::<u64>(),
            self.delivered_per_sec
        );
        let l = self.latency;
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "latency (us)  {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "p50", "p90", "p99", "p99.9", "max", "mean"
        );
        let _ = writeln!(
            s,
            "              {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            l.p50_us, l.p90_us, l.p99_us, l.p99_9_us, l.max_us, l.mean_us
        );
        s
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `n` per second over `d` (0 for an empty interval).
pub(crate) fn per_sec(n: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(publisher: u32, sequence: u64, sent_ns: u64) -> Vec<u8> {
        let mut p = Stamp {
            publisher,
            sequence,
            sent_ns,
        }
        .to_bytes()
        .to_vec();
        p.resize(32, 0);
        p
    }

    fn sent(counts: &[u64]) -> Vec<AtomicU64> {
        counts.iter().map(|&c| AtomicU64::new(c)).collect()
    }

    #[test]
    fn tracker_counts_duplicates_and_reordering_per_publisher() {
        let sent = sent(&[10, 10]);
        let mut t = Tracker::new(2);
        for (p, seq) in [(0, 0), (0, 1), (1, 0), (0, 3), (0, 2), (0, 3), (1, 1)] {
            t.record(&payload(p, seq, 0), 32, 1_000, &sent);
        }
        assert_eq!(t.received, 7);
        assert_eq!(t.unique, 6);
        assert_eq!(t.duplicates, 1, "publisher 0 sequence 3 twice");
        assert_eq!(t.reordered, 1, "publisher 0 sequence 2 after 3");
        assert_eq!(t.malformed, 0);
    }

    #[test]
    fn tracker_refuses_stamps_nobody_sent() {
        let sent = sent(&[2]);
        let mut t = Tracker::new(1);
        assert!(!t.record(&payload(0, 2, 0), 32, 5, &sent), "not sent yet");
        assert!(
            !t.record(&payload(1, 0, 0), 32, 5, &sent),
            "no such publisher"
        );
        assert!(
            !t.record(&payload(0, 0, 0)[..20], 32, 5, &sent),
            "wrong size"
        );
        assert!(!t.record(b"short", 32, 5, &sent), "no stamp");
        assert!(t.record(&payload(0, 1, 0), 32, 5, &sent));
        assert_eq!((t.malformed, t.unique), (4, 1));
    }

    #[test]
    fn tracker_measures_latency_from_the_stamp() {
        let sent = sent(&[3]);
        let mut t = Tracker::new(1);
        t.record(&payload(0, 0, 1_000), 32, 2_000, &sent);
        t.record(&payload(0, 1, 1_000), 32, 501_000, &sent);
        let l = LatencySummary::of(&t.latency);
        assert_eq!(l.count, 2);
        assert!((l.p50_us - 1.0).abs() < 0.01, "{l:?}");
        assert!((l.max_us - 500.0).abs() < 1.0, "{l:?}");
        assert_eq!(t.last_receive_ns, 501_000);
    }
}
