//! MQTT 5.0 properties: [`PropertyId`], where each may appear ([`PropertyContext`]), and the
//! typed [`Properties`] set with its strict decoder and its encoder.
//!
//! Decoding refuses unknown identifiers, identifiers not allowed in the packet, properties
//! repeated where the spec allows only one, zero where zero is forbidden, and out-of-range
//! bytes; it reads within the property block only, so no property can run past it.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{BufMut, Bytes, BytesMut};

use crate::qos::QoS;
use crate::reader::Reader;
use crate::string::{MqttString, TopicName};
use crate::violation::Violation;
use crate::writer::{
    prefixed_len, put_binary, put_string, put_variable_byte_integer, variable_byte_integer_len,
};

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

macro_rules! property_ids {
    ($( $name:ident = $value:literal, $label:literal; )*) => {
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
        }
    };
}

property_ids! {
    PayloadFormatIndicator = 0x01, "Payload Format Indicator";
    MessageExpiryInterval = 0x02, "Message Expiry Interval";
    ContentType = 0x03, "Content Type";
    ResponseTopic = 0x08, "Response Topic";
    CorrelationData = 0x09, "Correlation Data";
    SubscriptionIdentifier = 0x0B, "Subscription Identifier";
    SessionExpiryInterval = 0x11, "Session Expiry Interval";
    AssignedClientIdentifier = 0x12, "Assigned Client Identifier";
    ServerKeepAlive = 0x13, "Server Keep Alive";
    AuthenticationMethod = 0x15, "Authentication Method";
    AuthenticationData = 0x16, "Authentication Data";
    RequestProblemInformation = 0x17, "Request Problem Information";
    WillDelayInterval = 0x18, "Will Delay Interval";
    RequestResponseInformation = 0x19, "Request Response Information";
    ResponseInformation = 0x1A, "Response Information";
    ServerReference = 0x1C, "Server Reference";
    ReasonString = 0x1F, "Reason String";
    ReceiveMaximum = 0x21, "Receive Maximum";
    TopicAliasMaximum = 0x22, "Topic Alias Maximum";
    TopicAlias = 0x23, "Topic Alias";
    MaximumQoS = 0x24, "Maximum QoS";
    RetainAvailable = 0x25, "Retain Available";
    UserProperty = 0x26, "User Property";
    MaximumPacketSize = 0x27, "Maximum Packet Size";
    WildcardSubscriptionAvailable = 0x28, "Wildcard Subscription Available";
    SubscriptionIdentifierAvailable = 0x29, "Subscription Identifier Available";
    SharedSubscriptionAvailable = 0x2A, "Shared Subscription Available";
}

impl std::fmt::Display for PropertyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), *self as u8)
    }
}

impl PropertyId {
    /// Whether this property may appear in the given packet (or in the Will Properties).
    pub fn is_allowed_in(self, context: PropertyContext) -> bool {
        use PropertyContext as C;
        use PropertyId as P;
        match self {
            P::PayloadFormatIndicator
            | P::MessageExpiryInterval
            | P::ContentType
            | P::ResponseTopic
            | P::CorrelationData => matches!(context, C::Publish | C::Will),
            P::SubscriptionIdentifier => matches!(context, C::Publish | C::Subscribe),
            P::SessionExpiryInterval => matches!(context, C::Connect | C::ConnAck | C::Disconnect),
            P::AssignedClientIdentifier
            | P::ServerKeepAlive
            | P::ResponseInformation
            | P::MaximumQoS
            | P::RetainAvailable
            | P::WildcardSubscriptionAvailable
            | P::SubscriptionIdentifierAvailable
            | P::SharedSubscriptionAvailable => context == C::ConnAck,
            P::AuthenticationMethod | P::AuthenticationData => {
                matches!(context, C::Connect | C::ConnAck | C::Auth)
            }
            P::RequestProblemInformation | P::RequestResponseInformation => context == C::Connect,
            P::WillDelayInterval => context == C::Will,
            P::ServerReference => matches!(context, C::ConnAck | C::Disconnect),
            P::ReasonString => matches!(
                context,
                C::ConnAck
                    | C::PubAck
                    | C::PubRec
                    | C::PubRel
                    | C::PubComp
                    | C::SubAck
                    | C::UnsubAck
                    | C::Disconnect
                    | C::Auth
            ),
            P::ReceiveMaximum | P::TopicAliasMaximum | P::MaximumPacketSize => {
                matches!(context, C::Connect | C::ConnAck)
            }
            P::TopicAlias => context == C::Publish,
            P::UserProperty => true,
        }
    }

