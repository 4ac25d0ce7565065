//! The ways a copy of a message reaches a subscriber, and the faults that act on one way
//! only.
//!
//! Brokers often get a forwarding rule right on one path and wrong on another (a queue that
//! keeps the publisher's DUP, a retained store that forgets the User Property order), so
//! many faults come in families with one member per [`Path`]. Each copy's path is decided
//! once, where the copy is made, and [`Family::on`] is the one table saying which fault of
//! a family acts there (`mqttspec trace --depth` relies on each breaking its path alone).

use crate::fault::Fault;
use crate::Broker;

/// How a copy of a message reaches its subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// Sent to a connected subscriber as the message is published.
    Live,
    /// Queued for a disconnected session and sent when it resumes.
    Queued,
    /// A retained message sent because a subscription was made.
    Retained,
    /// A Will Message published when its connection ended (no Will Delay Interval).
    Will,
    /// A Will Message published after its Will Delay Interval.
    DelayedWill,
    /// Given to a member of a Shared Subscription.
    Shared,
}

impl Path {
    /// The path of a copy of a routed (not retained) message: a Will's own path whatever
    /// the subscription, then a Shared Subscription's, then live or queued by whether the
    /// subscriber's session is connected.
    pub(crate) fn of_routed(will: bool, delayed_will: bool, shared: bool, online: bool) -> Path {
        match (will, delayed_will, shared, online) {
            (true, true, _, _) => Path::DelayedWill,
            (true, false, _, _) => Path::Will,
            (false, _, true, _) => Path::Shared,
            (false, _, false, true) => Path::Live,
            (false, _, false, false) => Path::Queued,
        }
    }

    /// Whether the path is one of a Will Message.
    pub(crate) fn is_will(self) -> bool {
        matches!(self, Path::Will | Path::DelayedWill)
    }
}

/// A kind of departure from the specifications that has a fault of its own per path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// The forwarded properties left out (`strip-properties-*`).
    StripProperties,
    /// Properties added that the publisher did not set (`add-properties-*`).
    AddProperties,
    /// DUP 1 on the server's first sending (`forward-dup-*`, `dup-on-*`).
    Dup,
    /// The publisher's RETAIN kept without Retain As Published (`retain-flag-on-forward-*`).
    RetainFlagOnForward,
    /// Retain As Published ignored (`ignore-retain-as-published-*`).
    IgnoreRetainAsPublished,
    /// The published QoS kept above the granted one (`no-qos-downgrade-*`).
    NoQosDowngrade,
    /// The client's Maximum Packet Size ignored (`ignore-maximum-packet-size-*`).
    IgnoreMaximumPacketSize,
    /// The client's Receive Maximum ignored (`ignore-receive-maximum-*`).
    IgnoreReceiveMaximum,
    /// Topic Alias 65535 sent whatever the client's Topic Alias Maximum
    /// (`send-topic-aliases-*`).
    SendTopicAliases,
    /// A Topic Alias mapping of the session's previous connection used
    /// (`topic-alias-from-old-connection*`).
    TopicAliasFromOldConnection,
    /// The User Properties sent in reverse order (`reverse-user-properties-*`).
    ReverseUserProperties,
    /// The Subscription Identifiers left out (`no-subscription-identifiers-*`).
    NoSubscriptionIdentifiers,
    /// The Message Expiry Interval sent as received, not less the time the message waited
    /// (`no-message-expiry-*`).
    NoMessageExpiry,
}

