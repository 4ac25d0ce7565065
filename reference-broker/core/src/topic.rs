//! Topic matching: does a Topic Filter match a Topic Name?
//!
//! The rules, in our words:
//!
//! - Both strings are split into levels at every `/`; an empty level (from a leading,
//!   trailing or doubled `/`) is a level like any other.
//! - A `+` level in the filter stands for exactly one level of the name, whatever it holds
//!   (including an empty one).
//! - A `#` level (always the last one of a valid filter) stands for the level it is at and
//!   every level below it, and also for "nothing": `a/#` matches `a` itself.
//! - A filter whose first character is a wildcard never matches a name whose first character
//!   is `$` ([`StatementId::V5_4_7_2_1`], [`StatementId::V311_4_7_2_1`]).
//! - Every other level is compared byte for byte: no case folding, no Unicode normalisation,
//!   no substitution ([`StatementId::V5_4_7_3_4`], [`StatementId::V311_4_7_3_4`]).
//!
//! This is the reference implementation; the tries in [`super::subscriptions`] and
//! [`super::retained`] must agree with it (they are property-tested against it).
//!
//! Both functions run in time linear in the input lengths, allocate nothing and never panic.
//!
//! [`StatementId::V5_4_7_2_1`]: mqttspec_codec::StatementId::V5_4_7_2_1
//! [`StatementId::V311_4_7_2_1`]: mqttspec_codec::StatementId::V311_4_7_2_1
//! [`StatementId::V5_4_7_3_4`]: mqttspec_codec::StatementId::V5_4_7_3_4
//! [`StatementId::V311_4_7_3_4`]: mqttspec_codec::StatementId::V311_4_7_3_4

use mqttspec_codec::StatementId;

/// The single-level wildcard, as a whole level.
pub const SINGLE_LEVEL_WILDCARD: &str = "+";
/// The multi-level wildcard, as a whole level.
pub const MULTI_LEVEL_WILDCARD: &str = "#";
/// The topic level separator.
pub const LEVEL_SEPARATOR: char = '/';

/// The normative statements this module implements.
pub const STATEMENTS: &[StatementId] = &[
    StatementId::V5_4_7_2_1,
    StatementId::V311_4_7_2_1,
    StatementId::V5_4_7_3_4,
    StatementId::V311_4_7_3_4,
];

/// Whether `filter` matches `topic` (see the module docs for the rules).
///
/// `filter` is expected to be a valid Topic Filter (wildcards only as whole levels, `#` last)
/// and `topic` a Topic Name without wildcards; other input gives a well-defined answer (a
/// `+` or `#` level is always treated as a wildcard) and never panics. A shared-subscription
/// filter (`$share/...`) is compared as it is written; pass its inner filter to match it as
/// a shared subscription does.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut topic_levels = topic.split(LEVEL_SEPARATOR);
    for filter_level in filter.split(LEVEL_SEPARATOR) {
        if filter_level == MULTI_LEVEL_WILDCARD {
            // Matches whatever is left, including nothing (the parent level).
            return true;
        }
        match topic_levels.next() {
            None => return false,
            Some(_) if filter_level == SINGLE_LEVEL_WILDCARD => {}
            Some(topic_level) if topic_level == filter_level => {}
            Some(_) => return false,
        }
    }
    topic_levels.next().is_none()
}

/// The number of levels in a Topic Name or Topic Filter: one more than the number of `/`
/// separators (so `""` and `"a"` have one level, `"/"` has two).
pub fn levels(s: &str) -> usize {
    s.bytes().filter(|b| *b == b'/').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn multi_level_wildcard_matches_the_parent_and_every_level_below() {
        for topic in [
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon",
        ] {
            assert!(matches("sport/tennis/player1/#", topic), "{topic}");
        }
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/#", "sport/"));
        assert!(!matches("sport/#", "sports"));
        assert!(!matches("sport/tennis/#", "sport"));
        assert!(matches("#", "anything/at/all"));
        assert!(matches("#", "/"));
        assert!(matches("#", ""));
    }

    #[test]
    fn single_level_wildcard_matches_exactly_one_level() {
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(matches("sport/tennis/+", "sport/tennis/player2"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(matches("+", ""));
        assert!(matches("+/tennis/#", "sport/tennis"));
        assert!(matches("sport/+/player1", "sport/tennis/player1"));
        assert!(!matches("sport/+/player1", "sport/tennis/player2"));
    }

    #[test]
    fn empty_levels_are_levels() {
        assert!(matches("a//b", "a//b"));
        assert!(!matches("a/b", "a//b"));
        assert!(matches("a/+/b", "a//b"));
        assert!(!matches("/finance", "finance"));
        assert!(!matches("finance", "/finance"));
        assert!(matches("/", "/"));
        assert!(!matches("/", ""));
        assert!(matches("a/", "a/"));
        assert!(!matches("a/", "a"));
    }

    #[test]
    fn leading_wildcards_never_match_dollar_topics() {
        assert!(!matches("#", "$SYS/broker/uptime"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(!matches("+", "$"));
        assert!(matches("$SYS/#", "$SYS/broker/uptime"));
        assert!(matches("$SYS/#", "$SYS"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        // Only a leading '$' is special.
        assert!(matches("#", "a/$SYS"));
        assert!(matches("+/+", "a/$b"));
        assert!(!matches("+/+", "$a/b"));
    }

    #[test]
    fn levels_are_compared_byte_for_byte_without_normalisation() {
        assert!(!matches("ACCOUNTS", "Accounts"));
        assert!(matches("Accounts payable", "Accounts payable"));
        assert!(!matches("a ", "a"));
        // U+00E9 precomposed vs 'e' + U+0301 combining: different bytes, no match.
        assert!(!matches("caf\u{e9}", "cafe\u{301}"));
        assert!(matches("caf\u{e9}/+", "caf\u{e9}/x"));
        assert!(!matches("\u{feff}a", "a"));
    }

    #[test]
    fn literal_filters_need_the_same_number_of_levels() {
        assert!(matches("a/b/c", "a/b/c"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(!matches("a/b/c", "a/b/d"));
    }

    #[test]
    fn levels_counts_separators_plus_one() {
        assert_eq!(levels(""), 1);
        assert_eq!(levels("a"), 1);
        assert_eq!(levels("/"), 2);
        assert_eq!(levels("a/b/c"), 3);
        assert_eq!(levels("a//"), 3);
    }

    fn level() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[ab$]{1,2}"]
    }

    fn topic() -> impl Strategy<Value = String> {
        proptest::collection::vec(level(), 1..5).prop_map(|l| l.join("/"))
    }

    proptest! {
        #[test]
        fn every_topic_matches_itself_and_hash(t in topic()) {
            prop_assert!(matches(&t, &t));
            prop_assert_eq!(matches("#", &t), !t.starts_with('$'));
        }

        #[test]
        fn replacing_a_level_by_plus_keeps_the_match(t in topic(), i in 0usize..5) {
            let mut parts: Vec<&str> = t.split('/').collect();
            let i = i % parts.len();
            parts[i] = "+";
            let filter = parts.join("/");
            prop_assert_eq!(matches(&filter, &t), !(i == 0 && t.starts_with('$')));
        }

        #[test]
        fn a_prefix_followed_by_hash_matches(t in topic(), i in 0usize..5) {
            let parts: Vec<&str> = t.split('/').collect();
            let keep = i % (parts.len() + 1);
            let mut filter: Vec<&str> = parts[..keep].to_vec();
            filter.push("#");
            let filter = filter.join("/");
            prop_assert_eq!(matches(&filter, &t), !(keep == 0 && t.starts_with('$')));
        }
    }
}
