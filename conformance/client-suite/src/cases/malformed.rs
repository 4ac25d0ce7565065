//! The client closing the Network Connection on malformed packets and protocol violations
//! from the server.
//!
//! MQTT 3.1.1 makes closing a MUST (1.5.3 for ill-formed UTF-8, 2.2.2 for invalid flags, 4.8
//! for every other protocol violation): FAIL when the client stays. MQTT 5.0 makes it a SHOULD
//! for a client (4.13.1, untagged; the tagged statements cited for 5.0 are the rules the
//! server's packet breaks): NON-STRICT when the client stays.
//!
//! Each case first sends the well-formed twin of the bad packet and requires the client to
//! take it (the message reaches the application, or the acknowledgement flow completes), so a
//! client that closes on everything does not pass; a twin not taken is INCONCLUSIVE.

use mqttspec_codec::{
    ConnAckProperties, Packet, PacketId, PubRel, Publish, QoS, RawPacket, StatementId as S,
    TopicName,
};
use mqttspec_harness::verdict::{Outcome, Precondition};

use super::expect_close;
use crate::broker::{Received, ServerConn};
use crate::case::{none, CaseFuture, CaseResult, ClientCase, Ctx, Role, Session};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[
    ClientCase {
        id: "malformed.invalid-utf8-topic-closes",
        title: "a PUBLISH whose Topic Name is not well-formed UTF-8 makes the client close the connection",
        checks: &[S::V311_1_5_3_1, S::V5_1_5_4_1],
        faults: &[Fault::TolerateMalformed],
        run: invalid_utf8,
    },
    ClientCase {
        id: "malformed.remaining-length-too-long-closes",
        title: "a Remaining Length of five bytes makes the client close the connection",
        checks: &[S::V311_4_8_0_1],
        faults: &[Fault::TolerateMalformed],
        run: long_remaining_length,
    },
    ClientCase {
        id: "malformed.reserved-packet-type-closes",
        title: "a packet of the reserved type 0 makes the client close the connection",
        checks: &[S::V311_4_8_0_1],
        faults: &[Fault::TolerateMalformed],
        run: reserved_type,
    },
    ClientCase {
        id: "malformed.suback-without-return-codes-closes",
        title: "a SUBACK without any return code makes the client close the connection",
        checks: &[S::V311_4_8_0_1],
        faults: &[Fault::TolerateMalformed],
        run: empty_suback,
    },
    ClientCase {
        id: "malformed.pubrel-invalid-flags-closes",
        title: "a PUBREL with the fixed-header flags 0000 instead of 0010 makes the client close the connection",
        checks: &[S::V311_2_2_2_2, S::V5_2_1_3_1],
        faults: &[Fault::TolerateMalformed],
        run: pubrel_flags,
    },
];

const TOPIC: &str = "mqttspec/in/ok";

/// Opens, subscribes to `mqttspec/in/#` and has a well-formed QoS 0 PUBLISH delivered.
async fn open_with_twin(t: &Ctx) -> Result<(Session, ServerConn), Outcome> {
    let mut s = t.start().await?;
    let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
    s.subscribe(&mut conn, "mqttspec/in/#", 1).await?;
    let topic = TopicName::new(TOPIC).map_err(|e| Outcome::error(e.to_string()))?;
    conn.send(&Packet::Publish(Publish::new(topic, &b"twin"[..])))
        .await;
    s.expect_event("message", Role::Setup(Precondition::Twin))
        .await?;
    Ok((s, conn))
}

async fn judge(t: &Ctx, conn: &mut ServerConn, v311: S, v5: Option<S>, after: &str) -> CaseResult {
    let within = t.timing.response;
    let o = if t.version.is_v5() {
        let Some(st) = v5 else {
            return Err(Outcome::error("case bug: no 5.0 statement"));
        };
        expect_close(conn, within, st, false, after).await
    } else {
        expect_close(conn, within, v311, true, after).await
    };
    Ok(o)
}

fn props_len(t: &Ctx, raw: RawPacket) -> RawPacket {
    if t.version.is_v5() {
        raw.u8(0)
    } else {
        raw
    }
}

