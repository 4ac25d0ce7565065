//! CONNECT and CONNACK basics: accepting a well-formed CONNECT, refusing malformed or
//! unsupported ones, Client Identifier rules, Session Present, Keep Alive, session takeover.
//!
//! A server may refuse a valid CONNECT for reasons of its own (3.1.4: further restrictions,
//! authentication, authorization), so a refusal of a CONNECT that the case needs accepted is
//! never FAIL of another statement: it is INCONCLUSIVE. Every verdict that rests on the broker
//! refusing or closing has its well-formed twin accepted in the same case (most often first,
//! with [`connect_twin`]).

use mqttspec_codec::{
    ConnectProperties, Packet, PacketType, ProtocolVersion, PubRel, RawPacket, ReasonCode,
    StatementId as S, Violation,
};
use tokio::time::Instant;

use super::support::{
    close_within, connect_twin, control, end_session, expect_connect_refused, judge_close,
    keep_alive_in_force, of_run, raw_publish, send_connect, session_present, statement, text,
    will_fields, RawConnect, QUIET, TIMED_OUT,
};
use mqttspec_harness::case;
use mqttspec_harness::client::{summary, Received};
use mqttspec_harness::scenario::{
    BoxFuture, CaseResult, Client, ClientBuilder, Ctx, Failure, Precondition, Reply, Will,
};

/// Whether `bytes`, which did not decode in the layout of an MQTT 5.0 connection, are an
/// MQTT 3.1.1 CONNACK refusing the connection: what a server that only speaks 3.1.1 answers
/// an MQTT 5.0 CONNECT with (return code 1, unacceptable protocol level).
fn v311_refusal(bytes: &bytes::Bytes, v: ProtocolVersion) -> Option<String> {
    if !v.is_v5() {
        return None;
    }
    match Packet::decode(bytes.clone(), ProtocolVersion::V311) {
        Ok(Packet::ConnAck(a)) if a.reason_code != ReasonCode::Success => {
            Some(summary::packet(&Packet::ConnAck(a), ProtocolVersion::V311))
        }
        _ => None,
    }
}

