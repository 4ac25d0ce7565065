//! Session State on reconnection: unacknowledged messages resent with DUP 1 and their
//! original Packet Identifier when the session is resumed, nothing resent after Clean Start.

use std::time::Duration;

use mqttspec_codec::{ConnAckProperties, Packet, QoS, ReasonCode, StatementId as S};
use mqttspec_harness::verdict::{Outcome, Precondition};
use serde_json::json;

use super::{expect_publish, pick};
use crate::broker::{Received, ServerConn};
use crate::case::{CaseFuture, ClientCase, Ctx, Role, Session};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[
    ClientCase {
        id: "session.unacknowledged-publish-resent-with-dup",
        title: "after reconnecting with Clean Start 0 to a resumed session, the unacknowledged QoS 1 PUBLISH is resent with DUP 1 and its original Packet Identifier",
        checks: &[S::V5_4_4_0_1, S::V5_3_3_1_1, S::V311_4_4_0_1, S::V311_3_3_1_1],
        faults: &[Fault::ResendWithoutDup, Fault::NoResend],
        run: resend,
    },
    ClientCase {
        id: "session.clean-start-discards-unacknowledged",
        title: "after reconnecting with Clean Start 1, the QoS 1 message left unacknowledged on the old connection is not resent",
        checks: &[S::V5_3_1_2_4, S::V311_3_1_2_6],
        faults: &[Fault::KeepSessionOnCleanStart],
        run: clean_start,
    },
    ClientCase {
        id: "session.session-present-0-discards-unacknowledged",
        title: "after reconnecting with Clean Start 0 to a server that answers Session Present 0, the message left unacknowledged is not resent",
        checks: &[S::V5_3_2_2_5],
        faults: &[Fault::IgnoreSessionPresent0],
        run: session_present_0,
    },
    ClientCase {
        id: "session.error-puback-not-resent",
        title: "a QoS 1 message the server answered with PUBACK 0x87 (Not authorized) counts as acknowledged: it is not resent on the resumed session",
        checks: &[S::V5_4_4_0_2],
        faults: &[Fault::ResendAfterErrorAck],
        run: error_ack_not_resent,
    },
];

/// Connects with Clean Start 0 (and a Session Expiry for 5.0), publishes one QoS 1 message,
/// takes the PUBLISH without acknowledging it and drops the connection. Returns the PUBLISH.
async fn leave_unacknowledged(s: &mut Session) -> Result<mqttspec_codec::Publish, Outcome> {
    let within = s.ctx.timing.response;
    let (mut conn, _) = s
        .open(
            json!({"clean_start": false, "session_expiry": 300}),
            ConnAckProperties::default(),
        )
        .await?;
    s.command(json!({"cmd": "publish", "topic": "mqttspec/s", "payload": "kept", "qos": 1}))
        .await;
    let p = expect_publish(
        &mut conn,
        within,
        Role::Setup(Precondition::Publish),
        "the QoS 1 PUBLISH",
    )
    .await?;
    if p.qos() != QoS::AtLeastOnce {
        return Err(Outcome::inconclusive(
            Precondition::Publish,
            format!("the message went out with QoS {}", p.qos().as_u8()),
        ));
    }
    conn.close().await;
    s.expect_event("disconnected", Role::Setup(Precondition::Connection))
        .await?;
    Ok(p)
}

async fn reconnect(
    s: &mut Session,
    clean_start: bool,
    session_present: bool,
) -> Result<ServerConn, Outcome> {
    let (mut conn, _) = s
        .connect(json!({"clean_start": clean_start, "session_expiry": 300}))
        .await?;
    conn.connack(
        session_present,
        ReasonCode::Success,
        ConnAckProperties::default(),
    )
    .await;
    Ok(conn)
}

fn resend(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let first = leave_unacknowledged(&mut s).await?;
        let mut conn = reconnect(&mut s, false, true).await?;
        let resend_s = pick(&conn, S::V5_4_4_0_1, S::V311_4_4_0_1);
        let dup_s = pick(&conn, S::V5_3_3_1_1, S::V311_3_3_1_1);
        let again = match conn.recv_skipping_pings(t.timing.response).await {
            Received::Packet(Packet::Publish(p)) => p,
            other => {
                return Err(Outcome::fail(
                    "the unacknowledged PUBLISH resent after the session was resumed",
                    other.describe(conn.version()),
                )
                .statement(resend_s))
            }
        };
        if again.packet_id() != first.packet_id() || again.payload != first.payload {
            return Err(Outcome::fail(
                format!(
                    "the PUBLISH resent with its original Packet Identifier {:?}",
                    first.packet_id().map(|i| i.get())
                ),
                format!(
                    "Packet Identifier {:?}, payload {:?}",
                    again.packet_id().map(|i| i.get()),
                    String::from_utf8_lossy(&again.payload)
                ),
            )
            .statement(resend_s));
        }
        if !again.dup {
            return Err(Outcome::fail("DUP 1 on the resent PUBLISH", "DUP 0").statement(dup_s));
        }
        if let Some(id) = again.packet_id() {
            conn.send(&Packet::PubAck(mqttspec_codec::PubAck::new(id)))
                .await;
        }
        t.pass()
    })
}

