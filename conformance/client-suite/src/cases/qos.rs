//! QoS 1 and QoS 2 flows, both directions, and the Packet Identifier rules.

use std::time::Duration;

use mqttspec_codec::{
    ConnAckProperties, Delivery, Packet, PacketId, PubComp, PubRec, PubRel, Publish, QoS,
    StatementId as S, TopicName, Violation,
};
use mqttspec_harness::verdict::{Outcome, Precondition};
use serde_json::json;

use super::{expect_publish, pick};
use crate::adapter::Wait;
use crate::broker::Received;
use crate::case::{none, unsupported, CaseFuture, ClientCase, Ctx, Role};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[
    ClientCase {
        id: "qos.qos1-publish-fresh-identifiers",
        title: "two QoS 1 messages in flight go out as QoS 1, DUP 0, with distinct non-zero Packet Identifiers, and complete on PUBACK",
        checks: &[
            S::V5_4_3_2_2,
            S::V5_2_2_1_3,
            S::V311_4_3_2_1,
            S::V311_2_3_1_2,
        ],
        faults: &[Fault::DupOnFirstSend, Fault::ReusePacketId],
        run: qos1_out,
    },
    ClientCase {
        id: "qos.qos2-pubrel-after-pubrec",
        title: "a QoS 2 message goes out as QoS 2, DUP 0; PUBREC is answered by PUBREL (flags 0010) with the same Packet Identifier",
        checks: &[
            S::V5_4_3_3_2,
            S::V5_4_3_3_4,
            S::V5_3_6_1_1,
            S::V311_4_3_3_1,
            S::V311_3_6_1_1,
        ],
        faults: &[Fault::NoPubrel, Fault::PubrelWrongFlags, Fault::DupOnFirstSend],
        run: qos2_out,
    },
    ClientCase {
        id: "qos.qos1-received-puback",
        title: "a QoS 1 message from the server is delivered and answered by PUBACK with its Packet Identifier",
        checks: &[
            S::V5_4_3_2_4,
            S::V5_3_3_4_1,
            S::V5_2_2_1_5,
            S::V311_4_3_2_2,
            S::V311_3_3_4_1,
            S::V311_2_3_1_6,
        ],
        faults: &[Fault::NoPuback, Fault::PubackWrongId],
        run: qos1_in,
    },
    ClientCase {
        id: "qos.qos2-received-pubrec-pubcomp",
        title: "a QoS 2 message from the server gets PUBREC, a resent copy before PUBREL is not delivered twice, PUBREL gets PUBCOMP",
        checks: &[
            S::V5_4_3_3_8,
            S::V5_4_3_3_10,
            S::V5_4_3_3_11,
            S::V311_4_3_3_2,
        ],
        faults: &[Fault::NoPubrec, Fault::NoPubcomp],
        run: qos2_in,
    },
    ClientCase {
        id: "qos.qos1-identifier-reused-after-puback",
        title: "after the client acknowledged a QoS 1 message, a PUBLISH with the same Packet Identifier (DUP 1, other payload) is a new message and reaches the application",
        checks: &[S::V5_4_3_2_5, S::V311_4_3_2_2],
        faults: &[Fault::DropRepeatedQos1Id],
        run: qos1_id_reused,
    },
    ClientCase {
        id: "qos.qos2-identifier-reused-after-pubcomp",
        title: "after the client completed a QoS 2 message with PUBCOMP, a PUBLISH with the same Packet Identifier is a new message and reaches the application",
        checks: &[S::V5_4_3_3_12, S::V5_4_3_3_8, S::V311_4_3_3_2],
        faults: &[Fault::KeepQos2IdAfterPubcomp],
        run: qos2_id_reused,
    },
];

