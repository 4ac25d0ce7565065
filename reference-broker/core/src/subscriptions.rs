//! The subscription tree: every Subscription of every Session, indexed for matching.
//!
//! # Shape
//!
//! A trie keyed by topic levels. The path from the root to a node spells a Topic Filter one
//! level per edge (`+` and `#` are edges like any other, and `#` only ever leads to a leaf);
//! each node holds the Subscriptions whose filter is exactly that path:
//!
//! - non-shared ones, one per client (a Session has at most one Subscription per Topic Filter,
//!   and subscribing again with the same filter replaces it, [`StatementId::V5_3_8_4_3`],
//!   [`StatementId::V311_3_8_4_3`]);
//! - shared ones (MQTT 5.0 `$share/{ShareName}/{filter}`), stored under the inner `{filter}`
//!   and grouped by ShareName, each group keeping its members in the order they joined. A
//!   client that subscribes again to the same shared filter keeps its place in the group.
//!
//! Beside the trie, a per-client index (client id -> its filters) serves
//! [`SubscriptionTree::subscriptions_of`], [`SubscriptionTree::remove_client`] and
//! [`SubscriptionTree::unsubscribe`] without a scan.
//!
//! # Matching
//!
//! [`SubscriptionTree::matches`] walks the trie along the Topic Name: at each node it follows
//! the literal level, the `+` edge, and collects the `#` leaf; when the name is used up it
//! collects the node itself. At the root the wildcard edges are skipped for a name that
//! starts with `$` ([`StatementId::V5_4_7_2_1`], [`StatementId::V311_4_7_2_1`]); that applies
//! to the inner filter of a shared subscription too. The cost depends on the number of
//! matching paths, not on the number of Subscriptions. It agrees with [`super::topic::matches`]
//! (a property test checks it).
//!
//! The result is deterministic: non-shared matches sorted by (client id, filter) — so one
//! client's overlapping Subscriptions are adjacent — and shared groups sorted by their full
//! `$share/...` filter, members in joining order. Choosing a member (round robin, ...) and
//! merging overlapping Subscriptions are the core's business.
//!
//! # Which filters are shared
//!
//! [`SubscriptionTree::subscribe`] treats a filter of the form `$share/{ShareName}/{filter}`
//! as shared. Shared subscriptions are an MQTT 5.0 concept; for an MQTT 3.1.1 Session, where
//! such a filter is an ordinary one, the core uses [`SubscriptionTree::subscribe_non_shared`].
//!
//! # Resource bounds
//!
//! Memory is linear in what is stored: one entry per (client, filter) and at most one trie
//! node per level of each stored filter; nodes left empty by an unsubscribe are removed at
//! once, so the tree never keeps more than the live Subscriptions need. The number of
//! Subscriptions is bounded by the core (per-client limits in the configuration), and each
//! filter by the 65,535-byte string limit. No operation recurses: walks use an explicit stack
//! and dropping the trie is iterative, so a filter of 30,000 empty levels cannot exhaust the
//! thread's stack. Nothing here panics.
//!
//! [`StatementId::V5_3_8_4_3`]: mqttspec_codec::StatementId::V5_3_8_4_3
//! [`StatementId::V311_3_8_4_3`]: mqttspec_codec::StatementId::V311_3_8_4_3
//! [`StatementId::V5_4_7_2_1`]: mqttspec_codec::StatementId::V5_4_7_2_1
//! [`StatementId::V311_4_7_2_1`]: mqttspec_codec::StatementId::V311_4_7_2_1

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Arc;

use mqttspec_codec::{StatementId, SubscriptionOptions, TopicFilter};

use super::memory::{owned_filter, subscription_bytes};
use super::topic::{LEVEL_SEPARATOR, MULTI_LEVEL_WILDCARD, SINGLE_LEVEL_WILDCARD};

/// The normative statements this module implements.
pub const STATEMENTS: &[StatementId] = &[
    StatementId::V5_3_8_4_3,
    StatementId::V311_3_8_4_3,
    StatementId::V5_4_7_2_1,
    StatementId::V311_4_7_2_1,
];

/// One Subscription of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The subscribing client (its Session).
    pub client_id: Arc<str>,
    /// The Topic Filter as subscribed (for a shared subscription, the full `$share/...` form).
    pub filter: TopicFilter,
    /// The Subscription Options.
    pub options: SubscriptionOptions,
    /// The Subscription Identifier (MQTT 5.0), if the SUBSCRIBE carried one.
    pub identifier: Option<NonZeroU32>,
}

