//! The depth tables: for rules that apply in several places, which places have a case
//! checking the rule there, and which reference-broker fault proves that case can fail
//! (`mqttspec trace --depth` prints them). There are four [`Table`]s: the MQTT 5.0
//! forwarding rules by way a message reaches a subscriber ([`PATHS`]), the string rules by
//! string field a server reads ([`FIELDS`]), the client's limits the server honours when it
//! sends (by path, [`PATHS`]), and the server's own limits it enforces on what it receives.
//!
//! A statement counts as covered once one case cites it, but brokers often break a
//! rule on one path (or in one field) only. A [`Cell`] says: in this table, on this path,
//! for this aspect of the statement, this case checks it and FAILs under this fault (the
//! case names the fault, so `engine_faults` proves it; a test below checks the case exists,
//! cites the statement and names the fault). [`Cell::path_only`] tells whether that fault
//! breaks only this path (or field) of its table: only then does the cell show that a
//! broker breaking the rule there alone is caught by the case's own proof. A cell whose
//! fault breaks every path still means the case checks the rule on that path, but its red
//! was not proven for that path alone.
//!
//! Forwarding: on each of the six paths, the properties forwarded unaltered (3.3.2-4, -15,
//! -16, -17, -20), nothing added (3.3.2-20 Content Type), the User Property order (3.3.2-18),
//! the Subscription Identifiers (3.3.4-3), the Message Expiry Interval decremented by the
//! time waited (3.3.2-6), DUP 0 on the server's first sending (3.3.1-3) and the QoS
//! downgrade (3.8.4-8); RETAIN 0 without Retain As Published (3.3.1-12) on the five paths
//! other than retained, and RETAIN kept with it (3.3.1-13) on the same five; every cell's
//! fault breaks that path alone. RETAIN on the
//! retained path is not applicable ([`not_applicable`]: a retained message sent on subscribe
//! has RETAIN 1 whatever the options, MQTT-3.3.1-9), printed as `n/a` with the reason.
//! The path-only faults are the broker core's `Family::on` table (`path.rs`).
//!
//! Strings: ill-formed UTF-8 (1.5.4-1) and U+0000 (1.5.4-2) refused, U+FEFF kept (1.5.4-3),
//! per field; the `lenient-…-string` faults each leave one field unchecked and the
//! `strip-bom-from-…` faults each strip U+FEFF from one field (the Will Properties' fields
//! are fields of their own, apart from the same properties of PUBLISH and CONNECT); every
//! field has a case but U+FEFF in a client's Reason String, which nothing on the wire can
//! show (printed as `not observable` with the reason). Limits: Maximum Packet Size
//! (3.1.2-24; 3.2.2-15), Receive Maximum (3.3.4-9; 3.3.4-7) and Topic Alias Maximum
//! (3.1.2-26, -27; 3.2.2-17) in both directions; the client's Maximum Packet Size, Receive
//! Maximum, Topic Alias Maximum 0 (3.1.2-27) and a Topic Alias Maximum above 0 (3.1.2-26)
//! on every path (live, queued, retained, Will, delayed Will, shared), with faults of one
//! path each; the server's Topic Alias mappings ending with their connection (3.3.2-7) on
//! the six paths (their faults make the cases NON-STRICT, not FAIL: the statement binds the
//! receiver). Absent cells are places without such a case.

use mqttspec_codec::StatementId as S;
use mqttspec_codec::StatementId;
use mqttspec_harness::scenario::Fault;

/// The ways a message reaches a subscriber, in the order the table prints them.
pub const PATHS: &[&str] = &[
    "live",
    "queued",
    "retained",
    "will",
    "delayed will",
    "shared",
];

/// The string fields a server reads, in the order the strings table prints them.
pub const FIELDS: &[&str] = &[
    "Topic Name",
    "SUBSCRIBE filter",
    "UNSUBSCRIBE filter",
    "Client Identifier",
    "Will Topic",
    "User Name",
    "User Property name",
    "User Property value",
    "Response Topic",
    "Content Type",
    "Reason String",
    "Will Content Type",
    "Will Response Topic",
    "Will User Property",
    "Authentication Method",
];

