#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    let _ = mqttspec_broker_core::fuzzing::run_events(data);
});
