//! MQTT 5.0 flow control (4.9, 3.3.4): the server enforces its own Receive Maximum on what
//! clients send, and respects each client's Receive Maximum (the send quota) when sending,
//! while still answering every other packet.

use std::collections::VecDeque;
use std::num::NonZeroU16;

use bytes::Bytes;
use mqttspec_codec::{
    Packet, PacketId, PacketType, Properties, PubComp, PubRec, Publish, QoS, ReasonCode,
    StatementId as S, TopicName,
};
use tokio::time::Instant;

use super::shared::{payloads, protocol_error_reply, publish_all};
use crate::client::Received;
use crate::scenario::{millis, BoxFuture, Capability, Case, CaseResult, Ctx, Failure, Protocols};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        SERVER_RECEIVE_MAXIMUM_ENFORCED,
        CLIENT_RECEIVE_MAXIMUM_RESPECTED,
        OTHER_PACKETS_AT_ZERO_QUOTA,
        QOS2_QUOTA_RETURNS_AT_PUBCOMP,
    ]
}

/// The largest server Receive Maximum this module tries to exceed (each message is a
/// packet and a round trip).
const LARGEST_RECEIVE_MAXIMUM: u16 = 1000;

/// CONNECT properties with a Receive Maximum.
fn receive_maximum(n: u16) -> Properties {
    Properties {
        receive_maximum: NonZeroU16::new(n),
        ..Properties::default()
    }
}

// ---------------------------------------------------------------------------------------

const SERVER_RECEIVE_MAXIMUM_ENFORCED: Case = Case {
    id: "flow.server-receive-maximum-enforced",
    title: "One QoS 2 PUBLISH more than the server's Receive Maximum left unacknowledged is a Protocol Error (DISCONNECT 0x93 first)",
    area: "Flow Control",
    statements: &[S::V5_3_3_4_7, S::V5_4_13_1_1],
    protocols: Protocols::V5,
    requires: &[Capability::QoS2],
    faults: &["unenforced-receive-maximum"],
    unfaultable: None,
    run: server_receive_maximum_enforced,
};

fn server_receive_maximum_enforced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let max = c
            .connack()
            .and_then(|a| a.properties.receive_maximum)
            .map_or(u16::MAX, NonZeroU16::get);
        if max > LARGEST_RECEIVE_MAXIMUM {
            return t.unsupported(format!(
                "the server's Receive Maximum is {max}: too many messages to exceed it in a short case"
            ));
        }
        let topic = TopicName::new(t.topic("rm"))
            .map_err(|e| Failure::error(format!("case error: {e}")))?;
        let qos2 = |id: u16| -> Result<Packet, Failure> {
            let packet_id = PacketId::new(id)
                .ok_or_else(|| Failure::error("case error: Packet Identifier 0"))?;
            Ok(Packet::Publish(Publish {
                dup: false,
                qos: QoS::ExactlyOnce,
                retain: false,
                topic: topic.clone(),
                packet_id: Some(packet_id),
                properties: Properties::default(),
                payload: Bytes::from_static(b"x"),
            }))
        };
        // Fill the server's quota: PUBREC for each, no PUBREL, so none is complete.
        for id in 1..=max {
            c.send(&qos2(id)?).await?;
        }
        for _ in 1..=max {
            let rec = c.expect_packet(PacketType::PubRec).await?;
            if let Packet::PubRec(PubRec { reason_code, .. }) = rec {
                if reason_code.is_error() {
                    return t.error(format!(
                        "the broker refused a QoS 2 PUBLISH with PUBREC {reason_code:?}: the quota cannot be filled"
                    ));
                }
            }
        }
        // One more than the Receive Maximum.
        c.send(&qos2(max + 1)?).await?;
        protocol_error_reply(&t, &mut c, &[ReasonCode::ReceiveMaximumExceeded]).await
    })
}

// ---------------------------------------------------------------------------------------

const CLIENT_RECEIVE_MAXIMUM_RESPECTED: Case = Case {
    id: "flow.client-receive-maximum-respected",
    title: "The broker never has more unacknowledged QoS 1 PUBLISH packets out than the client's Receive Maximum (2), and sends the rest as acknowledgements come",
    area: "Flow Control",
    statements: &[S::V5_3_3_4_9, S::V5_4_9_0_1, S::V5_4_9_0_2],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["ignore-receive-maximum"],
    unfaultable: None,
    run: client_receive_maximum_respected,
};

