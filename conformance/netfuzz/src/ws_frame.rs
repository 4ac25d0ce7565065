//! Mutations at the WebSocket frame layer, for `ws://` and `wss://` targets: the fuzzer builds
//! the frames around an MQTT packet by hand and writes them beneath the client's WebSocket
//! layer ([`TestClient::send_ws_wire`](mqttspec_harness::client::TestClient::send_ws_wire)),
//! so it can send what a WebSocket library never would: fragmentation at odd places, text
//! frames, frames whose length field lies (oversized), unmasked client frames, reserved bits
//! and opcodes, broken control frames, and a Remaining Length larger than the frame that
//! carries it (the shape of a 2026 out-of-bounds read in a broker's WebSocket path).
//!
//! RFC 6455 says what a server does with most of these (fail the connection); section 6 of
//! MQTT says a non-binary data frame closes the connection (MQTT-6.0.0-1) and that packets
//! need not be aligned on frames (MQTT-6.0.0-2). The oracles that judge the broker stay the
//! same: it must not crash, hang or stop serving, whatever the frames.

use rand::RngExt;

use super::Rng;

/// Opcodes (RFC 6455 §5.2).
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;

/// One frame to encode; `claimed` replaces the payload length in the header (a lie).
#[derive(Debug, Clone)]
struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    claimed: Option<u64>,
    /// The length in the 16-bit form although it would fit in 7 bits.
    long_form: bool,
    payload: Vec<u8>,
}

impl Frame {
    fn new(opcode: u8, payload: &[u8]) -> Frame {
        Frame {
            fin: true,
            rsv: 0,
            opcode,
            masked: true,
            claimed: None,
            long_form: false,
            payload: payload.to_vec(),
        }
    }