fn clean_start(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let st = if t.version.is_v5() {
            S::V5_3_1_2_4
        } else {
            S::V311_3_1_2_6
        };
        not_resent(t, true, st).await
    })
}

fn session_present_0(t: Ctx) -> CaseFuture {
    Box::pin(async move { not_resent(t, false, S::V5_3_2_2_5).await })
}

fn error_ack_not_resent(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let within = t.timing.response;
        let (mut conn, _) = s
            .open(
                json!({"clean_start": false, "session_expiry": 300}),
                Default::default(),
            )
            .await?;
        s.command(json!({"cmd": "publish", "topic": "mqttspec/s", "payload": "refused", "qos": 1}))
            .await;
        let p = expect_publish(
            &mut conn,
            within,
            Role::Setup(Precondition::Publish),
            "the QoS 1 PUBLISH",
        )
        .await?;
        let Some(id) = p.packet_id().filter(|_| p.qos() == QoS::AtLeastOnce) else {
            return Err(Outcome::inconclusive(
                Precondition::Publish,
                format!("the message went out with QoS {}", p.qos().as_u8()),
            ));
        };
        conn.send(&Packet::PubAck(mqttspec_codec::PubAck {
            reason_code: ReasonCode::NotAuthorized,
            ..mqttspec_codec::PubAck::new(id)
        }))
        .await;
        // Give the library the PUBACK before the connection goes (it may or may not tell the
        // application about the refusal).
        let _ = s
            .adapter
            .wait_for_any(&["published", "error"], Duration::from_millis(500))
            .await;
        conn.close().await;
        s.expect_event("disconnected", Role::Setup(Precondition::Connection))
            .await?;
        let mut conn = reconnect(&mut s, false, true).await?;
        // The positive control: a new message on the resumed session arrives.
        s.command(json!({"cmd": "publish", "topic": "mqttspec/s", "payload": "new", "qos": 1}))
            .await;
        let fail = |when: &str| {
            Outcome::fail(
                "the PUBLISH answered with PUBACK 0x87 not sent again",
                format!("it was resent {when}"),
            )
            .statement(S::V5_4_4_0_2)
        };
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match conn.recv_skipping_pings(left).await {
                Received::Packet(Packet::Publish(p)) if &p.payload[..] == b"refused" => {
                    return Err(fail("on the resumed session"))
                }
                Received::Packet(Packet::Publish(p)) if &p.payload[..] == b"new" => {
                    if let Some(id) = p.packet_id() {
                        conn.send(&Packet::PubAck(mqttspec_codec::PubAck::new(id)))
                            .await;
                    }
                    break;
                }
                Received::Packet(_) => {}
                other => {
                    return Err(Outcome::inconclusive(
                        Precondition::Control,
                        format!(
                            "the new message did not arrive: {}",
                            other.describe(conn.version())
                        ),
                    ))
                }
            }
        }
        if let Received::Packet(Packet::Publish(p)) =
            conn.recv_skipping_pings(Duration::from_millis(300)).await
        {
            if &p.payload[..] == b"refused" {
                return Err(fail("after the new message"));
            }
        }
        t.pass()
    })
}

/// Leaves a message unacknowledged, reconnects with `clean_start` and Session Present 0, and
/// checks that the old message does not come again (a new one does: the control).
async fn not_resent(t: Ctx, clean_start: bool, st: S) -> Result<Outcome, Outcome> {
    {
        let mut s = t.start().await?;
        leave_unacknowledged(&mut s).await?;
        let mut conn = reconnect(&mut s, clean_start, false).await?;
        // No wait for the application's `connack`: a library that resends does so at once,
        // possibly before it tells the application. The positive control: a new message on the new session arrives.
        s.command(json!({"cmd": "publish", "topic": "mqttspec/s", "payload": "new", "qos": 1}))
            .await;
        let deadline = tokio::time::Instant::now() + t.timing.response;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match conn.recv_skipping_pings(left).await {
                Received::Packet(Packet::Publish(p)) if &p.payload[..] == b"kept" => {
                    return Err(Outcome::fail(
                        "the message of the discarded session not sent again",
                        format!("it was resent (DUP {})", u8::from(p.dup)),
                    )
                    .statement(st))
                }
                Received::Packet(Packet::Publish(p)) if &p.payload[..] == b"new" => break,
                Received::Packet(_) => {}
                other => {
                    return Err(Outcome::inconclusive(
                        Precondition::Control,
                        format!(
                            "the new message did not arrive: {}",
                            other.describe(conn.version())
                        ),
                    ))
                }
            }
        }
        // Anything resent after the new message is a resend too.
        if let Received::Packet(Packet::Publish(p)) =
            conn.recv_skipping_pings(Duration::from_millis(300)).await
        {
            if &p.payload[..] == b"kept" {
                return Err(Outcome::fail(
                    "the message of the discarded session not sent again",
                    "it was resent after the new message",
                )
                .statement(st));
            }
        }
        t.pass()
    }
}
