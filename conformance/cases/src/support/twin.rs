//! The well-formed twin of a refused CONNECT.
//!
//! The twin of a malformed packet on an accepted connection needs no helper: send the
//! corrected packet first with `.as_twin()` (`c.publish(..).qos(1).as_twin()`,
//! `c.subscribe(..).as_twin()`, `c.alive().as_twin()`), then the bad one.

use mqttspec_harness::scenario::{Client, ClientBuilder, Failure};

/// The twin of a refused CONNECT: `builder` (the same client setup, the offending field
/// corrected) connects, is accepted with CONNACK 0x00, and a PINGREQ on it is answered.
/// Otherwise INCONCLUSIVE ("the well-formed twin accepted"). Returns the connection.
pub(crate) async fn connect_twin(builder: ClientBuilder) -> Result<Client, Failure> {
    let mut c = builder.as_twin().connect().await?;
    c.alive().as_twin().await?;
    Ok(c)
}
