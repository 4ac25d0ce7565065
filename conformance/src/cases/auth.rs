//! MQTT 5.0 enhanced authentication (4.12, 3.15): an Authentication Method the broker does
//! not offer is refused; AUTH from a client that did not start enhanced authentication is a
//! Protocol Error; and, where the broker offers SCRAM-SHA-256, the CONNECT / AUTH / CONNACK
//! exchange, its refusal for a wrong password, and re-authentication.

use bytes::Bytes;
use mqttspec_codec::{Auth, MqttString, Packet, Properties, ReasonCode, StatementId as S};
use mqttspec_reference_broker::scram::{ScramClient, ScramError, MECHANISM};

use super::shared::protocol_error_reply;
use crate::client::Received;
use crate::scenario::{BoxFuture, Capability, Case, CaseResult, Client, Ctx, Failure, Protocols};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        UNKNOWN_METHOD_REFUSED,
        AUTH_WITHOUT_ENHANCED_AUTH,
        AUTH_BEFORE_CONNACK_WITHOUT_METHOD,
        SCRAM_WRONG_PASSWORD_REFUSED,
        SCRAM_EXCHANGE,
        SCRAM_REAUTHENTICATION,
    ]
}

/// An AUTH packet with Authentication Method `method` and optional data.
fn auth_packet(code: ReasonCode, method: &str, data: Option<Vec<u8>>) -> Result<Packet, Failure> {
    let mut auth = Auth {
        reason_code: code,
        properties: Properties::default(),
    };
    auth.properties.authentication_method = Some(
        MqttString::new(method, "Authentication Method")
            .map_err(|e| Failure::error(format!("case error: {e}")))?,
    );
    auth.properties.authentication_data = data.map(Bytes::from);
    Ok(Packet::Auth(auth))
}

/// CONNECT properties starting enhanced authentication with `method` and `data`.
fn method_properties(method: &str, data: Vec<u8>) -> Result<Properties, Failure> {
    Ok(Properties {
        authentication_method: Some(
            MqttString::new(method, "Authentication Method")
                .map_err(|e| Failure::error(format!("case error: {e}")))?,
        ),
        authentication_data: Some(Bytes::from(data)),
        ..Properties::default()
    })
}

/// A SCRAM client nonce unique to the run.
fn nonce(t: &Ctx, name: &str) -> String {
    format!("mqttspec{}", t.client_id(name))
}

/// A SCRAM-SHA-256 client for `user`. Any iteration count from 1 up to 100,000 is taken:
/// choosing it is the server's business, not a conformance matter (the bound keeps the
/// key derivation short).
fn scram_client(t: &Ctx, name: &str, user: &str, password: &str) -> Result<ScramClient, Failure> {
    ScramClient::new(user, password, &nonce(t, name))
        .map(|c| c.with_iteration_range(1, 100_000))
        .map_err(|e| Failure::error(format!("case error: SCRAM client: {e}")))
}

/// Handles server-first: client-final, or why the exchange cannot go on (an iteration count
/// out of the client's range is ERROR; a message that is not SCRAM is FAIL).
fn client_final(scram: &mut ScramClient, server_first: &[u8]) -> Result<Vec<u8>, Failure> {
    scram
        .handle_server_first(server_first)
        .map_err(|e| match e {
            ScramError::IterationCount { count } => Failure::error(format!(
                "the server asks for {count} PBKDF2 iterations, more than this harness computes"
            )),
            other => Failure::fail("a valid SCRAM server-first message", format!("{other}")),
        })
}

/// Opens a connection and sends CONNECT starting enhanced authentication.
async fn connect_with_method(
    t: &Ctx,
    name: &str,
    method: &str,
    data: Vec<u8>,
) -> Result<Client, Failure> {
    let builder = t
        .client(name)
        .no_credentials()
        .properties(method_properties(method, data)?);
    let connect = builder.connect_packet()?;
    let mut c = builder.open().await?;
    c.send(&Packet::Connect(Box::new(connect))).await?;
    Ok(c)
}

/// Checks a server AUTH asking for more data: Reason Code 0x18 and the method of CONNECT;
/// returns its Authentication Data.
fn continue_data(t: &Ctx, auth: &Auth) -> Result<Vec<u8>, Failure> {
    t.check(
        auth.reason_code == ReasonCode::ContinueAuthentication,
        "AUTH with Reason Code 0x18 (Continue authentication)",
        format!("AUTH with {:?}", auth.reason_code),
    )
    .map_err(|f| f.statement(S::V5_4_12_0_2))?;
    check_method(t, auth.properties.authentication_method.as_ref(), "AUTH")?;
    Ok(auth
        .properties
        .authentication_data
        .as_ref()
        .map(|d| d.to_vec())
        .unwrap_or_default())
}

