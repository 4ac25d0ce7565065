//! The scenario DSL: how conformance cases are written.
//!
//! A [`Case`] is a static description (id, title, area, the normative statements it checks,
//! the protocols it runs on, the capabilities it needs, the reference-broker faults that must
//! make it fail) plus an async `run` function that receives a [`Ctx`] (call it `t`).
//!
//! Inside `run`, `t` creates clients with unique client identifiers and topic prefixes, and
//! every interaction with the broker is an expectation with a deadline. An unmet expectation
//! is returned with `?` as a [`Failure`]: FAIL with Expected / Actual when the broker did
//! something the case does not accept, ERROR when the harness itself could not proceed.
//! A case that returns without having observed anything cannot PASS (it is ERROR "case
//! observed nothing"), so every case checks something.
//!
//! ```no_run
//! use mqttspec::scenario::{Case, Ctx, CaseResult, Protocols, Capability, BoxFuture};
//! use mqttspec_codec::StatementId as S;
//!
//! fn retained_message_reaches_a_new_subscriber(t: Ctx) -> BoxFuture<'static, CaseResult> {
//!     Box::pin(async move {
//!         let topic = t.topic("r");
//!         let mut publisher = t.client("pub").connect().await?;
//!         publisher.publish(&topic).qos(1).retain().payload("kept").await?; // waits for PUBACK
//!         let mut late = t.client("sub").connect().await?;
//!         late.subscribe(&topic).qos(1).await?;                            // waits for SUBACK
//!         late.expect_publish().topic(&topic).retain(true).payload("kept").await?;
//!         t.pass()
//!     })
//! }
//!
//! pub const CASE: Case = Case {
//!     id: "retain.delivered-on-subscribe",
//!     title: "A retained message is sent to a new subscriber with RETAIN set",
//!     area: "Retained Messages",
//!     statements: &[S::V5_3_3_1_9, S::V311_3_3_1_6],
//!     protocols: Protocols::Both,
//!     requires: &[Capability::Retain, Capability::QoS1],
//!     faults: &["no-retain-delivery"],
//!     unfaultable: None,
//!     run: retained_message_reaches_a_new_subscriber,
//! };
//! ```

mod client;
mod ctx;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use mqttspec_codec::{Packet, ProtocolVersion, ReasonCode, StatementId};

pub use crate::verdict::{Outcome, Verdict};
pub use client::{
    Client, ExpectNoPublish, ExpectPacket, ExpectPublish, ExpectReply, PublishBuilder, Published,
    SubscribeBuilder, UnsubscribeBuilder,
};
pub(crate) use ctx::base36 as ctx_base36;
pub use ctx::{CaseEnv, ClientBuilder, Ctx, Will};

/// A boxed, sendable future (what a case's `run` returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a case returns: its outcome, or the unmet expectation that ended it.
pub type CaseResult = Result<Outcome, Failure>;

/// The run function of a case.
pub type CaseFn = fn(Ctx) -> BoxFuture<'static, CaseResult>;

/// One conformance case. See the module docs for an example.
#[derive(Clone, Copy)]
pub struct Case {
    /// Unique dotted id, e.g. `connect.second-connect-is-protocol-error`; the first part
    /// names the file the case lives in.
    pub id: &'static str,
    /// One line saying what is checked, in the project's words.
    pub title: &'static str,
    /// The statement catalogue's area (`CONNECT`, `Retained Messages`, ...).
    pub area: &'static str,
    /// The normative statements checked, of both specifications; each run reports the ones
    /// of its protocol. Cite at least one of each protocol the case runs on.
    pub statements: &'static [StatementId],
    /// Which protocol versions the case runs on.
    pub protocols: Protocols,
    /// Capabilities the broker must offer; if one is absent the case is UNSUPPORTED.
    pub requires: &'static [Capability],
    /// Reference-broker faults (names of `mqttspec_reference_broker` faults) each of which
    /// must turn this case FAIL: the proof that the case can fail. `"name"` must make every
    /// protocol of the case FAIL; `"name@5"` / `"name@3.1.1"` only that protocol.
    pub faults: &'static [&'static str],
    /// Why no fault can make this case fail, when `faults` is empty (avoid).
    pub unfaultable: Option<&'static str>,
    /// The scenario.
    pub run: CaseFn,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("area", &self.area)
            .field("statements", &self.statements)
            .field("protocols", &self.protocols)
            .finish_non_exhaustive()
    }
}

impl Case {
    /// The statements of `v`'s specification that this case cites.
    pub fn statements_for(&self, v: ProtocolVersion) -> Vec<StatementId> {
        self.statements
            .iter()
            .copied()
            .filter(|s| s.spec() == v.spec())
            .collect()
    }

    /// The faults of [`Case::faults`] with the protocols each must make FAIL.
    pub fn fault_targets(&self) -> Vec<(&'static str, Vec<ProtocolVersion>)> {
        self.faults
            .iter()
            .map(|entry| match entry.split_once('@') {
                Some((name, v)) => (
                    name,
                    v.parse::<ProtocolVersion>()
                        .into_iter()
                        .filter(|v| self.protocols.includes(*v))
                        .collect(),
                ),
                None => (*entry, self.protocols.versions()),
            })
            .collect()
    }

