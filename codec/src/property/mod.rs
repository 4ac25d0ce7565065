//! MQTT 5.0 properties, all generated from ONE table (the `property_table!` invocation below):
//! each row gives the identifier, the spec's name, the field name and Rust type, the packets
//! (contexts) that may carry it and those where it may repeat.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the table; from it [`PropertyId`] (names, where allowed, where repeatable) and the flat [`Properties`] (every field, any context) |
//! | `value.rs` | the wire form of each value type (`Wire`) and of a property's slot (`Field`: once or repeated) |
//! | `set.rs` | the `property_set!` generator and the [`PropertySet`] trait |
//! | `sets.rs` | the per-packet sets: [`ConnectProperties`], [`WillProperties`], [`ConnAckProperties`], [`PublishProperties`], [`AckProperties`], [`SubscribeProperties`], [`UnsubscribeProperties`], [`DisconnectProperties`], [`AuthProperties`] |
//! | `user.rs` | [`UserProperties`]: the User Properties, kept as received (one validated slice of the frame) or as built (pairs) |
//! | `boxed.rs` | [`Props`]: a set behind `Option<Box<_>>` (no allocation when empty), read through `Deref` |
//!
//! A packet holds its own set type, so a property the packet does not allow cannot be put into
//! it. Decoding refuses unknown identifiers, identifiers not allowed in the packet
//! ([`Violation::PropertyNotAllowed`], as before), properties repeated where the spec allows
//! only one (found with a bitmask of the identifiers seen), zero where zero is forbidden, and
//! out-of-range bytes; it reads within the property block only, so no property can run past it.
//! The field names of every set are those of [`Properties`], so `p.properties.topic_alias`
//! reads the same on every packet that may carry a Topic Alias.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{BufMut, Bytes, BytesMut};

use crate::qos::QoS;
use crate::reader::{Bound, Reader};
use crate::string::{MqttString, TopicName};
use crate::violation::Violation;
use crate::writer::{put_variable_byte_integer, variable_byte_integer_len};

mod boxed;
#[macro_use]
mod set;
mod sets;
mod user;
mod value;

pub use boxed::Props;
pub use set::PropertySet;
pub use sets::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PublishProperties, SubAckProperties, SubscribeProperties, UnsubAckProperties,
    UnsubscribeProperties, WillProperties,
};
pub(crate) use user::UserPropertyRun;
pub use user::{Iter as UserPropertiesIter, UserProperties};
use value::Field;

/// Where a property set appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyContext {
    /// CONNECT properties.
    Connect,
    /// The Will Properties in the CONNECT payload.
    Will,
    /// CONNACK.
    ConnAck,
    /// PUBLISH.
    Publish,
    /// PUBACK.
    PubAck,
    /// PUBREC.
    PubRec,
    /// PUBREL.
    PubRel,
    /// PUBCOMP.
    PubComp,
    /// SUBSCRIBE.
    Subscribe,
    /// SUBACK.
    SubAck,
    /// UNSUBSCRIBE.
    Unsubscribe,
    /// UNSUBACK.
    UnsubAck,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
}

impl PropertyContext {
    /// Every context.
    pub const ALL: [PropertyContext; 14] = [
        PropertyContext::Connect,
        PropertyContext::Will,
        PropertyContext::ConnAck,
        PropertyContext::Publish,
        PropertyContext::PubAck,
        PropertyContext::PubRec,
        PropertyContext::PubRel,
        PropertyContext::PubComp,
        PropertyContext::Subscribe,
        PropertyContext::SubAck,
        PropertyContext::Unsubscribe,
        PropertyContext::UnsubAck,
        PropertyContext::Disconnect,
        PropertyContext::Auth,
    ];
}

