//! Will Messages: when the broker publishes them (the connection ends without a normal
//! DISCONNECT: network close, DISCONNECT 0x04 or an error reason, Keep Alive timeout,
//! protocol error, session takeover) and when it must not (DISCONNECT 0x00, a session
//! resumed within the Will Delay Interval); what it publishes (topic, payload, QoS, RETAIN,
//! MQTT 5.0 Will Properties); the Will Delay Interval and its interplay with the session's
//! end; and CONNECT packets whose Will fields are malformed.
//!
//! Every case watches the Will Topic with a subscriber connected before the Will's client,
//! so a Will published at any moment is seen. Timing cases use the smallest intervals that
//! still tolerate brokers counting whole seconds (a 2 s delay is never published before 1 s).
//!
//! A case that checks that a Will is *not* published also makes a control Will due on the
//! same watcher (a second client with a Will on the same topic, whose end must have it
//! published, [`no_will`]): a watcher that receives nothing proves nothing. A case whose
//! verdict rests on the broker closing a connection sees the same broker keep a connection
//! open for well-formed packets first (the twin).

use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    Disconnect, Packet, PayloadFormatIndicator, Publish, ReasonCode, StatementId as S,
    WillProperties,
};
use tokio::time::Instant;

use super::support::{
    clearing_retained, connect_twin, end_session, expect_connect_refused, expect_server_end,
    expect_taken_over, finish_retain_notes, granted_one, keep_alive_in_force, lost, no_will,
    persistent, raw_publish, retain_flag_on_subscribe, server_end, session_present, statement,
    text, topic_name, watcher, RawConnect, CONTROL_WILL, WILL_QUIET,
};
use mqttspec_harness::case;
use mqttspec_harness::client::{summary, Received};
use mqttspec_harness::scenario::{
    millis, secs, BoxFuture, CaseResult, Client, ClientBuilder, Ctx, Failure, Precondition, Reply,
    Role, Will,
};

/// The PUBLISH packets `c` receives within `window` (each acknowledged, in arrival order).
/// A connection that ends meanwhile is INCONCLUSIVE.
async fn publishes_for(c: &mut Client, window: Duration) -> Result<Vec<Publish>, Failure> {
    let until = Instant::now() + window;
    let mut got = Vec::new();
    loop {
        let now = Instant::now();
        if now >= until {
            return Ok(got);
        }
        match c.recv(until - now).await {
            Received::Packet(Packet::Publish(p)) => {
                c.ack(&p).await?;
                got.push(p);
            }
            Received::Packet(_) => {}
            Received::Timeout => return Ok(got),
            other => return Err(lost(c, &other)),
        }
    }
}

/// The Will Delay Interval (s) of cases where the session ends first: short enough to see
/// a Will published only when the delay ends, long enough to tell that from promptness.
const LATE_DELAY: u32 = 4;

/// The session ended while its Will waited for a delay of [`LATE_DELAY`]: the Will is due
/// now (MQTT-3.1.2-8). Published promptly: PASS. Published only once the delay ended: it was
/// published, but not promptly (a SHOULD of 3.1.2.5): NON-STRICT. Never: FAIL.
async fn will_due_at_session_end(
    t: &Ctx,
    watch: &mut Client,
    topic: &str,
    payload: &str,
) -> CaseResult {
    let prompt = t.response_timeout().min(secs(2));
    let start = Instant::now();
    if watch
        .expect_publish()
        .topic(topic)
        .payload(payload)
        .within(prompt)
        .await
        .is_ok()
    {
        return t.pass();
    }
    let rest = due(t, secs(u64::from(LATE_DELAY))).saturating_sub(start.elapsed());
    watch
        .expect_publish()
        .topic(topic)
        .payload(payload)
        .within(rest)
        .await?;
    t.non_strict(
        "the Will published promptly when the session ended",
        format!(
            "published only after {} ms, when the Will Delay Interval ended",
            start.elapsed().as_millis()
        ),
    )
}

/// A deadline for a Will due `after` from now: that plus the response allowance.
fn due(t: &Ctx, after: Duration) -> Duration {
    after + t.response_timeout()
}

// ---------------------------------------------------------------------------------------

case! {
    /// The Will is published when the client's connection closes without DISCONNECT
    PUBLISHED_ON_NETWORK_CLOSE = "will.published-on-network-close",
    checks: [V5_3_1_2_7, V5_3_1_2_8],
    faults: [NoWill],
    tags: [Will, FromBroker],
    run: published_on_network_close,
}

fn published_on_network_close(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "connection lost"))
            .connect()
            .await?;
        c.drop_connection();
        watch
            .expect_publish()
            .topic(&topic)
            .payload("connection lost")
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// After a normal DISCONNECT the Will is discarded, not published
    NOT_PUBLISHED_AFTER_NORMAL_DISCONNECT = "will.not-published-after-normal-disconnect",
    checks: [V5_3_14_4_3, V5_3_1_2_10],
    faults: [WillOnNormalDisconnect],
    tags: [Will, ToBroker],
    run: not_published_after_normal_disconnect,
}