/// Checks that a server packet repeats the Authentication Method of CONNECT.
fn check_method(t: &Ctx, method: Option<&MqttString>, packet: &str) -> Result<(), Failure> {
    let got = method.map(|m| m.as_str().to_owned());
    t.check(
        got.as_deref() == Some(MECHANISM),
        format!("{packet} with Authentication Method {MECHANISM:?}"),
        format!("Authentication Method {got:?}"),
    )
    .map_err(|f| f.statement(S::V5_4_12_0_5))
}

/// The SCRAM-SHA-256 credentials from the profile.
fn profile_credentials(t: &Ctx) -> Result<(String, String), Failure> {
    let c = t
        .profile()
        .credentials
        .as_ref()
        .ok_or_else(|| Failure::error("the profile gives no credentials"))?;
    Ok((c.username.clone(), c.password.clone().unwrap_or_default()))
}

/// Runs a successful SCRAM-SHA-256 authentication of CONNECT and returns the connected
/// client; every step is checked.
async fn scram_connect(t: &Ctx, name: &str) -> Result<Client, Failure> {
    let (user, password) = profile_credentials(t)?;
    let mut scram = scram_client(t, name, &user, &password)?;
    let mut c = connect_with_method(t, name, MECHANISM, scram.client_first()).await?;
    let auth = c.expect_packet(mqttspec_codec::PacketType::Auth).await?;
    let Packet::Auth(auth) = auth else {
        return Err(Failure::error("case error: expected AUTH"));
    };
    let server_first = continue_data(t, &auth)?;
    let client_final = client_final(&mut scram, &server_first)?;
    c.send(&auth_packet(
        ReasonCode::ContinueAuthentication,
        MECHANISM,
        Some(client_final),
    )?)
    .await?;
    let ack = c.expect_packet(mqttspec_codec::PacketType::ConnAck).await?;
    let Packet::ConnAck(ack) = ack else {
        return Err(Failure::error("case error: expected CONNACK"));
    };
    t.check(
        ack.reason_code == ReasonCode::Success,
        "CONNACK 0x00 after a correct SCRAM-SHA-256 exchange",
        format!("CONNACK {:?}", ack.reason_code),
    )?;
    check_method(t, ack.properties.authentication_method.as_ref(), "CONNACK")?;
    let server_final = ack
        .properties
        .authentication_data
        .as_ref()
        .map(|d| d.to_vec())
        .unwrap_or_default();
    t.check(
        scram.handle_server_final(&server_final).is_ok(),
        "CONNACK Authentication Data with a SCRAM server-final that proves the server",
        "server-final missing or wrong",
    )?;
    Ok(c)
}

// ---------------------------------------------------------------------------------------

const UNKNOWN_METHOD_REFUSED: Case = Case {
    id: "auth.unknown-method-refused",
    title: "A CONNECT with an Authentication Method the broker does not support is refused and the connection closed",
    area: "Enhanced Authentication",
    statements: &[S::V5_4_12_0_1],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["accept-unknown-auth-method"],
    unfaultable: None,
    run: unknown_method_refused,
};

fn unknown_method_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let method = "x-mqttspec-no-such-method";
        let mut c = connect_with_method(&t, "c", method, b"hello".to_vec()).await?;
        match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::ConnAck(ack)) if ack.reason_code.is_error() => {
                t.checked();
                c.expect_closed()
                    .await
                    .map_err(|f| f.statement(S::V5_4_12_0_1))?;
                match ack.reason_code {
                    ReasonCode::BadAuthenticationMethod | ReasonCode::NotAuthorized => t.pass(),
                    other => t.informational(format!(
                        "refused with CONNACK {other:?} (the specification suggests 0x8C or 0x87)"
                    )),
                }
            }
            // Closing without CONNACK is allowed too.
            Received::Closed => {
                t.checked();
                t.pass()
            }
            Received::Packet(Packet::Auth(_)) => t.informational(format!(
                "the broker started an authentication exchange for the method {method:?}"
            )),
            Received::Packet(p @ Packet::ConnAck(_)) => Err(c
                .unmet(
                    "CONNACK 0x8C (Bad authentication method) or 0x87, or the connection closed",
                    Received::Packet(p),
                )
                .statement(S::V5_4_12_0_1)),
            other => Err(c
                .unmet(
                    "CONNACK refusing the method, or the connection closed",
                    other,
                )
                .statement(S::V5_4_12_0_1)),
        }
    })
}

