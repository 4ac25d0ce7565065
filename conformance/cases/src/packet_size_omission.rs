//! MQTT 5.0: the Reason String and User Properties of what the broker sends are optional, and
//! each packet type's statement forbids them when they would take the packet past the
//! Maximum Packet Size the client declared in CONNECT (MQTT-3.2.2-19, -20 for CONNACK, and
//! the same pair for PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and AUTH).
//!
//! Each case declares a Maximum Packet Size just large enough for the packet it provokes
//! without those properties, then provokes a packet brokers commonly explain with a Reason
//! String: a refused Authentication Method (CONNACK), a PUBLISH to a `$SYS` topic (PUBACK,
//! PUBREC), acknowledgements of a Packet Identifier not in use (PUBREL, PUBCOMP), a Topic
//! Filter deeper than brokers accept (SUBACK), an UNSUBSCRIBE of a filter never subscribed
//! (UNSUBACK), AUTH without enhanced authentication (DISCONNECT), and the first step of
//! SCRAM-SHA-256 (AUTH).
//!
//! Judgement: any packet received on the limited connection that is larger than the
//! declared size is FAIL of the statement for its Reason String or its User Properties (of
//! MQTT-3.1.2-24 when it carries neither). A packet within the limit PASSes whether or not
//! it explains itself: a broker that never sends a Reason String conforms. The provoked
//! packet must arrive: a broker that closes or stays silent instead leaves the case
//! INCONCLUSIVE (nothing was observed). The client's own decoder accepts packets of any
//! size here, so an oversized packet is seen and measured, not merely refused.
//!
//! The limit is the larger of the packet's own minimum and the size of the broker's
//! successful CONNACK to the same client (learned on a first connection), so that the
//! limited client can connect at all; two bytes of slack absorb small differences between
//! that CONNACK and the next, and are less than the smallest Reason String property (three
//! bytes).

use std::num::NonZeroU32;
use tokio::time::Instant;

use bytes::Bytes;
use mqttspec_codec::{
    Auth, ConnectProperties, Packet, PacketType, ProtocolVersion, PubRec, PubRel, QoS,
    StatementId as S, Subscribe, SubscriptionOptions, Unsubscribe,
};
use mqttspec_reference_broker::scram::{ScramClient, MECHANISM};

use super::support::{connect_twin, packet_id, send_connect, setting_up, text, topic_filter};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Role};

/// Bytes added to the measured CONNACK size (see the module docs).
const SLACK: u32 = 2;

/// The Maximum Packet Size of the CONNACK case: any refusing CONNACK fits in 5 bytes; a
/// Reason String explaining it rarely does in 30.
const CONNACK_LIMIT: u32 = 30;

/// CONNECT properties declaring Maximum Packet Size `n`, over `base`.
fn with_maximum(base: ConnectProperties, n: u32) -> ConnectProperties {
    ConnectProperties {
        maximum_packet_size: NonZeroU32::new(n),
        ..base
    }
}

/// The two statements of a packet type (Reason String, User Properties), if it has them.
fn statements(t: PacketType) -> Option<(S, S)> {
    Some(match t {
        PacketType::ConnAck => (S::V5_3_2_2_19, S::V5_3_2_2_20),
        PacketType::PubAck => (S::V5_3_4_2_2, S::V5_3_4_2_3),
        PacketType::PubRec => (S::V5_3_5_2_2, S::V5_3_5_2_3),
        PacketType::PubRel => (S::V5_3_6_2_2, S::V5_3_6_2_3),
        PacketType::PubComp => (S::V5_3_7_2_2, S::V5_3_7_2_3),
        PacketType::SubAck => (S::V5_3_9_2_1, S::V5_3_9_2_2),
        PacketType::UnsubAck => (S::V5_3_11_2_1, S::V5_3_11_2_2),
        PacketType::Disconnect => (S::V5_3_14_2_3, S::V5_3_14_2_4),
        PacketType::Auth => (S::V5_3_15_2_2, S::V5_3_15_2_3),
        _ => return None,
    })
}

