//! The retained-message store: at most one retained Application Message per Topic Name.
//!
//! # Behaviour
//!
//! - [`RetainedStore::set`] stores a message published with RETAIN=1, replacing whatever was
//!   retained on its topic before ([`StatementId::V5_3_3_1_5`], [`StatementId::V311_3_3_1_5`]).
//! - A message with an empty payload is never stored: it removes the topic's retained message
//!   instead ([`StatementId::V5_3_3_1_6`], [`StatementId::V5_3_3_1_7`] in MQTT 5.0;
//!   [`StatementId::V311_3_3_1_10`], [`StatementId::V311_3_3_1_11`] in MQTT 3.1.1). The core
//!   still forwards that message to current subscribers as usual.
//! - [`RetainedStore::matching`] returns the messages a new subscription to a Topic Filter
//!   receives, sorted by Topic Name. A filter that starts with a wildcard does not match
//!   topics that start with `$` ([`StatementId::V5_4_7_2_1`], [`StatementId::V311_4_7_2_1`]).
//!   Pass the inner filter of a shared subscription if one is ever needed (MQTT 5.0 sends no
//!   retained messages for shared subscriptions; that decision is the core's).
//! - A message that carried a Message Expiry Interval is dropped once that many seconds have
//!   passed since it was stored: [`RetainedStore::remove_expired`] does it, and
//!   [`RetainedStore::next_expiry`] says when to call it next.
//!   [`RetainedMessage::remaining_expiry`] gives the interval to put in a forwarded copy
//!   (the received value less the time the message has waited, [`StatementId::V5_3_3_2_6`]).
//!
//! Messages published with RETAIN=0 never reach the store; leaving the retained message
//! untouched in that case is up to the core.
//!
//! # Shape
//!
//! A trie keyed by topic level (one node per level, `+` and `#` have no meaning in a Topic
//! Name), so a filter visits only the branches it can match. A second index, ordered by
//! expiry time, makes expiry cheap.
//!
//! # Resource bounds
//!
//! The number of retained messages is capped at construction ([`RetainedStore::new`]); a new
//! topic beyond the cap is refused with [`RetainedFull`] (after dropping expired messages),
//! while replacing or clearing an existing one always works. Each message is at most one
//! PUBLISH, itself bounded by the broker's Maximum Packet Size, so memory is bounded by the
//! cap times that size, plus one trie node per topic level. Nodes left empty by a clear are
//! removed at once. No operation recurses (walks use explicit stacks, dropping the trie is
//! iterative), so very deep topics cannot exhaust the stack, and nothing panics.
//!
//! [`StatementId::V5_3_3_1_5`]: mqttspec_codec::StatementId::V5_3_3_1_5
//! [`StatementId::V311_3_3_1_5`]: mqttspec_codec::StatementId::V311_3_3_1_5
//! [`StatementId::V5_3_3_1_6`]: mqttspec_codec::StatementId::V5_3_3_1_6
//! [`StatementId::V5_3_3_1_7`]: mqttspec_codec::StatementId::V5_3_3_1_7
//! [`StatementId::V311_3_3_1_10`]: mqttspec_codec::StatementId::V311_3_3_1_10
//! [`StatementId::V311_3_3_1_11`]: mqttspec_codec::StatementId::V311_3_3_1_11
//! [`StatementId::V5_4_7_2_1`]: mqttspec_codec::StatementId::V5_4_7_2_1
//! [`StatementId::V311_4_7_2_1`]: mqttspec_codec::StatementId::V311_4_7_2_1
//! [`StatementId::V5_3_3_2_6`]: mqttspec_codec::StatementId::V5_3_3_2_6

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{PublishProperties, QoS, StatementId, TopicName};

use super::topic::{LEVEL_SEPARATOR, MULTI_LEVEL_WILDCARD, SINGLE_LEVEL_WILDCARD};

/// The normative statements this module implements.
pub const STATEMENTS: &[StatementId] = &[
    StatementId::V5_3_3_1_5,
    StatementId::V311_3_3_1_5,
    StatementId::V5_3_3_1_6,
    StatementId::V5_3_3_1_7,
    StatementId::V311_3_3_1_10,
    StatementId::V311_3_3_1_11,
    StatementId::V5_3_3_2_6,
    StatementId::V5_4_7_2_1,
    StatementId::V311_4_7_2_1,
];

