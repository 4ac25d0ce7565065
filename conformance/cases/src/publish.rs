//! PUBLISH: malformed and forbidden PUBLISH packets, the payload and the MQTT 5.0 properties
//! the broker passes on, Message Expiry, Subscription Identifiers, and which subscriptions a
//! Topic Name reaches (wildcards, `$` topics).

use bytes::Bytes;
use mqttspec_codec::{
    Packet, PayloadFormatIndicator, Publish, PublishProperties, ReasonCode, RetainHandling,
    StatementId as S,
};
use tokio::time::Instant;

use super::support::{
    closing_reply, control, end_session, expect_connection_closed, is_preferred_close, is_refusal,
    judge_close, of_run, payloads, persistent, raw_publish, receive, resume, setting_up, text,
    topic_name, POSITIONS, QUIET, SECOND_AND_A_BIT,
};
use mqttspec_harness::case;
use mqttspec_harness::client::{summary, Received};
use mqttspec_harness::scenario::{
    millis, BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Reply, Role,
};

/// The twin of a malformed or forbidden QoS 0 PUBLISH: `good` (the same PUBLISH with the
/// offending field corrected) sent on `c`, then a PINGREQ answered on the same connection.
async fn qos0_twin(c: &mut Client, good: Bytes) -> Result<(), Failure> {
    c.send_raw(good).await.map_err(|f| Role::TWIN.classify(f))?;
    c.alive().as_twin().await
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBLISH whose Topic Name holds '+' or '#' is refused and the connection closed
    TOPIC_NAME_WILDCARDS = "publish.topic-name-with-wildcard-refused",
    checks: [V5_3_3_2_2, V5_4_7_0_1, V5_4_13_1_1],
    faults: [IgnoreMalformedPublish],
    tags: [ToBroker, TopicName],
    run: topic_name_wildcards,
}

/// DISCONNECT codes a broker may use for a wildcard in a Topic Name.
const TOPIC_NAME_CODES: &[ReasonCode] = &[
    ReasonCode::TopicNameInvalid,
    ReasonCode::ProtocolError,
    ReasonCode::MalformedPacket,
];

fn topic_name_wildcards(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut replies = Vec::new();
        for (name, level) in [("plus", "+"), ("hash", "#")] {
            let mut c = t.client(name).connect().await?;
            // The twin: the same PUBLISH with a Topic Name without the wildcard.
            qos0_twin(&mut c, raw_publish(&t, 0, &t.topic(name), None, &[], b"x")).await?;
            let topic = format!("{}{level}", t.topic_prefix());
            c.send_raw(raw_publish(&t, 0, &topic, None, &[], b"x"))
                .await?;
            let reply = closing_reply(&t, &mut c, TOPIC_NAME_CODES)
                .await
                .map_err(|f| f.statement(of_run!(&t, V5_3_3_2_2)))?;
            replies.push(reply);
        }
        let worst = replies
            .iter()
            .copied()
            .find(|r| !is_preferred_close(&t, *r, TOPIC_NAME_CODES))
            .or(replies.first().copied());
        match worst {
            Some(reply) => judge_close(&t, reply, TOPIC_NAME_CODES),
            None => t.error("case error: no reply recorded"),
        }
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBLISH with both QoS bits set is malformed: the connection is closed
    QOS_3_MALFORMED = "publish.qos-3-is-malformed",
    checks: [V5_3_3_1_4, V5_4_13_1_1, V311_3_3_1_4],
    faults: [IgnoreMalformedPublish],
    tags: [ToBroker],
    run: qos_3_malformed,
}

fn qos_3_malformed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("t");
        // The twin: the same PUBLISH at QoS 0 (no Packet Identifier then).
        qos0_twin(&mut c, raw_publish(&t, 0, &topic, None, &[], b"x")).await?;
        c.send_raw(raw_publish(&t, 0b0110, &topic, Some(1), &[], b"x"))
            .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::MalformedPacket]).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 3.1.1: a QoS 0 PUBLISH with DUP 1 is a protocol violation that closes the connection (5.0: whether it is checked is recorded)
    DUP_WITH_QOS_0 = "publish.dup-with-qos-0-refused",
    checks: [V5_3_3_1_2, V5_4_13_1_1],
    faults: [IgnoreMalformedPublish @ V311],
    tags: [ToBroker],
    run: dup_with_qos_0,
}

