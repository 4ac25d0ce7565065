//! The longest Topic Name the broker accepts and delivers, in bytes: `<prefix>/len/` and
//! then `a`s, searched up to the cap (a Topic Name holds at most 65535 bytes).

use super::bisect::Bisect;
use super::delivery::round_trip;
use super::env::Env;
use super::report::{Caps, Finding};

/// Runs the probe.
pub async fn probe(env: &Env, caps: &Caps) -> Finding {
    let base = env.topic("len/");
    let filter = if env.wildcards {
        env.topic("len/#")
    } else {
        String::new()
    };
    let low = base.len() as u64 + 1;
    let mut b = Bisect::new(low, caps.topic_bytes.min(65_535), caps.search_steps);
    while let Some(n) = b.next() {
        let pad = usize::try_from(n).unwrap_or(0).saturating_sub(base.len());
        let topic = format!("{base}{}", "a".repeat(pad));
        let filter = if filter.is_empty() { &topic } else { &filter };
        b.record(n, round_trip(env, filter, &topic, 1).await);
    }
    let (value, detail) = b.result();
    Finding::new(
        "topic_bytes",
        "Longest Topic Name accepted and delivered",
        "bytes",
        value,
        detail,
    )
}
