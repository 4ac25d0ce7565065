//! Sessions: Clean Start (5.0) / Clean Session (3.1.1), Session Present, what a resumed
//! session keeps (subscriptions, queued and unacknowledged messages), the Session Expiry
//! Interval (0, finite, 0xFFFFFFFF, changed at DISCONNECT), session takeover, and Session
//! Present on a refused connection.
//!
//! Every case that leaves a session behind ends it again with a Clean Start 1 connection, so
//! a broker under test does not collect sessions across runs.

use std::time::Duration;

use mqttspec_codec::{
    Disconnect, MqttString, Packet, Properties, ProtocolVersion, RawPacket, ReasonCode,
    StatementId as S,
};
use tokio::time::Instant;

use crate::client::Received;
use crate::scenario::{
    millis, BoxFuture, Capability, Case, CaseResult, Client, ClientBuilder, Ctx, Failure,
    Protocols, Reply,
};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        CLEAN_START_DISCARDS_SUBSCRIPTIONS,
        RESUME_KEEPS_SUBSCRIPTIONS,
        QUEUED_QOS1_DELIVERED_ON_RESUME,
        QUEUED_QOS2_DELIVERED_ON_RESUME,
        QUEUED_QOS0_OPTIONAL,
        UNACKNOWLEDGED_RESENT_ON_RESUME,
        CLEAN_SESSION_NOT_KEPT,
        EXPIRY_ZERO_ENDS_AT_DISCONNECT,
        EXPIRY_KEPT_WITHIN_INTERVAL,
        EXPIRY_ENDS_AFTER_INTERVAL,
        EXPIRY_NEVER,
        EXPIRY_CHANGED_ON_DISCONNECT,
        TAKEOVER_RESUMES_SESSION,
        TAKEOVER_WITH_CLEAN_START_DISCARDS,
        PRESENT_ZERO_ON_REFUSAL,
    ]
}

/// The Session Expiry Interval the persistent clients of these cases ask for (seconds).
const PERSISTENT_EXPIRY: u32 = 300;

/// A client that keeps its session: Clean Start 0 and, in 5.0, a Session Expiry Interval.
fn persistent(t: &Ctx, name: &str) -> ClientBuilder {
    t.client(name)
        .clean_start(false)
        .session_expiry(PERSISTENT_EXPIRY)
}

/// Session Present of the connection's CONNACK.
fn present(c: &Client) -> bool {
    c.connack().is_some_and(|a| a.session_present)
}

/// The Session Expiry Interval in force for a 5.0 connection that asked for `asked`: the
/// server may answer with another one in CONNACK.
fn granted_expiry(c: &Client, asked: u32) -> u32 {
    c.connack()
        .and_then(|a| a.properties.session_expiry_interval)
        .unwrap_or(asked)
}

/// Sends DISCONNECT and waits (up to a second) for the broker to close the connection, so
/// that it has handled the DISCONNECT before the case opens the next connection with the
/// same Client Identifier.
async fn leave(mut c: Client, d: Disconnect) -> Result<(), Failure> {
    c.send(&Packet::Disconnect(d)).await?;
    let deadline = Instant::now() + Duration::from_secs(1);
    while let Received::Packet(_) = c.recv_raw(deadline).await {}
    c.raw().close().await;
    Ok(())
}

/// Normal disconnection (reason 0x00, no properties).
async fn leave_normally(c: Client) -> Result<(), Failure> {
    leave(c, Disconnect::default()).await
}

/// Ends the session of `name` (Clean Start 1, Session Expiry Interval 0) and disconnects.
async fn end_session(t: &Ctx, name: &str) -> Result<(), Failure> {
    let c = t.client(name).clean_start(true).connect().await?;
    leave_normally(c).await
}

/// Checks Session Present of a resumed connection: 1 is required when the server kept the
/// session. `Ok(Some(..))` ends the case (the server granted no Session Expiry Interval).
fn expect_resumed(t: &Ctx, c: &Client) -> Result<Option<CaseResult>, Failure> {
    if t.is_v5() && granted_expiry(c, PERSISTENT_EXPIRY) == 0 {
        return Ok(Some(t.informational(
            "the broker set the Session Expiry Interval to 0 in CONNACK: no session is kept",
        )));
    }
    t.check(
        present(c),
        "CONNACK Session Present 1 when resuming the stored session",
        "Session Present 0: the session was not kept",
    )
    .map_err(|f| {
        f.statement(if t.is_v5() {
            S::V5_3_2_2_3
        } else {
            S::V311_3_2_2_2
        })
    })?;
    Ok(None)
}

