//! The limits a 5.0 server announces in CONNACK (Receive Maximum, Maximum Packet Size) and the
//! Topic Aliases a server may use towards a client that allowed them.

use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use mqttspec_codec::{
    ConnAckProperties, Packet, PubAck, Publish, RawPacket, StatementId as S, TopicName,
};
use mqttspec_harness::verdict::{Outcome, Precondition};
use serde_json::json;

use super::expect_publish;
use crate::broker::Received;
use crate::case::{none, CaseFuture, ClientCase, Ctx, Role};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[
    ClientCase {
        id: "limits.server-receive-maximum-respected",
        title: "with the server's Receive Maximum at 1, a second QoS 1 PUBLISH waits for the PUBACK of the first",
        checks: &[S::V5_3_3_4_7, S::V5_4_9_0_2],
        faults: &[Fault::IgnoreReceiveMaximum],
        run: receive_maximum,
    },
    ClientCase {
        id: "limits.server-maximum-packet-size-respected",
        title: "with the server's Maximum Packet Size at 64 bytes, a 200-byte message is not sent; a small one is",
        checks: &[S::V5_3_2_2_15],
        faults: &[Fault::IgnoreMaximumPacketSize],
        run: maximum_packet_size,
    },
    ClientCase {
        id: "limits.server-topic-alias-understood",
        title: "a PUBLISH from the server using a Topic Alias the client allowed reaches the application with the topic the alias stands for",
        checks: &[S::V5_3_3_2_10],
        faults: &[Fault::IgnoreTopicAlias],
        run: topic_alias,
    },
    ClientCase {
        id: "limits.topic-alias-ends-with-connection",
        title: "a Topic Alias the server set on one connection means nothing on the next: a PUBLISH using only that alias is not delivered on the old topic",
        checks: &[S::V5_3_3_2_7],
        faults: &[Fault::KeepTopicAliases],
        run: topic_alias_per_connection,
    },
];

fn receive_maximum(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let props = ConnAckProperties {
            receive_maximum: NonZeroU16::new(1),
            ..ConnAckProperties::default()
        };
        let (mut conn, _) = s.open(none(), props).await?;
        for n in ["one", "two"] {
            s.command(json!({"cmd": "publish", "topic": "mqttspec/rm", "payload": n, "qos": 1}))
                .await;
        }
        let first = expect_publish(
            &mut conn,
            t.timing.response,
            Role::Setup(Precondition::Publish),
            "the first QoS 1 PUBLISH",
        )
        .await?;
        match conn.recv_skipping_pings(Duration::from_millis(700)).await {
            Received::Packet(Packet::Publish(p)) if p.qos().as_u8() > 0 => {
                return Err(Outcome::fail(
                    "no second QoS 1 PUBLISH while the first is unacknowledged (Receive Maximum 1)",
                    "the second PUBLISH arrived before the PUBACK",
                )
                .statement(S::V5_3_3_4_7))
            }
            Received::Timeout => {}
            other => {
                return Err(Outcome::inconclusive(
                    Precondition::Other,
                    format!("unexpected while waiting: {}", other.describe(t.version)),
                ))
            }
        }
        if let Some(id) = first.packet_id() {
            conn.send(&Packet::PubAck(PubAck::new(id))).await;
        }
        // The control: the second message goes out once the quota is back.
        let second = expect_publish(
            &mut conn,
            t.timing.response,
            Role::Setup(Precondition::Control),
            "the second QoS 1 PUBLISH after the PUBACK",
        )
        .await?;
        if let Some(id) = second.packet_id() {
            conn.send(&Packet::PubAck(PubAck::new(id))).await;
        }
        t.pass()
    })
}

fn maximum_packet_size(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let props = ConnAckProperties {
            maximum_packet_size: NonZeroU32::new(64),
            ..ConnAckProperties::default()
        };
        let (mut conn, _) = s.open(none(), props).await?;
        let big = "x".repeat(200);
        s.command(json!({"cmd": "publish", "topic": "mqttspec/mps", "payload": big, "qos": 0}))
            .await;
        s.command(json!({"cmd": "publish", "topic": "mqttspec/mps", "payload": "small", "qos": 0}))
            .await;
        loop {
            match conn.recv_skipping_pings(t.timing.response).await {
                Received::Packet(Packet::Publish(p)) if &p.payload[..] == b"small" => break,
                Received::Packet(p) => {
                    let size = p.encoded_len(t.version).unwrap_or(0);
                    if size > 64 {
                        return Err(Outcome::fail(
                            "no packet larger than the server's Maximum Packet Size of 64 bytes",
                            format!("a {} of {size} bytes", p.packet_type()),
                        )
                        .statement(S::V5_3_2_2_15));
                    }
                }
                Received::Malformed(e) => {
                    return Err(Outcome::inconclusive(
                        Precondition::Other,
                        format!("the client sent a malformed packet: {e}"),
                    ))
                }
                other => {
                    return Err(Outcome::inconclusive(
                        Precondition::Control,
                        format!(
                            "the small message did not arrive: {}",
                            other.describe(t.version)
                        ),
                    ))
                }
            }
        }
        t.pass()
    })
}

