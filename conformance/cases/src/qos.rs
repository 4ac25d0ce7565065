//! QoS delivery: the QoS 0/1/2 flows in both directions, Packet Identifiers, DUP, exactly-once
//! delivery, redelivery when a session resumes, Receive Maximum and Maximum QoS.
//!
//! The helpers at the bottom send PUBLISH packets by hand and check their acknowledgements.
//! They know their role: [`expect_ack`] is a check, and a broker refusing a message it may
//! refuse (closing the connection instead of acknowledging a PUBLISH, or acknowledging it with
//! an error code) makes the case INCONCLUSIVE, never FAIL.

use std::collections::VecDeque;

use mqttspec_codec::{
    Packet, PacketId, PacketType, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, QoS,
    RawPacket, ReasonCode, StatementId as S,
};

use super::support::{
    control, end_session, expect_connection_closed, granted, is_refusal, of_run, packet_id,
    persistent, publish_packet, receive, receive_maximum, resume, statement, subscribe_granted,
    QUIET, SECOND_AND_A_BIT,
};
use mqttspec_harness::case;
use mqttspec_harness::client::{summary, Received};
use mqttspec_harness::scenario::{
    millis, BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Role,
};

// ---------------------------------------------------------------------------------------

case! {
    /// QoS 1 PUBLISH gets a PUBACK with its Packet Identifier; QoS 0 gets no answer
    PUBACK_ECHOES_PACKET_ID = "qos.puback-echoes-packet-id",
    checks: [V5_4_3_2_4, V5_2_2_1_5, V5_3_3_4_1, V5_3_4_2_1],
    requires: [QoS1],
    faults: [WrongPacketId],
    tags: [ToBroker],
    run: puback_echoes_packet_id,
}

fn puback_echoes_packet_id(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut c = t.client("pub").connect().await?;
        // QoS 0: no acknowledgement, so the answer to the next PINGREQ comes first.
        c.send(&Packet::Publish(publish_packet(&topic, 0, None, b"qos0")?))
            .await?;
        c.send(&Packet::PingReq).await?;
        let expected = "PINGRESP (a QoS 0 PUBLISH is not acknowledged)";
        match c.recv(c.timeout()).await {
            Received::Packet(Packet::PingResp) => t.checked(),
            got @ (Received::Closed | Received::Packet(Packet::Disconnect(_))) => {
                return Err(refused_publish(&c, expected, got));
            }
            // No answer at all is not about the QoS 0 PUBLISH: PINGREQ went unanswered.
            got @ Received::Timeout => {
                return Err(Role::Setup(Precondition::Ping).classify(c.unmet(expected, got)));
            }
            got => {
                return Err(c.unmet(expected, got).statement(of_run!(&t, V5_3_3_4_1)));
            }
        }
        for id in [1u16, 0x1234, 0xFFFF] {
            c.send(&Packet::Publish(publish_packet(
                &topic,
                1,
                Some(id),
                b"qos1",
            )?))
            .await?;
            accepted(expect_ack(&t, &mut c, PacketType::PubAck, id).await?)?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// QoS 2 PUBLISH gets PUBREC, and its PUBREL gets PUBCOMP, with the same Packet Identifier
    PUBREC_PUBCOMP_ECHO_PACKET_ID = "qos.pubrec-pubcomp-echo-packet-id",
    checks: [V5_4_3_3_8, V5_4_3_3_11, V5_2_2_1_5, V5_3_5_2_1, V5_3_7_2_1, V311_4_3_3_2, V311_2_3_1_6, V311_3_3_4_1],
    requires: [QoS2],
    faults: [WrongPacketId],
    tags: [ToBroker],
    run: pubrec_pubcomp_echo_packet_id,
}

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
            accepted(expect_ack(&t, &mut c, PacketType::PubRec, id).await?)?;
            c.send(&Packet::PubRel(PubRel::new(packet_id(id)?))).await?;
            expect_ack(&t, &mut c, PacketType::PubComp, id).await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBREL for a Packet Identifier the broker does not hold still gets a PUBCOMP (5.0: 0x00 or 0x92)
    PUBREL_UNKNOWN_PACKET_ID = "qos.pubrel-unknown-packet-id-answered",
    checks: [V5_4_3_3_11, V5_3_7_2_1, V5_2_2_1_5],
    requires: [QoS2],
    faults: [IgnoreUnknownPubrel],
    tags: [ToBroker],
    run: pubrel_unknown_packet_id,
}

fn pubrel_unknown_packet_id(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        // The broker completes a QoS 2 flow on this connection (its PUBREL answered): what
        // follows is about a PUBREL it holds no message for.
        c.publish(t.topic("t")).qos(2).payload("x").await?;
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

case! {
    /// A PUBREL whose fixed-header flags are not 0010 is malformed: the connection is closed
    PUBREL_RESERVED_FLAGS = "qos.pubrel-reserved-flags-malformed",
    checks: [V5_3_6_1_1, V5_4_13_1_1, V311_3_6_1_1, V311_2_2_2_2],
    faults: [IgnoreMalformedPublish],
    tags: [ToBroker],
    run: pubrel_reserved_flags,
}

fn pubrel_reserved_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        // The twin: the same PUBREL with flags 0010 is answered with PUBCOMP.
        c.send(&Packet::PubRel(PubRel::new(packet_id(1)?))).await?;
        expect_ack_as(&t, &mut c, PacketType::PubComp, 1, Role::TWIN).await?;
        // PUBREL (type 6) with flags 0000 instead of 0010.
        c.send_raw(RawPacket::new(0x60).u16(1).build()).await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::MalformedPacket]).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 2 PUBLISH sent again (DUP 1) before PUBREL gets PUBREC again but is delivered only once
    QOS2_DUPLICATE_NOT_FORWARDED = "qos.qos2-duplicate-before-pubrel-not-forwarded",
    checks: [V5_4_3_3_10, V5_4_3_3_8, V5_2_2_1_5],
    requires: [QoS2],
    faults: [IgnoreQos2Dedup],
    tags: [ToBroker, Live],
    run: qos2_duplicate_not_forwarded,
}

