//! The bounded reader: every read is checked against the end of the packet (or of a
//! length-prefixed part of it, like the property block), so no field can run past its bounds.
//! Reads that slice ([`Reader::binary`], [`Reader::take`]) share the frame's [`Bytes`].

use bytes::{Buf, Bytes};

use crate::string::{MqttString, TopicFilter, TopicName};
use crate::violation::Violation;

/// A cursor over one packet body, or over a bounded part of it.
///
/// A bounded part (a property block) is read either through a sub-reader ([`Reader::take`])
/// or, inside the codec, by narrowing this reader's end ([`Reader::narrow`]), which needs no
/// slice of the frame and so no reference-count update.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    pos: usize,
    /// The end of what may be read (`<= buf.len()`); `pos <= end` always.
    end: usize,
    within: &'static str,
}

/// What [`Reader::narrow`] replaced, for [`Reader::widen`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    end: usize,
    within: &'static str,
}

impl Reader {
    /// A reader over a whole packet body.
    #[inline]
    pub fn new(buf: Bytes) -> Self {
        Reader {
            end: buf.len(),
            buf,
            pos: 0,
            within: "packet",
        }
    }

    /// Bytes left to read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// Whether everything was read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    #[cold]
    #[inline(never)]
    fn truncated(&self, field: &'static str) -> Violation {
        Violation::Truncated {
            field,
            within: self.within,
        }
    }

    /// The bytes left, borrowed (for checks that look at them before slicing).
    #[inline]
    fn left(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or_default()
    }

    /// Takes the next `n` bytes as a slice of the frame.
    #[inline]
    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, Violation> {
        if n > self.remaining() {
            return Err(self.truncated(field));
        }
        let start = self.pos;
        self.pos += n;
        Ok(self.buf.slice(start..self.pos))
    }

    /// A sub-reader over the next `n` bytes (e.g. a property block); `within` names it.
    pub fn take(
        &mut self,
        n: usize,
        field: &'static str,
        within: &'static str,
    ) -> Result<Reader, Violation> {
        let buf = self.bytes(n, field)?;
        let mut r = Reader::new(buf);
        r.within = within;
        Ok(r)
    }

    /// Limits this reader to the next `n` bytes (e.g. a property block; `within` names it in
    /// errors) until [`Reader::widen`] gives back what it returns. No slice is made.
    #[inline]
    pub(crate) fn narrow(
        &mut self,
        n: usize,
        field: &'static str,
        within: &'static str,
    ) -> Result<Bound, Violation> {
        if n > self.remaining() {
            return Err(self.truncated(field));
        }
        let old = Bound {
            end: self.end,
            within: self.within,
        };
        self.end = self.pos + n;
        self.within = within;
        Ok(old)
    }

    /// Undoes [`Reader::narrow`] (call it once the narrowed part is read).
    #[inline]
    pub(crate) fn widen(&mut self, old: Bound) {
        self.end = old.end.max(self.pos);
        self.within = old.within;
    }

    /// Everything left, as a slice of the frame (e.g. a PUBLISH payload). The reader gives up
    /// its buffer for it, so no reference count is touched.
    #[inline]
    pub fn rest(&mut self) -> Bytes {
        let mut out = std::mem::take(&mut self.buf);
        out.truncate(self.end);
        out.advance(self.pos.min(out.len()));
        self.pos = 0;
        self.end = 0;
        out
    }

    /// Reads a zero byte if one comes next (e.g. an empty property block's Property Length);
    /// reads nothing otherwise.
    #[inline(always)]
    pub(crate) fn skip_zero(&mut self) -> bool {
        if self.left().first() == Some(&0) {
            self.pos += 1;
            return true;
        }
        false
    }

    /// A Byte.
    #[inline]
    pub fn u8(&mut self, field: &'static str) -> Result<u8, Violation> {
        let Some(&b) = self.left().first() else {
            return Err(self.truncated(field));
        };
        self.pos += 1;
        Ok(b)
    }

    /// A Two Byte Integer (big-endian).
    #[inline]
    pub fn u16(&mut self, field: &'static str) -> Result<u16, Violation> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// A Four Byte Integer (big-endian).
    #[inline]
    pub fn u32(&mut self, field: &'static str) -> Result<u32, Violation> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// The next `N` bytes, copied out (no slice of the frame is made, so no reference count
    /// is touched: this is the hot path of every integer field).
    #[inline]
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Violation> {
        let Some(out) = self.left().first_chunk::<N>().copied() else {
            return Err(self.truncated(field));
        };
        self.pos += N;
        Ok(out)
    }

    /// A Variable Byte Integer: at most four bytes and, as MQTT 5.0 requires of every one,
    /// minimally encoded.
    #[inline]
    pub fn variable_byte_integer(&mut self, field: &'static str) -> Result<u32, Violation> {
        // The common case: one byte.
        if let Some(&b) = self.left().first() {
            if b & 0x80 == 0 {
                self.pos += 1;
                return Ok(u32::from(b));
            }
        }
        self.variable_byte_integer_long(field)
    }

    fn variable_byte_integer_long(&mut self, field: &'static str) -> Result<u32, Violation> {
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
    #[inline]
    pub fn binary(&mut self, field: &'static str) -> Result<Bytes, Violation> {
        let len = self.u16(field)?;
        self.bytes(usize::from(len), field)
    }

    /// Where the reader is, from the start of its buffer (for [`Reader::slice`]).
    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The bytes from `start` to `end` of the buffer (positions from
    /// [`Reader::position`], already read), as a slice of the frame; empty if out of range.
    #[inline]
    pub(crate) fn slice(&self, start: usize, end: usize) -> Bytes {
        if start > end || end > self.pos {
            return Bytes::new();
        }
        self.buf.slice(start..end)
    }

    /// Reads past a UTF-8 Encoded String after making every check [`Reader::string`] makes,
    /// with the same errors, without making a slice of it.
    #[inline]
    pub(crate) fn skip_string(&mut self, field: &'static str) -> Result<(), Violation> {
        let len = usize::from(self.u16(field)?);
        let Some(s) = self.left().get(..len) else {
            return Err(self.truncated(field));
        };
        MqttString::check_received(s, field)?;
        self.pos += len;
        Ok(())
    }

    /// A UTF-8 Encoded String.
    #[inline]
    pub fn string(&mut self, field: &'static str) -> Result<MqttString, Violation> {
        let raw = self.binary(field)?;
        MqttString::from_bytes(raw, field)
    }

    /// A Topic Name (a UTF-8 Encoded String without wildcards).
    #[inline]
    pub fn topic_name(&mut self, field: &'static str) -> Result<TopicName, Violation> {
        let raw = self.binary(field)?;
        TopicName::from_bytes(raw, field)
    }

    /// A Topic Filter (a UTF-8 Encoded String, wildcard placement checked).
    #[inline]
    pub fn topic_filter(&mut self, field: &'static str) -> Result<TopicFilter, Violation> {
        let raw = self.binary(field)?;
        TopicFilter::from_bytes(raw, field)
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