/// DISCONNECT codes for a QoS 0 PUBLISH with DUP 1.
const DUP_CODES: &[ReasonCode] = &[ReasonCode::MalformedPacket, ReasonCode::ProtocolError];

fn dup_with_qos_0(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("t");
        // The twin: the same PUBLISH with DUP 0.
        qos0_twin(&mut c, raw_publish(&t, 0, &topic, None, &[], b"x")).await?;
        let bad = raw_publish(&t, 0b1000, &topic, None, &[], b"x");
        if !t.is_v5() {
            // 3.1.1: DUP must be 0 at QoS 0 (MQTT-3.3.1-2) and a protocol violation closes
            // the connection (MQTT-4.8.0-1).
            c.send_raw(bad).await?;
            return expect_connection_closed(&t, &mut c, DUP_CODES).await;
        }
        // 5.0 states the rule for the sender only and leaves the receiver's checking to its
        // rigor (4.13.1): a PINGREQ right behind the PUBLISH shows whether it was checked.
        let mut both = bad.to_vec();
        both.extend_from_slice(&[0xC0, 0x00]);
        c.send_raw(both).await?;
        match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::PingResp) => t.informational(
                "does not check DUP on QoS 0 PUBLISH packets (5.0 leaves the check to the receiver)",
            ),
            Received::Closed => {
                t.checked();
                t.refusal_seen();
                judge_close(&t, Reply::Closed, DUP_CODES)
            }
            Received::Packet(Packet::Disconnect(d)) if d.reason_code.is_error() => {
                t.checked();
                t.refusal_seen();
                c.expect_closed().await?;
                let reply = if DUP_CODES.contains(&d.reason_code) {
                    Reply::Disconnect(d.reason_code)
                } else {
                    Reply::DisconnectError
                };
                judge_close(&t, reply, DUP_CODES)
            }
            other => Err(c
                .unmet(
                    "DISCONNECT 0x81 or 0x82, the close, or PINGRESP (DUP not checked)",
                    other,
                )
                .statement(S::V5_4_13_1_1)),
        }
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 1 PUBLISH with Packet Identifier 0 is refused and the connection closed
    PACKET_ID_ZERO = "publish.packet-id-zero-refused",
    checks: [V5_2_2_1_3, V5_4_13_1_1, V311_2_3_1_1, V311_4_8_0_1],
    requires: [QoS1],
    faults: [IgnoreMalformedPublish],
    tags: [ToBroker],
    run: packet_id_zero,
}

fn packet_id_zero(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("t");
        // The twin: the same QoS 1 PUBLISH with a non-zero Packet Identifier is acknowledged.
        c.publish(&topic).qos(1).payload("x").as_twin().await?;
        c.send_raw(raw_publish(&t, 0b0010, &topic, Some(0), &[], b"x"))
            .await?;
        expect_connection_closed(
            &t,
            &mut c,
            &[ReasonCode::MalformedPacket, ReasonCode::ProtocolError],
        )
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a client's PUBLISH carrying a Subscription Identifier is a protocol error
    SUBSCRIPTION_IDENTIFIER_FROM_CLIENT = "publish.subscription-identifier-from-client-refused",
    checks: [V5_3_3_4_6, V5_4_13_1_1],
    only: V5,
    faults: [AcceptPublishSubscriptionIdentifier],
    tags: [ToBroker],
    run: subscription_identifier_from_client,
}

