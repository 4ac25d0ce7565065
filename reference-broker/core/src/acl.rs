//! Access rules ([`Config::acl`](crate::Config::acl)): may this user publish to this topic,
//! or subscribe to this filter?
//!
//! Rules are tried in order and the first one that applies decides; when none applies the
//! action is allowed. A rule applies when its action covers the request ("publish",
//! "subscribe" or "both"), its user name (if any) is the connection's, and its filter covers
//! the topic:
//!
//! - for PUBLISH, the rule's filter matches the Topic Name;
//! - for SUBSCRIBE, the rule's filter matches the requested filter read as a name (so a rule
//!   on `secret/#` also covers a subscription to `secret/+`), or the two are equal. A broader
//!   subscription such as `#` is not covered by a rule on `secret/#`: write a rule for it.
//!
//! What a denial does is decided where it happens: SUBACK 0x87 (5.0) / 0x80 (3.1.1); for
//! PUBLISH, PUBACK/PUBREC 0x87 in 5.0, and in 3.1.1 the message is acknowledged as usual and
//! dropped (MQTT-3.3.5-2 in 3.1.1 lets the server choose between that and closing).

use crate::config::AclRule;

use super::topic;

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Publishing to a Topic Name.
    Publish,
    /// Subscribing to a Topic Filter.
    Subscribe,
}

impl Access {
    fn covered_by(self, action: &str) -> bool {
        match action.trim().to_ascii_lowercase().as_str() {
            "both" | "all" => true,
            "publish" | "pub" => self == Access::Publish,
            "subscribe" | "sub" => self == Access::Subscribe,
            _ => false,
        }
    }
}

/// Whether `username` may do `access` on `topic` (a Topic Name or Topic Filter).
pub(crate) fn allowed(
    rules: &[AclRule],
    username: Option<&str>,
    access: Access,
    topic: &str,
) -> bool {
    for rule in rules {
        if !access.covered_by(&rule.action) {
            continue;
        }
        if let Some(user) = &rule.username {
            if Some(user.as_str()) != username {
                continue;
            }
        }
        let covers = rule.filter == topic || topic::matches(&rule.filter, topic);
        if covers {
            return !rule.permission.trim().eq_ignore_ascii_case("deny");
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(filter: &str, action: &str, permission: &str, user: Option<&str>) -> AclRule {
        AclRule {
            filter: filter.into(),
            action: action.into(),
            permission: permission.into(),
            username: user.map(Into::into),
        }
    }

    #[test]
    fn the_first_matching_rule_decides_and_no_match_allows() {
        let rules = vec![
            rule("open/#", "both", "allow", None),
            rule("#", "publish", "deny", Some("guest")),
            rule("secret/#", "subscribe", "deny", None),
        ];
        assert!(allowed(&rules, Some("guest"), Access::Publish, "open/x"));
        assert!(!allowed(&rules, Some("guest"), Access::Publish, "a"));
        assert!(allowed(&rules, Some("admin"), Access::Publish, "a"));
        assert!(!allowed(&rules, None, Access::Subscribe, "secret/+"));
        assert!(!allowed(&rules, None, Access::Subscribe, "secret/#"));
        assert!(allowed(&rules, None, Access::Subscribe, "public/#"));
    }
}