fn not_published_after_normal_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "must not be published"))
            .connect()
            .await?;
        // The control: a client with a Will on the same topic that ends without DISCONNECT.
        let control = t
            .client("control")
            .will(Will::new(&topic, CONTROL_WILL))
            .connect()
            .await?;
        c.disconnect().await?;
        no_will(
            &t,
            &mut watch,
            b"must not be published",
            WILL_QUIET,
            Some(control),
            t.response_timeout(),
            "no Will published after DISCONNECT 0x00 (Normal disconnection)",
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Will discarded by DISCONNECT 0x00 is not published later, when the session ends
    DELETED_AFTER_NORMAL_DISCONNECT = "will.deleted-after-normal-disconnect",
    checks: [V5_3_1_2_10, V5_3_14_4_3],
    only: V5,
    faults: [WillOnNormalDisconnect],
    tags: [Will, Session, ToBroker],
    run: deleted_after_normal_disconnect,
}

fn deleted_after_normal_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        // The session outlives the connection by 1 s; the delay would outlive the session.
        let c = t
            .client("c")
            .session_expiry(1)
            .will(Will::new(&topic, "must not be published").delay(5))
            .connect()
            .await?;
        // The control: the same session and Will, but the connection dropped, so its Will is
        // published when its session ends, at the moment the other Will would be.
        let control = t
            .client("control")
            .session_expiry(1)
            .will(Will::new(&topic, CONTROL_WILL).delay(5))
            .connect()
            .await?;
        c.disconnect().await?;
        control.drop_connection();
        // Past the end of the sessions (up to 2 s for a broker counting whole seconds).
        no_will(
            &t,
            &mut watch,
            b"must not be published",
            millis(2300),
            None,
            due(&t, secs(1)),
            "the Will deleted at DISCONNECT 0x00 not published when the session ends",
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// DISCONNECT with reason 0x04 (Disconnect with Will Message) has the Will published
    PUBLISHED_AFTER_DISCONNECT_WITH_WILL = "will.published-after-disconnect-0x04",
    checks: [V5_3_1_2_8],
    only: V5,
    faults: [NoWill, DisconnectAlwaysNormal],
    tags: [Will, ToBroker],
    run: published_after_disconnect_with_will,
}

fn published_after_disconnect_with_will(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { disconnect_with_reason(t, ReasonCode::DisconnectWithWillMessage).await })
}

/// A client with a Will sends DISCONNECT with `reason` (not 0x00): the Will is published.
async fn disconnect_with_reason(t: Ctx, reason: ReasonCode) -> CaseResult {
    let topic = t.topic("will");
    let mut watch = watcher(&t, "watch", &topic, 0).await?;
    let c = t
        .client("c")
        .will(Will::new(&topic, "left with a will"))
        .connect()
        .await?;
    c.disconnect_with(Disconnect::new(reason)).await?;
    watch
        .expect_publish()
        .topic(&topic)
        .payload("left with a will")
        .await?;
    t.pass()
}

// ---------------------------------------------------------------------------------------

case! {
    /// DISCONNECT with an error reason (0x80) is not a normal disconnection: the Will is published
    PUBLISHED_AFTER_DISCONNECT_WITH_ERROR = "will.published-after-disconnect-with-error-reason",
    checks: [V5_3_1_2_8],
    only: V5,
    faults: [NoWill, DisconnectAlwaysNormal],
    tags: [Will, ToBroker],
    run: published_after_disconnect_with_error,
}

fn published_after_disconnect_with_error(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { disconnect_with_reason(t, ReasonCode::UnspecifiedError).await })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A client the broker disconnects for a Keep Alive timeout has its Will published
    PUBLISHED_ON_KEEP_ALIVE_TIMEOUT = "will.published-on-keep-alive-timeout",
    checks: [V5_3_1_2_8],
    faults: [NoWill],
    tags: [Will, FromBroker],
    run: published_on_keep_alive_timeout,
}

fn published_on_keep_alive_timeout(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        // Kept open and silent: the broker must notice.
        let mut c = t
            .client("c")
            .keep_alive(1)
            .will(Will::new(&topic, "timed out"))
            .connect()
            .await?;
        let keep_alive = keep_alive_in_force(&c, 1);
        if keep_alive != 1 {
            return t.inconclusive(
                Precondition::Other,
                format!(
                    "the broker set Server Keep Alive {keep_alive} instead of 1 s: the Keep Alive timeout was not waited for"
                ),
            );
        }
        // The close is this case's precondition, not its check: whether and how soon the
        // broker enforces Keep Alive is the keepalive cases' business (a broker checking only
        // every few seconds gets 3 s more here).
        let limit = due(&t, millis(1500)) + secs(3);
        server_end(
            &t,
            &mut c,
            &[ReasonCode::KeepAliveTimeout],
            limit,
            Role::Setup(Precondition::Other),
        )
        .await?;
        // The Will follows the close at once.
        watch
            .expect_publish()
            .topic(&topic)
            .payload("timed out")
            .within(t.response_timeout().min(secs(2)))
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// When the broker closes a connection for a malformed packet, the Will is published
    PUBLISHED_ON_PROTOCOL_ERROR = "will.published-on-protocol-error",
    checks: [V5_3_1_2_8, V5_4_13_1_1],
    faults: [NoWill, IgnoreMalformedPublish],
    tags: [Will, ToBroker],
    run: published_on_protocol_error,
}

