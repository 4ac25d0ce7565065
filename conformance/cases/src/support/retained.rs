//! Retained messages a case leaves on the broker: publishing them, and removing them again
//! whatever the verdict.

use std::future::Future;

use mqttspec_harness::scenario::{CaseResult, Client, Ctx, Failure};

/// Publishes the retained message `payload` on `topic` at QoS 1, so that it is stored when
/// the PUBACK arrives (a setup step).
pub(crate) async fn publish_retained(
    c: &mut Client,
    topic: &str,
    payload: &str,
) -> Result<(), Failure> {
    c.publish(topic)
        .qos(1)
        .retain()
        .payload(payload)
        .await
        .map(|_| ())
}

/// Runs `body`, then removes the retained messages of `topics` (empty retained QoS 1
/// PUBLISH packets from a connection of its own), whatever the verdict, so that no later or
/// parallel run meets them. The clearing is best effort and never changes the verdict.
pub(crate) async fn clearing_retained(
    t: &Ctx,
    topics: &[String],
    body: impl Future<Output = CaseResult>,
) -> CaseResult {
    let verdict = body.await;
    if let Ok(mut c) = t.client("clear").connect().await {
        for topic in topics {
            if c.publish(topic).qos(1).retain().await.is_err() {
                break;
            }
        }
        let _ = c.disconnect().await;
    }
    verdict
}
