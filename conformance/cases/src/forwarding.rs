//! MQTT 5.0 forwarding rules on every way a message reaches a subscriber: live (the
//! subscriber is connected when the message is published), queued (held for a disconnected
//! session and sent when it resumes), retained (sent when the subscription is made), a Will
//! Message (at once, and after a Will Delay Interval) and a Shared Subscription.
//!
//! Brokers often handle the properties on one path only (a queue that stores the payload and
//! topic, a retained store that forgets the Content Type, a Will built without its
//! properties), so each path has its own case, and each case sends the same two messages:
//! one carrying every property that travels with a message (Payload Format Indicator,
//! Content Type, Response Topic, Correlation Data, User Properties in a deliberate order,
//! Message Expiry Interval), and one carrying none. The first must arrive with its
//! properties unaltered (the Message Expiry Interval at most the one sent), the second with
//! none added; both with the Subscription Identifier of the subscription. Each case names the
//! reference-broker faults that break its path alone (`strip-properties-*`,
//! `add-properties-*`, `reverse-user-properties-*`, `no-subscription-identifiers-*`; for the
//! immediate Will also `drop-will-properties`), and also `no-subscription-identifiers` and
//! `reverse-user-properties`, which break every path. [`crate::depth`] lists which
//! (statement, path) cells these cases fill.
//!
//! The flags have cases of their own on the queued and shared paths: a message published
//! at QoS 2 with DUP 1 and RETAIN 1 reaches a subscription granted QoS 1 without Retain As
//! Published with DUP 0, RETAIN 0 and QoS 1, each red under a fault of that path alone
//! (`forward-dup-*`, `retain-flag-on-forward-*`, `no-qos-downgrade-*`); a delayed Will with
//! Will QoS 1 and Will Retain 1 reaches a QoS 0 subscription at QoS 0 with RETAIN 0, published
//! at once (`forwarding.will-retain-and-qos`) or after its delay. DUP on
//! the retained and Will paths has cases of its own (`forwarding.retained-dup`,
//! `forwarding.will-dup`): the server's first sending of a retained message or a Will has
//! DUP 0, each red under a fault of that path (`dup-on-retained`, `dup-on-will`,
//! `dup-on-delayed-will`).
//!
//! One more case is about what the server sends on, not about a path: a Response Topic
//! with a wildcard, which no sender may put in a PUBLISH (MQTT-3.3.2-14), must be refused
//! rather than forwarded.

use bytes::Bytes;
use mqttspec_codec::{
    Packet, PayloadFormatIndicator, PropertyContext, Publish, PublishProperties, StatementId as S,
    Violation, WillProperties,
};
use tokio::time::Instant;

use super::support::{
    clearing_retained, control, end_session, granted_one, lost, of_run, persistent, raw_publish,
    resume, text, topic_name, QUIET, SECOND_AND_A_BIT,
};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{
    secs, BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Will,
};
use mqttspec_harness::verdict::Outcome;

/// Payload of the message that carries every property.
const FULL: &str = "with every property";
/// Payload of the message that carries none.
const BARE: &str = "without properties";
/// The Subscription Identifier of every subscription of these cases.
const SUB_ID: u32 = 7;
/// The Message Expiry Interval of the message with every property (seconds).
const EXPIRY: u32 = 120;

/// The properties of the [`FULL`] message; its Response Topic is under the case's prefix.
fn full_properties(t: &Ctx) -> Result<PublishProperties, Failure> {
    let mut user_properties = Vec::new();
    for (name, value) in [("z", "1"), ("a", "2"), ("z", "3"), ("m", "")] {
        user_properties.push((
            text(name, "User Property name")?,
            text(value, "User Property value")?,
        ));
    }
    Ok(PublishProperties {
        payload_format_indicator: Some(PayloadFormatIndicator::Utf8),
        content_type: Some(text("text/plain; charset=utf-8", "Content Type")?),
        response_topic: Some(topic_name(&t.topic("reply"))?),
        correlation_data: Some(Bytes::from_static(&[0x00, 0xFF, 0x10, 0x80])),
        user_properties: user_properties.into(),
        message_expiry_interval: Some(EXPIRY),
        ..PublishProperties::default()
    })
}