fn subscription_identifier_from_client(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("t");
        // The twin: the same PUBLISH without the property.
        qos0_twin(&mut c, raw_publish(&t, 0, &topic, None, &[], b"x")).await?;
        // Property 0x0B (Subscription Identifier) = 1.
        c.send_raw(raw_publish(&t, 0, &topic, None, &[0x0B, 0x01], b"x"))
            .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::ProtocolError]).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Payloads reach the subscriber byte for byte: every byte value, empty, and larger than 64 KiB
    PAYLOAD_UNCHANGED = "publish.payload-delivered-unchanged",
    checks: [V5_4_5_0_1, V5_3_3_2_3],
    requires: [QoS1],
    faults: [TruncateLargePayloads],
    tags: [Live, ToBroker, FromBroker],
    run: payload_unchanged,
}

/// The large payload's size: above 65,535 so that a 16-bit length cannot carry it.
const LARGE_PAYLOAD: usize = 70_000;

fn payload_unchanged(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut binary: Vec<u8> = (0..=255u8).collect();
        binary.extend_from_slice(&[0xEF, 0xBB, 0xBF, 0x00]);
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        let small = [binary, Vec::new()];
        for payload in &small {
            publisher.publish(&topic).qos(1).payload(payload).await?;
        }
        // Same topic and QoS: they arrive in publishing order.
        for payload in &small {
            sub.expect_publish()
                .topic(&topic)
                .payload(payload)
                .await
                .map_err(|f| f.statement(of_run!(&t, V5_4_5_0_1)))?;
        }
        let room = t
            .capabilities()
            .maximum_packet_size
            .is_none_or(|m| m as usize > LARGE_PAYLOAD + topic.len() + 64);
        if !room {
            // The broker declared a Maximum Packet Size too small for the large payload.
            return t.pass();
        }
        // A broker may have a limit it did not declare (3.1.1 has no way to): refusing the
        // large message leaves the case without it, which is no FAIL.
        let large: Vec<u8> = (0..LARGE_PAYLOAD).map(|i| (i % 251) as u8).collect();
        publisher
            .publish(&topic)
            .qos(1)
            .payload(&large)
            .as_setup(Precondition::Other)
            .await
            .map_err(setting_up("a PUBLISH with a 70,000-byte payload accepted"))?;
        sub.expect_publish()
            .topic(&topic)
            .payload(&large)
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_4_5_0_1)))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: every User Property of a PUBLISH reaches the subscriber unchanged and in order
    USER_PROPERTIES_IN_ORDER = "publish.user-properties-forwarded-in-order",
    checks: [V5_3_3_2_17, V5_3_3_2_18],
    only: V5,
    requires: [QoS1],
    faults: [ReverseUserProperties, DropMessageProperties],
    tags: [Live, UserProperty],
    run: user_properties_in_order,
}

fn user_properties_in_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let pairs = [("k", "1"), ("a", "2"), ("k", "3"), ("z", ""), ("ü", "∑")];
        let mut user_properties = Vec::new();
        for (name, value) in pairs {
            user_properties.push((
                text(name, "User Property name")?,
                text(value, "User Property value")?,
            ));
        }
        let properties = PublishProperties {
            user_properties: user_properties.into(),
            ..PublishProperties::default()
        };
        let got = forward_with(&t, "", properties.clone()).await?;
        t.check_eq(
            "User Properties",
            &properties.user_properties,
            &got.properties.user_properties,
        )?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: the Payload Format Indicator and Content Type reach the subscriber unchanged
    PAYLOAD_FORMAT_AND_CONTENT_TYPE = "publish.payload-format-and-content-type-forwarded",
    checks: [V5_3_3_2_4, V5_3_3_2_20],
    only: V5,
    requires: [QoS1],
    faults: [DropMessageProperties],
    tags: [Live, ContentType],
    run: payload_format_and_content_type,
}

