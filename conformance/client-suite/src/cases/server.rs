//! What the server ends: a CONNACK refusing the connection and a server DISCONNECT, both with a
//! Reason Code of 0x80 or above, after which the Network Connection must be closed (5.0).

use mqttspec_codec::{ConnAckProperties, Disconnect, Packet, ReasonCode, StatementId as S};
use mqttspec_harness::verdict::Outcome;

use super::expect_close;
use crate::case::{none, CaseFuture, ClientCase, Ctx, Role};
use crate::reference::Fault;
use mqttspec_harness::verdict::Precondition;

pub(crate) const CASES: &[ClientCase] = &[
    ClientCase {
        id: "server.connack-refusal-closes",
        title: "after a CONNACK with Reason Code 0x87 (Not authorized) the client closes the connection and tells the application",
        checks: &[S::V5_4_13_2_1],
        faults: &[Fault::StayAfterConnackRefusal],
        run: connack_refusal,
    },
    ClientCase {
        id: "server.disconnect-closes",
        title: "after a server DISCONNECT with Reason Code 0x89 (Server busy) the client closes the connection; the application sees the Reason Code",
        checks: &[S::V5_4_13_2_1],
        faults: &[Fault::IgnoreServerDisconnect],
        run: server_disconnect,
    },
];

fn connack_refusal(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.connect(none()).await?;
        conn.connack(
            false,
            ReasonCode::NotAuthorized,
            ConnAckProperties::default(),
        )
        .await;
        let o = expect_close(
            &mut conn,
            t.timing.response,
            S::V5_4_13_2_1,
            true,
            "a CONNACK with Reason Code 0x87",
        )
        .await;
        if o.verdict != mqttspec_harness::verdict::Verdict::Pass {
            return Ok(o);
        }
        // The application must learn of it: a connack event with the code, or disconnected.
        let e = s
            .adapter
            .wait_for_any(&["connack", "disconnected", "error"], t.timing.response)
            .await;
        if let crate::adapter::Wait::Got(_) = e {
            t.pass()
        } else {
            Ok(Outcome::inconclusive(
                Precondition::Other,
                "the client closed, but the application was told nothing of the refusal",
            ))
        }
    })
}

fn server_disconnect(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
        conn.send(&Packet::Disconnect(Disconnect::new(ReasonCode::ServerBusy)))
            .await;
        let o = expect_close(
            &mut conn,
            t.timing.response,
            S::V5_4_13_2_1,
            true,
            "a DISCONNECT with Reason Code 0x89",
        )
        .await;
        if o.verdict != mqttspec_harness::verdict::Verdict::Pass {
            return Ok(o);
        }
        let e = s
            .expect_event("disconnected", Role::Setup(Precondition::Other))
            .await?;
        match e.u64("reason_code") {
            Some(0x89) => t.pass(),
            other => Ok(Outcome::informational(format!(
                "the client closed; the application was not given the Reason Code 0x89 (got {other:?})"
            ))),
        }
    })
}
