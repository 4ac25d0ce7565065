//! Property blocks more than one area sends.

use std::num::NonZeroU16;

use mqttspec_codec::ConnectProperties;

/// CONNECT properties announcing Receive Maximum `n` (0: no Receive Maximum property).
pub(crate) fn receive_maximum(n: u16) -> ConnectProperties {
    ConnectProperties {
        receive_maximum: NonZeroU16::new(n),
        ..ConnectProperties::default()
    }
}
