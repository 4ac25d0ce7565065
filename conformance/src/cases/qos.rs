//! QoS delivery: the QoS 0/1/2 flows in both directions, Packet Identifiers, DUP, exactly-once
//! delivery, redelivery when a session resumes, Receive Maximum and Maximum QoS.
//!
//! The helpers at the bottom (explicit PUBLISH packets, acknowledgement checks, persistent
//! subscribers) are shared with the `publish` and `ordering` modules.

use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    Packet, PacketId, PacketType, Properties, PubComp, PubRec, PubRel, Publish, QoS, RawPacket,
    ReasonCode, StatementId as S, TopicName,
};

use crate::client::{summary, Received};
use crate::scenario::{
    millis, BoxFuture, Capability, Case, CaseResult, Client, Ctx, Failure, Protocols, Reply,
};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        PUBACK_ECHOES_PACKET_ID,
        PUBREC_PUBCOMP_ECHO_PACKET_ID,
        PUBREL_UNKNOWN_PACKET_ID,
        PUBREL_RESERVED_FLAGS,
        QOS2_DUPLICATE_NOT_FORWARDED,
        QOS2_DELIVERY_METHOD,
        QOS1_PACKET_ID_REUSABLE,
        QOS2_PACKET_ID_REUSABLE,
        DELIVERED_QOS_IS_MINIMUM,
        SERVER_QOS1_PACKET_IDS,
        SERVER_QOS2_FLOW,
        DUP_NOT_PROPAGATED,
        QOS1_RESENT_ON_RESUME,
        QOS2_RESENT_ON_RESUME,
        PUBREL_RESENT_ON_RESUME,
        RECEIVE_MAXIMUM_LIMITS_INFLIGHT,
        RECEIVE_MAXIMUM_COUNTS_UNTIL_PUBCOMP,
        PUBACK_WITHOUT_SUBSCRIBERS,
        MAXIMUM_QOS_ENFORCED,
    ]
}

// ---------------------------------------------------------------------------------------

