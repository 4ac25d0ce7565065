//! The reference client's protocol state and main loop (see the module above for the
//! threads). It keeps its Session State (in-flight messages) across connections of one process,
//! resending on a Clean Start 0 reconnection the server says it resumed, and follows the
//! server's CONNACK limits (Receive Maximum, Maximum Packet Size, Server Keep Alive, Topic
//! Alias Maximum) unless a [`Fault`] says otherwise.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{BufRead, Read, Write};
use std::net::Shutdown;
use std::num::NonZeroU16;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{
    Auth, AuthProperties, Connect, ConnectProperties, DecodeError, Delivery, Disconnect,
    FrameDecoder, LastWill, MqttString, Packet, PacketId, ProtocolVersion, PubAck, PubComp, PubRec,
    PubRel, Publish, PublishProperties, QoS, ReasonCode, RetainHandling, Subscribe,
    SubscribeProperties, SubscriptionOptions, TopicFilter, TopicName, Unsubscribe,
};
use serde_json::{json, Map, Value};

use super::fault::{Fault, FAULTS_ENV};
use super::transport::{self, Stream, WsFaults};

/// The adapter protocol version this client speaks.
pub const ADAPTER_VERSION: &str = "1";

#[allow(clippy::large_enum_variant)]
enum Input {
    Command(Value),
    StdinClosed,
    Net(u64, NetEvent),
}

#[allow(clippy::large_enum_variant)]
enum NetEvent {
    Packet(Packet),
    Malformed(DecodeError),
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    /// Waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published,
    /// PUBREL sent, waiting for PUBCOMP.
    Released,
}

struct OutMessage {
    publish: Publish,
    state: OutState,
    token: Option<u64>,
}

struct Conn {
    stream: Stream,
    version: ProtocolVersion,
    last_sent: Instant,
    keep_alive: u16,
    connected: bool,
    clean_start: bool,
    server_receive_maximum: u16,
    server_maximum_packet_size: Option<u32>,
    aliases: HashMap<u16, TopicName>,
}

/// The whole client.
struct Client {
    faults: HashSet<Fault>,
    out: mpsc::Sender<Input>,
    conn: Option<Conn>,
    generation: u64,
    next_id: u16,
    /// In-flight outgoing QoS 1 / 2 messages, by Packet Identifier, in sending order.
    inflight: BTreeMap<u16, OutMessage>,
    order: Vec<u16>,
    /// Messages waiting for send quota.
    queued: VecDeque<(Publish, Option<u64>)>,
    /// QoS 2 Packet Identifiers received and not yet released.
    incoming_qos2: HashSet<u16>,
    /// QoS 1 Packet Identifiers acknowledged on this connection (kept only under the
    /// `drop-repeated-qos1-id` fault).
    acked_qos1: HashSet<u16>,
    /// The server's Topic Aliases of all connections (kept only under the
    /// `keep-topic-aliases` fault).
    kept_aliases: HashMap<u16, TopicName>,
    /// Pending SUBSCRIBE / UNSUBSCRIBE tokens by Packet Identifier.
    pending: HashMap<u16, Option<u64>>,
    /// The Authentication Method of the connection's CONNECT (enhanced authentication).
    auth_method: Option<String>,
}

fn id_one() -> PacketId {
    PacketId::new(1).expect("1 is a valid Packet Identifier")
}

fn emit(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn with_token(mut v: Value, token: Option<u64>) -> Value {
    if let (Value::Object(m), Some(t)) = (&mut v, token) {
        m.insert("token".into(), json!(t));
    }
    v
}

/// Runs the reference client on the process's stdin and stdout until stdin closes.
pub fn main() {
    let (faults, unknown) = Fault::parse_list(&std::env::var(FAULTS_ENV).unwrap_or_default());
    if !unknown.is_empty() {
        eprintln!("unknown faults in {FAULTS_ENV}: {}", unknown.join(", "));
        std::process::exit(2);
    }
    let (tx, rx) = mpsc::channel();
    let stdin_tx = tx.clone();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(&line) {
                Ok(v) => {
                    if stdin_tx.send(Input::Command(v)).is_err() {
                        return;
                    }
                }
                Err(e) => emit(json!({"event": "error", "message": format!("bad command: {e}")})),
            }
        }
        let _ = stdin_tx.send(Input::StdinClosed);
    });
    emit(json!({
        "event": "ready",
        "library": "mqttspec-reference-client",
        "version": env!("CARGO_PKG_VERSION"),
        "adapter": ADAPTER_VERSION,
        "faults": faults.iter().map(|f| f.name()).collect::<Vec<_>>(),
    }));
    let mut client = Client {
        faults: faults.into_iter().collect(),
        out: tx,
        conn: None,
        generation: 0,
        next_id: 0,
        inflight: BTreeMap::new(),
        order: Vec::new(),
        queued: VecDeque::new(),
        incoming_qos2: HashSet::new(),
        acked_qos1: HashSet::new(),
        kept_aliases: HashMap::new(),
        pending: HashMap::new(),
        auth_method: None,
    };
    loop {
        let wait = client.until_ping();
        let input = match wait {
            Some(d) => match rx.recv_timeout(d) {
                Ok(i) => Some(i),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(i) => Some(i),
                Err(_) => break,
            },
        };
        match input {
            None => client.ping(),
            Some(Input::StdinClosed) => break,
            Some(Input::Command(c)) => client.command(&c),
            Some(Input::Net(g, e)) if g == client.generation => client.net(e),
            Some(Input::Net(..)) => {}
        }
    }
    if let Some(c) = client.conn.take() {
        let _ = c.stream.shutdown(Shutdown::Both);
    }
}

