//! MQTT 5.0 enhanced authentication (4.12, 3.15): an Authentication Method the broker does
//! not offer is refused; AUTH from a client that did not start enhanced authentication is a
//! Protocol Error; and, where the broker offers SCRAM-SHA-256, the CONNECT / AUTH / CONNACK
//! exchange, its refusal for a wrong password, and re-authentication.
//!
//! Every verdict that rests on a refusal has its twin accepted in the same case: the same
//! client without the offending Authentication Method or AUTH, or (for a wrong SCRAM password)
//! the same exchange with the right one. A broker that refuses the valid exchange of the
//! profile's user makes the case INCONCLUSIVE: a server may refuse a CONNECT for reasons of
//! its own (3.1.4).

use bytes::Bytes;
use mqttspec_codec::{Auth, ConnectProperties, MqttString, Packet, ReasonCode, StatementId as S};
use mqttspec_reference_broker::scram::{ScramClient, ScramError, MECHANISM};

use super::support::{connect_twin, expect_connection_closed, send_connect, text};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{
    BoxFuture, CaseResult, Client, ClientBuilder, Ctx, Failure, Precondition, Role,
};

/// An AUTH packet with Authentication Method `method` and optional data.
fn auth_packet(code: ReasonCode, method: &str, data: Option<Vec<u8>>) -> Result<Packet, Failure> {
    let mut auth = Auth {
        reason_code: code,
        properties: Default::default(),
    };
    auth.properties.authentication_method = Some(text(method, "Authentication Method")?);
    auth.properties.authentication_data = data.map(Bytes::from);
    Ok(Packet::Auth(auth))
}

/// CONNECT properties starting enhanced authentication with `method` and `data`.
fn method_properties(method: &str, data: Vec<u8>) -> Result<ConnectProperties, Failure> {
    Ok(ConnectProperties {
        authentication_method: Some(text(method, "Authentication Method")?),
        authentication_data: Some(Bytes::from(data)),
        ..ConnectProperties::default()
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
            // What Authentication Data carries is the method's business, not MQTT's (4.12):
            // a server-first this harness cannot read breaks no MQTT statement.
            other => Failure::inconclusive(
                Precondition::Other,
                format!(
                    "the server-first message is not SCRAM-SHA-256 as this harness reads it ({other}); MQTT leaves Authentication Data to the method"
                ),
            ),
        })
}