    fn encode(&self, rng: &mut Rng, out: &mut Vec<u8>) {
        out.push((u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | (self.opcode & 0x0F));
        let len = self.claimed.unwrap_or(self.payload.len() as u64);
        let mask_bit = u8::from(self.masked) << 7;
        if len < 126 && !self.long_form {
            out.push(mask_bit | len as u8);
        } else if len <= 0xFFFF {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        if self.masked {
            let key: [u8; 4] = rng.random();
            out.extend_from_slice(&key);
            out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            out.extend_from_slice(&self.payload);
        }
    }
}

/// Raises the Remaining Length of `packet` above what follows it (the frame ends first).
fn overlong_remaining_length(rng: &mut Rng, packet: &[u8]) -> (Vec<u8>, usize) {
    let body = packet.get(1..).map_or(0, |rest| {
        let header = rest.iter().take(4).position(|b| b & 0x80 == 0).unwrap_or(0) + 1;
        rest.len().saturating_sub(header)
    });
    let claim = match rng.random_range(0..3u32) {
        0 => body + rng.random_range(1..16),
        1 => body + rng.random_range(16..100_000),
        _ => 268_435_455,
    };
    let first = packet.first().copied().unwrap_or(0x30);
    let mut header = bytes::BytesMut::new();
    // Every claim is within the Variable Byte Integer range (at most 268,435,455).
    let _ =
        mqttspec_codec::writer::put_variable_byte_integer(&mut header, claim, "Remaining Length");
    let mut out = vec![first];
    out.extend_from_slice(&header);
    let header = packet.get(1..).map_or(0, |rest| {
        rest.iter().take(4).position(|b| b & 0x80 == 0).unwrap_or(0) + 2
    });
    out.extend_from_slice(packet.get(header..).unwrap_or_default());
    (out, claim)
}

/// Wraps `packet` (MQTT bytes, possibly mutated already) in hand-built frames broken in one
/// random way; returns the wire bytes and what was done.
pub fn mutate(rng: &mut Rng, packet: &[u8]) -> (Vec<u8>, String) {
    let mut frames: Vec<Frame> = Vec::new();
    let what = match rng.random_range(0..12u32) {
        0 | 1 => {
            // Fragmentation at odd places (legal: the broker must reassemble), sometimes with
            // a ping between fragments (also legal).
            let pieces = rng.random_range(2..=5usize).min(packet.len().max(1));
            let mut cuts: Vec<usize> = (1..pieces)
                .map(|_| rng.random_range(0..=packet.len()))
                .collect();
            cuts.sort_unstable();
            let mut start = 0;
            let ping = rng.random_bool(0.3);
            for (n, end) in cuts.into_iter().chain([packet.len()]).enumerate() {
                let mut f = Frame::new(
                    if n == 0 { BINARY } else { CONTINUATION },
                    &packet[start..end],
                );
                f.fin = false;
                frames.push(f);
                if ping && n == 0 {
                    frames.push(Frame::new(PING, b"mqttspec"));
                }
                start = end;
            }
            if let Some(last) = frames.iter_mut().rev().find(|f| f.opcode != PING) {
                last.fin = true;
            }
            format!("a message fragmented into {pieces} frames")
        }
        2 => {
            frames.push(Frame::new(TEXT, packet));
            "a text frame (MQTT-6.0.0-1: the connection must close)".to_owned()
        }
        3 => {
            let mut f = Frame::new(BINARY, packet);
            let claim = match rng.random_range(0..3u32) {
                0 => u64::MAX >> 1,
                1 => 1 << 32,
                _ => (16 << 20) + 1,
            };
            f.claimed = Some(claim);
            frames.push(f);
            format!("a frame claiming {claim} bytes (oversized)")
        }
        4 => {
            let mut f = Frame::new(BINARY, packet);
            f.masked = false;
            frames.push(f);
            "an unmasked client frame".to_owned()
        }
        5 => {
            let (bytes, claim) = overlong_remaining_length(rng, packet);
            frames.push(Frame::new(BINARY, &bytes));
            format!(
                "a frame of {} bytes whose packet claims Remaining Length {claim}",
                bytes.len()
            )
        }
        6 => {
            let mut f = Frame::new(BINARY, packet);
            let rsv = rng.random_range(1..8u8);
            f.rsv = rsv;
            frames.push(f);
            format!("reserved bits {rsv:03b} set")
        }
        7 => {
            let op = [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF][rng.random_range(0..10usize)];
            frames.push(Frame::new(op, packet));
            format!("reserved opcode {op:#x}")
        }
        8 => {
            frames.push(Frame::new(CONTINUATION, packet));
            "a continuation frame with no message begun".to_owned()
        }
        9 => {
            if rng.random_bool(0.5) {
                let mut f = Frame::new(PING, &[0x55; 200]);
                f.payload.truncate(rng.random_range(126..200));
                frames.push(f);
                frames.push(Frame::new(BINARY, packet));
                "a ping frame longer than 125 bytes".to_owned()
            } else {
                let mut f = Frame::new(PING, b"x");
                f.fin = false;
                frames.push(f);
                frames.push(Frame::new(BINARY, packet));
                "a fragmented ping frame".to_owned()
            }
        }
        10 => {
            let mut f = Frame::new(BINARY, packet);
            f.long_form = true;
            frames.push(f);
            frames.push(Frame::new(CLOSE, &[0x03]));
            "a non-minimal length, then a close frame with a 1-byte payload".to_owned()
        }
        _ => {
            let half = packet.len() / 2;
            let mut first = Frame::new(BINARY, &packet[..half]);
            first.fin = false;
            frames.push(first);
            frames.push(Frame::new(BINARY, &packet[half..]));
            "a new binary message inside a fragmented one".to_owned()
        }
    };
    let mut wire = Vec::with_capacity(packet.len() + 16 * frames.len());
    for f in &frames {
        f.encode(rng, &mut wire);
    }
    (wire, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn frames_are_encoded_as_rfc_6455_says() {
        let mut rng = Rng::seed_from_u64(1);
        let mut out = Vec::new();
        let mut f = Frame::new(BINARY, &[0xC0, 0x00]);
        f.masked = false;
        f.encode(&mut rng, &mut out);
        assert_eq!(out, [0x82, 0x02, 0xC0, 0x00]);
        let mut out = Vec::new();
        Frame::new(BINARY, &[0xC0, 0x00]).encode(&mut rng, &mut out);
        assert_eq!(&out[..2], &[0x82, 0x82]);
        let key = [out[2], out[3], out[4], out[5]];
        assert_eq!([out[6] ^ key[0], out[7] ^ key[1]], [0xC0, 0x00]);
        let mut out = Vec::new();
        let mut f = Frame::new(TEXT, &[]);
        f.claimed = Some(1 << 32);
        f.masked = false;
        f.encode(&mut rng, &mut out);
        assert_eq!(out, [0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn every_mutation_produces_bytes() {
        let mut rng = Rng::seed_from_u64(7);
        for _ in 0..500 {
            let (wire, what) = mutate(&mut rng, &[0x30, 0x05, 0x00, 0x01, b't', b'h', b'i']);
            assert!(!wire.is_empty() && !what.is_empty());
        }
        let (bytes, claim) = overlong_remaining_length(&mut rng, &[0x30, 0x03, 0x00, 0x01, b't']);
        assert!(claim > 3);
        assert_eq!(bytes.first(), Some(&0x30));
        assert!(bytes.ends_with(&[0x00, 0x01, b't']));
    }
}
