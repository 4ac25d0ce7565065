//! MQTT 5.0 Shared Subscriptions (4.8.2): `$share/{ShareName}/{filter}` groups whose members
//! share the messages, one member per message; the syntax of the filter; No Local and
//! retained messages on shared subscriptions; Shared Subscription Available; and what an
//! MQTT 3.1.1 broker makes of a `$share/...` filter (nothing is required there).
//!
//! Most of what 4.8.2 says about the delivery to a group (one and only one member per
//! message, each group its own copy, membership ending with UNSUBSCRIBE or the session) is
//! untagged descriptive text without a MUST; its tagged MUSTs are the filter's syntax
//! (MQTT-4.8.2-1, -2), the granted QoS (-3) and the in-flight rules (-4, -5, -6). So a member
//! getting a second copy is NON-STRICT, naming that text, and FAIL is kept for what a tagged
//! MUST forbids: a message the broker accepted reaching no Client with a matching
//! Subscription (MQTT-4.5.0-1), a message at more than the granted QoS (MQTT-4.8.2-3),
//! messages after an UNSUBSCRIBE of the exact filter (MQTT-3.10.4-2), a session that should
//! have been discarded still receiving (MQTT-3.1.2-4), a Protocol Error left unclosed
//! (MQTT-4.13.1-1), a SUBSCRIBE left unanswered (MQTT-3.8.4-1).
//!
//! A case whose verdict rests on a refusal has the same connection's well-formed twin (the
//! filter corrected) granted first; one resting on a member getting nothing has a message
//! that must reach that member on the same connection afterwards.

use mqttspec_codec::{Packet, PacketType, PubAck, PubRec, Publish, ReasonCode, StatementId as S};
use tokio::time::Instant;

use super::support::{
    clearing_retained, control, control_after_quiet, count_payloads, end_session,
    expect_connection_closed, gather, granted_one, list_payloads, numbered_payloads, persistent,
    publish_all, publish_retained, raw_subscribe, resume, QUIET,
};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{
    BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Verdict,
};

// ---------------------------------------------------------------------------------------

/// "0x82 (Protocol Error) or 0x81 (Malformed Packet)".
fn names(codes: &[ReasonCode]) -> String {
    let parts: Vec<String> = codes
        .iter()
        .map(|c| {
            format!(
                "0x{:02X} ({})",
                c.as_u8(),
                c.name_in(PacketType::Disconnect)
            )
        })
        .collect();
    parts.join(" or ")
}

/// The Shared Subscription filter `$share/{group}/{topic}`.
fn share(group: &str, topic: &str) -> String {
    format!("$share/{group}/{topic}")
}

/// The positive control of a member that got nothing: the same connection subscribes to
/// `topic` without sharing, and a message `publisher` publishes to it must arrive there.
async fn member_control(
    publisher: &mut Client,
    member: &mut Client,
    topic: &str,
) -> Result<(), Failure> {
    member.subscribe(topic).qos(1).await?;
    control(publisher, member, topic, "control").await
}

/// The untagged sentence of 4.8.2 on the members of a group, quoted in Expected texts.
const ONE_AND_ONLY_ONE: &str = "the specification's untagged description in 4.8.2, no MUST: \
     \"Each subsequent Application Message that matches the Shared Subscription is now sent to \
     one and only one of the Sessions that are subscribed to the Shared Subscription\"";

/// Departures from what the specification describes only in untagged text (no MUST, no
/// statement id): each is NON-STRICT, reported once every MUST of the case has been checked
/// (a FAIL found later wins).
#[derive(Debug, Default)]
struct Untagged(Vec<(String, String)>);

impl Untagged {
    /// Notes one departure: what the untagged text describes, and what happened.
    fn note(&mut self, expected: impl Into<String>, actual: impl Into<String>) {
        self.0.push((expected.into(), actual.into()));
    }

    /// NON-STRICT naming the first departure (and how many more there were), or `otherwise`
    /// when there was none.
    fn verdict(self, t: &Ctx, otherwise: impl FnOnce() -> CaseResult) -> CaseResult {
        let more = self.0.len().saturating_sub(1);
        match self.0.into_iter().next() {
            None => otherwise(),
            Some((expected, actual)) if more > 0 => t.non_strict(
                expected,
                format!("{actual} (and {more} more such departures)"),
            ),
            Some((expected, actual)) => t.non_strict(expected, actual),
        }
    }
}

