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

use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    Disconnect, PayloadFormatIndicator, Properties, RawPacket, ReasonCode, StatementId as S,
    TopicName,
};

use super::disconnect::{expect_server_end, text, Ending};
use crate::scenario::{
    millis, secs, BoxFuture, Capability, Case, CaseResult, Client, Ctx, Failure, Protocols, Reply,
    Will,
};

/// How long "no Will is published" is watched for when nothing is timed.
pub(crate) const QUIET: Duration = millis(800);

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        PUBLISHED_ON_NETWORK_CLOSE,
        NOT_PUBLISHED_AFTER_NORMAL_DISCONNECT,
        DELETED_AFTER_NORMAL_DISCONNECT,
        PUBLISHED_AFTER_DISCONNECT_WITH_WILL,
        PUBLISHED_AFTER_DISCONNECT_WITH_ERROR,
        PUBLISHED_ON_KEEP_ALIVE_TIMEOUT,
        PUBLISHED_ON_PROTOCOL_ERROR,
        QOS_1_HONOURED,
        QOS_2_HONOURED,
        QOS_DOWNGRADED,
        RETAIN_0_NOT_RETAINED,
        RETAIN_1_RETAINED,
        TOPIC_AND_PAYLOAD_EXACT,
        USER_PROPERTIES_IN_ORDER,
        CONTENT_TYPE_AND_FORMAT,
        RESPONSE_TOPIC_AND_CORRELATION,
        MESSAGE_EXPIRY_FORWARDED,
        DELAY_POSTPONES,
        DELAY_CANCELLED_BY_RECONNECT,
        SESSION_END_BEFORE_DELAY,
        SESSION_ENDS_AT_CLOSE,
        PUBLISHED_ON_TAKEOVER,
        DELAYED_NOT_PUBLISHED_ON_RESUMING_TAKEOVER,
        DELAYED_PUBLISHED_ON_CLEAN_TAKEOVER,
        QOS_3_MALFORMED,
        RETAIN_WITHOUT_FLAG_MALFORMED,
        QOS_WITHOUT_FLAG_MALFORMED,
        WILDCARD_TOPIC_REFUSED,
    ]
}

/// Connects a client called `name` and subscribes it to `filter` at `qos`.
pub(crate) async fn watcher(t: &Ctx, name: &str, filter: &str, qos: u8) -> Result<Client, Failure> {
    let mut c = t.client(name).connect().await?;
    c.subscribe(filter).qos(qos).await?;
    Ok(c)
}

