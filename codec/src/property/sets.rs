//! The per-packet property sets, one line of field names each (types and identifiers come
//! from the table; a compile-time check keeps each set equal to what the table allows).

use bytes::BytesMut;

use super::{PropertyId, Props};
use crate::reader::Reader;
use crate::violation::Violation;

property_set! {
    /// CONNECT properties.
    ConnectProperties for [Connect] {
        session_expiry_interval, authentication_method, authentication_data,
        request_problem_information, request_response_information, receive_maximum,
        topic_alias_maximum, user_properties, maximum_packet_size,
    }
}

property_set! {
    /// The Will Properties of CONNECT.
    WillProperties for [Will] {
        payload_format_indicator, message_expiry_interval, content_type, response_topic,
        correlation_data, will_delay_interval, user_properties,
    }
}

property_set! {
    /// CONNACK properties.
    ConnAckProperties for [ConnAck] {
        session_expiry_interval, assigned_client_identifier, server_keep_alive,
        authentication_method, authentication_data, response_information, server_reference,
        reason_string, receive_maximum, topic_alias_maximum, maximum_qos, retain_available,
        user_properties, maximum_packet_size, wildcard_subscription_available,
        subscription_identifier_available, shared_subscription_available,
    }
}

property_set! {
    /// PUBLISH properties.
    PublishProperties for [Publish] {
        payload_format_indicator, message_expiry_interval, content_type, response_topic,
        correlation_data, subscription_identifiers, topic_alias, user_properties,
    }
}

property_set! {
    /// The properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK: a Reason
    /// String and User Properties.
    AckProperties for [PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck] {
        reason_string, user_properties,
    }
}

/// SUBACK properties (the same set as the other acknowledgements).
pub type SubAckProperties = AckProperties;

/// UNSUBACK properties (the same set as the other acknowledgements).
pub type UnsubAckProperties = AckProperties;

property_set! {
    /// SUBSCRIBE properties: at most one Subscription Identifier, User Properties.
    SubscribeProperties for [Subscribe] {
        subscription_identifiers, user_properties,
    }
}

property_set! {
    /// UNSUBSCRIBE properties: User Properties only.
    UnsubscribeProperties for [Unsubscribe] {
        user_properties,
    }
}

property_set! {
    /// DISCONNECT properties.
    DisconnectProperties for [Disconnect] {
        session_expiry_interval, server_reference, reason_string, user_properties,
    }
}

property_set! {
    /// AUTH properties.
    AuthProperties for [Auth] {
        authentication_method, authentication_data, reason_string, user_properties,
    }
}