/// Checks the copy of the [`FULL`] message: every property as `sent` (the Message Expiry
/// Interval between 1 and `max_expiry`: the one sent, less what the message is known to have
/// waited), and the Subscription Identifier.
fn check_full(
    t: &Ctx,
    sent: &PublishProperties,
    p: &Publish,
    max_expiry: u32,
) -> Result<(), Failure> {
    let got = &p.properties;
    t.check_eq(
        "Payload Format Indicator",
        sent.payload_format_indicator,
        got.payload_format_indicator,
    )
    .map_err(|f| f.statement(S::V5_3_3_2_4))?;
    t.check_eq("Content Type", &sent.content_type, &got.content_type)
        .map_err(|f| f.statement(S::V5_3_3_2_20))?;
    t.check_eq("Response Topic", &sent.response_topic, &got.response_topic)
        .map_err(|f| f.statement(S::V5_3_3_2_15))?;
    t.check_eq(
        "Correlation Data",
        &sent.correlation_data,
        &got.correlation_data,
    )
    .map_err(|f| f.statement(S::V5_3_3_2_16))?;
    let mut sorted_sent = sent.user_properties.to_vec();
    let mut sorted_got = got.user_properties.to_vec();
    sorted_sent.sort();
    sorted_got.sort();
    // The same properties in another order break the order rule; others, the content rule.
    let rule = if sorted_sent == sorted_got {
        S::V5_3_3_2_18
    } else {
        S::V5_3_3_2_17
    };
    t.check_eq(
        "User Properties",
        &sent.user_properties,
        &got.user_properties,
    )
    .map_err(|f| f.statement(rule))?;
    let left = got.message_expiry_interval;
    t.check(
        left.is_some_and(|s| (1..=max_expiry).contains(&s)),
        format!(
            "Message Expiry Interval between 1 and {max_expiry} ({EXPIRY} sent, less the wait)"
        ),
        format!("Message Expiry Interval {left:?}"),
    )
    .map_err(|f| f.statement(S::V5_3_3_2_6))?;
    check_subscription_id(t, p)
}

/// Checks the copy of the [`BARE`] message: no property the publisher did not send, and the
/// Subscription Identifier.
fn check_bare(t: &Ctx, p: &Publish) -> Result<(), Failure> {
    let got = &p.properties;
    t.check_eq(
        "Payload Format Indicator (none sent)",
        None,
        got.payload_format_indicator,
    )
    .map_err(|f| f.statement(S::V5_3_3_2_4))?;
    t.check_eq("Content Type (none sent)", None, got.content_type.as_ref())
        .map_err(|f| f.statement(S::V5_3_3_2_20))?;
    t.check_eq(
        "Response Topic (none sent)",
        None,
        got.response_topic.as_ref(),
    )
    .map_err(|f| f.statement(S::V5_3_3_2_15))?;
    t.check_eq(
        "Correlation Data (none sent)",
        None,
        got.correlation_data.as_ref(),
    )
    .map_err(|f| f.statement(S::V5_3_3_2_16))?;
    t.check_eq(
        "number of User Properties (none sent)",
        0,
        got.user_properties.len(),
    )
    .map_err(|f| f.statement(S::V5_3_3_2_17))?;
    check_subscription_id(t, p)?;
    // An expiry the publisher did not set: MQTT-3.3.2-6 speaks of the received value, and
    // without one the message does not expire (3.3.2.3.3). A broker imposing an expiry
    // changes the message but breaks no tagged MUST: NON-STRICT, not FAIL.
    if let Some(added) = got.message_expiry_interval {
        t.checked();
        return Err(Failure(Outcome::non_strict(
            "no Message Expiry Interval: none was sent, so the message does not expire \
             (3.3.2.3.3)",
            format!("Message Expiry Interval = {added}"),
        )));
    }
    Ok(())
}

/// Checks that `p` carries the Subscription Identifier of the (only) matching subscription.
fn check_subscription_id(t: &Ctx, p: &Publish) -> Result<(), Failure> {
    let ids: Vec<u32> = p
        .properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect();
    t.check_eq("Subscription Identifiers", vec![SUB_ID], ids)
        .map_err(|f| f.statement(S::V5_3_3_4_3))
}

/// Publishes the [`FULL`] then the [`BARE`] message to `topic` at QoS 1.
async fn publish_both(
    c: &mut Client,
    topic: &str,
    full: &PublishProperties,
) -> Result<(), Failure> {
    for (payload, properties) in [(FULL, full.clone()), (BARE, PublishProperties::default())] {
        c.publish(topic)
            .qos(1)
            .payload(payload)
            .properties(properties)
            .await?;
    }
    Ok(())
}

/// Receives the copy of `payload` on `topic` (a setup step: a copy that does not come is
/// INCONCLUSIVE under `p`, other cases judge delivery itself).
async fn receive(
    c: &mut Client,
    topic: &str,
    payload: &str,
    p: Precondition,
) -> Result<Publish, Failure> {
    c.expect_publish()
        .topic(topic)
        .payload(payload)
        .as_setup(p)
        .await
}

/// Receives the [`FULL`] then the [`BARE`] copy on `topic` and checks both.
async fn receive_and_check_both(
    t: &Ctx,
    c: &mut Client,
    topic: &str,
    full: &PublishProperties,
    p: Precondition,
) -> Result<(), Failure> {
    let got = receive(c, topic, FULL, p).await?;
    check_full(t, full, &got, EXPIRY)?;
    let got = receive(c, topic, BARE, p).await?;
    check_bare(t, &got)
}

// ---------------------------------------------------------------------------------------

