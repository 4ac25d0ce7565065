#![no_main]
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    let _ = mqttspec_codec::fuzzing::stream_split(data);
});