fn str_field<'a>(c: &'a Value, k: &str) -> Option<&'a str> {
    c.get(k).and_then(Value::as_str)
}

fn u64_field(c: &Value, k: &str) -> Option<u64> {
    c.get(k).and_then(Value::as_u64)
}

fn bool_field(c: &Value, k: &str) -> Option<bool> {
    c.get(k).and_then(Value::as_bool)
}

fn payload_of(c: &Value) -> Result<Bytes, String> {
    if let Some(h) = str_field(c, "payload_hex") {
        return hex::decode(h)
            .map(Bytes::from)
            .map_err(|e| format!("payload_hex: {e}"));
    }
    Ok(Bytes::from(
        str_field(c, "payload").unwrap_or("").as_bytes().to_vec(),
    ))
}

fn qos_of(c: &Value, k: &str) -> Result<QoS, String> {
    let q = u64_field(c, k).unwrap_or(0);
    u8::try_from(q)
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| format!("{k}: {q} is not a QoS"))
}

fn user_properties(c: &Value) -> Result<Vec<(MqttString, MqttString)>, String> {
    let mut out = Vec::new();
    if let Some(list) = c.get("user_properties").and_then(Value::as_array) {
        for pair in list {
            let k = pair.get(0).and_then(Value::as_str).unwrap_or("");
            let v = pair.get(1).and_then(Value::as_str).unwrap_or("");
            out.push((
                MqttString::new(k, "User Property").map_err(|e| e.to_string())?,
                MqttString::new(v, "User Property").map_err(|e| e.to_string())?,
            ));
        }
    }
    Ok(out)
}

impl Client {
    fn has(&self, f: Fault) -> bool {
        self.faults.contains(&f)
    }

    fn until_ping(&self) -> Option<Duration> {
        let c = self.conn.as_ref()?;
        if !c.connected || c.keep_alive == 0 || self.has(Fault::NoPingreq) {
            return None;
        }
        // Ping at three quarters of the interval, well within it.
        let period = Duration::from_millis(u64::from(c.keep_alive) * 750);
        Some(period.saturating_sub(c.last_sent.elapsed()))
    }

    fn ping(&mut self) {
        if self.conn.as_ref().is_some_and(|c| c.connected) {
            self.send(&Packet::PingReq);
        }
    }

    fn version(&self) -> ProtocolVersion {
        self.conn
            .as_ref()
            .map_or(ProtocolVersion::V5, |c| c.version)
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        if let Some(c) = self.conn.as_mut() {
            if c.stream.write_all(bytes).is_err() {
                let _ = c.stream.shutdown(Shutdown::Both);
            }
            c.last_sent = Instant::now();
        }
    }

    fn send(&mut self, p: &Packet) {
        let v = self.version();
        match p.encode(v) {
            Ok(b) => self.send_bytes(&b),
            Err(e) => emit(json!({"event": "error", "message": format!("cannot encode: {e}")})),
        }
    }

    /// Sends `p`, with its first byte replaced by `first` when `fault` is on.
    fn send_with_first_byte(&mut self, p: &Packet, fault: Fault, first: u8) {
        if !self.has(fault) {
            self.send(p);
            return;
        }
        match p.encode(self.version()) {
            Ok(b) => {
                let mut b = BytesMut::from(&b[..]);
                if let Some(x) = b.first_mut() {
                    *x = first;
                }
                self.send_bytes(&b);
            }
            Err(e) => emit(json!({"event": "error", "message": format!("cannot encode: {e}")})),
        }
    }

