//! MQTT 5.0 Topic Aliases (3.3.2.3.4): aliases a client sets up and uses towards the broker
//! (resolved, replaced, per connection, limited by the server's Topic Alias Maximum, never 0,
//! never unknown with an empty Topic Name), and aliases the broker may send, which must stay
//! within the client's Topic Alias Maximum.

use std::collections::BTreeMap;
use std::num::NonZeroU16;

use mqttspec_codec::{ConnectProperties, Publish, PublishProperties, ReasonCode, StatementId as S};

use super::support::{
    clearing_retained, control_after_quiet, end_session, expect_connection_closed, gather, on_path,
    raw_publish, session_present, Way, QUIET, SECOND_AND_A_BIT,
};
use mqttspec_harness::case;
use mqttspec_harness::scenario::{
    BoxFuture, CaseResult, Client, ClientBuilder, Ctx, Failure, Precondition, PublishBuilder, Will,
};

/// PUBLISH properties with a Topic Alias.
fn alias(value: u16) -> PublishProperties {
    PublishProperties {
        topic_alias: NonZeroU16::new(value),
        ..PublishProperties::default()
    }
}

/// A QoS 1 PUBLISH of `payload` with Topic Alias `value` and Topic Name `topic` (empty to
/// use the alias alone); awaiting it waits for PUBACK. A setup step unless made
/// `.as_check()`: the PUBACK to an alias-only PUBLISH is the broker accepting the alias
/// (MQTT-3.3.2-12).
fn publish_with_alias<'a>(
    c: &'a mut Client,
    topic: &str,
    value: u16,
    payload: &str,
) -> PublishBuilder<'a> {
    c.publish(topic)
        .qos(1)
        .properties(alias(value))
        .payload(payload)
}

/// The twin of a PUBLISH refused for its Topic Alias, on the connection the bad one will
/// use: the same QoS 0 PUBLISH with a Topic Name, and Topic Alias `value` if given (`None`
/// without one), followed by a PINGRESP (the broker accepted it).
async fn alias_twin(c: &mut Client, topic: &str, value: Option<u16>) -> Result<(), Failure> {
    let properties = value.map_or_else(PublishProperties::default, alias);
    c.publish(topic)
        .qos(0)
        .properties(properties)
        .payload("twin")
        .as_twin()
        .await?;
    c.alive().as_twin().await
}

/// The server's Topic Alias Maximum, as this connection's CONNACK declares it (absent: 0).
fn server_maximum(c: &Client) -> u16 {
    c.connack()
        .and_then(|a| a.properties.topic_alias_maximum)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBLISH with only a Topic Alias set up earlier is delivered on the mapped Topic Name
    ALIAS_ONLY_USES_MAPPED_TOPIC = "alias.alias-only-publish-uses-mapped-topic",
    checks: [V5_3_3_2_12],
    only: V5,
    requires: [TopicAliases, QoS1],
    faults: [ForgetTopicAliases],
    tags: [ToBroker, TopicName],
    run: alias_only_uses_mapped_topic,
}

fn alias_only_uses_mapped_topic(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("a");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publish_with_alias(&mut publisher, &topic, 1, "named").await?;
        publish_with_alias(&mut publisher, "", 1, "aliased")
            .as_check()
            .await
            .map_err(|f| f.statement(S::V5_3_3_2_12))?;
        for payload in ["named", "aliased"] {
            sub.expect_publish()
                .topic(&topic)
                .payload(payload)
                .await
                .map_err(|f| f.statement(S::V5_3_3_2_12))?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Sending a Topic Alias with another Topic Name changes its mapping; later alias-only PUBLISH packets use the new name
    MAPPING_CAN_BE_REPLACED = "alias.mapping-can-be-replaced",
    checks: [V5_3_3_2_12],
    only: V5,
    requires: [TopicAliases, QoS1],
    faults: [ForgetTopicAliases],
    tags: [ToBroker, TopicName],
    run: mapping_can_be_replaced,
}

fn mapping_can_be_replaced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (first, second) = (t.topic("first"), t.topic("second"));
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&first).qos(1).and(&second).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publish_with_alias(&mut publisher, &first, 1, "one").await?;
        publish_with_alias(&mut publisher, &second, 1, "two").await?;
        publish_with_alias(&mut publisher, "", 1, "three")
            .as_check()
            .await
            .map_err(|f| f.statement(S::V5_3_3_2_12))?;
        let mut subs = vec![sub];
        let got = gather(&t, &mut subs, 3).await?;
        let seen: Vec<(String, String)> = got[0]
            .iter()
            .map(|p| {
                (
                    p.topic.as_str().to_owned(),
                    String::from_utf8_lossy(&p.payload).into_owned(),
                )
            })
            .collect();
        let expected = vec![
            (first.clone(), "one".to_owned()),
            (second.clone(), "two".to_owned()),
            (second.clone(), "three".to_owned()),
        ];
        t.check(
            seen == expected,
            format!("(topic, payload) {expected:?}"),
            format!("{seen:?}"),
        )
        .map_err(|f| f.statement(S::V5_3_3_2_12))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Topic Alias equal to the server's Topic Alias Maximum is accepted and resolved
    MAXIMUM_VALUE_ACCEPTED = "alias.maximum-value-accepted",
    checks: [V5_3_3_2_12],
    only: V5,
    requires: [TopicAliases, QoS1],
    faults: [ForgetTopicAliases],
    tags: [ToBroker, TopicName],
    run: maximum_value_accepted,
}