/// Connects `builder` as the step that checks the answer to a valid CONNECT: CONNACK 0x00
/// (counted as a check), or FAIL for another packet or malformed bytes in its place, and
/// for silence when `silence_fails` (when the case checks that a CONNACK is sent at all). A
/// refusal (an error CONNACK, the close, a 3.1.1 CONNACK to a 5.0 CONNECT) is INCONCLUSIVE:
/// a server may refuse a valid CONNECT for reasons of its own (3.1.4).
async fn connect_checked(
    t: &Ctx,
    builder: ClientBuilder,
    silence_fails: bool,
) -> Result<Client, Failure> {
    let mut c = send_connect(builder).await?;
    let v = c.protocol();
    let deadline = Instant::now() + c.timeout();
    match c.recv_raw(deadline).await {
        Received::Packet(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => {
            t.checked();
            c.set_connack(ack);
            Ok(c)
        }
        Received::Packet(p @ Packet::ConnAck(_)) => Err(Failure::inconclusive(
            Precondition::Connect,
            format!(
                "the broker refused the valid CONNECT ({}); a server may, for reasons of its own",
                summary::packet(&p, v)
            ),
        )),
        Received::Closed => Err(Failure::inconclusive(
            Precondition::Connect,
            "the broker closed the connection without CONNACK; a server may refuse a valid CONNECT for reasons of its own",
        )),
        Received::Malformed { bytes, error } => match v311_refusal(&bytes, v) {
            Some(refusal) => Err(Failure::inconclusive(
                Precondition::ProtocolUsable,
                format!("the broker answered the MQTT 5.0 CONNECT with an MQTT 3.1.1 {refusal}"),
            )),
            None => Err(c.unmet("CONNACK", Received::Malformed { bytes, error })),
        },
        Received::Timeout if !silence_fails => Err(Failure::inconclusive(
            Precondition::Connect,
            format!(
                "no answer to a valid CONNECT within {} ms",
                c.timeout().as_millis()
            ),
        )),
        other => Err(c.unmet("CONNACK", other)),
    }
}

// ---------------------------------------------------------------------------------------

case! {
    /// A well-formed CONNECT is answered with a CONNACK that accepts it (Success)
    ACCEPTED = "connect.accepted",
    checks: [V5_3_1_4_5, V5_3_2_0_1],
    faults: [MalformedConnack],
    tags: [ToBroker],
    run: accepted,
}

fn accepted(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // MQTT-3.1.4-5 / MQTT-3.1.4-4: a valid CONNECT is acknowledged, so silence is FAIL.
        let mut c = connect_checked(&t, t.client("c"), true).await?;
        // The connection is usable: a CONNACK followed by a close is no acceptance.
        c.alive().as_setup(Precondition::Ping).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A second CONNECT on a connection is a protocol error and the connection is closed
    SECOND_CONNECT = "connect.second-connect-is-protocol-error",
    checks: [V5_3_1_0_2, V5_3_2_0_2, V5_4_13_1_1, V311_3_1_0_2],
    faults: [AcceptSecondConnect],
    tags: [ToBroker],
    run: second_connect,
}

fn second_connect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let builder = t.client("c");
        let connect = builder.connect_packet()?;
        let mut c = builder.connect().await?;
        // The twin: the same connection is served while it sends well-formed packets.
        c.alive().as_twin().await?;
        c.send(&Packet::Connect(Box::new(connect))).await?;
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

case! {
    /// A connection whose first packet is not CONNECT is closed without an answer
    FIRST_PACKET_NOT_CONNECT = "connect.first-packet-must-be-connect",
    checks: [V5_3_1_0_1, V5_3_2_0_1, V5_4_13_1_1],
    faults: [IgnorePacketBeforeConnect],
    tags: [ToBroker],
    run: first_packet_not_connect,
}

fn first_packet_not_connect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The twin: the same client sending CONNECT first, then the PINGREQ, is served.
        connect_twin(t.client("c")).await?.disconnect().await?;
        let mut c = t.client("c").open().await?;
        c.send(&Packet::PingReq).await?;
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

case! {
    /// A CONNECT with the reserved Connect Flags bit set is refused and the connection closed
    RESERVED_FLAG = "connect.reserved-flag-set",
    checks: [V5_3_1_2_3, V5_3_1_4_1],
    faults: [ConnackMalformedConnect],
    tags: [ToBroker],
    run: reserved_flag,
}

fn reserved_flag(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The twin: the same CONNECT with the reserved bit 0 is accepted.
        connect_twin(t.client("c")).await?.disconnect().await?;
        // Clean Start plus the reserved bit 0. 3.1.1: close without CONNACK. 5.0: Malformed
        // Packet; CONNACK 0x80+ is allowed first.
        let bytes = RawConnect::new(&t, &t.client_id("c"), 0x03).build();
        expect_connect_refused(&t, "c", bytes, false).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A CONNECT with an unknown Protocol Level is refused (3.1.1: return code 0x01; 5.0: 0x84 or close)
    UNSUPPORTED_PROTOCOL_LEVEL = "connect.unsupported-protocol-level",
    checks: [V5_3_1_2_2, V5_3_2_2_7, V5_3_2_2_6],
    faults: [SessionPresentOnRefusal],
    tags: [ToBroker],
    run: unsupported_protocol_level,
}

fn unsupported_protocol_level(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let id = t.client_id("c");
        // The twin: the same CONNECT with the run's Protocol Level is accepted, so what
        // follows is the broker's answer to the level.
        connect_twin(t.client("c")).await?.disconnect().await?;
        let mut c = t.client("c").open().await?;
        // Level 6 does not exist; laid out like the run's protocol.
        c.send_raw(RawConnect::new(&t, &id, 0x02).level(6).build())
            .await?;
        let level_statement = of_run!(&t, V5_3_1_2_2);
        let refused = ReasonCode::UnsupportedProtocolVersion;
        // The server cannot know which CONNACK layout a client of an unknown level reads, so
        // both are taken: the 3.1.1 one (return code 1) and the 5.0 one (0x84).
        let answer = connack_in_either_layout(&mut c, t.response_timeout()).await;
        let (code, layout) = match answer {
            Refusal::V311(code) => (code, ProtocolVersion::V311),
            Refusal::V5(code) => (code, ProtocolVersion::V5),
            Refusal::Closed => {
                t.checked();
                t.refusal_seen();
                if t.is_v5() {
                    return t.pass();
                }
                // 3.1.1 requires the CONNACK before the close.
                return Err(Failure::fail(
                    "CONNACK return code 1 (unacceptable protocol level), then the close",
                    "the connection closed without CONNACK",
                )
                .statement(level_statement));
            }
            // A refusing CONNACK never has Session Present 1.
            Refusal::SessionPresent(actual) => {
                return Err(Failure::fail(
                    "a CONNACK refusing the protocol level with Session Present 0",
                    actual,
                )
                .statement(of_run!(&t, V5_3_2_2_6)))
            }
            Refusal::Other(actual) => {
                return Err(Failure::fail(
                    "CONNACK refusing the protocol level (3.1.1 return code 1, or 5.0 0x84), or the close",
                    actual,
                )
                .statement(level_statement))
            }
        };
        // An acceptance breaks no MUST: 5.0 MQTT-3.1.2-2 binds only a server that "does not
        // want to accept" the CONNECT, and 3.1.1 MQTT-3.1.2-2 one that does not support the
        // level; which levels it accepts is the server's choice.
        // So an acceptance leaves no refusal to check.
        if code == ReasonCode::Success {
            return t.inconclusive(
                Precondition::Other,
                format!(
                    "the broker accepted Protocol Level 6 (an MQTT {} CONNACK 0x00), which a server may: no refusal to check",
                    layout.label()
                ),
            );
        }
        t.refusal_seen();
        // After a refusing CONNACK the connection must close.
        c.expect_closed()
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_3_2_2_7)))?;
        let run_layout = t.protocol();
        match (layout == run_layout, code == refused) {
            (true, true) => t.pass(),
            // 3.1.1 prescribes return code 1 in its own layout.
            (true, false) if !t.is_v5() => Err(Failure::fail(
                "CONNACK return code 1 (unacceptable protocol level)",
                format!(
                    "CONNACK {}",
                    summary::code(code, PacketType::ConnAck, run_layout)
                ),
            )
            .statement(level_statement)),
            (true, false) => t.informational(format!(
                "refused with CONNACK {} rather than 0x84 (Unsupported Protocol Version)",
                summary::code(code, PacketType::ConnAck, run_layout)
            )),
            (false, _) => t.informational(format!(
                "refused with an MQTT {} CONNACK ({})",
                layout.label(),
                summary::code(code, PacketType::ConnAck, layout)
            )),
        }
    })
}

/// How a CONNECT was answered.
enum Refusal {
    /// A CONNACK in the 3.1.1 layout.
    V311(ReasonCode),
    /// A CONNACK in the 5.0 layout.
    V5(ReasonCode),
    /// The connection closed without a packet.
    Closed,
    /// A refusing CONNACK with Session Present 1 (in either layout), described.
    SessionPresent(String),
    /// Anything else, described.
    Other(String),
}