/// After a taken-over connection: MQTT 5.0 DISCONNECT 0x8E, or the close (whether 0x8E is
/// sent is checked by `connect.takeover-closes-old-connection`).
async fn taken_over(t: &Ctx, old: &mut Client) -> Result<Ending, Failure> {
    expect_server_end(
        t,
        old,
        &[ReasonCode::SessionTakenOver],
        t.response_timeout(),
    )
    .await
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
    let start = tokio::time::Instant::now();
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

const PUBLISHED_ON_NETWORK_CLOSE: Case = Case {
    id: "will.published-on-network-close",
    title: "The Will is published when the client's connection closes without DISCONNECT",
    area: "Will",
    statements: &[S::V5_3_1_2_7, S::V5_3_1_2_8, S::V311_3_1_2_8],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["no-will"],
    unfaultable: None,
    run: published_on_network_close,
};

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

const NOT_PUBLISHED_AFTER_NORMAL_DISCONNECT: Case = Case {
    id: "will.not-published-after-normal-disconnect",
    title: "After a normal DISCONNECT the Will is discarded, not published",
    area: "Will",
    statements: &[
        S::V5_3_14_4_3,
        S::V5_3_1_2_10,
        S::V311_3_14_4_3,
        S::V311_3_1_2_10,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["will-on-normal-disconnect"],
    unfaultable: None,
    run: not_published_after_normal_disconnect,
};

fn not_published_after_normal_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "must not be published"))
            .connect()
            .await?;
        c.disconnect().await?;
        watch.expect_no_publish().for_(QUIET).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const DELETED_AFTER_NORMAL_DISCONNECT: Case = Case {
    id: "will.deleted-after-normal-disconnect",
    title: "A Will discarded by DISCONNECT 0x00 is not published later, when the session ends",
    area: "Will",
    statements: &[S::V5_3_1_2_10, S::V5_3_14_4_3],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["will-on-normal-disconnect"],
    unfaultable: None,
    run: deleted_after_normal_disconnect,
};

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
        c.disconnect().await?;
        // Past the end of the session (up to 2 s for a broker counting whole seconds).
        watch.expect_no_publish().for_(millis(2300)).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const PUBLISHED_AFTER_DISCONNECT_WITH_WILL: Case = Case {
    id: "will.published-after-disconnect-0x04",
    title: "DISCONNECT with reason 0x04 (Disconnect with Will Message) has the Will published",
    area: "Will",
    statements: &[S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["no-will", "disconnect-always-normal"],
    unfaultable: None,
    run: published_after_disconnect_with_will,
};

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

const PUBLISHED_AFTER_DISCONNECT_WITH_ERROR: Case = Case {
    id: "will.published-after-disconnect-with-error-reason",
    title: "DISCONNECT with an error reason (0x80) is not a normal disconnection: the Will is published",
    area: "Will",
    statements: &[S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["no-will", "disconnect-always-normal"],
    unfaultable: None,
    run: published_after_disconnect_with_error,
};

fn published_after_disconnect_with_error(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { disconnect_with_reason(t, ReasonCode::UnspecifiedError).await })
}

// ---------------------------------------------------------------------------------------

const PUBLISHED_ON_KEEP_ALIVE_TIMEOUT: Case = Case {
    id: "will.published-on-keep-alive-timeout",
    title: "A client the broker disconnects for a Keep Alive timeout has its Will published",
    area: "Will",
    statements: &[S::V5_3_1_2_8, S::V311_3_1_2_8],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["no-will", "no-keepalive-timeout"],
    unfaultable: None,
    run: published_on_keep_alive_timeout,
};

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
        let keep_alive = c
            .connack()
            .and_then(|a| a.properties.server_keep_alive)
            .unwrap_or(1);
        if keep_alive != 1 {
            return t.informational(format!(
                "the broker set Server Keep Alive {keep_alive} instead of 1 s: not waited for"
            ));
        }
        // How soon the close must come is `connect.keep-alive-enforced`'s business; here a
        // broker checking Keep Alive only every few seconds gets 3 s more.
        let limit = due(&t, millis(1500)) + secs(3);
        expect_server_end(&t, &mut c, &[ReasonCode::KeepAliveTimeout], limit).await?;
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

const PUBLISHED_ON_PROTOCOL_ERROR: Case = Case {
    id: "will.published-on-protocol-error",
    title: "When the broker closes a connection for a malformed packet, the Will is published",
    area: "Will",
    statements: &[
        S::V5_3_1_2_8,
        S::V5_4_13_1_1,
        S::V311_3_1_2_8,
        S::V311_4_8_0_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["no-will"],
    unfaultable: None,
    run: published_on_protocol_error,
};

fn published_on_protocol_error(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut c = t
            .client("c")
            .will(Will::new(&topic, "broke the protocol"))
            .connect()
            .await?;
        // PUBLISH with both QoS bits set (QoS 3) is malformed in both versions.
        let mut bad = RawPacket::new(0x36).string(&t.topic("q3")).u16(1);
        if t.is_v5() {
            bad = bad.properties(&[]);
        }
        c.send_raw(bad.bytes(b"x").build()).await?;
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

const QOS_1_HONOURED: Case = Case {
    id: "will.qos-1-honoured",
    title: "A Will QoS 1 reaches a QoS 1 subscriber at QoS 1",
    area: "Will",
    statements: &[
        S::V5_3_1_2_8,
        S::V5_3_8_4_8,
        S::V311_3_1_2_9,
        S::V311_3_8_4_6,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["will-at-qos-0"],
    unfaultable: None,
    run: qos_1_honoured,
};

fn qos_1_honoured(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { will_qos(t, 1, 1, 1).await })
}

/// A Will of QoS `will_qos` reaches a subscriber of QoS `sub_qos` at `expected`.
async fn will_qos(t: Ctx, will_qos: u8, sub_qos: u8, expected: u8) -> CaseResult {
    let topic = t.topic("will");
    let mut watch = watcher(&t, "watch", &topic, sub_qos).await?;
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

const QOS_2_HONOURED: Case = Case {
    id: "will.qos-2-honoured",
    title: "A Will QoS 2 reaches a QoS 2 subscriber at QoS 2",
    area: "Will",
    statements: &[
        S::V5_3_1_2_8,
        S::V5_3_8_4_8,
        S::V311_3_1_2_9,
        S::V311_3_8_4_6,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["will-at-qos-0"],
    unfaultable: None,
    run: qos_2_honoured,
};

fn qos_2_honoured(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { will_qos(t, 2, 2, 2).await })
}

// ---------------------------------------------------------------------------------------

const QOS_DOWNGRADED: Case = Case {
    id: "will.qos-downgraded-to-subscription",
    title: "A Will QoS 1 reaches a QoS 0 subscriber at QoS 0 (the lower of the two)",
    area: "Will",
    statements: &[S::V5_3_8_4_8, S::V311_3_8_4_6, S::V311_3_1_2_9],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["no-qos-downgrade"],
    unfaultable: None,
    run: qos_downgraded,
};

fn qos_downgraded(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { will_qos(t, 1, 0, 0).await })
}

// ---------------------------------------------------------------------------------------

const RETAIN_0_NOT_RETAINED: Case = Case {
    id: "will.retain-0-not-retained",
    title: "A Will with Will Retain 0 is published as a non-retained message",
    area: "Will",
    statements: &[S::V5_3_1_2_14, S::V311_3_1_2_16],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["will-retain-flipped"],
    unfaultable: None,
    run: retain_0_not_retained,
};

fn retain_0_not_retained(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "not retained"))
            .connect()
            .await?;
        c.drop_connection();
        watch
            .expect_publish()
            .topic(&topic)
            .retain(false)
            .payload("not retained")
            .await?;
        // Published: a new subscriber must not be given it as a retained message.
        let mut late = watcher(&t, "late", &topic, 0).await?;
        late.expect_no_publish().for_(QUIET).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const RETAIN_1_RETAINED: Case = Case {
    id: "will.retain-1-retained",
    title: "A Will with Will Retain 1 is published as a retained message: a later subscriber gets it with RETAIN 1",
    area: "Will",
    statements: &[S::V5_3_1_2_15, S::V311_3_1_2_17],
    protocols: Protocols::Both,
    requires: &[Capability::Retain],
    faults: &["will-retain-flipped", "no-retain-delivery"],
    unfaultable: None,
    run: retain_1_retained,
};

fn retain_1_retained(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "retained").retain())
            .connect()
            .await?;
        c.drop_connection();
        // The live copy: RETAIN is not checked (0 in 3.1.1; in 5.0 it depends on Retain As
        // Published).
        watch
            .expect_publish()
            .topic(&topic)
            .payload("retained")
            .await?;
        let mut late = watcher(&t, "late", &topic, 0).await?;
        late.expect_publish()
            .topic(&topic)
            .retain(true)
            .payload("retained")
            .await?;
        // Clear the retained message.
        watch.publish(&topic).retain().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const TOPIC_AND_PAYLOAD_EXACT: Case = Case {
    id: "will.topic-and-payload-exact",
    title: "The Will is published to the Will Topic with the Will Payload, byte for byte",
    area: "Will",
    statements: &[S::V5_3_1_2_8, S::V311_3_1_2_8],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["no-will"],
    unfaultable: None,
    run: topic_and_payload_exact,
};

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

const USER_PROPERTIES_IN_ORDER: Case = Case {
    id: "will.user-properties-in-order",
    title: "The Will's User Properties are published unchanged and in their order",
    area: "Will",
    statements: &[S::V5_3_1_3_10, S::V5_3_3_2_17, S::V5_3_3_2_18],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["reverse-user-properties", "drop-will-properties"],
    unfaultable: None,
    run: user_properties_in_order,
};

fn user_properties_in_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let sent = [
            ("mqttspec-b", "1"),
            ("mqttspec-a", "2"),
            ("mqttspec-b", "3"),
            ("mqttspec-c", ""),
        ];
        let mut properties = Properties::default();
        for (k, v) in sent {
            properties.user_properties.push((
                text(k, "User Property name")?,
                text(v, "User Property value")?,
            ));
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
            .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
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

const CONTENT_TYPE_AND_FORMAT: Case = Case {
    id: "will.content-type-and-payload-format-forwarded",
    title: "The Will's Content Type and Payload Format Indicator are published unchanged",
    area: "Will",
    statements: &[S::V5_3_3_2_4, S::V5_3_3_2_20, S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["drop-will-properties"],
    unfaultable: None,
    run: content_type_and_format,
};

fn content_type_and_format(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let content_type = "text/plain; charset=utf-8";
        let properties = Properties {
            content_type: Some(text(content_type, "Content Type")?),
            payload_format_indicator: Some(PayloadFormatIndicator::Utf8),
            ..Properties::default()
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

const RESPONSE_TOPIC_AND_CORRELATION: Case = Case {
    id: "will.response-topic-and-correlation-data-forwarded",
    title: "The Will's Response Topic and Correlation Data are published unchanged",
    area: "Will",
    statements: &[S::V5_3_3_2_15, S::V5_3_3_2_16, S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["drop-will-properties"],
    unfaultable: None,
    run: response_topic_and_correlation,
};

fn response_topic_and_correlation(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let reply_to = t.topic("reply");
        let correlation = Bytes::from_static(&[0x00, 0x01, 0xFE, 0xFF, b'c']);
        let response_topic = TopicName::new(reply_to.clone())
            .map_err(|e| Failure::error(format!("case error: Response Topic: {e}")))?;
        let properties = Properties {
            response_topic: Some(response_topic),
            correlation_data: Some(correlation.clone()),
            ..Properties::default()
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

const MESSAGE_EXPIRY_FORWARDED: Case = Case {
    id: "will.message-expiry-forwarded",
    title: "The Will's Message Expiry Interval is sent with it (at most the interval given)",
    area: "Will",
    statements: &[S::V5_3_3_2_6, S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["drop-will-properties"],
    unfaultable: None,
    run: message_expiry_forwarded,
};

fn message_expiry_forwarded(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let properties = Properties {
            message_expiry_interval: Some(120),
            ..Properties::default()
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

const DELAY_POSTPONES: Case = Case {
    id: "will.delay-postpones-publication",
    title: "A Will with Will Delay Interval 2 s is published after the delay, not at the close",
    area: "Will",
    statements: &[S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["ignore-will-delay", "no-will"],
    unfaultable: None,
    run: delay_postpones,
};

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
        // End the session.
        t.client("c")
            .clean_start(true)
            .connect()
            .await?
            .disconnect()
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const DELAY_CANCELLED_BY_RECONNECT: Case = Case {
    id: "will.delay-cancelled-by-reconnect",
    title: "A client reconnecting (resuming its session) within the Will Delay Interval has its Will not published",
    area: "Will",
    statements: &[S::V5_3_1_3_9, S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["will-on-resume", "ignore-will-delay"],
    unfaultable: None,
    run: delay_cancelled_by_reconnect,
};

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
        c.drop_connection();
        // Back at once (well within the delay), resuming the session without a Will.
        let back = t
            .client("c")
            .clean_start(false)
            .session_expiry(0)
            .connect()
            .await?;
        // Past the delay (up to 3 s for a broker counting whole seconds).
        watch.expect_no_publish().for_(millis(2300)).await?;
        back.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SESSION_END_BEFORE_DELAY: Case = Case {
    id: "will.published-at-session-end-before-delay",
    title: "A Will whose delay outlasts the session is published when the session expires",
    area: "Will",
    statements: &[S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["no-will-at-session-end", "ignore-will-delay"],
    unfaultable: None,
    run: session_end_before_delay,
};

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
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SESSION_ENDS_AT_CLOSE: Case = Case {
    id: "will.published-at-close-when-session-ends",
    title: "With Session Expiry Interval 0 the session ends at the close, so a delayed Will is published at once",
    area: "Will",
    statements: &[S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["no-will-at-session-end"],
    unfaultable: None,
    run: session_ends_at_close,
};

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

const PUBLISHED_ON_TAKEOVER: Case = Case {
    id: "will.published-on-takeover",
    title: "A connection taken over by a new one with the same Client Identifier has its Will published",
    area: "Will",
    statements: &[
        S::V5_3_1_4_3,
        S::V5_3_1_2_8,
        S::V311_3_1_4_2,
        S::V311_3_1_2_8,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["no-will"],
    unfaultable: None,
    run: published_on_takeover,
};

fn published_on_takeover(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut old = t
            .client("c")
            .will(Will::new(&topic, "taken over"))
            .connect()
            .await?;
        let new = t.client("c").clean_start(true).connect().await?;
        taken_over(&t, &mut old).await?;
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

const DELAYED_NOT_PUBLISHED_ON_RESUMING_TAKEOVER: Case = Case {
    id: "will.delayed-not-published-on-resuming-takeover",
    title: "A takeover with Clean Start 0 within the Will Delay Interval cancels the old connection's Will",
    area: "Will",
    statements: &[S::V5_3_1_3_9, S::V5_3_1_4_3],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["will-on-resume", "ignore-will-delay"],
    unfaultable: None,
    run: delayed_not_published_on_resuming_takeover,
};

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
        let new = t
            .client("c")
            .clean_start(false)
            .session_expiry(0)
            .connect()
            .await?;
        taken_over(&t, &mut old).await?;
        watch.expect_no_publish().for_(millis(2300)).await?;
        new.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const DELAYED_PUBLISHED_ON_CLEAN_TAKEOVER: Case = Case {
    id: "will.delayed-published-on-clean-takeover",
    title: "A takeover with Clean Start 1 ends the old session, so its delayed Will is published at once",
    area: "Will",
    statements: &[S::V5_3_1_2_8, S::V5_3_1_4_3, S::V5_3_1_4_4],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["no-will-at-session-end"],
    unfaultable: None,
    run: delayed_published_on_clean_takeover,
};

fn delayed_published_on_clean_takeover(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut old = t
            .client("c")
            .session_expiry(30)
            .will(Will::new(&topic, "session replaced").delay(LATE_DELAY))
            .connect()
            .await?;
        let new = t.client("c").clean_start(true).connect().await?;
        taken_over(&t, &mut old).await?;
        let outcome = will_due_at_session_end(&t, &mut watch, &topic, "session replaced").await;
        new.disconnect().await?;
        outcome
    })
}

// ---------------------------------------------------------------------------------------

/// A CONNECT built byte by byte with Connect Flags `flags` (Keep Alive 60, no properties);
/// with `will_topic` the Will fields follow (empty Will Properties in 5.0).
fn raw_connect(t: &Ctx, name: &str, flags: u8, will_topic: Option<&str>) -> Bytes {
    let mut p = RawPacket::new(0x10)
        .string("MQTT")
        .u8(t.protocol().level())
        .u8(flags)
        .u16(60);
    if t.is_v5() {
        p = p.properties(&[]);
    }
    p = p.string(&t.client_id(name));
    if let Some(topic) = will_topic {
        if t.is_v5() {
            p = p.properties(&[]);
        }
        p = p.string(topic).binary(b"will");
    }
    p.build()
}

/// Sends a malformed CONNECT and expects it refused: closed (3.1.1: without CONNACK,
/// MQTT-3.1.4-1), or in 5.0 also an error CONNACK first.
async fn connect_refused(t: Ctx, name: &str, bytes: Bytes, v311_connack_ok: bool) -> CaseResult {
    let mut c = t.client(name).open().await?;
    c.send_raw(bytes).await?;
    let accepted: &[Reply] = if t.is_v5() || v311_connack_ok {
        &[Reply::ConnAckError, Reply::Closed]
    } else {
        &[Reply::Closed]
    };
    c.expect_reply(accepted).await?;
    t.pass()
}

const QOS_3_MALFORMED: Case = Case {
    id: "will.qos-3-malformed",
    title: "A CONNECT with Will QoS 3 is malformed: the connection is closed",
    area: "Will",
    statements: &[
        S::V5_3_1_2_12,
        S::V5_3_1_4_1,
        S::V311_3_1_2_14,
        S::V311_3_1_4_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["connack-malformed-connect"],
    unfaultable: None,
    run: qos_3_malformed,
};

fn qos_3_malformed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // Clean Start, Will Flag, Will QoS bits 11.
        let topic = t.topic("will");
        let bytes = raw_connect(&t, "c", 0x02 | 0x04 | 0x18, Some(&topic));
        connect_refused(t, "c", bytes, false).await
    })
}

// ---------------------------------------------------------------------------------------

const RETAIN_WITHOUT_FLAG_MALFORMED: Case = Case {
    id: "will.retain-without-will-flag-malformed",
    title: "A CONNECT with Will Retain 1 but Will Flag 0 is malformed: the connection is closed",
    area: "Will",
    statements: &[
        S::V5_3_1_2_13,
        S::V5_3_1_4_1,
        S::V311_3_1_2_15,
        S::V311_3_1_2_11,
        S::V311_3_1_4_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["connack-malformed-connect"],
    unfaultable: None,
    run: retain_without_flag_malformed,
};

fn retain_without_flag_malformed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let bytes = raw_connect(&t, "c", 0x02 | 0x20, None);
        connect_refused(t, "c", bytes, false).await
    })
}

// ---------------------------------------------------------------------------------------

const QOS_WITHOUT_FLAG_MALFORMED: Case = Case {
    id: "will.qos-without-will-flag-malformed",
    title:
        "A CONNECT with a non-zero Will QoS but Will Flag 0 is malformed: the connection is closed",
    area: "Will",
    statements: &[
        S::V5_3_1_2_11,
        S::V5_3_1_4_1,
        S::V311_3_1_2_13,
        S::V311_3_1_2_11,
        S::V311_3_1_4_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["connack-malformed-connect"],
    unfaultable: None,
    run: qos_without_flag_malformed,
};

fn qos_without_flag_malformed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let bytes = raw_connect(&t, "c", 0x02 | 0x08, None);
        connect_refused(t, "c", bytes, false).await
    })
}

// ---------------------------------------------------------------------------------------

const WILDCARD_TOPIC_REFUSED: Case = Case {
    id: "will.topic-with-wildcard-refused",
    title: "A CONNECT whose Will Topic contains a wildcard is refused and the connection closed",
    area: "Will",
    statements: &[
        S::V5_4_7_0_1,
        S::V5_3_1_4_1,
        S::V311_4_7_1_1,
        S::V311_3_1_4_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["connack-malformed-connect"],
    unfaultable: None,
    run: wildcard_topic_refused,
};

fn wildcard_topic_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // A Topic Name never holds '+' or '#'. Whether a broker treats this as malformed
        // (close without CONNACK) or as a refused request (3.1.1 CONNACK with a non-zero
        // return code) is open, so both are accepted.
        for (i, wild) in ["+/w", "w/#"].iter().enumerate() {
            let topic = format!("{}{wild}", t.topic_prefix());
            let name = format!("c{i}");
            let bytes = raw_connect(&t, &name, 0x02 | 0x04, Some(&topic));
            connect_refused(t.clone(), &name, bytes, true).await?;
        }
        t.pass()
    })
}