fn qos2_duplicate_not_forwarded(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        let mut p = publish_packet(&topic, 2, Some(9), b"once")?;
        publisher.send(&Packet::Publish(p.clone())).await?;
        accepted(expect_ack(&t, &mut publisher, PacketType::PubRec, 9).await?)?;
        // The same message again, as a retransmission.
        p.dup = true;
        publisher.send(&Packet::Publish(p)).await?;
        expect_ack(&t, &mut publisher, PacketType::PubRec, 9).await?;
        publisher
            .send(&Packet::PubRel(PubRel::new(packet_id(9)?)))
            .await?;
        expect_ack(&t, &mut publisher, PacketType::PubComp, 9).await?;
        sub.expect_publish()
            .topic(&topic)
            .payload("once")
            .as_setup(Precondition::Delivery)
            .await?;
        sub.expect_no_publish()
            .for_(QUIET)
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_4_3_3_10)))?;
        // The subscriber was receiving all along: a message published now arrives.
        control(&mut publisher, &mut sub, &topic, "control").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 2 message is delivered exactly once, on PUBLISH or on PUBREL (which is recorded)
    QOS2_DELIVERY_METHOD = "qos.qos2-delivered-once-before-or-after-pubrel",
    checks: [V5_4_3_3_8, V5_4_3_3_11, V5_2_2_1_5, V5_4_4_0_1],
    requires: [QoS2],
    faults: [WrongPacketId],
    tags: [ToBroker, Live],
    run: qos2_delivery_method,
}

fn qos2_delivery_method(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .send(&Packet::Publish(publish_packet(&topic, 2, Some(5), b"m")?))
            .await?;
        accepted(expect_ack(&t, &mut publisher, PacketType::PubRec, 5).await?)?;
        // Method B forwards on PUBLISH, method A only once PUBREL arrives: both are allowed.
        let early = match sub.recv(QUIET).await {
            Received::Packet(Packet::Publish(p)) => Some(p),
            Received::Timeout => {
                // Nothing before PUBREL: the control at the end shows the subscriber was
                // receiving.
                t.absence_seen();
                None
            }
            other => {
                return Err(Role::Setup(Precondition::Connection)
                    .classify(sub.unmet("PUBLISH, or nothing before PUBREL", other)))
            }
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
            sub.expect_publish()
                .topic(&topic)
                .payload("m")
                .as_setup(Precondition::Delivery)
                .await?;
        }
        // A second copy of the one message sent: a resend outside session resumption
        // ("MUST NOT resend messages at any other time", MQTT-4.4.0-1).
        sub.expect_no_publish()
            .for_(millis(300))
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_4_4_0_1)))?;
        control(&mut publisher, &mut sub, &topic, "control").await?;
        t.informational(if early.is_some() {
            "forwards a QoS 2 message as soon as it is received (before PUBREL)"
        } else {
            "forwards a QoS 2 message only after PUBREL"
        })
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// After PUBACK, a PUBLISH reusing the Packet Identifier (even with DUP 1) is a new message
    QOS1_PACKET_ID_REUSABLE = "qos.qos1-packet-id-reusable-after-puback",
    checks: [V5_4_3_2_5, V5_2_2_1_5],
    requires: [QoS1],
    faults: [WrongPacketId],
    tags: [ToBroker, Live],
    run: qos1_packet_id_reusable,
}

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
        accepted(expect_ack(&t, &mut publisher, PacketType::PubAck, 3).await?)?;
        let mut again = publish_packet(&topic, 1, Some(3), b"second")?;
        again.dup = true;
        publisher.send(&Packet::Publish(again)).await?;
        accepted(expect_ack(&t, &mut publisher, PacketType::PubAck, 3).await?)?;
        sub.expect_publish()
            .topic(&topic)
            .payload("first")
            .as_setup(Precondition::Delivery)
            .await?;
        sub.expect_publish()
            .topic(&topic)
            .payload("second")
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_4_3_2_5)))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// After PUBCOMP, a QoS 2 PUBLISH reusing the Packet Identifier is a new message
    QOS2_PACKET_ID_REUSABLE = "qos.qos2-packet-id-reusable-after-pubcomp",
    checks: [V5_4_3_3_12, V5_2_2_1_5],
    requires: [QoS2],
    faults: [WrongPacketId],
    tags: [ToBroker, Live],
    run: qos2_packet_id_reusable,
}

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
            accepted(expect_ack(&t, &mut publisher, PacketType::PubRec, 11).await?)?;
            publisher
                .send(&Packet::PubRel(PubRel::new(packet_id(11)?)))
                .await?;
            expect_ack(&t, &mut publisher, PacketType::PubComp, 11).await?;
        }
        sub.expect_publish()
            .topic(&topic)
            .payload("first")
            .as_setup(Precondition::Delivery)
            .await?;
        sub.expect_publish()
            .topic(&topic)
            .payload("second")
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_4_3_3_12)))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a QoS 2 message whose PUBLISH was sent is not expired afterwards: a PUBREC that comes after its Message Expiry Interval still gets PUBREL 0x00
    QOS2_SENT_NOT_EXPIRED = "qos.qos2-sent-message-not-expired",
    checks: [V5_4_3_3_7],
    only: V5,
    requires: [QoS2],
    faults: [ExpireSentQos2],
    tags: [Live, FromBroker],
    run: qos2_sent_message_not_expired,
}

fn qos2_sent_message_not_expired(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("e");
        let mut sub = t.client("sub").connect().await?;
        subscribe_granted(&t, &mut sub, &topic, 2).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(2)
            .properties(PublishProperties {
                message_expiry_interval: Some(1),
                ..PublishProperties::default()
            })
            .payload("short-lived")
            .await?;
        let p = sub
            .expect_publish()
            .topic(&topic)
            .qos(2)
            .payload("short-lived")
            .no_auto_ack()
            .as_setup(Precondition::Delivery)
            .await?;
        let Some(id) = p.packet_id() else {
            return t
                .error("a QoS 2 PUBLISH without a Packet Identifier passed the strict decoder");
        };
        // The message expires while its PUBREC is outstanding.
        t.wait(SECOND_AND_A_BIT + SECOND_AND_A_BIT).await;
        sub.send(&Packet::PubRec(PubRec::new(id))).await?;
        let rel = sub
            .expect_packet(PacketType::PubRel)
            .as_check()
            .await
            .map_err(|f| f.statement(S::V5_4_3_3_7))?;
        let code = match &rel {
            Packet::PubRel(r) => r.reason_code,
            _ => ReasonCode::UnspecifiedError,
        };
        t.check(
            code == ReasonCode::Success,
            "PUBREL 0x00: the exchange goes on although the message has expired since it was sent",
            summary::packet(&rel, t.protocol()),
        )
        .map_err(|f| f.statement(S::V5_4_3_3_7))?;
        sub.send(&Packet::PubComp(PubComp::new(id))).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a QoS 2 message received from the client that expires before its PUBREL still has its flow completed: the PUBREL gets PUBCOMP 0x00
    QOS2_RECEIVED_COMPLETED_AFTER_EXPIRY = "qos.qos2-received-message-completed-after-expiry",
    checks: [V5_4_3_3_13, V5_4_3_3_11],
    only: V5,
    requires: [QoS2],
    faults: [ExpireReceivedQos2],
    tags: [ToBroker],
    run: qos2_received_completed_after_expiry,
}

