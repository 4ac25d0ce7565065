//! The largest payload the broker accepts and delivers, in bytes, searched from 0 up to the
//! cap. The packet around it adds the topic and a few header bytes, so a broker's Maximum
//! Packet Size shows here as a little less.

use super::bisect::Bisect;
use super::delivery::round_trip;
use super::env::Env;
use super::report::{Caps, Finding};

/// Runs the probe.
pub async fn probe(env: &Env, caps: &Caps) -> Finding {
    let topic = env.topic("payload");
    let filter = if env.wildcards {
        env.topic("payload/#")
    } else {
        topic.clone()
    };
    // The test client refuses packets above the profile's max_packet_size: stay below it,
    // so that a refusal is the broker's.
    let accepted_by_client = env.profile.limits.max_packet_size.map_or(u64::MAX, |m| {
        u64::from(m).saturating_sub(topic.len() as u64 + 16)
    });
    let mut b = Bisect::new(
        0,
        caps.payload_bytes.min(accepted_by_client),
        caps.search_steps,
    );
    while let Some(n) = b.next() {
        let len = usize::try_from(n).unwrap_or(usize::MAX);
        b.record(n, round_trip(env, &filter, &topic, len).await);
    }
    let (value, detail) = b.result();
    Finding::new(
        "payload_bytes",
        "Largest payload accepted and delivered",
        "bytes",
        value,
        detail,
    )
}
