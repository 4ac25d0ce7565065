//! DISCONNECT: what the broker does with the client's DISCONNECT (closing, discarding the
//! Will, the Session Expiry Interval it may carry), malformed DISCONNECT packets, and what a
//! broker's own DISCONNECT must look like (a reason code a server may send, no Session
//! Expiry Interval, nothing after it but the close).
//!
//! A case that checks that a Will is not published has a control Will published to the same
//! watcher ([`no_will`]); one that checks that a session was not kept sees a session kept
//! on the same broker ([`kept_session_control`]); one whose verdict rests on the broker
//! closing the connection sees it keep the connection open for well-formed packets first.

use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    Disconnect, DisconnectProperties, Packet, RawPacket, ReasonCode, StatementId as S,
};
use tokio::time::Instant;

use super::support::{
    end_session, expect_no_session, expect_server_end, kept_session_control, no_will, raw_publish,
    session_present, text, watcher, Ending, CONTROL_WILL, WILL_QUIET,
};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{secs, BoxFuture, CaseResult, Ctx, Precondition, Will};

// ---------------------------------------------------------------------------------------

case! {
    /// After a client's DISCONNECT the broker closes the connection and discards the Will
    SERVER_CLOSES_AFTER_DISCONNECT = "disconnect.server-closes-after-client-disconnect",
    checks: [V5_3_14_4_3, V5_3_1_2_10],
    faults: [WillOnNormalDisconnect],
    tags: [Will, ToBroker],
    run: server_closes_after_disconnect,
}

fn server_closes_after_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut c = t
            .client("c")
            .will(Will::new(&topic, "must not be published"))
            .connect()
            .await?;
        let control = t
            .client("control")
            .will(Will::new(&topic, CONTROL_WILL))
            .connect()
            .await?;
        // The twin of the close: without DISCONNECT the connection stays open.
        c.alive().as_twin().await?;
        // Send DISCONNECT but leave the TCP connection open: closing it is up to the broker.
        c.send(&Packet::Disconnect(Disconnect::default())).await?;
        let deadline = Instant::now() + t.response_timeout();
        // A packet sent after the client's DISCONNECT breaks no cited MUST: it is recorded,
        // and the close is still waited for.
        let mut answer = None;
        let closed = loop {
            match c.raw().recv_until(deadline).await {
                Received::Closed => {
                    t.checked();
                    t.refusal_seen();
                    break true;
                }
                Received::Timeout => break false,
                Received::Packet(p) if answer.is_none() => {
                    answer = Some(Received::Packet(p).describe(t.protocol()));
                }
                other => return Err(c.unmet("the connection closed", other)),
            }
        };
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
        if !closed {
            // Closing on receipt of DISCONNECT is a SHOULD in both versions (3.14.4).
            return t.non_strict(
                "the broker closes the connection after the client's DISCONNECT",
                format!(
                    "still open {} ms after DISCONNECT",
                    t.response_timeout().as_millis()
                ),
            );
        }
        if let Some(answer) = answer {
            return t.informational(format!(
                "the Will was discarded and the connection closed, but the broker answered the DISCONNECT with {answer} first"
            ));
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A DISCONNECT with non-zero reserved flags closes the connection as a malformed packet and the Will is published
    RESERVED_FLAGS = "disconnect.reserved-flags-malformed",
    checks: [V5_3_14_1_1, V5_2_1_3_1, V5_4_13_1_1, V5_3_1_2_8, V311_3_14_1_1, V311_3_1_2_8],
    faults: [LenientDisconnect],
    tags: [Will, ToBroker],
    run: reserved_flags,
}

fn reserved_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { malformed_disconnect(t, RawPacket::new(0xE2).build()).await })
}

