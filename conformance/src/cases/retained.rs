//! Retained messages: stored and sent to new subscriptions with RETAIN 1, replaced by newer
//! ones, cleared by an empty payload, untouched by RETAIN 0, the RETAIN flag on established
//! subscriptions (Retain As Published), Retain Handling, survival past the publisher's
//! session, wildcard filters, the QoS they are sent at, `$` topics, and Retain Available 0.
//!
//! Every case publishes its retained messages at QoS 1, so they are stored when the PUBACK
//! arrives, and clears them at the end where that is cheap.

use mqttspec_codec::{
    Packet, Publish, QoS, ReasonCode, RetainHandling, StatementId as S, TopicName,
};

use super::subscribe::{describe, granted_one, publishes_within, QUIET};
use crate::scenario::{
    BoxFuture, Capability, Case, CaseResult, Client, Ctx, Failure, Protocols, Reply,
};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        DELIVERED_ON_SUBSCRIBE,
        REPLACED_BY_NEWER,
        CLEARED_BY_EMPTY_PAYLOAD,
        UNTOUCHED_BY_RETAIN_0,
        FORWARDED_WITH_RETAIN_0,
        RETAIN_AS_PUBLISHED,
        RESENT_ON_RESUBSCRIBE,
        HANDLING_1_ONLY_NEW,
        HANDLING_2_NEVER,
        SURVIVES_SESSION_END,
        WILDCARD_FILTERS,
        QOS_IS_MINIMUM,
        DOLLAR_TOPIC_NOT_FOR_LEADING_WILDCARD,
        UNAVAILABLE_REFUSED,
    ]
}

/// Removes the retained message of `topic` (an empty retained PUBLISH), waiting for PUBACK.
async fn clear(c: &mut Client, topic: &str) -> Result<(), Failure> {
    c.publish(topic).qos(1).retain().await.map(|_| ())
}

// ---------------------------------------------------------------------------------------