/// Checks the messages `sent` (each published at QoS 1 and acknowledged: the broker took
/// ownership of it) against what the members of one group received. A message that reached
/// no member is FAIL of MQTT-4.5.0-1: each member is a Client with a matching Subscription
/// (4.8.2: the `$share/{ShareName}` part is not taken into account when matching), and
/// however a Shared Subscription narrows that MUST, it is not to no member at all. A message
/// reaching the group more than once, or one that was not published, departs only from the
/// untagged text of 4.8.2 (and 4.7): NON-STRICT, noted in `untagged`.
fn check_once_per_group(
    t: &Ctx,
    group: &str,
    per_member: &[Vec<Publish>],
    sent: &[String],
    untagged: &mut Untagged,
) -> Result<(), Failure> {
    let counts = count_payloads(per_member.iter().flatten());
    for p in sent {
        let n = counts.get(p).copied().unwrap_or(0);
        t.check(
            n > 0,
            format!(
                "message {p}, accepted at QoS 1, added to the Session State of a member of \
                 group {group} (the Clients with a matching Subscription)"
            ),
            "delivered to no member of the group",
        )
        .map_err(|f| f.statement(S::V5_4_5_0_1))?;
        if n > 1 {
            untagged.note(
                format!(
                    "message {p} sent to one and only one member of group {group} \
                     ({ONE_AND_ONLY_ONE})"
                ),
                format!("delivered {n} times in the group"),
            );
        }
    }
    let stray: Vec<&String> = counts.keys().filter(|k| !sent.contains(k)).collect();
    if !stray.is_empty() {
        untagged.note(
            format!(
                "only the messages published to the topic of group {group} (4.7 and 4.8.2 \
                 describe a Subscription being sent the messages that match it, in untagged \
                 text without a MUST)"
            ),
            format!("also {stray:?}"),
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------

case! {
    /// Each message matching a Shared Subscription goes to exactly one of its members, none is lost
    EACH_MESSAGE_TO_ONE_MEMBER = "shared.each-message-to-one-member",
    checks: [V5_4_5_0_1],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [SharedDropAlternate],
    tags: [Shared, Live, FromBroker],
    run: each_message_to_one_member,
}

/// "One and only one" member per message is 4.8.2's untagged description: a second copy in
/// the group is NON-STRICT. A message reaching no member is FAIL of MQTT-4.5.0-1.
fn each_message_to_one_member(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("work");
        let filter = share("g", &topic);
        let mut members = Vec::new();
        for name in ["a", "b"] {
            let mut m = t.client(name).connect().await?;
            m.subscribe(&filter).qos(1).await?;
            members.push(m);
        }
        let mut publisher = t.client("pub").connect().await?;
        let sent = numbered_payloads(10);
        publish_all(&mut publisher, &topic, &sent).await?;
        let got = gather(&t, &mut members, sent.len()).await?;
        let mut untagged = Untagged::default();
        check_once_per_group(&t, "g", &got, &sent, &mut untagged)?;
        let (a, b) = (got[0].len(), got[1].len());
        untagged.verdict(&t, || {
            if a == 0 || b == 0 {
                // The server may pick any member for each message (4.8.2): not a failure.
                return t.informational(format!(
                    "all {} messages went to one member (a: {a}, b: {b}); the choice is the server's",
                    sent.len()
                ));
            }
            t.pass()
        })
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Two Shared Subscriptions with the same filter and different ShareNames each get every message once
    EACH_GROUP_GETS_EVERY_MESSAGE = "shared.each-group-gets-every-message",
    checks: [V5_4_5_0_1],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [SharedFirstGroupOnly],
    tags: [Shared, Live, FromBroker],
    run: each_group_gets_every_message,
}

/// Group g2 has a single member: a message that does not reach it has reached no Client of
/// that Shared Subscription, FAIL of MQTT-4.5.0-1 (the untagged notes of 4.8.2 add that each
/// Shared Subscription is processed separately). A second copy within a group is NON-STRICT
/// (4.8.2's untagged "one and only one").
fn each_group_gets_every_message(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("work");
        // Group g1 has two members, group g2 one.
        let mut g1 = Vec::new();
        for name in ["a1", "b1"] {
            let mut m = t.client(name).connect().await?;
            m.subscribe(share("g1", &topic)).qos(1).await?;
            g1.push(m);
        }
        let mut g2 = vec![t.client("a2").connect().await?];
        g2[0].subscribe(share("g2", &topic)).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        let sent = numbered_payloads(4);
        publish_all(&mut publisher, &topic, &sent).await?;
        let got1 = gather(&t, &mut g1, sent.len()).await?;
        let got2 = gather(&t, &mut g2, sent.len()).await?;
        let mut untagged = Untagged::default();
        check_once_per_group(&t, "g1", &got1, &sent, &mut untagged)?;
        check_once_per_group(&t, "g2", &got2, &sent, &mut untagged)?;
        untagged.verdict(&t, || t.pass())
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A client with a Shared and a non-shared Subscription matching a message gets it for both (with both Subscription Identifiers)
    WITH_NON_SHARED_SUBSCRIPTION = "shared.with-non-shared-subscription-of-same-client",
    checks: [V5_4_5_0_1, V5_3_3_4_3, V5_3_3_4_4, V5_3_3_4_5],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [NoSubscriptionIdentifiers],
    tags: [Shared, Live, FromBroker],
    run: with_non_shared_subscription,
}

/// FAIL: no copy at all (MQTT-4.5.0-1: the client has a non-shared Subscription matching the
/// message), a single copy without both Subscription Identifiers (MQTT-3.3.4-4), several
/// copies one of which carries neither identifier (MQTT-3.3.4-5) or that leave one of them
/// out (MQTT-3.3.4-3). NON-STRICT: more than one copy per subscription, or identifiers beyond
/// those of the subscription that caused a copy (untagged text of 3.3.4 and 4.8.2).
fn with_non_shared_subscription(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("both");
        let ids = t.capabilities().subscription_identifier_available;
        let mut c = vec![t.client("c").connect().await?];
        let (direct, shared) = (1u32, 2u32);
        let sub = c[0].subscribe(&topic).qos(1);
        if ids {
            sub.subscription_identifier(direct).await?;
        } else {
            sub.await?;
        }
        let sub = c[0].subscribe(share("g", &topic)).qos(1);
        if ids {
            sub.subscription_identifier(shared).await?;
        } else {
            sub.await?;
        }
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("m").await?;
        let got = gather(&t, &mut c, 2).await?;
        let copies = &got[0];
        t.check(
            !copies.is_empty(),
            "the message, accepted at QoS 1, added to the Session State of the client, which has matching Subscriptions",
            "no copy",
        )
        .map_err(|f| f.statement(S::V5_4_5_0_1))?;
        let mut untagged = Untagged::default();
        if copies.len() > 2 {
            untagged.note(
                "at most one copy for each of the two subscriptions (3.3.4 allows \"further copies \
                 of the message, one for each additional matching subscription\"; 4.8.2 describes \
                 one copy for the Non-shared and one for the Shared Subscription, in untagged text \
                 without a MUST)",
                format!("{} copies", copies.len()),
            );
        }
        if ids {
            let per_copy: Vec<Vec<u32>> = copies
                .iter()
                .map(|p| {
                    p.properties
                        .subscription_identifiers
                        .iter()
                        .map(|i| i.get())
                        .collect()
                })
                .collect();
            let ours = [direct, shared];
            if let [only] = per_copy.as_slice() {
                t.check(
                    ours.iter().all(|i| only.contains(i)),
                    format!(
                        "the single copy carrying the Subscription Identifiers of both matching subscriptions: {direct} (non-shared) and {shared} (shared)"
                    ),
                    format!("identifiers: {only:?}"),
                )
                .map_err(|f| f.statement(S::V5_3_3_4_4))?;
            } else {
                t.check(
                    per_copy.iter().all(|c| c.iter().any(|i| ours.contains(i))),
                    format!(
                        "each copy carrying the Subscription Identifier of the subscription it is for: {direct} (non-shared) or {shared} (shared)"
                    ),
                    format!("identifiers per copy: {per_copy:?}"),
                )
                .map_err(|f| f.statement(S::V5_3_3_4_5))?;
                t.check(
                    ours.iter().all(|i| per_copy.iter().any(|c| c.contains(i))),
                    format!(
                        "Subscription Identifiers {direct} (non-shared) and {shared} (shared) both sent with the copies"
                    ),
                    format!("identifiers per copy: {per_copy:?}"),
                )
                .map_err(|f| f.statement(S::V5_3_3_4_3))?;
            }
            // One copy: exactly the two identifiers; several: one identifier each.
            let exact = match per_copy.as_slice() {
                [only] => only.len() == ours.len(),
                several => several.iter().all(|c| c.len() == 1),
            };
            if !exact {
                untagged.note(
                    "no Subscription Identifier other than those of the subscriptions that caused \
                     the copy (the specification's untagged text in 3.3.4, no MUST: \"It is a \
                     Protocol Error for a PUBLISH packet to contain any Subscription Identifier \
                     other than those received in SUBSCRIBE packet which caused it to flow\")",
                    format!("identifiers per copy: {per_copy:?}"),
                );
            }
        }
        untagged.verdict(&t, || {
            if copies.len() == 1 {
                return t.informational(
                    "one copy for the Shared and the non-shared Subscription together (allowed for overlapping subscriptions of one client)",
                );
            }
            t.pass()
        })
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A member of a Shared Subscription granted QoS 0 gets a QoS 1 message at QoS 0
    DELIVERED_AT_GRANTED_QOS = "shared.delivered-at-granted-qos",
    checks: [V5_4_8_2_3, V5_3_8_4_8, V5_4_5_0_1],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [NoQosDowngrade, NoQosDowngradeShared],
    tags: [Shared, Live, FromBroker],
    run: delivered_at_granted_qos,
}

/// The member is the Shared Subscription's only one: the message must reach it
/// (MQTT-4.5.0-1), at no more than the QoS granted to it (MQTT-4.8.2-3, MQTT-3.8.4-8).
fn delivered_at_granted_qos(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q");
        let mut member = t.client("m").connect().await?;
        let granted = granted_one(&member.subscribe(share("g", &topic)).qos(0).await?)?;
        // No MUST keeps a server from granting more than was requested; with more granted
        // there is no downgrade to see.
        t.require(granted == 0, Precondition::Other, || {
            format!("the broker granted QoS {granted} to a request for QoS 0: the case needs QoS 0 granted")
        })?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        let got = member
            .expect_publish()
            .topic(&topic)
            .payload("x")
            .await
            .map_err(|f| f.statement(S::V5_4_5_0_1))?;
        t.check(
            got.qos().as_u8() == 0,
            "the message sent at the QoS granted to the member (0)",
            format!("PUBLISH qos={}", got.qos().as_u8()),
        )
        .map_err(|f| f.statement(S::V5_4_8_2_3))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// No Local set on a Shared Subscription is a Protocol Error: the connection is closed (DISCONNECT 0x82 first)
    NO_LOCAL_IS_PROTOCOL_ERROR = "shared.no-local-is-protocol-error",
    checks: [V5_3_8_3_4, V5_4_13_1_1],
    only: V5,
    requires: [SharedSubscriptions],
    faults: [IgnoreMalformedSubscribe],
    tags: [Shared, TopicFilter, ToBroker],
    run: no_local_is_protocol_error,
}

fn no_local_is_protocol_error(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let filter = share("g", &t.topic("nl"));
        // The twin: the same Shared Subscription without No Local is granted.
        c.subscribe(&filter).as_twin().await?;
        // QoS 0 with No Local (bit 2).
        let id = c.next_packet_id().get();
        c.send_raw(raw_subscribe(
            &t,
            0x82,
            id,
            &[],
            &[(filter.as_bytes(), 0x04)],
        ))
        .await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::ProtocolError]).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Subscribing to a Shared Subscription is not answered with retained messages (recorded), and the next matching message arrives within the granted QoS
    NO_RETAINED_ON_SUBSCRIBE = "shared.no-retained-messages-on-subscribe",
    checks: [V5_4_8_2_3],
    only: V5,
    requires: [SharedSubscriptions, Retain, QoS1],
    faults: [NoQosDowngrade],
    tags: [Shared, Retained, Live, FromBroker],
    run: no_retained_on_subscribe,
}

/// 3.8.4 and 4.8.2 say that no retained messages are sent when a Shared Subscription is
/// made, but in descriptive text that carries no statement id and no MUST: a retained
/// message sent anyway is INFORMATIONAL, not FAIL. The MUST this case checks is MQTT-4.8.2-3:
/// the next message matching the Shared Subscription reaches the member within the QoS
/// granted to it (QoS 0 for a QoS 1 message). The controls: that message arriving after the
/// quiet window, and the retained message reaching the same connection through a
/// non-shared subscription to the same topic.
fn no_retained_on_subscribe(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &topic, "kept").await?;
            shared_subscription_after_retained(&t, &mut publisher, &topic).await
        })
        .await
    })
}