fn qos1_out(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
        let within = t.timing.response;
        let dup_s = pick(&conn, S::V5_4_3_2_2, S::V311_4_3_2_1);
        let id_s = pick(&conn, S::V5_2_2_1_3, S::V311_2_3_1_2);
        s.command(json!({"cmd": "publish", "topic": "mqttspec/q1", "payload": "one", "qos": 1}))
            .await;
        s.command(json!({"cmd": "publish", "topic": "mqttspec/q1", "payload": "two", "qos": 1}))
            .await;
        let mut ids = Vec::new();
        for n in ["one", "two"] {
            let p = expect_publish(
                &mut conn,
                within,
                Role::Setup(Precondition::Publish),
                &format!("the PUBLISH of message {n}"),
            )
            .await?;
            if p.qos() != QoS::AtLeastOnce || p.dup {
                return Err(Outcome::fail(
                    format!("message {n} sent with QoS 1 and DUP 0"),
                    format!("QoS {} DUP {}", p.qos().as_u8(), u8::from(p.dup)),
                )
                .statement(dup_s));
            }
            let Some(id) = p.packet_id() else {
                return Err(Outcome::error("a QoS 1 PUBLISH decoded without identifier"));
            };
            if ids.contains(&id) {
                return Err(Outcome::fail(
                    "a Packet Identifier not in use by the message still in flight",
                    format!("both messages carry Packet Identifier {id}"),
                )
                .statement(id_s));
            }
            ids.push(id);
        }
        for id in &ids {
            conn.send(&Packet::PubAck(mqttspec_codec::PubAck::new(*id)))
                .await;
        }
        for _ in &ids {
            s.expect_event("published", Role::Setup(Precondition::Publish))
                .await?;
        }
        t.pass()
    })
}

fn qos2_out(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
        let within = t.timing.response;
        let dup_s = pick(&conn, S::V5_4_3_3_2, S::V311_4_3_3_1);
        let rel_s = pick(&conn, S::V5_4_3_3_4, S::V311_4_3_3_1);
        let flags_s = pick(&conn, S::V5_3_6_1_1, S::V311_3_6_1_1);
        s.command(json!({"cmd": "publish", "topic": "mqttspec/q2", "payload": "two", "qos": 2}))
            .await;
        let p = expect_publish(
            &mut conn,
            within,
            Role::Setup(Precondition::PublishQos2),
            "the QoS 2 PUBLISH",
        )
        .await?;
        if p.qos() != QoS::ExactlyOnce || p.dup {
            return Err(Outcome::fail(
                "the message sent with QoS 2 and DUP 0",
                format!("QoS {} DUP {}", p.qos().as_u8(), u8::from(p.dup)),
            )
            .statement(dup_s));
        }
        let Some(id) = p.packet_id() else {
            return Err(Outcome::error("a QoS 2 PUBLISH decoded without identifier"));
        };
        conn.send(&Packet::PubRec(PubRec::new(id))).await;
        match conn.recv_skipping_pings(within).await {
            Received::Packet(Packet::PubRel(rel)) if rel.packet_id == id => {}
            Received::Malformed(e) if matches!(e.violation, Violation::ReservedFlags { .. }) => {
                return Err(Outcome::fail(
                    "PUBREL with the fixed-header flags 0010",
                    format!("{e}"),
                )
                .statement(flags_s))
            }
            other => {
                return Err(Outcome::fail(
                    format!("PUBREL with Packet Identifier {id} after PUBREC"),
                    other.describe(conn.version()),
                )
                .statement(rel_s))
            }
        }
        conn.send(&Packet::PubComp(PubComp::new(id))).await;
        s.expect_event("published", Role::Setup(Precondition::PublishQos2))
            .await?;
        t.pass()
    })
}

fn publish(id: u16, qos: QoS, payload: &str) -> Result<Publish, Outcome> {
    let topic = TopicName::new("mqttspec/in/a").map_err(|e| Outcome::error(e.to_string()))?;
    let mut p = Publish::new(topic, payload.as_bytes().to_vec());
    let id = PacketId::new(id).ok_or_else(|| Outcome::error("Packet Identifier 0"))?;
    p.delivery = Delivery::new(qos, id);
    Ok(p)
}