fn maximum_value_accepted(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("max");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        let max = server_maximum(&publisher);
        if max == 0 {
            return t.unsupported("this connection's CONNACK declares Topic Alias Maximum 0");
        }
        publish_with_alias(&mut publisher, &topic, max, "named")
            .as_check()
            .await
            .map_err(|f| f.statement(S::V5_3_3_2_12))?;
        publish_with_alias(&mut publisher, "", max, "aliased")
            .as_check()
            .await
            .map_err(|f| f.statement(S::V5_3_3_2_12))?;
        for payload in ["named", "aliased"] {
            sub.expect_publish()
                .topic(&topic)
                .payload(payload)
                .await
                .map_err(|f| f.statement(S::V5_3_3_2_12))?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBLISH with Topic Alias 0 is a Protocol Error: the connection is closed (DISCONNECT 0x94 first)
    ZERO_IS_INVALID = "alias.zero-is-invalid",
    checks: [V5_3_3_2_8, V5_4_13_1_1],
    only: V5,
    faults: [IgnoreMalformedPublish],
    tags: [ToBroker, TopicName],
    run: zero_is_invalid,
}

fn zero_is_invalid(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("z");
        // The twin: Topic Alias 1 instead of 0 (no Topic Alias when the broker takes none).
        let value = (server_maximum(&c) > 0).then_some(1);
        alias_twin(&mut c, &topic, value).await?;
        // QoS 0 PUBLISH: Topic Name, properties = Topic Alias (0x23) 0, payload.
        c.send_raw(raw_publish(&t, 0, &topic, None, &[0x23, 0x00, 0x00], b"x"))
            .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::TopicAliasInvalid]).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Topic Alias above the server's Topic Alias Maximum is a Protocol Error: the connection is closed (DISCONNECT 0x94 first)
    ABOVE_MAXIMUM_IS_INVALID = "alias.above-maximum-is-invalid",
    checks: [V5_3_3_2_9, V5_3_2_2_17, V5_3_2_2_18, V5_4_13_1_1],
    only: V5,
    faults: [AcceptInvalidTopicAlias],
    tags: [ToBroker, TopicName],
    run: above_maximum_is_invalid,
}

fn above_maximum_is_invalid(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let max = server_maximum(&c);
        let Some(above) = max.checked_add(1) else {
            return t.unsupported("Topic Alias Maximum is 65,535: no alias is above it");
        };
        // The twin: the server's Topic Alias Maximum itself (no Topic Alias when it is 0).
        alias_twin(&mut c, &t.topic("above"), (max > 0).then_some(max)).await?;
        c.publish(t.topic("above"))
            .qos(0)
            .properties(alias(above))
            .payload("x")
            .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::TopicAliasInvalid]).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBLISH with an empty Topic Name and a Topic Alias never set up is a Protocol Error (DISCONNECT 0x82 first)
    UNKNOWN_ALIAS_IS_PROTOCOL_ERROR = "alias.unknown-alias-is-protocol-error",
    checks: [V5_4_13_1_1],
    only: V5,
    requires: [TopicAliases],
    faults: [ForgetTopicAliases],
    tags: [ToBroker, TopicName],
    run: unknown_alias_is_protocol_error,
}

