//! Running one scenario against a broker, and the "still alive" oracle.

use crate::transport::Endpoint;
use std::collections::BTreeMap;
use std::time::Duration;

use mqttspec_codec::{Packet, PacketType, ProtocolVersion, ReasonCode};
use tokio::time::Instant;

use super::delivery::{allowed_qos, server_may_send, Aliases};
use super::format::{Expectation, Scenario, Step};
use super::template;
use crate::client::{summary, ClientOptions, Entry, Received, SendError, TestClient, Transcript};
use crate::verdict::Outcome;

/// The result of one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    /// The scenario id.
    pub id: String,
    /// The verdict with Expected / Actual.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
    /// Every byte of every client.
    pub transcript: Vec<Entry>,
    /// Whether the probe before the scenario found the broker not serving (the run is then
    /// an ERROR that says nothing about this scenario).
    pub broker_down: bool,
    /// Set when the broker was restarted because of that and the scenario ran again.
    pub restarted: Option<Restarted>,
}

/// The broker stopped serving before a scenario and was restarted (`--broker-cmd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restarted {
    /// The scenario after which it stopped serving (none if it was the first).
    pub after: Option<String>,
    /// The process's exit status, if it had exited.
    pub exit: Option<String>,
    /// Its last output lines.
    pub output: Vec<String>,
}

struct Runner<'a> {
    scenario: &'a Scenario,
    broker: Endpoint,
    wait: Duration,
    id_stem: String,
    transcript: Transcript,
    clients: BTreeMap<String, TestClient>,
    connects: usize,
    ids: BTreeMap<String, [u8; template::CLIENT_ID_LEN]>,
}

/// Runs `scenario` against `broker`; `wait` bounds each expectation; `id_stem` makes the
/// Client Identifiers unique (letters and digits only).
pub async fn run_scenario(
    scenario: &Scenario,
    broker: Endpoint,
    wait: Duration,
    id_stem: &str,
) -> ScenarioRun {
    let started = Instant::now();
    let mut runner = Runner {
        scenario,
        broker,
        wait,
        id_stem: id_stem.to_owned(),
        transcript: Transcript::new(std::time::Instant::now()),
        clients: BTreeMap::new(),
        connects: 0,
        ids: BTreeMap::new(),
    };
    let (outcome, broker_down) = match runner.probe_before().await {
        Err(outcome) => (outcome, true),
        Ok(()) => (runner.run().await, false),
    };
    for client in runner.clients.values_mut() {
        client.abort();
    }
    ScenarioRun {
        id: scenario.id.clone(),
        outcome,
        duration: started.elapsed(),
        transcript: runner.transcript.entries(),
        broker_down,
        restarted: None,
    }
}