    fn command(&mut self, c: &Value) {
        let token = u64_field(c, "token");
        let result = match str_field(c, "cmd").unwrap_or("") {
            "connect" => self.connect(c, token),
            "subscribe" => self.subscribe(c, token),
            "unsubscribe" => self.unsubscribe(c, token),
            "publish" => self.publish(c, token),
            "disconnect" => {
                self.disconnect(c, token);
                Ok(())
            }
            "auth" => self.auth(c, token),
            other => {
                emit(with_token(json!({"unsupported": other}), token));
                Ok(())
            }
        };
        if let Err(message) = result {
            emit(with_token(
                json!({"event": "error", "message": message, "command": str_field(c, "cmd")}),
                token,
            ));
        }
    }

    fn connect(&mut self, c: &Value, token: Option<u64>) -> Result<(), String> {
        let version = match str_field(c, "protocol").unwrap_or("5") {
            "5" | "5.0" => ProtocolVersion::V5,
            "3.1.1" => ProtocolVersion::V311,
            other => return Err(format!("unknown protocol {other}")),
        };
        let host = str_field(c, "host").unwrap_or("127.0.0.1");
        let port =
            u16::try_from(u64_field(c, "port").unwrap_or(1883)).map_err(|e| e.to_string())?;
        let clean_start = bool_field(c, "clean_start").unwrap_or(true);
        let keep_alive =
            u16::try_from(u64_field(c, "keep_alive").unwrap_or(60)).map_err(|e| e.to_string())?;
        let mut props = ConnectProperties::default();
        if version.is_v5() {
            props.session_expiry_interval = u64_field(c, "session_expiry")
                .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
                .filter(|v| *v > 0);
            props.receive_maximum = u64_field(c, "receive_maximum")
                .and_then(|v| u16::try_from(v).ok())
                .and_then(NonZeroU16::new);
            props.maximum_packet_size = u64_field(c, "maximum_packet_size")
                .and_then(|v| u32::try_from(v).ok())
                .and_then(std::num::NonZeroU32::new);
            props.topic_alias_maximum = u64_field(c, "topic_alias_maximum")
                .and_then(|v| u16::try_from(v).ok())
                .filter(|v| *v > 0);
            props.user_properties = user_properties(c)?.into();
            props.authentication_method = str_field(c, "authentication_method")
                .map(|m| MqttString::new(m, "Authentication Method"))
                .transpose()
                .map_err(|e| e.to_string())?;
            props.authentication_data = str_field(c, "authentication_data_hex")
                .map(hex::decode)
                .transpose()
                .map_err(|e| format!("authentication_data_hex: {e}"))?
                .map(Bytes::from);
        }
        self.auth_method = if version.is_v5() {
            str_field(c, "authentication_method").map(str::to_owned)
        } else {
            None
        };
        let will = match c.get("will").filter(|w| !w.is_null()) {
            Some(w) => Some(LastWill {
                qos: qos_of(w, "qos")?,
                retain: bool_field(w, "retain").unwrap_or(false),
                properties: Default::default(),
                topic: TopicName::new(str_field(w, "topic").unwrap_or(""))
                    .map_err(|e| e.to_string())?,
                payload: payload_of(w)?,
            }),
            None => None,
        };
        let connect = Connect {
            protocol_version: version,
            clean_start,
            keep_alive,
            properties: props.into(),
            client_id: MqttString::new(
                str_field(c, "client_id").unwrap_or(""),
                "Client Identifier",
            )
            .map_err(|e| e.to_string())?,
            will,
            username: str_field(c, "username")
                .map(|u| MqttString::new(u, "User Name"))
                .transpose()
                .map_err(|e| e.to_string())?,
            password: str_field(c, "password").map(|p| Bytes::from(p.as_bytes().to_vec())),
        };
        let mut bytes = BytesMut::from(
            &Packet::Connect(Box::new(connect))
                .encode(version)
                .map_err(|e| e.to_string())?[..],
        );
        if self.has(Fault::PasswordFlagWithoutPassword) {
            // Fixed header, Remaining Length, "MQTT" (6 bytes), level: then the flags.
            let rl_len = bytes
                .iter()
                .skip(1)
                .position(|b| b & 0x80 == 0)
                .map_or(1, |i| i + 1);
            let flags_at = 1 + rl_len + 7;
            let has_password = bytes.get(flags_at).is_some_and(|f| f & 0x40 != 0);
            if has_password {
                // Drop the Password field (it is last) and fix the Remaining Length.
                let pass_len = str_field(c, "password").map_or(0, str::len) + 2;
                let body_len = bytes.len() - 1 - rl_len - pass_len;
                let mut fixed = BytesMut::new();
                fixed.extend_from_slice(&[0x10]);
                let mut rl = mqttspec_codec::RawPacket::new(0)
                    .varint(body_len as u64)
                    .build();
                let _ = bytes::Buf::copy_to_bytes(&mut rl, 1);
                fixed.extend_from_slice(&rl);
                fixed.extend_from_slice(
                    bytes.get(1 + rl_len..bytes.len() - pass_len).unwrap_or(&[]),
                );
                bytes = fixed;
            }
        }
        if let Some(old) = self.conn.take() {
            let _ = old.stream.shutdown(Shutdown::Both);
        }
        let stream = transport::open(c, host, port, WsFaults::from(|f| self.has(f)))?;
        let reader = stream.try_clone().map_err(|e| e.to_string())?;
        self.generation += 1;
        let generation = self.generation;
        let tx = self.out.clone();
        let tolerate = self.has(Fault::TolerateMalformed);
        std::thread::spawn(move || read_loop(reader, version, generation, tx, tolerate));
        if clean_start && !self.has(Fault::KeepSessionOnCleanStart) {
            self.inflight.clear();
            self.order.clear();
            self.incoming_qos2.clear();
        }
        self.conn = Some(Conn {
            stream,
            version,
            last_sent: Instant::now(),
            keep_alive,
            connected: false,
            clean_start,
            server_receive_maximum: u16::MAX,
            server_maximum_packet_size: None,
            aliases: if self.has(Fault::KeepTopicAliases) {
                self.kept_aliases.clone()
            } else {
                HashMap::new()
            },
        });
        if self.has(Fault::SubscribeBeforeConnect) {
            let early = Packet::Subscribe(Subscribe {
                packet_id: id_one(),
                properties: Default::default(),
                filters: vec![(
                    TopicFilter::new("early").map_err(|e| e.to_string())?,
                    SubscriptionOptions::default(),
                )],
            });
            self.send(&early);
        }
        self.send_bytes(&bytes);
        let _ = token;
        Ok(())
    }

