//! MQTT 5.0 Subscription Identifiers (3.8.2.1.2, 3.3.4): the identifier a client gives a
//! subscription comes back on every message the subscription delivers (retained ones and
//! Shared Subscription ones included), overlapping subscriptions bring all their identifiers,
//! subscribing again replaces the identifier, and 0 is a Protocol Error.

use mqttspec_codec::{Publish, ReasonCode, StatementId as S};

use super::support::{
    clearing_retained, expect_connection_closed, gather, numbered_payloads, publish_all,
    publish_retained, raw_subscribe,
};
use mqttspec_harness::case;
use mqttspec_harness::scenario::{BoxFuture, CaseResult, Ctx, Failure, Precondition};

/// The Subscription Identifiers of a PUBLISH, in order.
fn ids(p: &Publish) -> Vec<u32> {
    p.properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect()
}

/// Checks that `p` carries the Subscription Identifiers `expected` (in any order): a missing
/// one is FAIL (`statement`). Any others are returned: MQTT-3.3.4-3 and -4 require the
/// identifiers of the matching subscriptions, and no tagged statement forbids more (3.3.2.3.8
/// describes them, untagged), so [`finish`] makes extra ones NON-STRICT.
fn check_required_ids(
    t: &Ctx,
    p: &Publish,
    expected: &[u32],
    statement: S,
) -> Result<Vec<u32>, Failure> {
    let got = ids(p);
    let missing: Vec<u32> = expected
        .iter()
        .copied()
        .filter(|id| !got.contains(id))
        .collect();
    t.check(
        missing.is_empty(),
        format!("PUBLISH with Subscription Identifier(s) {expected:?}"),
        format!("Subscription Identifier(s) {got:?}"),
    )
    .map_err(|f| f.statement(statement))?;
    Ok(got
        .into_iter()
        .filter(|id| !expected.contains(id))
        .collect())
}

/// PASS, or NON-STRICT when messages carried Subscription Identifiers of no subscription
/// they matched (`extra`).
fn finish(t: &Ctx, extra: &[u32]) -> CaseResult {
    if extra.is_empty() {
        t.pass()
    } else {
        t.non_strict(
            "only the Subscription Identifiers of the subscriptions the message matched \
             (3.3.2.3.8, untagged)",
            format!("also Subscription Identifier(s) {extra:?}"),
        )
    }
}

/// Checks the Subscription Identifiers of `p`, in any order: exactly `expected` (for
/// replaced subscriptions, where an old identifier left over breaks `statement`).
fn check_ids(t: &Ctx, p: &Publish, expected: &[u32], statement: S) -> Result<(), Failure> {
    let mut got = ids(p);
    got.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    t.check(
        got == want,
        format!("PUBLISH with Subscription Identifier(s) {want:?}"),
        format!("Subscription Identifier(s) {got:?}"),
    )
    .map_err(|f| f.statement(statement))
}

// ---------------------------------------------------------------------------------------

case! {
    /// A message delivered through a subscription made with a Subscription Identifier carries that identifier
    DELIVERED_WITH_IDENTIFIER = "subid.delivered-with-identifier",
    checks: [V5_3_3_4_3],
    only: V5,
    requires: [SubscriptionIdentifiers, QoS1],
    faults: [NoSubscriptionIdentifiers],
    tags: [Live, FromBroker],
    run: delivered_with_identifier,
}

fn delivered_with_identifier(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("id");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic)
            .qos(1)
            .subscription_identifier(7)
            .await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        let p = sub
            .expect_publish()
            .topic(&topic)
            .as_setup(Precondition::Delivery)
            .await?;
        let extra = check_required_ids(&t, &p, &[7], S::V5_3_3_4_3)?;
        finish(&t, &extra)
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A message matching two subscriptions with identifiers carries both (one copy with both, or one copy each with its own)
    OVERLAPPING_CARRY_ALL_IDENTIFIERS = "subid.overlapping-subscriptions-carry-all-identifiers",
    checks: [V5_3_3_4_3, V5_3_3_4_4, V5_3_3_4_5],
    only: V5,
    requires: [SubscriptionIdentifiers, Wildcards, QoS1],
    faults: [NoSubscriptionIdentifiers],
    tags: [Live, FromBroker, TopicFilter],
    run: overlapping_carry_all_identifiers,
}