impl Runner<'_> {
    fn version(&self) -> ProtocolVersion {
        self.scenario.protocol
    }

    /// The probe before the scenario: a fresh client is served.
    async fn probe_before(&mut self) -> Result<(), Outcome> {
        self.still_alive("probe-before", true).await.map_err(|why| {
            Outcome::error(format!(
                "the broker does not serve a client before the scenario: {why}"
            ))
        })
    }

    async fn run(&mut self) -> Outcome {
        for (i, step) in self.scenario.steps.iter().enumerate() {
            if let Err(outcome) = self.step(step).await {
                let mut outcome = outcome;
                if let Some(actual) = outcome.actual.take() {
                    outcome.actual = Some(format!("step {}: {actual}", i + 1));
                }
                return self.with_statement(outcome);
            }
        }
        match self.still_alive("alive-check", false).await {
            Ok(()) => Outcome::pass(),
            Err(why) => self.with_statement(Outcome::fail(
                "the broker still serves a new client (CONNECT + PINGREQ answered)",
                why,
            )),
        }
    }

    fn with_statement(&self, outcome: Outcome) -> Outcome {
        match (outcome.verdict, self.scenario.statements.first()) {
            (crate::verdict::Verdict::Fail, Some(s)) => outcome.statement(*s),
            _ => outcome,
        }
    }

    fn client_id(&mut self) -> String {
        self.connects += 1;
        format!("{}c{}", self.id_stem, self.connects)
    }

    /// The `{cid}` Client Identifier of scenario client `name`: the same for every connect of
    /// that name in this run, different across runs (it is derived from the id stem).
    fn template_client_id(&mut self, name: &str) -> [u8; template::CLIENT_ID_LEN] {
        let stem = &self.id_stem;
        *self
            .ids
            .entry(name.to_owned())
            .or_insert_with(|| client_id_for(stem, name))
    }

    /// The runner's CONNECT; in 5.0 with the Maximum Packet Size property when `maximum`;
    /// with the scenario's User Name and Password when it has them.
    fn default_connect(&self, client_id: &str, keep_alive: u16, maximum: Option<u32>) -> Vec<u8> {
        let login = self.scenario.credentials.as_ref();
        let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T'];
        body.push(match self.version() {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        });
        let mut flags = 0x02; // Clean Start / Clean Session
        if let Some(c) = login {
            flags |= 0x80; // User Name Flag
            if c.password.is_some() {
                flags |= 0x40; // Password Flag
            }
        }
        body.push(flags);
        body.extend_from_slice(&keep_alive.to_be_bytes());
        if self.version() == ProtocolVersion::V5 {
            match maximum {
                Some(m) => {
                    body.push(0x05); // Property Length
                    body.push(0x27); // Maximum Packet Size
                    body.extend_from_slice(&m.to_be_bytes());
                }
                None => body.push(0x00), // no properties
            }
        }
        push_field(&mut body, client_id.as_bytes());
        if let Some(c) = login {
            push_field(&mut body, c.username.as_bytes());
            if let Some(p) = &c.password {
                push_field(&mut body, p.as_bytes());
            }
        }
        let mut packet = vec![0x10];
        packet.extend(template::variable_byte_integer(body.len()).unwrap_or_default());
        packet.extend(body);
        packet
    }

    /// A connection for client `name`; packets from the broker larger than `maximum` are
    /// malformed for it.
    async fn open(&self, name: &str, maximum: Option<u32>) -> Result<TestClient, String> {
        let mut options = ClientOptions::new(name, self.version());
        if let Some(m) = maximum {
            options.max_packet_size = m;
        }
        TestClient::connect_with(&self.broker, options, self.transcript.clone())
            .await
            .map_err(|e| e.to_string())
    }

    /// Connects a fresh client, then PINGREQ must be answered by PINGRESP. When `lenient`
    /// (the check before the scenario, which only asks whether the broker is up), any answer
    /// to the CONNECT is enough, malformed or not: the scenario's own steps judge the rest.
    async fn still_alive(&mut self, name: &str, lenient: bool) -> Result<(), String> {
        let mut c = self.open(name, None).await?;
        let id = self.client_id();
        let connect = self.default_connect(&id, 60, None);
        let result = async {
            c.send_raw(connect).await.map_err(|e| e.to_string())?;
            let deadline = Instant::now() + self.wait;
            match c.recv_until(deadline).await {
                Received::Packet(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => {}
                Received::Malformed { .. } if lenient => return Ok(()),
                other => {
                    return Err(format!(
                        "CONNECT answered by {}",
                        other.describe(self.version())
                    ))
                }
            }
            if lenient {
                return Ok(());
            }
            c.send_raw(vec![0xc0, 0x00])
                .await
                .map_err(|e| e.to_string())?;
            let deadline = Instant::now() + self.wait;
            match c.recv_until(deadline).await {
                Received::Packet(Packet::PingResp) => Ok(()),
                other => Err(format!(
                    "PINGREQ answered by {}",
                    other.describe(self.version())
                )),
            }
        }
        .await;
        if result.is_ok() {
            let _ = c.send_raw(vec![0xe0, 0x00]).await;
        }
        c.abort();
        result
    }

    fn client(&mut self, name: &str) -> Result<&mut TestClient, Outcome> {
        self.clients
            .get_mut(name)
            .ok_or_else(|| Outcome::error(format!("client `{name}` is not connected")))
    }

    async fn step(&mut self, step: &Step) -> Result<(), Outcome> {
        match step {
            Step::Connect {
                client,
                raw,
                client_id_slots,
                keep_alive,
                same_id_as,
                maximum_packet_size,
            } => {
                if let Some(mut old) = self.clients.remove(client) {
                    old.abort();
                }
                let mut c = self
                    .open(client, *maximum_packet_size)
                    .await
                    .map_err(Outcome::error)?;
                match raw {
                    Some(bytes) => {
                        let mut bytes = bytes.clone();
                        if !client_id_slots.is_empty() {
                            let owner = same_id_as.as_deref().unwrap_or(client);
                            let id = self.template_client_id(owner);
                            template::fill_client_id(&mut bytes, client_id_slots, &id);
                        }
                        c.send_raw(bytes)
                            .await
                            .map_err(|e| Outcome::error(format!("sending CONNECT: {e}")))?;
                    }
                    None => {
                        let id = self.client_id();
                        c.send_raw(self.default_connect(&id, *keep_alive, *maximum_packet_size))
                            .await
                            .map_err(|e| Outcome::error(format!("sending CONNECT: {e}")))?;
                        let deadline = Instant::now() + self.wait;
                        match c.recv_until(deadline).await {
                            Received::Packet(Packet::ConnAck(a))
                                if a.reason_code == ReasonCode::Success => {}
                            other => {
                                return Err(Outcome::error(format!(
                                    "setup CONNECT of `{client}` answered by {}",
                                    other.describe(self.version())
                                )))
                            }
                        }
                    }
                }
                self.clients.insert(client.clone(), c);
                Ok(())
            }
            Step::Send {
                client,
                bytes,
                repeat,
                or_closed,
                ws_wire,
            } => {
                let c = self.client(client)?;
                if *or_closed && c.is_ended() {
                    return Ok(());
                }
                if *ws_wire && !c.transport().transport.starts_with("ws") {
                    return Err(Outcome::error(
                        "a `ws_wire` step needs a WebSocket broker (ws:// or wss://)",
                    ));
                }
                let result = if *ws_wire {
                    let mut all = Vec::with_capacity(bytes.len() * *repeat as usize);
                    for _ in 0..*repeat {
                        all.extend_from_slice(bytes);
                    }
                    c.send_ws_wire(all).await
                } else if *repeat > 1 {
                    // One write of all copies: the transcript keeps one entry.
                    let mut all = Vec::with_capacity(bytes.len() * *repeat as usize);
                    for _ in 0..*repeat {
                        all.extend_from_slice(bytes);
                    }
                    c.send_raw(all).await
                } else {
                    c.send_raw(bytes.clone()).await
                };
                match result {
                    Err(SendError::Io(e)) if *or_closed && closed_by_peer(&e) => Ok(()),
                    Err(e) => Err(Outcome::fail(
                        "the broker reads what the client sends",
                        format!("write failed: {e}"),
                    )),
                    Ok(()) => Ok(()),
                }
            }
            Step::Close { client } => {
                self.client(client)?.close().await;
                Ok(())
            }
            Step::Wait { duration } => {
                tokio::time::sleep(*duration).await;
                Ok(())
            }
            Step::Expect {
                client,
                expectation,
            } => {
                let wait = self.wait;
                let v = self.version();
                let c = self.client(client)?;
                expect(c, expectation, wait, v).await
            }
        }
    }
}

