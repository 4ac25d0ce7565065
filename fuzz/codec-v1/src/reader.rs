//! The bounded reader: every read is checked against the end of the packet (or of a
//! length-prefixed part of it, like the property block), so no field can run past its bounds.
//! Reads that slice ([`Reader::binary`], [`Reader::take`]) share the frame's [`Bytes`].

use bytes::Bytes;

use crate::string::MqttString;
use crate::violation::Violation;

/// A cursor over one packet body, or over a bounded part of it.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    pos: usize,
    within: &'static str,
}

impl Reader {
    /// A reader over a whole packet body.
    pub fn new(buf: Bytes) -> Self {
        Reader {
            buf,
            pos: 0,
            within: "packet",
        }
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn truncated(&self, field: &'static str) -> Violation {
        Violation::Truncated {
            field,
            within: self.within,
        }
    }

    /// Takes the next `n` bytes as a slice of the frame.
    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, Violation> {
        if n > self.remaining() {
            return Err(self.truncated(field));
        }
        let out = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    /// A sub-reader over the next `n` bytes (e.g. a property block); `within` names it.
    pub fn take(
        &mut self,
        n: usize,
        field: &'static str,
        within: &'static str,
    ) -> Result<Reader, Violation> {
        let buf = self.bytes(n, field)?;
        Ok(Reader {
            buf,
            pos: 0,
            within,
        })
    }

    /// Everything left, as a slice of the frame (e.g. a PUBLISH payload).
    pub fn rest(&mut self) -> Bytes {
        let out = self.buf.slice(self.pos.min(self.buf.len())..);
        self.pos = self.buf.len();
        out
    }

    /// A Byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, Violation> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.truncated(field))?;
        self.pos += 1;
        Ok(b)
    }

    /// A Two Byte Integer (big-endian).
    pub fn u16(&mut self, field: &'static str) -> Result<u16, Violation> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// A Four Byte Integer (big-endian).
    pub fn u32(&mut self, field: &'static str) -> Result<u32, Violation> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// The next `N` bytes, copied out (no slice of the frame is made, so no reference count
    /// is touched: this is the hot path of every integer field).
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Violation> {
        let end = self
            .pos
            .checked_add(N)
            .ok_or_else(|| self.truncated(field))?;
        let out = self
            .buf
            .get(self.pos..end)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or_else(|| self.truncated(field))?;
        self.pos = end;
        Ok(out)
    }

    /// A Variable Byte Integer: at most four bytes and, as MQTT 5.0 requires of every one,
    /// minimally encoded.
    pub fn variable_byte_integer(&mut self, field: &'static str) -> Result<u32, Violation> {
        let mut value: u32 = 0;
        for i in 0..4u32 {
            let byte = self.u8(field)?;
            value |= u32::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return Err(Violation::NonMinimalVariableByteInteger { field });
                }
                return Ok(value);
            }
        }
        Err(Violation::VariableByteIntegerTooLong { field })
    }

    /// Binary Data: a two-byte length and that many bytes.
    pub fn binary(&mut self, field: &'static str) -> Result<Bytes, Violation> {
        let len = self.u16(field)?;
        self.bytes(usize::from(len), field)
    }

    /// A UTF-8 Encoded String.
    pub fn string(&mut self, field: &'static str) -> Result<MqttString, Violation> {
        let raw = self.binary(field)?;
        MqttString::from_bytes(raw, field)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn reader(b: &'static [u8]) -> Reader {
        Reader::new(Bytes::from_static(b))
    }

    #[test]
    fn variable_byte_integers_decode_at_their_boundaries() {
        let cases: [(&'static [u8], u32); 8] = [
            (&[0x00], 0),
            (&[0x7F], 127),
            (&[0x80, 0x01], 128),
            (&[0xFF, 0x7F], 16_383),
            (&[0x80, 0x80, 0x01], 16_384),
            (&[0xFF, 0xFF, 0x7F], 2_097_151),
            (&[0x80, 0x80, 0x80, 0x01], 2_097_152),
            (&[0xFF, 0xFF, 0xFF, 0x7F], 268_435_455),
        ];
        for (bytes, value) in cases {
            assert_eq!(reader(bytes).variable_byte_integer("v"), Ok(value));
        }
    }

    #[test]
    fn variable_byte_integers_reject_long_and_non_minimal_forms() {
        assert_eq!(
            reader(&[0x80, 0x80, 0x80, 0x80, 0x01]).variable_byte_integer("v"),
            Err(Violation::VariableByteIntegerTooLong { field: "v" })
        );
        assert_eq!(
            reader(&[0x80, 0x00]).variable_byte_integer("v"),
            Err(Violation::NonMinimalVariableByteInteger { field: "v" })
        );
        assert_eq!(
            reader(&[0x80]).variable_byte_integer("v"),
            Err(Violation::Truncated {
                field: "v",
                within: "packet"
            })
        );
    }

    #[test]
    fn a_sub_reader_cannot_read_past_its_bounds() {
        let mut r = reader(&[0x00, 0x05, b'a', b'b', b'c']);
        assert!(r.string("s").is_err());
        let mut r = reader(&[1, 2, 3, 4]);
        let mut sub = r.take(2, "props", "property block").unwrap();
        assert_eq!(sub.u16("x"), Ok(0x0102));
        assert_eq!(
            sub.u8("y"),
            Err(Violation::Truncated {
                field: "y",
                within: "property block"
            })
        );
        assert_eq!(r.u16("z"), Ok(0x0304));
    }
}
