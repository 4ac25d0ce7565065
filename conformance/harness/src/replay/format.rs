//! The scenario file format (TOML), documented for authors in `corpus/regressions/README.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mqttspec_codec::{PacketType, ProtocolVersion, Spec, StatementId};
use serde::Deserialize;

use super::template;
use crate::profile::Credentials;

/// The most steps a scenario may have, and the most times one `send` may repeat.
pub const MAX_STEPS: usize = 1000;
/// The most times one `send` step may repeat its bytes.
pub const MAX_REPEAT: u32 = 100_000;
/// The longest `no-packet` wait (ms).
pub const MAX_NO_PACKET_MS: u64 = 30_000;
/// The longest `wait` step (ms).
pub const MAX_WAIT_MS: u64 = 30_000;
/// The most times a `loop` step may run its steps (the unrolled steps count against
/// [`MAX_STEPS`] too).
pub const MAX_LOOP: u32 = 1000;

/// One parsed, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from.
    pub path: PathBuf,
    /// Unique identifier.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Where the bug was published (CVE id, issue).
    pub source: String,
    /// The protocol every client of the scenario speaks.
    pub protocol: ProtocolVersion,
    /// What a conforming broker must do.
    pub expect: String,
    /// The normative statements the scenario checks.
    pub statements: Vec<StatementId>,
    /// The User Name and Password of the runner's own CONNECTs (the setup `connect` steps
    /// without `hex`, the checks before and after the steps), when the scenario was recorded
    /// against a broker that wants them (a fuzz finding); `mqttspec replay --profile` /
    /// `--username` override them.
    pub credentials: Option<Credentials>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Open a connection for `client` and send a CONNECT: the runner's own (and then the
    /// CONNACK must accept it, or the scenario is ERROR) or the given raw bytes (nothing
    /// awaited).
    Connect {
        /// Client name.
        client: String,
        /// Raw CONNECT bytes, if given.
        raw: Option<Vec<u8>>,
        /// Offsets in `raw` where the runner writes the client's unique Client Identifier
        /// (`{cid}` in the template, [`template::CLIENT_ID_LEN`] bytes each).
        client_id_slots: Vec<usize>,
        /// Keep Alive of the runner's CONNECT.
        keep_alive: u16,
        /// The scenario client whose Client Identifier the `{cid}` slots take (`None`: this
        /// client's own). Two connections with one identifier make a session takeover.
        same_id_as: Option<String>,
        /// (5.0) The Maximum Packet Size this client declares: the runner's CONNECT carries
        /// it, a raw CONNECT must carry it itself; either way a larger packet from the broker
        /// is malformed for this client (MQTT-3.1.2-24) and meets no expectation.
        maximum_packet_size: Option<u32>,
    },
    /// Send bytes, `repeat` times.
    Send {
        /// Client name.
        client: String,
        /// The bytes.
        bytes: Vec<u8>,
        /// How many times.
        repeat: u32,
        /// Whether a connection already closed by the broker skips the write instead of
        /// failing the scenario.
        or_closed: bool,
        /// The bytes are WebSocket wire bytes (hand-built frames), written beneath the
        /// WebSocket layer (`ws_wire = true`; WebSocket runs only).
        ws_wire: bool,
    },
    /// Close the client's TCP connection.
    Close {
        /// Client name.
        client: String,
    },
    /// Let time pass (session or message expiry, delays) without watching any client.
    Wait {
        /// How long.
        duration: Duration,
    },
    /// Wait for something from the broker.
    Expect {
        /// Client name.
        client: String,
        /// What must happen.
        expectation: Expectation,
    },
}

