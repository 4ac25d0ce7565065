//! [`Violation`]: one variant per rule the codec enforces, each mapped to its class
//! (malformed packet or protocol error), its MQTT 5.0 Reason Code and, where the
//! specification tags one, the normative statement of each protocol version.

use crate::error::ErrorClass;
use crate::packet::PacketType;
use crate::property::{PropertyContext, PropertyId};
use crate::protocol::ProtocolVersion;
use crate::reason_code::ReasonCode;
use crate::statement::StatementId as S;

/// A rule of the MQTT specifications that some bytes (or a value to encode) break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The bytes end before the packet does.
    #[error("incomplete packet: at least {needed} more byte(s) needed")]
    Incomplete {
        /// How many more bytes are needed at least.
        needed: usize,
    },
    /// Packet type 0 (reserved in both versions), or 15 (AUTH) in MQTT 3.1.1.
    #[error("reserved control packet type {packet_type}")]
    ReservedPacketType {
        /// The type nibble of the first byte.
        packet_type: u8,
    },
    /// Fixed-header flag bits differ from the values the packet type requires.
    #[error("fixed header flags 0x{flags:X} are invalid for {packet_type}")]
    ReservedFlags {
        /// The packet whose flags are wrong.
        packet_type: PacketType,
        /// The low nibble of the first byte.
        flags: u8,
    },
    /// The Remaining Length uses more than four bytes.
    #[error("remaining length is encoded in more than four bytes")]
    RemainingLengthTooLong,
    /// A Variable Byte Integer uses more bytes than its value needs.
    #[error("{field} is a Variable Byte Integer encoded in more bytes than its value needs")]
    NonMinimalVariableByteInteger {
        /// Which field.
        field: &'static str,
    },
    /// A Variable Byte Integer other than the Remaining Length uses more than four bytes.
    #[error("{field} is a Variable Byte Integer longer than four bytes")]
    VariableByteIntegerTooLong {
        /// Which field.
        field: &'static str,
    },
    /// A field would run past the end of its packet or of its property block.
    #[error("{field} runs past the end of its {within}")]
    Truncated {
        /// Which field.
        field: &'static str,
        /// "packet" or "property block".
        within: &'static str,
    },
    /// Bytes are left over after the last field of the packet.
    #[error("{count} trailing byte(s) after the last field of {packet_type}")]
    TrailingBytes {
        /// The packet that has them.
        packet_type: PacketType,
        /// How many.
        count: usize,
    },
    /// A UTF-8 Encoded String is not well-formed UTF-8 (surrogates included).
    #[error("{field} is not well-formed UTF-8")]
    InvalidUtf8 {
        /// Which field.
        field: &'static str,
    },
    /// A UTF-8 Encoded String contains U+0000.
    #[error("{field} contains the null character U+0000")]
    NullCharacter {
        /// Which field.
        field: &'static str,
    },
    /// A string or binary field longer than 65,535 bytes (encoding only).
    #[error("{field} is {len} bytes long; at most 65535 fit")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// A Topic Name contains `+` or `#`.
    #[error("{field} contains a wildcard character")]
    WildcardInTopicName {
        /// "Topic Name", "Will Topic" or "Response Topic".
        field: &'static str,
    },
    /// A Topic Name is empty where it must have at least one character.
    #[error("{field} is empty")]
    EmptyTopicName {
        /// Which field.
        field: &'static str,
    },
    /// A Topic Filter is empty.
    #[error("topic filter is empty")]
    EmptyTopicFilter,
    /// `#` is not alone in the last level of a Topic Filter.
    #[error("topic filter `{filter}`: '#' must be the whole last level")]
    MultiLevelWildcardPlacement {
        /// The filter.
        filter: String,
    },
    /// `+` does not fill a whole level of a Topic Filter.
    #[error("topic filter `{filter}`: '+' must fill a whole level")]
    SingleLevelWildcardPlacement {
        /// The filter.
        filter: String,
    },
    /// A `$share/` filter without a valid ShareName followed by `/` and a Topic Filter.
    #[error("shared subscription `{filter}`: {problem}")]
    InvalidSharedSubscription {
        /// The filter.
        filter: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A QoS field holds 3.
    #[error("{field} is 3, a reserved QoS value")]
    InvalidQoS {
        /// Which field.
        field: &'static str,
    },
    /// A QoS 0 PUBLISH with DUP set.
    #[error("QoS 0 PUBLISH has the DUP flag set")]
    DupWithQoS0,
    /// The Protocol Name of CONNECT is not "MQTT".
    #[error("protocol name is not \"MQTT\"")]
    InvalidProtocolName,
    /// The Protocol Level of CONNECT is not 4 or 5.
    #[error("unsupported protocol level {level}")]
    UnsupportedProtocolLevel {
        /// The level received.
        level: u8,
    },
    /// A CONNECT for one protocol version was decoded as the other.
    #[error("CONNECT has protocol level {found}, expected {expected}")]
    ProtocolVersionMismatch {
        /// The level expected.
        expected: u8,
        /// The level received.
        found: u8,
    },
    /// The reserved bit 0 of the CONNECT flags is set.
    #[error("reserved bit 0 of the CONNECT flags is set")]
    ConnectReservedFlag,
    /// Will QoS is non-zero while the Will Flag is 0.
    #[error("Will QoS is non-zero but the Will Flag is 0")]
    WillQoSWithoutWill,
    /// Will Retain is set while the Will Flag is 0.
    #[error("Will Retain is set but the Will Flag is 0")]
    WillRetainWithoutWill,
    /// MQTT 3.1.1: the Password Flag is set without the User Name Flag.
    #[error("Password Flag is set but the User Name Flag is 0")]
    PasswordWithoutUserName,
    /// Reserved bits of the Subscription Options byte are set.
    #[error("reserved bits of the subscription options are set (0x{options:02X})")]
    SubscriptionOptionsReservedBits {
        /// The options byte.
        options: u8,
    },
    /// No Local set on a shared subscription (MQTT 5.0).
    #[error("No Local is set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// Retain Handling is 3.
    #[error("Retain Handling is 3, a reserved value")]
    InvalidRetainHandling,
    /// A Packet Identifier is zero.
    #[error("{packet_type} has Packet Identifier 0")]
    PacketIdentifierZero {
        /// Which packet.
        packet_type: PacketType,
    },
    /// SUBSCRIBE or UNSUBSCRIBE without any Topic Filter.
    #[error("{packet_type} has no topic filter")]
    NoTopicFilters {
        /// Which packet.
        packet_type: PacketType,
    },
    /// SUBACK or UNSUBACK without any reason code (encoding).
    #[error("{packet_type} has no reason code")]
    NoReasonCodes {
        /// Which packet.
        packet_type: PacketType,
    },
    /// A property that may appear once appears again.
    #[error("property {property} appears more than once")]
    DuplicateProperty {
        /// The property.
        property: PropertyId,
    },
    /// A property that is not allowed in this packet (or in the Will Properties).
    #[error("property {property} is not allowed in {context}")]
    PropertyNotAllowed {
        /// The property.
        property: PropertyId,
        /// Where it appeared.
        context: PropertyContext,
    },
    /// A Property Identifier the specification does not define.
    #[error("unknown property identifier 0x{id:02X}")]
    UnknownProperty {
        /// The identifier.
        id: u32,
    },
    /// A property whose value may not be zero is zero.
    #[error("property {property} has the value 0")]
    ZeroPropertyValue {
        /// The property.
        property: PropertyId,
    },
    /// A property value outside its range (booleans other than 0/1, Maximum QoS 2, ...).
    #[error("property {property} has the invalid value {value}")]
    InvalidPropertyValue {
        /// The property.
        property: PropertyId,
        /// The value.
        value: u32,
    },
    /// Authentication Data without an Authentication Method.
    #[error("Authentication Data is present without an Authentication Method")]
    AuthenticationDataWithoutMethod,
    /// A reason code that this packet type may not carry.
    #[error("reason code 0x{code:02X} is not allowed in {packet_type}")]
    InvalidReasonCode {
        /// Which packet.
        packet_type: PacketType,
        /// The code.
        code: u8,
    },
    /// Reserved bits 7..1 of the CONNACK Acknowledge Flags are set.
    #[error("reserved bits of the CONNACK acknowledge flags are set (0x{flags:02X})")]
    ConnAckReservedFlags {
        /// The flags byte.
        flags: u8,
    },
    /// Session Present is 1 on a CONNACK that refuses the connection.
    #[error("Session Present is 1 on a CONNACK with an error code")]
    SessionPresentOnError,
    /// The whole packet is larger than the Maximum Packet Size.
    #[error("packet of {size} bytes exceeds the maximum packet size of {maximum} bytes")]
    PacketTooLarge {
        /// The size of the whole packet (fixed header included).
        size: u64,
        /// The limit.
        maximum: u32,
    },
    /// A value (e.g. the Remaining Length) is beyond what a Variable Byte Integer holds.
    #[error("{field} value {value} does not fit a Variable Byte Integer")]
    VariableByteIntegerOverflow {
        /// Which field.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// Data MQTT 3.1.1 cannot carry (properties, reason codes, AUTH) in a 3.1.1 encode.
    #[error("{what} cannot be encoded in MQTT 3.1.1")]
    NotInV311 {
        /// What.
        what: &'static str,
    },
}

use PacketType as T;
use ProtocolVersion::{V311, V5};
use Violation as V;

impl Violation {
    /// Whether this makes the packet malformed, is a protocol error, or just means more bytes
    /// are needed.
    pub fn class(&self) -> ErrorClass {
        match self {
            V::Incomplete { .. } => ErrorClass::Incomplete,
            V::DuplicateProperty { .. }
            | V::ZeroPropertyValue { .. }
            | V::InvalidPropertyValue { .. }
            | V::AuthenticationDataWithoutMethod
            | V::NoTopicFilters { .. }
            | V::UnsupportedProtocolLevel { .. }
            | V::ProtocolVersionMismatch { .. }
            | V::InvalidProtocolName
            | V::PacketTooLarge { .. }
            | V::EmptyTopicName { .. }
            | V::InvalidSharedSubscription { .. }
            | V::NoLocalOnSharedSubscription
            | V::InvalidRetainHandling
            | V::InvalidQoS {
                field: "Requested QoS",
            } => ErrorClass::ProtocolError,
            _ => ErrorClass::MalformedPacket,
        }
    }

    /// The MQTT 5.0 Reason Code a receiver would use to report this (in CONNACK or DISCONNECT).
    pub fn reason_code(&self) -> Option<ReasonCode> {
        match self {
            V::Incomplete { .. } => None,
            V::UnsupportedProtocolLevel { .. }
            | V::ProtocolVersionMismatch { .. }
            | V::InvalidProtocolName => Some(ReasonCode::UnsupportedProtocolVersion),
            V::PacketTooLarge { .. } => Some(ReasonCode::PacketTooLarge),
            V::WildcardInTopicName { .. } | V::EmptyTopicName { .. } => {
                Some(ReasonCode::TopicNameInvalid)
            }
            V::ZeroPropertyValue {
                property: PropertyId::TopicAlias,
            } => Some(ReasonCode::TopicAliasInvalid),
            _ => match self.class() {
                ErrorClass::ProtocolError => Some(ReasonCode::ProtocolError),
                _ => Some(ReasonCode::MalformedPacket),
            },
        }
    }

    /// The normative statement this breaks, in the given protocol version, where the
    /// specification tags one.
    pub fn statement(&self, version: ProtocolVersion) -> Option<S> {
        let (v5, v311) = match self {
            V::Incomplete { .. } => (None, None),
            V::ReservedPacketType { .. } => (None, None),
            V::ReservedFlags { packet_type, .. } => match packet_type {
                T::PubRel => (Some(S::V5_3_6_1_1), Some(S::V311_3_6_1_1)),
                T::Subscribe => (Some(S::V5_3_8_1_1), Some(S::V311_3_8_1_1)),
                T::Unsubscribe => (Some(S::V5_3_10_1_1), Some(S::V311_3_10_1_1)),
                T::Disconnect => (Some(S::V5_3_14_1_1), Some(S::V311_3_14_1_1)),
                T::Auth => (Some(S::V5_3_15_1_1), None),
                _ => (Some(S::V5_2_1_3_1), Some(S::V311_2_2_2_1)),
            },
            V::RemainingLengthTooLong => (None, None),
            V::NonMinimalVariableByteInteger { .. } => (Some(S::V5_1_5_5_1), None),
            V::VariableByteIntegerTooLong { .. } => (None, None),
            V::Truncated { .. } | V::TrailingBytes { .. } => (None, None),
            V::InvalidUtf8 { .. } => (Some(S::V5_1_5_4_1), Some(S::V311_1_5_3_1)),
            V::NullCharacter { .. } => (Some(S::V5_1_5_4_2), Some(S::V311_1_5_3_2)),
            V::FieldTooLong { .. } => (None, None),
            V::WildcardInTopicName { field } => match *field {
                "Response Topic" => (Some(S::V5_3_3_2_14), None),
                "Will Topic" => (Some(S::V5_4_7_0_1), Some(S::V311_4_7_1_1)),
                _ => (Some(S::V5_3_3_2_2), Some(S::V311_3_3_2_2)),
            },
            V::EmptyTopicName { .. } | V::EmptyTopicFilter => {
                (Some(S::V5_4_7_3_1), Some(S::V311_4_7_3_1))
            }
            V::MultiLevelWildcardPlacement { .. } => (Some(S::V5_4_7_1_1), Some(S::V311_4_7_1_2)),
            V::SingleLevelWildcardPlacement { .. } => (Some(S::V5_4_7_1_2), Some(S::V311_4_7_1_3)),
            V::InvalidSharedSubscription { problem, .. } => {
                if *problem == "ShareName is empty" {
                    (Some(S::V5_4_8_2_1), None)
                } else {
                    (Some(S::V5_4_8_2_2), None)
                }
            }
            V::InvalidQoS { field } => match *field {
                "Will QoS" => (Some(S::V5_3_1_2_12), Some(S::V311_3_1_2_14)),
                "PUBLISH QoS" => (Some(S::V5_3_3_1_4), Some(S::V311_3_3_1_4)),
                _ => (None, Some(S::V311_3_8_3_4)),
            },
            V::DupWithQoS0 => (Some(S::V5_3_3_1_2), Some(S::V311_3_3_1_2)),
            V::InvalidProtocolName => (Some(S::V5_3_1_2_1), Some(S::V311_3_1_2_1)),
            V::UnsupportedProtocolLevel { .. } | V::ProtocolVersionMismatch { .. } => {
                (Some(S::V5_3_1_2_2), Some(S::V311_3_1_2_2))
            }
            V::ConnectReservedFlag => (Some(S::V5_3_1_2_3), Some(S::V311_3_1_2_3)),
            V::WillQoSWithoutWill => (Some(S::V5_3_1_2_11), Some(S::V311_3_1_2_13)),
            V::WillRetainWithoutWill => (Some(S::V5_3_1_2_13), Some(S::V311_3_1_2_15)),
            V::PasswordWithoutUserName => (None, Some(S::V311_3_1_2_22)),
            V::SubscriptionOptionsReservedBits { .. } => {
                (Some(S::V5_3_8_3_5), Some(S::V311_3_8_3_4))
            }
            V::InvalidRetainHandling => (None, None),
            V::NoLocalOnSharedSubscription => (Some(S::V5_3_8_3_4), None),
            // Acknowledgements echo the (non-zero) identifier of the packet they answer.
            V::PacketIdentifierZero { packet_type } => match packet_type {
                T::PubAck | T::PubRec | T::PubRel => (Some(S::V5_2_2_1_5), Some(S::V311_2_3_1_6)),
                T::PubComp => (Some(S::V5_2_2_1_5), None),
                T::SubAck | T::UnsubAck => (Some(S::V5_2_2_1_6), Some(S::V311_2_3_1_7)),
                _ => (Some(S::V5_2_2_1_3), Some(S::V311_2_3_1_1)),
            },
            V::NoTopicFilters { packet_type } => match packet_type {
                T::Unsubscribe => (Some(S::V5_3_10_3_2), Some(S::V311_3_10_3_2)),
                _ => (Some(S::V5_3_8_3_2), Some(S::V311_3_8_3_3)),
            },
            // A SUBACK answers at least one filter with one code each.
            V::NoReasonCodes {
                packet_type: T::SubAck,
            } => (Some(S::V5_3_8_4_6), Some(S::V311_3_8_4_5)),
            V::NoReasonCodes { .. } => (None, None),
            V::ZeroPropertyValue {
                property: PropertyId::TopicAlias,
            } => (Some(S::V5_3_3_2_8), None),
            V::DuplicateProperty { .. }
            | V::PropertyNotAllowed { .. }
            | V::UnknownProperty { .. }
            | V::ZeroPropertyValue { .. }
            | V::InvalidPropertyValue { .. }
            | V::AuthenticationDataWithoutMethod => (None, None),
            V::InvalidReasonCode { packet_type, .. } => match packet_type {
                T::ConnAck => (Some(S::V5_3_2_2_8), None),
                T::PubAck => (Some(S::V5_3_4_2_1), None),
                T::PubRec => (Some(S::V5_3_5_2_1), None),
                T::PubRel => (Some(S::V5_3_6_2_1), None),
                T::PubComp => (Some(S::V5_3_7_2_1), None),
                T::SubAck => (Some(S::V5_3_9_3_2), Some(S::V311_3_9_3_2)),
                T::UnsubAck => (Some(S::V5_3_11_3_2), None),
                T::Disconnect => (Some(S::V5_3_14_2_1), None),
                T::Auth => (Some(S::V5_3_15_2_1), None),
                _ => (None, None),
            },
            V::ConnAckReservedFlags { .. } => (Some(S::V5_3_2_2_1), None),
            V::SessionPresentOnError => (Some(S::V5_3_2_2_6), Some(S::V311_3_2_2_4)),
            V::PacketTooLarge { .. } => (None, None),
            V::VariableByteIntegerOverflow { .. } => (None, None),
            V::NotInV311 { .. } => (None, None),
        };
        match version {
            V5 => v5,
            V311 => v311,
        }
    }
}