/// The Reason String and User Properties count of a packet.
fn optional_properties(p: &Packet) -> (Option<&str>, usize) {
    macro_rules! counted {
        ($props:expr) => {
            (
                $props.reason_string.as_ref().map(|r| r.as_str()),
                $props.user_properties.len(),
            )
        };
    }
    match p {
        Packet::ConnAck(a) => counted!(a.properties),
        Packet::PubAck(a) => counted!(a.properties),
        Packet::PubRec(a) => counted!(a.properties),
        Packet::PubRel(a) => counted!(a.properties),
        Packet::PubComp(a) => counted!(a.properties),
        Packet::SubAck(a) => counted!(a.properties),
        Packet::UnsubAck(a) => counted!(a.properties),
        Packet::Disconnect(a) => counted!(a.properties),
        Packet::Auth(a) => counted!(a.properties),
        // A PUBLISH carries no Reason String.
        Packet::Publish(a) => (None, a.properties.user_properties.len()),
        _ => (None, 0),
    }
}

/// The size of `p` on the wire (its strict encoding: the client decoded it strictly).
fn size(p: &Packet) -> usize {
    p.encoded_len(ProtocolVersion::V5).unwrap_or(usize::MAX)
}

/// Checks one packet received on a connection limited to `limit` bytes (see the module
/// docs for the statement a packet too large fails).
fn judge(p: &Packet, limit: u32) -> Result<(), Failure> {
    let len = size(p);
    if len <= limit as usize {
        return Ok(());
    }
    let (reason, users) = optional_properties(p);
    let pair = statements(p.packet_type());
    let (statement, why) = match (pair, reason, users) {
        (Some((rs, _)), Some(r), _) => (rs, format!("a Reason String of {} bytes", r.len())),
        (Some((_, up)), None, n) if n > 0 => (up, format!("{n} User Properties")),
        _ => (
            S::V5_3_1_2_24,
            "neither Reason String nor User Properties".to_owned(),
        ),
    };
    Err(Failure::fail(
        format!(
            "no {} larger than the Maximum Packet Size of {limit} bytes declared in CONNECT (optional properties left out)",
            p.packet_type()
        ),
        format!("{} of {len} bytes carrying {why}", p.packet_type()),
    )
    .statement(statement))
}

/// Waits for the packet of type `wanted` on `c`, judging every packet that arrives on the
/// way; a close, silence or malformed input first is INCONCLUSIVE (the packet was not
/// provoked), as is a DISCONNECT when another packet was wanted.
async fn provoked(
    t: &Ctx,
    c: &mut Client,
    wanted: PacketType,
    limit: u32,
    provocation: &str,
) -> Result<Packet, Failure> {
    let deadline = Instant::now() + t.response_timeout();
    loop {
        let got = c.recv_raw(deadline).await;
        let not_provoked = |what: String| {
            Failure::inconclusive(
                Precondition::Other,
                format!("{provocation} was answered by {what}, not {wanted}: nothing to measure"),
            )
        };
        match got {
            Received::Packet(p) => {
                judge(&p, limit)?;
                if p.packet_type() == wanted {
                    t.checked();
                    return Ok(p);
                }
                if matches!(p, Packet::Disconnect(_)) {
                    let v = t.protocol();
                    return Err(not_provoked(mqttspec_harness::client::summary::packet(
                        &p, v,
                    )));
                }
            }
            other => return Err(not_provoked(other.describe(t.protocol()))),
        }
    }
}

/// The Maximum Packet Size for a limited client named `name`: the size of the broker's
/// successful CONNACK to the same client (learned on a first connection) plus [`SLACK`],
/// and at least `floor`.
async fn learn_limit(t: &Ctx, name: &str, floor: u32) -> Result<u32, Failure> {
    let probe = t.client(name).connect().await.map_err(setting_up(
        "a first connection without a Maximum Packet Size",
    ))?;
    let connack = probe
        .connack()
        .map(|a| size(&Packet::ConnAck(a.clone())))
        .unwrap_or(0);
    probe.disconnect().await?;
    let connack = u32::try_from(connack).unwrap_or(u32::MAX);
    Ok(connack.saturating_add(SLACK).max(floor))
}

/// Connects `name` declaring Maximum Packet Size `limit` (learned by [`learn_limit`]).
async fn limited(t: &Ctx, name: &str, limit: u32) -> Result<Client, Failure> {
    t.client(name)
        .properties(with_maximum(ConnectProperties::default(), limit))
        .connect()
        .await
        .map_err(setting_up(
            "the connection declaring the small Maximum Packet Size accepted",
        ))
}

/// The PASS of a case, naming what arrived.
fn passed(t: &Ctx, p: &Packet, limit: u32) -> CaseResult {
    let v = t.protocol();
    t.transcript().event(
        "c",
        format!(
            "{} of {} bytes within the Maximum Packet Size of {limit}",
            mqttspec_harness::client::summary::packet(p, v),
            size(p)
        ),
    );
    t.pass()
}

