//! MQTT 5.0 flow control (4.9, 3.3.4): the server enforces its own Receive Maximum on what
//! clients send, and respects each client's Receive Maximum (the send quota) when sending,
//! while still answering every other packet.

use std::collections::VecDeque;
use std::num::NonZeroU16;

use mqttspec_codec::{
    Packet, PacketType, PubComp, PubRec, Publish, QoS, ReasonCode, StatementId as S,
};
use tokio::time::Instant;

use super::support::{
    clearing_retained, end_session, expect_connection_closed, numbered_payloads, on_path,
    publish_all, publish_packet, receive_maximum, session_present,
};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{
    millis, BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Role, Will,
};

/// The largest server Receive Maximum this module tries to exceed (each message is a
/// packet and a round trip).
const LARGEST_RECEIVE_MAXIMUM: u16 = 1000;

// ---------------------------------------------------------------------------------------

case! {
    /// One QoS 2 PUBLISH more than the server's Receive Maximum left unacknowledged is a Protocol Error: the connection is closed (DISCONNECT 0x93 first)
    SERVER_RECEIVE_MAXIMUM_ENFORCED = "flow.server-receive-maximum-enforced",
    checks: [V5_3_3_4_7, V5_4_13_1_1],
    only: V5,
    requires: [QoS2],
    faults: [UnenforcedReceiveMaximum],
    tags: [ToBroker],
    run: server_receive_maximum_enforced,
}

/// MQTT-3.3.4-7 binds the client. What binds the server is 4.13.1: exceeding the Receive
/// Maximum is one of the Protocol Errors with a Reason Code (0x93), on which the server MUST
/// close the connection (MQTT-4.13.1-1, FAIL if it does not) and SHOULD send DISCONNECT with
/// that Reason Code first (NON-STRICT without it). The twin: the Receive Maximum itself of
/// unacknowledged QoS 2 PUBLISH packets is accepted on the same connection.
fn server_receive_maximum_enforced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let max = c
            .connack()
            .and_then(|a| a.properties.receive_maximum)
            .map_or(u16::MAX, NonZeroU16::get);
        if max > LARGEST_RECEIVE_MAXIMUM {
            return t.unsupported(format!(
                "the server's Receive Maximum is {max}: too many messages to exceed it in a short case"
            ));
        }
        let topic = t.topic("rm");
        let qos2 = |id: u16| -> Result<Packet, Failure> {
            Ok(Packet::Publish(publish_packet(&topic, 2, Some(id), b"x")?))
        };
        // The twin: fill the server's quota, PUBREC for each and no PUBREL, so none is
        // complete; the connection still answers.
        for id in 1..=max {
            c.send(&qos2(id)?).await?;
        }
        for _ in 1..=max {
            let rec = c.expect_packet(PacketType::PubRec).as_twin().await?;
            if let Packet::PubRec(PubRec { reason_code, .. }) = rec {
                t.require(!reason_code.is_error(), Precondition::Twin, || {
                    format!(
                        "the broker refused a QoS 2 PUBLISH within its Receive Maximum with \
                         PUBREC {reason_code:?}: the quota cannot be filled"
                    )
                })?;
            }
        }
        c.alive().as_twin().await?;
        // One more than the Receive Maximum.
        c.send(&qos2(max + 1)?).await?;
        expect_connection_closed(&t, &mut c, &[ReasonCode::ReceiveMaximumExceeded]).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// The broker never has more unacknowledged QoS 1 PUBLISH packets out than the client's Receive Maximum (2), and sends the rest as acknowledgements come
    CLIENT_RECEIVE_MAXIMUM_RESPECTED = "flow.client-receive-maximum-respected",
    checks: [V5_3_3_4_9, V5_4_9_0_1, V5_4_9_0_2],
    only: V5,
    requires: [QoS1],
    faults: [IgnoreReceiveMaximum, IgnoreReceiveMaximumLive],
    tags: [Live, FromBroker],
    run: client_receive_maximum_respected,
}

