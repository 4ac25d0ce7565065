//! # mqttspec-broker-core
//!
//! The sans-IO core of the mqttspec reference broker (the quinn-proto model): all protocol
//! state and every decision. It is fed events with the current time and yields [`Action`]s;
//! it never touches a socket, a clock or a random source, and it does not depend on tokio.
//! The tokio shell and the `reference-broker` binary live in the `mqttspec-reference-broker`
//! crate, which re-exports this one.
//!
//! Time is a [`Duration`] since an arbitrary origin chosen by the caller (the shell uses the
//! time since start; tests use a simulated clock), so everything is deterministic: no wall
//! clock, no randomness (assigned client identifiers, SCRAM salts and nonces derive from
//! [`Config::seed`], chosen by the caller, and counters), and every map the core iterates is
//! ordered.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `faults` | fault behaviour: without it the names of [`fault::Fault`] still parse, but configuring any fault is refused by [`Config::validate`] and [`Broker::try_new`] (and ignored, with a warning, by [`Broker::new`]) and every fault check is a constant `false` |
//! | `arbitrary` | packets built with `arbitrary` in the fuzz oracle ([`fuzzing`]) |
//!
//! Cargo unifies features within one build: a workspace-wide build (or any build together
//! with `mqttspec`, which enables `faults` for `run --fault`) has fault injection compiled in.
//! `cargo build -p mqttspec-reference-broker` builds the binary without it.
//!
//! # Driving it
//!
//! The caller reports events — [`Broker::connection_opened`], [`Broker::bytes_received`] (or
//! [`Broker::frames_received`]), [`Broker::connection_closed`], [`Broker::connection_flushed`], [`Broker::handle_timeout`],
//! [`Broker::shutdown`] — then drains [`Broker::poll_action`] until it returns `None` and
//! sleeps until [`Broker::poll_timeout`]. After an [`Action::Close`] the core has already
//! forgotten the connection: the caller must not report it closed again.
//!
//! The core frames the byte stream itself with the codec's `FrameDecoder` (one per
//! connection, limited by the server's Maximum Packet Size), learns the protocol version from
//! the start of CONNECT, and encodes every packet it sends for the connection's version. A
//! caller that already cuts its input into whole packets (the shell does, to save a copy)
//! hands them over with [`Broker::frames_received`]: the same result as `bytes_received`,
//! the packets decoded where they lie; whatever is not a clean whole packet still goes
//! through the core's own framing.
//!
//! # Layout
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | every setting, TOML-loadable, with documented defaults and validation |
//! | [`scram`] | SCRAM-SHA-256 for MQTT 5.0 enhanced authentication, server and client side |
//! | [`fuzzing`] | the broker-core fuzz oracle: event scripts with invariants checked |
//! | `connection` | per-connection state: input buffer, phase, client limits, aliases |
//! | `session` | Session State: queue, messages in flight, QoS 2 ids received, Will |
//! | `memory` | the memory budget: charges for messages, deliveries, Wills and sessions; making room; copies that own their bytes |
//! | `message` | accepted Application Messages and per-subscriber deliveries |
//! | `connect` | CONNECT validation, CONNACK, session takeover, Clean Start, resumption |
//! | `auth` | User Name/Password checks and enhanced authentication (SCRAM-SHA-256) |
//! | `publish` | inbound PUBLISH and the QoS 1/2 flows from the client |
//! | `delivery` | routing to subscribers, the per-session queues and the QoS flows to the client |
//! | `flow_control` | backpressure: holding publishers back while a subscriber's queue is full |
//! | `subscribe` | SUBSCRIBE / UNSUBSCRIBE, retained messages on subscribe |
//! | `will` | Will Messages: delay, interaction with session expiry, publication |
//! | `keep_alive` | Keep Alive enforcement |
//! | `close` | protocol violations and the end of connections and sessions |
//! | `outbound` | encoding, Maximum Packet Size and problem-information rules for what is sent |
//! | `topic_alias` | the inbound Topic Alias mapping |
//! | `outbound_alias` | Topic Aliases the broker assigns to its own PUBLISH packets ([`Config::assign_topic_aliases`], off by default) |
//! | `acl` | access rules |
//! | `timers` | deadlines ([`Broker::poll_timeout`]) |
//! | [`fault`] | named deliberate deviations for proving conformance cases can fail |
//! | `lenient_strings` | which string fault (`lenient-…-string`) overlooks a bad UTF-8 Encoded String (or a wildcard in a Response Topic) in which field |
//! | `strip_bom` | which U+FEFF fault (`strip-bom-from-…`) removes U+FEFF from which field of what a client sends |
//! | `wildcard_response_topic` | the fault that accepts and forwards a Response Topic with wildcards, working on the encoded bytes |
//! | [`topic`], [`subscriptions`], [`retained`] | topic matching, the subscription tree, the retained store |
//!
//! # Choices the specification leaves to the server
//!
//! - Overlapping subscriptions of one client: one message at the highest granted QoS with
//!   every matching Subscription Identifier (default), or one per subscription
//!   ([`Config::overlapping_deliver_each`]).
//! - QoS 0 messages for offline sessions are dropped unless [`Config::queue_qos0_offline`].
//! - Shared subscriptions: round robin among the members that are connected and have room,
//!   else among the others; a message is never redistributed once sent (MQTT-4.8.2-5/-6).
//! - Topic aliases are accepted from clients up to [`Config::topic_alias_maximum`]; they are
//!   sent to clients only with [`Config::assign_topic_aliases`] (within the client's Topic
//!   Alias Maximum, at most 64 per connection).
//! - Publishing to `$SYS...` topics is refused like an access-rule denial unless
//!   [`Config::allow_publish_to_sys`]; other `$` topics are ordinary.
//! - Access-rule denial of a PUBLISH: MQTT 5.0 PUBACK/PUBREC 0x87; MQTT 3.1.1 acknowledges
//!   and drops the message (MQTT-3.3.5-2 of 3.1.1 allows either that or closing).
//! - MQTT 3.1.1 has no way to announce Maximum QoS or Retain Available: a 3.1.1 PUBLISH above
//!   the Maximum QoS is acknowledged at its own QoS and forwarded at the Maximum QoS; with
//!   retain unavailable it is forwarded and not stored.
//! - Server Keep Alive is only applied to MQTT 5.0 clients (3.1.1 cannot be told about it).
//! - A server shutdown does not publish Will Messages (the spec allows deferring them).
//!
//! # Memory bounds
//!
//! Everything the network can make the core hold is bounded by a setting:
//!
//! - input per connection: one partial packet, at most the server's Maximum Packet Size
//!   ([`Config::maximum_packet_size`]), checked from the fixed header before the body is
//!   buffered (a 256 MB claimed Remaining Length is refused at once). While reading is paused
//!   the caller may still deliver what it had already read; that is kept (one read chunk in
//!   the shell) and processed on resume, up to twice the Maximum Packet Size plus 1 MiB,
//!   beyond which the connection is closed.
//! - messages queued per session: [`Config::max_queued_messages`];
//! - messages in flight per session: the client's Receive Maximum capped by
//!   [`Config::max_inflight_messages`];
//! - QoS 2 packet ids awaiting PUBREL and held publications per connection: the server's
//!   Receive Maximum ([`Config::receive_maximum`]; a MQTT 5.0 client exceeding it is
//!   disconnected with 0x93, a 3.1.1 client is paused);
//! - retained messages: [`Config::max_retained_messages`];
//! - sessions, connected or not: [`Config::max_sessions`] (the longest-disconnected one is
//!   discarded for a new one; found by the network fuzzer's memory samples, where 3.1.1
//!   persistent sessions, which never expire, piled up);
//! - subscriptions per session: [`Config::max_subscriptions_per_session`];
//! - topic levels per Topic Name / Filter: [`Config::max_topic_levels`] (a server limit:
//!   MQTT 5.0 DISCONNECT 0x90 / SUBACK 0x8F, MQTT 3.1.1 close / SUBACK 0x80);
//! - inbound Topic Aliases: [`Config::topic_alias_maximum`]; outbound ones: 64 per
//!   connection;
//! - bytes sent and not yet flushed by the caller: [`Config::max_unflushed_bytes`] (PUBLISH
//!   only; acknowledgements are never held back, MQTT-3.3.4-10).
//!
//! - bytes of stored state, across all of the above: [`Config::memory_budget_bytes`]
//!   (default 128 MiB; see the `memory` module). Lasting state (sessions, Wills,
//!   subscriptions, retained messages) may fill three quarters of it; when it does not fit,
//!   the sessions disconnected longest are discarded, then new sessions, subscriptions and
//!   retained messages are refused (MQTT 5.0: 0x97 Quota exceeded), and copies for
//!   subscribers are treated like a full queue. Everything kept beyond its packet owns its
//!   bytes (copied out of the read buffer), so what is counted is what is held.
//!
//! Every string and payload is bounded by the packet that carried it.
//!
//! # Backpressure
//!
//! The core never drops a QoS 1/2 message it has acknowledged, and it acknowledges a message
//! only once it sits in the queue of every matching subscriber. When a QoS 1/2 PUBLISH arrives
//! and some (connected) subscriber's queue is full, the message is *held*: it stays with the
//! publisher's connection, unforwarded and unacknowledged, and so do the QoS 1/2 PUBLISH
//! packets after it (to keep their order); QoS 0 messages go on (they may be dropped for a full
//! queue). Held messages count against the server's Receive Maximum, so a MQTT 5.0 client stops
//! by itself; once a 3.1.1 client has that many held, the core asks the caller to stop reading
//! ([`Action::PauseReading`]) and keeps what was already read. Whenever a queue shrinks (an
//! acknowledgement, a flush, a session end) the held messages are retried in order; when a
//! connection has none left it is resumed ([`Action::ResumeReading`]) and its buffered input is
//! processed. A connection held longer than [`Config::backpressure_timeout_secs`] is closed
//! (MQTT 5.0: DISCONNECT 0x97), which the specification allows for a server that cannot
//! process a packet; this also breaks cycles of publishers waiting on each other. A full
//! *offline* session drops new messages unless [`Config::hold_publishers_for_offline_sessions`].