/// The client publishes at QoS 2 with Message Expiry Interval 1 and holds its PUBREL until
/// the message has expired (over two seconds, for a broker counting whole seconds): the
/// broker may have dropped the message by then, but not the flow, so the PUBREL gets
/// PUBCOMP 0x00. PUBCOMP 0x92 (Packet Identifier not found) says the broker forgot the
/// Packet Identifier it acknowledged with PUBREC.
fn qos2_received_completed_after_expiry(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("e");
        let mut c = t.client("pub").connect().await?;
        let mut p = publish_packet(&topic, 2, Some(0x2B), b"short-lived")?;
        p.properties.message_expiry_interval = Some(1);
        c.send(&Packet::Publish(p)).await?;
        accepted(
            expect_ack_as(
                &t,
                &mut c,
                PacketType::PubRec,
                0x2B,
                Role::Setup(Precondition::PublishQos2),
            )
            .await?,
        )?;
        // The message expires while the broker waits for PUBREL.
        t.wait(SECOND_AND_A_BIT + SECOND_AND_A_BIT).await;
        c.send(&Packet::PubRel(PubRel::new(packet_id(0x2B)?)))
            .await?;
        let code = expect_ack(&t, &mut c, PacketType::PubComp, 0x2B)
            .await
            .map_err(|f| f.statement(S::V5_4_3_3_13))?;
        t.check(
            code == ReasonCode::Success,
            "PUBCOMP 0x00: the QoS 2 flow goes on although the message has expired since PUBREC",
            format!("PUBCOMP reason code {code:?}"),
        )
        .map_err(|f| f.statement(S::V5_4_3_3_13))?;
        c.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 0 message is delivered as a QoS 0 PUBLISH with DUP 0
    QOS0_SENT_WITH_DUP_0 = "qos.qos0-sent-with-dup-0",
    checks: [V5_4_3_1_1, V5_3_3_1_2],
    faults: [DupOnQos0],
    tags: [Live, FromBroker],
    run: qos0_sent_with_dup_0,
}

fn qos0_sent_with_dup_0(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("z");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(0).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(0).payload("zero").await?;
        // A DUP 1 on QoS 0 is malformed for the strict client: FAIL at the wait already.
        let p = sub
            .expect_publish()
            .topic(&topic)
            .payload("zero")
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_4_3_1_1)))?;
        t.check(
            p.qos() == QoS::AtMostOnce && !p.dup,
            "the QoS 0 message delivered as a QoS 0 PUBLISH with DUP 0",
            summary::packet(&Packet::Publish(p.clone()), t.protocol()),
        )
        .map_err(|f| f.statement(of_run!(&t, V5_4_3_1_1)))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Each subscriber gets a message at the lower of the published QoS and its granted QoS
    DELIVERED_QOS_IS_MINIMUM = "qos.delivered-qos-is-minimum-of-published-and-granted",
    checks: [V5_3_8_4_8, V5_2_2_1_2, V5_3_3_1_2],
    requires: [QoS2],
    faults: [NoQosDowngrade, NoQosDowngradeLive],
    tags: [Live, FromBroker],
    run: delivered_qos_is_minimum,
}

fn delivered_qos_is_minimum(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut subs = Vec::new();
        for requested in 0..=2u8 {
            let mut s = t.client(&format!("sub{requested}")).connect().await?;
            let codes = s.subscribe(&topic).qos(requested).await?;
            let granted = codes
                .first()
                .map_or(requested, |c| granted(*c).unwrap_or(0));
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
                let seen = summary::packet(&Packet::Publish(p.clone()), t.protocol());
                t.check(
                    p.qos().as_u8() == expected,
                    format!(
                        "message published at QoS {published} delivered at QoS {expected} \
                         (granted {granted})"
                    ),
                    seen.clone(),
                )
                .map_err(|f| f.statement(of_run!(&t, V5_3_8_4_8)))?;
                // DUP 1 on a QoS 0 PUBLISH breaks MQTT-3.3.1-2, not the QoS rule.
                t.check(
                    !(p.qos() == QoS::AtMostOnce && p.dup),
                    "DUP 0 on a QoS 0 PUBLISH",
                    seen,
                )
                .map_err(|f| f.statement(of_run!(&t, V5_3_3_1_2)))?;
            }
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The broker sends each QoS 1 message with DUP 0 and its own Packet Identifier not in use
    SERVER_QOS1_PACKET_IDS = "qos.server-qos1-publish-uses-unused-packet-ids",
    checks: [V5_2_2_1_4, V5_4_3_2_1, V5_4_3_2_2, V311_2_3_1_4, V311_4_3_2_1],
    requires: [QoS1],
    faults: [ReusePacketId],
    tags: [Live, FromBroker],
    run: server_qos1_packet_ids,
}

fn server_qos1_packet_ids(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        subscribe_granted(&t, &mut sub, &topic, 1).await?;
        let mut publisher = t.client("pub").connect().await?;
        for i in 0..3 {
            publisher
                .publish(&topic)
                .qos(1)
                .payload(format!("m{i}"))
                .await?;
        }
        let together = server_flow(&t, &mut sub, &topic, 1, 3).await?;
        sub.alive().await?;
        judge_in_flight(&t, together, "QoS 1", "PUBACK")
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The broker sends QoS 2 messages with DUP 0 and unused Packet Identifiers, and answers PUBREC with PUBREL
    SERVER_QOS2_FLOW = "qos.server-qos2-flow",
    checks: [V5_4_3_3_1, V5_4_3_3_2, V5_4_3_3_4, V5_2_2_1_4, V5_2_2_1_5, V5_3_6_2_1, V311_4_3_3_1, V311_2_3_1_4, V311_2_3_1_6],
    requires: [QoS2],
    faults: [ReusePacketId],
    tags: [Live, FromBroker],
    run: server_qos2_flow,
}

fn server_qos2_flow(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        subscribe_granted(&t, &mut sub, &topic, 2).await?;
        let mut publisher = t.client("pub").connect().await?;
        for i in 0..3 {
            publisher
                .publish(&topic)
                .qos(2)
                .payload(format!("m{i}"))
                .await?;
        }
        let together = server_flow(&t, &mut sub, &topic, 2, 3).await?;
        sub.alive().await?;
        judge_in_flight(&t, together, "QoS 2", "PUBCOMP")
    })
}

