//! Verdicts: what a case run concluded about the broker.
//!
//! | verdict | meaning |
//! |---|---|
//! | PASS | every MUST / MUST NOT the case checks was obeyed |
//! | FAIL | a MUST or MUST NOT was violated (carries Expected vs Actual and the transcript) |
//! | NON-STRICT | a SHOULD was not followed |
//! | INFORMATIONAL | the broker made one of the choices the specification allows; recorded |
//! | UNSUPPORTED | the broker declares the capability absent (CONNACK or profile), or refused the protocol version the way the specification says |
//! | INCONCLUSIVE | a precondition of the case could not be established (a valid CONNECT refused, a setup PUBLISH not acknowledged, the well-formed twin refused too, ...): the statements were not tested; the [`Precondition`] names what was missing and the case that tests it |
//! | ERROR | the harness could not run the case (a case bug, a panic, its time limit) |
//!
//! Only a step that checks one of the case's cited statements can give FAIL or NON-STRICT;
//! a setup step that goes wrong gives INCONCLUSIVE (see [`crate::scenario`]).

use std::fmt;

use mqttspec_codec::StatementId;
use serde::{Deserialize, Serialize};

/// The verdict of one case run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// All checked requirements were met.
    #[serde(rename = "PASS")]
    Pass,
    /// The broker may choose; what it chose is recorded.
    #[serde(rename = "INFORMATIONAL")]
    Informational,
    /// The capability is absent.
    #[serde(rename = "UNSUPPORTED")]
    Unsupported,
    /// A precondition could not be established: nothing was tested.
    #[serde(rename = "INCONCLUSIVE")]
    Inconclusive,
    /// A SHOULD was not followed.
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    /// The harness could not run the case.
    #[serde(rename = "ERROR")]
    Error,
    /// A MUST / MUST NOT was violated.
    #[serde(rename = "FAIL")]
    Fail,
}

impl Verdict {
    /// All verdicts, from best to worst.
    pub const ALL: [Verdict; 7] = [
        Verdict::Pass,
        Verdict::Informational,
        Verdict::Unsupported,
        Verdict::Inconclusive,
        Verdict::NonStrict,
        Verdict::Error,
        Verdict::Fail,
    ];

    /// The label: `PASS`, `FAIL`, `NON-STRICT`, `INFORMATIONAL`, `UNSUPPORTED`, `ERROR`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NonStrict => "NON-STRICT",
            Verdict::Informational => "INFORMATIONAL",
            Verdict::Unsupported => "UNSUPPORTED",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Error => "ERROR",
        }
    }

    /// How bad the verdict is, for "worst of" (the order of [`Verdict::ALL`]): a statement's
    /// verdict in the traceability matrix is the worst verdict of its cases.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Informational => 1,
            Verdict::Unsupported => 2,
            Verdict::Inconclusive => 3,
            Verdict::NonStrict => 4,
            Verdict::Error => 5,
            Verdict::Fail => 6,
        }
    }

    /// The worse of two verdicts.
    pub fn worst(self, other: Verdict) -> Verdict {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// Whether this verdict means the broker broke a requirement or the run is not
    /// trustworthy (FAIL or ERROR): these are shown first. Only FAIL gates CI by default
    /// (see [`crate::baseline`]).
    pub fn is_problem(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::Error)
    }

    /// Whether the verdict judges the broker (PASS, FAIL, NON-STRICT, INFORMATIONAL): the
    /// others say why it could not be judged.
    pub fn is_judgement(self) -> bool {
        matches!(
            self,
            Verdict::Pass | Verdict::Fail | Verdict::NonStrict | Verdict::Informational
        )
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.label().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown verdict `{s}` (PASS, FAIL, NON-STRICT, INFORMATIONAL, UNSUPPORTED, INCONCLUSIVE, ERROR)")
            })
    }
}

/// A verdict with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// What the specification requires (or what the case expected).
    pub expected: Option<String>,
    /// What the broker did (or why the case could not run, for ERROR and UNSUPPORTED).
    pub actual: Option<String>,
    /// The statement found violated, when the failure points at one.
    pub statement: Option<StatementId>,
    /// For INCONCLUSIVE: the precondition that could not be established.
    pub precondition: Option<Precondition>,
}

impl Outcome {
    /// A verdict without explanation.
    pub fn new(verdict: Verdict) -> Self {
        Outcome {
            verdict,
            expected: None,
            actual: None,
            statement: None,
            precondition: None,
        }
    }

    /// PASS.
    pub fn pass() -> Self {
        Self::new(Verdict::Pass)
    }