    fn next_packet_id(&mut self) -> PacketId {
        if self.has(Fault::ReusePacketId) {
            return id_one();
        }
        for _ in 0..u16::MAX {
            self.next_id = self.next_id.wrapping_add(1);
            if self.next_id == 0 {
                self.next_id = 1;
            }
            if !self.inflight.contains_key(&self.next_id)
                && !self.pending.contains_key(&self.next_id)
            {
                break;
            }
        }
        PacketId::new(self.next_id).unwrap_or_else(id_one)
    }

    fn subscribe(&mut self, c: &Value, token: Option<u64>) -> Result<(), String> {
        let v = self.version();
        let filter = str_field(c, "topic").unwrap_or("");
        let filter = if v.is_v5() {
            TopicFilter::new_v5(filter)
        } else {
            TopicFilter::new(filter)
        }
        .map_err(|e| e.to_string())?;
        let mut options = SubscriptionOptions::qos(qos_of(c, "qos")?);
        let mut properties = SubscribeProperties::default();
        if v.is_v5() {
            options.no_local = bool_field(c, "no_local").unwrap_or(false);
            options.retain_as_published = bool_field(c, "retain_as_published").unwrap_or(false);
            options.retain_handling = match u64_field(c, "retain_handling").unwrap_or(0) {
                0 => RetainHandling::SendOnSubscribe,
                1 => RetainHandling::SendIfNew,
                _ => RetainHandling::DoNotSend,
            };
            if let Some(id) = u64_field(c, "subscription_identifier") {
                let id = u32::try_from(id)
                    .ok()
                    .and_then(std::num::NonZeroU32::new)
                    .ok_or("subscription_identifier out of range")?;
                properties.subscription_identifiers.push(id);
            }
        }
        let id = self.next_packet_id();
        self.pending.insert(id.get(), token);
        let packet = Packet::Subscribe(Subscribe {
            packet_id: id,
            properties: properties.into(),
            filters: vec![(filter, options)],
        });
        self.send_with_first_byte(&packet, Fault::SubscribeWrongFlags, 0x80);
        Ok(())
    }

    fn unsubscribe(&mut self, c: &Value, token: Option<u64>) -> Result<(), String> {
        let filter =
            TopicFilter::new_v5(str_field(c, "topic").unwrap_or("")).map_err(|e| e.to_string())?;
        let id = self.next_packet_id();
        self.pending.insert(id.get(), token);
        let packet = Packet::Unsubscribe(Unsubscribe {
            packet_id: id,
            properties: Default::default(),
            filters: vec![filter],
        });
        self.send_with_first_byte(&packet, Fault::UnsubscribeWrongFlags, 0xA0);
        Ok(())
    }