/// Reads the answer to a CONNECT whose protocol level the broker does not know, accepting a
/// CONNACK in either layout.
async fn connack_in_either_layout(c: &mut Client, within: std::time::Duration) -> Refusal {
    let deadline = Instant::now() + within;
    c.raw().set_version(ProtocolVersion::V5);
    match c.raw().recv_until(deadline).await {
        Received::Packet(Packet::ConnAck(ack)) => Refusal::V5(ack.reason_code),
        Received::Closed => Refusal::Closed,
        Received::Malformed { bytes, error } => {
            let session_present = |e: &mqttspec_codec::DecodeError| {
                matches!(e.violation, Violation::SessionPresentOnError)
            };
            match Packet::decode(bytes, ProtocolVersion::V311) {
                Ok(Packet::ConnAck(ack)) => {
                    c.raw().set_version(ProtocolVersion::V311);
                    Refusal::V311(ack.reason_code)
                }
                Err(e) if session_present(&error) || session_present(&e) => {
                    Refusal::SessionPresent(format!(
                        "a refusing CONNACK with Session Present 1: {error}"
                    ))
                }
                _ => Refusal::Other(format!("malformed bytes from the broker: {error}")),
            }
        }
        other => Refusal::Other(other.describe(ProtocolVersion::V5)),
    }
}

// ---------------------------------------------------------------------------------------

case! {
    /// A CONNECT whose Protocol Name is not "MQTT" is not accepted as MQTT
    PROTOCOL_NAME_NOT_MQTT = "connect.protocol-name-not-mqtt",
    checks: [V5_3_1_2_1, V5_3_1_4_1, V5_3_2_2_7],
    faults: [ConnackMalformedConnect],
    tags: [ToBroker],
    run: protocol_name_not_mqtt,
}

