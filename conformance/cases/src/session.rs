//! Sessions: Clean Start (5.0) / Clean Session (3.1.1), Session Present, what a resumed
//! session keeps (subscriptions, queued and unacknowledged messages), the Session Expiry
//! Interval (0, finite, 0xFFFFFFFF, changed at DISCONNECT), session takeover, and Session
//! Present on a refused connection.
//!
//! Every case that leaves a session behind ends it again with a Clean Start 1 connection, so
//! a broker under test does not collect sessions across runs.
//!
//! A case that checks that a session was *not* kept (Session Present 0, an old subscription
//! no longer matching) has a control: another Client Identifier whose session must be kept
//! at the same time is resumed (Session Present 1), and the message the checked client must
//! not get reaches it through its kept subscription ([`keep_subscribed`], [`resume_kept`]).

use mqttspec_codec::{Disconnect, Packet, ProtocolVersion, ReasonCode, StatementId as S};

use super::support::{
    end_session, expect_no_session, expect_taken_over, granted_one, keep_subscribed, leave,
    leave_normally, nothing_unlike_the_control, of_run, persistent, resume_kept, session_present,
    statement, text, RawConnect, PERSISTENT_EXPIRY, QUIET,
};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{
    millis, BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Reply,
};

/// The Session Expiry Interval in force for a 5.0 connection that asked for `asked`: the
/// server may answer with another one in CONNACK.
fn granted_expiry(c: &Client, asked: u32) -> u32 {
    c.connack()
        .and_then(|a| a.properties.session_expiry_interval)
        .unwrap_or(asked)
}

/// INCONCLUSIVE: the broker chose another Session Expiry Interval than the case needs (which
/// it may, announcing it in CONNACK), so the behaviour cannot be tested.
fn interval_not_granted(t: &Ctx, what: String) -> CaseResult {
    t.inconclusive(Precondition::Other, what)
}

/// Checks Session Present of a resumed connection: 1 is required when the server kept the
/// session. `Ok(Some(..))` ends the case (the server granted no Session Expiry Interval).
fn expect_resumed(t: &Ctx, c: &Client) -> Result<Option<CaseResult>, Failure> {
    if t.is_v5() && granted_expiry(c, PERSISTENT_EXPIRY) == 0 {
        return Ok(Some(interval_not_granted(
            t,
            "the broker set the Session Expiry Interval to 0 in CONNACK: no session is kept"
                .to_owned(),
        )));
    }
    t.check(
        session_present(c),
        "CONNACK Session Present 1 when resuming the stored session",
        "Session Present 0: the session was not kept",
    )
    .map_err(|f| f.statement(statement(t, S::V5_3_2_2_3, S::V311_3_2_2_2)))?;
    Ok(None)
}

// ---------------------------------------------------------------------------------------

case! {
    /// Clean Start / Clean Session 1 discards the stored session: its subscriptions no longer match
    CLEAN_START_DISCARDS_SUBSCRIPTIONS = "session.clean-start-discards-subscriptions",
    checks: [V5_3_1_2_4, V5_3_2_2_2, V5_3_1_4_4],
    requires: [QoS1],
    faults: [KeepSessionOnCleanStart],
    tags: [Session, Live, FromBroker],
    run: clean_start_discards_subscriptions,
}

fn clean_start_discards_subscriptions(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("s");
        let mut old = persistent(&t, "sub").connect().await?;
        old.subscribe(&topic).qos(1).await?;
        leave_normally(old).await?;
        keep_subscribed(&t, "keep", &topic).await?;

        let mut fresh = t.client("sub").clean_start(true).connect().await?;
        expect_no_session(&t, &fresh, "Clean Start 1")?;
        let mut keep = resume_kept(&t, "keep").await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("after").await?;
        fresh.expect_no_publish().for_(QUIET).await?;
        keep.expect_publish()
            .topic(&topic)
            .payload("after")
            .as_control()
            .await?;
        leave_normally(fresh).await?;
        leave_normally(keep).await?;
        end_session(&t, "keep").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Clean Start / Clean Session 0 resumes the stored session with its subscriptions
    RESUME_KEEPS_SUBSCRIPTIONS = "session.resume-keeps-subscriptions",
    checks: [V5_3_1_2_5, V5_3_1_2_23, V5_3_1_3_2],
    requires: [QoS1],
    faults: [DiscardSessionOnDisconnect],
    tags: [Session, Live, FromBroker],
    run: resume_keeps_subscriptions,
}