/// Opens a connection for `builder` and sends its CONNECT, starting enhanced authentication
/// with `method` and `data`.
async fn connect_with_method(
    builder: ClientBuilder,
    method: &str,
    data: Vec<u8>,
) -> Result<Client, Failure> {
    send_connect(builder.properties(method_properties(method, data)?)).await
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

/// INCONCLUSIVE: the broker refused (or never answered) the valid SCRAM-SHA-256 exchange of
/// the profile's user; `what` says how.
fn valid_exchange_refused(what: String) -> Failure {
    Failure::inconclusive(
        Precondition::Other,
        format!(
            "the broker did not accept the SCRAM-SHA-256 exchange of the profile's user ({what}); a server may refuse a CONNECT for reasons of its own"
        ),
    )
}

/// Runs a successful SCRAM-SHA-256 authentication of CONNECT with the profile's credentials
/// and returns the connected client. With `Role::Check` every step is checked; with
/// `Role::TWIN` it is the twin of a refused exchange and any failure is INCONCLUSIVE. A
/// refusal of this valid exchange is INCONCLUSIVE either way.
async fn scram_connect(t: &Ctx, name: &str, role: Role) -> Result<Client, Failure> {
    let c = scram_connect_steps(t, name)
        .await
        .map_err(|f| role.classify(f))?;
    t.succeeded(role);
    Ok(c)
}

async fn scram_connect_steps(t: &Ctx, name: &str) -> Result<Client, Failure> {
    let (user, password) = profile_credentials(t)?;
    let mut scram = scram_client(t, name, &user, &password)?;
    let builder = t.client(name).no_credentials();
    let mut c = connect_with_method(builder, MECHANISM, scram.client_first()).await?;
    let v = t.protocol();
    let auth = match c.recv(t.response_timeout()).await {
        Received::Packet(Packet::Auth(auth)) => auth,
        Received::Packet(p @ Packet::ConnAck(_)) if is_connack_refusal(&p) => {
            return Err(valid_exchange_refused(
                mqttspec_harness::client::summary::packet(&p, v),
            ))
        }
        Received::Closed => {
            return Err(valid_exchange_refused(
                "the connection closed after CONNECT".to_owned(),
            ))
        }
        Received::Timeout => return Err(valid_exchange_refused("no answer to CONNECT".to_owned())),
        // Accepting without asking for more data breaks no MQTT statement (the server "can"
        // send AUTH, 4.12); the CONNACK must still repeat the method (MQTT-4.12.0-5), but
        // there is no exchange to check.
        Received::Packet(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => {
            check_method(t, ack.properties.authentication_method.as_ref(), "CONNACK")?;
            return Err(Failure::inconclusive(
                Precondition::Other,
                format!("the broker accepted the CONNECT starting {MECHANISM} without an AUTH exchange: no exchange to check"),
            ));
        }
        other => {
            return Err(c
                .unmet("AUTH 0x18 (Continue authentication)", other)
                .statement(S::V5_4_12_0_2))
        }
    };
    let server_first = continue_data(t, &auth)?;
    let client_final = client_final(&mut scram, &server_first)?;
    c.send(&auth_packet(
        ReasonCode::ContinueAuthentication,
        MECHANISM,
        Some(client_final),
    )?)
    .await?;
    let ack = match c.recv(t.response_timeout()).await {
        Received::Packet(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => ack,
        Received::Packet(p @ Packet::ConnAck(_)) => {
            return Err(valid_exchange_refused(format!(
                "{} after the right client-final",
                mqttspec_harness::client::summary::packet(&p, v)
            )))
        }
        Received::Closed => {
            return Err(valid_exchange_refused(
                "the connection closed after the right client-final".to_owned(),
            ))
        }
        Received::Timeout => {
            return Err(valid_exchange_refused(
                "no answer to the client-final".to_owned(),
            ))
        }
        other => return Err(c.unmet("CONNACK 0x00 after a correct SCRAM-SHA-256 exchange", other)),
    };
    t.checked();
    c.set_connack(ack.clone());
    check_method(t, ack.properties.authentication_method.as_ref(), "CONNACK")?;
    let server_final = ack
        .properties
        .authentication_data
        .as_ref()
        .map(|d| d.to_vec())
        .unwrap_or_default();
    server_final_proves(&mut scram, &server_final, "CONNACK")?;
    Ok(c)
}

/// Checks the SCRAM server-final that `packet` carried. A missing or wrong one is
/// INCONCLUSIVE, not FAIL: MQTT leaves the content of Authentication Data to the method
/// (4.12), so no MQTT statement is broken; the exchange just cannot be judged complete.
fn server_final_proves(
    scram: &mut ScramClient,
    server_final: &[u8],
    packet: &str,
) -> Result<(), Failure> {
    if scram.handle_server_final(server_final).is_ok() {
        return Ok(());
    }
    Err(Failure::inconclusive(
        Precondition::Other,
        format!(
            "{packet} Authentication Data carried no SCRAM server-final that proves the server; MQTT leaves Authentication Data to the method"
        ),
    ))
}

/// Whether `p` is a CONNACK refusing the connection.
fn is_connack_refusal(p: &Packet) -> bool {
    matches!(p, Packet::ConnAck(a) if a.reason_code.is_error())
}

// ---------------------------------------------------------------------------------------

case! {
    /// A CONNECT with an Authentication Method the broker does not support is refused and the connection closed
    UNKNOWN_METHOD_REFUSED = "auth.unknown-method-refused",
    checks: [V5_4_12_0_1],
    only: V5,
    faults: [AcceptUnknownAuthMethod],
    tags: [Auth, ToBroker],
    run: unknown_method_refused,
}

fn unknown_method_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let method = "x-mqttspec-no-such-method";
        // The twin: the same client without the Authentication Method is accepted.
        connect_twin(t.client("c")).await?.disconnect().await?;
        let mut c = connect_with_method(t.client("c"), method, b"hello".to_vec()).await?;
        match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::ConnAck(ack)) if ack.reason_code.is_error() => {
                t.checked();
                t.refusal_seen();
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
                t.refusal_seen();
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

case! {
    /// AUTH from a client whose CONNECT had no Authentication Method is a Protocol Error (DISCONNECT 0x82 first)
    AUTH_WITHOUT_ENHANCED_AUTH = "auth.auth-without-enhanced-auth-is-protocol-error",
    checks: [V5_4_12_0_7, V5_4_13_1_1],
    only: V5,
    faults: [AcceptUnexpectedAuth],
    tags: [Auth, ToBroker],
    run: auth_without_enhanced_auth,
}

fn auth_without_enhanced_auth(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        // The twin: the same connection is served while it sends well-formed packets.
        c.alive().as_twin().await?;
        let first = ScramClient::new("mqttspec", "x", &nonce(&t, "c"))
            .map(|s| s.client_first())
            .unwrap_or_default();
        c.send(&auth_packet(
            ReasonCode::ReAuthenticate,
            MECHANISM,
            Some(first),
        )?)
        .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::ProtocolError]).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// AUTH right after a CONNECT without Authentication Method is a Protocol Error: the connection is closed
    AUTH_BEFORE_CONNACK_WITHOUT_METHOD = "auth.auth-before-connack-without-method",
    checks: [V5_4_12_0_7, V5_4_13_1_1],
    only: V5,
    faults: [AcceptUnexpectedAuth],
    tags: [Auth, ToBroker],
    run: auth_before_connack_without_method,
}

fn auth_before_connack_without_method(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The twin: the same CONNECT without the AUTH behind it is accepted.
        connect_twin(t.client("c")).await?.disconnect().await?;
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
                expect_connection_closed(&t, &mut c, &[ReasonCode::ProtocolError]).await
            }
            Received::Packet(Packet::ConnAck(_)) => {
                t.checked();
                t.refusal_seen();
                c.expect_closed().await?;
                t.pass()
            }
            // No DISCONNECT is possible before CONNACK: a bare close is right.
            Received::Closed => {
                t.checked();
                t.refusal_seen();
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

case! {
    /// SCRAM-SHA-256 with a wrong password: AUTH 0x18 repeating the method, then a refusal and the close
    SCRAM_WRONG_PASSWORD_REFUSED = "auth.scram-wrong-password-refused",
    checks: [V5_4_12_0_2, V5_4_12_0_4, V5_4_12_0_5],
    only: V5,
    requires: [EnhancedAuth(MECHANISM), Credentials],
    faults: [AuthContinueAsSuccess],
    tags: [Auth, Credentials],
    run: scram_wrong_password_refused,
}

fn scram_wrong_password_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (user, _) = profile_credentials(&t)?;
        let wrong = format!("wrong-{}", t.client_id("c"));
        let mut scram = scram_client(&t, "c", &user, &wrong)?;
        let builder = t.client("c").no_credentials();
        let mut c = connect_with_method(builder, MECHANISM, scram.client_first()).await?;
        let auth = match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::Auth(auth)) => auth,
            Received::Packet(Packet::ConnAck(ack))
                if ack.reason_code == ReasonCode::BadAuthenticationMethod =>
            {
                return t.unsupported(format!(
                    "the broker does not offer {MECHANISM} (CONNACK {:?})",
                    ack.reason_code
                ));
            }
            // Refusing at once is allowed (4.12.0-4); the connection must close.
            Received::Packet(Packet::ConnAck(ack)) if ack.reason_code.is_error() => {
                t.checked();
                t.refusal_seen();
                c.expect_closed()
                    .await
                    .map_err(|f| f.statement(S::V5_4_12_0_4))?;
                return refusal_with_twin(&t).await;
            }
            Received::Closed => {
                t.checked();
                t.refusal_seen();
                return refusal_with_twin(&t).await;
            }
            // Accepted without a challenge: a successful CONNACK must still name the method.
            Received::Packet(Packet::ConnAck(ack)) => {
                check_method(&t, ack.properties.authentication_method.as_ref(), "CONNACK")?;
                return accepted_wrong_password(&t);
            }
            Received::Timeout => {
                return Err(Failure::inconclusive(
                    Precondition::Other,
                    "no answer to a CONNECT starting SCRAM-SHA-256",
                ))
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
                t.refusal_seen();
                c.expect_closed()
                    .await
                    .map_err(|f| f.statement(S::V5_4_12_0_4))?;
                refusal_with_twin(&t).await
            }
            Received::Closed => {
                t.checked();
                t.refusal_seen();
                refusal_with_twin(&t).await
            }
            Received::Packet(Packet::ConnAck(ack)) => {
                check_method(&t, ack.properties.authentication_method.as_ref(), "CONNACK")?;
                accepted_wrong_password(&t)
            }
            Received::Timeout => Err(Failure::inconclusive(
                Precondition::Other,
                "no answer to the client-final message of a wrong password",
            )),
            other => Err(c
                .unmet(
                    "CONNACK with an error code (the wrong password refused), or the connection closed",
                    other,
                )
                .statement(S::V5_4_12_0_4)),
        }
    })
}