fn overlapping_carry_all_identifiers(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("o/x");
        let mut sub = vec![t.client("sub").connect().await?];
        sub[0]
            .subscribe(t.topic("o/+"))
            .qos(1)
            .subscription_identifier(1)
            .await?;
        sub[0]
            .subscribe(t.topic("o/#"))
            .qos(1)
            .subscription_identifier(2)
            .await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("x").await?;
        let got = gather(&t, &mut sub, 1).await?;
        let copies = &got[0];
        match copies.as_slice() {
            [one] => {
                let extra = check_required_ids(&t, one, &[1, 2], S::V5_3_3_4_4)?;
                finish(&t, &extra)
            }
            [a, b] => {
                let (ia, ib) = (ids(a), ids(b));
                let own = |x: &[u32], y: &[u32]| x.contains(&1) && y.contains(&2);
                t.check(
                    own(&ia, &ib) || own(&ib, &ia),
                    "one copy per subscription, each with its own Subscription Identifier",
                    format!("identifiers per copy: {ia:?}, {ib:?}"),
                )
                .map_err(|f| f.statement(S::V5_3_3_4_5))?;
                let mut extra: Vec<u32> = ia
                    .iter()
                    .chain(&ib)
                    .copied()
                    .filter(|id| ![1, 2].contains(id))
                    .collect();
                if ia.len() > 1 || ib.len() > 1 {
                    // A copy carrying the other subscription's identifier too.
                    extra.extend(
                        ia.iter()
                            .chain(&ib)
                            .copied()
                            .filter(|id| [1, 2].contains(id)),
                    );
                }
                extra.sort_unstable();
                extra.dedup();
                finish(&t, &extra)
            }
            [] => t.inconclusive(
                Precondition::Delivery,
                "the message matching both subscriptions was not delivered",
            ),
            // MQTT-3.3.4-2 allows one copy per matching subscription; no tagged statement
            // forbids more copies of a QoS 1 message, so more than two is NON-STRICT.
            more => t.non_strict(
                "one copy with both Subscription Identifiers, or one copy per subscription \
                 (3.3.4: further copies, one for each additional matching subscription)",
                format!("{} copies", more.len()),
            ),
        }
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A SUBSCRIBE with Subscription Identifier 0 is a Protocol Error: the connection is closed (DISCONNECT 0x82 first)
    ZERO_IS_PROTOCOL_ERROR = "subid.zero-is-protocol-error",
    checks: [V5_4_13_1_1],
    only: V5,
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker],
    run: zero_is_protocol_error,
}

fn zero_is_protocol_error(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let topic = t.topic("z");
        // The twin: the same SUBSCRIBE with Subscription Identifier 1 (without one when the
        // broker offers none), granted.
        let twin = c.subscribe(&topic);
        if t.capabilities().subscription_identifier_available {
            twin.subscription_identifier(1).as_twin().await?;
        } else {
            twin.as_twin().await?;
        }
        // Property 0x0B (Subscription Identifier), Variable Byte Integer 0.
        let id = c.next_packet_id().get();
        c.send_raw(raw_subscribe(
            &t,
            0x82,
            id,
            &[0x0B, 0x00],
            &[(topic.as_bytes(), 0x00)],
        ))
        .await?;
        // 0xA1 is also right from a broker without Subscription Identifiers.
        expect_connection_closed(
            &t,
            &mut c,
            &[
                ReasonCode::ProtocolError,
                ReasonCode::SubscriptionIdentifiersNotSupported,
            ],
        )
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Subscribing again to the same filter with another identifier, then with none, replaces the identifier each time
    RESUBSCRIBE_REPLACES_IDENTIFIER = "subid.resubscribe-replaces-identifier",
    checks: [V5_3_8_4_3, V5_3_3_4_3],
    only: V5,
    requires: [SubscriptionIdentifiers, QoS1],
    faults: [NoSubscriptionIdentifiers, KeepOldSubscription],
    tags: [Live, FromBroker],
    run: resubscribe_replaces_identifier,
}

