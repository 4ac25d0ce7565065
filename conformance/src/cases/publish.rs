//! PUBLISH: malformed and forbidden PUBLISH packets, the payload and the MQTT 5.0 properties
//! the broker passes on, Message Expiry, Subscription Identifiers, and which subscriptions a
//! Topic Name reaches (wildcards, `$` topics).

use bytes::Bytes;
use mqttspec_codec::{
    MqttString, Packet, PayloadFormatIndicator, Properties, Publish, ReasonCode, RetainHandling,
    StatementId as S, TopicName,
};

use super::qos::{
    closing_reply, connect_persistent, end_session, expect_connection_closed, is_preferred_close,
    judge_close, raw_publish, receive, resume, statement, SECOND_AND_A_BIT,
};
use crate::client::{summary, Received};
use crate::scenario::{
    millis, BoxFuture, Capability, Case, CaseResult, Ctx, Failure, Protocols, Reply,
};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        TOPIC_NAME_WILDCARDS,
        QOS_3_MALFORMED,
        DUP_WITH_QOS_0,
        PACKET_ID_ZERO,
        SUBSCRIPTION_IDENTIFIER_FROM_CLIENT,
        PAYLOAD_UNCHANGED,
        USER_PROPERTIES_IN_ORDER,
        PAYLOAD_FORMAT_AND_CONTENT_TYPE,
        RESPONSE_TOPIC_AND_CORRELATION_DATA,
        MESSAGE_EXPIRY_DECREMENTED,
        EXPIRED_MESSAGE_NOT_DELIVERED,
        SUBSCRIPTION_IDENTIFIER_DELIVERED,
        WILDCARD_FILTERS_MATCH,
        DOLLAR_TOPICS,
    ]
}

// ---------------------------------------------------------------------------------------

const TOPIC_NAME_WILDCARDS: Case = Case {
    id: "publish.topic-name-with-wildcard-refused",
    title: "A PUBLISH whose Topic Name holds '+' or '#' is refused and the connection closed",
    area: "Topic Names and Filters",
    statements: &[
        S::V5_3_3_2_2,
        S::V5_4_7_0_1,
        S::V5_4_13_1_1,
        S::V311_3_3_2_2,
        S::V311_4_7_1_1,
        S::V311_4_8_0_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["ignore-malformed-publish"],
    unfaultable: None,
    run: topic_name_wildcards,
};

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
            let topic = format!("{}{level}", t.topic_prefix());
            c.send_raw(raw_publish(&t, 0, &topic, None, &[], b"x"))
                .await?;
            let reply = closing_reply(&t, &mut c, TOPIC_NAME_CODES)
                .await
                .map_err(|f| f.statement(statement(&t, S::V5_3_3_2_2, S::V311_3_3_2_2)))?;
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

const QOS_3_MALFORMED: Case = Case {
    id: "publish.qos-3-is-malformed",
    title: "A PUBLISH with both QoS bits set is malformed: the connection is closed",
    area: "PUBLISH",
    statements: &[S::V5_3_3_1_4, S::V5_4_13_1_1, S::V311_3_3_1_4],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["ignore-malformed-publish"],
    unfaultable: None,
    run: qos_3_malformed,
};

fn qos_3_malformed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("t");
        c.send_raw(raw_publish(&t, 0b0110, &topic, Some(1), &[], b"x"))
            .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::MalformedPacket]).await
    })
}

// ---------------------------------------------------------------------------------------

const DUP_WITH_QOS_0: Case = Case {
    id: "publish.dup-with-qos-0-refused",
    title: "3.1.1: a QoS 0 PUBLISH with DUP 1 is a protocol violation that closes the connection (5.0: whether it is checked is recorded)",
    area: "PUBLISH",
    statements: &[
        S::V5_3_3_1_2,
        S::V5_4_13_1_1,
        S::V311_3_3_1_2,
        S::V311_4_8_0_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["ignore-malformed-publish@3.1.1"],
    unfaultable: None,
    run: dup_with_qos_0,
};

/// DISCONNECT codes for a QoS 0 PUBLISH with DUP 1.
const DUP_CODES: &[ReasonCode] = &[ReasonCode::MalformedPacket, ReasonCode::ProtocolError];

fn dup_with_qos_0(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("t");
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
            Received::Packet(Packet::PingResp) => {
                t.checked();
                t.informational("does not check DUP on QoS 0 PUBLISH packets (5.0 leaves the check to the receiver)")
            }
            Received::Closed => judge_close(&t, Reply::Closed, DUP_CODES),
            Received::Packet(Packet::Disconnect(d)) if d.reason_code.is_error() => {
                t.checked();
                c.expect_closed().await?;
                let reply = if DUP_CODES.contains(&d.reason_code) {
                    Reply::Disconnect(d.reason_code)
                } else {
                    Reply::DisconnectError
                };
                judge_close(&t, reply, DUP_CODES)
            }
            other => Err(c.unmet(
                "DISCONNECT 0x81 or 0x82, the close, or PINGRESP (DUP not checked)",
                other,
            )),
        }
    })
}

