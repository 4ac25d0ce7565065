//! MQTT 5.0 Maximum Packet Size (3.1.2.11.4, 3.2.2.3.6): the broker never sends a client a
//! packet larger than the client's limit (it drops such a message as if delivered, while
//! other clients still get it), and treats a packet larger than its own announced limit as a
//! Protocol Error.

use std::num::NonZeroU32;

use bytes::Bytes;
use mqttspec_codec::{ConnectProperties, Publish, RawPacket, ReasonCode, StatementId as S};

use super::support::{
    clearing_retained, count_payloads, end_session, expect_connection_closed, gather,
    list_payloads, on_path, session_present, setting_up, QUIET,
};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{
    BoxFuture, CaseResult, Client, ClientBuilder, Ctx, Failure, Precondition, Role, Verdict, Will,
};

/// The small Maximum Packet Size the limited clients declare.
const SMALL: u32 = 128;

/// The largest server Maximum Packet Size this module exceeds (the case sends one packet of
/// that size).
const LARGEST_SERVER_MAXIMUM: u32 = 16 * 1024 * 1024;

/// CONNECT properties declaring Maximum Packet Size `n`.
fn maximum_packet_size(n: u32) -> ConnectProperties {
    ConnectProperties {
        maximum_packet_size: NonZeroU32::new(n),
        ..ConnectProperties::default()
    }
}

/// A payload that makes any PUBLISH larger than [`SMALL`].
fn big_payload() -> String {
    "B".repeat(SMALL as usize * 2)
}

// ---------------------------------------------------------------------------------------

case! {
    /// A message larger than a client's Maximum Packet Size is not sent to it; smaller ones are, and other clients get both
    CLIENT_MAXIMUM_RESPECTED = "size.client-maximum-respected",
    checks: [V5_3_1_2_24, V5_3_1_2_25],
    only: V5,
    requires: [QoS1],
    faults: [IgnoreMaximumPacketSize, IgnoreMaximumPacketSizeLive],
    tags: [Live, FromBroker],
    run: client_maximum_respected,
}

fn client_maximum_respected(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("size");
        // The limited client also refuses larger packets itself: one would be FAIL.
        let mut limited = vec![
            t.client("small")
                .properties(maximum_packet_size(SMALL))
                .max_packet_size(SMALL)
                .connect()
                .await?,
        ];
        let mut unlimited = vec![t.client("large").connect().await?];
        limited[0].subscribe(&topic).qos(1).await?;
        unlimited[0].subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publish_big_then_small(&mut publisher, &topic).await?;
        // The large message was accepted and is delivered where it fits: its absence at the
        // limited client is then the broker's doing.
        delivered_to_unlimited(&t, &mut unlimited).await?;
        let got = small_only(&t, &mut limited, S::V5_3_1_2_24).await?;
        t.check(
            got.len() == 1,
            "only the small message for the client with the small Maximum Packet Size",
            list_payloads(&got),
        )
        .map_err(|f| f.statement(S::V5_3_1_2_24))?;
        t.pass()
    })
}

/// Publishes the message too large for [`SMALL`], then a small one, to `topic` at QoS 1.
async fn publish_big_then_small(publisher: &mut Client, topic: &str) -> Result<(), Failure> {
    publisher
        .publish(topic)
        .qos(1)
        .payload(big_payload())
        .await
        .map_err(setting_up("the large message accepted"))?;
    publisher.publish(topic).qos(1).payload("small").await?;
    Ok(())
}

/// A setup step: both messages reach the client without a limit.
async fn delivered_to_unlimited(t: &Ctx, unlimited: &mut [Client]) -> Result<(), Failure> {
    let got = gather(t, unlimited, 2)
        .await
        .map_err(|f| Role::Setup(Precondition::Delivery).classify(f))?;
    let counts = count_payloads(&got[0]);
    t.require(
        counts.len() == 2 && counts.values().all(|n| *n == 1),
        Precondition::Delivery,
        || {
            format!(
                "both messages delivered to a client without a Maximum Packet Size: got {}",
                list_payloads(&got[0])
            )
        },
    )
}