/// The body of [`no_retained_on_subscribe`], `topic` holding the retained message "kept".
async fn shared_subscription_after_retained(
    t: &Ctx,
    publisher: &mut Client,
    topic: &str,
) -> CaseResult {
    let mut member = t.client("m").connect().await?;
    member.subscribe(share("g", topic)).qos(0).await?;
    // Retained messages come right after SUBACK.
    let mut sent = gather(t, std::slice::from_mut(&mut member), 0)
        .await?
        .remove(0);
    // The next matching message, which must come within the QoS granted (0).
    publisher.publish(topic).qos(1).payload("live").await?;
    let deadline = Instant::now() + t.response_timeout();
    let live = loop {
        match member
            .recv(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            Received::Packet(Packet::Publish(p)) => {
                member.ack(&p).await?;
                if p.payload.as_ref() == b"live" {
                    break p;
                }
                sent.push(p);
            }
            Received::Packet(_) => {}
            Received::Timeout => {
                return t.inconclusive(
                    Precondition::Other,
                    format!(
                        "the message published after the subscription did not reach the Shared Subscription's only member within {} ms",
                        t.response_timeout().as_millis()
                    ),
                )
            }
            other => {
                return Err(Failure::inconclusive(
                    Precondition::Connection,
                    format!(
                        "the member's connection ended: {}",
                        other.describe(member.protocol())
                    ),
                ))
            }
        }
    };
    t.check(
        live.qos().as_u8() == 0,
        "the message sent at the QoS granted to the member (0)",
        format!("PUBLISH qos={}", live.qos().as_u8()),
    )
    .map_err(|f| f.statement(S::V5_4_8_2_3))?;
    if sent.is_empty() {
        // Nothing before the live message: an absence, whose control is that message,
        // which came after the quiet window on the same subscription ...
        t.absence_seen();
        t.control_seen();
    }
    // ... and the retained message itself, which a non-shared subscription of the same
    // connection is given.
    member.subscribe(topic).qos(0).await?;
    member
        .expect_publish()
        .topic(topic)
        .retain(true)
        .payload("kept")
        .as_setup(Precondition::RetainedDelivery)
        .await?;
    if !sent.is_empty() {
        return t.informational(format!(
            "the broker sent {} to the new Shared Subscription (3.8.4 and 4.8.2 describe none being sent, without a MUST)",
            list_payloads(&sent)
        ));
    }
    t.pass()
}

