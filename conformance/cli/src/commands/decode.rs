//! `mqttspec decode`: decode exactly one packet given in hex and print it as JSON.
//!
//! The hex may contain whitespace anywhere; several arguments are joined; a single `-` reads
//! the hex from standard input. The bytes must be exactly one packet: bytes after it are an
//! error, as are missing ones. The JSON shape is described in [`mqttspec_harness::json`].
//!
//! Exit status: 0 with the JSON on stdout; 1 when the bytes are not a valid packet, with one
//! line on stderr (the codec's [`DecodeError`](mqttspec_codec::DecodeError): class, MQTT 5.0
//! reason code, statement id); 2 when the input is not hex (a usage error).

use std::io::{Read, Write};

use bytes::Bytes;
use clap::Args;
use mqttspec_codec::packet::FixedHeader;
use mqttspec_codec::{Packet, ProtocolVersion, MAX_VARIABLE_BYTE_INTEGER};

/// How `mqttspec decode` failed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeCommandError {
    /// The arguments or the input cannot be used (`-` mixed with hex, too much input, not
    /// text).
    #[error("{0}")]
    Usage(String),
    /// The input is not hex.
    #[error(transparent)]
    Hex(#[from] HexError),
    /// The bytes are not exactly one valid packet: the codec's one-line description.
    #[error("{0}")]
    Packet(String),
    /// Standard input could not be read, or the output not written or rendered.
    #[error("{0}")]
    Io(String),
}

/// Arguments of `mqttspec decode`.
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// Protocol version to decode as: 3.1.1 or 5.
    #[arg(short, long, value_name = "3.1.1|5", value_parser = parse_protocol)]
    pub protocol: ProtocolVersion,

    /// The packet in hex, e.g. `c0 00`; spaces are allowed and several arguments are joined.
    /// A single `-` reads the hex from standard input.
    #[arg(value_name = "HEX", required = true, num_args = 1.., allow_hyphen_values = true)]
    pub hex: Vec<String>,
}

fn parse_protocol(s: &str) -> Result<ProtocolVersion, String> {
    s.parse()
}

/// The most hex text read from standard input: two digits for each byte of the largest
/// possible packet, and as much again for whitespace.
const MAX_STDIN_TEXT: u64 = 4 * (5 + MAX_VARIABLE_BYTE_INTEGER as u64);

impl DecodeArgs {
    /// Runs the command: reads the hex (from `stdin` for `-`) and writes the JSON to `stdout`.
    pub fn run(
        &self,
        stdin: &mut dyn Read,
        stdout: &mut dyn Write,
    ) -> Result<(), DecodeCommandError> {
        let text = match self.hex.as_slice() {
            [only] if only == "-" => read_stdin(stdin)?,
            args if args.iter().any(|a| a == "-") => {
                return Err(DecodeCommandError::Usage(
                    "`-` (read the hex from standard input) must be the only HEX argument".into(),
                ))
            }
            args => args.join(" "),
        };
        let bytes = parse_hex(&text)?;
        let json = decode_to_json(bytes, self.protocol)?;
        writeln!(stdout, "{json}")
            .and_then(|()| stdout.flush())
            .map_err(|e| DecodeCommandError::Io(format!("cannot write the output: {e}")))
    }
}

fn read_stdin(stdin: &mut dyn Read) -> Result<String, DecodeCommandError> {
    let mut raw = Vec::new();
    stdin
        .take(MAX_STDIN_TEXT + 1)
        .read_to_end(&mut raw)
        .map_err(|e| DecodeCommandError::Io(format!("cannot read standard input: {e}")))?;
    if raw.len() as u64 > MAX_STDIN_TEXT {
        return Err(DecodeCommandError::Usage(format!(
            "standard input holds more than {MAX_STDIN_TEXT} bytes of text, \
             more than the hex of the largest possible packet"
        )));
    }
    String::from_utf8(raw).map_err(|_| {
        DecodeCommandError::Usage("standard input is not text (not valid UTF-8)".into())
    })
}

/// Decodes `bytes` as exactly one packet of `version` and renders it as pretty JSON.
///
/// The error is [`DecodeCommandError::Packet`] with the decode error's one-line description.
pub fn decode_to_json(
    bytes: Bytes,
    version: ProtocolVersion,
) -> Result<String, DecodeCommandError> {
    let header = FixedHeader::parse(&bytes, version);
    let packet =
        Packet::decode(bytes, version).map_err(|e| DecodeCommandError::Packet(e.to_string()))?;
    // The whole packet decoded, so its fixed header parses too.
    let Ok(Some(header)) = header else {
        return Err(DecodeCommandError::Packet(
            "internal error: the packet decoded but its fixed header does not parse".into(),
        ));
    };
    let value = mqttspec_harness::json::decoded_packet(&packet, &header, version);
    serde_json::to_string_pretty(&value)
        .map_err(|e| DecodeCommandError::Io(format!("cannot render JSON: {e}")))
}

