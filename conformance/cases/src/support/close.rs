//! The broker ending a connection: after a malformed packet or a protocol error (the close
//! is a MUST, a DISCONNECT with a reason code before it a SHOULD in MQTT 5.0), and the
//! broker's own DISCONNECT, which must be well-formed and followed only by the close.
//!
//! Each of these is a check resting on a refusal: the case must have had the well-formed
//! twin accepted first (see [`twin`](super::twin)).

use std::time::Duration;

use mqttspec_codec::{Disconnect, Packet, PacketType, ReasonCode, StatementId as S};
use tokio::time::Instant;

use super::of_run;
use mqttspec_harness::client::{summary, Received};
use mqttspec_harness::scenario::{CaseResult, Client, Ctx, Failure, Reply, Role};

/// After a packet the broker must reject as malformed or a protocol error: the connection
/// must close (MQTT-4.13.1-1 / MQTT-4.8.0-1). An MQTT 5.0 broker should send DISCONNECT with
/// one of `codes` first; another error code or no DISCONNECT is NON-STRICT. The verdict rests
/// on a refusal: the case must have had the well-formed twin accepted first.
pub(crate) async fn expect_connection_closed(
    t: &Ctx,
    c: &mut Client,
    codes: &[ReasonCode],
) -> CaseResult {
    let reply = closing_reply(t, c, codes).await?;
    judge_close(t, reply, codes)
}

/// A check: waits for the close (MQTT 5.0: possibly after a DISCONNECT) that must follow a
/// malformed packet or a protocol error; anything else (the connection staying open, a
/// packet answering it) is FAIL of MQTT-4.13.1-1 / MQTT-4.8.0-1. The close is a refusal: the
/// case needs the well-formed twin accepted.
pub(crate) async fn closing_reply(
    t: &Ctx,
    c: &mut Client,
    codes: &[ReasonCode],
) -> Result<Reply, Failure> {
    // 3.1.1 has no DISCONNECT from the server: the close is the only answer.
    let mut replies: Vec<Reply> = Vec::new();
    if t.is_v5() {
        replies.extend(codes.iter().map(|code| Reply::Disconnect(*code)));
        replies.push(Reply::DisconnectError);
    }
    replies.push(Reply::Closed);
    c.expect_reply(&replies)
        .await
        .map_err(|f| f.statement(of_run!(t, V5_4_13_1_1)))
}

/// Whether a close observed by [`closing_reply`] is the one preferred.
pub(crate) fn is_preferred_close(t: &Ctx, reply: Reply, codes: &[ReasonCode]) -> bool {
    !t.is_v5() || matches!(reply, Reply::Disconnect(code) if codes.contains(&code))
}

/// The verdict on a close observed by [`closing_reply`]: PASS, or NON-STRICT when an MQTT
/// 5.0 broker closed without the DISCONNECT (with one of `codes`) it should have sent
/// (4.13.1: a SHOULD; only the close is a MUST).
pub(crate) fn judge_close(t: &Ctx, reply: Reply, codes: &[ReasonCode]) -> CaseResult {
    if is_preferred_close(t, reply, codes) {
        return t.pass();
    }
    let wanted: Vec<String> = codes
        .iter()
        .map(|code| summary::code(*code, PacketType::Disconnect, t.protocol()))
        .collect();
    let wanted = format!("DISCONNECT with {} before the close", wanted.join(" or "));
    if reply == Reply::Closed {
        t.non_strict(wanted, "the connection closed without DISCONNECT")
    } else {
        t.non_strict(wanted, "DISCONNECT with another error code, then the close")
    }
}

/// How a broker ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// A DISCONNECT with this reason code (MQTT 5.0), then the close.
    Disconnect(ReasonCode),
    /// The close, without a DISCONNECT.
    Closed,
}

/// Waits up to `within` for the broker to end `c`'s connection: the close, or (MQTT 5.0) a
/// DISCONNECT with one of `codes` and then the close with nothing in between
/// (MQTT-3.14.4-1, -2; the DISCONNECT itself with a reason code a server may send and no
/// Session Expiry Interval, MQTT-3.14.2-1, -2). PUBLISH, PINGRESP and acknowledgements
/// arriving first are skipped. A checking step resting on a refusal: the case needs a
/// well-formed twin accepted (e.g. `c.alive().as_twin()` before the packet that has the
/// connection closed). [`server_end`] with another role when the close is only the case's
/// precondition.
pub(crate) async fn expect_server_end(
    t: &Ctx,
    c: &mut Client,
    codes: &[ReasonCode],
    within: Duration,
) -> Result<Ending, Failure> {
    server_end(t, c, codes, within, Role::Check).await
}

/// [`expect_server_end`] in `role`: as [`Role::Check`] it counts a check and records the
/// refusal; as a setup step an unmet expectation is INCONCLUSIVE.
pub(crate) async fn server_end(
    t: &Ctx,
    c: &mut Client,
    codes: &[ReasonCode],
    within: Duration,
    role: Role,
) -> Result<Ending, Failure> {
    let ending = wait_server_end(t, c, codes, within, role)
        .await
        .map_err(|f| role.classify(f))?;
    t.succeeded(role);
    if role == Role::Check {
        t.refusal_seen();
    }
    Ok(ending)
}

async fn wait_server_end(
    t: &Ctx,
    c: &mut Client,
    codes: &[ReasonCode],
    within: Duration,
    role: Role,
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
            Received::Closed => return Ok(Ending::Closed),
            Received::Packet(Packet::Disconnect(d)) if v.is_v5() => {
                if role == Role::Check {
                    check_server_disconnect(t, &d)?;
                } else if let Some(f) = server_disconnect_problem(t, &d) {
                    return Err(f);
                }
                if !codes.contains(&d.reason_code) {
                    return Err(c.unmet(&expected, Received::Packet(Packet::Disconnect(d))));
                }
                let after = Instant::now() + c.timeout();
                return match c.raw().recv_until(after).await {
                    Received::Closed => Ok(Ending::Disconnect(d.reason_code)),
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

/// What is wrong with a DISCONNECT the broker sent, if anything: a Disconnect Reason Code a
/// server may not use (the client-only 0x04; the strict decoder already refused codes
/// outside the table, MQTT-3.14.2-1) or a Session Expiry Interval (MQTT-3.14.2-2).
fn server_disconnect_problem(t: &Ctx, d: &Disconnect) -> Option<Failure> {
    let shown = summary::packet(&Packet::Disconnect(d.clone()), t.protocol());
    if d.reason_code == ReasonCode::DisconnectWithWillMessage
        || !d.reason_code.is_allowed_in(PacketType::Disconnect)
    {
        return Some(
            Failure::fail("a Disconnect Reason Code a server may send", shown)
                .statement(S::V5_3_14_2_1),
        );
    }
    if d.properties.session_expiry_interval.is_some() {
        return Some(
            Failure::fail(
                "no Session Expiry Interval in a DISCONNECT from the server",
                shown,
            )
            .statement(S::V5_3_14_2_2),
        );
    }
    None
}

/// Checks a DISCONNECT the broker sent (see [`server_disconnect_problem`]). Counts a check.
fn check_server_disconnect(t: &Ctx, d: &Disconnect) -> Result<(), Failure> {
    match server_disconnect_problem(t, d) {
        Some(f) => Err(f),
        None => {
            t.checked();
            Ok(())
        }
    }
}