    /// Whether the property may appear more than once in this context.
    pub fn may_repeat_in(self, context: PropertyContext) -> bool {
        match self {
            PropertyId::UserProperty => true,
            PropertyId::SubscriptionIdentifier => context == PropertyContext::Publish,
            _ => false,
        }
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

/// The properties of one packet (or the Will Properties). Every field is optional; which are
/// allowed depends on the [`PropertyContext`], and decoding and encoding both check it.
///
/// User Properties keep their order. Subscription Identifiers are a list because a PUBLISH
/// sent to a client may carry several.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Properties {
    /// 0x01 Payload Format Indicator.
    pub payload_format_indicator: Option<PayloadFormatIndicator>,
    /// 0x02 Message Expiry Interval, in seconds.
    pub message_expiry_interval: Option<u32>,
    /// 0x03 Content Type.
    pub content_type: Option<MqttString>,
    /// 0x08 Response Topic.
    pub response_topic: Option<TopicName>,
    /// 0x09 Correlation Data.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::packet::arbitrary_opt_bytes))]
    pub correlation_data: Option<Bytes>,
    /// 0x0B Subscription Identifier(s), each 1..=268,435,455.
    pub subscription_identifiers: Vec<NonZeroU32>,
    /// 0x11 Session Expiry Interval, in seconds.
    pub session_expiry_interval: Option<u32>,
    /// 0x12 Assigned Client Identifier.
    pub assigned_client_identifier: Option<MqttString>,
    /// 0x13 Server Keep Alive, in seconds.
    pub server_keep_alive: Option<u16>,
    /// 0x15 Authentication Method.
    pub authentication_method: Option<MqttString>,
    /// 0x16 Authentication Data.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::packet::arbitrary_opt_bytes))]
    pub authentication_data: Option<Bytes>,
    /// 0x17 Request Problem Information.
    pub request_problem_information: Option<bool>,
    /// 0x18 Will Delay Interval, in seconds.
    pub will_delay_interval: Option<u32>,
    /// 0x19 Request Response Information.
    pub request_response_information: Option<bool>,
    /// 0x1A Response Information.
    pub response_information: Option<MqttString>,
    /// 0x1C Server Reference.
    pub server_reference: Option<MqttString>,
    /// 0x1F Reason String.
    pub reason_string: Option<MqttString>,
    /// 0x21 Receive Maximum (never zero).
    pub receive_maximum: Option<NonZeroU16>,
    /// 0x22 Topic Alias Maximum.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23 Topic Alias (never zero).
    pub topic_alias: Option<NonZeroU16>,
    /// 0x24 Maximum QoS (0 or 1 only).
    pub maximum_qos: Option<QoS>,
    /// 0x25 Retain Available.
    pub retain_available: Option<bool>,
    /// 0x26 User Properties (name, value), in order.
    pub user_properties: Vec<(MqttString, MqttString)>,
    /// 0x27 Maximum Packet Size (never zero).
    pub maximum_packet_size: Option<NonZeroU32>,
    /// 0x28 Wildcard Subscription Available.
    pub wildcard_subscription_available: Option<bool>,
    /// 0x29 Subscription Identifier Available.
    pub subscription_identifier_available: Option<bool>,
    /// 0x2A Shared Subscription Available.
    pub shared_subscription_available: Option<bool>,
}

fn set_once<T>(slot: &mut Option<T>, value: T, id: PropertyId) -> Result<(), Violation> {
    if slot.is_some() {
        return Err(Violation::DuplicateProperty { property: id });
    }
    *slot = Some(value);
    Ok(())
}

fn boolean(r: &mut Reader, id: PropertyId) -> Result<bool, Violation> {
    match r.u8(id.name())? {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(Violation::InvalidPropertyValue {
            property: id,
            value: u32::from(v),
        }),
    }
}

impl Properties {
    /// Whether no property is set. (Called several times per encode: it stops at the first
    /// property set, allocates nothing and builds no default value to compare with; the
    /// exhaustive destructuring makes a new field a compile error here until it is listed.)
    #[inline]
    pub fn is_empty(&self) -> bool {
        let Properties {
            payload_format_indicator,
            message_expiry_interval,
            content_type,
            response_topic,
            correlation_data,
            subscription_identifiers,
            session_expiry_interval,
            assigned_client_identifier,
            server_keep_alive,
            authentication_method,
            authentication_data,
            request_problem_information,
            will_delay_interval,
            request_response_information,
            response_information,
            server_reference,
            reason_string,
            receive_maximum,
            topic_alias_maximum,
            topic_alias,
            maximum_qos,
            retain_available,
            user_properties,
            maximum_packet_size,
            wildcard_subscription_available,
            subscription_identifier_available,
            shared_subscription_available,
        } = self;
        user_properties.is_empty()
            && topic_alias.is_none()
            && payload_format_indicator.is_none()
            && message_expiry_interval.is_none()
            && content_type.is_none()
            && response_topic.is_none()
            && correlation_data.is_none()
            && subscription_identifiers.is_empty()
            && session_expiry_interval.is_none()
            && assigned_client_identifier.is_none()
            && server_keep_alive.is_none()
            && authentication_method.is_none()
            && authentication_data.is_none()
            && request_problem_information.is_none()
            && will_delay_interval.is_none()
            && request_response_information.is_none()
            && response_information.is_none()
            && server_reference.is_none()
            && reason_string.is_none()
            && receive_maximum.is_none()
            && topic_alias_maximum.is_none()
            && maximum_qos.is_none()
            && retain_available.is_none()
            && maximum_packet_size.is_none()
            && wildcard_subscription_available.is_none()
            && subscription_identifier_available.is_none()
            && shared_subscription_available.is_none()
    }

