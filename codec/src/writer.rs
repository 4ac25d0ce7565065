//! Writing the MQTT data representations, with the length checks encoding needs.

use bytes::{BufMut, Bytes, BytesMut};

use crate::string::MqttString;
use crate::violation::Violation;
use crate::MAX_VARIABLE_BYTE_INTEGER;

/// The number of bytes a Variable Byte Integer of this value takes (1..=4), or an error if the
/// value does not fit one.
#[inline]
pub fn variable_byte_integer_len(value: usize, field: &'static str) -> Result<usize, Violation> {
    match value {
        0..=127 => Ok(1),
        128..=16_383 => Ok(2),
        16_384..=2_097_151 => Ok(3),
        2_097_152..=268_435_455 => Ok(4),
        _ => Err(Violation::VariableByteIntegerOverflow {
            field,
            value: value as u64,
        }),
    }
}

/// Writes a Variable Byte Integer (minimal form).
#[inline]
pub fn put_variable_byte_integer(
    dst: &mut BytesMut,
    value: usize,
    field: &'static str,
) -> Result<(), Violation> {
    if value > MAX_VARIABLE_BYTE_INTEGER as usize {
        return Err(Violation::VariableByteIntegerOverflow {
            field,
            value: value as u64,
        });
    }
    put_vbi(dst, value);
    Ok(())
}

/// Writes a Variable Byte Integer whose value the caller has checked (with
/// [`variable_byte_integer_len`]) to be at most [`MAX_VARIABLE_BYTE_INTEGER`].
#[inline]
pub(crate) fn put_variable_byte_integer_checked(dst: &mut BytesMut, value: u32) {
    debug_assert!(
        value <= MAX_VARIABLE_BYTE_INTEGER,
        "unchecked Variable Byte Integer"
    );
    put_vbi(dst, value as usize);
}

#[inline]
fn put_vbi(dst: &mut BytesMut, value: usize) {
    if value < 128 {
        dst.put_u8(value as u8);
        return;
    }
    let mut v = value;
    loop {
        let mut byte = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            byte |= 0x80;
        }
        dst.put_u8(byte);
        if v == 0 {
            return;
        }
    }
}

/// The encoded size of Binary Data or a UTF-8 Encoded String of `len` bytes.
#[inline]
pub fn prefixed_len(len: usize, field: &'static str) -> Result<usize, Violation> {
    if len > usize::from(u16::MAX) {
        return Err(Violation::FieldTooLong { field, len });
    }
    Ok(2 + len)
}

/// Writes Binary Data (two-byte length, then the bytes).
#[inline]
pub fn put_binary(dst: &mut BytesMut, data: &[u8], field: &'static str) -> Result<(), Violation> {
    let len = u16::try_from(data.len()).map_err(|_| Violation::FieldTooLong {
        field,
        len: data.len(),
    })?;
    dst.put_u16(len);
    dst.put_slice(data);
    Ok(())
}

/// Writes Binary Data or a UTF-8 Encoded String whose length the caller has checked (with
/// [`prefixed_len`]) to fit the two-byte length.
#[inline]
pub(crate) fn put_prefixed(dst: &mut BytesMut, data: &[u8]) {
    debug_assert!(data.len() <= usize::from(u16::MAX), "unchecked length");
    dst.put_u16(data.len() as u16);
    dst.put_slice(data);
}

/// Writes a UTF-8 Encoded String.
#[inline]
pub fn put_string(
    dst: &mut BytesMut,
    s: &MqttString,
    field: &'static str,
) -> Result<(), Violation> {
    put_binary(dst, s.as_bytes(), field)
}

/// Writes raw bytes (a payload).
#[inline]
pub fn put_bytes(dst: &mut BytesMut, data: &Bytes) {
    dst.put_slice(data);
}
