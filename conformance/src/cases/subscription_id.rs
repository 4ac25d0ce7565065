//! MQTT 5.0 Subscription Identifiers (3.8.2.1.2, 3.3.4): the identifier a client gives a
//! subscription comes back on every message the subscription delivers (retained ones and
//! Shared Subscription ones included), overlapping subscriptions bring all their identifiers,
//! subscribing again replaces the identifier, and 0 is a Protocol Error.

use mqttspec_codec::{Publish, ReasonCode, StatementId as S};

use super::shared::{gather, protocol_error_reply, publish_all, raw_subscribe};
use crate::scenario::{BoxFuture, Capability, Case, CaseResult, Ctx, Failure, Protocols};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        DELIVERED_WITH_IDENTIFIER,
        OVERLAPPING_CARRY_ALL_IDENTIFIERS,
        ZERO_IS_PROTOCOL_ERROR,
        RESUBSCRIBE_REPLACES_IDENTIFIER,
        RETAINED_CARRIES_IDENTIFIER,
        SHARED_CARRIES_RECEIVERS_IDENTIFIER,
    ]
}

/// The Subscription Identifiers of a PUBLISH, in order.
fn ids(p: &Publish) -> Vec<u32> {
    p.properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect()
}

/// Checks the Subscription Identifiers of `p`, in any order.
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

const DELIVERED_WITH_IDENTIFIER: Case = Case {
    id: "subid.delivered-with-identifier",
    title: "A message delivered through a subscription made with a Subscription Identifier carries that identifier",
    area: "Subscription Identifier",
    statements: &[S::V5_3_3_4_3],
    protocols: Protocols::V5,
    requires: &[Capability::SubscriptionIdentifiers, Capability::QoS1],
    faults: &["no-subscription-identifiers"],
    unfaultable: None,
    run: delivered_with_identifier,
};

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
        let p = sub.expect_publish().topic(&topic).await?;
        check_ids(&t, &p, &[7], S::V5_3_3_4_3)?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const OVERLAPPING_CARRY_ALL_IDENTIFIERS: Case = Case {
    id: "subid.overlapping-subscriptions-carry-all-identifiers",
    title: "A message matching two subscriptions with identifiers carries both (one copy with both, or one copy each with its own)",
    area: "Subscription Identifier",
    statements: &[S::V5_3_3_4_3, S::V5_3_3_4_4, S::V5_3_3_4_5],
    protocols: Protocols::V5,
    requires: &[
        Capability::SubscriptionIdentifiers,
        Capability::Wildcards,
        Capability::QoS1,
    ],
    faults: &["no-subscription-identifiers"],
    unfaultable: None,
    run: overlapping_carry_all_identifiers,
};

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
                check_ids(&t, one, &[1, 2], S::V5_3_3_4_4)?;
                t.pass()
            }
            [a, b] => {
                let mut each = vec![ids(a), ids(b)];
                each.sort();
                t.check(
                    each == [vec![1], vec![2]],
                    "one copy per subscription, each with its own Subscription Identifier",
                    format!("identifiers per copy: {each:?}"),
                )
                .map_err(|f| f.statement(S::V5_3_3_4_5))?;
                t.pass()
            }
            other => t.fail(
                "one copy with both Subscription Identifiers, or two copies",
                format!("{} copies", other.len()),
            ),
        }
    })
}

// ---------------------------------------------------------------------------------------

const ZERO_IS_PROTOCOL_ERROR: Case = Case {
    id: "subid.zero-is-protocol-error",
    title: "A SUBSCRIBE with Subscription Identifier 0 is a Protocol Error: the connection is closed (DISCONNECT 0x82 first)",
    area: "Subscription Identifier",
    statements: &[S::V5_4_13_1_1],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["ignore-malformed-subscribe"],
    unfaultable: None,
    run: zero_is_protocol_error,
};

fn zero_is_protocol_error(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        // Property 0x0B (Subscription Identifier), Variable Byte Integer 0.
        c.send_raw(raw_subscribe(1, &[0x0B, 0x00], &t.topic("z"), 0x00))
            .await?;
        // 0xA1 is also right from a broker without Subscription Identifiers.
        protocol_error_reply(
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

const RESUBSCRIBE_REPLACES_IDENTIFIER: Case = Case {
    id: "subid.resubscribe-replaces-identifier",
    title: "Subscribing again to the same filter with another identifier, then with none, replaces the identifier each time",
    area: "Subscription Identifier",
    statements: &[S::V5_3_8_4_3, S::V5_3_3_4_3],
    protocols: Protocols::V5,
    requires: &[Capability::SubscriptionIdentifiers, Capability::QoS1],
    faults: &["no-subscription-identifiers", "keep-old-subscription"],
    unfaultable: None,
    run: resubscribe_replaces_identifier,
};

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
            let p = sub.expect_publish().topic(&topic).payload(&payload).await?;
            check_ids(&t, &p, expected, S::V5_3_8_4_3)?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const RETAINED_CARRIES_IDENTIFIER: Case = Case {
    id: "subid.retained-message-carries-identifier",
    title:
        "A retained message sent because of a new subscription carries its Subscription Identifier",
    area: "Subscription Identifier",
    statements: &[S::V5_3_3_4_3],
    protocols: Protocols::V5,
    requires: &[
        Capability::SubscriptionIdentifiers,
        Capability::Retain,
        Capability::QoS1,
    ],
    faults: &["no-subscription-identifiers"],
    unfaultable: None,
    run: retained_carries_identifier,
};

fn retained_carries_identifier(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("ret");
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .retain()
            .payload("kept")
            .await?;
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic)
            .qos(1)
            .subscription_identifier(42)
            .await?;
        let p = sub
            .expect_publish()
            .topic(&topic)
            .retain(true)
            .payload("kept")
            .await?;
        check_ids(&t, &p, &[42], S::V5_3_3_4_3)?;
        // Clean up the retained message.
        publisher.publish(&topic).qos(1).retain().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SHARED_CARRIES_RECEIVERS_IDENTIFIER: Case = Case {
    id: "subid.shared-subscription-carries-receivers-identifier",
    title: "A message from a Shared Subscription carries only the Subscription Identifier of the member that receives it",
    area: "Subscription Identifier",
    statements: &[S::V5_3_3_4_3],
    protocols: Protocols::V5,
    requires: &[
        Capability::SubscriptionIdentifiers,
        Capability::SharedSubscriptions,
        Capability::QoS1,
    ],
    faults: &["no-subscription-identifiers"],
    unfaultable: None,
    run: shared_carries_receivers_identifier,
};

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
        let sent = super::shared::payloads(6);
        publish_all(&mut publisher, &topic, &sent).await?;
        let got = gather(&t, &mut members, sent.len()).await?;
        t.check_eq(
            "messages delivered to the group",
            sent.len(),
            got.iter().map(Vec::len).sum::<usize>(),
        )?;
        for (copies, own) in got.iter().zip([11u32, 22]) {
            for p in copies {
                check_ids(&t, p, &[own], S::V5_3_3_4_3)?;
            }
        }
        t.pass()
    })
}
