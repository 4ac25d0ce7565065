//! The wire transcript of a case: every byte sent and received by every client of the case,
//! with a timestamp relative to the start of the case, in the order it happened.
//!
//! One [`Transcript`] is shared by all clients of a case run (and by the runner, which reads
//! it even when the case was cut off by its time limit), so it sits behind a mutex.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// At most this many bytes of one entry are kept as hex (the summary still describes it all).
pub const MAX_HEX_BYTES: usize = 4096;

/// At most this many entries are kept per case; later ones are counted, not stored.
pub const MAX_ENTRIES: usize = 2000;

/// Which way the bytes went, seen from the test client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Test client to broker.
    Out,
    /// Broker to test client.
    In,
    /// Not bytes: a connection event or a wait that ended without a packet.
    Event,
}

impl Direction {
    /// An arrow for text renderings: `->`, `<-` or `..`.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Out => "->",
            Direction::In => "<-",
            Direction::Event => "..",
        }
    }
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Microseconds since the start of the case.
    pub at_us: u64,
    /// The case-local name of the client (`t.client("pub")` is "pub").
    pub client: String,
    /// Which way.
    pub direction: Direction,
    /// The bytes in hex (at most [`MAX_HEX_BYTES`] of them, then `...`); empty for events.
    pub hex: String,
    /// What the bytes are, decoded (or why they could not be decoded), or the event.
    pub summary: String,
}

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<Entry>,
    dropped: usize,
}

/// The shared, append-only transcript of one case run.
#[derive(Debug, Clone)]
pub struct Transcript {
    start: Instant,
    inner: Arc<Mutex<Inner>>,
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

impl Transcript {
    /// An empty transcript whose timestamps count from `start`.
    pub fn new(start: Instant) -> Self {
        Transcript {
            start,
            inner: Arc::new(Mutex::new(Inner::default())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking writer cannot leave an entry half-written, so a poisoned lock is fine.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records bytes (or an event, with empty `bytes`).
    pub fn record(&self, client: &str, direction: Direction, bytes: &[u8], summary: String) {
        let at_us = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut hex = hex::encode(bytes.get(..MAX_HEX_BYTES).unwrap_or(bytes));
        if bytes.len() > MAX_HEX_BYTES {
            hex.push_str("...");
        }
        let mut inner = self.lock();
        if inner.entries.len() >= MAX_ENTRIES {
            inner.dropped += 1;
            return;
        }
        inner.entries.push(Entry {
            at_us,
            client: client.to_owned(),
            direction,
            hex,
            summary,
        });
    }

    /// Records an event (a connection opened or closed, a wait that ended without a packet).
    pub fn event(&self, client: &str, summary: impl Into<String>) {
        self.record(client, Direction::Event, &[], summary.into());
    }

    /// A copy of the entries so far (with a final note if some were dropped).
    pub fn entries(&self) -> Vec<Entry> {
        let inner = self.lock();
        let mut out = inner.entries.clone();
        if inner.dropped > 0 {
            out.push(Entry {
                at_us: out.last().map_or(0, |e| e.at_us),
                client: String::new(),
                direction: Direction::Event,
                hex: String::new(),
                summary: format!("{} more entries not recorded", inner.dropped),
            });
        }
        out
    }

    /// The transcript as text, one entry per line (for terminals and JUnit output).
    pub fn to_text(&self) -> String {
        render_text(&self.entries())
    }
}

/// Renders entries as text: `+12.345ms  pub  ->  CONNECT ...  [10 0c ...]`.
pub fn render_text(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        let ms = e.at_us as f64 / 1000.0;
        out.push_str(&format!(
            "+{ms:>9.3}ms  {:<8} {}  {}",
            e.client,
            e.direction.arrow(),
            e.summary
        ));
        if !e.hex.is_empty() {
            out.push_str("  [");
            out.push_str(&e.hex);
            out.push(']');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_payloads_are_cut_and_marked() {
        let t = Transcript::default();
        t.record("a", Direction::Out, &[0u8; MAX_HEX_BYTES + 1], "x".into());
        let e = t.entries();
        assert_eq!(e.len(), 1);
        assert!(e[0].hex.ends_with("..."));
        assert_eq!(e[0].hex.len(), MAX_HEX_BYTES * 2 + 3);
    }

    #[test]
    fn entries_past_the_limit_are_counted() {
        let t = Transcript::default();
        for _ in 0..MAX_ENTRIES + 5 {
            t.event("a", "e");
        }
        let e = t.entries();
        assert_eq!(e.len(), MAX_ENTRIES + 1);
        assert_eq!(e[MAX_ENTRIES].summary, "5 more entries not recorded");
    }

    #[test]
    fn text_rendering_shows_direction_and_hex() {
        let t = Transcript::default();
        t.record("pub", Direction::In, &[0xd0, 0x00], "PINGRESP".into());
        let text = t.to_text();
        assert!(text.contains("pub"), "{text}");
        assert!(text.contains("<-  PINGRESP  [d000]"), "{text}");
    }
}
