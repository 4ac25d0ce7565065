//! `mqttspec decode`, run as the built binary: one packet of each type for both protocol
//! versions (JSON snapshots), the error lines for bytes that are not exactly one valid packet,
//! usage errors for bad hex, and hex read from standard input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use bytes::Bytes;
use mqttspec::commands::decode::DecodeCommandError;
use mqttspec::commands::decode::{decode_to_json, parse_hex};
use mqttspec_codec::ProtocolVersion;

fn mqttspec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mqttspec"))
}

/// Runs `mqttspec decode --protocol <protocol> <hex>...`.
fn decode(protocol: &str, hex: &[&str]) -> Output {
    mqttspec()
        .args(["decode", "--protocol", protocol])
        .args(hex)
        .stdin(Stdio::null())
        .output()
        .expect("run mqttspec")
}

/// Runs `mqttspec decode --protocol <protocol> -` with `input` on standard input.
fn decode_stdin(protocol: &str, input: &str) -> Output {
    let mut child = mqttspec()
        .args(["decode", "--protocol", protocol, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mqttspec");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait for mqttspec")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Asserts success (exit 0, nothing on stderr) and returns stdout.
fn success(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    assert_eq!(stderr(out), "");
    stdout(out)
}

/// Asserts a decode failure (exit 1, nothing on stdout, exactly one line on stderr) and
/// returns that line.
fn failure(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(out));
    assert_eq!(stdout(out), "");
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.ends_with('\n'), "{err:?}");
    err.trim_end().to_owned()
}

/// Asserts a usage error (exit 2, nothing on stdout) and returns stderr.
fn usage_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    assert_eq!(stdout(out), "");
    stderr(out)
}

/// One test per packet: decoding must succeed and stdout is snapshotted (insta, JSON text).
/// Also collects the packets in `SAMPLES`.
macro_rules! snapshot_cases {
    ($( $test:ident: $protocol:literal, $snapshot:literal, [$($hex:literal),+ $(,)?]; )*) => {
        $(
            #[test]
            fn $test() {
                let out = decode($protocol, &[$($hex),+]);
                let json = success(&out);
                let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
                assert!(value["type"].is_string(), "{json}");
                insta::assert_snapshot!($snapshot, json);
            }
        )*

        /// Every packet of the snapshot cases (protocol, hex pieces).
        const SAMPLES: &[(&str, &[&str])] = &[$( ($protocol, &[$($hex),+]) ),*];
    };
}

