//! Writing a [`Scenario`] back as a TOML scenario file (what `mqttspec fuzz` does with each
//! finding). [`to_toml`] followed by [`Scenario::parse`] gives the same scenario back.

use std::fmt::Write as _;

use mqttspec_codec::ProtocolVersion;

use super::format::{Expectation, Scenario, Step};
use super::template::CLIENT_ID_LEN;

/// Bytes per line in a rendered `hex` value.
const BYTES_PER_LINE: usize = 32;
/// A run of at least this many equal bytes is written `[xx]*N`.
const RUN_MIN: usize = 16;

/// Renders `scenario` as a scenario file. `notes[i]`, when present, is written as a comment
/// above step `i` (one line; newlines are replaced).
pub fn to_toml(scenario: &Scenario, notes: &[Option<String>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "id = {}", quote(&scenario.id));
    let _ = writeln!(out, "title = {}", quote(&scenario.title));
    let _ = writeln!(out, "source = {}", quote(&scenario.source));
    let protocol = match scenario.protocol {
        ProtocolVersion::V311 => "3.1.1",
        ProtocolVersion::V5 => "5",
    };
    let _ = writeln!(out, "protocol = {}", quote(protocol));
    let statements: Vec<String> = scenario.statements.iter().map(|s| quote(s.id())).collect();
    let _ = writeln!(out, "statements = [{}]", statements.join(", "));
    let _ = writeln!(out, "expect = {}", quote_multiline(&scenario.expect));
    if let Some(c) = &scenario.credentials {
        out.push_str(
            "\n# The runner's own CONNECTs log in with these (so do the recorded ones).\n",
        );
        out.push_str("[credentials]\n");
        let _ = writeln!(out, "username = {}", quote(&c.username));
        if let Some(p) = &c.password {
            let _ = writeln!(out, "password = {}", quote(p));
        }
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        out.push('\n');
        if let Some(Some(note)) = notes.get(i) {
            let _ = writeln!(out, "# {}", note.replace(['\n', '\r'], " "));
        }
        out.push_str("[[step]]\n");
        write_step(&mut out, step);
    }
    out
}

fn write_step(out: &mut String, step: &Step) {
    match step {
        Step::Connect {
            client,
            raw,
            client_id_slots,
            keep_alive,
            same_id_as,
            maximum_packet_size,
        } => {
            let _ = writeln!(out, "connect = {}", quote(client));
            if let Some(other) = same_id_as {
                let _ = writeln!(out, "same_id_as = {}", quote(other));
            }
            if let Some(max) = maximum_packet_size {
                let _ = writeln!(out, "maximum_packet_size = {max}");
            }
            match raw {
                Some(bytes) => {
                    let _ = writeln!(out, "hex = {}", hex_value(bytes, client_id_slots));
                }
                None if *keep_alive != 60 => {
                    let _ = writeln!(out, "keep_alive = {keep_alive}");
                }
                None => {}
            }
        }
        Step::Send {
            client,
            bytes,
            repeat,
            or_closed,
            ws_wire,
        } => {
            let _ = writeln!(out, "send = {}", quote(client));
            let _ = writeln!(out, "hex = {}", hex_value(bytes, &[]));
            if *repeat != 1 {
                let _ = writeln!(out, "repeat = {repeat}");
            }
            if *or_closed {
                out.push_str("or_closed = true\n");
            }
            if *ws_wire {
                out.push_str("ws_wire = true\n");
            }
        }
        Step::Close { client } => {
            let _ = writeln!(out, "close = {}", quote(client));
        }
        Step::Wait { duration } => {
            let _ = writeln!(out, "wait = {}", duration.as_millis());
        }
        Step::Expect {
            client,
            expectation,
        } => write_expectation(out, client, expectation),
    }
}