pub mod config;
pub mod fault;
pub mod fuzzing;
pub mod retained;
pub mod scram;
pub mod subscriptions;
pub mod topic;

mod acl;
mod auth;
mod close;
mod connect;
mod connection;
mod delivery;
mod flow_control;
mod keep_alive;
mod lenient_strings;
mod memory;
mod message;
mod outbound;
mod outbound_alias;
mod path;
mod publish;
mod session;
mod strip_bom;
mod subscribe;
mod timers;
mod topic_alias;
mod wildcard_response_topic;
mod will;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::frame::Frame;
use mqttspec_codec::packet::FixedHeader;
use mqttspec_codec::{DecodeError, Packet, ProtocolVersion, ReasonCode, StatementId};

pub use config::{Config, InvalidConfig};
pub use mqttspec_codec as codec;

use connection::{Connection, Phase};
use fault::{Fault, Faults};
use retained::RetainedStore;
use session::Session;
use subscriptions::SubscriptionTree;
use timers::{TimerKey, Timers};

/// How far [`Broker::take_frames`] got with a piece of input.
#[derive(Debug)]
enum Taken {
    /// Every packet in it was handled.
    All,
    /// The connection is gone; the rest is dropped, as `bytes_received` would.
    Gone,
    /// What is left must go through the input buffer.
    Rest,
    /// The packet at the front did not decode (the piece has moved past it).
    Malformed(DecodeError),
}