/// What the specifications let a server do with a Protocol Name other than "MQTT": 3.1.1
/// (3.1.2.1) lets it disconnect, or go on under some other specification but never under
/// MQTT 3.1.1 [MQTT-3.1.2-1]; 5.0 (3.1.2.1, 3.1.4) has a multi-protocol server use the name
/// to tell whether the data is MQTT at all, and validates a CONNECT as MQTT 5.0 only once it
/// has determined the protocol is MQTT 5.0 — then the wrong name fails the format check and
/// the connection must close [MQTT-3.1.4-1], optionally after CONNACK 0x84 [MQTT-3.1.2-1].
/// So the case can require only this: no acceptance as MQTT (CONNACK 0x00), and the close
/// after a refusing CONNACK. Closing is PASS; silence with the connection open, or bytes that
/// are not MQTT, are another protocol's business (INFORMATIONAL).
fn protocol_name_not_mqtt(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let id = t.client_id("c");
        // The twin: the same CONNECT with the Protocol Name "MQTT" is accepted.
        connect_twin(t.client("c")).await?.disconnect().await?;
        let mut c = t.client("c").open().await?;
        c.send_raw(
            RawConnect::new(&t, &id, 0x02)
                .protocol_name(b"MQTX")
                .build(),
        )
        .await?;
        let v = t.protocol();
        let deadline = Instant::now() + t.response_timeout();
        match c.recv_raw(deadline).await {
            Received::Closed => {
                t.checked();
                t.refusal_seen();
                t.pass()
            }
            Received::Packet(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => {
                Err(Failure::fail(
                    "no acceptance as MQTT: the close, a refusing CONNACK, or an answer under another protocol",
                    "CONNACK 0x00: the CONNECT was accepted as MQTT",
                )
                .statement(statement(&t, S::V5_3_1_4_1, S::V311_3_1_2_1)))
            }
            Received::Packet(Packet::ConnAck(ack)) => {
                t.checked();
                t.refusal_seen();
                // Any refusing CONNACK must be followed by the close (5.0 MQTT-3.2.2-7,
                // 3.1.1 MQTT-3.2.2-5), whatever its code.
                c.expect_closed()
                    .await
                    .map_err(|f| f.statement(of_run!(&t, V5_3_2_2_7)))?;
                let code = summary::code(ack.reason_code, PacketType::ConnAck, v);
                if t.is_v5() && ack.reason_code == ReasonCode::UnsupportedProtocolVersion {
                    t.pass()
                } else if t.is_v5() {
                    t.informational(format!(
                        "refused with CONNACK {code} (the specification names 0x84), then closed"
                    ))
                } else {
                    t.informational(format!(
                        "refused with CONNACK {code}, then closed (3.1.1 names the close, or another protocol)"
                    ))
                }
            }
            Received::Timeout => t.informational(format!(
                "neither answered nor closed within {} ms: a server may go on under another protocol",
                t.response_timeout().as_millis()
            )),
            other => t.informational(format!(
                "answered with {} (no MQTT acceptance): a server may go on under another protocol",
                other.describe(v)
            )),
        }
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Client Identifier of 23 letters and digits is accepted
    CLIENT_ID_23_CHARACTERS = "connect.client-id-23-alphanumerics-accepted",
    checks: [V5_3_1_3_5],
    faults: [ClientIdStrictClose],
    tags: [ClientId, ToBroker],
    run: client_id_23_characters,
}

fn client_id_23_characters(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut id = t.client_id("c");
        let pad = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        id.push_str(pad.get(..23usize.saturating_sub(id.len())).unwrap_or(""));
        if id.len() != 23 {
            return t.error(format!(
                "case error: Client Identifier {id:?} is not 23 long"
            ));
        }
        // The same client with the run's shorter identifier is accepted: a refusal of the
        // 23-character one is about the identifier.
        t.client("c").connect().await?.disconnect().await?;
        let (mut c, _) = t
            .client("c23")
            .client_id(id)
            .connect_expect(&[Reply::ConnAck(ReasonCode::Success)])
            .await?;
        c.alive().as_setup(Precondition::Ping).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// An empty Client Identifier with Clean Start is accepted with a unique assigned identifier (or refused)
    EMPTY_CLIENT_ID_ASSIGNED = "connect.empty-client-id-gets-unique-id",
    checks: [V5_3_1_3_6, V5_3_1_3_7, V5_3_2_2_16, V5_3_1_3_8],
    faults: [DuplicateAssignedClientId],
    tags: [ClientId],
    run: empty_client_id_assigned,
}

fn empty_client_id_assigned(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The twin: the same client with a non-empty identifier is accepted.
        connect_twin(t.client("a")).await?.disconnect().await?;
        let not_valid = Reply::ConnAck(ReasonCode::ClientIdentifierNotValid);
        let replies = [
            Reply::ConnAck(ReasonCode::Success),
            not_valid,
            Reply::ConnAckError,
            Reply::Closed,
        ];
        let (mut a, reply) = t.client("a").client_id("").connect_expect(&replies).await?;
        match reply {
            Reply::ConnAck(ReasonCode::Success) => {}
            r if r == not_valid => {
                return t.informational("the broker does not allow empty Client Identifiers")
            }
            // 3.1.1: a rejected Client Identifier gets return code 0x02 before the close.
            Reply::Closed if !t.is_v5() => {
                return Err(Failure::fail(
                    "CONNACK return code 0x02 (identifier rejected) before the close",
                    "the connection closed without CONNACK",
                )
                .statement(S::V311_3_1_3_9))
            }
            Reply::Closed => {
                return t.informational(
                    "the broker refuses an empty Client Identifier by closing the connection",
                )
            }
            _ => {
                return t.informational(
                    "the broker refuses an empty Client Identifier with another CONNACK error code",
                )
            }
        }
        // The broker allows them: a second one gets its own identifier.
        let mut b = t.client("b").client_id("").connect().await?;
        if t.is_v5() {
            let assigned = |c: &Client| {
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

case! {
    /// 3.1.1: an empty Client Identifier with Clean Session 0 gets return code 0x02 and the connection is closed
    EMPTY_CLIENT_ID_PERSISTENT_REFUSED = "connect.empty-client-id-without-clean-session-refused",
    checks: [V311_3_1_3_7, V311_3_1_3_8, V311_3_2_2_5],
    only: V311,
    faults: [AcceptEmptyClientIdPersistent],
    tags: [ClientId, Session],
    run: empty_client_id_persistent_refused,
}

fn empty_client_id_persistent_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The twin: the same Clean Session 0 client with an identifier is accepted.
        connect_twin(t.client("c").clean_start(false))
            .await?
            .disconnect()
            .await?;
        t.client("e")
            .client_id("")
            .clean_start(false)
            .connect_expect(&[Reply::ConnAck(ReasonCode::ClientIdentifierNotValid)])
            .await?;
        // End the twin's session.
        end_session(&t, "c").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Every PINGREQ is answered with a PINGRESP
    PINGREQ_ANSWERED = "connect.pingreq-answered",
    checks: [V5_3_12_4_1],
    faults: [NoPingresp],
    tags: [ToBroker],
    run: pingreq_answered,
}

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

case! {
    /// The broker's first packet is a well-formed CONNACK (reserved flags zero, a defined reason code, valid 5.0 properties)
    CONNACK_WELL_FORMED = "connack.well-formed",
    checks: [V5_3_2_2_1, V5_3_2_2_8, V5_3_2_0_1],
    faults: [MalformedConnack],
    tags: [FromBroker],
    run: connack_well_formed,
}

fn connack_well_formed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The strict decoder refuses non-zero reserved flags and undefined codes: a
        // malformed CONNACK is FAIL with the statement it breaks. No CONNACK at all leaves
        // nothing to judge here (`connect.accepted` checks that one is sent).
        let mut c = connect_checked(&t, t.client("c"), false).await?;
        c.alive().as_setup(Precondition::Ping).await?;
        c.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Clean Start 1 gets Session Present 0 even when a session existed
    SESSION_PRESENT_ZERO_ON_CLEAN_START = "connack.session-present-zero-on-clean-start",
    checks: [V5_3_2_2_2, V5_3_1_2_4],
    faults: [KeepSessionOnCleanStart],
    tags: [Session, FromBroker],
    run: session_present_zero_on_clean_start,
}

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
        t.check(
            !session_present(&clean),
            "CONNACK Session Present 0 for Clean Start 1",
            "Session Present 1",
        )?;
        clean.disconnect().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Clean Start 0 gets Session Present 0 without a stored session and 1 when resuming one
    SESSION_PRESENT_ONE_ON_RESUME = "connack.session-present-one-on-resume",
    checks: [V5_3_2_2_3, V5_3_1_2_5, V311_3_2_2_2, V311_3_2_2_3],
    faults: [NoSessionPresent],
    tags: [Session, FromBroker],
    run: session_present_one_on_resume,
}

fn session_present_one_on_resume(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("s");
        let mut first = t
            .client("c")
            .clean_start(false)
            .session_expiry(60)
            .connect()
            .await?;
        t.check(
            !session_present(&first),
            "Session Present 0 for a Client Identifier without a session",
            "Session Present 1",
        )?;
        // Session state that shows whether the session was kept: a subscription.
        first.subscribe(&topic).qos(1).await?;
        first.disconnect().await?;
        let mut again = t
            .client("c")
            .clean_start(false)
            .session_expiry(60)
            .connect()
            .await?;
        let present = session_present(&again);
        if !present {
            // Session Present 0 is wrong only if the session was in fact kept: its
            // subscription still delivers.
            let mut publisher = t.client("pub").connect().await?;
            publisher.publish(&topic).qos(1).payload("kept?").await?;
            again
                .expect_publish()
                .topic(&topic)
                .payload("kept?")
                .as_setup(Precondition::Other)
                .await
                .map_err(|_| {
                    Failure::inconclusive(
                        Precondition::Other,
                        "Session Present 0, and the stored subscription no longer delivers: the session was not kept",
                    )
                })?;
        }
        t.check(
            present,
            "Session Present 1 when resuming the stored session",
            "Session Present 0, although the session (its subscription) was kept",
        )?;
        again.disconnect().await?;
        end_session(&t, "c").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A connection silent for one and a half Keep Alive periods is closed by the broker
    KEEP_ALIVE_ENFORCED = "connect.keep-alive-enforced",
    checks: [V5_3_1_2_22, V5_3_2_2_22],
    faults: [NoKeepaliveTimeout],
    tags: [ToBroker],
    run: keep_alive_enforced,
}

fn keep_alive_enforced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").keep_alive(1).connect().await?;
        let keep_alive = keep_alive_in_force(&c, 1);
        if keep_alive == 0 || keep_alive > 5 {
            return t.informational(format!(
                "the broker set Server Keep Alive {keep_alive}: too long (or off) to wait for"
            ));
        }
        // The twin: while the client is active the connection is served (the PINGREQ also
        // restarts the Keep Alive timer, so the silence starts now).
        c.alive().as_twin().await?;
        // 1.5 × Keep Alive, plus 1 s for brokers that check keep alive once a second.
        c.expect_reply(TIMED_OUT)
            .within(close_within(keep_alive))
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A second connection with the same Client Identifier closes the first (5.0: after DISCONNECT 0x8E)
    TAKEOVER_CLOSES_OLD_CONNECTION = "connect.takeover-closes-old-connection",
    checks: [V5_3_1_4_3],
    faults: [NoTakeover],
    tags: [ClientId, Session],
    run: takeover_closes_old_connection,
}