impl Family {
    /// The fault of this family that acts on `path` alone, if the family has one there.
    pub(crate) fn on(self, path: Path) -> Option<Fault> {
        use Family as F;
        use Path as P;
        Some(match (self, path) {
            (F::StripProperties, P::Live) => Fault::StripPropertiesLive,
            (F::StripProperties, P::Queued) => Fault::StripPropertiesQueued,
            (F::StripProperties, P::Retained) => Fault::StripPropertiesRetained,
            (F::StripProperties, P::Will) => Fault::StripPropertiesWill,
            (F::StripProperties, P::DelayedWill) => Fault::StripPropertiesDelayedWill,
            (F::StripProperties, P::Shared) => Fault::StripPropertiesShared,
            (F::AddProperties, P::Live) => Fault::AddPropertiesLive,
            (F::AddProperties, P::Queued) => Fault::AddPropertiesQueued,
            (F::AddProperties, P::Retained) => Fault::AddPropertiesRetained,
            (F::AddProperties, P::Will) => Fault::AddPropertiesWill,
            (F::AddProperties, P::DelayedWill) => Fault::AddPropertiesDelayedWill,
            (F::AddProperties, P::Shared) => Fault::AddPropertiesShared,
            (F::Dup, P::Live) => Fault::ForwardDupLive,
            (F::Dup, P::Queued) => Fault::ForwardDupQueued,
            (F::Dup, P::Retained) => Fault::DupOnRetained,
            (F::Dup, P::Will) => Fault::DupOnWill,
            (F::Dup, P::DelayedWill) => Fault::DupOnDelayedWill,
            (F::Dup, P::Shared) => Fault::ForwardDupShared,
            // A retained message sent on subscribe has RETAIN 1 whatever the options
            // (MQTT-3.3.1-9): neither RETAIN fault has anything to bend there.
            (F::RetainFlagOnForward | F::IgnoreRetainAsPublished, P::Retained) => return None,
            (F::RetainFlagOnForward, P::Live) => Fault::RetainFlagOnForwardLive,
            (F::RetainFlagOnForward, P::Queued) => Fault::RetainFlagOnForwardQueued,
            (F::RetainFlagOnForward, P::Will) => Fault::RetainFlagOnForwardWill,
            (F::RetainFlagOnForward, P::DelayedWill) => Fault::RetainFlagOnForwardDelayedWill,
            (F::RetainFlagOnForward, P::Shared) => Fault::RetainFlagOnForwardShared,
            (F::IgnoreRetainAsPublished, P::Live) => Fault::IgnoreRetainAsPublishedLive,
            (F::IgnoreRetainAsPublished, P::Queued) => Fault::IgnoreRetainAsPublishedQueued,
            (F::IgnoreRetainAsPublished, P::Will) => Fault::IgnoreRetainAsPublishedWill,
            (F::IgnoreRetainAsPublished, P::DelayedWill) => {
                Fault::IgnoreRetainAsPublishedDelayedWill
            }
            (F::IgnoreRetainAsPublished, P::Shared) => Fault::IgnoreRetainAsPublishedShared,
            (F::NoQosDowngrade, P::Live) => Fault::NoQosDowngradeLive,
            (F::NoQosDowngrade, P::Queued) => Fault::NoQosDowngradeQueued,
            (F::NoQosDowngrade, P::Retained) => Fault::NoQosDowngradeRetained,
            (F::NoQosDowngrade, P::Will) => Fault::NoQosDowngradeWill,
            (F::NoQosDowngrade, P::DelayedWill) => Fault::NoQosDowngradeDelayedWill,
            (F::NoQosDowngrade, P::Shared) => Fault::NoQosDowngradeShared,
            (F::IgnoreMaximumPacketSize, P::Live) => Fault::IgnoreMaximumPacketSizeLive,
            (F::IgnoreMaximumPacketSize, P::Queued) => Fault::IgnoreMaximumPacketSizeQueued,
            (F::IgnoreMaximumPacketSize, P::Retained) => Fault::IgnoreMaximumPacketSizeRetained,
            (F::IgnoreMaximumPacketSize, P::Will) => Fault::IgnoreMaximumPacketSizeWill,
            (F::IgnoreMaximumPacketSize, P::DelayedWill) => {
                Fault::IgnoreMaximumPacketSizeDelayedWill
            }
            (F::IgnoreMaximumPacketSize, P::Shared) => Fault::IgnoreMaximumPacketSizeShared,
            (F::IgnoreReceiveMaximum, P::Live) => Fault::IgnoreReceiveMaximumLive,
            (F::IgnoreReceiveMaximum, P::Queued) => Fault::IgnoreReceiveMaximumQueued,
            (F::IgnoreReceiveMaximum, P::Retained) => Fault::IgnoreReceiveMaximumRetained,
            (F::IgnoreReceiveMaximum, P::Will) => Fault::IgnoreReceiveMaximumWill,
            (F::IgnoreReceiveMaximum, P::DelayedWill) => Fault::IgnoreReceiveMaximumDelayedWill,
            (F::IgnoreReceiveMaximum, P::Shared) => Fault::IgnoreReceiveMaximumShared,
            (F::SendTopicAliases, P::Live) => Fault::SendTopicAliasesLive,
            (F::SendTopicAliases, P::Queued) => Fault::SendTopicAliasesQueued,
            (F::SendTopicAliases, P::Retained) => Fault::SendTopicAliasesRetained,
            (F::SendTopicAliases, P::Will) => Fault::SendTopicAliasesWill,
            (F::SendTopicAliases, P::DelayedWill) => Fault::SendTopicAliasesDelayedWill,
            (F::SendTopicAliases, P::Shared) => Fault::SendTopicAliasesShared,
            // Named before the family had other members: it acts on the queued path.
            (F::TopicAliasFromOldConnection, P::Queued) => Fault::TopicAliasFromOldConnection,
            (F::TopicAliasFromOldConnection, P::Live) => Fault::TopicAliasFromOldConnectionLive,
            (F::TopicAliasFromOldConnection, P::Retained) => {
                Fault::TopicAliasFromOldConnectionRetained
            }
            (F::TopicAliasFromOldConnection, P::Will) => Fault::TopicAliasFromOldConnectionWill,
            (F::TopicAliasFromOldConnection, P::DelayedWill) => {
                Fault::TopicAliasFromOldConnectionDelayedWill
            }
            (F::TopicAliasFromOldConnection, P::Shared) => Fault::TopicAliasFromOldConnectionShared,
            (F::ReverseUserProperties, P::Live) => Fault::ReverseUserPropertiesLive,
            (F::ReverseUserProperties, P::Queued) => Fault::ReverseUserPropertiesQueued,
            (F::ReverseUserProperties, P::Retained) => Fault::ReverseUserPropertiesRetained,
            (F::ReverseUserProperties, P::Will) => Fault::ReverseUserPropertiesWill,
            (F::ReverseUserProperties, P::DelayedWill) => Fault::ReverseUserPropertiesDelayedWill,
            (F::ReverseUserProperties, P::Shared) => Fault::ReverseUserPropertiesShared,
            (F::NoSubscriptionIdentifiers, P::Live) => Fault::NoSubscriptionIdentifiersLive,
            (F::NoSubscriptionIdentifiers, P::Queued) => Fault::NoSubscriptionIdentifiersQueued,
            (F::NoSubscriptionIdentifiers, P::Retained) => Fault::NoSubscriptionIdentifiersRetained,
            (F::NoSubscriptionIdentifiers, P::Will) => Fault::NoSubscriptionIdentifiersWill,
            (F::NoSubscriptionIdentifiers, P::DelayedWill) => {
                Fault::NoSubscriptionIdentifiersDelayedWill
            }
            (F::NoSubscriptionIdentifiers, P::Shared) => Fault::NoSubscriptionIdentifiersShared,
            (F::NoMessageExpiry, P::Live) => Fault::NoMessageExpiryLive,
            (F::NoMessageExpiry, P::Queued) => Fault::NoMessageExpiryQueued,
            (F::NoMessageExpiry, P::Retained) => Fault::NoMessageExpiryRetained,
            (F::NoMessageExpiry, P::Will) => Fault::NoMessageExpiryWill,
            (F::NoMessageExpiry, P::DelayedWill) => Fault::NoMessageExpiryDelayedWill,
            (F::NoMessageExpiry, P::Shared) => Fault::NoMessageExpiryShared,
        })
    }
}

