//! The broker refusing a packet: a malformed CONNECT, a SUBSCRIBE or PUBLISH it must turn
//! down (SUBACK failure codes or the close), and telling a refusal apart from other failures.
//!
//! A PASS that rests on a refusal means something only if the same broker accepts the
//! well-formed twin (see [`twin`](super::twin)), sent first in the same case.

use bytes::Bytes;
use mqttspec_codec::{Packet, ReasonCode};
use tokio::time::Instant;

use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{CaseResult, Client, Ctx, Failure, Reply};

/// Whether `f`, from an expectation on `c`, is the broker ending the connection (closing it,
/// or a DISCONNECT in MQTT 5.0) rather than sending something else or nothing.
pub(crate) fn is_refusal(c: &Client, f: &Failure) -> bool {
    let closed = Received::Closed.describe(c.protocol());
    f.0.actual
        .as_deref()
        .is_some_and(|a| a.ends_with(&closed) || a.contains("DISCONNECT"))
}

/// Sends `bytes`, a CONNECT the broker must refuse as malformed, on a new connection of
/// client `name`, and expects the refusal: the close (3.1.1 without CONNACK, MQTT-3.1.4-1,
/// unless `v311_connack_ok`), in 5.0 possibly after a CONNACK with an error code. A check
/// resting on a refusal: the case needs the well-formed twin accepted first.
pub(crate) async fn expect_connect_refused(
    t: &Ctx,
    name: &str,
    bytes: Bytes,
    v311_connack_ok: bool,
) -> Result<(), Failure> {
    let mut c = t.client(name).open().await?;
    c.send_raw(bytes).await?;
    let accepted: &[Reply] = if t.is_v5() || v311_connack_ok {
        &[Reply::ConnAckError, Reply::Closed]
    } else {
        &[Reply::Closed]
    };
    c.expect_reply(accepted).await?;
    Ok(())
}

/// How the broker turned down a packet it had to refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// SUBACK with a failure code for every Topic Filter (the connection stays open).
    SubAck(Vec<ReasonCode>),
    /// DISCONNECT with this error code, then the close (MQTT 5.0).
    Disconnect(ReasonCode),
    /// The connection closed without a packet.
    Closed,
}

/// A checking step: waits for the broker to refuse what was just sent: the connection
/// closed (in MQTT 5.0 possibly after a DISCONNECT with an error code), or, when
/// `suback_id` is given, a SUBACK with that Packet Identifier and only failure codes.
/// Anything else (a successful SUBACK, an UNSUBACK, a PUBACK, silence) is FAIL. PUBLISH and
/// PINGRESP in between are skipped. A refusal is recorded as such: the case must also have
/// seen the well-formed twin accepted (send it on `c` before the bad packet).
pub(crate) async fn expect_refused(
    t: &Ctx,
    c: &mut Client,
    suback_id: Option<u16>,
) -> Result<Refused, Failure> {
    let expected = match suback_id {
        Some(id) => format!(
            "SUBACK id={id} with a failure code, or the connection closed \
             (MQTT 5.0: after DISCONNECT with an error code)"
        ),
        None => "the connection closed (MQTT 5.0: after DISCONNECT with an error code)".to_owned(),
    };
    let within = c.timeout();
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let got = c.recv(left).await;
        match &got {
            Received::Packet(Packet::SubAck(a)) if Some(a.packet_id.get()) == suback_id => {
                let refused =
                    !a.reason_codes.is_empty() && a.reason_codes.iter().all(|r| r.is_error());
                if refused {
                    t.checked();
                    t.refusal_seen();
                    return Ok(Refused::SubAck(a.reason_codes.clone()));
                }
                return Err(c.unmet(&expected, got));
            }
            Received::Packet(Packet::Disconnect(d)) if d.reason_code.is_error() => {
                let code = d.reason_code;
                let after = c.recv(c.timeout()).await;
                if after == Received::Closed {
                    t.checked();
                    t.refusal_seen();
                    return Ok(Refused::Disconnect(code));
                }
                return Err(c.unmet("the connection closed after DISCONNECT", after));
            }
            Received::Closed => {
                t.checked();
                t.refusal_seen();
                return Ok(Refused::Closed);
            }
            Received::Packet(Packet::Publish(_) | Packet::PingResp) => continue,
            Received::Timeout => {
                return Err(Failure::fail(
                    expected,
                    format!(
                        "nothing within {} ms: the connection stayed open",
                        within.as_millis()
                    ),
                ))
            }
            _ => return Err(c.unmet(&expected, got)),
        }
    }
}

/// The verdict once every refusal was observed: an MQTT 5.0 broker should send DISCONNECT
/// with a reason code before closing (NON-STRICT when it just closed).
pub(crate) fn refusal_verdict(t: &Ctx, refusals: &[Refused]) -> CaseResult {
    if t.is_v5() && refusals.contains(&Refused::Closed) {
        return t.non_strict(
            "DISCONNECT with a reason code (e.g. 0x81 Malformed Packet) before the close",
            "the connection closed without DISCONNECT",
        );
    }
    t.pass()
}