// ---------------------------------------------------------------------------------------

const PACKET_ID_ZERO: Case = Case {
    id: "publish.packet-id-zero-refused",
    title: "A QoS 1 PUBLISH with Packet Identifier 0 is refused and the connection closed",
    area: "Packet Identifier",
    statements: &[
        S::V5_2_2_1_3,
        S::V5_4_13_1_1,
        S::V311_2_3_1_1,
        S::V311_4_8_0_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["ignore-malformed-publish"],
    unfaultable: None,
    run: packet_id_zero,
};

fn packet_id_zero(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("t");
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

const SUBSCRIPTION_IDENTIFIER_FROM_CLIENT: Case = Case {
    id: "publish.subscription-identifier-from-client-refused",
    title: "5.0: a client's PUBLISH carrying a Subscription Identifier is a protocol error",
    area: "Subscription Identifier",
    statements: &[S::V5_3_3_4_6, S::V5_4_13_1_1],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["accept-publish-subscription-identifier"],
    unfaultable: None,
    run: subscription_identifier_from_client,
};

fn subscription_identifier_from_client(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("t");
        // Property 0x0B (Subscription Identifier) = 1.
        c.send_raw(raw_publish(&t, 0, &topic, None, &[0x0B, 0x01], b"x"))
            .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::ProtocolError]).await
    })
}

// ---------------------------------------------------------------------------------------

const PAYLOAD_UNCHANGED: Case = Case {
    id: "publish.payload-delivered-unchanged",
    title: "Payloads reach the subscriber byte for byte: every byte value, empty, and larger than 64 KiB",
    area: "PUBLISH",
    statements: &[S::V5_4_5_0_1, S::V5_3_3_2_3, S::V311_4_5_0_1, S::V311_3_3_2_3],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["truncate-large-payloads"],
    unfaultable: None,
    run: payload_unchanged,
};

/// The large payload's size: above 65,535 so that a 16-bit length cannot carry it.
const LARGE_PAYLOAD: usize = 70_000;

