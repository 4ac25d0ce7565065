//! Whether the broker queues QoS 0 messages for a session whose client is offline (the
//! specification lets it choose). A subscriber with a kept session (MQTT 5.0: Session Expiry
//! Interval 300; MQTT 3.1.1: Clean Session 0) subscribes at QoS 1 and leaves; a publisher
//! sends a QoS 0 message and then a QoS 1 one (the control: it shows the session kept
//! messages at all) and waits for its PUBACK; the subscriber comes back and collects what
//! was kept. Its session is ended afterwards.

use bytes::Bytes;
use mqttspec_codec::{Packet, QoS};
use tokio::time::Instant;

use super::env::{ack_if_needed, ConnectSpec, Env};
use super::report::{Finding, Measure};
use crate::client::Received;

/// Runs the probe.
pub async fn probe(env: &Env) -> Finding {
    let client_id = env.client_id();
    env.kept_session(&client_id);
    let (value, detail) = match measure(env, &client_id).await {
        Ok(x) => x,
        Err(reason) => (Measure::Unknown { reason }, String::new()),
    };
    // The final cleanup tries again if this fails.
    let _ = env.end_session(&client_id).await;
    Finding::new(
        "qos0_queued_offline",
        "QoS 0 messages queued for an offline session",
        "",
        value,
        detail,
    )
}

async fn measure(env: &Env, client_id: &str) -> Result<(Measure, String), String> {
    let topic = env.topic("offline");
    let keep = ConnectSpec {
        client_id: client_id.to_owned(),
        clean_start: !env.version.is_v5(),
        session_expiry: Some(300),
        receive_maximum: None,
    };
    // MQTT 3.1.1 keeps a session with Clean Session 0; MQTT 5.0 with a Session Expiry.
    let first = ConnectSpec {
        clean_start: env.version.is_v5(),
        ..keep.clone()
    };
    let (mut sub, _) = env
        .connect(&first)
        .await
        .map_err(|e| format!("subscriber: {e}"))?;
    let subscribed = env.subscribe(&mut sub, &topic, QoS::AtLeastOnce).await;
    env.bye(sub).await;
    subscribed.map_err(|e| format!("subscriber: {e}"))?;

    let (mut publisher, _) = env
        .connect(&env.fresh())
        .await
        .map_err(|e| format!("publisher: {e}"))?;
    let sent = async {
        env.publish_qos0(&mut publisher, &topic, Bytes::from_static(b"q0"), false)
            .await?;
        env.publish_qos1(&mut publisher, &topic, Bytes::from_static(b"q1"), false, 1)
            .await
    }
    .await;
    env.bye(publisher).await;
    sent.map_err(|e| format!("publisher: {e}"))?;

    let back = ConnectSpec {
        clean_start: false,
        // MQTT 5.0: the session ends with this connection.
        session_expiry: None,
        ..keep
    };
    let (mut sub, ack) = env
        .connect(&back)
        .await
        .map_err(|e| format!("subscriber coming back: {e}"))?;
    if !ack.session_present {
        env.bye(sub).await;
        return Err(
            "the session was not kept (CONNACK Session Present 0): nothing to observe".to_owned(),
        );
    }
    let (mut q0, mut q1) = (false, false);
    let mut ended = None;
    loop {
        match sub.recv_until(Instant::now() + env.settle).await {
            Received::Packet(Packet::Publish(p)) => {
                ack_if_needed(&mut sub, &p).await;
                if p.topic.as_str() == topic {
                    q0 |= p.payload.as_ref() == b"q0";
                    q1 |= p.payload.as_ref() == b"q1";
                }
            }
            Received::Packet(_) => {}
            Received::Timeout => break,
            other => {
                ended = Some(env.describe(&other));
                break;
            }
        }
        if q0 && q1 {
            break;
        }
    }
    env.bye(sub).await;
    let suffix = ended.map_or(String::new(), |e| format!(" (then {e})"));
    match (q0, q1) {
        (true, _) => Ok((
            Measure::Choice { value: true },
            format!("the QoS 0 message published while the subscriber was offline was delivered when it came back{suffix}"),
        )),
        (false, true) => Ok((
            Measure::Choice { value: false },
            format!("the QoS 1 message was kept for the offline session, the QoS 0 one sent just before it was not{suffix}"),
        )),
        (false, false) => Err(format!(
            "the session was kept but delivered neither the QoS 0 nor the QoS 1 message{suffix}"
        )),
    }
}