fn takeover_closes_old_connection(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let id = t.client_id("shared");
        let mut old = t.client("old").client_id(&id).connect().await?;
        // The twin: the old connection is served until the new one takes over.
        old.alive().as_twin().await?;
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
        // The new connection is the one kept.
        new.alive().as_setup(Precondition::Ping).await?;
        // Only the close carries a MUST in MQTT-3.1.4-3; the DISCONNECT 0x8E before it is
        // described by reference to 4.13, where a server's DISCONNECT is a SHOULD.
        judge_close(&t, reply, &[ReasonCode::SessionTakenOver])
    })
}

// ---------------------------------------------------------------------------------------
// Malformed CONNECT packets: Connect Flags that disagree with the payload, bad properties.

/// A CONNECT with Protocol Name "MQTT" and the run's level, these Connect Flags, Keep Alive
/// 60, (5.0) the property block `properties`, the case's Client Identifier, then `tail` as
/// raw bytes.
fn connect_bytes(t: &Ctx, flags: u8, properties: &[u8], tail: &[u8]) -> bytes::Bytes {
    RawConnect::new(t, &t.client_id("c"), flags)
        .properties(properties)
        .tail(tail)
        .build()
}

/// Sends a CONNECT the broker must refuse as malformed: 3.1.1 closes without CONNACK
/// (MQTT-3.1.4-1); 5.0 closes, possibly after a CONNACK with an error code. `twin` is the
/// same client with the offending field corrected: it must be accepted first.
async fn expect_malformed_connect_refused(
    t: Ctx,
    twin: ClientBuilder,
    bytes: bytes::Bytes,
) -> CaseResult {
    connect_twin(twin).await?.disconnect().await?;
    expect_connect_refused(&t, "c", bytes, false).await?;
    t.pass()
}

/// A malformed-CONNECT case: `flags`, 5.0 `properties` and the payload `tail` after the
/// Client Identifier; `twin` builds the same client with the offending field corrected.
macro_rules! malformed_connect_case {
    ($name:ident, $run:ident, $id:literal, $title:literal, $only:ident, [$($s:ident),+ $(,)?],
     [$($tag:ident),* $(,)?],
     |$t:ident| ($flags:expr, $props:expr, $tail:expr),
     twin: |$tt:ident| $twin:expr) => {
        mqttspec_harness::case! {
            #[doc = $title]
            $name = $id,
            checks: [$($s),+],
            only: $only,
            faults: [ConnackMalformedConnect],
            tags: [$($tag),*],
            run: $run,
        }

        fn $run($t: Ctx) -> BoxFuture<'static, CaseResult> {
            Box::pin(async move {
                let bytes = connect_bytes(&$t, $flags, $props, $tail);
                let twin = {
                    let $tt = &$t;
                    $twin
                };
                expect_malformed_connect_refused($t, twin, bytes).await
            })
        }
    };
}

/// The plain twin: the same client, well-formed.
fn plain(t: &Ctx) -> ClientBuilder {
    t.client("c")
}

/// The twin with a well-formed Will (QoS 1) on the topic of the malformed Will fields.
fn with_will(t: &Ctx) -> ClientBuilder {
    t.client("c").will(Will::new(t.topic("will"), "w").qos(1))
}

