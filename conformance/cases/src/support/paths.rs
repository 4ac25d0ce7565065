//! Cases that check one rule on several delivery paths (queued, retained, Will, shared):
//! [`on_path`] names the path a failure happened on; [`Way`] names the paths a connected
//! subscriber can be reached by.

use mqttspec_harness::scenario::{Failure, Precondition};

/// A way a message reaches a connected subscriber, for the cases that walk several of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    /// Forwarded as it is published.
    Live,
    /// A retained message, sent because a subscription was made.
    Retained,
    /// A Will Message published when its connection ends.
    Will,
    /// A Will Message published after its Will Delay Interval.
    DelayedWill,
    /// Given to the member of a Shared Subscription.
    Shared,
}

impl Way {
    /// The path's name in a verdict (see [`on_path`]).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Way::Live => "live",
            Way::Retained => "retained",
            Way::Will => "Will",
            Way::DelayedWill => "delayed Will",
            Way::Shared => "shared",
        }
    }

    /// The path's short key, for topics and client names.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Way::Live => "l",
            Way::Retained => "r",
            Way::Will => "w",
            Way::DelayedWill => "dw",
            Way::Shared => "s",
        }
    }

    /// What a message that does not come on this path leaves unestablished.
    pub(crate) fn delivery(self) -> Precondition {
        match self {
            Way::Live => Precondition::Delivery,
            Way::Retained => Precondition::RetainedDelivery,
            Way::Will | Way::DelayedWill => Precondition::WillDelivery,
            Way::Shared => Precondition::SharedDelivery,
        }
    }
}

/// `f` with the path it happened on put before what was expected.
pub(crate) fn on_path(mut f: Failure, path: &str) -> Failure {
    f.0.expected = Some(match f.0.expected.take() {
        Some(e) => format!("{path} path: {e}"),
        None => format!("{path} path"),
    });
    f
}
