//! The broker task: the one task that owns the core, and does all socket I/O itself.
//!
//! It waits for any of: a socket reported ready ([`Readiness`]), a new connection from the
//! accept task, the core's next timer, shutdown. Then it runs a *turn* of up to [`ROUNDS`]
//! rounds. A round reads once from each connection that has input and hands the whole
//! packets to the core ([`Broker::frames_received`]), queues every packet the core sends on
//! its connection's [`Output`](super::output::Output), then writes each connection's queue
//! to its socket with as few (vectored) writes as possible. A connection whose queue the
//! socket took entirely is flushed at once: the core hears it in the same round
//! ([`Broker::connection_flushed`]), which may let it send more; that repeats up to
//! [`FLUSH_ROUNDS`] times, and whatever is left over goes to the next turn. What a socket
//! does not take waits in the queue until tokio reports it writable.
//!
//! A connection that gave input is read again in the next round, until its socket is empty;
//! one that still has input after the last round, and any other work left over, makes the
//! task yield to the runtime and come back without waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tracing::debug;

use super::connection::Connection;
use super::listener::Incoming;
use super::output::Written;
use super::reader::Read;
use super::readiness::{Direction, Readiness};
use super::socket::Socket;
use crate::config::Config;
use crate::core::{Action, Broker, ConnectionId};

/// How many times one turn reads from a connection that keeps having input.
const ROUNDS: usize = 4;
/// How many times one turn tells the core about flushed connections (each can lead to more
/// output, which may flush at once again).
const FLUSH_ROUNDS: usize = 8;
/// How long a closed connection's remaining output may take to be written.
const LINGER: Duration = Duration::from_secs(5);

/// The state of the broker task.
#[derive(Debug)]
pub(super) struct Shell {
    core: Broker,
    origin: Instant,
    readiness: Arc<Readiness>,
    conns: HashMap<ConnectionId, Connection>,
    next_id: u64,
    /// Above this many unwritten bytes a connection is not read from.
    backlog_limit: usize,
    max_packet_size: u32,
    /// Connections to read from, in order.
    to_read: VecDeque<ConnectionId>,
    /// Connections with output to write.
    to_write: Vec<ConnectionId>,
    /// Connections whose output was all written while the core had sent them something.
    drained: Vec<ConnectionId>,
    /// Closing connections with output left, by deadline.
    lingering: VecDeque<(Instant, ConnectionId)>,
    ready: Vec<(ConnectionId, Direction)>,
    /// The frames of the last read (kept for its memory).
    frames: Vec<Bytes>,
}

impl Shell {
    pub(super) fn new(config: Config, readiness: Arc<Readiness>) -> Self {
        let backlog_limit = config
            .max_unflushed_bytes
            .saturating_add(config.maximum_packet_size as usize);
        let max_packet_size = config.maximum_packet_size;
        Shell {
            core: Broker::new(config),
            origin: Instant::now(),
            readiness,
            conns: HashMap::new(),
            next_id: 1,
            backlog_limit,
            max_packet_size,
            to_read: VecDeque::new(),
            to_write: Vec::new(),
            drained: Vec::new(),
            lingering: VecDeque::new(),
            ready: Vec::new(),
            frames: Vec::new(),
        }
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// When the task must wake up by itself: the core's next timer or a lingering
    /// connection's deadline.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let core = self.core.poll_timeout().map(|d| self.origin + d);
        let linger = self.lingering.front().map(|(at, _)| *at);
        match (core, linger) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether anything is left for another turn.
    pub(super) fn has_work(&self) -> bool {
        !self.to_read.is_empty() || !self.to_write.is_empty() || !self.drained.is_empty()
    }

    /// Takes a new connection from the accept task.
    pub(super) fn open(&mut self, incoming: Incoming) {
        let Incoming { socket, user } = incoming;
        let id = ConnectionId(self.next_id);
        self.next_id += 1;
        if let Socket::Tcp(stream) = &socket {
            if let Err(e) = stream.set_nodelay(true) {
                debug!(?id, error = %e, "cannot set TCP_NODELAY");
            }
        }
        self.conns.insert(
            id,
            Connection::new(id, socket, self.max_packet_size, &self.readiness),
        );
        self.core.connection_opened(id, self.now());
        if let Some(user) = user {
            self.core.set_certificate_user(id, user);
        }
        self.queue_read(id);
    }

    /// Takes the sockets reported ready.
    pub(super) fn take_ready(&mut self) {
        self.readiness.take(&mut self.ready);
        let mut ready = std::mem::take(&mut self.ready);
        for (id, direction) in ready.drain(..) {
            match direction {
                Direction::Read => self.queue_read(id),
                Direction::Write => {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.write_armed = false;
                    }
                    self.queue_write(id);
                }
            }
        }
        self.ready = ready;
    }

    /// Runs the core's timers that are due, and ends lingering connections past their
    /// deadline.
    pub(super) fn run_timers(&mut self) {
        let now = self.now();
        if self.core.poll_timeout().is_some_and(|at| at <= now) {
            self.core.handle_timeout(now);
        }
        let instant = Instant::now();
        while let Some(&(at, id)) = self.lingering.front() {
            if at > instant {
                break;
            }
            self.lingering.pop_front();
            if self.conns.get(&id).is_some_and(|c| c.closing.is_some()) {
                debug!(?id, "closed connection dropped with output unwritten");
                self.conns.remove(&id);
            }
        }
    }