impl Broker {
    /// Whether the fault of `family` on `path` is enabled.
    pub(crate) fn path_fault(&self, family: Family, path: Path) -> bool {
        family.on(path).is_some_and(|f| self.fault(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATHS: [Path; 6] = [
        Path::Live,
        Path::Queued,
        Path::Retained,
        Path::Will,
        Path::DelayedWill,
        Path::Shared,
    ];

    const FAMILIES: [Family; 13] = [
        Family::StripProperties,
        Family::AddProperties,
        Family::Dup,
        Family::RetainFlagOnForward,
        Family::IgnoreRetainAsPublished,
        Family::NoQosDowngrade,
        Family::IgnoreMaximumPacketSize,
        Family::IgnoreReceiveMaximum,
        Family::SendTopicAliases,
        Family::TopicAliasFromOldConnection,
        Family::ReverseUserProperties,
        Family::NoSubscriptionIdentifiers,
        Family::NoMessageExpiry,
    ];

    #[test]
    fn each_path_fault_acts_on_one_path_of_one_family() {
        let mut seen = Vec::new();
        for family in FAMILIES {
            for path in PATHS {
                if let Some(fault) = family.on(path) {
                    assert!(!seen.contains(&fault), "{fault} on two paths");
                    seen.push(fault);
                }
            }
        }
    }
}