/// What reaches the client limited to [`SMALL`]: the small message must (the positive
/// control: it was published after the large one, so it comes after the point where the
/// large one would have been sent), the large one must not (`s`: the statement that forbids
/// it; a packet over the limit is refused by the client itself and is FAIL too).
async fn small_only(t: &Ctx, limited: &mut [Client], s: S) -> Result<Vec<Publish>, Failure> {
    let mut got = gather(t, limited, 1).await.map_err(|mut f| {
        if f.0.verdict == Verdict::Fail {
            f.0.expected = Some(format!(
                "only packets within the client's Maximum Packet Size of {SMALL} bytes, the \
                 connection open"
            ));
            // Closing the connection is not sending an oversized packet (MQTT-3.1.2-24): it
            // breaks the rule to discard the message and go on as if it had been sent
            // (MQTT-3.1.2-25).
            let closed = f.0.actual.as_deref().is_some_and(|a| {
                a.starts_with(Received::Closed.describe(t.protocol()).as_str())
                    || a.starts_with("DISCONNECT")
            });
            f = f.statement(if closed { S::V5_3_1_2_25 } else { s });
        }
        f
    })?;
    let got = got.pop().unwrap_or_default();
    t.check(
        got.iter().all(|p| p.payload.len() < SMALL as usize),
        format!("no PUBLISH larger than the client's Maximum Packet Size of {SMALL} bytes"),
        list_payloads(&got),
    )
    .map_err(|f| f.statement(s))?;
    t.absence_seen();
    t.require(
        got.iter().any(|p| p.payload.as_ref() == b"small"),
        Precondition::Control,
        || format!("the small message delivered: got {}", list_payloads(&got)),
    )?;
    t.control_seen();
    Ok(got)
}

// ---------------------------------------------------------------------------------------

case! {
    /// A QoS 1 message too large for the client is dropped as if delivered: it is not sent when the session resumes without the limit
    OVERSIZED_MESSAGE_NOT_REDELIVERED = "size.oversized-message-counts-as-delivered",
    checks: [V5_3_1_2_25],
    only: V5,
    requires: [QoS1],
    faults: [IgnoreMaximumPacketSize],
    tags: [Live, Queued, Session, FromBroker],
    run: oversized_message_not_redelivered,
}

fn oversized_message_not_redelivered(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("drop");
        let mut sub = vec![
            t.client("sub")
                .properties(ConnectProperties {
                    session_expiry_interval: Some(60),
                    ..maximum_packet_size(SMALL)
                })
                .max_packet_size(SMALL)
                .connect()
                .await?,
        ];
        sub[0].subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publish_big_then_small(&mut publisher, &topic).await?;
        // MQTT-3.1.2-25 begins with discarding the packet without sending it.
        small_only(&t, &mut sub, S::V5_3_1_2_25).await?;
        let Some(first) = sub.pop() else {
            return t.error("case error: no subscriber");
        };
        first.disconnect().await?;
        // A message queued while the session is offline: the control of the queued path.
        publisher.publish(&topic).qos(1).payload("queued").await?;
        // Resume the session without a limit: the large message was dealt with.
        let mut again = t
            .client("sub")
            .clean_start(false)
            .session_expiry(0)
            .connect()
            .await?;
        t.require(session_present(&again), Precondition::Other, || {
            "the session was not resumed: CONNACK Session Present 0".to_owned()
        })?;
        // Had the broker kept the large message, it would come before the queued one.
        let next = again
            .expect_publish()
            .topic(&topic)
            .as_control()
            .await
            .map_err(setting_up("the message queued for the session delivered"))?;
        t.check(
            next.payload.as_ref() == b"queued",
            "the queued message, not the large one sent again",
            format!("PUBLISH with a {}-byte payload", next.payload.len()),
        )
        .map_err(|f| f.statement(S::V5_3_1_2_25))?;
        again
            .expect_no_publish()
            .for_(QUIET)
            .await
            .map_err(|f| f.statement(S::V5_3_1_2_25))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

/// A limited client of the paths case: declares [`SMALL`] and refuses larger packets itself.
fn limited(t: &Ctx, name: &str) -> ClientBuilder {
    t.client(name)
        .properties(maximum_packet_size(SMALL))
        .max_packet_size(SMALL)
}

/// The big message then the small one, each delivered to an unlimited watcher first (the
/// large message exists on this path), then only the small one to `sub` (`path` names the
/// path in failures).
async fn small_only_on(
    t: &Ctx,
    path: &str,
    watcher: &mut Client,
    sub: Client,
) -> Result<(), Failure> {
    delivered_to_unlimited(t, std::slice::from_mut(watcher))
        .await
        .map_err(|f| on_path(f, path))?;
    small_only(t, &mut [sub], S::V5_3_1_2_24)
        .await
        .map_err(|f| on_path(f, path))?;
    Ok(())
}

case! {
    /// The client's Maximum Packet Size holds on every way a message reaches it: a message too large for it is not sent when queued for its session, retained, published as a Will (at once or after its Will Delay Interval) or given to it as a Shared Subscription member, while a small one is
    CLIENT_MAXIMUM_ON_EVERY_PATH = "size.client-maximum-on-every-path",
    checks: [V5_3_1_2_24, V5_3_1_2_25],
    only: V5,
    requires: [QoS1, Retain, SharedSubscriptions],
    faults: [IgnoreMaximumPacketSizeQueued, IgnoreMaximumPacketSizeRetained,
        IgnoreMaximumPacketSizeWill, IgnoreMaximumPacketSizeDelayedWill,
        IgnoreMaximumPacketSizeShared],
    tags: [Queued, Session, Retained, Will, Shared, FromBroker],
    run: client_maximum_on_every_path,
}

fn client_maximum_on_every_path(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        queued_path(&t).await?;
        let retained = [
            t.topic("size/retained/a-big"),
            t.topic("size/retained/b-small"),
        ];
        clearing_retained(&t, &retained, retained_path(&t, &retained)).await?;
        will_path(&t, false).await?;
        will_path(&t, true).await?;
        shared_path(&t).await?;
        t.pass()
    })
}

