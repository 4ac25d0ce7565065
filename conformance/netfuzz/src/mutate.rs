//! Byte-level mutations of one packet, aware of the MQTT framing: most mutators change the
//! body and then (usually) rewrite the Remaining Length to fit, so the damage reaches the
//! broker's packet parser instead of only its framer; others attack the fixed header itself
//! (flags, type, non-minimal or oversized lengths).

use rand::RngExt;

use super::Rng;
use mqttspec_harness::replay::template::variable_byte_integer;

/// The largest mutated packet (bytes).
pub const MAX_MUTATED_LEN: usize = 64 * 1024;

/// Bytes that often sit on boundaries: zero, one, the VBI continuation bit, all ones, and the
/// UTF-8 lead byte of an overlong encoding.
const INTERESTING: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0x3f, 0x26];

/// The first byte, the Remaining Length and the body of a packet, when the bytes start with a
/// plausible fixed header (the length itself is not checked against the bytes).
fn split(bytes: &[u8]) -> Option<(u8, usize)> {
    let (&first, rest) = bytes.split_first()?;
    rest.iter()
        .take(4)
        .position(|b| b & 0x80 == 0)
        .map(|i| (first, i + 2))
}

/// Rewrites the Remaining Length of `bytes` so it counts the bytes after it.
pub fn fix_length(bytes: &mut Vec<u8>) {
    let Some((first, header_len)) = split(bytes) else {
        return;
    };
    let body_len = bytes.len() - header_len;
    let Ok(vbi) = variable_byte_integer(body_len) else {
        return;
    };
    let mut out = Vec::with_capacity(1 + vbi.len() + body_len);
    out.push(first);
    out.extend(vbi);
    out.extend_from_slice(&bytes[header_len..]);
    *bytes = out;
}