/// Sends `bytes` (a malformed DISCONNECT) from a client with a Will: the broker must close
/// the connection (5.0: DISCONNECT 0x81 first is a SHOULD) and, as no valid DISCONNECT was
/// received, publish the Will. The twin: the connection stays open for well-formed packets.
async fn malformed_disconnect(t: Ctx, bytes: Bytes) -> CaseResult {
    let topic = t.topic("will");
    let mut watch = watcher(&t, "watch", &topic, 0).await?;
    let mut c = t
        .client("c")
        .will(Will::new(&topic, "malformed disconnect"))
        .connect()
        .await?;
    c.alive().as_twin().await?;
    c.send_raw(bytes).await?;
    let ending = expect_server_end(
        &t,
        &mut c,
        &[ReasonCode::MalformedPacket, ReasonCode::ProtocolError],
        t.response_timeout(),
    )
    .await?;
    watch
        .expect_publish()
        .topic(&topic)
        .payload("malformed disconnect")
        .await?;
    if t.is_v5() && ending == Ending::Closed {
        return t.non_strict(
            "DISCONNECT 0x81 (Malformed Packet) before the close",
            "the connection closed without DISCONNECT",
        );
    }
    t.pass()
}

// ---------------------------------------------------------------------------------------

case! {
    /// A DISCONNECT with a reason code outside the Disconnect table closes the connection and the Will is published
    INVALID_REASON_CODE = "disconnect.invalid-reason-code-malformed",
    checks: [V5_3_14_2_1, V5_4_13_1_1, V5_3_1_2_8],
    only: V5,
    faults: [LenientDisconnect],
    tags: [Will, ToBroker],
    run: invalid_reason_code,
}

fn invalid_reason_code(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // 0x03 is not a Disconnect Reason Code.
        let bytes = RawPacket::new(0xE0).u8(0x03).properties(&[]).build();
        malformed_disconnect(t, bytes).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// DISCONNECT with Remaining Length 0 or 1 (reason 0x00) is a normal disconnection: the Will is discarded
    SHORT_FORMS_ARE_NORMAL = "disconnect.short-forms-are-normal",
    checks: [V5_3_14_4_3, V5_3_1_2_10],
    only: V5,
    faults: [WillOnNormalDisconnect],
    tags: [Will, ToBroker],
    run: short_forms_are_normal,
}

fn short_forms_are_normal(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let control = t
            .client("control")
            .will(Will::new(&topic, CONTROL_WILL))
            .connect()
            .await?;
        // No reason code at all, then the reason code without a property length.
        let forms: [&[u8]; 2] = [&[0xE0, 0x00], &[0xE0, 0x01, 0x00]];
        // A packet sent in answer breaks no tagged MUST (the short forms are described in
        // untagged text, 3.14.2.1); what is checked is that the Will is discarded.
        let mut answers = Vec::new();
        for (i, form) in forms.iter().enumerate() {
            let mut c = t
                .client(&format!("c{i}"))
                .will(Will::new(&topic, "must not be published"))
                .connect()
                .await?;
            c.send_raw(Bytes::copy_from_slice(form)).await?;
            // The broker may close (a SHOULD); an answer is recorded, not judged.
            match c.raw().recv_until(Instant::now() + secs(1)).await {
                Received::Closed | Received::Timeout => t.checked(),
                Received::Packet(p) => {
                    answers.push(Received::Packet(p).describe(t.protocol()));
                }
                other => {
                    return Err(c.unmet("the connection closed (a normal disconnection)", other))
                }
            }
        }
        no_will(
            &t,
            &mut watch,
            b"must not be published",
            WILL_QUIET,
            Some(control),
            t.response_timeout(),
            "no Will published after a short-form DISCONNECT (reason 0x00)",
        )
        .await?;
        if !answers.is_empty() {
            return t.informational(format!(
                "the Will was discarded, but the broker answered a short-form DISCONNECT with {} (no tagged MUST forbids it)",
                answers.join(", ")
            ));
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// DISCONNECT 0x00 carrying a Reason String and User Properties still discards the Will
    NORMAL_WITH_PROPERTIES = "disconnect.normal-with-properties-discards-will",
    checks: [V5_3_14_4_3, V5_3_1_2_10],
    only: V5,
    faults: [WillOnNormalDisconnect],
    tags: [Will, ToBroker, ReasonString, UserProperty],
    run: normal_with_properties,
}

fn normal_with_properties(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "must not be published"))
            .connect()
            .await?;
        let control = t
            .client("control")
            .will(Will::new(&topic, CONTROL_WILL))
            .connect()
            .await?;
        let properties = DisconnectProperties {
            reason_string: Some(text("done for today", "Reason String")?),
            user_properties: vec![(text("who", "name")?, text("mqttspec", "value")?)].into(),
            ..DisconnectProperties::default()
        };
        c.disconnect_with(Disconnect {
            reason_code: ReasonCode::Success,
            properties: properties.into(),
        })
        .await?;
        no_will(
            &t,
            &mut watch,
            b"must not be published",
            WILL_QUIET,
            Some(control),
            t.response_timeout(),
            "no Will published after DISCONNECT 0x00 with properties",
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A DISCONNECT setting a non-zero Session Expiry Interval after CONNECT had 0 is a Protocol Error: close, Will published, no session kept
    SESSION_EXPIRY_FROM_ZERO = "disconnect.session-expiry-from-zero-is-protocol-error",
    checks: [V5_4_13_1_1, V5_3_1_2_8, V5_4_1_0_2],
    only: V5,
    faults: [AcceptSessionExpiryFromZero],
    tags: [Will, Session, ToBroker],
    run: session_expiry_from_zero,
}