fn resume_keeps_subscriptions(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("s");
        let mut first = persistent(&t, "sub").connect().await?;
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;

        let mut again = persistent(&t, "sub").connect().await?;
        if let Some(done) = expect_resumed(&t, &again)? {
            return done;
        }
        // No new SUBSCRIBE: the old subscription must still match.
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("still").await?;
        again
            .expect_publish()
            .topic(&topic)
            .payload("still")
            .await?;
        leave_normally(again).await?;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Clean Start / Clean Session 0 with a Client Identifier the broker has no session for creates a new session (Session Present 0) that is then kept
    NEW_SESSION_WITHOUT_CLEAN_START = "session.clean-start-0-without-session-creates-one",
    checks: [V5_3_1_2_6, V5_3_2_2_3],
    requires: [QoS1],
    faults: [NoNewSessionOnResume],
    tags: [Session, Live, FromBroker],
    run: new_session_without_clean_start,
}

fn new_session_without_clean_start(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("n");
        // A Client Identifier of this run only: the broker cannot have a session for it.
        let mut first = persistent(&t, "sub").connect().await?;
        t.check(
            !session_present(&first),
            "CONNACK Session Present 0: no session existed for this Client Identifier",
            "Session Present 1 for a Client Identifier never used before",
        )
        .map_err(|f| f.statement(statement(&t, S::V5_3_2_2_3, S::V311_3_2_2_3)))?;
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;

        // The session created by that connection outlives it: it is found again.
        let mut again = persistent(&t, "sub").connect().await?;
        if t.is_v5() && granted_expiry(&again, PERSISTENT_EXPIRY) == 0 {
            return interval_not_granted(
                &t,
                "the broker set the Session Expiry Interval to 0 in CONNACK: no session is kept"
                    .to_owned(),
            );
        }
        t.check(
            session_present(&again),
            "CONNACK Session Present 1: the session created by the first Clean Start 0 \
             connection was kept",
            "Session Present 0: the first connection got no session that outlives it",
        )
        .map_err(|f| f.statement(of_run!(&t, V5_3_1_2_6)))?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("kept").await?;
        again
            .expect_publish()
            .topic(&topic)
            .payload("kept")
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_3_1_2_6)))?;
        leave_normally(again).await?;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: the session is kept while its connection is open, even past its Session Expiry Interval: a subscription still delivers
    STATE_KEPT_WHILE_CONNECTED = "session.state-kept-while-connected",
    checks: [V5_4_1_0_1],
    only: V5,
    requires: [QoS1],
    faults: [ExpiryCountedFromConnect],
    tags: [Session, Live, FromBroker],
    run: state_kept_while_connected,
}

/// The Session Expiry Interval (1 s) counts only once the connection has closed; after
/// twice that time on an open connection the subscription made at the start must still
/// deliver.
fn state_kept_while_connected(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("k");
        let mut c = t.client("sub").session_expiry(1).connect().await?;
        if granted_expiry(&c, 1) != 1 {
            return interval_not_granted(
                &t,
                "the broker chose another Session Expiry Interval than 1 s in CONNACK".to_owned(),
            );
        }
        c.subscribe(&topic).qos(1).await?;
        for _ in 0..4 {
            tokio::time::sleep(millis(500)).await;
            c.alive().await?;
        }
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("still").await?;
        c.expect_publish()
            .topic(&topic)
            .payload("still")
            .await
            .map_err(|f| f.statement(S::V5_4_1_0_1))?;
        c.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A session that ends with its connection (Clean Session 1; 5.0: Session Expiry Interval 0) lasts as long as that connection: after two idle seconds its subscription still delivers
    STATE_KEPT_FOR_THE_CONNECTION = "session.state-kept-for-the-connection",
    checks: [V5_4_1_0_1, V311_4_1_0_1, V311_4_1_0_2],
    requires: [QoS1],
    faults: [DiscardSessionWhileConnected],
    tags: [Session, Live, FromBroker],
    run: state_kept_for_the_connection,
}

