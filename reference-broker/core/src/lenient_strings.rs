//! The string faults: which [`Fault`] leaves one string field of the client's packets
//! unchecked.
//!
//! The codec refuses every UTF-8 Encoded String that is ill-formed (surrogates and overlong
//! forms included) or contains U+0000, and names the field in its [`Violation`]. Each
//! `lenient-…-string` fault bends the broker's answer to that refusal for one field only, so
//! a conformance case about that field can be seen to fail while every other field stays
//! checked. The Response Topic's fault also overlooks a wildcard in it. The codec's decoding is untouched: the packet is still not understood, and the
//! broker behaves as one that let it through without acting on it (see
//! [`Broker::decode_error`](super::Broker)).

use mqttspec_codec::{PacketType, Violation};

use super::fault::Fault;

/// The fault that overlooks `violation` in a packet of type `packet_type`, if it is a string
/// rule broken in a field one of the string faults is about.
pub(super) fn fault_for(packet_type: Option<PacketType>, violation: &Violation) -> Option<Fault> {
    let field = match violation {
        Violation::InvalidUtf8 { field } | Violation::NullCharacter { field } => *field,
        // The Response Topic's other rule: no wildcards (MQTT-3.3.2-14).
        Violation::WildcardInTopicName {
            field: "Response Topic",
        } => "Response Topic",
        _ => return None,
    };
    let fault = match (field, packet_type?) {
        ("Topic Name", PacketType::Publish) => Fault::LenientTopicNameString,
        ("Topic Filter", PacketType::Subscribe) => Fault::LenientSubscribeFilterString,
        ("Topic Filter", PacketType::Unsubscribe) => Fault::LenientUnsubscribeFilterString,
        ("Client Identifier", PacketType::Connect) => Fault::LenientClientIdString,
        ("Will Topic", PacketType::Connect) => Fault::LenientWillTopicString,
        ("User Name", PacketType::Connect) => Fault::LenientUserNameString,
        // The codec names the Will Properties' strings apart (see `LastWill`).
        ("Will Content Type", PacketType::Connect) => Fault::LenientWillContentTypeString,
        ("Will Response Topic", PacketType::Connect) => Fault::LenientWillResponseTopicString,
        ("Will User Property name" | "Will User Property value", PacketType::Connect) => {
            Fault::LenientWillUserPropertyString
        }
        ("Authentication Method", PacketType::Connect) => Fault::LenientAuthMethodString,
        ("User Property name", _) => Fault::LenientUserPropertyNameString,
        ("User Property value", _) => Fault::LenientUserPropertyValueString,
        ("Response Topic", _) => Fault::LenientResponseTopicString,
        ("Content Type", _) => Fault::LenientContentTypeString,
        ("Reason String", _) => Fault::LenientReasonStringString,
        _ => return None,
    };
    Some(fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_string_rules_of_the_named_fields_map_to_a_fault() {
        let bad = |field| Violation::InvalidUtf8 { field };
        assert_eq!(
            fault_for(Some(PacketType::Publish), &bad("Topic Name")),
            Some(Fault::LenientTopicNameString)
        );
        assert_eq!(
            fault_for(
                Some(PacketType::Unsubscribe),
                &Violation::NullCharacter {
                    field: "Topic Filter"
                }
            ),
            Some(Fault::LenientUnsubscribeFilterString)
        );
        assert_eq!(
            fault_for(Some(PacketType::Connect), &bad("Topic Name")),
            None
        );
        assert_eq!(fault_for(None, &bad("Topic Name")), None);
        assert_eq!(
            fault_for(Some(PacketType::Connect), &bad("Will Content Type")),
            Some(Fault::LenientWillContentTypeString)
        );
        assert_eq!(
            fault_for(Some(PacketType::Connect), &bad("Will User Property value")),
            Some(Fault::LenientWillUserPropertyString)
        );
        assert_eq!(
            fault_for(Some(PacketType::Connect), &bad("User Property value")),
            Some(Fault::LenientUserPropertyValueString)
        );
        assert_eq!(
            fault_for(Some(PacketType::Publish), &bad("Content Type")),
            Some(Fault::LenientContentTypeString)
        );
        assert_eq!(
            fault_for(Some(PacketType::Publish), &bad("Authentication Method")),
            None
        );
        assert_eq!(
            fault_for(Some(PacketType::Connect), &bad("Authentication Method")),
            Some(Fault::LenientAuthMethodString)
        );
        assert_eq!(
            fault_for(Some(PacketType::Auth), &bad("Authentication Method")),
            None
        );
    }
}