/// The one column of the table of the server's own limits: what a client sends.
pub const RECEIVED: &[&str] = &["from the client"];

/// One depth table: what its rows are about and what its columns are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// MQTT 5.0 forwarding rules, by way a message reaches a subscriber.
    Forwarding,
    /// The string rules, by string field.
    Strings,
    /// The client's limits the server honours when it sends, by way a message reaches the
    /// client.
    ClientLimits,
    /// The server's own limits, enforced on what it receives.
    ServerLimits,
}

impl Table {
    /// Every table, in the order they are printed.
    pub const ALL: [Table; 4] = [
        Table::Forwarding,
        Table::Strings,
        Table::ClientLimits,
        Table::ServerLimits,
    ];

    /// The heading of the table.
    pub fn title(self) -> &'static str {
        match self {
            Table::Forwarding => {
                "MQTT 5.0 forwarding rules: which ways a message reaches a subscriber have a case"
            }
            Table::Strings => "String rules: which string fields a server reads have a case",
            Table::ClientLimits => {
                "The client's limits, honoured by the server: on which ways a message reaches the client a case checks them"
            }
            Table::ServerLimits => "The server's own limits, enforced on what a client sends",
        }
    }

    /// The columns: paths or fields.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Forwarding | Table::ClientLimits => PATHS,
            Table::Strings => FIELDS,
            Table::ServerLimits => RECEIVED,
        }
    }
}

/// One (table, statement, aspect, path or field) cell that has a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// The table it belongs to.
    pub table: Table,
    /// The statement.
    pub statement: StatementId,
    /// What of the statement is checked (e.g. "unaltered", "none added").
    pub aspect: &'static str,
    /// One of the table's [`Table::columns`] (a path or a field).
    pub path: &'static str,
    /// The id of the case.
    pub case: &'static str,
    /// A fault the case names that turns it red.
    pub fault: Fault,
    /// Whether `fault` breaks this path (or field) only (see the module docs).
    pub path_only: bool,
}

/// Why a place of a table has no case, when that is not a gap to fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exemption {
    /// The rule does not apply there.
    DoesNotApply,
    /// The rule applies, but nothing a peer can see on the wire shows whether it was kept
    /// there (no case could fail).
    NotObservable,
}

impl Exemption {
    /// How `mqttspec trace --depth` labels it.
    pub fn label(self) -> &'static str {
        match self {
            Exemption::DoesNotApply => "n/a",
            Exemption::NotObservable => "not observable",
        }
    }
}

/// A place of a table that no case can check (the rule does not apply there, or is not
/// observable there): the table says why instead of listing it as a place without a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotApplicable {
    /// The table it belongs to.
    pub table: Table,
    /// The statement.
    pub statement: StatementId,
    /// The aspect, as its cells name it.
    pub aspect: &'static str,
    /// One of the table's [`Table::columns`].
    pub path: &'static str,
    /// Which kind of exemption.
    pub kind: Exemption,
    /// Why.
    pub reason: &'static str,
}

/// Why RETAIN on forward does not apply on the retained path.
const RETAINED_HAS_RETAIN_1: &str = "a retained message sent because a subscription was made \
     carries RETAIN 1 whatever Retain As Published says (MQTT-3.3.1-9)";

/// The forwarding rules that do not apply on a path: (statement, aspect, path, reason).
const FORWARDING_NOT_APPLICABLE: &[(StatementId, &str, &str, &str)] = &[
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "retained",
        RETAINED_HAS_RETAIN_1,
    ),
    (
        S::V5_3_3_1_13,
        "RETAIN kept with Retain As Published",
        "retained",
        RETAINED_HAS_RETAIN_1,
    ),
];

/// A client's Reason String (MQTT 5.0): the server neither sends it on nor acts on its content.
const REASON_STRING_NOT_SENT_ON: &str = "a server neither sends a client's Reason String on nor \
     acts on its content, so whether it kept U+FEFF in it shows nowhere on the wire";

/// The string rules that cannot be observed in a field: (statement, aspect, field, reason).
const STRINGS_NOT_OBSERVABLE: &[(StatementId, &str, &str, &str)] = &[(
    S::V5_1_5_4_3,
    "U+FEFF kept",
    "Reason String",
    REASON_STRING_NOT_SENT_ON,
)];

