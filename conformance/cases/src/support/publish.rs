//! Messages a case publishes in bulk.

use mqttspec_harness::scenario::{Client, Failure};

/// The payloads `m0`, `m1`, ... of `n` messages.
pub(crate) fn numbered_payloads(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i}")).collect()
}

/// Publishes `payloads` at QoS 1 from `publisher` to `topic` (each waits for PUBACK).
pub(crate) async fn publish_all(
    publisher: &mut Client,
    topic: &str,
    payloads: &[String],
) -> Result<(), Failure> {
    for p in payloads {
        publisher.publish(topic).qos(1).payload(p).await?;
    }
    Ok(())
}