/// No interval keeps this session beyond its connection, so only the connection does: a
/// subscription made at the start, on a connection kept open for over two seconds (PINGREQ
/// every half second), must still deliver at the end.
fn state_kept_for_the_connection(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("k");
        let mut c = t
            .client("sub")
            .clean_start(true)
            .session_expiry(0)
            .connect()
            .await?;
        c.subscribe(&topic).qos(1).await?;
        for _ in 0..5 {
            tokio::time::sleep(millis(500)).await;
            c.alive().await?;
        }
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("still").await?;
        c.expect_publish()
            .topic(&topic)
            .payload("still")
            .await
            .map_err(|f| f.statement(statement(&t, S::V5_4_1_0_1, S::V311_4_1_0_2)))?;
        c.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 1 message published while the client was away is delivered when it resumes its session
    QUEUED_QOS1_DELIVERED_ON_RESUME = "session.queued-qos1-delivered-on-resume",
    checks: [V5_3_1_2_5, V5_3_1_2_23, V311_3_1_2_5, V311_3_1_2_4, V5_3_8_4_8, V311_3_8_4_6],
    requires: [QoS1],
    faults: [DiscardSessionOnDisconnect],
    tags: [Session, Queued, FromBroker],
    run: queued_qos1,
}

fn queued_qos1(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(queued_delivered(t, 1))
}

case! {
    /// A QoS 2 message published while the client was away is delivered when it resumes its session
    QUEUED_QOS2_DELIVERED_ON_RESUME = "session.queued-qos2-delivered-on-resume",
    checks: [V5_3_1_2_5, V5_3_1_2_23, V311_3_1_2_5, V311_3_1_2_4, V5_3_8_4_8, V311_3_8_4_6],
    requires: [QoS2],
    faults: [DiscardSessionOnDisconnect],
    tags: [Session, Queued, FromBroker],
    run: queued_qos2,
}

fn queued_qos2(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(queued_delivered(t, 2))
}

/// A subscriber at `qos` goes away; a message of that QoS is published; on resuming it
/// arrives at that QoS.
async fn queued_delivered(t: Ctx, qos: u8) -> CaseResult {
    let topic = t.topic("q");
    let mut sub = persistent(&t, "sub").connect().await?;
    let codes = sub.subscribe(&topic).qos(qos).await?;
    // A server may grant less than asked: delivery is at the lower of the two.
    let delivered = qos.min(granted_one(&codes)?);
    leave_normally(sub).await?;

    let mut publisher = t.client("pub").connect().await?;
    publisher.publish(&topic).qos(qos).payload("queued").await?;

    let mut back = persistent(&t, "sub").connect().await?;
    if let Some(done) = expect_resumed(&t, &back)? {
        return done;
    }
    back.expect_publish()
        .topic(&topic)
        .qos(delivered)
        .payload("queued")
        .await?;
    leave_normally(back).await?;
    end_session(&t, "sub").await;
    t.pass()
}

// ---------------------------------------------------------------------------------------

case! {
    /// QoS 0 messages for a disconnected session may be queued or dropped; a QoS 1 one after them is delivered
    QUEUED_QOS0_OPTIONAL = "session.queued-qos0-optional",
    checks: [V5_3_1_2_5, V5_3_1_2_23, V311_3_1_2_5, V5_3_8_4_8, V311_3_8_4_6],
    requires: [QoS1],
    faults: [DiscardSessionOnDisconnect],
    tags: [Session, Queued, FromBroker],
    run: queued_qos0_optional,
}