// ---------------------------------------------------------------------------------------

/// What a SUBSCRIBE the broker must refuse got: SUBACK with an error code (`suback` is the
/// one the specification names: PASS; another error code: `other_suback`), or DISCONNECT with
/// an error code and the close (PASS when `disconnect` is empty or holds the code, else
/// NON-STRICT), or a bare close (NON-STRICT: DISCONNECT first is a SHOULD). A SUBACK granting
/// the subscription is FAIL naming `statement`; neither a SUBACK nor the close (silence, or
/// another packet) is FAIL naming `unanswered`, the MUST that wants one of them.
#[allow(clippy::too_many_arguments)]
async fn subscribe_refused(
    t: &Ctx,
    c: &mut Client,
    what: &str,
    suback: ReasonCode,
    other_suback: Verdict,
    disconnect: &[ReasonCode],
    statement: S,
    unanswered: S,
) -> CaseResult {
    let expected = format!(
        "SUBACK {} refusing {what}, or DISCONNECT with an error code and the close",
        names(&[suback])
    );
    match c.recv(t.response_timeout()).await {
        Received::Packet(Packet::SubAck(ack)) => {
            let code = ack.reason_codes.first().copied();
            t.check(
                code.is_some_and(ReasonCode::is_error),
                &expected,
                format!("SUBACK with {code:?}"),
            )
            .map_err(|f| f.statement(statement))?;
            t.refusal_seen();
            match code {
                Some(c) if c == suback => t.pass(),
                Some(c) if other_suback == Verdict::NonStrict => {
                    t.non_strict(expected, format!("SUBACK {}", names(&[c])))
                }
                Some(c) => t.informational(format!(
                    "{what} refused with SUBACK {} rather than {}",
                    names(&[c]),
                    names(&[suback])
                )),
                None => t.fail(expected, "SUBACK without a reason code"),
            }
        }
        Received::Packet(Packet::Disconnect(d)) if d.reason_code.is_error() => {
            t.checked();
            t.refusal_seen();
            c.expect_closed().await?;
            if disconnect.is_empty() || disconnect.contains(&d.reason_code) {
                t.pass()
            } else {
                t.non_strict(
                    format!("DISCONNECT with {}", names(disconnect)),
                    format!("DISCONNECT with {}", names(&[d.reason_code])),
                )
            }
        }
        Received::Closed => {
            t.checked();
            t.refusal_seen();
            t.non_strict(
                format!(
                    "DISCONNECT with an error code (or SUBACK {}) before the close",
                    names(&[suback])
                ),
                "the connection closed without DISCONNECT",
            )
        }
        // Bytes that are no packet name the statement the codec found broken.
        other @ Received::Malformed { .. } => Err(c.unmet(&expected, other)),
        other => Err(c.unmet(&expected, other).statement(unanswered)),
    }
}