case! {
    /// Live path: a connected subscriber gets the properties unaltered, none added, and its Subscription Identifier
    LIVE = "forwarding.live-properties-unaltered",
    checks: [V5_3_3_2_4, V5_3_3_2_6, V5_3_3_2_15, V5_3_3_2_16, V5_3_3_2_17, V5_3_3_2_18,
        V5_3_3_2_20, V5_3_3_4_3],
    only: V5,
    requires: [QoS1, SubscriptionIdentifiers],
    faults: [StripPropertiesLive, AddPropertiesLive, NoSubscriptionIdentifiers, ReverseUserProperties,
        ReverseUserPropertiesLive, NoSubscriptionIdentifiersLive],
    tags: [Live, FromBroker, UserProperty, ContentType, RequestResponse],
    run: live,
}

fn live(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("live");
        let full = full_properties(&t)?;
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic)
            .qos(1)
            .subscription_identifier(SUB_ID)
            .await?;
        let mut publisher = t.client("pub").connect().await?;
        publish_both(&mut publisher, &topic, &full).await?;
        receive_and_check_both(&t, &mut sub, &topic, &full, Precondition::Delivery).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Queued path: messages held for a disconnected session keep their properties, get none added, and carry the Subscription Identifier on resume
    QUEUED = "forwarding.queued-properties-unaltered",
    checks: [V5_3_3_2_4, V5_3_3_2_6, V5_3_3_2_15, V5_3_3_2_16, V5_3_3_2_17, V5_3_3_2_18,
        V5_3_3_2_20, V5_3_3_4_3],
    only: V5,
    requires: [QoS1, SubscriptionIdentifiers],
    faults: [StripPropertiesQueued, AddPropertiesQueued, NoSubscriptionIdentifiers, ReverseUserProperties,
        ReverseUserPropertiesQueued, NoSubscriptionIdentifiersQueued],
    tags: [Queued, Session, FromBroker, UserProperty, ContentType, RequestResponse],
    run: queued,
}

fn queued(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("queued");
        let full = full_properties(&t)?;
        let mut sub = persistent(&t, "sub").connect().await?;
        sub.subscribe(&topic)
            .qos(1)
            .subscription_identifier(SUB_ID)
            .await?;
        sub.disconnect().await?;
        let mut publisher = t.client("pub").connect().await?;
        publish_both(&mut publisher, &topic, &full).await?;
        let mut sub = resume(&t, "sub").await?;
        let verdict =
            receive_and_check_both(&t, &mut sub, &topic, &full, Precondition::QueuedDelivery).await;
        let _ = sub.disconnect().await;
        end_session(&t, "sub").await;
        verdict?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Retained path: retained messages sent on subscribe keep their properties (the Message Expiry Interval less the time stored), get none added, and carry the Subscription Identifier
    RETAINED = "forwarding.retained-properties-unaltered",
    checks: [V5_3_3_2_4, V5_3_3_2_6, V5_3_3_2_15, V5_3_3_2_16, V5_3_3_2_17, V5_3_3_2_18,
        V5_3_3_2_20, V5_3_3_4_3],
    only: V5,
    requires: [QoS1, SubscriptionIdentifiers, Retain],
    faults: [StripPropertiesRetained, AddPropertiesRetained, NoSubscriptionIdentifiers, ReverseUserProperties,
        NoMessageExpiry, ReverseUserPropertiesRetained, NoSubscriptionIdentifiersRetained,
        NoMessageExpiryRetained],
    tags: [Retained, FromBroker, UserProperty, ContentType, RequestResponse],
    run: retained,
}

