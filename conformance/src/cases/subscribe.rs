//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK: the acknowledgements and what they carry,
//! the QoS granted and used for delivery, replacing a subscription, overlapping
//! subscriptions, No Local, unsubscribing, and the malformed packets a broker must refuse.
//!
//! The helpers at the top (raw packets, waiting for a refusal, collecting deliveries, the
//! positive control that closes a quiet period) are shared with the `retain`, `topic`,
//! `subid` and `alias` modules.

use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    Packet, PacketType, Properties, Publish, QoS, RawPacket, ReasonCode, StatementId as S,
    Subscribe, SubscriptionOptions, TopicFilter, Unsubscribe,
};
use tokio::time::Instant;

use crate::case;
use crate::client::{summary, Received};
use crate::scenario::{BoxFuture, Case, CaseResult, Client, Ctx, Failure, Precondition};

pub(crate) use super::support::{packet_id, QUIET};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        SUBACK_ECHOES_ID_AND_ORDER,
        DELIVERY_QOS_IS_MINIMUM,
        RESERVED_FLAGS,
        OPTIONS_RESERVED_BITS,
        REQUESTED_QOS_3,
        EMPTY_PAYLOAD,
        SAME_FILTER_REPLACES,
        OVERLAPPING_MAXIMUM_QOS,
        NO_LOCAL,
        UNSUBACK_ECHOES_ID,
        UNSUBSCRIBE_LITERAL_AND_STOPS,
        UNSUBSCRIBE_SEVERAL,
        UNSUBSCRIBE_RESERVED_FLAGS,
        UNSUBSCRIBE_EMPTY_PAYLOAD,
    ]
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the subscription, retained-message, topic, Subscription Identifier and
// Topic Alias cases.

/// The QoS a SUBACK reason code grants, or `None` for a failure code.
pub(crate) fn granted(code: ReasonCode) -> Option<u8> {
    match code {
        ReasonCode::Success => Some(0),
        ReasonCode::GrantedQoS1 => Some(1),
        ReasonCode::GrantedQoS2 => Some(2),
        _ => None,
    }
}

/// The QoS granted for the only filter of a SUBACK (`codes` as returned by `subscribe`);
/// INCONCLUSIVE (a plain SUBSCRIBE granted) when it was refused.
pub(crate) fn granted_one(codes: &[ReasonCode]) -> Result<u8, Failure> {
    codes.first().copied().and_then(granted).ok_or_else(|| {
        Failure::inconclusive(
            Precondition::Subscribe,
            format!("the broker refused the subscription: {codes:?}"),
        )
    })
}

/// A validated Topic Filter, or a case error.
pub(crate) fn topic_filter(f: &str) -> Result<TopicFilter, Failure> {
    TopicFilter::new(f.to_owned())
        .map_err(|e| Failure::error(format!("case error: topic filter {f:?}: {e}")))
}

/// A SUBSCRIBE built byte by byte for the run's protocol: `first` is the first byte (type
/// and flags), then the Packet Identifier, an empty property block for MQTT 5.0, and each
/// (Topic Filter bytes, Subscription Options byte) pair as given.
pub(crate) fn raw_subscribe(v5: bool, first: u8, id: u16, filters: &[(&[u8], u8)]) -> Bytes {
    let mut p = RawPacket::new(first).u16(id);
    if v5 {
        p = p.properties(&[]);
    }
    for (filter, options) in filters {
        p = p.binary(filter).u8(*options);
    }
    p.build()
}

/// An UNSUBSCRIBE built byte by byte (see [`raw_subscribe`]).
pub(crate) fn raw_unsubscribe(v5: bool, first: u8, id: u16, filters: &[&[u8]]) -> Bytes {
    let mut p = RawPacket::new(first).u16(id);
    if v5 {
        p = p.properties(&[]);
    }
    for filter in filters {
        p = p.binary(filter);
    }
    p.build()
}

/// How the broker turned down a packet it had to refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// SUBACK with a failure code for every Topic Filter (the connection stays open).
    SubAck(Vec<ReasonCode>),
    /// DISCONNECT with this error code, then the close (MQTT 5.0).
    Disconnect(ReasonCode),
    /// The connection closed without a packet.
    Closed,
}

