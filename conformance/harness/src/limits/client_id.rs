//! The longest Client Identifier the broker accepts, in bytes: the run's identifier padded
//! with letters and digits, searched up to the cap (a UTF-8 string field holds at most
//! 65535 bytes). Each attempt is a CONNECT with Clean Start and no session expiry, so no
//! session stays behind.

use super::bisect::{Attempt, Bisect};
use super::env::{ConnectSpec, Env};
use super::report::{Caps, Finding};

/// Runs the probe.
pub async fn probe(env: &Env, caps: &Caps) -> Finding {
    let base = env.client_id();
    let mut b = Bisect::new(
        base.len() as u64,
        caps.client_id_bytes.min(65_535),
        caps.search_steps,
    );
    while let Some(n) = b.next() {
        let pad = usize::try_from(n).unwrap_or(0).saturating_sub(base.len());
        let client_id = format!("{base}{}", "x".repeat(pad));
        let spec = ConnectSpec {
            client_id,
            clean_start: true,
            session_expiry: None,
            receive_maximum: None,
        };
        let attempt = match env.connect(&spec).await {
            Ok((client, _)) => {
                env.bye(client).await;
                Attempt::Accepted
            }
            Err(e) => Attempt::Refused(e),
        };
        b.record(n, attempt);
    }
    let (value, detail) = b.result();
    Finding::new(
        "client_id_bytes",
        "Longest Client Identifier accepted",
        "bytes",
        value,
        detail,
    )
}