/// Appends a two-byte length and `bytes` (a UTF-8 string or Binary Data field); a field
/// longer than 65,535 bytes is cut there (the profile's credentials are short).
fn push_field(body: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(usize::from(u16::MAX))];
    body.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    body.extend_from_slice(bytes);
}

/// Whether a write error means the broker had closed (or reset) the connection.
fn closed_by_peer(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::BrokenPipe
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::NotConnected
    )
}

/// A [`template::CLIENT_ID_LEN`]-character identifier (`0-9a-z`) derived from the run's id
/// stem and a scenario client name (FNV-1a, then base 36).
fn client_id_for(stem: &str, name: &str) -> [u8; template::CLIENT_ID_LEN] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in stem.bytes().chain([0u8]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = [b'0'; template::CLIENT_ID_LEN];
    for slot in out.iter_mut().rev() {
        let d = (h % 36) as u8;
        *slot = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        h /= 36;
    }
    out
}

fn code_of(rc: ReasonCode, t: PacketType, v: ProtocolVersion) -> u8 {
    match (v, t) {
        (ProtocolVersion::V311, PacketType::ConnAck) => rc.to_connect_return_code().unwrap_or(0xff),
        _ => rc.as_u8(),
    }
}

fn codes_text(codes: &[u8]) -> String {
    if codes.is_empty() {
        return "any reason code".to_owned();
    }
    let list: Vec<String> = codes.iter().map(|c| format!("0x{c:02X}")).collect();
    list.join(" or ")
}