// ---------------------------------------------------------------------------------------

case! {
    /// A CONNACK refusing an unknown Authentication Method stays within the client's small Maximum Packet Size
    CONNACK = "size.connack-omits-reason-string",
    checks: [V5_3_2_2_19, V5_3_2_2_20],
    only: V5,
    faults: [OversizedReasonString],
    tags: [FromBroker, Auth],
    run: connack,
}

fn connack(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let limit = CONNACK_LIMIT;
        let properties = with_maximum(
            ConnectProperties {
                authentication_method: Some(text(
                    "x-mqttspec-no-such-method",
                    "Authentication Method",
                )?),
                ..ConnectProperties::default()
            },
            limit,
        );
        // The twin: the same client without the Authentication Method is accepted.
        connect_twin(t.client("c")).await?.disconnect().await?;
        let mut c = send_connect(t.client("c").properties(properties)).await?;
        let p = provoked(
            &t,
            &mut c,
            PacketType::ConnAck,
            limit,
            "a CONNECT with an unknown Authentication Method",
        )
        .await?;
        // Only a refusal is the packet provoked (a CONNACK 0x00 within the limit is fine
        // too, but accepting the method leaves nothing refused to measure).
        match &p {
            Packet::ConnAck(ack) if ack.reason_code.is_error() => {
                t.refusal_seen();
                passed(&t, &p, limit)
            }
            _ => t.inconclusive(
                Precondition::Other,
                "the broker accepted a CONNECT with an unknown Authentication Method: no refusing CONNACK to measure",
            ),
        }
    })
}

// ---------------------------------------------------------------------------------------

/// A QoS `qos` PUBLISH to a `$SYS` topic of this run, which brokers commonly refuse.
fn sys_publish(t: &Ctx, c: &mut Client, qos: QoS) -> Result<Packet, Failure> {
    let topic = format!("$SYS/{}", t.topic("size"));
    let publish = mqttspec_codec::Publish {
        dup: false,
        delivery: mqttspec_codec::Delivery::new(qos, c.next_packet_id()),
        retain: false,
        topic: super::support::topic_name(&topic)?,
        properties: Default::default(),
        payload: Bytes::from_static(b"x"),
    };
    Ok(Packet::Publish(publish))
}

case! {
    /// A PUBACK for a PUBLISH to a $SYS topic stays within the client's small Maximum Packet Size
    PUBACK = "size.puback-omits-reason-string",
    checks: [V5_3_4_2_2, V5_3_4_2_3],
    only: V5,
    requires: [QoS1],
    faults: [OversizedReasonString],
    tags: [FromBroker],
    run: puback,
}

fn puback(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let limit = learn_limit(&t, "c", 6).await?;
        let mut c = limited(&t, "c", limit).await?;
        let publish = sys_publish(&t, &mut c, QoS::AtLeastOnce)?;
        c.send(&publish).await?;
        let p = provoked(
            &t,
            &mut c,
            PacketType::PubAck,
            limit,
            "a QoS 1 PUBLISH to a $SYS topic",
        )
        .await?;
        passed(&t, &p, limit)
    })
}

case! {
    /// A PUBREC for a PUBLISH to a $SYS topic stays within the client's small Maximum Packet Size
    PUBREC = "size.pubrec-omits-reason-string",
    checks: [V5_3_5_2_2, V5_3_5_2_3],
    only: V5,
    requires: [QoS2],
    faults: [OversizedReasonString],
    tags: [FromBroker],
    run: pubrec,
}

fn pubrec(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let limit = learn_limit(&t, "c", 6).await?;
        let mut c = limited(&t, "c", limit).await?;
        let publish = sys_publish(&t, &mut c, QoS::ExactlyOnce)?;
        c.send(&publish).await?;
        let p = provoked(
            &t,
            &mut c,
            PacketType::PubRec,
            limit,
            "a QoS 2 PUBLISH to a $SYS topic",
        )
        .await?;
        // An accepted message: finish its flow (PUBREL), judging what comes back.
        if let Packet::PubRec(rec) = &p {
            if !rec.reason_code.is_error() {
                c.send(&Packet::PubRel(PubRel::new(rec.packet_id))).await?;
                let deadline = Instant::now() + t.response_timeout();
                if let Received::Packet(next) = c.recv_raw(deadline).await {
                    judge(&next, limit)?;
                }
            }
        }
        passed(&t, &p, limit)
    })
}