fn unknown_alias_is_protocol_error(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        // The twin: the same PUBLISH naming its topic instead of the unknown alias.
        alias_twin(&mut c, &t.topic("u"), None).await?;
        c.publish("")
            .qos(0)
            .properties(alias(1))
            .payload("x")
            .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::ProtocolError]).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Topic Alias mappings do not survive into a new connection: using the old alias alone is a Protocol Error
    MAPPING_ENDS_WITH_CONNECTION = "alias.mapping-ends-with-connection",
    checks: [V5_3_3_2_7, V5_4_13_1_1],
    only: V5,
    requires: [TopicAliases, QoS1],
    faults: [ForgetTopicAliases],
    tags: [ToBroker, TopicName],
    run: mapping_ends_with_connection,
}

fn mapping_ends_with_connection(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("old");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut first = t.client("pub").session_expiry(60).connect().await?;
        publish_with_alias(&mut first, &topic, 1, "named").await?;
        sub.expect_publish()
            .topic(&topic)
            .payload("named")
            .as_setup(Precondition::Delivery)
            .await?;
        first.disconnect().await?;
        // Same Client Identifier, same session: only the connection is new.
        let mut second = t
            .client("pub")
            .clean_start(false)
            .session_expiry(0)
            .connect()
            .await?;
        // The twin: the same PUBLISH naming its topic (one nobody subscribes to) instead of
        // the alias of the old connection.
        alias_twin(&mut second, &t.topic("other"), None).await?;
        second
            .publish("")
            .qos(0)
            .properties(alias(1))
            .payload("aliased")
            .await?;
        let verdict =
            expect_connection_closed(&t, &mut second, &[ReasonCode::ProtocolError]).await?;
        sub.expect_no_publish()
            .for_(QUIET)
            .await
            .map_err(|f| f.statement(S::V5_3_3_2_7))?;
        // The control: a message on the topic from a new connection reaches the subscriber.
        let mut third = t.client("pub3").connect().await?;
        control_after_quiet(
            &mut third,
            &mut sub,
            &topic,
            1,
            "control",
            "no message for the alias of the old connection",
        )
        .await?;
        Ok(verdict)
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A client that declares no Topic Alias Maximum gets no Topic Aliases, only full Topic Names
    NONE_SENT_WHEN_CLIENT_ACCEPTS_NONE = "alias.none-sent-when-client-accepts-none",
    checks: [V5_3_1_2_27, V5_3_3_2_11],
    only: V5,
    requires: [QoS1],
    faults: [SendTopicAliases, SendTopicAliasesLive],
    tags: [Live, FromBroker, TopicName],
    run: none_sent_when_client_accepts_none,
}

fn none_sent_when_client_accepts_none(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("a-rather-long-topic-name/that-a-server-might/like-to-alias");
        let mut subs = vec![t.client("sub").connect().await?];
        subs[0].subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        for i in 0..5 {
            publisher
                .publish(&topic)
                .qos(1)
                .payload(format!("m{i}"))
                .await?;
        }
        let got = gather(&t, &mut subs, 5).await?;
        t.require(got[0].len() == 5, Precondition::Delivery, || {
            format!("5 messages published; {} delivered", got[0].len())
        })?;
        for p in &got[0] {
            t.check(
                p.properties.topic_alias.is_none() && p.topic.as_str() == topic,
                format!("PUBLISH with Topic Name {topic:?} and no Topic Alias"),
                format!(
                    "Topic Name {:?}, Topic Alias {:?}",
                    p.topic.as_str(),
                    p.properties.topic_alias
                ),
            )
            .map_err(|f| f.statement(S::V5_3_1_2_27))?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A client that declares no Topic Alias Maximum gets no Topic Alias on any way a message reaches it: queued for its session, retained, as a Will (at once or after its Will Delay Interval), as a Shared Subscription member
    NONE_SENT_ON_EVERY_PATH = "alias.none-sent-on-every-path",
    checks: [V5_3_1_2_27],
    only: V5,
    requires: [QoS1, Retain, SharedSubscriptions],
    faults: [SendTopicAliasesQueued, SendTopicAliasesRetained, SendTopicAliasesWill,
        SendTopicAliasesDelayedWill, SendTopicAliasesShared],
    tags: [Queued, Session, Retained, Will, Shared, FromBroker, TopicName],
    run: none_sent_on_every_path,
}

/// Checks that `p`, received on `path`, has its Topic Name and no Topic Alias.
fn no_alias(t: &Ctx, p: &Publish, path: &str) -> Result<(), Failure> {
    t.check(
        p.properties.topic_alias.is_none() && !p.topic.is_empty(),
        format!("{path} path: a PUBLISH with its Topic Name and no Topic Alias"),
        format!(
            "Topic Name {:?}, Topic Alias {:?}",
            p.topic.as_str(),
            p.properties.topic_alias
        ),
    )
    .map_err(|f| f.statement(S::V5_3_1_2_27))
}

/// A Will with a Will Delay Interval of 1 s (and a session that outlives it) published to
/// `topic` when its connection ends without DISCONNECT, received by a subscriber declaring
/// `alias_max` as its Topic Alias Maximum (none when `None`).
async fn delayed_will_to(t: &Ctx, topic: &str, alias_max: Option<u16>) -> Result<Publish, Failure> {
    let topic = t.topic(topic);
    let mut sub = receiver(t, "dw-sub", alias_max).connect().await?;
    sub.subscribe(&topic).qos(1).await?;
    let c = t
        .client("dw")
        .session_expiry(30)
        .will(
            mqttspec_harness::scenario::Will::new(&topic, "delayed")
                .qos(1)
                .delay(1),
        )
        .connect()
        .await?;
    c.drop_connection();
    let got = sub
        .expect_publish()
        .topic(&topic)
        .within(std::time::Duration::from_secs(1) + t.response_timeout())
        .as_setup(Precondition::WillDelivery)
        .await;
    super::support::end_session(t, "dw").await;
    got
}

fn none_sent_on_every_path(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { on_every_path(&t, "alias", None, no_alias).await })
}

