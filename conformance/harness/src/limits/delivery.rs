//! One attempt of the size probes (topic length, topic depth, payload): a fresh connection
//! subscribes, publishes one QoS 1 message and counts it accepted when the PUBACK is a
//! success and the message comes back to the subscription unchanged in topic and length.
//! A refusal is whatever else happened: an error PUBACK or SUBACK, a DISCONNECT, a closed
//! connection, silence.

use bytes::Bytes;
use mqttspec_codec::{Packet, QoS};
use tokio::time::Instant;

use super::bisect::Attempt;
use super::env::{ack_if_needed, Env};
use crate::client::Received;

/// Publishes `payload_len` bytes to `topic` and expects it back through `filter` (a filter
/// matching `topic`: a wildcard one when the broker allows them, else `topic` itself).
pub async fn round_trip(env: &Env, filter: &str, topic: &str, payload_len: usize) -> Attempt {
    let (mut client, _) = match env.connect(&env.fresh()).await {
        Ok(c) => c,
        Err(e) => return Attempt::Refused(e),
    };
    let result = exchange(env, &mut client, filter, topic, payload_len).await;
    env.bye(client).await;
    match result {
        Ok(()) => Attempt::Accepted,
        Err(e) => Attempt::Refused(e),
    }
}

async fn exchange(
    env: &Env,
    client: &mut crate::client::TestClient,
    filter: &str,
    topic: &str,
    payload_len: usize,
) -> Result<(), String> {
    env.subscribe(client, filter, QoS::AtLeastOnce).await?;
    let matches =
        |p: &mqttspec_codec::Publish| p.topic.as_str() == topic && p.payload.len() == payload_len;
    let early = env
        .publish_qos1(
            client,
            topic,
            Bytes::from(vec![b'p'; payload_len]),
            false,
            2,
        )
        .await?;
    if early.iter().any(matches) {
        return Ok(());
    }
    let deadline = Instant::now() + env.timeout;
    loop {
        match client.recv_until(deadline).await {
            Received::Packet(Packet::Publish(p)) => {
                ack_if_needed(client, &p).await;
                if matches(&p) {
                    return Ok(());
                }
            }
            Received::Timeout => {
                return Err(format!(
                    "PUBACK, but the message did not come back within {} ms",
                    env.timeout.as_millis()
                ))
            }
            other => return Err(format!("after PUBACK: {}", env.describe(&other))),
        }
    }
}
