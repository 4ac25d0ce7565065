//! Keep Alive timing: the Keep Alive in force for a connection, how long a broker may take
//! to close a silent one, and how it may end it.

use std::time::Duration;

use mqttspec_codec::ReasonCode;

use mqttspec_harness::scenario::{millis, Client, Reply};

/// How long after the last packet a broker may take to close a connection silent under
/// `keep_alive` seconds: 1.5 × Keep Alive plus 1 s, for brokers that check keep alive on a
/// one-second clock.
pub(crate) fn close_within(keep_alive: u16) -> Duration {
    millis(1500 * u64::from(keep_alive) + 1000)
}

/// The Keep Alive in force for a connection that asked for `asked`: the Server Keep Alive of
/// a 5.0 CONNACK if there is one.
pub(crate) fn keep_alive_in_force(c: &Client, asked: u16) -> u16 {
    c.connack()
        .and_then(|a| a.properties.server_keep_alive)
        .unwrap_or(asked)
}

/// Replies that end a connection for keep alive: DISCONNECT 0x8D (5.0) or the close.
pub(crate) const TIMED_OUT: &[Reply] = &[
    Reply::Disconnect(ReasonCode::KeepAliveTimeout),
    Reply::Closed,
];
