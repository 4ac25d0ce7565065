//! DISCONNECT: what the broker does with the client's DISCONNECT (closing, discarding the
//! Will, the Session Expiry Interval it may carry), malformed DISCONNECT packets, and what a
//! broker's own DISCONNECT must look like (a reason code a server may send, no Session
//! Expiry Interval, nothing after it but the close).
//!
//! The helpers [`expect_server_end`] and [`check_server_disconnect`] are shared with the
//! Will cases, which often watch a broker end a connection.

use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    Disconnect, MqttString, Packet, PacketType, Properties, RawPacket, ReasonCode, StatementId as S,
};
use tokio::time::Instant;

use super::will::{watcher, QUIET};
use crate::client::{summary, Received};
use crate::scenario::{secs, BoxFuture, Case, CaseResult, Client, Ctx, Failure, Protocols, Will};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        SERVER_CLOSES_AFTER_DISCONNECT,
        RESERVED_FLAGS,
        INVALID_REASON_CODE,
        SHORT_FORMS_ARE_NORMAL,
        NORMAL_WITH_PROPERTIES,
        SESSION_EXPIRY_FROM_ZERO,
        SESSION_EXPIRY_LOWERED_TO_ZERO,
        SESSION_EXPIRY_RAISED,
        NOTHING_AFTER_SERVER_DISCONNECT,
    ]
}

/// How a broker ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// A DISCONNECT with this reason code (MQTT 5.0), then the close.
    Disconnect(ReasonCode),
    /// The close, without a DISCONNECT.
    Closed,
}

/// Checks a DISCONNECT the broker sent: a Disconnect Reason Code a server may use (not the
/// client-only 0x04; the strict decoder already refused codes outside the table,
/// MQTT-3.14.2-1) and no Session Expiry Interval (MQTT-3.14.2-2).
pub(crate) fn check_server_disconnect(t: &Ctx, d: &Disconnect) -> Result<(), Failure> {
    let v = t.protocol();
    let shown = summary::packet(&Packet::Disconnect(d.clone()), v);
    t.check(
        d.reason_code != ReasonCode::DisconnectWithWillMessage
            && d.reason_code.is_allowed_in(PacketType::Disconnect),
        "a Disconnect Reason Code a server may send",
        shown.clone(),
    )
    .map_err(|f| f.statement(S::V5_3_14_2_1))?;
    t.check(
        d.properties.session_expiry_interval.is_none(),
        "no Session Expiry Interval in a DISCONNECT from the server",
        shown,
    )
    .map_err(|f| f.statement(S::V5_3_14_2_2))
}

/// Waits up to `within` for the broker to end `c`'s connection: the close, or (MQTT 5.0) a
/// DISCONNECT with one of `codes` and then the close with nothing in between
/// (MQTT-3.14.4-1, -2). PUBLISH, PINGRESP and acknowledgements arriving first are skipped.
pub(crate) async fn expect_server_end(
    t: &Ctx,
    c: &mut Client,
    codes: &[ReasonCode],
    within: Duration,
) -> Result<Ending, Failure> {
    let v = c.protocol();
    let mut expected = String::from("the connection closed");
    if v.is_v5() && !codes.is_empty() {
        let listed: Vec<String> = codes
            .iter()
            .map(|r| summary::code(*r, PacketType::Disconnect, v))
            .collect();
        expected = format!("DISCONNECT {} or {expected}", listed.join(" / "));
    }
    let deadline = Instant::now() + within;
    loop {
        match c.raw().recv_until(deadline).await {
            Received::Closed => {
                t.checked();
                return Ok(Ending::Closed);
            }
            Received::Packet(Packet::Disconnect(d)) if v.is_v5() => {
                check_server_disconnect(t, &d)?;
                if !codes.contains(&d.reason_code) {
                    return Err(c.unmet(&expected, Received::Packet(Packet::Disconnect(d))));
                }
                t.checked();
                let after = Instant::now() + c.timeout();
                return match c.raw().recv_until(after).await {
                    Received::Closed => {
                        t.checked();
                        Ok(Ending::Disconnect(d.reason_code))
                    }
                    other => Err(c
                        .unmet(
                            "nothing after DISCONNECT, then the connection closed",
                            other,
                        )
                        .statement(S::V5_3_14_4_1)),
                };
            }
            Received::Packet(
                Packet::Publish(_)
                | Packet::PingResp
                | Packet::PubAck(_)
                | Packet::PubRec(_)
                | Packet::PubRel(_)
                | Packet::PubComp(_),
            ) => continue,
            other => return Err(c.unmet(&expected, other)),
        }
    }
}

/// A case error for a string the case itself got wrong.
pub(crate) fn text(s: &str, field: &'static str) -> Result<MqttString, Failure> {
    MqttString::new(s, field).map_err(|e| Failure::error(format!("case error: {field}: {e}")))
}

// ---------------------------------------------------------------------------------------

