//! Receiving messages: a number of PUBLISH packets in order, everything that reaches one or
//! several clients within a window, and how what arrived is shown in Expected / Actual.

use std::collections::BTreeMap;
use std::time::Duration;

use mqttspec_codec::{Packet, ProtocolVersion, Publish};
use tokio::time::Instant;

use mqttspec_harness::client::{summary, Received};
use mqttspec_harness::scenario::{millis, Client, Ctx, Failure, Precondition};

/// A check: receives `n` PUBLISH packets in arrival order, acknowledging each.
pub(crate) async fn receive(c: &mut Client, n: usize) -> Result<Vec<Publish>, Failure> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(c.expect_publish().await?);
    }
    Ok(out)
}

/// A setup step: receives `n` PUBLISH packets in arrival order, acknowledging each; one that
/// does not come is INCONCLUSIVE naming `p` (for cases that judge what arrived, e.g. its
/// order, rather than the delivery).
pub(crate) async fn receive_setup(
    c: &mut Client,
    n: usize,
    p: Precondition,
) -> Result<Vec<Publish>, Failure> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(c.expect_publish().as_setup(p).await?);
    }
    Ok(out)
}

/// How long each client is polled in turn while copies are still expected ([`gather`]).
const POLL: Duration = millis(20);

/// How long [`gather`] listens to each client, one after the other, once the expected
/// messages are in (and the whole window when none is expected). Shorter than
/// [`QUIET`](super::QUIET) on purpose: extra copies would come right behind the messages
/// already received, and the wait is spent once per client. Where it watches for an absence
/// the case follows it with a positive control.
const SETTLE: Duration = millis(300);

/// At most this many PUBLISH packets are gathered per client (a broker flooding us fails).
const MAX_GATHERED: usize = 500;

/// Gathers the PUBLISH packets that reach each of `clients` (acknowledging every one) until
/// `expected` have arrived in all or the response timeout has passed, then listens a little
/// longer ([`SETTLE`]) to catch extra copies. Returns them per client, in arrival order. The
/// connections must stay open.
pub(crate) async fn gather(
    t: &Ctx,
    clients: &mut [Client],
    expected: usize,
) -> Result<Vec<Vec<Publish>>, Failure> {
    let mut got: Vec<Vec<Publish>> = clients.iter().map(|_| Vec::new()).collect();
    let deadline = Instant::now() + t.response_timeout();
    while got.iter().map(Vec::len).sum::<usize>() < expected && Instant::now() < deadline {
        for (c, bucket) in clients.iter_mut().zip(got.iter_mut()) {
            take_one(c, bucket, POLL).await?;
        }
    }
    for (c, bucket) in clients.iter_mut().zip(got.iter_mut()) {
        while take_one(c, bucket, SETTLE).await? {}
    }
    Ok(got)
}

/// Takes the next packet of `c` within `within`: a PUBLISH is acknowledged and kept;
/// `false` when nothing came.
async fn take_one(
    c: &mut Client,
    bucket: &mut Vec<Publish>,
    within: Duration,
) -> Result<bool, Failure> {
    match c.recv(within).await {
        Received::Packet(Packet::Publish(p)) => {
            c.ack(&p).await?;
            bucket.push(p);
            if bucket.len() > MAX_GATHERED {
                return Err(Failure::fail(
                    "a bounded number of PUBLISH packets",
                    format!("more than {MAX_GATHERED} PUBLISH packets to {}", c.name()),
                ));
            }
            Ok(true)
        }
        Received::Packet(p @ Packet::Disconnect(_)) => {
            Err(c.unmet("the connection to stay open", Received::Packet(p)))
        }
        Received::Packet(_) => Ok(true),
        Received::Timeout => Ok(false),
        other => Err(c.unmet("the connection to stay open", other)),
    }
}

/// A checking step: every PUBLISH that arrives within `window` (acknowledged as needed);
/// the connection closing is FAIL. It records an absence (nothing more arrived), so the
/// caller must follow it with a positive control on the same subscriber and path
/// ([`control_after_quiet`](super::control_after_quiet), or `retained_control` in the
/// `retained` module).
pub(crate) async fn publishes_within(
    t: &Ctx,
    c: &mut Client,
    window: Duration,
) -> Result<Vec<Publish>, Failure> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.recv(left).await {
            Received::Packet(Packet::Publish(p)) => {
                c.ack(&p).await?;
                out.push(p);
            }
            Received::Packet(_) => {}
            Received::Timeout => break,
            other => {
                return Err(c.unmet(
                    &format!("the connection open for {} ms", window.as_millis()),
                    other,
                ))
            }
        }
    }
    t.checked();
    t.absence_seen();
    Ok(out)
}

/// The payloads as text, in order.
pub(crate) fn payloads(messages: &[Publish]) -> Vec<String> {
    messages
        .iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect()
}

/// How many times each payload occurs in `publishes`.
pub(crate) fn count_payloads<'a>(
    publishes: impl IntoIterator<Item = &'a Publish>,
) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for p in publishes {
        *counts
            .entry(String::from_utf8_lossy(&p.payload).into_owned())
            .or_default() += 1;
    }
    counts
}

/// The payloads of `publishes`, in order, for Actual texts: `[m0, m1]`.
pub(crate) fn list_payloads(publishes: &[Publish]) -> String {
    format!("[{}]", payloads(publishes).join(", "))
}

/// A short description of PUBLISH packets for Actual texts.
pub(crate) fn describe(pubs: &[Publish], v: ProtocolVersion) -> String {
    if pubs.is_empty() {
        return "no PUBLISH".to_owned();
    }
    pubs.iter()
        .map(|p| summary::packet(&Packet::Publish(p.clone()), v))
        .collect::<Vec<_>>()
        .join("; ")
}
