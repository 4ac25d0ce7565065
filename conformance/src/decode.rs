//! `mqttspec decode`: decode exactly one packet given in hex and print it as JSON.
//!
//! The hex may contain whitespace anywhere; several arguments are joined; a single `-` reads
//! the hex from standard input. The bytes must be exactly one packet: bytes after it are an
//! error, as are missing ones. The JSON shape is described in [`crate::json`].
//!
//! Exit status: 0 with the JSON on stdout; 1 when the bytes are not a valid packet, with one
//! line on stderr (the codec's [`DecodeError`](mqttspec_codec::DecodeError): class, MQTT 5.0
//! reason code, statement id); 2 when the input is not hex (a usage error).

use std::io::{Read, Write};

use bytes::Bytes;
use clap::Args;
use mqttspec_codec::packet::FixedHeader;
use mqttspec_codec::{Packet, ProtocolVersion, MAX_VARIABLE_BYTE_INTEGER};

use crate::cli::CommandError;

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
    pub fn run(&self, stdin: &mut dyn Read, stdout: &mut dyn Write) -> Result<(), CommandError> {
        let text = match self.hex.as_slice() {
            [only] if only == "-" => read_stdin(stdin)?,
            args if args.iter().any(|a| a == "-") => {
                return Err(CommandError::Usage(
                    "`-` (read the hex from standard input) must be the only HEX argument".into(),
                ))
            }
            args => args.join(" "),
        };
        let bytes = parse_hex(&text).map_err(|e| CommandError::Usage(e.to_string()))?;
        let json = decode_to_json(bytes, self.protocol)?;
        writeln!(stdout, "{json}")
            .and_then(|()| stdout.flush())
            .map_err(|e| CommandError::Failed(format!("cannot write the output: {e}")))
    }
}

fn read_stdin(stdin: &mut dyn Read) -> Result<String, CommandError> {
    let mut raw = Vec::new();
    stdin
        .take(MAX_STDIN_TEXT + 1)
        .read_to_end(&mut raw)
        .map_err(|e| CommandError::Failed(format!("cannot read standard input: {e}")))?;
    if raw.len() as u64 > MAX_STDIN_TEXT {
        return Err(CommandError::Usage(format!(
            "standard input holds more than {MAX_STDIN_TEXT} bytes of text, \
             more than the hex of the largest possible packet"
        )));
    }
    String::from_utf8(raw)
        .map_err(|_| CommandError::Usage("standard input is not text (not valid UTF-8)".into()))
}

/// Decodes `bytes` as exactly one packet of `version` and renders it as pretty JSON.
///
/// The error is [`CommandError::Failed`] with the decode error's one-line description.
pub fn decode_to_json(bytes: Bytes, version: ProtocolVersion) -> Result<String, CommandError> {
    let header = FixedHeader::parse(&bytes, version);
    let packet = Packet::decode(bytes, version).map_err(|e| CommandError::Failed(e.to_string()))?;
    // The whole packet decoded, so its fixed header parses too.
    let Ok(Some(header)) = header else {
        return Err(CommandError::Failed(
            "internal error: the packet decoded but its fixed header does not parse".into(),
        ));
    };
    let value = crate::json::decoded_packet(&packet, &header, version);
    serde_json::to_string_pretty(&value)
        .map_err(|e| CommandError::Failed(format!("cannot render JSON: {e}")))
}

/// Why some text is not hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexError {
    /// A character that is neither a hex digit nor whitespace; `position` counts characters
    /// from 1.
    InvalidCharacter {
        /// The character.
        character: char,
        /// Where it is (1-based, in characters).
        position: usize,
    },
    /// An odd number of hex digits.
    OddDigits {
        /// How many digits there are.
        digits: usize,
    },
}

impl std::fmt::Display for HexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HexError::InvalidCharacter {
                character,
                position,
            } => write!(
                f,
                "invalid hex: {character:?} at position {position} is not a hex digit"
            ),
            HexError::OddDigits { digits } => write!(
                f,
                "invalid hex: odd number of hex digits ({digits}); each byte takes two"
            ),
        }
    }
}

impl std::error::Error for HexError {}

/// Parses hex digits (either case) into bytes, ignoring whitespace anywhere.
pub fn parse_hex(text: &str) -> Result<Bytes, HexError> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    let mut digits = 0usize;
    for (index, character) in text.chars().enumerate() {
        if character.is_whitespace() {
            continue;
        }
        let Some(nibble) = character.to_digit(16).and_then(|d| u8::try_from(d).ok()) else {
            return Err(HexError::InvalidCharacter {
                character,
                position: index + 1,
            });
        };
        digits += 1;
        match high.take() {
            None => high = Some(nibble),
            Some(h) => out.push((h << 4) | nibble),
        }
    }
    if high.is_some() {
        return Err(HexError::OddDigits { digits });
    }
    Ok(Bytes::from(out))
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
        let CommandError::Failed(line) = err else {
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
        assert!(matches!(err, CommandError::Usage(_)), "{err:?}");
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
        assert!(matches!(err, CommandError::Usage(_)), "{err:?}");
    }
}