/// PASS for a refused wrong password once the twin, the same exchange with the profile's
/// right password, is accepted (and the connection served).
async fn refusal_with_twin(t: &Ctx) -> CaseResult {
    let mut twin = scram_connect(t, "twin", Role::TWIN).await?;
    twin.alive().as_twin().await?;
    t.pass()
}

/// A successful CONNACK for a wrong SCRAM password: MQTT leaves the meaning of the
/// authentication data to the method (4.12), so accepting it is the broker's policy, as
/// with a wrong Password (see `connect.bad-credentials-refused`).
fn accepted_wrong_password(t: &Ctx) -> CaseResult {
    t.informational(format!("the broker accepted a wrong {MECHANISM} password"))
}

// ---------------------------------------------------------------------------------------

case! {
    /// SCRAM-SHA-256: CONNECT with client-first, AUTH 0x18 with server-first, AUTH 0x18 with client-final, CONNACK 0x00 with server-final, every step naming the method
    SCRAM_EXCHANGE = "auth.scram-exchange",
    checks: [V5_4_12_0_2, V5_4_12_0_3, V5_4_12_0_5],
    only: V5,
    requires: [EnhancedAuth(MECHANISM), Credentials],
    faults: [AuthContinueAsSuccess],
    tags: [Auth, Credentials],
    run: scram_exchange,
}

