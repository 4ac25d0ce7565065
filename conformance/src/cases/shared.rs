//! MQTT 5.0 Shared Subscriptions (4.8.2): `$share/{ShareName}/{filter}` groups whose members
//! share the messages, one member per message; the syntax of the filter; No Local and
//! retained messages on shared subscriptions; Shared Subscription Available; and what an
//! MQTT 3.1.1 broker makes of a `$share/...` filter (nothing is required there).
//!
//! A case whose verdict rests on a refusal has the same connection's well-formed twin (the
//! filter corrected) granted first; one resting on a member getting nothing has a message
//! that must reach that member on the same connection afterwards.

use mqttspec_codec::{Packet, PacketType, Publish, ReasonCode, StatementId as S};
use tokio::time::Instant;

use super::support::{
    clearing_retained, control, count_payloads, expect_connection_closed, gather, list_payloads,
    numbered_payloads, publish_all, publish_retained, raw_subscribe, QUIET,
};
use crate::case;
use crate::client::Received;
use crate::scenario::{BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Verdict};

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

/// Checks that every payload reached exactly one of the members of one group.
fn check_once_per_group(
    t: &Ctx,
    group: &str,
    per_member: &[Vec<Publish>],
    sent: &[String],
) -> Result<(), Failure> {
    let counts = count_payloads(per_member.iter().flatten());
    for p in sent {
        let n = counts.get(p).copied().unwrap_or(0);
        t.check(
            n == 1,
            format!("message {p} delivered to exactly one member of group {group}"),
            format!("delivered {n} times in the group"),
        )
        .map_err(|f| f.statement(S::V5_4_8_2_2))?;
    }
    let stray: Vec<&String> = counts.keys().filter(|k| !sent.contains(k)).collect();
    t.check(
        stray.is_empty(),
        format!("only the messages published to the group's topic ({group})"),
        format!("also {stray:?}"),
    )
}

// ---------------------------------------------------------------------------------------

case! {
    /// Each message matching a Shared Subscription goes to exactly one of its members, none is lost
    EACH_MESSAGE_TO_ONE_MEMBER = "shared.each-message-to-one-member",
    checks: [V5_4_8_2_1, V5_4_8_2_2],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [SharedDeliverAll],
    tags: [Shared, Live, FromBroker],
    run: each_message_to_one_member,
}

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
        check_once_per_group(&t, "g", &got, &sent)?;
        let (a, b) = (got[0].len(), got[1].len());
        if a == 0 || b == 0 {
            // The server may pick any member for each message (4.8.2): not a failure.
            return t.informational(format!(
                "all {} messages went to one member (a: {a}, b: {b}); the choice is the server's",
                sent.len()
            ));
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Two Shared Subscriptions with the same filter and different ShareNames each get every message once
    EACH_GROUP_GETS_EVERY_MESSAGE = "shared.each-group-gets-every-message",
    checks: [V5_4_8_2_1, V5_4_8_2_2],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [SharedFirstGroupOnly, SharedDeliverAll],
    tags: [Shared, Live, FromBroker],
    run: each_group_gets_every_message,
}

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
        check_once_per_group(&t, "g1", &got1, &sent)?;
        check_once_per_group(&t, "g2", &got2, &sent)?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A client with a Shared and a non-shared Subscription matching a message gets it for both (with both Subscription Identifiers)
    WITH_NON_SHARED_SUBSCRIPTION = "shared.with-non-shared-subscription-of-same-client",
    checks: [V5_4_8_2_1, V5_3_3_4_3, V5_3_3_4_4, V5_3_3_4_5],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [NoSubscriptionIdentifiers],
    tags: [Shared, Live, FromBroker],
    run: with_non_shared_subscription,
}

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
            !copies.is_empty() && copies.len() <= 2,
            "the message once for each subscription (or one copy standing for both)",
            format!("{} copies", copies.len()),
        )?;
        if ids {
            let mut all: Vec<u32> = copies
                .iter()
                .flat_map(|p| {
                    p.properties
                        .subscription_identifiers
                        .iter()
                        .map(|i| i.get())
                })
                .collect();
            all.sort_unstable();
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
            t.check(
                all == [direct, shared],
                format!(
                    "Subscription Identifiers {direct} (non-shared) and {shared} (shared), one per copy or both in one copy"
                ),
                format!("identifiers per copy: {per_copy:?}"),
            )
            .map_err(|f| f.statement(S::V5_3_3_4_3))?;
        }
        if copies.len() == 1 {
            return t.informational(
                "one copy for the Shared and the non-shared Subscription together (allowed for overlapping subscriptions of one client)",
            );
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A member of a Shared Subscription granted QoS 0 gets a QoS 1 message at QoS 0
    DELIVERED_AT_GRANTED_QOS = "shared.delivered-at-granted-qos",
    checks: [V5_4_8_2_3, V5_3_8_4_8],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [NoQosDowngrade],
    tags: [Shared, Live, FromBroker],
    run: delivered_at_granted_qos,
}