fn payload_format_and_content_type(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let properties = PublishProperties {
            payload_format_indicator: Some(PayloadFormatIndicator::Utf8),
            content_type: Some(text("text/plain; charset=utf-8", "Content Type")?),
            ..PublishProperties::default()
        };
        let got = forward_with(&t, "", properties.clone()).await?;
        t.check_eq(
            "Payload Format Indicator",
            properties.payload_format_indicator,
            got.properties.payload_format_indicator,
        )
        .map_err(|f| f.statement(S::V5_3_3_2_4))?;
        t.check_eq(
            "Content Type",
            &properties.content_type,
            &got.properties.content_type,
        )
        .map_err(|f| f.statement(S::V5_3_3_2_20))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: the Response Topic and Correlation Data reach the subscriber unchanged
    RESPONSE_TOPIC_AND_CORRELATION_DATA = "publish.response-topic-and-correlation-data-forwarded",
    checks: [V5_3_3_2_15, V5_3_3_2_16],
    only: V5,
    requires: [QoS1],
    faults: [DropMessageProperties],
    tags: [Live, RequestResponse],
    run: response_topic_and_correlation_data,
}

fn response_topic_and_correlation_data(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let reply = t.topic("reply/to/me");
        let properties = PublishProperties {
            response_topic: Some(topic_name(&reply)?),
            correlation_data: Some(Bytes::from_static(&[0x00, 0x01, 0xFE, 0xFF, 0x80])),
            ..PublishProperties::default()
        };
        let got = forward_with(&t, "", properties.clone()).await?;
        t.check_eq(
            "Response Topic",
            &properties.response_topic,
            &got.properties.response_topic,
        )
        .map_err(|f| f.statement(S::V5_3_3_2_15))?;
        t.check_eq(
            "Correlation Data",
            &properties.correlation_data,
            &got.properties.correlation_data,
        )
        .map_err(|f| f.statement(S::V5_3_3_2_16))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a message that waited in the broker is forwarded with its Message Expiry Interval reduced by the wait
    MESSAGE_EXPIRY_DECREMENTED = "publish.message-expiry-interval-decremented",
    checks: [V5_3_3_2_6],
    only: V5,
    requires: [QoS1],
    faults: [NoMessageExpiry, NoMessageExpiryQueued],
    tags: [Queued, Session],
    run: message_expiry_decremented,
}