fn published_on_protocol_error(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut c = t
            .client("c")
            .will(Will::new(&topic, "broke the protocol"))
            .connect()
            .await?;
        // The twin: the same PUBLISH with a valid QoS (0), and the connection stays open.
        let q3 = t.topic("q3");
        c.publish(&q3).payload("x").await?;
        c.alive().as_twin().await?;
        // PUBLISH with both QoS bits set (QoS 3) is malformed in both versions.
        c.send_raw(raw_publish(&t, 0b0110, &q3, Some(1), &[], b"x"))
            .await?;
        expect_server_end(
            &t,
            &mut c,
            &[ReasonCode::MalformedPacket, ReasonCode::ProtocolError],
            t.response_timeout(),
        )
        .await?;
        watch
            .expect_publish()
            .topic(&topic)
            .payload("broke the protocol")
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Will QoS 1 reaches a QoS 1 subscriber at QoS 1
    QOS_1_HONOURED = "will.qos-1-honoured",
    checks: [V5_3_1_2_8, V5_3_8_4_8, V311_3_1_2_9, V311_3_8_4_6],
    requires: [QoS1],
    faults: [WillAtQos0],
    tags: [Will, FromBroker],
    run: qos_1_honoured,
}

fn qos_1_honoured(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { will_qos(t, 1, 1, 1).await })
}

/// A Will of QoS `will_qos` reaches a subscriber of QoS `sub_qos` at `expected`, or at
/// the QoS the SUBACK granted if that is lower (a server may grant less, MQTT-3.8.4-8 takes
/// the minimum).
async fn will_qos(t: Ctx, will_qos: u8, sub_qos: u8, expected: u8) -> CaseResult {
    let topic = t.topic("will");
    let mut watch = t.client("watch").connect().await?;
    let codes = watch.subscribe(&topic).qos(sub_qos).await?;
    let expected = expected.min(granted_one(&codes)?);
    let c = t
        .client("c")
        .will(Will::new(&topic, "qos").qos(will_qos))
        .connect()
        .await?;
    c.drop_connection();
    watch
        .expect_publish()
        .topic(&topic)
        .qos(expected)
        .payload("qos")
        .await?;
    t.pass()
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Will QoS 2 reaches a QoS 2 subscriber at QoS 2
    QOS_2_HONOURED = "will.qos-2-honoured",
    checks: [V5_3_1_2_8, V5_3_8_4_8, V311_3_1_2_9, V311_3_8_4_6],
    requires: [QoS2],
    faults: [WillAtQos0],
    tags: [Will, FromBroker],
    run: qos_2_honoured,
}

fn qos_2_honoured(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { will_qos(t, 2, 2, 2).await })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Will QoS 1 reaches a QoS 0 subscriber at QoS 0 (the lower of the two)
    QOS_DOWNGRADED = "will.qos-downgraded-to-subscription",
    checks: [V5_3_8_4_8, V311_3_8_4_6, V311_3_1_2_9],
    requires: [QoS1],
    faults: [NoQosDowngrade, NoQosDowngradeWill],
    tags: [Will, FromBroker],
    run: qos_downgraded,
}

fn qos_downgraded(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { will_qos(t, 1, 0, 0).await })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Will with Will Retain 0 is published as a non-retained message
    RETAIN_0_NOT_RETAINED = "will.retain-0-not-retained",
    checks: [V5_3_1_2_14, V5_3_3_1_12],
    requires: [Retain],
    faults: [WillRetainFlipped],
    tags: [Will, Retained, FromBroker],
    run: retain_0_not_retained,
}

fn retain_0_not_retained(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let plain = t.topic("will/plain");
        let kept = t.topic("will/kept");
        let filter = t.topic("will/+");
        let mut watch = watcher(&t, "watch", &filter, 0).await?;
        // Cleared afterwards whatever happened: the control Will, and the other one if it was
        // kept.
        clearing_retained(
            &t,
            &[plain.clone(), kept.clone()],
            retain_0_body(&t, &mut watch, &plain, &kept, &filter),
        )
        .await
    })
}

/// The body of [`retain_0_not_retained`].
async fn retain_0_body(
    t: &Ctx,
    watch: &mut Client,
    plain: &str,
    kept: &str,
    filter: &str,
) -> CaseResult {
    let c = t
        .client("c")
        .will(Will::new(plain, "not retained"))
        .connect()
        .await?;
    // The control: a Will with Will Retain 1 on a topic the same filter matches.
    let control = t
        .client("control")
        .will(Will::new(kept, CONTROL_WILL).retain())
        .connect()
        .await?;
    c.drop_connection();
    let live = watch
        .expect_publish()
        .topic(plain)
        .payload("not retained")
        .await?;
    // RETAIN 1 on this live delivery breaks the rule for forwarding (Retain As Published 0
    // in 5.0, MQTT-3.3.1-9 in 3.1.1), not MQTT-3.1.2-14.
    t.check(
        !live.retain,
        "the live delivery with RETAIN 0 (forwarded on an established subscription)",
        "RETAIN 1",
    )
    .map_err(|f| f.statement(super::support::of_run!(t, V5_3_3_1_12)))?;
    control.drop_connection();
    watch
        .expect_publish()
        .topic(kept)
        .payload(CONTROL_WILL)
        .as_control()
        .await?;
    // Both published: a new subscriber to both topics is given the retained control Will
    // and not the Will with Will Retain 0 (retained messages come right after SUBACK).
    let mut late = watcher(t, "late", filter, 0).await?;
    let got = publishes_for(&mut late, WILL_QUIET).await?;
    if let Some(p) = got.iter().find(|p| p.topic.as_str() == plain) {
        return Err(Failure::fail(
            "the Will with Will Retain 0 not kept as a retained message",
            format!(
                "a new subscriber got it: {}",
                summary::packet(&Packet::Publish(p.clone()), t.protocol())
            ),
        ));
    }
    t.checked();
    t.absence_seen();
    let control_ok = got.iter().any(|p| {
        p.topic.as_str() == kept && p.retain && p.payload.as_ref() == CONTROL_WILL.as_bytes()
    });
    t.require(control_ok, Precondition::Control, || {
        "the control Will (Will Retain 1) given to the new subscriber as a retained message"
            .to_owned()
    })?;
    t.control_seen();
    t.pass()
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Will with Will Retain 1 is published as a retained message: a later subscriber gets it with RETAIN 1
    RETAIN_1_RETAINED = "will.retain-1-retained",
    checks: [V5_3_1_2_15, V311_3_1_2_17, V311_3_3_1_8],
    requires: [Retain],
    faults: [WillRetainFlipped, NoRetainDelivery],
    tags: [Will, Retained, FromBroker],
    run: retain_1_retained,
}