/// Queued: the limited subscriber's session is offline when both messages are published.
async fn queued_path(t: &Ctx) -> Result<(), Failure> {
    let topic = t.topic("size/queued");
    let mut watcher = t.client("q-watch").connect().await?;
    watcher.subscribe(&topic).qos(1).await?;
    // Clean Start 0 creates the session: whether a Clean Start 1 session outlives its
    // connection is session.clean-start-1-session-kept-for-its-expiry's question.
    let mut sub = limited(t, "q-sub")
        .clean_start(false)
        .session_expiry(60)
        .connect()
        .await?;
    sub.subscribe(&topic).qos(1).await?;
    sub.disconnect().await?;
    let mut publisher = t.client("q-pub").connect().await?;
    publish_big_then_small(&mut publisher, &topic).await?;
    let sub = limited(t, "q-sub")
        .clean_start(false)
        .session_expiry(0)
        .connect()
        .await?;
    t.require(session_present(&sub), Precondition::Other, || {
        "the session was not resumed: CONNACK Session Present 0".to_owned()
    })?;
    small_only_on(t, "queued", &mut watcher, sub).await
}

/// Retained: both messages retained (the large one on the topic that sorts first), then the
/// limited client subscribes to a filter matching both.
async fn retained_path(t: &Ctx, topics: &[String; 2]) -> CaseResult {
    let [big, small] = topics;
    let mut publisher = t.client("r-pub").connect().await?;
    publisher
        .publish(big)
        .qos(1)
        .retain()
        .payload(big_payload())
        .await
        .map_err(setting_up("the large message accepted"))?;
    publisher
        .publish(small)
        .qos(1)
        .retain()
        .payload("small")
        .await?;
    // One filter for both, so the large message (if sent) comes before the small one and
    // not in the middle of a second SUBSCRIBE.
    let filter = t.topic("size/retained/+");
    let mut watcher = t.client("r-watch").connect().await?;
    watcher.subscribe(&filter).qos(1).await?;
    let mut sub = limited(t, "r-sub").connect().await?;
    sub.subscribe(&filter).qos(1).await?;
    small_only_on(t, "retained", &mut watcher, sub).await?;
    t.pass()
}

/// Will: two connections with a Will each (the large one's connection ends first) end
/// without DISCONNECT. When `delayed`, each Will has a Will Delay Interval of 1 s (and a
/// session that outlives it), so the broker publishes them later, from its timer.
async fn will_path(t: &Ctx, delayed: bool) -> Result<(), Failure> {
    let (key, path) = if delayed {
        ("dw", "delayed Will")
    } else {
        ("w", "Will")
    };
    let topic = t.topic(&format!("size/{key}"));
    let mut watcher = t.client(&format!("{key}-watch")).connect().await?;
    watcher.subscribe(&topic).qos(1).await?;
    let mut sub = limited(t, &format!("{key}-sub")).connect().await?;
    sub.subscribe(&topic).qos(1).await?;
    let names = [format!("{key}-big"), format!("{key}-small")];
    for (name, payload) in names.iter().zip([big_payload(), "small".to_owned()]) {
        let mut will = Will::new(&topic, payload).qos(1);
        let mut client = t.client(name);
        if delayed {
            will = will.delay(1);
            client = client.session_expiry(30);
        }
        let c = client.will(will).connect().await?;
        c.drop_connection();
        // The Wills are published in the order their connections end.
        t.wait(std::time::Duration::from_millis(200)).await;
    }
    if delayed {
        // Both delays have run out (the small Will's last).
        t.wait(std::time::Duration::from_millis(1100)).await;
    }
    let result = small_only_on(t, path, &mut watcher, sub).await;
    if delayed {
        for name in &names {
            end_session(t, name).await;
        }
    }
    result
}

