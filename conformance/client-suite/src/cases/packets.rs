//! The form of what the client sends when the application publishes, subscribes, unsubscribes
//! and disconnects: fixed-header flags, DUP on QoS 0, Topic Names without wildcards, nothing
//! after DISCONNECT.

use mqttspec_codec::{ConnAckProperties, Packet, QoS, StatementId as S, Violation};
use mqttspec_harness::verdict::{Outcome, Precondition};
use serde_json::json;

use super::pick;
use crate::broker::Received;
use crate::case::{none, CaseFuture, ClientCase, Ctx, Role};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[
    ClientCase {
        id: "packets.qos0-publish-dup-0",
        title: "a QoS 0 message goes out as a PUBLISH with QoS 0 and DUP 0",
        checks: &[S::V5_3_3_1_2, S::V5_4_3_1_1, S::V311_3_3_1_2, S::V311_4_3_1_1],
        faults: &[Fault::DupOnQos0],
        run: qos0_dup,
    },
    ClientCase {
        id: "packets.subscribe-unsubscribe-flags",
        title: "SUBSCRIBE and UNSUBSCRIBE carry the fixed-header flags 0010",
        checks: &[S::V5_3_8_1_1, S::V5_3_10_1_1, S::V311_3_8_1_1, S::V311_3_10_1_1],
        faults: &[Fault::SubscribeWrongFlags, Fault::UnsubscribeWrongFlags],
        run: sub_flags,
    },
    ClientCase {
        id: "packets.wildcard-topic-name-not-sent",
        title: "a message the application publishes to a Topic Name with '+' is not sent with it (a later message to a plain topic is)",
        checks: &[S::V5_3_3_2_2, S::V5_4_7_0_1, S::V311_3_3_2_2, S::V311_4_7_1_1],
        faults: &[Fault::AllowWildcardTopic],
        run: wildcard_topic,
    },
    ClientCase {
        id: "packets.nothing-after-disconnect",
        title: "after its DISCONNECT the client sends nothing more and closes the connection",
        checks: &[S::V5_3_14_4_1, S::V5_3_14_4_2, S::V311_3_14_4_1, S::V311_3_14_4_2],
        faults: &[Fault::NoCloseAfterDisconnect, Fault::PacketAfterDisconnect],
        run: after_disconnect,
    },
];

fn qos0_dup(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
        let st = pick(&conn, S::V5_3_3_1_2, S::V311_3_3_1_2);
        s.command(json!({"cmd": "publish", "topic": "mqttspec/q0", "payload": "zero", "qos": 0}))
            .await;
        match conn.recv_skipping_pings(t.timing.response).await {
            Received::Packet(Packet::Publish(p)) if p.qos() == QoS::AtMostOnce && !p.dup => {
                t.pass()
            }
            Received::Packet(Packet::Publish(p)) => Err(Outcome::inconclusive(
                Precondition::Publish,
                format!("the QoS 0 message went out with QoS {}", p.qos().as_u8()),
            )),
            Received::Malformed(e) if e.violation == Violation::DupWithQoS0 => {
                Err(Outcome::fail("PUBLISH with QoS 0 and DUP 0", format!("{e}")).statement(st))
            }
            other => Err(Outcome::inconclusive(
                Precondition::Publish,
                format!("no QoS 0 PUBLISH: {}", other.describe(t.version)),
            )),
        }
    })
}