/// Every place no case can check (see [`Exemption`]), in the order of [`cells`].
pub fn not_applicable() -> Vec<NotApplicable> {
    let of =
        |table, kind, list: &'static [(StatementId, &'static str, &'static str, &'static str)]| {
            list.iter()
                .map(move |&(statement, aspect, path, reason)| NotApplicable {
                    table,
                    statement,
                    aspect,
                    path,
                    kind,
                    reason,
                })
        };
    of(
        Table::Forwarding,
        Exemption::DoesNotApply,
        FORWARDING_NOT_APPLICABLE,
    )
    .chain(of(
        Table::Strings,
        Exemption::NotObservable,
        STRINGS_NOT_OBSERVABLE,
    ))
    .collect()
}

/// The forwarding cases' faults that reverse the User Properties and that leave out the
/// Subscription Identifiers, by path (each breaks that path only).
const ORDER_AND_IDENTIFIERS: &[(&str, Fault, Fault)] = &[
    (
        "live",
        Fault::ReverseUserPropertiesLive,
        Fault::NoSubscriptionIdentifiersLive,
    ),
    (
        "queued",
        Fault::ReverseUserPropertiesQueued,
        Fault::NoSubscriptionIdentifiersQueued,
    ),
    (
        "retained",
        Fault::ReverseUserPropertiesRetained,
        Fault::NoSubscriptionIdentifiersRetained,
    ),
    (
        "will",
        Fault::ReverseUserPropertiesWill,
        Fault::NoSubscriptionIdentifiersWill,
    ),
    (
        "delayed will",
        Fault::ReverseUserPropertiesDelayedWill,
        Fault::NoSubscriptionIdentifiersDelayedWill,
    ),
    (
        "shared",
        Fault::ReverseUserPropertiesShared,
        Fault::NoSubscriptionIdentifiersShared,
    ),
];

/// The forwarding cases, by path, with the fault that strips the properties there and the
/// fault that adds properties there (`path_only` of each).
const FORWARDING: &[(&str, &str, Fault, bool, Fault, bool)] = &[
    (
        "live",
        "forwarding.live-properties-unaltered",
        Fault::StripPropertiesLive,
        true,
        Fault::AddPropertiesLive,
        true,
    ),
    (
        "queued",
        "forwarding.queued-properties-unaltered",
        Fault::StripPropertiesQueued,
        true,
        Fault::AddPropertiesQueued,
        true,
    ),
    (
        "retained",
        "forwarding.retained-properties-unaltered",
        Fault::StripPropertiesRetained,
        true,
        Fault::AddPropertiesRetained,
        true,
    ),
    (
        "will",
        "forwarding.will-properties-unaltered",
        Fault::StripPropertiesWill,
        true,
        Fault::AddPropertiesWill,
        true,
    ),
    (
        "delayed will",
        "forwarding.delayed-will-properties-unaltered",
        Fault::StripPropertiesDelayedWill,
        true,
        Fault::AddPropertiesDelayedWill,
        true,
    ),
    (
        "shared",
        "forwarding.shared-properties-unaltered",
        Fault::StripPropertiesShared,
        true,
        Fault::AddPropertiesShared,
        true,
    ),
];