fn queued_qos0_optional(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q");
        let mut sub = persistent(&t, "sub").connect().await?;
        let codes = sub.subscribe(&topic).qos(1).await?;
        // QoS 0 granted would make the QoS 1 message a QoS 0 one, which may be dropped.
        t.require(granted_one(&codes)? == 1, Precondition::Granted, || {
            "the subscription granted QoS 1".to_owned()
        })?;
        leave_normally(sub).await?;

        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(0).payload("qos0").await?;
        publisher.publish(&topic).qos(1).payload("qos1").await?;

        let mut back = persistent(&t, "sub").connect().await?;
        if let Some(done) = expect_resumed(&t, &back)? {
            return done;
        }
        // QoS 1 must arrive; the QoS 0 one may come first (queued) or not at all.
        let first = back.expect_publish().topic(&topic).await?;
        let mut queued_qos0 = first.payload.as_ref() == b"qos0";
        if queued_qos0 {
            back.expect_publish()
                .topic(&topic)
                .qos(1)
                .payload("qos1")
                .await?;
        } else {
            t.check(
                first.payload.as_ref() == b"qos1" && first.qos().as_u8() == 1,
                "the QoS 1 message queued for the session",
                format!(
                    "PUBLISH qos={} payload={:?}",
                    first.qos().as_u8(),
                    first.payload
                ),
            )?;
            // The QoS 0 message may still follow (the order of messages of different QoS
            // is not fixed); if it does not, that is an absence, whose positive control is
            // the QoS 1 message that came through the same queue to the same subscriber.
            match back.recv(QUIET).await {
                Received::Packet(Packet::Publish(p)) if p.payload.as_ref() == b"qos0" => {
                    queued_qos0 = true;
                }
                Received::Timeout => {
                    t.absence_seen();
                    t.control_seen();
                }
                other => {
                    return t.inconclusive(
                        Precondition::Other,
                        format!(
                            "after the QoS 1 message, expected the QoS 0 one or nothing; got {}",
                            other.describe(back.protocol())
                        ),
                    );
                }
            }
        }
        leave_normally(back).await?;
        end_session(&t, "sub").await;
        if queued_qos0 {
            t.informational("QoS 0 messages are queued for disconnected sessions")
        } else {
            t.informational("QoS 0 messages are not queued for disconnected sessions")
        }
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 1 message the client did not acknowledge is sent again, with DUP 1 and the same Packet Identifier, when it resumes
    UNACKNOWLEDGED_RESENT_ON_RESUME = "session.unacknowledged-qos1-resent-on-resume",
    checks: [V5_4_4_0_1, V5_3_3_1_1, V5_3_1_2_23, V5_3_2_2_3],
    requires: [QoS1],
    faults: [NoRedelivery, DiscardSessionOnDisconnect],
    tags: [Session, Queued, FromBroker],
    run: unacknowledged_resent_on_resume,
}

fn unacknowledged_resent_on_resume(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("u");
        let mut sub = persistent(&t, "sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("unacked").await?;
        let first = sub
            .expect_publish()
            .topic(&topic)
            .qos(1)
            .no_auto_ack()
            .as_setup(Precondition::Delivery)
            .await?;
        // Gone without PUBACK (and without DISCONNECT).
        sub.drop_connection();

        let mut back = persistent(&t, "sub").connect().await?;
        if let Some(done) = expect_resumed(&t, &back)? {
            return done;
        }
        let again = back
            .expect_publish()
            .topic(&topic)
            .qos(1)
            .dup(true)
            .payload("unacked")
            .await?;
        t.check_eq(
            "Packet Identifier of the resent PUBLISH",
            first.packet_id(),
            again.packet_id(),
        )?;
        leave_normally(back).await?;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 3.1.1: a Clean Session 1 session ends with its connection; a later Clean Session 0 connection finds nothing
    CLEAN_SESSION_NOT_KEPT = "session.clean-session-not-kept-after-disconnect",
    checks: [V311_3_1_2_6, V311_3_2_2_3, V311_3_1_4_3],
    only: V311,
    requires: [QoS1],
    faults: [KeepSessionAtExpiryZero],
    tags: [Session, Live, FromBroker],
    run: clean_session_not_kept,
}

fn clean_session_not_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("c");
        let mut clean = t.client("sub").clean_start(true).connect().await?;
        clean.subscribe(&topic).qos(1).await?;
        leave_normally(clean).await?;
        keep_subscribed(&t, "keep", &topic).await?;

        let later = t.client("sub").clean_start(false).connect().await?;
        expect_no_session(
            &t,
            &later,
            "the Clean Session 1 session ended with its connection",
        )?;
        nothing_unlike_the_control(&t, later, "keep", &topic).await?;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: without a Session Expiry Interval (0) the session ends when the connection closes, even with Clean Start 0
    EXPIRY_ZERO_ENDS_AT_DISCONNECT = "session.expiry-zero-ends-at-disconnect",
    checks: [V5_4_1_0_2, V5_3_2_2_3],
    only: V5,
    requires: [QoS1],
    faults: [KeepSessionAtExpiryZero],
    tags: [Session, Live, FromBroker],
    run: expiry_zero_ends_at_disconnect,
}

