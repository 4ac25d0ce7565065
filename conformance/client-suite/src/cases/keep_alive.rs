//! Keep Alive: the client sends a packet (PINGREQ when it has nothing else) within the Keep
//! Alive in force, which is the Server Keep Alive when the CONNACK carries one.
//!
//! The client has nothing to send in these cases, so the rule means a PINGREQ before the
//! interval ends. The server side of the rule allows one and a half times the interval before
//! it may close (3.1.2.10), and that is the bound used: a PINGREQ later than that is FAIL.

use std::time::Duration;

use mqttspec_codec::{ConnAckProperties, Packet, StatementId as S};
use mqttspec_harness::verdict::Outcome;
use serde_json::json;

use crate::broker::Received;
use crate::case::{CaseFuture, ClientCase, Ctx};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[
    ClientCase {
        id: "keep-alive.pingreq-within-keep-alive",
        title: "with a Keep Alive of 2 s and nothing to send, the client sends PINGREQ in time",
        checks: &[S::V5_3_1_2_20, S::V311_3_1_2_23],
        faults: &[Fault::NoPingreq],
        run: pingreq,
    },
    ClientCase {
        id: "keep-alive.server-keep-alive-obeyed",
        title: "a Server Keep Alive of 2 s in CONNACK replaces the 60 s the client asked for",
        checks: &[S::V5_3_1_2_21, S::V5_3_2_2_21],
        faults: &[Fault::IgnoreServerKeepAlive],
        run: server_keep_alive,
    },
];

/// Five seconds: the smallest Keep Alive libmosquitto and rumqttc (5.0) accept.
const KEEP_ALIVE: u16 = 5;

async fn pings_in_time(
    t: &Ctx,
    requested: u16,
    props: ConnAckProperties,
    statement: S,
) -> Result<Outcome, Outcome> {
    let mut s = t.start().await?;
    let (mut conn, _) = s.open(json!({ "keep_alive": requested }), props).await?;
    // Twice over: the second PINGREQ shows the client keeps pinging, not just once.
    let bound = Duration::from_millis(u64::from(KEEP_ALIVE) * 1500);
    for n in 1..=2 {
        let started = tokio::time::Instant::now();
        match conn.recv(bound).await {
            Received::Packet(Packet::PingReq) => conn.send(&Packet::PingResp).await,
            Received::Timeout => {
                return Err(Outcome::fail(
                    format!(
                        "PINGREQ number {n} within {bound:?} (1.5 x Keep Alive {KEEP_ALIVE} s)"
                    ),
                    "no packet at all",
                )
                .statement(statement))
            }
            other => {
                return Err(Outcome::inconclusive(
                    mqttspec_harness::verdict::Precondition::Other,
                    format!(
                        "the client did something else while idle, after {:?}: {}",
                        started.elapsed(),
                        other.describe(t.version)
                    ),
                ))
            }
        }
    }
    t.pass()
}

fn pingreq(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let st = if t.version.is_v5() {
            S::V5_3_1_2_20
        } else {
            S::V311_3_1_2_23
        };
        pings_in_time(&t, KEEP_ALIVE, ConnAckProperties::default(), st).await
    })
}

fn server_keep_alive(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let props = ConnAckProperties {
            server_keep_alive: Some(KEEP_ALIVE),
            ..ConnAckProperties::default()
        };
        pings_in_time(&t, 60, props, S::V5_3_1_2_21).await
    })
}
