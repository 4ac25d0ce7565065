//! MQTT 5.0 Maximum Packet Size (3.1.2.11.4, 3.2.2.3.6): the broker never sends a client a
//! packet larger than the client's limit (it drops such a message as if delivered, while
//! other clients still get it), and treats a packet larger than its own announced limit as a
//! Protocol Error.

use std::num::NonZeroU32;

use bytes::Bytes;
use mqttspec_codec::{Properties, RawPacket, ReasonCode, StatementId as S};

use super::shared::{count_payloads, gather, list_payloads, protocol_error_reply};
use crate::scenario::{millis, BoxFuture, Capability, Case, CaseResult, Ctx, Protocols};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        CLIENT_MAXIMUM_RESPECTED,
        OVERSIZED_MESSAGE_NOT_REDELIVERED,
        SERVER_MAXIMUM_ENFORCED,
    ]
}

/// The small Maximum Packet Size the limited clients declare.
const SMALL: u32 = 128;

/// The largest server Maximum Packet Size this module exceeds (the case sends one packet of
/// that size).
const LARGEST_SERVER_MAXIMUM: u32 = 16 * 1024 * 1024;

/// CONNECT properties declaring Maximum Packet Size `n`.
fn maximum_packet_size(n: u32) -> Properties {
    Properties {
        maximum_packet_size: NonZeroU32::new(n),
        ..Properties::default()
    }
}

/// A payload that makes any PUBLISH larger than [`SMALL`].
fn big_payload() -> String {
    "B".repeat(SMALL as usize * 2)
}

// ---------------------------------------------------------------------------------------

const CLIENT_MAXIMUM_RESPECTED: Case = Case {
    id: "size.client-maximum-respected",
    title: "A message larger than a client's Maximum Packet Size is not sent to it; smaller ones are, and other clients get both",
    area: "Maximum Packet Size",
    statements: &[S::V5_3_1_2_24, S::V5_3_1_2_25],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["ignore-maximum-packet-size"],
    unfaultable: None,
    run: client_maximum_respected,
};

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
        publisher
            .publish(&topic)
            .qos(1)
            .payload(big_payload())
            .await?;
        publisher.publish(&topic).qos(1).payload("small").await?;
        let got = gather(&t, &mut limited, 1).await?;
        t.check(
            got[0].len() == 1 && got[0][0].payload.as_ref() == b"small",
            "only the small message for the client with the small Maximum Packet Size",
            format!("{} PUBLISH packets", got[0].len()),
        )
        .map_err(|f| f.statement(S::V5_3_1_2_24))?;
        let got = gather(&t, &mut unlimited, 2).await?;
        let counts = count_payloads(&got[0]);
        t.check(
            counts.len() == 2 && counts.values().all(|n| *n == 1),
            "both messages for the client without a limit",
            list_payloads(&got[0]),
        )?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const OVERSIZED_MESSAGE_NOT_REDELIVERED: Case = Case {
    id: "size.oversized-message-counts-as-delivered",
    title: "A QoS 1 message too large for the client is dropped as if delivered: it is not sent when the session resumes without the limit",
    area: "Maximum Packet Size",
    statements: &[S::V5_3_1_2_25],
    protocols: Protocols::V5,
    requires: &[Capability::QoS1],
    faults: &["ignore-maximum-packet-size"],
    unfaultable: None,
    run: oversized_message_not_redelivered,
};

fn oversized_message_not_redelivered(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("drop");
        let mut sub = vec![
            t.client("sub")
                .session_expiry(60)
                .properties(maximum_packet_size(SMALL))
                .max_packet_size(SMALL)
                .connect()
                .await?,
        ];
        sub[0].subscribe(&topic).qos(1).await?;
        let mut publisher = t.client("pub").connect().await?;
        publisher
            .publish(&topic)
            .qos(1)
            .payload(big_payload())
            .await?;
        publisher.publish(&topic).qos(1).payload("small").await?;
        let got = gather(&t, &mut sub, 1).await?;
        t.check(
            list_payloads(&got[0]) == "[small]",
            "only the small message",
            list_payloads(&got[0]),
        )
        .map_err(|f| f.statement(S::V5_3_1_2_24))?;
        let Some(first) = sub.pop() else {
            return t.error("case error: no subscriber");
        };
        first.disconnect().await?;
        // Resume the session without a limit: the large message was dealt with.
        let mut again = t
            .client("sub")
            .clean_start(false)
            .session_expiry(0)
            .connect()
            .await?;
        again
            .expect_no_publish()
            .for_(millis(500))
            .await
            .map_err(|f| f.statement(S::V5_3_1_2_25))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const SERVER_MAXIMUM_ENFORCED: Case = Case {
    id: "size.server-maximum-enforced",
    title: "A packet just larger than the server's announced Maximum Packet Size is a Protocol Error (DISCONNECT 0x95 first)",
    area: "Maximum Packet Size",
    statements: &[S::V5_3_2_2_15, S::V5_4_13_1_1],
    protocols: Protocols::V5,
    requires: &[],
    faults: &["unenforced-maximum-packet-size"],
    unfaultable: None,
    run: server_maximum_enforced,
};

/// A QoS 0 PUBLISH to `topic` (MQTT 5.0, no properties) whose whole size is `size` bytes,
/// or a byte or two more where no packet has exactly that size (the Remaining Length grows
/// a byte at 128, 16,384 and 2,097,152).
pub(super) fn publish_of_size(topic: &str, size: u32) -> Option<Bytes> {
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
        let Some(bytes) = publish_of_size(&t.topic("big"), max + 1) else {
            return t.error(format!("case error: no PUBLISH of {} bytes", max + 1));
        };
        t.check(
            bytes.len() > max as usize,
            format!("a packet larger than {max} bytes"),
            format!("{} bytes", bytes.len()),
        )?;
        // The broker may close while the packet is still being written: that write error
        // is not the broker's fault, so only its answer is judged.
        let _ = c.raw().send_raw(bytes).await;
        protocol_error_reply(&t, &mut c, &[ReasonCode::PacketTooLarge]).await
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
