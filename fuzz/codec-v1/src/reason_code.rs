//! MQTT 5.0 Reason Codes, and which of them each packet type may carry.
//!
//! The same numeric value has different names in different packets (0x00 is "Success",
//! "Normal disconnection" and "Granted QoS 0"); this enum names each value once and
//! [`ReasonCode::name_in`] gives the packet-specific name.
//!
//! MQTT 3.1.1 CONNACK return codes 1..=5 and SUBACK return codes map onto the MQTT 5.0 codes
//! of the same meaning (see [`ReasonCode::from_connect_return_code`]), so one model serves both.

use crate::packet::PacketType;

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $label:literal; )*) => {
        /// An MQTT 5.0 Reason Code (Table 2-6 of the MQTT 5.0 specification).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
        #[repr(u8)]
        pub enum ReasonCode {
            $( $(#[$doc])* $name = $value, )*
        }

        impl ReasonCode {
            /// Every Reason Code, in numeric order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$name,)*];

            /// The Reason Code with this value, if the specification defines one.
            pub fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $( $value => Some(ReasonCode::$name), )*
                    _ => None,
                }
            }

            /// The generic name of the code.
            pub fn name(self) -> &'static str {
                match self {
                    $( ReasonCode::$name => $label, )*
                }
            }
        }
    };
}

reason_codes! {
    /// Success / Normal disconnection / Granted QoS 0.
    #[default]
    Success = 0x00, "Success";
    /// Granted QoS 1.
    GrantedQoS1 = 0x01, "Granted QoS 1";
    /// Granted QoS 2.
    GrantedQoS2 = 0x02, "Granted QoS 2";
    /// Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04, "Disconnect with Will Message";
    /// No matching subscribers.
    NoMatchingSubscribers = 0x10, "No matching subscribers";
    /// No subscription existed.
    NoSubscriptionExisted = 0x11, "No subscription existed";
    /// Continue authentication.
    ContinueAuthentication = 0x18, "Continue authentication";
    /// Re-authenticate.
    ReAuthenticate = 0x19, "Re-authenticate";
    /// Unspecified error.
    UnspecifiedError = 0x80, "Unspecified error";
    /// Malformed Packet.
    MalformedPacket = 0x81, "Malformed Packet";
    /// Protocol Error.
    ProtocolError = 0x82, "Protocol Error";
    /// Implementation specific error.
    ImplementationSpecificError = 0x83, "Implementation specific error";
    /// Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84, "Unsupported Protocol Version";
    /// Client Identifier not valid.
    ClientIdentifierNotValid = 0x85, "Client Identifier not valid";
    /// Bad User Name or Password.
    BadUserNameOrPassword = 0x86, "Bad User Name or Password";
    /// Not authorized.
    NotAuthorized = 0x87, "Not authorized";
    /// Server unavailable.
    ServerUnavailable = 0x88, "Server unavailable";
    /// Server busy.
    ServerBusy = 0x89, "Server busy";
    /// Banned.
    Banned = 0x8A, "Banned";
    /// Server shutting down.
    ServerShuttingDown = 0x8B, "Server shutting down";
    /// Bad authentication method.
    BadAuthenticationMethod = 0x8C, "Bad authentication method";
    /// Keep Alive timeout.
    KeepAliveTimeout = 0x8D, "Keep Alive timeout";
    /// Session taken over.
    SessionTakenOver = 0x8E, "Session taken over";
    /// Topic Filter invalid.
    TopicFilterInvalid = 0x8F, "Topic Filter invalid";
    /// Topic Name invalid.
    TopicNameInvalid = 0x90, "Topic Name invalid";
    /// Packet Identifier in use.
    PacketIdentifierInUse = 0x91, "Packet Identifier in use";
    /// Packet Identifier not found.
    PacketIdentifierNotFound = 0x92, "Packet Identifier not found";
    /// Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93, "Receive Maximum exceeded";
    /// Topic Alias invalid.
    TopicAliasInvalid = 0x94, "Topic Alias invalid";
    /// Packet too large.
    PacketTooLarge = 0x95, "Packet too large";
    /// Message rate too high.
    MessageRateTooHigh = 0x96, "Message rate too high";
    /// Quota exceeded.
    QuotaExceeded = 0x97, "Quota exceeded";
    /// Administrative action.
    AdministrativeAction = 0x98, "Administrative action";
    /// Payload format invalid.
    PayloadFormatInvalid = 0x99, "Payload format invalid";
    /// Retain not supported.
    RetainNotSupported = 0x9A, "Retain not supported";
    /// QoS not supported.
    QoSNotSupported = 0x9B, "QoS not supported";
    /// Use another server.
    UseAnotherServer = 0x9C, "Use another server";
    /// Server moved.
    ServerMoved = 0x9D, "Server moved";
    /// Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E, "Shared Subscriptions not supported";
    /// Connection rate exceeded.
    ConnectionRateExceeded = 0x9F, "Connection rate exceeded";
    /// Maximum connect time.
    MaximumConnectTime = 0xA0, "Maximum connect time";
    /// Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1, "Subscription Identifiers not supported";
    /// Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2, "Wildcard Subscriptions not supported";
}