fn retain_1_retained(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        // The retained Will is cleared afterwards, whatever happened.
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut watch = watcher(&t, "watch", &topic, 0).await?;
            let c = t
                .client("c")
                .will(Will::new(&topic, "retained").retain())
                .connect()
                .await?;
            c.drop_connection();
            // The live copy: RETAIN is not checked (0 in 3.1.1; in 5.0 it depends on Retain
            // As Published).
            watch
                .expect_publish()
                .topic(&topic)
                .payload("retained")
                .await?;
            // Retained: a subscriber that arrives afterwards gets it (MQTT-3.1.2-15). Its
            // RETAIN flag is another rule (3.1.1 MQTT-3.3.1-8; untagged in 5.0), judged
            // apart so that a RETAIN 0 is not reported as a Will that was not retained.
            let mut late = watcher(&t, "late", &topic, 0).await?;
            let p = late
                .expect_publish()
                .topic(&topic)
                .payload("retained")
                .await?;
            let mut notes = Vec::new();
            retain_flag_on_subscribe(&t, &p, &mut notes)?;
            finish_retain_notes(&t, notes)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The Will is published to the Will Topic with the Will Payload, byte for byte
    TOPIC_AND_PAYLOAD_EXACT = "will.topic-and-payload-exact",
    checks: [V5_3_1_2_8],
    faults: [NoWill],
    tags: [Will, WillTopic, TopicName, FromBroker],
    run: topic_and_payload_exact,
}

fn topic_and_payload_exact(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // Levels with a space, a non-ASCII character and an empty level.
        let topic = t.topic("will/a b/\u{e9}t\u{e9}//end");
        // Binary payload: zero bytes, 0xFF, invalid UTF-8, and 1000 bytes of filler.
        let mut payload = vec![0x00, 0xFF, 0xC0, 0x80, 0x00];
        payload.extend((0..1000u32).map(|i| (i % 251) as u8));
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, &payload))
            .connect()
            .await?;
        c.drop_connection();
        watch
            .expect_publish()
            .topic(&topic)
            .payload(&payload)
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The Will's User Properties are published unchanged and in their order
    USER_PROPERTIES_IN_ORDER = "will.user-properties-in-order",
    checks: [V5_3_1_3_10, V5_3_3_2_17, V5_3_3_2_18],
    only: V5,
    faults: [ReverseUserProperties, DropWillProperties],
    tags: [Will, UserProperty, FromBroker],
    run: user_properties_in_order,
}

fn user_properties_in_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let sent = [
            ("mqttspec-b", "1"),
            ("mqttspec-a", "2"),
            ("mqttspec-b", "3"),
            ("mqttspec-c", ""),
        ];
        let mut properties = WillProperties::default();
        for (k, v) in sent {
            properties.user_properties.push(
                text(k, "User Property name")?,
                text(v, "User Property value")?,
            );
        }
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "props").properties(properties))
            .connect()
            .await?;
        c.drop_connection();
        let p = watch.expect_publish().topic(&topic).await?;
        // Only ours, in case the broker adds its own.
        let got: Vec<(String, String)> = p
            .properties
            .user_properties
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .filter(|(k, _)| k.starts_with("mqttspec-"))
            .collect();
        let want: Vec<(String, String)> = sent
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        t.check_eq("User Properties", want, got)?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The Will's Content Type and Payload Format Indicator are published unchanged
    CONTENT_TYPE_AND_FORMAT = "will.content-type-and-payload-format-forwarded",
    checks: [V5_3_3_2_4, V5_3_3_2_20, V5_3_1_2_8],
    only: V5,
    faults: [DropWillProperties],
    tags: [Will, ContentType, FromBroker],
    run: content_type_and_format,
}

fn content_type_and_format(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let content_type = "text/plain; charset=utf-8";
        let properties = WillProperties {
            content_type: Some(text(content_type, "Content Type")?),
            payload_format_indicator: Some(PayloadFormatIndicator::Utf8),
            ..WillProperties::default()
        };
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "gone \u{2014} bye").properties(properties))
            .connect()
            .await?;
        c.drop_connection();
        let p = watch.expect_publish().topic(&topic).await?;
        t.check_eq(
            "Content Type",
            Some(content_type),
            p.properties.content_type.as_ref().map(|s| s.as_str()),
        )?;
        t.check_eq(
            "Payload Format Indicator",
            Some(PayloadFormatIndicator::Utf8),
            p.properties.payload_format_indicator,
        )?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The Will's Response Topic and Correlation Data are published unchanged
    RESPONSE_TOPIC_AND_CORRELATION = "will.response-topic-and-correlation-data-forwarded",
    checks: [V5_3_3_2_15, V5_3_3_2_16, V5_3_1_2_8],
    only: V5,
    faults: [DropWillProperties],
    tags: [Will, RequestResponse, FromBroker],
    run: response_topic_and_correlation,
}