fn write_expectation(out: &mut String, client: &str, e: &Expectation) {
    let kind = match e {
        Expectation::Closed => "closed",
        Expectation::Disconnect { .. } => "disconnect",
        Expectation::ClosedOrDisconnect { .. } => "closed-or-disconnect",
        Expectation::Packet { .. } => "packet",
        Expectation::NoPacket { .. } => "no-packet",
        Expectation::Connack { .. } => "connack",
        Expectation::WellFormed { .. } => "well-formed",
        Expectation::PublishesMatch { .. } => "publishes-match",
    };
    let _ = writeln!(out, "expect = {}", quote(kind));
    let _ = writeln!(out, "client = {}", quote(client));
    let codes = |v: &[u8]| -> String {
        let list: Vec<String> = v.iter().map(|c| format!("0x{c:02X}")).collect();
        format!("[{}]", list.join(", "))
    };
    match e {
        Expectation::Closed => {}
        Expectation::Disconnect { reasons } | Expectation::ClosedOrDisconnect { reasons } => {
            if !reasons.is_empty() {
                let _ = writeln!(out, "reasons = {}", codes(reasons));
            }
        }
        Expectation::Packet {
            packet_type,
            fields,
            or_closed,
            skip_others,
            or_disconnect,
            absent,
            at_most,
        } => {
            let _ = writeln!(out, "packet = {}", quote(packet_type.name()));
            if let Some(f) = fields {
                if let Ok(value) = toml::Value::try_from(f) {
                    let _ = writeln!(out, "fields = {value}");
                }
            }
            if *or_closed {
                out.push_str("or_closed = true\n");
            }
            if *skip_others {
                out.push_str("skip_others = true\n");
            }
            if !or_disconnect.is_empty() {
                let _ = writeln!(out, "or_disconnect = {}", codes(or_disconnect));
            }
            if !absent.is_empty() {
                let paths: Vec<String> = absent.iter().map(|p| quote(p)).collect();
                let _ = writeln!(out, "absent = [{}]", paths.join(", "));
            }
            if let Some(m) = at_most {
                if let Ok(value) = toml::Value::try_from(m) {
                    let _ = writeln!(out, "at_most = {value}");
                }
            }
        }
        Expectation::NoPacket {
            duration,
            or_closed,
        } => {
            let _ = writeln!(out, "ms = {}", duration.as_millis());
            if *or_closed {
                out.push_str("or_closed = true\n");
            }
        }
        Expectation::Connack {
            codes: c,
            or_closed,
            any_version,
        } => {
            let _ = writeln!(out, "codes = {}", codes(c));
            if *or_closed {
                out.push_str("or_closed = true\n");
            }
            if *any_version {
                out.push_str("any_version = true\n");
            }
        }
        Expectation::WellFormed {
            duration,
            topic_alias_maximum,
        } => {
            let _ = writeln!(out, "ms = {}", duration.as_millis());
            if let Some(max) = topic_alias_maximum {
                let _ = writeln!(out, "topic_alias_maximum = {max}");
            }
        }
        Expectation::PublishesMatch { duration, filters } => {
            let _ = writeln!(out, "ms = {}", duration.as_millis());
            let list: Vec<String> = filters
                .iter()
                .map(|(f, q)| format!("{{ filter = {}, qos = {q} }}", quote(f)))
                .collect();
            let _ = writeln!(out, "filters = [{}]", list.join(", "));
        }
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A TOML multi-line literal string when possible (readable), else a basic string.
fn quote_multiline(s: &str) -> String {
    if s.contains("'''") || s.chars().any(|c| c.is_control() && c != '\n') {
        quote(s)
    } else {
        format!("'''\n{s}'''")
    }
}

/// The `hex` value for `bytes`, with `{cid}` at each client-identifier slot, runs of equal
/// bytes as `[xx]*N`, and line breaks every [`BYTES_PER_LINE`] bytes for long values.
fn hex_value(bytes: &[u8], slots: &[usize]) -> String {
    let mut tokens: Vec<String> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if slots.contains(&i) && i + CLIENT_ID_LEN <= bytes.len() {
            tokens.push("{cid}".to_owned());
            i += CLIENT_ID_LEN;
            continue;
        }
        let b = bytes[i];
        let mut run = 1;
        while bytes.get(i + run) == Some(&b) && !slots.iter().any(|&s| s == i + run) {
            run += 1;
        }
        if run >= RUN_MIN {
            tokens.push(format!("[{b:02x}]*{run}"));
            i += run;
        } else {
            tokens.push(format!("{b:02x}"));
            i += 1;
        }
    }
    if tokens.len() <= BYTES_PER_LINE {
        return quote(&tokens.join(" "));
    }
    let lines: Vec<String> = tokens
        .chunks(BYTES_PER_LINE)
        .map(|chunk| chunk.join(" "))
        .collect();
    format!("\"\"\"\n{}\n\"\"\"", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SAMPLE: &str = r#"
id = "sample"
title = "A sample with \"quotes\""
source = "mqttspec fuzz seed 7"
protocol = "5"
statements = ["MQTT-3.3.2-3"]
expect = """Line one.
Line two."""

[credentials]
username = "fuzz \"user\""
password = "secret"

[[step]]
connect = "a"
hex = "10 {len} 00 04 'MQTT' 05 02 00 3c 00 {u16:12} {cid}"

[[step]]
connect = "b"
keep_alive = 10

[[step]]
send = "a"
hex = "30 {len} {u16:1} 'a' [00]*40"
or_closed = true

[[step]]
send = "b"
hex = "c0 00"
repeat = 3

[[step]]
send = "b"
hex = "82 02 c0 00"
ws_wire = true

[[step]]
close = "b"

[[step]]
connect = "c"
same_id_as = "a"
hex = "10 {len} 00 04 'MQTT' 05 02 00 3c 00 {u16:12} {cid}"

[[step]]
wait = 150

[[step]]
loop = 2
steps = [{ send = "c", hex = "c0 00" }, { expect = "packet", packet = "PINGRESP" }]

[[step]]
expect = "publishes-match"
client = "a"
ms = 200
filters = [{ filter = "a/+", qos = 1 }, { filter = "$share/g/b" }]

[[step]]
expect = "well-formed"
ms = 100
topic_alias_maximum = 3

[[step]]
expect = "packet"
packet = "SUBACK"
fields = [{ packet_identifier = 1 }, { packet_identifier = 2 }]
or_closed = true
skip_others = true
or_disconnect = [0x95, 0x97]

[[step]]
expect = "connack"
codes = [0x84, 0x01]
any_version = true

[[step]]
expect = "closed-or-disconnect"
reasons = [0x81]
"#;

    #[test]
    fn a_written_scenario_parses_back_to_the_same_steps() {
        let path = Path::new("sample.toml");
        let original = Scenario::parse(path, SAMPLE).expect("sample parses");
        let notes = vec![Some("CONNECT\nwith a note".to_owned())];
        let text = to_toml(&original, &notes);
        let back = Scenario::parse(path, &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back.steps, original.steps, "{text}");
        assert_eq!(back.title, original.title);
        assert_eq!(back.expect, original.expect);
        assert_eq!(back.statements, original.statements);
        assert_eq!(back.credentials, original.credentials);
        assert_eq!(
            original.credentials.as_ref().map(|c| c.username.as_str()),
            Some("fuzz \"user\"")
        );
        assert!(text.contains("{cid}"), "{text}");
        assert!(text.contains("[00]*40"), "{text}");
        assert!(text.contains("# CONNECT with a note"), "{text}");
        assert!(text.contains("same_id_as = \"a\""), "{text}");
        assert!(text.contains("wait = 150"), "{text}");
    }

    #[test]
    fn long_byte_strings_are_split_into_lines_that_still_parse() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let value = hex_value(&bytes, &[]);
        assert!(value.lines().count() > 8, "{value}");
        let parsed: toml::Table = toml::from_str(&format!("hex = {value}")).unwrap();
        let hex = parsed["hex"].as_str().unwrap();
        assert_eq!(super::super::template::expand(hex).unwrap(), bytes);
    }
}
