//! The client cases, one file per area, and the steps they share.
//!
//! | file | area |
//! |---|---|
//! | `connect` | the CONNECT the client opens with |
//! | `packets` | the form of PUBLISH, SUBSCRIBE, UNSUBSCRIBE and DISCONNECT the client sends |
//! | `keep_alive` | PINGREQ within the Keep Alive, the Server Keep Alive obeyed |
//! | `qos` | QoS 1 and QoS 2 flows in both directions, Packet Identifiers |
//! | `session` | resending with DUP on a resumed session, nothing resent after Clean Start |
//! | `malformed` | the client closing on malformed packets from the server (each with its well-formed twin) |
//! | `server` | CONNACK refusals and server DISCONNECT (5.0) |
//! | `limits` | the server's Receive Maximum, Maximum Packet Size and Topic Aliases (5.0) |
//! | `subscription` | no Subscription Identifier in the client's PUBLISH (5.0); whether the application sees those of a delivered message (INFORMATIONAL) |
//! | `auth` | enhanced authentication (5.0): one challenge/response round before the CONNACK |
//! | `websocket` | MQTT over WebSocket (section 6): the `mqtt` subprotocol, binary frames only, packets across frames; always over WebSocket |

mod auth;
mod connect;
mod keep_alive;
mod limits;
mod malformed;
mod packets;
mod qos;
mod server;
mod session;
mod subscription;
mod websocket;

use std::time::Duration;

use mqttspec_codec::{Packet, Publish, StatementId};
use mqttspec_harness::verdict::Outcome;

use crate::broker::{Received, ServerConn};
use crate::case::{ClientCase, Role};

/// Every client case, in a stable order.
pub fn all() -> Vec<ClientCase> {
    let mut out = Vec::new();
    out.extend_from_slice(connect::CASES);
    out.extend_from_slice(keep_alive::CASES);
    out.extend_from_slice(packets::CASES);
    out.extend_from_slice(qos::CASES);
    out.extend_from_slice(session::CASES);
    out.extend_from_slice(malformed::CASES);
    out.extend_from_slice(server::CASES);
    out.extend_from_slice(limits::CASES);
    out.extend_from_slice(websocket::CASES);
    out.extend_from_slice(auth::CASES);
    out.extend_from_slice(subscription::CASES);
    out
}

/// The statement of `pair` that belongs to the connection's version.
pub(crate) fn pick(conn: &ServerConn, v5: StatementId, v311: StatementId) -> StatementId {
    if conn.version().is_v5() {
        v5
    } else {
        v311
    }
}

/// Reads the next packet (answering PINGREQs) and requires it to be a PUBLISH. A malformed
/// packet is a FAIL of `malformed_statement` when the role is a check.
pub(crate) async fn expect_publish(
    conn: &mut ServerConn,
    within: Duration,
    role: Role,
    what: &str,
) -> Result<Publish, Outcome> {
    match conn.recv_skipping_pings(within).await {
        Received::Packet(Packet::Publish(p)) => Ok(p),
        other => Err(role.missed(what.to_owned(), other.describe(conn.version()))),
    }
}

/// Checks that the client closes the connection within `within`: PASS if it does; when it
/// stays, FAIL on a MUST (`must`) or NON-STRICT on a SHOULD.
pub(crate) async fn expect_close(
    conn: &mut ServerConn,
    within: Duration,
    statement: StatementId,
    must: bool,
    after: &str,
) -> Outcome {
    match conn.closes_within(within).await {
        Ok(_) => Outcome::pass(),
        Err(seen) => {
            let seen = if seen.is_empty() {
                String::new()
            } else {
                format!(
                    " (it sent {})",
                    seen.iter()
                        .map(|p| p.packet_type().name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let expected = format!("the client closes the Network Connection after {after}");
            let actual = format!("the connection was still open after {within:?}{seen}");
            let o = if must {
                Outcome::fail(expected, actual)
            } else {
                Outcome::non_strict(expected, actual)
            };
            o.statement(statement)
        }
    }
}