fn scram_exchange(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = scram_connect(&t, "c", Role::Check).await?;
        c.alive().as_setup(Precondition::Ping).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Re-authentication with AUTH 0x19 runs a new SCRAM-SHA-256 exchange ending in AUTH 0x00, while other packets keep flowing
    SCRAM_REAUTHENTICATION = "auth.scram-reauthentication",
    checks: [V5_4_12_1_1, V5_4_12_1_2, V5_4_12_0_2, V5_4_12_0_5],
    only: V5,
    requires: [EnhancedAuth(MECHANISM), Credentials],
    faults: [AuthContinueAsSuccess],
    tags: [Auth, Credentials],
    run: scram_reauthentication,
}

fn scram_reauthentication(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = scram_connect(&t, "c", Role::Check).await?;
        // The twin of a refused re-authentication: the authenticated connection is served.
        c.alive().as_twin().await?;
        let (user, password) = profile_credentials(&t)?;
        let mut scram = scram_client(&t, "again", &user, &password)?;
        c.send(&auth_packet(
            ReasonCode::ReAuthenticate,
            MECHANISM,
            Some(scram.client_first()),
        )?)
        .await?;
        let auth = match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::Auth(auth)) => auth,
            // Refusing re-authentication is the broker's choice; it must then close, and
            // should send DISCONNECT first (4.12.1-2).
            Received::Packet(Packet::Disconnect(d)) if d.reason_code.is_error() => {
                t.checked();
                t.refusal_seen();
                c.expect_closed()
                    .await
                    .map_err(|f| f.statement(S::V5_4_12_1_2))?;
                return t.informational(format!(
                    "the broker refused re-authentication with DISCONNECT {:?}",
                    d.reason_code
                ));
            }
            Received::Closed => {
                t.refusal_seen();
                return t.non_strict(
                    "DISCONNECT with a reason code before closing on a refused re-authentication",
                    "the connection closed without DISCONNECT",
                );
            }
            // The server's answer to AUTH 0x19 is described in untagged text (4.12.1): its
            // silence breaks no MUST, so the exchange cannot be checked.
            Received::Timeout => {
                return Err(Failure::inconclusive(
                    Precondition::Other,
                    format!(
                        "no answer to AUTH 0x19 (Re-authenticate) within {} ms: the re-authentication exchange could not be observed",
                        t.response_timeout().as_millis()
                    ),
                ))
            }
            other => {
                return Err(c
                    .unmet("AUTH 0x18 (Continue authentication)", other)
                    .statement(S::V5_4_12_0_2))
            }
        };
        let server_first = continue_data(&t, &auth)?;
        // Other packets still flow while the re-authentication is in progress.
        c.alive().as_setup(Precondition::Ping).await?;
        let client_final = client_final(&mut scram, &server_first)?;
        c.send(&auth_packet(
            ReasonCode::ContinueAuthentication,
            MECHANISM,
            Some(client_final),
        )?)
        .await?;
        let done = match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::Auth(done)) => done,
            // Refusing the right credentials is the broker's choice (as for CONNECT, 3.1.4);
            // it must then close (MQTT-4.12.1-2).
            Received::Packet(Packet::Disconnect(d)) if d.reason_code.is_error() => {
                t.refusal_seen();
                c.expect_closed()
                    .await
                    .map_err(|f| f.statement(S::V5_4_12_1_2))?;
                return Err(Failure::inconclusive(
                    Precondition::Other,
                    format!(
                        "the broker refused the re-authentication with the profile's credentials (DISCONNECT {:?})",
                        d.reason_code
                    ),
                ));
            }
            Received::Closed => {
                return Err(Failure::inconclusive(
                    Precondition::Other,
                    "the connection closed after the right client-final: the re-authentication was refused",
                ))
            }
            // Untagged text (4.12.1) describes the server's answer: silence breaks no MUST.
            Received::Timeout => {
                return Err(Failure::inconclusive(
                    Precondition::Other,
                    format!(
                        "no answer to the re-authentication client-final within {} ms",
                        t.response_timeout().as_millis()
                    ),
                ))
            }
            other => {
                return Err(c
                    .unmet("AUTH ending the re-authentication", other)
                    .statement(S::V5_4_12_0_2))
            }
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
        server_final_proves(&mut scram, &server_final, "AUTH")?;
        c.alive().as_setup(Precondition::Ping).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A client that names no Authentication Method gets no Authentication Method in CONNACK and no AUTH
    NO_METHOD_NO_AUTH = "auth.no-method-no-auth-from-server",
    checks: [V5_4_12_0_6],
    only: V5,
    faults: [UnrequestedAuthMethod],
    tags: [Auth, FromBroker],
    run: no_method_no_auth,
}

