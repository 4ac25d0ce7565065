//! How many retained messages the broker keeps: the probe sets up to the cap's worth below
//! its prefix (QoS 1, one at a time, stopping at the first refusal), then a new subscriber
//! to `<prefix>/retained/#` counts the retained messages it receives until the stream goes
//! quiet. Every message set is cleared again (an empty retained message) right away and, if
//! that fails, by the final cleanup.

use std::collections::BTreeSet;

use bytes::Bytes;
use mqttspec_codec::{Packet, QoS};
use tokio::time::Instant;

use super::env::{ack_if_needed, Env};
use super::report::{Caps, Finding, Measure};
use crate::client::Received;

/// Runs the probe.
pub async fn probe(env: &Env, caps: &Caps) -> Finding {
    let (value, detail) = if env.wildcards {
        match measure(env, caps).await {
            Ok(x) => x,
            Err(reason) => (Measure::Unknown { reason }, String::new()),
        }
    } else {
        (
            Measure::Unknown {
                reason: "wildcard subscriptions are not available: the retained messages cannot be counted".to_owned(),
            },
            String::new(),
        )
    };
    Finding::new(
        "retained_messages",
        "Retained messages kept (of those the probe set)",
        "messages",
        value,
        detail,
    )
}

async fn measure(env: &Env, caps: &Caps) -> Result<(Measure, String), String> {
    let cap = caps.retained_messages.clamp(1, 60_000);
    let topics: Vec<String> = (0..cap)
        .map(|i| env.topic(&format!("retained/{i}")))
        .collect();
    let (mut publisher, _) = env
        .connect(&env.fresh())
        .await
        .map_err(|e| format!("publisher: {e}"))?;
    let mut set = 0u64;
    let mut stopped = None;
    for (i, topic) in topics.iter().enumerate() {
        env.set_retained(topic);
        let id = u16::try_from(i + 1).unwrap_or(1);
        match env
            .publish_qos1(&mut publisher, topic, Bytes::from_static(b"r"), true, id)
            .await
        {
            Ok(_) => set += 1,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
    }
    env.bye(publisher).await;

    let counted = count(env).await;
    let used: Vec<String> = topics
        .iter()
        .take(usize::try_from(set + 1).unwrap_or(usize::MAX))
        .cloned()
        .collect();
    let cleared = env.clear_retained(&used).await;
    let kept = counted?;
    let mut detail = format!("{set} retained message(s) set, {kept} delivered to a new subscriber");
    if let Some(e) = stopped {
        detail.push_str(&format!("; setting stopped early: {e}"));
    }
    if let Err(e) = cleared {
        detail.push_str(&format!(
            "; clearing them failed ({e}), the final cleanup tries again"
        ));
    }
    let value = if set == 0 {
        Measure::Unknown {
            reason: "no retained message could be set".to_owned(),
        }
    } else if kept >= cap {
        Measure::AtLeast { value: cap }
    } else {
        Measure::Exactly { value: kept }
    };
    Ok((value, detail))
}

/// The distinct retained messages a new subscriber to `<prefix>/retained/#` receives.
async fn count(env: &Env) -> Result<u64, String> {
    let filter = env.topic("retained/#");
    let (mut sub, _) = env
        .connect(&env.fresh())
        .await
        .map_err(|e| format!("subscriber: {e}"))?;
    let mut topics: BTreeSet<String> = BTreeSet::new();
    // SUBSCRIBE by hand: the retained messages may come before the SUBACK.
    let result = async {
        let filter = mqttspec_codec::TopicFilter::new(filter).map_err(|e| e.to_string())?;
        sub.send(&Packet::Subscribe(mqttspec_codec::Subscribe {
            packet_id: super::env::pid(1)?,
            properties: Default::default(),
            filters: vec![(
                filter,
                mqttspec_codec::SubscriptionOptions::qos(QoS::AtLeastOnce),
            )],
        }))
        .await
        .map_err(|e| e.to_string())?;
        let mut deadline = Instant::now() + env.timeout;
        let mut subacked = false;
        loop {
            match sub.recv_until(deadline).await {
                Received::Packet(Packet::SubAck(a)) => {
                    if a.reason_codes.first().is_none_or(|c| c.is_error()) {
                        return Err("SUBACK refused the wildcard subscription".to_owned());
                    }
                    subacked = true;
                    deadline = Instant::now() + env.settle;
                }
                Received::Packet(Packet::Publish(p)) => {
                    ack_if_needed(&mut sub, &p).await;
                    if p.retain && topics.len() < 100_000 {
                        topics.insert(p.topic.as_str().to_owned());
                    }
                    if subacked {
                        deadline = Instant::now() + env.settle;
                    }
                }
                Received::Packet(_) => {}
                Received::Timeout if subacked => return Ok(()),
                other => return Err(format!("subscriber: {}", env.describe(&other))),
            }
        }
    }
    .await;
    env.bye(sub).await;
    result.map(|()| topics.len() as u64)
}