/// How the broker sends `n` messages at `qos` (1 or 2) on `topic` to `sub`, which holds each
/// unacknowledged while the broker sends more: no specification statement makes a sender
/// have several messages unacknowledged at once, so a message is acknowledged (oldest first)
/// as soon as the broker goes quiet for [`QUIET`], or all `n` have arrived.
///
/// Every PUBLISH must be a first delivery (the QoS, DUP 0: MQTT-4.3.2-2 / MQTT-4.3.3-2 in
/// 5.0, MQTT-4.3.2-1 / MQTT-4.3.3-1 in 3.1.1) with a Packet Identifier that no other
/// unacknowledged message uses (MQTT-2.2.1-4 / MQTT-2.3.1-4). At QoS 2 the identifier stays
/// in use until PUBCOMP, and each PUBREC must be answered by a PUBREL with its identifier
/// and a success code (MQTT-4.3.3-4 / MQTT-4.3.3-1). Returns the largest number of messages
/// that were unacknowledged together: with fewer than two, the identifiers' uniqueness was
/// never at stake.
async fn server_flow(
    t: &Ctx,
    sub: &mut Client,
    topic: &str,
    qos: u8,
    n: usize,
) -> Result<usize, Failure> {
    let v = t.protocol();
    let first_delivery = if qos == 1 {
        of_run!(t, V5_4_3_2_2)
    } else {
        of_run!(t, V5_4_3_3_2)
    };
    let release = of_run!(t, V5_4_3_3_4);
    // Received, not acknowledged yet (QoS 2: no PUBREC sent yet).
    let mut held: VecDeque<Publish> = VecDeque::new();
    // QoS 2: PUBREC sent, PUBREL awaited.
    let mut releasing: Option<PacketId> = None;
    let mut received = 0usize;
    let mut together = 0usize;
    loop {
        if releasing.is_none() {
            if held.is_empty() && received >= n {
                return Ok(together);
            }
            if !held.is_empty() && received >= n {
                // Everything is in: nothing more to wait for.
                releasing = acknowledge(sub, &mut held, qos).await?;
                continue;
            }
        }
        let within = if releasing.is_some() || held.is_empty() {
            sub.timeout()
        } else {
            QUIET
        };
        match sub.recv(within).await {
            Received::Packet(Packet::Publish(p)) => {
                let seen = summary::packet(&Packet::Publish(p.clone()), v);
                t.check(
                    p.topic.as_str() == topic && p.qos().as_u8() == qos && !p.dup,
                    format!("PUBLISH qos={qos} dup=0 topic={topic:?} (a first delivery)"),
                    seen.clone(),
                )
                .map_err(|f| f.statement(first_delivery))?;
                let in_use: Vec<u16> = held
                    .iter()
                    .filter_map(|h| h.packet_id())
                    .chain(releasing)
                    .map(PacketId::get)
                    .collect();
                let id = p.packet_id().map(PacketId::get);
                t.check(
                    id.is_some_and(|id| !in_use.contains(&id)),
                    format!(
                        "a non-zero Packet Identifier not in use by an unacknowledged PUBLISH \
                         (in use: {in_use:?})"
                    ),
                    seen,
                )
                .map_err(|f| f.statement(statement(t, S::V5_2_2_1_4, S::V311_2_3_1_4)))?;
                received += 1;
                held.push_back(p);
                together = together.max(held.len() + usize::from(releasing.is_some()));
            }
            Received::Packet(Packet::PubRel(rel)) if qos == 2 => {
                let wanted = releasing.take();
                t.check(
                    Some(rel.packet_id) == wanted && !rel.reason_code.is_error(),
                    format!(
                        "PUBREL id={} reason code 0x00, answering the PUBREC",
                        wanted.map_or(0, PacketId::get)
                    ),
                    summary::packet(&Packet::PubRel(rel.clone()), v),
                )
                .map_err(|f| f.statement(release))?;
                sub.send(&Packet::PubComp(PubComp::new(rel.packet_id)))
                    .await?;
            }
            Received::Timeout if releasing.is_some() => {
                let id = releasing.map_or(0, PacketId::get);
                return Err(sub
                    .unmet(&format!("PUBREL id={id}"), Received::Timeout)
                    .statement(release));
            }
            Received::Timeout if !held.is_empty() => {
                releasing = acknowledge(sub, &mut held, qos).await?;
            }
            got @ Received::Timeout => {
                let what = format!("PUBLISH {} of {n} on {topic:?}", received + 1);
                let p = if received == 0 {
                    Precondition::Delivery
                } else {
                    Precondition::Other
                };
                return Err(Role::Setup(p).classify(sub.unmet(&what, got)));
            }
            got @ (Received::Closed | Received::Packet(Packet::Disconnect(_))) => {
                return Err(Role::Setup(Precondition::Connection)
                    .classify(sub.unmet("the subscriber's connection to stay open", got)));
            }
            got => return Err(sub.unmet(&format!("PUBLISH qos={qos} or PUBREL"), got)),
        }
    }
}

/// Acknowledges the oldest held message: PUBACK at QoS 1; PUBREC at QoS 2, returning the
/// Packet Identifier whose PUBREL is now awaited.
async fn acknowledge(
    sub: &mut Client,
    held: &mut VecDeque<Publish>,
    qos: u8,
) -> Result<Option<PacketId>, Failure> {
    let Some(id) = held.pop_front().and_then(|p| p.packet_id()) else {
        return Ok(None);
    };
    if qos == 1 {
        sub.send(&Packet::PubAck(PubAck::new(id))).await?;
        Ok(None)
    } else {
        sub.send(&Packet::PubRec(PubRec::new(id))).await?;
        Ok(Some(id))
    }
}

/// PASS when the broker had several messages unacknowledged together (their Packet
/// Identifiers were checked against each other); otherwise INFORMATIONAL: sending one message
/// at a time is the broker's choice, and no two identifiers were ever in use together.
fn judge_in_flight(t: &Ctx, together: usize, what: &str, ack: &str) -> CaseResult {
    if together >= 2 {
        t.pass()
    } else {
        t.informational(format!(
            "sends one {what} message at a time (the next only after the {ack}): no two of its \
             Packet Identifiers were in use together"
        ))
    }
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBLISH received with DUP 1 is forwarded with DUP 0 (DUP only marks the broker's own retransmissions)
    DUP_NOT_PROPAGATED = "qos.dup-not-propagated-to-subscribers",
    checks: [V5_3_3_1_3, V5_4_3_2_2, V5_4_3_3_2],
    requires: [QoS2],
    faults: [ForwardDup, ForwardDupLive],
    tags: [Live, FromBroker],
    run: dup_not_propagated,
}

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
            .map_err(|f| f.statement(of_run!(&t, V5_3_3_1_3)))?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// An unacknowledged QoS 1 message is sent again, DUP 1 and same Packet Identifier, when the session resumes
    QOS1_RESENT_ON_RESUME = "qos.qos1-resent-on-session-resume",
    checks: [V5_4_4_0_1, V5_3_3_1_1, V5_4_3_2_3, V311_4_4_0_1, V311_3_3_1_1, V311_2_3_1_4],
    requires: [QoS1],
    faults: [NoRedelivery, ForgetSentPublish],
    tags: [Session, FromBroker],
    run: qos1_resent_on_resume,
}

