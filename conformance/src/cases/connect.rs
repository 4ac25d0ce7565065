//! CONNECT and CONNACK basics: accepting a well-formed CONNECT, refusing malformed or
//! unsupported ones, Client Identifier rules, Session Present, Keep Alive, session takeover.

use mqttspec_codec::{
    Packet, PacketType, Properties, ProtocolVersion, PubRel, RawPacket, ReasonCode,
    StatementId as S,
};

use crate::scenario::{millis, BoxFuture, Capability, Case, CaseResult, Ctx, Protocols, Reply};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        ACCEPTED,
        SECOND_CONNECT,
        FIRST_PACKET_NOT_CONNECT,
        RESERVED_FLAG,
        UNSUPPORTED_PROTOCOL_LEVEL,
        PROTOCOL_NAME_NOT_MQTT,
        CLIENT_ID_23_CHARACTERS,
        EMPTY_CLIENT_ID_ASSIGNED,
        EMPTY_CLIENT_ID_PERSISTENT_REFUSED,
        PINGREQ_ANSWERED,
        CONNACK_WELL_FORMED,
        SESSION_PRESENT_ZERO_ON_CLEAN_START,
        SESSION_PRESENT_ONE_ON_RESUME,
        KEEP_ALIVE_ENFORCED,
        TAKEOVER_CLOSES_OLD_CONNECTION,
        PASSWORD_WITHOUT_USER_NAME,
        USER_NAME_FLAG_WITHOUT_USER_NAME,
        PASSWORD_FLAG_WITHOUT_PASSWORD,
        USER_NAME_WITHOUT_FLAG,
        WILL_QOS_WITHOUT_WILL_FLAG,
        WILL_RETAIN_WITHOUT_WILL_FLAG,
        WILL_QOS_3,
        WILL_FLAG_WITHOUT_WILL_FIELDS,
        RECEIVE_MAXIMUM_ZERO,
        MAXIMUM_PACKET_SIZE_ZERO,
        DUPLICATE_PROPERTY,
        AUTHENTICATION_DATA_WITHOUT_METHOD,
        PROPERTY_NOT_FOR_CONNECT,
        CLIENT_ID_LONGER_THAN_23,
        CLIENT_ID_OTHER_CHARACTERS,
        BAD_CREDENTIALS_REFUSED,
        PACKETS_AFTER_REFUSED_CONNECT_IGNORED,
        REQUEST_PROBLEM_INFORMATION_ZERO,
        RESPONSE_INFORMATION_ONLY_WHEN_REQUESTED,
    ]
}

/// A CONNECT built byte by byte: `name` and `level` as given, `flags` the Connect Flags byte,
/// Keep Alive 60, an empty property block for MQTT 5.0 (`v5_layout`), and `client_id`.
fn raw_connect(
    name: &[u8],
    level: u8,
    flags: u8,
    v5_layout: bool,
    client_id: &str,
) -> bytes::Bytes {
    let mut p = RawPacket::new(0x10)
        .binary(name)
        .u8(level)
        .u8(flags)
        .u16(60);
    if v5_layout {
        p = p.properties(&[]);
    }
    p.string(client_id).build()
}

// ---------------------------------------------------------------------------------------