impl std::fmt::Display for PropertyContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PropertyContext::Connect => "CONNECT",
            PropertyContext::Will => "Will Properties",
            PropertyContext::ConnAck => "CONNACK",
            PropertyContext::Publish => "PUBLISH",
            PropertyContext::PubAck => "PUBACK",
            PropertyContext::PubRec => "PUBREC",
            PropertyContext::PubRel => "PUBREL",
            PropertyContext::PubComp => "PUBCOMP",
            PropertyContext::Subscribe => "SUBSCRIBE",
            PropertyContext::SubAck => "SUBACK",
            PropertyContext::Unsubscribe => "UNSUBSCRIBE",
            PropertyContext::UnsubAck => "UNSUBACK",
            PropertyContext::Disconnect => "DISCONNECT",
            PropertyContext::Auth => "AUTH",
        })
    }
}

/// The Payload Format Indicator: unspecified bytes, or UTF-8 character data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PayloadFormatIndicator {
    /// 0: the payload is unspecified bytes.
    Unspecified = 0,
    /// 1: the payload is UTF-8 encoded character data.
    Utf8 = 1,
}

macro_rules! property_table {
    ($(
        $name:ident = $value:literal, $label:literal, $doc:literal,
        $field:ident: $ty:ty, in [$($ctx:ident),*], repeats in [$($rep:ident),*];
    )*) => {
        /// A Property Identifier (Table 2-4 of the MQTT 5.0 specification).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum PropertyId {
            $( #[doc = $label] $name = $value, )*
        }

        impl PropertyId {
            /// Every property, by identifier.
            pub const ALL: &'static [PropertyId] = &[$(PropertyId::$name,)*];

            /// The property with this identifier.
            #[inline]
            pub fn from_u32(id: u32) -> Option<Self> {
                match id {
                    $( $value => Some(PropertyId::$name), )*
                    _ => None,
                }
            }

            /// The specification's name.
            pub fn name(self) -> &'static str {
                match self {
                    $( PropertyId::$name => $label, )*
                }
            }

            /// Whether this property may appear in the given packet (or in the Will
            /// Properties).
            pub const fn is_allowed_in(self, context: PropertyContext) -> bool {
                match self {
                    $( PropertyId::$name => false $(|| matches!(context, PropertyContext::$ctx))*, )*
                }
            }

            /// Whether the property may appear more than once in this context.
            pub const fn may_repeat_in(self, context: PropertyContext) -> bool {
                match self {
                    $( PropertyId::$name => false $(|| matches!(context, PropertyContext::$rep))*, )*
                }
            }
        }

        /// The type of each field, by field name (used by `property_set!`).
        #[allow(non_camel_case_types)]
        pub(crate) mod ty {
            #[allow(unused_imports)]
            use super::*;
            $( pub(crate) type $field = $ty; )*
        }

        /// The identifier of each field, by field name (used by `property_set!`).
        #[allow(non_upper_case_globals)]
        pub(crate) mod id {
            use super::PropertyId;
            $( pub(crate) const $field: PropertyId = PropertyId::$name; )*
        }

        /// Every property in one flat set, for any context: the view used where the packet
        /// does not matter (JSON rendering, `Debug`, strategies, tests). A packet carries its
        /// own set type ([`PublishProperties`], ...); convert with `From` / `to_properties`
        /// and `XProperties::from_properties`.
        ///
        /// User Properties keep their order. Subscription Identifiers are a list because a
        /// PUBLISH sent to a client may carry several.
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct Properties {
            $( #[doc = concat!($doc)] pub $field: $ty, )*
        }

        impl Properties {
            /// Whether no property is set.
            pub fn is_empty(&self) -> bool {
                true $(&& !self.$field.is_set())*
            }

            /// The identifiers that are set, as a bitmask (`1 << identifier`).
            pub(crate) fn mask(&self) -> u64 {
                0 $(| if self.$field.is_set() { PropertyId::$name.bit() } else { 0 })*
            }

            fn read_one(&mut self, r: &mut Reader, id: PropertyId) -> Result<(), Violation> {
                match id {
                    $( PropertyId::$name => self.$field.read_one(r, id), )*
                }
            }

            fn check_values(&self, repeat: u64) -> Result<(), Violation> {
                $( self.$field.check_all(PropertyId::$name, repeat & PropertyId::$name.bit() != 0)?; )*
                Ok(())
            }

            /// The size of the properties, without the Property Length in front of them.
            pub fn body_len(&self) -> Result<usize, Violation> {
                let mut len = 0usize;
                $( len += self.$field.wire_len(PropertyId::$name)?; )*
                Ok(len)
            }

            fn write_fields(&self, dst: &mut BytesMut) {
                $( self.$field.write_all(dst, PropertyId::$name); )*
            }
        }

        #[cfg(feature = "arbitrary")]
        impl<'a> arbitrary::Arbitrary<'a> for Properties {
            fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
                use value::ArbitraryField;
                Ok(Properties { $( $field: ArbitraryField::arbitrary_field(u)?, )* })
            }
        }
    };
}

