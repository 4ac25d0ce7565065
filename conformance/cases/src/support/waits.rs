//! How long cases wait: the quiet period of an absence check, and the other fixed waits
//! more than one area uses.
//!
//! Every quiet period ends with a positive control (a message that must arrive on the same
//! subscriber and path), so a slow broker cannot pass an absence check by being late. The
//! quiet periods of [`gather`](super::gather) (shorter) and of Will absences ([`WILL_QUIET`],
//! longer) are the only ones that differ from [`QUIET`], each for the reason given there.

use std::time::Duration;

use mqttspec_harness::scenario::millis;

/// How long a case watches to be sure that nothing (more) arrives. The positive control that
/// must follow every such watch keeps a slow broker from passing by accident.
pub(crate) const QUIET: Duration = millis(500);

/// How long a case watches for a Will that must not be published when nothing about it is
/// timed ([`no_will`](super::no_will)). Longer than [`QUIET`] on purpose: a broker forwards a
/// PUBLISH as it handles it, but publishes a Will only once it has noticed the end of the
/// connection and dealt with its session, which many brokers do asynchronously, some time
/// after the close the case sees; a Will published late must still fall inside the window.
pub(crate) const WILL_QUIET: Duration = millis(800);

/// How long a case waits for something time-based to pass (the smallest wait that makes a
/// whole second pass in any clock granularity).
pub(crate) const SECOND_AND_A_BIT: Duration = millis(1300);
