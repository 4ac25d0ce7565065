//! The scenario file format (TOML), documented for authors in `corpus/regressions/README.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mqttspec_codec::{PacketType, ProtocolVersion, Spec, StatementId};
use serde::Deserialize;

use super::template;

/// The most steps a scenario may have, and the most times one `send` may repeat.
pub const MAX_STEPS: usize = 1000;
/// The most times one `send` step may repeat its bytes.
pub const MAX_REPEAT: u32 = 100_000;
/// The longest `no-packet` wait (ms).
pub const MAX_NO_PACKET_MS: u64 = 30_000;

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
        /// Keep Alive of the runner's CONNECT.
        keep_alive: u16,
    },
    /// Send bytes, `repeat` times.
    Send {
        /// Client name.
        client: String,
        /// The bytes.
        bytes: Vec<u8>,
        /// How many times.
        repeat: u32,
    },
    /// Close the client's TCP connection.
    Close {
        /// Client name.
        client: String,
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
    /// The next packet has this type and its JSON form contains `fields`.
    Packet {
        /// The packet type.
        packet_type: PacketType,
        /// A subset of the packet's JSON form ([`crate::json::packet`]).
        fields: Option<serde_json::Value>,
        /// Whether the connection closing instead (after a DISCONNECT or not) is accepted.
        or_closed: bool,
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
    fields: Option<toml::Table>,
    ms: Option<u64>,
    or_closed: Option<bool>,
    any_version: Option<bool>,
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
        if raw.step.len() > MAX_STEPS {
            return Err(err(format!("more than {MAX_STEPS} steps")));
        }
        let mut steps = Vec::with_capacity(raw.step.len());
        let mut known: Vec<String> = Vec::new();
        let mut last: Option<String> = None;
        for (i, s) in raw.step.into_iter().enumerate() {
            let step = convert_step(s, &mut known, &mut last)
                .map_err(|m| err(format!("step {}: {m}", i + 1)))?;
            steps.push(step);
        }
        Ok(Scenario {
            path: path.to_owned(),
            id: raw.id,
            title: raw.title,
            source: raw.source,
            protocol,
            expect: raw.expect,
            statements,
            steps,
        })
    }
}

fn convert_step(
    s: RawStep,
    known: &mut Vec<String>,
    last: &mut Option<String>,
) -> Result<Step, String> {
    let actions = [&s.connect, &s.send, &s.close, &s.expect]
        .iter()
        .filter(|a| a.is_some())
        .count();
    if actions != 1 {
        return Err("needs exactly one of `connect`, `send`, `close`, `expect`".to_owned());
    }
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
            ("client", s.client.is_some()),
            ("repeat", s.repeat.is_some()),
            ("reasons", s.reasons.is_some()),
            ("codes", s.codes.is_some()),
            ("packet", s.packet.is_some()),
            ("fields", s.fields.is_some()),
            ("ms", s.ms.is_some()),
            ("or_closed", s.or_closed.is_some()),
            ("any_version", s.any_version.is_some()),
        ])?;
        if client.is_empty() {
            return Err("empty client name".to_owned());
        }
        if !known.contains(&client) {
            known.push(client.clone());
        }
        *last = Some(client.clone());
        return Ok(Step::Connect {
            client,
            raw: bytes(&s.hex)?,
            keep_alive: s.keep_alive.unwrap_or(60),
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
        ("or_closed", s.or_closed.is_some()),
        ("any_version", s.any_version.is_some()),
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
        });
    }
    if let Some(client) = s.close {
        unused(&common)?;
        unused(&[("hex", s.hex.is_some()), ("repeat", s.repeat.is_some())])?;
        use_client(&client, known)?;
        return Ok(Step::Close { client });
    }
    let kind = s.expect.unwrap_or_default();
    unused(&[
        ("hex", s.hex.is_some()),
        ("repeat", s.repeat.is_some()),
        ("keep_alive", s.keep_alive.is_some()),
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
            only(&["packet", "fields", "or_closed"])?;
            let name = s.packet.as_deref().ok_or("`expect = \"packet\"` needs `packet`")?;
            let packet_type = PacketType::ALL
                .into_iter()
                .find(|t| t.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("unknown packet type `{name}`"))?;
            let fields = match &s.fields {
                Some(t) => Some(serde_json::to_value(t).map_err(|e| format!("`fields`: {e}"))?),
                None => None,
            };
            Expectation::Packet {
                packet_type,
                fields,
                or_closed: s.or_closed.unwrap_or(false),
            }
        }
        "no-packet" => {
            only(&["ms", "or_closed"])?;
            let ms = s.ms.ok_or("`expect = \"no-packet\"` needs `ms`")?;
            if ms == 0 || ms > MAX_NO_PACKET_MS {
                return Err(format!("`ms` must be 1..={MAX_NO_PACKET_MS}"));
            }
            Expectation::NoPacket {
                duration: Duration::from_millis(ms),
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
        other => {
            return Err(format!(
                "unknown expectation `{other}` (closed, disconnect, closed-or-disconnect, packet, no-packet, connack)"
            ))
        }
    };
    Ok(Step::Expect {
        client,
        expectation,
    })
}