    /// Whether `filter` selects this case: an id prefix, an area name (case-insensitive), or
    /// a statement id (`MQTT-3.1.0-1`).
    pub fn matches(&self, filter: &str) -> bool {
        let f = filter.trim();
        f.is_empty()
            || self.id.starts_with(f)
            || self.area.eq_ignore_ascii_case(f)
            || self.statements.iter().any(|s| s.id() == f)
    }
}

/// The protocol versions a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// MQTT 3.1.1 only.
    V311,
    /// MQTT 5.0 only.
    V5,
    /// Both.
    Both,
}

impl Protocols {
    /// Whether `v` is included.
    pub fn includes(self, v: ProtocolVersion) -> bool {
        match self {
            Protocols::V311 => v == ProtocolVersion::V311,
            Protocols::V5 => v == ProtocolVersion::V5,
            Protocols::Both => true,
        }
    }

    /// The versions, 3.1.1 first.
    pub fn versions(self) -> Vec<ProtocolVersion> {
        [ProtocolVersion::V311, ProtocolVersion::V5]
            .into_iter()
            .filter(|v| self.includes(*v))
            .collect()
    }
}

/// A broker capability a case may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Maximum QoS at least 1.
    QoS1,
    /// Maximum QoS 2.
    QoS2,
    /// Retain Available.
    Retain,
    /// Wildcard Subscription Available.
    Wildcards,
    /// Shared Subscription Available.
    SharedSubscriptions,
    /// Subscription Identifier Available.
    SubscriptionIdentifiers,
    /// Topic Alias Maximum above 0.
    TopicAliases,
    /// The given enhanced authentication method (from the profile).
    EnhancedAuth(&'static str),
    /// The profile gives a User Name and Password.
    Credentials,
}

/// An unmet expectation, returned with `?`; the runner turns it into the case's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub Outcome);

impl Failure {
    /// FAIL: the broker did `actual` where `expected` was required.
    pub fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Failure(Outcome::fail(expected, actual))
    }

    /// ERROR: the harness could not go on.
    pub fn error(reason: impl Into<String>) -> Self {
        Failure(Outcome::error(reason))
    }

    /// Names the statement the failure is about.
    pub fn statement(mut self, s: StatementId) -> Self {
        self.0.statement = Some(s);
        self
    }

    /// The outcome.
    pub fn into_outcome(self) -> Outcome {
        self.0
    }
}

impl From<Failure> for Outcome {
    fn from(f: Failure) -> Outcome {
        f.0
    }
}

/// What the broker may legitimately do in response to something: used where the
/// specification allows several outcomes, e.g. "CONNACK 0x84 or the connection closed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// CONNACK with exactly this code (3.1.1 return codes are the MQTT 5.0 codes of the
    /// same meaning: 0x01 is `UnsupportedProtocolVersion`, 0x02 `ClientIdentifierNotValid`).
    ConnAck(ReasonCode),
    /// CONNACK with any error code (0x80 or above; any non-zero return code in 3.1.1).
    ConnAckError,
    /// DISCONNECT with exactly this code (MQTT 5.0 only).
    Disconnect(ReasonCode),
    /// DISCONNECT with any error code (MQTT 5.0 only).
    DisconnectError,
    /// The connection closed without a packet.
    Closed,
}

impl Reply {
    /// Whether `packet` (or a close, for `None`) is this reply.
    pub fn matches(self, packet: Option<&Packet>) -> bool {
        match (self, packet) {
            (Reply::Closed, None) => true,
            (Reply::ConnAck(code), Some(Packet::ConnAck(c))) => c.reason_code == code,
            (Reply::ConnAckError, Some(Packet::ConnAck(c))) => c.reason_code != ReasonCode::Success,
            (Reply::Disconnect(code), Some(Packet::Disconnect(d))) => d.reason_code == code,
            (Reply::DisconnectError, Some(Packet::Disconnect(d))) => d.reason_code.is_error(),
            _ => false,
        }
    }

    /// How the reply reads in Expected texts.
    pub fn describe(self, v: ProtocolVersion) -> String {
        use mqttspec_codec::PacketType as T;
        match self {
            Reply::ConnAck(c) => {
                format!("CONNACK {}", crate::client::summary::code(c, T::ConnAck, v))
            }
            Reply::ConnAckError => "CONNACK with an error code".to_owned(),
            Reply::Disconnect(c) => {
                format!(
                    "DISCONNECT {}",
                    crate::client::summary::code(c, T::Disconnect, v)
                )
            }
            Reply::DisconnectError => "DISCONNECT with an error code".to_owned(),
            Reply::Closed => "the connection closed".to_owned(),
        }
    }

    /// Whether the connection must close after this reply (error CONNACK, DISCONNECT).
    fn closes(self) -> bool {
        !matches!(self, Reply::ConnAck(ReasonCode::Success) | Reply::Closed)
    }
}

/// Describes a list of acceptable replies: "CONNACK 0x84 or the connection closed".
pub fn describe_replies(replies: &[Reply], v: ProtocolVersion) -> String {
    let parts: Vec<String> = replies.iter().map(|r| r.describe(v)).collect();
    parts.join(" or ")
}

/// `n` seconds.
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `n` milliseconds.
pub const fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}
