//! Fuzz entry points: the functions the cargo-fuzz targets in `fuzz/` wrap, and that
//! `codec/tests/fuzz_corpus.rs` replays over the committed seeds and regression inputs on
//! stable Rust.
//!
//! Each function takes whatever bytes (or, for [`structured_round_trip`], whatever packet) it
//! is given and never panics on bad input: refusing input is the normal, expected outcome.
//! What it *does* do is check the codec's invariants, with `assert!` and `panic!`, so a panic
//! here always means a real bug (libFuzzer reports it as a crash):
//!
//! | function | input | invariants |
//! |---|---|---|
//! | [`decode_v311`] / [`decode_v5`] | a byte stream | the one-shot decoders and the [`FrameDecoder`] agree; every decoded packet re-encodes, with a truthful [`Packet::encoded_len`], to bytes that decode to the same value; every refusal names a rule of the right specification and an error reason code |
//! | [`round_trip`] | version byte + packet bytes | decode -> encode -> decode gives the same value, and the re-encoding is never longer than the input |
//! | [`stream_split`] | chunking header + byte stream | any chunking of the stream decodes to the same packets, or the same error, as the whole stream at once |
//! | [`structured_round_trip`] | a [`Packet`] and a version | if the packet validates, it encodes, and the encoding decodes to the same value; if not, encoding refuses it with the same error |
//!
//! The byte layouts of the inputs are part of the seed corpora's format (`corpus/fuzz/`,
//! described in `fuzz/README.md`); change them only together with the seeds.

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, ErrorClass};
use crate::frame::{decode_chunked, FrameDecoder};
use crate::packet::{connect_protocol_version, decode_packet, FixedHeader, Packet};
use crate::protocol::ProtocolVersion;

/// What one fuzz input amounted to. The fuzz targets ignore it; the corpus replay test uses
/// it to check that the seeds exercise what they are meant to (valid packets decode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The input held this many packets and nothing else; all of them passed the checks.
    Packets(usize),
    /// Decoding stopped with an error of this class after this many good packets (a stream
    /// that ends inside a packet is refused as [`ErrorClass::Incomplete`]).
    Refused {
        /// Packets decoded (and checked) before the error.
        after: usize,
        /// Why decoding stopped.
        class: ErrorClass,
    },
    /// The input did not describe a packet to check: too short to carry its header, or (for
    /// [`structured_round_trip`]) a packet that fails validation, whose refusal was checked.
    Invalid,
}

/// Decodes `data` as a stream of MQTT 3.1.1 packets with every decoder and checks them.
pub fn decode_v311(data: &[u8]) -> Outcome {
    decode_stream(data, ProtocolVersion::V311)
}

/// Decodes `data` as a stream of MQTT 5.0 packets with every decoder and checks them.
pub fn decode_v5(data: &[u8]) -> Outcome {
    decode_stream(data, ProtocolVersion::V5)
}

/// The version a version byte selects: its lowest bit, 0 for MQTT 3.1.1, 1 for MQTT 5.0.
pub fn version_from_byte(byte: u8) -> ProtocolVersion {
    if byte & 1 == 0 {
        ProtocolVersion::V311
    } else {
        ProtocolVersion::V5
    }
}

/// The version byte [`version_from_byte`] maps to `v` (for building seeds).
pub fn version_byte(v: ProtocolVersion) -> u8 {
    match v {
        ProtocolVersion::V311 => 0,
        ProtocolVersion::V5 => 1,
    }
}

