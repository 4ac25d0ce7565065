//! One client connection as the broker task holds it: the socket (owned here and nowhere
//! else), its [`FrameReader`] and [`Output`], the wakers tokio calls when the socket becomes
//! ready, and where the connection is in its life as far as the shell is concerned.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::time::Instant;

use super::output::{Output, Written};
use super::reader::{FrameReader, Read};
use super::readiness::{socket_waker, Direction, Readiness};
use super::socket::{RawSocket, Socket};
use crate::core::ConnectionId;

/// How often a read or write is retried when the socket turned ready again while it was
/// being armed (each retry means new readiness; this only bounds a pathological loop).
const RETRIES: usize = 4;

/// A client connection (see the module docs).
#[derive(Debug)]
pub(super) struct Connection {
    stream: Socket,
    pub(super) reader: FrameReader,
    pub(super) output: Output,
    read_waker: Waker,
    write_waker: Waker,
    /// The core asked to stop reading (backpressure).
    pub(super) paused: bool,
    /// The core is done with it (or the peer closed it): only its output is finished, until
    /// this deadline.
    pub(super) closing: Option<Instant>,
    /// Bytes were sent since the core last heard that everything was written.
    pub(super) unreported: bool,
    /// In the broker task's list of connections to read.
    pub(super) read_queued: bool,
    /// In the broker task's list of connections to write.
    pub(super) write_queued: bool,
    /// The socket was full; a write readiness wake-up is awaited.
    pub(super) write_armed: bool,
    /// Not read because its unwritten output was above the backlog limit.
    pub(super) held_by_backlog: bool,
}

impl Connection {
    pub(super) fn new(
        id: ConnectionId,
        stream: Socket,
        max_packet_size: u32,
        readiness: &Arc<Readiness>,
    ) -> Self {
        Connection {
            stream,
            reader: FrameReader::new(max_packet_size),
            output: Output::default(),
            read_waker: socket_waker(readiness, id, Direction::Read),
            write_waker: socket_waker(readiness, id, Direction::Write),
            paused: false,
            closing: None,
            unreported: false,
            read_queued: false,
            write_queued: false,
            write_armed: false,
            held_by_backlog: false,
        }
    }

    /// Whether it is read from: not paused by the core, not closing, and its unwritten
    /// output not above `backlog_limit`.
    pub(super) fn wants_input(&mut self, backlog_limit: usize) -> bool {
        self.held_by_backlog = self.output.len() > backlog_limit;
        !self.paused && self.closing.is_none() && !self.held_by_backlog
    }

    /// Reads once, adding the whole packets read to `frames`. When there is nothing to
    /// read, the read waker is armed.
    pub(super) fn read(&mut self, frames: &mut Vec<Bytes>) -> Read {
        match &self.stream {
            Socket::Tcp(s) => read(s, &mut self.reader, &self.read_waker, frames),
            #[cfg(unix)]
            Socket::Pipe(s) => read(s, &mut self.reader, &self.read_waker, frames),
        }
    }

    /// Writes what is queued. When the socket is full, the write waker is armed.
    pub(super) fn write(&mut self) -> Written {
        let armed = &mut self.write_armed;
        match &self.stream {
            Socket::Tcp(s) => write(s, &mut self.output, &self.write_waker, armed),
            #[cfg(unix)]
            Socket::Pipe(s) => write(s, &mut self.output, &self.write_waker, armed),
        }
    }

    /// Closes the socket after everything written: end of stream (FIN) to the peer, then
    /// the socket is released.
    pub(super) fn shut_down(self) -> io::Result<()> {
        self.stream.shut_down()
    }
}

/// Reads once from `stream` (see [`Connection::read`]).
#[inline]
fn read<S: RawSocket>(
    stream: &S,
    reader: &mut FrameReader,
    waker: &Waker,
    frames: &mut Vec<Bytes>,
) -> Read {
    for _ in 0..RETRIES {
        match reader.read(stream, frames) {
            Read::WouldBlock => {
                let mut cx = Context::from_waker(waker);
                match stream.poll_read_ready(&mut cx) {
                    Poll::Pending => return Read::WouldBlock,
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => return Read::Closed,
                }
            }
            other => return other,
        }
    }
    // Still ready: come back later.
    Read::Data
}

/// Writes what is queued to `stream` (see [`Connection::write`]).
#[inline]
fn write<S: RawSocket>(
    stream: &S,
    output: &mut Output,
    waker: &Waker,
    write_armed: &mut bool,
) -> Written {
    for _ in 0..RETRIES {
        match output.write_to(stream) {
            Written::WouldBlock => {
                let mut cx = Context::from_waker(waker);
                match stream.poll_write_ready(&mut cx) {
                    Poll::Pending => {
                        *write_armed = true;
                        return Written::WouldBlock;
                    }
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => return Written::Failed,
                }
            }
            other => return other,
        }
    }
    // Still ready: the broker task comes back to it.
    Written::WouldBlock
}
