//! Cases that check one rule on several delivery paths (queued, retained, Will, shared):
//! [`on_path`] names the path a failure happened on.

use mqttspec_harness::scenario::Failure;

/// `f` with the path it happened on put before what was expected.
pub(crate) fn on_path(mut f: Failure, path: &str) -> Failure {
    f.0.expected = Some(match f.0.expected.take() {
        Some(e) => format!("{path} path: {e}"),
        None => format!("{path} path"),
    });
    f
}
