//! Fault injection: named, deliberate departures from the specifications.
//!
//! The conformance suite must be able to fail. Each [`Fault`] switches off (or bends) one
//! behaviour at the single place in the core where that decision is made, so a conformance
//! case that checks the behaviour can be run against a broker with the fault enabled and be
//! seen to FAIL. Faults are enabled by name in [`Config::faults`](crate::Config::faults); an
//! unknown name is a configuration error. With no faults (the default) the broker follows the
//! specifications.
//!
//! The `ws-` faults bend the WebSocket transport (section 6), which the shell
//! (`mqttspec-reference-broker`) handles: they are listed here all the same, so that this
//! enum stays the one list of faults, and the shell reads them from the same configuration.
//!
//! The names, their parsing and [`Faults`] are always compiled; the behaviour is not. Without
//! the crate feature `faults` ([`COMPILED_IN`] is `false`), [`Faults::has`] is a constant
//! `false`, so every fault branch of the core compiles out, and configuring a fault is
//! refused by [`Config::validate`](crate::Config::validate) (ignored with a warning by
//! [`Broker::new`](crate::Broker::new)).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Whether this build has fault behaviour (the crate feature `faults`).
pub const COMPILED_IN: bool = cfg!(feature = "faults");

macro_rules! faults {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal; )*) => {
        /// One deliberate deviation from the specifications (see the module docs).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fault {
            $( $(#[$doc])* $variant, )*
        }

        impl Fault {
            /// Every fault, in declaration order.
            pub const ALL: &'static [Fault] = &[$(Fault::$variant,)*];

            /// The name used in the configuration, e.g. `"forward-dup"`.
            pub fn name(self) -> &'static str {
                match self {
                    $( Fault::$variant => $name, )*
                }
            }
        }
    };
}