snapshot_cases! {
    v5_connect_shows_properties_will_and_credentials: "5", "v5_connect", [
        "10 51 00 04 4d 51 54 54 05 ce 00 3c",
        "16 11 00 00 00 78 21 00 14 27 00 00 10 00 17 00 26 00 01 61 00 01 62",
        "00 03 63 69 64",
        "14 18 00 00 00 05 01 01 03 00 0a 74 65 78 74 2f 70 6c 61 69 6e",
        "00 04 77 69 6c 6c 00 03 62 79 65 00 04 75 73 65 72 00 03 01 02 03",
    ];
    v5_connack_shows_session_present_reason_code_and_capabilities: "5", "v5_connack", [
        "20 1d 01 00 1a 11 00 00 00 3c 22 00 0a 12 00 06 61 75 74 6f 2d 31",
        "24 01 25 00 13 00 1e 2a 00",
    ];
    v5_publish_shows_flags_repeated_properties_and_payload: "5", "v5_publish", [
        "3b 3b 00 03 61 2f 62 00 0a",
        "2e 01 01 02 00 00 00 3c 08 00 07 72 65 70 6c 79 2f 31 09 00 02 ca fe",
        "0b 05 0b 80 01 23 00 01 26 00 01 6b 00 02 76 31 26 00 01 6b 00 02 76 32",
        "68 65 6c 6c 6f",
    ];
    v5_puback_shows_reason_code_and_reason_string: "5", "v5_puback", [
        "40 15 00 0a 10 11 1f 00 0e 6e 6f 62 6f 64 79 20 6c 69 73 74 65 6e 73",
    ];
    v5_pubrec_without_properties_shows_its_reason_code: "5", "v5_pubrec", ["50 03 00 0b 80"];
    v5_pubrel_short_form_shows_success: "5", "v5_pubrel", ["62 02 00 0b"];
    v5_pubcomp_shows_packet_identifier_not_found: "5", "v5_pubcomp", ["70 03 00 0b 92"];
    v5_subscribe_shows_subscription_options: "5", "v5_subscribe", [
        "82 21 00 0c 09 0b 01 26 00 01 78 00 01 79",
        "00 03 61 2f 2b 1d 00 0c 24 73 68 61 72 65 2f 67 2f 74 2f 23 22",
    ];
    v5_suback_names_reason_codes_as_suback_does: "5", "v5_suback", ["90 06 00 0c 00 00 01 87"];
    v5_unsubscribe_lists_topic_filters: "5", "v5_unsubscribe", [
        "a2 0b 00 0d 00 00 03 61 2f 2b 00 01 23",
    ];
    v5_unsuback_shows_reason_codes: "5", "v5_unsuback", ["b0 05 00 0d 00 00 11"];
    v5_pingreq_shows_the_fixed_header_only: "5", "v5_pingreq", ["c0 00"];
    v5_pingresp_shows_the_fixed_header_only: "5", "v5_pingresp", ["d0 00"];
    v5_disconnect_shows_reason_code_and_properties: "5", "v5_disconnect", [
        "e0 0d 04 0b 11 00 00 00 00 1f 00 03 62 79 65",
    ];
    v5_auth_shows_authentication_method_and_data: "5", "v5_auth", [
        "f0 15 18 13 15 00 0b 53 43 52 41 4d 2d 53 48 41 2d 31 16 00 02 ab cd",
    ];
    v311_connect_shows_clean_session_will_and_credentials: "3.1.1", "v311_connect", [
        "10 1c 00 04 4d 51 54 54 04 f6 00 3c 00 04 63 33 31 31",
        "00 01 77 00 01 78 00 01 75 00 01 70",
    ];
    v311_connack_shows_the_return_code_with_its_name: "3.1.1", "v311_connack", ["20 02 00 05"];
    v311_publish_with_binary_payload_has_no_utf8_text: "3.1.1", "v311_publish", [
        "34 09 00 03 61 2f 62 00 01 ff 00",
    ];
    v311_puback_shows_only_the_packet_identifier: "3.1.1", "v311_puback", ["40 02 00 01"];
    v311_pubrec_shows_only_the_packet_identifier: "3.1.1", "v311_pubrec", ["50 02 00 01"];
    v311_pubrel_shows_only_the_packet_identifier: "3.1.1", "v311_pubrel", ["62 02 00 01"];
    v311_pubcomp_shows_only_the_packet_identifier: "3.1.1", "v311_pubcomp", ["70 02 00 01"];
    v311_subscribe_shows_requested_qos: "3.1.1", "v311_subscribe", [
        "82 0c 00 02 00 03 61 2f 23 01 00 01 62 02",
    ];
    v311_suback_shows_return_codes: "3.1.1", "v311_suback", ["90 04 00 02 01 80"];
    v311_unsubscribe_lists_topic_filters: "3.1.1", "v311_unsubscribe", [
        "a2 07 00 03 00 03 61 2f 23",
    ];
    v311_unsuback_shows_only_the_packet_identifier: "3.1.1", "v311_unsuback", ["b0 02 00 03"];
    v311_pingreq_shows_the_fixed_header_only: "3.1.1", "v311_pingreq", ["c0 00"];
    v311_pingresp_shows_the_fixed_header_only: "3.1.1", "v311_pingresp", ["d0 00"];
    v311_disconnect_has_no_reason_code: "3.1.1", "v311_disconnect", ["e0 00"];
}

#[test]
fn malformed_packet_names_class_reason_code_and_statement() {
    // PUBLISH with QoS bits 11.
    let line = failure(&decode("5", &["36 05 00 01 61 00 01"]));
    assert!(
        line.starts_with("malformed packet (reason code 0x81) [MQTT-3.3.1-4]"),
        "{line}"
    );
    assert!(line.contains("PUBLISH"), "{line}");
}

#[test]
fn v311_error_cites_the_311_statement() {
    let line = failure(&decode("3.1.1", &["36 05 00 01 61 00 01"]));
    assert!(line.starts_with("malformed packet"), "{line}");
    assert!(line.contains("[MQTT-3.3.1-4]"), "{line}");
    assert!(line.contains("MQTT 3.1.1"), "{line}");
}

#[test]
fn protocol_error_names_class_reason_code_and_statement() {
    // PUBLISH with Topic Alias 0.
    let line = failure(&decode("5", &["30 07 00 01 61 03 23 00 00"]));
    assert!(
        line.starts_with("protocol error (reason code 0x94) [MQTT-3.3.2-8]"),
        "{line}"
    );
}

#[test]
fn truncated_packet_is_incomplete() {
    let line = failure(&decode("5", &["30 05 00 03 61"]));
    assert!(line.starts_with("incomplete"), "{line}");
    assert!(line.contains("2 more byte(s)"), "{line}");
}