    /// The identifiers of the properties that are set, each once, in identifier order.
    pub fn present(&self) -> Vec<PropertyId> {
        self.presence()
            .into_iter()
            .filter_map(|(id, present)| present.then_some(id))
            .collect()
    }

    /// Every property identifier with whether it is set, in identifier order. The exhaustive
    /// destructuring makes a new field a compile error here until it is listed. (Used by
    /// `validate` on every encode, so it does not allocate.)
    fn presence(&self) -> [(PropertyId, bool); 27] {
        use PropertyId as P;
        let Properties {
            payload_format_indicator,
            message_expiry_interval,
            content_type,
            response_topic,
            correlation_data,
            subscription_identifiers,
            session_expiry_interval,
            assigned_client_identifier,
            server_keep_alive,
            authentication_method,
            authentication_data,
            request_problem_information,
            will_delay_interval,
            request_response_information,
            response_information,
            server_reference,
            reason_string,
            receive_maximum,
            topic_alias_maximum,
            topic_alias,
            maximum_qos,
            retain_available,
            user_properties,
            maximum_packet_size,
            wildcard_subscription_available,
            subscription_identifier_available,
            shared_subscription_available,
        } = self;
        [
            (
                P::PayloadFormatIndicator,
                payload_format_indicator.is_some(),
            ),
            (P::MessageExpiryInterval, message_expiry_interval.is_some()),
            (P::ContentType, content_type.is_some()),
            (P::ResponseTopic, response_topic.is_some()),
            (P::CorrelationData, correlation_data.is_some()),
            (
                P::SubscriptionIdentifier,
                !subscription_identifiers.is_empty(),
            ),
            (P::SessionExpiryInterval, session_expiry_interval.is_some()),
            (
                P::AssignedClientIdentifier,
                assigned_client_identifier.is_some(),
            ),
            (P::ServerKeepAlive, server_keep_alive.is_some()),
            (P::AuthenticationMethod, authentication_method.is_some()),
            (P::AuthenticationData, authentication_data.is_some()),
            (
                P::RequestProblemInformation,
                request_problem_information.is_some(),
            ),
            (P::WillDelayInterval, will_delay_interval.is_some()),
            (
                P::RequestResponseInformation,
                request_response_information.is_some(),
            ),
            (P::ResponseInformation, response_information.is_some()),
            (P::ServerReference, server_reference.is_some()),
            (P::ReasonString, reason_string.is_some()),
            (P::ReceiveMaximum, receive_maximum.is_some()),
            (P::TopicAliasMaximum, topic_alias_maximum.is_some()),
            (P::TopicAlias, topic_alias.is_some()),
            (P::MaximumQoS, maximum_qos.is_some()),
            (P::RetainAvailable, retain_available.is_some()),
            (P::UserProperty, !user_properties.is_empty()),
            (P::MaximumPacketSize, maximum_packet_size.is_some()),
            (
                P::WildcardSubscriptionAvailable,
                wildcard_subscription_available.is_some(),
            ),
            (
                P::SubscriptionIdentifierAvailable,
                subscription_identifier_available.is_some(),
            ),
            (
                P::SharedSubscriptionAvailable,
                shared_subscription_available.is_some(),
            ),
        ]
    }