use ReasonCode as R;

const CONNACK: &[ReasonCode] = &[
    R::Success,
    R::UnspecifiedError,
    R::MalformedPacket,
    R::ProtocolError,
    R::ImplementationSpecificError,
    R::UnsupportedProtocolVersion,
    R::ClientIdentifierNotValid,
    R::BadUserNameOrPassword,
    R::NotAuthorized,
    R::ServerUnavailable,
    R::ServerBusy,
    R::Banned,
    R::BadAuthenticationMethod,
    R::TopicNameInvalid,
    R::PacketTooLarge,
    R::QuotaExceeded,
    R::PayloadFormatInvalid,
    R::RetainNotSupported,
    R::QoSNotSupported,
    R::UseAnotherServer,
    R::ServerMoved,
    R::ConnectionRateExceeded,
];

const PUBACK_PUBREC: &[ReasonCode] = &[
    R::Success,
    R::NoMatchingSubscribers,
    R::UnspecifiedError,
    R::ImplementationSpecificError,
    R::NotAuthorized,
    R::TopicNameInvalid,
    R::PacketIdentifierInUse,
    R::QuotaExceeded,
    R::PayloadFormatInvalid,
];

const PUBREL_PUBCOMP: &[ReasonCode] = &[R::Success, R::PacketIdentifierNotFound];

const SUBACK: &[ReasonCode] = &[
    R::Success,
    R::GrantedQoS1,
    R::GrantedQoS2,
    R::UnspecifiedError,
    R::ImplementationSpecificError,
    R::NotAuthorized,
    R::TopicFilterInvalid,
    R::PacketIdentifierInUse,
    R::QuotaExceeded,
    R::SharedSubscriptionsNotSupported,
    R::SubscriptionIdentifiersNotSupported,
    R::WildcardSubscriptionsNotSupported,
];

const UNSUBACK: &[ReasonCode] = &[
    R::Success,
    R::NoSubscriptionExisted,
    R::UnspecifiedError,
    R::ImplementationSpecificError,
    R::NotAuthorized,
    R::TopicFilterInvalid,
    R::PacketIdentifierInUse,
];

const DISCONNECT: &[ReasonCode] = &[
    R::Success,
    R::DisconnectWithWillMessage,
    R::UnspecifiedError,
    R::MalformedPacket,
    R::ProtocolError,
    R::ImplementationSpecificError,
    R::NotAuthorized,
    R::ServerBusy,
    R::ServerShuttingDown,
    R::KeepAliveTimeout,
    R::SessionTakenOver,
    R::TopicFilterInvalid,
    R::TopicNameInvalid,
    R::ReceiveMaximumExceeded,
    R::TopicAliasInvalid,
    R::PacketTooLarge,
    R::MessageRateTooHigh,
    R::QuotaExceeded,
    R::AdministrativeAction,
    R::PayloadFormatInvalid,
    R::RetainNotSupported,
    R::QoSNotSupported,
    R::UseAnotherServer,
    R::ServerMoved,
    R::SharedSubscriptionsNotSupported,
    R::ConnectionRateExceeded,
    R::MaximumConnectTime,
    R::SubscriptionIdentifiersNotSupported,
    R::WildcardSubscriptionsNotSupported,
];

const AUTH: &[ReasonCode] = &[R::Success, R::ContinueAuthentication, R::ReAuthenticate];