faults! {
    /// Retained messages are not sent when a subscription is made (breaks MQTT-3.3.1-9 in
    /// 5.0, MQTT-3.3.1-6 in 3.1.1).
    NoRetainDelivery = "no-retain-delivery";
    /// The DUP flag of an incoming PUBLISH is copied to the forwarded copies (breaks
    /// MQTT-3.3.1-3).
    ForwardDup = "forward-dup";
    /// The same, on copies queued for a disconnected session only (the live path forwards
    /// DUP 0).
    ForwardDupQueued = "forward-dup-queued";
    /// The same, on copies given to a member of a Shared Subscription only.
    ForwardDupShared = "forward-dup-shared";
    /// A retained message sent when a subscription is made goes out with DUP 1 at QoS 1 or
    /// 2, though it is the first time it is sent (breaks MQTT-3.3.1-3 on the retained path
    /// only).
    DupOnRetained = "dup-on-retained";
    /// A Will Message published at once (no Will Delay Interval) goes out with DUP 1 at QoS
    /// 1 or 2 on its first delivery (breaks MQTT-3.3.1-3 on the immediate-Will path only).
    DupOnWill = "dup-on-will";
    /// The same for a Will Message published after its Will Delay Interval only.
    DupOnDelayedWill = "dup-on-delayed-will";
    /// Will Messages are never published.
    NoWill = "no-will";
    /// The Will Message is published even after a DISCONNECT with reason 0x00 (breaks
    /// MQTT-3.14.4-3).
    WillOnNormalDisconnect = "will-on-normal-disconnect";
    /// A repeated QoS 2 PUBLISH (same Packet Identifier, before PUBREL) is forwarded again
    /// (breaks MQTT-4.3.3-10 in 5.0, MQTT-4.3.3-2 in 3.1.1).
    IgnoreQos2Dedup = "ignore-qos2-dedup";
    /// CONNACK always carries Session Present 0 (breaks MQTT-3.2.2-3 in 5.0, MQTT-3.2.2-2 in
    /// 3.1.1).
    NoSessionPresent = "no-session-present";
    /// PUBACK and PUBREC for a client's PUBLISH carry the wrong Packet Identifier (breaks
    /// MQTT-2.2.1-5 in 5.0, MQTT-2.3.1-6 in 3.1.1).
    WrongPacketId = "wrong-packet-id";
    /// Keep Alive is not enforced (breaks MQTT-3.1.2-22 in 5.0, MQTT-3.1.2-24 in 3.1.1).
    NoKeepaliveTimeout = "no-keepalive-timeout";
    /// Forwarded messages keep the publisher's RETAIN flag whatever Retain As Published says
    /// (breaks MQTT-3.3.1-12 in 5.0, MQTT-3.3.1-9 in 3.1.1).
    RetainFlagOnForward = "retain-flag-on-forward";
    /// The same, on copies queued for a disconnected session only.
    RetainFlagOnForwardQueued = "retain-flag-on-forward-queued";
    /// The same, on copies given to a member of a Shared Subscription only.
    RetainFlagOnForwardShared = "retain-flag-on-forward-shared";
    /// The same, on Will Messages published after a Will Delay Interval only.
    RetainFlagOnForwardDelayedWill = "retain-flag-on-forward-delayed-will";
    /// No Local is ignored (breaks MQTT-3.8.3-3).
    IgnoreNoLocal = "ignore-no-local";
    /// The connection taken over gets no DISCONNECT 0x8E before it is closed (breaks
    /// MQTT-3.1.4-3 in 5.0).
    NoTakeoverDisconnect = "no-takeover-disconnect";
    /// A second CONNECT on a connection is ignored instead of closing it (breaks MQTT-3.1.0-2).
    AcceptSecondConnect = "accept-second-connect";
    /// Unacknowledged messages are not resent when a session resumes (breaks MQTT-4.4.0-1).
    NoRedelivery = "no-redelivery";
    /// A QoS 1/2 PUBLISH sent to a client counts as acknowledged as soon as it is sent: it is
    /// not kept in flight, so it is not sent again when the session resumes (breaks
    /// MQTT-4.3.2-3 and MQTT-4.3.3-3 in 5.0, the same duty of MQTT-4.3.2-1 / MQTT-4.3.3-1 in
    /// 3.1.1).
    ForgetSentPublish = "forget-sent-publish";
    /// A PUBLISH the client answered with PUBACK or PUBREC 0x80 or above stays
    /// unacknowledged, so it is sent again when the session resumes (breaks MQTT-4.4.0-2).
    RetransmitRefused = "retransmit-refused";
    /// A message a shared-subscription member refused (PUBACK or PUBREC 0x80 or above) is
    /// given to another member of the group (breaks MQTT-4.8.2-6).
    SharedRedistributeRefused = "shared-redistribute-refused";
    /// When a shared-subscription member's connection breaks, its QoS 2 messages still
    /// waiting for PUBREC are given to another member instead of being completed to it when
    /// it reconnects (breaks MQTT-4.8.2-4).
    SharedRedistributeOnDisconnect = "shared-redistribute-on-disconnect";
    /// When a shared-subscription member's session ends, its QoS 2 messages still waiting
    /// for PUBREC are given to another member (breaks MQTT-4.8.2-5).
    SharedRedistributeOnSessionEnd = "shared-redistribute-on-session-end";
    /// After refusing a QoS 2 PUBLISH with PUBREC 0x80 or above, its Packet Identifier is
    /// still taken as in use, so a new PUBLISH reusing it is treated as a duplicate and not
    /// forwarded (breaks MQTT-4.3.3-9).
    RefusedQos2IdPending = "refused-qos2-id-pending";
    /// A PUBLISH from an MQTT 3.1.1 client that the server does not authorise is neither
    /// acknowledged nor answered by closing the connection (breaks MQTT-3.3.5-2 in 3.1.1).
    SilentPublishDenial = "silent-publish-denial";
    /// The client's Receive Maximum is ignored when sending (breaks MQTT-3.3.4-9).
    IgnoreReceiveMaximum = "ignore-receive-maximum";
    /// The same, for copies of messages forwarded to a connected subscriber (not a Shared
    /// Subscription member) only: breaks MQTT-3.3.4-9 on the live path only.
    IgnoreReceiveMaximumLive = "ignore-receive-maximum-live";
    /// The same, for copies queued for a disconnected session only (breaks MQTT-3.3.4-9 on
    /// the queued path only).
    IgnoreReceiveMaximumQueued = "ignore-receive-maximum-queued";
    /// The same, for retained messages sent when a subscription is made only.
    IgnoreReceiveMaximumRetained = "ignore-receive-maximum-retained";
    /// The same, for Will Messages published at once (no Will Delay Interval) only.
    IgnoreReceiveMaximumWill = "ignore-receive-maximum-will";
    /// The same, for Will Messages published after their Will Delay Interval only.
    IgnoreReceiveMaximumDelayedWill = "ignore-receive-maximum-delayed-will";
    /// The same, for copies given to a member of a Shared Subscription only.
    IgnoreReceiveMaximumShared = "ignore-receive-maximum-shared";
    /// Packets larger than the client's Maximum Packet Size are sent anyway (breaks
    /// MQTT-3.1.2-24).
    IgnoreMaximumPacketSize = "ignore-maximum-packet-size";
    /// The same, for PUBLISH copies forwarded to a connected subscriber (not a Shared
    /// Subscription member) only: breaks MQTT-3.1.2-24 on the live path only.
    IgnoreMaximumPacketSizeLive = "ignore-maximum-packet-size-live";
    /// The same, for copies queued for a disconnected session only (breaks MQTT-3.1.2-24 on
    /// the queued path only).
    IgnoreMaximumPacketSizeQueued = "ignore-maximum-packet-size-queued";
    /// The same, for retained messages sent when a subscription is made only.
    IgnoreMaximumPacketSizeRetained = "ignore-maximum-packet-size-retained";
    /// The same, for Will Messages published at once (no Will Delay Interval) only.
    IgnoreMaximumPacketSizeWill = "ignore-maximum-packet-size-will";
    /// The same, for Will Messages published after their Will Delay Interval only.
    IgnoreMaximumPacketSizeDelayedWill = "ignore-maximum-packet-size-delayed-will";
    /// The same, for copies given to a member of a Shared Subscription only.
    IgnoreMaximumPacketSizeShared = "ignore-maximum-packet-size-shared";
    /// A packet other than PUBLISH keeps its Reason String and User Properties even when they
    /// make it larger than the client's Maximum Packet Size, and is sent so (breaks
    /// MQTT-3.2.2-19, -20, MQTT-3.4.2-2, -3, MQTT-3.5.2-2, -3, MQTT-3.6.2-2, -3,
    /// MQTT-3.7.2-2, -3, MQTT-3.9.2-1, -2, MQTT-3.11.2-1, -2, MQTT-3.14.2-3, -4,
    /// MQTT-3.15.2-2, -3).
    OversizedReasonString = "oversized-reason-string";
    /// CONNACK names an Authentication Method although CONNECT had none (breaks
    /// MQTT-4.12.0-6).
    UnrequestedAuthMethod = "unrequested-auth-method";
    /// A CONNECT refused before CONNACK gets DISCONNECT instead of CONNACK (breaks
    /// MQTT-3.14.0-1).
    DisconnectBeforeConnack = "disconnect-before-connack";
    /// The connection stays open after a CONNACK with a Reason Code of 0x80 or more (breaks
    /// MQTT-4.13.2-1 and MQTT-3.2.2-7).
    OpenAfterRefusal = "open-after-refusal";
    /// The AUTH packets the server sends have bit 0 of the fixed header flags set (breaks
    /// MQTT-3.15.1-1).
    MalformedAuthFlags = "malformed-auth-flags";
    /// The AUTH packets the server sends carry Reason Code 0x87, which is not an AUTH
    /// Reason Code (breaks MQTT-3.15.2-1).
    AuthReasonOutOfTable = "auth-reason-out-of-table";
    /// Message Expiry is ignored: expired messages are delivered and the interval is forwarded
    /// unchanged (breaks MQTT-3.3.2-5 and MQTT-3.3.2-6).
    NoMessageExpiry = "no-message-expiry";
    /// Subscription Identifiers are not sent with matching messages (breaks MQTT-3.3.4-3).
    NoSubscriptionIdentifiers = "no-subscription-identifiers";
    /// Messages are delivered at the published QoS, not the granted one (breaks MQTT-3.8.4-8
    /// in 5.0, MQTT-3.8.4-6 in 3.1.1).
    NoQosDowngrade = "no-qos-downgrade";
    /// The same, on copies queued for a disconnected session only.
    NoQosDowngradeQueued = "no-qos-downgrade-queued";
    /// The same, on copies given to a member of a Shared Subscription only.
    NoQosDowngradeShared = "no-qos-downgrade-shared";
    /// The same, on Will Messages published after a Will Delay Interval only.
    NoQosDowngradeDelayedWill = "no-qos-downgrade-delayed-will";
    /// Retain Handling 1 and 2 behave like 0 (breaks MQTT-3.3.1-10 and MQTT-3.3.1-11).
    IgnoreRetainHandling = "ignore-retain-handling";
    /// Every member of a shared subscription gets every message.
    SharedDeliverAll = "shared-deliver-all";
    /// A retained PUBLISH with an empty payload does not clear the topic's retained message
    /// (breaks MQTT-3.3.1-6 in 5.0, MQTT-3.3.1-10 in 3.1.1).
    NoRetainedClear = "no-retained-clear";
    /// User Properties are forwarded in reverse order (breaks MQTT-3.3.2-18).
    ReverseUserProperties = "reverse-user-properties";
    /// UNSUBSCRIBE also forgets the QoS 1/2 messages in flight to the client on the removed
    /// Topic Filter: a later PUBREC gets no PUBREL 0x00 (breaks MQTT-3.10.4-3).
    UnsubscribeDropsInflight = "unsubscribe-drops-inflight";
    /// An MQTT 3.1.1 Topic Filter holding `+` is refused (SUBACK 0x80) as by a server
    /// without wildcard support, while filters holding only `#` are granted (breaks
    /// MQTT-3.8.3-2 in 3.1.1: such a server refuses every wildcard filter).
    RefusePlusWildcardOnly = "refuse-plus-wildcard-only";
    /// UNSUBSCRIBE is acknowledged but the subscription is kept (breaks MQTT-3.10.4-1).
    NoUnsubscribe = "no-unsubscribe";
    /// Clean Start / Clean Session 1 does not discard an existing session (breaks
    /// MQTT-3.1.2-4 in 5.0, MQTT-3.1.2-6 in 3.1.1).
    KeepSessionOnCleanStart = "keep-session-on-clean-start";
    /// A Clean Start 0 CONNECT finding no session gets a session that ends with the
    /// connection, whatever its Session Expiry Interval (3.1.1: Clean Session 0), instead of a
    /// new session that outlives it (breaks MQTT-3.1.2-6 in 5.0, MQTT-3.1.2-4 in 3.1.1).
    NoNewSessionOnResume = "no-new-session-on-resume";
    /// 5.0: a session begun with Clean Start 1 ends with its connection, whatever its Session
    /// Expiry Interval (CONNACK still shows the interval asked for) (breaks MQTT-3.1.2-23:
    /// the interval, not the Clean Start of the connection, decides how long a session lives).
    CleanStartSessionNotKept = "clean-start-session-not-kept";
    /// The Session Expiry Interval is counted from CONNECT instead of from the end of the
    /// connection: the session is discarded when it runs out even while the client is still
    /// connected (breaks MQTT-4.1.0-1 in 5.0).
    ExpiryCountedFromConnect = "expiry-counted-from-connect";
    /// A session that ends with its connection (Session Expiry Interval 0; 3.1.1: Clean
    /// Session 1) is discarded a second after its CONNECT although the connection stays
    /// open, as a session sweeper that reads the interval 0 as "expired" and skips no
    /// connected session would: its subscriptions are gone (breaks MQTT-4.1.0-1 and -2 in
    /// 3.1.1, MQTT-4.1.0-1 in 5.0).
    DiscardSessionWhileConnected = "discard-session-while-connected";
    /// A CONNECT whose Will QoS is above the server's Maximum QoS is accepted (breaks
    /// MQTT-3.2.2-12 in 5.0).
    AcceptWillAboveMaximumQos = "accept-will-above-maximum-qos";
    /// A CONNECT with Will Retain 1 is accepted although the server has no retained messages
    /// (breaks MQTT-3.2.2-13 in 5.0).
    AcceptUnsupportedWillRetain = "accept-unsupported-will-retain";
    /// Disconnected sessions never expire (breaks MQTT-4.1.0-2).
    NoSessionExpiry = "no-session-expiry";
    /// A Topic Alias above the server's Topic Alias Maximum is accepted (breaks the 0x94
    /// handling of 3.3.2.3.4).
    AcceptInvalidTopicAlias = "accept-invalid-topic-alias";
    /// Will Messages are published at QoS 0 whatever their Will QoS (breaks MQTT-3.1.2-9 in
    /// 3.1.1, and MQTT-3.8.4-8 in 5.0 for the Will).
    WillAtQos0 = "will-at-qos-0";
    /// The Will Retain flag is inverted when the Will Message is published (breaks
    /// MQTT-3.1.2-14 and -15 in 5.0, MQTT-3.1.2-16 and -17 in 3.1.1).
    WillRetainFlipped = "will-retain-flipped";
    /// The Will Properties (Content Type, Response Topic, ...) are not forwarded with the
    /// Will Message (breaks MQTT-3.3.2-4, -15, -16, -20 for the Will).
    DropWillProperties = "drop-will-properties";
    /// The Will Delay Interval is ignored: the Will is published as soon as the connection
    /// ends (breaks MQTT-3.1.2-8 and MQTT-3.1.3-9).
    IgnoreWillDelay = "ignore-will-delay";
    /// A Will waiting for its delay is published when a new connection resumes the session,
    /// instead of being discarded (breaks MQTT-3.1.3-9).
    WillOnResume = "will-on-resume";
    /// A Will still waiting for its delay is discarded when the session ends, instead of
    /// published (breaks MQTT-3.1.2-8).
    NoWillAtSessionEnd = "no-will-at-session-end";
    /// A CONNECT without a Will (Will Flag 0) leaves the session with the Will it held
    /// when the CONNECT arrived (that of the connection it takes over), so that Will is
    /// published again when the new connection ends (breaks MQTT-3.1.2-12 in 3.1.1,
    /// MQTT-3.1.2-10 in 5.0: a published Will is gone).
    KeepEarlierWill = "keep-earlier-will";
    /// Every client DISCONNECT is handled as reason 0x00, so 0x04 and error reasons discard
    /// the Will (breaks MQTT-3.1.2-8 in 5.0).
    DisconnectAlwaysNormal = "disconnect-always-normal";
    /// A DISCONNECT that cannot be decoded (reserved flags, unknown reason code) is taken as
    /// a normal disconnection: no DISCONNECT 0x81 and the Will is discarded (breaks
    /// MQTT-3.14.1-1 and MQTT-3.1.2-8).
    LenientDisconnect = "lenient-disconnect";
    /// A CONNECT that cannot be decoded is answered with CONNACK 0x00 instead of closing the
    /// connection (breaks MQTT-3.1.4-1).
    ConnackMalformedConnect = "connack-malformed-connect";
    /// A DISCONNECT changing the Session Expiry Interval from 0 to non-zero is accepted
    /// (breaks the Protocol Error of 3.14.2.2.2 in 5.0).
    AcceptSessionExpiryFromZero = "accept-session-expiry-from-zero";
    /// The Session Expiry Interval of a client's DISCONNECT is ignored (breaks 3.14.2.2.2
    /// in 5.0: the session keeps the CONNECT's interval).
    IgnoreDisconnectSessionExpiry = "ignore-disconnect-session-expiry";
    /// The server sends a PINGRESP after its own DISCONNECT (breaks MQTT-3.14.4-1 in 5.0).
    PacketAfterDisconnect = "packet-after-disconnect";
    /// A PUBLISH or PUBREL that cannot be decoded after CONNECT (QoS 3, DUP with QoS 0, a
    /// wildcard in the Topic Name, Packet Identifier 0, wrong PUBREL flags) is dropped with
    /// the rest of the buffered input and the connection stays open (breaks MQTT-4.13.1-1 in
    /// 5.0, MQTT-4.8.0-1 in 3.1.1, MQTT-3.3.1-4 and MQTT-3.6.1-1).
    IgnoreMalformedPublish = "ignore-malformed-publish";
    /// A client's PUBLISH carrying a Subscription Identifier is accepted (breaks
    /// MQTT-3.3.4-6 in 5.0: it is a Protocol Error).
    AcceptPublishSubscriptionIdentifier = "accept-publish-subscription-identifier";
    /// A PUBREL for a Packet Identifier the server does not know gets no PUBCOMP (breaks
    /// MQTT-4.3.3-11 in 5.0, MQTT-4.3.3-2 in 3.1.1).
    IgnoreUnknownPubrel = "ignore-unknown-pubrel";
    /// Every QoS 1/2 PUBLISH the server sends uses Packet Identifier 1, even while another
    /// message with it is unacknowledged (breaks MQTT-2.2.1-4 in 5.0, MQTT-2.3.1-4 in 3.1.1).
    ReusePacketId = "reuse-packet-id";
    /// Payload Format Indicator, Content Type, Response Topic, Correlation Data and User
    /// Properties are not forwarded (breaks MQTT-3.3.2-4, -15, -16, -17 and -20).
    DropMessageProperties = "drop-message-properties";
    /// Payloads are forwarded cut to their first 65,535 bytes (breaks MQTT-4.5.0-1: the
    /// message delivered is not the one accepted).
    TruncateLargePayloads = "truncate-large-payloads";
    /// A Topic Filter ending in `/#` does not match its parent level (`a/#` misses `a`;
    /// breaks the matching of 4.7.1.2 and MQTT-3.3.2-3).
    HashExcludesParent = "hash-excludes-parent";
    /// Topic Filters starting with `+` or `#` also match Topic Names starting with `$`
    /// (breaks MQTT-4.7.2-1).
    MatchDollarTopics = "match-dollar-topics";
    /// CONNACK announces Maximum QoS 1 while QoS 2 PUBLISH packets are still accepted (breaks
    /// the 0x9B Protocol Error of 3.2.2.3.4 and MQTT-4.13.1-1 in 5.0). With `maximum_qos`
    /// set below 2, that setting is announced and PUBLISH packets above it are accepted.
    UnenforcedMaximumQos = "unenforced-maximum-qos";
    /// QoS 2 PUBLISH packets are refused with DISCONNECT 0x9B although CONNACK announces no
    /// Maximum QoS (breaks MQTT-3.2.2-9 in 5.0: a server without QoS 2 must say so).
    UnannouncedQos2Refusal = "unannounced-qos2-refusal";
    /// QoS 0 PUBLISH packets are sent with DUP 1 (breaks MQTT-4.3.1-1 and MQTT-3.3.1-2).
    DupOnQos0 = "dup-on-qos0";
    /// An outgoing QoS 2 message whose expiry passed after its PUBLISH was sent is dropped:
    /// its PUBREC is answered with PUBREL 0x92 (breaks MQTT-4.3.3-7 in 5.0).
    ExpireSentQos2 = "expire-sent-qos2";
    /// An incoming QoS 2 message whose Message Expiry Interval passes before its PUBREL
    /// arrives is forgotten with its Packet Identifier: the PUBREL gets PUBCOMP 0x92 (breaks
    /// MQTT-4.3.3-13 in 5.0).
    ExpireReceivedQos2 = "expire-received-qos2";
    /// Messages queued for a session are sent newest first (breaks MQTT-4.6.0-5 in 5.0,
    /// MQTT-4.6.0-6 in 3.1.1).
    ReorderQueuedMessages = "reorder-queued-messages";
    /// A first packet that is not CONNECT is discarded and the connection stays open,
    /// instead of being closed (breaks the handling of MQTT-3.1.0-1 in both versions).
    IgnorePacketBeforeConnect = "ignore-packet-before-connect";
    /// A Client Identifier that is not 1 to 22 ASCII letters and digits is refused by
    /// closing the connection without CONNACK (breaks MQTT-3.1.3-5 for 23 characters in both
    /// versions, and MQTT-3.1.3-9 in 3.1.1, which wants return code 0x02 for any refusal).
    ClientIdStrictClose = "client-id-strict-close";
    /// Every empty Client Identifier is assigned the same identifier (breaks MQTT-3.1.3-6 in
    /// both versions and MQTT-3.2.2-16 in 5.0).
    DuplicateAssignedClientId = "duplicate-assigned-client-id";
    /// An MQTT 3.1.1 CONNECT with an empty Client Identifier and Clean Session 0 is accepted
    /// (breaks MQTT-3.1.3-8 in 3.1.1).
    AcceptEmptyClientIdPersistent = "accept-empty-client-id-persistent";
    /// PINGREQ is never answered (breaks MQTT-3.12.4-1).
    NoPingresp = "no-pingresp";
    /// A packet with the reserved packet type 0 stops the whole broker: from
    /// then on it accepts connections but answers nothing (what a deadlock or crash looks like
    /// from the network). Proves that the network fuzzer's liveness oracle and crash
    /// minimisation work.
    HangOnReservedType = "hang-on-reserved-type";
    /// A PUBLISH whose Topic Name starts with a multi-byte UTF-8 character stops the whole
    /// broker the way `hang-on-reserved-type` does (what rumqttd 0.20.0's router panic on
    /// such a topic looks like from the network). Proves that `mqttspec run --broker-cmd`
    /// names the case that stopped the broker, restarts it and runs the rest.
    HangOnMultibyteTopicStart = "hang-on-multibyte-topic-start";
    /// CONNACK is sent with a reserved Connect Acknowledge Flags bit set (breaks MQTT-3.2.2-1
    /// in 5.0 and the reserved bits of 3.2.2.1 in 3.1.1).
    MalformedConnack = "malformed-connack";
    /// A CONNACK refusing the connection carries Session Present 1 (breaks MQTT-3.2.2-6 in
    /// 5.0, MQTT-3.2.2-4 in 3.1.1).
    SessionPresentOnRefusal = "session-present-on-refusal";
    /// Every session ends with its connection, whatever its Session Expiry Interval or Clean
    /// Session 0 (breaks MQTT-3.1.2-23 in 5.0, MQTT-3.1.2-4 in 3.1.1).
    DiscardSessionOnDisconnect = "discard-session-on-disconnect";
    /// A session whose Session Expiry Interval is 0 (3.1.1: Clean Session 1) is kept after
    /// its connection ends, and never expires (breaks MQTT-3.1.2-6 in 3.1.1, and the end of
    /// the session at disconnection of 3.1.2.11.2 / MQTT-4.1.0-2 in 5.0).
    KeepSessionAtExpiryZero = "keep-session-at-expiry-zero";
    /// A Keep Alive of 0 is enforced as if it were 1 second, MQTT 5.0 clients getting
    /// DISCONNECT 0x8D (breaks MQTT-3.2.2-22 in 5.0: 0 turns the mechanism off).
    KeepAliveZeroTimesOut = "keep-alive-zero-times-out";
    /// Only PINGREQ restarts the Keep Alive timer: a client active with other packets is
    /// disconnected (breaks MQTT-3.1.2-22 in 5.0, MQTT-3.1.2-24 in 3.1.1).
    KeepAlivePingreqOnly = "keep-alive-pingreq-only";
    /// CONNACK to MQTT 5.0 clients announces Server Keep Alive 1 (or the configured one)
    /// while the client's own Keep Alive stays in force (breaks MQTT-3.1.2-22 for the Keep
    /// Alive the server announced).
    AnnounceUnusedServerKeepAlive = "announce-unused-server-keep-alive";
    /// Acknowledgements to MQTT 5.0 clients always carry a Reason String, even when the
    /// client set Request Problem Information 0 (breaks MQTT-3.1.2-29).
    ReasonStringAlways = "reason-string-always";
    /// CONNACK carries Response Information although the client did not ask for it (breaks
    /// MQTT-3.1.2-28).
    UnrequestedResponseInformation = "unrequested-response-information";
    /// A new connection with the Client Identifier of a connected client leaves the old
    /// connection open (breaks MQTT-3.1.4-3 in 5.0, MQTT-3.1.4-2 in 3.1.1).
    NoTakeover = "no-takeover";
    /// A Client Identifier ending in `.*` or `.+` is read as a pattern: every connected
    /// client whose identifier starts with what comes before it is taken over (DISCONNECT
    /// 0x8E) as if it had the same identifier (breaks MQTT-3.1.3-2 and MQTT-3.1.4-3 in 5.0,
    /// MQTT-3.1.3-2 and MQTT-3.1.4-2 in 3.1.1: only the exact identifier names a session).
    ClientIdPatternMatch = "client-id-pattern-match";
    /// A CONNECT with an Authentication Method the server does not offer is accepted
    /// without authentication (breaks MQTT-4.12.0-1).
    AcceptUnknownAuthMethod = "accept-unknown-auth-method";
    /// A SUBSCRIBE or UNSUBSCRIBE that cannot be decoded (reserved fixed-header flags, no
    /// Topic Filter, a misplaced wildcard, U+0000, reserved Subscription Options bits, QoS 3)
    /// is dropped with the rest of the buffered input and the connection stays open (breaks
    /// MQTT-3.8.1-1, MQTT-3.10.1-1, MQTT-4.13.1-1 in 5.0, MQTT-4.8.0-1 in 3.1.1).
    IgnoreMalformedSubscribe = "ignore-malformed-subscribe";
    /// SUBACK and UNSUBACK carry another Packet Identifier than the packet they answer
    /// (breaks MQTT-3.8.4-2 and MQTT-3.10.4-4 in both versions).
    WrongSubscribeAckId = "wrong-subscribe-ack-id";
    /// A SUBSCRIBE to a Topic Filter the session already has leaves the old Subscription
    /// (and its options) in place, though SUBACK grants the new QoS (breaks MQTT-3.8.4-3).
    KeepOldSubscription = "keep-old-subscription";
    /// A message matching several Subscriptions of one client is sent once at the lowest
    /// QoS they grant (breaks MQTT-3.3.4-2 in 5.0, MQTT-3.3.5-1 in 3.1.1).
    OverlappingLowestQos = "overlapping-lowest-qos";
    /// Retain As Published is ignored: forwarded messages always have RETAIN 0 (breaks
    /// MQTT-3.3.1-13).
    IgnoreRetainAsPublished = "ignore-retain-as-published";
    /// The same, on copies queued for a disconnected session only (breaks MQTT-3.3.1-13 on
    /// the queued path only).
    IgnoreRetainAsPublishedQueued = "ignore-retain-as-published-queued";
    /// The same, on Will Messages published at once (no Will Delay Interval) only.
    IgnoreRetainAsPublishedWill = "ignore-retain-as-published-will";
    /// The same, on Will Messages published after their Will Delay Interval only.
    IgnoreRetainAsPublishedDelayedWill = "ignore-retain-as-published-delayed-will";
    /// The same, on copies given to a member of a Shared Subscription only.
    IgnoreRetainAsPublishedShared = "ignore-retain-as-published-shared";
    /// A `+` level in a Topic Filter does not match an empty topic level (`a/+/b` misses
    /// `a//b`; breaks MQTT-4.5.0-1 with the matching of 4.7.1.3).
    PlusSkipsEmptyLevels = "plus-skips-empty-levels";
    /// Topic Names of incoming PUBLISH packets are normalised before matching and
    /// forwarding: lower-cased, U+FEFF removed, empty levels dropped (breaks MQTT-4.7.3-4,
    /// and MQTT-1.5.4-3 in 5.0 / MQTT-1.5.3-3 in 3.1.1).
    NormaliseTopicNames = "normalise-topic-names";
    /// A PUBLISH with RETAIN 0 replaces the topic's retained message (breaks MQTT-3.3.1-8 in
    /// 5.0, MQTT-3.3.1-12 in 3.1.1).
    RetainZeroReplaces = "retain-zero-replaces";
    /// CONNACK announces Retain Available 0 while PUBLISH packets with RETAIN 1 are still
    /// accepted (breaks the 0x9A Protocol Error of 3.2.2.3.5 and MQTT-4.13.1-1 in 5.0), also
    /// when `retain_available` is off (the message is then delivered but not retained).
    UnenforcedRetainAvailable = "unenforced-retain-available";
    /// A message matching several Shared Subscriptions (different ShareNames) is given to
    /// the first of them only (breaks 4.8.2: each Shared Subscription gets its own copy).
    SharedFirstGroupOnly = "shared-first-group-only";
    /// Every other message matching a Shared Subscription is given to no member of the group
    /// (lost although acknowledged to its publisher: breaks MQTT-4.5.0-1 for the group).
    SharedDropAlternate = "shared-drop-alternate";
    /// Retained messages are sent when a Shared Subscription is made (breaks 3.8.4 and
    /// 4.8.2: no retained messages for Shared Subscriptions).
    RetainedToShared = "retained-to-shared";
    /// CONNACK announces Shared Subscription Available 0 while Shared Subscriptions are still
    /// granted (breaks the 0x9E Protocol Error of 3.2.2.3.13 and MQTT-4.13.1-1 in 5.0), also
    /// when `shared_subscription_available` is off.
    UnenforcedSharedSubscriptionAvailable = "unenforced-shared-subscription-available";
    /// Topic Alias mappings from clients are not kept: a PUBLISH with an alias and an empty
    /// Topic Name is dropped silently (breaks MQTT-3.3.2-12, and the 0x82 Protocol Error of
    /// an unknown alias in 3.3.4).
    ForgetTopicAliases = "forget-topic-aliases";
    /// Every PUBLISH sent to an MQTT 5.0 client carries Topic Alias 65535 (with its Topic
    /// Name), whatever the client's Topic Alias Maximum (breaks MQTT-3.1.2-26, -27 and
    /// MQTT-3.3.2-11).
    SendTopicAliases = "send-topic-aliases";
    /// The same, on copies forwarded to a connected subscriber (not a Shared Subscription
    /// member) only (breaks MQTT-3.1.2-26, -27 on the live path only).
    SendTopicAliasesLive = "send-topic-aliases-live";
    /// The same, on copies queued for a disconnected session only (breaks MQTT-3.1.2-26, -27
    /// on the queued path only).
    SendTopicAliasesQueued = "send-topic-aliases-queued";
    /// The same, on retained messages sent when a subscription is made only.
    SendTopicAliasesRetained = "send-topic-aliases-retained";
    /// The same, on Will Messages published at once (no Will Delay Interval) only.
    SendTopicAliasesWill = "send-topic-aliases-will";
    /// The same, on Will Messages published after their Will Delay Interval only.
    SendTopicAliasesDelayedWill = "send-topic-aliases-delayed-will";
    /// The same, on copies given to a member of a Shared Subscription only.
    SendTopicAliasesShared = "send-topic-aliases-shared";
    /// Copies queued for a disconnected session are sent, once it resumes on a new
    /// connection, with Topic Alias 1 and an empty Topic Name, as if a Topic Alias mapping
    /// of its previous connection still held (to clients that accept Topic Aliases only;
    /// breaks MQTT-3.3.2-7).
    TopicAliasFromOldConnection = "topic-alias-from-old-connection";
    /// The server's own Receive Maximum is not enforced: an MQTT 5.0 client may leave any
    /// number of QoS 1/2 PUBLISH packets unacknowledged (breaks the 0x93 Protocol Error of
    /// 3.3.4 and MQTT-4.13.1-1).
    UnenforcedReceiveMaximum = "unenforced-receive-maximum";
    /// The server's Maximum Packet Size (announced in CONNACK) is not enforced on incoming
    /// packets (breaks the 0x95 Protocol Error of 3.2.2.3.6 and MQTT-4.13.1-1 in 5.0).
    UnenforcedMaximumPacketSize = "unenforced-maximum-packet-size";
    /// An AUTH packet from a client that did not use enhanced authentication is ignored
    /// instead of being a Protocol Error (breaks the handling of MQTT-4.12.0-7 and 3.15).
    AcceptUnexpectedAuth = "accept-unexpected-auth";
    /// The server's AUTH asking for more authentication data carries Reason Code 0x00
    /// instead of 0x18 Continue authentication (breaks MQTT-4.12.0-2).
    AuthContinueAsSuccess = "auth-continue-as-success";
    /// Copies of a message sent to a connected subscriber as it is published lose their
    /// Payload Format Indicator, Content Type, Response Topic, Correlation Data and User
    /// Properties (breaks MQTT-3.3.2-4, -15, -16, -17 and -20 on the live path only).
    StripPropertiesLive = "strip-properties-live";
    /// Copies queued for a disconnected session lose those properties (breaks the same
    /// statements on the queued path only).
    StripPropertiesQueued = "strip-properties-queued";
    /// Retained messages sent when a subscription is made lose those properties (breaks the
    /// same statements on the retained path only).
    StripPropertiesRetained = "strip-properties-retained";
    /// Copies given to a member of a Shared Subscription lose those properties (breaks the
    /// same statements on the shared path only).
    StripPropertiesShared = "strip-properties-shared";
    /// A Will published after a Will Delay Interval loses those properties (a Will without
    /// a delay keeps them; breaks the same statements for delayed Wills only).
    StripPropertiesDelayedWill = "strip-properties-delayed-will";
    /// A Will published at once (no Will Delay Interval) loses those properties (a delayed
    /// Will keeps them; breaks the same statements for immediate Wills only).
    StripPropertiesWill = "strip-properties-will";
    /// Copies sent to a connected subscriber as the message is published get a Content Type
    /// and a Message Expiry Interval the publisher did not set (breaks MQTT-3.3.2-20 and
    /// MQTT-3.3.2-6 on the live path only).
    AddPropertiesLive = "add-properties-live";
    /// The same addition on copies queued for a disconnected session.
    AddPropertiesQueued = "add-properties-queued";
    /// The same addition on retained messages sent when a subscription is made.
    AddPropertiesRetained = "add-properties-retained";
    /// The same addition on copies given to a member of a Shared Subscription.
    AddPropertiesShared = "add-properties-shared";
    /// The same addition on Will Messages published at once (without a Will Delay Interval).
    AddPropertiesWill = "add-properties-will";
    /// The same addition on Will Messages published after a Will Delay Interval.
    AddPropertiesDelayedWill = "add-properties-delayed-will";
    // Path-only faults of the forwarding depth table (see `path.rs`): each acts on one way
    // a message reaches a subscriber.
    /// The User Properties go out in reverse order on copies sent to a connected subscriber as the message is published (not a Shared Subscription member) only (breaks MQTT-3.3.2-18 on
    /// that path alone).
    ReverseUserPropertiesLive = "reverse-user-properties-live";
    /// The User Properties go out in reverse order on copies queued for a disconnected session only (breaks MQTT-3.3.2-18 on
    /// that path alone).
    ReverseUserPropertiesQueued = "reverse-user-properties-queued";
    /// The User Properties go out in reverse order on retained messages sent when a subscription is made only (breaks MQTT-3.3.2-18 on
    /// that path alone).
    ReverseUserPropertiesRetained = "reverse-user-properties-retained";
    /// The User Properties go out in reverse order on Will Messages published at once (no Will Delay Interval) only (breaks MQTT-3.3.2-18 on
    /// that path alone).
    ReverseUserPropertiesWill = "reverse-user-properties-will";
    /// The User Properties go out in reverse order on Will Messages published after their Will Delay Interval only (breaks MQTT-3.3.2-18 on
    /// that path alone).
    ReverseUserPropertiesDelayedWill = "reverse-user-properties-delayed-will";
    /// The User Properties go out in reverse order on copies given to a member of a Shared Subscription only (breaks MQTT-3.3.2-18 on
    /// that path alone).
    ReverseUserPropertiesShared = "reverse-user-properties-shared";
    /// The Subscription Identifiers are left out on copies sent to a connected subscriber as the message is published (not a Shared Subscription member) only (breaks MQTT-3.3.4-3 on
    /// that path alone).
    NoSubscriptionIdentifiersLive = "no-subscription-identifiers-live";
    /// The Subscription Identifiers are left out on copies queued for a disconnected session only (breaks MQTT-3.3.4-3 on
    /// that path alone).
    NoSubscriptionIdentifiersQueued = "no-subscription-identifiers-queued";
    /// The Subscription Identifiers are left out on retained messages sent when a subscription is made only (breaks MQTT-3.3.4-3 on
    /// that path alone).
    NoSubscriptionIdentifiersRetained = "no-subscription-identifiers-retained";
    /// The Subscription Identifiers are left out on Will Messages published at once (no Will Delay Interval) only (breaks MQTT-3.3.4-3 on
    /// that path alone).
    NoSubscriptionIdentifiersWill = "no-subscription-identifiers-will";
    /// The Subscription Identifiers are left out on Will Messages published after their Will Delay Interval only (breaks MQTT-3.3.4-3 on
    /// that path alone).
    NoSubscriptionIdentifiersDelayedWill = "no-subscription-identifiers-delayed-will";
    /// The Subscription Identifiers are left out on copies given to a member of a Shared Subscription only (breaks MQTT-3.3.4-3 on
    /// that path alone).
    NoSubscriptionIdentifiersShared = "no-subscription-identifiers-shared";
    /// The published QoS is kept above the granted one on copies sent to a connected subscriber as the message is published (not a Shared Subscription member) only (breaks MQTT-3.8.4-8
    /// on that path alone).
    NoQosDowngradeLive = "no-qos-downgrade-live";
    /// The published QoS is kept above the granted one on retained messages sent when a subscription is made only (breaks MQTT-3.8.4-8
    /// on that path alone).
    NoQosDowngradeRetained = "no-qos-downgrade-retained";
    /// The published QoS is kept above the granted one on Will Messages published at once (no Will Delay Interval) only (breaks MQTT-3.8.4-8
    /// on that path alone).
    NoQosDowngradeWill = "no-qos-downgrade-will";
    /// The incoming DUP flag is copied on copies sent to a connected subscriber as the message is published (not a Shared Subscription member) only (breaks MQTT-3.3.1-3 on
    /// that path alone).
    ForwardDupLive = "forward-dup-live";
    /// The publisher's RETAIN is kept without Retain As Published on copies sent to a connected subscriber as the message is published (not a Shared Subscription member) only (breaks
    /// MQTT-3.3.1-12 on that path alone).
    RetainFlagOnForwardLive = "retain-flag-on-forward-live";
    /// The publisher's RETAIN is kept without Retain As Published on Will Messages published at once (no Will Delay Interval) only (breaks
    /// MQTT-3.3.1-12 on that path alone).
    RetainFlagOnForwardWill = "retain-flag-on-forward-will";
    /// Retain As Published is ignored (RETAIN 0) on copies sent to a connected subscriber
    /// (not a Shared Subscription member) only (breaks MQTT-3.3.1-13 on that path alone).
    IgnoreRetainAsPublishedLive = "ignore-retain-as-published-live";
    /// The Message Expiry Interval goes out as received, not less the time the message
    /// waited in the server, on copies sent to a connected subscriber (not a Shared
    /// Subscription member) only (breaks MQTT-3.3.2-6 on that path alone).
    NoMessageExpiryLive = "no-message-expiry-live";
    /// The same on copies queued for a disconnected session only.
    NoMessageExpiryQueued = "no-message-expiry-queued";
    /// The same on retained messages sent when a subscription is made only (the interval
    /// not less the time stored).
    NoMessageExpiryRetained = "no-message-expiry-retained";
    /// The same on Will Messages published at once (no Will Delay Interval) only.
    NoMessageExpiryWill = "no-message-expiry-will";
    /// The same on Will Messages published after their Will Delay Interval only.
    NoMessageExpiryDelayedWill = "no-message-expiry-delayed-will";
    /// The same on copies given to a member of a Shared Subscription only.
    NoMessageExpiryShared = "no-message-expiry-shared";
    /// Copies sent to a connected subscriber (not a Shared Subscription member) go out with
    /// Topic Alias 1 and an empty Topic Name, as if a Topic Alias mapping of the session's
    /// previous connection still held (to clients that accept Topic Aliases only; goes
    /// against MQTT-3.3.2-7 on the live path alone, like `topic-alias-from-old-connection`
    /// on the queued one).
    TopicAliasFromOldConnectionLive = "topic-alias-from-old-connection-live";
    /// The same on retained messages sent when a subscription is made only.
    TopicAliasFromOldConnectionRetained = "topic-alias-from-old-connection-retained";
    /// The same on Will Messages published at once (no Will Delay Interval) only.
    TopicAliasFromOldConnectionWill = "topic-alias-from-old-connection-will";
    /// The same on Will Messages published after their Will Delay Interval only.
    TopicAliasFromOldConnectionDelayedWill = "topic-alias-from-old-connection-delayed-will";
    /// The same on copies given to a member of a Shared Subscription only.
    TopicAliasFromOldConnectionShared = "topic-alias-from-old-connection-shared";
    /// A known User Name with a wrong Password is accepted (breaks the refusal of
    /// MQTT-3.1.4-2 / MQTT-3.2.2-7 in 5.0 and MQTT-3.2.2-5 in 3.1.1).
    AcceptWrongPassword = "accept-wrong-password";
    /// A PUBLISH whose Topic Name is not a valid UTF-8 Encoded String (ill-formed UTF-8,
    /// U+0000) is dropped and the connection stays open (breaks MQTT-3.3.2-1 with
    /// MQTT-1.5.4-1 / -2 in 5.0, MQTT-1.5.3-1 / -2 in 3.1.1, for that field only).
    LenientTopicNameString = "lenient-topic-name-string";
    /// The same for a Topic Filter of SUBSCRIBE (breaks MQTT-3.8.3-1 with the string rules).
    LenientSubscribeFilterString = "lenient-subscribe-filter-string";
    /// The same for a Topic Filter of UNSUBSCRIBE (breaks MQTT-3.10.3-1 with the string
    /// rules).
    LenientUnsubscribeFilterString = "lenient-unsubscribe-filter-string";
    /// A CONNECT whose Client Identifier is not a valid UTF-8 Encoded String is answered
    /// with CONNACK 0x00 instead of closing the connection (breaks MQTT-3.1.3-4 with the
    /// string rules).
    LenientClientIdString = "lenient-client-id-string";
    /// The same for the Will Topic (breaks MQTT-3.1.3-11 in 5.0, MQTT-3.1.3-10 in 3.1.1,
    /// with the string rules).
    LenientWillTopicString = "lenient-will-topic-string";
    /// The same for the User Name (breaks MQTT-3.1.3-12 in 5.0, MQTT-3.1.3-11 in 3.1.1,
    /// with the string rules).
    LenientUserNameString = "lenient-user-name-string";
    /// A packet whose User Property name is not a valid UTF-8 Encoded String is not refused:
    /// dropped on an accepted connection, a CONNECT answered with CONNACK 0x00 (breaks
    /// MQTT-1.5.7-1 for the name).
    LenientUserPropertyNameString = "lenient-user-property-name-string";
    /// The same for a User Property value (breaks MQTT-1.5.7-1 for the value).
    LenientUserPropertyValueString = "lenient-user-property-value-string";
    /// The same for a Response Topic, also when it holds a wildcard (breaks MQTT-3.3.2-13
    /// with the string rules, and MQTT-3.3.2-14).
    LenientResponseTopicString = "lenient-response-topic-string";
    /// A PUBLISH whose Response Topic holds `+` or `#` is accepted and forwarded with that
    /// Response Topic (breaks MQTT-3.3.2-14: the server sends a Response Topic with
    /// wildcards).
    ForwardWildcardResponseTopic = "forward-wildcard-response-topic";
    /// The same for a Content Type (breaks MQTT-3.3.2-19 with the string rules).
    LenientContentTypeString = "lenient-content-type-string";
    /// The same for a Reason String a client sends (breaks MQTT-1.5.4-1 / -2 for it).
    LenientReasonStringString = "lenient-reason-string-string";
    /// The same for the Content Type of a CONNECT's Will Properties (breaks MQTT-1.5.4-1 / -2
    /// for that field only).
    LenientWillContentTypeString = "lenient-will-content-type-string";
    /// The same for the Response Topic of a CONNECT's Will Properties (breaks MQTT-1.5.4-1 /
    /// -2 for that field only).
    LenientWillResponseTopicString = "lenient-will-response-topic-string";
    /// The same for a User Property (name or value) of a CONNECT's Will Properties (breaks
    /// MQTT-1.5.7-1 with MQTT-1.5.4-1 / -2 for the Will's User Properties only; the
    /// `lenient-user-property-…` faults leave the Will's alone).
    LenientWillUserPropertyString = "lenient-will-user-property-string";
    /// The same for the Authentication Method of CONNECT (breaks MQTT-1.5.4-1 / -2 for that
    /// field only).
    LenientAuthMethodString = "lenient-auth-method-string";
    /// U+FEFF is removed from the Client Identifier of CONNECT before it is used (breaks
    /// MQTT-1.5.4-3 / MQTT-1.5.3-3 for that field only).
    StripBomFromClientId = "strip-bom-from-client-id";
    /// U+FEFF is removed from the User Name of CONNECT before the credentials are checked
    /// (breaks MQTT-1.5.4-3 / MQTT-1.5.3-3 for that field only).
    StripBomFromUserName = "strip-bom-from-user-name";
    // U+FEFF removed on receipt from one field of what a client sends (see `strip_bom`);
    // each breaks MQTT-1.5.4-3 (and MQTT-1.5.3-3 in 3.1.1 where the field exists) for its
    // field only.
    /// U+FEFF is removed from the Topic Name of an incoming PUBLISH.
    StripBomFromTopicName = "strip-bom-from-topic-name";
    /// U+FEFF is removed from the Topic Filters of SUBSCRIBE.
    StripBomFromSubscribeFilter = "strip-bom-from-subscribe-filter";
    /// U+FEFF is removed from the Topic Filters of UNSUBSCRIBE.
    StripBomFromUnsubscribeFilter = "strip-bom-from-unsubscribe-filter";
    /// U+FEFF is removed from the Will Topic of CONNECT.
    StripBomFromWillTopic = "strip-bom-from-will-topic";
    /// U+FEFF is removed from the Content Type of CONNECT's Will Properties.
    StripBomFromWillContentType = "strip-bom-from-will-content-type";
    /// U+FEFF is removed from the Response Topic of CONNECT's Will Properties.
    StripBomFromWillResponseTopic = "strip-bom-from-will-response-topic";
    /// U+FEFF is removed from the User Properties (names and values) of CONNECT's Will
    /// Properties.
    StripBomFromWillUserProperty = "strip-bom-from-will-user-property";
    /// U+FEFF is removed from the User Property names of an incoming PUBLISH.
    StripBomFromUserPropertyName = "strip-bom-from-user-property-name";
    /// U+FEFF is removed from the User Property values of an incoming PUBLISH.
    StripBomFromUserPropertyValue = "strip-bom-from-user-property-value";
    /// U+FEFF is removed from the Response Topic of an incoming PUBLISH.
    StripBomFromResponseTopic = "strip-bom-from-response-topic";
    /// U+FEFF is removed from the Content Type of an incoming PUBLISH.
    StripBomFromContentType = "strip-bom-from-content-type";
    /// U+FEFF is removed from the Authentication Method of CONNECT before the method is
    /// looked up, so U+FEFF followed by a supported method starts that method's exchange.
    StripBomFromAuthMethod = "strip-bom-from-auth-method";
    /// Every PUBLISH sent to an MQTT 5.0 client has its Remaining Length in four bytes
    /// whatever its value (breaks MQTT-1.5.5-1: the shortest form).
    NonMinimalRemainingLength = "non-minimal-remaining-length";
    /// A PUBLISH without properties sent to an MQTT 5.0 client leaves out the Property
    /// Length instead of sending 0 (breaks MQTT-2.2.2-1).
    OmitEmptyPropertyLength = "omit-empty-property-length";
    /// U+FEFF is removed from the User Properties, Content Type and Response Topic of the
    /// PUBLISH packets sent to MQTT 5.0 clients (breaks MQTT-1.5.4-3 for those fields).
    StripBomFromProperties = "strip-bom-from-properties";
    /// WebSocket listeners (shell): the payload of a text frame is taken as MQTT bytes
    /// instead of closing the connection (breaks MQTT-6.0.0-1).
    WsAcceptTextFrame = "ws-accept-text-frame";
    /// WebSocket listeners (shell): a binary frame that ends inside a packet closes the
    /// connection, as if every frame had to end on a packet boundary (breaks MQTT-6.0.0-2).
    WsRefuseSplitPacket = "ws-refuse-split-packet";
    /// WebSocket listeners (shell): a binary frame holding more than one packet closes the
    /// connection, as if every frame had to hold exactly one (breaks MQTT-6.0.0-2).
    WsRefuseSharedFrame = "ws-refuse-shared-frame";
    /// WebSocket listeners (shell): the handshake response selects no subprotocol although
    /// the client offered `mqtt` (breaks MQTT-6.0.0-4).
    WsNoSubprotocol = "ws-no-subprotocol";
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault name that is not one of [`Fault::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault `{0}` (known faults: {known})", known = known_names())]
pub struct UnknownFault(pub String);

fn known_names() -> String {
    Fault::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Fault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == wanted)
            .ok_or_else(|| UnknownFault(s.to_owned()))
    }
}

/// The set of faults enabled in a broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults(BTreeSet<Fault>);

impl Faults {
    /// Parses fault names; the first unknown name is an error.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Faults, UnknownFault> {
        names
            .iter()
            .map(|n| n.as_ref().parse())
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Faults)
    }

    /// Whether `fault` is enabled. Always `false` without the `faults` feature.
    #[inline]
    pub fn has(&self, fault: Fault) -> bool {
        COMPILED_IN && self.0.contains(&fault)
    }

    /// Whether no fault is enabled.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_name_parses_back_to_itself() {
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>(), Ok(*f));
        }
        assert!(Fault::ALL.len() >= 15);
    }

    #[test]
    fn unknown_fault_names_are_errors() {
        let err = Faults::parse(&["forward-dup", "no-such-fault"]).unwrap_err();
        assert_eq!(err, UnknownFault("no-such-fault".into()));
        assert!(err.to_string().contains("forward-dup"));
    }
}
