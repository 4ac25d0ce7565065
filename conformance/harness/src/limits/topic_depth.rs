//! The deepest Topic Name the broker accepts and delivers, in levels (the prefix's levels
//! included): `<prefix>/depth/a/a/...`, searched up to the cap.

use super::bisect::Bisect;
use super::delivery::round_trip;
use super::env::Env;
use super::report::{Caps, Finding};

/// Runs the probe.
pub async fn probe(env: &Env, caps: &Caps) -> Finding {
    let base = env.topic("depth");
    let base_levels = base.split('/').count() as u64;
    let filter = if env.wildcards {
        env.topic("depth/#")
    } else {
        String::new()
    };
    let mut b = Bisect::new(base_levels + 1, caps.topic_levels, caps.search_steps);
    while let Some(n) = b.next() {
        let extra = usize::try_from(n.saturating_sub(base_levels)).unwrap_or(0);
        let topic = format!("{base}{}", "/a".repeat(extra));
        let filter = if filter.is_empty() { &topic } else { &filter };
        b.record(n, round_trip(env, filter, &topic, 1).await);
    }
    let (value, detail) = b.result();
    Finding::new(
        "topic_levels",
        "Deepest Topic Name accepted and delivered",
        "levels",
        value,
        detail,
    )
}