fn delivered_at_granted_qos(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q");
        let mut member = t.client("m").connect().await?;
        let codes = member.subscribe(share("g", &topic)).qos(0).await?;
        t.check_eq("granted QoS", vec![ReasonCode::Success], codes)?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        member
            .expect_publish()
            .topic(&topic)
            .qos(0)
            .payload("x")
            .await
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
        live.qos.as_u8() == 0,
        "the message sent at the QoS granted to the member (0)",
        format!("PUBLISH qos={}", live.qos.as_u8()),
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
/// the subscription, or silence, is FAIL naming `statement`.
async fn subscribe_refused(
    t: &Ctx,
    c: &mut Client,
    what: &str,
    suback: ReasonCode,
    other_suback: Verdict,
    disconnect: &[ReasonCode],
    statement: S,
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
        other => Err(c.unmet(&expected, other).statement(statement)),
    }
}

/// Subscribes with an invalid Shared Subscription filter (sent raw): it must be refused.
/// The twin first: the same connection's SUBSCRIBE with a valid Shared Subscription filter
/// for the same topic is granted.
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
    )
    .await
}

case! {
    /// A Shared Subscription filter with an empty ShareName ($share//t) is refused
    EMPTY_SHARE_NAME = "shared.empty-share-name-refused",
    checks: [V5_4_8_2_1],
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
    checks: [V5_4_8_2_2],
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
    checks: [V5_4_8_2_2],
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
    checks: [V5_3_10_4_1, V5_3_10_4_2],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [NoUnsubscribe],
    tags: [Shared, Live, ToBroker],
    run: unsubscribe_leaves_group,
}

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
        check_once_per_group(&t, "g", &got_b, &sent)?;
        member_control(&mut publisher, &mut leaving[0], &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// When a member's session ends, the remaining member gets every later message
    REMAINING_MEMBERS_AFTER_ONE_LEAVES = "shared.remaining-members-get-messages-after-one-leaves",
    checks: [V5_4_8_2_1, V5_4_8_2_2],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [SharedDeliverAll],
    tags: [Shared, Session, Live],
    run: remaining_members_after_one_leaves,
}

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
        check_once_per_group(&t, "g (both members)", &got, &before)?;
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
        check_once_per_group(&t, "g (one member left)", &got, &after)?;
        let stray = gather(&t, &mut rejoined, 0).await?;
        t.check(
            stray[0].is_empty(),
            "nothing for the Client Identifier whose session left the group",
            format!("it got {}", list_payloads(&stray[0])),
        )?;
        t.absence_seen();
        member_control(&mut publisher, &mut rejoined[0], &topic).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Subscribing twice to the same Shared Subscription makes one membership: one UNSUBSCRIBE leaves the group
    RESUBSCRIBE_KEEPS_ONE_MEMBERSHIP = "shared.resubscribing-does-not-add-membership",
    checks: [V5_3_10_4_1, V5_3_10_4_2],
    only: V5,
    requires: [SharedSubscriptions, QoS1],
    faults: [NoUnsubscribe],
    tags: [Shared, Live, ToBroker],
    run: resubscribe_keeps_one_membership,
}

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
        check_once_per_group(&t, "g", &got_b, &sent)?;
        member_control(&mut publisher, &mut twice[0], &topic).await?;
        t.pass()
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
        let codes = sub[0].subscribe(&filter).qos(1).any_reason().await?;
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