property_table! {
    PayloadFormatIndicator = 0x01, "Payload Format Indicator", "0x01 Payload Format Indicator.",
        payload_format_indicator: Option<PayloadFormatIndicator>,
        in [Publish, Will], repeats in [];
    MessageExpiryInterval = 0x02, "Message Expiry Interval", "0x02 Message Expiry Interval, in seconds.",
        message_expiry_interval: Option<u32>,
        in [Publish, Will], repeats in [];
    ContentType = 0x03, "Content Type", "0x03 Content Type.",
        content_type: Option<MqttString>,
        in [Publish, Will], repeats in [];
    ResponseTopic = 0x08, "Response Topic", "0x08 Response Topic.",
        response_topic: Option<TopicName>,
        in [Publish, Will], repeats in [];
    CorrelationData = 0x09, "Correlation Data", "0x09 Correlation Data.",
        correlation_data: Option<Bytes>,
        in [Publish, Will], repeats in [];
    SubscriptionIdentifier = 0x0B, "Subscription Identifier", "0x0B Subscription Identifier(s), each 1..=268,435,455.",
        subscription_identifiers: Vec<NonZeroU32>,
        in [Publish, Subscribe], repeats in [Publish];
    SessionExpiryInterval = 0x11, "Session Expiry Interval", "0x11 Session Expiry Interval, in seconds.",
        session_expiry_interval: Option<u32>,
        in [Connect, ConnAck, Disconnect], repeats in [];
    AssignedClientIdentifier = 0x12, "Assigned Client Identifier", "0x12 Assigned Client Identifier.",
        assigned_client_identifier: Option<MqttString>,
        in [ConnAck], repeats in [];
    ServerKeepAlive = 0x13, "Server Keep Alive", "0x13 Server Keep Alive, in seconds.",
        server_keep_alive: Option<u16>,
        in [ConnAck], repeats in [];
    AuthenticationMethod = 0x15, "Authentication Method", "0x15 Authentication Method.",
        authentication_method: Option<MqttString>,
        in [Connect, ConnAck, Auth], repeats in [];
    AuthenticationData = 0x16, "Authentication Data", "0x16 Authentication Data.",
        authentication_data: Option<Bytes>,
        in [Connect, ConnAck, Auth], repeats in [];
    RequestProblemInformation = 0x17, "Request Problem Information", "0x17 Request Problem Information.",
        request_problem_information: Option<bool>,
        in [Connect], repeats in [];
    WillDelayInterval = 0x18, "Will Delay Interval", "0x18 Will Delay Interval, in seconds.",
        will_delay_interval: Option<u32>,
        in [Will], repeats in [];
    RequestResponseInformation = 0x19, "Request Response Information", "0x19 Request Response Information.",
        request_response_information: Option<bool>,
        in [Connect], repeats in [];
    ResponseInformation = 0x1A, "Response Information", "0x1A Response Information.",
        response_information: Option<MqttString>,
        in [ConnAck], repeats in [];
    ServerReference = 0x1C, "Server Reference", "0x1C Server Reference.",
        server_reference: Option<MqttString>,
        in [ConnAck, Disconnect], repeats in [];
    ReasonString = 0x1F, "Reason String", "0x1F Reason String.",
        reason_string: Option<MqttString>,
        in [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth],
        repeats in [];
    ReceiveMaximum = 0x21, "Receive Maximum", "0x21 Receive Maximum (never zero).",
        receive_maximum: Option<NonZeroU16>,
        in [Connect, ConnAck], repeats in [];
    TopicAliasMaximum = 0x22, "Topic Alias Maximum", "0x22 Topic Alias Maximum.",
        topic_alias_maximum: Option<u16>,
        in [Connect, ConnAck], repeats in [];
    TopicAlias = 0x23, "Topic Alias", "0x23 Topic Alias (never zero).",
        topic_alias: Option<NonZeroU16>,
        in [Publish], repeats in [];
    MaximumQoS = 0x24, "Maximum QoS", "0x24 Maximum QoS (0 or 1 only).",
        maximum_qos: Option<QoS>,
        in [ConnAck], repeats in [];
    RetainAvailable = 0x25, "Retain Available", "0x25 Retain Available.",
        retain_available: Option<bool>,
        in [ConnAck], repeats in [];
    UserProperty = 0x26, "User Property", "0x26 User Properties (name, value), in order.",
        user_properties: UserProperties,
        in [Connect, Will, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp, Subscribe, SubAck,
            Unsubscribe, UnsubAck, Disconnect, Auth],
        repeats in [Connect, Will, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp, Subscribe,
            SubAck, Unsubscribe, UnsubAck, Disconnect, Auth];
    MaximumPacketSize = 0x27, "Maximum Packet Size", "0x27 Maximum Packet Size (never zero).",
        maximum_packet_size: Option<NonZeroU32>,
        in [Connect, ConnAck], repeats in [];
    WildcardSubscriptionAvailable = 0x28, "Wildcard Subscription Available", "0x28 Wildcard Subscription Available.",
        wildcard_subscription_available: Option<bool>,
        in [ConnAck], repeats in [];
    SubscriptionIdentifierAvailable = 0x29, "Subscription Identifier Available", "0x29 Subscription Identifier Available.",
        subscription_identifier_available: Option<bool>,
        in [ConnAck], repeats in [];
    SharedSubscriptionAvailable = 0x2A, "Shared Subscription Available", "0x2A Shared Subscription Available.",
        shared_subscription_available: Option<bool>,
        in [ConnAck], repeats in [];
}

