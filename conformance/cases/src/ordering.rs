//! Message ordering: for one topic, messages of the same QoS from one publisher reach each
//! subscriber in the order the broker received them, whether sent at once, queued for an
//! offline session, or held back by the subscriber's Receive Maximum.
//!
//! The delivery of the messages sets these cases up (a message that does not come is
//! INCONCLUSIVE); what they check is the order of what came.

use mqttspec_codec::{Packet, Publish};

use super::support::{
    end_session, of_run, payloads, persistent, receive_maximum, receive_setup, resume, setting_up,
};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{
    millis, BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Role,
};

/// What a queued message that does not come on resume fails to set up.
const QUEUED: &str = "every message queued for the session delivered on resume";

// ---------------------------------------------------------------------------------------

case! {
    /// QoS 1 messages on one topic reach the subscriber in publishing order, queued while it was offline and live
    QOS1_IN_ORDER = "ordering.qos1-messages-in-publishing-order",
    checks: [V5_4_6_0_5, V5_4_6_0_6],
    requires: [QoS1],
    faults: [ReorderQueuedMessages],
    tags: [Queued, Live, Session],
    run: qos1_in_order,
}

fn qos1_in_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { in_order(t, 1).await })
}

case! {
    /// QoS 2 messages on one topic reach the subscriber in publishing order, queued while it was offline and live
    QOS2_IN_ORDER = "ordering.qos2-messages-in-publishing-order",
    checks: [V5_4_6_0_5, V5_4_6_0_6],
    requires: [QoS2],
    faults: [ReorderQueuedMessages],
    tags: [Queued, Live, Session],
    run: qos2_in_order,
}

fn qos2_in_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { in_order(t, 2).await })
}

/// Eight messages at `qos` published while the subscriber is offline, then eight while it
/// is connected: each batch arrives in publishing order.
async fn in_order(t: Ctx, qos: u8) -> CaseResult {
    let topic = t.topic("t");
    let mut sub = persistent(&t, "sub").connect().await?;
    sub.subscribe(&topic).qos(qos).await?;
    sub.disconnect().await?;
    let mut publisher = t.client("pub").connect().await?;
    let queued: Vec<String> = (0..8).map(|i| format!("queued-{i}")).collect();
    for p in &queued {
        publisher.publish(&topic).qos(qos).payload(p).await?;
    }
    let mut sub = resume(&t, "sub").await?;
    let got = receive_setup(&mut sub, queued.len(), Precondition::Other)
        .await
        .map_err(setting_up(QUEUED))?;
    check_order(&t, &queued, &payloads(&got))?;
    let live: Vec<String> = (0..8).map(|i| format!("live-{i}")).collect();
    for p in &live {
        publisher.publish(&topic).qos(qos).payload(p).await?;
    }
    let got = receive_setup(&mut sub, live.len(), Precondition::Delivery).await?;
    check_order(&t, &live, &payloads(&got))?;
    let _ = sub.disconnect().await;
    end_session(&t, "sub").await;
    t.pass()
}

// ---------------------------------------------------------------------------------------

case! {
    /// Interleaved QoS 0, 1 and 2 messages on one topic: each QoS level keeps its publishing order
    MIXED_QOS_EACH_IN_ORDER = "ordering.mixed-qos-each-level-in-order",
    checks: [V5_4_6_0_5, V5_4_6_0_6],
    requires: [QoS2],
    faults: [ReorderQueuedMessages],
    tags: [Queued, Session],
    run: mixed_qos_each_in_order,
}

