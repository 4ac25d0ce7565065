//! Differential guard for the issue 13 rewrite: the frozen pre-rewrite decoder
//! (`codec-v1/`) and the current one must decode every input to the same packet (same `Debug`
//! rendering, which both print through the flat `Properties`, and the same length used), or
//! refuse it with the same violation, class, reason code and statement.
//!
//! Input: with `MQTTSPEC_DIFF_VERSION` set to `311` or `5` (one campaign per version, seeded
//! from `corpus/fuzz/decode_v311` or `decode_v5`) the bytes of one packet; without it, byte 0
//! bit 0 chooses the version (0 = 3.1.1, 1 = 5.0) and the rest is the packet.
#![no_main]
use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mqttspec_codec as new;
use mqttspec_codec_v1 as old;

fn forced_version() -> Option<bool> {
    static FORCED: OnceLock<Option<bool>> = OnceLock::new();
    *FORCED.get_or_init(|| match std::env::var("MQTTSPEC_DIFF_VERSION").as_deref() {
        Ok("5") => Some(true),
        Ok("311") => Some(false),
        _ => None,
    })
}

fuzz_target!(|data: &[u8]| {
    let (v5, rest) = match (forced_version(), data.split_first()) {
        (Some(v5), _) => (v5, data),
        (None, Some((&selector, rest))) => (selector & 1 == 1, rest),
        (None, None) => return,
    };
    let (nv, ov) = if v5 {
        (new::ProtocolVersion::V5, old::ProtocolVersion::V5)
    } else {
        (new::ProtocolVersion::V311, old::ProtocolVersion::V311)
    };
    let bytes = Bytes::copy_from_slice(rest);
    match (
        new::decode_packet(&bytes, nv),
        old::decode_packet(&bytes, ov),
    ) {
        (Ok((p, n)), Ok((q, m))) => {
            assert_eq!(n, m, "length used differs");
            assert_eq!(format!("{p:?}"), format!("{q:?}"), "decoded packets differ");
        }
        (Err(e), Err(f)) => {
            assert_eq!(format!("{e:?}"), format!("{f:?}"), "errors differ");
            assert_eq!(format!("{:?}", e.class()), format!("{:?}", f.class()));
            assert_eq!(
                e.reason_code().map(|c| c.as_u8()),
                f.reason_code().map(|c| c.as_u8())
            );
            assert_eq!(
                e.statement().map(|s| s.to_string()),
                f.statement().map(|s| s.to_string())
            );
        }
        (a, b) => panic!("one decoder accepts, the other refuses: new {a:?}, old {b:?}"),
    }
});