/// Subscribes with an invalid Shared Subscription filter (sent raw): granting it is FAIL of
/// `statement`, the syntax MUST it breaks. Leaving the SUBSCRIBE without SUBACK and without
/// the close is FAIL of MQTT-3.8.4-1 (a broker that takes the packet for a Protocol Error must
/// close instead, MQTT-4.13.1-1: silence meets neither). The twin first: the same
/// connection's SUBSCRIBE with a valid Shared Subscription filter for the same topic is
/// granted.
async fn invalid_share_filter(t: &Ctx, filter: &str, statement: S) -> CaseResult {
    let mut c = t.client("c").connect().await?;
    c.subscribe(share("g", &t.topic("t"))).as_twin().await?;
    let id = c.next_packet_id().get();
    c.send_raw(raw_subscribe(
        t,
        0x82,
        id,
        &[],
        &[(filter.as_bytes(), 0x00)],
    ))
    .await?;
    subscribe_refused(
        t,
        &mut c,
        &format!("the filter {filter:?}"),
        ReasonCode::TopicFilterInvalid,
        Verdict::Informational,
        &[],
        statement,
        S::V5_3_8_4_1,
    )
    .await
}

case! {
    /// A Shared Subscription filter with an empty ShareName ($share//t) is refused
    EMPTY_SHARE_NAME = "shared.empty-share-name-refused",
    checks: [V5_4_8_2_1, V5_3_8_4_1],
    only: V5,
    requires: [SharedSubscriptions],
    faults: [IgnoreMalformedSubscribe],
    tags: [Shared, TopicFilter, ToBroker],
    run: empty_share_name,
}

fn empty_share_name(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let filter = format!("$share//{}", t.topic("t"));
        invalid_share_filter(&t, &filter, S::V5_4_8_2_1).await
    })
}

case! {
    /// A Shared Subscription filter with no Topic Filter after the ShareName ($share/g) is refused
    SHARE_NAME_WITHOUT_FILTER = "shared.share-name-without-filter-refused",
    checks: [V5_4_8_2_2, V5_3_8_4_1],
    only: V5,
    requires: [SharedSubscriptions],
    faults: [IgnoreMalformedSubscribe],
    tags: [Shared, TopicFilter, ToBroker],
    run: share_name_without_filter,
}

fn share_name_without_filter(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // A ShareName unique to the run, and nothing after it.
        let group = t.client_id("group");
        let filter = format!("$share/{group}");
        invalid_share_filter(&t, &filter, S::V5_4_8_2_2).await
    })
}

case! {
    /// A ShareName containing a wildcard ($share/g+/t) is refused
    WILDCARD_IN_SHARE_NAME = "shared.wildcard-in-share-name-refused",
    checks: [V5_4_8_2_2, V5_3_8_4_1],
    only: V5,
    requires: [SharedSubscriptions],
    faults: [IgnoreMalformedSubscribe],
    tags: [Shared, TopicFilter, ToBroker],
    run: wildcard_in_share_name,
}

fn wildcard_in_share_name(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let filter = format!("$share/g+/{}", t.topic("t"));
        invalid_share_filter(&t, &filter, S::V5_4_8_2_2).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A member that unsubscribes the full $share filter gets no more messages; the others get them all
    UNSUBSCRIBE_LEAVES_GROUP = "shared.unsubscribe-leaves-group",
    checks: [V5_3_10_4_1, V5_3_10_4_2, V5_4_5_0_1],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [NoUnsubscribe],
    tags: [Shared, Live, ToBroker],
    run: unsubscribe_leaves_group,
}

/// The UNSUBSCRIBE carries the member's own Topic Filter character for character: its
/// Subscription must be deleted (MQTT-3.10.4-1) and no new message added for it
/// (MQTT-3.10.4-2), whatever 4.8.2 says of groups. The member that stays is then the only
/// Client with a matching Subscription: a message reaching it not at all is FAIL of
/// MQTT-4.5.0-1, twice NON-STRICT (4.8.2's untagged "one and only one").
fn unsubscribe_leaves_group(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("u");
        let filter = share("g", &topic);
        let mut leaving = vec![t.client("a").connect().await?];
        let mut staying = vec![t.client("b").connect().await?];
        leaving[0].subscribe(&filter).qos(1).await?;
        staying[0].subscribe(&filter).qos(1).await?;
        leaving[0].unsubscribe(&filter).await?;
        let mut publisher = t.client("pub").connect().await?;
        let sent = numbered_payloads(6);
        publish_all(&mut publisher, &topic, &sent).await?;
        let got_b = gather(&t, &mut staying, sent.len()).await?;
        let got_a = gather(&t, &mut leaving, 0).await?;
        t.check(
            got_a[0].is_empty(),
            "no message for the member that unsubscribed",
            format!("it got {}", list_payloads(&got_a[0])),
        )
        .map_err(|f| f.statement(S::V5_3_10_4_2))?;
        t.absence_seen();
        let mut untagged = Untagged::default();
        check_once_per_group(&t, "g", &got_b, &sent, &mut untagged)?;
        member_control(&mut publisher, &mut leaving[0], &topic).await?;
        untagged.verdict(&t, || t.pass())
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// When a member's session ends, the remaining member gets every later message
    REMAINING_MEMBERS_AFTER_ONE_LEAVES = "shared.remaining-members-get-messages-after-one-leaves",
    checks: [V5_4_5_0_1, V5_3_1_2_4],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [SharedDropAlternate],
    tags: [Shared, Session, Live],
    run: remaining_members_after_one_leaves,
}