/// Identifies one network connection (assigned by the caller, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// What the core asks the caller to do.
// `Send` is by far the most frequent variant, so boxing its packet would only add an
// allocation per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Close the connection (after writing everything sent before). The core has already
    /// forgotten it; do not report it closed.
    Close {
        /// The connection.
        conn: ConnectionId,
        /// Why (for logs and tests).
        reason: CloseReason,
    },
    /// Stop reading from this connection (backpressure) until [`Action::ResumeReading`].
    /// Bytes already read may still be passed to [`Broker::bytes_received`].
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
    /// No CONNECT (or no end of enhanced authentication) within the connect timeout.
    ConnectTimeout,
    /// The connection stayed held back by backpressure too long.
    Overloaded,
    /// A re-authentication failed (MQTT 5.0).
    ReauthenticationFailed(ReasonCode),
}

/// The broker core. See the crate docs.
#[derive(Debug)]
pub struct Broker {
    config: Config,
    faults: Faults,
    connections: BTreeMap<ConnectionId, Connection>,
    sessions: BTreeMap<Arc<str>, Session>,
    subscriptions: SubscriptionTree,
    retained: RetainedStore,
    timers: Timers,
    actions: VecDeque<Action>,
    enforced: BTreeSet<StatementId>,
    /// Round-robin position per shared subscription (full `$share/...` filter).
    shared_cursors: BTreeMap<String, usize>,
    /// Counter for assigned Client Identifiers.
    assigned_ids: u64,
    /// The time of the event being handled.
    now: Duration,
    /// Some session queue got shorter: held publications may move on.
    queues_drained: bool,
    /// `shutdown` was called: everything is refused from now on.
    shut_down: bool,
    /// Set by the `hang-on-reserved-type` fault: every input is ignored from then on.
    hung: bool,
    /// Connections holding inbound messages back (backpressure).
    held_connections: BTreeSet<ConnectionId>,
    /// The SCRAM-SHA-256 server, built on first use.
    scram: Option<crate::scram::ScramServer>,
    /// The bytes of messages, deliveries, Wills and sessions (see `memory`).
    meter: memory::Meter,
    /// `make_room` is discarding sessions (see there).
    making_room: bool,
}