/// Input: one version byte (see [`version_from_byte`]), then the bytes of a packet (anything
/// after the first packet is ignored). Checks that decode -> encode -> decode gives the same
/// value. Values are compared, not bytes: MQTT 3.1.1 allows a non-minimal Remaining Length,
/// MQTT 5.0 allows properties in any order and short forms of acknowledgements.
#[allow(clippy::panic)] // A fuzz oracle: a panic reports a codec bug to the fuzzer.
pub fn round_trip(data: &[u8]) -> Outcome {
    let Some((&version, rest)) = data.split_first() else {
        return Outcome::Invalid;
    };
    let v = version_from_byte(version);
    let input = Bytes::copy_from_slice(rest);
    let (packet, used) = match decode_packet(&input, v) {
        Ok(decoded) => decoded,
        Err(e) => {
            check_error(&e, v);
            return Outcome::Refused {
                after: 0,
                class: e.class(),
            };
        }
    };
    let encoded = packet.encode(v).unwrap_or_else(|e| {
        panic!("decoded a packet the encoder refuses: {e}\ninput: {rest:02X?}\n{packet:#?}")
    });
    assert!(
        encoded.len() <= used,
        "the re-encoding ({} bytes) is longer than the input ({used} bytes)\ninput: {rest:02X?}\nre-encoded: {encoded:02X?}",
        encoded.len()
    );
    let again = Packet::decode(encoded.clone(), v).unwrap_or_else(|e| {
        panic!(
            "the re-encoding does not decode: {e}\ninput: {rest:02X?}\nre-encoded: {encoded:02X?}"
        )
    });
    assert_eq!(
        again, packet,
        "decode -> encode -> decode changed the packet\ninput: {rest:02X?}\nre-encoded: {encoded:02X?}"
    );
    let twice = again.encode(v).unwrap_or_else(|e| {
        panic!("the re-decoded packet no longer encodes: {e}\nre-encoded: {encoded:02X?}")
    });
    assert_eq!(
        twice, encoded,
        "encoding the same value twice gave different bytes"
    );
    if used == rest.len() {
        Outcome::Packets(1)
    } else {
        Outcome::Refused {
            after: 1,
            class: ErrorClass::Incomplete,
        }
    }
}

/// How many chunk-size bytes a stream-split header byte announces: bits 1 to 4 (0..=15).
pub fn chunk_count_from_byte(byte: u8) -> usize {
    usize::from((byte >> 1) & 0x0F)
}

/// The header byte of a [`stream_split`] input for version `v` and `chunks` chunk sizes
/// (at most 15; more are cut to 15).
pub fn stream_split_header(v: ProtocolVersion, chunks: usize) -> u8 {
    let count = u8::try_from(chunks.min(15)).unwrap_or(15);
    version_byte(v) | (count << 1)
}

/// Input: a header byte (bit 0: the version as in [`version_from_byte`]; bits 1 to 4: the
/// number `n` of chunk sizes), then `n` bytes, each a chunk size (0 is skipped; the sizes are
/// cycled), then the byte stream. Checks that feeding the stream to the [`FrameDecoder`] in
/// those chunks, one byte at a time, and all at once gives the same packets or the same error,
/// and that these agree with decoding the stream packet by packet with [`decode_packet`].
#[allow(clippy::panic)] // A fuzz oracle: a panic reports a codec bug to the fuzzer.
pub fn stream_split(data: &[u8]) -> Outcome {
    let Some((&header, rest)) = data.split_first() else {
        return Outcome::Invalid;
    };
    let v = version_from_byte(header);
    let count = chunk_count_from_byte(header);
    let (Some(sizes), Some(stream)) = (rest.get(..count), rest.get(count..)) else {
        return Outcome::Invalid;
    };
    let chunks: Vec<usize> = sizes.iter().copied().map(usize::from).collect();

    let whole = decode_chunked(stream, &[], v);
    let chunked = decode_chunked(stream, &chunks, v);
    assert_eq!(
        chunked, whole,
        "chunks {chunks:?} decode differently from the whole stream\nstream: {stream:02X?}"
    );
    let bytewise = decode_chunked(stream, &[1], v);
    assert_eq!(
        bytewise, whole,
        "one byte at a time decodes differently from the whole stream\nstream: {stream:02X?}"
    );

    // The same stream, packet by packet, with the one-shot decoder.
    let all = Bytes::copy_from_slice(stream);
    let mut offset = 0;
    let mut packets = Vec::new();
    let stopped = loop {
        if offset == all.len() {
            break None;
        }
        match decode_packet(&all.slice(offset..), v) {
            Ok((packet, used)) => {
                assert!(used >= 2, "a packet of {used} bytes");
                offset += used;
                packets.push(packet);
            }
            Err(e) => break Some(e),
        }
    };
    match (&whole, &stopped) {
        (Ok(decoded), None) => {
            assert_eq!(
                decoded, &packets,
                "the frame decoder and decode_packet disagree\nstream: {stream:02X?}"
            );
            Outcome::Packets(decoded.len())
        }
        (Err(e), Some(reference)) => {
            check_error(e, v);
            if e.is_incomplete() {
                assert!(
                    reference.is_incomplete(),
                    "the frame decoder waits for more bytes, decode_packet refuses: {reference}\nstream: {stream:02X?}"
                );
            } else {
                assert_eq!(
                    e, reference,
                    "the frame decoder and decode_packet refuse differently\nstream: {stream:02X?}"
                );
            }
            Outcome::Refused {
                after: packets.len(),
                class: e.class(),
            }
        }
        (Ok(_), Some(e)) => panic!(
            "the frame decoder accepts a stream decode_packet refuses: {e}\nstream: {stream:02X?}"
        ),
        (Err(e), None) => panic!(
            "the frame decoder refuses a stream decode_packet accepts: {e}\nstream: {stream:02X?}"
        ),
    }
}