impl Subscription {
    /// For a shared subscription, its ShareName.
    pub fn share_name(&self) -> Option<&str> {
        self.filter.shared_parts().map(|(group, _)| group)
    }
}

/// Everything that matches one Topic Name. See [`SubscriptionTree::matches`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matches {
    /// Non-shared Subscriptions, sorted by (client id, filter).
    pub direct: Vec<Subscription>,
    /// Shared-subscription groups, sorted by their full filter.
    pub shared: Vec<SharedGroupMatch>,
}

impl Matches {
    /// Whether nothing matched.
    pub fn is_empty(&self) -> bool {
        self.direct.is_empty() && self.shared.is_empty()
    }
}

/// One shared subscription (a ShareName and an inner filter) that matches a Topic Name, with
/// all its members. The core delivers the message to one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedGroupMatch {
    /// The ShareName.
    pub group: Arc<str>,
    /// The full `$share/{ShareName}/{filter}` Topic Filter.
    pub filter: TopicFilter,
    /// The members, in the order they joined (never empty).
    pub members: Vec<Subscription>,
}

/// Whether a stored filter is a shared subscription; decides where it lives in the trie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NonShared,
    Shared,
}

/// The members of one shared subscription, in joining order.
#[derive(Debug)]
struct SharedGroup {
    filter: TopicFilter,
    members: BTreeMap<u64, Subscription>,
    order_of: HashMap<Arc<str>, u64>,
}

#[derive(Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    direct: BTreeMap<Arc<str>, Subscription>,
    shared: BTreeMap<Arc<str>, SharedGroup>,
}

impl Node {
    fn has_entries(&self) -> bool {
        !self.direct.is_empty() || !self.shared.is_empty()
    }

    fn is_empty(&self) -> bool {
        !self.has_entries() && self.children.is_empty()
    }

    fn collect_into(&self, out: &mut Matches) {
        out.direct.extend(self.direct.values().cloned());
        out.shared
            .extend(self.shared.iter().map(|(group, g)| SharedGroupMatch {
                group: Arc::clone(group),
                filter: g.filter.clone(),
                members: g.members.values().cloned().collect(),
            }));
    }
}

impl Drop for Node {
    // Dropping a deep chain of nodes recursively could overflow the stack; move every
    // descendant into a flat list first so each node drops with no children left.
    fn drop(&mut self) {
        let mut pending: Vec<Node> = self.children.drain().map(|(_, n)| n).collect();
        while let Some(mut node) = pending.pop() {
            pending.extend(node.children.drain().map(|(_, n)| n));
        }
    }
}

/// All Subscriptions, indexed by topic level for matching and by client for bookkeeping.
/// See the module docs.
#[derive(Default)]
pub struct SubscriptionTree {
    root: Node,
    clients: HashMap<Arc<str>, BTreeMap<TopicFilter, Kind>>,
    len: usize,
    /// What the subscriptions are charged against the memory budget (see `memory`).
    bytes: usize,
    next_order: u64,
}

impl std::fmt::Debug for SubscriptionTree {
    // The trie itself can be large and deep; show the totals only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionTree")
            .field("subscriptions", &self.len)
            .field("clients", &self.clients.len())
            .finish()
    }
}

/// The levels under which a filter of this kind is stored, and the ShareName for a shared one.
fn trie_path(filter: &TopicFilter, kind: Kind) -> (Option<&str>, &str) {
    match (kind, filter.shared_parts()) {
        (Kind::Shared, Some((group, inner))) => (Some(group), inner),
        _ => (None, filter.as_str()),
    }
}

