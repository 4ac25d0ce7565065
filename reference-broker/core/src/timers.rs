//! The core's timers: one deadline per [`TimerKey`], ordered so the earliest is found at once.
//!
//! Setting a key again moves its deadline; cancelling removes it. The caller learns the next
//! deadline from [`Timers::next`] (it becomes `Broker::poll_timeout`) and takes the due keys
//! with [`Timers::pop_due`]. Nothing here knows what a key means.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::ConnectionId;

/// What a deadline is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerKey {
    /// No CONNECT (or no end of enhanced authentication) yet on this connection.
    ConnectTimeout(ConnectionId),
    /// 1.5 times the Keep Alive since the last packet from this connection.
    KeepAlive(ConnectionId),
    /// This connection has been held back by backpressure for too long.
    Backpressure(ConnectionId),
    /// The Will Delay Interval of this (disconnected) session's Will Message ends.
    WillDelay(Arc<str>),
    /// This (disconnected) session expires.
    SessionExpiry(Arc<str>),
}

/// Deadlines by key, and keys by deadline.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    by_key: BTreeMap<TimerKey, Duration>,
    by_deadline: BTreeSet<(Duration, TimerKey)>,
}

impl Timers {
    /// Sets (or moves) the deadline of `key`.
    pub(crate) fn set(&mut self, key: TimerKey, deadline: Duration) {
        if let Some(old) = self.by_key.insert(key.clone(), deadline) {
            self.by_deadline.remove(&(old, key.clone()));
        }
        self.by_deadline.insert((deadline, key));
    }

    /// Removes the deadline of `key`, if it has one.
    pub(crate) fn cancel(&mut self, key: &TimerKey) {
        if let Some(old) = self.by_key.remove(key) {
            self.by_deadline.remove(&(old, key.clone()));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Duration> {
        self.by_deadline.first().map(|(d, _)| *d)
    }

    /// Removes and returns the earliest key whose deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<TimerKey> {
        let (deadline, _) = self.by_deadline.first()?;
        if *deadline > now {
            return None;
        }
        let (_, key) = self.by_deadline.pop_first()?;
        self.by_key.remove(&key);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_earliest_deadline_comes_first_and_moving_a_key_replaces_it() {
        let mut t = Timers::default();
        let a = TimerKey::KeepAlive(ConnectionId(1));
        let b = TimerKey::KeepAlive(ConnectionId(2));
        t.set(a.clone(), secs(10));
        t.set(b.clone(), secs(5));
        assert_eq!(t.next(), Some(secs(5)));
        t.set(b.clone(), secs(20));
        assert_eq!(t.next(), Some(secs(10)));
        assert_eq!(t.pop_due(secs(9)), None);
        assert_eq!(t.pop_due(secs(10)), Some(a));
        t.cancel(&b);
        assert_eq!(t.next(), None);
    }
}