fn retained(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // One topic per message: a topic keeps only its last retained message.
        let with = t.topic("retained/full");
        let without = t.topic("retained/bare");
        clearing_retained(&t, &[with.clone(), without.clone()], async {
            let full = full_properties(&t)?;
            let mut publisher = t.client("pub").connect().await?;
            for (topic, payload, properties) in [
                (&with, FULL, full.clone()),
                (&without, BARE, PublishProperties::default()),
            ] {
                publisher
                    .publish(topic)
                    .qos(1)
                    .retain()
                    .payload(payload)
                    .properties(properties)
                    .await?;
            }
            // More than a second stored, in any clock granularity: the interval must show it.
            t.wait(SECOND_AND_A_BIT).await;
            let mut sub = t.client("sub").connect().await?;
            for (topic, payload) in [(&with, FULL), (&without, BARE)] {
                sub.subscribe(topic)
                    .qos(1)
                    .subscription_identifier(SUB_ID)
                    .await?;
                let got = receive(&mut sub, topic, payload, Precondition::RetainedDelivery).await?;
                if payload == FULL {
                    check_full(&t, &full, &got, EXPIRY - 1)?;
                } else {
                    check_bare(&t, &got)?;
                }
            }
            t.pass()
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Shared path: a member of a Shared Subscription gets the properties unaltered, none added, and its Subscription Identifier
    SHARED = "forwarding.shared-properties-unaltered",
    checks: [V5_3_3_2_4, V5_3_3_2_6, V5_3_3_2_15, V5_3_3_2_16, V5_3_3_2_17, V5_3_3_2_18,
        V5_3_3_2_20, V5_3_3_4_3],
    only: V5,
    requires: [QoS1, SubscriptionIdentifiers, SharedSubscriptions],
    faults: [StripPropertiesShared, AddPropertiesShared, NoSubscriptionIdentifiers, ReverseUserProperties,
        ReverseUserPropertiesShared, NoSubscriptionIdentifiersShared],
    tags: [Shared, FromBroker, UserProperty, ContentType, RequestResponse],
    run: shared,
}

fn shared(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("shared");
        let full = full_properties(&t)?;
        // The only member of its group: it gets every message.
        let mut sub = t.client("member").connect().await?;
        sub.subscribe(format!("$share/g/{topic}"))
            .qos(1)
            .subscription_identifier(SUB_ID)
            .await?;
        let mut publisher = t.client("pub").connect().await?;
        publish_both(&mut publisher, &topic, &full).await?;
        receive_and_check_both(&t, &mut sub, &topic, &full, Precondition::SharedDelivery).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

/// The Will path, with Will Delay Interval `delay` (0: published when the connection ends):
/// a client whose Will carries every property and one whose Will carries none lose their
/// connections, and a subscriber checks both Wills.
async fn wills(t: &Ctx, delay: u32) -> CaseResult {
    let topic = t.topic("will");
    let full = full_properties(t)?;
    let mut watch = t.client("watch").connect().await?;
    watch
        .subscribe(&topic)
        .qos(1)
        .subscription_identifier(SUB_ID)
        .await?;
    let mut ended = Vec::new();
    for (name, payload, properties) in [
        ("full", FULL, full.clone()),
        ("bare", BARE, PublishProperties::default()),
    ] {
        let mut b = t.client(name);
        if delay > 0 {
            // The session outlives the delay, so the delay decides when the Will comes.
            b = b.session_expiry(30);
            ended.push(name);
        }
        // The properties first: they replace the Will Properties, Will Delay Interval included.
        let properties =
            WillProperties::from_properties(properties.to_properties(), PropertyContext::Will)
                .map_err(|e| Failure::error(format!("case error: Will Properties: {e}")))?;
        let mut will = Will::new(&topic, payload).properties(properties).qos(1);
        if delay > 0 {
            will = will.delay(delay);
        }
        let c = b.will(will).connect().await?;
        c.drop_connection();
        let got = watch
            .expect_publish()
            .topic(&topic)
            .payload(payload)
            .within(secs(u64::from(delay) + 3))
            .as_setup(Precondition::WillDelivery)
            .await?;
        if payload == FULL {
            check_full(t, &full, &got, EXPIRY)?;
        } else {
            check_bare(t, &got)?;
        }
    }
    for name in ended {
        end_session(t, name).await;
    }
    t.pass()
}

case! {
    /// Will path: a Will published when its connection ends keeps its properties, gets none added, and carries the Subscription Identifier
    WILL = "forwarding.will-properties-unaltered",
    checks: [V5_3_3_2_4, V5_3_3_2_6, V5_3_3_2_15, V5_3_3_2_16, V5_3_3_2_17, V5_3_3_2_18,
        V5_3_3_2_20, V5_3_3_4_3],
    only: V5,
    requires: [QoS1, SubscriptionIdentifiers],
    faults: [StripPropertiesWill, DropWillProperties, AddPropertiesWill, NoSubscriptionIdentifiers,
        ReverseUserProperties, ReverseUserPropertiesWill, NoSubscriptionIdentifiersWill],
    tags: [Will, FromBroker, UserProperty, ContentType, RequestResponse],
    run: will,
}

fn will(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { wills(&t, 0).await })
}

case! {
    /// Delayed Will path: a Will published after its Will Delay Interval keeps its properties, gets none added, and carries the Subscription Identifier
    DELAYED_WILL = "forwarding.delayed-will-properties-unaltered",
    checks: [V5_3_3_2_4, V5_3_3_2_6, V5_3_3_2_15, V5_3_3_2_16, V5_3_3_2_17, V5_3_3_2_18,
        V5_3_3_2_20, V5_3_3_4_3],
    only: V5,
    requires: [QoS1, SubscriptionIdentifiers],
    faults: [StripPropertiesDelayedWill, AddPropertiesDelayedWill, NoSubscriptionIdentifiers,
        ReverseUserProperties, ReverseUserPropertiesDelayedWill, NoSubscriptionIdentifiersDelayedWill],
    tags: [Will, FromBroker, UserProperty, ContentType, RequestResponse],
    run: delayed_will,
}

fn delayed_will(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { wills(&t, 1).await })
}

// ---------------------------------------------------------------------------------------

/// Payload of the message of the flag cases: published at QoS 2 with DUP 1 and RETAIN 1.
const FLAGS: &str = "qos 2, dup 1, retain 1";

/// Publishes the [`FLAGS`] message on `topic` (QoS 2 with DUP 1, as if resent, and RETAIN 1).
async fn publish_flags(publisher: &mut Client, topic: &str) -> Result<(), Failure> {
    publisher
        .publish(topic)
        .qos(2)
        .dup()
        .retain()
        .payload(FLAGS)
        .await
        .map(|_| ())
}

/// Checks the copy of the [`FLAGS`] message on a subscription granted QoS 1 without Retain
/// As Published: DUP 0 (the server's first delivery of it, MQTT-3.3.1-3), RETAIN 0 (an
/// established subscription, MQTT-3.3.1-12; 3.1.1 MQTT-3.3.1-9), QoS 1 (the lower of the
/// published and the granted QoS, MQTT-3.8.4-8; 3.1.1 MQTT-3.8.4-6).
fn check_flags(t: &Ctx, got: &Publish) -> Result<(), Failure> {
    t.check(
        !got.dup,
        "DUP 0: the broker's first delivery of the message, whatever the publisher's DUP",
        "DUP 1",
    )
    .map_err(|f| f.statement(of_run!(t, V5_3_3_1_3)))?;
    check_retain_0_and_qos(t, got, 1, "the published QoS (2)")
}

/// Checks a copy sent on an established subscription without Retain As Published: RETAIN 0
/// (MQTT-3.3.1-12; 3.1.1 MQTT-3.3.1-9) and QoS `granted`, the lower of `published` (what was
/// published, in words) and the granted QoS (MQTT-3.8.4-8; 3.1.1 MQTT-3.8.4-6).
fn check_retain_0_and_qos(
    t: &Ctx,
    got: &Publish,
    granted: u8,
    published: &str,
) -> Result<(), Failure> {
    t.check(
        !got.retain,
        "RETAIN 0: sent on an established subscription (without Retain As Published)",
        "RETAIN 1",
    )
    .map_err(|f| f.statement(of_run!(t, V5_3_3_1_12)))?;
    t.check(
        got.qos().as_u8() == granted,
        format!("QoS {granted}: the lower of {published} and the granted one ({granted})"),
        format!("QoS {}", got.qos().as_u8()),
    )
    .map_err(|f| f.statement(of_run!(t, V5_3_8_4_8)))
}

/// INCONCLUSIVE unless the SUBACK `codes` granted QoS 1: the downgrade from QoS 2 is seen
/// only then.
fn require_granted_1(t: &Ctx, codes: &[mqttspec_codec::ReasonCode]) -> Result<(), Failure> {
    let granted = granted_one(codes)?;
    t.require(granted == 1, Precondition::Other, || {
        format!("the broker granted QoS {granted} to a request for QoS 1: the case needs QoS 1")
    })
}

case! {
    /// Queued path: a message queued for a disconnected session is sent on resume with DUP 0, RETAIN 0 (no Retain As Published) and at the granted QoS, whatever its publisher sent
    QUEUED_FLAGS = "forwarding.queued-dup-retain-and-qos",
    checks: [V5_3_3_1_3, V5_3_3_1_12, V5_3_8_4_8],
    requires: [QoS2, Retain],
    faults: [ForwardDupQueued, RetainFlagOnForwardQueued, NoQosDowngradeQueued],
    tags: [Queued, Session, Retained, FromBroker],
    run: queued_flags,
}

fn queued_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("queued");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut sub = persistent(&t, "sub").connect().await?;
            let codes = sub.subscribe(&topic).qos(1).await?;
            require_granted_1(&t, &codes)?;
            sub.disconnect().await?;
            let mut publisher = t.client("pub").connect().await?;
            publish_flags(&mut publisher, &topic).await?;
            let mut sub = resume(&t, "sub").await?;
            let got = sub
                .expect_publish()
                .topic(&topic)
                .payload(FLAGS)
                .as_setup(Precondition::QueuedDelivery)
                .await;
            let verdict = got.and_then(|p| check_flags(&t, &p));
            let _ = sub.disconnect().await;
            end_session(&t, "sub").await;
            verdict?;
            t.pass()
        })
        .await
    })
}