// ---------------------------------------------------------------------------------------

const AUTH_WITHOUT_ENHANCED_AUTH: Case = Case {
    id: "auth.auth-without-enhanced-auth-is-protocol-error",
    title: "AUTH from a client whose CONNECT had no Authentication Method is a Protocol Error (DISCONNECT 0x82 first)",
    area: "Enhanced Authentication",
    statements: &[S::V5_4_12_0_7, S::V5_4_13_1_1],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["accept-unexpected-auth"],
    unfaultable: None,
    run: auth_without_enhanced_auth,
};

fn auth_without_enhanced_auth(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let first = ScramClient::new("mqttspec", "x", &nonce(&t, "c"))
            .map(|s| s.client_first())
            .unwrap_or_default();
        c.send(&auth_packet(
            ReasonCode::ReAuthenticate,
            MECHANISM,
            Some(first),
        )?)
        .await?;
        protocol_error_reply(&t, &mut c, &[ReasonCode::ProtocolError]).await
    })
}

// ---------------------------------------------------------------------------------------

const AUTH_BEFORE_CONNACK_WITHOUT_METHOD: Case = Case {
    id: "auth.auth-before-connack-without-method",
    title: "AUTH right after a CONNECT without Authentication Method is a Protocol Error: the connection is closed",
    area: "Enhanced Authentication",
    statements: &[S::V5_4_12_0_7, S::V5_4_13_1_1],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["accept-unexpected-auth"],
    unfaultable: None,
    run: auth_before_connack_without_method,
};

fn auth_before_connack_without_method(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let builder = t.client("c");
        let v = t.protocol();
        let connect = Packet::Connect(Box::new(builder.connect_packet()?));
        let auth = auth_packet(ReasonCode::ContinueAuthentication, MECHANISM, None)?;
        let mut bytes = Vec::new();
        for p in [&connect, &auth] {
            let encoded = p
                .encode(v)
                .map_err(|e| Failure::error(format!("case error: {e}")))?;
            bytes.extend_from_slice(&encoded);
        }
        let mut c = builder.open().await?;
        // Both in one write: the AUTH arrives before the broker can answer the CONNECT.
        c.send_raw(bytes).await?;
        match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => {
                t.checked();
                protocol_error_reply(&t, &mut c, &[ReasonCode::ProtocolError]).await
            }
            Received::Packet(Packet::ConnAck(_)) => {
                t.checked();
                c.expect_closed().await?;
                t.pass()
            }
            // No DISCONNECT is possible before CONNACK: a bare close is right.
            Received::Closed => {
                t.checked();
                t.pass()
            }
            other => Err(c
                .unmet(
                    "CONNACK then DISCONNECT 0x82, or the connection closed",
                    other,
                )
                .statement(S::V5_4_13_1_1)),
        }
    })
}

// ---------------------------------------------------------------------------------------

const SCRAM_WRONG_PASSWORD_REFUSED: Case = Case {
    id: "auth.scram-wrong-password-refused",
    title: "SCRAM-SHA-256 with a wrong password: AUTH 0x18 repeating the method, then a refusal and the close",
    area: "Enhanced Authentication",
    statements: &[S::V5_4_12_0_2, S::V5_4_12_0_4, S::V5_4_12_0_5],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["auth-continue-as-success"],
    unfaultable: None,
    run: scram_wrong_password_refused,
};

fn scram_wrong_password_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let user = t
            .profile()
            .credentials
            .as_ref()
            .map_or_else(|| "mqttspec".to_owned(), |c| c.username.clone());
        let wrong = format!("wrong-{}", t.client_id("c"));
        let mut scram = scram_client(&t, "c", &user, &wrong)?;
        let mut c = connect_with_method(&t, "c", MECHANISM, scram.client_first()).await?;
        let auth = match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::Auth(auth)) => auth,
            Received::Packet(Packet::ConnAck(ack))
                if matches!(
                    ack.reason_code,
                    ReasonCode::BadAuthenticationMethod | ReasonCode::NotAuthorized
                ) =>
            {
                return t.unsupported(format!(
                    "the broker does not offer {MECHANISM} (CONNACK {:?})",
                    ack.reason_code
                ));
            }
            // Refusing at once is allowed (4.12.0-4); the connection must close.
            Received::Packet(Packet::ConnAck(ack)) if ack.reason_code.is_error() => {
                t.checked();
                c.expect_closed().await?;
                return t.pass();
            }
            other => {
                return Err(c
                    .unmet("AUTH 0x18 (Continue authentication) or a refusal", other)
                    .statement(S::V5_4_12_0_2))
            }
        };
        let server_first = continue_data(&t, &auth)?;
        let client_final = client_final(&mut scram, &server_first)?;
        c.send(&auth_packet(
            ReasonCode::ContinueAuthentication,
            MECHANISM,
            Some(client_final),
        )?)
        .await?;
        match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::ConnAck(ack)) if ack.reason_code.is_error() => {
                t.checked();
                c.expect_closed()
                    .await
                    .map_err(|f| f.statement(S::V5_4_12_0_4))?;
                t.pass()
            }
            Received::Closed => {
                t.checked();
                t.pass()
            }
            other => Err(c
                .unmet(
                    "CONNACK with an error code (the wrong password refused), or the connection closed",
                    other,
                )
                .statement(S::V5_4_12_0_4)),
        }
    })
}