/// The twin with these CONNECT properties.
fn with_properties(t: &Ctx, properties: ConnectProperties) -> ClientBuilder {
    t.client("c").properties(properties)
}

malformed_connect_case!(
    PASSWORD_WITHOUT_USER_NAME,
    password_without_user_name,
    "connect.password-without-user-name",
    "3.1.1: a CONNECT with the Password Flag but not the User Name Flag is refused without CONNACK",
    V311,
    [V311_3_1_2_22, V311_3_1_4_1],
    [Credentials, ToBroker],
    |t| (0x42, &[], &[0x00, 0x02, b'p', b'w']),
    twin: |t| plain(t)
);

malformed_connect_case!(
    USER_NAME_FLAG_WITHOUT_USER_NAME,
    user_name_flag_without_user_name,
    "connect.user-name-flag-without-user-name",
    "A CONNECT with the User Name Flag set but no User Name in the payload is refused",
    Both,
    [V5_3_1_2_17, V5_3_1_4_1],
    [Credentials, ToBroker],
    |t| (0x82, &[], &[]),
    twin: |t| plain(t)
);

malformed_connect_case!(
    PASSWORD_FLAG_WITHOUT_PASSWORD,
    password_flag_without_password,
    "connect.password-flag-without-password",
    "A CONNECT with the Password Flag set but no Password in the payload is refused",
    Both,
    [V5_3_1_2_19, V5_3_1_4_1],
    [Credentials, ToBroker],
    |t| (0xC2, &[], &[0x00, 0x01, b'u']),
    twin: |t| plain(t)
);

malformed_connect_case!(
    USER_NAME_WITHOUT_FLAG,
    user_name_without_flag,
    "connect.user-name-without-flag",
    "A CONNECT carrying a User Name while the User Name Flag is 0 is refused",
    Both,
    [V5_3_1_2_16, V5_3_1_4_1],
    [Credentials, ToBroker],
    |t| (0x02, &[], &[0x00, 0x01, b'u']),
    twin: |t| plain(t)
);

malformed_connect_case!(
    PASSWORD_WITHOUT_FLAG,
    password_without_flag,
    "connect.password-without-password-flag",
    "A CONNECT carrying a Password after the User Name while the Password Flag is 0 is refused",
    Both,
    [V5_3_1_2_18, V5_3_1_4_1],
    [Credentials, ToBroker],
    |t| (0x82, &[], &password_without_flag_fields(&t)),
    twin: |t| plain(t)
);

/// The User Name (the profile's, else "u") followed by a Password ("pw" without one in the
/// profile).
fn password_without_flag_fields(t: &Ctx) -> Vec<u8> {
    let (user, password) = match &t.profile().credentials {
        Some(c) => (
            c.username.clone(),
            c.password.clone().unwrap_or_else(|| "pw".to_owned()),
        ),
        None => ("u".to_owned(), "pw".to_owned()),
    };
    RawPacket::new(0)
        .binary(user.as_bytes())
        .binary(password.as_bytes())
        .body()
        .to_vec()
}

malformed_connect_case!(
    WILL_QOS_WITHOUT_WILL_FLAG,
    will_qos_without_will_flag,
    "connect.will-qos-without-will-flag",
    "A CONNECT with Will QoS 1 but the Will Flag 0 is refused",
    Both,
    [V5_3_1_2_11, V5_3_1_4_1],
    [Will, ToBroker],
    |t| (0x0A, &[], &[]),
    twin: |t| plain(t)
);

malformed_connect_case!(
    WILL_RETAIN_WITHOUT_WILL_FLAG,
    will_retain_without_will_flag,
    "connect.will-retain-without-will-flag",
    "A CONNECT with Will Retain 1 but the Will Flag 0 is refused",
    Both,
    [V5_3_1_2_13, V5_3_1_4_1],
    [Will, ToBroker],
    |t| (0x22, &[], &[]),
    twin: |t| plain(t)
);

malformed_connect_case!(
    WILL_QOS_3,
    will_qos_3,
    "connect.will-qos-3",
    "A CONNECT with a Will of QoS 3 is refused",
    Both,
    [V5_3_1_2_12, V5_3_1_4_1],
    [Will, ToBroker],
    |t| (0x1E, &[], &will_fields(&t, &t.topic("will"), b"w")),
    twin: |t| with_will(t)
);

malformed_connect_case!(
    WILL_FLAG_WITHOUT_WILL_FIELDS,
    will_flag_without_will_fields,
    "connect.will-flag-without-will-fields",
    "A CONNECT with the Will Flag set but no Will Topic or Payload is refused",
    Both,
    [V5_3_1_2_9, V5_3_1_4_1],
    [Will, WillTopic, ToBroker],
    |t| (0x06, &[], &[]),
    twin: |t| with_will(t)
);

malformed_connect_case!(
    RECEIVE_MAXIMUM_ZERO,
    receive_maximum_zero,
    "connect.receive-maximum-zero",
    "5.0: a CONNECT with Receive Maximum 0 is a Protocol Error and is refused",
    V5,
    [V5_3_1_4_1],
    [ToBroker],
    |t| (0x02, &[0x21, 0x00, 0x00], &[]),
    twin: |t| with_properties(
        t,
        ConnectProperties {
            receive_maximum: std::num::NonZeroU16::new(10),
            ..ConnectProperties::default()
        }
    )
);

