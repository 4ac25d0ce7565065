//! Golden vectors: hand-assembled packets from `corpus/golden/` (see its README.md).
//!
//! Every vector must decode, match its insta snapshot, and re-encode to the same bytes (or, for
//! vectors marked `non-canonical`, to different bytes that decode to the same packet and match
//! their own snapshot). A malformed line in a golden file fails the test.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use bytes::Bytes;
use mqttspec_codec::frame::decode_chunked;
use mqttspec_codec::{Packet, PacketType, ProtocolVersion};

/// Whether re-encoding a vector must give back its exact bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Canonical,
    NonCanonical,
}

/// One line of a golden file.
#[derive(Debug, Clone)]
struct Vector {
    line: usize,
    name: String,
    form: Form,
    description: String,
    bytes: Vec<u8>,
}

/// Parses a golden file strictly: any line that is not blank, not a `#` comment and not a
/// well-formed vector is an error naming the line.
fn parse_golden(text: &str) -> Result<Vec<Vector>, String> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split('|').map(str::trim).collect();
        let [name, form, description, hex] = fields[..] else {
            return Err(format!(
                "line {line}: expected 4 fields `name | form | description | hex`, found {}",
                fields.len()
            ));
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "line {line}: name `{name}` must be non-empty [a-z0-9_]"
            ));
        }
        if !names.insert(name.to_owned()) {
            return Err(format!("line {line}: duplicate name `{name}`"));
        }
        let form = match form {
            "canonical" => Form::Canonical,
            "non-canonical" => Form::NonCanonical,
            other => {
                return Err(format!(
                    "line {line}: form `{other}` must be `canonical` or `non-canonical`"
                ))
            }
        };
        if description.is_empty() {
            return Err(format!("line {line}: empty description"));
        }
        let bytes = parse_hex(hex).map_err(|e| format!("line {line}: {e}"))?;
        out.push(Vector {
            line,
            name: name.to_owned(),
            form,
            description: description.to_owned(),
            bytes,
        });
    }
    if out.is_empty() {
        return Err("no vectors".to_owned());
    }
    Ok(out)
}

/// Two-digit hex bytes separated by single spaces.
fn parse_hex(hex: &str) -> Result<Vec<u8>, String> {
    if hex.is_empty() {
        return Err("empty hex field".to_owned());
    }
    hex.split(' ')
        .map(|token| {
            if token.len() != 2 {
                return Err(format!("hex token `{token}` is not two digits"));
            }
            u8::from_str_radix(token, 16).map_err(|_| format!("hex token `{token}` is not hex"))
        })
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn golden_file(file: &str) -> Vec<Vector> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus/golden")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_golden(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn label(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V311 => "v311",
        ProtocolVersion::V5 => "v5",
    }
}

/// Decodes, snapshots and re-encodes every vector of one file.
fn check_file(file: &str, version: ProtocolVersion) {
    for vector in golden_file(file) {
        let Vector {
            line, name, form, ..
        } = &vector;
        let input = Bytes::from(vector.bytes.clone());
        let packet = Packet::decode(input.clone(), version)
            .unwrap_or_else(|e| panic!("{file}:{line} `{name}` does not decode: {e}"));
        let snapshot = format!("{}_{name}", label(version));
        insta::with_settings!({
            description => vector.description.clone(),
            omit_expression => true,
        }, {
            insta::assert_debug_snapshot!(snapshot.clone(), packet);
        });

        let encoded = packet
            .encode(version)
            .unwrap_or_else(|e| panic!("{file}:{line} `{name}` does not re-encode: {e}"));
        assert_eq!(
            packet.encoded_len(version).ok(),
            Some(encoded.len()),
            "{file}:{line} `{name}`: encoded_len disagrees with encode"
        );
        match form {
            Form::Canonical => assert_eq!(
                to_hex(&encoded),
                to_hex(&input),
                "{file}:{line} `{name}` is marked canonical but re-encodes differently"
            ),
            Form::NonCanonical => {
                assert_ne!(
                    encoded, input,
                    "{file}:{line} `{name}` is marked non-canonical but re-encodes identically"
                );
                let again = Packet::decode(encoded.clone(), version).unwrap_or_else(|e| {
                    panic!("{file}:{line} `{name}`: the re-encoding does not decode: {e}")
                });
                assert_eq!(
                    again, packet,
                    "{file}:{line} `{name}`: the re-encoding decodes to another packet"
                );
                insta::with_settings!({
                    description => format!("re-encoding of: {}", vector.description),
                    omit_expression => true,
                }, {
                    insta::assert_snapshot!(format!("{snapshot}_reencoded"), to_hex(&encoded));
                });
            }
        }
    }
}