/// A client declaring `alias_max` as its Topic Alias Maximum (none: the property left out,
/// that is 0).
fn receiver(t: &Ctx, name: &str, alias_max: Option<u16>) -> ClientBuilder {
    let builder = t.client(name);
    match alias_max {
        Some(max) => builder.properties(ConnectProperties {
            topic_alias_maximum: Some(max),
            ..ConnectProperties::default()
        }),
        None => builder,
    }
}

/// Sends a message to a client declaring `alias_max` on each way besides the live one
/// (queued for its session, retained, Will, delayed Will, Shared Subscription), topics under
/// `level`, and judges each with `check` (the message, the path's name).
async fn on_every_path(
    t: &Ctx,
    level: &str,
    alias_max: Option<u16>,
    check: fn(&Ctx, &Publish, &str) -> Result<(), Failure>,
) -> CaseResult {
    // Queued: the session is offline when the message is published.
    let topic = t.topic(&format!("{level}/queued"));
    // Clean Start 0 creates the session: whether a Clean Start 1 session outlives its
    // connection is session.clean-start-1-session-kept-for-its-expiry's question.
    let mut sub = receiver(t, "q-sub", alias_max)
        .clean_start(false)
        .session_expiry(60)
        .connect()
        .await?;
    sub.subscribe(&topic).qos(1).await?;
    sub.disconnect().await?;
    let mut publisher = t.client("pub").connect().await?;
    publisher.publish(&topic).qos(1).payload("queued").await?;
    let mut sub = receiver(t, "q-sub", alias_max)
        .clean_start(false)
        .session_expiry(0)
        .connect()
        .await?;
    let got = sub
        .expect_publish()
        .topic(&topic)
        .as_setup(Precondition::QueuedDelivery)
        .await?;
    check(t, &got, "queued")?;
    // Retained: sent when the subscription is made.
    let retained = t.topic(&format!("{level}/retained"));
    let verdict = super::support::clearing_retained(t, std::slice::from_ref(&retained), async {
        publisher
            .publish(&retained)
            .qos(1)
            .retain()
            .payload("retained")
            .await?;
        let mut sub = receiver(t, "r-sub", alias_max).connect().await?;
        sub.subscribe(&retained).qos(1).await?;
        let got = sub
            .expect_publish()
            .topic(&retained)
            .as_setup(Precondition::RetainedDelivery)
            .await?;
        check(t, &got, "retained")?;
        t.pass()
    })
    .await?;
    if verdict.verdict != mqttspec_harness::verdict::Verdict::Pass {
        return Ok(verdict);
    }
    // Will: published when its connection ends without DISCONNECT.
    let will = t.topic(&format!("{level}/will"));
    let mut sub = receiver(t, "w-sub", alias_max).connect().await?;
    sub.subscribe(&will).qos(1).await?;
    let c = t
        .client("w")
        .will(mqttspec_harness::scenario::Will::new(&will, "will").qos(1))
        .connect()
        .await?;
    c.drop_connection();
    let got = sub
        .expect_publish()
        .topic(&will)
        .as_setup(Precondition::WillDelivery)
        .await?;
    check(t, &got, "Will")?;
    // Delayed Will: published 1 s after its connection ended (the session outlives it).
    let got = delayed_will_to(t, &format!("{level}/delayed-will"), alias_max).await?;
    check(t, &got, "delayed Will")?;
    // Shared: the only member of its group.
    let shared = t.topic(&format!("{level}/shared"));
    let mut sub = receiver(t, "s-sub", alias_max).connect().await?;
    sub.subscribe(format!("$share/g/{shared}")).qos(1).await?;
    publisher.publish(&shared).qos(1).payload("shared").await?;
    let got = sub
        .expect_publish()
        .topic(&shared)
        .as_setup(Precondition::SharedDelivery)
        .await?;
    check(t, &got, "shared")?;
    t.pass()
}