fn client_receive_maximum_respected(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        const MAX: usize = 2;
        let topic = t.topic("rm");
        let mut sub = t
            .client("sub")
            .properties(receive_maximum(MAX as u16))
            .connect()
            .await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        let sent = numbered_payloads(6);
        publish_all(&mut publisher, &topic, &sent).await?;
        quota_kept(&t, &mut sub, &sent, MAX).await?;
        t.pass()
    })
}

/// Takes the messages `sent` as they come on `sub`, without acknowledging; when the broker
/// goes quiet, acknowledges the oldest, which gives it one more unit of quota. FAIL as soon
/// as more than `max` QoS 1 PUBLISH packets are unacknowledged (MQTT-3.3.4-9); INCONCLUSIVE
/// unless each message arrives once.
async fn quota_kept(t: &Ctx, sub: &mut Client, sent: &[String], max: usize) -> Result<(), Failure> {
    // Take what comes without acknowledging; when the broker goes quiet, acknowledge
    // the oldest message, which gives it one more unit of quota.
    let mut unacked: VecDeque<Publish> = VecDeque::new();
    let mut received = Vec::new();
    let deadline = Instant::now() + t.response_timeout() * 3;
    while received.len() < sent.len() {
        if Instant::now() > deadline {
            // Delivering at all is not what this case checks.
            let p = if received.is_empty() {
                Precondition::Delivery
            } else {
                Precondition::Other
            };
            return Err(Failure::inconclusive(
                p,
                format!(
                    "all {} messages delivered as acknowledgements free the quota: {} received",
                    sent.len(),
                    received.len()
                ),
            ));
        }
        match sub.recv(millis(150)).await {
            Received::Packet(Packet::Publish(p)) => {
                received.push(String::from_utf8_lossy(&p.payload).into_owned());
                if p.qos() != QoS::AtMostOnce {
                    unacked.push_back(p);
                }
                t.check(
                    unacked.len() <= max,
                    format!("at most {max} unacknowledged QoS 1 PUBLISH packets"),
                    format!("{} unacknowledged", unacked.len()),
                )
                .map_err(|f| f.statement(S::V5_3_3_4_9))?;
            }
            Received::Timeout => {
                if let Some(p) = unacked.pop_front() {
                    sub.ack(&p).await?;
                }
            }
            got @ (Received::Closed | Received::Packet(Packet::Disconnect(_))) => {
                return Err(Role::Setup(Precondition::Connection)
                    .classify(sub.unmet("PUBLISH (the connection open)", got)))
            }
            Received::Packet(_) => {}
            other => return Err(sub.unmet("PUBLISH (the connection open)", other)),
        }
    }
    for p in unacked {
        sub.ack(&p).await?;
    }
    received.sort();
    t.require(received == sent, Precondition::Other, || {
        format!("each message delivered once: {sent:?} published, {received:?} received")
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------

/// The Receive Maximum of the limited clients of the paths case.
const PATH_MAX: usize = 1;

/// How many messages each path of the paths case sends.
const PATH_MESSAGES: usize = 3;

case! {
    /// The client's Receive Maximum (1) holds on every way messages reach it: messages queued for its session, retained messages sent on subscribe, Will Messages (at once or after their Will Delay Interval) and messages for a Shared Subscription member come one unacknowledged QoS 1 PUBLISH at a time
    CLIENT_RECEIVE_MAXIMUM_ON_EVERY_PATH = "flow.client-receive-maximum-on-every-path",
    checks: [V5_3_3_4_9, V5_4_9_0_1],
    only: V5,
    requires: [QoS1, Retain, SharedSubscriptions],
    faults: [IgnoreReceiveMaximumQueued, IgnoreReceiveMaximumRetained,
        IgnoreReceiveMaximumWill, IgnoreReceiveMaximumDelayedWill, IgnoreReceiveMaximumShared],
    tags: [Queued, Session, Retained, Will, Shared, FromBroker],
    run: client_receive_maximum_on_every_path,
}

fn client_receive_maximum_on_every_path(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let sent = numbered_payloads(PATH_MESSAGES);
        quota_queued(&t, &sent)
            .await
            .map_err(|f| on_path(f, "queued"))?;
        let retained: Vec<String> = sent
            .iter()
            .map(|p| t.topic(&format!("rm/retained/{p}")))
            .collect();
        clearing_retained(&t, &retained, async {
            quota_retained(&t, &sent, &retained)
                .await
                .map_err(|f| on_path(f, "retained"))?;
            t.pass()
        })
        .await?;
        quota_will(&t, &sent, false)
            .await
            .map_err(|f| on_path(f, "Will"))?;
        quota_will(&t, &sent, true)
            .await
            .map_err(|f| on_path(f, "delayed Will"))?;
        quota_shared(&t, &sent)
            .await
            .map_err(|f| on_path(f, "shared"))?;
        t.pass()
    })
}

/// A client declaring Receive Maximum [`PATH_MAX`].
async fn limited(t: &Ctx, name: &str) -> Result<Client, Failure> {
    t.client(name)
        .properties(receive_maximum(PATH_MAX as u16))
        .connect()
        .await
}

/// Queued: the session is offline while the messages are published.
async fn quota_queued(t: &Ctx, sent: &[String]) -> Result<(), Failure> {
    let topic = t.topic("rm/queued");
    // Clean Start 0 creates the session: whether a Clean Start 1 session outlives its
    // connection is session.clean-start-1-session-kept-for-its-expiry's question.
    let mut sub = t
        .client("q-sub")
        .properties(receive_maximum(PATH_MAX as u16))
        .clean_start(false)
        .session_expiry(60)
        .connect()
        .await?;
    sub.subscribe(&topic).qos(1).await?;
    sub.disconnect().await?;
    let mut publisher = t.client("q-pub").connect().await?;
    publish_all(&mut publisher, &topic, sent).await?;
    let mut sub = t
        .client("q-sub")
        .properties(receive_maximum(PATH_MAX as u16))
        .clean_start(false)
        .session_expiry(0)
        .connect()
        .await?;
    t.require(session_present(&sub), Precondition::Other, || {
        "the session was not resumed: CONNACK Session Present 0".to_owned()
    })?;
    quota_kept(t, &mut sub, sent, PATH_MAX).await
}

/// Retained: one retained message per topic, then one subscription to all of them.
async fn quota_retained(t: &Ctx, sent: &[String], topics: &[String]) -> Result<(), Failure> {
    let mut publisher = t.client("r-pub").connect().await?;
    for (topic, payload) in topics.iter().zip(sent) {
        publisher
            .publish(topic)
            .qos(1)
            .retain()
            .payload(payload.as_str())
            .await?;
    }
    let mut sub = limited(t, "r-sub").await?;
    sub.subscribe(t.topic("rm/retained/+")).qos(1).await?;
    quota_kept(t, &mut sub, sent, PATH_MAX).await
}

/// Will: one connection per message ends without DISCONNECT, its Will at QoS 1; when
/// `delayed`, with a Will Delay Interval of 1 s and a session that outlives it, so the
/// broker publishes the Wills later, from its timer.
async fn quota_will(t: &Ctx, sent: &[String], delayed: bool) -> Result<(), Failure> {
    let key = if delayed { "dw" } else { "w" };
    let topic = t.topic(&format!("rm/{key}"));
    let mut sub = limited(t, &format!("{key}-sub")).await?;
    sub.subscribe(&topic).qos(1).await?;
    let names: Vec<String> = (0..sent.len()).map(|i| format!("{key}{i}")).collect();
    for (name, payload) in names.iter().zip(sent) {
        let mut will = Will::new(&topic, payload.as_str()).qos(1);
        let mut client = t.client(name);
        if delayed {
            will = will.delay(1);
            client = client.session_expiry(30);
        }
        let c = client.will(will).connect().await?;
        c.drop_connection();
    }
    if delayed {
        t.wait(std::time::Duration::from_millis(1100)).await;
    }
    let result = quota_kept(t, &mut sub, sent, PATH_MAX).await;
    if delayed {
        for name in &names {
            end_session(t, name).await;
        }
    }
    result
}

/// Shared: the limited client is the only member of its group.
async fn quota_shared(t: &Ctx, sent: &[String]) -> Result<(), Failure> {
    let topic = t.topic("rm/shared");
    let mut sub = limited(t, "s-sub").await?;
    sub.subscribe(format!("$share/g/{topic}")).qos(1).await?;
    let mut publisher = t.client("s-pub").connect().await?;
    publish_all(&mut publisher, &topic, sent).await?;
    quota_kept(t, &mut sub, sent, PATH_MAX).await
}

// ---------------------------------------------------------------------------------------

case! {
    /// With the client's quota used up (Receive Maximum 1) the broker sends no further QoS 1 PUBLISH but still answers PINGREQ and SUBSCRIBE
    OTHER_PACKETS_AT_ZERO_QUOTA = "flow.other-packets-answered-at-zero-quota",
    checks: [V5_4_9_0_2, V5_4_9_0_3, V5_3_3_4_10],
    only: V5,
    requires: [QoS1],
    faults: [IgnoreReceiveMaximum],
    tags: [Live, FromBroker],
    run: other_packets_at_zero_quota,
}

fn other_packets_at_zero_quota(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q0");
        let mut sub = t
            .client("sub")
            .properties(receive_maximum(1))
            .connect()
            .await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publish_all(&mut publisher, &topic, &numbered_payloads(3)).await?;
        let first = sub
            .expect_publish()
            .topic(&topic)
            .qos(1)
            .no_auto_ack()
            .as_setup(Precondition::Delivery)
            .await?;
        sub.expect_no_publish()
            .for_(millis(300))
            .await
            .map_err(|f| f.statement(S::V5_4_9_0_2))?;
        // The quota is zero: other packets are still answered.
        sub.alive().await.map_err(|f| f.statement(S::V5_4_9_0_3))?;
        sub.subscribe(t.topic("other"))
            .qos(1)
            .as_check()
            .await
            .map_err(|f| f.statement(S::V5_3_3_4_10))?;
        sub.ack(&first).await?;
        // The quota given back, the held messages come: the subscriber was receiving.
        for _ in 0..2 {
            sub.expect_publish()
                .topic(&topic)
                .qos(1)
                .as_control()
                .await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 2 message uses the client's quota until PUBCOMP: with Receive Maximum 1 the next PUBLISH waits for it
    QOS2_QUOTA_RETURNS_AT_PUBCOMP = "flow.qos2-quota-returns-at-pubcomp",
    checks: [V5_3_3_4_9, V5_4_9_0_2],
    only: V5,
    requires: [QoS2],
    faults: [IgnoreReceiveMaximum],
    tags: [Live, FromBroker],
    run: qos2_quota_returns_at_pubcomp,
}

fn qos2_quota_returns_at_pubcomp(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("q2");
        let mut sub = t
            .client("sub")
            .properties(receive_maximum(1))
            .connect()
            .await?;
        sub.subscribe(&topic).qos(2).await?;
        let mut publisher = t.client("pub").connect().await?;
        for p in ["first", "second"] {
            publisher.publish(&topic).qos(2).payload(p).await?;
        }
        let first = sub
            .expect_publish()
            .topic(&topic)
            .qos(2)
            .payload("first")
            .no_auto_ack()
            .as_setup(Precondition::Delivery)
            .await?;
        let id = first.packet_id().ok_or_else(|| {
            Failure::error("case error: a QoS 2 PUBLISH decoded without Packet Identifier")
        })?;
        sub.send(&Packet::PubRec(PubRec::new(id))).await?;
        sub.expect_packet(PacketType::PubRel)
            .as_setup(Precondition::Other)
            .await?;
        // PUBREC 0x00 does not give the quota back; only PUBCOMP does.
        sub.expect_no_publish()
            .for_(millis(300))
            .await
            .map_err(|f| f.statement(S::V5_3_3_4_9))?;
        sub.send(&Packet::PubComp(PubComp::new(id))).await?;
        // PUBCOMP gives the quota back: the next message comes.
        sub.expect_publish()
            .topic(&topic)
            .qos(2)
            .payload("second")
            .as_control()
            .await?;
        t.pass()
    })
}