    /// Checks that every property set may appear in `context` (and appear as often as it
    /// does), and that values are in range.
    pub fn validate(&self, context: PropertyContext) -> Result<(), Violation> {
        if self.is_empty() {
            return Ok(());
        }
        for (id, present) in self.presence() {
            if present && !id.is_allowed_in(context) {
                return Err(Violation::PropertyNotAllowed {
                    property: id,
                    context,
                });
            }
        }
        if self.subscription_identifiers.len() > 1
            && !PropertyId::SubscriptionIdentifier.may_repeat_in(context)
        {
            return Err(Violation::DuplicateProperty {
                property: PropertyId::SubscriptionIdentifier,
            });
        }
        for id in &self.subscription_identifiers {
            if id.get() > crate::MAX_VARIABLE_BYTE_INTEGER {
                return Err(Violation::InvalidPropertyValue {
                    property: PropertyId::SubscriptionIdentifier,
                    value: id.get(),
                });
            }
        }
        if self.maximum_qos == Some(QoS::ExactlyOnce) {
            return Err(Violation::InvalidPropertyValue {
                property: PropertyId::MaximumQoS,
                value: 2,
            });
        }
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(Violation::AuthenticationDataWithoutMethod);
        }
        Ok(())
    }

    /// Reads a property block: the Property Length, then the properties within it.
    pub fn decode(r: &mut Reader, context: PropertyContext) -> Result<Properties, Violation> {
        let len = r.variable_byte_integer("Property Length")?;
        if len == 0 {
            return Ok(Properties::default());
        }
        let mut block = r.take(len as usize, "Property Length", "property block")?;
        let mut p = Properties::default();
        while !block.is_empty() {
            let raw_id = block.variable_byte_integer("Property Identifier")?;
            let id =
                PropertyId::from_u32(raw_id).ok_or(Violation::UnknownProperty { id: raw_id })?;
            if !id.is_allowed_in(context) {
                return Err(Violation::PropertyNotAllowed {
                    property: id,
                    context,
                });
            }
            p.decode_one(&mut block, id, context)?;
        }
        if p.authentication_data.is_some() && p.authentication_method.is_none() {
            return Err(Violation::AuthenticationDataWithoutMethod);
        }
        Ok(p)
    }