case! {
    /// Topic Alias mappings are per connection in the broker's direction too: a message queued for a session that accepts Topic Aliases, delivered when it resumes on a new connection, carries its Topic Name or an alias set on that new connection, never one of the previous connection
    SERVER_MAPPING_ENDS_WITH_CONNECTION = "alias.server-mapping-ends-with-connection",
    checks: [V5_3_3_2_7, V5_3_1_2_26],
    only: V5,
    requires: [QoS1],
    faults: [TopicAliasFromOldConnection],
    tags: [Queued, Session, FromBroker, TopicName],
    run: server_mapping_ends_with_connection,
}

fn server_mapping_ends_with_connection(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("alias-conn");
        let mut subs = vec![
            // Clean Start 0 creates the session (see session.clean-start-1-session-kept-for-its-expiry).
            receiver(&t, "sub", Some(PATH_ALIAS_MAX))
                .clean_start(false)
                .session_expiry(60)
                .connect()
                .await?,
        ];
        subs[0].subscribe(&topic).qos(1).await?;
        // A live message first: the broker may give the topic an alias on this connection.
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("live").await?;
        let got = gather(&t, &mut subs, 1).await?;
        t.require(!got[0].is_empty(), Precondition::Delivery, || {
            "the live message delivered".to_owned()
        })?;
        let Some(sub) = subs.pop() else {
            return t.error("case error: no subscriber");
        };
        sub.disconnect().await?;
        publisher.publish(&topic).qos(1).payload("queued").await?;
        let mut subs = vec![
            receiver(&t, "sub", Some(PATH_ALIAS_MAX))
                .clean_start(false)
                .session_expiry(0)
                .connect()
                .await?,
        ];
        t.require(session_present(&subs[0]), Precondition::Other, || {
            "the session was not resumed: CONNACK Session Present 0".to_owned()
        })?;
        let got = gather(&t, &mut subs, 1).await?;
        t.require(!got[0].is_empty(), Precondition::Delivery, || {
            "the queued message delivered when the session resumed".to_owned()
        })?;
        // Resolved from an empty mapping: what the new connection set is all there is.
        match resolve(&got[0], PATH_ALIAS_MAX) {
            Ok((names, _)) => t.check(
                names.iter().all(|n| *n == topic),
                format!("the queued message on `{topic}`"),
                format!("Topic Names {names:?}"),
            ),
            Err((true, actual)) => Err(Failure::fail(
                format!("Topic Aliases from 1 to the client's maximum {PATH_ALIAS_MAX}"),
                actual,
            )
            .statement(S::V5_3_1_2_26)),
            // MQTT-3.3.2-7 binds the receiver (here the client, which must not resolve the
            // alias); a sender relying on an old connection's mapping goes against 3.3.2.3.4
            // ("mappings exist only within a Network Connection"), which tags no MUST on the
            // sender: NON-STRICT, as for an alias used before it was set on one connection.
            Err((false, actual)) => {
                return t.non_strict(
                    "each Topic Alias used alone set on the new connection first (no mapping of \
                     the old connection carried over; 3.3.2.3.4, untagged for the sender)",
                    actual,
                )
            }
        }?;
        t.pass()
    })
}