fn response_topic_and_correlation(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let reply_to = t.topic("reply");
        let correlation = Bytes::from_static(&[0x00, 0x01, 0xFE, 0xFF, b'c']);
        let response_topic = topic_name(&reply_to)?;
        let properties = WillProperties {
            response_topic: Some(response_topic),
            correlation_data: Some(correlation.clone()),
            ..WillProperties::default()
        };
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "request").properties(properties))
            .connect()
            .await?;
        c.drop_connection();
        let p = watch.expect_publish().topic(&topic).await?;
        t.check_eq(
            "Response Topic",
            Some(reply_to.as_str()),
            p.properties.response_topic.as_ref().map(|s| s.as_str()),
        )?;
        t.check_eq(
            "Correlation Data",
            Some(&correlation),
            p.properties.correlation_data.as_ref(),
        )?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The Will's Message Expiry Interval is sent with it (at most the interval given)
    MESSAGE_EXPIRY_FORWARDED = "will.message-expiry-forwarded",
    checks: [V5_3_3_2_6, V5_3_1_2_8],
    only: V5,
    faults: [DropWillProperties],
    tags: [Will, FromBroker],
    run: message_expiry_forwarded,
}

fn message_expiry_forwarded(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let properties = WillProperties {
            message_expiry_interval: Some(120),
            ..WillProperties::default()
        };
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "expires").properties(properties))
            .connect()
            .await?;
        c.drop_connection();
        let p = watch.expect_publish().topic(&topic).await?;
        let got = p.properties.message_expiry_interval;
        t.check(
            got.is_some_and(|s| (1..=120).contains(&s)),
            "Message Expiry Interval between 1 and 120 s (120 less the time the Will waited)",
            format!("Message Expiry Interval {got:?}"),
        )?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Will with Will Delay Interval 2 s is published after the delay, not at the close
    DELAY_POSTPONES = "will.delay-postpones-publication",
    checks: [V5_3_1_2_8],
    only: V5,
    faults: [IgnoreWillDelay, NoWill],
    tags: [Will, FromBroker],
    run: delay_postpones,
}

fn delay_postpones(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        // The session outlives the delay, so only the delay decides.
        let c = t
            .client("c")
            .session_expiry(30)
            .will(Will::new(&topic, "delayed").delay(2))
            .connect()
            .await?;
        c.drop_connection();
        // Not before 1 s, even for a broker counting whole seconds.
        watch.expect_no_publish().for_(millis(900)).await?;
        watch
            .expect_publish()
            .topic(&topic)
            .payload("delayed")
            .within(due(&t, secs(2)))
            .await?;
        // That Will, arriving on the same watcher after the quiet window, is also the
        // positive control of the window: the watcher was receiving all along.
        t.control_seen();
        end_session(&t, "c").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A client reconnecting (resuming its session) within the Will Delay Interval has its Will not published
    DELAY_CANCELLED_BY_RECONNECT = "will.delay-cancelled-by-reconnect",
    checks: [V5_3_1_3_9, V5_3_1_2_8],
    only: V5,
    faults: [WillOnResume, IgnoreWillDelay],
    tags: [Will, Session],
    run: delay_cancelled_by_reconnect,
}

fn delay_cancelled_by_reconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .session_expiry(30)
            .will(Will::new(&topic, "must not be published").delay(2))
            .connect()
            .await?;
        // The control: the same session and delayed Will, but no client comes back for it,
        // so it is published when the delay ends.
        let control = t
            .client("control")
            .session_expiry(30)
            .will(Will::new(&topic, CONTROL_WILL).delay(2))
            .connect()
            .await?;
        c.drop_connection();
        control.drop_connection();
        // Back at once (well within the delay), resuming the session without a Will.
        let back = t
            .client("c")
            .clean_start(false)
            .session_expiry(0)
            .connect()
            .await?;
        // Past the delay (up to 3 s for a broker counting whole seconds).
        no_will(
            &t,
            &mut watch,
            b"must not be published",
            millis(2300),
            None,
            due(&t, secs(1)),
            "no Will published for a session resumed within the Will Delay Interval",
        )
        .await?;
        back.disconnect().await?;
        end_session(&t, "control").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Will whose delay outlasts the session is published when the session expires
    SESSION_END_BEFORE_DELAY = "will.published-at-session-end-before-delay",
    checks: [V5_3_1_2_8],
    only: V5,
    faults: [NoWillAtSessionEnd, IgnoreWillDelay],
    tags: [Will, Session],
    run: session_end_before_delay,
}

fn session_end_before_delay(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .session_expiry(2)
            .will(Will::new(&topic, "session over").delay(60))
            .connect()
            .await?;
        c.drop_connection();
        // Neither at the close ...
        watch.expect_no_publish().for_(millis(900)).await?;
        // ... nor after the 60 s delay: when the 2 s session ends.
        watch
            .expect_publish()
            .topic(&topic)
            .payload("session over")
            .within(due(&t, secs(2)))
            .await?;
        // That Will, arriving on the same watcher after the quiet window, is also the
        // positive control of the window.
        t.control_seen();
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// With Session Expiry Interval 0 the session ends at the close, so a delayed Will is published at once
    SESSION_ENDS_AT_CLOSE = "will.published-at-close-when-session-ends",
    checks: [V5_3_1_2_8],
    only: V5,
    faults: [NoWillAtSessionEnd],
    tags: [Will, Session],
    run: session_ends_at_close,
}

