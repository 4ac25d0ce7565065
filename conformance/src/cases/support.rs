//! Helpers every case module may use (case modules hold cases only): the twins and controls
//! a verdict resting on a refusal or an absence needs, Packet Identifiers, quiet periods.
//!
//! ## Twins and controls
//!
//! A PASS that rests on the broker refusing or closing means something only if the same
//! broker accepts the well-formed twin: the same client setup with the offending field
//! corrected. A PASS that rests on something not arriving means something only if a message
//! that must arrive on the same subscriber and path does arrive. The runner turns a PASS,
//! NON-STRICT or INFORMATIONAL without them into ERROR (a case bug), and a twin or control
//! that fails makes the case INCONCLUSIVE, so a listener that closes every connection or
//! never answers passes nothing.
//!
//! - [`connect_twin`]: a well-formed CONNECT from the same client setup is accepted and a
//!   PINGREQ on it answered (the twin of a malformed or refused CONNECT).
//! - `c.publish(..).qos(1).as_twin()`, `c.subscribe(..).as_twin()`, `c.alive().as_twin()`:
//!   the twin of a malformed packet on an accepted connection (send the corrected packet
//!   first, then the bad one).
//! - [`control`]: publishes a message `subscriber` must receive and expects it there (the
//!   control of an absence); `sub.expect_publish()...as_control()` for a hand-made one.

use std::time::Duration;

use mqttspec_codec::PacketId;

use crate::scenario::{millis, Client, ClientBuilder, Failure};

/// How long a case watches to be sure that nothing (more) arrives. The positive control
/// that must follow every such watch keeps a slow broker from passing by accident.
pub(crate) const QUIET: Duration = millis(500);

/// A Packet Identifier chosen by a case (never 0).
pub(crate) fn packet_id(n: u16) -> Result<PacketId, Failure> {
    PacketId::new(n).ok_or_else(|| Failure::error("case error: Packet Identifier 0"))
}

/// The twin of a refused CONNECT: `builder` (the same client setup, the offending field
/// corrected) connects, is accepted with CONNACK 0x00, and a PINGREQ on it is answered.
/// Otherwise INCONCLUSIVE ("the well-formed twin accepted"). Returns the connection.
pub(crate) async fn connect_twin(builder: ClientBuilder) -> Result<Client, Failure> {
    let mut c = builder.as_twin().connect().await?;
    c.alive().as_twin().await?;
    Ok(c)
}

/// The positive control of an absence: `publisher` publishes `payload` at QoS 1 (QoS 0 when
/// `qos0`) on `topic`, and `subscriber` (subscribed to it on the path under test) must
/// receive it. Otherwise INCONCLUSIVE ("the positive control message delivered").
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