case! {
    /// The broker's Topic Alias mappings end with their connection on every other way a message reaches a resumed session too: live, retained (on a new subscription), as a Will (at once or after its Will Delay Interval), as a Shared Subscription member; the message carries its Topic Name or an alias set on the new connection
    SERVER_MAPPING_ENDS_ON_EVERY_PATH = "alias.server-mapping-ends-with-connection-on-every-path",
    checks: [V5_3_3_2_7, V5_3_1_2_26],
    only: V5,
    requires: [QoS1, Retain, SharedSubscriptions],
    faults: [TopicAliasFromOldConnectionLive, TopicAliasFromOldConnectionRetained,
        TopicAliasFromOldConnectionWill, TopicAliasFromOldConnectionDelayedWill,
        TopicAliasFromOldConnectionShared],
    tags: [Live, Session, Retained, Will, Shared, FromBroker, TopicName],
    run: server_mapping_ends_on_every_path,
}

fn server_mapping_ends_on_every_path(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        for way in [
            Way::Live,
            Way::Retained,
            Way::Will,
            Way::DelayedWill,
            Way::Shared,
        ] {
            let (name, key) = (way.name(), way.key());
            let topic = t.topic(&format!("alias-conn/{key}"));
            let verdict = if way == Way::Retained {
                clearing_retained(&t, std::slice::from_ref(&topic), async {
                    mapping_after_reconnect(&t, way, &topic).await
                })
                .await
            } else {
                mapping_after_reconnect(&t, way, &topic).await
            }
            .map_err(|f| on_path(f, name))?;
            if verdict.verdict != mqttspec_harness::verdict::Verdict::Pass {
                return Ok(verdict);
            }
        }
        t.pass()
    })
}

/// One path of [`SERVER_MAPPING_ENDS_ON_EVERY_PATH`]: a session accepting Topic Aliases
/// gets a message on `topic` on its first connection (the broker may give the topic an
/// alias there), resumes on a second, and gets a message on `topic` by `way` there, judged
/// from an empty mapping.
async fn mapping_after_reconnect(t: &Ctx, way: Way, topic: &str) -> CaseResult {
    let (name, key) = (way.name(), way.key());
    let sub_name = format!("{key}-sub");
    let filter = if way == Way::Shared {
        format!("$share/g/{topic}")
    } else {
        topic.to_owned()
    };
    let mut publisher = t.client(&format!("{key}-pub")).connect().await?;
    if way == Way::Retained {
        // Sent on the first subscription, and again on the same subscription made anew.
        publisher
            .publish(topic)
            .qos(1)
            .retain()
            .payload("retained")
            .await?;
    }
    // Clean Start 0 creates the session (see session.clean-start-1-session-kept-for-its-expiry).
    let mut subs = vec![
        receiver(t, &sub_name, Some(PATH_ALIAS_MAX))
            .clean_start(false)
            .session_expiry(60)
            .connect()
            .await?,
    ];
    subs[0].subscribe(&filter).qos(1).await?;
    if way != Way::Retained {
        publisher.publish(topic).qos(1).payload("first").await?;
    }
    let got = gather(t, &mut subs, 1).await?;
    t.require(!got[0].is_empty(), Precondition::Delivery, || {
        "a message delivered on the first connection".to_owned()
    })?;
    let Some(sub) = subs.pop() else {
        return t.error("case error: no subscriber");
    };
    sub.disconnect().await?;
    let mut subs = vec![
        receiver(t, &sub_name, Some(PATH_ALIAS_MAX))
            .clean_start(false)
            .session_expiry(0)
            .connect()
            .await?,
    ];
    t.require(session_present(&subs[0]), Precondition::Other, || {
        "the session was not resumed: CONNACK Session Present 0".to_owned()
    })?;
    let mut ended = None;
    match way {
        Way::Live | Way::Shared => {
            publisher.publish(topic).qos(1).payload("second").await?;
        }
        Way::Retained => {
            // Subscribing again in a resumed session: the setup the plain SUBSCRIBE case
            // does not vouch for (rumqttd sometimes resets the connection here).
            subs[0]
                .subscribe(&filter)
                .qos(1)
                .as_setup(Precondition::RetainedResubscribe)
                .await?;
        }
        Way::Will | Way::DelayedWill => {
            let will_name = format!("{key}-will");
            let mut will = Will::new(topic, "will").qos(1);
            let mut b = t.client(&will_name);
            if way == Way::DelayedWill {
                // The session outlives the delay, so the delay decides when the Will comes.
                will = will.delay(1);
                b = b.session_expiry(30);
                ended = Some(will_name);
            }
            b.will(will).connect().await?.drop_connection();
            if way == Way::DelayedWill {
                t.wait(SECOND_AND_A_BIT).await;
            }
        }
    }
    let got = gather(t, &mut subs, 1).await;
    if let Some(will_name) = ended {
        end_session(t, &will_name).await;
    }
    let got = got?;
    // On the retained path the second connection resumes the session and subscribes again
    // to the filter it holds: a delivery that the retained cases (fresh subscriptions) do
    // not vouch for.
    let precondition = match way {
        Way::Retained => Precondition::RetainedResubscribe,
        _ => way.delivery(),
    };
    t.require(!got[0].is_empty(), precondition, || {
        format!("the {name} message delivered on the second connection")
    })?;
    // Resolved from an empty mapping: what the new connection set is all there is.
    match resolve(&got[0], PATH_ALIAS_MAX) {
        Ok((names, _)) => t.check(
            names.iter().all(|n| n == topic),
            format!("the {name} message on `{topic}`"),
            format!("Topic Names {names:?}"),
        ),
        Err((true, actual)) => Err(Failure::fail(
            format!("Topic Aliases from 1 to the client's maximum {PATH_ALIAS_MAX}"),
            actual,
        )
        .statement(S::V5_3_1_2_26)),
        // Not FAIL, as in alias.server-mapping-ends-with-connection: MQTT-3.3.2-7 binds the
        // receiver; the sender relying on an old mapping goes against the untagged 3.3.2.3.4.
        Err((false, actual)) => {
            return t.non_strict(
                format!(
                    "{name} path: each Topic Alias used alone set on the new connection first \
                     (no mapping of the old connection carried over; 3.3.2.3.4, untagged for \
                     the sender)"
                ),
                actual,
            )
        }
    }?;
    t.pass()
}

