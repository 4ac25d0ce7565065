//! The streaming frame decoder: feed it a growing buffer, get "need more bytes", one packet,
//! or an error.
//!
//! The Maximum Packet Size applies to the whole packet (fixed header included) and is checked
//! as soon as the fixed header is complete, before any of the body is waited for, so a claimed
//! Remaining Length never drives an allocation. Incomplete input is kept apart from real
//! errors: `Ok(None)` means "read more", an `Err` means the stream is broken.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::packet::{FixedHeader, Packet};
use crate::protocol::ProtocolVersion;
use crate::violation::Violation;
use crate::MAX_VARIABLE_BYTE_INTEGER;

/// One complete packet, not yet decoded: its fixed header and all its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The parsed fixed header.
    pub header: FixedHeader,
    /// The whole packet, fixed header included.
    pub bytes: Bytes,
}

impl Frame {
    /// Decodes the packet for `v`.
    pub fn decode(&self, v: ProtocolVersion) -> Result<Packet, DecodeError> {
        let body = self
            .bytes
            .slice(self.header.header_len.min(self.bytes.len())..);
        Packet::decode_body(&self.header, body, v)
    }
}

/// Splits a byte stream into packets.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    version: ProtocolVersion,
    max_packet_size: u32,
}

impl FrameDecoder {
    /// A decoder for `version` with no packet size limit beyond the protocol's own
    /// (268,435,455 bytes of Remaining Length).
    pub fn new(version: ProtocolVersion) -> Self {
        FrameDecoder {
            version,
            max_packet_size: MAX_VARIABLE_BYTE_INTEGER + 5,
        }
    }

    /// Sets the Maximum Packet Size (whole packet, in bytes).
    pub fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// Changes the protocol version (a server learns it from CONNECT).
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// The protocol version in use.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The Maximum Packet Size in force.
    pub fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Takes the next complete frame off the front of `buf`, if there is one.
    #[inline]
    pub fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        let Some(header) = FixedHeader::parse(buf, self.version)? else {
            return Ok(None);
        };
        let total = header.packet_len();
        if total as u64 > u64::from(self.max_packet_size) {
            return Err(DecodeError::new(
                Violation::PacketTooLarge {
                    size: total as u64,
                    maximum: self.max_packet_size,
                },
                self.version,
                Some(header.packet_type),
            ));
        }
        if buf.len() < total {
            return Ok(None);
        }
        let bytes = buf.split_to(total).freeze();
        Ok(Some(Frame { header, bytes }))
    }

    /// Takes the next packet off the front of `buf` and decodes it. On a decode error the
    /// packet's bytes have been consumed; the stream should be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        match self.next_frame(buf)? {
            // Consumes the frame instead of slicing it (`Frame::decode`): no reference count
            // is touched.
            Some(Frame { header, mut bytes }) => {
                bytes.advance(header.header_len.min(bytes.len()));
                Packet::decode_body(&header, bytes, self.version).map(Some)
            }
            None => Ok(None),
        }
    }

    /// How many more bytes are needed at least before [`FrameDecoder::decode`] can make
    /// progress (0 when a frame or an error is ready).
    pub fn needed(&self, buf: &[u8]) -> usize {
        match FixedHeader::parse(buf, self.version) {
            Ok(Some(h)) => h.packet_len().saturating_sub(buf.len()),
            Ok(None) => 1,
            Err(_) => 0,
        }
    }
}

/// Decodes every packet in `bytes`, fed in the given chunk sizes (cycled), for tests of the
/// streaming property: any chunking decodes to the same packets. Stops at the first error.
pub fn decode_chunked(
    bytes: &[u8],
    chunks: &[usize],
    version: ProtocolVersion,
) -> Result<Vec<Packet>, DecodeError> {
    let mut decoder = FrameDecoder::new(version);
    let mut buf = BytesMut::new();
    let mut input = bytes;
    let mut out = Vec::new();
    let mut sizes = chunks.iter().copied().filter(|c| *c > 0).cycle();
    while !input.is_empty() {
        let n = sizes.next().unwrap_or(input.len()).min(input.len());
        buf.extend_from_slice(input.get(..n).unwrap_or_default());
        input.advance(n);
        while let Some(p) = decoder.decode(&mut buf)? {
            out.push(p);
        }
    }
    if !buf.is_empty() {
        return Err(DecodeError::new(
            Violation::Incomplete {
                needed: decoder.needed(&buf).max(1),
            },
            version,
            None,
        ));
    }
    Ok(out)
}