/// Cells whose fault breaks that path only: (statement, aspect, path, case, fault).
const PATH_ONLY: &[(StatementId, &str, &str, &str, Fault)] = &[
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "shared",
        "shared.delivered-at-granted-qos",
        Fault::NoQosDowngradeShared,
    ),
    (
        S::V5_3_3_1_13,
        "RETAIN kept with Retain As Published",
        "live",
        "retain.retain-as-published-keeps-the-flag",
        Fault::IgnoreRetainAsPublishedLive,
    ),
    (
        S::V5_3_3_2_6,
        "decremented",
        "live",
        "forwarding.message-expiry-decremented-on-every-path",
        Fault::NoMessageExpiryLive,
    ),
    (
        S::V5_3_3_2_6,
        "decremented",
        "queued",
        "publish.message-expiry-interval-decremented",
        Fault::NoMessageExpiryQueued,
    ),
    (
        S::V5_3_3_2_6,
        "decremented",
        "retained",
        "forwarding.retained-properties-unaltered",
        Fault::NoMessageExpiryRetained,
    ),
    (
        S::V5_3_3_2_6,
        "decremented",
        "will",
        "forwarding.message-expiry-decremented-on-every-path",
        Fault::NoMessageExpiryWill,
    ),
    (
        S::V5_3_3_2_6,
        "decremented",
        "delayed will",
        "forwarding.message-expiry-decremented-on-every-path",
        Fault::NoMessageExpiryDelayedWill,
    ),
    (
        S::V5_3_3_2_6,
        "decremented",
        "shared",
        "forwarding.message-expiry-decremented-on-every-path",
        Fault::NoMessageExpiryShared,
    ),
    (
        S::V5_3_3_1_3,
        "DUP not propagated",
        "live",
        "qos.dup-not-propagated-to-subscribers",
        Fault::ForwardDupLive,
    ),
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "live",
        "retain.forwarded-to-existing-subscription-with-retain-0",
        Fault::RetainFlagOnForwardLive,
    ),
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "will",
        "forwarding.will-retain-and-qos",
        Fault::RetainFlagOnForwardWill,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "live",
        "qos.delivered-qos-is-minimum-of-published-and-granted",
        Fault::NoQosDowngradeLive,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "retained",
        "retain.sent-at-minimum-of-stored-and-granted-qos",
        Fault::NoQosDowngradeRetained,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "will",
        "will.qos-downgraded-to-subscription",
        Fault::NoQosDowngradeWill,
    ),
    (
        S::V5_3_3_1_3,
        "DUP not propagated",
        "queued",
        "forwarding.queued-dup-retain-and-qos",
        Fault::ForwardDupQueued,
    ),
    (
        S::V5_3_3_1_3,
        "DUP not propagated",
        "shared",
        "forwarding.shared-dup-retain-and-qos",
        Fault::ForwardDupShared,
    ),
    (
        S::V5_3_3_1_3,
        "DUP not propagated",
        "retained",
        "forwarding.retained-dup",
        Fault::DupOnRetained,
    ),
    (
        S::V5_3_3_1_3,
        "DUP not propagated",
        "will",
        "forwarding.will-dup",
        Fault::DupOnWill,
    ),
    (
        S::V5_3_3_1_3,
        "DUP not propagated",
        "delayed will",
        "forwarding.will-dup",
        Fault::DupOnDelayedWill,
    ),
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "queued",
        "forwarding.queued-dup-retain-and-qos",
        Fault::RetainFlagOnForwardQueued,
    ),
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "shared",
        "forwarding.shared-dup-retain-and-qos",
        Fault::RetainFlagOnForwardShared,
    ),
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "delayed will",
        "forwarding.delayed-will-retain-and-qos",
        Fault::RetainFlagOnForwardDelayedWill,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "queued",
        "forwarding.queued-dup-retain-and-qos",
        Fault::NoQosDowngradeQueued,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "delayed will",
        "forwarding.delayed-will-retain-and-qos",
        Fault::NoQosDowngradeDelayedWill,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "shared",
        "forwarding.shared-dup-retain-and-qos",
        Fault::NoQosDowngradeShared,
    ),
    (
        S::V5_3_3_1_13,
        "RETAIN kept with Retain As Published",
        "queued",
        "retain.retain-as-published-on-every-path",
        Fault::IgnoreRetainAsPublishedQueued,
    ),
    (
        S::V5_3_3_1_13,
        "RETAIN kept with Retain As Published",
        "will",
        "retain.retain-as-published-on-every-path",
        Fault::IgnoreRetainAsPublishedWill,
    ),
    (
        S::V5_3_3_1_13,
        "RETAIN kept with Retain As Published",
        "delayed will",
        "retain.retain-as-published-on-every-path",
        Fault::IgnoreRetainAsPublishedDelayedWill,
    ),
    (
        S::V5_3_3_1_13,
        "RETAIN kept with Retain As Published",
        "shared",
        "retain.retain-as-published-on-every-path",
        Fault::IgnoreRetainAsPublishedShared,
    ),
];

