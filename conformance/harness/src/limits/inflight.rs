//! How many QoS 1 messages the broker sends a subscriber before it waits for a PUBACK (its
//! in-flight window). The subscriber connects with the largest Receive Maximum (65535, MQTT
//! 5.0; MQTT 3.1.1 has none), subscribes at QoS 1 and acknowledges nothing; a publisher
//! sends the cap's worth of QoS 1 messages one by one, each after the previous PUBACK. The
//! messages the subscriber got before the stream went quiet are the window. Then the
//! subscriber leaves with Clean Start / no session expiry, which discards the rest.

use std::collections::BTreeSet;

use bytes::Bytes;
use mqttspec_codec::{Packet, QoS};
use tokio::time::Instant;

use super::env::{ConnectSpec, Env};
use super::report::{Caps, Finding, Measure};
use crate::client::{Received, TestClient};

/// Runs the probe.
pub async fn probe(env: &Env, caps: &Caps) -> Finding {
    let (value, detail) = match measure(env, caps).await {
        Ok(x) => x,
        Err(reason) => (Measure::Unknown { reason }, String::new()),
    };
    Finding::new(
        "inflight_messages",
        "QoS 1 messages sent to a subscriber before it acknowledges any",
        "messages",
        value,
        detail,
    )
}

async fn measure(env: &Env, caps: &Caps) -> Result<(Measure, String), String> {
    let topic = env.topic("inflight");
    let spec = ConnectSpec {
        receive_maximum: Some(u16::MAX),
        ..env.fresh()
    };
    let (mut sub, _) = env
        .connect(&spec)
        .await
        .map_err(|e| format!("subscriber: {e}"))?;
    if let Err(e) = env.subscribe(&mut sub, &topic, QoS::AtLeastOnce).await {
        env.bye(sub).await;
        return Err(format!("subscriber: {e}"));
    }
    let (mut publisher, _) = match env.connect(&env.fresh()).await {
        Ok(c) => c,
        Err(e) => {
            env.bye(sub).await;
            return Err(format!("publisher: {e}"));
        }
    };
    let cap = caps.inflight_messages.clamp(1, 60_000);
    let mut published = 0u64;
    let mut stopped = None;
    let mut seen: BTreeSet<u16> = BTreeSet::new();
    for i in 0..cap {
        let id = u16::try_from(i + 1).unwrap_or(1);
        match env
            .publish_qos1(&mut publisher, &topic, Bytes::from_static(b"w"), false, id)
            .await
        {
            Ok(_) => published += 1,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
        // Take what arrived meanwhile, so that the socket buffers stay small.
        drain(&mut sub, &mut seen);
    }
    env.bye(publisher).await;
    // Until the stream stays quiet for the settle time.
    let mut closed = None;
    loop {
        match sub.recv_until(Instant::now() + env.settle).await {
            Received::Packet(Packet::Publish(p)) => {
                if let Some(id) = p.packet_id() {
                    seen.insert(id.get());
                }
            }
            Received::Packet(_) => {}
            Received::Timeout => break,
            other => {
                closed = Some(env.describe(&other));
                break;
            }
        }
    }
    env.bye(sub).await;
    let n = seen.len() as u64;
    let mut detail = format!(
        "{published} QoS 1 message(s) published; the subscriber{} got {n} without acknowledging any",
        if env.version.is_v5() {
            " (Receive Maximum 65535)"
        } else {
            ""
        }
    );
    if let Some(e) = &stopped {
        detail.push_str(&format!("; the publisher stopped early: {e}"));
    }
    if let Some(e) = &closed {
        detail.push_str(&format!("; the subscriber saw {e}"));
    }
    let value = if published == 0 {
        Measure::Unknown {
            reason: "no message could be published".to_owned(),
        }
    } else if n >= cap {
        Measure::AtLeast { value: cap }
    } else if n >= published {
        // Everything published came: the window is at least that.
        Measure::AtLeast { value: published }
    } else {
        Measure::Exactly { value: n }
    };
    Ok((value, detail))
}

/// Takes the PUBLISH packets already received, without waiting.
fn drain(sub: &mut TestClient, seen: &mut BTreeSet<u16>) {
    loop {
        match sub.try_recv() {
            Received::Packet(Packet::Publish(p)) => {
                if let Some(id) = p.packet_id() {
                    seen.insert(id.get());
                }
            }
            Received::Packet(_) => {}
            _ => return,
        }
    }
}