fn resubscribe_replaces_identifier(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("re");
        let mut sub = t.client("sub").connect().await?;
        let mut publisher = t.client("pub").connect().await?;
        let steps: [(Option<u32>, &[u32]); 3] = [(Some(1), &[1]), (Some(2), &[2]), (None, &[])];
        for (i, (id, expected)) in steps.into_iter().enumerate() {
            let subscribe = sub.subscribe(&topic).qos(1);
            match id {
                Some(id) => subscribe.subscription_identifier(id).await?,
                None => subscribe.await?,
            };
            let payload = format!("m{i}");
            publisher.publish(&topic).qos(1).payload(&payload).await?;
            let p = sub
                .expect_publish()
                .topic(&topic)
                .payload(&payload)
                .as_setup(Precondition::Delivery)
                .await?;
            check_ids(&t, &p, expected, S::V5_3_8_4_3)?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A retained message sent because of a new subscription carries its Subscription Identifier
    RETAINED_CARRIES_IDENTIFIER = "subid.retained-message-carries-identifier",
    checks: [V5_3_3_4_3],
    only: V5,
    requires: [SubscriptionIdentifiers, Retain, QoS1],
    faults: [NoSubscriptionIdentifiers],
    tags: [Retained, FromBroker],
    run: retained_carries_identifier,
}

fn retained_carries_identifier(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("ret");
        // The retained message is removed when the case ends, whatever its verdict.
        clearing_retained(&t, std::slice::from_ref(&topic), async {
            let mut publisher = t.client("pub").connect().await?;
            publish_retained(&mut publisher, &topic, "kept").await?;
            let mut sub = t.client("sub").connect().await?;
            sub.subscribe(&topic)
                .qos(1)
                .subscription_identifier(42)
                .await?;
            let p = sub
                .expect_publish()
                .topic(&topic)
                .payload("kept")
                .as_setup(Precondition::RetainedDelivery)
                .await?;
            let extra = check_required_ids(&t, &p, &[42], S::V5_3_3_4_3)?;
            finish(&t, &extra)
        })
        .await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A message from a Shared Subscription carries only the Subscription Identifier of the member that receives it
    SHARED_CARRIES_RECEIVERS_IDENTIFIER = "subid.shared-subscription-carries-receivers-identifier",
    checks: [V5_3_3_4_3],
    only: V5,
    requires: [SubscriptionIdentifiers, SharedSubscriptions, QoS1],
    faults: [NoSubscriptionIdentifiers],
    tags: [Shared, FromBroker],
    run: shared_carries_receivers_identifier,
}

fn shared_carries_receivers_identifier(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("sh");
        let filter = format!("$share/g/{topic}");
        let mut members = Vec::new();
        for (name, id) in [("a", 11), ("b", 22)] {
            let mut m = t.client(name).connect().await?;
            m.subscribe(&filter)
                .qos(1)
                .subscription_identifier(id)
                .await?;
            members.push(m);
        }
        let mut publisher = t.client("pub").connect().await?;
        let sent = numbered_payloads(6);
        publish_all(&mut publisher, &topic, &sent).await?;
        let got = gather(&t, &mut members, sent.len()).await?;
        let delivered = got.iter().map(Vec::len).sum::<usize>();
        t.require(delivered == sent.len(), Precondition::SharedDelivery, || {
            format!(
                "{} messages published to the Shared Subscription; {delivered} delivered to its members",
                sent.len()
            )
        })?;
        let mut extra = Vec::new();
        for (copies, own) in got.iter().zip([11u32, 22]) {
            for p in copies {
                extra.extend(check_required_ids(&t, p, &[own], S::V5_3_3_4_3)?);
            }
        }
        extra.sort_unstable();
        extra.dedup();
        finish(&t, &extra)
    })
}