/// One retained Application Message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedMessage {
    /// The Topic Name it was published to.
    pub topic: TopicName,
    /// The payload (never empty in the store).
    pub payload: Bytes,
    /// The QoS it was published with.
    pub qos: QoS,
    /// The PUBLISH properties as received (MQTT 5.0); the core adjusts them when forwarding.
    pub properties: PublishProperties,
    /// When it was stored (core time).
    pub stored_at: Duration,
    /// Its Message Expiry Interval in seconds, counted from `stored_at`; `None` never expires.
    pub message_expiry: Option<u32>,
}

impl RetainedMessage {
    /// A message stored at `now`, taking its Message Expiry Interval from `properties`.
    pub fn new(
        topic: TopicName,
        payload: Bytes,
        qos: QoS,
        properties: PublishProperties,
        now: Duration,
    ) -> Self {
        let message_expiry = properties.message_expiry_interval;
        RetainedMessage {
            topic,
            payload,
            qos,
            properties,
            stored_at: now,
            message_expiry,
        }
    }

    /// What this message is charged against the memory budget while stored.
    pub fn bytes(&self) -> usize {
        crate::memory::retained_bytes(&self.topic, &self.payload, &self.properties)
    }

    /// When the message expires, or `None` if it never does (or not within `Duration`'s range).
    pub fn expires_at(&self) -> Option<Duration> {
        let interval = Duration::from_secs(u64::from(self.message_expiry?));
        self.stored_at.checked_add(interval)
    }

    /// Whether the message has expired at `now`.
    pub fn is_expired(&self, now: Duration) -> bool {
        self.expires_at().is_some_and(|at| now >= at)
    }

    /// The Message Expiry Interval for a copy sent at `now`: the seconds left, rounded up so
    /// that a message which has not expired never goes out with less time than it has left.
    /// `None` if the message has no expiry; `Some(0)` once it has expired.
    pub fn remaining_expiry(&self, now: Duration) -> Option<u32> {
        let interval = self.message_expiry?;
        let Some(at) = self.expires_at() else {
            return Some(interval);
        };
        let left = at.saturating_sub(now);
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Some(u32::try_from(secs).unwrap_or(interval).min(interval))
    }
}

/// The store is at its configured maximum number of retained messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetainedFull {
    /// The maximum.
    pub max: usize,
}

impl std::fmt::Display for RetainedFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the retained-message store is full ({} messages)",
            self.max
        )
    }
}

impl std::error::Error for RetainedFull {}

#[derive(Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    /// Boxed: most nodes are intermediate levels without a message.
    message: Option<Box<RetainedMessage>>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.message.is_none() && self.children.is_empty()
    }
}

impl Drop for Node {
    // Iterative, so that dropping a very deep chain cannot overflow the stack.
    fn drop(&mut self) {
        let mut pending: Vec<Node> = self.children.drain().map(|(_, n)| n).collect();
        while let Some(mut node) = pending.pop() {
            pending.extend(node.children.drain().map(|(_, n)| n));
        }
    }
}

/// The retained messages, one per Topic Name, at most `max` of them. See the module docs.
pub struct RetainedStore {
    root: Node,
    len: usize,
    /// What the stored messages are charged against the memory budget (see `memory`).
    bytes: usize,
    max: usize,
    expiry: BTreeSet<(Duration, TopicName)>,
}

impl std::fmt::Debug for RetainedStore {
    // The trie can be large and deep; show the totals only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetainedStore")
            .field("len", &self.len)
            .field("bytes", &self.bytes)
            .field("max", &self.max)
            .field("expiring", &self.expiry.len())
            .finish()
    }
}

impl RetainedStore {
    /// An empty store that holds at most `max` messages.
    pub fn new(max: usize) -> Self {
        RetainedStore {
            root: Node::default(),
            len: 0,
            bytes: 0,
            max,
            expiry: BTreeSet::new(),
        }
    }

