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

/// Whether Topic Filter `filter` may match Topic Name `topic`: as written, or, for a
/// `$share/NAME/...` filter, by the filter after its share prefix. Both readings count, so the
/// oracles never accuse wrongly: MQTT 3.1.1 has no shared subscriptions (`$share/g/a` is an
/// ordinary filter there, though many brokers share it as an extension), and a 5.0 broker may
/// refuse a malformed share such as `$share//a` rather than treat it as shared.
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    use mqttspec_reference_broker::core::topic::matches;
    let shared = filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, f)| matches(f, topic));
    shared || matches(filter, topic)
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
        // As an ordinary filter (MQTT 3.1.1, or a share a broker did not take as one).
        assert!(filter_matches("$share//a", "$share//a"));
        assert!(filter_matches("$share/g/a", "$share/g/a"));
        assert!(!filter_matches("$share/g/a", "$share/g/b"));
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