/// Input: any packet value and a version (built with `arbitrary` by the fuzz target). If the
/// packet validates for `v`, it must encode to exactly [`Packet::encoded_len`] bytes that
/// decode — whole, and through the [`FrameDecoder`] — to the same value. If it does not
/// validate, encoding must refuse it with the same error.
#[allow(clippy::panic)] // A fuzz oracle: a panic reports a codec bug to the fuzzer.
pub fn structured_round_trip(packet: Packet, v: ProtocolVersion) -> Outcome {
    let encoded = packet.encode(v);
    if let Err(refused) = packet.validate(v) {
        assert_eq!(
            encoded.err().as_ref(),
            Some(&refused),
            "validate refuses a packet that encode treats differently\n{packet:#?}"
        );
        assert!(
            !refused.to_string().is_empty(),
            "an encode refusal without a message"
        );
        return Outcome::Invalid;
    }
    let encoded = encoded.unwrap_or_else(|e| {
        panic!("encode refuses a packet that validates for MQTT {v}: {e}\n{packet:#?}")
    });
    assert_eq!(
        packet.encoded_len(v).ok(),
        Some(encoded.len()),
        "encoded_len disagrees with the encoding\n{packet:#?}"
    );
    let decoded = Packet::decode(encoded.clone(), v).unwrap_or_else(|e| {
        panic!("the encoding of a valid packet does not decode: {e}\nbytes: {encoded:02X?}\n{packet:#?}")
    });
    assert_eq!(
        decoded, packet,
        "encode -> decode changed the packet\nbytes: {encoded:02X?}"
    );
    let mut buf = BytesMut::from(encoded.as_ref());
    let streamed = FrameDecoder::new(v).decode(&mut buf);
    assert_eq!(
        streamed,
        Ok(Some(packet)),
        "the frame decoder disagrees with Packet::decode\nbytes: {encoded:02X?}"
    );
    assert!(buf.is_empty(), "the frame decoder left bytes behind");
    Outcome::Packets(1)
}

/// Builds a packet and a version from raw fuzz bytes exactly as the typed
/// `structured_round_trip` fuzz target does (`arbitrary_take_rest` of the pair), and checks it
/// with [`structured_round_trip`]. Lets the replay test run that target's corpus.
#[cfg(feature = "arbitrary")]
pub fn structured_round_trip_bytes(data: &[u8]) -> Outcome {
    use arbitrary::{Arbitrary, Unstructured};
    match <(Packet, ProtocolVersion)>::arbitrary_take_rest(Unstructured::new(data)) {
        Ok((packet, v)) => structured_round_trip(packet, v),
        Err(_) => Outcome::Invalid,
    }
}