    fn decode_one(
        &mut self,
        r: &mut Reader,
        id: PropertyId,
        context: PropertyContext,
    ) -> Result<(), Violation> {
        use PropertyId as P;
        let name = id.name();
        match id {
            P::PayloadFormatIndicator => {
                let v = match r.u8(name)? {
                    0 => PayloadFormatIndicator::Unspecified,
                    1 => PayloadFormatIndicator::Utf8,
                    v => {
                        return Err(Violation::InvalidPropertyValue {
                            property: id,
                            value: u32::from(v),
                        })
                    }
                };
                set_once(&mut self.payload_format_indicator, v, id)
            }
            P::MessageExpiryInterval => {
                set_once(&mut self.message_expiry_interval, r.u32(name)?, id)
            }
            P::ContentType => set_once(&mut self.content_type, r.string(name)?, id),
            P::ResponseTopic => {
                let t = TopicName::from_string(r.string(name)?, "Response Topic")?;
                if t.is_empty() {
                    return Err(Violation::EmptyTopicName {
                        field: "Response Topic",
                    });
                }
                set_once(&mut self.response_topic, t, id)
            }
            P::CorrelationData => set_once(&mut self.correlation_data, r.binary(name)?, id),
            P::SubscriptionIdentifier => {
                let v = r.variable_byte_integer(name)?;
                let v = NonZeroU32::new(v).ok_or(Violation::ZeroPropertyValue { property: id })?;
                if !self.subscription_identifiers.is_empty() && !id.may_repeat_in(context) {
                    return Err(Violation::DuplicateProperty { property: id });
                }
                self.subscription_identifiers.push(v);
                Ok(())
            }
            P::SessionExpiryInterval => {
                set_once(&mut self.session_expiry_interval, r.u32(name)?, id)
            }
            P::AssignedClientIdentifier => {
                set_once(&mut self.assigned_client_identifier, r.string(name)?, id)
            }
            P::ServerKeepAlive => set_once(&mut self.server_keep_alive, r.u16(name)?, id),
            P::AuthenticationMethod => {
                set_once(&mut self.authentication_method, r.string(name)?, id)
            }
            P::AuthenticationData => set_once(&mut self.authentication_data, r.binary(name)?, id),
            P::RequestProblemInformation => {
                let v = boolean(r, id)?;
                set_once(&mut self.request_problem_information, v, id)
            }
            P::WillDelayInterval => set_once(&mut self.will_delay_interval, r.u32(name)?, id),
            P::RequestResponseInformation => {
                let v = boolean(r, id)?;
                set_once(&mut self.request_response_information, v, id)
            }
            P::ResponseInformation => set_once(&mut self.response_information, r.string(name)?, id),
            P::ServerReference => set_once(&mut self.server_reference, r.string(name)?, id),
            P::ReasonString => set_once(&mut self.reason_string, r.string(name)?, id),
            P::ReceiveMaximum => {
                let v = NonZeroU16::new(r.u16(name)?)
                    .ok_or(Violation::ZeroPropertyValue { property: id })?;
                set_once(&mut self.receive_maximum, v, id)
            }
            P::TopicAliasMaximum => set_once(&mut self.topic_alias_maximum, r.u16(name)?, id),
            P::TopicAlias => {
                let v = NonZeroU16::new(r.u16(name)?)
                    .ok_or(Violation::ZeroPropertyValue { property: id })?;
                set_once(&mut self.topic_alias, v, id)
            }
            P::MaximumQoS => {
                let v = match r.u8(name)? {
                    0 => QoS::AtMostOnce,
                    1 => QoS::AtLeastOnce,
                    v => {
                        return Err(Violation::InvalidPropertyValue {
                            property: id,
                            value: u32::from(v),
                        })
                    }
                };
                set_once(&mut self.maximum_qos, v, id)
            }
            P::RetainAvailable => {
                let v = boolean(r, id)?;
                set_once(&mut self.retain_available, v, id)
            }
            P::UserProperty => {
                let k = r.string("User Property name")?;
                let v = r.string("User Property value")?;
                self.user_properties.push((k, v));
                Ok(())
            }
            P::MaximumPacketSize => {
                let v = NonZeroU32::new(r.u32(name)?)
                    .ok_or(Violation::ZeroPropertyValue { property: id })?;
                set_once(&mut self.maximum_packet_size, v, id)
            }
            P::WildcardSubscriptionAvailable => {
                let v = boolean(r, id)?;
                set_once(&mut self.wildcard_subscription_available, v, id)
            }
            P::SubscriptionIdentifierAvailable => {
                let v = boolean(r, id)?;
                set_once(&mut self.subscription_identifier_available, v, id)
            }
            P::SharedSubscriptionAvailable => {
                let v = boolean(r, id)?;
                set_once(&mut self.shared_subscription_available, v, id)
            }
        }
    }