case! {
    /// Shared path: a member of a Shared Subscription gets the message with DUP 0, RETAIN 0 (no Retain As Published) and at its granted QoS, whatever its publisher sent
    SHARED_FLAGS = "forwarding.shared-dup-retain-and-qos",
    checks: [V5_3_3_1_3, V5_3_3_1_12, V5_3_8_4_8],
    only: V5,
    requires: [QoS2, Retain, SharedSubscriptions],
    faults: [ForwardDupShared, RetainFlagOnForwardShared, NoQosDowngradeShared],
    tags: [Shared, Live, Retained, FromBroker],
    run: shared_flags,
}

fn shared_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("shared");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            // The only member of its group: it gets the message.
            let mut sub = t.client("member").connect().await?;
            let codes = sub.subscribe(format!("$share/g/{topic}")).qos(1).await?;
            require_granted_1(&t, &codes)?;
            let mut publisher = t.client("pub").connect().await?;
            publish_flags(&mut publisher, &topic).await?;
            let got = sub
                .expect_publish()
                .topic(&topic)
                .payload(FLAGS)
                .as_setup(Precondition::SharedDelivery)
                .await?;
            check_flags(&t, &got)?;
            t.pass()
        })
        .await
    })
}

case! {
    /// Will path: a Will with Will QoS 1 and Will Retain 1, published when its connection ends, reaches an existing QoS 0 subscription (no Retain As Published) at QoS 0 and with RETAIN 0
    WILL_FLAGS = "forwarding.will-retain-and-qos",
    checks: [V5_3_3_1_12, V5_3_8_4_8],
    requires: [QoS1, Retain],
    faults: [RetainFlagOnForwardWill, NoQosDowngradeWill],
    tags: [Will, Retained, FromBroker],
    run: will_flags,
}

