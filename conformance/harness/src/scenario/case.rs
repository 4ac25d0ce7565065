//! [`Case`]: the static description of one conformance case (declared with
//! [`case!`](crate::case)), and what it is made of: [`Protocols`], [`Capability`](crate::profile::Capability),
//! [`FaultTarget`] and [`Tag`].

use mqttspec_codec::{ProtocolVersion, Spec, StatementId};

use super::{CaseFn, Fault};
use crate::profile::Capability;

/// One conformance case. Declare it with [`case!`](crate::case): the id once, the cited
/// statements, the capabilities it needs, the faults that must turn it red and what it
/// exercises; the protocols follow from the cited statements and the area from the
/// statement catalogue.
#[derive(Clone, Copy)]
pub struct Case {
    /// Unique dotted id, e.g. `connect.second-connect-is-protocol-error`; the first part
    /// names the file the case lives in. Published reports and baselines refer to it.
    pub id: &'static str,
    /// One line saying what is checked, in the project's words.
    pub title: &'static str,
    /// The normative statements checked, as cited (of either specification). Each run
    /// reports the ones of its protocol ([`Case::statements_for`]).
    pub statements: &'static [StatementId],
    /// Restricts the protocols the statements would give (e.g. a behaviour both
    /// specifications describe, checked with MQTT 5.0 properties only).
    pub only: Option<Protocols>,
    /// Capabilities the broker must offer; if one is absent the case is UNSUPPORTED.
    pub requires: &'static [Capability],
    /// Reference-broker faults each of which must turn this case FAIL: the proof that the
    /// case can fail.
    pub faults: &'static [FaultTarget],
    /// Why no fault can make this case fail, when `faults` is empty (avoid).
    pub unfaultable: Option<&'static str>,
    /// What the case exercises (delivery path, string field, direction), for coverage by
    /// path.
    pub tags: &'static [Tag],
    /// The scenario.
    pub run: CaseFn,
    /// The module the case is declared in (`module_path!()`, set by [`case!`](crate::case)):
    /// with [`Case::line`], its place in [`crate::cases::all`].
    #[doc(hidden)]
    pub module: &'static str,
    /// The line of the case's declaration (`line!()`, set by [`case!`](crate::case)).
    #[doc(hidden)]
    pub line: u32,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("statements", &self.statements)
            .field("protocols", &self.protocols())
            .finish_non_exhaustive()
    }
}

