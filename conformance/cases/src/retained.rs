//! Retained messages: stored and sent to new subscriptions with RETAIN 1, replaced by newer
//! ones, cleared by an empty payload, untouched by RETAIN 0, the RETAIN flag on established
//! subscriptions (Retain As Published), Retain Handling, survival past the publisher's
//! session, wildcard filters, the QoS they are sent at, `$` topics, and Retain Available 0.
//!
//! Every case publishes its retained messages at QoS 1, so they are stored when the PUBACK
//! arrives, and runs inside [`clearing_retained`], which removes them when the case ends,
//! whatever its verdict. A case that judges a retained message *not* being sent ends with
//! [`retained_control`]: the same connection subscribes to a topic holding a retained
//! message, which must arrive.

use mqttspec_codec::{Packet, Publish, ReasonCode, RetainHandling, StatementId as S};

use super::support::{
    clearing_retained, describe, end_session, expect_connection_closed, expect_next,
    finish_retain_notes, granted_one, of_run, on_path, payloads, publish_packet, publish_retained,
    publishes_within, retain_flag_on_subscribe, QUIET,
};
use mqttspec_harness::case;
use mqttspec_harness::client::summary;
use mqttspec_harness::scenario::{BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Will};

/// The positive control of a retained message not sent: `sub` subscribes, on the same
/// connection, to `topic`, which holds the retained message `payload`, and its next PUBLISH
/// must be that message (none: INCONCLUSIVE). A PUBLISH before it is FAIL (`forbidden`:
/// what the case says must not arrive).
async fn retained_control(
    sub: &mut Client,
    topic: &str,
    payload: &str,
    forbidden: &str,
) -> Result<(), Failure> {
    sub.subscribe(topic).qos(1).await?;
    expect_next(sub, Precondition::Control, topic, payload, forbidden).await?;
    Ok(())
}

/// Expects the retained message `payload` on `topic`, sent because a subscription was made
/// (a check: the cited statements require it to come), and checks its RETAIN flag with
/// [`retain_flag_on_subscribe`].
async fn expect_retained(
    t: &Ctx,
    sub: &mut Client,
    topic: &str,
    payload: &str,
    notes: &mut Vec<String>,
) -> Result<Publish, Failure> {
    let p = sub.expect_publish().topic(topic).payload(payload).await?;
    retain_flag_on_subscribe(t, &p, notes)?;
    Ok(p)
}

/// A message forwarded to an established subscription: its arrival sets the case up
/// (INCONCLUSIVE without it); its RETAIN flag must be `retain`, as statement `s` requires
/// (MQTT-3.3.1-12, Retain As Published 0: RETAIN 0; MQTT-3.3.1-13, 1: as published).
async fn expect_forwarded(
    t: &Ctx,
    sub: &mut Client,
    topic: &str,
    payload: &str,
    retain: bool,
    s: S,
) -> Result<Publish, Failure> {
    expect_forwarded_on(t, sub, topic, payload, retain, s, Precondition::Delivery).await
}

/// [`expect_forwarded`] for a message that reaches its subscriber another way than live
/// (`p`: [`Precondition::QueuedDelivery`], [`Precondition::WillDelivery`], ...).
async fn expect_forwarded_on(
    t: &Ctx,
    sub: &mut Client,
    topic: &str,
    payload: &str,
    retain: bool,
    s: S,
    p: Precondition,
) -> Result<Publish, Failure> {
    let p = sub
        .expect_publish()
        .topic(topic)
        .payload(payload)
        .as_setup(p)
        .await?;
    t.check(
        p.retain == retain,
        format!(
            "RETAIN {} on the message forwarded to an established subscription",
            u8::from(retain)
        ),
        summary::packet(&Packet::Publish(p.clone()), t.protocol()),
    )
    .map_err(|f| f.statement(s))?;
    Ok(p)
}

// ---------------------------------------------------------------------------------------

case! {
    /// A retained message is stored and sent, with RETAIN 1, to a client that subscribes later
    DELIVERED_ON_SUBSCRIBE = "retain.delivered-on-subscribe",
    checks: [V5_3_3_1_5, V5_3_3_1_9, V311_3_3_1_5, V311_3_3_1_6, V311_3_3_1_8],
    requires: [Retain, QoS1],
    faults: [NoRetainDelivery],
    tags: [Retained, FromBroker],
    run: delivered_on_subscribe,
}