fn no_method_no_auth(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let Some(ack) = c.connack().cloned() else {
            return t.error("case error: no CONNACK kept");
        };
        let method = ack.properties.authentication_method.as_ref();
        t.check(
            method.is_none() && ack.properties.authentication_data.is_none(),
            "CONNACK without Authentication Method or Data (CONNECT had no Authentication Method)",
            format!(
                "CONNACK with Authentication Method {:?}",
                method.map(|m| m.as_str())
            ),
        )
        .map_err(|f| f.statement(S::V5_4_12_0_6))?;
        // Nothing before the PINGRESP may be AUTH.
        c.send(&Packet::PingReq).await?;
        loop {
            match c.recv(t.response_timeout()).await {
                Received::Packet(Packet::PingResp) => break,
                Received::Packet(p @ Packet::Auth(_)) => {
                    return Err(c
                        .unmet(
                            "no AUTH to a client whose CONNECT had no Authentication Method",
                            Received::Packet(p),
                        )
                        .statement(S::V5_4_12_0_6))
                }
                Received::Packet(_) => continue,
                other => {
                    return Err(Role::Setup(Precondition::Ping).classify(c.unmet("PINGRESP", other)))
                }
            }
        }
        t.checked();
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

/// Sends a CONNECT with an Authentication Method no broker offers, after its twin without
/// it was accepted; returns the connection.
async fn connect_unknown_method(t: &Ctx) -> Result<Client, Failure> {
    connect_twin(t.client("c")).await?.disconnect().await?;
    connect_with_method(
        t.client("c"),
        "x-mqttspec-no-such-method",
        b"hello".to_vec(),
    )
    .await
}

/// INCONCLUSIVE: the broker did not refuse the unknown Authentication Method with CONNACK.
fn not_refused(t: &Ctx, got: &Received) -> Failure {
    Failure::inconclusive(
        Precondition::Other,
        format!(
            "a CONNECT with an unknown Authentication Method was answered by {}: no refusal to observe",
            got.describe(t.protocol())
        ),
    )
}

case! {
    /// A CONNECT refused for an unknown Authentication Method gets CONNACK (or a bare close), never DISCONNECT before a successful CONNACK
    NO_DISCONNECT_BEFORE_CONNACK = "auth.no-disconnect-before-connack",
    checks: [V5_3_14_0_1],
    only: V5,
    faults: [DisconnectBeforeConnack],
    tags: [Auth, FromBroker],
    run: no_disconnect_before_connack,
}

fn no_disconnect_before_connack(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = connect_unknown_method(&t).await?;
        loop {
            match c.recv(t.response_timeout()).await {
                got @ Received::Packet(Packet::Disconnect(_)) => {
                    return Err(c
                        .unmet(
                            "CONNACK refusing the method, or the connection closed, and no DISCONNECT (no successful CONNACK was sent)",
                            got,
                        )
                        .statement(S::V5_3_14_0_1))
                }
                // A refusing CONNACK: whatever follows it must not be DISCONNECT either.
                Received::Packet(Packet::ConnAck(ack)) if ack.reason_code.is_error() => {
                    t.checked();
                    t.refusal_seen();
                }
                Received::Closed => {
                    t.checked();
                    t.refusal_seen();
                    return t.pass();
                }
                other => return Err(not_refused(&t, &other)),
            }
        }
    })
}