fn client_receive_maximum_respected(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        const MAX: usize = 2;
        let topic = t.topic("rm");
        let mut sub = t
            .client("sub")
            .properties(receive_maximum(MAX as u16))
            .connect()
            .await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        let sent = payloads(6);
        publish_all(&mut publisher, &topic, &sent).await?;
        // Take what comes without acknowledging; when the broker goes quiet, acknowledge
        // the oldest message, which gives it one more unit of quota.
        let mut unacked: VecDeque<Publish> = VecDeque::new();
        let mut received = Vec::new();
        let deadline = Instant::now() + t.response_timeout() * 3;
        while received.len() < sent.len() {
            if Instant::now() > deadline {
                return t.fail(
                    format!(
                        "all {} messages, as acknowledgements free the quota",
                        sent.len()
                    ),
                    format!("{} received", received.len()),
                );
            }
            match sub.recv(millis(150)).await {
                Received::Packet(Packet::Publish(p)) => {
                    received.push(String::from_utf8_lossy(&p.payload).into_owned());
                    if p.qos != QoS::AtMostOnce {
                        unacked.push_back(p);
                    }
                    t.check(
                        unacked.len() <= MAX,
                        format!("at most {MAX} unacknowledged QoS 1 PUBLISH packets"),
                        format!("{} unacknowledged", unacked.len()),
                    )
                    .map_err(|f| f.statement(S::V5_3_3_4_9))?;
                }
                Received::Timeout => {
                    if let Some(p) = unacked.pop_front() {
                        sub.ack(&p).await?;
                    }
                }
                Received::Packet(Packet::Disconnect(d)) => {
                    return Err(sub.unmet(
                        "PUBLISH (the connection open)",
                        Received::Packet(Packet::Disconnect(d)),
                    ))
                }
                Received::Packet(_) => {}
                other => return Err(sub.unmet("PUBLISH (the connection open)", other)),
            }
        }
        for p in unacked {
            sub.ack(&p).await?;
        }
        received.sort();
        t.check_eq("messages received", sent, received)?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const OTHER_PACKETS_AT_ZERO_QUOTA: Case = Case {
    id: "flow.other-packets-answered-at-zero-quota",
    title: "With the client's quota used up (Receive Maximum 1) the broker sends no further QoS 1 PUBLISH but still answers PINGREQ and SUBSCRIBE",
    area: "Flow Control",
    statements: &[S::V5_4_9_0_2, S::V5_4_9_0_3, S::V5_3_3_4_10],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["ignore-receive-maximum"],
    unfaultable: None,
    run: other_packets_at_zero_quota,
};

fn other_packets_at_zero_quota(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q0");
        let mut sub = t
            .client("sub")
            .properties(receive_maximum(1))
            .connect()
            .await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publish_all(&mut publisher, &topic, &payloads(3)).await?;
        let first = sub
            .expect_publish()
            .topic(&topic)
            .qos(1)
            .no_auto_ack()
            .await?;
        sub.expect_no_publish()
            .for_(millis(300))
            .await
            .map_err(|f| f.statement(S::V5_4_9_0_2))?;
        // The quota is zero: other packets are still answered.
        sub.alive().await.map_err(|f| f.statement(S::V5_4_9_0_3))?;
        sub.subscribe(t.topic("other"))
            .qos(1)
            .await
            .map_err(|f| f.statement(S::V5_3_3_4_10))?;
        sub.ack(&first).await?;
        for _ in 0..2 {
            sub.expect_publish().topic(&topic).qos(1).await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const QOS2_QUOTA_RETURNS_AT_PUBCOMP: Case = Case {
    id: "flow.qos2-quota-returns-at-pubcomp",
    title: "A QoS 2 message uses the client's quota until PUBCOMP: with Receive Maximum 1 the next PUBLISH waits for it",
    area: "Flow Control",
    statements: &[S::V5_3_3_4_9, S::V5_4_9_0_2],
    protocols: Protocols::V5,
    requires: &[Capability::QoS2],
    faults: &["ignore-receive-maximum"],
    unfaultable: None,
    run: qos2_quota_returns_at_pubcomp,
};

fn qos2_quota_returns_at_pubcomp(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q2");
        let mut sub = t
            .client("sub")
            .properties(receive_maximum(1))
            .connect()
            .await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        for p in ["first", "second"] {
            publisher.publish(&topic).qos(2).payload(p).await?;
        }
        let first = sub
            .expect_publish()
            .topic(&topic)
            .qos(2)
            .payload("first")
            .no_auto_ack()
            .await?;
        let id = first
            .packet_id
            .ok_or_else(|| Failure::fail("a Packet Identifier on a QoS 2 PUBLISH", "none"))?;
        sub.send(&Packet::PubRec(PubRec::new(id))).await?;
        sub.expect_packet(PacketType::PubRel).await?;
        // PUBREC 0x00 does not give the quota back; only PUBCOMP does.
        sub.expect_no_publish()
            .for_(millis(300))
            .await
            .map_err(|f| f.statement(S::V5_3_3_4_9))?;
        sub.send(&Packet::PubComp(PubComp::new(id))).await?;
        sub.expect_publish()
            .topic(&topic)
            .qos(2)
            .payload("second")
            .await?;
        t.pass()
    })
}