impl Case {
    /// The name of the module of [`crate::cases`] the case is declared in (`"connect"` for
    /// `mqttspec::cases::connect`).
    #[doc(hidden)]
    pub fn module_name(&self) -> &'static str {
        self.module.rsplit("::").next().unwrap_or(self.module)
    }

    /// The statement catalogue's area of the first cited statement (`CONNECT`,
    /// `Retained Messages`, ...).
    pub fn area(&self) -> &'static str {
        self.statements.first().map_or("", |s| s.area())
    }

    /// The cited statements, and — when they are all of one specification — their
    /// counterparts in the other (the pairing table beside the catalogue,
    /// `codec/data/statement-pairs.tsv`), without repeats, in citation order. A case that
    /// cites statements of both specifications names exactly what it checks; one that names
    /// a behaviour once gets the other specification's statement of it from the table.
    fn expanded(&self) -> Vec<StatementId> {
        let one_spec = self
            .statements
            .windows(2)
            .all(|w| w[0].spec() == w[1].spec());
        let mut out: Vec<StatementId> = Vec::new();
        for s in self.statements {
            let paired: &[StatementId] = if one_spec { s.counterparts() } else { &[] };
            for t in std::iter::once(*s).chain(paired.iter().copied()) {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// Every statement the case checks on the protocols it runs on (see [`Case::protocols`]).
    pub fn cited(&self) -> Vec<StatementId> {
        let protocols = self.protocols();
        self.expanded()
            .into_iter()
            .filter(|s| protocols.versions().iter().any(|v| v.spec() == s.spec()))
            .collect()
    }

    /// Whether the case checks `s`.
    pub fn cites(&self, s: StatementId) -> bool {
        self.cited().contains(&s)
    }

    /// Which protocol versions the case runs on: those whose specification has a statement
    /// among the cited ones and their counterparts, narrowed by `only`.
    pub fn protocols(&self) -> Protocols {
        let cited = self.expanded();
        let v311 = cited.iter().any(|s| s.spec() == Spec::V311);
        let v5 = cited.iter().any(|s| s.spec() == Spec::V5);
        let from_statements = match (v311, v5) {
            (true, false) => Protocols::V311,
            (false, true) => Protocols::V5,
            _ => Protocols::Both,
        };
        match self.only {
            Some(Protocols::V311) => Protocols::V311,
            Some(Protocols::V5) => Protocols::V5,
            _ => from_statements,
        }
    }

    /// The statements of `v`'s specification that this case checks.
    pub fn statements_for(&self, v: ProtocolVersion) -> Vec<StatementId> {
        self.cited()
            .into_iter()
            .filter(|s| s.spec() == v.spec())
            .collect()
    }

    /// The faults of [`Case::faults`] with the protocols each must make FAIL.
    pub fn fault_targets(&self) -> Vec<(&'static str, Vec<ProtocolVersion>)> {
        let protocols = self.protocols();
        self.faults
            .iter()
            .map(|t| {
                let versions = match t.only {
                    Some(v) => vec![v]
                        .into_iter()
                        .filter(|v| protocols.includes(*v))
                        .collect(),
                    None => protocols.versions(),
                };
                (t.fault.name(), versions)
            })
            .collect()
    }

    /// Whether `filter` selects this case: an id prefix, an area name (case-insensitive), or
    /// a statement id (`MQTT-3.1.0-1`).
    pub fn matches(&self, filter: &str) -> bool {
        let f = filter.trim();
        f.is_empty()
            || self.id.starts_with(f)
            || self.area().eq_ignore_ascii_case(f)
            || self.cited().iter().any(|s| s.id() == f)
    }
}

/// A reference-broker fault that must turn a case FAIL, on every protocol of the case or on
/// one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultTarget {
    /// The fault.
    pub fault: Fault,
    /// Only this protocol must FAIL (`None`: every protocol the case runs on).
    pub only: Option<ProtocolVersion>,
}

impl FaultTarget {
    /// `fault` on every protocol (`only: None`) or on one.
    pub const fn new(fault: Fault, only: Option<ProtocolVersion>) -> Self {
        FaultTarget { fault, only }
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

/// What a case exercises, so that coverage can be shown per delivery path, string field and
/// direction: a rule applies on every path, and brokers break it on one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tag {
    /// A message forwarded to a subscriber that is connected.
    Live,
    /// A message queued for a disconnected session and delivered on resume.
    Queued,
    /// A retained message delivered on subscribe.
    Retained,
    /// A Will Message.
    Will,
    /// A shared subscription.
    Shared,
    /// Something the client sends the broker (the broker as receiver).
    ToBroker,
    /// Something the broker sends a client (the broker as sender).
    FromBroker,
    /// The Topic Name field.
    TopicName,
    /// A Topic Filter.
    TopicFilter,
    /// The Client Identifier.
    ClientId,
    /// The Will Topic.
    WillTopic,
    /// User Name / Password.
    Credentials,
    /// User Properties.
    UserProperty,
    /// Response Topic / Correlation Data.
    RequestResponse,
    /// Content Type / Payload Format Indicator.
    ContentType,
    /// A Reason String.
    ReasonString,
    /// Enhanced authentication (AUTH).
    Auth,
    /// The session state across connections.
    Session,
}

impl Tag {
    /// The tag as reports show it.
    pub fn label(self) -> &'static str {
        match self {
            Tag::Live => "live",
            Tag::Queued => "queued",
            Tag::Retained => "retained",
            Tag::Will => "will",
            Tag::Shared => "shared",
            Tag::ToBroker => "to-broker",
            Tag::FromBroker => "from-broker",
            Tag::TopicName => "topic-name",
            Tag::TopicFilter => "topic-filter",
            Tag::ClientId => "client-id",
            Tag::WillTopic => "will-topic",
            Tag::Credentials => "credentials",
            Tag::UserProperty => "user-property",
            Tag::RequestResponse => "request-response",
            Tag::ContentType => "content-type",
            Tag::ReasonString => "reason-string",
            Tag::Auth => "auth",
            Tag::Session => "session",
        }
    }
}