    /// The size of the properties, without the Property Length in front of them.
    pub fn body_len(&self) -> Result<usize, Violation> {
        if self.is_empty() {
            return Ok(0);
        }
        let s = |o: &Option<MqttString>, f| -> Result<usize, Violation> {
            o.as_ref()
                .map_or(Ok(0), |v| prefixed_len(v.len(), f).map(|n| n + 1))
        };
        let b = |o: &Option<Bytes>, f| -> Result<usize, Violation> {
            o.as_ref()
                .map_or(Ok(0), |v| prefixed_len(v.len(), f).map(|n| n + 1))
        };
        let fixed = |present: bool, n: usize| if present { 1 + n } else { 0 };
        let mut len = 0usize;
        len += fixed(self.payload_format_indicator.is_some(), 1);
        len += fixed(self.message_expiry_interval.is_some(), 4);
        len += s(&self.content_type, "Content Type")?;
        len += match &self.response_topic {
            Some(t) => 1 + prefixed_len(t.len(), "Response Topic")?,
            None => 0,
        };
        len += b(&self.correlation_data, "Correlation Data")?;
        for id in &self.subscription_identifiers {
            len += 1 + variable_byte_integer_len(id.get() as usize, "Subscription Identifier")?;
        }
        len += fixed(self.session_expiry_interval.is_some(), 4);
        len += s(
            &self.assigned_client_identifier,
            "Assigned Client Identifier",
        )?;
        len += fixed(self.server_keep_alive.is_some(), 2);
        len += s(&self.authentication_method, "Authentication Method")?;
        len += b(&self.authentication_data, "Authentication Data")?;
        len += fixed(self.request_problem_information.is_some(), 1);
        len += fixed(self.will_delay_interval.is_some(), 4);
        len += fixed(self.request_response_information.is_some(), 1);
        len += s(&self.response_information, "Response Information")?;
        len += s(&self.server_reference, "Server Reference")?;
        len += s(&self.reason_string, "Reason String")?;
        len += fixed(self.receive_maximum.is_some(), 2);
        len += fixed(self.topic_alias_maximum.is_some(), 2);
        len += fixed(self.topic_alias.is_some(), 2);
        len += fixed(self.maximum_qos.is_some(), 1);
        len += fixed(self.retain_available.is_some(), 1);
        for (k, v) in &self.user_properties {
            len += 1
                + prefixed_len(k.len(), "User Property name")?
                + prefixed_len(v.len(), "User Property value")?;
        }
        len += fixed(self.maximum_packet_size.is_some(), 4);
        len += fixed(self.wildcard_subscription_available.is_some(), 1);
        len += fixed(self.subscription_identifier_available.is_some(), 1);
        len += fixed(self.shared_subscription_available.is_some(), 1);
        Ok(len)
    }

    /// The encoded size including the Property Length.
    pub fn encoded_len(&self) -> Result<usize, Violation> {
        let body = self.body_len()?;
        Ok(variable_byte_integer_len(body, "Property Length")? + body)
    }