/// What one `expect` step requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// The connection is closed, nothing sent first.
    Closed,
    /// A DISCONNECT with one of `reasons` (any when empty), then the connection closed.
    Disconnect {
        /// Allowed reason codes.
        reasons: Vec<u8>,
    },
    /// Either the connection closed, or a DISCONNECT as above.
    ClosedOrDisconnect {
        /// Allowed reason codes of a DISCONNECT.
        reasons: Vec<u8>,
    },
    /// The next packet has this type and its JSON form contains `fields` (or, when `fields`
    /// is an array, one of its elements).
    Packet {
        /// The packet type.
        packet_type: PacketType,
        /// A subset of the packet's JSON form ([`crate::json::packet`]).
        fields: Option<serde_json::Value>,
        /// Whether the connection closing instead (after a DISCONNECT or not) is accepted.
        or_closed: bool,
        /// Whether packets of other types before it are skipped.
        skip_others: bool,
        /// (5.0) A DISCONNECT with one of these reason codes, then the close, passes too.
        or_disconnect: Vec<u8>,
        /// Dotted paths into the packet's JSON form (`properties.message_expiry_interval`)
        /// that must not be there.
        absent: Vec<String>,
        /// Upper bounds: a table shaped like the JSON form whose numbers are the highest
        /// values allowed (the value must be there).
        at_most: Option<serde_json::Value>,
    },
    /// Nothing arrives for `duration` (a close is accepted when `or_closed`).
    NoPacket {
        /// How long to watch.
        duration: Duration,
        /// Whether the broker may close the connection instead.
        or_closed: bool,
    },
    /// A CONNACK with one of `codes` (3.1.1 return codes or 5.0 reason codes); the
    /// connection closed without CONNACK is accepted too when `or_closed`.
    Connack {
        /// Allowed codes.
        codes: Vec<u8>,
        /// Whether closing without CONNACK is accepted.
        or_closed: bool,
        /// Whether a CONNACK well-formed in the other protocol version is accepted too (for
        /// CONNECTs of unknown levels); its code is compared in MQTT 5.0 numbering (3.1.1
        /// return code 0x01 is 0x84).
        any_version: bool,
    },
    /// For `duration` (or until the connection closes) every packet from the broker decodes
    /// strictly and is one a server may send.
    WellFormed {
        /// How long to watch.
        duration: Duration,
        /// (5.0) The Topic Alias Maximum the client declared: a PUBLISH with a higher Topic
        /// Alias fails too.
        topic_alias_maximum: Option<u16>,
    },
    /// For `duration` (or until the connection closes) every PUBLISH from the broker has a
    /// Topic Name matching one of `filters`, at a QoS no higher than the highest of the
    /// matching filters' QoS; other packets are ignored.
    PublishesMatch {
        /// How long to watch.
        duration: Duration,
        /// The client's subscriptions: Topic Filter (a `$share/NAME/` prefix is removed) and
        /// the QoS it asked for.
        filters: Vec<(String, u8)>,
    },
}

/// Why a scenario file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for ScenarioError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    id: String,
    title: String,
    source: String,
    protocol: String,
    expect: String,
    #[serde(default)]
    statements: Vec<String>,
    credentials: Option<Credentials>,
    #[serde(default)]
    step: Vec<RawStep>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    connect: Option<String>,
    send: Option<String>,
    close: Option<String>,
    expect: Option<String>,
    client: Option<String>,
    hex: Option<String>,
    keep_alive: Option<u16>,
    repeat: Option<u32>,
    reasons: Option<Vec<u8>>,
    codes: Option<Vec<u8>>,
    packet: Option<String>,
    fields: Option<toml::Value>,
    or_disconnect: Option<Vec<u8>>,
    ms: Option<u64>,
    or_closed: Option<bool>,
    ws_wire: Option<bool>,
    any_version: Option<bool>,
    filters: Option<Vec<RawFilter>>,
    topic_alias_maximum: Option<u16>,
    skip_others: Option<bool>,
    same_id_as: Option<String>,
    maximum_packet_size: Option<u32>,
    absent: Option<Vec<String>>,
    at_most: Option<toml::Value>,
    wait: Option<u64>,
    #[serde(rename = "loop")]
    loop_times: Option<u32>,
    steps: Option<Vec<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    filter: String,
    #[serde(default = "two")]
    qos: u8,
}