const ACCEPTED: Case = Case {
    id: "connect.accepted",
    title: "A well-formed CONNECT is answered with a CONNACK that accepts it (Success)",
    area: "CONNACK",
    statements: &[
        S::V5_3_1_4_5,
        S::V5_3_2_0_1,
        S::V311_3_1_4_4,
        S::V311_3_2_0_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["malformed-connack", "no-pingresp"],
    unfaultable: None,
    run: accepted,
};

fn accepted(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (mut c, _) = t
            .client("c")
            .connect_expect(&[Reply::ConnAck(ReasonCode::Success)])
            .await?;
        c.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SECOND_CONNECT: Case = Case {
    id: "connect.second-connect-is-protocol-error",
    title: "A second CONNECT on a connection is a protocol error and the connection is closed",
    area: "CONNECT",
    statements: &[
        S::V5_3_1_0_2,
        S::V5_3_2_0_2,
        S::V5_4_13_1_1,
        S::V311_3_1_0_2,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["accept-second-connect"],
    unfaultable: None,
    run: second_connect,
};

fn second_connect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let builder = t.client("c");
        let connect = builder.connect_packet()?;
        let mut c = builder.connect().await?;
        c.send(&mqttspec_codec::Packet::Connect(Box::new(connect)))
            .await?;
        // 5.0: DISCONNECT (0x82, or a more specific code) before closing is a SHOULD; a
        // second CONNACK is never allowed.
        let reply = c
            .expect_reply(&[Reply::DisconnectError, Reply::Closed])
            .await?;
        if t.is_v5() && reply == Reply::Closed {
            return t.non_strict(
                "DISCONNECT with Reason Code 0x82 (Protocol Error) before the close",
                "the connection closed without DISCONNECT",
            );
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const FIRST_PACKET_NOT_CONNECT: Case = Case {
    id: "connect.first-packet-must-be-connect",
    title: "A connection whose first packet is not CONNECT is closed without an answer",
    area: "CONNECT",
    statements: &[
        S::V5_3_1_0_1,
        S::V5_3_2_0_1,
        S::V311_3_1_0_1,
        S::V311_3_2_0_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["ignore-packet-before-connect"],
    unfaultable: None,
    run: first_packet_not_connect,
};

fn first_packet_not_connect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").open().await?;
        c.send(&mqttspec_codec::Packet::PingReq).await?;
        // No PINGRESP (the server's first packet must be CONNACK); 5.0 also lets a server
        // refuse with an error CONNACK.
        let accepted: &[Reply] = if t.is_v5() {
            &[Reply::Closed, Reply::ConnAckError]
        } else {
            &[Reply::Closed]
        };
        c.expect_reply(accepted).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const RESERVED_FLAG: Case = Case {
    id: "connect.reserved-flag-set",
    title: "A CONNECT with the reserved Connect Flags bit set is refused and the connection closed",
    area: "CONNECT",
    statements: &[
        S::V5_3_1_2_3,
        S::V5_3_1_4_1,
        S::V311_3_1_2_3,
        S::V311_3_1_4_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["connack-malformed-connect"],
    unfaultable: None,
    run: reserved_flag,
};

fn reserved_flag(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let id = t.client_id("c");
        let mut c = t.client("c").open().await?;
        // Clean Start plus the reserved bit 0.
        c.send_raw(raw_connect(
            b"MQTT",
            t.protocol().level(),
            0x03,
            t.is_v5(),
            &id,
        ))
        .await?;
        // 3.1.1: close without CONNACK. 5.0: Malformed Packet; CONNACK 0x80+ is allowed first.
        let accepted: &[Reply] = if t.is_v5() {
            &[Reply::ConnAckError, Reply::Closed]
        } else {
            &[Reply::Closed]
        };
        c.expect_reply(accepted).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const UNSUPPORTED_PROTOCOL_LEVEL: Case = Case {
    id: "connect.unsupported-protocol-level",
    title: "A CONNECT with an unknown Protocol Level is refused (3.1.1: return code 0x01; 5.0: 0x84 or close)",
    area: "CONNECT",
    statements: &[S::V5_3_1_2_2, S::V5_3_2_2_7, S::V311_3_1_2_2, S::V311_3_2_2_5],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["malformed-connack"],
    unfaultable: None,
    run: unsupported_protocol_level,
};

fn unsupported_protocol_level(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let id = t.client_id("c");
        let mut c = t.client("c").open().await?;
        // Level 6 does not exist; laid out like the run's protocol.
        c.send_raw(raw_connect(b"MQTT", 6, 0x02, t.is_v5(), &id))
            .await?;
        // The server cannot know which CONNACK layout a client of an unknown level reads, so
        // both are taken: the 3.1.1 one (return code 1) and the 5.0 one (0x84).
        let (v311, v5) = match connack_in_either_layout(&mut c, t.response_timeout()).await {
            Refusal::V311(code) => (Some(code), None),
            Refusal::V5(code) => (None, Some(code)),
            Refusal::Closed => (None, None),
            Refusal::Other(actual) => {
                return t.fail(
                    "CONNACK refusing the protocol level (3.1.1 return code 1, or 5.0 0x84)",
                    actual,
                )
            }
        };
        let refused = ReasonCode::UnsupportedProtocolVersion;
        // The 3.1.1 return code is prescribed (1); the 5.0 Reason Code 0x84 is a MAY.
        t.check(
            v311.map_or(true, |c| c == refused),
            "CONNACK return code 1 (unacceptable protocol level)",
            format!("CONNACK with {:?}", v311),
        )?;
        t.check(
            v5.map_or(true, |c| c.is_error()),
            "an MQTT 5.0 CONNACK refusing the connection (0x84 expected)",
            format!("CONNACK with {:?}", v5),
        )?;
        if v311.is_some() || v5.is_some() {
            c.expect_closed().await?;
        }
        if let Some(code) = v5.filter(|c| *c != refused) {
            return t.informational(format!(
                "refused with an MQTT 5.0 CONNACK {code:?} rather than 0x84"
            ));
        }
        match (t.is_v5(), v311, v5) {
            // 3.1.1 requires the CONNACK; closing without one breaks MQTT-3.1.2-2.
            (false, None, None) => t.fail(
                "CONNACK return code 1, then the connection closed",
                "the connection closed without CONNACK",
            ),
            (false, None, Some(_)) => t.informational(
                "refused with an MQTT 5.0 CONNACK (0x84) rather than the 3.1.1 return code 1",
            ),
            (true, Some(_), None) => {
                t.informational("refused with an MQTT 3.1.1 CONNACK (return code 1)")
            }
            _ => t.pass(),
        }
    })
}

/// How a CONNECT was refused.
enum Refusal {
    /// A CONNACK in the 3.1.1 layout.
    V311(ReasonCode),
    /// A CONNACK in the 5.0 layout.
    V5(ReasonCode),
    /// The connection closed without a packet.
    Closed,
    /// Anything else, described.
    Other(String),
}

/// Reads the answer to a CONNECT whose protocol level the broker does not know, accepting a
/// CONNACK in either layout.
async fn connack_in_either_layout(
    c: &mut crate::scenario::Client,
    within: std::time::Duration,
) -> Refusal {
    use crate::client::Received;
    use mqttspec_codec::Packet;
    let deadline = tokio::time::Instant::now() + within;
    c.raw().set_version(ProtocolVersion::V5);
    match c.raw().recv_until(deadline).await {
        Received::Packet(Packet::ConnAck(ack)) => Refusal::V5(ack.reason_code),
        Received::Closed => Refusal::Closed,
        Received::Malformed { bytes, error } => {
            match Packet::decode(bytes, ProtocolVersion::V311) {
                Ok(Packet::ConnAck(ack)) => {
                    c.raw().set_version(ProtocolVersion::V311);
                    Refusal::V311(ack.reason_code)
                }
                _ => Refusal::Other(format!("malformed bytes from the broker: {error}")),
            }
        }
        other => Refusal::Other(other.describe(ProtocolVersion::V5)),
    }
}

// ---------------------------------------------------------------------------------------

const PROTOCOL_NAME_NOT_MQTT: Case = Case {
    id: "connect.protocol-name-not-mqtt",
    title: "A CONNECT whose Protocol Name is not \"MQTT\" is not accepted",
    area: "CONNECT",
    statements: &[
        S::V5_3_1_2_1,
        S::V5_3_1_4_1,
        S::V311_3_1_2_1,
        S::V311_3_1_4_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["connack-malformed-connect"],
    unfaultable: None,
    run: protocol_name_not_mqtt,
};

fn protocol_name_not_mqtt(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let id = t.client_id("c");
        let mut c = t.client("c").open().await?;
        c.send_raw(raw_connect(
            b"MQTX",
            t.protocol().level(),
            0x02,
            t.is_v5(),
            &id,
        ))
        .await?;
        // Never CONNACK 0x00; 5.0 allows CONNACK 0x84 (any refusal is tolerated here).
        let accepted: &[Reply] = if t.is_v5() {
            &[
                Reply::ConnAck(ReasonCode::UnsupportedProtocolVersion),
                Reply::ConnAckError,
                Reply::Closed,
            ]
        } else {
            &[Reply::Closed, Reply::ConnAckError]
        };
        c.expect_reply(accepted).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const CLIENT_ID_23_CHARACTERS: Case = Case {
    id: "connect.client-id-23-alphanumerics-accepted",
    title: "A Client Identifier of 23 letters and digits is accepted",
    area: "CONNECT",
    statements: &[S::V5_3_1_3_5, S::V311_3_1_3_5],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["client-id-strict-close"],
    unfaultable: None,
    run: client_id_23_characters,
};

fn client_id_23_characters(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut id = t.client_id("c");
        let pad = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        id.push_str(pad.get(..23usize.saturating_sub(id.len())).unwrap_or(""));
        t.check_eq("Client Identifier length", 23, id.len())?;
        let (mut c, _) = t
            .client("c")
            .client_id(id)
            .connect_expect(&[Reply::ConnAck(ReasonCode::Success)])
            .await?;
        c.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const EMPTY_CLIENT_ID_ASSIGNED: Case = Case {
    id: "connect.empty-client-id-gets-unique-id",
    title: "An empty Client Identifier with Clean Start is accepted with a unique assigned identifier (or refused)",
    area: "CONNECT",
    statements: &[S::V5_3_1_3_6, S::V5_3_1_3_7, S::V5_3_2_2_16, S::V5_3_1_3_8, S::V311_3_1_3_6, S::V311_3_1_3_9],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["duplicate-assigned-client-id"],
    unfaultable: None,
    run: empty_client_id_assigned,
};

fn empty_client_id_assigned(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let refusal = Reply::ConnAck(ReasonCode::ClientIdentifierNotValid);
        let replies = [Reply::ConnAck(ReasonCode::Success), refusal];
        let (mut a, reply) = t.client("a").client_id("").connect_expect(&replies).await?;
        if reply == refusal {
            return t.informational("the broker does not allow empty Client Identifiers");
        }
        let (mut b, _) = t
            .client("b")
            .client_id("")
            .connect_expect(&replies[..1])
            .await?;
        if t.is_v5() {
            let assigned = |c: &crate::scenario::Client| {
                c.connack()
                    .and_then(|ack| ack.properties.assigned_client_identifier.clone())
                    .map(|s| s.as_str().to_owned())
            };
            let (ia, ib) = (assigned(&a), assigned(&b));
            t.check(
                ia.as_deref().is_some_and(|s| !s.is_empty()),
                "CONNACK with a non-empty Assigned Client Identifier",
                format!("Assigned Client Identifier {ia:?}"),
            )?;
            t.check(
                ia != ib,
                "two different Assigned Client Identifiers",
                format!("{ia:?} twice"),
            )?;
        }
        // Both sessions are distinct: neither took the other over.
        a.alive().await?;
        b.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const EMPTY_CLIENT_ID_PERSISTENT_REFUSED: Case = Case {
    id: "connect.empty-client-id-without-clean-session-refused",
    title: "3.1.1: an empty Client Identifier with Clean Session 0 gets return code 0x02 and the connection is closed",
    area: "CONNECT",
    statements: &[S::V311_3_1_3_8, S::V311_3_2_2_5],
    protocols: Protocols::V311,
    requires: &[],
    faults: &["accept-empty-client-id-persistent"],
    unfaultable: None,
    run: empty_client_id_persistent_refused,
};

fn empty_client_id_persistent_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        t.client("c")
            .client_id("")
            .clean_start(false)
            .connect_expect(&[Reply::ConnAck(ReasonCode::ClientIdentifierNotValid)])
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const PINGREQ_ANSWERED: Case = Case {
    id: "connect.pingreq-answered",
    title: "Every PINGREQ is answered with a PINGRESP",
    area: "PINGREQ/PINGRESP",
    statements: &[S::V5_3_12_4_1, S::V311_3_12_4_1],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["no-pingresp"],
    unfaultable: None,
    run: pingreq_answered,
};

fn pingreq_answered(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        for _ in 0..3 {
            c.alive().await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const CONNACK_WELL_FORMED: Case = Case {
    id: "connack.well-formed",
    title: "The broker's first packet is a well-formed CONNACK (reserved flags zero, a defined reason code, valid 5.0 properties)",
    area: "CONNACK",
    statements: &[S::V5_3_2_2_1, S::V5_3_2_2_8, S::V5_3_2_0_1, S::V311_3_2_0_1],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["malformed-connack"],
    unfaultable: None,
    run: connack_well_formed,
};

fn connack_well_formed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The strict decoder refuses non-zero reserved flags and undefined codes: a
        // malformed CONNACK makes `connect` FAIL with the statement it breaks.
        let c = t.client("c").connect().await?;
        let ack = c.connack().cloned();
        t.check(ack.is_some(), "a CONNACK", "no CONNACK recorded")?;
        c.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SESSION_PRESENT_ZERO_ON_CLEAN_START: Case = Case {
    id: "connack.session-present-zero-on-clean-start",
    title: "Clean Start 1 gets Session Present 0 even when a session existed",
    area: "CONNACK",
    statements: &[
        S::V5_3_2_2_2,
        S::V5_3_1_2_4,
        S::V311_3_2_2_1,
        S::V311_3_1_2_6,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["keep-session-on-clean-start"],
    unfaultable: None,
    run: session_present_zero_on_clean_start,
};

fn session_present_zero_on_clean_start(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // Leave a session behind: Clean Start 0 (and, in 5.0, a Session Expiry Interval),
        // with a subscription so the session has state.
        let mut first = t
            .client("c")
            .clean_start(false)
            .session_expiry(60)
            .connect()
            .await?;
        first.subscribe(t.topic("s")).qos(1).await?;
        first.disconnect().await?;
        let clean = t.client("c").clean_start(true).connect().await?;
        let present = clean.connack().is_some_and(|a| a.session_present);
        t.check(
            !present,
            "CONNACK Session Present 0 for Clean Start 1",
            "Session Present 1",
        )?;
        clean.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SESSION_PRESENT_ONE_ON_RESUME: Case = Case {
    id: "connack.session-present-one-on-resume",
    title: "Clean Start 0 gets Session Present 0 without a stored session and 1 when resuming one",
    area: "CONNACK",
    statements: &[
        S::V5_3_2_2_3,
        S::V5_3_1_2_5,
        S::V311_3_2_2_2,
        S::V311_3_2_2_3,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["no-session-present"],
    unfaultable: None,
    run: session_present_one_on_resume,
};

fn session_present_one_on_resume(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let first = t
            .client("c")
            .clean_start(false)
            .session_expiry(60)
            .connect()
            .await?;
        let present = first.connack().is_some_and(|a| a.session_present);
        t.check(
            !present,
            "Session Present 0 for a Client Identifier without a session",
            "Session Present 1",
        )?;
        first.disconnect().await?;
        let again = t
            .client("c")
            .clean_start(false)
            .session_expiry(60)
            .connect()
            .await?;
        let present = again.connack().is_some_and(|a| a.session_present);
        t.check(
            present,
            "Session Present 1 when resuming the stored session",
            "Session Present 0",
        )?;
        again.disconnect().await?;
        // Clean up: end the session.
        t.client("c")
            .clean_start(true)
            .connect()
            .await?
            .disconnect()
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const KEEP_ALIVE_ENFORCED: Case = Case {
    id: "connect.keep-alive-enforced",
    title: "A connection silent for one and a half Keep Alive periods is closed by the broker",
    area: "Keep Alive",
    statements: &[S::V5_3_1_2_22, S::V5_3_2_2_22, S::V311_3_1_2_24],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["no-keepalive-timeout"],
    unfaultable: None,
    run: keep_alive_enforced,
};

fn keep_alive_enforced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").keep_alive(1).connect().await?;
        let keep_alive = c
            .connack()
            .and_then(|a| a.properties.server_keep_alive)
            .unwrap_or(1);
        if keep_alive == 0 || keep_alive > 5 {
            return t.informational(format!(
                "the broker set Server Keep Alive {keep_alive}: too long (or off) to wait for"
            ));
        }
        // 1.5 × Keep Alive, plus 1 s for brokers that check keep alive once a second.
        let limit = super::keep_alive::close_within(keep_alive);
        c.expect_reply(&[
            Reply::Disconnect(ReasonCode::KeepAliveTimeout),
            Reply::Closed,
        ])
        .within(limit)
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const TAKEOVER_CLOSES_OLD_CONNECTION: Case = Case {
    id: "connect.takeover-closes-old-connection",
    title: "A second connection with the same Client Identifier closes the first (5.0: after DISCONNECT 0x8E)",
    area: "Session",
    statements: &[S::V5_3_1_4_3, S::V311_3_1_4_2],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["no-takeover"],
    unfaultable: None,
    run: takeover_closes_old_connection,
};

fn takeover_closes_old_connection(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let id = t.client_id("shared");
        let mut old = t.client("old").client_id(&id).connect().await?;
        let mut new = t.client("new").client_id(&id).connect().await?;
        let reply = if t.is_v5() {
            old.expect_reply(&[
                Reply::Disconnect(ReasonCode::SessionTakenOver),
                Reply::DisconnectError,
                Reply::Closed,
            ])
            .await?
        } else {
            old.expect_closed().await?;
            Reply::Closed
        };
        new.alive().await?;
        // Only the close carries a MUST in MQTT-3.1.4-3; the DISCONNECT 0x8E before it is
        // described by reference to 4.13, where a server's DISCONNECT is a SHOULD.
        super::qos::judge_close(&t, reply, &[ReasonCode::SessionTakenOver])
    })
}

// ---------------------------------------------------------------------------------------
// Malformed CONNECT packets: Connect Flags that disagree with the payload, bad properties.

/// A CONNECT with Protocol Name "MQTT" and the run's level, these Connect Flags, Keep Alive
/// 60, (5.0) the property block `properties`, the case's Client Identifier, then `tail` as
/// raw bytes.
fn connect_bytes(t: &Ctx, flags: u8, properties: &[u8], tail: &[u8]) -> bytes::Bytes {
    let mut p = RawPacket::new(0x10)
        .binary(b"MQTT")
        .u8(t.protocol().level())
        .u8(flags)
        .u16(60);
    if t.is_v5() {
        p = p.properties(properties);
    }
    p.string(&t.client_id("c")).bytes(tail).build()
}

/// A Will in raw form for the run's protocol: (5.0: empty Will Properties), Will Topic,
/// Will Payload.
fn raw_will(t: &Ctx) -> Vec<u8> {
    let mut p = RawPacket::new(0);
    if t.is_v5() {
        p = p.properties(&[]);
    }
    p.string(&t.topic("will")).binary(b"w").body().to_vec()
}

/// Sends a CONNECT the broker must refuse as malformed: 3.1.1 closes without CONNACK
/// (MQTT-3.1.4-1); 5.0 closes, possibly after a CONNACK with an error code.
async fn expect_malformed_connect_refused(t: Ctx, bytes: bytes::Bytes) -> CaseResult {
    let mut c = t.client("c").open().await?;
    c.send_raw(bytes).await?;
    let accepted: &[Reply] = if t.is_v5() {
        &[Reply::ConnAckError, Reply::Closed]
    } else {
        &[Reply::Closed]
    };
    c.expect_reply(accepted).await?;
    t.pass()
}

/// A malformed-CONNECT case: `flags`, 5.0 `properties` and the payload `tail` after the
/// Client Identifier.
macro_rules! malformed_connect_case {
    ($name:ident, $run:ident, $id:literal, $title:literal, $protocols:expr, [$($s:expr),+ $(,)?],
     |$t:ident| ($flags:expr, $props:expr, $tail:expr)) => {
        const $name: Case = Case {
            id: $id,
            title: $title,
            area: "CONNECT",
            statements: &[$($s),+],
            protocols: $protocols,
            requires: &[],
            faults: &["connack-malformed-connect"],
            unfaultable: None,
            run: $run,
        };

        fn $run($t: Ctx) -> BoxFuture<'static, CaseResult> {
            Box::pin(async move {
                let bytes = connect_bytes(&$t, $flags, $props, $tail);
                expect_malformed_connect_refused($t, bytes).await
            })
        }
    };
}

malformed_connect_case!(
    PASSWORD_WITHOUT_USER_NAME,
    password_without_user_name,
    "connect.password-without-user-name",
    "3.1.1: a CONNECT with the Password Flag but not the User Name Flag is refused without CONNACK",
    Protocols::V311,
    [S::V311_3_1_2_22, S::V311_3_1_4_1],
    |t| (0x42, &[], &[0x00, 0x02, b'p', b'w'])
);

malformed_connect_case!(
    USER_NAME_FLAG_WITHOUT_USER_NAME,
    user_name_flag_without_user_name,
    "connect.user-name-flag-without-user-name",
    "A CONNECT with the User Name Flag set but no User Name in the payload is refused",
    Protocols::Both,
    [
        S::V5_3_1_2_17,
        S::V5_3_1_4_1,
        S::V311_3_1_2_19,
        S::V311_3_1_4_1
    ],
    |t| (0x82, &[], &[])
);

malformed_connect_case!(
    PASSWORD_FLAG_WITHOUT_PASSWORD,
    password_flag_without_password,
    "connect.password-flag-without-password",
    "A CONNECT with the Password Flag set but no Password in the payload is refused",
    Protocols::Both,
    [
        S::V5_3_1_2_19,
        S::V5_3_1_4_1,
        S::V311_3_1_2_21,
        S::V311_3_1_4_1
    ],
    |t| (0xC2, &[], &[0x00, 0x01, b'u'])
);

malformed_connect_case!(
    USER_NAME_WITHOUT_FLAG,
    user_name_without_flag,
    "connect.user-name-without-flag",
    "A CONNECT carrying a User Name while the User Name Flag is 0 is refused",
    Protocols::Both,
    [
        S::V5_3_1_2_16,
        S::V5_3_1_4_1,
        S::V311_3_1_2_18,
        S::V311_3_1_4_1
    ],
    |t| (0x02, &[], &[0x00, 0x01, b'u'])
);

malformed_connect_case!(
    WILL_QOS_WITHOUT_WILL_FLAG,
    will_qos_without_will_flag,
    "connect.will-qos-without-will-flag",
    "A CONNECT with Will QoS 1 but the Will Flag 0 is refused",
    Protocols::Both,
    [
        S::V5_3_1_2_11,
        S::V5_3_1_4_1,
        S::V311_3_1_2_13,
        S::V311_3_1_4_1
    ],
    |t| (0x0A, &[], &[])
);

malformed_connect_case!(
    WILL_RETAIN_WITHOUT_WILL_FLAG,
    will_retain_without_will_flag,
    "connect.will-retain-without-will-flag",
    "A CONNECT with Will Retain 1 but the Will Flag 0 is refused",
    Protocols::Both,
    [
        S::V5_3_1_2_13,
        S::V5_3_1_4_1,
        S::V311_3_1_2_15,
        S::V311_3_1_4_1
    ],
    |t| (0x22, &[], &[])
);

malformed_connect_case!(
    WILL_QOS_3,
    will_qos_3,
    "connect.will-qos-3",
    "A CONNECT with a Will of QoS 3 is refused",
    Protocols::Both,
    [
        S::V5_3_1_2_12,
        S::V5_3_1_4_1,
        S::V311_3_1_2_14,
        S::V311_3_1_4_1
    ],
    |t| (0x1E, &[], &raw_will(&t))
);

malformed_connect_case!(
    WILL_FLAG_WITHOUT_WILL_FIELDS,
    will_flag_without_will_fields,
    "connect.will-flag-without-will-fields",
    "A CONNECT with the Will Flag set but no Will Topic or Payload is refused",
    Protocols::Both,
    [
        S::V5_3_1_2_9,
        S::V5_3_1_4_1,
        S::V311_3_1_2_9,
        S::V311_3_1_4_1
    ],
    |t| (0x06, &[], &[])
);

malformed_connect_case!(
    RECEIVE_MAXIMUM_ZERO,
    receive_maximum_zero,
    "connect.receive-maximum-zero",
    "5.0: a CONNECT with Receive Maximum 0 is a Protocol Error and is refused",
    Protocols::V5,
    [S::V5_3_1_4_1],
    |t| (0x02, &[0x21, 0x00, 0x00], &[])
);

malformed_connect_case!(
    MAXIMUM_PACKET_SIZE_ZERO,
    maximum_packet_size_zero,
    "connect.maximum-packet-size-zero",
    "5.0: a CONNECT with Maximum Packet Size 0 is a Protocol Error and is refused",
    Protocols::V5,
    [S::V5_3_1_4_1],
    |t| (0x02, &[0x27, 0x00, 0x00, 0x00, 0x00], &[])
);

malformed_connect_case!(
    DUPLICATE_PROPERTY,
    duplicate_property,
    "connect.duplicate-property",
    "5.0: a CONNECT with the Session Expiry Interval twice is a Protocol Error and is refused",
    Protocols::V5,
    [S::V5_3_1_4_1],
    |t| (
        0x02,
        &[0x11, 0x00, 0x00, 0x00, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x14],
        &[]
    )
);

malformed_connect_case!(
    AUTHENTICATION_DATA_WITHOUT_METHOD,
    authentication_data_without_method,
    "connect.authentication-data-without-method",
    "5.0: a CONNECT with Authentication Data but no Authentication Method is a Protocol Error and is refused",
    Protocols::V5,
    [S::V5_3_1_4_1],
    |t| (0x02, &[0x16, 0x00, 0x02, 0xAB, 0xCD], &[])
);

malformed_connect_case!(
    PROPERTY_NOT_FOR_CONNECT,
    property_not_for_connect,
    "connect.property-not-allowed-in-connect",
    "5.0: a CONNECT carrying a Topic Alias property (not a CONNECT property) is malformed and refused",
    Protocols::V5,
    [S::V5_3_1_4_1],
    |t| (0x02, &[0x23, 0x00, 0x01], &[])
);

// ---------------------------------------------------------------------------------------

const CLIENT_ID_LONGER_THAN_23: Case = Case {
    id: "connect.client-id-longer-than-23",
    title: "A 64-character Client Identifier may be accepted or refused; a refusal is CONNACK 0x85 (5.0, or close) / 0x02 (3.1.1)",
    area: "CONNECT",
    statements: &[S::V5_3_1_3_8, S::V311_3_1_3_9],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["client-id-strict-close@3.1.1"],
    unfaultable: None,
    run: client_id_longer_than_23,
};

fn client_id_longer_than_23(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut id = t.client_id("c");
        while id.len() < 64 {
            id.push('x');
        }
        unusual_client_id(t, id, "a 64-character Client Identifier").await
    })
}

const CLIENT_ID_OTHER_CHARACTERS: Case = Case {
    id: "connect.client-id-other-characters",
    title: "A Client Identifier with characters other than letters and digits may be accepted or refused; a refusal is CONNACK 0x85 (5.0, or close) / 0x02 (3.1.1)",
    area: "CONNECT",
    statements: &[S::V5_3_1_3_8, S::V311_3_1_3_9],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["client-id-strict-close@3.1.1"],
    unfaultable: None,
    run: client_id_other_characters,
};

fn client_id_other_characters(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let id = format!("{}-x_y.z", t.client_id("c"));
        unusual_client_id(t, id, "a Client Identifier with '-', '_' and '.'").await
    })
}

/// Connects with a Client Identifier the server may refuse (MQTT-3.1.3-5 only obliges it to
/// take 1 to 23 letters and digits) and records the choice; a refusal must follow the rules
/// of its version.
async fn unusual_client_id(t: Ctx, id: String, what: &str) -> CaseResult {
    let not_valid = Reply::ConnAck(ReasonCode::ClientIdentifierNotValid);
    let (mut c, reply) = t
        .client("c")
        .client_id(id)
        .connect_expect(&[
            Reply::ConnAck(ReasonCode::Success),
            not_valid,
            Reply::ConnAckError,
            Reply::Closed,
        ])
        .await?;
    match reply {
        Reply::ConnAck(ReasonCode::Success) => {
            c.alive().await?;
            c.disconnect().await?;
            t.informational(format!("{what} is accepted"))
        }
        r if r == not_valid => {
            t.informational(format!("{what} is refused (Client Identifier not valid)"))
        }
        Reply::Closed if !t.is_v5() => Err(crate::scenario::Failure::fail(
            "CONNACK return code 0x02 (identifier rejected) before the close",
            "the connection closed without CONNACK",
        )
        .statement(S::V311_3_1_3_9)),
        Reply::Closed => t.informational(format!("{what} is refused by closing the connection")),
        _ => t.informational(format!("{what} is refused with another CONNACK error code")),
    }
}

// ---------------------------------------------------------------------------------------

const BAD_CREDENTIALS_REFUSED: Case = Case {
    id: "connect.bad-credentials-refused",
    title: "A wrong Password is refused (CONNACK 0x86 / 0x87, 3.1.1 return code 4 / 5) and the connection closed",
    area: "CONNECT",
    statements: &[S::V5_3_1_4_2, S::V5_3_2_2_7, S::V311_3_2_2_5],
    protocols: Protocols::Both,
    requires: &[Capability::Credentials],
    faults: &[],
    unfaultable: Some(
        "accepting a wrong password is the broker's policy (INFORMATIONAL, see `accept-wrong-password`); the case fails only on a refusal with a wrong code or without a close, and the reference broker has no fault for that yet",
    ),
    run: bad_credentials_refused,
};

fn bad_credentials_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let Some(credentials) = t.profile().credentials.clone() else {
            return t.unsupported("no [credentials] in the profile");
        };
        let wrong = format!(
            "{}-not-the-password",
            credentials.password.unwrap_or_default()
        );
        let (c, reply) = t
            .client("c")
            .credentials(&credentials.username, wrong)
            .connect_expect(&[
                Reply::ConnAck(ReasonCode::Success),
                Reply::ConnAck(ReasonCode::BadUserNameOrPassword),
                Reply::ConnAck(ReasonCode::NotAuthorized),
                Reply::ConnAckError,
                Reply::Closed,
            ])
            .await?;
        match reply {
            Reply::ConnAck(ReasonCode::Success) => {
                c.disconnect().await?;
                t.informational("the broker accepted a wrong password")
            }
            Reply::ConnAck(ReasonCode::BadUserNameOrPassword | ReasonCode::NotAuthorized) => {
                t.pass()
            }
            Reply::Closed => {
                t.informational("the broker refused a wrong password by closing without CONNACK")
            }
            _ => t.informational("the broker refused a wrong password with another error code"),
        }
    })
}

// ---------------------------------------------------------------------------------------

const PACKETS_AFTER_REFUSED_CONNECT_IGNORED: Case = Case {
    id: "connect.packets-after-refused-connect-ignored",
    title: "A PUBLISH sent right behind a refused CONNECT is not processed",
    area: "CONNECT",
    statements: &[
        S::V5_3_1_4_6,
        S::V5_4_12_0_1,
        S::V311_3_1_4_5,
        S::V311_3_1_3_8,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &[
        "accept-empty-client-id-persistent@3.1.1",
        "accept-unknown-auth-method@5",
    ],
    unfaultable: None,
    run: packets_after_refused_connect_ignored,
};

fn packets_after_refused_connect_ignored(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("after-refusal");
        let mut watcher = t.client("watcher").connect().await?;
        watcher.subscribe(&topic).await?;

        // A CONNECT every broker must refuse: 5.0 an Authentication Method nobody offers;
        // 3.1.1 an empty Client Identifier with Clean Session 0.
        let builder = if t.is_v5() {
            let properties = Properties {
                authentication_method: mqttspec_codec::MqttString::new(
                    "mqttspec-no-such-method",
                    "Authentication Method",
                )
                .ok(),
                ..Properties::default()
            };
            t.client("bad").properties(properties)
        } else {
            t.client("bad").client_id("").clean_start(false)
        };
        let connect = builder.connect_packet()?;
        let v = t.protocol();
        let encode_error = |e| crate::scenario::Failure::error(format!("case error: {e}"));
        let mut bytes = Packet::Connect(Box::new(connect))
            .encode(v)
            .map_err(encode_error)?
            .to_vec();
        let mut publish = RawPacket::new(0x30).string(&topic);
        if t.is_v5() {
            publish = publish.properties(&[]);
        }
        bytes.extend_from_slice(&publish.bytes(b"must not arrive").build());

        let mut bad = t.client("bad").open().await?;
        bad.send_raw(bytes).await?;
        let reply = bad
            .expect_reply(&[
                Reply::ConnAckError,
                Reply::Closed,
                Reply::ConnAck(ReasonCode::Success),
            ])
            .await?;
        if reply == Reply::ConnAck(ReasonCode::Success) {
            let (expected, statement) = if t.is_v5() {
                (
                    "a refusal of the unsupported Authentication Method",
                    S::V5_4_12_0_1,
                )
            } else {
                (
                    "CONNACK 0x02 for an empty Client Identifier with Clean Session 0",
                    S::V311_3_1_3_8,
                )
            };
            return Err(
                crate::scenario::Failure::fail(expected, "CONNACK 0x00").statement(statement)
            );
        }
        watcher.expect_no_publish().for_(millis(500)).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const REQUEST_PROBLEM_INFORMATION_ZERO: Case = Case {
    id: "connect.request-problem-information-zero",
    title: "5.0: with Request Problem Information 0 an acknowledgement carries no Reason String or User Property",
    area: "Properties",
    statements: &[S::V5_3_1_2_29],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["reason-string-always"],
    unfaultable: None,
    run: request_problem_information_zero,
};

/// Connects with Request Problem Information `rpi`, sends PUBREL for a Packet Identifier the
/// broker does not know (answered with PUBCOMP 0x92) and says whether the PUBCOMP carried a
/// Reason String or User Property.
async fn problem_information_on_pubcomp(
    t: &Ctx,
    name: &str,
    rpi: Option<bool>,
) -> Result<bool, crate::scenario::Failure> {
    let properties = Properties {
        request_problem_information: rpi,
        ..Properties::default()
    };
    let mut c = t.client(name).properties(properties).connect().await?;
    let id = c.next_packet_id();
    c.send(&Packet::PubRel(PubRel::new(id))).await?;
    let comp = c.expect_packet(PacketType::PubComp).await?;
    c.disconnect().await?;
    Ok(match comp {
        Packet::PubComp(p) => {
            p.properties.reason_string.is_some() || !p.properties.user_properties.is_empty()
        }
        _ => false,
    })
}

fn request_problem_information_zero(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let sends_them = problem_information_on_pubcomp(&t, "default", None).await?;
        let despite_zero = problem_information_on_pubcomp(&t, "quiet", Some(false)).await?;
        t.check(
            !despite_zero,
            "PUBCOMP without Reason String or User Property (Request Problem Information 0)",
            "PUBCOMP with a Reason String or User Property",
        )?;
        if !sends_them {
            return t.informational(
                "the broker sends no Reason String or User Property on PUBCOMP anyway: the rule is not observable",
            );
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const RESPONSE_INFORMATION_ONLY_WHEN_REQUESTED: Case = Case {
    id: "connack.response-information-only-when-requested",
    title: "5.0: CONNACK carries no Response Information when the client did not request it",
    area: "CONNACK",
    statements: &[S::V5_3_1_2_28],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["unrequested-response-information"],
    unfaultable: None,
    run: response_information_only_when_requested,
};

fn response_information_only_when_requested(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        for (name, request) in [("absent", None), ("zero", Some(false))] {
            let properties = Properties {
                request_response_information: request,
                ..Properties::default()
            };
            let c = t.client(name).properties(properties).connect().await?;
            let info = c
                .connack()
                .and_then(|a| a.properties.response_information.clone());
            t.check(
                info.is_none(),
                format!(
                    "CONNACK without Response Information (Request Response Information {name})"
                ),
                format!("Response Information {info:?}"),
            )?;
            c.disconnect().await?;
        }
        t.pass()
    })
}
