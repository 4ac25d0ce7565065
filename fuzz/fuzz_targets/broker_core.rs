#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    let _ = mqttspec_reference_broker::fuzzing::run_events(data);
});
