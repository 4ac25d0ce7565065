//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK: the acknowledgements and what they carry,
//! the QoS granted and used for delivery, replacing a subscription, overlapping
//! subscriptions, No Local, unsubscribing, and the malformed packets a broker must refuse.

use bytes::Bytes;
use mqttspec_codec::{
    Packet, PacketType, PubComp, PubRec, QoS, ReasonCode, StatementId as S, Subscribe,
    SubscriptionOptions, Unsubscribe,
};

use super::support::{
    control_after_quiet, describe, expect_next, expect_refused, granted, granted_one, is_refusal,
    of_run, packet_id, publishes_within, raw_subscribe, raw_unsubscribe, refusal_verdict,
    subscribe_granted, topic_filter, QUIET,
};
use mqttspec_harness::case;
use mqttspec_harness::client::summary;
use mqttspec_harness::scenario::{BoxFuture, CaseResult, Client, Ctx, Failure, Precondition};

// ---------------------------------------------------------------------------------------

case! {
    /// SUBACK carries the SUBSCRIBE's Packet Identifier and one reason code per Topic Filter, in order, never granting more than requested
    SUBACK_ECHOES_ID_AND_ORDER = "subscribe.suback-echoes-packet-id-with-one-code-per-filter",
    checks: [V5_3_8_4_1, V5_3_8_4_2, V5_3_8_4_6, V5_3_8_4_7, V5_3_9_3_1, V5_3_9_3_2, V5_2_2_1_6, V5_3_2_2_10],
    faults: [WrongSubscribeAckId],
    tags: [ToBroker, TopicFilter],
    run: suback_echoes_id_and_order,
}

fn suback_echoes_id_and_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let v = t.protocol();
        let mut c = t.client("c").connect().await?;
        // Requested QoS 2, 0, 1: a SUBACK in another order would grant more than asked.
        let requested = [2u8, 0, 1];
        let names = ["a", "b", "c"];
        let mut filters = Vec::new();
        for (name, q) in names.iter().zip(requested) {
            let qos = QoS::from_u8(q).unwrap_or(QoS::AtMostOnce);
            filters.push((topic_filter(&t.topic(name))?, SubscriptionOptions::qos(qos)));
        }
        let id = packet_id(0x4A3B)?;
        c.send(&Packet::Subscribe(Subscribe {
            packet_id: id,
            properties: Default::default(),
            filters,
        }))
        .await?;
        // The SUBACK itself is checked (MQTT-3.8.4-1): a well-formed SUBSCRIBE must get one.
        let ack = c.expect_packet(PacketType::SubAck).await?;
        let Packet::SubAck(suback) = &ack else {
            return t.error("expect_packet returned another packet type");
        };
        t.check(
            suback.packet_id == id,
            format!("SUBACK with Packet Identifier {id}"),
            summary::packet(&ack, v),
        )
        .map_err(|f| f.statement(of_run!(&t, V5_3_8_4_2)))?;
        t.check(
            suback.reason_codes.len() == requested.len(),
            "SUBACK with 3 reason codes, one per Topic Filter",
            summary::packet(&ack, v),
        )?;
        let codes = &suback.reason_codes;
        // A broker refusing every subscription (or the QoS 2 one as not authorised or over a
        // quota) refuses for reasons of its own, not for the Requested QoS: INCONCLUSIVE.
        t.require(
            codes.iter().any(|c| !c.is_error()),
            Precondition::Granted,
            || {
                format!(
                    "the broker refused every subscription: {}",
                    summary::packet(&ack, v)
                )
            },
        )?;
        // MQTT 5.0: a server whatever its Maximum QoS accepts a request for QoS 2 (granting
        // less if it must).
        if t.is_v5() {
            let first = codes
                .first()
                .copied()
                .unwrap_or(ReasonCode::UnspecifiedError);
            t.require(
                !matches!(first, ReasonCode::NotAuthorized | ReasonCode::QuotaExceeded),
                Precondition::Granted,
                || {
                    format!(
                        "the broker refused the QoS 2 subscription for a reason of its own \
                         ({first:?}), not for its Requested QoS: {}",
                        summary::packet(&ack, v)
                    )
                },
            )?;
            t.check(
                granted(first).is_some(),
                "the QoS 2 request accepted (granted at the broker's Maximum QoS)",
                summary::packet(&ack, v),
            )
            .map_err(|f| f.statement(S::V5_3_2_2_10))?;
        }
        for ((code, asked), name) in codes.iter().zip(requested).zip(names) {
            if let Some(g) = granted(*code) {
                t.check(
                    g <= asked,
                    format!(
                        "for filter {name:?} (requested QoS {asked}) at most QoS {asked}, \
                         the codes in the order of the filters"
                    ),
                    summary::packet(&ack, v),
                )
                .map_err(|f| f.statement(of_run!(&t, V5_3_9_3_1)))?;
            }
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Each filter of a multi-filter SUBSCRIBE is its own subscription; messages arrive at the lower of the published and the granted QoS
    DELIVERY_QOS_IS_MINIMUM = "subscribe.delivery-qos-is-minimum-of-published-and-granted",
    checks: [V5_3_8_4_5, V5_3_8_4_8],
    requires: [QoS1],
    faults: [NoQosDowngrade],
    tags: [Live, FromBroker],
    run: delivery_qos_is_minimum,
}