impl std::fmt::Display for PropertyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), *self as u8)
    }
}

impl PropertyId {
    /// This identifier's bit in a property mask (identifiers are below 64).
    #[inline]
    pub(crate) const fn bit(self) -> u64 {
        1u64 << (self as u8)
    }

    /// The property with the lowest identifier in a non-empty mask.
    pub(crate) fn lowest_in(mask: u64) -> Option<PropertyId> {
        if mask == 0 {
            return None;
        }
        PropertyId::from_u32(mask.trailing_zeros())
    }

    /// The mask of the properties allowed in `context`.
    pub const fn allowed_mask(context: PropertyContext) -> u64 {
        let mut mask = 0;
        let mut rest = PropertyId::ALL;
        while let [p, tail @ ..] = rest {
            if p.is_allowed_in(context) {
                mask |= p.bit();
            }
            rest = tail;
        }
        mask
    }

    /// The mask of the properties that may repeat in `context`.
    pub const fn repeat_mask(context: PropertyContext) -> u64 {
        let mut mask = 0;
        let mut rest = PropertyId::ALL;
        while let [p, tail @ ..] = rest {
            if p.may_repeat_in(context) {
                mask |= p.bit();
            }
            rest = tail;
        }
        mask
    }
}

/// Authentication Data without an Authentication Method, in a mask of present properties.
#[inline]
pub(crate) fn check_auth_pair(mask: u64) -> Result<(), Violation> {
    if mask & PropertyId::AuthenticationData.bit() != 0
        && mask & PropertyId::AuthenticationMethod.bit() == 0
    {
        return Err(Violation::AuthenticationDataWithoutMethod);
    }
    Ok(())
}