    /// Writes the Property Length and the properties. Call [`Properties::validate`] first.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), Violation> {
        use PropertyId as P;
        if self.is_empty() {
            dst.put_u8(0);
            return Ok(());
        }
        put_variable_byte_integer(dst, self.body_len()?, "Property Length")?;
        let id = |dst: &mut BytesMut, p: PropertyId| dst.put_u8(p as u8);
        if let Some(v) = self.payload_format_indicator {
            id(dst, P::PayloadFormatIndicator);
            dst.put_u8(v as u8);
        }
        if let Some(v) = self.message_expiry_interval {
            id(dst, P::MessageExpiryInterval);
            dst.put_u32(v);
        }
        if let Some(v) = &self.content_type {
            id(dst, P::ContentType);
            put_string(dst, v, "Content Type")?;
        }
        if let Some(v) = &self.response_topic {
            id(dst, P::ResponseTopic);
            put_string(dst, v.as_mqtt_str(), "Response Topic")?;
        }
        if let Some(v) = &self.correlation_data {
            id(dst, P::CorrelationData);
            put_binary(dst, v, "Correlation Data")?;
        }
        for v in &self.subscription_identifiers {
            id(dst, P::SubscriptionIdentifier);
            put_variable_byte_integer(dst, v.get() as usize, "Subscription Identifier")?;
        }
        if let Some(v) = self.session_expiry_interval {
            id(dst, P::SessionExpiryInterval);
            dst.put_u32(v);
        }
        if let Some(v) = &self.assigned_client_identifier {
            id(dst, P::AssignedClientIdentifier);
            put_string(dst, v, "Assigned Client Identifier")?;
        }
        if let Some(v) = self.server_keep_alive {
            id(dst, P::ServerKeepAlive);
            dst.put_u16(v);
        }
        if let Some(v) = &self.authentication_method {
            id(dst, P::AuthenticationMethod);
            put_string(dst, v, "Authentication Method")?;
        }
        if let Some(v) = &self.authentication_data {
            id(dst, P::AuthenticationData);
            put_binary(dst, v, "Authentication Data")?;
        }
        if let Some(v) = self.request_problem_information {
            id(dst, P::RequestProblemInformation);
            dst.put_u8(u8::from(v));
        }
        if let Some(v) = self.will_delay_interval {
            id(dst, P::WillDelayInterval);
            dst.put_u32(v);
        }
        if let Some(v) = self.request_response_information {
            id(dst, P::RequestResponseInformation);
            dst.put_u8(u8::from(v));
        }
        if let Some(v) = &self.response_information {
            id(dst, P::ResponseInformation);
            put_string(dst, v, "Response Information")?;
        }
        if let Some(v) = &self.server_reference {
            id(dst, P::ServerReference);
            put_string(dst, v, "Server Reference")?;
        }
        if let Some(v) = &self.reason_string {
            id(dst, P::ReasonString);
            put_string(dst, v, "Reason String")?;
        }
        if let Some(v) = self.receive_maximum {
            id(dst, P::ReceiveMaximum);
            dst.put_u16(v.get());
        }
        if let Some(v) = self.topic_alias_maximum {
            id(dst, P::TopicAliasMaximum);
            dst.put_u16(v);
        }
        if let Some(v) = self.topic_alias {
            id(dst, P::TopicAlias);
            dst.put_u16(v.get());
        }
        if let Some(v) = self.maximum_qos {
            id(dst, P::MaximumQoS);
            dst.put_u8(v.as_u8());
        }
        if let Some(v) = self.retain_available {
            id(dst, P::RetainAvailable);
            dst.put_u8(u8::from(v));
        }
        for (k, v) in &self.user_properties {
            id(dst, P::UserProperty);
            put_string(dst, k, "User Property name")?;
            put_string(dst, v, "User Property value")?;
        }
        if let Some(v) = self.maximum_packet_size {
            id(dst, P::MaximumPacketSize);
            dst.put_u32(v.get());
        }
        if let Some(v) = self.wildcard_subscription_available {
            id(dst, P::WildcardSubscriptionAvailable);
            dst.put_u8(u8::from(v));
        }
        if let Some(v) = self.subscription_identifier_available {
            id(dst, P::SubscriptionIdentifierAvailable);
            dst.put_u8(u8::from(v));
        }
        if let Some(v) = self.shared_subscription_available {
            id(dst, P::SharedSubscriptionAvailable);
            dst.put_u8(u8::from(v));
        }
        Ok(())
    }
}