fn will_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { wills_with_flags(&t, 0).await })
}

case! {
    /// Delayed Will path: a Will with Will QoS 1 and Will Retain 1, published after its Will Delay Interval, reaches an existing QoS 0 subscription (no Retain As Published) at QoS 0 and with RETAIN 0
    DELAYED_WILL_FLAGS = "forwarding.delayed-will-retain-and-qos",
    checks: [V5_3_3_1_12, V5_3_8_4_8],
    only: V5,
    requires: [QoS1, Retain],
    faults: [RetainFlagOnForwardDelayedWill, NoQosDowngradeDelayedWill],
    tags: [Will, Retained, FromBroker],
    run: delayed_will_flags,
}

fn delayed_will_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { wills_with_flags(&t, 1).await })
}

/// The flags on the Will path, with Will Delay Interval `delay` (0: published when the
/// connection ends): a Will with Will QoS 1 and Will Retain 1 reaches a subscription made
/// before it, granted QoS 0 and without Retain As Published, at QoS 0 (the lower of the two,
/// MQTT-3.8.4-8; 3.1.1 MQTT-3.8.4-6) and with RETAIN 0 (an established subscription,
/// MQTT-3.3.1-12; 3.1.1 MQTT-3.3.1-9).
async fn wills_with_flags(t: &Ctx, delay: u32) -> CaseResult {
    let topic = t.topic("will");
    clearing_retained(t, std::slice::from_ref(&topic), async {
        let mut watch = t.client("watch").connect().await?;
        let granted = granted_one(&watch.subscribe(&topic).qos(0).await?)?;
        t.require(granted == 0, Precondition::Other, || {
            format!("the broker granted QoS {granted} to a request for QoS 0: the case needs QoS 0")
        })?;
        let mut will = Will::new(&topic, FLAGS).qos(1).retain();
        let mut b = t.client("c");
        if delay > 0 {
            // The session outlives the delay, so the delay decides when the Will comes.
            will = will.delay(delay);
            b = b.session_expiry(30);
        }
        let c = b.will(will).connect().await?;
        c.drop_connection();
        let got = watch
            .expect_publish()
            .topic(&topic)
            .payload(FLAGS)
            .within(secs(u64::from(delay) + 1) + t.response_timeout())
            .as_setup(Precondition::WillDelivery)
            .await;
        if delay > 0 {
            end_session(t, "c").await;
        }
        check_retain_0_and_qos(t, &got?, 0, "the Will QoS (1)")?;
        t.pass()
    })
    .await
}

/// Checks DUP 0 on `got`, the server's first sending of its message (MQTT-3.3.1-3; in 3.1.1
/// the same statement): `path` says how it reached the subscriber.
fn check_first_dup(t: &Ctx, got: &Publish, path: &str) -> Result<(), Failure> {
    t.check(
        !got.dup,
        format!("DUP 0: the broker's first sending of the {path}"),
        "DUP 1",
    )
    .map_err(|f| f.statement(of_run!(t, V5_3_3_1_3)))
}

case! {
    /// Retained path: a retained message published at QoS 1 with DUP 1 reaches a new QoS 1 subscription with DUP 0, the server's first sending of it
    RETAINED_DUP = "forwarding.retained-dup",
    checks: [V5_3_3_1_3],
    requires: [QoS1, Retain],
    faults: [DupOnRetained],
    tags: [Retained, FromBroker],
    run: retained_dup,
}