case! {
    /// A client that declares a Topic Alias Maximum of 2 gets no Topic Alias above 2 on any way a message reaches it besides the live one: queued for its session, retained, as a Will (at once or after its Will Delay Interval), as a Shared Subscription member
    WITHIN_CLIENT_MAXIMUM_ON_EVERY_PATH = "alias.within-client-maximum-on-every-path",
    checks: [V5_3_1_2_26, V5_3_3_2_11],
    only: V5,
    requires: [QoS1, Retain, SharedSubscriptions],
    faults: [SendTopicAliasesQueued, SendTopicAliasesRetained, SendTopicAliasesWill,
        SendTopicAliasesDelayedWill, SendTopicAliasesShared],
    tags: [Queued, Session, Retained, Will, Shared, FromBroker, TopicName],
    run: within_client_maximum_on_every_path,
}

/// The Topic Alias Maximum the clients of [`WITHIN_CLIENT_MAXIMUM_ON_EVERY_PATH`] declare.
const PATH_ALIAS_MAX: u16 = 2;

/// Checks that `p`, received on `path` by a client declaring [`PATH_ALIAS_MAX`], has no Topic
/// Alias or one from 1 to that maximum.
fn alias_within(t: &Ctx, p: &Publish, path: &str) -> Result<(), Failure> {
    let alias = p.properties.topic_alias.map(NonZeroU16::get);
    t.check(
        alias.is_none_or(|a| a <= PATH_ALIAS_MAX),
        format!(
            "{path} path: no Topic Alias, or one from 1 to the client's maximum {PATH_ALIAS_MAX}"
        ),
        format!("Topic Alias {}", alias.unwrap_or(0)),
    )
    .map_err(|f| f.statement(S::V5_3_1_2_26))
}

fn within_client_maximum_on_every_path(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(
        async move { on_every_path(&t, "alias-max", Some(PATH_ALIAS_MAX), alias_within).await },
    )
}

// ---------------------------------------------------------------------------------------

case! {
    /// Topic Aliases the broker sends stay within the client's Topic Alias Maximum and are set before use
    WITHIN_CLIENT_MAXIMUM = "alias.within-client-maximum",
    checks: [V5_3_1_2_26, V5_3_3_2_11],
    only: V5,
    requires: [QoS1],
    faults: [SendTopicAliases, SendTopicAliasesLive],
    tags: [Live, FromBroker, TopicName],
    run: within_client_maximum,
}