fn delivered_on_subscribe(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &topic, "kept").await?;
            let mut late = t.client("sub").connect().await?;
            late.subscribe(&topic).qos(1).await?;
            let mut notes = Vec::new();
            expect_retained(&t, &mut late, &topic, "kept", &mut notes).await?;
            finish_retain_notes(&t, notes)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A newer retained message replaces the stored one (a QoS 0 one too, which the broker may also drop)
    REPLACED_BY_NEWER = "retain.replaced-by-newer-retained-message",
    checks: [V5_3_3_1_5, V311_3_3_1_5, V311_3_3_1_7, V311_3_3_1_8],
    requires: [Retain, QoS1],
    faults: [NoRetainDelivery],
    tags: [Retained, FromBroker],
    run: replaced_by_newer,
}

fn replaced_by_newer(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let v = t.protocol();
        let (topic, control) = (t.topic("r"), t.topic("ctrl"));
        clearing_retained(&t, &[topic.clone(), control.clone()], async {
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &control, "control").await?;
            publish_retained(&mut publisher, &topic, "first").await?;
            publish_retained(&mut publisher, &topic, "second").await?;
            let mut a = t.client("a").connect().await?;
            a.subscribe(&topic).qos(1).await?;
            let mut notes = Vec::new();
            expect_retained(&t, &mut a, &topic, "second", &mut notes).await?;
            a.expect_no_publish().for_(QUIET).await?;
            retained_control(&mut a, &control, "control", "no copy of \"first\"").await?;
            // A QoS 0 retained message also replaces it; the broker may keep or drop the new
            // one. The PINGRESP shows the broker has handled it.
            publisher.publish(&topic).retain().payload("third").await?;
            publisher.alive().as_setup(Precondition::Publish).await?;
            let mut b = t.client("b").connect().await?;
            b.subscribe(&topic).qos(1).await?;
            // A live (RETAIN 0) message after the SUBACK marks the end of what the
            // subscription brought.
            publisher.publish(&topic).qos(1).payload("live").await?;
            let mut got = vec![b.expect_publish().topic(&topic).await?];
            got.extend(publishes_within(&t, &mut b, QUIET).await?);
            let payloads: Vec<&[u8]> = got.iter().map(|p| p.payload.as_ref()).collect();
            t.check(
                !payloads.contains(&b"second".as_slice()),
                "no copy of the replaced retained message \"second\"",
                describe(&got, v),
            )?;
            retained_control(
                &mut b,
                &control,
                "control",
                "no copy of the replaced retained message \"second\"",
            )
            .await?;
            if payloads.contains(&b"third".as_slice()) {
                finish_retain_notes(&t, notes)
            } else {
                t.informational("the QoS 0 retained message was not kept (the broker may drop it)")
            }
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A retained PUBLISH with an empty payload reaches current subscribers and removes the retained message; it is not stored
    CLEARED_BY_EMPTY_PAYLOAD = "retain.cleared-by-empty-payload",
    checks: [V5_3_3_1_6, V5_3_3_1_7, V5_3_3_1_12],
    requires: [Retain, QoS1],
    faults: [NoRetainedClear],
    tags: [Retained, Live, FromBroker],
    run: cleared_by_empty_payload,
}

fn cleared_by_empty_payload(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (topic, control) = (t.topic("r"), t.topic("ctrl"));
        clearing_retained(&t, &[topic.clone(), control.clone()], async {
            let mut current = t.client("current").connect().await?;
            current.subscribe(&topic).qos(1).await?;
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &control, "control").await?;
            publish_retained(&mut publisher, &topic, "kept").await?;
            current
                .expect_publish()
                .topic(&topic)
                .payload("kept")
                .as_setup(Precondition::Delivery)
                .await?;
            // The empty retained PUBLISH: delivered as usual to the established
            // subscription, so with RETAIN 0.
            publisher.publish(&topic).qos(1).retain().await?;
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
            retained_control(
                &mut late,
                &control,
                "control",
                "no retained message for the cleared topic",
            )
            .await?;
            t.pass()
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBLISH with RETAIN 0 is not stored and leaves the topic's retained message as it was
    UNTOUCHED_BY_RETAIN_0 = "retain.untouched-by-non-retained-publish",
    checks: [V5_3_3_1_8, V311_3_3_1_12, V311_3_3_1_8],
    requires: [Retain, QoS1],
    faults: [RetainZeroReplaces],
    tags: [Retained, FromBroker],
    run: untouched_by_retain_0,
}

fn untouched_by_retain_0(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (topic, control) = (t.topic("r"), t.topic("ctrl"));
        clearing_retained(&t, &[topic.clone(), control.clone()], async {
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &control, "control").await?;
            publish_retained(&mut publisher, &topic, "kept").await?;
            publisher.publish(&topic).qos(1).payload("live").await?;
            let mut late = t.client("sub").connect().await?;
            late.subscribe(&topic).qos(1).await?;
            let mut notes = Vec::new();
            expect_retained(&t, &mut late, &topic, "kept", &mut notes).await?;
            late.expect_no_publish().for_(QUIET).await?;
            retained_control(
                &mut late,
                &control,
                "control",
                "no retained copy of the RETAIN 0 message \"live\"",
            )
            .await?;
            finish_retain_notes(&t, notes)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A retained message published while a subscription exists reaches it with RETAIN 0 (5.0: Retain As Published 0)
    FORWARDED_WITH_RETAIN_0 = "retain.forwarded-to-existing-subscription-with-retain-0",
    checks: [V5_3_3_1_12],
    requires: [Retain, QoS1],
    faults: [RetainFlagOnForward, RetainFlagOnForwardLive],
    tags: [Live, FromBroker],
    run: forwarded_with_retain_0,
}

fn forwarded_with_retain_0(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut sub = t.client("sub").connect().await?;
            sub.subscribe(&topic).qos(1).await?;
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &topic, "state").await?;
            expect_forwarded(
                &t,
                &mut sub,
                &topic,
                "state",
                false,
                of_run!(&t, V5_3_3_1_12),
            )
            .await?;
            t.pass()
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// With Retain As Published, forwarded messages keep the RETAIN flag they were published with
    RETAIN_AS_PUBLISHED = "retain.retain-as-published-keeps-the-flag",
    checks: [V5_3_3_1_13],
    only: V5,
    requires: [Retain, QoS1],
    faults: [IgnoreRetainAsPublished, IgnoreRetainAsPublishedLive],
    tags: [Live, FromBroker],
    run: retain_as_published,
}

fn retain_as_published(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut sub = t.client("sub").connect().await?;
            sub.subscribe(&topic).qos(1).retain_as_published().await?;
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &topic, "retained").await?;
            expect_forwarded(&t, &mut sub, &topic, "retained", true, S::V5_3_3_1_13).await?;
            publisher.publish(&topic).qos(1).payload("plain").await?;
            expect_forwarded(&t, &mut sub, &topic, "plain", false, S::V5_3_3_1_13).await?;
            t.pass()
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Retain As Published keeps RETAIN 1 on every way a retained-flagged message is forwarded besides the live one: queued for an offline session, a Will published at once or after its Will Delay Interval, a Shared Subscription member
    RETAIN_AS_PUBLISHED_ON_EVERY_PATH = "retain.retain-as-published-on-every-path",
    checks: [V5_3_3_1_13],
    only: V5,
    requires: [Retain, QoS1, SharedSubscriptions],
    faults: [IgnoreRetainAsPublishedQueued, IgnoreRetainAsPublishedWill,
        IgnoreRetainAsPublishedDelayedWill, IgnoreRetainAsPublishedShared],
    tags: [Queued, Session, Will, Shared, FromBroker],
    run: retain_as_published_on_every_path,
}

fn retain_as_published_on_every_path(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topics = [
            t.topic("rap/queued"),
            t.topic("rap/will"),
            t.topic("rap/delayed-will"),
            t.topic("rap/shared"),
        ];
        clearing_retained(&t, &topics, async {
            let [queued, will, delayed, shared] = &topics;
            let stmt = S::V5_3_3_1_13;
            // Queued: the session is offline when the retained-flagged message is published.
            // Clean Start 0 creates the session (whether a Clean Start 1 session outlives its
            // connection is session.clean-start-1-session-kept-for-its-expiry's question).
            let mut sub = t
                .client("q-sub")
                .clean_start(false)
                .session_expiry(60)
                .connect()
                .await?;
            sub.subscribe(queued).qos(1).retain_as_published().await?;
            sub.disconnect().await?;
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, queued, "queued").await?;
            let mut sub = t
                .client("q-sub")
                .clean_start(false)
                .session_expiry(0)
                .connect()
                .await?;
            let p = Precondition::QueuedDelivery;
            expect_forwarded_on(&t, &mut sub, queued, "queued", true, stmt, p)
                .await
                .map_err(|f| on_path(f, "queued"))?;
            // Will, at once and after a Will Delay Interval of 1 s (the session outlives it).
            for (topic, delayed_will) in [(will, false), (delayed, true)] {
                let (path, name) = if delayed_will {
                    ("delayed Will", "dw")
                } else {
                    ("Will", "w")
                };
                let mut sub = t.client(&format!("{name}-sub")).connect().await?;
                sub.subscribe(topic).qos(1).retain_as_published().await?;
                let mut w = Will::new(topic, path).qos(1).retain();
                let mut client = t.client(name);
                if delayed_will {
                    w = w.delay(1);
                    client = client.session_expiry(30);
                }
                let c = client.will(w).connect().await?;
                c.drop_connection();
                if delayed_will {
                    t.wait(std::time::Duration::from_millis(1100)).await;
                }
                let p = Precondition::WillDelivery;
                let got = expect_forwarded_on(&t, &mut sub, topic, path, true, stmt, p).await;
                if delayed_will {
                    end_session(&t, name).await;
                }
                got.map_err(|f| on_path(f, path))?;
            }
            // Shared: the only member of its group.
            let mut sub = t.client("s-sub").connect().await?;
            sub.subscribe(format!("$share/g/{shared}"))
                .qos(1)
                .retain_as_published()
                .await?;
            publish_retained(&mut publisher, shared, "shared").await?;
            let p = Precondition::SharedDelivery;
            expect_forwarded_on(&t, &mut sub, shared, "shared", true, stmt, p)
                .await
                .map_err(|f| on_path(f, "shared"))?;
            t.pass()
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Subscribing again to the same filter (5.0: Retain Handling 0) sends the retained messages again
    RESENT_ON_RESUBSCRIBE = "retain.resent-when-subscription-is-replaced",
    checks: [V5_3_3_1_9, V5_3_8_4_4, V5_3_8_4_1, V311_3_8_4_3, V311_3_8_4_1, V311_3_3_1_8],
    requires: [Retain, QoS1],
    faults: [NoRetainDelivery],
    tags: [Retained, FromBroker],
    run: resent_on_resubscribe,
}

fn resent_on_resubscribe(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &topic, "kept").await?;
            let mut sub = t.client("sub").connect().await?;
            sub.subscribe(&topic).qos(1).await?;
            let mut notes = Vec::new();
            expect_retained(&t, &mut sub, &topic, "kept", &mut notes).await?;
            // The same filter again replaces the subscription: it is answered with a SUBACK
            // (MQTT-3.8.4-1) and, Retain Handling 0, the retained message comes again.
            {
                sub.subscribe(&topic).qos(1).as_check().await?;
                expect_retained(&t, &mut sub, &topic, "kept", &mut notes).await?;
            }
            finish_retain_notes(&t, notes)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Retain Handling 1 sends retained messages for a new subscription but not when it already existed
    HANDLING_1_ONLY_NEW = "retain.handling-1-only-for-a-new-subscription",
    checks: [V5_3_3_1_10, V5_3_3_1_12],
    only: V5,
    requires: [Retain, QoS1],
    faults: [IgnoreRetainHandling],
    tags: [Retained, FromBroker],
    run: handling_1_only_new,
}

fn handling_1_only_new(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (topic, control) = (t.topic("r"), t.topic("ctrl"));
        clearing_retained(&t, &[topic.clone(), control.clone()], async {
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &control, "control").await?;
            publish_retained(&mut publisher, &topic, "kept").await?;
            let mut sub = t.client("sub").connect().await?;
            sub.subscribe(&topic)
                .qos(1)
                .retain_handling(RetainHandling::SendIfNew)
                .await?;
            let mut notes = Vec::new();
            expect_retained(&t, &mut sub, &topic, "kept", &mut notes).await?;
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
            // The control: a new subscription on the same connection does get its retained
            // message.
            retained_control(
                &mut sub,
                &control,
                "control",
                "no retained message for the subscription that already existed",
            )
            .await?;
            finish_retain_notes(&t, notes)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Retain Handling 2 sends no retained message when subscribing; live messages still arrive
    HANDLING_2_NEVER = "retain.handling-2-sends-none",
    checks: [V5_3_3_1_11, V5_3_3_1_12],
    only: V5,
    requires: [Retain, QoS1],
    faults: [IgnoreRetainHandling],
    tags: [Retained, FromBroker],
    run: handling_2_never,
}

fn handling_2_never(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (topic, control) = (t.topic("r"), t.topic("ctrl"));
        clearing_retained(&t, &[topic.clone(), control.clone()], async {
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &control, "control").await?;
            publish_retained(&mut publisher, &topic, "kept").await?;
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
            // The control: a Retain Handling 0 subscription on the same connection does get
            // its retained message.
            retained_control(
                &mut sub,
                &control,
                "control",
                "no retained message for the Retain Handling 2 subscription",
            )
            .await?;
            t.pass()
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A retained message stays after the session of the client that published it has ended
    SURVIVES_SESSION_END = "retain.survives-the-end-of-the-publishers-session",
    checks: [V5_3_3_1_5, V5_3_3_1_9, V311_3_1_2_7, V311_3_3_1_6, V311_3_3_1_8],
    requires: [Retain, QoS1],
    faults: [NoRetainDelivery],
    tags: [Retained, Session, FromBroker],
    run: survives_session_end,
}

fn survives_session_end(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            // Clean Start / Clean Session 1 and no Session Expiry: the session ends with the
            // connection.
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &topic, "kept").await?;
            publisher.disconnect().await?;
            let mut late = t.client("sub").connect().await?;
            late.subscribe(&topic).qos(1).await?;
            let mut notes = Vec::new();
            expect_retained(&t, &mut late, &topic, "kept", &mut notes).await?;
            finish_retain_notes(&t, notes)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A wildcard subscription gets the retained message of every matching topic, and of no other
    WILDCARD_FILTERS = "retain.sent-for-every-topic-a-wildcard-filter-matches",
    checks: [V5_3_3_1_9, V5_3_3_2_3, V311_3_3_1_6, V311_3_3_2_3, V311_3_3_1_8],
    requires: [Retain, QoS1, Wildcards],
    faults: [NoRetainDelivery],
    tags: [Retained, FromBroker, TopicFilter],
    run: wildcard_filters,
}

fn wildcard_filters(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let v = t.protocol();
        let names = ["a/x", "b/x", "a/y", "a/b/x"];
        let control = t.topic("ctrl");
        let mut topics: Vec<String> = names.iter().map(|n| t.topic(&format!("w/{n}"))).collect();
        topics.push(control.clone());
        clearing_retained(&t, &topics, async {
            let mut notes = Vec::new();
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &control, "control").await?;
            for name in names {
                publish_retained(&mut publisher, &t.topic(&format!("w/{name}")), name).await?;
            }
            for (filter, wanted) in [
                ("w/+/x", vec!["a/x", "b/x"]),
                ("w/#", vec!["a/b/x", "a/x", "a/y", "b/x"]),
            ] {
                let mut sub = t.client(filter).connect().await?;
                sub.subscribe(t.topic(filter)).qos(1).await?;
                let mut got = vec![sub.expect_publish().await?];
                got.extend(publishes_within(&t, &mut sub, QUIET).await?);
                let mut sent = payloads(&got);
                sent.sort();
                t.check(
                    sent == wanted,
                    format!("for {filter:?} the retained messages of {wanted:?}, once each"),
                    describe(&got, v),
                )?;
                for p in &got {
                    retain_flag_on_subscribe(&t, p, &mut notes)?;
                }
                retained_control(
                    &mut sub,
                    &control,
                    "control",
                    &format!("for {filter:?} only the retained messages of {wanted:?}"),
                )
                .await?;
            }
            finish_retain_notes(&t, notes)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A retained message is sent at the lower of the QoS it was stored with and the QoS granted
    QOS_IS_MINIMUM = "retain.sent-at-minimum-of-stored-and-granted-qos",
    checks: [V5_3_8_4_8, V5_3_3_1_9, V311_3_3_1_5, V311_3_3_1_6, V311_3_8_4_6, V311_3_3_1_8],
    requires: [Retain, QoS1],
    faults: [NoQosDowngrade, NoQosDowngradeRetained],
    tags: [Retained, FromBroker],
    run: qos_is_minimum,
}

fn qos_is_minimum(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &topic, "q1").await?;
            let mut low = t.client("low").connect().await?;
            low.subscribe(&topic).qos(0).await?;
            let mut notes = Vec::new();
            let p = low
                .expect_publish()
                .topic(&topic)
                .qos(0)
                .payload("q1")
                .await?;
            retain_flag_on_subscribe(&t, &p, &mut notes)?;
            let mut high = t.client("high").connect().await?;
            let g = granted_one(&high.subscribe(&topic).qos(2).await?)?;
            let p = high
                .expect_publish()
                .topic(&topic)
                .qos(g.min(1))
                .payload("q1")
                .await?;
            retain_flag_on_subscribe(&t, &p, &mut notes)?;
            finish_retain_notes(&t, notes)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A filter starting with a wildcard gets the retained messages of the topics it matches, but not that of a topic starting with '$'
    DOLLAR_TOPIC_NOT_FOR_LEADING_WILDCARD = "retain.dollar-topic-not-sent-for-leading-wildcard",
    checks: [V5_4_7_2_1, V5_3_3_1_9, V311_4_7_2_1, V311_3_3_1_6, V311_3_3_1_8],
    requires: [Retain, QoS1, Wildcards],
    faults: [NoRetainDelivery],
    tags: [Retained, FromBroker, TopicFilter, TopicName],
    run: dollar_topic_not_for_leading_wildcard,
}

fn dollar_topic_not_for_leading_wildcard(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let plain = t.topic("d");
        let dollar = format!("${plain}");
        let Some((_, rest)) = plain.split_once('/') else {
            return t.error("the topic prefix has no level separator");
        };
        let wildcard = format!("+/{rest}");
        clearing_retained(&t, &[plain.clone(), dollar.clone()], async {
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
            publish_retained(&mut publisher, &plain, "plain").await?;
            let mut wild = t.client("wild").connect().await?;
            wild.subscribe(&wildcard).qos(1).await?;
            // The filter's plain topic: its retained message is sent (MQTT-3.3.1-9).
            let mut notes = Vec::new();
            expect_retained(&t, &mut wild, &plain, "plain", &mut notes).await?;
            wild.expect_no_publish().for_(QUIET).await?;
            // The control: the same connection subscribes to the '$' topic literally and
            // gets its retained message, so the broker did keep it and it was not sent above
            // only because the filter starts with a wildcard. A broker that does not keep
            // retained messages on '$' topics published by clients leaves the case
            // INCONCLUSIVE.
            retained_control(
                &mut wild,
                &dollar,
                "dollar",
                "no retained message of a '$' topic for a filter starting with '+'",
            )
            .await?;
            finish_retain_notes(&t, notes)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A broker announcing Retain Available 0 treats a PUBLISH with RETAIN 1 as a protocol error (DISCONNECT 0x9A)
    UNAVAILABLE_REFUSED = "retain.refused-when-retain-unavailable",
    checks: [V5_3_2_2_14, V5_4_13_1_1],
    only: V5,
    requires: [QoS1],
    faults: [UnenforcedRetainAvailable],
    tags: [ToBroker],
    run: unavailable_refused,
}

fn unavailable_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        if t.capabilities().retain_available {
            return t
                .unsupported("the broker offers retained messages (Retain Available is not 0)");
        }
        let topic = t.topic("r");
        let mut c = t.client("c").connect().await?;
        let declared = c.connack().and_then(|a| a.properties.retain_available);
        t.require(declared == Some(false), Precondition::Other, || {
            format!("CONNACK with Retain Available 0, as the probe saw; got {declared:?}")
        })?;
        // The twin: the same PUBLISH with RETAIN 0 is accepted.
        c.publish(&topic).qos(1).payload("x").as_twin().await?;
        let mut publish = publish_packet(&topic, 1, Some(c.next_packet_id().get()), b"x")?;
        publish.retain = true;
        c.send(&Packet::Publish(publish)).await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::RetainNotSupported]).await
    })
}