fn session_expiry_from_zero(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        // Session Expiry Interval absent (0) in CONNECT.
        let mut c = t
            .client("c")
            .clean_start(true)
            .will(Will::new(&topic, "invalid disconnect"))
            .connect()
            .await?;
        // The twin of the close: the connection stays open for well-formed packets.
        c.alive().as_twin().await?;
        let mut d = Disconnect::default();
        d.properties.session_expiry_interval = Some(60);
        c.send(&Packet::Disconnect(d)).await?;
        let ending = expect_server_end(
            &t,
            &mut c,
            &[ReasonCode::ProtocolError],
            t.response_timeout(),
        )
        .await?;
        // Not a valid DISCONNECT: the Will is published ...
        watch
            .expect_publish()
            .topic(&topic)
            .payload("invalid disconnect")
            .await?;
        // ... and the session ended with the connection (its interval stayed 0).
        let again = t.client("c").clean_start(false).connect().await?;
        expect_no_session(&t, &again, "the session ended with the connection")
            .map_err(|f| f.statement(S::V5_4_1_0_2))?;
        again.disconnect().await?;
        kept_session_control(&t, "keep").await?;
        if ending == Ending::Closed {
            return t.non_strict(
                "DISCONNECT 0x82 (Protocol Error) before the close",
                "the connection closed without DISCONNECT",
            );
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A DISCONNECT changing a non-zero Session Expiry Interval to 0 is accepted and ends the session at once
    SESSION_EXPIRY_LOWERED_TO_ZERO = "disconnect.session-expiry-lowered-to-zero-ends-session",
    checks: [V5_4_1_0_2],
    only: V5,
    faults: [IgnoreDisconnectSessionExpiry],
    tags: [Session, ToBroker],
    run: session_expiry_lowered_to_zero,
}

fn session_expiry_lowered_to_zero(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t
            .client("c")
            .clean_start(true)
            .session_expiry(60)
            .connect()
            .await?;
        c.subscribe(t.topic("s")).await?;
        let mut d = Disconnect::default();
        d.properties.session_expiry_interval = Some(0);
        c.send(&Packet::Disconnect(d)).await?;
        // A valid change: no error DISCONNECT, just the close (or nothing: closing is the
        // client's duty). An answer breaks no cited MUST: it is recorded, and what is
        // checked is that the session ended (MQTT-4.1.0-2).
        let answer = match c.raw().recv_until(Instant::now() + secs(1)).await {
            Received::Closed | Received::Timeout => None,
            Received::Packet(p) => Some(Received::Packet(p).describe(t.protocol())),
            other => return Err(c.unmet("the connection closed without an error", other)),
        };
        drop(c);
        let again = t.client("c").clean_start(false).connect().await?;
        expect_no_session(
            &t,
            &again,
            "Session Expiry Interval 0 from DISCONNECT ended the session",
        )
        .map_err(|f| f.statement(S::V5_4_1_0_2))?;
        again.disconnect().await?;
        // The control: the same, with the DISCONNECT leaving the interval at 60 s.
        kept_session_control(&t, "keep").await?;
        if let Some(answer) = answer {
            return t.informational(format!(
                "the session ended, but the broker answered the valid DISCONNECT with {answer}"
            ));
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A DISCONNECT raising the Session Expiry Interval from 1 s to 60 s keeps the session beyond 1 s
    SESSION_EXPIRY_RAISED = "disconnect.session-expiry-raised-keeps-session",
    checks: [V5_3_1_2_23],
    only: V5,
    faults: [IgnoreDisconnectSessionExpiry],
    tags: [Session, ToBroker],
    run: session_expiry_raised,
}

fn session_expiry_raised(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let c = t
            .client("c")
            .clean_start(true)
            .session_expiry(1)
            .connect()
            .await?;
        let granted = c
            .connack()
            .and_then(|a| a.properties.session_expiry_interval)
            .unwrap_or(1);
        if granted != 1 {
            return t.inconclusive(
                Precondition::Other,
                format!(
                    "the broker set Session Expiry Interval {granted} in CONNACK: a change from 1 s cannot be tested"
                ),
            );
        }
        let mut d = Disconnect::default();
        d.properties.session_expiry_interval = Some(60);
        c.disconnect_with(d).await?;
        // Past the original interval (a broker counting whole seconds may take up to 2 s).
        t.wait(Duration::from_millis(2200)).await;
        let again = t.client("c").clean_start(false).connect().await?;
        t.check(
            session_present(&again),
            "Session Present 1: the session lives for the 60 s set at DISCONNECT",
            "Session Present 0 (the session expired after the CONNECT's 1 s)",
        )?;
        // End the session.
        let mut end = Disconnect::default();
        end.properties.session_expiry_interval = Some(0);
        again.disconnect_with(end).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A DISCONNECT from the broker carries a server reason code, no Session Expiry Interval, and is followed only by the close
    NOTHING_AFTER_SERVER_DISCONNECT = "disconnect.nothing-after-server-disconnect",
    checks: [V5_3_14_4_1, V5_3_14_4_2, V5_3_14_2_1, V5_3_14_2_2, V5_4_13_1_1],
    only: V5,
    faults: [PacketAfterDisconnect],
    tags: [FromBroker],
    run: nothing_after_server_disconnect,
}

fn nothing_after_server_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").session_expiry(30).connect().await?;
        // The twin: the same PUBLISH with a valid QoS (0), and the connection stays open.
        let topic = t.topic("q3");
        c.publish(&topic).payload("x").await?;
        c.alive().as_twin().await?;
        // A PUBLISH with QoS 3 is malformed: the broker must close, and SHOULD send
        // DISCONNECT 0x81 first.
        c.send_raw(raw_publish(&t, 0b0110, &topic, Some(1), &[], b"x"))
            .await?;
        let ending = expect_server_end(
            &t,
            &mut c,
            &[ReasonCode::MalformedPacket, ReasonCode::ProtocolError],
            t.response_timeout(),
        )
        .await?;
        // Clean up the session left behind.
        end_session(&t, "c").await;
        if ending == Ending::Closed {
            return t.non_strict(
                "DISCONNECT 0x81 (Malformed Packet) before the close",
                "the connection closed without DISCONNECT: nothing to check after it",
            );
        }
        t.pass()
    })
}