/// That a session leaves its groups when it ends is 4.8.2's untagged text; what is checked
/// are the MUSTs behind it. The Client Identifier reconnecting with Clean Start 1 must find
/// its old Session discarded (MQTT-3.1.2-4), membership included: a message for it is FAIL.
/// The member left is then the only Client with a matching Subscription: a message reaching
/// it not at all is FAIL of MQTT-4.5.0-1. A second copy within the group is NON-STRICT
/// (4.8.2's untagged "one and only one").
fn remaining_members_after_one_leaves(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("l");
        let filter = share("g", &topic);
        let mut members = Vec::new();
        for name in ["a", "b"] {
            // Session Expiry Interval 0: the session ends with the connection.
            let mut m = t.client(name).connect().await?;
            m.subscribe(&filter).qos(1).await?;
            members.push(m);
        }
        let mut publisher = t.client("pub").connect().await?;
        let before = numbered_payloads(4);
        publish_all(&mut publisher, &topic, &before).await?;
        let got = gather(&t, &mut members, before.len()).await?;
        let mut untagged = Untagged::default();
        check_once_per_group(&t, "g (both members)", &got, &before, &mut untagged)?;
        // Member a leaves; its session (Session Expiry Interval 0) ends with it, and so
        // does its membership.
        let leaving = members.remove(0);
        leaving.disconnect().await?;
        // The same Client Identifier with Clean Start 1 and no subscription: once this is
        // accepted the old session is gone whatever the timing, and the new one is no member.
        let mut rejoined = vec![t.client("a").connect().await?];
        let after: Vec<String> = (0..4).map(|i| format!("later{i}")).collect();
        publish_all(&mut publisher, &topic, &after).await?;
        let got = gather(&t, &mut members, after.len()).await?;
        let stray = gather(&t, &mut rejoined, 0).await?;
        t.check(
            stray[0].is_empty(),
            "nothing for the Client Identifier that reconnected with Clean Start 1 and subscribed to nothing: its old Session, membership included, discarded",
            format!("it got {}", list_payloads(&stray[0])),
        )
        .map_err(|f| f.statement(S::V5_3_1_2_4))?;
        t.absence_seen();
        check_once_per_group(&t, "g (one member left)", &got, &after, &mut untagged)?;
        member_control(&mut publisher, &mut rejoined[0], &topic).await?;
        untagged.verdict(&t, || t.pass())
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Subscribing twice to the same Shared Subscription makes one membership: one UNSUBSCRIBE leaves the group
    RESUBSCRIBE_KEEPS_ONE_MEMBERSHIP = "shared.resubscribing-does-not-add-membership",
    checks: [V5_3_10_4_1, V5_3_10_4_2, V5_4_5_0_1],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [NoUnsubscribe],
    tags: [Shared, Live, ToBroker],
    run: resubscribe_keeps_one_membership,
}

/// That a second SUBSCRIBE adds no membership is 4.8.2's untagged text; the MUST checked is
/// that of the UNSUBSCRIBE: every Subscription of the client whose Topic Filter is the
/// UNSUBSCRIBE's, character for character, is deleted (MQTT-3.10.4-1), however many the
/// broker kept, and no new message is added for it (MQTT-3.10.4-2). The other member is then
/// the only Client with a matching Subscription (MQTT-4.5.0-1).
fn resubscribe_keeps_one_membership(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("twice");
        let filter = share("g", &topic);
        let mut twice = vec![t.client("a").connect().await?];
        twice[0].subscribe(&filter).qos(1).await?;
        twice[0].subscribe(&filter).qos(1).await?;
        let mut other = vec![t.client("b").connect().await?];
        other[0].subscribe(&filter).qos(1).await?;
        twice[0].unsubscribe(&filter).await?;
        let mut publisher = t.client("pub").connect().await?;
        let sent = numbered_payloads(6);
        publish_all(&mut publisher, &topic, &sent).await?;
        let got_b = gather(&t, &mut other, sent.len()).await?;
        let got_a = gather(&t, &mut twice, 0).await?;
        t.check(
            got_a[0].is_empty(),
            "no message for the member that subscribed twice and unsubscribed once",
            format!("it got {}", list_payloads(&got_a[0])),
        )
        .map_err(|f| f.statement(S::V5_3_10_4_2))?;
        t.absence_seen();
        let mut untagged = Untagged::default();
        check_once_per_group(&t, "g", &got_b, &sent, &mut untagged)?;
        member_control(&mut publisher, &mut twice[0], &topic).await?;
        untagged.verdict(&t, || t.pass())
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A broker declaring Shared Subscription Available 0 refuses a Shared Subscription (DISCONNECT or SUBACK 0x9E)
    UNAVAILABLE_REFUSED = "shared.unavailable-subscribe-refused",
    checks: [V5_4_13_1_1, V5_3_8_4_7],
    only: V5,
    faults: [UnenforcedSharedSubscriptionAvailable],
    tags: [Shared, TopicFilter, ToBroker],
    run: unavailable_refused,
}