fn qos1_resent_on_resume(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { resent_on_resume(t, 1).await })
}

case! {
    /// A QoS 2 message without PUBREC is sent again, DUP 1 and same Packet Identifier, when the session resumes
    QOS2_RESENT_ON_RESUME = "qos.qos2-resent-on-session-resume",
    checks: [V5_4_4_0_1, V5_3_3_1_1, V5_4_3_3_3, V311_4_4_0_1, V311_3_3_1_1, V311_2_3_1_4],
    requires: [QoS2],
    faults: [NoRedelivery, ForgetSentPublish],
    tags: [Session, FromBroker],
    run: qos2_resent_on_resume,
}

fn qos2_resent_on_resume(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { resent_on_resume(t, 2).await })
}

/// Receives a message at `qos` without acknowledging it, disconnects, resumes the session and
/// expects the same PUBLISH again with DUP 1.
async fn resent_on_resume(t: Ctx, qos: u8) -> CaseResult {
    let topic = t.topic("t");
    let mut sub = persistent(&t, "sub").connect().await?;
    subscribe_granted(&t, &mut sub, &topic, qos).await?;
    let mut publisher = t.client("pub").connect().await?;
    publisher.publish(&topic).qos(qos).payload("again").await?;
    let first = sub
        .expect_publish()
        .topic(&topic)
        .qos(qos)
        .dup(false)
        .no_auto_ack()
        .as_setup(Precondition::Delivery)
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
        .map_err(|f| f.statement(of_run!(&t, V5_4_4_0_1)))?;
    t.check(
        again.dup && again.packet_id() == first.packet_id(),
        format!(
            "the PUBLISH sent again with DUP 1 and Packet Identifier {:?}",
            first.packet_id().map(PacketId::get)
        ),
        summary::packet(&Packet::Publish(again.clone()), t.protocol()),
    )
    .map_err(|f| {
        f.statement(if again.dup {
            of_run!(&t, V5_4_4_0_1)
        } else {
            of_run!(&t, V5_3_3_1_1)
        })
    })?;
    sub.ack(&again).await?;
    sub.alive().await?;
    let _ = sub.disconnect().await;
    end_session(&t, "sub").await;
    t.pass()
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBREL without PUBCOMP is sent again when the session resumes, and the PUBLISH is not
    PUBREL_RESENT_ON_RESUME = "qos.pubrel-resent-on-session-resume",
    checks: [V5_4_4_0_1, V5_4_3_3_6, V5_4_3_3_5],
    requires: [QoS2],
    faults: [NoRedelivery],
    tags: [Session, FromBroker],
    run: pubrel_resent_on_resume,
}

fn pubrel_resent_on_resume(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = persistent(&t, "sub").connect().await?;
        subscribe_granted(&t, &mut sub, &topic, 2).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(2).payload("m").await?;
        let p = sub
            .expect_publish()
            .topic(&topic)
            .qos(2)
            .no_auto_ack()
            .as_setup(Precondition::Delivery)
            .await?;
        let id = p.packet_id().ok_or_else(|| {
            Failure::error("case error: a QoS 2 PUBLISH decoded without Packet Identifier")
        })?;
        sub.send(&Packet::PubRec(PubRec::new(id))).await?;
        // The first PUBREL only sets the case up (qos.server-qos2-flow checks it).
        expect_ack_as(
            &t,
            &mut sub,
            PacketType::PubRel,
            id.get(),
            Role::Setup(Precondition::Other),
        )
        .await?;
        // No PUBCOMP: the broker still waits for it when the session resumes.
        sub.disconnect().await?;
        let mut sub = resume(&t, "sub").await?;
        expect_ack(&t, &mut sub, PacketType::PubRel, id.get())
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_4_4_0_1)))?;
        sub.expect_no_publish()
            .for_(QUIET)
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_4_3_3_6)))?;
        sub.send(&Packet::PubComp(PubComp::new(id))).await?;
        // The resumed subscription delivers: a message published now arrives.
        control(&mut publisher, &mut sub, &topic, "control").await?;
        sub.alive().await?;
        let _ = sub.disconnect().await;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBLISH the client refused with PUBACK or PUBREC 0x80 counts as acknowledged: it is not sent again when the session resumes
    REFUSED_NOT_RESENT = "qos.refused-publish-not-resent-on-resume",
    checks: [V5_4_4_0_2],
    only: V5,
    requires: [QoS2],
    faults: [RetransmitRefused],
    tags: [Session, FromBroker],
    run: refused_not_resent,
}