malformed_connect_case!(
    MAXIMUM_PACKET_SIZE_ZERO,
    maximum_packet_size_zero,
    "connect.maximum-packet-size-zero",
    "5.0: a CONNECT with Maximum Packet Size 0 is a Protocol Error and is refused",
    V5,
    [V5_3_1_4_1],
    [ToBroker],
    |t| (0x02, &[0x27, 0x00, 0x00, 0x00, 0x00], &[]),
    twin: |t| with_properties(
        t,
        ConnectProperties {
            maximum_packet_size: std::num::NonZeroU32::new(65_535),
            ..ConnectProperties::default()
        }
    )
);

malformed_connect_case!(
    DUPLICATE_PROPERTY,
    duplicate_property,
    "connect.duplicate-property",
    "5.0: a CONNECT with the Session Expiry Interval twice is a Protocol Error and is refused",
    V5,
    [V5_3_1_4_1],
    [ToBroker],
    |t| (
        0x02,
        &[0x11, 0x00, 0x00, 0x00, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x14],
        &[]
    ),
    twin: |t| with_properties(
        t,
        ConnectProperties {
            session_expiry_interval: Some(10),
            ..ConnectProperties::default()
        }
    )
);

malformed_connect_case!(
    AUTHENTICATION_DATA_WITHOUT_METHOD,
    authentication_data_without_method,
    "connect.authentication-data-without-method",
    "5.0: a CONNECT with Authentication Data but no Authentication Method is a Protocol Error and is refused",
    V5,
    [V5_3_1_4_1],
    [Auth, ToBroker],
    |t| (0x02, &[0x16, 0x00, 0x02, 0xAB, 0xCD], &[]),
    twin: |t| plain(t)
);

malformed_connect_case!(
    PROPERTY_NOT_FOR_CONNECT,
    property_not_for_connect,
    "connect.property-not-allowed-in-connect",
    "5.0: a CONNECT carrying a Topic Alias property (not a CONNECT property) is malformed and refused",
    V5,
    [V5_3_1_4_1],
    [ToBroker],
    |t| (0x02, &[0x23, 0x00, 0x01], &[]),
    twin: |t| plain(t)
);

// ---------------------------------------------------------------------------------------

case! {
    /// A CONNECT whose payload does not start with the Client Identifier (no payload at all; the Will fields first) is refused
    PAYLOAD_WITHOUT_CLIENT_ID = "connect.payload-without-client-id-refused",
    checks: [V5_3_1_3_3, V5_3_1_3_1, V5_3_1_4_1],
    faults: [ConnackMalformedConnect],
    tags: [ClientId, ToBroker],
    run: payload_without_client_id,
}

fn payload_without_client_id(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The variable header of a CONNECT with these flags, and nothing after it.
        let header = |flags: u8| {
            let p = RawPacket::new(0x10)
                .binary(b"MQTT")
                .u8(t.protocol().level())
                .u8(flags)
                .u16(60);
            if t.is_v5() {
                p.properties(&[])
            } else {
                p
            }
        };
        // No payload: the Client Identifier is missing.
        connect_twin(plain(&t)).await?.disconnect().await?;
        expect_connect_refused(&t, "none", header(0x02).build(), false).await?;
        // The Will Flag set and the payload starting with the Will fields: read in order,
        // they cannot make a CONNECT (3.1.1: the Will Payload is missing; 5.0: the Will Topic
        // is read as Will Properties).
        connect_twin(with_will(&t)).await?.disconnect().await?;
        let will_first = header(0x0E)
            .bytes(&will_fields(&t, &t.topic("will"), b"w"))
            .build();
        expect_connect_refused(&t, "will-first", will_first, false).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A 64-character Client Identifier may be accepted or refused; a refusal is CONNACK 0x85 (5.0, or close) / 0x02 (3.1.1)
    CLIENT_ID_LONGER_THAN_23 = "connect.client-id-longer-than-23",
    checks: [V5_3_1_3_8],
    faults: [ClientIdStrictClose @ V311],
    tags: [ClientId],
    run: client_id_longer_than_23,
}

fn client_id_longer_than_23(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut id = t.client_id("c");
        while id.len() < 64 {
            id.push('x');
        }
        unusual_client_id(t, id, "a 64-character Client Identifier").await
    })
}

case! {
    /// A Client Identifier with characters other than letters and digits may be accepted or refused; a refusal is CONNACK 0x85 (5.0, or close) / 0x02 (3.1.1)
    CLIENT_ID_OTHER_CHARACTERS = "connect.client-id-other-characters",
    checks: [V5_3_1_3_8],
    faults: [ClientIdStrictClose @ V311],
    tags: [ClientId],
    run: client_id_other_characters,
}

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
    // The twin: the same client with the run's plain identifier is accepted, so a refusal is
    // about the identifier.
    connect_twin(t.client("c")).await?.disconnect().await?;
    let not_valid = Reply::ConnAck(ReasonCode::ClientIdentifierNotValid);
    let (mut c, reply) = t
        .client("unusual")
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
            c.alive().as_setup(Precondition::Ping).await?;
            c.disconnect().await?;
            t.informational(format!("{what} is accepted"))
        }
        r if r == not_valid => {
            t.informational(format!("{what} is refused (Client Identifier not valid)"))
        }
        Reply::Closed if !t.is_v5() => Err(Failure::fail(
            "CONNACK return code 0x02 (identifier rejected) before the close",
            "the connection closed without CONNACK",
        )
        .statement(S::V311_3_1_3_9)),
        Reply::Closed => t.informational(format!("{what} is refused by closing the connection")),
        _ => t.informational(format!("{what} is refused with another CONNACK error code")),
    }
}

// ---------------------------------------------------------------------------------------