case! {
    /// After CONNACK with a Reason Code of 0x80 or more (an unknown Authentication Method) the connection is closed
    REFUSAL_CLOSES = "auth.refusal-closes-connection",
    checks: [V5_4_13_2_1],
    only: V5,
    faults: [OpenAfterRefusal],
    tags: [Auth, FromBroker],
    run: refusal_closes,
}

fn refusal_closes(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = connect_unknown_method(&t).await?;
        match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::ConnAck(ack)) if ack.reason_code.is_error() => {
                t.checked();
                t.refusal_seen();
                c.expect_closed()
                    .await
                    .map_err(|f| f.statement(S::V5_4_13_2_1))?;
                t.pass()
            }
            // Closed without CONNACK: closed all the same.
            Received::Closed => {
                t.checked();
                t.refusal_seen();
                t.pass()
            }
            other => Err(not_refused(&t, &other)),
        }
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The AUTH carrying SCRAM-SHA-256 server-first has reserved fixed header flags 0 and an AUTH Reason Code
    SERVER_AUTH_WELL_FORMED = "auth.server-auth-well-formed",
    checks: [V5_3_15_1_1, V5_3_15_2_1],
    only: V5,
    requires: [EnhancedAuth(MECHANISM), Credentials],
    faults: [MalformedAuthFlags, AuthReasonOutOfTable],
    tags: [Auth, Credentials, FromBroker],
    run: server_auth_well_formed,
}

