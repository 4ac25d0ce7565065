//! The fault switches of the reference client: each breaks exactly one rule the client
//! cases check, so that every case can be shown red ("a deliberately broken client").
//!
//! The reference client reads them from the environment variable [`FAULTS_ENV`], a
//! comma-separated list of [`Fault::name`]s.

use std::fmt;

/// The environment variable holding the faults to switch on.
pub const FAULTS_ENV: &str = "MQTTSPEC_CLIENT_FAULTS";

macro_rules! faults {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// One deliberate misbehaviour of the reference client.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fault {
            $( $(#[$doc])* $variant, )*
        }

        impl Fault {
            /// Every fault.
            pub const ALL: &'static [Fault] = &[$(Fault::$variant,)*];

            /// The kebab-case name used in [`FAULTS_ENV`].
            pub fn name(self) -> &'static str {
                match self {
                    $( Fault::$variant => $name, )*
                }
            }
        }
    };
}

faults! {
    /// Sets the Password Flag in CONNECT and leaves the Password out.
    PasswordFlagWithoutPassword = "password-flag-without-password",
    /// Sends a SUBSCRIBE before the CONNECT on a new connection.
    SubscribeBeforeConnect = "subscribe-before-connect",
    /// Never sends PINGREQ.
    NoPingreq = "no-pingreq",
    /// Keeps its own Keep Alive when the CONNACK carries a Server Keep Alive.
    IgnoreServerKeepAlive = "ignore-server-keep-alive",
    /// Sends a new QoS 1 or 2 PUBLISH with DUP 1.
    DupOnFirstSend = "dup-on-first-send",
    /// Gives every QoS 1 or 2 PUBLISH Packet Identifier 1, in use or not.
    ReusePacketId = "reuse-packet-id",
    /// Does not answer PUBREC with PUBREL.
    NoPubrel = "no-pubrel",
    /// Sends PUBREL with the fixed-header flags 0000.
    PubrelWrongFlags = "pubrel-wrong-flags",
    /// Does not answer a QoS 1 PUBLISH with PUBACK.
    NoPuback = "no-puback",
    /// Answers a QoS 1 PUBLISH with a PUBACK for the next Packet Identifier.
    PubackWrongId = "puback-wrong-id",
    /// Does not answer a QoS 2 PUBLISH with PUBREC.
    NoPubrec = "no-pubrec",
    /// Does not answer PUBREL with PUBCOMP.
    NoPubcomp = "no-pubcomp",
    /// Resends unacknowledged PUBLISH packets on reconnection with DUP 0.
    ResendWithoutDup = "resend-without-dup",
    /// Resends nothing on reconnection with a session present.
    NoResend = "no-resend",
    /// Keeps its in-flight messages across a Clean Start 1 reconnection and resends them.
    KeepSessionOnCleanStart = "keep-session-on-clean-start",
    /// Skips malformed packets from the server and stays connected.
    TolerateMalformed = "tolerate-malformed",
    /// Stays connected after a server DISCONNECT.
    IgnoreServerDisconnect = "ignore-server-disconnect",
    /// Stays connected after a CONNACK refusing the connection.
    StayAfterConnackRefusal = "stay-after-connack-refusal",
    /// Sends QoS 1 and 2 PUBLISH packets beyond the server's Receive Maximum.
    IgnoreReceiveMaximum = "ignore-receive-maximum",
    /// Sends packets larger than the server's Maximum Packet Size.
    IgnoreMaximumPacketSize = "ignore-maximum-packet-size",
    /// Delivers a PUBLISH that uses a Topic Alias with the topic it carries (empty).
    IgnoreTopicAlias = "ignore-topic-alias",
    /// Sends QoS 0 PUBLISH packets with DUP 1.
    DupOnQos0 = "dup-on-qos0",
    /// Sends SUBSCRIBE with the fixed-header flags 0000.
    SubscribeWrongFlags = "subscribe-wrong-flags",
    /// Sends UNSUBSCRIBE with the fixed-header flags 0000.
    UnsubscribeWrongFlags = "unsubscribe-wrong-flags",
    /// Leaves the connection open after sending DISCONNECT.
    NoCloseAfterDisconnect = "no-close-after-disconnect",
    /// Sends a PINGREQ after its DISCONNECT, then closes.
    PacketAfterDisconnect = "packet-after-disconnect",
    /// Stays connected when CONNACK says Session Present 1 to a Clean Start 1 connection.
    AcceptUnexpectedSessionPresent = "accept-unexpected-session-present",
    /// Resends its in-flight messages after a CONNACK with Session Present 0.
    IgnoreSessionPresent0 = "ignore-session-present-0",
    /// Publishes to a Topic Name with wildcard characters when the application asks.
    AllowWildcardTopic = "allow-wildcard-topic",
    /// Drops a QoS 1 PUBLISH with DUP 1 whose Packet Identifier it has already acknowledged
    /// (still answering PUBACK), as if it were the same message again.
    DropRepeatedQos1Id = "drop-repeated-qos1-id",
    /// Keeps a received QoS 2 Packet Identifier after PUBCOMP, so a later PUBLISH reusing it
    /// is taken for a duplicate and not delivered.
    KeepQos2IdAfterPubcomp = "keep-qos2-id-after-pubcomp",
    /// Keeps a message the server acknowledged with an error Reason Code in flight and
    /// resends it on a resumed session.
    ResendAfterErrorAck = "resend-after-error-ack",
    /// Keeps the server's Topic Aliases of one connection for the next.
    KeepTopicAliases = "keep-topic-aliases",
    /// Answers the server's AUTH with Reason Code 0x00 instead of 0x18.
    AuthSuccessReasonCode = "auth-success-reason-code",
    /// Answers the server's AUTH with another Authentication Method than its CONNECT's.
    AuthOtherMethod = "auth-other-method",
    /// Sends a PINGREQ before its AUTH answer, while the authentication is going on.
    PingDuringAuth = "ping-during-auth",
    /// Puts a Subscription Identifier (1) in the PUBLISH packets it sends (5.0).
    SubscriptionIdInPublish = "subscription-id-in-publish",
    /// Offers no WebSocket subprotocol in the upgrade request.
    WsNoSubprotocol = "ws-no-subprotocol",
    /// Sends its packets in WebSocket text frames.
    WsTextFrames = "ws-text-frames",
    /// Skips a WebSocket text frame from the server and stays connected.
    WsIgnoreTextFrame = "ws-ignore-text-frame",
    /// Takes every WebSocket frame for exactly one packet (drops the rest of a frame, and a
    /// frame holding part of a packet).
    WsFrameAligned = "ws-frame-aligned",
}

impl Fault {
    /// The fault named `name`.
    pub fn named(name: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.name() == name.trim())
    }

    /// The faults listed in `value` (comma-separated); unknown names are returned apart.
    pub fn parse_list(value: &str) -> (Vec<Fault>, Vec<String>) {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match Fault::named(name) {
                Some(f) => known.push(f),
                None => unknown.push(name.to_owned()),
            }
        }
        (known, unknown)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_are_unique() {
        let mut names: Vec<_> = Fault::ALL.iter().map(|f| f.name()).collect();
        for f in Fault::ALL {
            assert_eq!(Fault::named(f.name()), Some(*f));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Fault::ALL.len());
        let (known, unknown) = Fault::parse_list("no-pingreq, bogus,");
        assert_eq!(known, vec![Fault::NoPingreq]);
        assert_eq!(unknown, vec!["bogus".to_owned()]);
    }
}