fn message_expiry_decremented(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = persistent(&t, "sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        sub.disconnect().await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .payload("waits")
            .properties(PublishProperties {
                message_expiry_interval: Some(30),
                ..PublishProperties::default()
            })
            .await?;
        // More than a second in the broker, in any clock granularity.
        t.wait(SECOND_AND_A_BIT).await;
        let mut sub = resume(&t, "sub").await?;
        let p = sub
            .expect_publish()
            .topic(&topic)
            .payload("waits")
            .as_setup(Precondition::Other)
            .await
            .map_err(setting_up(
                "the message queued for the session delivered on resume",
            ))?;
        let left = p.properties.message_expiry_interval;
        t.check(
            left.is_some_and(|s| (1..=29).contains(&s)),
            "Message Expiry Interval between 1 and 29 (30 minus the second or more it waited)",
            format!("Message Expiry Interval {left:?}"),
        )?;
        let _ = sub.disconnect().await;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a queued message whose Message Expiry Interval passed is not delivered; an unexpired one is
    EXPIRED_MESSAGE_NOT_DELIVERED = "publish.expired-message-not-delivered",
    checks: [V5_3_3_2_5],
    only: V5,
    requires: [QoS1],
    faults: [NoMessageExpiry],
    tags: [Queued, Session],
    run: expired_message_not_delivered,
}

fn expired_message_not_delivered(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = persistent(&t, "sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        sub.disconnect().await?;
        let mut publisher = t.client("pub").connect().await?;
        // Same topic and QoS: queued in this order, so "short" would come between the others.
        for (payload, expiry) in [("long", 60), ("short", 1), ("control", 60)] {
            publisher
                .publish(&topic)
                .qos(1)
                .payload(payload)
                .properties(PublishProperties {
                    message_expiry_interval: Some(expiry),
                    ..PublishProperties::default()
                })
                .await?;
        }
        // Two seconds and a bit: past the 1 s interval even with whole-second clocks.
        t.wait(millis(2200)).await;
        let mut sub = resume(&t, "sub").await?;
        let first = sub
            .expect_publish()
            .topic(&topic)
            .as_setup(Precondition::Other)
            .await
            .map_err(setting_up(
                "the messages queued for the session delivered on resume",
            ))?;
        let second = sub
            .expect_publish()
            .topic(&topic)
            .as_control()
            .await
            .map_err(setting_up("the unexpired queued messages delivered"))?;
        let got = payloads(&[first, second]);
        t.check(
            got == ["long", "control"],
            "the unexpired queued messages [\"long\", \"control\"] only (\"short\" expired first)",
            format!("{got:?}"),
        )
        .map_err(|f| f.statement(S::V5_3_3_2_5))?;
        // "control" arrived where "short" would have been sent; nothing of it later either.
        sub.expect_no_publish()
            .for_(millis(300))
            .await
            .map_err(|f| f.statement(S::V5_3_3_2_5))?;
        let _ = sub.disconnect().await;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a message matching a subscription made with a Subscription Identifier carries it; one without carries none
    SUBSCRIPTION_IDENTIFIER_DELIVERED = "publish.subscription-identifier-delivered",
    checks: [V5_3_3_4_3, V5_3_3_4_4],
    only: V5,
    requires: [SubscriptionIdentifiers, QoS1],
    faults: [NoSubscriptionIdentifiers],
    tags: [Live, FromBroker],
    run: subscription_identifier_delivered,
}

fn subscription_identifier_delivered(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (with, without) = (t.topic("with"), t.topic("without"));
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&with)
            .qos(1)
            .subscription_identifier(4242)
            .await?;
        sub.subscribe(&without).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&with).qos(1).payload("a").await?;
        let p = sub
            .expect_publish()
            .topic(&with)
            .as_setup(Precondition::Delivery)
            .await?;
        let ids: Vec<u32> = p
            .properties
            .subscription_identifiers
            .iter()
            .map(|i| i.get())
            .collect();
        t.check_eq("Subscription Identifiers", vec![4242], ids)
            .map_err(|f| f.statement(S::V5_3_3_4_3))?;
        publisher.publish(&without).qos(1).payload("b").await?;
        let p = sub
            .expect_publish()
            .topic(&without)
            .as_setup(Precondition::Delivery)
            .await?;
        let ids: Vec<u32> = p
            .properties
            .subscription_identifiers
            .iter()
            .map(|i| i.get())
            .collect();
        // No tagged statement forbids an identifier here: MQTT-3.3.4-3 and -4 only require
        // those of the matching subscriptions that have one (3.3.2.3.8 describes the
        // property as theirs, untagged). An identifier on this message is NON-STRICT.
        if !ids.is_empty() {
            return t.non_strict(
                "no Subscription Identifier on a message whose only matching subscription has \
                 none (3.3.2.3.8, untagged)",
                format!("Subscription Identifiers {ids:?}"),
            );
        }
        t.checked();
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// '+' matches exactly one (possibly empty) level and 'a/#' matches 'a' and everything below it, nothing else
    WILDCARD_FILTERS_MATCH = "publish.wildcard-filters-match",
    checks: [V5_3_3_2_3, V5_4_5_0_1],
    requires: [Wildcards, QoS1],
    faults: [HashExcludesParent],
    tags: [Live, TopicFilter],
    run: wildcard_filters_match,
}