/// Cells of the strings table: (statement, aspect, field, case, fault, whether the fault
/// breaks that field only).
const STRINGS: &[(StatementId, &str, &str, &str, Fault, bool)] = &[
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "Client Identifier",
        "string.client-id-bom-kept",
        Fault::StripBomFromClientId,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "User Name",
        "string.user-name-bom-kept",
        Fault::StripBomFromUserName,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Will Content Type",
        "string.will-content-type-ill-formed-utf8-refused",
        Fault::LenientWillContentTypeString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Will Content Type",
        "string.will-content-type-null-character-refused",
        Fault::LenientWillContentTypeString,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Will Response Topic",
        "string.will-response-topic-ill-formed-utf8-refused",
        Fault::LenientWillResponseTopicString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Will Response Topic",
        "string.will-response-topic-null-character-refused",
        Fault::LenientWillResponseTopicString,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Will User Property",
        "string.will-user-property-ill-formed-utf8-refused",
        Fault::LenientWillUserPropertyString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Will User Property",
        "string.will-user-property-null-character-refused",
        Fault::LenientWillUserPropertyString,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Authentication Method",
        "string.auth-method-ill-formed-utf8-refused",
        Fault::LenientAuthMethodString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Authentication Method",
        "string.auth-method-null-character-refused",
        Fault::LenientAuthMethodString,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "Will Content Type",
        "string.will-properties-bom-kept",
        Fault::StripBomFromWillContentType,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "Will Response Topic",
        "string.will-properties-bom-kept",
        Fault::StripBomFromWillResponseTopic,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "Will User Property",
        "string.will-properties-bom-kept",
        Fault::StripBomFromWillUserProperty,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "Will Topic",
        "string.will-topic-bom-kept",
        Fault::StripBomFromWillTopic,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "SUBSCRIBE filter",
        "string.subscribe-filter-bom-kept",
        Fault::StripBomFromSubscribeFilter,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "UNSUBSCRIBE filter",
        "string.unsubscribe-filter-bom-kept",
        Fault::StripBomFromUnsubscribeFilter,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "Authentication Method",
        "auth.method-bom-kept",
        Fault::StripBomFromAuthMethod,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Topic Name",
        "string.topic-name-ill-formed-utf8-refused",
        Fault::LenientTopicNameString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Topic Name",
        "string.topic-name-null-character-refused",
        Fault::LenientTopicNameString,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "Topic Name",
        "topic.zero-width-no-break-space-kept",
        Fault::StripBomFromTopicName,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "SUBSCRIBE filter",
        "string.subscribe-filter-ill-formed-utf8-refused",
        Fault::LenientSubscribeFilterString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "SUBSCRIBE filter",
        "string.subscribe-filter-null-character-refused",
        Fault::LenientSubscribeFilterString,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "UNSUBSCRIBE filter",
        "string.unsubscribe-filter-ill-formed-utf8-refused",
        Fault::LenientUnsubscribeFilterString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "UNSUBSCRIBE filter",
        "string.unsubscribe-filter-null-character-refused",
        Fault::LenientUnsubscribeFilterString,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Client Identifier",
        "string.client-id-ill-formed-utf8-refused",
        Fault::LenientClientIdString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Client Identifier",
        "string.client-id-null-character-refused",
        Fault::LenientClientIdString,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Will Topic",
        "string.will-topic-ill-formed-utf8-refused",
        Fault::LenientWillTopicString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Will Topic",
        "string.will-topic-null-character-refused",
        Fault::LenientWillTopicString,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "User Name",
        "string.user-name-ill-formed-utf8-refused",
        Fault::LenientUserNameString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "User Name",
        "string.user-name-null-character-refused",
        Fault::LenientUserNameString,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "User Property name",
        "string.user-property-name-ill-formed-utf8-refused",
        Fault::LenientUserPropertyNameString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "User Property name",
        "string.user-property-name-null-character-refused",
        Fault::LenientUserPropertyNameString,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "User Property name",
        "publish.bom-kept-in-forwarded-properties",
        Fault::StripBomFromUserPropertyName,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "User Property value",
        "string.user-property-value-ill-formed-utf8-refused",
        Fault::LenientUserPropertyValueString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "User Property value",
        "string.user-property-value-null-character-refused",
        Fault::LenientUserPropertyValueString,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "User Property value",
        "publish.bom-kept-in-forwarded-properties",
        Fault::StripBomFromUserPropertyValue,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Response Topic",
        "string.response-topic-ill-formed-utf8-refused",
        Fault::LenientResponseTopicString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Response Topic",
        "string.response-topic-null-character-refused",
        Fault::LenientResponseTopicString,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "Response Topic",
        "publish.bom-kept-in-forwarded-properties",
        Fault::StripBomFromResponseTopic,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Content Type",
        "string.content-type-ill-formed-utf8-refused",
        Fault::LenientContentTypeString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Content Type",
        "string.content-type-null-character-refused",
        Fault::LenientContentTypeString,
        true,
    ),
    (
        S::V5_1_5_4_3,
        "U+FEFF kept",
        "Content Type",
        "publish.bom-kept-in-forwarded-properties",
        Fault::StripBomFromContentType,
        true,
    ),
    (
        S::V5_1_5_4_1,
        "ill-formed refused",
        "Reason String",
        "string.client-reason-string-ill-formed-utf8-refused",
        Fault::LenientReasonStringString,
        true,
    ),
    (
        S::V5_1_5_4_2,
        "U+0000 refused",
        "Reason String",
        "string.client-reason-string-null-character-refused",
        Fault::LenientReasonStringString,
        true,
    ),
];