// ---------------------------------------------------------------------------------------

const SCRAM_EXCHANGE: Case = Case {
    id: "auth.scram-exchange",
    title: "SCRAM-SHA-256: CONNECT with client-first, AUTH 0x18 with server-first, AUTH 0x18 with client-final, CONNACK 0x00 with server-final, every step naming the method",
    area: "Enhanced Authentication",
    statements: &[S::V5_4_12_0_2, S::V5_4_12_0_3, S::V5_4_12_0_5],
    protocols: Protocols::V5,
    requires: &[Capability::EnhancedAuth(MECHANISM), Capability::Credentials],
    faults: &["auth-continue-as-success"],
    unfaultable: None,
    run: scram_exchange,
};

fn scram_exchange(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = scram_connect(&t, "c").await?;
        c.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SCRAM_REAUTHENTICATION: Case = Case {
    id: "auth.scram-reauthentication",
    title: "Re-authentication with AUTH 0x19 runs a new SCRAM-SHA-256 exchange ending in AUTH 0x00, while other packets keep flowing",
    area: "Enhanced Authentication",
    statements: &[S::V5_4_12_1_1, S::V5_4_12_1_2, S::V5_4_12_0_2, S::V5_4_12_0_5],
    protocols: Protocols::V5,
    requires: &[Capability::EnhancedAuth(MECHANISM), Capability::Credentials],
    faults: &["auth-continue-as-success"],
    unfaultable: None,
    run: scram_reauthentication,
};

fn scram_reauthentication(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = scram_connect(&t, "c").await?;
        let (user, password) = profile_credentials(&t)?;
        let mut scram = scram_client(&t, "again", &user, &password)?;
        c.send(&auth_packet(
            ReasonCode::ReAuthenticate,
            MECHANISM,
            Some(scram.client_first()),
        )?)
        .await?;
        // Other packets still flow during re-authentication.
        c.alive().await?;
        let auth = match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::Auth(auth)) => auth,
            Received::Packet(Packet::Disconnect(d)) if d.reason_code.is_error() => {
                t.checked();
                c.expect_closed()
                    .await
                    .map_err(|f| f.statement(S::V5_4_12_1_2))?;
                return t.informational(format!(
                    "the broker refused re-authentication with DISCONNECT {:?}",
                    d.reason_code
                ));
            }
            other => return Err(c.unmet("AUTH 0x18 (Continue authentication)", other)),
        };
        let server_first = continue_data(&t, &auth)?;
        let client_final = client_final(&mut scram, &server_first)?;
        c.send(&auth_packet(
            ReasonCode::ContinueAuthentication,
            MECHANISM,
            Some(client_final),
        )?)
        .await?;
        let done = c.expect_packet(mqttspec_codec::PacketType::Auth).await?;
        let Packet::Auth(done) = done else {
            return t.error("case error: expected AUTH");
        };
        t.check(
            done.reason_code == ReasonCode::Success,
            "AUTH 0x00 (Success) ending the re-authentication",
            format!("AUTH {:?}", done.reason_code),
        )?;
        check_method(&t, done.properties.authentication_method.as_ref(), "AUTH")?;
        let server_final = done
            .properties
            .authentication_data
            .as_ref()
            .map(|d| d.to_vec())
            .unwrap_or_default();
        t.check(
            scram.handle_server_final(&server_final).is_ok(),
            "AUTH Authentication Data with a SCRAM server-final that proves the server",
            "server-final missing or wrong",
        )?;
        c.alive().await?;
        t.pass()
    })
}