fn mixed_qos_each_in_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = persistent(&t, "sub").connect().await?;
        sub.subscribe(&topic).qos(2).await?;
        sub.disconnect().await?;
        let mut publisher = t.client("pub").connect().await?;
        const ROUNDS: usize = 4;
        for round in 0..ROUNDS {
            for qos in 0..=2u8 {
                publisher
                    .publish(&topic)
                    .qos(qos)
                    .payload(format!("q{qos}-{round}"))
                    .await?;
            }
        }
        let mut sub = resume(&t, "sub").await?;
        // Every QoS 1 and 2 message must come; QoS 0 ones may have been dropped while the
        // session was offline (queueing them is optional).
        let mut got: Vec<Publish> = Vec::new();
        while got.iter().filter(|p| !p.payload.starts_with(b"q0")).count() < 2 * ROUNDS {
            got.push(
                sub.expect_publish()
                    .topic(&topic)
                    .as_setup(Precondition::Other)
                    .await
                    .map_err(setting_up(QUEUED))?,
            );
        }
        drain(&mut sub, &mut got, millis(300)).await?;
        let got = payloads(&got);
        for qos in 0..=2u8 {
            let prefix = format!("q{qos}-");
            let seen: Vec<String> = got
                .iter()
                .filter(|p| p.starts_with(&prefix))
                .cloned()
                .collect();
            let all: Vec<String> = (0..ROUNDS).map(|r| format!("{prefix}{r}")).collect();
            if qos == 0 {
                // Whatever arrived of QoS 0 is in order.
                let kept: Vec<String> = all.iter().filter(|p| seen.contains(p)).cloned().collect();
                check_order(&t, &kept, &seen)?;
            } else {
                check_order(&t, &all, &seen)?;
            }
        }
        let _ = sub.disconnect().await;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: messages held back by the subscriber's Receive Maximum 1 are sent in publishing order
    RECEIVE_MAXIMUM_ONE_IN_ORDER = "ordering.receive-maximum-1-keeps-order",
    checks: [V5_4_6_0_5, V5_4_6_0_6],
    only: V5,
    requires: [QoS1],
    faults: [ReorderQueuedMessages],
    tags: [Live],
    run: receive_maximum_one_in_order,
}

fn receive_maximum_one_in_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = t
            .client("sub")
            .properties(receive_maximum(1))
            .connect()
            .await?;
        sub.subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        let sent: Vec<String> = (0..6).map(|i| format!("m{i}")).collect();
        for p in &sent {
            publisher.publish(&topic).qos(1).payload(p).await?;
        }
        let got = receive_setup(&mut sub, sent.len(), Precondition::Delivery).await?;
        check_order(&t, &sent, &payloads(&got))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Two publishers interleaving on one topic: each one's messages reach the subscriber in its order
    EACH_PUBLISHER_IN_ORDER = "ordering.each-publisher-in-order",
    checks: [V5_4_6_0_5, V5_4_6_0_6],
    requires: [QoS1],
    faults: [ReorderQueuedMessages],
    tags: [Queued, Session],
    run: each_publisher_in_order,
}

fn each_publisher_in_order(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("t");
        let mut sub = persistent(&t, "sub").connect().await?;
        sub.subscribe(&topic).qos(1).await?;
        sub.disconnect().await?;
        let mut a = t.client("pub-a").connect().await?;
        let mut b = t.client("pub-b").connect().await?;
        for i in 0..5 {
            a.publish(&topic).qos(1).payload(format!("a{i}")).await?;
            b.publish(&topic).qos(1).payload(format!("b{i}")).await?;
        }
        let mut sub = resume(&t, "sub").await?;
        let got = payloads(
            &receive_setup(&mut sub, 10, Precondition::Other)
                .await
                .map_err(setting_up(QUEUED))?,
        );
        for name in ["a", "b"] {
            let mine: Vec<String> = got
                .iter()
                .filter(|p| p.starts_with(name))
                .cloned()
                .collect();
            let sent: Vec<String> = (0..5).map(|i| format!("{name}{i}")).collect();
            check_order(&t, &sent, &mine)?;
        }
        let _ = sub.disconnect().await;
        end_session(&t, "sub").await;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

/// FAIL unless `got` is `sent`, in the same order.
fn check_order(t: &Ctx, sent: &[String], got: &[String]) -> Result<(), Failure> {
    t.check(
        sent == got,
        format!("payloads in publishing order: {sent:?}"),
        format!("received in this order: {got:?}"),
    )
    .map_err(|f| f.statement(of_run!(t, V5_4_6_0_5)))
}

/// Collects (and acknowledges) further PUBLISH packets until none comes for `quiet`.
async fn drain(
    c: &mut Client,
    into: &mut Vec<Publish>,
    quiet: std::time::Duration,
) -> Result<(), Failure> {
    loop {
        match c.recv(quiet).await {
            Received::Packet(Packet::Publish(p)) => {
                c.ack(&p).await?;
                into.push(p);
            }
            Received::Timeout => return Ok(()),
            other => {
                return Err(Role::Setup(Precondition::Connection)
                    .classify(c.unmet("PUBLISH or nothing", other)))
            }
        }
    }
}