/// A checking step: waits for the broker to refuse what was just sent: the connection
/// closed (in MQTT 5.0 possibly after a DISCONNECT with an error code), or, when
/// `suback_id` is given, a SUBACK with that Packet Identifier and only failure codes.
/// Anything else (a successful SUBACK, an UNSUBACK, a PUBACK, silence) is FAIL. PUBLISH and
/// PINGRESP in between are skipped. A refusal is recorded as such: the case must also have
/// seen the well-formed twin accepted (send it on `c` before the bad packet).
pub(crate) async fn expect_refused(
    t: &Ctx,
    c: &mut Client,
    suback_id: Option<u16>,
) -> Result<Refused, Failure> {
    let expected = match suback_id {
        Some(id) => format!(
            "SUBACK id={id} with a failure code, or the connection closed \
             (MQTT 5.0: after DISCONNECT with an error code)"
        ),
        None => "the connection closed (MQTT 5.0: after DISCONNECT with an error code)".to_owned(),
    };
    let within = c.timeout();
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let got = c.recv(left).await;
        match &got {
            Received::Packet(Packet::SubAck(a)) if Some(a.packet_id.get()) == suback_id => {
                let refused =
                    !a.reason_codes.is_empty() && a.reason_codes.iter().all(|r| r.is_error());
                if refused {
                    t.checked();
                    t.refusal_seen();
                    return Ok(Refused::SubAck(a.reason_codes.clone()));
                }
                return Err(c.unmet(&expected, got));
            }
            Received::Packet(Packet::Disconnect(d)) if d.reason_code.is_error() => {
                let code = d.reason_code;
                let after = c.recv(c.timeout()).await;
                if after == Received::Closed {
                    t.checked();
                    t.refusal_seen();
                    return Ok(Refused::Disconnect(code));
                }
                return Err(c.unmet("the connection closed after DISCONNECT", after));
            }
            Received::Closed => {
                t.checked();
                t.refusal_seen();
                return Ok(Refused::Closed);
            }
            Received::Packet(Packet::Publish(_) | Packet::PingResp) => continue,
            Received::Timeout => {
                return Err(Failure::fail(
                    expected,
                    format!(
                        "nothing within {} ms: the connection stayed open",
                        within.as_millis()
                    ),
                ))
            }
            _ => return Err(c.unmet(&expected, got)),
        }
    }
}

/// The verdict once every refusal was observed: an MQTT 5.0 broker should send DISCONNECT
/// with a reason code before closing (NON-STRICT when it just closed).
pub(crate) fn refusal_verdict(t: &Ctx, refusals: &[Refused]) -> CaseResult {
    if t.is_v5() && refusals.contains(&Refused::Closed) {
        return t.non_strict(
            "DISCONNECT with a reason code (e.g. 0x81 Malformed Packet) before the close",
            "the connection closed without DISCONNECT",
        );
    }
    t.pass()
}

/// A checking step: every PUBLISH that arrives within `window` (acknowledged as needed);
/// the connection closing is FAIL. It records an absence (nothing more arrived), so the
/// caller must follow it with a positive control on the same subscriber and path
/// ([`control_after_quiet`], or `retained_control` in the `retain` module).
pub(crate) async fn publishes_within(
    t: &Ctx,
    c: &mut Client,
    window: Duration,
) -> Result<Vec<Publish>, Failure> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.recv(left).await {
            Received::Packet(Packet::Publish(p)) => {
                c.ack(&p).await?;
                out.push(p);
            }
            Received::Packet(_) => {}
            Received::Timeout => break,
            other => {
                return Err(c.unmet(
                    &format!("the connection open for {} ms", window.as_millis()),
                    other,
                ))
            }
        }
    }
    t.checked();
    t.absence_seen();
    Ok(out)
}

/// `sub`'s next PUBLISH must be `payload` on `topic`, a message the case sent to set itself
/// up (`p`: [`Precondition::Delivery`]) or as the positive control of an absence
/// ([`Precondition::Control`], which counts as the control): when none arrives the case is
/// INCONCLUSIVE naming `p`. Another PUBLISH first is FAIL: it is what the case says must
/// not arrive (`forbidden`, in Expected).
pub(crate) async fn expect_next(
    sub: &mut Client,
    p: Precondition,
    topic: &str,
    payload: &str,
    forbidden: &str,
) -> Result<Publish, Failure> {
    let got = sub.expect_publish().as_setup(p).await?;
    if got.topic.as_str() == topic && got.payload.as_ref() == payload.as_bytes() {
        return Ok(got);
    }
    Err(sub.unmet(
        &format!("{forbidden}: the next PUBLISH is {payload:?} on {topic:?}"),
        Received::Packet(Packet::Publish(got)),
    ))
}