case! {
    /// A wrong Password is refused (CONNACK 0x86 / 0x87, 3.1.1 return code 4 / 5) and the connection closed
    BAD_CREDENTIALS_REFUSED = "connect.bad-credentials-refused",
    checks: [V5_3_1_4_2, V5_3_2_2_7],
    requires: [Credentials],
    unfaultable: "accepting a wrong password is the broker's policy (INFORMATIONAL, see `accept-wrong-password`); the case fails only on a refusal with a wrong code or without a close, and the reference broker has no fault for that yet",
    tags: [Credentials],
    run: bad_credentials_refused,
}

fn bad_credentials_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let Some(credentials) = t.profile().credentials.clone() else {
            return t.unsupported("no [credentials] in the profile");
        };
        // The twin: the same client with the right password (the profile's) is accepted.
        connect_twin(t.client("c")).await?.disconnect().await?;
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

case! {
    /// A PUBLISH sent right behind a refused CONNECT is not processed
    PACKETS_AFTER_REFUSED_CONNECT_IGNORED = "connect.packets-after-refused-connect-ignored",
    checks: [V5_3_1_4_6, V5_4_12_0_1, V311_3_1_4_5, V311_3_1_3_8],
    faults: [AcceptEmptyClientIdPersistent @ V311, AcceptUnknownAuthMethod @ V5],
    tags: [Live, ToBroker],
    run: packets_after_refused_connect_ignored,
}

/// `connect` followed, in the same write, by a QoS 0 PUBLISH of `payload` on `topic`.
fn connect_then_publish(
    t: &Ctx,
    builder: &ClientBuilder,
    topic: &str,
    payload: &[u8],
) -> Result<Vec<u8>, Failure> {
    let connect = builder.connect_packet()?;
    let encode_error = |e| Failure::error(format!("case error: {e}"));
    let mut bytes = Packet::Connect(Box::new(connect))
        .encode(t.protocol())
        .map_err(encode_error)?
        .to_vec();
    bytes.extend_from_slice(&raw_publish(t, 0, topic, None, &[], payload));
    Ok(bytes)
}

fn packets_after_refused_connect_ignored(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("after-refusal");
        let mut watcher = t.client("watcher").connect().await?;
        watcher.subscribe(&topic).await?;

        // The twin: the same CONNECT-and-PUBLISH write with a CONNECT the broker accepts; its
        // PUBLISH is processed (delivered to the watcher).
        let good = t.client("twin");
        let bytes = connect_then_publish(&t, &good, &topic, b"twin")?;
        let mut twin = good.open().await?;
        twin.send_raw(bytes).await?;
        twin.expect_reply(&[Reply::ConnAck(ReasonCode::Success)])
            .as_twin()
            .await?;
        watcher
            .expect_publish()
            .topic(&topic)
            .payload("twin")
            .as_twin()
            .await?;

        // A CONNECT every broker must refuse: 5.0 an Authentication Method nobody offers;
        // 3.1.1 an empty Client Identifier with Clean Session 0.
        let builder = if t.is_v5() {
            let properties = ConnectProperties {
                authentication_method: Some(text(
                    "mqttspec-no-such-method",
                    "Authentication Method",
                )?),
                ..ConnectProperties::default()
            };
            t.client("bad").properties(properties)
        } else {
            t.client("bad").client_id("").clean_start(false)
        };
        let bytes = connect_then_publish(&t, &builder, &topic, b"must not arrive")?;
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
            return Err(Failure::fail(expected, "CONNACK 0x00").statement(statement));
        }
        watcher.expect_no_publish().for_(QUIET).await?;
        // The control, after the quiet window: the watcher still receives on that topic.
        control(&mut twin, &mut watcher, &topic, "control").await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: with Request Problem Information 0 an acknowledgement carries no Reason String or User Property
    REQUEST_PROBLEM_INFORMATION_ZERO = "connect.request-problem-information-zero",
    checks: [V5_3_1_2_29],
    only: V5,
    faults: [ReasonStringAlways],
    tags: [ReasonString, UserProperty, FromBroker],
    run: request_problem_information_zero,
}

/// Connects with Request Problem Information `rpi`, sends PUBREL for a Packet Identifier the
/// broker does not know (answered with PUBCOMP 0x92) and says whether the PUBCOMP carried a
/// Reason String or User Property. The PUBCOMP itself is setup: what is checked is what it
/// carries.
async fn problem_information_on_pubcomp(
    t: &Ctx,
    name: &str,
    rpi: Option<bool>,
) -> Result<bool, Failure> {
    let properties = ConnectProperties {
        request_problem_information: rpi,
        ..ConnectProperties::default()
    };
    let mut c = t.client(name).properties(properties).connect().await?;
    let id = c.next_packet_id();
    c.send(&Packet::PubRel(PubRel::new(id))).await?;
    let comp = c
        .expect_packet(PacketType::PubComp)
        .as_setup(Precondition::Other)
        .await?;
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

case! {
    /// 5.0: CONNACK carries no Response Information when the client did not request it
    RESPONSE_INFORMATION_ONLY_WHEN_REQUESTED = "connack.response-information-only-when-requested",
    checks: [V5_3_1_2_28],
    only: V5,
    faults: [UnrequestedResponseInformation],
    tags: [RequestResponse, FromBroker],
    run: response_information_only_when_requested,
}

fn response_information_only_when_requested(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        for (name, request) in [("absent", None), ("zero", Some(false))] {
            let properties = ConnectProperties {
                request_response_information: request,
                ..ConnectProperties::default()
            };
            let mut c = t.client(name).properties(properties).connect().await?;
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
            // The CONNACK came from a broker that serves the connection.
            c.alive().as_setup(Precondition::Ping).await?;
            c.disconnect().await?;
        }
        t.pass()
    })
}