const DELIVERED_ON_SUBSCRIBE: Case = Case {
    id: "retain.delivered-on-subscribe",
    title:
        "A retained message is stored and sent, with RETAIN 1, to a client that subscribes later",
    area: "Retained Messages",
    statements: &[
        S::V5_3_3_1_5,
        S::V5_3_3_1_9,
        S::V311_3_3_1_5,
        S::V311_3_3_1_6,
        S::V311_3_3_1_8,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["no-retain-delivery"],
    unfaultable: None,
    run: delivered_on_subscribe,
};

fn delivered_on_subscribe(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("kept")
            .await?;
        let mut late = t.client("sub").connect().await?;
        late.subscribe(&topic).qos(1).await?;
        late.expect_publish()
            .topic(&topic)
            .retain(true)
            .payload("kept")
            .await?;
        clear(&mut publisher, &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const REPLACED_BY_NEWER: Case = Case {
    id: "retain.replaced-by-newer-retained-message",
    title: "A newer retained message replaces the stored one (a QoS 0 one too, which the broker may also drop)",
    area: "Retained Messages",
    statements: &[S::V5_3_3_1_5, S::V311_3_3_1_5, S::V311_3_3_1_7],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["no-retain-delivery"],
    unfaultable: None,
    run: replaced_by_newer,
};

fn replaced_by_newer(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let v = t.protocol();
        let topic = t.topic("r");
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("first")
            .await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("second")
            .await?;
        let mut a = t.client("a").connect().await?;
        a.subscribe(&topic).qos(1).await?;
        a.expect_publish()
            .topic(&topic)
            .retain(true)
            .payload("second")
            .await?;
        a.expect_no_publish().for_(QUIET).await?;
        // A QoS 0 retained message also replaces it; the broker may keep or drop the new one.
        publisher.publish(&topic).retain().payload("third").await?;
        publisher.alive().await?;
        let mut b = t.client("b").connect().await?;
        b.subscribe(&topic).qos(1).await?;
        // A live (RETAIN 0) message after the SUBACK marks the end of what the subscription
        // brought.
        publisher.publish(&topic).qos(1).payload("live").await?;
        let mut got = vec![b.expect_publish().topic(&topic).await?];
        got.extend(publishes_within(&t, &mut b, QUIET).await?);
        let payloads: Vec<&[u8]> = got.iter().map(|p| p.payload.as_ref()).collect();
        t.check(
            !payloads.contains(&b"second".as_slice()),
            "no copy of the replaced retained message \"second\"",
            describe(&got, v),
        )?;
        clear(&mut publisher, &topic).await?;
        if payloads.contains(&b"third".as_slice()) {
            t.pass()
        } else {
            t.informational("the QoS 0 retained message was not kept (the broker may drop it)")
        }
    })
}

// ---------------------------------------------------------------------------------------

const CLEARED_BY_EMPTY_PAYLOAD: Case = Case {
    id: "retain.cleared-by-empty-payload",
    title: "A retained PUBLISH with an empty payload reaches current subscribers and removes the retained message; it is not stored",
    area: "Retained Messages",
    statements: &[
        S::V5_3_3_1_6,
        S::V5_3_3_1_7,
        S::V311_3_3_1_10,
        S::V311_3_3_1_11,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["no-retained-clear"],
    unfaultable: None,
    run: cleared_by_empty_payload,
};

fn cleared_by_empty_payload(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let mut current = t.client("current").connect().await?;
        current.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("kept")
            .await?;
        current
            .expect_publish()
            .topic(&topic)
            .payload("kept")
            .await?;
        clear(&mut publisher, &topic).await?;
        // Delivered as usual to the established subscription, so with RETAIN 0.
        current
            .expect_publish()
            .topic(&topic)
            .retain(false)
            .payload("")
            .await?;
        let mut late = t.client("late").connect().await?;
        late.subscribe(&topic).qos(1).await?;
        publisher.publish(&topic).qos(1).payload("live").await?;
        late.expect_publish()
            .topic(&topic)
            .retain(false)
            .payload("live")
            .await?;
        late.expect_no_publish().for_(QUIET).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const UNTOUCHED_BY_RETAIN_0: Case = Case {
    id: "retain.untouched-by-non-retained-publish",
    title:
        "A PUBLISH with RETAIN 0 is not stored and leaves the topic's retained message as it was",
    area: "Retained Messages",
    statements: &[S::V5_3_3_1_8, S::V311_3_3_1_12],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["retain-zero-replaces"],
    unfaultable: None,
    run: untouched_by_retain_0,
};

fn untouched_by_retain_0(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("kept")
            .await?;
        publisher.publish(&topic).qos(1).payload("live").await?;
        let mut late = t.client("sub").connect().await?;
        late.subscribe(&topic).qos(1).await?;
        late.expect_publish()
            .topic(&topic)
            .retain(true)
            .payload("kept")
            .await?;
        late.expect_no_publish().for_(QUIET).await?;
        clear(&mut publisher, &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const FORWARDED_WITH_RETAIN_0: Case = Case {
    id: "retain.forwarded-to-existing-subscription-with-retain-0",
    title: "A retained message published while a subscription exists reaches it with RETAIN 0 (5.0: Retain As Published 0)",
    area: "Retained Messages",
    statements: &[S::V5_3_3_1_12, S::V311_3_3_1_9],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["retain-flag-on-forward"],
    unfaultable: None,
    run: forwarded_with_retain_0,
};

fn forwarded_with_retain_0(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("state")
            .await?;
        sub.expect_publish()
            .topic(&topic)
            .retain(false)
            .payload("state")
            .await?;
        clear(&mut publisher, &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const RETAIN_AS_PUBLISHED: Case = Case {
    id: "retain.retain-as-published-keeps-the-flag",
    title:
        "With Retain As Published, forwarded messages keep the RETAIN flag they were published with",
    area: "Retained Messages",
    statements: &[S::V5_3_3_1_13],
    protocols: Protocols::V5,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["ignore-retain-as-published"],
    unfaultable: None,
    run: retain_as_published,
};

fn retain_as_published(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).retain_as_published().await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("retained")
            .await?;
        sub.expect_publish()
            .topic(&topic)
            .retain(true)
            .payload("retained")
            .await?;
        publisher.publish(&topic).qos(1).payload("plain").await?;
        sub.expect_publish()
            .topic(&topic)
            .retain(false)
            .payload("plain")
            .await?;
        clear(&mut publisher, &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const RESENT_ON_RESUBSCRIBE: Case = Case {
    id: "retain.resent-when-subscription-is-replaced",
    title: "Subscribing again to the same filter (5.0: Retain Handling 0) sends the retained messages again",
    area: "Retained Messages",
    statements: &[S::V5_3_3_1_9, S::V5_3_8_4_4, S::V311_3_8_4_3],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["no-retain-delivery"],
    unfaultable: None,
    run: resent_on_resubscribe,
};

fn resent_on_resubscribe(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("kept")
            .await?;
        let mut sub = t.client("sub").connect().await?;
        for _ in 0..2 {
            sub.subscribe(&topic).qos(1).await?;
            sub.expect_publish()
                .topic(&topic)
                .retain(true)
                .payload("kept")
                .await?;
        }
        clear(&mut publisher, &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const HANDLING_1_ONLY_NEW: Case = Case {
    id: "retain.handling-1-only-for-a-new-subscription",
    title: "Retain Handling 1 sends retained messages for a new subscription but not when it already existed",
    area: "Retained Messages",
    statements: &[S::V5_3_3_1_10],
    protocols: Protocols::V5,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["ignore-retain-handling"],
    unfaultable: None,
    run: handling_1_only_new,
};

fn handling_1_only_new(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("kept")
            .await?;
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic)
            .qos(1)
            .retain_handling(RetainHandling::SendIfNew)
            .await?;
        sub.expect_publish()
            .topic(&topic)
            .retain(true)
            .payload("kept")
            .await?;
        sub.subscribe(&topic)
            .qos(1)
            .retain_handling(RetainHandling::SendIfNew)
            .await?;
        publisher.publish(&topic).qos(1).payload("live").await?;
        sub.expect_publish()
            .topic(&topic)
            .retain(false)
            .payload("live")
            .await?;
        sub.expect_no_publish().for_(QUIET).await?;
        clear(&mut publisher, &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const HANDLING_2_NEVER: Case = Case {
    id: "retain.handling-2-sends-none",
    title:
        "Retain Handling 2 sends no retained message when subscribing; live messages still arrive",
    area: "Retained Messages",
    statements: &[S::V5_3_3_1_11],
    protocols: Protocols::V5,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["ignore-retain-handling"],
    unfaultable: None,
    run: handling_2_never,
};

fn handling_2_never(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("kept")
            .await?;
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic)
            .qos(1)
            .retain_handling(RetainHandling::DoNotSend)
            .await?;
        publisher.publish(&topic).qos(1).payload("live").await?;
        sub.expect_publish()
            .topic(&topic)
            .retain(false)
            .payload("live")
            .await?;
        sub.expect_no_publish().for_(QUIET).await?;
        clear(&mut publisher, &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SURVIVES_SESSION_END: Case = Case {
    id: "retain.survives-the-end-of-the-publishers-session",
    title: "A retained message stays after the session of the client that published it has ended",
    area: "Retained Messages",
    statements: &[
        S::V5_3_3_1_5,
        S::V5_3_3_1_9,
        S::V311_3_1_2_7,
        S::V311_3_3_1_6,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["no-retain-delivery"],
    unfaultable: None,
    run: survives_session_end,
};

fn survives_session_end(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        // Clean Start / Clean Session 1 and no Session Expiry: the session ends with the
        // connection.
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("kept")
            .await?;
        publisher.disconnect().await?;
        let mut late = t.client("sub").connect().await?;
        late.subscribe(&topic).qos(1).await?;
        late.expect_publish()
            .topic(&topic)
            .retain(true)
            .payload("kept")
            .await?;
        clear(&mut late, &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const WILDCARD_FILTERS: Case = Case {
    id: "retain.sent-for-every-topic-a-wildcard-filter-matches",
    title:
        "A wildcard subscription gets the retained message of every matching topic, and of no other",
    area: "Retained Messages",
    statements: &[
        S::V5_3_3_1_9,
        S::V5_3_3_2_3,
        S::V311_3_3_1_6,
        S::V311_3_3_2_3,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1, Capability::Wildcards],
    faults: &["no-retain-delivery"],
    unfaultable: None,
    run: wildcard_filters,
};

fn wildcard_filters(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let v = t.protocol();
        let names = ["a/x", "b/x", "a/y", "a/b/x"];
        let mut publisher = t.client("pub").connect().await?;
        for name in names {
            let topic = t.topic(&format!("w/{name}"));
            publisher
                .publish(&topic)
                .qos(1)
                .retain()
                .payload(name)
                .await?;
        }
        for (filter, wanted) in [
            ("w/+/x", vec!["a/x", "b/x"]),
            ("w/#", vec!["a/b/x", "a/x", "a/y", "b/x"]),
        ] {
            let mut sub = t.client(filter).connect().await?;
            sub.subscribe(t.topic(filter)).qos(1).await?;
            let mut got = vec![sub.expect_publish().retain(true).await?];
            got.extend(publishes_within(&t, &mut sub, QUIET).await?);
            let mut payloads: Vec<String> = got
                .iter()
                .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
                .collect();
            payloads.sort();
            let all_retained = got.iter().all(|p| p.retain);
            t.check(
                payloads == wanted && all_retained,
                format!("for {filter:?} the retained messages of {wanted:?} (RETAIN 1), once each"),
                describe(&got, v),
            )?;
        }
        for name in names {
            clear(&mut publisher, &t.topic(&format!("w/{name}"))).await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const QOS_IS_MINIMUM: Case = Case {
    id: "retain.sent-at-minimum-of-stored-and-granted-qos",
    title:
        "A retained message is sent at the lower of the QoS it was stored with and the QoS granted",
    area: "Retained Messages",
    statements: &[S::V5_3_8_4_8, S::V311_3_3_1_5, S::V311_3_8_4_6],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1],
    faults: &["no-qos-downgrade"],
    unfaultable: None,
    run: qos_is_minimum,
};

fn qos_is_minimum(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("q1")
            .await?;
        let mut low = t.client("low").connect().await?;
        low.subscribe(&topic).qos(0).await?;
        low.expect_publish()
            .topic(&topic)
            .retain(true)
            .qos(0)
            .payload("q1")
            .await?;
        let mut high = t.client("high").connect().await?;
        let g = granted_one(&high.subscribe(&topic).qos(2).await?)?;
        high.expect_publish()
            .topic(&topic)
            .retain(true)
            .qos(g.min(1))
            .payload("q1")
            .await?;
        clear(&mut publisher, &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const DOLLAR_TOPIC_NOT_FOR_LEADING_WILDCARD: Case = Case {
    id: "retain.dollar-topic-not-sent-for-leading-wildcard",
    title: "A filter starting with a wildcard does not get the retained message of a topic starting with '$'",
    area: "Retained Messages",
    statements: &[S::V5_4_7_2_1, S::V311_4_7_2_1],
    protocols: Protocols::Both,
    requires: &[Capability::Retain, Capability::QoS1, Capability::Wildcards],
    faults: &["no-retain-delivery"],
    unfaultable: None,
    run: dollar_topic_not_for_leading_wildcard,
};

fn dollar_topic_not_for_leading_wildcard(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let plain = t.topic("d");
        let dollar = format!("${plain}");
        let Some((_, rest)) = plain.split_once('/') else {
            return t.error("the topic prefix has no level separator");
        };
        let wildcard = format!("+/{rest}");
        let mut publisher = t.client("pub").connect().await?;
        let sent = publisher
            .publish(&dollar)
            .qos(1)
            .retain()
            .payload("dollar")
            .any_reason()
            .await?;
        if sent.reason_code.is_error() {
            return t.informational(format!(
                "the broker refused a PUBLISH to a '$' topic ({:?})",
                sent.reason_code
            ));
        }
        publisher
            .publish(&plain)
            .qos(1)
            .retain()
            .payload("plain")
            .await?;
        let mut wild = t.client("wild").connect().await?;
        wild.subscribe(&wildcard).qos(1).await?;
        wild.expect_publish()
            .topic(&plain)
            .retain(true)
            .payload("plain")
            .await?;
        wild.expect_no_publish().for_(QUIET).await?;
        clear(&mut publisher, &plain).await?;
        // Control: a literal '$' filter gets the message, so the broker did keep it and the
        // check above meant something.
        let mut literal = t.client("literal").connect().await?;
        literal.subscribe(&dollar).qos(1).await?;
        let kept = literal
            .expect_publish()
            .topic(&dollar)
            .payload("dollar")
            .await
            .is_ok();
        clear(&mut publisher, &dollar).await?;
        if kept {
            t.pass()
        } else {
            t.informational(
                "the broker did not keep a retained message on a '$' topic published by a client",
            )
        }
    })
}

// ---------------------------------------------------------------------------------------

const UNAVAILABLE_REFUSED: Case = Case {
    id: "retain.refused-when-retain-unavailable",
    title: "A broker announcing Retain Available 0 treats a PUBLISH with RETAIN 1 as a protocol error (DISCONNECT 0x9A)",
    area: "Retained Messages",
    statements: &[S::V5_3_2_2_14, S::V5_4_13_1_1],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["unenforced-retain-available"],
    unfaultable: None,
    run: unavailable_refused,
};

fn unavailable_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        if t.capabilities().retain_available {
            return t
                .unsupported("the broker offers retained messages (Retain Available is not 0)");
        }
        let topic = t.topic("r");
        let mut c = t.client("c").connect().await?;
        let declared = c.connack().and_then(|a| a.properties.retain_available);
        t.check(
            declared == Some(false),
            "CONNACK with Retain Available 0, as the probe saw",
            format!("Retain Available {declared:?}"),
        )?;
        let publish = Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: TopicName::new(topic.clone())
                .map_err(|e| Failure::error(format!("case error: topic {topic:?}: {e}")))?,
            packet_id: Some(c.next_packet_id()),
            properties: Default::default(),
            payload: bytes::Bytes::from_static(b"x"),
        };
        c.send(&Packet::Publish(publish)).await?;
        let reply = c
            .expect_reply(&[
                Reply::Disconnect(ReasonCode::RetainNotSupported),
                Reply::DisconnectError,
                Reply::Closed,
            ])
            .await?;
        match reply {
            Reply::Disconnect(_) => t.pass(),
            Reply::DisconnectError => t.non_strict(
                "DISCONNECT with Reason Code 0x9A (Retain not supported)",
                "DISCONNECT with another error code",
            ),
            _ => t.non_strict(
                "DISCONNECT with Reason Code 0x9A (Retain not supported) before the close",
                "the connection closed without DISCONNECT",
            ),
        }
    })
}
