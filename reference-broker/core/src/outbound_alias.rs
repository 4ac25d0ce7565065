//! Outbound Topic Aliases (MQTT 5.0, 3.3.2.3.4), used only with
//! [`Config::assign_topic_aliases`](crate::Config::assign_topic_aliases): the broker gives the
//! Topic Names of its PUBLISH packets to one connection aliases, within the Topic Alias
//! Maximum the client declared in CONNECT (MQTT-3.1.2-26, -27, MQTT-3.3.2-11: never above it,
//! none when it is 0 or absent). The first PUBLISH on a topic carries the Topic Name and a new
//! alias; later ones carry an empty Topic Name and the alias. The mapping belongs to the
//! connection and starts empty on the next (MQTT-3.3.2-7).
//!
//! Bound: at most [`MAX_OUTBOUND_ALIASES`] entries per connection (fewer when the client
//! allows fewer); once they are used up, further topics go without an alias.

use std::collections::BTreeMap;

use mqttspec_codec::TopicName;

/// The most aliases the broker assigns on one connection, whatever the client allows.
pub(crate) const MAX_OUTBOUND_ALIASES: u16 = 64;

/// What to put in a PUBLISH going out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AliasUse {
    /// The topic already has this alias: send an empty Topic Name and the alias.
    Known(u16),
    /// A new alias for the topic: send the Topic Name and the alias, then
    /// [`OutboundAliases::commit`] it once the packet went out.
    New(u16),
    /// No alias (none allowed, or all used).
    None,
}

/// The alias mapping of one connection.
#[derive(Debug, Default)]
pub(crate) struct OutboundAliases {
    by_topic: BTreeMap<TopicName, u16>,
}

impl OutboundAliases {
    /// The alias to use for `topic` when the client allows `client_maximum` aliases.
    pub fn lookup(&self, topic: &TopicName, client_maximum: u16) -> AliasUse {
        if topic.is_empty() {
            return AliasUse::None;
        }
        if let Some(a) = self.by_topic.get(topic) {
            return AliasUse::Known(*a);
        }
        let cap = client_maximum.min(MAX_OUTBOUND_ALIASES);
        let next = u16::try_from(self.by_topic.len() + 1).unwrap_or(u16::MAX);
        if next <= cap {
            AliasUse::New(next)
        } else {
            AliasUse::None
        }
    }

    /// Records that the PUBLISH carrying `topic` with the new `alias` was sent.
    pub fn commit(&mut self, topic: TopicName, alias: u16) {
        self.by_topic.entry(topic).or_insert(alias);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TopicName {
        TopicName::new(s).unwrap()
    }

    #[test]
    fn aliases_are_assigned_in_order_within_the_client_maximum() {
        let mut a = OutboundAliases::default();
        assert_eq!(a.lookup(&t("a"), 0), AliasUse::None);
        assert_eq!(a.lookup(&t("a"), 2), AliasUse::New(1));
        // Not committed (the packet was dropped): asked again, the same new alias.
        assert_eq!(a.lookup(&t("a"), 2), AliasUse::New(1));
        a.commit(t("a"), 1);
        assert_eq!(a.lookup(&t("a"), 2), AliasUse::Known(1));
        assert_eq!(a.lookup(&t("b"), 2), AliasUse::New(2));
        a.commit(t("b"), 2);
        assert_eq!(a.lookup(&t("c"), 2), AliasUse::None);
        assert_eq!(a.lookup(&t(""), 2), AliasUse::None);
    }

    #[test]
    fn the_broker_cap_holds_whatever_the_client_allows() {
        let mut a = OutboundAliases::default();
        for n in 0..u32::from(MAX_OUTBOUND_ALIASES) + 5 {
            let topic = t(&format!("t/{n}"));
            if let AliasUse::New(x) = a.lookup(&topic, u16::MAX) {
                assert!(x <= MAX_OUTBOUND_ALIASES);
                a.commit(topic, x);
            }
        }
        assert_eq!(a.by_topic.len(), usize::from(MAX_OUTBOUND_ALIASES));
    }
}