fn session_ends_at_close(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .session_expiry(0)
            .will(Will::new(&topic, "no session left").delay(LATE_DELAY))
            .connect()
            .await?;
        c.drop_connection();
        will_due_at_session_end(&t, &mut watch, &topic, "no session left").await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A connection taken over by a new one with the same Client Identifier has its Will published
    PUBLISHED_ON_TAKEOVER = "will.published-on-takeover",
    checks: [V5_3_1_4_3, V5_3_1_2_8],
    faults: [NoWill, NoTakeover],
    tags: [Will, Session, ClientId],
    run: published_on_takeover,
}

fn published_on_takeover(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut old = t
            .client("c")
            .will(Will::new(&topic, "taken over"))
            .connect()
            .await?;
        let mut new = t.client("c").clean_start(true).connect().await?;
        expect_taken_over(&t, &mut old, &mut new).await?;
        watch
            .expect_publish()
            .topic(&topic)
            .payload("taken over")
            .await?;
        new.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A connection without a Will that takes over one with a Will does not inherit it: the old Will is published at the takeover, and not again when the new connection is lost
    NOT_CARRIED_TO_CONNECTION_WITHOUT_WILL = "will.not-carried-to-connection-without-will",
    checks: [V311_3_1_2_12, V311_3_1_2_10, V5_3_1_2_10],
    faults: [KeepEarlierWill],
    tags: [Will, Session, ClientId],
    run: not_carried_to_connection_without_will,
}

/// The old connection (Clean Start 0, so its session is resumed by the new one) has a Will
/// without delay; the new one, Will Flag 0, takes it over: the old Will is due at the
/// takeover (a precondition here: `will.published-on-takeover` checks it), and once
/// published it is gone (MQTT-3.1.2-10), so the new connection, lost abruptly, has no Will
/// to publish (3.1.1 MQTT-3.1.2-12).
fn not_carried_to_connection_without_will(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut old = persistent(&t, "c")
            .will(Will::new(&topic, "first connection"))
            .connect()
            .await?;
        let new = t.client("c").clean_start(false).connect().await?;
        server_end(
            &t,
            &mut old,
            &[ReasonCode::SessionTakenOver],
            t.response_timeout(),
            Role::Setup(Precondition::Other),
        )
        .await?;
        watch
            .expect_publish()
            .topic(&topic)
            .payload("first connection")
            .as_setup(Precondition::Other)
            .await?;
        let control = t
            .client("control")
            .will(Will::new(&topic, CONTROL_WILL))
            .connect()
            .await?;
        new.drop_connection();
        let rule = if t.is_v5() {
            "the Will published at the takeover gone from the session: not published again when the connection that took over (Will Flag 0) is lost"
        } else {
            "no Will published when the connection that took over, with Will Flag 0, is lost"
        };
        no_will(
            &t,
            &mut watch,
            b"first connection",
            WILL_QUIET,
            Some(control),
            t.response_timeout(),
            rule,
        )
        .await
        .map_err(|f| f.statement(statement(&t, S::V5_3_1_2_10, S::V311_3_1_2_12)))?;
        end_session(&t, "c").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A takeover with Clean Start 0 within the Will Delay Interval cancels the old connection's Will
    DELAYED_NOT_PUBLISHED_ON_RESUMING_TAKEOVER = "will.delayed-not-published-on-resuming-takeover",
    checks: [V5_3_1_3_9, V5_3_1_4_3],
    only: V5,
    faults: [WillOnResume, IgnoreWillDelay],
    tags: [Will, Session, ClientId],
    run: delayed_not_published_on_resuming_takeover,
}

fn delayed_not_published_on_resuming_takeover(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut old = t
            .client("c")
            .session_expiry(30)
            .will(Will::new(&topic, "must not be published").delay(2))
            .connect()
            .await?;
        // The control: the same session and delayed Will, its connection lost at the same
        // moment and nobody taking the session over, so it is published when the delay ends.
        let control = t
            .client("control")
            .session_expiry(30)
            .will(Will::new(&topic, CONTROL_WILL).delay(2))
            .connect()
            .await?;
        let mut new = t
            .client("c")
            .clean_start(false)
            .session_expiry(0)
            .connect()
            .await?;
        control.drop_connection();
        expect_taken_over(&t, &mut old, &mut new).await?;
        no_will(
            &t,
            &mut watch,
            b"must not be published",
            millis(2300),
            None,
            due(&t, secs(1)),
            "no Will published for a session taken over (Clean Start 0) within the Will Delay Interval",
        )
        .await?;
        new.disconnect().await?;
        end_session(&t, "control").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A takeover with Clean Start 1 closes the old connection and starts a new session; whether the old connection's delayed Will is published then is recorded
    DELAYED_PUBLISHED_ON_CLEAN_TAKEOVER = "will.delayed-published-on-clean-takeover",
    checks: [V5_3_1_2_8, V5_3_1_4_3, V5_3_1_4_4, V5_3_2_2_2],
    only: V5,
    faults: [NoTakeover, KeepSessionOnCleanStart],
    tags: [Will, Session, ClientId],
    run: delayed_published_on_clean_takeover,
}