fn sub_flags(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
        let within = t.timing.response;
        for (cmd, st) in [
            ("subscribe", pick(&conn, S::V5_3_8_1_1, S::V311_3_8_1_1)),
            ("unsubscribe", pick(&conn, S::V5_3_10_1_1, S::V311_3_10_1_1)),
        ] {
            s.command(json!({"cmd": cmd, "topic": "mqttspec/f/#", "qos": 0}))
                .await;
            match conn.recv_skipping_pings(within).await {
                Received::Packet(Packet::Subscribe(sub)) => {
                    conn.send(&Packet::SubAck(mqttspec_codec::SubAck {
                        packet_id: sub.packet_id,
                        properties: Default::default(),
                        reason_codes: vec![mqttspec_codec::ReasonCode::Success],
                    }))
                    .await;
                    s.expect_event("subscribed", Role::Setup(Precondition::Subscribe))
                        .await?;
                }
                Received::Packet(Packet::Unsubscribe(u)) => {
                    let codes = if t.version.is_v5() {
                        vec![mqttspec_codec::ReasonCode::Success]
                    } else {
                        Vec::new()
                    };
                    conn.send(&Packet::UnsubAck(mqttspec_codec::UnsubAck {
                        packet_id: u.packet_id,
                        properties: Default::default(),
                        reason_codes: codes,
                    }))
                    .await;
                }
                Received::Malformed(e)
                    if matches!(e.violation, Violation::ReservedFlags { .. }) =>
                {
                    return Err(Outcome::fail(
                        format!("{} with the fixed-header flags 0010", cmd.to_uppercase()),
                        format!("{e}"),
                    )
                    .statement(st))
                }
                other => {
                    return Err(Outcome::inconclusive(
                        Precondition::Subscribe,
                        format!("no {}: {}", cmd.to_uppercase(), other.describe(t.version)),
                    ))
                }
            }
        }
        t.pass()
    })
}

fn wildcard_topic(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
        let st = pick(&conn, S::V5_3_3_2_2, S::V311_3_3_2_2);
        s.command(json!({"cmd": "publish", "topic": "mqttspec/+/w", "payload": "wild", "qos": 0}))
            .await;
        // The application may be told of the refusal or not; either is fine.
        s.command(
            json!({"cmd": "publish", "topic": "mqttspec/plain", "payload": "plain", "qos": 0}),
        )
        .await;
        loop {
            match conn.recv_skipping_pings(t.timing.response).await {
                Received::Packet(Packet::Publish(p)) if &p.payload[..] == b"plain" => break,
                Received::Packet(_) => {}
                Received::Malformed(e)
                    if matches!(e.violation, Violation::WildcardInTopicName { .. }) =>
                {
                    return Err(Outcome::fail(
                        "no PUBLISH whose Topic Name holds a wildcard",
                        format!("{e}"),
                    )
                    .statement(st))
                }
                Received::Closed => {
                    return Err(Outcome::inconclusive(
                        Precondition::Control,
                        "the client closed the connection instead of sending the plain message",
                    ))
                }
                other => {
                    return Err(Outcome::inconclusive(
                        Precondition::Control,
                        format!(
                            "the plain message did not arrive: {}",
                            other.describe(t.version)
                        ),
                    ))
                }
            }
        }
        t.pass()
    })
}

fn after_disconnect(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
        let (nothing_s, close_s) = if t.version.is_v5() {
            (S::V5_3_14_4_1, S::V5_3_14_4_2)
        } else {
            (S::V311_3_14_4_2, S::V311_3_14_4_1)
        };
        s.command(json!({"cmd": "disconnect"})).await;
        match conn.recv(t.timing.response).await {
            Received::Packet(Packet::Disconnect(_)) => {}
            other => {
                return Err(Outcome::inconclusive(
                    Precondition::Other,
                    format!(
                        "the client sent no DISCONNECT: {}",
                        other.describe(t.version)
                    ),
                ))
            }
        }
        match conn.recv(t.timing.response).await {
            Received::Closed => t.pass(),
            Received::Timeout => Err(Outcome::fail(
                "the connection closed by the client after its DISCONNECT",
                format!("still open after {:?}", t.timing.response),
            )
            .statement(close_s)),
            Received::Packet(p) => Err(Outcome::fail(
                "nothing sent after DISCONNECT",
                format!("{} after DISCONNECT", p.packet_type()),
            )
            .statement(nothing_s)),
            Received::Malformed(e) => Err(Outcome::fail(
                "nothing sent after DISCONNECT",
                format!("bytes after DISCONNECT: {e}"),
            )
            .statement(nothing_s)),
        }
    })
}