    /// The maximum number of messages.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The number of stored messages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no message is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What the stored messages are charged against the memory budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Stores `msg` as its topic's retained message, replacing any previous one; an empty
    /// payload clears the topic instead and stores nothing.
    ///
    /// Fails with [`RetainedFull`] only when the topic has no retained message yet and the
    /// store is at its maximum even after dropping the messages expired at `msg.stored_at`.
    pub fn set(&mut self, msg: RetainedMessage) -> Result<(), RetainedFull> {
        if msg.payload.is_empty() {
            self.clear(&msg.topic);
            return Ok(());
        }
        if self.get(&msg.topic).is_none() && self.len >= self.max {
            self.remove_expired(msg.stored_at);
            if self.len >= self.max {
                return Err(RetainedFull { max: self.max });
            }
        }
        let mut node = &mut self.root;
        for level in msg.topic.split(LEVEL_SEPARATOR) {
            node = node.children.entry(Box::from(level)).or_default();
        }
        let expiry_entry = msg.expires_at().map(|at| (at, msg.topic.clone()));
        self.bytes = self.bytes.saturating_add(msg.bytes());
        match node.message.replace(Box::new(msg)) {
            Some(old) => {
                self.bytes = self.bytes.saturating_sub(old.bytes());
                if let Some(at) = old.expires_at() {
                    self.expiry.remove(&(at, old.topic));
                }
            }
            None => self.len += 1,
        }
        // Inserted after the old entry is gone: the two may be equal.
        if let Some(entry) = expiry_entry {
            self.expiry.insert(entry);
        }
        Ok(())
    }

    /// The retained message of exactly this Topic Name.
    pub fn get(&self, topic: &str) -> Option<&RetainedMessage> {
        let mut node = &self.root;
        for level in topic.split(LEVEL_SEPARATOR) {
            node = node.children.get(level)?;
        }
        node.message.as_deref()
    }

    /// Removes the retained message of this Topic Name, returning it.
    pub fn clear(&mut self, topic: &str) -> Option<RetainedMessage> {
        let mut node = &mut self.root;
        for level in topic.split(LEVEL_SEPARATOR) {
            node = node.children.get_mut(level)?;
        }
        let old = *node.message.take()?;
        let now_empty = node.is_empty();
        self.len = self.len.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(old.bytes());
        if let Some(at) = old.expires_at() {
            self.expiry.remove(&(at, old.topic.clone()));
        }
        if now_empty {
            self.prune(topic);
        }
        Some(old)
    }

    /// Removes the chain of nodes ending at the (now empty) node for `topic`.
    fn prune(&mut self, topic: &str) {
        let mut cut: Option<(usize, &str)> = None;
        let mut node = &self.root;
        for (depth, level) in topic.split(LEVEL_SEPARATOR).enumerate() {
            if depth == 0 || node.message.is_some() || node.children.len() > 1 {
                cut = Some((depth, level));
            }
            match node.children.get(level) {
                Some(child) => node = child,
                None => return,
            }
        }
        let Some((cut_depth, cut_level)) = cut else {
            return;
        };
        let mut node = &mut self.root;
        for level in topic.split(LEVEL_SEPARATOR).take(cut_depth) {
            match node.children.get_mut(level) {
                Some(child) => node = child,
                None => return,
            }
        }
        node.children.remove(cut_level);
    }