fn payload_unchanged(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut binary: Vec<u8> = (0..=255u8).collect();
        binary.extend_from_slice(&[0xEF, 0xBB, 0xBF, 0x00]);
        let large: Vec<u8> = (0..LARGE_PAYLOAD).map(|i| (i % 251) as u8).collect();
        let mut sent = vec![binary, Vec::new()];
        let room = t
            .capabilities()
            .maximum_packet_size
            .map_or(true, |m| m as usize > LARGE_PAYLOAD + topic.len() + 64);
        if room {
            sent.push(large);
        }
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        for payload in &sent {
            publisher.publish(&topic).qos(1).payload(payload).await?;
        }
        // Same topic and QoS: they arrive in publishing order.
        for payload in &sent {
            sub.expect_publish()
                .topic(&topic)
                .payload(payload)
                .await
                .map_err(|f| f.statement(statement(&t, S::V5_4_5_0_1, S::V311_4_5_0_1)))?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const USER_PROPERTIES_IN_ORDER: Case = Case {
    id: "publish.user-properties-forwarded-in-order",
    title: "5.0: every User Property of a PUBLISH reaches the subscriber unchanged and in order",
    area: "PUBLISH",
    statements: &[S::V5_3_3_2_17, S::V5_3_3_2_18],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["reverse-user-properties", "drop-message-properties"],
    unfaultable: None,
    run: user_properties_in_order,
};

fn user_properties_in_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let pairs = [("k", "1"), ("a", "2"), ("k", "3"), ("z", ""), ("ü", "∑")];
        let mut user_properties = Vec::new();
        for (name, value) in pairs {
            user_properties.push((string(name)?, string(value)?));
        }
        let properties = Properties {
            user_properties,
            ..Properties::default()
        };
        let got = forward_with(&t, properties.clone()).await?;
        t.check_eq(
            "User Properties",
            &properties.user_properties,
            &got.properties.user_properties,
        )?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const PAYLOAD_FORMAT_AND_CONTENT_TYPE: Case = Case {
    id: "publish.payload-format-and-content-type-forwarded",
    title: "5.0: the Payload Format Indicator and Content Type reach the subscriber unchanged",
    area: "PUBLISH",
    statements: &[S::V5_3_3_2_4, S::V5_3_3_2_20],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["drop-message-properties"],
    unfaultable: None,
    run: payload_format_and_content_type,
};

fn payload_format_and_content_type(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let properties = Properties {
            payload_format_indicator: Some(PayloadFormatIndicator::Utf8),
            content_type: Some(string("text/plain; charset=utf-8")?),
            ..Properties::default()
        };
        let got = forward_with(&t, properties.clone()).await?;
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

const RESPONSE_TOPIC_AND_CORRELATION_DATA: Case = Case {
    id: "publish.response-topic-and-correlation-data-forwarded",
    title: "5.0: the Response Topic and Correlation Data reach the subscriber unchanged",
    area: "Request/Response",
    statements: &[S::V5_3_3_2_15, S::V5_3_3_2_16],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["drop-message-properties"],
    unfaultable: None,
    run: response_topic_and_correlation_data,
};

fn response_topic_and_correlation_data(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let reply = t.topic("reply/to/me");
        let properties = Properties {
            response_topic: Some(TopicName::new(reply.clone()).map_err(|e| {
                Failure::error(format!("case error: Response Topic {reply:?}: {e}"))
            })?),
            correlation_data: Some(Bytes::from_static(&[0x00, 0x01, 0xFE, 0xFF, 0x80])),
            ..Properties::default()
        };
        let got = forward_with(&t, properties.clone()).await?;
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

const MESSAGE_EXPIRY_DECREMENTED: Case = Case {
    id: "publish.message-expiry-interval-decremented",
    title: "5.0: a message that waited in the broker is forwarded with its Message Expiry Interval reduced by the wait",
    area: "Message Expiry",
    statements: &[S::V5_3_3_2_6],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["no-message-expiry"],
    unfaultable: None,
    run: message_expiry_decremented,
};

fn message_expiry_decremented(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = connect_persistent(&t, "sub").await?;
        sub.subscribe(&topic).qos(1).await?;
        sub.disconnect().await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .payload("waits")
            .properties(Properties {
                message_expiry_interval: Some(30),
                ..Properties::default()
            })
            .await?;
        // More than a second in the broker, in any clock granularity.
        t.wait(SECOND_AND_A_BIT).await;
        let mut sub = resume(&t, "sub").await?;
        let p = sub.expect_publish().topic(&topic).payload("waits").await?;
        let left = p.properties.message_expiry_interval;
        t.check(
            left.is_some_and(|s| (1..=29).contains(&s)),
            "Message Expiry Interval between 1 and 29 (30 minus the second or more it waited)",
            format!("Message Expiry Interval {left:?}"),
        )?;
        sub.disconnect().await?;
        end_session(&t, "sub").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const EXPIRED_MESSAGE_NOT_DELIVERED: Case = Case {
    id: "publish.expired-message-not-delivered",
    title: "5.0: a queued message whose Message Expiry Interval passed is not delivered; an unexpired one is",
    area: "Message Expiry",
    statements: &[S::V5_3_3_2_5],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["no-message-expiry"],
    unfaultable: None,
    run: expired_message_not_delivered,
};

fn expired_message_not_delivered(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = connect_persistent(&t, "sub").await?;
        sub.subscribe(&topic).qos(1).await?;
        sub.disconnect().await?;
        let mut publisher = t.client("pub").connect().await?;
        for (payload, expiry) in [("short", 1), ("long", 60)] {
            publisher
                .publish(&topic)
                .qos(1)
                .payload(payload)
                .properties(Properties {
                    message_expiry_interval: Some(expiry),
                    ..Properties::default()
                })
                .await?;
        }
        // Two seconds and a bit: past the 1 s interval even with whole-second clocks.
        t.wait(millis(2200)).await;
        let mut sub = resume(&t, "sub").await?;
        sub.expect_publish()
            .topic(&topic)
            .payload("long")
            .await
            .map_err(|f| f.statement(S::V5_3_3_2_5))?;
        sub.expect_no_publish()
            .for_(millis(300))
            .await
            .map_err(|f| f.statement(S::V5_3_3_2_5))?;
        sub.disconnect().await?;
        end_session(&t, "sub").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SUBSCRIPTION_IDENTIFIER_DELIVERED: Case = Case {
    id: "publish.subscription-identifier-delivered",
    title: "5.0: a message matching a subscription made with a Subscription Identifier carries it; one without carries none",
    area: "Subscription Identifier",
    statements: &[S::V5_3_3_4_3, S::V5_3_3_4_4],
    protocols: Protocols::V5,
    requires: &[Capability::SubscriptionIdentifiers, Capability::QoS1],
    faults: &["no-subscription-identifiers"],
    unfaultable: None,
    run: subscription_identifier_delivered,
};

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
        let p = sub.expect_publish().topic(&with).await?;
        let ids: Vec<u32> = p
            .properties
            .subscription_identifiers
            .iter()
            .map(|i| i.get())
            .collect();
        t.check_eq("Subscription Identifiers", vec![4242], ids)
            .map_err(|f| f.statement(S::V5_3_3_4_3))?;
        publisher.publish(&without).qos(1).payload("b").await?;
        let p = sub.expect_publish().topic(&without).await?;
        let ids: Vec<u32> = p
            .properties
            .subscription_identifiers
            .iter()
            .map(|i| i.get())
            .collect();
        t.check_eq("Subscription Identifiers", Vec::<u32>::new(), ids)?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const WILDCARD_FILTERS_MATCH: Case = Case {
    id: "publish.wildcard-filters-match",
    title: "'+' matches exactly one (possibly empty) level and 'a/#' matches 'a' and everything below it, nothing else",
    area: "Topic Names and Filters",
    statements: &[S::V5_3_3_2_3, S::V5_4_5_0_1, S::V311_3_3_2_3, S::V311_4_5_0_1],
    protocols: Protocols::Both,
    requires: &[Capability::Wildcards, Capability::QoS1],
    faults: &["hash-excludes-parent"],
    unfaultable: None,
    run: wildcard_filters_match,
};

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
        let mut got: Vec<String> = received.iter().map(|p| p.topic.to_string()).collect();
        expected.sort();
        got.sort();
        t.check_eq("Topic Names delivered", expected, got)?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const DOLLAR_TOPICS: Case = Case {
    id: "publish.dollar-topics-not-matched-by-leading-wildcards",
    title: "Topic Filters starting with '+' or '#' do not match a Topic Name starting with '$'",
    area: "Topic Names and Filters",
    statements: &[S::V5_4_7_2_1, S::V311_4_7_2_1],
    protocols: Protocols::Both,
    requires: &[Capability::Wildcards, Capability::QoS1],
    faults: &["match-dollar-topics"],
    unfaultable: None,
    run: dollar_topics,
};

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
        let mut subscribe = wild.subscribe(&leading_plus).and("#");
        if t.is_v5() {
            // Not the retained messages of every other test.
            subscribe = subscribe.retain_handling(RetainHandling::DoNotSend);
        }
        let codes = subscribe.any_reason().await?;
        if codes.first().map_or(true, |c| c.is_error()) {
            return t.error(format!("the broker refused the subscription: {codes:?}"));
        }
        let mut exact = t.client("exact").connect().await?;
        exact.subscribe(&dollar).qos(1).any_reason().await?;
        let mut publisher = t.client("pub").connect().await?;
        match publisher
            .publish(&dollar)
            .qos(1)
            .payload("$")
            .any_reason()
            .await
        {
            Ok(p) if !p.reason_code.is_error() => {}
            Ok(p) => {
                return t.informational(format!(
                    "refuses PUBLISH to a '$' topic from a client ({:?})",
                    p.reason_code
                ))
            }
            Err(_) => {
                return t
                    .informational("closes the connection of a client publishing to a '$' topic")
            }
        }
        // The exact subscription shows the message was accepted and routed.
        match exact.recv(t.response_timeout()).await {
            Received::Packet(Packet::Publish(p)) if p.topic.as_str() == dollar => {
                exact.ack(&p).await?;
            }
            Received::Timeout => {
                return t.informational(
                    "does not deliver client messages on '$' topics even to an exact subscription",
                )
            }
            other => return Err(exact.unmet(&format!("PUBLISH topic={dollar:?}"), other)),
        }
        // Meanwhile the wildcard subscriber must not see it ('#' sees everything else).
        let deadline = tokio::time::Instant::now() + millis(600);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
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
                        .statement(statement(
                            &t,
                            S::V5_4_7_2_1,
                            S::V311_4_7_2_1,
                        )));
                    }
                }
                Received::Timeout => break,
                other => return Err(wild.unmet("the connection to stay open", other)),
            }
        }
        t.checked();
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

/// A UTF-8 Encoded String for a property (a case error if invalid).
fn string(s: &str) -> Result<MqttString, Failure> {
    MqttString::new(s, "property").map_err(|e| Failure::error(format!("case error: {s:?}: {e}")))
}

/// Publishes one QoS 1 message with `properties` to a fresh subscriber and returns what the
/// subscriber got.
async fn forward_with(t: &Ctx, properties: Properties) -> Result<Publish, Failure> {
    let topic = t.topic("t");
    let mut sub = t.client("sub").connect().await?;
    sub.subscribe(&topic).qos(1).await?;
    let mut publisher = t.client("pub").connect().await?;
    publisher
        .publish(&topic)
        .qos(1)
        .payload("héllo wörld")
        .properties(properties)
        .await?;
    let got = sub
        .expect_publish()
        .topic(&topic)
        .payload("héllo wörld")
        .await?;
    Ok(got)
}