// ---------------------------------------------------------------------------------------

/// A Packet Identifier this client never used (the limited clients publish nothing at
/// QoS 2 before it).
fn unused_packet_id() -> Result<mqttspec_codec::PacketId, Failure> {
    packet_id(4242)
}

case! {
    /// A PUBREL answering a PUBREC for a Packet Identifier not in use stays within the client's small Maximum Packet Size
    PUBREL = "size.pubrel-omits-reason-string",
    checks: [V5_3_6_2_2, V5_3_6_2_3],
    only: V5,
    requires: [QoS2],
    faults: [OversizedReasonString],
    tags: [FromBroker],
    run: pubrel,
}

fn pubrel(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let limit = learn_limit(&t, "c", 6).await?;
        let mut c = limited(&t, "c", limit).await?;
        c.send(&Packet::PubRec(PubRec::new(unused_packet_id()?)))
            .await?;
        let p = provoked(
            &t,
            &mut c,
            PacketType::PubRel,
            limit,
            "a PUBREC for a Packet Identifier not in use",
        )
        .await?;
        passed(&t, &p, limit)
    })
}

case! {
    /// A PUBCOMP answering a PUBREL for a Packet Identifier not in use stays within the client's small Maximum Packet Size
    PUBCOMP = "size.pubcomp-omits-reason-string",
    checks: [V5_3_7_2_2, V5_3_7_2_3],
    only: V5,
    requires: [QoS2],
    faults: [OversizedReasonString],
    tags: [FromBroker],
    run: pubcomp,
}

fn pubcomp(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let limit = learn_limit(&t, "c", 6).await?;
        let mut c = limited(&t, "c", limit).await?;
        c.send(&Packet::PubRel(PubRel::new(unused_packet_id()?)))
            .await?;
        let p = provoked(
            &t,
            &mut c,
            PacketType::PubComp,
            limit,
            "a PUBREL for a Packet Identifier not in use",
        )
        .await?;
        passed(&t, &p, limit)
    })
}

// ---------------------------------------------------------------------------------------

/// Levels of the deep Topic Filter: more than brokers commonly accept.
const DEEP_LEVELS: usize = 300;

case! {
    /// A SUBACK for a Topic Filter deeper than brokers accept stays within the client's small Maximum Packet Size
    SUBACK = "size.suback-omits-reason-string",
    checks: [V5_3_9_2_1, V5_3_9_2_2],
    only: V5,
    faults: [OversizedReasonString],
    tags: [FromBroker, TopicFilter],
    run: suback,
}

fn suback(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let limit = learn_limit(&t, "c", 6).await?;
        let mut c = limited(&t, "c", limit).await?;
        let deep = format!("{}{}", t.topic("deep"), "/d".repeat(DEEP_LEVELS));
        let subscribe = Subscribe {
            packet_id: c.next_packet_id(),
            properties: Default::default(),
            filters: vec![(topic_filter(&deep)?, SubscriptionOptions::default())],
        };
        c.send(&Packet::Subscribe(subscribe)).await?;
        let p = provoked(
            &t,
            &mut c,
            PacketType::SubAck,
            limit,
            "a SUBSCRIBE to a very deep Topic Filter",
        )
        .await?;
        passed(&t, &p, limit)
    })
}

case! {
    /// An UNSUBACK for a filter never subscribed (0x11) stays within the client's small Maximum Packet Size
    UNSUBACK = "size.unsuback-omits-reason-string",
    checks: [V5_3_11_2_1, V5_3_11_2_2],
    only: V5,
    faults: [OversizedReasonString],
    tags: [FromBroker, TopicFilter],
    run: unsuback,
}

fn unsuback(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let limit = learn_limit(&t, "c", 6).await?;
        let mut c = limited(&t, "c", limit).await?;
        let unsubscribe = Unsubscribe {
            packet_id: c.next_packet_id(),
            properties: Default::default(),
            filters: vec![topic_filter(&t.topic("never-subscribed"))?],
        };
        c.send(&Packet::Unsubscribe(unsubscribe)).await?;
        let p = provoked(
            &t,
            &mut c,
            PacketType::UnsubAck,
            limit,
            "an UNSUBSCRIBE of a filter never subscribed",
        )
        .await?;
        passed(&t, &p, limit)
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The DISCONNECT closing a connection that sent AUTH without enhanced authentication stays within the client's small Maximum Packet Size
    DISCONNECT = "size.disconnect-omits-reason-string",
    checks: [V5_3_14_2_3, V5_3_14_2_4],
    only: V5,
    faults: [OversizedReasonString],
    tags: [FromBroker, Auth],
    run: disconnect,
}