    /// FAIL with Expected / Actual.
    pub fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Self::with(Verdict::Fail, expected, actual)
    }

    /// NON-STRICT with Expected / Actual.
    pub fn non_strict(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Self::with(Verdict::NonStrict, expected, actual)
    }

    /// INFORMATIONAL: the allowed choice the broker made.
    pub fn informational(choice: impl Into<String>) -> Self {
        Self::new(Verdict::Informational).actual(choice)
    }

    /// UNSUPPORTED, with the reason (which capability is absent, and who says so).
    pub fn unsupported(reason: impl Into<String>) -> Self {
        Self::new(Verdict::Unsupported).actual(reason)
    }

    /// ERROR: the harness could not run the case.
    pub fn error(reason: impl Into<String>) -> Self {
        Self::new(Verdict::Error).actual(reason)
    }

    /// INCONCLUSIVE: `precondition` could not be established; `detail` says what happened.
    pub fn inconclusive(precondition: Precondition, detail: impl Into<String>) -> Self {
        let mut o = Self::new(Verdict::Inconclusive).actual(detail);
        o.expected = Some(precondition.describe().to_owned());
        o.precondition = Some(precondition);
        o
    }

    fn with(verdict: Verdict, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Outcome {
            verdict,
            expected: Some(expected.into()),
            actual: Some(actual.into()),
            statement: None,
            precondition: None,
        }
    }

    fn actual(mut self, actual: impl Into<String>) -> Self {
        self.actual = Some(actual.into());
        self
    }

    /// Names the statement this outcome is about.
    pub fn statement(mut self, statement: StatementId) -> Self {
        self.statement = Some(statement);
        self
    }
}

/// A precondition a case needs before it can check anything. When one cannot be
/// established, the case is INCONCLUSIVE and names it, with the case that tests that very
/// behaviour ([`Precondition::pointer`]): "valid CONNECT refused -> see `connect.accepted`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precondition {
    /// A TCP connection to the broker could be opened and stayed open while the case set up.
    Connection,
    /// A well-formed CONNECT was accepted (CONNACK 0x00).
    Connect,
    /// A CONNECT with the options the case needs (Keep Alive, Will, properties, session,
    /// Client Identifier) was accepted: a server may refuse those for reasons of its own.
    ConnectOptions,
    /// A PINGREQ on an accepted connection was answered.
    Ping,
    /// A plain SUBSCRIBE was granted.
    Subscribe,
    /// A SUBSCRIBE, UNSUBSCRIBE or PUBLISH on a `$` topic, with wildcards or to a shared
    /// subscription was accepted: a server may refuse those for reasons of its own.
    UnusualTopic,
    /// An UNSUBSCRIBE was acknowledged.
    Unsubscribe,
    /// A QoS 1 setup PUBLISH was acknowledged (PUBACK).
    Publish,
    /// A QoS 2 setup PUBLISH was acknowledged (PUBREC, then PUBCOMP). Apart from
    /// [`Precondition::Publish`]: a broker may support QoS 1 and not QoS 2.
    PublishQos2,
    /// The broker granted the request the case needs: it answered, but refused this CONNECT,
    /// subscription or message with a reason code, or granted a lower QoS than asked. A
    /// broker may do that for reasons of its own (authorization, quotas, a filter it does not
    /// serve, being busy), so, unlike an unanswered request, it says nothing about the
    /// broker's basic behaviour.
    Granted,
    /// A setup message was delivered to a subscriber.
    Delivery,
    /// A retained setup message was delivered to a new subscriber.
    RetainedDelivery,
    /// A retained setup message was delivered again when a resumed session subscribed again
    /// to the filter it already held (Retain Handling 0). No cross-check: the retained cases
    /// subscribe afresh, and a broker may get that right and still skip the repeat.
    RetainedResubscribe,
    /// A setup Will Message was published to its subscriber (what the case checks is how it
    /// was forwarded; whether a Will is published at all is judged by the Will cases). No
    /// cross-check: the Will cases use other Will options than the case that needs this.
    WillDelivery,
    /// A message queued for a disconnected session was delivered when the session resumed
    /// (whether a broker queues at all is judged by the session cases). No cross-check: a
    /// broker that queues a plain QoS 1 message may still drop one whose properties or size
    /// the case needs.
    QueuedDelivery,
    /// A setup message was delivered to a member of a Shared Subscription (whether shared
    /// subscriptions deliver at all is judged by the shared cases). No cross-check: a broker
    /// that delivers a plain shared QoS 1 message may still not deliver a QoS 2 one, or one
    /// to a subscription with an identifier.
    SharedDelivery,
    /// The well-formed twin of the refused packet (same client setup, the offending field
    /// corrected) was accepted by the same broker.
    Twin,
    /// The positive control of an absence: a message that must arrive on the same subscriber
    /// and path did arrive.
    Control,
    /// The broker accepted a valid CONNECT of the run's protocol version.
    ProtocolUsable,
    /// The broker still served a fresh client after the cases that ran alongside.
    BrokerHealthy,
    /// A case-specific precondition (described in the outcome).
    Other,
}

impl Precondition {
    /// Every precondition.
    pub const ALL: [Precondition; 21] = [
        Precondition::Connection,
        Precondition::Connect,
        Precondition::ConnectOptions,
        Precondition::Ping,
        Precondition::Subscribe,
        Precondition::UnusualTopic,
        Precondition::Unsubscribe,
        Precondition::Publish,
        Precondition::PublishQos2,
        Precondition::Granted,
        Precondition::Delivery,
        Precondition::RetainedDelivery,
        Precondition::RetainedResubscribe,
        Precondition::WillDelivery,
        Precondition::QueuedDelivery,
        Precondition::SharedDelivery,
        Precondition::Twin,
        Precondition::Control,
        Precondition::ProtocolUsable,
        Precondition::BrokerHealthy,
        Precondition::Other,
    ];

