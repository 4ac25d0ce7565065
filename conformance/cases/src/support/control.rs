//! Positive controls of absences, and the detail of a precondition that failed.
//!
//! A PASS that rests on something not arriving means something only if a message that must
//! arrive on the same subscriber and path does arrive afterwards: the runner turns a verdict
//! resting on an absence without such a control into ERROR, and a control that fails makes the
//! case INCONCLUSIVE.

use mqttspec_codec::{Packet, Publish};

use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{Client, Failure, Precondition, Verdict};

/// The positive control of an absence: `publisher` publishes `payload` at QoS 1 on `topic`,
/// and `subscriber` (subscribed to it on the path under test) must receive it. Otherwise
/// INCONCLUSIVE ("the positive control message delivered"). Lenient: any PUBLISH arriving
/// first that is not the control is no FAIL here (see [`control_after_quiet`] for the strict
/// one).
pub(crate) async fn control(
    publisher: &mut Client,
    subscriber: &mut Client,
    topic: &str,
    payload: &str,
) -> Result<(), Failure> {
    publisher
        .publish(topic)
        .qos(1)
        .payload(payload)
        .as_control()
        .await?;
    subscriber
        .expect_publish()
        .topic(topic)
        .payload(payload)
        .as_control()
        .await?;
    Ok(())
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

/// `f`, the INCONCLUSIVE of a setup step, with what was being set up in its detail.
pub(crate) fn setting_up(what: &'static str) -> impl Fn(Failure) -> Failure {
    move |mut f| {
        if f.0.verdict == Verdict::Inconclusive {
            let detail = f.0.actual.take().unwrap_or_default();
            f.0.actual = Some(format!("{what}: {detail}"));
        }
        f
    }
}