/// Cells of the two limits tables: (table, statement, aspect, path, case, fault, whether the
/// fault breaks that path only).
const LIMITS: &[(Table, StatementId, &str, &str, &str, Fault, bool)] = &[
    (
        Table::ClientLimits,
        S::V5_3_1_2_24,
        "Maximum Packet Size",
        "live",
        "size.client-maximum-respected",
        Fault::IgnoreMaximumPacketSizeLive,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_24,
        "Maximum Packet Size",
        "queued",
        "size.client-maximum-on-every-path",
        Fault::IgnoreMaximumPacketSizeQueued,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_24,
        "Maximum Packet Size",
        "retained",
        "size.client-maximum-on-every-path",
        Fault::IgnoreMaximumPacketSizeRetained,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_24,
        "Maximum Packet Size",
        "will",
        "size.client-maximum-on-every-path",
        Fault::IgnoreMaximumPacketSizeWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_24,
        "Maximum Packet Size",
        "shared",
        "size.client-maximum-on-every-path",
        Fault::IgnoreMaximumPacketSizeShared,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_27,
        "Topic Alias Maximum 0: none sent",
        "live",
        "alias.none-sent-when-client-accepts-none",
        Fault::SendTopicAliasesLive,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_27,
        "Topic Alias Maximum 0: none sent",
        "queued",
        "alias.none-sent-on-every-path",
        Fault::SendTopicAliasesQueued,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_27,
        "Topic Alias Maximum 0: none sent",
        "retained",
        "alias.none-sent-on-every-path",
        Fault::SendTopicAliasesRetained,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_27,
        "Topic Alias Maximum 0: none sent",
        "will",
        "alias.none-sent-on-every-path",
        Fault::SendTopicAliasesWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_27,
        "Topic Alias Maximum 0: none sent",
        "shared",
        "alias.none-sent-on-every-path",
        Fault::SendTopicAliasesShared,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_4_9,
        "Receive Maximum",
        "queued",
        "flow.client-receive-maximum-on-every-path",
        Fault::IgnoreReceiveMaximumQueued,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_4_9,
        "Receive Maximum",
        "retained",
        "flow.client-receive-maximum-on-every-path",
        Fault::IgnoreReceiveMaximumRetained,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_4_9,
        "Receive Maximum",
        "will",
        "flow.client-receive-maximum-on-every-path",
        Fault::IgnoreReceiveMaximumWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_4_9,
        "Receive Maximum",
        "shared",
        "flow.client-receive-maximum-on-every-path",
        Fault::IgnoreReceiveMaximumShared,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_4_9,
        "Receive Maximum",
        "live",
        "flow.client-receive-maximum-respected",
        Fault::IgnoreReceiveMaximumLive,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_26,
        "Topic Alias Maximum",
        "live",
        "alias.within-client-maximum",
        Fault::SendTopicAliasesLive,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_24,
        "Maximum Packet Size",
        "delayed will",
        "size.client-maximum-on-every-path",
        Fault::IgnoreMaximumPacketSizeDelayedWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_27,
        "Topic Alias Maximum 0: none sent",
        "delayed will",
        "alias.none-sent-on-every-path",
        Fault::SendTopicAliasesDelayedWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_4_9,
        "Receive Maximum",
        "delayed will",
        "flow.client-receive-maximum-on-every-path",
        Fault::IgnoreReceiveMaximumDelayedWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_26,
        "Topic Alias Maximum",
        "queued",
        "alias.within-client-maximum-on-every-path",
        Fault::SendTopicAliasesQueued,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_26,
        "Topic Alias Maximum",
        "retained",
        "alias.within-client-maximum-on-every-path",
        Fault::SendTopicAliasesRetained,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_26,
        "Topic Alias Maximum",
        "will",
        "alias.within-client-maximum-on-every-path",
        Fault::SendTopicAliasesWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_26,
        "Topic Alias Maximum",
        "delayed will",
        "alias.within-client-maximum-on-every-path",
        Fault::SendTopicAliasesDelayedWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_1_2_26,
        "Topic Alias Maximum",
        "shared",
        "alias.within-client-maximum-on-every-path",
        Fault::SendTopicAliasesShared,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_2_7,
        "Topic Alias mappings per connection",
        "queued",
        "alias.server-mapping-ends-with-connection",
        Fault::TopicAliasFromOldConnection,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_2_7,
        "Topic Alias mappings per connection",
        "live",
        "alias.server-mapping-ends-with-connection-on-every-path",
        Fault::TopicAliasFromOldConnectionLive,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_2_7,
        "Topic Alias mappings per connection",
        "retained",
        "alias.server-mapping-ends-with-connection-on-every-path",
        Fault::TopicAliasFromOldConnectionRetained,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_2_7,
        "Topic Alias mappings per connection",
        "will",
        "alias.server-mapping-ends-with-connection-on-every-path",
        Fault::TopicAliasFromOldConnectionWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_2_7,
        "Topic Alias mappings per connection",
        "delayed will",
        "alias.server-mapping-ends-with-connection-on-every-path",
        Fault::TopicAliasFromOldConnectionDelayedWill,
        true,
    ),
    (
        Table::ClientLimits,
        S::V5_3_3_2_7,
        "Topic Alias mappings per connection",
        "shared",
        "alias.server-mapping-ends-with-connection-on-every-path",
        Fault::TopicAliasFromOldConnectionShared,
        true,
    ),
    (
        Table::ServerLimits,
        S::V5_3_2_2_15,
        "Maximum Packet Size",
        "from the client",
        "size.server-maximum-enforced",
        Fault::UnenforcedMaximumPacketSize,
        true,
    ),
    (
        Table::ServerLimits,
        S::V5_3_3_4_7,
        "Receive Maximum",
        "from the client",
        "flow.server-receive-maximum-enforced",
        Fault::UnenforcedReceiveMaximum,
        true,
    ),
    (
        Table::ServerLimits,
        S::V5_3_2_2_17,
        "Topic Alias Maximum",
        "from the client",
        "alias.above-maximum-is-invalid",
        Fault::AcceptInvalidTopicAlias,
        true,
    ),
];