/// Shared: the limited client is the only member of its group.
async fn shared_path(t: &Ctx) -> Result<(), Failure> {
    let topic = t.topic("size/shared");
    let mut watcher = t.client("s-watch").connect().await?;
    watcher.subscribe(&topic).qos(1).await?;
    let mut sub = limited(t, "s-sub").connect().await?;
    sub.subscribe(format!("$share/g/{topic}")).qos(1).await?;
    let mut publisher = t.client("s-pub").connect().await?;
    publish_big_then_small(&mut publisher, &topic).await?;
    small_only_on(t, "shared", &mut watcher, sub).await
}

case! {
    /// A packet just larger than the server's announced Maximum Packet Size is a Protocol Error (DISCONNECT 0x95 first)
    SERVER_MAXIMUM_ENFORCED = "size.server-maximum-enforced",
    checks: [V5_3_2_2_15, V5_4_13_1_1],
    only: V5,
    faults: [UnenforcedMaximumPacketSize],
    tags: [ToBroker],
    run: server_maximum_enforced,
}

/// A QoS 0 PUBLISH to `topic` (MQTT 5.0, no properties) whose whole size is `size` bytes,
/// or a byte or two more where no packet has exactly that size (the Remaining Length grows
/// a byte at 128, 16,384 and 2,097,152).
fn publish_of_size(topic: &str, size: u32) -> Option<Bytes> {
    let fixed = 2 + topic.len() + 1; // Topic Name and an empty property block
    (size..=size.saturating_add(4)).find_map(|total| {
        let total = total as usize;
        (1..=4usize).find_map(|length_bytes| {
            let remaining = total.checked_sub(1 + length_bytes)?;
            let needed = match remaining {
                0..=127 => 1,
                128..=16_383 => 2,
                16_384..=2_097_151 => 3,
                _ => 4,
            };
            if needed != length_bytes {
                return None;
            }
            let payload = remaining.checked_sub(fixed)?;
            let bytes = RawPacket::new(0x30)
                .string(topic)
                .properties(&[])
                .bytes(&vec![b'P'; payload])
                .build();
            (bytes.len() == total).then_some(bytes)
        })
    })
}

fn server_maximum_enforced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").connect().await?;
        let Some(max) = c
            .connack()
            .and_then(|a| a.properties.maximum_packet_size)
            .map(NonZeroU32::get)
        else {
            return t.unsupported("the broker announces no Maximum Packet Size");
        };
        if max >= LARGEST_SERVER_MAXIMUM {
            return t.unsupported(format!(
                "the broker's Maximum Packet Size is {max} bytes: too large to exceed here"
            ));
        }
        let topic = t.topic("big");
        let Some(bytes) = publish_of_size(&topic, max + 1) else {
            return t.error(format!("case error: no PUBLISH of {} bytes", max + 1));
        };
        if bytes.len() <= max as usize {
            return t.error(format!("case error: a PUBLISH of {} bytes", bytes.len()));
        }
        // The twin: the same PUBLISH at (or just under) the limit is accepted.
        let Some(twin) = (0..8u32)
            .filter_map(|less| publish_of_size(&topic, max.checked_sub(less)?))
            .find(|b| b.len() <= max as usize)
        else {
            return t.error(format!("case error: no PUBLISH of at most {max} bytes"));
        };
        c.send_raw(twin).await.map_err(|f| Role::TWIN.classify(f))?;
        c.alive().as_twin().await?;
        // The broker may close while the packet is still being written: that write error
        // is not the broker's fault, so only its answer is judged.
        let _ = c.raw().send_raw(bytes).await;
        expect_connection_closed(&t, &mut c, &[ReasonCode::PacketTooLarge]).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_of_exact_sizes_are_built_across_length_boundaries() {
        for size in [20, 129, 131, 132, 16_386, 16_388, 1_048_577] {
            let bytes = publish_of_size("a/b", size).expect("buildable");
            assert_eq!(bytes.len(), size as usize);
            assert!(
                mqttspec_codec::Packet::decode(bytes, mqttspec_codec::ProtocolVersion::V5).is_ok()
            );
        }
        // Smaller than any PUBLISH to "a/b".
        assert!(publish_of_size("a/b", 3).is_none());
    }

    #[test]
    fn sizes_no_packet_can_have_get_the_next_larger_packet() {
        // 130 bytes would need a Remaining Length of 128 in one byte.
        assert_eq!(publish_of_size("a/b", 130).map(|b| b.len()), Some(131));
        assert_eq!(
            publish_of_size("a/b", 16_387).map(|b| b.len()),
            Some(16_388)
        );
    }
}