impl Broker {
    /// A broker with these settings. Unknown fault names, and every fault in a build without
    /// the `faults` feature, are ignored (with a warning); use [`Broker::try_new`] to have them
    /// refused.
    pub fn new(mut config: Config) -> Self {
        // Values the protocol cannot express are brought into range (`try_new` refuses them).
        config.maximum_qos = config.maximum_qos.min(2);
        config.receive_maximum = config.receive_maximum.max(1);
        config.max_inflight_messages = config.max_inflight_messages.max(1);
        config.maximum_packet_size = config.maximum_packet_size.max(2);
        let faults = match Faults::parse(&config.faults) {
            Ok(f) if f.is_empty() => f,
            Ok(_) if !fault::COMPILED_IN => {
                tracing::warn!(faults = ?config.faults, "this build has no fault injection (build with feature `faults`); ignoring the configured faults");
                Faults::default()
            }
            Ok(f) => {
                tracing::warn!(faults = ?config.faults, "fault injection is on: the broker deviates from the specification");
                f
            }
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the configured faults");
                Faults::default()
            }
        };
        Broker {
            retained: RetainedStore::new(config.max_retained_messages),
            config,
            faults,
            connections: BTreeMap::new(),
            sessions: BTreeMap::new(),
            subscriptions: SubscriptionTree::new(),
            timers: Timers::default(),
            actions: VecDeque::new(),
            enforced: BTreeSet::new(),
            shared_cursors: BTreeMap::new(),
            assigned_ids: 0,
            now: Duration::ZERO,
            queues_drained: false,
            shut_down: false,
            hung: false,
            held_connections: BTreeSet::new(),
            scram: None,
            meter: memory::Meter::default(),
            making_room: false,
        }
    }

    /// A broker with these settings, after [`Config::validate`] (unknown fault names, faults
    /// in a build without the `faults` feature, out-of-range values are errors).
    pub fn try_new(config: Config) -> Result<Self, InvalidConfig> {
        config.validate()?;
        Ok(Self::new(config))
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new network connection was accepted.
    pub fn connection_opened(&mut self, conn: ConnectionId, now: Duration) {
        if self.hung {
            return;
        }
        self.advance(now);
        if self.shut_down {
            self.push(Action::Close {
                conn,
                reason: CloseReason::ServerShuttingDown,
            });
            return;
        }
        if self.connections.contains_key(&conn) {
            // Identifiers are never reused; if one is, the old connection is gone.
            self.end_connection(conn, None, true);
        }
        self.connections.insert(conn, Connection::new());
        if self.config.connect_timeout_secs > 0 {
            let deadline = now.saturating_add(Duration::from_secs(u64::from(
                self.config.connect_timeout_secs,
            )));
            self.timers.set(TimerKey::ConnectTimeout(conn), deadline);
        }
        self.settle();
    }

    /// The transport authenticated the client of `conn` as `username` (the subject of a
    /// verified TLS client certificate). Its CONNECT is then accepted as that user without
    /// looking at the User Name and Password it carries; enhanced authentication (MQTT 5.0
    /// Authentication Method) still runs as usual. Call it right after
    /// [`Broker::connection_opened`].
    pub fn set_certificate_user(&mut self, conn: ConnectionId, username: String) {
        if let Some(c) = self.connections.get_mut(&conn) {
            c.certificate_user = Some(username);
        }
    }

    /// Bytes arrived on a connection. The core frames and decodes them itself (so it can
    /// answer malformed input, Maximum Packet Size and the protocol version of CONNECT).
    pub fn bytes_received(&mut self, conn: ConnectionId, bytes: &[u8], now: Duration) {
        if self.hung {
            return;
        }
        self.advance(now);
        let Some(c) = self.connections.get_mut(&conn) else {
            return;
        };
        c.input.extend_from_slice(bytes);
        if c.paused && c.input.len() > self.paused_input_limit() {
            // The caller kept delivering input after PauseReading: refuse to buffer more.
            self.close_with(
                conn,
                ReasonCode::QuotaExceeded,
                "too much input while reading is paused",
                CloseReason::Overloaded,
                true,
            );
        } else {
            self.process_input(conn);
        }
        self.settle();
    }

    /// Bytes arrived on a connection, cut by the caller into pieces that are ideally whole
    /// packets (frames: fixed header and body, as the shell's reader cuts them). The result is
    /// exactly that of [`Broker::bytes_received`] given the pieces concatenated; only the cost
    /// differs. A whole frame arriving while nothing is buffered for the connection is decoded
    /// where it lies, without first being copied into the connection's input buffer.
    /// Everything else goes through that buffer as with `bytes_received`, so it is answered
    /// the same way: part of a packet, a fixed header that is malformed or announces more
    /// than the Maximum Packet Size, input before CONNECT has told the protocol version,
    /// input while reading is paused, a reserved packet type.
    pub fn frames_received(
        &mut self,
        conn: ConnectionId,
        frames: impl IntoIterator<Item = Bytes>,
        now: Duration,
    ) {
        if self.hung {
            return;
        }
        self.advance(now);
        let Some(c) = self.connections.get(&conn) else {
            return;
        };
        let paused_at_start = c.paused;
        let mut frames = frames.into_iter();
        let mut any = false;
        loop {
            let Some(mut data) = frames.next() else {
                if !any {
                    // As `bytes_received` with no bytes: buffered input is looked at again.
                    self.buffer_input(conn, Bytes::new(), frames, paused_at_start);
                }
                break;
            };
            any = true;
            match self.take_frames(conn, &mut data) {
                Taken::All => {}
                Taken::Gone => break,
                Taken::Rest => {
                    self.buffer_input(conn, data, frames, paused_at_start);
                    break;
                }
                Taken::Malformed(e) => {
                    // `bytes_received` would hold the rest in the buffer when the error is
                    // handled (some faults look at it there).
                    if let Some(c) = self.connections.get_mut(&conn) {
                        c.input.extend_from_slice(&data);
                        frames.for_each(|f| c.input.extend_from_slice(&f));
                    }
                    self.decode_error(conn, &e);
                    break;
                }
            }
        }
        self.settle();
    }

    /// The connection was closed by the peer or failed (not after an [`Action::Close`]).
    pub fn connection_closed(&mut self, conn: ConnectionId, now: Duration) {
        if self.hung {
            return;
        }
        self.advance(now);
        if self.connections.contains_key(&conn) {
            // Closing without DISCONNECT 0x00: the Will Message is published
            // (MQTT-3.1.2-8 in 5.0, MQTT-3.1.2-8 in 3.1.1).
            self.end_connection(conn, None, true);
        }
        self.settle();
    }

    /// The caller has written out everything sent so far on `conn` (used for flow control).
    pub fn connection_flushed(&mut self, conn: ConnectionId, now: Duration) {
        if self.hung {
            return;
        }
        self.advance(now);
        let Some(c) = self.connections.get_mut(&conn) else {
            return;
        };
        c.unflushed = 0;
        if let Some(client) = c.client_id.clone() {
            if c.is_connected() {
                self.pump(&client);
            }
        }
        self.settle();
    }

    /// Time passed; run timers due at or before `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.hung {
            return;
        }
        self.advance(now);
        while let Some(key) = self.timers.pop_due(now) {
            self.fire(key);
            self.settle();
        }
        self.settle();
    }

    /// Begin a clean shutdown: DISCONNECT 0x8B (v5) to everyone, then close.
    pub fn shutdown(&mut self, now: Duration) {
        self.advance(now);
        self.shut_down = true;
        let ids: Vec<ConnectionId> = self.connections.keys().copied().collect();
        for id in ids {
            self.close_with(
                id,
                ReasonCode::ServerShuttingDown,
                "server shutting down",
                CloseReason::ServerShuttingDown,
                false,
            );
        }
    }

    /// The next action to carry out, if any. Call until `None` after every event.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Broker::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.hung {
            return None;
        }
        self.timers.next()
    }

    /// The normative statements the core has enforced so far (traceability), in the order
    /// of the specifications (3.1.1 first).
    pub fn enforced_statements(&self) -> Vec<StatementId> {
        self.enforced.iter().copied().collect()
    }

    /// The protocol version of a connection, once its CONNECT was accepted.
    pub fn protocol_version(&self, conn: ConnectionId) -> Option<ProtocolVersion> {
        self.connections
            .get(&conn)
            .filter(|c| c.is_connected())
            .and_then(|c| c.version)
    }

    /// The number of open connections the core knows.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Whether a session exists for this Client Identifier (connected or not).
    pub fn has_session(&self, client_id: &str) -> bool {
        self.sessions.contains_key(client_id)
    }

    /// The number of sessions (connected or not).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The number of messages waiting in a session's queue (not yet sent).
    pub fn queued_messages(&self, client_id: &str) -> Option<usize> {
        self.sessions.get(client_id).map(|s| s.queue.len())
    }

    /// The number of retained messages stored.
    pub fn retained_count(&self) -> usize {
        self.retained.len()
    }

    // ----- internals shared by the submodules -----

    /// How much unprocessed input a paused connection may accumulate: two of the largest
    /// packets plus 1 MiB (the caller may deliver what it had read before pausing).
    fn paused_input_limit(&self) -> usize {
        (self.config.maximum_packet_size as usize)
            .saturating_mul(2)
            .saturating_add(1 << 20)
    }

    fn advance(&mut self, now: Duration) {
        // Time never goes backwards inside the core, whatever the caller passes.
        if now > self.now {
            self.now = now;
        }
    }

    fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    /// Whether a fault is enabled.
    fn fault(&self, fault: Fault) -> bool {
        self.faults.has(fault)
    }

    /// Records that a normative statement was enforced, choosing the id of `v`'s spec.
    fn record(&mut self, v: ProtocolVersion, v5: &[StatementId], v311: &[StatementId]) {
        let ids = if v.is_v5() { v5 } else { v311 };
        self.enforced.extend(ids.iter().copied());
    }

    /// Records one statement (already specific to a version).
    fn record_id(&mut self, id: StatementId) {
        self.enforced.insert(id);
    }

    /// Runs a due timer.
    fn fire(&mut self, key: TimerKey) {
        match key {
            TimerKey::ConnectTimeout(conn) => self.connect_timed_out(conn),
            TimerKey::KeepAlive(conn) => self.keep_alive_expired(conn),
            TimerKey::Backpressure(conn) => self.backpressure_timed_out(conn),
            TimerKey::WillDelay(client) => self.will_delay_elapsed(&client),
            TimerKey::SessionExpiry(client) => self.session_expired(&client),
        }
    }

    /// After an event: let held publications move on while queues have drained.
    fn settle(&mut self) {
        let mut rounds = 0usize;
        while self.queues_drained && rounds < 1_000 {
            self.queues_drained = false;
            self.retry_held();
            rounds += 1;
        }
    }

    /// Frames and handles whatever complete packets the connection's input holds.
    fn process_input(&mut self, id: ConnectionId) {
        loop {
            let Some(conn) = self.connections.get_mut(&id) else {
                return;
            };
            if conn.paused {
                return;
            }
            // The input always starts at a packet boundary.
            if conn.input.first().is_some_and(|b| b >> 4 == 0)
                && self.faults.has(Fault::HangOnReservedType)
            {
                self.hung = true;
                return;
            }
            if conn.version.is_none() {
                match self.learn_version(id) {
                    Some(true) => {}
                    Some(false) | None => return,
                }
                continue;
            }
            let Some(conn) = self.connections.get_mut(&id) else {
                return;
            };
            let Some(decoder) = conn.decoder.as_mut() else {
                return;
            };
            let version = decoder.version();
            let frame = match decoder.next_frame(&mut conn.input) {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => {
                    self.decode_error(id, &e);
                    return;
                }
            };
            match self.decode_frame(&frame, version) {
                Ok(packet) => self.packet_decoded(id, packet),
                Err(e) => {
                    self.decode_error(id, &e);
                    return;
                }
            }
        }
    }

    /// The second half of [`Broker::frames_received`]: `data` and what is left of `rest` go
    /// into the connection's input buffer and are handled as [`Broker::bytes_received`]
    /// handles its bytes (`paused_at_start`: whether reading was paused when the bytes
    /// arrived, which is when `bytes_received` checks the paused-input limit).
    fn buffer_input(
        &mut self,
        id: ConnectionId,
        data: Bytes,
        rest: impl Iterator<Item = Bytes>,
        paused_at_start: bool,
    ) {
        let limit = self.paused_input_limit();
        let Some(c) = self.connections.get_mut(&id) else {
            return;
        };
        c.input.extend_from_slice(&data);
        rest.for_each(|f| c.input.extend_from_slice(&f));
        if paused_at_start && c.input.len() > limit {
            self.close_with(
                id,
                ReasonCode::QuotaExceeded,
                "too much input while reading is paused",
                CloseReason::Overloaded,
                true,
            );
        } else {
            self.process_input(id);
        }
    }

    /// Handles the whole packets at the front of `data` where they lie, as long as the
    /// connection could take them from an empty input buffer the same way (see
    /// [`Broker::frames_received`]); stops at the first thing that needs the buffer.
    fn take_frames(&mut self, id: ConnectionId, data: &mut Bytes) -> Taken {
        loop {
            if data.is_empty() {
                return Taken::All;
            }
            let Some(conn) = self.connections.get(&id) else {
                return Taken::Gone;
            };
            if conn.paused || !conn.input.is_empty() {
                return Taken::Rest;
            }
            let Some(decoder) = conn.decoder.as_ref() else {
                return Taken::Rest;
            };
            let version = decoder.version();
            // The same checks as `FrameDecoder::next_frame`; what fails them (a reserved
            // packet type, for the `hang-on-reserved-type` fault, too) goes the long way, so
            // it is answered exactly as `bytes_received` answers it.
            let header = match FixedHeader::parse(data, version) {
                Ok(Some(header)) => header,
                Ok(None) | Err(_) => return Taken::Rest,
            };
            let total = header.packet_len();
            if total as u64 > u64::from(decoder.max_packet_size()) || data.len() < total {
                return Taken::Rest;
            }
            let frame = Frame {
                header,
                bytes: data.split_to(total),
            };
            match self.decode_frame(&frame, version) {
                Ok(packet) => self.packet_decoded(id, packet),
                Err(e) => return Taken::Malformed(e),
            }
        }
    }

    /// Decodes a frame of the connection's protocol `version`. Under the fault
    /// `forward-wildcard-response-topic`, an MQTT 5.0 PUBLISH refused only for a wildcard in
    /// its Response Topic is decoded with the wildcards masked (`wildcard_response_topic`).
    fn decode_frame(&self, frame: &Frame, version: ProtocolVersion) -> Result<Packet, DecodeError> {
        let error = match frame.decode(version) {
            Ok(packet) => return Ok(packet),
            Err(e) => e,
        };
        let wildcard = matches!(
            error.violation,
            mqttspec_codec::Violation::WildcardInTopicName {
                field: "Response Topic"
            }
        );
        if !(wildcard && version.is_v5() && self.fault(Fault::ForwardWildcardResponseTopic)) {
            return Err(error);
        }
        let Some(bytes) = wildcard_response_topic::mask(&frame.bytes) else {
            return Err(error);
        };
        let masked = Frame {
            header: frame.header,
            bytes,
        };
        masked.decode(version).map_err(|_| error)
    }

    /// A packet came off the connection's byte stream.
    fn packet_decoded(&mut self, id: ConnectionId, mut packet: Packet) {
        if !self.fault(Fault::KeepAlivePingreqOnly) || matches!(packet, Packet::PingReq) {
            self.packet_received(id);
        }
        strip_bom::incoming(&self.faults, &mut packet);
        self.handle_packet(id, packet);
    }

    /// Dispatches one decoded packet according to the connection's phase.
    fn handle_packet(&mut self, id: ConnectionId, packet: Packet) {
        let Some(conn) = self.connections.get(&id) else {
            return;
        };
        let v = conn.version_or_v5();
        match &conn.phase {
            Phase::AwaitingConnect => match packet {
                Packet::Connect(connect) => self.handle_connect(id, connect),
                // `learn_version` only lets a CONNECT through first; this is defensive.
                other => {
                    self.record(v, &[StatementId::V5_3_1_0_1], &[StatementId::V311_3_1_0_1]);
                    self.refuse(
                        id,
                        ReasonCode::ProtocolError,
                        format!("first packet is {}, not CONNECT", other.packet_type()),
                    );
                }
            },
            Phase::Authenticating { .. } => match packet {
                Packet::Auth(auth) => self.handle_auth_during_connect(id, auth),
                Packet::Disconnect(_) => {
                    self.end_connection(id, Some(CloseReason::ClientDisconnect), false)
                }
                other => {
                    // Only AUTH or DISCONNECT may come before CONNACK (MQTT-3.1.2-30).
                    self.record_id(StatementId::V5_3_1_2_30);
                    self.refuse(
                        id,
                        ReasonCode::ProtocolError,
                        format!("{} during enhanced authentication", other.packet_type()),
                    );
                }
            },
            Phase::Connected => self.handle_connected_packet(id, v, packet),
        }
    }

    fn handle_connected_packet(&mut self, id: ConnectionId, v: ProtocolVersion, packet: Packet) {
        match packet {
            Packet::Connect(_) => {
                if self.fault(Fault::AcceptSecondConnect) {
                    return;
                }
                self.record(v, &[StatementId::V5_3_1_0_2], &[StatementId::V311_3_1_0_2]);
                self.protocol_error(id, ReasonCode::ProtocolError, "second CONNECT");
            }
            Packet::Publish(p) => self.handle_publish(id, p),
            Packet::PubAck(p) => self.handle_puback(id, p),
            Packet::PubRec(p) => self.handle_pubrec(id, p),
            Packet::PubRel(p) => self.handle_pubrel(id, p),
            Packet::PubComp(p) => self.handle_pubcomp(id, p),
            Packet::Subscribe(p) => self.handle_subscribe(id, p),
            Packet::Unsubscribe(p) => self.handle_unsubscribe(id, p),
            Packet::PingReq => {
                self.record(
                    v,
                    &[StatementId::V5_3_12_4_1],
                    &[StatementId::V311_3_12_4_1],
                );
                if !self.fault(Fault::NoPingresp) {
                    self.send(id, Packet::PingResp);
                }
            }
            Packet::Disconnect(d) => self.handle_disconnect(id, d),
            Packet::Auth(a) => self.handle_auth_when_connected(id, a),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                // Only a server sends these.
                self.protocol_error(
                    id,
                    ReasonCode::ProtocolError,
                    format!("{} sent by a client", packet.packet_type()),
                );
            }
        }
    }
}