/// Why some text is not hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// A character that is neither a hex digit nor whitespace; `position` counts characters
    /// from 1.
    #[error("invalid hex: {character:?} at position {position} is not a hex digit")]
    InvalidCharacter {
        /// The character.
        character: char,
        /// Where it is (1-based, in characters).
        position: usize,
    },
    /// An odd number of hex digits.
    #[error("invalid hex: odd number of hex digits ({digits}); each byte takes two")]
    OddDigits {
        /// How many digits there are.
        digits: usize,
    },
}

/// Parses hex digits (either case) into bytes, ignoring whitespace anywhere (the digits
/// themselves are decoded by the `hex` crate).
pub fn parse_hex(text: &str) -> Result<Bytes, HexError> {
    // Whitespace is dropped first; `positions[i]` is where the i-th kept character was.
    let mut digits = String::with_capacity(text.len());
    let mut positions = Vec::with_capacity(text.len());
    for (index, character) in text.chars().enumerate() {
        if !character.is_whitespace() {
            digits.push(character);
            positions.push((index + 1, character));
        }
    }
    // The first character that is not a digit is named whatever the count of digits (and
    // before `hex` sees the bytes of a character that is not ASCII).
    if let Some(&(position, character)) = positions.iter().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(HexError::InvalidCharacter {
            character,
            position,
        });
    }
    hex::decode(&digits).map(Bytes::from).map_err(|e| match e {
        hex::FromHexError::InvalidHexCharacter { index, c } => HexError::InvalidCharacter {
            character: c,
            position: positions.get(index).map_or(index + 1, |(p, _)| *p),
        },
        hex::FromHexError::OddLength | hex::FromHexError::InvalidStringLength => {
            HexError::OddDigits {
                digits: positions.len(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ignores_whitespace_and_case() {
        assert_eq!(parse_hex("C0 00").unwrap().as_ref(), &[0xC0, 0x00]);
        assert_eq!(
            parse_hex(" a\tB\n c 0\r\n").unwrap().as_ref(),
            &[0xAB, 0xC0]
        );
        assert_eq!(parse_hex("").unwrap().as_ref(), &[] as &[u8]);
    }

    #[test]
    fn hex_with_an_odd_number_of_digits_is_refused() {
        assert_eq!(parse_hex("c0 0"), Err(HexError::OddDigits { digits: 3 }));
    }

    #[test]
    fn hex_with_a_non_hex_character_names_it_and_its_position() {
        let err = parse_hex("c0 0g").unwrap_err();
        assert_eq!(
            err,
            HexError::InvalidCharacter {
                character: 'g',
                position: 5
            }
        );
        assert!(err.to_string().contains("'g' at position 5"), "{err}");
        assert!(matches!(
            parse_hex("0x10"),
            Err(HexError::InvalidCharacter {
                character: 'x',
                position: 2
            })
        ));
        assert!(matches!(
            parse_hex("ä0"),
            Err(HexError::InvalidCharacter { position: 1, .. })
        ));
    }

    #[test]
    fn decode_to_json_refuses_trailing_bytes() {
        let err = decode_to_json(Bytes::from_static(&[0xC0, 0x00, 0x00]), ProtocolVersion::V5)
            .unwrap_err();
        let DecodeCommandError::Packet(line) = err else {
            panic!("expected a decode failure, got {err:?}");
        };
        assert!(line.starts_with("malformed packet"), "{line}");
        assert!(line.contains("trailing"), "{line}");
    }

    #[test]
    fn decode_to_json_shows_the_packet_type_first() {
        let json =
            decode_to_json(Bytes::from_static(&[0xD0, 0x00]), ProtocolVersion::V311).unwrap();
        assert_eq!(
            json,
            "{\n  \"type\": \"PINGRESP\",\n  \"flags\": 0,\n  \"remaining_length\": 0\n}"
        );
    }

    #[test]
    fn dash_reads_hex_from_the_given_stdin() {
        let args = DecodeArgs {
            protocol: ProtocolVersion::V5,
            hex: vec!["-".into()],
        };
        let mut out = Vec::new();
        args.run(&mut &b"e0 00\n"[..], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\"DISCONNECT\""), "{text}");
        assert!(text.contains("Normal disconnection"), "{text}");
    }

    #[test]
    fn dash_mixed_with_hex_is_a_usage_error() {
        let args = DecodeArgs {
            protocol: ProtocolVersion::V5,
            hex: vec!["c0".into(), "-".into()],
        };
        let err = args.run(&mut &b""[..], &mut Vec::new()).unwrap_err();
        assert!(matches!(err, DecodeCommandError::Usage(_)), "{err:?}");
    }

    #[test]
    fn stdin_that_is_not_text_is_a_usage_error() {
        let args = DecodeArgs {
            protocol: ProtocolVersion::V5,
            hex: vec!["-".into()],
        };
        let err = args
            .run(&mut &[0xC0u8, 0x00][..], &mut Vec::new())
            .unwrap_err();
        assert!(matches!(err, DecodeCommandError::Usage(_)), "{err:?}");
    }
}