const SERVER_CLOSES_AFTER_DISCONNECT: Case = Case {
    id: "disconnect.server-closes-after-client-disconnect",
    title: "After a client's DISCONNECT the broker closes the connection and discards the Will",
    area: "DISCONNECT",
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
    run: server_closes_after_disconnect,
};

fn server_closes_after_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let mut c = t
            .client("c")
            .will(Will::new(&topic, "must not be published"))
            .connect()
            .await?;
        // Send DISCONNECT but leave the TCP connection open: closing it is up to the broker.
        c.send(&Packet::Disconnect(Disconnect::default())).await?;
        let deadline = Instant::now() + t.response_timeout();
        let closed = match c.raw().recv_until(deadline).await {
            Received::Closed => true,
            Received::Timeout => false,
            other => return Err(c.unmet("the connection closed", other)),
        };
        watch.expect_no_publish().for_(QUIET).await?;
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
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const RESERVED_FLAGS: Case = Case {
    id: "disconnect.reserved-flags-malformed",
    title: "A DISCONNECT with non-zero reserved flags closes the connection as a malformed packet and the Will is published",
    area: "DISCONNECT",
    statements: &[
        S::V5_3_14_1_1,
        S::V5_2_1_3_1,
        S::V5_4_13_1_1,
        S::V5_3_1_2_8,
        S::V311_3_14_1_1,
        S::V311_3_1_2_8,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["lenient-disconnect"],
    unfaultable: None,
    run: reserved_flags,
};

fn reserved_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { malformed_disconnect(t, RawPacket::new(0xE2).build()).await })
}

/// Sends `bytes` (a malformed DISCONNECT) from a client with a Will: the broker must close
/// the connection (5.0: DISCONNECT 0x81 first is a SHOULD) and, as no valid DISCONNECT was
/// received, publish the Will.
async fn malformed_disconnect(t: Ctx, bytes: Bytes) -> CaseResult {
    let topic = t.topic("will");
    let mut watch = watcher(&t, "watch", &topic, 0).await?;
    let mut c = t
        .client("c")
        .will(Will::new(&topic, "malformed disconnect"))
        .connect()
        .await?;
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

const INVALID_REASON_CODE: Case = Case {
    id: "disconnect.invalid-reason-code-malformed",
    title: "A DISCONNECT with a reason code outside the Disconnect table closes the connection and the Will is published",
    area: "DISCONNECT",
    statements: &[S::V5_3_14_2_1, S::V5_4_13_1_1, S::V5_3_1_2_8],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["lenient-disconnect"],
    unfaultable: None,
    run: invalid_reason_code,
};

fn invalid_reason_code(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // 0x03 is not a Disconnect Reason Code.
        let bytes = RawPacket::new(0xE0).u8(0x03).properties(&[]).build();
        malformed_disconnect(t, bytes).await
    })
}

// ---------------------------------------------------------------------------------------

const SHORT_FORMS_ARE_NORMAL: Case = Case {
    id: "disconnect.short-forms-are-normal",
    title: "DISCONNECT with Remaining Length 0 or 1 (reason 0x00) is a normal disconnection: the Will is discarded",
    area: "DISCONNECT",
    statements: &[S::V5_3_14_4_3, S::V5_3_1_2_10],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["will-on-normal-disconnect"],
    unfaultable: None,
    run: short_forms_are_normal,
};