fn topic_alias(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s
            .open(
                json!({"topic_alias_maximum": 5}),
                ConnAckProperties::default(),
            )
            .await?;
        s.subscribe(&mut conn, "mqttspec/in/#", 0).await?;
        let named =
            TopicName::new("mqttspec/in/alias").map_err(|e| Outcome::error(e.to_string()))?;
        let mut first = Publish::new(named, &b"one"[..]);
        first.properties.topic_alias = NonZeroU16::new(3);
        conn.send(&Packet::Publish(first)).await;
        let e = s
            .expect_event("message", Role::Setup(Precondition::Delivery))
            .await?;
        if e.get("topic").and_then(|v| v.as_str()) != Some("mqttspec/in/alias") {
            return Err(Outcome::inconclusive(
                Precondition::Delivery,
                format!("the first message arrived as {}", e.text()),
            ));
        }
        // Topic Name empty, Topic Alias 3 (property 0x23).
        let second = RawPacket::new(0x30)
            .u16(0)
            .properties(&[0x23, 0x00, 0x03])
            .bytes(b"two")
            .build();
        conn.send_raw(&second, "PUBLISH topic=\"\" Topic Alias 3 payload=\"two\"")
            .await;
        let e = s
            .expect_event("message", Role::Check(S::V5_3_3_2_10))
            .await?;
        match e.get("topic").and_then(|v| v.as_str()) {
            Some("mqttspec/in/alias") => t.pass(),
            other => Err(Outcome::fail(
                "the message with only Topic Alias 3 delivered on mqttspec/in/alias",
                format!("delivered on {other:?}"),
            )
            .statement(S::V5_3_3_2_10)),
        }
    })
}

fn topic_alias_per_connection(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let within = t.timing.response;
        let (mut conn, _) = s
            .open(json!({"topic_alias_maximum": 5}), Default::default())
            .await?;
        s.subscribe(&mut conn, "mqttspec/in/#", 0).await?;
        let named =
            TopicName::new("mqttspec/in/alias").map_err(|e| Outcome::error(e.to_string()))?;
        let mut first = Publish::new(named, &b"one"[..]);
        first.properties.topic_alias = NonZeroU16::new(3);
        conn.send(&Packet::Publish(first)).await;
        s.expect_event("message", Role::Setup(Precondition::Delivery))
            .await?;
        conn.close().await;
        s.expect_event("disconnected", Role::Setup(Precondition::Connection))
            .await?;
        let (mut conn, _) = s
            .open(json!({"topic_alias_maximum": 5}), Default::default())
            .await?;
        s.subscribe(&mut conn, "mqttspec/in/#", 0).await?;
        // Topic Name empty, Topic Alias 3 (property 0x23): no alias 3 on this connection.
        let stale = RawPacket::new(0x30)
            .u16(0)
            .properties(&[0x23, 0x00, 0x03])
            .bytes(b"two")
            .build();
        conn.send_raw(
            &stale,
            "PUBLISH topic=\"\" Topic Alias 3 (set on the previous connection) payload=\"two\"",
        )
        .await;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match s.adapter.wait_for("message", left).await {
                crate::adapter::Wait::Got(e)
                    if e.get("topic").and_then(|v| v.as_str()) == Some("mqttspec/in/alias") =>
                {
                    return Err(Outcome::fail(
                        "the alias of the previous connection not applied (no mapping for Topic Alias 3 on this one)",
                        "the message was delivered on mqttspec/in/alias",
                    )
                    .statement(S::V5_3_3_2_7))
                }
                crate::adapter::Wait::Got(_) => {}
                crate::adapter::Wait::Unsupported(w) => return Err(crate::case::unsupported(&w)),
                crate::adapter::Wait::Exited | crate::adapter::Wait::Timeout => break,
            }
        }
        t.pass()
    })
}