fn delivery_qos_is_minimum(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (low, high) = (t.topic("q0"), t.topic("q1"));
        let mut sub = t.client("sub").connect().await?;
        let codes = sub.subscribe(&low).qos(0).and(&high).qos(1).await?;
        let g_low = codes.first().copied().and_then(granted);
        let g_high = codes.get(1).copied().and_then(granted);
        let (Some(0), Some(g_high)) = (g_low, g_high) else {
            return t.inconclusive(
                Precondition::Granted,
                format!("SUBACK codes {codes:?}: QoS 0 and a QoS for the QoS 1 request"),
            );
        };
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&low).qos(1).payload("one").await?;
        sub.expect_publish()
            .topic(&low)
            .qos(0)
            .payload("one")
            .await?;
        publisher.publish(&high).qos(1).payload("two").await?;
        sub.expect_publish()
            .topic(&high)
            .qos(g_high.min(1))
            .payload("two")
            .await?;
        publisher.publish(&high).qos(0).payload("three").await?;
        sub.expect_publish()
            .topic(&high)
            .qos(0)
            .payload("three")
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

/// Sends `bad` on `c`, on which the well-formed twin was accepted, and judges the refusal.
async fn refused_after_twin(t: &Ctx, c: &mut Client, bad: Bytes) -> CaseResult {
    c.send_raw(bad).await?;
    let refused = expect_refused(t, c, None).await?;
    refusal_verdict(t, &[refused])
}

case! {
    /// A SUBSCRIBE whose fixed-header flags are not 0010 is malformed: the connection is closed
    RESERVED_FLAGS = "subscribe.reserved-flags-malformed",
    checks: [V5_3_8_1_1, V5_2_1_3_1, V5_4_13_1_1, V311_3_8_1_1, V311_2_2_2_1, V311_2_2_2_2],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker],
    run: reserved_flags,
}

fn reserved_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let filter = t.topic("f");
        // The twin: the same SUBSCRIBE with flags 0010.
        c.subscribe(&filter).as_twin().await?;
        // Flags 0000 instead of 0010; the rest is a well-formed SUBSCRIBE.
        let bad = raw_subscribe(&t, 0x80, 7, &[], &[(filter.as_bytes(), 0)]);
        refused_after_twin(&t, &mut c, bad).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A SUBSCRIBE with a reserved bit of the Subscription Options (Requested QoS) byte set is malformed: the connection is closed
    OPTIONS_RESERVED_BITS = "subscribe.options-reserved-bits-malformed",
    checks: [V5_3_8_3_5, V5_4_13_1_1],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker, TopicFilter],
    run: options_reserved_bits,
}

fn options_reserved_bits(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let filter = t.topic("f");
        // The twin: the same SUBSCRIBE with options 0x01 (the reserved bit cleared).
        c.subscribe(&filter).qos(1).as_twin().await?;
        // Bit 6 is reserved in both versions (3.1.1 reserves bits 2-7, 5.0 bits 6-7).
        let bad = raw_subscribe(&t, 0x82, 7, &[], &[(filter.as_bytes(), 0x40 | 0x01)]);
        refused_after_twin(&t, &mut c, bad).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A SUBSCRIBE requesting QoS 3 is malformed (3.1.1) / a protocol error (5.0): the connection is closed
    REQUESTED_QOS_3 = "subscribe.requested-qos-3-refused",
    checks: [V5_4_13_1_1, V311_3_8_3_4, V311_4_8_0_1],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker, TopicFilter],
    run: requested_qos_3,
}

