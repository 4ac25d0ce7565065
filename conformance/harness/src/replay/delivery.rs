//! What a client may receive, shared by the replay expectations (`well-formed`,
//! `publishes-match`) and the network fuzzer's oracles: which packet types a server sends,
//! which subscriptions a Topic Name matches (and the QoS they allow), and the Topic Aliases a
//! server sets on a connection.

use std::collections::BTreeMap;

use mqttspec_codec::{PacketType, ProtocolVersion, Publish};

/// Whether a server may send packets of type `t` in protocol `v`.
pub fn server_may_send(t: PacketType, v: ProtocolVersion) -> bool {
    match t {
        PacketType::Connect
        | PacketType::Subscribe
        | PacketType::Unsubscribe
        | PacketType::PingReq => false,
        PacketType::Disconnect | PacketType::Auth => v == ProtocolVersion::V5,
        _ => true,
    }
}

/// Whether Topic Filter `filter` (a shared subscription's `$share/NAME/` prefix removed)
/// matches Topic Name `topic`.
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let filter = match filter.strip_prefix("$share/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, f)) => f,
            None => return false,
        },
        None => filter,
    };
    mqttspec_reference_broker::core::topic::matches(filter, topic)
}

/// The highest QoS asked for by the `(filter, qos)` subscriptions matching `topic`; `None`
/// when none matches.
pub fn allowed_qos(filters: &[(String, u8)], topic: &str) -> Option<u8> {
    filters
        .iter()
        .filter(|(f, _)| filter_matches(f, topic))
        .map(|(_, q)| *q)
        .max()
}

/// The Topic Aliases a server has set on one connection.
#[derive(Debug, Clone, Default)]
pub struct Aliases(BTreeMap<u16, String>);

impl Aliases {
    /// The Topic Name of `p`: its own (recording its alias, if any), or the one its alias
    /// stands for; `None` for an alias never set.
    pub fn resolve(&mut self, p: &Publish) -> Option<String> {
        let alias = p.properties.topic_alias.map(|a| a.get());
        if p.topic.is_empty() {
            return self.0.get(&alias?).cloned();
        }
        if let Some(a) = alias {
            self.0.insert(a, p.topic.as_str().to_owned());
        }
        Some(p.topic.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use mqttspec_codec::TopicName;

    use super::*;

    #[test]
    fn shared_filters_match_by_their_inner_filter_and_qos_is_the_highest_match() {
        let f = vec![("$share/g/a/#".to_owned(), 0), ("a/+".to_owned(), 2)];
        assert_eq!(allowed_qos(&f, "a/b"), Some(2));
        assert_eq!(allowed_qos(&f, "a/b/c"), Some(0));
        assert_eq!(allowed_qos(&f, "b"), None);
        assert!(!filter_matches("$share/g", "g"));
    }

    #[test]
    fn aliases_resolve_after_they_are_set() {
        let mut a = Aliases::default();
        let mut p = Publish::new(TopicName::new("t").unwrap(), Bytes::new());
        p.properties.topic_alias = std::num::NonZeroU16::new(2);
        assert_eq!(a.resolve(&p).as_deref(), Some("t"));
        p.topic = TopicName::new("").unwrap();
        assert_eq!(a.resolve(&p).as_deref(), Some("t"));
        p.properties.topic_alias = std::num::NonZeroU16::new(3);
        assert_eq!(a.resolve(&p), None);
    }
}
