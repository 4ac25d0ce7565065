//! Sessions across connections: clients whose session outlives the connection, resuming
//! and ending sessions, taking a connection over, and the control of a check that a session
//! was *not* kept (another session, kept on the same broker at the same time, is found).

use std::time::Duration;

use mqttspec_codec::{Disconnect, Packet, ReasonCode};
use tokio::time::Instant;

use super::{expect_server_end, QUIET};
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{Client, ClientBuilder, Ctx, Failure, Precondition};

/// The Session Expiry Interval (seconds) of the clients whose session must outlive the
/// connection ([`persistent`]).
pub(crate) const PERSISTENT_EXPIRY: u32 = 60;

/// A client that keeps its session: Clean Start 0 and, in 5.0, Session Expiry Interval
/// [`PERSISTENT_EXPIRY`] (Clean Session 0 in 3.1.1).
pub(crate) fn persistent(t: &Ctx, name: &str) -> ClientBuilder {
    t.client(name)
        .clean_start(false)
        .session_expiry(PERSISTENT_EXPIRY)
}

/// Session Present of the connection's CONNACK.
pub(crate) fn session_present(c: &Client) -> bool {
    c.connack().is_some_and(|a| a.session_present)
}

/// A setup step: reconnects `name` to its session ([`persistent`]), which the broker must
/// have kept (CONNACK Session Present 1); otherwise INCONCLUSIVE
/// (`connack.session-present-one-on-resume` checks that behaviour itself).
pub(crate) async fn resume(t: &Ctx, name: &str) -> Result<Client, Failure> {
    let c = persistent(t, name).connect().await?;
    t.require(session_present(&c), Precondition::Other, || {
        "the session was not resumed: CONNACK Session Present 1 expected, got Session Present 0"
            .to_owned()
    })?;
    Ok(c)
}

/// Ends the session of `name` (a Clean Start 1 connection, then DISCONNECT). Cleanup once
/// the verdict is earned: whatever goes wrong is ignored.
pub(crate) async fn end_session(t: &Ctx, name: &str) {
    if let Ok(c) = t.client(name).clean_start(true).connect().await {
        let _ = c.disconnect().await;
    }
}

/// Sends DISCONNECT and waits (up to a second) for the broker to close the connection, so
/// that it has handled the DISCONNECT before the case opens the next connection with the
/// same Client Identifier.
pub(crate) async fn leave(mut c: Client, d: Disconnect) -> Result<(), Failure> {
    c.send(&Packet::Disconnect(d)).await?;
    let deadline = Instant::now() + Duration::from_secs(1);
    while let Received::Packet(_) = c.recv_raw(deadline).await {}
    c.raw().close().await;
    Ok(())
}

/// [`leave`] with a normal disconnection (reason 0x00, no properties).
pub(crate) async fn leave_normally(c: Client) -> Result<(), Failure> {
    leave(c, Disconnect::default()).await
}

/// After a takeover: the old connection gets DISCONNECT 0x8E or is closed, with nothing
/// after the DISCONNECT (a check of MQTT-3.1.4-3 / 3.1.1 MQTT-3.1.4-2 resting on a close;
/// whether 0x8E is sent is checked by `connect.takeover-closes-old-connection`), and its twin:
/// the new connection with the same Client Identifier was accepted and stays open (a PINGREQ
/// on it answered).
pub(crate) async fn expect_taken_over(
    t: &Ctx,
    old: &mut Client,
    new: &mut Client,
) -> Result<(), Failure> {
    expect_server_end(
        t,
        old,
        &[ReasonCode::SessionTakenOver],
        t.response_timeout(),
    )
    .await?;
    new.alive().as_twin().await
}

/// Checks Session Present 0 of a connection that must have found no session (`why`): an
/// absence (of the old session), whose control is a kept session ([`resume_kept`] or
/// [`kept_session_control`]).
pub(crate) fn expect_no_session(t: &Ctx, c: &Client, why: &str) -> Result<(), Failure> {
    t.check(
        !session_present(c),
        format!("CONNACK Session Present 0 ({why})"),
        "Session Present 1: an old session was resumed",
    )?;
    t.absence_seen();
    Ok(())
}

/// The first half of the control of a "session not kept" check: client `name` subscribes
/// to `topic` at QoS 1 in a session that must be kept ([`persistent`]) and leaves normally.
pub(crate) async fn keep_subscribed(t: &Ctx, name: &str, topic: &str) -> Result<(), Failure> {
    let mut c = persistent(t, name).connect().await?;
    c.subscribe(topic).qos(1).await?;
    leave_normally(c).await
}

/// The second half: `name` comes back with Clean Start 0 and must find its session
/// (Session Present 1), else INCONCLUSIVE. The message the case publishes must then reach it
/// through the kept subscription (`expect_publish()...as_control()`); end its session after.
pub(crate) async fn resume_kept(t: &Ctx, name: &str) -> Result<Client, Failure> {
    let c = persistent(t, name).connect().await?;
    t.require(session_present(&c), Precondition::Control, || {
        "Session Present 1 for the control session, kept with Clean Start 0 (and a Session Expiry Interval)"
            .to_owned()
    })?;
    Ok(c)
}

/// The end of a "session not kept" check with a message: `later` (the client back with Clean
/// Start 0, found without its old session) must get nothing when a message is published to
/// `topic`, while the control `control` (subscribed to `topic` with [`keep_subscribed`], resumed
/// here with [`resume_kept`]) must get it. Both then leave; the control's session is ended.
pub(crate) async fn nothing_unlike_the_control(
    t: &Ctx,
    mut later: Client,
    control: &str,
    topic: &str,
) -> Result<(), Failure> {
    let mut keep = resume_kept(t, control).await?;
    let mut publisher = t.client("pub").connect().await?;
    publisher.publish(topic).qos(1).payload("x").await?;
    later.expect_no_publish().for_(QUIET).await?;
    keep.expect_publish()
        .topic(topic)
        .payload("x")
        .as_control()
        .await?;
    leave_normally(later).await?;
    leave_normally(keep).await?;
    end_session(t, control).await;
    Ok(())
}

/// The positive control of a check that a session was not kept, without a message: client
/// `name` connects with Clean Start 1 and Session Expiry Interval 60, leaves with a plain
/// DISCONNECT 0x00, and on reconnecting with Clean Start 0 finds its session (Session
/// Present 1); INCONCLUSIVE otherwise. That connection has Session Expiry Interval 0, so the
/// session ends with it.
pub(crate) async fn kept_session_control(t: &Ctx, name: &str) -> Result<(), Failure> {
    let first = t
        .client(name)
        .clean_start(true)
        .session_expiry(60)
        .connect()
        .await?;
    first.disconnect().await?;
    let again = t
        .client(name)
        .clean_start(false)
        .session_expiry(0)
        .connect()
        .await?;
    t.require(session_present(&again), Precondition::Control, || {
        "Session Present 1 for a control session kept with Session Expiry Interval 60".to_owned()
    })?;
    t.control_seen();
    again.disconnect().await
}