fn qos1_in(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
        s.subscribe(&mut conn, "mqttspec/in/#", 1).await?;
        let within = t.timing.response;
        let ack_s = pick(&conn, S::V5_4_3_2_4, S::V311_4_3_2_2);
        let id = 0x1234;
        conn.send(&Packet::Publish(publish(id, QoS::AtLeastOnce, "q1")?))
            .await;
        match conn.recv_skipping_pings(within).await {
            Received::Packet(Packet::PubAck(a)) if a.packet_id.get() == id => {}
            other => {
                return Err(Outcome::fail(
                    format!("PUBACK with Packet Identifier {id}"),
                    other.describe(conn.version()),
                )
                .statement(ack_s))
            }
        }
        s.expect_event("message", Role::Setup(Precondition::Delivery))
            .await?;
        t.pass()
    })
}

fn qos2_in(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
        s.subscribe(&mut conn, "mqttspec/in/#", 2).await?;
        let within = t.timing.response;
        let rec_s = pick(&conn, S::V5_4_3_3_8, S::V311_4_3_3_2);
        let once_s = pick(&conn, S::V5_4_3_3_10, S::V311_4_3_3_2);
        let comp_s = pick(&conn, S::V5_4_3_3_11, S::V311_4_3_3_2);
        let id = 77;
        let first = publish(id, QoS::ExactlyOnce, "q2")?;
        conn.send(&Packet::Publish(first.clone())).await;
        for attempt in ["the PUBLISH", "the resent PUBLISH (DUP 1)"] {
            match conn.recv_skipping_pings(within).await {
                Received::Packet(Packet::PubRec(r)) if r.packet_id.get() == id => {}
                other => {
                    return Err(Outcome::fail(
                        format!("PUBREC with Packet Identifier {id} for {attempt}"),
                        other.describe(conn.version()),
                    )
                    .statement(rec_s))
                }
            }
            if attempt == "the PUBLISH" {
                // The server resends before releasing, as if the PUBREC had been lost.
                let again = Publish {
                    dup: true,
                    ..first.clone()
                };
                conn.send(&Packet::Publish(again)).await;
            }
        }
        let Some(pid) = PacketId::new(id) else {
            return Err(Outcome::error("identifier 0"));
        };
        conn.send(&Packet::PubRel(PubRel::new(pid))).await;
        match conn.recv_skipping_pings(within).await {
            Received::Packet(Packet::PubComp(c)) if c.packet_id.get() == id => {}
            other => {
                return Err(Outcome::fail(
                    format!("PUBCOMP with Packet Identifier {id} after PUBREL"),
                    other.describe(conn.version()),
                )
                .statement(comp_s))
            }
        }
        s.expect_event("message", Role::Setup(Precondition::Delivery))
            .await?;
        let more = s.adapter.drain(Duration::from_millis(300)).await;
        let again = more.iter().filter(|e| e.kind() == Some("message")).count();
        if again > 0 {
            return Err(Outcome::fail(
                "the message delivered to the application once",
                format!("delivered {} times", again + 1),
            )
            .statement(once_s));
        }
        t.pass()
    })
}

/// Waits for the application to be given the message with `payload` (other messages are
/// skipped); when it does not come, the outcome `role` gives for a missed step.
async fn expect_message_with(
    s: &mut crate::case::Session,
    payload: &str,
    within: Duration,
    role: Role,
    why: &str,
) -> Result<(), Outcome> {
    let deadline = tokio::time::Instant::now() + within;
    let expected = format!("the message {payload:?} delivered to the application ({why})");
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match s.adapter.wait_for("message", left).await {
            Wait::Got(e) if e.get("payload").and_then(|v| v.as_str()) == Some(payload) => {
                return Ok(())
            }
            Wait::Got(_) => {}
            Wait::Unsupported(w) => return Err(unsupported(&w)),
            Wait::Exited => return Err(role.missed(expected, "the adapter exited")),
            Wait::Timeout => {
                return Err(role.missed(expected, format!("not delivered within {within:?}")))
            }
        }
    }
}