    fn publish(&mut self, c: &Value, token: Option<u64>) -> Result<(), String> {
        let v = self.version();
        let qos = qos_of(c, "qos")?;
        let mut properties = PublishProperties::default();
        if let (true, Some(p)) = (v.is_v5(), c.get("properties")) {
            properties.message_expiry_interval =
                u64_field(p, "message_expiry").and_then(|x| u32::try_from(x).ok());
            properties.content_type = str_field(p, "content_type")
                .map(|s| MqttString::new(s, "Content Type"))
                .transpose()
                .map_err(|e| e.to_string())?;
            properties.user_properties = user_properties(p)?.into();
        }
        if v.is_v5() && self.has(Fault::SubscriptionIdInPublish) {
            properties
                .subscription_identifiers
                .extend(std::num::NonZeroU32::new(1));
        }
        let topic_text = str_field(c, "topic").unwrap_or("");
        if self.has(Fault::AllowWildcardTopic)
            && qos == QoS::AtMostOnce
            && topic_text.contains(['+', '#'])
        {
            // The broken client: the Topic Name goes out as the application gave it.
            let raw = mqttspec_codec::RawPacket::new(0x30).string(topic_text);
            let raw = if v.is_v5() { raw.u8(0) } else { raw };
            let raw = raw.bytes(&payload_of(c)?).build();
            self.send_bytes(&raw);
            emit(with_token(json!({"event": "published", "qos": 0}), token));
            return Ok(());
        }
        let publish = Publish {
            dup: false,
            // At QoS 1/2 the identifier is replaced by a fresh one when the PUBLISH is sent.
            delivery: Delivery::new(qos, id_one()),
            retain: bool_field(c, "retain").unwrap_or(false),
            topic: TopicName::new(topic_text).map_err(|e| e.to_string())?,
            properties: properties.into(),
            payload: payload_of(c)?,
        };
        if let (Some(max), false) = (
            self.conn
                .as_ref()
                .and_then(|c| c.server_maximum_packet_size),
            self.has(Fault::IgnoreMaximumPacketSize),
        ) {
            let size = Packet::Publish(publish.clone())
                .encoded_len(v)
                .map_err(|e| e.to_string())?;
            if size as u64 > u64::from(max) {
                return Err(format!(
                    "the PUBLISH would be {size} bytes, above the server's Maximum Packet Size {max}"
                ));
            }
        }
        if qos == QoS::AtMostOnce {
            self.send_with_first_byte(&Packet::Publish(publish), Fault::DupOnQos0, 0x38);
            emit(with_token(json!({"event": "published", "qos": 0}), token));
            return Ok(());
        }
        self.queued.push_back((publish, token));
        self.flush_queue();
        Ok(())
    }

    fn quota_left(&self) -> bool {
        let Some(c) = self.conn.as_ref() else {
            return false;
        };
        if !c.connected {
            return false;
        }
        self.has(Fault::IgnoreReceiveMaximum)
            || self.inflight.len() < usize::from(c.server_receive_maximum)
    }

    fn flush_queue(&mut self) {
        while self.quota_left() {
            let Some((mut publish, token)) = self.queued.pop_front() else {
                return;
            };
            let id = self.next_packet_id();
            publish.set_packet_id(id);
            publish.dup = self.has(Fault::DupOnFirstSend);
            self.send(&Packet::Publish(publish.clone()));
            publish.dup = false;
            self.order.retain(|x| *x != id.get());
            self.order.push(id.get());
            self.inflight.insert(
                id.get(),
                OutMessage {
                    publish,
                    state: OutState::Published,
                    token,
                },
            );
        }
    }

    fn disconnect(&mut self, c: &Value, token: Option<u64>) {
        let code = u64_field(c, "reason_code")
            .and_then(|x| u8::try_from(x).ok())
            .and_then(ReasonCode::from_u8)
            .unwrap_or(ReasonCode::Success);
        if self.conn.is_some() {
            self.send(&Packet::Disconnect(Disconnect::new(code)));
            if self.has(Fault::PacketAfterDisconnect) {
                self.send(&Packet::PingReq);
            }
        }
        if self.has(Fault::NoCloseAfterDisconnect) {
            // The broken client: the socket stays open, without pings.
            if let Some(c) = self.conn.as_mut() {
                c.keep_alive = 0;
            }
        } else {
            self.close();
        }
        emit(with_token(
            json!({"event": "disconnected", "by": "client"}),
            token,
        ));
    }