/// Resolves the Topic Names of `publishes` as a client with Topic Alias Maximum `max`
/// would; `Err` describes the first alias out of range (`true`) or used before it was set
/// (`false`).
fn resolve(publishes: &[Publish], max: u16) -> Result<(Vec<String>, usize), (bool, String)> {
    let mut map: BTreeMap<u16, String> = BTreeMap::new();
    let mut names = Vec::new();
    let mut aliased = 0;
    for p in publishes {
        let name = match p.properties.topic_alias.map(NonZeroU16::get) {
            None => p.topic.as_str().to_owned(),
            Some(a) if a > max => {
                return Err((
                    true,
                    format!("Topic Alias {a} above the client's maximum {max}"),
                ))
            }
            Some(a) if p.topic.is_empty() => {
                aliased += 1;
                map.get(&a)
                    .cloned()
                    .ok_or_else(|| (false, format!("Topic Alias {a} used before it was set")))?
            }
            Some(a) => {
                aliased += 1;
                map.insert(a, p.topic.as_str().to_owned());
                p.topic.as_str().to_owned()
            }
        };
        names.push(name);
    }
    Ok((names, aliased))
}

fn within_client_maximum(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        const MAX: u16 = 2;
        let properties = ConnectProperties {
            topic_alias_maximum: Some(MAX),
            ..ConnectProperties::default()
        };
        let mut subs = vec![t.client("sub").properties(properties).connect().await?];
        let filter = format!("{}aliased/#", t.topic_prefix());
        let wildcards = t.capabilities().wildcard_subscription_available;
        let topics: Vec<String> = (0..4)
            .map(|i| t.topic(&format!("aliased/long-topic-name-number-{i}")))
            .collect();
        if wildcards {
            subs[0].subscribe(&filter).qos(1).await?;
        } else {
            for topic in &topics {
                subs[0].subscribe(topic).qos(1).await?;
            }
        }
        let mut publisher = t.client("pub").connect().await?;
        let mut expected = Vec::new();
        for round in 0..3 {
            for (i, topic) in topics.iter().enumerate() {
                publisher
                    .publish(topic)
                    .qos(1)
                    .payload(format!("{i}.{round}"))
                    .await?;
                expected.push((format!("{i}.{round}"), topic.clone()));
            }
        }
        let got = gather(&t, &mut subs, expected.len()).await?;
        t.require(
            got[0].len() == expected.len(),
            Precondition::Delivery,
            || {
                format!(
                    "{} messages published; {} delivered",
                    expected.len(),
                    got[0].len()
                )
            },
        )?;
        let (names, aliased) = match resolve(&got[0], MAX) {
            Ok(resolved) => resolved,
            Err((true, actual)) => {
                return Err(
                    Failure::fail(format!("Topic Aliases between 1 and {MAX}"), actual)
                        .statement(S::V5_3_1_2_26),
                )
            }
            // Using an alias the client holds no mapping for goes against 3.3.2.3.4 ("If a
            // Topic Alias mapping has been set at the receiver, a sender can send ... a zero
            // length Topic Name"), which tags no MUST: NON-STRICT.
            Err((false, actual)) => {
                return t.non_strict(
                    "each Topic Alias set (with its Topic Name) before it is used alone \
                     (3.3.2.3.4, untagged)",
                    actual,
                )
            }
        };
        let mut seen: Vec<(String, String)> = got[0]
            .iter()
            .zip(names)
            .map(|(p, name)| (String::from_utf8_lossy(&p.payload).into_owned(), name))
            .collect();
        seen.sort();
        expected.sort();
        t.check(
            seen == expected,
            "every message once, on its own Topic Name (after resolving aliases)",
            format!("{seen:?}"),
        )?;
        if aliased == 0 {
            return t.informational("the broker sent no Topic Aliases (sending them is optional)");
        }
        t.pass()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttspec_codec::TopicName;

    fn p(topic: &str, alias: Option<u16>) -> Publish {
        let mut p = Publish::new(TopicName::new(topic).unwrap(), "x");
        p.properties.topic_alias = alias.and_then(NonZeroU16::new);
        p
    }

    #[test]
    fn resolving_follows_set_and_use_of_aliases() {
        let got = resolve(&[p("a", Some(1)), p("", Some(1)), p("b", None)], 2).unwrap();
        assert_eq!(got, (vec!["a".into(), "a".into(), "b".into()], 2));
    }

    #[test]
    fn resolving_refuses_aliases_above_the_maximum_or_unset() {
        assert!(resolve(&[p("a", Some(3))], 2).is_err());
        assert!(resolve(&[p("", Some(1))], 2).is_err());
        assert!(resolve(&[p("a", Some(1))], 0).is_err());
    }
}