    /// The retained messages whose Topic Name matches the Topic Filter `filter`, sorted by
    /// Topic Name. Expired messages are included until [`RetainedStore::remove_expired`]
    /// runs, so call that first with the current time.
    pub fn matching(&self, filter: &str) -> Vec<&RetainedMessage> {
        let levels: Vec<&str> = filter.split(LEVEL_SEPARATOR).collect();
        let mut out: Vec<&RetainedMessage> = Vec::new();
        let mut stack: Vec<(&Node, usize)> = vec![(&self.root, 0)];
        while let Some((node, depth)) = stack.pop() {
            // At the root, wildcards skip the topics that start with '$'.
            let visible = |key: &str| depth > 0 || !key.starts_with('$');
            match levels.get(depth) {
                None => out.extend(node.message.as_deref()),
                Some(&MULTI_LEVEL_WILDCARD) => {
                    // This level (the parent) and everything below it.
                    out.extend(node.message.as_deref());
                    let mut below: Vec<&Node> = node
                        .children
                        .iter()
                        .filter(|(key, _)| visible(key))
                        .map(|(_, child)| child)
                        .collect();
                    while let Some(n) = below.pop() {
                        out.extend(n.message.as_deref());
                        below.extend(n.children.values());
                    }
                }
                Some(&SINGLE_LEVEL_WILDCARD) => stack.extend(
                    node.children
                        .iter()
                        .filter(|(key, _)| visible(key))
                        .map(|(_, child)| (child, depth + 1)),
                ),
                Some(level) => {
                    if let Some(child) = node.children.get(*level) {
                        stack.push((child, depth + 1));
                    }
                }
            }
        }
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }

    /// Drops every message whose Message Expiry Interval has passed at `now`; returns how
    /// many were dropped.
    pub fn remove_expired(&mut self, now: Duration) -> usize {
        let mut removed = 0;
        while let Some((at, topic)) = self.expiry.first().cloned() {
            if at > now {
                break;
            }
            // `clear` also takes the entry out of the expiry index.
            if self.clear(&topic).is_some() {
                removed += 1;
            } else {
                self.expiry.remove(&(at, topic));
            }
        }
        removed
    }

    /// The earliest time at which a stored message expires, if any does.
    pub fn next_expiry(&self) -> Option<Duration> {
        self.expiry.first().map(|(at, _)| *at)
    }

    /// The number of trie nodes, the root included (for tests of pruning).
    #[cfg(test)]
    fn node_count(&self) -> usize {
        let mut count = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            count += 1;
            stack.extend(node.children.values());
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic;
    use proptest::prelude::*;

    #[test]
    fn cited_statements_are_broker_rules_of_both_specs() {
        use mqttspec_codec::{Obligation, Spec};
        for s in STATEMENTS {
            assert_eq!(s.obligation(), Obligation::Broker, "{s}");
        }
        assert!(STATEMENTS.iter().any(|s| s.spec() == Spec::V5));
        assert!(STATEMENTS.iter().any(|s| s.spec() == Spec::V311));
    }

    fn msg(topic: &str, payload: &'static str) -> RetainedMessage {
        RetainedMessage::new(
            TopicName::new(topic).unwrap(),
            Bytes::from_static(payload.as_bytes()),
            QoS::AtLeastOnce,
            PublishProperties::default(),
            Duration::ZERO,
        )
    }

    fn expiring(topic: &str, stored_at: u64, secs: u32) -> RetainedMessage {
        let properties = PublishProperties {
            message_expiry_interval: Some(secs),
            ..PublishProperties::default()
        };
        RetainedMessage::new(
            TopicName::new(topic).unwrap(),
            Bytes::from_static(b"x"),
            QoS::AtMostOnce,
            properties,
            Duration::from_secs(stored_at),
        )
    }

    fn topics(v: Vec<&RetainedMessage>) -> Vec<&str> {
        v.into_iter().map(|m| m.topic.as_str()).collect()
    }

    #[test]
    fn a_new_retained_message_replaces_the_previous_one() {
        let mut s = RetainedStore::new(10);
        s.set(msg("a/b", "one")).unwrap();
        s.set(msg("a/b", "two")).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.get("a/b").unwrap().payload, Bytes::from_static(b"two"));
    }

    #[test]
    fn an_empty_payload_clears_the_topic_and_is_not_stored() {
        let mut s = RetainedStore::new(10);
        s.set(msg("a/b", "kept")).unwrap();
        s.set(msg("a/b", "")).unwrap();
        assert!(s.get("a/b").is_none());
        assert!(s.is_empty());
        // Also on a topic with nothing retained: nothing is stored.
        s.set(msg("c", "")).unwrap();
        assert!(s.is_empty());
        assert_eq!(s.node_count(), 1);
    }