fn requested_qos_3(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let filter = t.topic("f");
        // The twin: the same SUBSCRIBE requesting QoS 2, the highest that exists.
        c.subscribe(&filter).qos(2).as_twin().await?;
        let bad = raw_subscribe(&t, 0x82, 7, &[], &[(filter.as_bytes(), 0x03)]);
        refused_after_twin(&t, &mut c, bad).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A SUBSCRIBE without any Topic Filter is a protocol violation: the connection is closed
    EMPTY_PAYLOAD = "subscribe.without-topic-filter-refused",
    checks: [V5_3_8_3_2, V5_4_13_1_1],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker, TopicFilter],
    run: empty_payload,
}

fn empty_payload(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        // The twin: the same SUBSCRIBE with one Topic Filter.
        c.subscribe(t.topic("f")).as_twin().await?;
        let bad = raw_subscribe(&t, 0x82, 7, &[], &[]);
        refused_after_twin(&t, &mut c, bad).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Subscribing again to the same Topic Filter replaces the subscription: its new QoS applies and messages are not doubled
    SAME_FILTER_REPLACES = "subscribe.same-filter-replaces-subscription",
    checks: [V5_3_8_4_3],
    requires: [QoS1],
    faults: [KeepOldSubscription],
    tags: [Live, FromBroker, TopicFilter],
    run: same_filter_replaces,
}

fn same_filter_replaces(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&topic).qos(0).await?;
        let g = granted_one(&sub.subscribe(&topic).qos(1).await?)?;
        if g == 0 {
            return t.unsupported(
                "the broker granted QoS 0 to a QoS 1 request: the new QoS cannot be told apart",
            );
        }
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("once").await?;
        sub.expect_publish()
            .topic(&topic)
            .qos(1)
            .payload("once")
            .await?;
        sub.expect_no_publish().for_(QUIET).await?;
        control_after_quiet(
            &mut publisher,
            &mut sub,
            &topic,
            1,
            "control",
            "one copy of \"once\" only",
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A message matching two subscriptions of one client is delivered at the higher granted QoS (one copy, or one per subscription)
    OVERLAPPING_MAXIMUM_QOS = "subscribe.overlapping-subscriptions-use-maximum-qos",
    checks: [V5_3_3_4_2],
    requires: [QoS1, Wildcards],
    faults: [OverlappingLowestQos],
    tags: [Live, FromBroker, TopicFilter],
    run: overlapping_maximum_qos,
}

fn overlapping_maximum_qos(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let v = t.protocol();
        let topic = t.topic("o/x");
        let mut sub = t.client("sub").connect().await?;
        let g_wild = granted_one(&sub.subscribe(t.topic("o/+")).qos(0).await?)?;
        let g_exact = granted_one(&sub.subscribe(&topic).qos(1).await?)?;
        let expected = g_wild.max(g_exact).min(1);
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).qos(1).payload("both").await?;
        let first = sub.expect_publish().topic(&topic).payload("both").await?;
        let mut copies = vec![first];
        copies.extend(publishes_within(&t, &mut sub, QUIET).await?);
        let top = copies.iter().map(|p| p.qos().as_u8()).max().unwrap_or(0);
        t.check(
            top == expected && copies.iter().all(|p| p.qos().as_u8() <= expected),
            format!("a copy at QoS {expected}, the higher of the granted QoS 0 and {g_exact}"),
            describe(&copies, v),
        )?;
        // The control: a topic only the wildcard subscription matches, so one copy.
        control_after_quiet(
            &mut publisher,
            &mut sub,
            &t.topic("o/y"),
            1,
            "control",
            "no further copy of \"both\"",
        )
        .await?;
        if copies.len() == 1 {
            t.informational(format!(
                "one copy for the overlapping subscriptions, at QoS {top}"
            ))
        } else {
            t.informational(format!(
                "{} copies, one per matching subscription ({})",
                copies.len(),
                describe(&copies, v)
            ))
        }
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 3.1.1: a server that refuses wildcard Topic Filters refuses all of them ('+', '#', both); one that grants them all is recorded
    WILDCARDS_ALL_OR_NONE = "subscribe.wildcard-filters-refused-all-or-none",
    checks: [V311_3_8_3_2],
    only: V311,
    faults: [RefusePlusWildcardOnly],
    tags: [ToBroker, TopicFilter],
    run: wildcards_all_or_none,
}

/// The wildcard filters of [`wildcards_all_or_none`], each with what it shows.
const WILDCARD_FILTERS: [(&str, &str); 4] = [
    ("w/+", "'+' as the last level"),
    ("w/+/x", "'+' in the middle"),
    ("w/#", "'#'"),
    ("+/w/#", "'+' and '#'"),
];