/// The positive control that closes a quiet period: `publisher` publishes `payload` on
/// `topic` at QoS `qos` (a topic `sub` is subscribed to on the path under test) and `sub`'s
/// next PUBLISH must be it (none: INCONCLUSIVE). Sent after the quiet period, it shows that
/// `sub` was receiving during it; a PUBLISH arriving before it is FAIL (`forbidden`: what the
/// case says must not arrive).
pub(crate) async fn control_after_quiet(
    publisher: &mut Client,
    sub: &mut Client,
    topic: &str,
    qos: u8,
    payload: &str,
    forbidden: &str,
) -> Result<(), Failure> {
    publisher
        .publish(topic)
        .qos(qos)
        .payload(payload)
        .as_control()
        .await?;
    expect_next(sub, Precondition::Control, topic, payload, forbidden).await?;
    Ok(())
}

/// A short description of PUBLISH packets for Actual texts.
pub(crate) fn describe(pubs: &[Publish], v: mqttspec_codec::ProtocolVersion) -> String {
    if pubs.is_empty() {
        return "no PUBLISH".to_owned();
    }
    pubs.iter()
        .map(|p| summary::packet(&Packet::Publish(p.clone()), v))
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------

case! {
    /// SUBACK carries the SUBSCRIBE's Packet Identifier and one reason code per Topic Filter, in order, never granting more than requested
    SUBACK_ECHOES_ID_AND_ORDER = "subscribe.suback-echoes-packet-id-with-one-code-per-filter",
    checks: [V5_3_8_4_1, V5_3_8_4_2, V5_3_8_4_6, V5_3_8_4_7, V5_3_9_3_1, V5_3_9_3_2, V5_2_2_1_6, V5_3_2_2_10, V311_3_8_4_1, V311_3_8_4_2, V311_3_8_4_5, V311_3_9_3_1, V311_3_9_3_2, V311_2_3_1_7],
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
            properties: Properties::default(),
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
        .map_err(|f| {
            f.statement(if t.is_v5() {
                S::V5_3_8_4_2
            } else {
                S::V311_3_8_4_2
            })
        })?;
        t.check(
            suback.reason_codes.len() == requested.len(),
            "SUBACK with 3 reason codes, one per Topic Filter",
            summary::packet(&ack, v),
        )?;
        let codes = &suback.reason_codes;
        // MQTT 5.0: a server whatever its Maximum QoS accepts a request for QoS 2 (granting
        // less if it must).
        if t.is_v5() {
            let first = codes
                .first()
                .copied()
                .unwrap_or(ReasonCode::UnspecifiedError);
            t.check(
                granted(first).is_some(),
                "the QoS 2 request accepted (granted at the broker's Maximum QoS)",
                summary::packet(&ack, v),
            )
            .map_err(|f| f.statement(S::V5_3_2_2_10))?;
        }
        t.require(
            codes.iter().any(|c| !c.is_error()),
            Precondition::Subscribe,
            || {
                format!(
                    "the broker refused every subscription: {}",
                    summary::packet(&ack, v)
                )
            },
        )?;
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
                .map_err(|f| {
                    f.statement(if t.is_v5() {
                        S::V5_3_9_3_1
                    } else {
                        S::V311_3_9_3_1
                    })
                })?;
            }
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Each filter of a multi-filter SUBSCRIBE is its own subscription; messages arrive at the lower of the published and the granted QoS
    DELIVERY_QOS_IS_MINIMUM = "subscribe.delivery-qos-is-minimum-of-published-and-granted",
    checks: [V5_3_8_4_5, V5_3_8_4_8, V311_3_8_4_4, V311_3_8_4_6],
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
                Precondition::Subscribe,
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
        let bad = raw_subscribe(t.is_v5(), 0x80, 7, &[(filter.as_bytes(), 0)]);
        refused_after_twin(&t, &mut c, bad).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A SUBSCRIBE with a reserved bit of the Subscription Options (Requested QoS) byte set is malformed: the connection is closed
    OPTIONS_RESERVED_BITS = "subscribe.options-reserved-bits-malformed",
    checks: [V5_3_8_3_5, V5_4_13_1_1, V311_3_8_3_4, V311_4_8_0_1],
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
        let bad = raw_subscribe(t.is_v5(), 0x82, 7, &[(filter.as_bytes(), 0x40 | 0x01)]);
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
        let bad = raw_subscribe(t.is_v5(), 0x82, 7, &[(filter.as_bytes(), 0x03)]);
        refused_after_twin(&t, &mut c, bad).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A SUBSCRIBE without any Topic Filter is a protocol violation: the connection is closed
    EMPTY_PAYLOAD = "subscribe.without-topic-filter-refused",
    checks: [V5_3_8_3_2, V5_4_13_1_1, V311_3_8_3_3, V311_4_8_0_1],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker, TopicFilter],
    run: empty_payload,
}