impl SubscriptionTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces `client_id`'s Subscription to `filter`. A filter of the form
    /// `$share/{ShareName}/{filter}` makes the client a member of that shared subscription.
    ///
    /// Returns `true` if the client already had a Subscription with exactly this filter; it
    /// is replaced (options and identifier), and in a shared group the client keeps its place.
    pub fn subscribe(
        &mut self,
        client_id: &str,
        filter: &TopicFilter,
        options: SubscriptionOptions,
        identifier: Option<NonZeroU32>,
    ) -> bool {
        let kind = if filter.shared_parts().is_some() {
            Kind::Shared
        } else {
            Kind::NonShared
        };
        self.insert(client_id, filter, options, identifier, kind)
    }

    /// Like [`SubscriptionTree::subscribe`], but the filter is always an ordinary one, even if
    /// it starts with `$share/` (for MQTT 3.1.1 Sessions, which have no shared subscriptions).
    pub fn subscribe_non_shared(
        &mut self,
        client_id: &str,
        filter: &TopicFilter,
        options: SubscriptionOptions,
        identifier: Option<NonZeroU32>,
    ) -> bool {
        self.insert(client_id, filter, options, identifier, Kind::NonShared)
    }

    fn insert(
        &mut self,
        client_id: &str,
        filter: &TopicFilter,
        options: SubscriptionOptions,
        identifier: Option<NonZeroU32>,
        kind: Kind,
    ) -> bool {
        // Kept beyond the SUBSCRIBE packet: a copy that owns its bytes (see `memory`).
        let owned = owned_filter(filter);
        let filter = &owned;
        let client = match self.clients.get_key_value(client_id) {
            Some((id, _)) => Arc::clone(id),
            None => Arc::from(client_id),
        };
        let previous = self
            .clients
            .entry(Arc::clone(&client))
            .or_default()
            .insert(filter.clone(), kind);
        match previous {
            Some(old_kind) if old_kind != kind => {
                // Same filter text stored the other way: take the old entry out first.
                self.remove_from_trie(&client, filter, old_kind);
            }
            Some(_) => {}
            None => {
                self.len += 1;
                self.bytes = self
                    .bytes
                    .saturating_add(subscription_bytes(filter, &client));
            }
        }
        let subscription = Subscription {
            client_id: Arc::clone(&client),
            filter: filter.clone(),
            options,
            identifier,
        };
        let (group, path) = trie_path(filter, kind);
        let mut node = &mut self.root;
        for level in path.split(LEVEL_SEPARATOR) {
            node = node.children.entry(Box::from(level)).or_default();
        }
        match group {
            None => {
                node.direct.insert(client, subscription);
            }
            Some(group) => {
                let group = node
                    .shared
                    .entry(Arc::from(group))
                    .or_insert_with(|| SharedGroup {
                        filter: filter.clone(),
                        members: BTreeMap::new(),
                        order_of: HashMap::new(),
                    });
                let order = match group.order_of.get(&client) {
                    Some(order) => *order,
                    None => {
                        let order = self.next_order;
                        self.next_order = self.next_order.wrapping_add(1);
                        group.order_of.insert(client, order);
                        order
                    }
                };
                group.members.insert(order, subscription);
            }
        }
        previous.is_some()
    }

    /// Removes `client_id`'s Subscription to exactly `filter` (for a shared subscription, the
    /// full `$share/...` filter). Returns whether it existed.
    pub fn unsubscribe(&mut self, client_id: &str, filter: &TopicFilter) -> bool {
        let Some(filters) = self.clients.get_mut(client_id) else {
            return false;
        };
        let Some(kind) = filters.remove(filter) else {
            return false;
        };
        let client = if filters.is_empty() {
            self.clients.remove_entry(client_id).map(|(id, _)| id)
        } else {
            self.clients
                .get_key_value(client_id)
                .map(|(id, _)| Arc::clone(id))
        };
        let Some(client) = client else {
            return false;
        };
        self.len = self.len.saturating_sub(1);
        self.bytes = self
            .bytes
            .saturating_sub(subscription_bytes(filter, &client));
        self.remove_from_trie(&client, filter, kind);
        true
    }

    /// Removes every Subscription of `client_id` (its Session ended).
    pub fn remove_client(&mut self, client_id: &str) {
        let Some((client, filters)) = self.clients.remove_entry(client_id) else {
            return;
        };
        self.len = self.len.saturating_sub(filters.len());
        for (filter, kind) in &filters {
            self.bytes = self
                .bytes
                .saturating_sub(subscription_bytes(filter, &client));
            self.remove_from_trie(&client, filter, *kind);
        }
    }

    /// Takes one entry out of the trie and prunes the nodes that are left empty.
    fn remove_from_trie(&mut self, client: &Arc<str>, filter: &TopicFilter, kind: Kind) {
        let (group, path) = trie_path(filter, kind);
        let mut node = &mut self.root;
        for level in path.split(LEVEL_SEPARATOR) {
            match node.children.get_mut(level) {
                Some(child) => node = child,
                None => return,
            }
        }
        match group {
            None => {
                node.direct.remove(client);
            }
            Some(group) => {
                if let Some(g) = node.shared.get_mut(group) {
                    if let Some(order) = g.order_of.remove(client) {
                        g.members.remove(&order);
                    }
                    if g.members.is_empty() {
                        node.shared.remove(group);
                    }
                }
            }
        }
        if node.is_empty() {
            self.prune(path);
        }
    }

    /// Removes the chain of nodes that ends at the (now empty) node for `path`: the edge cut
    /// is the one below the deepest ancestor that must stay (the root, or a node with
    /// Subscriptions of its own or other children).
    fn prune(&mut self, path: &str) {
        let mut cut: Option<(usize, &str)> = None;
        let mut node = &self.root;
        for (depth, level) in path.split(LEVEL_SEPARATOR).enumerate() {
            if depth == 0 || node.has_entries() || node.children.len() > 1 {
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
        for level in path.split(LEVEL_SEPARATOR).take(cut_depth) {
            match node.children.get_mut(level) {
                Some(child) => node = child,
                None => return,
            }
        }
        node.children.remove(cut_level);
    }

    /// `client_id`'s Subscription to exactly `filter`, if any.
    pub fn get(&self, client_id: &str, filter: &TopicFilter) -> Option<&Subscription> {
        let kind = *self.clients.get(client_id)?.get(filter)?;
        let (group, path) = trie_path(filter, kind);
        let mut node = &self.root;
        for level in path.split(LEVEL_SEPARATOR) {
            node = node.children.get(level)?;
        }
        match group {
            None => node.direct.get(client_id),
            Some(group) => {
                let g = node.shared.get(group)?;
                g.members.get(g.order_of.get(client_id)?)
            }
        }
    }

    /// Every Subscription of `client_id`, sorted by filter.
    pub fn subscriptions_of(&self, client_id: &str) -> Vec<Subscription> {
        let Some(filters) = self.clients.get(client_id) else {
            return Vec::new();
        };
        filters
            .keys()
            .filter_map(|filter| self.get(client_id, filter).cloned())
            .collect()
    }

    /// The number of Subscriptions of `client_id`.
    pub fn client_count(&self, client_id: &str) -> usize {
        self.clients.get(client_id).map_or(0, BTreeMap::len)
    }

    /// The total number of Subscriptions (each shared-group membership counts once).
    pub fn len(&self) -> usize {
        self.len
    }

    /// What the Subscriptions are charged against the memory budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether there are no Subscriptions.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every Subscription whose filter matches the Topic Name `topic`, non-shared ones and
    /// shared groups apart. See the module docs for the order.
    pub fn matches(&self, topic: &str) -> Matches {
        let levels: Vec<&str> = topic.split(LEVEL_SEPARATOR).collect();
        let dollar = topic.starts_with('$');
        let mut out = Matches::default();
        let mut stack: Vec<(&Node, usize)> = vec![(&self.root, 0)];
        while let Some((node, depth)) = stack.pop() {
            let wildcards = depth > 0 || !dollar;
            if wildcards {
                if let Some(rest) = node.children.get(MULTI_LEVEL_WILDCARD) {
                    rest.collect_into(&mut out);
                }
            }
            let Some(level) = levels.get(depth) else {
                node.collect_into(&mut out);
                continue;
            };
            // A level that is itself "+" or "#" can only be met by the wildcard edges.
            if *level != SINGLE_LEVEL_WILDCARD && *level != MULTI_LEVEL_WILDCARD {
                if let Some(child) = node.children.get(*level) {
                    stack.push((child, depth + 1));
                }
            }
            if wildcards {
                if let Some(child) = node.children.get(SINGLE_LEVEL_WILDCARD) {
                    stack.push((child, depth + 1));
                }
            }
        }
        out.direct
            .sort_by(|a, b| (&a.client_id, &a.filter).cmp(&(&b.client_id, &b.filter)));
        out.shared.sort_by(|a, b| a.filter.cmp(&b.filter));
        out
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
    use mqttspec_codec::QoS;
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

    fn f(s: &str) -> TopicFilter {
        TopicFilter::new_v5(s).unwrap()
    }

    fn opts(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions::qos(qos)
    }

    fn direct(m: &Matches) -> Vec<(String, String)> {
        m.direct
            .iter()
            .map(|s| (s.client_id.to_string(), s.filter.to_string()))
            .collect()
    }

    #[test]
    fn matching_follows_literal_plus_and_hash_edges() {
        let mut t = SubscriptionTree::new();
        for (c, filter) in [
            ("c1", "sport/tennis/player1/#"),
            ("c2", "sport/tennis/+"),
            ("c3", "sport/#"),
            ("c4", "+/+"),
            ("c5", "#"),
            ("c6", "sport/tennis/player1"),
            ("c7", "other"),
        ] {
            t.subscribe(c, &f(filter), opts(QoS::AtMostOnce), None);
        }
        assert_eq!(
            direct(&t.matches("sport/tennis/player1")),
            vec![
                ("c1".into(), "sport/tennis/player1/#".into()),
                ("c2".into(), "sport/tennis/+".into()),
                ("c3".into(), "sport/#".into()),
                ("c5".into(), "#".into()),
                ("c6".into(), "sport/tennis/player1".into()),
            ]
        );
        assert_eq!(
            direct(&t.matches("sport")),
            vec![("c3".into(), "sport/#".into()), ("c5".into(), "#".into())]
        );
        assert_eq!(
            direct(&t.matches("/finance")),
            vec![("c4".into(), "+/+".into()), ("c5".into(), "#".into())]
        );
    }

    #[test]
    fn leading_wildcards_do_not_match_dollar_topics() {
        let mut t = SubscriptionTree::new();
        t.subscribe("all", &f("#"), opts(QoS::AtMostOnce), None);
        t.subscribe("plus", &f("+/monitor/Clients"), opts(QoS::AtMostOnce), None);
        t.subscribe("sys", &f("$SYS/#"), opts(QoS::AtMostOnce), None);
        t.subscribe("sys2", &f("$SYS/monitor/+"), opts(QoS::AtMostOnce), None);
        t.subscribe("sh", &f("$share/g/#"), opts(QoS::AtMostOnce), None);
        let m = t.matches("$SYS/monitor/Clients");
        assert_eq!(
            direct(&m),
            vec![
                ("sys".into(), "$SYS/#".into()),
                ("sys2".into(), "$SYS/monitor/+".into())
            ]
        );
        assert!(
            m.shared.is_empty(),
            "shared inner '#' must not match '$' topics"
        );
        let m = t.matches("x/monitor/Clients");
        assert_eq!(
            direct(&m),
            vec![
                ("all".into(), "#".into()),
                ("plus".into(), "+/monitor/Clients".into())
            ]
        );
        assert_eq!(m.shared.len(), 1);
    }

    #[test]
    fn subscribing_again_with_the_same_filter_replaces_the_subscription() {
        let mut t = SubscriptionTree::new();
        let id = NonZeroU32::new(7);
        assert!(!t.subscribe("c", &f("a/+"), opts(QoS::AtMostOnce), None));
        assert!(t.subscribe("c", &f("a/+"), opts(QoS::ExactlyOnce), id));
        assert_eq!(t.len(), 1);
        assert_eq!(t.client_count("c"), 1);
        let m = t.matches("a/b");
        assert_eq!(m.direct.len(), 1);
        assert_eq!(m.direct[0].options.qos, QoS::ExactlyOnce);
        assert_eq!(m.direct[0].identifier, id);
        // A different filter (even an overlapping one) is a second Subscription.
        assert!(!t.subscribe("c", &f("a/#"), opts(QoS::AtMostOnce), None));
        assert_eq!(t.len(), 2);
        assert_eq!(t.matches("a/b").direct.len(), 2);
    }

    #[test]
    fn overlapping_subscriptions_of_one_client_are_adjacent_in_matches() {
        let mut t = SubscriptionTree::new();
        t.subscribe("b", &f("a/#"), opts(QoS::AtMostOnce), None);
        t.subscribe("a", &f("a/b"), opts(QoS::AtMostOnce), None);
        t.subscribe("b", &f("a/b"), opts(QoS::AtLeastOnce), None);
        t.subscribe("a", &f("+/b"), opts(QoS::AtMostOnce), None);
        assert_eq!(
            direct(&t.matches("a/b")),
            vec![
                ("a".into(), "+/b".into()),
                ("a".into(), "a/b".into()),
                ("b".into(), "a/#".into()),
                ("b".into(), "a/b".into()),
            ]
        );
    }

    #[test]
    fn shared_subscriptions_are_grouped_by_share_name_and_inner_filter() {
        let mut t = SubscriptionTree::new();
        t.subscribe(
            "c2",
            &f("$share/g1/sport/tennis/+"),
            opts(QoS::AtLeastOnce),
            None,
        );
        t.subscribe(
            "c1",
            &f("$share/g1/sport/tennis/+"),
            opts(QoS::AtMostOnce),
            None,
        );
        t.subscribe(
            "c3",
            &f("$share/g2/sport/tennis/+"),
            opts(QoS::AtMostOnce),
            None,
        );
        t.subscribe("c4", &f("sport/tennis/+"), opts(QoS::AtMostOnce), None);
        t.subscribe("c5", &f("$share/g1/sport/#"), opts(QoS::AtMostOnce), None);
        let m = t.matches("sport/tennis/player1");
        assert_eq!(direct(&m), vec![("c4".into(), "sport/tennis/+".into())]);
        let groups: Vec<(&str, &str, Vec<&str>)> = m
            .shared
            .iter()
            .map(|g| {
                (
                    &*g.group,
                    g.filter.as_str(),
                    g.members.iter().map(|s| &*s.client_id).collect(),
                )
            })
            .collect();
        assert_eq!(
            groups,
            vec![
                ("g1", "$share/g1/sport/#", vec!["c5"]),
                ("g1", "$share/g1/sport/tennis/+", vec!["c2", "c1"]),
                ("g2", "$share/g2/sport/tennis/+", vec!["c3"]),
            ]
        );
        assert_eq!(t.matches("sport").shared.len(), 1);
    }

    #[test]
    fn resubscribing_to_a_shared_subscription_keeps_the_members_place() {
        let mut t = SubscriptionTree::new();
        let filter = f("$share/g/a");
        t.subscribe("x", &filter, opts(QoS::AtMostOnce), None);
        t.subscribe("y", &filter, opts(QoS::AtMostOnce), None);
        assert!(t.subscribe("x", &filter, opts(QoS::AtLeastOnce), None));
        let m = t.matches("a");
        let members: Vec<_> = m.shared[0].members.iter().map(|s| &*s.client_id).collect();
        assert_eq!(members, vec!["x", "y"]);
        assert_eq!(m.shared[0].members[0].options.qos, QoS::AtLeastOnce);
        assert_eq!(t.len(), 2);
        // One unsubscribe detaches the client.
        assert!(t.unsubscribe("x", &filter));
        let members: Vec<_> = t.matches("a").shared[0]
            .members
            .iter()
            .map(|s| s.client_id.to_string())
            .collect();
        assert_eq!(members, vec!["y"]);
        // Joining again puts it at the end.
        t.subscribe("x", &filter, opts(QoS::AtMostOnce), None);
        let members: Vec<_> = t.matches("a").shared[0]
            .members
            .iter()
            .map(|s| s.client_id.to_string())
            .collect();
        assert_eq!(members, vec!["y", "x"]);
    }

    #[test]
    fn a_shared_subscription_ends_with_its_last_member() {
        let mut t = SubscriptionTree::new();
        let filter = f("$share/g/a/b");
        t.subscribe("x", &filter, opts(QoS::AtMostOnce), None);
        t.subscribe("y", &filter, opts(QoS::AtMostOnce), None);
        t.unsubscribe("x", &filter);
        assert_eq!(t.matches("a/b").shared.len(), 1);
        t.remove_client("y");
        assert!(t.matches("a/b").is_empty());
        assert_eq!(t.node_count(), 1);
    }

    #[test]
    fn non_shared_subscribe_stores_share_prefixed_filters_literally() {
        let mut t = SubscriptionTree::new();
        let filter = f("$share/g/a");
        t.subscribe_non_shared("old", &filter, opts(QoS::AtMostOnce), None);
        assert!(t.matches("a").is_empty());
        assert_eq!(
            direct(&t.matches("$share/g/a")),
            vec![("old".into(), "$share/g/a".into())]
        );
        // The same filter text subscribed the other way replaces the entry.
        assert!(t.subscribe("old", &filter, opts(QoS::AtMostOnce), None));
        assert!(t.matches("$share/g/a").is_empty());
        assert_eq!(t.matches("a").shared.len(), 1);
        assert_eq!(t.len(), 1);
        assert!(t.unsubscribe("old", &filter));
        assert_eq!(t.node_count(), 1);
    }

    #[test]
    fn unsubscribe_reports_whether_the_subscription_existed() {
        let mut t = SubscriptionTree::new();
        t.subscribe("c", &f("a/b"), opts(QoS::AtMostOnce), None);
        assert!(!t.unsubscribe("c", &f("a/+")));
        assert!(!t.unsubscribe("other", &f("a/b")));
        assert!(t.unsubscribe("c", &f("a/b")));
        assert!(!t.unsubscribe("c", &f("a/b")));
        assert!(t.is_empty());
        assert_eq!(t.client_count("c"), 0);
    }

    #[test]
    fn unsubscribing_removes_empty_nodes_but_keeps_shared_paths() {
        let mut t = SubscriptionTree::new();
        t.subscribe("c", &f("a/b/c/d"), opts(QoS::AtMostOnce), None);
        t.subscribe("c", &f("a/b"), opts(QoS::AtMostOnce), None);
        t.subscribe("d", &f("a/x/#"), opts(QoS::AtMostOnce), None);
        // root, a, a/b, a/b/c, a/b/c/d, a/x, a/x/#
        assert_eq!(t.node_count(), 7);
        t.unsubscribe("c", &f("a/b/c/d"));
        // root, a, a/b, a/x, a/x/#
        assert_eq!(t.node_count(), 5);
        assert_eq!(direct(&t.matches("a/b")), vec![("c".into(), "a/b".into())]);
        t.unsubscribe("c", &f("a/b"));
        assert_eq!(t.node_count(), 4);
        t.unsubscribe("d", &f("a/x/#"));
        assert_eq!(t.node_count(), 1);
    }

    #[test]
    fn remove_client_drops_all_its_subscriptions() {
        let mut t = SubscriptionTree::new();
        t.subscribe("c", &f("a"), opts(QoS::AtMostOnce), None);
        t.subscribe("c", &f("a/#"), opts(QoS::AtMostOnce), None);
        t.subscribe("c", &f("$share/g/a"), opts(QoS::AtMostOnce), None);
        t.subscribe("d", &f("a"), opts(QoS::AtMostOnce), None);
        assert_eq!(t.client_count("c"), 3);
        t.remove_client("c");
        assert_eq!(t.len(), 1);
        assert_eq!(t.client_count("c"), 0);
        assert!(t.subscriptions_of("c").is_empty());
        let m = t.matches("a");
        assert_eq!(direct(&m), vec![("d".into(), "a".into())]);
        assert!(m.shared.is_empty());
        t.remove_client("d");
        assert_eq!(t.node_count(), 1);
    }

    #[test]
    fn subscriptions_of_lists_a_clients_subscriptions_by_filter() {
        let mut t = SubscriptionTree::new();
        let id = NonZeroU32::new(3);
        t.subscribe("c", &f("b"), opts(QoS::AtLeastOnce), id);
        t.subscribe("c", &f("$share/g/x"), opts(QoS::AtMostOnce), None);
        t.subscribe("c", &f("a/#"), opts(QoS::AtMostOnce), None);
        let subs = t.subscriptions_of("c");
        let filters: Vec<&str> = subs.iter().map(|s| s.filter.as_str()).collect();
        assert_eq!(filters, vec!["$share/g/x", "a/#", "b"]);
        assert_eq!(subs[2].identifier, id);
        assert_eq!(subs[2].options.qos, QoS::AtLeastOnce);
        assert_eq!(subs[0].share_name(), Some("g"));
        assert_eq!(
            t.get("c", &f("b")).map(|s| s.options.qos),
            Some(QoS::AtLeastOnce)
        );
        assert!(t.get("c", &f("zzz")).is_none());
    }

    #[test]
    fn empty_levels_and_single_slash_filters_are_distinct() {
        let mut t = SubscriptionTree::new();
        t.subscribe("a", &f("/"), opts(QoS::AtMostOnce), None);
        t.subscribe("b", &f("a//b"), opts(QoS::AtMostOnce), None);
        t.subscribe("c", &f("+"), opts(QoS::AtMostOnce), None);
        assert_eq!(direct(&t.matches("/")), vec![("a".into(), "/".into())]);
        assert_eq!(
            direct(&t.matches("a//b")),
            vec![("b".into(), "a//b".into())]
        );
        assert_eq!(direct(&t.matches("")), vec![("c".into(), "+".into())]);
        assert!(t.matches("a/b").is_empty());
    }

    #[test]
    fn very_deep_filters_do_not_exhaust_the_stack() {
        let deep = "/".repeat(60_000);
        let mut t = SubscriptionTree::new();
        let filter = TopicFilter::new(format!("{deep}#")).unwrap();
        t.subscribe("c", &filter, opts(QoS::AtMostOnce), None);
        t.subscribe(
            "c",
            &TopicFilter::new(deep.clone()).unwrap(),
            opts(QoS::AtMostOnce),
            None,
        );
        assert_eq!(t.matches(&deep).direct.len(), 2);
        assert!(t.unsubscribe("c", &filter));
        // Dropping the rest of the deep chain must not recurse either.
        drop(t);
    }

    // ---- property test: the trie agrees with a brute-force scan using topic::matches ----

    #[derive(Debug, Clone)]
    enum Op {
        Subscribe(usize, String, u8),
        Unsubscribe(usize, String),
        RemoveClient(usize),
    }

    fn level() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("$s".to_owned()),
        ]
    }

    fn topic_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(level(), 1..4).prop_map(|l| l.join("/"))
    }

    fn filter_strategy() -> impl Strategy<Value = String> {
        let plain =
            proptest::collection::vec(prop_oneof![3 => level(), 1 => Just("+".to_owned())], 1..4);
        (plain, any::<bool>(), 0u8..4).prop_map(|(mut levels, hash, share)| {
            if hash {
                levels.push("#".to_owned());
            }
            let mut inner = levels.join("/");
            if inner.is_empty() {
                // A Topic Filter is never empty.
                inner.push('a');
            }
            match share {
                1 => format!("$share/g1/{inner}"),
                2 => format!("$share/g2/{inner}"),
                _ => inner,
            }
        })
    }

    fn op_strategy() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0usize..3, filter_strategy(), 0u8..3).prop_map(|(c, f, q)| Op::Subscribe(c, f, q)),
            2 => (0usize..3, filter_strategy()).prop_map(|(c, f)| Op::Unsubscribe(c, f)),
            1 => (0usize..3).prop_map(Op::RemoveClient),
        ]
    }

    /// Non-shared matches as (client, filter, QoS).
    type DirectRows = Vec<(String, String, u8)>;
    /// Shared matches as (full filter, members in joining order).
    type SharedRows = Vec<(String, Vec<String>)>;

    /// The model: (client, filter) -> (QoS, joining order).
    type Model = BTreeMap<(String, String), (u8, u64)>;

    fn brute_force(model: &Model, topic: &str) -> (DirectRows, SharedRows) {
        let mut direct = Vec::new();
        let mut groups: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
        for ((client, filter), (qos, order)) in model {
            let tf = TopicFilter::new(filter.clone()).unwrap();
            match tf.shared_parts() {
                Some((_, inner)) => {
                    if topic::matches(inner, topic) {
                        groups
                            .entry(filter.clone())
                            .or_default()
                            .push((*order, client.clone()));
                    }
                }
                None => {
                    if topic::matches(filter, topic) {
                        direct.push((client.clone(), filter.clone(), *qos));
                    }
                }
            }
        }
        let shared = groups
            .into_iter()
            .map(|(filter, mut members)| {
                members.sort();
                (filter, members.into_iter().map(|(_, c)| c).collect())
            })
            .collect();
        (direct, shared)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn trie_matching_agrees_with_a_brute_force_scan(
            ops in proptest::collection::vec(op_strategy(), 0..40),
            topics in proptest::collection::vec(topic_strategy(), 1..8),
        ) {
            let clients = ["c0", "c1", "c2"];
            let mut tree = SubscriptionTree::new();
            let mut model = Model::new();
            let mut order = 0u64;
            for op in &ops {
                match op {
                    Op::Subscribe(c, filter, q) => {
                        let client = clients[*c].to_owned();
                        let qos = QoS::from_u8(*q).unwrap();
                        let existed = tree.subscribe(&client, &f(filter), opts(qos), None);
                        let key = (client, filter.clone());
                        prop_assert_eq!(existed, model.contains_key(&key));
                        let kept = model.get(&key).map(|(_, o)| *o);
                        let o = kept.unwrap_or_else(|| { order += 1; order });
                        model.insert(key, (*q, o));
                    }
                    Op::Unsubscribe(c, filter) => {
                        let client = clients[*c].to_owned();
                        let existed = tree.unsubscribe(&client, &f(filter));
                        prop_assert_eq!(existed, model.remove(&(client, filter.clone())).is_some());
                    }
                    Op::RemoveClient(c) => {
                        tree.remove_client(clients[*c]);
                        model.retain(|(client, _), _| client != clients[*c]);
                    }
                }
                prop_assert_eq!(tree.len(), model.len());
            }
            for topic in &topics {
                let m = tree.matches(topic);
                let got_direct: DirectRows = m
                    .direct
                    .iter()
                    .map(|s| (s.client_id.to_string(), s.filter.to_string(), s.options.qos.as_u8()))
                    .collect();
                let got_shared: SharedRows = m
                    .shared
                    .iter()
                    .map(|g| (g.filter.to_string(), g.members.iter().map(|s| s.client_id.to_string()).collect()))
                    .collect();
                let (want_direct, want_shared) = brute_force(&model, topic);
                prop_assert_eq!(got_direct, want_direct, "topic {:?}", topic);
                prop_assert_eq!(got_shared, want_shared, "topic {:?}", topic);
            }
            for client in clients {
                let filters: Vec<String> = tree.subscriptions_of(client).iter().map(|s| s.filter.to_string()).collect();
                let want: Vec<String> = model.keys().filter(|(c, _)| c == client).map(|(_, f)| f.clone()).collect();
                prop_assert_eq!(filters, want);
                tree.remove_client(client);
            }
            prop_assert_eq!(tree.node_count(), 1, "empty nodes left behind");
        }
    }
}