fn expiry_zero_ends_at_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("z");
        // Clean Start 0 and no Session Expiry Interval property: the default 0 applies.
        let mut first = t.client("sub").clean_start(false).connect().await?;
        if granted_expiry(&first, 0) != 0 {
            return interval_not_granted(
                &t,
                "the broker set a non-zero Session Expiry Interval in CONNACK for a client that asked for 0".to_owned(),
            );
        }
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;
        keep_subscribed(&t, "keep", &topic).await?;

        let later = t.client("sub").clean_start(false).connect().await?;
        expect_no_session(
            &t,
            &later,
            "the session of interval 0 ended at disconnection",
        )?;
        nothing_unlike_the_control(&t, later, "keep", &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a session with a finite Session Expiry Interval is resumed when the client returns within it
    EXPIRY_KEPT_WITHIN_INTERVAL = "session.expiry-kept-within-interval",
    checks: [V5_3_1_2_23, V5_3_1_2_5, V5_3_2_2_3],
    only: V5,
    requires: [QoS1],
    faults: [DiscardSessionOnDisconnect],
    tags: [Session, Live, FromBroker],
    run: expiry_kept_within_interval,
}

fn expiry_kept_within_interval(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        const INTERVAL: u32 = 5;
        let topic = t.topic("k");
        let mut first = t
            .client("sub")
            .clean_start(false)
            .session_expiry(INTERVAL)
            .connect()
            .await?;
        let granted = granted_expiry(&first, INTERVAL);
        if granted < 2 {
            return interval_not_granted(
                &t,
                format!(
                    "the broker granted a Session Expiry Interval of {granted} s instead of {INTERVAL} s"
                ),
            );
        }
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;

        // Back at once, well within the interval (Session Expiry Interval 0 from now on).
        let mut back = t.client("sub").clean_start(false).connect().await?;
        t.check(
            session_present(&back),
            format!("Session Present 1 when returning within the {granted} s interval"),
            "Session Present 0: the session was not kept",
        )?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("kept").await?;
        back.expect_publish().topic(&topic).payload("kept").await?;
        leave_normally(back).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a session begun with Clean Start 1 and a Session Expiry Interval outlives its connection like any other: the interval, not Clean Start, decides
    CLEAN_START_SESSION_KEPT = "session.clean-start-1-session-kept-for-its-expiry",
    checks: [V5_3_1_2_23, V5_3_1_2_5, V5_3_2_2_3],
    only: V5,
    requires: [QoS1],
    faults: [CleanStartSessionNotKept, DiscardSessionOnDisconnect],
    tags: [Session, Live, FromBroker],
    run: clean_start_session_kept,
}

fn clean_start_session_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("k");
        // Clean Start 1: a new session, which is to outlive the connection.
        let mut first = t
            .client("sub")
            .session_expiry(PERSISTENT_EXPIRY)
            .connect()
            .await?;
        let granted = granted_expiry(&first, PERSISTENT_EXPIRY);
        if granted < 2 {
            return interval_not_granted(
                &t,
                format!(
                    "the broker granted a Session Expiry Interval of {granted} s instead of {PERSISTENT_EXPIRY} s"
                ),
            );
        }
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;
        // Back at once with Clean Start 0 (and the same interval).
        let mut back = persistent(&t, "sub").connect().await?;
        t.check(
            session_present(&back),
            format!(
                "Session Present 1: the session begun with Clean Start 1 kept for its {granted} s interval"
            ),
            "Session Present 0: the session ended with its connection",
        )?;
        // Its subscription came back with it.
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("kept").await?;
        back.expect_publish().topic(&topic).payload("kept").await?;
        leave_normally(back).await?;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a session whose Session Expiry Interval (1 s) has passed is discarded
    EXPIRY_ENDS_AFTER_INTERVAL = "session.expiry-ends-after-interval",
    checks: [V5_4_1_0_2, V5_3_2_2_3],
    only: V5,
    requires: [QoS1],
    faults: [NoSessionExpiry],
    tags: [Session, Live, FromBroker],
    run: expiry_ends_after_interval,
}