fn disconnect(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let limit = learn_limit(&t, "c", 4).await?;
        let mut c = limited(&t, "c", limit).await?;
        // AUTH 0x00 with no properties (Remaining Length 0), on a connection whose CONNECT
        // had no Authentication Method: a Protocol Error (MQTT-4.12.0-7).
        c.send_raw(Bytes::from_static(&[0xF0, 0x00])).await?;
        let p = provoked(
            &t,
            &mut c,
            PacketType::Disconnect,
            limit,
            "AUTH without enhanced authentication",
        )
        .await?;
        passed(&t, &p, limit)
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The AUTH carrying SCRAM-SHA-256 server-first stays within a Maximum Packet Size that leaves no room for a Reason String
    AUTH = "size.auth-omits-reason-string",
    checks: [V5_3_15_2_2, V5_3_15_2_3],
    only: V5,
    requires: [EnhancedAuth(MECHANISM), Credentials],
    faults: [OversizedReasonString],
    tags: [FromBroker, Auth, Credentials],
    run: auth,
}

/// Starts SCRAM-SHA-256 for client `name` (the profile's user) over the CONNECT
/// properties `base`; returns the connection.
async fn start_scram(t: &Ctx, name: &str, base: ConnectProperties) -> Result<Client, Failure> {
    let c = t
        .profile()
        .credentials
        .as_ref()
        .ok_or_else(|| Failure::error("the profile gives no credentials"))?;
    // The same nonce length for every connection of the case: the AUTH sizes compare.
    let nonce = format!("mqttspec{}", t.client_id(name));
    let scram = ScramClient::new(
        &c.username,
        c.password.as_deref().unwrap_or_default(),
        &nonce,
    )
    .map_err(|e| Failure::error(format!("case error: SCRAM client: {e}")))?;
    let properties = ConnectProperties {
        authentication_method: Some(text(MECHANISM, "Authentication Method")?),
        authentication_data: Some(Bytes::from(scram.client_first())),
        ..base
    };
    send_connect(t.client(name).no_credentials().properties(properties)).await
}

/// The size of an AUTH without its Reason String and User Properties.
fn bare_size(auth: &Auth) -> usize {
    let mut bare = auth.clone();
    bare.properties.reason_string = None;
    bare.properties.user_properties.clear();
    size(&Packet::Auth(bare))
}

fn auth(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // First exchange, without a limit: the size of the server's AUTH without its
        // optional properties.
        let mut probe = start_scram(&t, "p1", ConnectProperties::default()).await?;
        let deadline = Instant::now() + t.response_timeout();
        let first = match probe.recv_raw(deadline).await {
            Received::Packet(Packet::Auth(a)) => a,
            other => {
                return Err(Failure::inconclusive(
                    Precondition::Other,
                    format!(
                        "a CONNECT starting {MECHANISM} was answered by {}, not AUTH: nothing to measure",
                        other.describe(t.protocol())
                    ),
                ))
            }
        };
        probe.drop_connection();
        let limit = u32::try_from(bare_size(&first))
            .unwrap_or(u32::MAX)
            .saturating_add(SLACK);
        // The same first step with that limit: a Reason String or User Property no longer
        // fits.
        let base = with_maximum(ConnectProperties::default(), limit);
        let mut c = start_scram(&t, "p2", base)
            .await
            .map_err(|f| Role::Setup(Precondition::Other).classify(f))?;
        let p = provoked(
            &t,
            &mut c,
            PacketType::Auth,
            limit,
            "a CONNECT starting SCRAM-SHA-256 with a Maximum Packet Size fitting only the bare AUTH",
        )
        .await?;
        c.drop_connection();
        passed(&t, &p, limit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_acknowledgement_type_has_its_pair_of_statements() {
        for t in [
            PacketType::ConnAck,
            PacketType::PubAck,
            PacketType::PubRec,
            PacketType::PubRel,
            PacketType::PubComp,
            PacketType::SubAck,
            PacketType::UnsubAck,
            PacketType::Disconnect,
            PacketType::Auth,
        ] {
            assert!(statements(t).is_some(), "{t}");
        }
        assert!(statements(PacketType::Publish).is_none());
    }
}