/// Every decoder over one buffer: see [`decode_v5`].
#[allow(clippy::panic)] // A fuzz oracle: a panic reports a codec bug to the fuzzer.
fn decode_stream(data: &[u8], v: ProtocolVersion) -> Outcome {
    let bytes = Bytes::copy_from_slice(data);

    // One whole packet, and the first packet of the buffer.
    let whole = Packet::decode(bytes.clone(), v);
    let first = decode_packet(&bytes, v);
    match (&whole, &first) {
        (Ok(p), Ok((q, used))) => {
            assert_eq!(*used, data.len(), "Packet::decode accepted trailing bytes");
            assert_eq!(p, q, "Packet::decode and decode_packet disagree");
        }
        (Ok(p), Err(e)) => panic!("Packet::decode accepts what decode_packet refuses: {e}\n{p:#?}"),
        (Err(e), Ok((_, used))) => assert!(
            *used < data.len(),
            "Packet::decode refuses a whole packet that decode_packet accepts: {e}"
        ),
        (Err(e), Err(f)) => {
            check_error(e, v);
            assert_eq!(e, f, "Packet::decode and decode_packet refuse differently");
        }
    }

    // The fixed header alone, and the version sniffing a server does on the first bytes.
    let header = FixedHeader::parse(data, v);
    match (&header, &first) {
        (Err(e), _) => {
            check_error(e, v);
            assert_eq!(
                first.as_ref().err(),
                Some(e),
                "the fixed header is refused, the packet is not"
            );
        }
        (Ok(Some(h)), Ok((_, used))) => {
            assert_eq!(h.packet_len(), *used, "the fixed header misstates the size")
        }
        (Ok(None), Ok(_)) => panic!("a packet decoded from an incomplete fixed header"),
        (Ok(_), Err(_)) => {}
    }
    check_maximum_packet_size(data, v, &header, &first);

    let sniffed = connect_protocol_version(data);
    if let Err(e) = &sniffed {
        check_error(e, ProtocolVersion::V5);
    }
    if let Ok((Packet::Connect(connect), _)) = &first {
        assert_eq!(
            connect.protocol_version, v,
            "a CONNECT decoded for another protocol version"
        );
        assert_eq!(
            sniffed,
            Ok(Some(v)),
            "connect_protocol_version misreads a CONNECT that decodes for MQTT {v}\ninput: {data:02X?}"
        );
    }

    // The streaming decoder: each step consumes a whole packet, waits, or stops.
    let mut decoder = FrameDecoder::new(v);
    let mut buf = BytesMut::from(data);
    let mut packets = 0;
    loop {
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => {
                assert!(
                    buf.len() + 2 <= before,
                    "the frame decoder returned a packet without consuming it"
                );
                if packets == 0 {
                    assert_eq!(
                        first.as_ref().ok().map(|(q, _)| q),
                        Some(&p),
                        "the frame decoder and decode_packet disagree on the first packet"
                    );
                }
                let consumed = data.get(data.len() - before..data.len() - buf.len());
                check_decoded(&p, v, consumed.unwrap_or_default());
                packets += 1;
            }
            Ok(None) => {
                assert_eq!(
                    buf.len(),
                    before,
                    "the frame decoder ate bytes while waiting"
                );
                assert!(
                    decoder.needed(&buf) >= 1,
                    "the frame decoder waits but needs nothing"
                );
                if packets == 0 {
                    assert!(
                        first.as_ref().is_err_and(DecodeError::is_incomplete),
                        "the frame decoder waits, decode_packet does not"
                    );
                }
                return if buf.is_empty() {
                    if data.is_empty() {
                        Outcome::Invalid
                    } else {
                        Outcome::Packets(packets)
                    }
                } else {
                    Outcome::Refused {
                        after: packets,
                        class: ErrorClass::Incomplete,
                    }
                };
            }
            Err(e) => {
                check_error(&e, v);
                assert!(!e.is_incomplete(), "the frame decoder failed as incomplete");
                if packets == 0 {
                    assert_eq!(
                        first.as_ref().err(),
                        Some(&e),
                        "the frame decoder and decode_packet refuse differently"
                    );
                }
                return Outcome::Refused {
                    after: packets,
                    class: e.class(),
                };
            }
        }
    }
}