/// The MQTT 3.1.1 CONNACK return codes 0..=5, as the MQTT 5.0 codes of the same meaning.
const CONNECT_RETURN_CODES: [ReasonCode; 6] = [
    R::Success,
    R::UnsupportedProtocolVersion,
    R::ClientIdentifierNotValid,
    R::ServerUnavailable,
    R::BadUserNameOrPassword,
    R::NotAuthorized,
];

impl ReasonCode {
    /// The numeric value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether this is an error code (0x80 or above).
    pub fn is_error(self) -> bool {
        self.as_u8() >= 0x80
    }

    /// The MQTT 5.0 Reason Codes a packet type may carry (empty for packets without one).
    pub fn allowed_in(packet_type: PacketType) -> &'static [ReasonCode] {
        match packet_type {
            PacketType::ConnAck => CONNACK,
            PacketType::PubAck | PacketType::PubRec => PUBACK_PUBREC,
            PacketType::PubRel | PacketType::PubComp => PUBREL_PUBCOMP,
            PacketType::SubAck => SUBACK,
            PacketType::UnsubAck => UNSUBACK,
            PacketType::Disconnect => DISCONNECT,
            PacketType::Auth => AUTH,
            _ => &[],
        }
    }

    /// Whether an MQTT 5.0 packet of this type may carry this code.
    pub fn is_allowed_in(self, packet_type: PacketType) -> bool {
        Self::allowed_in(packet_type).contains(&self)
    }

    /// The name the specification gives this code in the given packet type.
    pub fn name_in(self, packet_type: PacketType) -> &'static str {
        match (self, packet_type) {
            (R::Success, PacketType::Disconnect) => "Normal disconnection",
            (R::Success, PacketType::SubAck) => "Granted QoS 0",
            _ => self.name(),
        }
    }

    /// The MQTT 5.0 code for an MQTT 3.1.1 CONNACK return code (0..=5); `None` for the
    /// reserved values 6..=255.
    pub fn from_connect_return_code(code: u8) -> Option<Self> {
        CONNECT_RETURN_CODES.get(usize::from(code)).copied()
    }

    /// The MQTT 3.1.1 CONNACK return code for this code, if 3.1.1 can express it.
    pub fn to_connect_return_code(self) -> Option<u8> {
        CONNECT_RETURN_CODES
            .iter()
            .position(|c| *c == self)
            .and_then(|p| u8::try_from(p).ok())
    }

    /// Whether MQTT 3.1.1 SUBACK can carry this code (0x00, 0x01, 0x02 and 0x80 only).
    pub fn is_v311_suback_return_code(self) -> bool {
        matches!(
            self,
            R::Success | R::GrantedQoS1 | R::GrantedQoS2 | R::UnspecifiedError
        )
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{:02X} ({})", self.as_u8(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_value() {
        for code in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_u8(code.as_u8()), Some(*code));
        }
        assert_eq!(ReasonCode::ALL.len(), 43);
        assert_eq!(ReasonCode::from_u8(0x03), None);
    }

    #[test]
    fn v311_connect_return_codes_map_both_ways() {
        for rc in 0u8..=5 {
            let code = ReasonCode::from_connect_return_code(rc).unwrap();
            assert_eq!(code.to_connect_return_code(), Some(rc));
        }
        assert_eq!(ReasonCode::from_connect_return_code(6), None);
        assert_eq!(ReasonCode::Banned.to_connect_return_code(), None);
    }

    #[test]
    fn allowed_sets_match_the_spec_tables() {
        assert_eq!(ReasonCode::allowed_in(PacketType::ConnAck).len(), 22);
        assert_eq!(ReasonCode::allowed_in(PacketType::PubAck).len(), 9);
        assert_eq!(ReasonCode::allowed_in(PacketType::PubComp).len(), 2);
        assert_eq!(ReasonCode::allowed_in(PacketType::SubAck).len(), 12);
        assert_eq!(ReasonCode::allowed_in(PacketType::UnsubAck).len(), 7);
        assert_eq!(ReasonCode::allowed_in(PacketType::Disconnect).len(), 29);
        assert_eq!(ReasonCode::allowed_in(PacketType::Auth).len(), 3);
        assert!(!ReasonCode::PacketTooLarge.is_allowed_in(PacketType::PubAck));
    }
}
