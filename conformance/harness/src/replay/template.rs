//! The byte template of a scenario's `hex` fields.
//!
//! Plain hex (spaces, tabs, newlines and commas are ignored), plus four helpers so that large
//! or length-prefixed packets stay readable:
//!
//! | form | bytes |
//! |---|---|
//! | `3a 00` or `3a00` | the bytes, in hex |
//! | `'a/b'` | the UTF-8 bytes of the text between single quotes (no escapes) |
//! | `[ ... ]*N` | the bytes inside, N times (nesting allowed) |
//! | `{vbi:N}` | N as a Variable Byte Integer |
//! | `{u16:N}` | N as a Two Byte Integer (big endian) |
//! | `{len}` | the Remaining Length: the number of bytes after it, as a Variable Byte Integer (at most once, not inside `[...]`) |
//! | `{cid}` | (CONNECT bytes only, see [`expand_with_client_ids`]) a Client Identifier of [`CLIENT_ID_LEN`] characters that the runner makes unique per run |
//!
//! The expanded bytes are capped at [`MAX_BYTES`].

/// The largest expansion accepted (bytes).
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// The length of the Client Identifier a `{cid}` stands for (characters `0-9a-z`).
pub const CLIENT_ID_LEN: usize = 12;

/// The bytes a `{cid}` expands to before the runner fills in the real identifier.
const CLIENT_ID_PLACEHOLDER: [u8; CLIENT_ID_LEN] = *b"cidcidcidcid";

#[derive(Debug, Clone)]
enum Piece {
    Bytes(Vec<u8>),
    Len,
    ClientId,
}

/// Expands a template into bytes, or says why it is invalid. `{cid}` is refused.
pub fn expand(template: &str) -> Result<Vec<u8>, String> {
    let (bytes, slots) = expand_with_client_ids(template)?;
    if slots.is_empty() {
        Ok(bytes)
    } else {
        Err("`{cid}` is only allowed in the bytes of a `connect` step".to_owned())
    }
}

/// Expands a template that may contain `{cid}`: the bytes (each `{cid}` as
/// [`CLIENT_ID_LEN`] placeholder characters) and the offsets of the placeholders, for
/// [`fill_client_id`]. A `{cid}` counts for [`CLIENT_ID_LEN`] bytes in `{len}`.
pub fn expand_with_client_ids(template: &str) -> Result<(Vec<u8>, Vec<usize>), String> {
    let chars: Vec<char> = template.chars().collect();
    let mut pos = 0;
    let pieces = parse(&chars, &mut pos, false)?;
    let mut lens = pieces.iter().filter(|p| matches!(p, Piece::Len));
    if lens.nth(1).is_some() {
        return Err("`{len}` may appear only once".to_owned());
    }
    let mut out = Vec::new();
    let mut after_len: Option<usize> = None;
    let mut slots = Vec::new();
    for piece in &pieces {
        match piece {
            Piece::Bytes(b) => out.extend_from_slice(b),
            Piece::Len => after_len = Some(out.len()),
            Piece::ClientId => {
                slots.push(out.len());
                out.extend_from_slice(&CLIENT_ID_PLACEHOLDER);
            }
        }
    }
    if let Some(at) = after_len {
        let rest = out.len() - at;
        let vbi = variable_byte_integer(rest)?;
        let shift = vbi.len();
        out.splice(at..at, vbi);
        for slot in &mut slots {
            if *slot >= at {
                *slot += shift;
            }
        }
    }
    if out.len() > MAX_BYTES {
        return Err(format!("expands to more than {MAX_BYTES} bytes"));
    }
    Ok((out, slots))
}

/// Writes `id` (which must be [`CLIENT_ID_LEN`] bytes) at every slot of `bytes`.
pub fn fill_client_id(bytes: &mut [u8], slots: &[usize], id: &[u8; CLIENT_ID_LEN]) {
    for &at in slots {
        if let Some(dst) = bytes.get_mut(at..at + CLIENT_ID_LEN) {
            dst.copy_from_slice(id);
        }
    }
}

/// `n` as an MQTT Variable Byte Integer (at most 268,435,455).
pub fn variable_byte_integer(n: usize) -> Result<Vec<u8>, String> {
    if n > 268_435_455 {
        return Err(format!("{n} does not fit a Variable Byte Integer"));
    }
    let mut n = n;
    let mut out = Vec::with_capacity(4);
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return Ok(out);
        }
    }
}