fn wildcard_filters_match(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let prefix = t.topic_prefix().to_owned();
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(format!("{prefix}a/+/c"))
            .qos(1)
            .and(format!("{prefix}h/#"))
            .qos(1)
            .await?;
        let cases = [
            ("a/b/c", true),
            ("a//c", true),
            ("a/b/x/c", false),
            ("a/c", false),
            ("h", true),
            ("h/x/y", true),
            ("hx", false),
        ];
        let mut publisher = t.client("pub").connect().await?;
        for (name, _) in cases {
            publisher
                .publish(format!("{prefix}{name}"))
                .qos(1)
                .payload(name)
                .await?;
        }
        let mut expected: Vec<String> = cases
            .iter()
            .filter(|(_, m)| *m)
            .map(|(n, _)| format!("{prefix}{n}"))
            .collect();
        let received = receive(&mut sub, expected.len()).await?;
        sub.expect_no_publish().for_(millis(300)).await?;
        // Both filters still deliver after the quiet time.
        control(
            &mut publisher,
            &mut sub,
            &format!("{prefix}a/ctl/c"),
            "control",
        )
        .await?;
        control(
            &mut publisher,
            &mut sub,
            &format!("{prefix}h/ctl"),
            "control",
        )
        .await?;
        let mut got: Vec<String> = received.iter().map(|p| p.topic.to_string()).collect();
        expected.sort();
        got.sort();
        t.check_eq("Topic Names delivered", expected, got)?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Topic Filters starting with '+' or '#' do not match a Topic Name starting with '$'
    DOLLAR_TOPICS = "publish.dollar-topics-not-matched-by-leading-wildcards",
    checks: [V5_4_7_2_1],
    requires: [Wildcards, QoS1],
    faults: [MatchDollarTopics],
    tags: [Live, TopicFilter, TopicName],
    run: dollar_topics,
}

fn dollar_topics(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let plain = t.topic("d");
        let dollar = format!("${plain}");
        // "+/<the rest>": the leading '+' would stand for "$mqttspec".
        let leading_plus = match plain.split_once('/') {
            Some((_, rest)) => format!("+/{rest}"),
            None => return t.error("case error: the topic prefix has no levels"),
        };
        let mut wild = t.client("wild").connect().await?;
        // '#' gets every concurrent test's messages, including a broker's malformed ones.
        wild.keep_in_step();
        let mut subscribe = wild.subscribe(&leading_plus).and("#");
        if t.is_v5() {
            // Not the retained messages of every other test.
            subscribe = subscribe.retain_handling(RetainHandling::DoNotSend);
        }
        subscribe.await?;
        let mut exact = t.client("exact").connect().await?;
        exact.subscribe(&dollar).qos(1).and(&plain).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        // The twin of a refusal: the same PUBLISH on a topic without '$' is accepted.
        publisher
            .publish(&plain)
            .qos(1)
            .payload("plain")
            .as_twin()
            .await?;
        exact
            .expect_publish()
            .topic(&plain)
            .payload("plain")
            .as_setup(Precondition::Delivery)
            .await?;
        skip_to(&mut wild, &plain, Role::Setup(Precondition::Delivery)).await?;
        match publisher
            .publish(&dollar)
            .qos(1)
            .payload("$")
            .any_reason()
            .await
        {
            Ok(p) if !p.reason_code.is_error() => {}
            Ok(p) => {
                t.refusal_seen();
                return t.informational(format!(
                    "refuses PUBLISH to a '$' topic from a client ({:?}): 4.7.2 lets it keep \
                     such topics from clients",
                    p.reason_code
                ));
            }
            Err(f) if is_refusal(&publisher, &f) => {
                t.refusal_seen();
                return t.informational(
                    "closes the connection of a client publishing to a '$' topic: 4.7.2 lets it \
                     keep such topics from clients",
                );
            }
            Err(f) => return Err(f),
        }
        // The exact subscription shows whether the message was accepted and routed.
        match exact.recv(t.response_timeout()).await {
            Received::Packet(Packet::Publish(p)) if p.topic.as_str() == dollar => {
                exact.ack(&p).await?;
            }
            Received::Timeout => {
                // The subscriber was receiving: a plain message published now arrives.
                t.absence_seen();
                control(&mut publisher, &mut exact, &plain, "control").await?;
                return t.informational(
                    "does not deliver client messages on '$' topics even to an exact \
                     subscription: 4.7.2 lets it keep such topics from clients",
                );
            }
            other => {
                return Err(Role::Setup(Precondition::UnusualTopic)
                    .classify(exact.unmet(&format!("PUBLISH topic={dollar:?}"), other)))
            }
        }
        // Meanwhile the wildcard subscriber must not see it ('#' sees everything else).
        let deadline = Instant::now() + QUIET;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match wild.recv(left).await {
                Received::Packet(Packet::Publish(p)) => {
                    if p.topic.as_str() == dollar {
                        let actual = summary::packet(&Packet::Publish(p.clone()), t.protocol());
                        return Err(Failure::fail(
                            format!(
                                "no PUBLISH topic={dollar:?} on filters {leading_plus:?} and \"#\""
                            ),
                            actual,
                        )
                        .statement(of_run!(&t, V5_4_7_2_1)));
                    }
                }
                Received::Timeout => break,
                other if foreign_malformed(&wild, &other) => {}
                // Losing the subscriber's connection shows nothing about '$' topics.
                got @ (Received::Closed | Received::Packet(Packet::Disconnect(_))) => {
                    return Err(Role::Setup(Precondition::Connection)
                        .classify(wild.unmet("the connection to stay open", got)))
                }
                other => return Err(wild.unmet("the connection to stay open", other)),
            }
        }
        t.checked();
        t.absence_seen();
        // The wildcard subscriber was receiving all along: a plain message published now
        // arrives through the same filters.
        publisher
            .publish(&plain)
            .qos(1)
            .payload("control")
            .as_control()
            .await?;
        skip_to(&mut wild, &plain, Role::CONTROL).await?;
        t.pass()
    })
}

