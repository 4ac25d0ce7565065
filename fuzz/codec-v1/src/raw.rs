//! [`RawPacket`]: builds any byte sequence, including the malformed packets the strict encoder
//! refuses to produce (the conformance suite and the fuzzers need to send them).
//!
//! ```
//! use mqttspec_codec::RawPacket;
//! // A SUBSCRIBE with the reserved flags 0b0000 instead of 0b0010.
//! let bytes = RawPacket::new(0x80).u16(1).string("a/b").u8(0).build();
//! assert_eq!(&bytes[..], &[0x80, 0x08, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'b', 0x00]);
//! ```

use bytes::{BufMut, Bytes, BytesMut};

/// A packet assembled field by field. The Remaining Length is computed from the body unless
/// overridden; every field writer takes arbitrary values, valid or not.
#[derive(Debug, Clone, Default)]
pub struct RawPacket {
    first_byte: u8,
    body: BytesMut,
    remaining_length: Option<Vec<u8>>,
}

impl RawPacket {
    /// A packet whose first byte (type nibble and flags) is `first_byte`.
    pub fn new(first_byte: u8) -> Self {
        RawPacket {
            first_byte,
            body: BytesMut::new(),
            remaining_length: None,
        }
    }

    /// A packet of `packet_type` (1..=15, or 0) with the given flags nibble.
    pub fn with_type(packet_type: u8, flags: u8) -> Self {
        Self::new((packet_type << 4) | (flags & 0x0F))
    }

    /// Appends a byte.
    pub fn u8(mut self, v: u8) -> Self {
        self.body.put_u8(v);
        self
    }

    /// Appends a Two Byte Integer.
    pub fn u16(mut self, v: u16) -> Self {
        self.body.put_u16(v);
        self
    }

    /// Appends a Four Byte Integer.
    pub fn u32(mut self, v: u32) -> Self {
        self.body.put_u32(v);
        self
    }

    /// Appends raw bytes.
    pub fn bytes(mut self, v: &[u8]) -> Self {
        self.body.put_slice(v);
        self
    }

    /// Appends a length-prefixed string (no validation: any text, U+0000 included).
    pub fn string(self, s: &str) -> Self {
        self.binary(s.as_bytes())
    }

    /// Appends length-prefixed bytes; the length is the low 16 bits of the real length.
    pub fn binary(self, b: &[u8]) -> Self {
        let len = (b.len() & 0xFFFF) as u16;
        self.u16(len).bytes(b)
    }

    /// Appends a Variable Byte Integer in minimal form (values above the maximum are
    /// written with more than four bytes).
    pub fn varint(mut self, v: u64) -> Self {
        let mut v = v;
        loop {
            let mut b = (v % 128) as u8;
            v /= 128;
            if v > 0 {
                b |= 0x80;
            }
            self.body.put_u8(b);
            if v == 0 {
                return self;
            }
        }
    }

    /// Appends a property block: a Property Length (minimal) and `props` as given.
    pub fn properties(self, props: &[u8]) -> Self {
        self.varint(props.len() as u64).bytes(props)
    }

    /// Overrides the Remaining Length with these exact bytes (for lies and non-minimal forms).
    pub fn remaining_length_bytes(mut self, raw: &[u8]) -> Self {
        self.remaining_length = Some(raw.to_vec());
        self
    }

    /// Overrides the Remaining Length with this value, minimally encoded.
    pub fn remaining_length(self, value: u64) -> Self {
        let enc = RawPacket::new(0).varint(value).body;
        self.remaining_length_bytes(&enc)
    }

    /// The body bytes written so far.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The packet's bytes.
    pub fn build(self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.body.len() + 5);
        out.put_u8(self.first_byte);
        match self.remaining_length {
            Some(raw) => out.put_slice(&raw),
            None => {
                let enc = RawPacket::new(0).varint(self.body.len() as u64).body;
                out.put_slice(&enc);
            }
        }
        out.put_slice(&self.body);
        out.freeze()
    }
}