/// Applies 1 to 4 random mutations to `packet` (a whole packet) and returns the result and a
/// short description of what was done. `tokens` are dictionary tokens; `other` is another
/// seed to splice from.
pub fn mutate(rng: &mut Rng, packet: &[u8], tokens: &[Vec<u8>], other: &[u8]) -> (Vec<u8>, String) {
    let mut bytes = packet.to_vec();
    let rounds = rng.random_range(1..=4);
    let mut done: Vec<&'static str> = Vec::new();
    let mut body_changed = false;
    for _ in 0..rounds {
        let header_len = split(&bytes).map_or(1, |(_, h)| h);
        let len = bytes.len();
        let what = rng.random_range(0..13u32);
        match what {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                bytes[i] ^= 1 << rng.random_range(0..8);
                done.push("bit flip");
                body_changed |= i >= header_len;
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                bytes[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
                done.push("interesting byte");
                body_changed |= i >= header_len;
            }
            2 if !tokens.is_empty() => {
                let t = &tokens[rng.random_range(0..tokens.len())];
                let at = rng.random_range(header_len.min(len)..=len);
                bytes.splice(at..at, t.iter().copied());
                done.push("dictionary token");
                body_changed = true;
            }
            3 if len > header_len => {
                let a = rng.random_range(header_len..len);
                let b = rng.random_range(a..=len.min(a + 16));
                bytes.drain(a..b);
                done.push("delete");
                body_changed = true;
            }
            4 if len > header_len => {
                let a = rng.random_range(header_len..len);
                let b = rng.random_range(a..=len.min(a + 32));
                let copy: Vec<u8> = bytes[a..b].to_vec();
                let times = if rng.random_bool(0.1) {
                    rng.random_range(2..200)
                } else {
                    1
                };
                for _ in 0..times {
                    bytes.splice(b..b, copy.iter().copied());
                }
                done.push("duplicate");
                body_changed = true;
            }
            5 if len > 1 => {
                let at = rng.random_range(1..len);
                bytes.truncate(at);
                done.push("truncate");
            }
            6 if len > 0 => {
                bytes[0] = (bytes[0] & 0xf0) | rng.random_range(0..16u8);
                done.push("header flags");
            }
            7 if len > 0 => {
                bytes[0] = (rng.random_range(0..16u8) << 4) | (bytes[0] & 0x0f);
                done.push("packet type");
            }
            8 => {
                // A Remaining Length that claims more or less than what follows.
                if let Some((first, h)) = split(&bytes) {
                    let body = bytes[h..].to_vec();
                    let claim = match rng.random_range(0..4u32) {
                        0 => body.len() + rng.random_range(1..64),
                        1 => body.len().saturating_sub(rng.random_range(1..8)),
                        2 => 268_435_455,
                        _ => rng.random_range(0..2_000_000),
                    };
                    if let Ok(vbi) = variable_byte_integer(claim) {
                        bytes = [vec![first], vbi, body].concat();
                    }
                    done.push("wrong length");
                }
            }
            9 => {
                // The right length in a non-minimal or five-byte encoding.
                if let Some((first, h)) = split(&bytes) {
                    let body = bytes[h..].to_vec();
                    let mut vbi = variable_byte_integer(body.len()).unwrap_or_default();
                    if let Some(last) = vbi.last_mut() {
                        *last |= 0x80;
                    }
                    let pad = rng.random_range(1..=4 - vbi.len().min(3));
                    vbi.resize(vbi.len() + pad - 1, 0x80);
                    vbi.push(0x00);
                    bytes = [vec![first], vbi, body].concat();
                    done.push("non-minimal length");
                }
            }
            10 if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let at = rng.random_range(header_len.min(len)..=len);
                bytes.truncate(at);
                bytes.extend_from_slice(&other[from..]);
                done.push("splice");
                body_changed = true;
            }
            11 => {
                let n = rng.random_range(1..16);
                for _ in 0..n {
                    bytes.push(rng.random());
                }
                done.push("append");
                body_changed = true;
            }
            _ => {
                // A string length that points past the end: the two bytes after the header.
                if len >= header_len + 2 {
                    let v: u16 = rng.random();
                    bytes[header_len..header_len + 2].copy_from_slice(&v.to_be_bytes());
                    done.push("field length");
                    body_changed = true;
                }
            }
        }
        bytes.truncate(MAX_MUTATED_LEN);
    }
    if body_changed && rng.random_bool(0.7) {
        fix_length(&mut bytes);
        done.push("length fixed");
    }
    if bytes.is_empty() {
        bytes.push(0xc0);
    }
    (bytes, done.join(", "))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn fix_length_makes_the_remaining_length_count_the_body() {
        let mut b = vec![0x30, 0x7f, 0x00, 0x01, b'a'];
        fix_length(&mut b);
        assert_eq!(b, vec![0x30, 0x03, 0x00, 0x01, b'a']);
        let mut long = vec![0x30, 0x00];
        long.extend(std::iter::repeat_n(0u8, 200));
        fix_length(&mut long);
        assert_eq!(&long[..3], &[0x30, 0xc8, 0x01]);
    }

    #[test]
    fn mutations_are_deterministic_for_a_seed_and_bounded() {
        let packet = [0x30, 0x05, 0x00, 0x01, b'a', b'h', b'i'];
        let tokens = vec![vec![0x26, 0x00, 0x01, b'k']];
        let run = |seed| {
            let mut rng = Rng::seed_from_u64(seed);
            (0..200)
                .map(|_| mutate(&mut rng, &packet, &tokens, &packet))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        for (bytes, what) in run(5) {
            assert!(
                !bytes.is_empty() && bytes.len() <= MAX_MUTATED_LEN,
                "{what}"
            );
        }
    }

    #[test]
    fn garbage_that_is_not_a_packet_is_mutated_without_panicking() {
        let mut rng = Rng::seed_from_u64(1);
        for input in [
            &[][..],
            &[0xff][..],
            &[0x30, 0xff, 0xff, 0xff, 0xff, 0xff][..],
        ] {
            for _ in 0..500 {
                let _ = mutate(&mut rng, input, &[], input);
            }
        }
    }
}