fn retained_dup(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("retained-dup");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut publisher = t.client("pub").connect().await?;
            publisher
                .publish(&topic)
                .qos(1)
                .dup()
                .retain()
                .payload(FLAGS)
                .await?;
            let mut sub = t.client("sub").connect().await?;
            let codes = sub.subscribe(&topic).qos(1).await?;
            require_granted_1(&t, &codes)?;
            let got = sub
                .expect_publish()
                .topic(&topic)
                .payload(FLAGS)
                .as_setup(Precondition::RetainedDelivery)
                .await?;
            // Not `RetainedDelivery`: the message did arrive, at a QoS the case cannot use.
            t.require(got.qos().as_u8() == 1, Precondition::Other, || {
                format!(
                    "the retained message arrived at QoS {}: DUP is judged at QoS 1 only",
                    got.qos().as_u8()
                )
            })?;
            check_first_dup(&t, &got, "retained message")?;
            t.pass()
        })
        .await
    })
}

case! {
    /// Will path: a Will with Will QoS 1 reaches a QoS 1 subscription with DUP 0 when its connection ends, and (5.0) also when it is published after a Will Delay Interval
    WILL_DUP = "forwarding.will-dup",
    checks: [V5_3_3_1_3],
    requires: [QoS1],
    faults: [DupOnWill, DupOnDelayedWill @ V5],
    tags: [Will, FromBroker],
    run: will_dup,
}

fn will_dup(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will-dup");
        let mut watch = t.client("watch").connect().await?;
        let codes = watch.subscribe(&topic).qos(1).await?;
        require_granted_1(&t, &codes)?;
        let delays: &[u32] = if t.is_v5() { &[0, 1] } else { &[0] };
        for &delay in delays {
            let name = if delay == 0 { "now" } else { "delayed" };
            let mut will = Will::new(&topic, name).qos(1);
            let mut b = t.client(name);
            if delay > 0 {
                // The session outlives the delay, so the delay decides when the Will comes.
                will = will.delay(delay);
                b = b.session_expiry(30);
            }
            let c = b.will(will).connect().await?;
            c.drop_connection();
            let got = watch
                .expect_publish()
                .topic(&topic)
                .payload(name)
                .within(secs(u64::from(delay) + 3))
                .as_setup(Precondition::WillDelivery)
                .await;
            if delay > 0 {
                end_session(&t, name).await;
            }
            let got = got?;
            t.require(got.qos().as_u8() == 1, Precondition::WillDelivery, || {
                format!(
                    "the Will arrived at QoS {}: DUP is judged at QoS 1 only",
                    got.qos().as_u8()
                )
            })?;
            let path = if delay == 0 {
                "Will Message"
            } else {
                "Will Message published after its delay"
            };
            check_first_dup(&t, &got, path)?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a PUBLISH whose Response Topic holds '+' or '#' is refused, or at least never sent on to a subscriber with that Response Topic
    WILDCARD_RESPONSE_TOPIC = "forwarding.wildcard-response-topic-not-sent-on",
    checks: [V5_3_3_2_14, V5_3_3_2_15, V5_4_5_0_1, V5_4_3_2_4],
    only: V5,
    requires: [QoS1],
    faults: [ForwardWildcardResponseTopic],
    tags: [ToBroker, FromBroker, RequestResponse, Live],
    run: wildcard_response_topic,
}

/// A Response Topic may not hold a wildcard (MQTT-3.3.2-14): a rule for whoever sends the
/// PUBLISH, the server forwarding one included. The server that receives such a Response
/// Topic cannot send it on unaltered (MQTT-3.3.2-15) without breaking that rule, so it must
/// refuse the message: PUBACK with an error code, or DISCONNECT and the close (PASS, with
/// the well-formed twin accepted on the same connection first). Accepting it (PUBACK below
/// 0x80) commits it to deliver the message to the matching subscriber (MQTT-4.5.0-1), and
/// whatever it then does breaks a MUST: the wildcard Response Topic sent on (-14), another
/// or no Response Topic sent (-15), or the message not delivered (4.5.0-1). Each wildcard
/// ('+', '#') has a publisher connection of its own; the subscriber is the same.
fn wildcard_response_topic(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("request");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut answers = Vec::new();
        for (i, wild) in ["reply/+", "reply/#"].iter().enumerate() {
            let mut c = t.client(&format!("pub{i}")).connect().await?;
            // The twin: the same PUBLISH with a Response Topic without wildcards, accepted
            // and delivered with it.
            let plain = t.topic(&format!("reply/{i}"));
            let twin = format!("twin {i}");
            c.publish(&topic)
                .qos(1)
                .properties(PublishProperties {
                    response_topic: Some(topic_name(&plain)?),
                    ..PublishProperties::default()
                })
                .payload(&twin)
                .as_twin()
                .await?;
            sub.expect_publish()
                .topic(&topic)
                .payload(&twin)
                .as_setup(Precondition::Delivery)
                .await?;
            let reply = t.topic(wild);
            let mut properties = vec![0x08];
            let len = u16::try_from(reply.len())
                .map_err(|_| Failure::error("case error: Response Topic too long"))?;
            properties.extend_from_slice(&len.to_be_bytes());
            properties.extend_from_slice(reply.as_bytes());
            let payload = format!("wildcard {i}");
            c.send_raw(raw_publish(
                &t,
                0b0010,
                &topic,
                Some(7),
                &properties,
                payload.as_bytes(),
            ))
            .await?;
            let answer = publish_answer(&t, &mut c, 7).await?;
            let refused = answer != Answer::Accepted;
            sub_after_wildcard(&t, &mut sub, &payload, &reply, refused).await?;
            answers.push(answer);
        }
        // The subscriber was receiving all along: a message published now arrives.
        let mut publisher = t.client("control").connect().await?;
        control(&mut publisher, &mut sub, &topic, "control").await?;
        if answers.contains(&Answer::Closed) {
            return t.non_strict(
                "DISCONNECT with a reason code before the close",
                "the connection closed without DISCONNECT",
            );
        }
        t.pass()
    })
}

