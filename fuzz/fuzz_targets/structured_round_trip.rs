#![no_main]
use libfuzzer_sys::fuzz_target;
use mqttspec_codec::{fuzzing::structured_round_trip, Packet, ProtocolVersion};
fuzz_target!(|input: (Packet, ProtocolVersion)| {
    let _ = structured_round_trip(input.0, input.1);
});