/// Waits for a PUBLISH on `topic` at `c`, skipping PUBLISH packets on other topics (a `#`
/// subscriber sees every other test's messages); records it as a step in `role`.
async fn skip_to(c: &mut Client, topic: &str, role: Role) -> Result<(), Failure> {
    let deadline = Instant::now() + c.timeout();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.recv(left).await {
            Received::Packet(Packet::Publish(p)) => {
                c.ack(&p).await?;
                if p.topic.as_str() == topic {
                    c.ctx().succeeded(role);
                    return Ok(());
                }
            }
            Received::Packet(_) => {}
            other if foreign_malformed(c, &other) => {}
            other => return Err(role.classify(c.unmet(&format!("PUBLISH topic={topic:?}"), other))),
        }
    }
}

/// Whether `got` is a malformed PUBLISH on another test's topic, with the stream still in step:
/// a `#` subscriber receives every concurrent test's messages, and a broker's fault in one
/// of those is that test's finding, not this case's (it is in the transcript either way).
fn foreign_malformed(c: &Client, got: &Received) -> bool {
    let Some(topic) = got.malformed_publish_topic() else {
        return false;
    };
    let own = c.ctx().topic_prefix().as_bytes();
    let foreign = !topic.windows(own.len()).any(|w| w == own);
    if foreign && !c.raw_ended() {
        c.ctx().transcript().event(
            c.name(),
            "the malformed PUBLISH is on another test's topic: not judged here",
        );
        return true;
    }
    false
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: U+FEFF at the start, middle or end of a User Property, the Content Type and the Response Topic is forwarded as it is, not stripped
    BOM_KEPT_IN_PROPERTIES = "publish.bom-kept-in-forwarded-properties",
    checks: [V5_1_5_4_3],
    only: V5,
    requires: [QoS1],
    faults: [
        StripBomFromProperties,
        StripBomFromUserPropertyName,
        StripBomFromUserPropertyValue,
        StripBomFromContentType,
        StripBomFromResponseTopic,
    ],
    tags: [Live, UserProperty, ContentType, RequestResponse],
    run: bom_kept_in_properties,
}