async fn expect(
    c: &mut TestClient,
    expectation: &Expectation,
    wait: Duration,
    v: ProtocolVersion,
) -> Result<(), Outcome> {
    let deadline = Instant::now() + wait;
    match expectation {
        Expectation::Closed => match c.recv_until(deadline).await {
            Received::Closed => Ok(()),
            Received::Timeout => Err(Outcome::fail(
                "the connection closed",
                format!("still open after {} ms", wait.as_millis()),
            )),
            other => Err(Outcome::fail("the connection closed", other.describe(v))),
        },
        Expectation::Disconnect { reasons } => {
            disconnect_then_close(c, deadline, reasons, false, v).await
        }
        Expectation::ClosedOrDisconnect { reasons } => {
            disconnect_then_close(c, deadline, reasons, true, v).await
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
            let mut what = match fields {
                Some(serde_json::Value::Array(alts)) => {
                    let alts: Vec<String> = alts.iter().map(|a| a.to_string()).collect();
                    format!("{} with one of {}", packet_type.name(), alts.join(" | "))
                }
                Some(f) => format!("{} with {f}", packet_type.name()),
                None => packet_type.name().to_owned(),
            };
            if !absent.is_empty() {
                what.push_str(&format!(", without {}", absent.join(", ")));
            }
            if let Some(m) = at_most {
                what.push_str(&format!(", at most {m}"));
            }
            if !or_disconnect.is_empty() {
                what.push_str(&format!(
                    ", or DISCONNECT {} then the close",
                    codes_text(or_disconnect)
                ));
            }
            if *or_closed {
                what.push_str(" or the connection closed");
            }
            let mut next = c.recv_until(deadline).await;
            if *skip_others {
                while let Received::Packet(p) = &next {
                    if p.packet_type() == *packet_type || p.packet_type() == PacketType::Disconnect
                    {
                        break;
                    }
                    next = c.recv_until(deadline).await;
                }
            }
            match next {
                Received::Closed if *or_closed => Ok(()),
                Received::Packet(Packet::Disconnect(d))
                    if v == ProtocolVersion::V5
                        && or_disconnect.contains(&d.reason_code.as_u8())
                        && *packet_type != PacketType::Disconnect =>
                {
                    match c.recv_until(deadline).await {
                        Received::Closed => Ok(()),
                        other => Err(Outcome::fail(
                            "the connection closed after the server's DISCONNECT",
                            other.describe(v),
                        )),
                    }
                }
                Received::Packet(Packet::Disconnect(_))
                    if *or_closed && *packet_type != PacketType::Disconnect =>
                {
                    match c.recv_until(deadline).await {
                        Received::Closed => Ok(()),
                        other => Err(Outcome::fail(
                            "the connection closed after the server's DISCONNECT",
                            other.describe(v),
                        )),
                    }
                }
                Received::Packet(p) if p.packet_type() == *packet_type => {
                    let json = crate::json::packet(&p, v);
                    let matched = match fields {
                        Some(serde_json::Value::Array(alts)) => {
                            alts.iter().any(|f| contains(&json, f))
                        }
                        Some(f) => contains(&json, f),
                        None => true,
                    } && !absent.iter().any(|path| has_path(&json, path))
                        && at_most.as_ref().is_none_or(|m| within(&json, m));
                    if matched {
                        Ok(())
                    } else {
                        Err(Outcome::fail(
                            what,
                            format!("{} = {json}", summary::packet(&p, v)),
                        ))
                    }
                }
                other => Err(Outcome::fail(what, other.describe(v))),
            }
        }
        Expectation::NoPacket {
            duration,
            or_closed,
        } => {
            let expected = if *or_closed {
                format!(
                    "nothing for {} ms (or the connection closed)",
                    duration.as_millis()
                )
            } else {
                format!("nothing for {} ms", duration.as_millis())
            };
            match c.recv_until(Instant::now() + *duration).await {
                Received::Timeout => Ok(()),
                Received::Closed if *or_closed => Ok(()),
                other => Err(Outcome::fail(expected, other.describe(v))),
            }
        }
        Expectation::Connack {
            codes,
            or_closed,
            any_version,
        } => {
            let mut expected = format!("CONNACK {}", codes_text(codes));
            if *any_version {
                expected.push_str(" (either protocol version)");
            }
            if *or_closed {
                expected.push_str(" or the connection closed");
            }
            match c.recv_until(deadline).await {
                Received::Closed if *or_closed => Ok(()),
                Received::Malformed { bytes, .. } if *any_version => {
                    let other = match v {
                        ProtocolVersion::V5 => ProtocolVersion::V311,
                        ProtocolVersion::V311 => ProtocolVersion::V5,
                    };
                    match Packet::decode(bytes.clone(), other) {
                        Ok(Packet::ConnAck(a)) if codes.contains(&a.reason_code.as_u8()) => Ok(()),
                        _ => Err(Outcome::fail(
                            expected,
                            format!(
                                "bytes that are no CONNACK of {} in either version [{}]",
                                codes_text(codes),
                                hex::encode(&bytes)
                            ),
                        )),
                    }
                }
                Received::Packet(Packet::ConnAck(a))
                    if codes.contains(&code_of(a.reason_code, PacketType::ConnAck, v)) =>
                {
                    Ok(())
                }
                other => Err(Outcome::fail(expected, other.describe(v))),
            }
        }
        Expectation::WellFormed {
            duration,
            topic_alias_maximum,
        } => {
            let end = Instant::now() + *duration;
            loop {
                match c.recv_until(end).await {
                    Received::Timeout | Received::Closed => return Ok(()),
                    Received::Packet(Packet::Publish(p))
                        if alias_above(&p, *topic_alias_maximum) =>
                    {
                        return Err(Outcome::fail(
                            format!(
                                "no Topic Alias above the client's maximum {}",
                                topic_alias_maximum.unwrap_or(0)
                            ),
                            summary::packet(&Packet::Publish(p), v),
                        ))
                    }
                    Received::Packet(p) if !server_may_send(p.packet_type(), v) => {
                        return Err(Outcome::fail(
                            "only packets a server may send",
                            format!("a {} from the broker", p.packet_type().name()),
                        ))
                    }
                    Received::Packet(_) => {}
                    m @ Received::Malformed { .. } => {
                        let mut outcome = Outcome::fail(
                            "every packet from the broker decodes strictly",
                            m.describe(v),
                        );
                        if let Received::Malformed { error, .. } = &m {
                            if let Some(s) = error.statement() {
                                outcome = outcome.statement(s);
                            }
                        }
                        return Err(outcome);
                    }
                }
            }
        }
        Expectation::PublishesMatch { duration, filters } => {
            let end = Instant::now() + *duration;
            let mut aliases = Aliases::default();
            loop {
                let p = match c.recv_until(end).await {
                    Received::Timeout | Received::Closed => return Ok(()),
                    Received::Packet(Packet::Publish(p)) => p,
                    // Unframeable bytes end the connection (and would be returned again).
                    Received::Malformed { .. } if c.is_ended() => return Ok(()),
                    _ => continue,
                };
                let Some(topic) = aliases.resolve(&p) else {
                    continue;
                };
                let allowed = allowed_qos(filters, &topic);
                match allowed {
                    None => {
                        return Err(Outcome::fail(
                            "PUBLISH only on topics matching the client's subscriptions",
                            format!("PUBLISH to `{topic}`, which matches none of them"),
                        ))
                    }
                    Some(q) if p.qos() as u8 > q => {
                        return Err(Outcome::fail(
                            format!("PUBLISH to `{topic}` at QoS {q} or lower"),
                            format!("QoS {}", p.qos() as u8),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

/// Whether `p` carries a Topic Alias above `maximum` (never, when no maximum is given).
fn alias_above(p: &mqttspec_codec::Publish, maximum: Option<u16>) -> bool {
    match (p.properties.topic_alias, maximum) {
        (Some(a), Some(max)) => a.get() > max,
        _ => false,
    }
}

async fn disconnect_then_close(
    c: &mut TestClient,
    deadline: Instant,
    reasons: &[u8],
    close_alone_ok: bool,
    v: ProtocolVersion,
) -> Result<(), Outcome> {
    let expected = if close_alone_ok && v == ProtocolVersion::V5 {
        format!(
            "DISCONNECT {} or the connection closed",
            codes_text(reasons)
        )
    } else if close_alone_ok {
        "the connection closed".to_owned()
    } else {
        format!(
            "DISCONNECT {} then the connection closed",
            codes_text(reasons)
        )
    };
    match c.recv_until(deadline).await {
        Received::Closed if close_alone_ok => Ok(()),
        Received::Packet(Packet::Disconnect(d))
            if v == ProtocolVersion::V5
                && (reasons.is_empty() || reasons.contains(&d.reason_code.as_u8())) =>
        {
            match c.recv_until(deadline).await {
                Received::Closed => Ok(()),
                other => Err(Outcome::fail(
                    "the connection closed after the server's DISCONNECT",
                    other.describe(v),
                )),
            }
        }
        Received::Timeout => Err(Outcome::fail(expected, "nothing (connection left open)")),
        other => Err(Outcome::fail(expected, other.describe(v))),
    }
}

/// Whether the dotted `path` (`properties.content_type`) leads to a value in `json`.
pub fn has_path(json: &serde_json::Value, path: &str) -> bool {
    let mut at = json;
    for key in path.split('.') {
        match at.get(key) {
            Some(next) => at = next,
            None => return false,
        }
    }
    !at.is_null()
}

/// Whether every number of `bounds` (a table shaped like `actual`) is met by a number at the
/// same place in `actual` no greater than it; other values of `bounds` must be contained as
/// by [`contains`].
pub fn within(actual: &serde_json::Value, bounds: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (actual, bounds) {
        (Value::Object(a), Value::Object(b)) => b
            .iter()
            .all(|(k, bv)| a.get(k).is_some_and(|av| within(av, bv))),
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a <= b,
            _ => false,
        },
        (a, b) => contains(a, b),
    }
}

/// Whether `actual` contains `expected`: objects key by key (extra keys allowed), arrays
/// element by element (same length), anything else equal. A number matches the same number
/// written as a string and vice versa, so `value = "0x80"` and `packet_identifier = 1` both
/// work.
pub fn contains(actual: &serde_json::Value, expected: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, ev)| a.get(k).is_some_and(|av| contains(av, ev))),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(av, ev)| contains(av, ev))
        }
        (Value::Number(a), Value::String(e)) | (Value::String(e), Value::Number(a)) => {
            a.to_string() == *e
        }
        (a, e) => a == e,
    }
}