/// How the broker answered a PUBLISH it should refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// PUBACK below 0x80.
    Accepted,
    /// PUBACK 0x80 or above, or DISCONNECT with an error code and the close.
    Refused,
    /// The close without DISCONNECT.
    Closed,
}

/// How the broker answered the QoS 1 PUBLISH `id` with a wildcard Response Topic on `c`. No
/// answer is FAIL (a QoS 1 PUBLISH is acknowledged or refused, MQTT-4.3.2-4).
async fn publish_answer(t: &Ctx, c: &mut Client, id: u16) -> Result<Answer, Failure> {
    let expected = format!(
        "PUBACK id={id} with an error code, or DISCONNECT with one and the close \
         (a Response Topic with a wildcard)"
    );
    let deadline = Instant::now() + c.timeout();
    loop {
        let got = c
            .recv(deadline.saturating_duration_since(Instant::now()))
            .await;
        let answer = match &got {
            Received::Packet(Packet::PubAck(a)) if a.packet_id.get() == id => {
                if a.reason_code.is_error() {
                    Answer::Refused
                } else {
                    t.transcript().event(
                        c.name(),
                        format!("the PUBLISH was accepted ({:?})", a.reason_code),
                    );
                    Answer::Accepted
                }
            }
            Received::Packet(Packet::Disconnect(d)) if d.reason_code.is_error() => Answer::Refused,
            Received::Closed => Answer::Closed,
            Received::Packet(Packet::PingResp) => continue,
            // Neither taken (PUBACK) nor refused: a QoS 1 PUBLISH is answered.
            _ => return Err(c.unmet(&expected, got).statement(S::V5_4_3_2_4)),
        };
        t.checked();
        if answer != Answer::Accepted {
            t.refusal_seen();
        }
        return Ok(answer);
    }
}

/// What `sub` gets after the PUBLISH `payload` with the wildcard Response Topic `reply`,
/// which the broker `refused` or accepted: its copy with that Response Topic is FAIL
/// (MQTT-3.3.2-14) in any case; a copy with another Response Topic or none is FAIL
/// (MQTT-3.3.2-15), and no copy of an accepted message is FAIL (MQTT-4.5.0-1).
async fn sub_after_wildcard(
    t: &Ctx,
    sub: &mut Client,
    payload: &str,
    reply: &str,
    refused: bool,
) -> Result<(), Failure> {
    let window = if refused { QUIET } else { t.response_timeout() };
    let deadline = Instant::now() + window;
    loop {
        let got = sub
            .recv(deadline.saturating_duration_since(Instant::now()))
            .await;
        match got {
            Received::Malformed { ref error, .. }
                if matches!(
                    error.violation,
                    Violation::WildcardInTopicName {
                        field: "Response Topic"
                    }
                ) =>
            {
                return Err(sub
                    .unmet("no PUBLISH whose Response Topic holds a wildcard", got)
                    .statement(S::V5_3_3_2_14));
            }
            Received::Packet(Packet::Publish(p)) if p.payload.as_ref() == payload.as_bytes() => {
                sub.ack(&p).await?;
                let sent = p.properties.response_topic.as_ref().map(|r| r.as_str());
                return Err(Failure::fail(
                    format!(
                        "the message refused, or sent on with its Response Topic {reply:?} \
                         unaltered (which MQTT-3.3.2-14 forbids the server to send)"
                    ),
                    format!("delivered with Response Topic {sent:?}"),
                )
                .statement(S::V5_3_3_2_15));
            }
            Received::Packet(Packet::Publish(p)) => {
                // Not this case's message (the broker may send others): acknowledge it.
                sub.ack(&p).await?;
            }
            Received::Packet(_) => {}
            Received::Timeout if refused => {
                t.absence_seen();
                return Ok(());
            }
            Received::Timeout => {
                return Err(Failure::fail(
                    format!(
                        "the message the broker accepted (PUBACK below 0x80) delivered to the \
                         matching subscriber within {} ms",
                        window.as_millis()
                    ),
                    "nothing: accepted, then dropped",
                )
                .statement(S::V5_4_5_0_1));
            }
            other => return Err(lost(sub, &other)),
        }
    }
}