    /// The application's answer to the server's AUTH: an AUTH continuing the authentication
    /// with the connection's Authentication Method and the given data.
    fn auth(&mut self, c: &Value, token: Option<u64>) -> Result<(), String> {
        let Some(method) = self.auth_method.clone() else {
            return Err("no enhanced authentication on this connection".into());
        };
        let data = str_field(c, "authentication_data_hex")
            .map(hex::decode)
            .transpose()
            .map_err(|e| format!("authentication_data_hex: {e}"))?
            .map(Bytes::from);
        let method = if self.has(Fault::AuthOtherMethod) {
            format!("{method}-other")
        } else {
            method
        };
        let code = if self.has(Fault::AuthSuccessReasonCode) {
            ReasonCode::Success
        } else {
            ReasonCode::ContinueAuthentication
        };
        let props = AuthProperties {
            authentication_method: Some(
                MqttString::new(&method, "Authentication Method").map_err(|e| e.to_string())?,
            ),
            authentication_data: data,
            ..AuthProperties::default()
        };
        if self.has(Fault::PingDuringAuth) {
            self.send_bytes(&[0xC0, 0x00]);
        }
        self.send(&Packet::Auth(Auth {
            reason_code: code,
            properties: props.into(),
        }));
        let _ = token;
        Ok(())
    }

    fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
        self.generation += 1;
    }

    fn protocol_error(&mut self, code: ReasonCode, message: String) {
        if self.version().is_v5() {
            self.send(&Packet::Disconnect(Disconnect::new(code)));
        }
        self.close();
        emit(json!({"event": "disconnected", "by": "client", "message": message}));
    }

    fn net(&mut self, e: NetEvent) {
        match e {
            NetEvent::Closed => {
                self.close();
                emit(json!({"event": "disconnected", "by": "network"}));
            }
            NetEvent::Malformed(e) => {
                // Only reached without the tolerate-malformed fault (the reader skips then).
                self.protocol_error(
                    ReasonCode::MalformedPacket,
                    format!("malformed packet: {e}"),
                );
            }
            NetEvent::Packet(p) => self.packet(p),
        }
    }

    fn packet(&mut self, p: Packet) {
        let connected = self.conn.as_ref().is_some_and(|c| c.connected);
        match p {
            Packet::ConnAck(ack) if !connected => self.connack(ack),
            Packet::Publish(publish) if connected => self.incoming(publish),
            Packet::PubAck(ack) if connected => self.acked(ack.packet_id, ack.reason_code, 1),
            Packet::PubRec(rec) if connected => self.pubrec(rec),
            Packet::PubComp(comp) if connected => {
                self.acked(comp.packet_id, comp.reason_code, 2);
            }
            Packet::PubRel(rel) if connected => {
                if !self.has(Fault::KeepQos2IdAfterPubcomp) {
                    self.incoming_qos2.remove(&rel.packet_id.get());
                }
                if !self.has(Fault::NoPubcomp) {
                    self.send(&Packet::PubComp(PubComp::new(rel.packet_id)));
                }
            }
            Packet::SubAck(ack) if connected => {
                let token = self.pending.remove(&ack.packet_id.get()).flatten();
                let codes: Vec<u8> = ack.reason_codes.iter().map(|c| c.as_u8()).collect();
                emit(with_token(
                    json!({"event": "subscribed", "reason_codes": codes}),
                    token,
                ));
            }
            Packet::UnsubAck(ack) if connected => {
                let token = self.pending.remove(&ack.packet_id.get()).flatten();
                let codes: Vec<u8> = ack.reason_codes.iter().map(|c| c.as_u8()).collect();
                emit(with_token(
                    json!({"event": "unsubscribed", "reason_codes": codes}),
                    token,
                ));
            }
            Packet::PingResp if connected => {}
            Packet::Auth(a) if !connected && self.auth_method.is_some() => {
                let mut props = Map::new();
                if let Some(m) = &a.properties.authentication_method {
                    props.insert("authentication_method".into(), json!(m.as_str()));
                }
                if let Some(d) = &a.properties.authentication_data {
                    props.insert("authentication_data_hex".into(), json!(hex::encode(d)));
                }
                emit(json!({
                    "event": "auth",
                    "reason_code": a.reason_code.as_u8(),
                    "properties": props,
                }));
            }
            Packet::Disconnect(d) => {
                emit(json!({
                    "event": "disconnected",
                    "by": "server",
                    "reason_code": d.reason_code.as_u8(),
                }));
                if !self.has(Fault::IgnoreServerDisconnect) {
                    self.close();
                }
            }
            other => {
                if !self.has(Fault::TolerateMalformed) {
                    self.protocol_error(
                        ReasonCode::ProtocolError,
                        format!("unexpected {} from the server", other.packet_type()),
                    );
                }
            }
        }
    }

    fn connack(&mut self, ack: mqttspec_codec::ConnAck) {
        let mut props = Map::new();
        let p = &ack.properties;
        if let Some(id) = &p.assigned_client_identifier {
            props.insert("assigned_client_identifier".into(), json!(id.as_str()));
        }
        if let Some(k) = p.server_keep_alive {
            props.insert("server_keep_alive".into(), json!(k));
        }
        if let Some(r) = p.receive_maximum {
            props.insert("receive_maximum".into(), json!(r.get()));
        }
        if let Some(m) = p.maximum_packet_size {
            props.insert("maximum_packet_size".into(), json!(m.get()));
        }
        if let Some(t) = p.topic_alias_maximum {
            props.insert("topic_alias_maximum".into(), json!(t));
        }
        emit(json!({
            "event": "connack",
            "reason_code": ack.reason_code.as_u8(),
            "session_present": ack.session_present,
            "properties": props,
        }));
        if ack.reason_code.is_error() || (!self.version().is_v5() && ack.reason_code.as_u8() != 0) {
            if !self.has(Fault::StayAfterConnackRefusal) {
                self.close();
                emit(json!({"event": "disconnected", "by": "client", "message": "refused"}));
            }
            return;
        }
        let clean = self.conn.as_ref().is_some_and(|c| c.clean_start);
        if ack.session_present
            && clean
            && self.version().is_v5()
            && !self.has(Fault::AcceptUnexpectedSessionPresent)
        {
            // No Session State here, yet the server says it resumed one: close.
            self.protocol_error(
                ReasonCode::ProtocolError,
                "Session Present 1 after Clean Start 1".into(),
            );
            return;
        }
        let ignore_keep_alive = self.has(Fault::IgnoreServerKeepAlive);
        let ignore_session_present_0 = self.has(Fault::IgnoreSessionPresent0);
        let ignore_max_size = self.has(Fault::IgnoreMaximumPacketSize);
        let resume;
        if let Some(c) = self.conn.as_mut() {
            c.connected = true;
            if let (Some(k), false) = (p.server_keep_alive, ignore_keep_alive) {
                c.keep_alive = k;
            }
            c.server_receive_maximum = p.receive_maximum.map_or(u16::MAX, NonZeroU16::get);
            if !ignore_max_size {
                c.server_maximum_packet_size = p.maximum_packet_size.map(|m| m.get());
            }
            resume = !c.clean_start && (ack.session_present || ignore_session_present_0);
        } else {
            return;
        }
        let keep_on_clean = self.has(Fault::KeepSessionOnCleanStart);
        if !resume && !keep_on_clean {
            self.inflight.clear();
            self.order.clear();
            self.incoming_qos2.clear();
        }
        if (resume || keep_on_clean) && !self.has(Fault::NoResend) {
            let dup = !self.has(Fault::ResendWithoutDup);
            for id in self.order.clone() {
                let Some(m) = self.inflight.get(&id) else {
                    continue;
                };
                let packet = match m.state {
                    OutState::Published => Packet::Publish(Publish {
                        dup,
                        ..m.publish.clone()
                    }),
                    OutState::Released => match PacketId::new(id) {
                        Some(pid) => Packet::PubRel(PubRel::new(pid)),
                        None => continue,
                    },
                };
                self.send(&packet);
            }
        }
        self.flush_queue();
    }

    fn incoming(&mut self, mut publish: Publish) {
        let v = self.version();
        if v.is_v5() && !self.has(Fault::IgnoreTopicAlias) {
            if let Some(alias) = publish.properties.topic_alias {
                let Some(c) = self.conn.as_mut() else { return };
                if publish.topic.is_empty() {
                    match c.aliases.get(&alias.get()) {
                        Some(t) => publish.topic = t.clone(),
                        None => {
                            self.protocol_error(
                                ReasonCode::ProtocolError,
                                format!("unknown Topic Alias {alias}"),
                            );
                            return;
                        }
                    }
                } else {
                    c.aliases.insert(alias.get(), publish.topic.clone());
                    if self.faults.contains(&Fault::KeepTopicAliases) {
                        self.kept_aliases.insert(alias.get(), publish.topic.clone());
                    }
                }
            }
        }
        let deliver = match (publish.qos(), publish.packet_id()) {
            (QoS::ExactlyOnce, Some(id)) => self.incoming_qos2.insert(id.get()),
            (QoS::AtLeastOnce, Some(id)) if self.has(Fault::DropRepeatedQos1Id) => {
                !(self.acked_qos1.contains(&id.get()) && publish.dup)
            }
            _ => true,
        };
        if let (QoS::AtLeastOnce, Some(id)) = (publish.qos(), publish.packet_id()) {
            if self.has(Fault::DropRepeatedQos1Id) {
                self.acked_qos1.insert(id.get());
            }
        }
        if deliver {
            emit(message_event(&publish));
        }
        match (publish.qos(), publish.packet_id()) {
            (QoS::AtLeastOnce, Some(id)) if !self.has(Fault::NoPuback) => {
                let id = if self.has(Fault::PubackWrongId) {
                    id.next()
                } else {
                    id
                };
                self.send(&Packet::PubAck(PubAck::new(id)));
            }
            (QoS::ExactlyOnce, Some(id)) if !self.has(Fault::NoPubrec) => {
                self.send(&Packet::PubRec(PubRec::new(id)));
            }
            _ => {}
        }
    }

    fn pubrec(&mut self, rec: PubRec) {
        let id = rec.packet_id.get();
        if rec.reason_code.is_error() {
            self.acked(rec.packet_id, rec.reason_code, 2);
            return;
        }
        match self.inflight.get_mut(&id) {
            Some(m) => m.state = OutState::Released,
            None => {
                // Not ours (any more): answer with PUBREL anyway, as 4.3.3 allows.
            }
        }
        if self.has(Fault::NoPubrel) {
            return;
        }
        if self.has(Fault::PubrelWrongFlags) {
            let raw = mqttspec_codec::RawPacket::new(0x60).u16(id).build();
            self.send_bytes(&raw);
        } else {
            self.send(&Packet::PubRel(PubRel::new(rec.packet_id)));
        }
    }

    fn acked(&mut self, id: PacketId, code: ReasonCode, qos: u8) {
        if code.is_error() && self.has(Fault::ResendAfterErrorAck) {
            return;
        }
        if let Some(m) = self.inflight.remove(&id.get()) {
            self.order.retain(|x| *x != id.get());
            emit(with_token(
                json!({"event": "published", "qos": qos, "reason_code": code.as_u8()}),
                m.token,
            ));
        }
        self.flush_queue();
    }
}

