//! The input side of a connection: reads its socket into a buffer and cuts whole MQTT
//! packets (frames) out of it, for [`Broker::frames_received`](crate::core::Broker::frames_received).
//!
//! Only the length is looked at here (the first byte and the Remaining Length, the same in
//! both protocol versions); whether the packet is acceptable is the core's business. A frame
//! is a slice of the read buffer, so it reaches the core without a copy. What cannot be cut
//! cleanly, a Remaining Length longer than four bytes or
//! a packet larger than the server's Maximum Packet Size, is passed on as it is, and so is
//! everything after it: the core's own framing then answers it exactly as it answers raw
//! bytes. At most one partial packet waits here, so the buffer holds at most one read plus
//! one Maximum Packet Size.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::Interest;

use super::socket::RawSocket;

/// How many bytes one read asks the socket for (at least).
const READ_CHUNK: usize = 16 * 1024;

/// What one read gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    /// Bytes arrived; the whole packets among them (possibly none yet) were added to the
    /// frames given.
    Data,
    /// Nothing to read now.
    WouldBlock,
    /// End of stream or an error: the connection is gone.
    Closed,
}

/// Reads and cuts one connection's input.
#[derive(Debug)]
pub(super) struct FrameReader {
    buf: BytesMut,
    /// The largest packet cut here; larger ones go to the core as they are.
    max_packet_size: usize,
    /// The stream could not be cut cleanly once: from then on the core frames it.
    raw: bool,
}

impl FrameReader {
    pub(super) fn new(max_packet_size: u32) -> Self {
        FrameReader {
            buf: BytesMut::new(),
            max_packet_size: max_packet_size as usize,
            raw: false,
        }
    }

    /// Reads once from `stream`, adding the whole packets read to `frames`.
    ///
    /// A read that did not fill the room offered emptied the socket: tokio is told so (its
    /// readiness for the socket is cleared, unless the socket reported new input meanwhile),
    /// which saves the read that would only find nothing, as tokio's own `poll_read` does.
    #[inline]
    pub(super) fn read<S: RawSocket>(&mut self, stream: &S, frames: &mut Vec<Bytes>) -> Read {
        // Room for a chunk; a partial packet's buffer grows by doubling, never by what its
        // header claims.
        self.buf.reserve(READ_CHUNK.max(self.buf.len()));
        let room = self.buf.capacity() - self.buf.len();
        let buf = &mut self.buf;
        let mut got = 0;
        let result = stream.try_io(Interest::READABLE, || {
            got = stream.try_read_buf(buf)?;
            if got > 0 && got < room {
                // Drained: let tokio clear the readiness.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        });
        match result {
            // Bytes arrived (with `Ok`, or with the `WouldBlock` that says the socket is empty).
            _ if got > 0 => {
                self.cut(frames);
                if self.buf.is_empty() {
                    // The frames keep what they need of the buffer; an idle connection keeps
                    // none of it.
                    self.buf = BytesMut::new();
                }
                Read::Data
            }
            Ok(()) => Read::Closed,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Read::WouldBlock,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Read::Data,
            Err(_) => Read::Closed,
        }
    }

    /// Cuts the whole packets off the front of the buffer into `frames`.
    fn cut(&mut self, frames: &mut Vec<Bytes>) {
        while !self.buf.is_empty() {
            if self.raw {
                frames.push(self.buf.split().freeze());
                break;
            }
            match packet_len(&self.buf) {
                Length::Known(n) if n > self.max_packet_size => self.raw = true,
                Length::Known(n) if n <= self.buf.len() => {
                    frames.push(self.buf.split_to(n).freeze());
                }
                Length::Known(_) | Length::NeedMore => break,
                Length::Malformed => self.raw = true,
            }
        }
    }
}

/// The length of the packet at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    /// The whole packet's length, fixed header included.
    Known(usize),
    /// The Remaining Length is not complete yet.
    NeedMore,
    /// The Remaining Length runs past four bytes.
    Malformed,
}

/// Reads the fixed header's length fields (a packet type byte, then the Remaining Length as a
/// Variable Byte Integer of at most four bytes).
fn packet_len(buf: &[u8]) -> Length {
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Length::NeedMore;
        };
        remaining |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Length::Known(2 + i + remaining);
        }
    }
    Length::Malformed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(r: &mut FrameReader) -> Vec<Bytes> {
        let mut frames = Vec::new();
        r.cut(&mut frames);
        frames
    }

    #[test]
    fn the_length_counts_the_fixed_header() {
        assert_eq!(packet_len(&[0xC0, 0x00]), Length::Known(2));
        assert_eq!(packet_len(&[0x30, 0x7F]), Length::Known(2 + 127));
        assert_eq!(packet_len(&[0x30, 0x80, 0x01]), Length::Known(3 + 128));
        assert_eq!(
            packet_len(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]),
            Length::Known(5 + 268_435_455)
        );
        assert_eq!(packet_len(&[0x30]), Length::NeedMore);
        assert_eq!(packet_len(&[0x30, 0x80, 0x80]), Length::NeedMore);
        assert_eq!(
            packet_len(&[0x30, 0x80, 0x80, 0x80, 0x80]),
            Length::Malformed
        );
    }

    #[test]
    fn whole_packets_are_cut_and_a_partial_one_waits() {
        let mut r = FrameReader::new(1024);
        r.buf
            .extend_from_slice(&[0xC0, 0x00, 0x30, 0x03, 0x00, 0x01, b'a', 0xC0]);
        let frames = cut(&mut r);
        assert_eq!(
            frames,
            vec![
                Bytes::from_static(&[0xC0, 0x00]),
                Bytes::from_static(&[0x30, 0x03, 0x00, 0x01, b'a'])
            ]
        );
        assert_eq!(&r.buf[..], &[0xC0]);
        r.buf.extend_from_slice(&[0x00]);
        assert_eq!(cut(&mut r), vec![Bytes::from_static(&[0xC0, 0x00])]);
        assert!(r.buf.is_empty());
    }

    #[test]
    fn what_cannot_be_cut_goes_on_as_it_is_from_then_on() {
        let mut r = FrameReader::new(16);
        // A PUBLISH announcing 200 bytes, over the limit of 16.
        r.buf
            .extend_from_slice(&[0xC0, 0x00, 0x30, 0xC8, 0x01, 0x00]);
        let frames = cut(&mut r);
        assert_eq!(
            frames,
            vec![
                Bytes::from_static(&[0xC0, 0x00]),
                Bytes::from_static(&[0x30, 0xC8, 0x01, 0x00])
            ]
        );
        r.buf.extend_from_slice(&[0xC0, 0x00]);
        assert_eq!(cut(&mut r), vec![Bytes::from_static(&[0xC0, 0x00])]);
        assert!(r.raw);
        let mut r = FrameReader::new(1024);
        r.buf
            .extend_from_slice(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        assert_eq!(
            cut(&mut r).concat(),
            vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        );
        assert!(r.raw);
    }
}