/// Three messages reach a persistent subscriber: it refuses the first (QoS 1, PUBACK 0x80)
/// and the second (QoS 2, PUBREC 0x80) as each arrives, and leaves the third (QoS 1)
/// unacknowledged. When the
/// session resumes, the third comes again (the control: the broker does retransmit on this
/// session) and the refused two must not.
fn refused_not_resent(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = persistent(&t, "sub").connect().await?;
        subscribe_granted(&t, &mut sub, &topic, 2).await?;
        let mut publisher = t.client("pub").connect().await?;
        // Each refusal is sent as soon as its message arrives: a broker may keep one message
        // in flight at a time, and the next comes only once the previous one is done.
        for (payload, qos) in [("refused-1", 1), ("refused-2", 2), ("kept", 1)] {
            publisher.publish(&topic).qos(qos).payload(payload).await?;
            let p = sub
                .expect_publish()
                .topic(&topic)
                .qos(qos)
                .payload(payload)
                .no_auto_ack()
                .as_setup(Precondition::Delivery)
                .await?;
            let id = p.packet_id().ok_or_else(|| {
                Failure::error("case error: a QoS 1/2 PUBLISH decoded without Packet Identifier")
            })?;
            match payload {
                "refused-1" => {
                    let mut ack = PubAck::new(id);
                    ack.reason_code = ReasonCode::UnspecifiedError;
                    sub.send(&Packet::PubAck(ack)).await?;
                }
                "refused-2" => {
                    let mut rec = PubRec::new(id);
                    rec.reason_code = ReasonCode::UnspecifiedError;
                    sub.send(&Packet::PubRec(rec)).await?;
                }
                _ => {}
            }
        }
        // The PINGRESP shows both refusals were read before the connection ends.
        sub.alive().await?;
        sub.disconnect().await?;

        let mut sub = resume(&t, "sub").await?;
        let mut kept = false;
        let deadline = tokio::time::Instant::now() + t.response_timeout() + QUIET;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match sub.recv(left).await {
                Received::Packet(Packet::Publish(p)) => {
                    sub.ack(&p).await?;
                    let payload = String::from_utf8_lossy(&p.payload).into_owned();
                    if payload == "kept" {
                        kept = true;
                        continue;
                    }
                    return Err(sub
                        .unmet(
                            "no PUBLISH of a message refused with PUBACK / PUBREC 0x80",
                            Received::Packet(Packet::Publish(p)),
                        )
                        .statement(S::V5_4_4_0_2));
                }
                Received::Packet(_) => {}
                Received::Timeout => break,
                other => {
                    return Err(sub.unmet("the resumed connection open", other));
                }
            }
        }
        t.checked();
        t.absence_seen();
        t.require(kept, Precondition::Control, || {
            "the unacknowledged message \"kept\" sent again on the resumed session".to_owned()
        })?;
        t.control_seen();
        sub.alive().await?;
        let _ = sub.disconnect().await;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// After the broker refuses a QoS 2 PUBLISH with PUBREC 0x80 or above, a PUBLISH reusing its Packet Identifier is a new message: acknowledged and delivered
    ID_REUSED_AFTER_REFUSED_PUBREC = "qos.packet-id-reused-after-refusing-pubrec-is-new-message",
    checks: [V5_4_3_3_9],
    only: V5,
    requires: [QoS2],
    faults: [RefusedQos2IdPending],
    tags: [ToBroker],
    run: id_reused_after_refused_pubrec,
}

/// The refusal is provoked with a PUBLISH to a `$SYS/` topic, which a broker reserves for
/// itself (4.7.2); a broker that accepts it leaves nothing to test (INCONCLUSIVE).
fn id_reused_after_refused_pubrec(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("n");
        let mut sub = t.client("sub").connect().await?;
        subscribe_granted(&t, &mut sub, &topic, 2).await?;
        let mut c = t.client("pub").connect().await?;
        let id = 7u16;
        let sys = format!("$SYS/{}", t.topic("refused"));
        c.send(&Packet::Publish(publish_packet(
            &sys,
            2,
            Some(id),
            b"refused",
        )?))
        .await?;
        let first = c
            .expect_packet(PacketType::PubRec)
            .as_setup(Precondition::PublishQos2)
            .await?;
        let refused = matches!(&first, Packet::PubRec(r) if r.reason_code.is_error());
        if !refused {
            c.send(&Packet::PubRel(PubRel::new(packet_id(id)?))).await?;
            // Not the broker's fault: what the case needs (a refusal) is its own choice.
            return t.inconclusive(
                Precondition::Other,
                format!(
                    "the broker accepted a QoS 2 PUBLISH to {sys:?} ({}): no refusing PUBREC to \
                     test",
                    summary::packet(&first, t.protocol())
                ),
            );
        }
        c.send(&Packet::Publish(publish_packet(
            &topic,
            2,
            Some(id),
            b"new",
        )?))
        .await?;
        let code = expect_ack(&t, &mut c, PacketType::PubRec, id)
            .await
            .map_err(|f| f.statement(S::V5_4_3_3_9))?;
        t.check(
            !code.is_error(),
            format!("PUBREC id={id} accepting the new message"),
            format!("PUBREC reason {code:?}"),
        )
        .map_err(|f| f.statement(S::V5_4_3_3_9))?;
        c.send(&Packet::PubRel(PubRel::new(packet_id(id)?))).await?;
        expect_ack(&t, &mut c, PacketType::PubComp, id).await?;
        sub.expect_publish()
            .topic(&topic)
            .payload("new")
            .await
            .map_err(|f| f.statement(S::V5_4_3_3_9))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 3.1.1: a PUBLISH to a $SYS/ topic, which a client is normally not authorised to write, is acknowledged as its QoS requires or the connection is closed
    UNAUTHORISED_ACKED_OR_CLOSED = "qos.unauthorised-publish-acknowledged-or-closed",
    checks: [V311_3_3_5_2],
    only: V311,
    requires: [QoS2],
    faults: [SilentPublishDenial],
    tags: [ToBroker],
    run: unauthorised_acked_or_closed,
}

/// A 3.1.1 server has no way to tell a client that a PUBLISH was not authorised: it must
/// acknowledge it normally or close the connection. Which topics a client may write is the
/// broker's configuration; `$SYS/` is reserved for the server (4.7.2), so it is the topic most
/// brokers refuse. A broker that authorises it must acknowledge it anyway, so the check holds
/// either way (the case cannot see which branch the broker took).
fn unauthorised_acked_or_closed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("pub").connect().await?;
        // The twins: the same connection's PUBLISHes to an ordinary topic, at both QoS
        // levels, are acknowledged (a broker that ignores every QoS 2 PUBLISH breaks other
        // rules, not this one).
        for qos in [1, 2] {
            c.publish(t.topic("ok"))
                .qos(qos)
                .payload("ok")
                .as_twin()
                .await?;
        }
        let sys = format!("$SYS/{}", t.topic("denied"));
        for (qos, id, kind) in [
            (1u8, 11u16, PacketType::PubAck),
            (2, 12, PacketType::PubRec),
        ] {
            c.send(&Packet::Publish(publish_packet(&sys, qos, Some(id), b"x")?))
                .await?;
            match c.recv(c.timeout()).await {
                Received::Packet(p) if ack_of(&p).is_some_and(|(k, i, _)| k == kind && i == id) => {
                    t.checked();
                    if qos == 2 {
                        c.send(&Packet::PubRel(PubRel::new(packet_id(id)?))).await?;
                        expect_ack(&t, &mut c, PacketType::PubComp, id).await?;
                    }
                }
                Received::Closed => {
                    t.checked();
                    t.refusal_seen();
                    return t.pass();
                }
                other => {
                    return Err(c
                        .unmet(
                            &format!(
                                "{} id={id} (the normal acknowledgement) or the connection closed",
                                kind.name()
                            ),
                            other,
                        )
                        .statement(S::V311_3_3_5_2));
                }
            }
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// With the client's Receive Maximum 1 the broker has one QoS 1 PUBLISH unacknowledged at a time, and still answers other packets
    RECEIVE_MAXIMUM_LIMITS_INFLIGHT = "qos.receive-maximum-limits-unacknowledged-publishes",
    checks: [V5_3_3_4_9, V5_4_9_0_2, V5_3_3_4_10, V5_4_9_0_3],
    only: V5,
    requires: [QoS1],
    faults: [IgnoreReceiveMaximum],
    tags: [Live, FromBroker],
    run: receive_maximum_limits_inflight,
}