const PUBACK_ECHOES_PACKET_ID: Case = Case {
    id: "qos.puback-echoes-packet-id",
    title: "QoS 1 PUBLISH gets a PUBACK with its Packet Identifier; QoS 0 gets no answer",
    area: "QoS Delivery",
    statements: &[
        S::V5_4_3_2_4,
        S::V5_2_2_1_5,
        S::V5_3_3_4_1,
        S::V5_3_4_2_1,
        S::V311_4_3_2_2,
        S::V311_2_3_1_6,
        S::V311_3_3_4_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["wrong-packet-id"],
    unfaultable: None,
    run: puback_echoes_packet_id,
};

fn puback_echoes_packet_id(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut c = t.client("pub").connect().await?;
        // QoS 0: no acknowledgement, so the answer to the next PINGREQ comes first.
        c.send(&Packet::Publish(publish_packet(&topic, 0, None, b"qos0")?))
            .await?;
        c.send(&Packet::PingReq).await?;
        let first = c.recv(c.timeout()).await;
        if !matches!(first, Received::Packet(Packet::PingResp)) {
            return Err(c
                .unmet("PINGRESP (a QoS 0 PUBLISH is not acknowledged)", first)
                .statement(if t.is_v5() {
                    S::V5_3_3_4_1
                } else {
                    S::V311_3_3_4_1
                }));
        }
        t.checked();
        for id in [1u16, 0x1234, 0xFFFF] {
            c.send(&Packet::Publish(publish_packet(
                &topic,
                1,
                Some(id),
                b"qos1",
            )?))
            .await?;
            let code = expect_ack(&t, &mut c, PacketType::PubAck, id).await?;
            if code.is_error() {
                return t.error(format!("the broker refused the publish: PUBACK {code:?}"));
            }
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const PUBREC_PUBCOMP_ECHO_PACKET_ID: Case = Case {
    id: "qos.pubrec-pubcomp-echo-packet-id",
    title:
        "QoS 2 PUBLISH gets PUBREC, and its PUBREL gets PUBCOMP, with the same Packet Identifier",
    area: "QoS Delivery",
    statements: &[
        S::V5_4_3_3_8,
        S::V5_4_3_3_11,
        S::V5_2_2_1_5,
        S::V5_3_5_2_1,
        S::V5_3_7_2_1,
        S::V311_4_3_3_2,
        S::V311_2_3_1_6,
        S::V311_3_3_4_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["wrong-packet-id"],
    unfaultable: None,
    run: pubrec_pubcomp_echo_packet_id,
};

fn pubrec_pubcomp_echo_packet_id(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut c = t.client("pub").connect().await?;
        for id in [7u16, 0xFFFF] {
            c.send(&Packet::Publish(publish_packet(
                &topic,
                2,
                Some(id),
                b"qos2",
            )?))
            .await?;
            let code = expect_ack(&t, &mut c, PacketType::PubRec, id).await?;
            if code.is_error() {
                return t.error(format!("the broker refused the publish: PUBREC {code:?}"));
            }
            c.send(&Packet::PubRel(PubRel::new(packet_id(id)?))).await?;
            expect_ack(&t, &mut c, PacketType::PubComp, id).await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const PUBREL_UNKNOWN_PACKET_ID: Case = Case {
    id: "qos.pubrel-unknown-packet-id-answered",
    title: "A PUBREL for a Packet Identifier the broker does not hold still gets a PUBCOMP (5.0: 0x00 or 0x92)",
    area: "QoS Delivery",
    statements: &[S::V5_4_3_3_11, S::V5_3_7_2_1, S::V311_4_3_3_2],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["ignore-unknown-pubrel"],
    unfaultable: None,
    run: pubrel_unknown_packet_id,
};

fn pubrel_unknown_packet_id(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        c.send(&Packet::PubRel(PubRel::new(packet_id(0x4242)?)))
            .await?;
        let code = expect_ack(&t, &mut c, PacketType::PubComp, 0x4242).await?;
        // The PUBCOMP reason table holds only these two; the decoder refuses others.
        t.check(
            matches!(
                code,
                ReasonCode::Success | ReasonCode::PacketIdentifierNotFound
            ),
            "PUBCOMP reason code 0x00 or 0x92",
            format!("PUBCOMP reason code {code:?}"),
        )?;
        c.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const PUBREL_RESERVED_FLAGS: Case = Case {
    id: "qos.pubrel-reserved-flags-malformed",
    title: "A PUBREL whose fixed-header flags are not 0010 is malformed: the connection is closed",
    area: "PUBREL",
    statements: &[
        S::V5_3_6_1_1,
        S::V5_4_13_1_1,
        S::V311_3_6_1_1,
        S::V311_2_2_2_2,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["ignore-malformed-publish"],
    unfaultable: None,
    run: pubrel_reserved_flags,
};

fn pubrel_reserved_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        // PUBREL (type 6) with flags 0000 instead of 0010.
        c.send_raw(RawPacket::new(0x60).u16(1).build()).await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::MalformedPacket]).await
    })
}

// ---------------------------------------------------------------------------------------

const QOS2_DUPLICATE_NOT_FORWARDED: Case = Case {
    id: "qos.qos2-duplicate-before-pubrel-not-forwarded",
    title: "A QoS 2 PUBLISH sent again (DUP 1) before PUBREL gets PUBREC again but is delivered only once",
    area: "QoS Delivery",
    statements: &[S::V5_4_3_3_10, S::V5_4_3_3_8, S::V311_4_3_3_2],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["ignore-qos2-dedup"],
    unfaultable: None,
    run: qos2_duplicate_not_forwarded,
};

fn qos2_duplicate_not_forwarded(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        let mut p = publish_packet(&topic, 2, Some(9), b"once")?;
        publisher.send(&Packet::Publish(p.clone())).await?;
        refused_is_error(expect_ack(&t, &mut publisher, PacketType::PubRec, 9).await?)?;
        // The same message again, as a retransmission.
        p.dup = true;
        publisher.send(&Packet::Publish(p)).await?;
        expect_ack(&t, &mut publisher, PacketType::PubRec, 9).await?;
        publisher
            .send(&Packet::PubRel(PubRel::new(packet_id(9)?)))
            .await?;
        expect_ack(&t, &mut publisher, PacketType::PubComp, 9).await?;
        sub.expect_publish().topic(&topic).payload("once").await?;
        sub.expect_no_publish().for_(millis(500)).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const QOS2_DELIVERY_METHOD: Case = Case {
    id: "qos.qos2-delivered-once-before-or-after-pubrel",
    title: "A QoS 2 message is delivered exactly once, on PUBLISH or on PUBREL (which is recorded)",
    area: "QoS Delivery",
    statements: &[S::V5_4_3_3_8, S::V5_4_3_3_11, S::V311_4_3_3_2],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["wrong-packet-id"],
    unfaultable: None,
    run: qos2_delivery_method,
};

fn qos2_delivery_method(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .send(&Packet::Publish(publish_packet(&topic, 2, Some(5), b"m")?))
            .await?;
        refused_is_error(expect_ack(&t, &mut publisher, PacketType::PubRec, 5).await?)?;
        // Method B forwards on PUBLISH, method A only once PUBREL arrives: both are allowed.
        let early = match sub.recv(millis(500)).await {
            Received::Packet(Packet::Publish(p)) => Some(p),
            Received::Timeout => None,
            other => return Err(sub.unmet("PUBLISH, or nothing before PUBREL", other)),
        };
        if let Some(p) = &early {
            t.check_eq("payload", &b"m"[..], &p.payload[..])?;
            sub.ack(p).await?;
        }
        publisher
            .send(&Packet::PubRel(PubRel::new(packet_id(5)?)))
            .await?;
        expect_ack(&t, &mut publisher, PacketType::PubComp, 5).await?;
        if early.is_none() {
            sub.expect_publish().topic(&topic).payload("m").await?;
        }
        sub.expect_no_publish().for_(millis(300)).await?;
        t.informational(if early.is_some() {
            "forwards a QoS 2 message as soon as it is received (before PUBREL)"
        } else {
            "forwards a QoS 2 message only after PUBREL"
        })
    })
}

// ---------------------------------------------------------------------------------------

const QOS1_PACKET_ID_REUSABLE: Case = Case {
    id: "qos.qos1-packet-id-reusable-after-puback",
    title:
        "After PUBACK, a PUBLISH reusing the Packet Identifier (even with DUP 1) is a new message",
    area: "QoS Delivery",
    statements: &[S::V5_4_3_2_5, S::V311_4_3_2_2],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["wrong-packet-id"],
    unfaultable: None,
    run: qos1_packet_id_reusable,
};

fn qos1_packet_id_reusable(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .send(&Packet::Publish(publish_packet(
                &topic,
                1,
                Some(3),
                b"first",
            )?))
            .await?;
        refused_is_error(expect_ack(&t, &mut publisher, PacketType::PubAck, 3).await?)?;
        let mut again = publish_packet(&topic, 1, Some(3), b"second")?;
        again.dup = true;
        publisher.send(&Packet::Publish(again)).await?;
        expect_ack(&t, &mut publisher, PacketType::PubAck, 3).await?;
        sub.expect_publish().topic(&topic).payload("first").await?;
        sub.expect_publish()
            .topic(&topic)
            .payload("second")
            .await
            .map_err(|f| f.statement(statement(&t, S::V5_4_3_2_5, S::V311_4_3_2_2)))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const QOS2_PACKET_ID_REUSABLE: Case = Case {
    id: "qos.qos2-packet-id-reusable-after-pubcomp",
    title: "After PUBCOMP, a QoS 2 PUBLISH reusing the Packet Identifier is a new message",
    area: "QoS Delivery",
    statements: &[S::V5_4_3_3_12, S::V311_4_3_3_2],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["wrong-packet-id"],
    unfaultable: None,
    run: qos2_packet_id_reusable,
};

fn qos2_packet_id_reusable(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        for payload in ["first", "second"] {
            publisher
                .send(&Packet::Publish(publish_packet(
                    &topic,
                    2,
                    Some(11),
                    payload.as_bytes(),
                )?))
                .await?;
            refused_is_error(expect_ack(&t, &mut publisher, PacketType::PubRec, 11).await?)?;
            publisher
                .send(&Packet::PubRel(PubRel::new(packet_id(11)?)))
                .await?;
            expect_ack(&t, &mut publisher, PacketType::PubComp, 11).await?;
        }
        sub.expect_publish().topic(&topic).payload("first").await?;
        sub.expect_publish()
            .topic(&topic)
            .payload("second")
            .await
            .map_err(|f| f.statement(statement(&t, S::V5_4_3_3_12, S::V311_4_3_3_2)))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const DELIVERED_QOS_IS_MINIMUM: Case = Case {
    id: "qos.delivered-qos-is-minimum-of-published-and-granted",
    title: "Each subscriber gets a message at the lower of the published QoS and its granted QoS",
    area: "QoS Delivery",
    statements: &[
        S::V5_3_8_4_8,
        S::V5_2_2_1_2,
        S::V5_3_3_1_2,
        S::V311_3_8_4_6,
        S::V311_2_3_1_5,
        S::V311_3_3_1_2,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["no-qos-downgrade"],
    unfaultable: None,
    run: delivered_qos_is_minimum,
};

fn delivered_qos_is_minimum(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut subs = Vec::new();
        for requested in 0..=2u8 {
            let mut s = t.client(&format!("sub{requested}")).connect().await?;
            let codes = s.subscribe(&topic).qos(requested).await?;
            let granted = codes.first().map_or(requested, |c| granted_qos(*c));
            subs.push((s, granted));
        }
        let mut publisher = t.client("pub").connect().await?;
        for qos in 0..=2u8 {
            publisher
                .publish(&topic)
                .qos(qos)
                .payload(format!("q{qos}"))
                .await?;
        }
        for (s, granted) in &mut subs {
            // Different QoS levels may arrive in any order: match them by payload.
            for p in receive(s, 3).await? {
                let published = p.payload.get(1).map_or(9, |b| b.wrapping_sub(b'0'));
                let expected = published.min(*granted);
                t.check(
                    p.qos.as_u8() == expected && !(p.qos == QoS::AtMostOnce && p.dup),
                    format!(
                        "message published at QoS {published} delivered at QoS {expected} \
                         (granted {granted}), DUP 0"
                    ),
                    summary::packet(&Packet::Publish(p.clone()), t.protocol()),
                )
                .map_err(|f| f.statement(statement(&t, S::V5_3_8_4_8, S::V311_3_8_4_6)))?;
            }
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SERVER_QOS1_PACKET_IDS: Case = Case {
    id: "qos.server-qos1-publish-uses-unused-packet-ids",
    title:
        "The broker sends each QoS 1 message with DUP 0 and its own Packet Identifier not in use",
    area: "Packet Identifier",
    statements: &[
        S::V5_2_2_1_4,
        S::V5_4_3_2_1,
        S::V5_4_3_2_2,
        S::V311_2_3_1_4,
        S::V311_4_3_2_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["reuse-packet-id"],
    unfaultable: None,
    run: server_qos1_packet_ids,
};

fn server_qos1_packet_ids(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        for i in 0..3 {
            publisher
                .publish(&topic)
                .qos(1)
                .payload(format!("m{i}"))
                .await?;
        }
        // None is acknowledged before all three are in: their identifiers are all in use.
        let mut received = Vec::new();
        for _ in 0..3 {
            let p = sub
                .expect_publish()
                .topic(&topic)
                .qos(1)
                .dup(false)
                .no_auto_ack()
                .await?;
            received.push(p);
        }
        let ids: Vec<Option<u16>> = received
            .iter()
            .map(|p| p.packet_id.map(PacketId::get))
            .collect();
        check_distinct_ids(&t, &ids)?;
        for p in &received {
            sub.ack(p).await?;
        }
        sub.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SERVER_QOS2_FLOW: Case = Case {
    id: "qos.server-qos2-flow",
    title: "The broker sends QoS 2 messages with DUP 0 and unused Packet Identifiers, and answers PUBREC with PUBREL",
    area: "QoS Delivery",
    statements: &[
        S::V5_4_3_3_1,
        S::V5_4_3_3_2,
        S::V5_4_3_3_4,
        S::V5_2_2_1_4,
        S::V5_2_2_1_5,
        S::V5_3_6_2_1,
        S::V311_4_3_3_1,
        S::V311_2_3_1_4,
        S::V311_2_3_1_6,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["reuse-packet-id"],
    unfaultable: None,
    run: server_qos2_flow,
};

fn server_qos2_flow(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        for i in 0..2 {
            publisher
                .publish(&topic)
                .qos(2)
                .payload(format!("m{i}"))
                .await?;
        }
        let mut ids = Vec::new();
        for _ in 0..2 {
            let p = sub
                .expect_publish()
                .topic(&topic)
                .qos(2)
                .dup(false)
                .no_auto_ack()
                .await?;
            ids.push(p.packet_id.map(PacketId::get));
        }
        check_distinct_ids(&t, &ids)?;
        for id in ids.iter().flatten() {
            sub.send(&Packet::PubRec(PubRec::new(packet_id(*id)?)))
                .await?;
        }
        let mut released = Vec::new();
        for _ in 0..2 {
            let rel = sub.expect_packet(PacketType::PubRel).await?;
            if let Some((_, id, code)) = ack_of(&rel) {
                t.check(
                    !code.is_error(),
                    "PUBREL reason code 0x00",
                    summary::packet(&rel, t.protocol()),
                )?;
                released.push(Some(id));
                sub.send(&Packet::PubComp(PubComp::new(packet_id(id)?)))
                    .await?;
            }
        }
        released.sort_unstable();
        let mut expected = ids.clone();
        expected.sort_unstable();
        t.check(
            released == expected,
            format!("a PUBREL for each PUBREC, with its Packet Identifier: {expected:?}"),
            format!("PUBREL for {released:?}"),
        )
        .map_err(|f| f.statement(statement(&t, S::V5_4_3_3_4, S::V311_4_3_3_1)))?;
        sub.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const DUP_NOT_PROPAGATED: Case = Case {
    id: "qos.dup-not-propagated-to-subscribers",
    title: "A PUBLISH received with DUP 1 is forwarded with DUP 0 (DUP only marks the broker's own retransmissions)",
    area: "PUBLISH",
    statements: &[
        S::V5_3_3_1_3,
        S::V5_4_3_2_2,
        S::V5_4_3_3_2,
        S::V311_3_3_1_3,
        S::V311_4_3_2_1,
        S::V311_4_3_3_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["forward-dup"],
    unfaultable: None,
    run: dup_not_propagated,
};

fn dup_not_propagated(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).dup().payload("q1").await?;
        publisher.publish(&topic).qos(2).dup().payload("q2").await?;
        for p in receive(&mut sub, 2).await? {
            t.check(
                !p.dup,
                "DUP 0 on the broker's first delivery",
                summary::packet(&Packet::Publish(p.clone()), t.protocol()),
            )
            .map_err(|f| f.statement(statement(&t, S::V5_3_3_1_3, S::V311_3_3_1_3)))?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const QOS1_RESENT_ON_RESUME: Case = Case {
    id: "qos.qos1-resent-on-session-resume",
    title: "An unacknowledged QoS 1 message is sent again, DUP 1 and same Packet Identifier, when the session resumes",
    area: "Session",
    statements: &[
        S::V5_4_4_0_1,
        S::V5_3_3_1_1,
        S::V311_4_4_0_1,
        S::V311_3_3_1_1,
        S::V311_2_3_1_4,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["no-redelivery"],
    unfaultable: None,
    run: qos1_resent_on_resume,
};

fn qos1_resent_on_resume(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { resent_on_resume(t, 1).await })
}

const QOS2_RESENT_ON_RESUME: Case = Case {
    id: "qos.qos2-resent-on-session-resume",
    title: "A QoS 2 message without PUBREC is sent again, DUP 1 and same Packet Identifier, when the session resumes",
    area: "Session",
    statements: &[
        S::V5_4_4_0_1,
        S::V5_3_3_1_1,
        S::V311_4_4_0_1,
        S::V311_3_3_1_1,
        S::V311_2_3_1_4,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["no-redelivery"],
    unfaultable: None,
    run: qos2_resent_on_resume,
};

fn qos2_resent_on_resume(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { resent_on_resume(t, 2).await })
}

/// Receives a message at `qos` without acknowledging it, disconnects, resumes the session and
/// expects the same PUBLISH again with DUP 1.
async fn resent_on_resume(t: Ctx, qos: u8) -> CaseResult {
    let topic = t.topic("t");
    let mut sub = connect_persistent(&t, "sub").await?;
    sub.subscribe(&topic).qos(qos).await?;
    let mut publisher = t.client("pub").connect().await?;
    publisher.publish(&topic).qos(qos).payload("again").await?;
    let first = sub
        .expect_publish()
        .topic(&topic)
        .qos(qos)
        .dup(false)
        .no_auto_ack()
        .await?;
    sub.disconnect().await?;
    let mut sub = resume(&t, "sub").await?;
    let again = sub
        .expect_publish()
        .topic(&topic)
        .qos(qos)
        .payload("again")
        .no_auto_ack()
        .await
        .map_err(|f| f.statement(statement(&t, S::V5_4_4_0_1, S::V311_4_4_0_1)))?;
    t.check(
        again.dup && again.packet_id == first.packet_id,
        format!(
            "the PUBLISH sent again with DUP 1 and Packet Identifier {:?}",
            first.packet_id.map(PacketId::get)
        ),
        summary::packet(&Packet::Publish(again.clone()), t.protocol()),
    )
    .map_err(|f| {
        f.statement(if again.dup {
            statement(&t, S::V5_4_4_0_1, S::V311_4_4_0_1)
        } else {
            statement(&t, S::V5_3_3_1_1, S::V311_3_3_1_1)
        })
    })?;
    sub.ack(&again).await?;
    sub.alive().await?;
    sub.disconnect().await?;
    end_session(&t, "sub").await?;
    t.pass()
}

// ---------------------------------------------------------------------------------------

const PUBREL_RESENT_ON_RESUME: Case = Case {
    id: "qos.pubrel-resent-on-session-resume",
    title:
        "A PUBREL without PUBCOMP is sent again when the session resumes, and the PUBLISH is not",
    area: "Session",
    statements: &[
        S::V5_4_4_0_1,
        S::V5_4_3_3_6,
        S::V5_4_3_3_5,
        S::V311_4_4_0_1,
        S::V311_4_3_3_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["no-redelivery"],
    unfaultable: None,
    run: pubrel_resent_on_resume,
};

fn pubrel_resent_on_resume(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = connect_persistent(&t, "sub").await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(2).payload("m").await?;
        let p = sub
            .expect_publish()
            .topic(&topic)
            .qos(2)
            .no_auto_ack()
            .await?;
        let id = p
            .packet_id
            .ok_or_else(|| Failure::error("QoS 2 PUBLISH without Packet Identifier"))?;
        sub.send(&Packet::PubRec(PubRec::new(id))).await?;
        expect_ack(&t, &mut sub, PacketType::PubRel, id.get()).await?;
        // No PUBCOMP: the broker still waits for it when the session resumes.
        sub.disconnect().await?;
        let mut sub = resume(&t, "sub").await?;
        expect_ack(&t, &mut sub, PacketType::PubRel, id.get())
            .await
            .map_err(|f| f.statement(statement(&t, S::V5_4_4_0_1, S::V311_4_4_0_1)))?;
        sub.expect_no_publish()
            .for_(millis(500))
            .await
            .map_err(|f| f.statement(statement(&t, S::V5_4_3_3_6, S::V311_4_3_3_1)))?;
        sub.send(&Packet::PubComp(PubComp::new(id))).await?;
        sub.alive().await?;
        sub.disconnect().await?;
        end_session(&t, "sub").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const RECEIVE_MAXIMUM_LIMITS_INFLIGHT: Case = Case {
    id: "qos.receive-maximum-limits-unacknowledged-publishes",
    title: "With the client's Receive Maximum 1 the broker has one QoS 1 PUBLISH unacknowledged at a time, and still answers other packets",
    area: "Flow Control",
    statements: &[
        S::V5_3_3_4_9,
        S::V5_4_9_0_2,
        S::V5_3_3_4_10,
        S::V5_4_9_0_3,
    ],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["ignore-receive-maximum"],
    unfaultable: None,
    run: receive_maximum_limits_inflight,
};

fn receive_maximum_limits_inflight(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = connect_receive_maximum_1(&t, "sub").await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        for i in 0..3 {
            publisher
                .publish(&topic)
                .qos(1)
                .payload(format!("m{i}"))
                .await?;
        }
        for i in 0..3 {
            let p = sub
                .expect_publish()
                .topic(&topic)
                .payload(format!("m{i}"))
                .no_auto_ack()
                .await?;
            if i < 2 {
                sub.expect_no_publish()
                    .for_(millis(400))
                    .await
                    .map_err(|f| f.statement(S::V5_3_3_4_9))?;
                // Zero quota delays only PUBLISH packets.
                sub.alive().await.map_err(|f| f.statement(S::V5_3_3_4_10))?;
            }
            sub.ack(&p).await?;
        }
        t.pass()
    })
}

const RECEIVE_MAXIMUM_COUNTS_UNTIL_PUBCOMP: Case = Case {
    id: "qos.receive-maximum-counts-qos2-until-pubcomp",
    title:
        "A QoS 2 message counts against the client's Receive Maximum until PUBCOMP, not just PUBREC",
    area: "Flow Control",
    statements: &[S::V5_3_3_4_9, S::V5_4_9_0_2],
    protocols: Protocols::V5,
    requires: &[Capability::QoS2],
    faults: &["ignore-receive-maximum"],
    unfaultable: None,
    run: receive_maximum_counts_until_pubcomp,
};

fn receive_maximum_counts_until_pubcomp(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = connect_receive_maximum_1(&t, "sub").await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        for i in 0..2 {
            publisher
                .publish(&topic)
                .qos(2)
                .payload(format!("m{i}"))
                .await?;
        }
        let first = sub
            .expect_publish()
            .topic(&topic)
            .payload("m0")
            .no_auto_ack()
            .await?;
        let id = first
            .packet_id
            .ok_or_else(|| Failure::error("QoS 2 PUBLISH without Packet Identifier"))?;
        sub.send(&Packet::PubRec(PubRec::new(id))).await?;
        expect_ack(&t, &mut sub, PacketType::PubRel, id.get()).await?;
        sub.expect_no_publish()
            .for_(millis(400))
            .await
            .map_err(|f| f.statement(S::V5_3_3_4_9))?;
        sub.send(&Packet::PubComp(PubComp::new(id))).await?;
        sub.expect_publish().topic(&topic).payload("m1").await?;
        sub.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const PUBACK_WITHOUT_SUBSCRIBERS: Case = Case {
    id: "qos.puback-without-matching-subscribers",
    title: "5.0: a QoS 1/2 message nobody subscribes to is acknowledged with 0x00 or 0x10 (which is recorded)",
    area: "PUBACK",
    statements: &[S::V5_3_4_2_1, S::V5_3_5_2_1, S::V5_2_2_1_5],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["wrong-packet-id"],
    unfaultable: None,
    run: puback_without_subscribers,
};

fn puback_without_subscribers(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("nobody");
        let mut c = t.client("pub").connect().await?;
        c.send(&Packet::Publish(publish_packet(&topic, 1, Some(21), b"x")?))
            .await?;
        let mut codes = vec![expect_ack(&t, &mut c, PacketType::PubAck, 21).await?];
        if t.capabilities().maximum_qos >= 2 {
            c.send(&Packet::Publish(publish_packet(&topic, 2, Some(22), b"x")?))
                .await?;
            codes.push(expect_ack(&t, &mut c, PacketType::PubRec, 22).await?);
            c.send(&Packet::PubRel(PubRel::new(packet_id(22)?))).await?;
            expect_ack(&t, &mut c, PacketType::PubComp, 22).await?;
        }
        for code in &codes {
            if code.is_error() {
                return t.error(format!(
                    "the broker refused a publish without subscribers: {code:?}"
                ));
            }
        }
        if codes.contains(&ReasonCode::NoMatchingSubscribers) {
            t.informational(
                "acknowledges a message without subscribers with 0x10 (No matching subscribers)",
            )
        } else {
            t.informational("acknowledges a message without subscribers with 0x00 (Success)")
        }
    })
}

// ---------------------------------------------------------------------------------------

const MAXIMUM_QOS_ENFORCED: Case = Case {
    id: "qos.maximum-qos-enforced",
    title: "5.0: a broker announcing Maximum QoS below 2 accepts any requested QoS in SUBSCRIBE and disconnects a PUBLISH above it (0x9B)",
    area: "PUBLISH",
    statements: &[S::V5_3_2_2_11, S::V5_3_2_2_10, S::V5_4_13_1_1],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["unenforced-maximum-qos"],
    unfaultable: None,
    run: maximum_qos_enforced,
};

fn maximum_qos_enforced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut c = t.client("c").connect().await?;
        let Some(maximum) = c.connack().and_then(|a| a.properties.maximum_qos) else {
            return t.unsupported("the broker announces no Maximum QoS (it offers QoS 2)");
        };
        let codes = c.subscribe(&topic).qos(2).any_reason().await?;
        t.check(
            codes.iter().all(|code| !code.is_error()),
            "SUBACK granting a QoS for a Requested QoS of 2",
            format!("SUBACK {codes:?}"),
        )
        .map_err(|f| f.statement(S::V5_3_2_2_10))?;
        let above = maximum.as_u8() + 1;
        c.send(&Packet::Publish(publish_packet(
            &topic,
            above,
            Some(1),
            b"x",
        )?))
        .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::QoSNotSupported]).await
    })
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the QoS, PUBLISH and ordering cases.

/// The statement of the run's protocol: `v5` on MQTT 5.0, `v311` on 3.1.1.
pub(crate) fn statement(t: &Ctx, v5: S, v311: S) -> S {
    if t.is_v5() {
        v5
    } else {
        v311
    }
}

/// A Packet Identifier from a non-zero number (a case error otherwise).
pub(crate) fn packet_id(id: u16) -> Result<PacketId, Failure> {
    PacketId::new(id).ok_or_else(|| Failure::error("case error: Packet Identifier 0"))
}

/// A PUBLISH with exactly these fields (no DUP, no RETAIN, no properties).
pub(crate) fn publish_packet(
    topic: &str,
    qos: u8,
    id: Option<u16>,
    payload: &[u8],
) -> Result<Publish, Failure> {
    Ok(Publish {
        dup: false,
        qos: QoS::from_u8(qos)
            .ok_or_else(|| Failure::error(format!("case error: QoS {qos} (use RawPacket)")))?,
        retain: false,
        topic: TopicName::new(topic)
            .map_err(|e| Failure::error(format!("case error: topic {topic:?}: {e}")))?,
        packet_id: id.map(packet_id).transpose()?,
        properties: Properties::default(),
        payload: Bytes::copy_from_slice(payload),
    })
}

/// A PUBLISH built byte by byte: `flags` is the low nibble of the first byte (DUP, QoS,
/// RETAIN), `properties` the raw property bytes (MQTT 5.0 only).
pub(crate) fn raw_publish(
    t: &Ctx,
    flags: u8,
    topic: &str,
    id: Option<u16>,
    properties: &[u8],
    payload: &[u8],
) -> Bytes {
    let mut p = RawPacket::new(0x30 | (flags & 0x0F)).string(topic);
    if let Some(id) = id {
        p = p.u16(id);
    }
    if t.is_v5() {
        p = p.properties(properties);
    }
    p.bytes(payload).build()
}

/// The type, Packet Identifier and reason code of a PUBACK, PUBREC, PUBREL or PUBCOMP.
pub(crate) fn ack_of(p: &Packet) -> Option<(PacketType, u16, ReasonCode)> {
    match p {
        Packet::PubAck(a) => Some((PacketType::PubAck, a.packet_id.get(), a.reason_code)),
        Packet::PubRec(a) => Some((PacketType::PubRec, a.packet_id.get(), a.reason_code)),
        Packet::PubRel(a) => Some((PacketType::PubRel, a.packet_id.get(), a.reason_code)),
        Packet::PubComp(a) => Some((PacketType::PubComp, a.packet_id.get(), a.reason_code)),
        _ => None,
    }
}

/// Waits for the next acknowledgement of type `kind` and checks that it carries Packet
/// Identifier `id` (MQTT-2.2.1-5 / MQTT-2.3.1-6). Returns its reason code.
pub(crate) async fn expect_ack(
    t: &Ctx,
    c: &mut Client,
    kind: PacketType,
    id: u16,
) -> Result<ReasonCode, Failure> {
    let p = c.expect_packet(kind).await?;
    let Some((_, got, code)) = ack_of(&p) else {
        return Err(Failure::error(format!(
            "case error: {} is not an acknowledgement",
            kind.name()
        )));
    };
    t.check(
        got == id,
        format!("{} id={id}", kind.name()),
        summary::packet(&p, c.protocol()),
    )
    .map_err(|f| f.statement(statement(t, S::V5_2_2_1_5, S::V311_2_3_1_6)))?;
    Ok(code)
}

/// ERROR when the broker refused a message (reason code 0x80 or above): it may, for reasons
/// of its own, and then the case cannot go on.
pub(crate) fn refused_is_error(code: ReasonCode) -> Result<(), Failure> {
    if code.is_error() {
        Err(Failure::error(format!(
            "the broker refused the publish: {code:?}"
        )))
    } else {
        Ok(())
    }
}

/// The QoS a SUBACK reason code grants (0 for a refusal).
pub(crate) fn granted_qos(code: ReasonCode) -> u8 {
    match code {
        ReasonCode::GrantedQoS1 => 1,
        ReasonCode::GrantedQoS2 => 2,
        _ => 0,
    }
}

/// FAIL unless every Packet Identifier is present and no two are equal.
pub(crate) fn check_distinct_ids(t: &Ctx, ids: &[Option<u16>]) -> Result<(), Failure> {
    let mut seen = std::collections::HashSet::new();
    let distinct = ids.iter().all(|id| id.is_some_and(|id| seen.insert(id)));
    t.check(
        distinct,
        "a different non-zero Packet Identifier for each unacknowledged PUBLISH",
        format!("Packet Identifiers {ids:?}"),
    )
    .map_err(|f| f.statement(statement(t, S::V5_2_2_1_4, S::V311_2_3_1_4)))
}

/// Receives `n` PUBLISH packets in arrival order, acknowledging each.
pub(crate) async fn receive(c: &mut Client, n: usize) -> Result<Vec<Publish>, Failure> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(c.expect_publish().await?);
    }
    Ok(out)
}

/// The payloads as text (for Expected / Actual).
pub(crate) fn payloads(messages: &[Publish]) -> Vec<String> {
    messages
        .iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect()
}

/// Connects `name` with a session that outlives the connection (Clean Start 0, Session
/// Expiry Interval 60 s in 5.0; Clean Session 0 in 3.1.1).
pub(crate) async fn connect_persistent(t: &Ctx, name: &str) -> Result<Client, Failure> {
    t.client(name)
        .clean_start(false)
        .session_expiry(60)
        .connect()
        .await
}

/// Reconnects `name` to its session and checks that the broker kept it.
pub(crate) async fn resume(t: &Ctx, name: &str) -> Result<Client, Failure> {
    let c = connect_persistent(t, name).await?;
    let present = c.connack().is_some_and(|a| a.session_present);
    t.check(
        present,
        "CONNACK Session Present 1: the session holding the messages was kept",
        "Session Present 0",
    )
    .map_err(|f| f.statement(statement(t, S::V5_3_2_2_3, S::V311_3_2_2_2)))?;
    Ok(c)
}

/// Ends the session of `name` (a Clean Start connection, then DISCONNECT).
pub(crate) async fn end_session(t: &Ctx, name: &str) -> Result<(), Failure> {
    t.client(name)
        .clean_start(true)
        .connect()
        .await?
        .disconnect()
        .await
}

/// Connects `name` (MQTT 5.0) announcing Receive Maximum 1.
pub(crate) async fn connect_receive_maximum_1(t: &Ctx, name: &str) -> Result<Client, Failure> {
    t.client(name)
        .properties(Properties {
            receive_maximum: std::num::NonZeroU16::new(1),
            ..Properties::default()
        })
        .connect()
        .await
}

/// After a packet the broker must reject as malformed or a protocol error: the connection
/// must close (MQTT-4.13.1-1 / MQTT-4.8.0-1). An MQTT 5.0 broker should send DISCONNECT with
/// one of `codes` first; another error code or no DISCONNECT is NON-STRICT.
pub(crate) async fn expect_connection_closed(
    t: &Ctx,
    c: &mut Client,
    codes: &[ReasonCode],
) -> CaseResult {
    let reply = closing_reply(t, c, codes).await?;
    judge_close(t, reply, codes)
}

/// Waits for the close (MQTT 5.0: possibly after a DISCONNECT) that must follow a malformed
/// packet or a protocol error; anything else is FAIL.
pub(crate) async fn closing_reply(
    t: &Ctx,
    c: &mut Client,
    codes: &[ReasonCode],
) -> Result<Reply, Failure> {
    // 3.1.1 has no DISCONNECT from the server: the close is the only answer.
    let mut replies: Vec<Reply> = Vec::new();
    if t.is_v5() {
        replies.extend(codes.iter().map(|code| Reply::Disconnect(*code)));
        replies.push(Reply::DisconnectError);
    }
    replies.push(Reply::Closed);
    c.expect_reply(&replies)
        .await
        .map_err(|f| f.statement(statement(t, S::V5_4_13_1_1, S::V311_4_8_0_1)))
}

/// Whether a close observed by [`closing_reply`] is the one preferred.
pub(crate) fn is_preferred_close(t: &Ctx, reply: Reply, codes: &[ReasonCode]) -> bool {
    !t.is_v5() || matches!(reply, Reply::Disconnect(code) if codes.contains(&code))
}

/// The verdict on a close observed by [`closing_reply`]: PASS, or NON-STRICT when an MQTT
/// 5.0 broker closed without the DISCONNECT (with one of `codes`) it should have sent.
pub(crate) fn judge_close(t: &Ctx, reply: Reply, codes: &[ReasonCode]) -> CaseResult {
    if is_preferred_close(t, reply, codes) {
        return t.pass();
    }
    let wanted: Vec<String> = codes
        .iter()
        .map(|code| summary::code(*code, PacketType::Disconnect, t.protocol()))
        .collect();
    let wanted = format!("DISCONNECT with {} before the close", wanted.join(" or "));
    if reply == Reply::Closed {
        t.non_strict(wanted, "the connection closed without DISCONNECT")
    } else {
        t.non_strict(wanted, "DISCONNECT with another error code, then the close")
    }
}

/// How long a case waits for something time-based to pass (the smallest wait that makes a
/// whole second pass in any clock granularity).
pub(crate) const SECOND_AND_A_BIT: Duration = Duration::from_millis(1300);
