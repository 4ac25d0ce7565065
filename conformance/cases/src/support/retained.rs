//! Retained messages a case leaves on the broker: publishing them, removing them again
//! whatever the verdict, and judging the RETAIN flag of one sent because a subscription was
//! made.

use std::future::Future;

use mqttspec_codec::{Packet, Publish, StatementId as S};
use mqttspec_harness::client::summary;
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

/// Checks the RETAIN flag of `p`, a retained message sent because a subscription was made.
/// 3.1.1 requires RETAIN 1 ("MUST set the RETAIN flag to 1 if a message is sent as a result
/// of a new subscription being made", MQTT-3.3.1-8: FAIL). 5.0 says so only in untagged text
/// (3.3.1.3: "These messages are sent with the RETAIN flag set to 1"), which no MUST tags:
/// there a RETAIN 0 is added to `notes`, which [`finish_retain_notes`] turns into NON-STRICT.
pub(crate) fn retain_flag_on_subscribe(
    t: &Ctx,
    p: &Publish,
    notes: &mut Vec<String>,
) -> Result<(), Failure> {
    let seen = summary::packet(&Packet::Publish(p.clone()), t.protocol());
    if p.retain || !t.is_v5() {
        t.check(
            p.retain,
            "RETAIN 1 on a retained message sent because a subscription was made",
            seen,
        )
        .map_err(|f| f.statement(S::V311_3_3_1_8))
    } else {
        notes.push(seen);
        Ok(())
    }
}

/// PASS, or NON-STRICT when a 5.0 broker sent retained messages with RETAIN 0 (`notes`).
pub(crate) fn finish_retain_notes(t: &Ctx, notes: Vec<String>) -> CaseResult {
    if notes.is_empty() {
        t.pass()
    } else {
        t.non_strict(
            "RETAIN 1 on retained messages sent because a subscription was made (5.0 \u{a7}3.3.1.3, \
             untagged: \"These messages are sent with the RETAIN flag set to 1\")",
            format!("RETAIN 0: {}", notes.join("; ")),
        )
    }
}