fn receive_maximum_limits_inflight(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t
            .client("sub")
            .properties(receive_maximum(1))
            .connect()
            .await?;
        subscribe_granted(&t, &mut sub, &topic, 1).await?;
        let mut publisher = t.client("pub").connect().await?;
        for i in 0..3 {
            publisher
                .publish(&topic)
                .qos(1)
                .payload(format!("m{i}"))
                .await?;
        }
        let mut p = sub
            .expect_publish()
            .topic(&topic)
            .payload("m0")
            .no_auto_ack()
            .as_setup(Precondition::Delivery)
            .await?;
        for i in 1..3 {
            sub.expect_no_publish()
                .for_(millis(400))
                .await
                .map_err(|f| f.statement(S::V5_3_3_4_9))?;
            // Zero quota delays only PUBLISH packets.
            sub.alive().await.map_err(|f| f.statement(S::V5_3_3_4_10))?;
            sub.ack(&p).await?;
            // The quota given back, the next message comes: the subscriber was receiving.
            p = sub
                .expect_publish()
                .topic(&topic)
                .payload(format!("m{i}"))
                .no_auto_ack()
                .as_control()
                .await?;
        }
        sub.ack(&p).await?;
        t.pass()
    })
}

case! {
    /// A QoS 2 message counts against the client's Receive Maximum until PUBCOMP, not just PUBREC
    RECEIVE_MAXIMUM_COUNTS_UNTIL_PUBCOMP = "qos.receive-maximum-counts-qos2-until-pubcomp",
    checks: [V5_3_3_4_9, V5_4_9_0_2],
    only: V5,
    requires: [QoS2],
    faults: [IgnoreReceiveMaximum],
    tags: [Live, FromBroker],
    run: receive_maximum_counts_until_pubcomp,
}

fn receive_maximum_counts_until_pubcomp(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t
            .client("sub")
            .properties(receive_maximum(1))
            .connect()
            .await?;
        subscribe_granted(&t, &mut sub, &topic, 2).await?;
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
            .as_setup(Precondition::Delivery)
            .await?;
        let id = first.packet_id().ok_or_else(|| {
            Failure::error("case error: a QoS 2 PUBLISH decoded without Packet Identifier")
        })?;
        sub.send(&Packet::PubRec(PubRec::new(id))).await?;
        expect_ack_as(
            &t,
            &mut sub,
            PacketType::PubRel,
            id.get(),
            Role::Setup(Precondition::Other),
        )
        .await?;
        sub.expect_no_publish()
            .for_(millis(400))
            .await
            .map_err(|f| f.statement(S::V5_3_3_4_9))?;
        sub.send(&Packet::PubComp(PubComp::new(id))).await?;
        // PUBCOMP gives the quota back: the next message comes.
        sub.expect_publish()
            .topic(&topic)
            .payload("m1")
            .as_control()
            .await?;
        sub.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a QoS 1/2 message nobody subscribes to is acknowledged with 0x00 or 0x10 (which is recorded)
    PUBACK_WITHOUT_SUBSCRIBERS = "qos.puback-without-matching-subscribers",
    checks: [V5_3_4_2_1, V5_3_5_2_1, V5_2_2_1_5],
    only: V5,
    requires: [QoS1],
    faults: [WrongPacketId],
    tags: [ToBroker],
    run: puback_without_subscribers,
}

fn puback_without_subscribers(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("nobody");
        let mut c = t.client("pub").connect().await?;
        c.send(&Packet::Publish(publish_packet(&topic, 1, Some(21), b"x")?))
            .await?;
        let mut codes = vec![accepted(
            expect_ack(&t, &mut c, PacketType::PubAck, 21).await?,
        )?];
        if t.capabilities().maximum_qos >= 2 {
            c.send(&Packet::Publish(publish_packet(&topic, 2, Some(22), b"x")?))
                .await?;
            codes.push(accepted(
                expect_ack(&t, &mut c, PacketType::PubRec, 22).await?,
            )?);
            c.send(&Packet::PubRel(PubRel::new(packet_id(22)?))).await?;
            expect_ack(&t, &mut c, PacketType::PubComp, 22).await?;
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

case! {
    /// 5.0: a broker that refuses QoS 1 or QoS 2 PUBLISH packets as unsupported (0x9B) has announced that limit as Maximum QoS in CONNACK
    MAXIMUM_QOS_ANNOUNCED = "qos.unsupported-qos-announced",
    checks: [V5_3_2_2_9],
    only: V5,
    faults: [UnannouncedQos2Refusal],
    tags: [ToBroker],
    run: unsupported_qos_announced,
}

fn unsupported_qos_announced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q");
        let mut c = t.client("c").connect().await?;
        let announced = c
            .connack()
            .and_then(|a| a.properties.maximum_qos)
            .unwrap_or(QoS::ExactlyOnce);
        // Every QoS up to the announced one must be served; "QoS not supported" for one of
        // them means the broker lacks it without having said so.
        for (qos, id) in [(1u8, 0x3B01u16), (2, 0x3B02)] {
            if qos > announced.as_u8() {
                break;
            }
            c.send(&Packet::Publish(publish_packet(
                &topic,
                qos,
                Some(id),
                b"x",
            )?))
            .await?;
            let expected = format!(
                "PUBACK/PUBREC id={id} (QoS {qos} is within the announced Maximum QoS {})",
                announced.as_u8()
            );
            let got = c.recv(t.response_timeout()).await;
            let refused = match &got {
                Received::Packet(Packet::PubAck(a)) if a.packet_id.get() == id => {
                    a.reason_code == ReasonCode::QoSNotSupported
                }
                Received::Packet(Packet::PubRec(a)) if a.packet_id.get() == id => {
                    if a.reason_code.is_error() {
                        a.reason_code == ReasonCode::QoSNotSupported
                    } else {
                        // Complete the exchange; PUBCOMP is not what this case is about.
                        c.send(&Packet::PubRel(PubRel::new(a.packet_id))).await?;
                        false
                    }
                }
                Received::Packet(Packet::Disconnect(d)) => {
                    d.reason_code == ReasonCode::QoSNotSupported
                }
                // No answer, another packet, a silent close: nothing says why.
                other => {
                    return t.inconclusive(
                        if qos == 2 {
                            Precondition::PublishQos2
                        } else {
                            Precondition::Publish
                        },
                        format!("expected {expected}; got {}", other.describe(t.protocol())),
                    );
                }
            };
            t.check(!refused, expected, got.describe(t.protocol()))
                .map_err(|f| f.statement(S::V5_3_2_2_9))?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a broker announcing Maximum QoS below 2 accepts any requested QoS in SUBSCRIBE and disconnects a PUBLISH above it (0x9B)
    MAXIMUM_QOS_ENFORCED = "qos.maximum-qos-enforced",
    checks: [V5_3_2_2_11, V5_3_2_2_10, V5_4_13_1_1],
    only: V5,
    faults: [UnenforcedMaximumQos],
    tags: [ToBroker],
    run: maximum_qos_enforced,
}

fn maximum_qos_enforced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut c = t.client("c").connect().await?;
        let Some(maximum) = c.connack().and_then(|a| a.properties.maximum_qos) else {
            return t.unsupported("the broker announces no Maximum QoS (it offers QoS 2)");
        };
        // Accepting SUBSCRIBE at any Requested QoS is itself what MQTT-3.2.2-10 requires.
        let codes = c
            .subscribe(&topic)
            .qos(2)
            .any_reason()
            .as_check()
            .await
            .map_err(|f| f.statement(S::V5_3_2_2_10))?;
        // Refused as not authorised or over a quota: for a reason of its own, not for the
        // Requested QoS (which is what MQTT-3.2.2-10 is about): INCONCLUSIVE.
        t.require(
            !codes
                .iter()
                .any(|c| matches!(c, ReasonCode::NotAuthorized | ReasonCode::QuotaExceeded)),
            Precondition::Granted,
            || format!("SUBACK {codes:?}: the subscription refused for a reason of its own"),
        )?;
        t.check(
            codes.iter().all(|code| !code.is_error()),
            "SUBACK granting a QoS for a Requested QoS of 2",
            format!("SUBACK {codes:?}"),
        )
        .map_err(|f| f.statement(S::V5_3_2_2_10))?;
        // The twin: the same PUBLISH at the Maximum QoS is accepted.
        if maximum == QoS::AtMostOnce {
            c.publish(&topic).payload("x").await?;
            c.alive().as_twin().await?;
        } else {
            c.publish(&topic)
                .qos(maximum.as_u8())
                .payload("x")
                .as_twin()
                .await?;
        }
        let above = maximum.as_u8() + 1;
        c.send(&Packet::Publish(publish_packet(
            &topic,
            above,
            Some(0x7FFF),
            b"x",
        )?))
        .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::QoSNotSupported]).await
    })
}