/// A server need not support wildcards, but one that does not refuses every filter that
/// holds one (MQTT-3.8.3-2 of 3.1.1). Each filter (all under the case's prefix) goes on a
/// connection of its own, after a plain filter granted there (the twin). All granted: the
/// server supports wildcards, which the rule does not bind (INFORMATIONAL). All refused
/// (SUBACK 0x80 or the close): PASS. Some refused, some granted: FAIL. A broker refusing
/// one of them for a reason of its own (an access rule, a limit on levels) would look the
/// same: the filters are short and under one prefix so that such reasons do not apply.
fn wildcards_all_or_none(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut granted_ones = Vec::new();
        let mut refused_ones = Vec::new();
        for (i, (filter, what)) in WILDCARD_FILTERS.iter().enumerate() {
            let mut c = t.client(&format!("c{i}")).connect().await?;
            c.subscribe(t.topic(&format!("plain/{i}")))
                .as_twin()
                .await?;
            let shown = format!("{what} ({})", t.topic(filter));
            match c.subscribe(t.topic(filter)).any_reason().await {
                Ok(codes) if codes.iter().all(|r| r.is_error()) => refused_ones.push(shown),
                Ok(_) => granted_ones.push(shown),
                Err(f) if is_refusal(&c, &f) => {
                    refused_ones.push(format!("{shown}: the connection closed"))
                }
                Err(f) => return Err(f),
            }
            t.checked();
        }
        if refused_ones.is_empty() {
            return t.informational(format!(
                "wildcard Topic Filters granted ({}): the server supports them, which MQTT-3.8.3-2 does not bind",
                granted_ones.join("; ")
            ));
        }
        if granted_ones.is_empty() {
            t.refusal_seen();
            return t.pass();
        }
        Err(Failure::fail(
            "a server that refuses a wildcard Topic Filter refuses every one (no wildcard support)",
            format!(
                "refused: {}; granted: {}",
                refused_ones.join("; "),
                granted_ones.join("; ")
            ),
        )
        .statement(S::V311_3_8_3_2))
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// With No Local, a client's own messages are not sent back to it (others' still are)
    NO_LOCAL = "subscribe.no-local-not-sent-back",
    checks: [V5_3_8_3_3],
    only: V5,
    requires: [QoS1],
    faults: [IgnoreNoLocal],
    tags: [Live, FromBroker],
    run: no_local,
}

fn no_local(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut me = t.client("me").connect().await?;
        me.subscribe(&topic).qos(1).no_local().await?;
        // Acknowledged, so the broker has routed it before the other client publishes.
        me.publish(&topic).qos(1).payload("own").await?;
        let mut other = t.client("other").connect().await?;
        other.publish(&topic).qos(1).payload("other").await?;
        let forbidden = "no copy of the client's own message \"own\"";
        expect_next(&mut me, Precondition::Delivery, &topic, "other", forbidden).await?;
        me.expect_no_publish().for_(QUIET).await?;
        control_after_quiet(&mut other, &mut me, &topic, 1, "control", forbidden).await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 2 delivery under way when its subscription is removed is still completed: the PUBREC sent after UNSUBACK gets its PUBREL
    UNSUBSCRIBE_COMPLETES_INFLIGHT = "subscribe.unsubscribe-completes-in-flight-qos2",
    checks: [V5_3_10_4_3],
    requires: [QoS2],
    faults: [UnsubscribeDropsInflight],
    tags: [FromBroker, TopicFilter],
    run: unsubscribe_completes_inflight,
}