fn unavailable_refused(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let declared = c
            .connack()
            .and_then(|a| a.properties.shared_subscription_available);
        if declared != Some(false) {
            return t.unsupported(
                "the broker offers Shared Subscriptions (CONNACK does not declare Shared Subscription Available 0)",
            );
        }
        // The twin: the same SUBSCRIBE with a non-shared filter is granted.
        c.subscribe(t.topic("na")).as_twin().await?;
        let filter = share("g", &t.topic("na"));
        let id = c.next_packet_id().get();
        c.send_raw(raw_subscribe(
            &t,
            0x82,
            id,
            &[],
            &[(filter.as_bytes(), 0x00)],
        ))
        .await?;
        // A Protocol Error (3.2.2.3.13): DISCONNECT 0x9E; SUBACK 0x9E is accepted too.
        subscribe_refused(
            &t,
            &mut c,
            "a Shared Subscription",
            ReasonCode::SharedSubscriptionsNotSupported,
            Verdict::NonStrict,
            &[ReasonCode::SharedSubscriptionsNotSupported],
            S::V5_4_13_1_1,
            S::V5_4_13_1_1,
        )
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// MQTT 3.1.1: a $share/... filter has no special meaning; what the broker makes of it is recorded, and UNSUBSCRIBE removes it
    V311_SHARE_FILTER = "shared.v311-share-filter-is-ordinary",
    checks: [V311_3_8_4_1, V311_3_10_4_1, V311_3_10_4_2],
    only: V311,
    requires: [QoS1],
    faults: [NoUnsubscribe],
    tags: [Shared, TopicFilter, Live],
    run: v311_share_filter,
}

fn v311_share_filter(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("s");
        let filter = share("g", &topic);
        let mut sub = vec![t.client("sub").connect().await?];
        // Whatever the broker makes of the filter, the SUBSCRIBE gets a SUBACK (MQTT-3.8.4-1).
        let codes = sub[0]
            .subscribe(&filter)
            .qos(1)
            .any_reason()
            .as_check()
            .await
            .map_err(|f| f.statement(S::V311_3_8_4_1))?;
        if codes.first().is_some_and(|c| c.is_error()) {
            return t.informational(format!(
                "the broker refused the filter {filter:?} (return code 0x80)"
            ));
        }
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("plain").await?;
        // The literal Topic Name equal to the filter: a broker that treats the filter as an
        // ordinary one delivers it. Some brokers refuse to take it; that is their choice.
        let mut literal = t.client("lit").connect().await?;
        let literal_taken = literal
            .publish(&filter)
            .qos(1)
            .payload("literal")
            .any_reason()
            .await
            .is_ok();
        let got = gather(&t, &mut sub, 1).await?;
        let counts = count_payloads(&got[0]);
        let shared = counts.contains_key("plain");
        let ordinary = counts.contains_key("literal");
        // Nothing may arrive after the UNSUBSCRIBE, whichever way the filter was read.
        sub[0].unsubscribe(&filter).await?;
        publisher.publish(&topic).qos(1).payload("plain2").await?;
        if literal_taken {
            let _ = literal
                .publish(&filter)
                .qos(1)
                .payload("literal2")
                .any_reason()
                .await;
        }
        sub[0]
            .expect_no_publish()
            .for_(QUIET)
            .await
            .map_err(|f| f.statement(S::V311_3_10_4_2))?;
        // The control: the same connection still gets what it subscribes to.
        member_control(&mut publisher, &mut sub[0], &topic).await?;
        let how = match (shared, ordinary) {
            (true, false) => "the broker treats $share/{ShareName}/{filter} as a Shared Subscription for MQTT 3.1.1 clients".to_owned(),
            (false, true) => "the broker treats the $share/... filter as an ordinary Topic Filter".to_owned(),
            (true, true) => "the broker matched both the inner filter and the literal $share/... Topic Name".to_owned(),
            (false, false) if literal_taken => "the filter matched neither the inner topic nor the literal $share/... Topic Name".to_owned(),
            (false, false) => "the filter did not match the inner topic; the broker refused to take a PUBLISH to the literal $share/... name".to_owned(),
        };
        t.informational(how)
    })
}

// ---------------------------------------------------------------------------------------
// In-flight messages of a member (MQTT-4.8.2-4, -5, -6). In each case member `x` is alone in
// the group when the message is published, so it is the one that gets it; member `y` joins
// afterwards and must never see that message. The control of `y`'s absence is a message that
// must reach `y` once `x` has left the group.

/// Member `x` subscribes to `filter` at QoS 2 alone, and the messages `(payload, qos)` are
/// published to `topic` and reach it unacknowledged (a setup step: INCONCLUSIVE otherwise).
/// Returns them in order.
async fn in_flight_at_member(
    x: &mut Client,
    publisher: &mut Client,
    filter: &str,
    topic: &str,
    messages: &[(&str, u8)],
) -> Result<Vec<Publish>, Failure> {
    x.subscribe(filter).qos(2).await?;
    let mut got = Vec::new();
    for &(payload, qos) in messages {
        publisher.publish(topic).qos(qos).payload(payload).await?;
        got.push(
            x.expect_publish()
                .topic(topic)
                .qos(qos)
                .payload(payload)
                .no_auto_ack()
                .as_setup(Precondition::SharedDelivery)
                .await?,
        );
    }
    Ok(got)
}