// ---------------------------------------------------------------------------------------
// Acknowledgements of the PUBLISH packets these cases send by hand.

/// The type, Packet Identifier and reason code of a PUBACK, PUBREC, PUBREL or PUBCOMP.
fn ack_of(p: &Packet) -> Option<(PacketType, u16, ReasonCode)> {
    match p {
        Packet::PubAck(a) => Some((PacketType::PubAck, a.packet_id.get(), a.reason_code)),
        Packet::PubRec(a) => Some((PacketType::PubRec, a.packet_id.get(), a.reason_code)),
        Packet::PubRel(a) => Some((PacketType::PubRel, a.packet_id.get(), a.reason_code)),
        Packet::PubComp(a) => Some((PacketType::PubComp, a.packet_id.get(), a.reason_code)),
        _ => None,
    }
}

/// A check: waits for the next acknowledgement of type `kind` and checks that it carries
/// Packet Identifier `id` (MQTT-2.2.1-5 / MQTT-2.3.1-6). Returns its reason code. See
/// [`expect_ack_as`].
async fn expect_ack(
    t: &Ctx,
    c: &mut Client,
    kind: PacketType,
    id: u16,
) -> Result<ReasonCode, Failure> {
    expect_ack_as(t, c, kind, id, Role::Check).await
}

/// [`expect_ack`] in `role`. When the broker closes the connection (or sends DISCONNECT)
/// instead of the PUBACK or PUBREC of a PUBLISH, it refused the message, which it may (3.1.1
/// §3.3.5 lets a server close the connection on a PUBLISH it does not authorise; a 5.0
/// server may disconnect for reasons of its own): INCONCLUSIVE, whatever the role.
async fn expect_ack_as(
    t: &Ctx,
    c: &mut Client,
    kind: PacketType,
    id: u16,
    role: Role,
) -> Result<ReasonCode, Failure> {
    let step = c.expect_packet(kind);
    let step = match role {
        Role::Check => step.as_check(),
        Role::Setup(p) => step.as_setup(p),
    };
    let p = match step.await {
        Ok(p) => p,
        Err(f) if matches!(kind, PacketType::PubAck | PacketType::PubRec) && is_refusal(c, &f) => {
            return Err(Failure::inconclusive(
                Precondition::Granted,
                format!(
                    "the broker ended the connection instead of acknowledging the PUBLISH \
                     (id={id}): it refused the message, as a broker may (3.1.1 §3.3.5: \
                     acknowledge or close): {}",
                    f.0.actual.unwrap_or_default()
                ),
            ));
        }
        Err(f) => return Err(f),
    };
    let Some((_, got, code)) = ack_of(&p) else {
        return Err(Failure::error(format!(
            "case error: {} is not an acknowledgement",
            kind.name()
        )));
    };
    let checked = t
        .check(
            got == id,
            format!("{} id={id}", kind.name()),
            summary::packet(&p, c.protocol()),
        )
        .map_err(|f| f.statement(of_run!(t, V5_2_2_1_5)));
    checked.map_err(|f| role.classify(f))?;
    Ok(code)
}

/// INCONCLUSIVE: the broker answered a PUBLISH of `c` by ending the connection (`got`), which
/// it may do with a message it does not accept; `expected` is what a broker accepting it
/// sends.
fn refused_publish(c: &Client, expected: &str, got: Received) -> Failure {
    let actual = got.describe(c.protocol());
    c.ctx()
        .transcript()
        .event(c.name(), format!("expected {expected}; got {actual}"));
    Failure::inconclusive(
        Precondition::Granted,
        format!("the broker refused the PUBLISH (which it may): expected {expected}; got {actual}"),
    )
}

/// The reason code of an acknowledged PUBLISH when it is a success code; INCONCLUSIVE when
/// it is an error code (0x80 or above): the broker refused the message, which it may for
/// reasons of its own (4.13.2), and then the case cannot go on.
fn accepted(code: ReasonCode) -> Result<ReasonCode, Failure> {
    if code.is_error() {
        Err(Failure::inconclusive(
            Precondition::Granted,
            format!("the broker refused the PUBLISH with reason code {code:?}"),
        ))
    } else {
        Ok(code)
    }
}