/// The statements whose forwarded property the forwarding cases check unaltered.
const UNALTERED: &[StatementId] = &[
    S::V5_3_3_2_4,
    S::V5_3_3_2_15,
    S::V5_3_3_2_16,
    S::V5_3_3_2_17,
    S::V5_3_3_2_20,
];

/// The statements whose property the `add-properties-*` faults add when none was sent, and
/// that the cases judge FAIL. (They add a Message Expiry Interval too, but an added expiry is
/// only NON-STRICT: MQTT-3.3.2-6 speaks of a received value.)
const NONE_ADDED: &[StatementId] = &[S::V5_3_3_2_20];

/// Every cell, grouped by table, then statement (in specification order), then aspect; paths
/// (or fields) in the order of the table's columns.
pub fn cells() -> Vec<Cell> {
    let mut out = Vec::new();
    for &(path, case, strip, strip_only, add, add_only) in FORWARDING {
        for &statement in UNALTERED {
            out.push(Cell {
                table: Table::Forwarding,
                statement,
                aspect: "unaltered",
                path,
                case,
                fault: strip,
                path_only: strip_only,
            });
        }
        for &statement in NONE_ADDED {
            out.push(Cell {
                table: Table::Forwarding,
                statement,
                aspect: "none added",
                path,
                case,
                fault: add,
                path_only: add_only,
            });
        }
        for &(_, reverse, no_ids) in ORDER_AND_IDENTIFIERS.iter().filter(|o| o.0 == path) {
            out.push(Cell {
                table: Table::Forwarding,
                statement: S::V5_3_3_2_18,
                aspect: "order kept",
                path,
                case,
                fault: reverse,
                path_only: true,
            });
            out.push(Cell {
                table: Table::Forwarding,
                statement: S::V5_3_3_4_3,
                aspect: "identifier sent",
                path,
                case,
                fault: no_ids,
                path_only: true,
            });
        }
    }
    for &(statement, aspect, path, case, fault) in PATH_ONLY {
        out.push(Cell {
            table: Table::Forwarding,
            statement,
            aspect,
            path,
            case,
            fault,
            path_only: true,
        });
    }
    for &(statement, aspect, path, case, fault, path_only) in STRINGS {
        out.push(Cell {
            table: Table::Strings,
            statement,
            aspect,
            path,
            case,
            fault,
            path_only,
        });
    }
    for &(table, statement, aspect, path, case, fault, path_only) in LIMITS {
        out.push(Cell {
            table,
            statement,
            aspect,
            path,
            case,
            fault,
            path_only,
        });
    }
    let rank = |c: &Cell| {
        let columns = c.table.columns();
        columns
            .iter()
            .position(|x| *x == c.path)
            .unwrap_or(columns.len())
    };
    out.sort_by(|a, b| {
        (a.table, a.statement, a.aspect, rank(a), a.case).cmp(&(
            b.table,
            b.statement,
            b.aspect,
            rank(b),
            b.case,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_names_a_case_that_cites_its_statement_and_names_its_fault() {
        let cases = crate::all();
        for cell in cells() {
            assert!(
                cell.table.columns().contains(&cell.path),
                "{cell:?}: unknown path or field"
            );
            let case = cases
                .iter()
                .find(|c| c.id == cell.case)
                .unwrap_or_else(|| panic!("{cell:?}: no such case"));
            assert!(
                case.statements.contains(&cell.statement),
                "{cell:?}: the case does not cite the statement"
            );
            assert!(
                case.faults.iter().any(|f| f.fault == cell.fault),
                "{cell:?}: the case does not name the fault"
            );
        }
    }

    #[test]
    fn a_place_not_applicable_has_a_reason_and_no_case_and_its_rule_has_cells() {
        let all = cells();
        for na in not_applicable() {
            assert!(!na.reason.trim().is_empty(), "{na:?}: no reason");
            assert!(
                na.table.columns().contains(&na.path),
                "{na:?}: unknown path or field"
            );
            assert!(
                !all.iter().any(|c| c.table == na.table
                    && c.statement == na.statement
                    && c.aspect == na.aspect
                    && c.path == na.path),
                "{na:?}: a case checks it there"
            );
            // Printed with the cells of its rule: it must have some.
            assert!(
                all.iter().any(|c| c.table == na.table
                    && c.statement == na.statement
                    && c.aspect == na.aspect),
                "{na:?}: no cell of its rule"
            );
        }
    }

    #[test]
    fn path_only_faults_are_named_by_one_path() {
        // A fault marked path_only must appear on no other path of its table.
        let all = cells();
        for cell in all.iter().filter(|c| c.path_only) {
            assert!(
                all.iter()
                    .filter(|o| o.fault == cell.fault && o.table == cell.table)
                    .all(|o| o.path == cell.path),
                "{cell:?}"
            );
        }
    }
}