fn unsubscribe_completes_inflight(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("u");
        let mut sub = t.client("sub").connect().await?;
        subscribe_granted(&t, &mut sub, &topic, 2).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(2)
            .payload("in-flight")
            .await?;
        let p = sub
            .expect_publish()
            .topic(&topic)
            .qos(2)
            .payload("in-flight")
            .no_auto_ack()
            .as_setup(Precondition::Delivery)
            .await?;
        let id = p.packet_id().ok_or_else(|| {
            Failure::error("case error: a QoS 2 PUBLISH decoded without Packet Identifier")
        })?;
        // The broker has started this delivery; the subscription goes before it is complete.
        sub.unsubscribe(&topic).await?;
        sub.send(&Packet::PubRec(PubRec::new(id))).await?;
        let rel = sub
            .expect_packet(PacketType::PubRel)
            .await
            .map_err(|f| f.statement(of_run!(&t, V5_3_10_4_3)))?;
        let completed = match &rel {
            Packet::PubRel(r) => r.packet_id == id && r.reason_code == ReasonCode::Success,
            _ => false,
        };
        t.check(
            completed,
            format!(
                "PUBREL id={} with reason 0x00: the QoS 2 delivery continues after UNSUBACK",
                id.get()
            ),
            summary::packet(&rel, t.protocol()),
        )
        .map_err(|f| f.statement(of_run!(&t, V5_3_10_4_3)))?;
        sub.send(&Packet::PubComp(PubComp::new(id))).await?;
        sub.alive().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// UNSUBSCRIBE is answered by UNSUBACK with its Packet Identifier, also for a filter with no subscription (5.0: one reason code per filter)
    UNSUBACK_ECHOES_ID = "subscribe.unsuback-echoes-packet-id",
    checks: [V5_3_10_4_4, V5_3_10_4_5, V5_2_2_1_6, V5_3_11_3_1, V5_3_11_3_2],
    faults: [WrongSubscribeAckId],
    tags: [ToBroker, TopicFilter],
    run: unsuback_echoes_id,
}

fn unsuback_echoes_id(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let v = t.protocol();
        let (held, never) = (t.topic("held"), t.topic("never"));
        let mut c = t.client("c").connect().await?;
        // Set up by hand: this case's fault also breaks the SUBACK's Packet Identifier,
        // which is not what it checks.
        c.send(&Packet::Subscribe(Subscribe {
            packet_id: packet_id(0x5C2C)?,
            properties: Default::default(),
            filters: vec![(topic_filter(&held)?, SubscriptionOptions::default())],
        }))
        .await?;
        let suback = c
            .expect_packet(PacketType::SubAck)
            .as_setup(Precondition::Subscribe)
            .await?;
        let granted_held = matches!(&suback, Packet::SubAck(a)
            if a.reason_codes.first().copied().and_then(granted).is_some());
        t.require(granted_held, Precondition::Granted, || {
            format!("the subscription refused: {}", summary::packet(&suback, v))
        })?;
        let id = packet_id(0x5C2D)?;
        c.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: id,
            properties: Default::default(),
            filters: vec![topic_filter(&held)?, topic_filter(&never)?],
        }))
        .await?;
        let ack = c.expect_packet(PacketType::UnsubAck).await?;
        let Packet::UnsubAck(unsuback) = &ack else {
            return t.error("expect_packet returned another packet type");
        };
        t.check(
            unsuback.packet_id == id,
            format!("UNSUBACK with Packet Identifier {id}"),
            summary::packet(&ack, v),
        )
        .map_err(|f| f.statement(of_run!(&t, V5_3_10_4_4)))?;
        if !t.is_v5() {
            return t.pass();
        }
        let codes = &unsuback.reason_codes;
        t.check(
            codes.len() == 2,
            "UNSUBACK with 2 reason codes, one per Topic Filter",
            summary::packet(&ack, v),
        )?;
        // An error code refuses the removal (0x80, 0x87 and the like), which the broker may
        // do for reasons of its own: INCONCLUSIVE.
        t.require(
            !codes.first().is_some_and(|c| c.is_error()),
            Precondition::Unsubscribe,
            || {
                format!(
                    "the UNSUBSCRIBE of the held filter refused: {}",
                    summary::packet(&ack, v)
                )
            },
        )?;
        t.check(
            codes.first() == Some(&ReasonCode::Success),
            "reason code 0x00 (Success) for the filter that had a subscription, first",
            summary::packet(&ack, v),
        )
        .map_err(|f| f.statement(S::V5_3_11_3_1))?;
        match codes.get(1) {
            Some(ReasonCode::NoSubscriptionExisted) => t.pass(),
            Some(other) => t.informational(format!(
                "a filter without subscription got {} rather than 0x11 (No subscription existed)",
                summary::code(*other, PacketType::UnsubAck, v)
            )),
            None => t.error("UNSUBACK reason codes vanished"),
        }
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// UNSUBSCRIBE removes only a subscription with exactly the same filter; after it no new messages arrive
    UNSUBSCRIBE_LITERAL_AND_STOPS = "subscribe.unsubscribe-compares-filters-literally-and-stops-delivery",
    checks: [V5_3_10_4_1, V5_3_10_4_2, V5_3_10_4_5],
    requires: [Wildcards],
    faults: [NoUnsubscribe],
    tags: [Live, ToBroker, TopicFilter],
    run: unsubscribe_literal_and_stops,
}