/// MQTT-3.1.2-8 makes the Will due when the session ends, except when a new Network
/// Connection for the Client Identifier is opened before the Will Delay Interval has
/// elapsed; MQTT-3.1.3-9 forbids it only for a new connection to *this* session. A Clean
/// Start 1 takeover is both: a new connection for the Client Identifier within the delay,
/// and the end of the session (a non-normative comment of 3.1.3.2.2 says the Will is then
/// sent). So publishing it at the takeover, when the delay ends, or not at all each meet
/// every MUST: the case checks the takeover (the old connection closed, a new session) and
/// records what the broker did with the Will.
fn delayed_published_on_clean_takeover(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let payload = "session replaced";
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut old = t
            .client("c")
            .session_expiry(30)
            .will(Will::new(&topic, payload).delay(LATE_DELAY))
            .connect()
            .await?;
        let mut new = t.client("c").clean_start(true).connect().await?;
        t.check(
            !session_present(&new),
            "CONNACK Session Present 0: Clean Start 1 starts a new session",
            "Session Present 1: the old session was kept",
        )
        // Session Present 1 on accepting Clean Start 1 is what MQTT-3.2.2-2 forbids.
        .map_err(|f| f.statement(S::V5_3_2_2_2))?;
        expect_taken_over(&t, &mut old, &mut new).await?;
        // What became of the old session's Will: watched until the delay would have ended,
        // first for a prompt publication at the takeover, then for the rest of the delay.
        let prompt = t.response_timeout().min(secs(2));
        let rest = due(&t, secs(u64::from(LATE_DELAY))).saturating_sub(prompt);
        let is_will = |p: &Publish| p.payload.as_ref() == payload.as_bytes();
        let mut published = None;
        for (window, when) in [(prompt, "at once"), (rest, "later")] {
            if publishes_for(&mut watch, window).await?.iter().any(is_will) {
                published = Some(when);
                break;
            }
        }
        let outcome = match published {
            Some("at once") => t.informational(
                "the delayed Will of the taken-over session was published at the takeover, when the session ended",
            ),
            Some(_) => t.informational(format!(
                "the delayed Will of the taken-over session was published, not within {} ms of the takeover but by the end of its {LATE_DELAY} s Will Delay Interval",
                prompt.as_millis()
            )),
            None => {
                // An absence: a control Will on the same watcher shows it was receiving.
                t.absence_seen();
                let control = t
                    .client("control")
                    .will(Will::new(&topic, CONTROL_WILL))
                    .connect()
                    .await?;
                control.drop_connection();
                watch
                    .expect_publish()
                    .topic(&topic)
                    .payload(CONTROL_WILL)
                    .as_control()
                    .await?;
                t.informational(
                    "the delayed Will of the taken-over session was not published: a new connection for the Client Identifier opened within the Will Delay Interval (allowed by MQTT-3.1.2-8)",
                )
            }
        };
        new.disconnect().await?;
        outcome
    })
}

// ---------------------------------------------------------------------------------------

/// A CONNECT built byte by byte for client `name` with Connect Flags `flags` and the
/// profile's User Name and Password (their flags added); with `will_topic` the Will fields
/// follow (payload "will").
fn raw_connect(t: &Ctx, name: &str, flags: u8, will_topic: Option<&str>) -> Bytes {
    let mut connect = RawConnect::new(t, &t.client_id(name), flags).credentials(t);
    if let Some(topic) = will_topic {
        connect = connect.will(topic, b"will");
    }
    connect.build()
}

/// The twin of a refused CONNECT built by [`raw_connect`]: the same client's CONNECT with
/// the offending field corrected (`flags`, `will_topic`) is accepted with CONNACK 0x00 and a
/// PINGREQ on it answered (else INCONCLUSIVE); then it disconnects normally.
async fn raw_twin(t: &Ctx, name: &str, flags: u8, will_topic: Option<&str>) -> Result<(), Failure> {
    let mut c = t.client(name).open().await?;
    c.send_raw(raw_connect(t, name, flags, will_topic)).await?;
    c.expect_reply(&[Reply::ConnAck(ReasonCode::Success)])
        .as_twin()
        .await?;
    c.alive().as_twin().await?;
    c.disconnect().await
}

case! {
    /// A CONNECT with Will QoS 3 is malformed: the connection is closed
    QOS_3_MALFORMED = "will.qos-3-malformed",
    checks: [V5_3_1_2_12, V5_3_1_4_1],
    faults: [ConnackMalformedConnect],
    tags: [Will, ToBroker],
    run: qos_3_malformed,
}

fn qos_3_malformed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        // The twin: Will QoS 0 instead of 3.
        raw_twin(&t, "c", 0x02 | 0x04, Some(&topic)).await?;
        // Clean Start, Will Flag, Will QoS bits 11.
        let bytes = raw_connect(&t, "c", 0x02 | 0x04 | 0x18, Some(&topic));
        expect_connect_refused(&t, "c", bytes, false).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A CONNECT with Will Retain 1 but Will Flag 0 is malformed: the connection is closed
    RETAIN_WITHOUT_FLAG_MALFORMED = "will.retain-without-will-flag-malformed",
    checks: [V5_3_1_2_13, V5_3_1_4_1, V311_3_1_2_15, V311_3_1_2_11, V311_3_1_4_1],
    faults: [ConnackMalformedConnect],
    tags: [Will, ToBroker],
    run: retain_without_flag_malformed,
}

fn retain_without_flag_malformed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The twin: Will Retain 0.
        raw_twin(&t, "c", 0x02, None).await?;
        let bytes = raw_connect(&t, "c", 0x02 | 0x20, None);
        expect_connect_refused(&t, "c", bytes, false).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A CONNECT with a non-zero Will QoS but Will Flag 0 is malformed: the connection is closed
    QOS_WITHOUT_FLAG_MALFORMED = "will.qos-without-will-flag-malformed",
    checks: [V5_3_1_2_11, V5_3_1_4_1, V311_3_1_2_13, V311_3_1_2_11, V311_3_1_4_1],
    faults: [ConnackMalformedConnect],
    tags: [Will, ToBroker],
    run: qos_without_flag_malformed,
}