fn expiry_ends_after_interval(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("e");
        let mut first = t
            .client("sub")
            .clean_start(false)
            .session_expiry(1)
            .connect()
            .await?;
        let granted = granted_expiry(&first, 1);
        if granted != 1 {
            return interval_not_granted(
                &t,
                format!(
                    "the broker granted a Session Expiry Interval of {granted} s instead of 1 s"
                ),
            );
        }
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;
        // The control session leaves at the same time, with a long interval.
        keep_subscribed(&t, "keep", &topic).await?;
        // The interval plus a margin for brokers that expire sessions on a one-second tick.
        t.wait(millis(2500)).await;

        let later = t.client("sub").clean_start(false).connect().await?;
        expect_no_session(&t, &later, "the 1 s Session Expiry Interval had passed")
            .map_err(|f| f.statement(S::V5_4_1_0_2))?;
        nothing_unlike_the_control(&t, later, "keep", &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a session with Session Expiry Interval 0xFFFFFFFF is still there later
    EXPIRY_NEVER = "session.expiry-never",
    checks: [V5_3_1_2_23, V5_3_1_2_5, V5_3_2_2_3],
    only: V5,
    requires: [QoS1],
    faults: [DiscardSessionOnDisconnect],
    tags: [Session, Live, FromBroker],
    run: expiry_never,
}

fn expiry_never(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("n");
        let mut first = t
            .client("sub")
            .clean_start(false)
            .session_expiry(u32::MAX)
            .connect()
            .await?;
        let granted = granted_expiry(&first, u32::MAX);
        if granted < 3 {
            return interval_not_granted(
                &t,
                format!(
                    "the broker granted a Session Expiry Interval of {granted} s instead of 0xFFFFFFFF"
                ),
            );
        }
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;
        // Longer than the finite intervals of the other cases.
        t.wait(millis(1500)).await;

        // Interval 0 from now on: the session ends with this connection.
        let mut back = t.client("sub").clean_start(false).connect().await?;
        t.check(
            session_present(&back),
            "Session Present 1: a session that never expires is still there",
            "Session Present 0",
        )?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("kept").await?;
        back.expect_publish().topic(&topic).payload("kept").await?;
        leave_normally(back).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a DISCONNECT setting the Session Expiry Interval to 0 ends a session that would have been kept
    EXPIRY_CHANGED_ON_DISCONNECT = "session.expiry-changed-on-disconnect",
    checks: [V5_4_1_0_2, V5_3_2_2_3],
    only: V5,
    requires: [QoS1],
    faults: [IgnoreDisconnectSessionExpiry],
    tags: [Session, Live, ToBroker],
    run: expiry_changed_on_disconnect,
}

fn expiry_changed_on_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("d");
        let mut first = persistent(&t, "sub").connect().await?;
        if granted_expiry(&first, PERSISTENT_EXPIRY) == 0 {
            return interval_not_granted(
                &t,
                "the broker set the Session Expiry Interval to 0 in CONNACK".to_owned(),
            );
        }
        first.subscribe(&topic).qos(1).await?;
        let mut bye = Disconnect::new(ReasonCode::Success);
        bye.properties.session_expiry_interval = Some(0);
        leave(first, bye).await?;
        // The control: the same session left with a plain DISCONNECT.
        keep_subscribed(&t, "keep", &topic).await?;

        let later = persistent(&t, "sub").connect().await?;
        expect_no_session(
            &t,
            &later,
            "DISCONNECT set the Session Expiry Interval to 0",
        )?;
        nothing_unlike_the_control(&t, later, "keep", &topic).await?;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A second connection with the same Client Identifier (Clean Start 0) closes the first and continues its session
    TAKEOVER_RESUMES_SESSION = "session.takeover-resumes-session",
    checks: [V5_3_1_4_3, V5_3_1_2_5, V5_3_2_2_3, V311_3_1_4_2, V311_3_1_2_4, V311_3_2_2_2],
    requires: [QoS1],
    faults: [NoTakeover, NoSessionPresent],
    tags: [Session, ClientId, Live, FromBroker],
    run: takeover_resumes_session,
}

fn takeover_resumes_session(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut old = persistent(&t, "first").connect().await?;
        old.subscribe(&topic).qos(1).await?;
        let id = old.client_id().to_owned();
        let mut new = persistent(&t, "second").client_id(&id).connect().await?;
        expect_taken_over(&t, &mut old, &mut new).await?;
        if let Some(done) = expect_resumed(&t, &new)? {
            return done;
        }
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("moved").await?;
        new.expect_publish().topic(&topic).payload("moved").await?;
        leave_normally(new).await?;
        end_session(&t, "first").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A second connection with the same Client Identifier and Clean Start 1 closes the first and starts a new session
    TAKEOVER_WITH_CLEAN_START_DISCARDS = "session.takeover-with-clean-start-discards",
    checks: [V5_3_1_4_3, V5_3_1_2_4, V5_3_2_2_2],
    requires: [QoS1],
    faults: [KeepSessionOnCleanStart, NoTakeover],
    tags: [Session, ClientId, Live, FromBroker],
    run: takeover_with_clean_start_discards,
}

