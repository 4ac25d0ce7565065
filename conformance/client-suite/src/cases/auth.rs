//! Enhanced authentication (MQTT 5.0 section 4.12), the client's side: the scripted broker
//! runs one challenge/response round. The application connects with an Authentication Method
//! and data, the server answers with AUTH (0x18 Continue authentication) carrying a
//! challenge, the application answers it (the adapter's `auth` command), and the client must
//! send that answer as AUTH with Reason Code 0x18 (MQTT-4.12.0-3) and the same Authentication
//! Method as its CONNECT (MQTT-4.12.0-5), and nothing but AUTH or DISCONNECT before the
//! CONNACK (MQTT-3.1.2-30). The CONNACK then accepts, with the method again.

use mqttspec_codec::{
    Auth, AuthProperties, ConnAckProperties, MqttString, Packet, ReasonCode, StatementId as S,
};
use mqttspec_harness::verdict::{Outcome, Precondition};
use serde_json::json;

use crate::broker::Received;
use crate::case::{CaseFuture, ClientCase, Ctx, Role};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[ClientCase {
    id: "auth.challenge-answered-with-continue",
    title: "the client answers the server's AUTH challenge with AUTH 0x18 and its Authentication Method, and sends nothing else before CONNACK",
    checks: &[S::V5_4_12_0_3, S::V5_4_12_0_5, S::V5_3_1_2_30],
    faults: &[
        Fault::AuthSuccessReasonCode,
        Fault::AuthOtherMethod,
        Fault::PingDuringAuth,
    ],
    run: challenge,
}];

/// The method of the scripted exchange (any name the client does not have to know).
const METHOD: &str = "MQTTSPEC-CHALLENGE";

fn auth_packet(code: ReasonCode, data: &'static [u8]) -> Result<Packet, Outcome> {
    let props = AuthProperties {
        authentication_method: Some(
            MqttString::new(METHOD, "Authentication Method")
                .map_err(|e| Outcome::error(e.to_string()))?,
        ),
        authentication_data: Some(bytes::Bytes::from_static(data)),
        ..AuthProperties::default()
    };
    Ok(Packet::Auth(Auth {
        reason_code: code,
        properties: props.into(),
    }))
}

fn challenge(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, connect) = s
            .connect(json!({
                "authentication_method": METHOD,
                "authentication_data_hex": hex::encode(b"hello"),
            }))
            .await?;
        let method = connect
            .properties
            .authentication_method
            .as_ref()
            .map(|m| m.as_str().to_owned());
        if method.as_deref() != Some(METHOD) {
            return Err(Outcome::inconclusive(
                Precondition::ConnectOptions,
                format!("the CONNECT does not carry the Authentication Method {METHOD:?} the application gave: {method:?}"),
            ));
        }
        conn.send(&auth_packet(
            ReasonCode::ContinueAuthentication,
            b"challenge",
        )?)
        .await;
        s.expect_event("auth", Role::Setup(Precondition::Connect))
            .await?;
        s.command(json!({"cmd": "auth", "authentication_data_hex": hex::encode(b"response")}))
            .await;
        let answer = match conn.recv(t.timing.response).await {
            Received::Packet(Packet::Auth(a)) => a,
            Received::Packet(Packet::Disconnect(d)) => {
                return Err(Outcome::inconclusive(
                    Precondition::Connect,
                    format!(
                        "the client gave up the authentication: DISCONNECT {}",
                        d.reason_code
                    ),
                ))
            }
            Received::Packet(p) => {
                return Err(Outcome::fail(
                    "only AUTH or DISCONNECT from the client until the CONNACK",
                    format!(
                        "{} during the authentication exchange",
                        p.packet_type().name()
                    ),
                )
                .statement(S::V5_3_1_2_30))
            }
            other => {
                return Err(Outcome::inconclusive(
                    Precondition::Connect,
                    format!(
                        "no AUTH answer from the client: {}",
                        other.describe(conn.version())
                    ),
                ))
            }
        };
        if answer.reason_code != ReasonCode::ContinueAuthentication {
            return Err(Outcome::fail(
                "the client's AUTH answer carries Reason Code 0x18 (Continue authentication)",
                format!("Reason Code {}", answer.reason_code),
            )
            .statement(S::V5_4_12_0_3));
        }
        let answered = answer
            .properties
            .authentication_method
            .as_ref()
            .map(|m| m.as_str().to_owned());
        if answered.as_deref() != Some(METHOD) {
            return Err(Outcome::fail(
                format!("the client's AUTH carries the Authentication Method of its CONNECT, {METHOD:?}"),
                format!("{answered:?}"),
            )
            .statement(S::V5_4_12_0_5));
        }
        let props = ConnAckProperties {
            authentication_method: Some(
                MqttString::new(METHOD, "Authentication Method")
                    .map_err(|e| Outcome::error(e.to_string()))?,
            ),
            ..ConnAckProperties::default()
        };
        conn.connack(false, ReasonCode::Success, props).await;
        s.expect_event("connack", Role::Setup(Precondition::Connect))
            .await?;
        t.pass()
    })
}