    /// What had to hold, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            Precondition::Connection => "a TCP connection that stays open during setup",
            Precondition::Connect => "a valid CONNECT accepted",
            Precondition::ConnectOptions => "a CONNECT with the case's options accepted",
            Precondition::Ping => "a PINGREQ answered",
            Precondition::Subscribe => "a plain SUBSCRIBE granted",
            Precondition::UnusualTopic => {
                "a `$` topic, wildcard or shared filter accepted in SUBSCRIBE, UNSUBSCRIBE or PUBLISH"
            }
            Precondition::Unsubscribe => "an UNSUBSCRIBE acknowledged",
            Precondition::Publish => "a QoS 1 setup PUBLISH acknowledged",
            Precondition::PublishQos2 => "a QoS 2 setup PUBLISH acknowledged",
            Precondition::Granted => {
                "the request granted (the broker refused it with a reason code or granted a lower QoS, which it may)"
            }
            Precondition::Delivery => "a setup message delivered to its subscriber",
            Precondition::RetainedDelivery => "a retained setup message delivered",
            Precondition::RetainedResubscribe => {
                "a retained setup message delivered again when a resumed session subscribed again"
            }
            Precondition::WillDelivery => "a setup Will Message published to its subscriber",
            Precondition::QueuedDelivery => {
                "a message queued for the offline session delivered when it resumed"
            }
            Precondition::SharedDelivery => {
                "a setup message delivered to a member of a Shared Subscription"
            }
            Precondition::Twin => "the well-formed twin accepted by the same broker",
            Precondition::Control => "the positive control message delivered",
            Precondition::ProtocolUsable => "a valid CONNECT of this protocol version accepted",
            Precondition::BrokerHealthy => "the broker still serving after the cases alongside",
            Precondition::Other => "a case-specific precondition",
        }
    }

    /// The id of the case that tests this behaviour itself, if one does: when that case
    /// PASSED in the same run, a case INCONCLUSIVE for this precondition points at a harness
    /// bug (the runner reports it as ERROR).
    pub fn pointer(self) -> Option<&'static str> {
        match self {
            Precondition::Connect => Some("connect.accepted"),
            Precondition::Ping => Some("connect.pingreq-answered"),
            Precondition::Subscribe => {
                Some("subscribe.suback-echoes-packet-id-with-one-code-per-filter")
            }
            Precondition::Unsubscribe => Some("subscribe.unsuback-echoes-packet-id"),
            Precondition::Publish => Some("qos.puback-echoes-packet-id"),
            Precondition::PublishQos2 => Some("qos.pubrec-pubcomp-echo-packet-id"),
            Precondition::Delivery => Some("publish.payload-delivered-unchanged"),
            Precondition::RetainedDelivery => Some("retain.delivered-on-subscribe"),
            _ => None,
        }
    }

    /// The kebab-case name used in JSON (`connect`, `twin`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Precondition::Connection => "connection",
            Precondition::Connect => "connect",
            Precondition::ConnectOptions => "connect-options",
            Precondition::Ping => "ping",
            Precondition::Subscribe => "subscribe",
            Precondition::UnusualTopic => "unusual-topic",
            Precondition::Unsubscribe => "unsubscribe",
            Precondition::Publish => "publish",
            Precondition::PublishQos2 => "publish-qos2",
            Precondition::Granted => "granted",
            Precondition::Delivery => "delivery",
            Precondition::RetainedDelivery => "retained-delivery",
            Precondition::RetainedResubscribe => "retained-resubscribe",
            Precondition::WillDelivery => "will-delivery",
            Precondition::QueuedDelivery => "queued-delivery",
            Precondition::SharedDelivery => "shared-delivery",
            Precondition::Twin => "twin",
            Precondition::Control => "control",
            Precondition::ProtocolUsable => "protocol-usable",
            Precondition::BrokerHealthy => "broker-healthy",
            Precondition::Other => "other",
        }
    }
}

impl fmt::Display for Precondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_is_worse_than_every_other_verdict() {
        for v in Verdict::ALL {
            assert_eq!(v.worst(Verdict::Fail), Verdict::Fail);
            assert_eq!(Verdict::Fail.worst(v), Verdict::Fail);
            assert_eq!(v.worst(Verdict::Pass), v);
        }
    }

    #[test]
    fn labels_parse_back_and_serialize_the_same() {
        for v in Verdict::ALL {
            assert_eq!(v.label().parse::<Verdict>(), Ok(v));
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                format!("\"{}\"", v.label())
            );
        }
        assert!("MAYBE".parse::<Verdict>().is_err());
        assert_eq!("non-strict".parse::<Verdict>(), Ok(Verdict::NonStrict));
    }

    #[test]
    fn only_fail_and_error_are_problems() {
        let problems: Vec<_> = Verdict::ALL
            .into_iter()
            .filter(|v| v.is_problem())
            .collect();
        assert_eq!(problems, vec![Verdict::Error, Verdict::Fail]);
    }
}
