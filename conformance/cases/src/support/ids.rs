//! Identifiers and names a case builds: Packet Identifiers, Topic Names, Topic Filters and
//! UTF-8 strings. A value the case itself got wrong is a case error (ERROR), never the
//! broker's fault.

use mqttspec_codec::{MqttString, PacketId, TopicFilter, TopicName};

use mqttspec_harness::scenario::Failure;

/// A Packet Identifier chosen by a case (never 0).
pub(crate) fn packet_id(n: u16) -> Result<PacketId, Failure> {
    PacketId::new(n).ok_or_else(|| Failure::error("case error: Packet Identifier 0"))
}

/// A validated Topic Name.
pub(crate) fn topic_name(name: &str) -> Result<TopicName, Failure> {
    TopicName::new(name).map_err(|e| Failure::error(format!("case error: topic {name:?}: {e}")))
}

/// A validated Topic Filter.
pub(crate) fn topic_filter(f: &str) -> Result<TopicFilter, Failure> {
    TopicFilter::new(f.to_owned())
        .map_err(|e| Failure::error(format!("case error: topic filter {f:?}: {e}")))
}

/// A UTF-8 Encoded String for `field` (a property, a User Property name or value, ...).
pub(crate) fn text(s: &str, field: &'static str) -> Result<MqttString, Failure> {
    MqttString::new(s, field).map_err(|e| Failure::error(format!("case error: {field}: {e}")))
}
