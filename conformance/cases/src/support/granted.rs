//! What a SUBACK granted.

use mqttspec_codec::ReasonCode;

use mqttspec_harness::scenario::{Client, Ctx, Failure, Precondition};

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
            Precondition::Granted,
            format!("the broker refused the subscription: {codes:?}"),
        )
    })
}

/// Subscribes `c` to `topic` at `qos` and requires at least that much granted (a setup step:
/// INCONCLUSIVE "granted" otherwise, since a broker may grant less).
pub(crate) async fn subscribe_granted(
    t: &Ctx,
    c: &mut Client,
    topic: &str,
    qos: u8,
) -> Result<(), Failure> {
    let codes = c.subscribe(topic).qos(qos).await?;
    let granted = codes.first().map_or(0, |code| granted(*code).unwrap_or(0));
    t.require(granted >= qos, Precondition::Granted, || {
        format!("QoS {qos} requested, QoS {granted} granted")
    })
}