    #[test]
    fn the_store_refuses_new_topics_beyond_its_maximum() {
        let mut s = RetainedStore::new(2);
        s.set(msg("a", "1")).unwrap();
        s.set(msg("b", "1")).unwrap();
        assert_eq!(s.set(msg("c", "1")), Err(RetainedFull { max: 2 }));
        assert!(s.get("c").is_none());
        // Replacing and clearing still work when full.
        s.set(msg("a", "2")).unwrap();
        s.set(msg("b", "")).unwrap();
        s.set(msg("c", "1")).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            RetainedStore::new(0).set(msg("a", "1")),
            Err(RetainedFull { max: 0 })
        );
    }

    #[test]
    fn a_full_store_makes_room_by_dropping_expired_messages() {
        let mut s = RetainedStore::new(1);
        s.set(expiring("a", 0, 5)).unwrap();
        assert!(s.set(expiring("b", 4, 5)).is_err());
        s.set(expiring("b", 5, 5)).unwrap();
        assert_eq!(topics(s.matching("#")), vec!["b"]);
    }

    #[test]
    fn matching_follows_wildcards_and_sorts_by_topic() {
        let mut s = RetainedStore::new(100);
        for t in [
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player2",
            "sport",
            "sport/",
            "/finance",
            "finance",
        ] {
            s.set(msg(t, "x")).unwrap();
        }
        assert_eq!(
            topics(s.matching("sport/#")),
            vec![
                "sport",
                "sport/",
                "sport/tennis/player1",
                "sport/tennis/player1/ranking",
                "sport/tennis/player2"
            ]
        );
        assert_eq!(
            topics(s.matching("sport/tennis/+")),
            vec!["sport/tennis/player1", "sport/tennis/player2"]
        );
        assert_eq!(topics(s.matching("sport/+")), vec!["sport/"]);
        assert_eq!(topics(s.matching("+/+")), vec!["/finance", "sport/"]);
        assert_eq!(topics(s.matching("+")), vec!["finance", "sport"]);
        assert_eq!(topics(s.matching("/finance")), vec!["/finance"]);
        assert!(s.matching("sport/tennis").is_empty());
    }

    #[test]
    fn leading_wildcards_do_not_match_dollar_topics() {
        let mut s = RetainedStore::new(10);
        s.set(msg("$SYS/monitor/Clients", "x")).unwrap();
        s.set(msg("$", "x")).unwrap();
        s.set(msg("a/$b", "x")).unwrap();
        assert_eq!(topics(s.matching("#")), vec!["a/$b"]);
        assert!(s.matching("+/monitor/Clients").is_empty());
        assert!(s.matching("+").is_empty());
        assert_eq!(topics(s.matching("$SYS/#")), vec!["$SYS/monitor/Clients"]);
        assert_eq!(
            topics(s.matching("$SYS/monitor/+")),
            vec!["$SYS/monitor/Clients"]
        );
        assert_eq!(topics(s.matching("a/+")), vec!["a/$b"]);
    }

    #[test]
    fn expired_messages_are_dropped_and_the_next_expiry_is_reported() {
        let mut s = RetainedStore::new(10);
        s.set(expiring("a", 0, 10)).unwrap();
        s.set(expiring("b", 0, 5)).unwrap();
        s.set(msg("c", "forever")).unwrap();
        assert_eq!(s.next_expiry(), Some(Duration::from_secs(5)));
        assert_eq!(s.remove_expired(Duration::from_millis(4_999)), 0);
        assert_eq!(s.remove_expired(Duration::from_secs(5)), 1);
        assert!(s.get("b").is_none());
        assert_eq!(s.next_expiry(), Some(Duration::from_secs(10)));
        // Replacing a message replaces its expiry too.
        s.set(expiring("a", 8, 10)).unwrap();
        assert_eq!(s.next_expiry(), Some(Duration::from_secs(18)));
        assert_eq!(s.remove_expired(Duration::from_secs(17)), 0);
        assert!(s.get("a").is_some());
        // Replacing with the same expiry time keeps it.
        s.set(expiring("a", 8, 10)).unwrap();
        assert_eq!(s.next_expiry(), Some(Duration::from_secs(18)));
        s.set(msg("a", "no expiry now")).unwrap();
        assert_eq!(s.next_expiry(), None);
        assert_eq!(s.remove_expired(Duration::from_secs(1_000_000)), 0);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn clearing_a_message_removes_its_expiry_entry() {
        let mut s = RetainedStore::new(10);
        s.set(expiring("a", 0, 5)).unwrap();
        assert!(s.clear("a").is_some());
        assert_eq!(s.next_expiry(), None);
        assert!(s.clear("a").is_none());
    }

    #[test]
    fn remaining_expiry_counts_down_and_rounds_up() {
        let m = expiring("a", 10, 60);
        assert_eq!(m.remaining_expiry(Duration::from_secs(10)), Some(60));
        assert_eq!(m.remaining_expiry(Duration::from_millis(10_500)), Some(60));
        assert_eq!(m.remaining_expiry(Duration::from_secs(11)), Some(59));
        assert_eq!(m.remaining_expiry(Duration::from_secs(70)), Some(0));
        assert!(m.is_expired(Duration::from_secs(70)));
        assert!(!m.is_expired(Duration::from_millis(69_999)));
        assert_eq!(msg("b", "x").remaining_expiry(Duration::from_secs(5)), None);
        // Far in the future: no overflow.
        let late = expiring("a", u64::MAX, u32::MAX);
        assert_eq!(late.expires_at(), None);
        assert_eq!(late.remaining_expiry(Duration::MAX), Some(u32::MAX));
    }

    #[test]
    fn clearing_removes_empty_nodes_but_keeps_needed_ones() {
        let mut s = RetainedStore::new(10);
        s.set(msg("a/b/c", "x")).unwrap();
        s.set(msg("a", "x")).unwrap();
        s.set(msg("a/d", "x")).unwrap();
        assert_eq!(s.node_count(), 5);
        s.clear("a/b/c");
        assert_eq!(s.node_count(), 3);
        s.clear("a");
        assert_eq!(s.node_count(), 3);
        s.clear("a/d");
        assert_eq!(s.node_count(), 1);
    }

    #[test]
    fn very_deep_topics_do_not_exhaust_the_stack() {
        let deep = "/".repeat(60_000);
        let mut s = RetainedStore::new(10);
        s.set(msg(&deep, "x")).unwrap();
        assert_eq!(s.matching("#").len(), 1);
        assert_eq!(s.matching(&deep).len(), 1);
        s.set(msg(&format!("{deep}a"), "x")).unwrap();
        assert!(s.clear(&deep).is_some());
        drop(s);
    }

    fn level() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("$s".to_owned()),
        ]
    }

    fn filter_strategy() -> impl Strategy<Value = String> {
        let plain =
            proptest::collection::vec(prop_oneof![3 => level(), 1 => Just("+".to_owned())], 1..4);
        (plain, any::<bool>()).prop_map(|(mut levels, hash)| {
            if hash {
                levels.push("#".to_owned());
            }
            levels.join("/")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn trie_matching_agrees_with_a_brute_force_scan(
            ops in proptest::collection::vec(
                (proptest::collection::vec(level(), 1..4), any::<bool>()), 0..30),
            filters in proptest::collection::vec(filter_strategy(), 1..8),
        ) {
            let mut s = RetainedStore::new(usize::MAX);
            let mut model = BTreeSet::new();
            for (levels, keep) in &ops {
                let t = levels.join("/");
                s.set(msg(&t, if *keep { "x" } else { "" })).unwrap();
                if *keep { model.insert(t); } else { model.remove(&t); }
                prop_assert_eq!(s.len(), model.len());
            }
            for filter in &filters {
                let got = topics(s.matching(filter));
                let want: Vec<&str> = model
                    .iter()
                    .filter(|t| topic::matches(filter, t))
                    .map(String::as_str)
                    .collect();
                prop_assert_eq!(got, want, "filter {:?}", filter);
            }
            for t in &model {
                prop_assert!(s.clear(t).is_some());
            }
            prop_assert_eq!(s.node_count(), 1, "empty nodes left behind");
        }
    }
}
