//! The sans-IO broker core: all protocol state and every decision. It is fed events with the
//! current time and yields [`Action`]s; it never touches a socket or a clock.
//!
//! Time is a [`Duration`] since an arbitrary origin chosen by the caller (the shell uses the
//! time since start; tests use a simulated clock), so everything is deterministic.

use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{Packet, ProtocolVersion, ReasonCode, StatementId};

use crate::config::Config;

/// Identifies one network connection (assigned by the caller, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// What the core asks the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// Write these bytes (one encoded packet) to the connection.
    Send {
        /// The connection.
        conn: ConnectionId,
        /// The packet, for logging and tests.
        packet: Packet,
        /// Its encoding for the connection's protocol version.
        bytes: Bytes,
    },
    /// Close the connection (after writing everything sent before).
    Close {
        /// The connection.
        conn: ConnectionId,
        /// Why (for logs and tests).
        reason: CloseReason,
    },
    /// Stop reading from this connection until [`Broker::resume_reading`] is asked for by an
    /// [`Action::ResumeReading`] (backpressure).
    PauseReading {
        /// The connection.
        conn: ConnectionId,
    },
    /// Reading from this connection may continue.
    ResumeReading {
        /// The connection.
        conn: ConnectionId,
    },
}

/// Why the core closed a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent DISCONNECT.
    ClientDisconnect,
    /// A protocol violation or malformed packet (with the v5 reason code sent, if any).
    ProtocolViolation {
        /// The reason code (sent in DISCONNECT/CONNACK for v5).
        reason_code: ReasonCode,
        /// What happened.
        detail: String,
    },
    /// The connection was refused in CONNACK.
    ConnectRefused(ReasonCode),
    /// Keep alive expired (1.5 times the Keep Alive without a packet).
    KeepAliveTimeout,
    /// Another connection took over the session.
    SessionTakenOver,
    /// The broker is shutting down.
    ServerShuttingDown,
}

/// The broker core. See the module docs.
#[derive(Debug)]
pub struct Broker {
    config: Config,
}

impl Broker {
    /// A broker with these settings.
    pub fn new(config: Config) -> Self {
        Broker { config }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new network connection was accepted.
    pub fn connection_opened(&mut self, _conn: ConnectionId, _now: Duration) {}

    /// Bytes arrived on a connection. The core frames and decodes them itself (so it can
    /// answer malformed input, Maximum Packet Size and the protocol version of CONNECT).
    pub fn bytes_received(&mut self, _conn: ConnectionId, _bytes: &[u8], _now: Duration) {}

    /// The connection was closed by the peer or failed (not after an [`Action::Close`]).
    pub fn connection_closed(&mut self, _conn: ConnectionId, _now: Duration) {}

    /// The caller has written out everything sent so far on `conn` (used for flow control).
    pub fn connection_flushed(&mut self, _conn: ConnectionId, _now: Duration) {}

    /// Time passed; run timers due at or before `now`.
    pub fn handle_timeout(&mut self, _now: Duration) {}

    /// Begin a clean shutdown: DISCONNECT 0x8B (v5) to everyone, then close.
    pub fn shutdown(&mut self, _now: Duration) {}

    /// The next action to carry out, if any. Call until `None` after every event.
    pub fn poll_action(&mut self) -> Option<Action> {
        None
    }

    /// When [`Broker::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Duration> {
        None
    }

    /// The normative statements the core has enforced so far (traceability).
    pub fn enforced_statements(&self) -> Vec<StatementId> {
        Vec::new()
    }

    /// The protocol version of a connection, once its CONNECT was accepted.
    pub fn protocol_version(&self, _conn: ConnectionId) -> Option<ProtocolVersion> {
        None
    }
}
