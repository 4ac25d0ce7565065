//! Inbound Topic Aliases (MQTT 5.0, 3.3.2.3.4): the per-connection mapping from alias to
//! Topic Name that a client sets up in its PUBLISH packets.
//!
//! The broker never sends aliases itself (the spec makes that optional), so it honours the
//! client's Topic Alias Maximum trivially (MQTT-3.1.2-26, -27, MQTT-3.3.2-11).
//!
//! Bound: at most the server's Topic Alias Maximum entries, each a Topic Name of at most
//! 65,535 bytes.

use std::collections::BTreeMap;

use mqttspec_codec::{ReasonCode, TopicName};

/// Why a Topic Alias could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AliasError {
    /// The alias is above the server's Topic Alias Maximum (0x94 Topic Alias invalid).
    AboveMaximum,
    /// An empty Topic Name with an alias that has no mapping (0x82 Protocol Error).
    Unknown,
}

impl AliasError {
    /// The DISCONNECT Reason Code for this error.
    pub fn reason_code(self) -> ReasonCode {
        match self {
            AliasError::AboveMaximum => ReasonCode::TopicAliasInvalid,
            AliasError::Unknown => ReasonCode::ProtocolError,
        }
    }
}

/// The alias mapping of one connection.
#[derive(Debug, Default)]
pub(crate) struct InboundAliases {
    map: BTreeMap<u16, TopicName>,
}

impl InboundAliases {
    /// Resolves the Topic Name of a PUBLISH that carries `alias` (already known non-zero):
    /// with a non-empty `topic` the mapping is set (or changed) and `topic` is used; with an
    /// empty one the mapped name is used. `maximum` is the server's Topic Alias Maximum;
    /// `accept_any` (the `accept-invalid-topic-alias` fault) skips that check.
    pub fn resolve(
        &mut self,
        alias: u16,
        topic: &TopicName,
        maximum: u16,
        accept_any: bool,
    ) -> Result<TopicName, AliasError> {
        if alias > maximum && !accept_any {
            return Err(AliasError::AboveMaximum);
        }
        if topic.is_empty() {
            return self.map.get(&alias).cloned().ok_or(AliasError::Unknown);
        }
        self.map.insert(alias, topic.clone());
        Ok(topic.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TopicName {
        TopicName::new(s).unwrap()
    }

    #[test]
    fn an_alias_is_set_by_a_named_publish_and_used_by_an_empty_one() {
        let mut a = InboundAliases::default();
        assert_eq!(a.resolve(1, &t(""), 5, false), Err(AliasError::Unknown));
        assert_eq!(a.resolve(1, &t("a/b"), 5, false), Ok(t("a/b")));
        assert_eq!(a.resolve(1, &t(""), 5, false), Ok(t("a/b")));
        assert_eq!(a.resolve(1, &t("c"), 5, false), Ok(t("c")));
        assert_eq!(a.resolve(1, &t(""), 5, false), Ok(t("c")));
        assert_eq!(
            a.resolve(6, &t("x"), 5, false),
            Err(AliasError::AboveMaximum)
        );
        assert_eq!(a.resolve(6, &t("x"), 5, true), Ok(t("x")));
    }
}
