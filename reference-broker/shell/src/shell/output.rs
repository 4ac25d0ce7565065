//! The output side of a connection: what the core sent that the socket has not taken yet.
//!
//! The broker task writes to the socket itself. Packets the core sends during one turn of
//! the broker task are queued here first (each as the [`Bytes`] the core encoded, never
//! copied) and written together at the end of the turn with vectored writes, so a burst costs
//! one system call and a lone packet goes out at once. What the socket does not take stays
//! queued, in order, until it reports room again. The queue is bounded by the shell's
//! backlog limit (see the module docs of [`shell`](super)): above it the connection is not
//! read from.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::{Buf, Bytes};

use super::socket::RawSocket;

/// How many queued packets one vectored write takes at most.
const MAX_SLICES: usize = 64;

/// How a write attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    /// Everything queued is written.
    All,
    /// The socket is full; the rest stays queued.
    WouldBlock,
    /// The connection is broken.
    Failed,
}

/// The queue of one connection's unwritten output.
#[derive(Debug, Default)]
pub(super) struct Output {
    queue: VecDeque<Bytes>,
    /// Bytes queued and not yet written.
    len: usize,
}

impl Output {
    /// Queues `bytes` after everything queued before.
    pub(super) fn push(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.len += bytes.len();
            self.queue.push_back(bytes);
        }
    }

    /// Bytes queued and not yet written.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Writes as much as the socket takes, oldest first.
    #[inline]
    pub(super) fn write_to<S: RawSocket>(&mut self, stream: &S) -> Written {
        while !self.queue.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, bytes) in slices.iter_mut().zip(&self.queue) {
                *slot = IoSlice::new(bytes);
                count += 1;
            }
            let result = match slices.get(..count) {
                Some([one]) => stream.try_write(one),
                Some(some) => stream.try_write_vectored(some),
                None => return Written::Failed,
            };
            match result {
                Ok(0) => return Written::Failed,
                Ok(n) => self.consume(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Written::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Written::Failed,
            }
        }
        Written::All
    }

    /// Drops the first `n` bytes written.
    fn consume(&mut self, mut n: usize) {
        self.len = self.len.saturating_sub(n);
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.queue.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_write_keeps_the_rest_in_order() {
        let mut out = Output::default();
        out.push(Bytes::from_static(b"abc"));
        out.push(Bytes::new());
        out.push(Bytes::from_static(b"de"));
        out.push(Bytes::from_static(b"fgh"));
        assert_eq!(out.len(), 8);
        out.consume(4);
        assert_eq!(out.len(), 4);
        let rest: Vec<u8> = out.queue.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(rest, b"efgh");
        out.consume(4);
        assert!(out.is_empty());
        assert_eq!(out.len(), 0);
    }
}