fn empty_payload(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        // The twin: the same SUBSCRIBE with one Topic Filter.
        c.subscribe(t.topic("f")).as_twin().await?;
        let bad = raw_subscribe(t.is_v5(), 0x82, 7, &[]);
        refused_after_twin(&t, &mut c, bad).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Subscribing again to the same Topic Filter replaces the subscription: its new QoS applies and messages are not doubled
    SAME_FILTER_REPLACES = "subscribe.same-filter-replaces-subscription",
    checks: [V5_3_8_4_3, V311_3_8_4_3],
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
    checks: [V5_3_3_4_2, V311_3_3_5_1],
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
        let top = copies.iter().map(|p| p.qos.as_u8()).max().unwrap_or(0);
        t.check(
            top == expected && copies.iter().all(|p| p.qos.as_u8() <= expected),
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
    /// UNSUBSCRIBE is answered by UNSUBACK with its Packet Identifier, also for a filter with no subscription (5.0: one reason code per filter)
    UNSUBACK_ECHOES_ID = "subscribe.unsuback-echoes-packet-id",
    checks: [V5_3_10_4_4, V5_3_10_4_5, V5_2_2_1_6, V5_3_11_3_1, V5_3_11_3_2, V311_3_10_4_4, V311_3_10_4_5, V311_2_3_1_7],
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
            properties: Properties::default(),
            filters: vec![(topic_filter(&held)?, SubscriptionOptions::default())],
        }))
        .await?;
        let suback = c
            .expect_packet(PacketType::SubAck)
            .as_setup(Precondition::Subscribe)
            .await?;
        let granted_held = matches!(&suback, Packet::SubAck(a)
            if a.reason_codes.first().copied().and_then(granted).is_some());
        t.require(granted_held, Precondition::Subscribe, || {
            format!("the subscription refused: {}", summary::packet(&suback, v))
        })?;
        let id = packet_id(0x5C2D)?;
        c.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: id,
            properties: Properties::default(),
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
        .map_err(|f| {
            f.statement(if t.is_v5() {
                S::V5_3_10_4_4
            } else {
                S::V311_3_10_4_4
            })
        })?;
        if !t.is_v5() {
            return t.pass();
        }
        let codes = &unsuback.reason_codes;
        t.check(
            codes.len() == 2,
            "UNSUBACK with 2 reason codes, one per Topic Filter",
            summary::packet(&ack, v),
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
    checks: [V5_3_10_4_1, V5_3_10_4_2, V311_3_10_4_1, V311_3_10_4_2],
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
        // A filter that matches the subscription's topics but is not the same text.
        sub.unsubscribe(&topic).await?;
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
    checks: [V5_3_10_4_6, V5_3_11_3_1, V5_3_10_4_2, V311_3_10_4_6, V311_3_10_4_2],
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
        let bad = raw_unsubscribe(t.is_v5(), 0xA0, 9, &[filter.as_bytes()]);
        refused_after_twin(&t, &mut c, bad).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// An UNSUBSCRIBE without any Topic Filter is a protocol violation: the connection is closed
    UNSUBSCRIBE_EMPTY_PAYLOAD = "subscribe.unsubscribe-without-topic-filter-refused",
    checks: [V5_3_10_3_2, V5_4_13_1_1, V311_3_10_3_2, V311_4_8_0_1],
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
        let bad = raw_unsubscribe(t.is_v5(), 0xA2, 9, &[]);
        refused_after_twin(&t, &mut c, bad).await
    })
}