/// Reads the Property Length and returns the property block (`None` when it is empty).
#[inline]
pub(crate) fn read_block(r: &mut Reader) -> Result<Option<Reader>, Violation> {
    let len = r.variable_byte_integer("Property Length")?;
    if len == 0 {
        return Ok(None);
    }
    r.take(len as usize, "Property Length", "property block")
        .map(Some)
}

/// Reads the Property Length and narrows `r` to the property block (`None` when it is
/// empty); give the result to [`Reader::widen`] once the block is read.
#[inline]
pub(crate) fn narrow_to_block(r: &mut Reader) -> Result<Option<Bound>, Violation> {
    let len = r.variable_byte_integer("Property Length")?;
    if len == 0 {
        return Ok(None);
    }
    r.narrow(len as usize, "Property Length", "property block")
        .map(Some)
}

/// Reads the next identifier of a property block.
#[inline(always)]
pub(crate) fn read_id(block: &mut Reader) -> Result<PropertyId, Violation> {
    let raw_id = block.variable_byte_integer("Property Identifier")?;
    match PropertyId::from_u32(raw_id) {
        Some(id) => Ok(id),
        None => Err(Violation::UnknownProperty { id: raw_id }),
    }
}

/// Writes a Property Length of `body_len` (computed once by the caller).
#[inline]
pub(crate) fn put_property_length(dst: &mut BytesMut, body_len: usize) -> Result<(), Violation> {
    if body_len == 0 {
        dst.put_u8(0);
        return Ok(());
    }
    put_variable_byte_integer(dst, body_len, "Property Length")
}

/// The size of a property block of `body_len` bytes with its Property Length.
#[inline]
pub(crate) fn block_len(body_len: usize) -> Result<usize, Violation> {
    Ok(variable_byte_integer_len(body_len, "Property Length")? + body_len)
}

impl Properties {
    /// The identifiers of the properties that are set, each once, in identifier order.
    pub fn present(&self) -> Vec<PropertyId> {
        let mask = self.mask();
        PropertyId::ALL
            .iter()
            .copied()
            .filter(|p| mask & p.bit() != 0)
            .collect()
    }

    /// Checks that every property set may appear in `context` (and appear as often as it
    /// does), and that values are in range.
    pub fn validate(&self, context: PropertyContext) -> Result<(), Violation> {
        let mask = self.mask();
        if mask == 0 {
            return Ok(());
        }
        if let Some(property) = PropertyId::lowest_in(mask & !PropertyId::allowed_mask(context)) {
            return Err(Violation::PropertyNotAllowed { property, context });
        }
        self.check_values(PropertyId::repeat_mask(context))?;
        check_auth_pair(mask)
    }

    /// Reads a property block: the Property Length, then the properties within it.
    pub fn decode(r: &mut Reader, context: PropertyContext) -> Result<Properties, Violation> {
        let mut p = Properties::default();
        let Some(mut block) = read_block(r)? else {
            return Ok(p);
        };
        let allowed = PropertyId::allowed_mask(context);
        let repeat = PropertyId::repeat_mask(context);
        let mut seen = 0u64;
        while !block.is_empty() {
            let id = read_id(&mut block)?;
            let bit = id.bit();
            if allowed & bit == 0 {
                return Err(Violation::PropertyNotAllowed {
                    property: id,
                    context,
                });
            }
            p.read_one(&mut block, id)?;
            if seen & bit & !repeat != 0 {
                return Err(Violation::DuplicateProperty { property: id });
            }
            seen |= bit;
        }
        check_auth_pair(seen)?;
        Ok(p)
    }

    /// The encoded size including the Property Length.
    pub fn encoded_len(&self) -> Result<usize, Violation> {
        block_len(self.body_len()?)
    }

    /// Writes the Property Length and the properties. Call [`Properties::validate`] first.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), Violation> {
        let body_len = self.body_len()?;
        put_property_length(dst, body_len)?;
        self.write_fields(dst);
        Ok(())
    }
}