    /// Runs one turn (see the module docs).
    pub(super) fn turn(&mut self) {
        self.carry_out();
        for _ in 0..ROUNDS {
            self.read_round();
            self.write_round();
            if self.to_read.is_empty() {
                break;
            }
        }
    }

    /// Begins a clean shutdown: the core says goodbye to every client.
    pub(super) fn shut_down(&mut self) {
        self.core.shutdown(self.now());
        self.turn();
    }

    /// Whether every connection is gone (after [`Shell::shut_down`]).
    pub(super) fn all_closed(&self) -> bool {
        self.conns.is_empty()
    }

    fn queue_read(&mut self, id: ConnectionId) {
        if let Some(c) = self.conns.get_mut(&id) {
            if !c.read_queued {
                c.read_queued = true;
                self.to_read.push_back(id);
            }
        }
    }

    fn queue_write(&mut self, id: ConnectionId) {
        if let Some(c) = self.conns.get_mut(&id) {
            if !c.write_queued && !c.write_armed {
                c.write_queued = true;
                self.to_write.push(id);
            }
        }
    }

    /// Reads once from every connection waiting to be read; one that gave input is read
    /// again in the next round (until the socket has nothing left).
    fn read_round(&mut self) {
        for _ in 0..self.to_read.len() {
            let Some(id) = self.to_read.pop_front() else {
                break;
            };
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            c.read_queued = false;
            if !c.wants_input(self.backlog_limit) {
                continue;
            }
            match c.read(&mut self.frames) {
                Read::Data => {
                    if !self.frames.is_empty() {
                        let now = self.origin.elapsed();
                        self.core.frames_received(id, self.frames.drain(..), now);
                    }
                    self.queue_read(id);
                }
                Read::WouldBlock => {}
                Read::Closed => self.peer_closed(id),
            }
            self.carry_out();
        }
    }

    /// Writes every connection with output queued; tells the core about those that were
    /// flushed, and writes what that made it send, a bounded number of times.
    fn write_round(&mut self) {
        for _ in 0..FLUSH_ROUNDS {
            for id in std::mem::take(&mut self.to_write) {
                self.write(id);
            }
            if self.drained.is_empty() {
                return;
            }
            let now = self.now();
            for id in std::mem::take(&mut self.drained) {
                let Some(c) = self.conns.get_mut(&id) else {
                    continue;
                };
                // Only if nothing was sent since (then it is flushed when that is written).
                if c.unreported && c.output.is_empty() && c.closing.is_none() {
                    c.unreported = false;
                    self.core.connection_flushed(id, now);
                }
            }
            self.carry_out();
        }
    }

    fn write(&mut self, id: ConnectionId) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.write_queued = false;
        let result = c.write();
        let closing = c.closing.is_some();
        let unreported = c.unreported;
        let armed = c.write_armed;
        let unblocked = c.held_by_backlog && c.output.len() <= self.backlog_limit;
        match result {
            Written::All if closing => {
                self.finish_close(id);
                return;
            }
            Written::All if unreported => self.drained.push(id),
            Written::All => {}
            // The socket kept turning ready: try again in the next round.
            Written::WouldBlock if !armed => self.queue_write(id),
            Written::WouldBlock => {}
            Written::Failed => {
                self.broken(id);
                return;
            }
        }
        if unblocked && !closing {
            self.queue_read(id);
        }
    }

    /// Carries out what the core asked for.
    fn carry_out(&mut self) {
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::Send { conn, bytes, .. } => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.output.push(bytes);
                        c.unreported = true;
                        self.queue_write(conn);
                    }
                }
                Action::Close { conn, reason } => {
                    debug!(?conn, ?reason, "closing connection");
                    self.close(conn);
                }
                Action::PauseReading { conn } => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.paused = true;
                    }
                }
                Action::ResumeReading { conn } => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.paused = false;
                    }
                    self.queue_read(conn);
                }
            }
        }
    }

    /// The connection is done (the core closed it, or the peer did and the core has been
    /// told): its output is written out, then the socket is closed.
    fn close(&mut self, id: ConnectionId) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.closing.is_some() {
            return;
        }
        let deadline = Instant::now() + LINGER;
        c.closing = Some(deadline);
        if c.output.is_empty() {
            self.finish_close(id);
        } else {
            self.lingering.push_back((deadline, id));
            self.queue_write(id);
        }
    }

    fn finish_close(&mut self, id: ConnectionId) {
        if let Some(c) = self.conns.remove(&id) {
            if let Err(e) = c.shut_down() {
                debug!(?id, error = %e, "closing the socket failed");
            }
        }
    }

    /// End of stream or a read error.
    fn peer_closed(&mut self, id: ConnectionId) {
        let now = self.now();
        self.core.connection_closed(id, now);
        // What the core had sent before is still written, as far as the peer takes it.
        self.close(id);
    }

    /// A write failed: the connection is gone.
    fn broken(&mut self, id: ConnectionId) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        if c.closing.is_none() {
            let now = self.now();
            self.core.connection_closed(id, now);
        }
    }
}