fn two() -> u8 {
    2
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.to_owned(),
            message: format!("cannot read: {e}"),
        })?;
        Scenario::parse(path, &text)
    }

    /// Parses and validates scenario text (`path` is only for messages).
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let err = |message: String| ScenarioError {
            path: path.to_owned(),
            message,
        };
        let raw: RawScenario = toml::from_str(text).map_err(|e| err(e.message().to_owned()))?;
        if raw.id.trim().is_empty() {
            return Err(err("`id` is empty".to_owned()));
        }
        let protocol: ProtocolVersion = raw.protocol.parse().map_err(err)?;
        let spec = match protocol {
            ProtocolVersion::V311 => Spec::V311,
            ProtocolVersion::V5 => Spec::V5,
        };
        let statements = raw
            .statements
            .iter()
            .map(|s| {
                StatementId::lookup(spec, s).ok_or_else(|| {
                    err(format!(
                        "unknown statement `{s}` for MQTT {}",
                        protocol.label()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if raw.step.is_empty() {
            return Err(err("no `[[step]]`".to_owned()));
        }
        let mut steps = Vec::with_capacity(raw.step.len().min(MAX_STEPS));
        let mut known: Vec<String> = Vec::new();
        let mut last: Option<String> = None;
        for (i, s) in raw.step.into_iter().enumerate() {
            let at = i + 1;
            match (s.loop_times, s.steps.is_some()) {
                (None, false) => {
                    let step = convert_step(s, &mut known, &mut last)
                        .map_err(|m| err(format!("step {at}: {m}")))?;
                    steps.push(step);
                }
                (Some(times), true) => {
                    unroll_loop(s, times, &mut known, &mut last, &mut steps)
                        .map_err(|m| err(format!("step {at}: {m}")))?;
                }
                (None, true) => return Err(err(format!("step {at}: `steps` needs `loop`"))),
                (Some(_), false) => return Err(err(format!("step {at}: `loop` needs `steps`"))),
            }
            if steps.len() > MAX_STEPS {
                return Err(err(format!(
                    "more than {MAX_STEPS} steps (loops counted unrolled)"
                )));
            }
        }
        Ok(Scenario {
            path: path.to_owned(),
            id: raw.id,
            title: raw.title,
            source: raw.source,
            protocol,
            expect: raw.expect,
            statements,
            credentials: raw.credentials,
            steps,
        })
    }
}

/// Appends the steps of a `loop` step, `times` over, to `out`: a loop is unrolled when the
/// file is read, so the runner only ever sees plain steps.
fn unroll_loop(
    s: RawStep,
    times: u32,
    known: &mut Vec<String>,
    last: &mut Option<String>,
    out: &mut Vec<Step>,
) -> Result<(), String> {
    if times == 0 || times > MAX_LOOP {
        return Err(format!("`loop` must be 1..={MAX_LOOP}"));
    }
    let present = present_keys(&s);
    if let Some(key) = present.iter().find(|k| !matches!(**k, "loop" | "steps")) {
        return Err(format!("`{key}` does not apply to a `loop` step"));
    }
    let inner = s.steps.unwrap_or_default();
    if inner.is_empty() {
        return Err("`steps` of a `loop` is empty".to_owned());
    }
    let mut body = Vec::with_capacity(inner.len());
    for (j, raw) in inner.into_iter().enumerate() {
        if raw.loop_times.is_some() || raw.steps.is_some() {
            return Err(format!(
                "inner step {}: a `loop` cannot contain a `loop`",
                j + 1
            ));
        }
        body.push(
            convert_step(raw, known, last).map_err(|m| format!("inner step {}: {m}", j + 1))?,
        );
    }
    for _ in 0..times {
        if out.len() + body.len() > MAX_STEPS {
            return Err(format!(
                "more than {MAX_STEPS} steps (loops counted unrolled)"
            ));
        }
        out.extend(body.iter().cloned());
    }
    Ok(())
}

/// The keys given in a raw step, by name.
fn present_keys(s: &RawStep) -> Vec<&'static str> {
    [
        ("connect", s.connect.is_some()),
        ("send", s.send.is_some()),
        ("close", s.close.is_some()),
        ("expect", s.expect.is_some()),
        ("client", s.client.is_some()),
        ("hex", s.hex.is_some()),
        ("keep_alive", s.keep_alive.is_some()),
        ("repeat", s.repeat.is_some()),
        ("reasons", s.reasons.is_some()),
        ("codes", s.codes.is_some()),
        ("packet", s.packet.is_some()),
        ("fields", s.fields.is_some()),
        ("or_disconnect", s.or_disconnect.is_some()),
        ("ms", s.ms.is_some()),
        ("or_closed", s.or_closed.is_some()),
        ("ws_wire", s.ws_wire.is_some()),
        ("any_version", s.any_version.is_some()),
        ("filters", s.filters.is_some()),
        ("topic_alias_maximum", s.topic_alias_maximum.is_some()),
        ("skip_others", s.skip_others.is_some()),
        ("same_id_as", s.same_id_as.is_some()),
        ("maximum_packet_size", s.maximum_packet_size.is_some()),
        ("absent", s.absent.is_some()),
        ("at_most", s.at_most.is_some()),
        ("wait", s.wait.is_some()),
        ("loop", s.loop_times.is_some()),
        ("steps", s.steps.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, given)| given.then_some(name))
    .collect()
}

fn convert_step(
    s: RawStep,
    known: &mut Vec<String>,
    last: &mut Option<String>,
) -> Result<Step, String> {
    let actions = [&s.connect, &s.send, &s.close, &s.expect]
        .iter()
        .filter(|a| a.is_some())
        .count()
        + usize::from(s.wait.is_some());
    if actions != 1 {
        return Err(
            "needs exactly one of `connect`, `send`, `close`, `expect`, `wait`, `loop`".to_owned(),
        );
    }
    if let Some(ms) = s.wait {
        if let Some(key) = present_keys(&s).into_iter().find(|k| *k != "wait") {
            return Err(format!("`{key}` does not apply to a `wait` step"));
        }
        if ms == 0 || ms > MAX_WAIT_MS {
            return Err(format!("`wait` must be 1..={MAX_WAIT_MS} (ms)"));
        }
        return Ok(Step::Wait {
            duration: Duration::from_millis(ms),
        });
    }
    type WithIds = Option<(Vec<u8>, Vec<usize>)>;
    let with_ids = |hex: &Option<String>| -> Result<WithIds, String> {
        hex.as_deref()
            .map(|h| template::expand_with_client_ids(h).map_err(|e| format!("`hex`: {e}")))
            .transpose()
    };
    let bytes = |hex: &Option<String>| -> Result<Option<Vec<u8>>, String> {
        hex.as_deref()
            .map(|h| template::expand(h).map_err(|e| format!("`hex`: {e}")))
            .transpose()
    };
    let unused = |names: &[(&str, bool)]| -> Result<(), String> {
        match names.iter().find(|(_, present)| *present) {
            Some((name, _)) => Err(format!("`{name}` does not apply to this step")),
            None => Ok(()),
        }
    };
    let use_client = |name: &str, known: &[String]| -> Result<(), String> {
        if known.iter().any(|k| k == name) {
            Ok(())
        } else {
            Err(format!("client `{name}` has not connected"))
        }
    };
    if let Some(client) = s.connect {
        unused(&[
            ("ws_wire", s.ws_wire.is_some()),
            ("client", s.client.is_some()),
            ("repeat", s.repeat.is_some()),
            ("reasons", s.reasons.is_some()),
            ("codes", s.codes.is_some()),
            ("packet", s.packet.is_some()),
            ("fields", s.fields.is_some()),
            ("ms", s.ms.is_some()),
            ("or_closed", s.or_closed.is_some()),
            ("any_version", s.any_version.is_some()),
            ("filters", s.filters.is_some()),
            ("topic_alias_maximum", s.topic_alias_maximum.is_some()),
            ("skip_others", s.skip_others.is_some()),
            ("or_disconnect", s.or_disconnect.is_some()),
            ("absent", s.absent.is_some()),
            ("at_most", s.at_most.is_some()),
        ])?;
        if client.is_empty() {
            return Err("empty client name".to_owned());
        }
        if s.maximum_packet_size == Some(0) {
            return Err("`maximum_packet_size` must be at least 1".to_owned());
        }
        if !known.contains(&client) {
            known.push(client.clone());
        }
        *last = Some(client.clone());
        let (raw, client_id_slots) = match with_ids(&s.hex)? {
            Some((b, slots)) => (Some(b), slots),
            None => (None, Vec::new()),
        };
        if let Some(other) = &s.same_id_as {
            if client_id_slots.is_empty() {
                return Err("`same_id_as` needs `hex` with a `{cid}`".to_owned());
            }
            if other == &client {
                return Err("`same_id_as` names the client itself".to_owned());
            }
            use_client(other, known)?;
        }
        return Ok(Step::Connect {
            client,
            raw,
            client_id_slots,
            keep_alive: s.keep_alive.unwrap_or(60),
            same_id_as: s.same_id_as,
            maximum_packet_size: s.maximum_packet_size,
        });
    }
    let common = [
        ("client", s.client.is_some()),
        ("keep_alive", s.keep_alive.is_some()),
        ("reasons", s.reasons.is_some()),
        ("codes", s.codes.is_some()),
        ("packet", s.packet.is_some()),
        ("fields", s.fields.is_some()),
        ("ms", s.ms.is_some()),
        ("any_version", s.any_version.is_some()),
        ("filters", s.filters.is_some()),
        ("topic_alias_maximum", s.topic_alias_maximum.is_some()),
        ("skip_others", s.skip_others.is_some()),
        ("or_disconnect", s.or_disconnect.is_some()),
        ("same_id_as", s.same_id_as.is_some()),
        ("maximum_packet_size", s.maximum_packet_size.is_some()),
        ("absent", s.absent.is_some()),
        ("at_most", s.at_most.is_some()),
    ];
    if let Some(client) = s.send {
        unused(&common)?;
        use_client(&client, known)?;
        let bytes = bytes(&s.hex)?.ok_or("`send` needs `hex`")?;
        let repeat = s.repeat.unwrap_or(1);
        if repeat == 0 || repeat > MAX_REPEAT {
            return Err(format!("`repeat` must be 1..={MAX_REPEAT}"));
        }
        if bytes.len().saturating_mul(repeat as usize) > template::MAX_BYTES * 4 {
            return Err("`repeat` × bytes is too large".to_owned());
        }
        *last = Some(client.clone());
        return Ok(Step::Send {
            client,
            bytes,
            repeat,
            or_closed: s.or_closed.unwrap_or(false),
            ws_wire: s.ws_wire.unwrap_or(false),
        });
    }
    unused(&[("ws_wire", s.ws_wire.is_some())])?;
    if let Some(client) = s.close {
        unused(&common)?;
        unused(&[("or_closed", s.or_closed.is_some())])?;
        unused(&[("hex", s.hex.is_some()), ("repeat", s.repeat.is_some())])?;
        use_client(&client, known)?;
        return Ok(Step::Close { client });
    }
    let kind = s.expect.unwrap_or_default();
    unused(&[
        ("hex", s.hex.is_some()),
        ("repeat", s.repeat.is_some()),
        ("keep_alive", s.keep_alive.is_some()),
        ("same_id_as", s.same_id_as.is_some()),
        ("maximum_packet_size", s.maximum_packet_size.is_some()),
    ])?;
    let client = match s.client.or_else(|| last.clone()) {
        Some(c) => c,
        None => return Err("`expect` before any client connected".to_owned()),
    };
    use_client(&client, known)?;
    let only = |allowed: &[&str]| -> Result<(), String> {
        let given = [
            ("reasons", s.reasons.is_some()),
            ("codes", s.codes.is_some()),
            ("packet", s.packet.is_some()),
            ("fields", s.fields.is_some()),
            ("ms", s.ms.is_some()),
            ("or_closed", s.or_closed.is_some()),
            ("any_version", s.any_version.is_some()),
            ("filters", s.filters.is_some()),
            ("topic_alias_maximum", s.topic_alias_maximum.is_some()),
            ("skip_others", s.skip_others.is_some()),
            ("or_disconnect", s.or_disconnect.is_some()),
            ("absent", s.absent.is_some()),
            ("at_most", s.at_most.is_some()),
        ];
        match given
            .iter()
            .find(|(name, present)| *present && !allowed.contains(name))
        {
            Some((name, _)) => Err(format!("`{name}` does not apply to `expect = \"{kind}\"`")),
            None => Ok(()),
        }
    };
    let expectation = match kind.as_str() {
        "closed" => {
            only(&[])?;
            Expectation::Closed
        }
        "disconnect" => {
            only(&["reasons"])?;
            Expectation::Disconnect {
                reasons: s.reasons.clone().unwrap_or_default(),
            }
        }
        "closed-or-disconnect" => {
            only(&["reasons"])?;
            Expectation::ClosedOrDisconnect {
                reasons: s.reasons.clone().unwrap_or_default(),
            }
        }
        "packet" => {
            only(&[
                "packet",
                "fields",
                "or_closed",
                "skip_others",
                "or_disconnect",
                "absent",
                "at_most",
            ])?;
            let name = s.packet.as_deref().ok_or("`expect = \"packet\"` needs `packet`")?;
            let packet_type = PacketType::ALL
                .into_iter()
                .find(|t| t.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("unknown packet type `{name}`"))?;
            let fields = match &s.fields {
                Some(toml::Value::Array(a)) if a.iter().any(|v| !v.is_table()) => {
                    return Err("`fields` is a table or an array of tables".to_owned())
                }
                Some(t @ (toml::Value::Table(_) | toml::Value::Array(_))) => {
                    Some(serde_json::to_value(t).map_err(|e| format!("`fields`: {e}"))?)
                }
                Some(_) => return Err("`fields` is a table or an array of tables".to_owned()),
                None => None,
            };
            let at_most = match &s.at_most {
                Some(t @ toml::Value::Table(_)) => {
                    Some(serde_json::to_value(t).map_err(|e| format!("`at_most`: {e}"))?)
                }
                Some(_) => return Err("`at_most` is a table".to_owned()),
                None => None,
            };
            let absent = s.absent.clone().unwrap_or_default();
            if absent.iter().any(|p| p.is_empty() || p.split('.').any(str::is_empty)) {
                return Err("`absent` holds dotted paths like `properties.content_type`".to_owned());
            }
            Expectation::Packet {
                packet_type,
                fields,
                or_closed: s.or_closed.unwrap_or(false),
                skip_others: s.skip_others.unwrap_or(false),
                or_disconnect: s.or_disconnect.clone().unwrap_or_default(),
                absent,
                at_most,
            }
        }
        "no-packet" => {
            only(&["ms", "or_closed"])?;
            Expectation::NoPacket {
                duration: watch_ms(s.ms, &kind)?,
                or_closed: s.or_closed.unwrap_or(false),
            }
        }
        "connack" => {
            only(&["codes", "or_closed", "any_version"])?;
            Expectation::Connack {
                codes: s.codes.clone().ok_or("`expect = \"connack\"` needs `codes`")?,
                or_closed: s.or_closed.unwrap_or(false),
                any_version: s.any_version.unwrap_or(false),
            }
        }
        "well-formed" => {
            only(&["ms", "topic_alias_maximum"])?;
            Expectation::WellFormed {
                duration: watch_ms(s.ms, &kind)?,
                topic_alias_maximum: s.topic_alias_maximum,
            }
        }
        "publishes-match" => {
            only(&["ms", "filters"])?;
            let filters = s
                .filters
                .as_ref()
                .ok_or("`expect = \"publishes-match\"` needs `filters`")?
                .iter()
                .map(|f| {
                    if f.qos > 2 {
                        Err(format!("filter `{}`: `qos` must be 0, 1 or 2", f.filter))
                    } else {
                        Ok((f.filter.clone(), f.qos))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            Expectation::PublishesMatch {
                duration: watch_ms(s.ms, &kind)?,
                filters,
            }
        }
        other => {
            return Err(format!(
                "unknown expectation `{other}` (closed, disconnect, closed-or-disconnect, packet, no-packet, connack, well-formed, publishes-match)"
            ))
        }
    };
    Ok(Step::Expect {
        client,
        expectation,
    })
}

/// The `ms` of an expectation that watches for a while: required, 1..=[`MAX_NO_PACKET_MS`].
fn watch_ms(ms: Option<u64>, kind: &str) -> Result<Duration, String> {
    let ms = ms.ok_or_else(|| format!("`expect = \"{kind}\"` needs `ms`"))?;
    if ms == 0 || ms > MAX_NO_PACKET_MS {
        return Err(format!("`ms` must be 1..={MAX_NO_PACKET_MS}"));
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str =
        "id = \"x\"\ntitle = \"t\"\nsource = \"s\"\nprotocol = \"5\"\nexpect = \"e\"\n";

    fn parse(steps: &str) -> Result<Scenario, String> {
        Scenario::parse(Path::new("t.toml"), &format!("{HEAD}{steps}")).map_err(|e| e.message)
    }

    #[test]
    fn a_loop_is_unrolled_in_order_and_both_table_forms_read_alike() {
        let inline = parse(
            "[[step]]\nconnect = \"a\"\n[[step]]\nloop = 3\n\
             steps = [{ send = \"a\", hex = \"c0 00\" }, { expect = \"packet\", packet = \"PINGRESP\" }]\n\
             [[step]]\nclose = \"a\"\n",
        )
        .unwrap();
        assert_eq!(inline.steps.len(), 1 + 3 * 2 + 1);
        assert!(matches!(inline.steps[1], Step::Send { .. }));
        assert!(matches!(inline.steps[2], Step::Expect { .. }));
        assert!(matches!(inline.steps[5], Step::Send { .. }));
        assert!(matches!(inline.steps[7], Step::Close { .. }));
        let tables = parse(
            "[[step]]\nconnect = \"a\"\n[[step]]\nloop = 3\n\
             [[step.steps]]\nsend = \"a\"\nhex = \"c0 00\"\n\
             [[step.steps]]\nexpect = \"packet\"\npacket = \"PINGRESP\"\n\
             [[step]]\nclose = \"a\"\n",
        )
        .unwrap();
        assert_eq!(tables.steps, inline.steps);
    }

    #[test]
    fn wait_and_same_id_as_steps_are_read() {
        let s = parse(
            "[[step]]\nconnect = \"a\"\nhex = \"10 {len} {cid}\"\n\
             [[step]]\nwait = 1500\n\
             [[step]]\nconnect = \"b\"\nsame_id_as = \"a\"\nhex = \"10 {len} {cid}\"\n",
        )
        .unwrap();
        assert_eq!(
            s.steps[1],
            Step::Wait {
                duration: Duration::from_millis(1500)
            }
        );
        match &s.steps[2] {
            Step::Connect {
                same_id_as,
                client_id_slots,
                ..
            } => {
                assert_eq!(same_id_as.as_deref(), Some("a"));
                assert_eq!(client_id_slots, &vec![2]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_loops_waits_and_shared_identifiers_are_refused_with_a_reason() {
        let connect = "[[step]]\nconnect = \"a\"\n";
        let cases = [
            (format!("{connect}[[step]]\nloop = 2\n"), "`loop` needs `steps`"),
            (
                format!("{connect}[[step]]\nsteps = [{{ close = \"a\" }}]\n"),
                "`steps` needs `loop`",
            ),
            (
                format!("{connect}[[step]]\nloop = 0\nsteps = [{{ close = \"a\" }}]\n"),
                "`loop` must be 1..=1000",
            ),
            (
                format!("{connect}[[step]]\nloop = 2\nsteps = []\n"),
                "`steps` of a `loop` is empty",
            ),
            (
                format!(
                    "{connect}[[step]]\nloop = 2\nms = 5\nsteps = [{{ close = \"a\" }}]\n"
                ),
                "`ms` does not apply to a `loop` step",
            ),
            (
                format!(
                    "{connect}[[step]]\nloop = 2\nsteps = [{{ loop = 2, steps = [{{ close = \"a\" }}] }}]\n"
                ),
                "step 2: inner step 1: a `loop` cannot contain a `loop`",
            ),
            (
                format!(
                    "{connect}[[step]]\nloop = 2\nsteps = [{{ send = \"b\", hex = \"c0 00\" }}]\n"
                ),
                "step 2: inner step 1: client `b` has not connected",
            ),
            (
                format!("{connect}[[step]]\nloop = 600\nsteps = [{{ close = \"a\" }}, {{ close = \"a\" }}]\n"),
                "more than 1000 steps",
            ),
            (format!("{connect}[[step]]\nwait = 0\n"), "`wait` must be 1..=30000"),
            (
                format!("{connect}[[step]]\nwait = 10\nclose = \"a\"\n"),
                "needs exactly one of",
            ),
            (
                format!("{connect}[[step]]\nwait = 10\nclient = \"a\"\n"),
                "`client` does not apply to a `wait` step",
            ),
            (
                format!("{connect}[[step]]\nwait = 10\nms = 3\n"),
                "`ms` does not apply to a `wait` step",
            ),
            (
                format!("{connect}[[step]]\nconnect = \"b\"\nsame_id_as = \"a\"\n"),
                "`same_id_as` needs `hex` with a `{cid}`",
            ),
            (
                format!(
                    "{connect}[[step]]\nconnect = \"b\"\nsame_id_as = \"z\"\nhex = \"10 {{len}} {{cid}}\"\n"
                ),
                "client `z` has not connected",
            ),
            (
                format!("{connect}[[step]]\nsend = \"a\"\nsame_id_as = \"a\"\nhex = \"c0 00\"\n"),
                "`same_id_as` does not apply",
            ),
        ];
        for (text, fragment) in cases {
            let message = parse(&text).expect_err(&text);
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
    }
}