fn bom_kept_in_properties(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        for (i, at) in POSITIONS.into_iter().enumerate() {
            let bom = |s: &str| at.place(s, "\u{feff}");
            let properties = PublishProperties {
                user_properties: vec![(
                    text(&bom("name"), "User Property name")?,
                    text(&bom("value"), "User Property value")?,
                )]
                .into(),
                content_type: Some(text(&bom("text/plain"), "Content Type")?),
                response_topic: Some(topic_name(&bom(&t.topic("reply")))?),
                ..PublishProperties::default()
            };
            let got = forward_with(&t, &i.to_string(), properties.clone()).await?;
            let checks = [
                t.check_eq(
                    "User Properties",
                    &properties.user_properties,
                    &got.properties.user_properties,
                ),
                t.check_eq(
                    "Content Type",
                    &properties.content_type,
                    &got.properties.content_type,
                ),
                t.check_eq(
                    "Response Topic",
                    &properties.response_topic,
                    &got.properties.response_topic,
                ),
            ];
            for check in checks {
                check.map_err(|mut f| {
                    f.0.expected = Some(format!(
                        "U+FEFF {}: {}",
                        at.name(),
                        f.0.expected.take().unwrap_or_default()
                    ));
                    f
                })?;
            }
        }
        t.pass()
    })
}

/// Publishes one QoS 1 message with `properties` to a fresh subscriber and returns what the
/// subscriber got (its delivery sets the case up: what it carries is checked). `name` tells
/// apart the topics and clients of several calls in one case.
async fn forward_with(
    t: &Ctx,
    name: &str,
    properties: PublishProperties,
) -> Result<Publish, Failure> {
    let topic = t.topic(&format!("t{name}"));
    let mut sub = t.client(&format!("sub{name}")).connect().await?;
    sub.subscribe(&topic).qos(1).await?;
    let mut publisher = t.client(&format!("pub{name}")).connect().await?;
    publisher
        .publish(&topic)
        .qos(1)
        .payload("héllo wörld")
        .properties(properties)
        .await?;
    sub.expect_publish()
        .topic(&topic)
        .payload("héllo wörld")
        .as_setup(Precondition::Delivery)
        .await
}

// ---------------------------------------------------------------------------------------
// How the broker encodes what it sends (the test client decodes strictly: a non-minimal
// Variable Byte Integer or a missing Property Length makes the packet malformed to it).

case! {
    /// 5.0: the Remaining Length of the PUBLISH packets the broker sends (1, 2 and 3 bytes long) uses the fewest bytes
    VARIABLE_BYTE_INTEGERS_MINIMAL = "publish.variable-byte-integers-minimal",
    checks: [V5_1_5_5_1],
    only: V5,
    faults: [NonMinimalRemainingLength],
    tags: [FromBroker],
    run: variable_byte_integers_minimal,
}

fn variable_byte_integers_minimal(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("v");
        c.subscribe(&topic).await?;
        // Remaining Lengths below 128, below 16,384 and above: one, two and three bytes.
        for size in [1usize, 200, 16_500] {
            let payload = vec![b'v'; size];
            c.publish(&topic).payload(&payload).await?;
            c.expect_publish()
                .topic(&topic)
                .payload(&payload)
                .await
                .map_err(|f| f.statement(S::V5_1_5_5_1))?;
        }
        t.pass()
    })
}

case! {
    /// 5.0: a packet the broker sends with no properties still has its Property Length 0 (CONNACK, SUBACK, PUBLISH, UNSUBACK)
    EMPTY_PROPERTY_LENGTH = "publish.no-properties-encoded-as-property-length-zero",
    checks: [V5_2_2_2_1],
    only: V5,
    faults: [OmitEmptyPropertyLength],
    tags: [FromBroker],
    run: empty_property_length,
}

fn empty_property_length(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // CONNACK and SUBACK decode only with their Property Length.
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("p");
        c.subscribe(&topic).await?;
        // A PUBLISH without properties, forwarded without properties: its Property Length
        // 0 must be there (without it the payload's first byte would be read as one).
        c.publish(&topic).payload("xyz").await?;
        c.expect_publish()
            .topic(&topic)
            .payload("xyz")
            .await
            .map_err(|f| f.statement(S::V5_2_2_2_1))?;
        c.unsubscribe(&topic).await?;
        t.pass()
    })
}
