//! MQTT 5.0: the Message Expiry Interval a subscriber gets is the one received less the time
//! the message waited in the server (MQTT-3.3.2-6), on the paths where a message can be
//! made to wait while the subscriber stays connected: live, a Will Message (at once and
//! after its Will Delay Interval) and a Shared Subscription. The queued and retained paths
//! have cases of their own (`publish.message-expiry-interval-decremented`,
//! `forwarding.retained-properties-unaltered`).
//!
//! The wait: the subscriber declares Receive Maximum 1 and holds a first QoS 1 message
//! unacknowledged, so the message under test must stay in the server. A second subscriber
//! without a limit, on the same topic, shows when the server published it (a delayed Will
//! comes when the server's timer says, not when the case says); the first acknowledges more
//! than a second after that, and only then may the message reach it, its interval less the
//! wait. A server that sends it earlier despite the quota (MQTT-3.3.4-9, the flow cases'
//! question) leaves nothing to judge here: INCONCLUSIVE.

use mqttspec_codec::{Packet, PublishProperties, StatementId as S, WillProperties};
use tokio::time::Instant;

use super::support::{end_session, granted_one, on_path, receive_maximum, Way, SECOND_AND_A_BIT};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{
    secs, BoxFuture, CaseResult, Client, Ctx, Failure, Precondition, Will,
};

/// The Message Expiry Interval of the message under test (seconds).
const EXPIRY: u32 = 30;
/// Payload of the message under test.
const MESSAGE: &str = "expires";
/// Payload of the message the subscriber holds unacknowledged.
const BLOCKER: &str = "holds the quota";

case! {
    /// A message held in the broker by the subscriber's Receive Maximum (1) for more than a second is sent with its Message Expiry Interval less the wait, on the live, Will, delayed-Will and shared paths
    EXPIRY_ON_EVERY_PATH = "forwarding.message-expiry-decremented-on-every-path",
    checks: [V5_3_3_2_6],
    only: V5,
    requires: [QoS1, SharedSubscriptions],
    faults: [NoMessageExpiryLive, NoMessageExpiryWill, NoMessageExpiryDelayedWill,
        NoMessageExpiryShared],
    tags: [Live, Will, Shared, FromBroker],
    run: expiry_on_every_path,
}

fn expiry_on_every_path(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        for way in [Way::Live, Way::Will, Way::DelayedWill, Way::Shared] {
            held(&t, way).await.map_err(|f| on_path(f, way.name()))?;
        }
        t.pass()
    })
}

/// One path: the held subscriber, the watcher, the blocker, the message under test, the
/// wait, then the check.
async fn held(t: &Ctx, way: Way) -> Result<(), Failure> {
    let key = way.key();
    let topic = t.topic(&format!("expiry/{key}"));
    let mut sub = t
        .client(&format!("{key}-sub"))
        .properties(receive_maximum(1))
        .connect()
        .await?;
    let filter = if way == Way::Shared {
        format!("$share/g/{topic}")
    } else {
        topic.clone()
    };
    let granted = granted_one(&sub.subscribe(filter).qos(1).await?)?;
    t.require(granted == 1, Precondition::Granted, || {
        format!("the broker granted QoS {granted} to a request for QoS 1: the case needs QoS 1")
    })?;
    let mut watch = t.client(&format!("{key}-watch")).connect().await?;
    watch.subscribe(&topic).qos(1).await?;
    let mut publisher = t.client(&format!("{key}-pub")).connect().await?;
    publisher.publish(&topic).qos(1).payload(BLOCKER).await?;
    let blocker = sub
        .expect_publish()
        .topic(&topic)
        .payload(BLOCKER)
        .no_auto_ack()
        .as_setup(way.delivery())
        .await?;
    watch
        .expect_publish()
        .topic(&topic)
        .payload(BLOCKER)
        .as_setup(Precondition::Delivery)
        .await?;
    let mut ended = None;
    match way {
        // A retained message is sent on subscribe, before anything could hold it back: its
        // interval is `forwarding.retained-properties-unaltered`'s question.
        Way::Retained => {
            return Err(Failure::error(
                "case error: the retained path is not walked here",
            ))
        }
        Way::Live | Way::Shared => {
            publisher
                .publish(&topic)
                .qos(1)
                .payload(MESSAGE)
                .properties(PublishProperties {
                    message_expiry_interval: Some(EXPIRY),
                    ..PublishProperties::default()
                })
                .await?;
        }
        Way::Will | Way::DelayedWill => {
            let name = format!("{key}-will");
            let mut will = Will::new(&topic, MESSAGE)
                .qos(1)
                .properties(WillProperties {
                    message_expiry_interval: Some(EXPIRY),
                    ..WillProperties::default()
                });
            let mut b = t.client(&name);
            if way == Way::DelayedWill {
                // The session outlives the delay, so the delay decides when the Will comes.
                will = will.delay(1);
                b = b.session_expiry(30);
                ended = Some(name);
            }
            b.will(will).connect().await?.drop_connection();
        }
    }
    let result = wait_then_check(t, way, &topic, &mut watch, &mut sub, &blocker).await;
    if let Some(name) = ended {
        end_session(t, &name).await;
    }
    result
}

/// Waits for the watcher's copy (the message is published), holds the quota more than a
/// second longer, frees it and checks the held subscriber's copy.
async fn wait_then_check(
    t: &Ctx,
    way: Way,
    topic: &str,
    watch: &mut Client,
    sub: &mut Client,
    blocker: &mqttspec_codec::Publish,
) -> Result<(), Failure> {
    watch
        .expect_publish()
        .topic(topic)
        .payload(MESSAGE)
        .within(secs(4))
        .as_setup(way.delivery())
        .await?;
    let until = Instant::now() + SECOND_AND_A_BIT;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match sub.recv(left).await {
            Received::Timeout => break,
            Received::Packet(Packet::Publish(p)) => {
                return Err(Failure::inconclusive(
                    Precondition::Other,
                    format!(
                        "a PUBLISH ({:?}) while the client's Receive Maximum (1) was used up: \
                         the message did not wait in the broker",
                        String::from_utf8_lossy(&p.payload)
                    ),
                ));
            }
            Received::Packet(_) => {}
            other => return Err(sub.unmet("nothing while the quota is used up", other)),
        }
    }
    sub.ack(blocker).await?;
    let got = sub
        .expect_publish()
        .topic(topic)
        .payload(MESSAGE)
        .as_setup(way.delivery())
        .await?;
    let left = got.properties.message_expiry_interval;
    t.check(
        left.is_some_and(|s| (1..EXPIRY).contains(&s)),
        format!(
            "Message Expiry Interval between 1 and {} ({EXPIRY} less the second or more it \
             waited for the quota)",
            EXPIRY - 1
        ),
        format!("Message Expiry Interval {left:?}"),
    )
    .map_err(|f| f.statement(S::V5_3_3_2_6))
}