fn qos1_id_reused(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), Default::default()).await?;
        s.subscribe(&mut conn, "mqttspec/in/#", 1).await?;
        let within = t.timing.response;
        let new_s = pick(&conn, S::V5_4_3_2_5, S::V311_4_3_2_2);
        let id = 0x0101;
        conn.send(&Packet::Publish(publish(id, QoS::AtLeastOnce, "first")?))
            .await;
        match conn.recv_skipping_pings(within).await {
            Received::Packet(Packet::PubAck(a)) if a.packet_id.get() == id => {}
            other => {
                return Err(Outcome::inconclusive(
                    Precondition::Delivery,
                    format!(
                        "no PUBACK for the first QoS 1 message: {}",
                        other.describe(conn.version())
                    ),
                ))
            }
        }
        let first = Role::Setup(Precondition::Delivery);
        expect_message_with(&mut s, "first", within, first, "the first message").await?;
        // The identifier is free again once PUBACK went out: whatever its DUP flag, this is
        // another Application Message.
        let second = Publish {
            dup: true,
            ..publish(id, QoS::AtLeastOnce, "second")?
        };
        conn.send(&Packet::Publish(second)).await;
        expect_message_with(
            &mut s,
            "second",
            within,
            Role::Check(new_s),
            "a new message: its Packet Identifier was acknowledged before",
        )
        .await?;
        t.pass()
    })
}

fn qos2_id_reused(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), Default::default()).await?;
        s.subscribe(&mut conn, "mqttspec/in/#", 2).await?;
        let within = t.timing.response;
        let new_s = pick(&conn, S::V5_4_3_3_12, S::V311_4_3_3_2);
        let id = 0x0202;
        let Some(pid) = PacketId::new(id) else {
            return Err(Outcome::error("identifier 0"));
        };
        conn.send(&Packet::Publish(publish(id, QoS::ExactlyOnce, "first")?))
            .await;
        let setup = |what: &str, other: Received, conn: &crate::broker::ServerConn| {
            Outcome::inconclusive(
                Precondition::Delivery,
                format!(
                    "the first QoS 2 exchange did not complete: no {what}: {}",
                    other.describe(conn.version())
                ),
            )
        };
        match conn.recv_skipping_pings(within).await {
            Received::Packet(Packet::PubRec(r)) if r.packet_id.get() == id => {}
            other => return Err(setup("PUBREC", other, &conn)),
        }
        conn.send(&Packet::PubRel(PubRel::new(pid))).await;
        match conn.recv_skipping_pings(within).await {
            Received::Packet(Packet::PubComp(c)) if c.packet_id.get() == id => {}
            other => return Err(setup("PUBCOMP", other, &conn)),
        }
        let first = Role::Setup(Precondition::Delivery);
        expect_message_with(&mut s, "first", within, first, "the first message").await?;
        conn.send(&Packet::Publish(publish(id, QoS::ExactlyOnce, "second")?))
            .await;
        // Complete this exchange too: a client may deliver a QoS 2 message only on PUBREL
        // (4.3.3, Method B).
        match conn.recv_skipping_pings(within).await {
            Received::Packet(Packet::PubRec(r)) if r.packet_id.get() == id => {
                conn.send(&Packet::PubRel(PubRel::new(pid))).await;
                let _ = conn.recv_skipping_pings(within).await;
            }
            other => {
                return Err(Outcome::fail(
                    format!("PUBREC with Packet Identifier {id} for the new message"),
                    other.describe(conn.version()),
                )
                .statement(pick(&conn, S::V5_4_3_3_8, S::V311_4_3_3_2)))
            }
        }
        expect_message_with(
            &mut s,
            "second",
            within,
            Role::Check(new_s),
            "a new message: its Packet Identifier was completed with PUBCOMP before",
        )
        .await?;
        t.pass()
    })
}