#[test]
fn empty_input_is_incomplete() {
    let line = failure(&decode("5", &[""]));
    assert!(line.starts_with("incomplete"), "{line}");
}

#[test]
fn bytes_after_the_packet_are_refused() {
    let line = failure(&decode("5", &["c0 00 00"]));
    assert!(
        line.starts_with("malformed packet (reason code 0x81)"),
        "{line}"
    );
    assert!(line.contains("1 trailing byte(s)"), "{line}");
}

#[test]
fn bytes_after_the_last_field_within_the_packet_are_refused() {
    let line = failure(&decode("3.1.1", &["40 03 00 01 00"]));
    assert!(line.starts_with("malformed packet"), "{line}");
    assert!(
        line.contains("trailing byte(s) after the last field of PUBACK"),
        "{line}"
    );
}

#[test]
fn auth_is_refused_in_311() {
    let line = failure(&decode("3.1.1", &["f0 00"]));
    assert!(line.starts_with("malformed packet"), "{line}");
    assert!(line.contains("reserved control packet type 15"), "{line}");
    // The same bytes are a valid AUTH in MQTT 5.0.
    let json = success(&decode("5", &["f0 00"]));
    assert!(json.contains("\"AUTH\""), "{json}");
}

#[test]
fn odd_number_of_hex_digits_is_a_usage_error() {
    let err = usage_error(&decode("5", &["c0 0"]));
    assert!(err.contains("odd number of hex digits"), "{err}");
    assert!(err.contains("Usage: mqttspec decode"), "{err}");
}

#[test]
fn non_hex_character_is_a_usage_error_naming_it() {
    let err = usage_error(&decode("5", &["c0 0g"]));
    assert!(
        err.contains("'g' at position 5 is not a hex digit"),
        "{err}"
    );
}

#[test]
fn dash_mixed_with_hex_is_a_usage_error() {
    let err = usage_error(&decode("5", &["c0", "-"]));
    assert!(err.contains("must be the only HEX argument"), "{err}");
}

#[test]
fn unknown_protocol_is_a_usage_error() {
    let err = usage_error(&decode("6", &["c0 00"]));
    assert!(err.contains("unknown protocol version `6`"), "{err}");
}

#[test]
fn missing_hex_is_a_usage_error() {
    usage_error(&decode("5", &[]));
}

#[test]
fn hex_arguments_are_joined_and_spacing_does_not_matter() {
    let spaced = success(&decode("5", &["62 02", "00 0b"]));
    let packed = success(&decode("5", &["6202000B"]));
    let split = success(&decode("5", &["6", "20", "2000b"]));
    assert_eq!(spaced, packed);
    assert_eq!(spaced, split);
    assert!(spaced.contains("\"packet_identifier\": 11"), "{spaced}");
}

#[test]
fn dash_reads_hex_from_stdin() {
    let out = decode_stdin("5", "62 02\n00 0b\n");
    assert_eq!(success(&out), success(&decode("5", &["62 02 00 0b"])));
}

#[test]
fn errors_on_hex_from_stdin_are_reported_the_same_way() {
    let line = failure(&decode_stdin("5", "c0 00 00\n"));
    assert!(line.contains("trailing"), "{line}");
    let err = usage_error(&decode_stdin("5", "c0 0x\n"));
    assert!(err.contains("'x'"), "{err}");
}

#[test]
fn no_truncation_or_single_byte_change_of_a_packet_panics() {
    for (protocol, hex) in SAMPLES {
        let hex = hex.join(" ");
        let version: ProtocolVersion = protocol.parse().unwrap();
        let packet = parse_hex(&hex).unwrap();
        assert!(
            decode_to_json(packet.clone(), version).is_ok(),
            "sample {hex} must decode"
        );
        for end in 0..packet.len() {
            let result = decode_to_json(packet.slice(..end), version);
            assert!(
                matches!(&result, Err(DecodeCommandError::Packet(line)) if line.starts_with("incomplete")),
                "truncation to {end} bytes: {result:?}"
            );
        }
        for i in 0..packet.len() {
            for change in [0x00u8, 0xFF, 0x01, 0x80, 0x7F] {
                let mut bytes = packet.to_vec();
                bytes[i] ^= change;
                // Either a packet or a one-line decode error; never a panic.
                match decode_to_json(Bytes::from(bytes), version) {
                    Ok(json) => assert!(json.starts_with('{')),
                    Err(DecodeCommandError::Packet(line)) => {
                        assert!(!line.contains('\n'), "{line}")
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
        }
    }
}
