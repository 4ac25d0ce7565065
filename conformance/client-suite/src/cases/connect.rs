//! The CONNECT the client opens with.

use mqttspec_codec::{Packet, ReasonCode, StatementId as S};
use mqttspec_harness::verdict::{Outcome, Precondition};
use serde_json::json;

use crate::broker::Received;
use crate::case::{none, CaseFuture, ClientCase, Ctx};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[
    ClientCase {
        id: "connect.first-packet-is-connect",
        title: "the first packet on a new connection is CONNECT",
        checks: &[S::V5_3_1_0_1, S::V311_3_1_0_1],
        faults: &[Fault::SubscribeBeforeConnect],
        run: first_packet,
    },
    ClientCase {
        id: "connect.payload-fields-present",
        title: "a CONNECT with Will, User Name and Password carries each field its flags announce, in order, with the values the application gave",
        checks: &[
            S::V5_3_1_2_9,
            S::V5_3_1_2_17,
            S::V5_3_1_2_19,
            S::V5_3_1_3_1,
            S::V5_3_1_3_3,
            S::V311_3_1_2_9,
            S::V311_3_1_2_19,
            S::V311_3_1_2_21,
            S::V311_3_1_3_1,
            S::V311_3_1_3_3,
        ],
        faults: &[Fault::PasswordFlagWithoutPassword],
        run: payload_fields,
    },
    ClientCase {
        id: "connect.unexpected-session-present-closes",
        title: "a client that started clean and gets Session Present 1 closes the connection (it stays on Session Present 0, the twin)",
        checks: &[S::V5_3_2_2_4],
        faults: &[Fault::AcceptUnexpectedSessionPresent],
        run: unexpected_session_present,
    },
];

fn unexpected_session_present(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        // The twin: Session Present 0 is taken, the connection stays.
        let (mut conn, _) = s.open(none(), Default::default()).await?;
        if let Ok(seen) = conn
            .closes_within(std::time::Duration::from_millis(300))
            .await
        {
            return Err(Outcome::inconclusive(
                Precondition::Twin,
                format!(
                    "the client closed after Session Present 0 too (it sent {} packets)",
                    seen.len()
                ),
            ));
        }
        s.command(json!({"cmd": "disconnect"})).await;
        let _ = conn.closes_within(t.timing.response).await;
        let (mut conn, _) = s.connect(json!({"clean_start": true})).await?;
        conn.connack(true, ReasonCode::Success, Default::default())
            .await;
        Ok(super::expect_close(
            &mut conn,
            t.timing.response,
            S::V5_3_2_2_4,
            true,
            "Session Present 1 on a connection that started clean",
        )
        .await)
    })
}

fn first_packet(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, first) = s.connect_raw(none()).await?;
        let statement = if t.version.is_v5() {
            S::V5_3_1_0_1
        } else {
            S::V311_3_1_0_1
        };
        match first {
            Received::Packet(Packet::Connect(_)) => {
                conn.connack(false, ReasonCode::Success, Default::default())
                    .await;
                t.pass()
            }
            Received::Packet(p) => Err(Outcome::fail(
                "CONNECT as the first packet",
                format!("{} came first", p.packet_type()),
            )
            .statement(statement)),
            Received::Malformed(e) => match e.violation {
                mqttspec_codec::Violation::ReservedPacketType { .. } => Err(Outcome::fail(
                    "CONNECT as the first packet",
                    format!("a packet of a reserved type came first: {e}"),
                )
                .statement(statement)),
                _ => Err(Outcome::inconclusive(
                    Precondition::Connect,
                    format!("the first packet could not be read: {e}"),
                )),
            },
            other => Err(Outcome::inconclusive(
                Precondition::Connect,
                format!("no packet after connecting: {}", other.describe(t.version)),
            )),
        }
    })
}

fn payload_fields(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let client_id = s.client_id();
        let extra = json!({
            "client_id": client_id,
            "keep_alive": 30,
            "username": "mqttspec-user",
            "password": "mqttspec-pass",
            "will": {"topic": "mqttspec/will", "payload": "gone", "qos": 1, "retain": true},
        });
        let (mut conn, first) = s.connect_raw(extra).await?;
        let v5 = t.version.is_v5();
        let (will_s, user_s, pass_s, order_s) = if v5 {
            (S::V5_3_1_2_9, S::V5_3_1_2_17, S::V5_3_1_2_19, S::V5_3_1_3_1)
        } else {
            (
                S::V311_3_1_2_9,
                S::V311_3_1_2_19,
                S::V311_3_1_2_21,
                S::V311_3_1_3_1,
            )
        };
        let c = match first {
            Received::Packet(Packet::Connect(c)) => c,
            Received::Malformed(e) => {
                // Which rule the bytes break decides the statement; a field its flag
                // announces and that is missing reads past the end of the packet.
                let statement = match e.statement() {
                    Some(st) if [will_s, user_s, pass_s, order_s].contains(&st) => st,
                    _ => order_s,
                };
                return Err(Outcome::fail(
                    "a CONNECT whose payload holds Client Identifier, Will Topic, Will Payload, User Name and Password, each announced by its flag",
                    format!("the CONNECT does not decode: {e}"),
                )
                .statement(statement));
            }
            other => {
                return Err(Outcome::inconclusive(
                    Precondition::Connect,
                    format!("no CONNECT: {}", other.describe(t.version)),
                ))
            }
        };
        conn.connack(false, ReasonCode::Success, Default::default())
            .await;
        let check = |ok: bool, st: S, what: &str, got: String| -> Result<(), Outcome> {
            if ok {
                Ok(())
            } else {
                Err(Outcome::fail(what.to_owned(), got).statement(st))
            }
        };
        check(
            c.client_id.as_str() == client_id,
            order_s,
            "the Client Identifier the application gave, first in the payload",
            format!("{:?}", c.client_id.as_str()),
        )?;
        match &c.will {
            Some(w) => check(
                w.topic.as_str() == "mqttspec/will"
                    && &w.payload[..] == b"gone"
                    && w.qos.as_u8() == 1
                    && w.retain,
                will_s,
                "Will Topic mqttspec/will, Will Payload \"gone\", Will QoS 1, Will Retain 1",
                format!(
                    "topic {:?}, payload {:?}, qos {}, retain {}",
                    w.topic.as_str(),
                    String::from_utf8_lossy(&w.payload),
                    w.qos.as_u8(),
                    w.retain
                ),
            )?,
            None => {
                return Err(Outcome::inconclusive(
                    Precondition::Other,
                    "the library sent no Will although the application asked for one",
                ))
            }
        }
        check(
            c.username.as_ref().map(|u| u.as_str()) == Some("mqttspec-user"),
            user_s,
            "User Name mqttspec-user",
            format!("{:?}", c.username.as_ref().map(|u| u.as_str().to_owned())),
        )?;
        check(
            c.password.as_deref() == Some(&b"mqttspec-pass"[..]),
            pass_s,
            "Password mqttspec-pass",
            format!(
                "{:?}",
                c.password
                    .as_ref()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
            ),
        )?;
        t.pass()
    })
}