fn message_event(p: &Publish) -> Value {
    let mut props = Map::new();
    let pr = &p.properties;
    if !pr.subscription_identifiers.is_empty() {
        let ids: Vec<u32> = pr
            .subscription_identifiers
            .iter()
            .map(|i| i.get())
            .collect();
        props.insert("subscription_identifiers".into(), json!(ids));
    }
    if let Some(a) = pr.topic_alias {
        props.insert("topic_alias".into(), json!(a.get()));
    }
    if !pr.user_properties.is_empty() {
        let up: Vec<[&str; 2]> = pr.user_properties.iter().map(|(k, v)| [k, v]).collect();
        props.insert("user_properties".into(), json!(up));
    }
    if let Some(ct) = &pr.content_type {
        props.insert("content_type".into(), json!(ct.as_str()));
    }
    let mut ev = json!({
        "event": "message",
        "topic": p.topic.as_str(),
        "payload_hex": hex::encode(&p.payload),
        "qos": p.qos().as_u8(),
        "retain": p.retain,
        "dup": p.dup,
        "properties": props,
    });
    if let (Ok(text), Value::Object(m)) = (std::str::from_utf8(&p.payload), &mut ev) {
        m.insert("payload".into(), json!(text));
    }
    ev
}

fn read_loop(
    mut stream: Stream,
    version: ProtocolVersion,
    generation: u64,
    tx: mpsc::Sender<Input>,
    tolerate: bool,
) {
    let mut decoder = FrameDecoder::new(version).with_max_packet_size(4 * 1024 * 1024);
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 8192];
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(p)) => {
                    if tx
                        .send(Input::Net(generation, NetEvent::Packet(p)))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    if tolerate {
                        // The broken client: drop what it cannot read and carry on.
                        buf.clear();
                        break;
                    }
                    let _ = tx.send(Input::Net(generation, NetEvent::Malformed(e)));
                    return;
                }
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => {
                let _ = tx.send(Input::Net(generation, NetEvent::Closed));
                return;
            }
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
        }
    }
}