fn invalid_utf8(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (_s, mut conn) = open_with_twin(&t).await?;
        let raw = RawPacket::new(0x30).binary(b"mqttspec/in/\xff\xfe");
        let raw = props_len(&t, raw).bytes(b"bad").build();
        conn.send_raw(&raw, "PUBLISH with Topic Name bytes FF FE")
            .await;
        judge(
            &t,
            &mut conn,
            S::V311_1_5_3_1,
            Some(S::V5_1_5_4_1),
            "a Topic Name that is not UTF-8",
        )
        .await
    })
}

fn long_remaining_length(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (_s, mut conn) = open_with_twin(&t).await?;
        let raw = RawPacket::new(0x30)
            .remaining_length_bytes(&[0x80, 0x80, 0x80, 0x80, 0x01])
            .string(TOPIC)
            .build();
        conn.send_raw(&raw, "PUBLISH with a five-byte Remaining Length")
            .await;
        judge(
            &t,
            &mut conn,
            S::V311_4_8_0_1,
            None,
            "a five-byte Remaining Length",
        )
        .await
    })
}

fn reserved_type(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (_s, mut conn) = open_with_twin(&t).await?;
        conn.send_raw(&[0x00, 0x00], "a packet of type 0").await;
        judge(&t, &mut conn, S::V311_4_8_0_1, None, "a packet of type 0").await
    })
}

fn empty_suback(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        // The twin is the first subscription, granted with a proper SUBACK.
        let (mut s, mut conn) = open_with_twin(&t).await?;
        s.command(serde_json::json!({"cmd": "subscribe", "topic": "mqttspec/other", "qos": 0}))
            .await;
        let sub = match conn.recv_skipping_pings(t.timing.response).await {
            Received::Packet(Packet::Subscribe(sub)) => sub,
            other => {
                return Err(Outcome::inconclusive(
                    Precondition::Subscribe,
                    format!("no second SUBSCRIBE: {}", other.describe(t.version)),
                ))
            }
        };
        let raw = props_len(&t, RawPacket::new(0x90).u16(sub.packet_id.get())).build();
        conn.send_raw(&raw, "SUBACK without return codes").await;
        judge(
            &t,
            &mut conn,
            S::V311_4_8_0_1,
            None,
            "a SUBACK without return codes",
        )
        .await
    })
}

fn pubrel_flags(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (_s, mut conn) = open_with_twin(&t).await?;
        let within = t.timing.response;
        let topic = TopicName::new(TOPIC).map_err(|e| Outcome::error(e.to_string()))?;
        for (id, well_formed) in [(5u16, true), (6, false)] {
            let Some(pid) = PacketId::new(id) else {
                return Err(Outcome::error("identifier 0"));
            };
            let mut p = Publish::new(topic.clone(), &b"q2"[..]);
            p.delivery = mqttspec_codec::Delivery::new(QoS::ExactlyOnce, pid);
            conn.send(&Packet::Publish(p)).await;
            match conn.recv_skipping_pings(within).await {
                Received::Packet(Packet::PubRec(r)) if r.packet_id == pid => {}
                other => {
                    return Err(Outcome::inconclusive(
                        Precondition::Twin,
                        format!(
                            "no PUBREC for the QoS 2 PUBLISH: {}",
                            other.describe(t.version)
                        ),
                    ))
                }
            }
            if well_formed {
                conn.send(&Packet::PubRel(PubRel::new(pid))).await;
                match conn.recv_skipping_pings(within).await {
                    Received::Packet(Packet::PubComp(c)) if c.packet_id == pid => {}
                    other => {
                        return Err(Outcome::inconclusive(
                            Precondition::Twin,
                            format!(
                                "the well-formed PUBREL got no PUBCOMP: {}",
                                other.describe(t.version)
                            ),
                        ))
                    }
                }
            } else {
                let raw = props_len(&t, RawPacket::new(0x60).u16(id));
                let raw = if t.version.is_v5() {
                    // Reason Code 0x00 before the (empty) properties.
                    RawPacket::new(0x60).u16(id).u8(0).u8(0)
                } else {
                    raw
                };
                conn.send_raw(&raw.build(), "PUBREL with flags 0000").await;
            }
        }
        judge(
            &t,
            &mut conn,
            S::V311_2_2_2_2,
            Some(S::V5_2_1_3_1),
            "a PUBREL with invalid flags",
        )
        .await
    })
}