/// Checks Session Present 0 of a connection that must have found no session.
fn expect_new_session(t: &Ctx, c: &Client, why: &str) -> Result<(), Failure> {
    t.check(
        !present(c),
        format!("CONNACK Session Present 0 ({why})"),
        "Session Present 1: an old session was resumed",
    )
}

// ---------------------------------------------------------------------------------------

const CLEAN_START_DISCARDS_SUBSCRIPTIONS: Case = Case {
    id: "session.clean-start-discards-subscriptions",
    title: "Clean Start / Clean Session 1 discards the stored session: its subscriptions no longer match",
    area: "Session",
    statements: &[
        S::V5_3_1_2_4,
        S::V5_3_2_2_2,
        S::V311_3_1_2_6,
        S::V311_3_2_2_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["keep-session-on-clean-start"],
    unfaultable: None,
    run: clean_start_discards_subscriptions,
};

fn clean_start_discards_subscriptions(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("s");
        let mut old = persistent(&t, "sub").connect().await?;
        old.subscribe(&topic).qos(1).await?;
        leave_normally(old).await?;

        let mut fresh = t.client("sub").clean_start(true).connect().await?;
        expect_new_session(&t, &fresh, "Clean Start 1")?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("after").await?;
        fresh.expect_no_publish().for_(millis(500)).await?;
        leave_normally(fresh).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const RESUME_KEEPS_SUBSCRIPTIONS: Case = Case {
    id: "session.resume-keeps-subscriptions",
    title: "Clean Start / Clean Session 0 resumes the stored session with its subscriptions",
    area: "Session",
    statements: &[
        S::V5_3_1_2_5,
        S::V5_3_1_2_23,
        S::V5_3_1_3_2,
        S::V311_3_1_2_4,
        S::V311_3_1_3_2,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["discard-session-on-disconnect"],
    unfaultable: None,
    run: resume_keeps_subscriptions,
};

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
        end_session(&t, "sub").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const QUEUED_QOS1_DELIVERED_ON_RESUME: Case = Case {
    id: "session.queued-qos1-delivered-on-resume",
    title: "A QoS 1 message published while the client was away is delivered when it resumes its session",
    area: "Session",
    statements: &[S::V5_3_1_2_5, S::V5_3_1_2_23, S::V311_3_1_2_5, S::V311_3_1_2_4],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["discard-session-on-disconnect"],
    unfaultable: None,
    run: queued_qos1,
};

fn queued_qos1(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(queued_delivered(t, 1))
}

const QUEUED_QOS2_DELIVERED_ON_RESUME: Case = Case {
    id: "session.queued-qos2-delivered-on-resume",
    title: "A QoS 2 message published while the client was away is delivered when it resumes its session",
    area: "Session",
    statements: &[S::V5_3_1_2_5, S::V5_3_1_2_23, S::V311_3_1_2_5, S::V311_3_1_2_4],
    protocols: Protocols::Both,
    requires: &[Capability::QoS2],
    faults: &["discard-session-on-disconnect"],
    unfaultable: None,
    run: queued_qos2,
};

fn queued_qos2(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(queued_delivered(t, 2))
}

/// A subscriber at `qos` goes away; a message of that QoS is published; on resuming it
/// arrives at that QoS.
async fn queued_delivered(t: Ctx, qos: u8) -> CaseResult {
    let topic = t.topic("q");
    let mut sub = persistent(&t, "sub").connect().await?;
    sub.subscribe(&topic).qos(qos).await?;
    leave_normally(sub).await?;

    let mut publisher = t.client("pub").connect().await?;
    publisher.publish(&topic).qos(qos).payload("queued").await?;

    let mut back = persistent(&t, "sub").connect().await?;
    if let Some(done) = expect_resumed(&t, &back)? {
        return done;
    }
    back.expect_publish()
        .topic(&topic)
        .qos(qos)
        .payload("queued")
        .await?;
    leave_normally(back).await?;
    end_session(&t, "sub").await?;
    t.pass()
}

// ---------------------------------------------------------------------------------------

const QUEUED_QOS0_OPTIONAL: Case = Case {
    id: "session.queued-qos0-optional",
    title: "QoS 0 messages for a disconnected session may be queued or dropped; a QoS 1 one after them is delivered",
    area: "Session",
    statements: &[S::V5_3_1_2_5, S::V5_3_1_2_23, S::V311_3_1_2_5],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["discard-session-on-disconnect"],
    unfaultable: None,
    run: queued_qos0_optional,
};

fn queued_qos0_optional(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q");
        let mut sub = persistent(&t, "sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
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
        let queued_qos0 = first.payload.as_ref() == b"qos0";
        if queued_qos0 {
            back.expect_publish()
                .topic(&topic)
                .qos(1)
                .payload("qos1")
                .await?;
        } else {
            t.check(
                first.payload.as_ref() == b"qos1" && first.qos.as_u8() == 1,
                "the QoS 1 message queued for the session",
                format!(
                    "PUBLISH qos={} payload={:?}",
                    first.qos.as_u8(),
                    first.payload
                ),
            )?;
        }
        leave_normally(back).await?;
        end_session(&t, "sub").await?;
        if queued_qos0 {
            t.informational("QoS 0 messages are queued for disconnected sessions")
        } else {
            t.informational("QoS 0 messages are not queued for disconnected sessions")
        }
    })
}

// ---------------------------------------------------------------------------------------

const UNACKNOWLEDGED_RESENT_ON_RESUME: Case = Case {
    id: "session.unacknowledged-qos1-resent-on-resume",
    title: "A QoS 1 message the client did not acknowledge is sent again, with DUP 1 and the same Packet Identifier, when it resumes",
    area: "Session",
    statements: &[
        S::V5_4_4_0_1,
        S::V5_3_3_1_1,
        S::V311_4_4_0_1,
        S::V311_3_3_1_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["no-redelivery", "discard-session-on-disconnect"],
    unfaultable: None,
    run: unacknowledged_resent_on_resume,
};

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
            first.packet_id,
            again.packet_id,
        )?;
        leave_normally(back).await?;
        end_session(&t, "sub").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const CLEAN_SESSION_NOT_KEPT: Case = Case {
    id: "session.clean-session-not-kept-after-disconnect",
    title: "3.1.1: a Clean Session 1 session ends with its connection; a later Clean Session 0 connection finds nothing",
    area: "Session",
    statements: &[S::V311_3_1_2_6, S::V311_3_2_2_3],
    protocols: Protocols::V311,
    requires: &[Capability::QoS1],
    faults: &["keep-session-at-expiry-zero"],
    unfaultable: None,
    run: clean_session_not_kept,
};

fn clean_session_not_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("c");
        let mut clean = t.client("sub").clean_start(true).connect().await?;
        clean.subscribe(&topic).qos(1).await?;
        leave_normally(clean).await?;

        let mut later = t.client("sub").clean_start(false).connect().await?;
        expect_new_session(
            &t,
            &later,
            "the Clean Session 1 session ended with its connection",
        )?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        later.expect_no_publish().for_(millis(500)).await?;
        leave_normally(later).await?;
        end_session(&t, "sub").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const EXPIRY_ZERO_ENDS_AT_DISCONNECT: Case = Case {
    id: "session.expiry-zero-ends-at-disconnect",
    title: "5.0: without a Session Expiry Interval (0) the session ends when the connection closes, even with Clean Start 0",
    area: "Session",
    statements: &[S::V5_4_1_0_2, S::V5_3_2_2_3],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["keep-session-at-expiry-zero"],
    unfaultable: None,
    run: expiry_zero_ends_at_disconnect,
};

fn expiry_zero_ends_at_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("z");
        // Clean Start 0 and no Session Expiry Interval property: the default 0 applies.
        let mut first = t.client("sub").clean_start(false).connect().await?;
        if granted_expiry(&first, 0) != 0 {
            return t.informational(
                "the broker set a non-zero Session Expiry Interval in CONNACK for a client that asked for 0",
            );
        }
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;

        let mut later = t.client("sub").clean_start(false).connect().await?;
        expect_new_session(
            &t,
            &later,
            "the session of interval 0 ended at disconnection",
        )?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        later.expect_no_publish().for_(millis(500)).await?;
        leave_normally(later).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const EXPIRY_KEPT_WITHIN_INTERVAL: Case = Case {
    id: "session.expiry-kept-within-interval",
    title: "5.0: a session with a finite Session Expiry Interval is resumed when the client returns within it",
    area: "Session",
    statements: &[S::V5_3_1_2_23, S::V5_3_1_2_5, S::V5_3_2_2_3],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["discard-session-on-disconnect"],
    unfaultable: None,
    run: expiry_kept_within_interval,
};

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
            return t.informational(format!(
                "the broker granted a Session Expiry Interval of {granted} s instead of {INTERVAL} s"
            ));
        }
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;

        // Back at once, well within the interval (Session Expiry Interval 0 from now on).
        let mut back = t.client("sub").clean_start(false).connect().await?;
        t.check(
            present(&back),
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

const EXPIRY_ENDS_AFTER_INTERVAL: Case = Case {
    id: "session.expiry-ends-after-interval",
    title: "5.0: a session whose Session Expiry Interval (1 s) has passed is discarded",
    area: "Session",
    statements: &[S::V5_4_1_0_2, S::V5_3_2_2_3],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["no-session-expiry"],
    unfaultable: None,
    run: expiry_ends_after_interval,
};

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
            return t.informational(format!(
                "the broker granted a Session Expiry Interval of {granted} s instead of 1 s"
            ));
        }
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;
        // The interval plus a margin for brokers that expire sessions on a one-second tick.
        t.wait(millis(2500)).await;

        let mut later = t.client("sub").clean_start(false).connect().await?;
        expect_new_session(&t, &later, "the 1 s Session Expiry Interval had passed")
            .map_err(|f| f.statement(S::V5_4_1_0_2))?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        later.expect_no_publish().for_(millis(500)).await?;
        leave_normally(later).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const EXPIRY_NEVER: Case = Case {
    id: "session.expiry-never",
    title: "5.0: a session with Session Expiry Interval 0xFFFFFFFF is still there later",
    area: "Session",
    statements: &[S::V5_3_1_2_23, S::V5_3_1_2_5, S::V5_3_2_2_3],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["discard-session-on-disconnect"],
    unfaultable: None,
    run: expiry_never,
};

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
            return t.informational(format!(
                "the broker granted a Session Expiry Interval of {granted} s instead of 0xFFFFFFFF"
            ));
        }
        first.subscribe(&topic).qos(1).await?;
        leave_normally(first).await?;
        // Longer than the finite intervals of the other cases.
        t.wait(millis(1500)).await;

        // Interval 0 from now on: the session ends with this connection.
        let mut back = t.client("sub").clean_start(false).connect().await?;
        t.check(
            present(&back),
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

const EXPIRY_CHANGED_ON_DISCONNECT: Case = Case {
    id: "session.expiry-changed-on-disconnect",
    title: "5.0: a DISCONNECT setting the Session Expiry Interval to 0 ends a session that would have been kept",
    area: "Session",
    statements: &[S::V5_4_1_0_2, S::V5_3_2_2_3],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["ignore-disconnect-session-expiry"],
    unfaultable: None,
    run: expiry_changed_on_disconnect,
};

fn expiry_changed_on_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("d");
        let mut first = persistent(&t, "sub").connect().await?;
        if granted_expiry(&first, PERSISTENT_EXPIRY) == 0 {
            return t.informational("the broker set the Session Expiry Interval to 0 in CONNACK");
        }
        first.subscribe(&topic).qos(1).await?;
        let mut bye = Disconnect::new(ReasonCode::Success);
        bye.properties.session_expiry_interval = Some(0);
        leave(first, bye).await?;

        let mut later = persistent(&t, "sub").connect().await?;
        expect_new_session(
            &t,
            &later,
            "DISCONNECT set the Session Expiry Interval to 0",
        )?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        later.expect_no_publish().for_(millis(500)).await?;
        leave_normally(later).await?;
        end_session(&t, "sub").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const TAKEOVER_RESUMES_SESSION: Case = Case {
    id: "session.takeover-resumes-session",
    title: "A second connection with the same Client Identifier (Clean Start 0) closes the first and continues its session",
    area: "Session",
    statements: &[
        S::V5_3_1_4_3,
        S::V5_3_1_2_5,
        S::V5_3_2_2_3,
        S::V311_3_1_4_2,
        S::V311_3_1_2_4,
        S::V311_3_2_2_2,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["no-takeover", "no-session-present"],
    unfaultable: None,
    run: takeover_resumes_session,
};

fn takeover_resumes_session(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut old = persistent(&t, "first").connect().await?;
        old.subscribe(&topic).qos(1).await?;
        let id = old.client_id().to_owned();
        let mut new = persistent(&t, "second").client_id(&id).connect().await?;
        // DISCONNECT 0x8E itself is checked by connect.takeover-closes-old-connection.
        old.expect_reply(&[
            Reply::Disconnect(ReasonCode::SessionTakenOver),
            Reply::Closed,
        ])
        .await?;
        if let Some(done) = expect_resumed(&t, &new)? {
            return done;
        }
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("moved").await?;
        new.expect_publish().topic(&topic).payload("moved").await?;
        leave_normally(new).await?;
        end_session(&t, "first").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const TAKEOVER_WITH_CLEAN_START_DISCARDS: Case = Case {
    id: "session.takeover-with-clean-start-discards",
    title: "A second connection with the same Client Identifier and Clean Start 1 closes the first and starts a new session",
    area: "Session",
    statements: &[
        S::V5_3_1_4_3,
        S::V5_3_1_2_4,
        S::V5_3_2_2_2,
        S::V311_3_1_4_2,
        S::V311_3_1_2_6,
        S::V311_3_2_2_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["keep-session-on-clean-start", "no-takeover"],
    unfaultable: None,
    run: takeover_with_clean_start_discards,
};

fn takeover_with_clean_start_discards(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut old = persistent(&t, "first").connect().await?;
        old.subscribe(&topic).qos(1).await?;
        let id = old.client_id().to_owned();
        let mut new = t
            .client("second")
            .client_id(&id)
            .clean_start(true)
            .connect()
            .await?;
        old.expect_reply(&[
            Reply::Disconnect(ReasonCode::SessionTakenOver),
            Reply::Closed,
        ])
        .await?;
        expect_new_session(&t, &new, "Clean Start 1")?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        new.expect_no_publish().for_(millis(500)).await?;
        leave_normally(new).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const PRESENT_ZERO_ON_REFUSAL: Case = Case {
    id: "session.present-zero-on-refused-connect",
    title: "A CONNACK refusing a connection has Session Present 0, even when a session exists for the Client Identifier",
    area: "CONNACK",
    statements: &[S::V5_3_2_2_6, S::V311_3_2_2_4],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["session-present-on-refusal"],
    unfaultable: None,
    run: present_zero_on_refusal,
};

fn present_zero_on_refusal(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let first = persistent(&t, "c").connect().await?;
        let id = first.client_id().to_owned();
        leave_normally(first).await?;

        // A CONNECT every broker refuses, for the same Client Identifier with Clean Start 0:
        // 5.0 an Authentication Method nobody offers; 3.1.1 Protocol Level 3 under the name
        // "MQTT".
        let mut c = t.client("refused").open().await?;
        let bytes = if t.is_v5() {
            let mut properties = Properties {
                session_expiry_interval: Some(PERSISTENT_EXPIRY),
                ..Properties::default()
            };
            properties.authentication_method = Some(
                MqttString::new("mqttspec-no-such-method", "Authentication Method")
                    .map_err(|e| Failure::error(format!("case error: {e}")))?,
            );
            let mut connect = t
                .client("refused")
                .client_id(&id)
                .clean_start(false)
                .connect_packet()?;
            connect.properties = properties;
            Packet::Connect(Box::new(connect))
                .encode(ProtocolVersion::V5)
                .map_err(|e| Failure::error(format!("case error: {e}")))?
        } else {
            RawPacket::new(0x10)
                .string("MQTT")
                .u8(3)
                .u8(0x00)
                .u16(60)
                .string(&id)
                .build()
        };
        c.send_raw(bytes).await?;
        // The strict decoder refuses an error CONNACK with Session Present 1 (FAIL with the
        // statement); a close without CONNACK shows nothing.
        let reply = c
            .expect_reply(&[
                Reply::ConnAckError,
                Reply::Closed,
                Reply::ConnAck(ReasonCode::Success),
            ])
            .await?;
        end_session(&t, "c").await?;
        match reply {
            Reply::Closed => t.informational(
                "the broker refused by closing without CONNACK: Session Present not observable",
            ),
            Reply::ConnAck(ReasonCode::Success) => t.informational(
                "the broker accepted the CONNECT meant to be refused: Session Present on a refusal not observable",
            ),
            _ => t.pass(),
        }
    })
}