fn unsubscribe_literal_and_stops(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let wildcard = t.topic("w/+");
        let topic = t.topic("w/x");
        let kept = t.topic("s");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&wildcard).await?;
        sub.subscribe(&kept).await?;
        // A filter that matches the subscription's topics but is not the same text: it
        // removes nothing, and is answered all the same (MQTT-3.10.4-5).
        sub.unsubscribe(&topic).as_check().await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&topic).payload("still").await?;
        sub.expect_publish().topic(&topic).payload("still").await?;
        sub.unsubscribe(&wildcard).await?;
        publisher.publish(&topic).payload("gone").await?;
        sub.expect_no_publish().for_(QUIET).await?;
        // The control: the subscription still held on the same connection delivers.
        control_after_quiet(
            &mut publisher,
            &mut sub,
            &kept,
            0,
            "control",
            "no message for the removed subscription",
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// An UNSUBSCRIBE with two filters removes both and is answered by one UNSUBACK (5.0: Success for each, in order)
    UNSUBSCRIBE_SEVERAL = "subscribe.unsubscribe-several-filters",
    checks: [V5_3_10_4_6, V5_3_11_3_1, V5_3_10_4_2],
    faults: [NoUnsubscribe],
    tags: [Live, ToBroker, TopicFilter],
    run: unsubscribe_several,
}

fn unsubscribe_several(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (a, b, kept) = (t.topic("a"), t.topic("b"), t.topic("s"));
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&a).await?;
        sub.subscribe(&b).await?;
        sub.subscribe(&kept).await?;
        let codes = sub.unsubscribe(&a).and(&b).await?;
        if t.is_v5() {
            // An error code refuses the UNSUBSCRIBE (0x80, 0x87 and the like), which the
            // broker may do for reasons of its own: then the case cannot go on.
            t.require(
                codes.iter().all(|c| !c.is_error()),
                Precondition::Unsubscribe,
                || format!("UNSUBACK reason codes {codes:?}: the UNSUBSCRIBE refused"),
            )?;
            t.check_eq(
                "UNSUBACK reason codes",
                vec![ReasonCode::Success, ReasonCode::Success],
                codes,
            )?;
        }
        let mut publisher = t.client("pub").connect().await?;
        publisher.publish(&a).payload("a").await?;
        publisher.publish(&b).payload("b").await?;
        sub.expect_no_publish().for_(QUIET).await?;
        // The control: the subscription still held on the same connection delivers.
        control_after_quiet(
            &mut publisher,
            &mut sub,
            &kept,
            0,
            "control",
            "no message for the removed subscriptions",
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// An UNSUBSCRIBE whose fixed-header flags are not 0010 is malformed: the connection is closed
    UNSUBSCRIBE_RESERVED_FLAGS = "subscribe.unsubscribe-reserved-flags-malformed",
    checks: [V5_3_10_1_1, V5_2_1_3_1, V5_4_13_1_1, V311_3_10_1_1, V311_2_2_2_1, V311_2_2_2_2],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker],
    run: unsubscribe_reserved_flags,
}

fn unsubscribe_reserved_flags(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let (twin, filter) = (t.topic("g"), t.topic("f"));
        let mut c = t.client("c").connect().await?;
        c.subscribe(&twin).and(&filter).await?;
        // The twin: the same UNSUBSCRIBE with flags 0010 (for the other subscription).
        c.unsubscribe(&twin).as_twin().await?;
        // Flags 0000 instead of 0010.
        let bad = raw_unsubscribe(&t, 0xA0, 9, &[filter.as_bytes()]);
        refused_after_twin(&t, &mut c, bad).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// An UNSUBSCRIBE without any Topic Filter is a protocol violation: the connection is closed
    UNSUBSCRIBE_EMPTY_PAYLOAD = "subscribe.unsubscribe-without-topic-filter-refused",
    checks: [V5_3_10_3_2, V5_4_13_1_1],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker, TopicFilter],
    run: unsubscribe_empty_payload,
}

fn unsubscribe_empty_payload(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let filter = t.topic("f");
        let mut c = t.client("c").connect().await?;
        c.subscribe(&filter).await?;
        // The twin: the same UNSUBSCRIBE with one Topic Filter.
        c.unsubscribe(&filter).as_twin().await?;
        let bad = raw_unsubscribe(&t, 0xA2, 9, &[]);
        refused_after_twin(&t, &mut c, bad).await
    })
}