fn short_forms_are_normal(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        // No reason code at all, then the reason code without a property length.
        let forms: [&[u8]; 2] = [&[0xE0, 0x00], &[0xE0, 0x01, 0x00]];
        for (i, form) in forms.iter().enumerate() {
            let mut c = t
                .client(&format!("c{i}"))
                .will(Will::new(&topic, format!("short form {i}")))
                .connect()
                .await?;
            c.send_raw(Bytes::copy_from_slice(form)).await?;
            // The broker may close (a SHOULD); it must not answer with an error.
            match c.raw().recv_until(Instant::now() + secs(1)).await {
                Received::Closed | Received::Timeout => t.checked(),
                other => {
                    return Err(c.unmet("the connection closed (a normal disconnection)", other))
                }
            }
        }
        watch.expect_no_publish().for_(QUIET).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const NORMAL_WITH_PROPERTIES: Case = Case {
    id: "disconnect.normal-with-properties-discards-will",
    title: "DISCONNECT 0x00 carrying a Reason String and User Properties still discards the Will",
    area: "DISCONNECT",
    statements: &[S::V5_3_14_4_3, S::V5_3_1_2_10],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["will-on-normal-disconnect"],
    unfaultable: None,
    run: normal_with_properties,
};

fn normal_with_properties(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("will");
        let mut watch = watcher(&t, "watch", &topic, 0).await?;
        let c = t
            .client("c")
            .will(Will::new(&topic, "must not be published"))
            .connect()
            .await?;
        let properties = Properties {
            reason_string: Some(text("done for today", "Reason String")?),
            user_properties: vec![(text("who", "name")?, text("mqttspec", "value")?)],
            ..Properties::default()
        };
        c.disconnect_with(Disconnect {
            reason_code: ReasonCode::Success,
            properties,
        })
        .await?;
        watch.expect_no_publish().for_(QUIET).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SESSION_EXPIRY_FROM_ZERO: Case = Case {
    id: "disconnect.session-expiry-from-zero-is-protocol-error",
    title: "A DISCONNECT setting a non-zero Session Expiry Interval after CONNECT had 0 is a Protocol Error: close, Will published, no session kept",
    area: "DISCONNECT",
    statements: &[S::V5_4_13_1_1, S::V5_3_1_2_8, S::V5_4_1_0_2],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["accept-session-expiry-from-zero"],
    unfaultable: None,
    run: session_expiry_from_zero,
};

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
        let present = again.connack().is_some_and(|a| a.session_present);
        t.check(
            !present,
            "Session Present 0: the session ended with the connection",
            "Session Present 1",
        )?;
        again.disconnect().await?;
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

const SESSION_EXPIRY_LOWERED_TO_ZERO: Case = Case {
    id: "disconnect.session-expiry-lowered-to-zero-ends-session",
    title: "A DISCONNECT changing a non-zero Session Expiry Interval to 0 is accepted and ends the session at once",
    area: "Session",
    statements: &[S::V5_4_1_0_2],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["ignore-disconnect-session-expiry"],
    unfaultable: None,
    run: session_expiry_lowered_to_zero,
};

fn session_expiry_lowered_to_zero(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t
            .client("c")
            .clean_start(true)
            .session_expiry(60)
            .connect()
            .await?;
        c.subscribe(t.topic("s")).qos(1).await?;
        let mut d = Disconnect::default();
        d.properties.session_expiry_interval = Some(0);
        c.send(&Packet::Disconnect(d)).await?;
        // A valid change: no error DISCONNECT, just the close (or nothing: closing is the
        // client's duty).
        match c.raw().recv_until(Instant::now() + secs(1)).await {
            Received::Closed | Received::Timeout => t.checked(),
            other => return Err(c.unmet("the connection closed without an error", other)),
        }
        drop(c);
        let again = t.client("c").clean_start(false).connect().await?;
        let present = again.connack().is_some_and(|a| a.session_present);
        t.check(
            !present,
            "Session Present 0: Session Expiry Interval 0 from DISCONNECT ended the session",
            "Session Present 1",
        )?;
        again.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SESSION_EXPIRY_RAISED: Case = Case {
    id: "disconnect.session-expiry-raised-keeps-session",
    title: "A DISCONNECT raising the Session Expiry Interval from 1 s to 60 s keeps the session beyond 1 s",
    area: "Session",
    statements: &[S::V5_3_1_2_23],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["ignore-disconnect-session-expiry"],
    unfaultable: None,
    run: session_expiry_raised,
};

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
            return t.informational(format!(
                "the broker set Session Expiry Interval {granted} in CONNACK: cannot test a change from 1 s"
            ));
        }
        let mut d = Disconnect::default();
        d.properties.session_expiry_interval = Some(60);
        c.disconnect_with(d).await?;
        // Past the original interval (a broker counting whole seconds may take up to 2 s).
        t.wait(Duration::from_millis(2200)).await;
        let again = t.client("c").clean_start(false).connect().await?;
        let present = again.connack().is_some_and(|a| a.session_present);
        t.check(
            present,
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

const NOTHING_AFTER_SERVER_DISCONNECT: Case = Case {
    id: "disconnect.nothing-after-server-disconnect",
    title: "A DISCONNECT from the broker carries a server reason code, no Session Expiry Interval, and is followed only by the close",
    area: "DISCONNECT",
    statements: &[
        S::V5_3_14_4_1,
        S::V5_3_14_4_2,
        S::V5_3_14_2_1,
        S::V5_3_14_2_2,
        S::V5_4_13_1_1,
    ],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["packet-after-disconnect"],
    unfaultable: None,
    run: nothing_after_server_disconnect,
};

fn nothing_after_server_disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").session_expiry(30).connect().await?;
        // A PUBLISH with QoS 3 is malformed: the broker must close, and SHOULD send
        // DISCONNECT 0x81 first.
        let bytes = RawPacket::new(0x36)
            .string(&t.topic("q3"))
            .u16(1)
            .properties(&[])
            .bytes(b"x")
            .build();
        c.send_raw(bytes).await?;
        let ending = expect_server_end(
            &t,
            &mut c,
            &[ReasonCode::MalformedPacket, ReasonCode::ProtocolError],
            t.response_timeout(),
        )
        .await?;
        // Clean up the session left behind.
        t.client("c")
            .clean_start(true)
            .connect()
            .await?
            .disconnect()
            .await?;
        if ending == Ending::Closed {
            return t.non_strict(
                "DISCONNECT 0x81 (Malformed Packet) before the close",
                "the connection closed without DISCONNECT: nothing to check after it",
            );
        }
        t.pass()
    })
}