fn parse(chars: &[char], pos: &mut usize, nested: bool) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut bytes = Vec::new();
    while let Some(&c) = chars.get(*pos) {
        match c {
            c if c.is_whitespace() || c == ',' => *pos += 1,
            ']' if nested => {
                *pos += 1;
                pieces.push(Piece::Bytes(bytes));
                return Ok(pieces);
            }
            '[' => {
                *pos += 1;
                let inner = parse(chars, pos, true)?;
                let mut block = Vec::new();
                for p in inner {
                    match p {
                        Piece::Bytes(b) => block.extend(b),
                        Piece::Len => return Err("`{len}` cannot be inside `[...]`".to_owned()),
                        Piece::ClientId => {
                            return Err("`{cid}` cannot be inside `[...]`".to_owned())
                        }
                    }
                }
                if chars.get(*pos) != Some(&'*') {
                    return Err("`[...]` must be followed by `*N`".to_owned());
                }
                *pos += 1;
                let n = number(chars, pos)?;
                if block.len().saturating_mul(n) + bytes.len() > MAX_BYTES {
                    return Err(format!("expands to more than {MAX_BYTES} bytes"));
                }
                for _ in 0..n {
                    bytes.extend_from_slice(&block);
                }
            }
            '\'' => {
                *pos += 1;
                loop {
                    match chars.get(*pos) {
                        None => return Err("unterminated '...' text".to_owned()),
                        Some('\'') => {
                            *pos += 1;
                            break;
                        }
                        Some(ch) => {
                            let mut buf = [0u8; 4];
                            bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            *pos += 1;
                        }
                    }
                }
            }
            '{' => {
                let end = chars[*pos..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or("unterminated `{...}`")?;
                let inner: String = chars[*pos + 1..*pos + end].iter().collect();
                *pos += end + 1;
                let inner = inner.trim();
                if inner == "len" {
                    if nested {
                        return Err("`{len}` cannot be inside `[...]`".to_owned());
                    }
                    pieces.push(Piece::Bytes(std::mem::take(&mut bytes)));
                    pieces.push(Piece::Len);
                } else if inner == "cid" {
                    if nested {
                        return Err("`{cid}` cannot be inside `[...]`".to_owned());
                    }
                    pieces.push(Piece::Bytes(std::mem::take(&mut bytes)));
                    pieces.push(Piece::ClientId);
                } else if let Some(n) = inner.strip_prefix("vbi:") {
                    let n: usize = n
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad number in `{{{inner}}}`"))?;
                    bytes.extend(variable_byte_integer(n)?);
                } else if let Some(n) = inner.strip_prefix("u16:") {
                    let n: u16 = n
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad number in `{{{inner}}}` (0..=65535)"))?;
                    bytes.extend_from_slice(&n.to_be_bytes());
                } else {
                    return Err(format!(
                        "unknown `{{{inner}}}` (use {{len}}, {{vbi:N}}, {{u16:N}}, {{cid}})"
                    ));
                }
            }
            c if c.is_ascii_hexdigit() => {
                let hi = c;
                let lo = chars
                    .get(*pos + 1)
                    .copied()
                    .filter(char::is_ascii_hexdigit)
                    .ok_or_else(|| format!("odd hex digit `{hi}` (hex bytes are two digits)"))?;
                let value = (hi.to_digit(16).unwrap_or(0) << 4) | lo.to_digit(16).unwrap_or(0);
                bytes.push(value as u8);
                *pos += 2;
            }
            other => return Err(format!("unexpected `{other}` in hex")),
        }
        if bytes.len() > MAX_BYTES {
            return Err(format!("expands to more than {MAX_BYTES} bytes"));
        }
    }
    if nested {
        return Err("unterminated `[...]`".to_owned());
    }
    pieces.push(Piece::Bytes(bytes));
    Ok(pieces)
}

fn number(chars: &[char], pos: &mut usize) -> Result<usize, String> {
    let start = *pos;
    while chars.get(*pos).is_some_and(char::is_ascii_digit) {
        *pos += 1;
    }
    let digits: String = chars[start..*pos].iter().collect();
    digits
        .parse()
        .map_err(|_| "`*` must be followed by a decimal count".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_hex_with_spaces_and_joined_digits_expands() {
        assert_eq!(expand("c0 00").unwrap(), vec![0xc0, 0x00]);
        assert_eq!(expand("4002,0001").unwrap(), vec![0x40, 2, 0, 1]);
    }

    #[test]
    fn len_counts_the_bytes_after_it_including_repeats() {
        let b = expand("30 {len} {u16:3} 'a/b' [2f]*200").unwrap();
        assert_eq!(&b[..3], &[0x30, 0xcd, 0x01]); // 2 + 3 + 200 = 205
        assert_eq!(b.len(), 3 + 205);
    }

    #[test]
    fn variable_byte_integers_use_the_minimal_form() {
        assert_eq!(variable_byte_integer(127).unwrap(), vec![0x7f]);
        assert_eq!(variable_byte_integer(128).unwrap(), vec![0x80, 0x01]);
        assert_eq!(
            variable_byte_integer(268_435_455).unwrap(),
            vec![0xff, 0xff, 0xff, 0x7f]
        );
        assert!(variable_byte_integer(268_435_456).is_err());
    }

    #[test]
    fn client_id_slots_are_counted_by_len_and_shifted_by_it() {
        let (mut b, slots) = expand_with_client_ids("10 {len} {u16:12} {cid} 00").unwrap();
        assert_eq!(b.len(), 2 + 2 + CLIENT_ID_LEN + 1);
        assert_eq!(b[1] as usize, 2 + CLIENT_ID_LEN + 1);
        assert_eq!(slots, vec![4]);
        fill_client_id(&mut b, &slots, b"abcdefghijkl");
        assert_eq!(&b[4..16], b"abcdefghijkl");
        assert!(expand("{cid}").unwrap_err().contains("connect"));
        assert!(expand_with_client_ids("[{cid}]*2").is_err());
    }

    #[test]
    fn bad_templates_are_rejected_with_a_reason() {
        assert!(expand("c").unwrap_err().contains("odd hex"));
        assert!(expand("[00]").unwrap_err().contains("*N"));
        assert!(expand("{len} {len}").unwrap_err().contains("once"));
        assert!(expand("[00]*99999999").unwrap_err().contains("more than"));
        assert!(expand("zz").is_err());
    }
}
