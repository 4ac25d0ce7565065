//! The scenario DSL: how conformance cases are written.
//!
//! A [`Case`] is declared with [`case!`](crate::case) (id, title, cited statements,
//! capabilities, the reference-broker faults that must make it fail, tags) and has an async
//! `run` function that receives a [`Ctx`] (call it `t`).
//!
//! Inside `run`, `t` creates clients with unique client identifiers and topic prefixes, and
//! every interaction with the broker is a step with a deadline and a [`Role`]:
//!
//! - **setup** (the default of `connect`, `open`, `subscribe`, `publish`, `unsubscribe`,
//!   `send`): a precondition; when it goes wrong the case ends INCONCLUSIVE naming the
//!   [`Precondition`], never FAIL;
//! - **check** (the default of `expect_publish`, `expect_no_publish`, `expect_packet`,
//!   `expect_reply`, `expect_disconnect`, `connect_expect`, `alive`, `t.check(..)`): an unmet
//!   expectation is FAIL with Expected / Actual;
//! - **twin** (`.as_twin()`): the well-formed twin of something the case expects refused;
//! - **control** (`.as_control()`): the positive control of something the case expects absent.
//!
//! `.as_check()` and `.as_setup(p)` change a step's default. The runner refuses verdicts that
//! are not earned ([`crate::runner::earned`]): a case that checked nothing, or whose PASS rests
//! on a refusal without an accepted twin or on an absence without a control, is ERROR (a case
//! bug), so a listener that closes every connection or never answers can pass nothing.
//!
//! ```ignore
//! case! {
//!     /// A SUBSCRIBE whose reserved header flags are not 0010 is malformed
//!     RESERVED_FLAGS = "subscribe.reserved-flags-malformed",
//!     checks: [V5_3_8_1_1],                   // its 3.1.1 counterpart comes from the pairing table
//!     faults: [AcceptBadSubscribeFlags],
//!     tags: [ToBroker],
//!     run: reserved_flags,
//! }
//!
//! fn reserved_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
//!     Box::pin(async move {
//!         let mut c = t.client("c").connect().await?;               // setup
//!         c.subscribe(t.topic("ok")).as_twin().await?;              // the well-formed twin
//!         c.send_raw(raw_subscribe(t.is_v5(), 0x80, 7, &[(b"a", 0)])).await?;
//!         c.expect_closed_or_disconnect(&[ReasonCode::MalformedPacket]).await?;  // the check
//!         t.pass()
//!     })
//! }
//! ```

mod case;
mod client;
mod ctx;
mod declare;
pub mod registry;
mod role;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use mqttspec_codec::{Packet, ProtocolVersion, ReasonCode, StatementId};

pub use crate::profile::Capability;
pub use crate::verdict::Precondition;
pub use crate::verdict::{Outcome, Verdict};
pub use case::{Case, FaultTarget, Protocols, Tag};
pub use client::{
    Alive, Client, ExpectNoPublish, ExpectPacket, ExpectPublish, ExpectReply, PublishBuilder,
    Published, SubscribeBuilder, UnsubscribeBuilder,
};
pub(crate) use ctx::base36 as ctx_base36;
pub use ctx::{CaseEnv, ClientBuilder, Ctx, Observations, Will};
pub use declare::trim_doc;
pub use mqttspec_reference_broker::core::fault::Fault;
pub use role::Role;

/// A boxed, sendable future (what a case's `run` returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a case returns: its outcome, or the unmet expectation that ended it.
pub type CaseResult = Result<Outcome, Failure>;

/// The run function of a case.
pub type CaseFn = fn(Ctx) -> BoxFuture<'static, CaseResult>;

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

    /// Whether this reply is a refusal (the connection closed, an error CONNACK, a server
    /// DISCONNECT): a verdict resting on one needs the well-formed twin accepted.
    pub fn is_refusal(self) -> bool {
        !matches!(self, Reply::ConnAck(ReasonCode::Success))
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
