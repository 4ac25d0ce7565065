//! How a broker refuses a protocol version it does not speak. When the runner's probe finds a
//! version refused the way a specification says, every other case of that version is
//! UNSUPPORTED and this one judges the refusal itself: the specification the broker follows
//! is the one of the version it does speak (a 3.1.1-only server answers an MQTT 5.0 CONNECT by
//! MQTT-3.1.2-2 of 3.1.1; a 5.0-only server an MQTT 3.1.1 CONNECT by MQTT-3.1.2-2 of 5.0).

use mqttspec_codec::{Packet, ProtocolVersion, ReasonCode, StatementId as S};

use super::support::{connect_twin, send_connect};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{BoxFuture, CaseResult, Ctx, Failure, Precondition};

case! {
    /// A protocol version the broker does not accept is refused as its specification says: CONNACK 0x01 (3.1.1) or optionally 0x84 (5.0), then the connection closed
    REFUSAL = "version.refusal-as-specified",
    checks: [V5_3_1_2_2],
    unfaultable: "the reference broker speaks both versions; proven red by fake brokers that refuse a version without closing or with the wrong code (tests/engine_versions.rs)",
    tags: [ToBroker, ClientId],
    run: refusal,
}

fn refusal(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = send_connect(t.client("c")).await?;
        let v = t.protocol();
        let got = c.recv_raw(tokio::time::Instant::now() + c.timeout()).await;
        // Which answer is a refusal of the version, and by which specification.
        let (refused_with, statement) = match &got {
            Received::Packet(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => {
                return t.informational(format!(
                    "the broker accepts MQTT {v}: there is no refusal to judge"
                ));
            }
            Received::Packet(Packet::ConnAck(a))
                if a.reason_code == ReasonCode::UnsupportedProtocolVersion =>
            {
                // A 3.1.1 run gets return code 1 (decoded as UnsupportedProtocolVersion) only
                // from a server that speaks 3.1.1 after all; a 5.0 run gets 0x84 from a
                // server that refuses 5.0 in its layout.
                (
                    format!("CONNACK {:#04x}", if v.is_v5() { 0x84 } else { 0x01 }),
                    S::V5_3_1_2_2,
                )
            }
            Received::Malformed { bytes, .. }
                if !v.is_v5() && bytes.starts_with(&[0x20, 0x03, 0x00, 0x84]) =>
            {
                ("the MQTT 5.0 CONNACK 0x84".to_owned(), S::V5_3_1_2_2)
            }
            Received::Malformed { bytes, .. }
                if v.is_v5() && bytes.starts_with(&[0x20, 0x02, 0x00, 0x01]) =>
            {
                (
                    "the MQTT 3.1.1 CONNACK 20 02 00 01".to_owned(),
                    S::V311_3_1_2_2,
                )
            }
            Received::Packet(Packet::ConnAck(a)) => {
                return Err(Failure::inconclusive(
                    Precondition::Connect,
                    format!(
                        "the CONNECT was refused for another reason: {:?}",
                        a.reason_code
                    ),
                ));
            }
            other => {
                return Err(Failure::inconclusive(
                    Precondition::ProtocolUsable,
                    format!("no CONNACK to judge: {}", other.describe(v)),
                ));
            }
        };
        // The twin: the other version, from the same client, is accepted by this broker.
        let other = if v.is_v5() {
            ProtocolVersion::V311
        } else {
            ProtocolVersion::V5
        };
        // After a refusal the connection must close (both specifications).
        let after = c.recv_raw(tokio::time::Instant::now() + c.timeout()).await;
        connect_twin(t.client("c").protocol(other))
            .await?
            .disconnect()
            .await?;
        t.refusal_seen();
        t.check(
            after == Received::Closed,
            format!("{refused_with}, then the connection closed"),
            format!("{refused_with}, then {}", after.describe(v)),
        )
        .map_err(|f| f.statement(statement))?;
        t.pass()
    })
}