/// The Maximum Packet Size used by [`check_maximum_packet_size`]: small, so that both sides of
/// the limit are reached by short inputs.
const SMALL_MAXIMUM_PACKET_SIZE: u32 = 64;

/// A [`FrameDecoder`] with a Maximum Packet Size must refuse an oversized first packet from its
/// fixed header alone (before any of the body is there, so a claimed length never makes it
/// buffer or allocate), and must treat every other input exactly like an unlimited decoder.
#[allow(clippy::panic)] // A fuzz oracle: a panic reports a codec bug to the fuzzer.
fn check_maximum_packet_size(
    data: &[u8],
    v: ProtocolVersion,
    header: &Result<Option<FixedHeader>, DecodeError>,
    first: &Result<(Packet, usize), DecodeError>,
) {
    let limit = SMALL_MAXIMUM_PACKET_SIZE;
    let limited = |bytes: &[u8]| {
        FrameDecoder::new(v)
            .with_max_packet_size(limit)
            .decode(&mut BytesMut::from(bytes))
    };
    match header {
        Ok(Some(h)) if h.packet_len() as u64 > u64::from(limit) => {
            let just_the_header = data.get(..h.header_len).unwrap_or_default();
            for input in [just_the_header, data] {
                let refused = limited(input);
                assert!(
                    matches!(
                        &refused,
                        Err(DecodeError {
                            violation: crate::violation::Violation::PacketTooLarge { .. },
                            ..
                        })
                    ),
                    "a {}-byte packet passes a Maximum Packet Size of {limit}: {refused:?}\ninput: {input:02X?}",
                    h.packet_len()
                );
            }
        }
        _ => {
            let expected = match first {
                Ok((p, _)) => Ok(Some(p.clone())),
                Err(e) if e.is_incomplete() => Ok(None),
                Err(e) => Err(e.clone()),
            };
            assert_eq!(
                limited(data),
                expected,
                "a Maximum Packet Size changes how a packet within it decodes\ninput: {data:02X?}"
            );
        }
    }
}

/// A decoded packet must be valid for encoding, report its size truthfully, and encode to
/// bytes that decode to the same value (`input` is the packet's own bytes, for messages).
#[allow(clippy::panic)] // A fuzz oracle: a panic reports a codec bug to the fuzzer.
fn check_decoded(packet: &Packet, v: ProtocolVersion, input: &[u8]) {
    let encoded = packet.encode(v).unwrap_or_else(|e| {
        panic!("decoded a packet the encoder refuses: {e}\ninput: {input:02X?}\n{packet:#?}")
    });
    assert_eq!(
        packet.encoded_len(v).ok(),
        Some(encoded.len()),
        "encoded_len disagrees with the encoding\ninput: {input:02X?}"
    );
    let again = Packet::decode(encoded.clone(), v).unwrap_or_else(|e| {
        panic!(
            "the re-encoding does not decode: {e}\ninput: {input:02X?}\nre-encoded: {encoded:02X?}"
        )
    });
    assert_eq!(
        &again, packet,
        "decode -> encode -> decode changed the packet\ninput: {input:02X?}"
    );
}

/// A refusal must explain itself in the version it was decoded as: a statement of the right
/// specification (if any), and an error reason code unless it only asks for more bytes.
fn check_error(err: &DecodeError, v: ProtocolVersion) {
    assert_eq!(err.version, v, "an error reported for another version");
    assert!(!err.to_string().is_empty(), "an error without a message");
    if let Some(statement) = err.statement() {
        assert_eq!(
            statement.spec(),
            v.spec(),
            "{err} cites a statement of the other specification"
        );
    }
    if !err.is_incomplete() {
        assert!(
            err.reason_code().is_some_and(|c| c.is_error()),
            "{err} maps to no error reason code"
        );
    }
}
