//! Property blocks more than one area sends.

use std::num::NonZeroU16;

use mqttspec_codec::Properties;

/// CONNECT properties announcing Receive Maximum `n` (0: no Receive Maximum property).
pub(crate) fn receive_maximum(n: u16) -> Properties {
    Properties {
        receive_maximum: NonZeroU16::new(n),
        ..Properties::default()
    }
}