/// The Packet Identifier of a QoS 1/2 PUBLISH.
fn id_of(p: &Publish) -> Result<mqttspec_codec::PacketId, Failure> {
    p.packet_id().ok_or_else(|| {
        Failure::error("case error: a QoS 1/2 PUBLISH decoded without Packet Identifier")
    })
}

case! {
    /// A message a member refuses with PUBACK / PUBREC 0x80 is discarded, not given to another member
    REFUSED_NOT_REDISTRIBUTED = "shared.refused-message-not-given-to-another-member",
    checks: [V5_4_8_2_6],
    only: V5,
    requires: [SharedSubscriptions, QoS2],
    faults: [SharedRedistributeRefused],
    tags: [Shared, FromBroker],
    run: refused_not_redistributed,
}

fn refused_not_redistributed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("r");
        let filter = share("g", &topic);
        let mut x = t.client("x").connect().await?;
        let mut publisher = t.client("pub").connect().await?;
        let got = in_flight_at_member(
            &mut x,
            &mut publisher,
            &filter,
            &topic,
            &[("refused-1", 1), ("refused-2", 2)],
        )
        .await?;
        let mut y = t.client("y").connect().await?;
        y.subscribe(&filter).qos(2).await?;
        let mut ack = PubAck::new(id_of(&got[0])?);
        ack.reason_code = ReasonCode::UnspecifiedError;
        x.send(&Packet::PubAck(ack)).await?;
        let mut rec = PubRec::new(id_of(&got[1])?);
        rec.reason_code = ReasonCode::UnspecifiedError;
        x.send(&Packet::PubRec(rec)).await?;
        x.alive().await?;
        y.expect_no_publish()
            .for_(QUIET)
            .await
            .map_err(|f| f.statement(S::V5_4_8_2_6))?;
        // `y` is now the only member: the next message is its.
        x.unsubscribe(&filter).await?;
        control_after_quiet(
            &mut publisher,
            &mut y,
            &topic,
            1,
            "control",
            "no refused message for the other member",
        )
        .await
        .map_err(|f| f.statement(S::V5_4_8_2_6))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 2 message in flight to a member whose connection breaks is completed to that member when it reconnects, not given to another
    QOS2_COMPLETED_TO_SAME_MEMBER = "shared.qos2-in-flight-completed-to-same-member-on-reconnect",
    checks: [V5_4_8_2_4],
    only: V5,
    requires: [SharedSubscriptions, QoS2],
    faults: [SharedRedistributeOnDisconnect],
    tags: [Shared, Session, FromBroker],
    run: qos2_completed_to_same_member,
}

fn qos2_completed_to_same_member(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q");
        let filter = share("g", &topic);
        let mut x = persistent(&t, "x").connect().await?;
        let mut publisher = t.client("pub").connect().await?;
        let got = in_flight_at_member(&mut x, &mut publisher, &filter, &topic, &[("in-flight", 2)])
            .await?;
        let first_id = id_of(&got[0])?;
        let mut y = t.client("y").connect().await?;
        y.subscribe(&filter).qos(2).await?;
        x.drop_connection();
        y.expect_no_publish()
            .for_(QUIET)
            .await
            .map_err(|f| f.statement(S::V5_4_8_2_4))?;
        let mut x = resume(&t, "x").await?;
        let again = x
            .expect_publish()
            .topic(&topic)
            .qos(2)
            .payload("in-flight")
            .await
            .map_err(|f| f.statement(S::V5_4_8_2_4))?;
        t.check(
            again.packet_id() == Some(first_id),
            format!(
                "the PUBLISH sent again with Packet Identifier {}",
                first_id.get()
            ),
            format!(
                "Packet Identifier {:?}",
                again.packet_id().map(|id| id.get())
            ),
        )
        .map_err(|f| f.statement(S::V5_4_8_2_4))?;
        x.alive().await?;
        x.unsubscribe(&filter).await?;
        control_after_quiet(
            &mut publisher,
            &mut y,
            &topic,
            1,
            "control",
            "the in-flight message not given to the other member",
        )
        .await
        .map_err(|f| f.statement(S::V5_4_8_2_4))?;
        let _ = x.disconnect().await;
        end_session(&t, "x").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 2 message in flight to a member whose session ends before it reconnects is not given to another member
    QOS2_NOT_REDISTRIBUTED_AFTER_SESSION_END = "shared.qos2-in-flight-not-given-to-another-member-after-session-end",
    checks: [V5_4_8_2_5],
    only: V5,
    requires: [SharedSubscriptions, QoS2],
    faults: [SharedRedistributeOnSessionEnd],
    tags: [Shared, Session, FromBroker],
    run: qos2_not_redistributed_after_session_end,
}

fn qos2_not_redistributed_after_session_end(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("e");
        let filter = share("g", &topic);
        // Session Expiry Interval 0: the session ends with the connection.
        let mut x = t.client("x").connect().await?;
        let mut publisher = t.client("pub").connect().await?;
        in_flight_at_member(&mut x, &mut publisher, &filter, &topic, &[("in-flight", 2)]).await?;
        let mut y = t.client("y").connect().await?;
        y.subscribe(&filter).qos(2).await?;
        x.drop_connection();
        y.expect_no_publish()
            .for_(QUIET)
            .await
            .map_err(|f| f.statement(S::V5_4_8_2_5))?;
        // `x`'s session ended, so `y` is the only member: the next message is its.
        control_after_quiet(
            &mut publisher,
            &mut y,
            &topic,
            1,
            "control",
            "the in-flight message of the ended session not given to the other member",
        )
        .await
        .map_err(|f| f.statement(S::V5_4_8_2_5))?;
        t.pass()
    })
}