fn qos_without_flag_malformed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The twin: Will QoS 0.
        raw_twin(&t, "c", 0x02, None).await?;
        let bytes = raw_connect(&t, "c", 0x02 | 0x08, None);
        expect_connect_refused(&t, "c", bytes, false).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A CONNECT whose Will Topic contains a wildcard is refused and the connection closed
    WILDCARD_TOPIC_REFUSED = "will.topic-with-wildcard-refused",
    checks: [V5_4_7_0_1, V5_3_1_4_1],
    faults: [ConnackMalformedConnect],
    tags: [Will, WillTopic, ToBroker],
    run: wildcard_topic_refused,
}

fn wildcard_topic_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The twin: a Will Topic without wildcards.
        raw_twin(&t, "c0", 0x02 | 0x04, Some(&t.topic("w"))).await?;
        // A Topic Name never holds '+' or '#'. Whether a broker treats this as malformed
        // (close without CONNACK) or as a refused request (3.1.1 CONNACK with a non-zero
        // return code) is open, so both are accepted.
        for (i, wild) in ["+/w", "w/#"].iter().enumerate() {
            let topic = format!("{}{wild}", t.topic_prefix());
            let name = format!("c{i}");
            let bytes = raw_connect(&t, &name, 0x02 | 0x04, Some(&topic));
            expect_connect_refused(&t, &name, bytes, true).await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a CONNECT whose Will needs what the broker says it lacks (Will QoS above its Maximum QoS, Will Retain without Retain Available) is refused and the connection closed
    BEYOND_CAPABILITIES_REFUSED = "will.beyond-announced-capabilities-refused",
    checks: [V5_3_2_2_12, V5_3_2_2_13],
    only: V5,
    faults: [AcceptWillAboveMaximumQos, AcceptUnsupportedWillRetain],
    tags: [Will, ToBroker],
    run: beyond_capabilities_refused,
}

/// What the broker lacks is read from the CONNACK of the first twin (no Maximum QoS and no
/// Retain Available 0: UNSUPPORTED). Each refusal has its own twin: the same Will within the
/// capabilities is accepted. Refusing is a MUST and so is the close; the reason code
/// (0x9B, 0x9A) is a SHOULD, another error code NON-STRICT.
fn beyond_capabilities_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let first = connect_twin(t.client("c")).await?;
        let properties = first
            .connack()
            .map(|a| a.properties.clone())
            .unwrap_or_default();
        first.disconnect().await?;
        let maximum = properties.maximum_qos;
        let no_retain = properties.retain_available == Some(false);
        if maximum.is_none() && !no_retain {
            return t.unsupported(
                "the broker announces QoS 2 and retained messages: no Will beyond its \
                 capabilities to try",
            );
        }
        let mut other_codes = Vec::new();
        if let Some(max) = maximum {
            let within = Will::new(&topic, "within").qos(max.as_u8());
            connect_twin(t.client("c").will(within))
                .await?
                .disconnect()
                .await?;
            let above = Will::new(&topic, "above").qos(max.as_u8() + 1);
            refused_will(
                &t,
                t.client("c").will(above),
                ReasonCode::QoSNotSupported,
                S::V5_3_2_2_12,
                &mut other_codes,
            )
            .await?;
        }
        if no_retain {
            connect_twin(t.client("c").will(Will::new(&topic, "not retained")))
                .await?
                .disconnect()
                .await?;
            refused_will(
                &t,
                t.client("c").will(Will::new(&topic, "retained").retain()),
                ReasonCode::RetainNotSupported,
                S::V5_3_2_2_13,
                &mut other_codes,
            )
            .await?;
        }
        if other_codes.is_empty() {
            t.pass()
        } else {
            t.non_strict(
                "CONNACK 0x9B (QoS not supported) / 0x9A (Retain not supported) for the Will",
                other_codes.join("; "),
            )
        }
    })
}

/// Sends the CONNECT of `builder` and expects it refused: a CONNACK with an error code and
/// the close, or the close alone. A CONNACK with another error code than `preferred` is
/// noted in `other_codes`.
async fn refused_will(
    t: &Ctx,
    builder: ClientBuilder,
    preferred: ReasonCode,
    statement: S,
    other_codes: &mut Vec<String>,
) -> Result<(), Failure> {
    let connect = Packet::Connect(Box::new(builder.connect_packet()?));
    let bytes = connect
        .encode(t.protocol())
        .map_err(|e| Failure::error(format!("case error: {e}")))?;
    let mut c = builder.open().await?;
    c.send_raw(bytes).await?;
    match c.recv(t.response_timeout()).await {
        Received::Packet(Packet::ConnAck(ack)) if ack.reason_code.is_error() => {
            t.checked();
            t.refusal_seen();
            c.expect_closed()
                .await
                .map_err(|f| f.statement(statement))?;
            if ack.reason_code != preferred {
                other_codes.push(format!("CONNACK {:?}", ack.reason_code));
            }
            Ok(())
        }
        Received::Closed => {
            t.checked();
            t.refusal_seen();
            Ok(())
        }
        other => Err(c
            .unmet(
                "the CONNECT refused: CONNACK with an error code, then the close",
                other,
            )
            .statement(statement)),
    }
}