fn server_auth_well_formed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (user, password) = profile_credentials(&t)?;
        let scram = scram_client(&t, "c", &user, &password)?;
        let builder = t.client("c").no_credentials();
        let mut c = connect_with_method(builder, MECHANISM, scram.client_first()).await?;
        match c.recv(t.response_timeout()).await {
            Received::Packet(Packet::Auth(auth)) => {
                // The strict decoder checked the flags and the Reason Code already.
                t.check(
                    matches!(
                        auth.reason_code,
                        ReasonCode::Success
                            | ReasonCode::ContinueAuthentication
                            | ReasonCode::ReAuthenticate
                    ),
                    "AUTH with Reason Code 0x00, 0x18 or 0x19",
                    format!("AUTH {:?}", auth.reason_code),
                )
                .map_err(|f| f.statement(S::V5_3_15_2_1))?;
                t.pass()
            }
            got @ Received::Malformed { .. } => {
                Err(c.unmet("a well-formed AUTH (Continue authentication)", got))
            }
            other => Err(Failure::inconclusive(
                Precondition::Other,
                format!(
                    "a CONNECT starting {MECHANISM} was answered by {}, not AUTH: no server AUTH to check",
                    other.describe(t.protocol())
                ),
            )),
        }
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// U+FEFF in the Authentication Method (before, inside or after a method the broker offers) is kept: the CONNECT is refused like any unknown method, not taken for the offered one
    METHOD_BOM_KEPT = "auth.method-bom-kept",
    checks: [V5_1_5_4_3],
    only: V5,
    requires: [EnhancedAuth(MECHANISM), Credentials],
    faults: [StripBomFromAuthMethod],
    tags: [Auth, ToBroker],
    run: method_bom_kept,
}

/// What the broker made of a CONNECT starting enhanced authentication.
enum MethodReply {
    /// It started the method's exchange (AUTH) or accepted the CONNECT.
    Taken,
    /// CONNACK with an error code, or the connection closed.
    Refused,
}

/// Sends a CONNECT starting SCRAM-SHA-256's exchange for the profile's user, but naming
/// `method`, and reads the answer (no answer, or any other packet, is INCONCLUSIVE).
async fn method_reply(t: &Ctx, name: &str, method: &str) -> Result<MethodReply, Failure> {
    let (user, password) = profile_credentials(t)?;
    let scram = scram_client(t, name, &user, &password)?;
    let builder = t.client(name).no_credentials();
    let mut c = connect_with_method(builder, method, scram.client_first()).await?;
    match c.recv(t.response_timeout()).await {
        Received::Packet(Packet::Auth(_)) => Ok(MethodReply::Taken),
        Received::Packet(Packet::ConnAck(ack)) if !ack.reason_code.is_error() => {
            Ok(MethodReply::Taken)
        }
        Received::Packet(Packet::ConnAck(_)) | Received::Closed => Ok(MethodReply::Refused),
        other => Err(Failure::inconclusive(
            Precondition::Other,
            format!(
                "a CONNECT with Authentication Method {method:?} was answered by {}",
                other.describe(t.protocol())
            ),
        )),
    }
}

fn method_bom_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The twin: the offered method itself starts its exchange.
        if let MethodReply::Refused = method_reply(&t, "twin", MECHANISM).await? {
            return t.inconclusive(
                Precondition::Twin,
                format!("the broker refused a CONNECT starting {MECHANISM}, the method the profile says it offers"),
            );
        }
        t.succeeded(Role::TWIN);
        let (a, b) = MECHANISM.split_at(MECHANISM.len() / 2);
        let places = [
            ("before", "", MECHANISM),
            ("inside", a, b),
            ("after", MECHANISM, ""),
        ];
        for (place, head, tail) in places {
            let method = |x: &str| format!("{head}{x}{tail}");
            // The control: a letter in the same place makes an unknown method, which the
            // broker must refuse; else it takes any method and U+FEFF shows nothing.
            let unknown = method("Q");
            if let MethodReply::Taken = method_reply(&t, "control", &unknown).await? {
                return t.inconclusive(
                    Precondition::Control,
                    format!("the broker took the unknown Authentication Method {unknown:?}: it does not refuse unknown methods, so one with U+FEFF shows nothing"),
                );
            }
            t.control_seen();
            let with = method("\u{feff}");
            let reply = method_reply(&t, "bom", &with).await?;
            t.check(
                matches!(reply, MethodReply::Refused),
                format!("Authentication Method with U+FEFF {place} {MECHANISM}: refused like any unknown method (U+FEFF makes it another method)"),
                format!("taken for {MECHANISM} (exchange started or CONNECT accepted): U+FEFF was stripped or skipped"),
            )
            .map_err(|f| f.statement(S::V5_1_5_4_3))?;
            t.absence_seen();
        }
        t.pass()
    })
}