fn takeover_with_clean_start_discards(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut old = persistent(&t, "first").connect().await?;
        old.subscribe(&topic).qos(1).await?;
        // The control: the same takeover with Clean Start 0 keeps the session.
        let mut keep_old = persistent(&t, "keep").connect().await?;
        keep_old.subscribe(&topic).qos(1).await?;
        let id = old.client_id().to_owned();
        let mut new = t
            .client("second")
            .client_id(&id)
            .clean_start(true)
            .connect()
            .await?;
        expect_taken_over(&t, &mut old, &mut new).await?;
        expect_no_session(&t, &new, "Clean Start 1")?;
        let mut keep = resume_kept(&t, "keep").await?;
        drop(keep_old);
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        new.expect_no_publish().for_(QUIET).await?;
        keep.expect_publish()
            .topic(&topic)
            .payload("x")
            .as_control()
            .await?;
        leave_normally(new).await?;
        leave_normally(keep).await?;
        end_session(&t, "keep").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A CONNACK refusing a connection has Session Present 0, even when a session exists for the Client Identifier
    PRESENT_ZERO_ON_REFUSAL = "session.present-zero-on-refused-connect",
    checks: [V5_3_2_2_6],
    faults: [SessionPresentOnRefusal],
    tags: [Session, ToBroker],
    run: present_zero_on_refusal,
}

/// The CONNECT of [`present_zero_on_refusal`] for Client Identifier `id` with Clean Start 0,
/// refused (`refused`) or its well-formed twin: 5.0 with or without an Authentication
/// Method nobody offers; 3.1.1 with Protocol Level 3 or 4 under the name "MQTT" (User Name
/// and Password from the profile in both).
fn refusal_connect(t: &Ctx, id: &str, refused: bool) -> Result<bytes::Bytes, Failure> {
    if t.is_v5() {
        let mut connect = t
            .client("refused")
            .client_id(id)
            .clean_start(false)
            .session_expiry(PERSISTENT_EXPIRY)
            .connect_packet()?;
        if refused {
            connect.properties.authentication_method =
                Some(text("mqttspec-no-such-method", "Authentication Method")?);
        }
        return Packet::Connect(Box::new(connect))
            .encode(ProtocolVersion::V5)
            .map_err(|e| Failure::error(format!("case error: {e}")));
    }
    Ok(RawConnect::new(t, id, 0x00)
        .level(if refused { 3 } else { 4 })
        .credentials(t)
        .build())
}

fn present_zero_on_refusal(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let first = persistent(&t, "c").connect().await?;
        let id = first.client_id().to_owned();
        leave_normally(first).await?;

        // The twin: the same CONNECT, well formed, is accepted, and finds the session.
        let mut twin = t.client("refused").open().await?;
        twin.send_raw(refusal_connect(&t, &id, false)?).await?;
        twin.expect_reply(&[Reply::ConnAck(ReasonCode::Success)])
            .as_twin()
            .await?;
        t.require(session_present(&twin), Precondition::Other, || {
            "a session for the Client Identifier (Session Present 1 on the well-formed twin)"
                .to_owned()
        })?;
        twin.alive().as_twin().await?;
        leave_normally(twin).await?;

        // A CONNECT every broker refuses, for the same Client Identifier with Clean Start 0:
        // 5.0 an Authentication Method nobody offers; 3.1.1 Protocol Level 3 under the name
        // "MQTT".
        let mut c = t.client("refused").open().await?;
        c.send_raw(refusal_connect(&t, &id, true)?).await?;
        // The strict decoder refuses an error CONNACK with Session Present 1 (FAIL with the
        // statement); a close without CONNACK shows nothing.
        let reply = c
            .expect_reply(&[
                Reply::ConnAckError,
                Reply::Closed,
                Reply::ConnAck(ReasonCode::Success),
            ])
            .await?;
        end_session(&t, "c").await;
        match reply {
            Reply::Closed => t.inconclusive(
                Precondition::Other,
                "the broker refused by closing without CONNACK: no Session Present to check",
            ),
            Reply::ConnAck(ReasonCode::Success) => t.inconclusive(
                Precondition::Other,
                "the broker accepted the CONNECT meant to be refused: no refusal to check",
            ),
            _ => t.pass(),
        }
    })
}