fn packet_types(file: &str, version: ProtocolVersion) -> BTreeSet<PacketType> {
    golden_file(file)
        .iter()
        .map(|v| {
            Packet::decode(Bytes::from(v.bytes.clone()), version)
                .unwrap_or_else(|e| panic!("{file}:{} `{}`: {e}", v.line, v.name))
                .packet_type()
        })
        .collect()
}

/// Feeds all vectors of a file, back to back, through the streaming decoder in the given chunk
/// sizes and compares with one-shot decoding.
fn check_streaming(file: &str, version: ProtocolVersion) {
    let vectors = golden_file(file);
    let expected: Vec<Packet> = vectors
        .iter()
        .map(|v| Packet::decode(Bytes::from(v.bytes.clone()), version).expect("decodes"))
        .collect();
    let stream: Vec<u8> = vectors.iter().flat_map(|v| v.bytes.clone()).collect();
    for chunks in [&[1usize][..], &[2, 3, 5], &[7, 64], &[stream.len()]] {
        let got = decode_chunked(&stream, chunks, version)
            .unwrap_or_else(|e| panic!("{file} streamed in chunks {chunks:?}: {e}"));
        assert_eq!(got, expected, "{file} streamed in chunks {chunks:?}");
    }
}

#[test]
fn v311_vectors_decode_match_snapshots_and_reencode() {
    check_file("v311.txt", ProtocolVersion::V311);
}

#[test]
fn v5_vectors_decode_match_snapshots_and_reencode() {
    check_file("v5.txt", ProtocolVersion::V5);
}

#[test]
fn v311_vectors_cover_all_fourteen_packet_types() {
    let expected: BTreeSet<PacketType> = PacketType::ALL
        .into_iter()
        .filter(|t| *t != PacketType::Auth)
        .collect();
    assert_eq!(packet_types("v311.txt", ProtocolVersion::V311), expected);
}

#[test]
fn v5_vectors_cover_all_fifteen_packet_types() {
    let expected: BTreeSet<PacketType> = PacketType::ALL.into_iter().collect();
    assert_eq!(packet_types("v5.txt", ProtocolVersion::V5), expected);
}

#[test]
fn every_golden_file_has_canonical_and_non_canonical_vectors() {
    for file in ["v311.txt", "v5.txt"] {
        let forms: Vec<Form> = golden_file(file).iter().map(|v| v.form).collect();
        assert!(forms.contains(&Form::Canonical), "{file}");
        assert!(forms.contains(&Form::NonCanonical), "{file}");
    }
}

#[test]
fn v311_vectors_decode_the_same_when_streamed_in_chunks() {
    check_streaming("v311.txt", ProtocolVersion::V311);
}

#[test]
fn v5_vectors_decode_the_same_when_streamed_in_chunks() {
    check_streaming("v5.txt", ProtocolVersion::V5);
}

#[test]
fn golden_parser_accepts_comments_blank_lines_and_well_formed_vectors() {
    let text = "# comment\n\n  \nping | canonical | a ping | c0 00\nack | non-canonical | x | 40 03 00 01 00\n";
    let vectors = parse_golden(text).expect("valid file");
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[0].name, "ping");
    assert_eq!(vectors[0].line, 4);
    assert_eq!(vectors[0].form, Form::Canonical);
    assert_eq!(vectors[0].bytes, vec![0xc0, 0x00]);
    assert_eq!(vectors[1].form, Form::NonCanonical);
    assert_eq!(vectors[1].bytes, vec![0x40, 0x03, 0x00, 0x01, 0x00]);
}

#[test]
fn golden_parser_rejects_malformed_lines() {
    let bad = [
        ("three fields", "ping | canonical | c0 00"),
        ("five fields", "ping | canonical | a | b | c0 00"),
        ("bad name characters", "Ping-1 | canonical | a ping | c0 00"),
        ("empty name", " | canonical | a ping | c0 00"),
        ("unknown form", "ping | exact | a ping | c0 00"),
        ("empty description", "ping | canonical |  | c0 00"),
        ("empty hex", "ping | canonical | a ping | "),
        ("odd hex digit", "ping | canonical | a ping | c0 0"),
        ("non-hex", "ping | canonical | a ping | c0 zz"),
        ("bytes not separated", "ping | canonical | a ping | c000"),
        ("double space", "ping | canonical | a ping | c0  00"),
        (
            "duplicate name",
            "ping | canonical | a | c0 00\nping | canonical | b | c0 00",
        ),
        ("no vectors", "# only a comment\n"),
    ];
    for (what, text) in bad {
        assert!(
            parse_golden(text).is_err(),
            "{what}: `{text}` should be rejected"
        );
    }
}
