//! Subscription Identifiers (MQTT 5.0, 3.3.4 and 3.8.2.1.2), the client's side.
//!
//! The specification binds the client in one way only: a PUBLISH it sends carries no
//! Subscription Identifier (MQTT-3.3.4-6). Whether the library hands the Subscription
//! Identifiers of a delivered message to the application is its choice (nothing in the
//! specification requires it), so that part is INFORMATIONAL: the case says what the
//! application saw.

use mqttspec_codec::{Packet, Publish, PublishProperties, StatementId as S, TopicName};
use mqttspec_harness::verdict::{Outcome, Precondition};
use serde_json::{json, Value};

use super::expect_publish;
use crate::broker::Received;
use crate::case::{none, CaseFuture, ClientCase, Ctx, Role};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[ClientCase {
    id: "subscription.identifier-delivered-not-sent",
    title: "the client sends no Subscription Identifier in its PUBLISH; whether the application sees the ones of a delivered message is reported",
    checks: &[S::V5_3_3_4_6],
    faults: &[Fault::SubscriptionIdInPublish],
    run: identifiers,
}];

const FILTER: &str = "mqttspec/subid/#";
const TOPIC: &str = "mqttspec/subid/a";
const ID: u32 = 7;

fn identifiers(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start().await?;
        let (mut conn, _) = s
            .open(none(), mqttspec_codec::ConnAckProperties::default())
            .await?;
        s.command(
            json!({"cmd": "subscribe", "topic": FILTER, "qos": 0, "subscription_identifier": ID}),
        )
        .await;
        let sub = match conn.recv_skipping_pings(t.timing.response).await {
            Received::Packet(Packet::Subscribe(sub)) => sub,
            other => {
                if let crate::adapter::Wait::Unsupported(w) = s
                    .adapter
                    .wait_for("error", std::time::Duration::from_millis(50))
                    .await
                {
                    return Err(crate::case::unsupported(&w));
                }
                return Err(Outcome::inconclusive(
                    Precondition::Subscribe,
                    format!(
                        "no SUBSCRIBE after the command: {}",
                        other.describe(conn.version())
                    ),
                ));
            }
        };
        let asked = sub
            .properties
            .subscription_identifiers
            .first()
            .map(|i| i.get());
        conn.send(&Packet::SubAck(mqttspec_codec::SubAck {
            packet_id: sub.packet_id,
            properties: Default::default(),
            reason_codes: vec![mqttspec_codec::ReasonCode::Success; sub.filters.len()],
        }))
        .await;
        s.expect_event("subscribed", Role::Setup(Precondition::Subscribe))
            .await?;
        // The application publishes: no Subscription Identifier may go with it.
        s.command(
            json!({"cmd": "publish", "topic": "mqttspec/subid/out", "payload": "x", "qos": 0}),
        )
        .await;
        let out = expect_publish(
            &mut conn,
            t.timing.response,
            Role::Setup(Precondition::Publish),
            "a PUBLISH after the publish command",
        )
        .await?;
        if !out.properties.subscription_identifiers.is_empty() {
            let ids: Vec<_> = out
                .properties
                .subscription_identifiers
                .iter()
                .map(|i| i.get())
                .collect();
            return Err(Outcome::fail(
                "a PUBLISH from the client without Subscription Identifier",
                format!("it carries Subscription Identifier(s) {ids:?}"),
            )
            .statement(S::V5_3_3_4_6));
        }
        // A delivered message with the identifier of the subscription.
        let topic = TopicName::new(TOPIC).map_err(|e| Outcome::error(e.to_string()))?;
        let mut props = PublishProperties::default();
        props
            .subscription_identifiers
            .extend(std::num::NonZeroU32::new(ID));
        let mut p = Publish::new(topic, &b"in"[..]);
        p.properties = props.into();
        conn.send(&Packet::Publish(p)).await;
        let e = s
            .expect_event("message", Role::Setup(Precondition::Delivery))
            .await?;
        let seen: Vec<u64> = e
            .property("subscription_identifiers")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let choice = match (asked, seen.contains(&u64::from(ID))) {
            (Some(_), true) => format!(
                "the application sees the Subscription Identifier {ID} of the delivered message"
            ),
            (Some(_), false) => format!(
                "the application is not shown the Subscription Identifier {ID} of the delivered message (it saw {seen:?})"
            ),
            (None, _) => "the library sent no Subscription Identifier in its SUBSCRIBE".to_owned(),
        };
        Ok(Outcome::informational(choice))
    })
}
