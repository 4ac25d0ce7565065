//! mqttspec client adapter for rumqttc (Rust); protocol: conformance/clients/ADAPTER.md.
//!
//! Layout: `main.rs` reads commands (JSON lines on stdin) and writes events (JSON lines on
//! stdout); `v5.rs` and `v311.rs` drive rumqttc's `v5` and 3.1.1 clients, which are separate
//! types in rumqttc.
//!
//! rumqttc's `EventLoop` owns the connection; the application drives it by calling `poll`. A
//! task per client polls it while connected and waits for the next `connect` command after the
//! connection ended, so automatic reconnection never happens and the same `EventLoop` (with its
//! in-flight messages) is used again. After the client's own DISCONNECT went out the task stops
//! polling and drops the connection (`EventLoop::clean`), as an application would.

mod v311;
mod v5;

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

const ADAPTER_VERSION: &str = "1";
const LIBRARY_VERSION: &str = "0.25.1";

/// Writes one event line.
pub(crate) fn emit(mut v: Value, token: Option<u64>) {
    if let (Some(t), Value::Object(m)) = (token, &mut v) {
        m.insert("token".into(), json!(t));
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

pub(crate) fn emit_error(command: &str, message: impl std::fmt::Display, token: Option<u64>) {
    emit(
        json!({"event": "error", "command": command, "message": message.to_string()}),
        token,
    );
}

pub(crate) fn emit_unsupported(what: &str, token: Option<u64>) {
    emit(json!({ "unsupported": what }), token);
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0))
        .collect()
}

/// The payload of a command or will: `payload_hex`, else `payload` (text or number).
pub(crate) fn payload_of(c: &Map<String, Value>) -> Vec<u8> {
    if let Some(h) = c.get("payload_hex").and_then(Value::as_str) {
        return unhex(h);
    }
    match c.get("payload") {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => other.to_string().into_bytes(),
    }
}

pub(crate) fn bytes_of_hex(s: &str) -> Vec<u8> {
    unhex(s)
}

/// A `message` event.
pub(crate) fn message_event(
    topic: &[u8],
    payload: &[u8],
    qos: u8,
    retain: bool,
    dup: bool,
    properties: Map<String, Value>,
) -> Value {
    let mut ev = json!({
        "event": "message",
        "topic": String::from_utf8_lossy(topic),
        "payload_hex": hex(payload),
        "qos": qos,
        "retain": retain,
        "dup": dup,
        "properties": properties,
    });
    if let Ok(text) = std::str::from_utf8(payload) {
        ev["payload"] = json!(text);
    }
    ev
}

pub(crate) fn u64_of(c: &Map<String, Value>, key: &str) -> Option<u64> {
    c.get(key).and_then(|v| match v {
        Value::Bool(b) => Some(u64::from(*b)),
        other => other.as_u64(),
    })
}

pub(crate) fn bool_of(c: &Map<String, Value>, key: &str, default: bool) -> bool {
    u64_of(c, key).map_or(default, |v| v != 0)
}

pub(crate) fn str_of<'a>(c: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    c.get(key).and_then(Value::as_str)
}

pub(crate) fn user_properties(c: &Map<String, Value>) -> Vec<(String, String)> {
    c.get("user_properties")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|p| {
                    let p = p.as_array()?;
                    Some((
                        p.first()?.as_str()?.to_owned(),
                        p.get(1)?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the command side and the polling task share: the tokens of commands whose packets
/// have not gone out yet (in order), and of packets waiting for their acknowledgement.
#[derive(Default)]
pub(crate) struct Tokens {
    pub publishes: VecDeque<(Option<u64>, u8)>,
    pub subscribes: VecDeque<Option<u64>>,
    pub unsubscribes: VecDeque<Option<u64>>,
    /// Packet Identifier -> token, for PUBLISH (QoS 1/2), SUBSCRIBE and UNSUBSCRIBE.
    pub inflight: HashMap<u16, Option<u64>>,
    pub subs: HashMap<u16, Option<u64>>,
    pub unsubs: HashMap<u16, Option<u64>>,
    /// A network connection exists (the task is polling).
    pub connected: bool,
    /// The application asked to disconnect.
    pub closing: bool,
}

pub(crate) type Shared = Arc<Mutex<Tokens>>;

pub(crate) fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Tokens> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

enum Client {
    None,
    V5(v5::Driver),
    V311(v311::Driver),
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    emit(
        json!({"event": "ready", "library": "rumqttc", "version": LIBRARY_VERSION, "adapter": ADAPTER_VERSION}),
        None,
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut client = Client::None;
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let c = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m,
            _ => {
                emit(
                    json!({"event": "error", "message": "bad command: not a JSON object"}),
                    None,
                );
                continue;
            }
        };
        let token = u64_of(&c, "token");
        let cmd = str_of(&c, "cmd").unwrap_or("").to_owned();
        match cmd.as_str() {
            "connect" if str_of(&c, "transport").is_some_and(|t| t != "tcp") => {
                // The adapter builds rumqttc without its TLS and WebSocket features (they
                // would pull in another TLS and WebSocket stack): plain TCP only.
                let t = str_of(&c, "transport").unwrap_or("");
                emit(
                    json!({"unsupported": format!("connect.transport={t} (rumqttc built without TLS and WebSocket)")}),
                    token,
                );
            }
            "connect" if c.get("authentication_method").is_some_and(|m| !m.is_null()) => {
                // rumqttc's enhanced authentication (`AuthManager`) answers the server's AUTH
                // synchronously inside the event loop; the adapter does not bridge that to
                // its stdin.
                emit(json!({"unsupported": "connect.authentication_method"}), token);
            }
            "connect" => {
                let v5 = str_of(&c, "protocol") != Some("3.1.1");
                match (&mut client, v5) {
                    (Client::V5(d), true) => d.connect(&c, token).await,
                    (Client::V311(d), false) => d.connect(&c, token).await,
                    (_, true) => {
                        if let Client::V311(d) = &client {
                            d.stop();
                        }
                        if let Some(mut d) = v5::Driver::new(&c, token) {
                            d.connect(&c, token).await;
                            client = Client::V5(d);
                        }
                    }
                    (_, false) => {
                        if let Client::V5(d) = &client {
                            d.stop();
                        }
                        if let Some(mut d) = v311::Driver::new(&c, token) {
                            d.connect(&c, token).await;
                            client = Client::V311(d);
                        }
                    }
                }
            }
            "subscribe" | "unsubscribe" | "publish" | "disconnect" => match &mut client {
                Client::None => emit_error(&cmd, "not connected", token),
                Client::V5(d) => d.command(&cmd, &c, token).await,
                Client::V311(d) => d.command(&cmd, &c, token).await,
            },
            other => emit_unsupported(other, token),
        }
    }
}
