//! Keep Alive: a connected client that sends nothing for one and a half times its Keep Alive
//! (or the Server Keep Alive the broker assigned, MQTT 5.0) is disconnected as if the network
//! had failed, so its Will Message is published (MQTT-3.1.2-22 in 5.0, MQTT-3.1.2-24 in
//! 3.1.1). MQTT 5.0 clients get DISCONNECT 0x8D (Keep Alive timeout) first. A Keep Alive of
//! 0 turns the mechanism off. While reading from a connection is paused (backpressure) the
//! client cannot be heard, so its Keep Alive is suspended until reading resumes.

use std::time::Duration;

use mqttspec_codec::{ReasonCode, StatementId as S};

use super::fault::Fault;
use super::timers::TimerKey;
use super::{Broker, CloseReason, ConnectionId};

/// The time without packets after which a connection with this Keep Alive is closed.
pub(super) fn grace(keep_alive_secs: u16) -> Option<Duration> {
    (keep_alive_secs > 0).then(|| Duration::from_millis(u64::from(keep_alive_secs) * 1500))
}

impl Broker {
    /// A complete packet arrived: restart the Keep Alive timer.
    pub(super) fn packet_received(&mut self, id: ConnectionId) {
        let Some(conn) = self.connections.get(&id) else {
            return;
        };
        if !conn.is_connected() || conn.paused {
            return;
        }
        if let Some(grace) = conn.keep_alive {
            if !self.fault(Fault::NoKeepaliveTimeout) {
                self.timers
                    .set(TimerKey::KeepAlive(id), self.now.saturating_add(grace));
            }
        }
    }

    /// Stops the Keep Alive timer (reading paused).
    pub(super) fn suspend_keep_alive(&mut self, id: ConnectionId) {
        self.timers.cancel(&TimerKey::KeepAlive(id));
    }

    /// The Keep Alive timer ran out.
    pub(super) fn keep_alive_expired(&mut self, id: ConnectionId) {
        let Some(conn) = self.connections.get(&id) else {
            return;
        };
        if !conn.is_connected() || conn.paused {
            return;
        }
        let v = conn.version_or_v5();
        self.record(v, &[S::V5_3_1_2_22], &[S::V311_3_1_2_24]);
        self.close_with(
            id,
            ReasonCode::KeepAliveTimeout,
            "keep alive timeout",
            CloseReason::KeepAliveTimeout,
            true,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_is_one_and_a_half_keep_alives_and_zero_turns_it_off() {
        assert_eq!(grace(0), None);
        assert_eq!(grace(10), Some(Duration::from_secs(15)));
        assert_eq!(grace(1), Some(Duration::from_millis(1500)));
    }
}
