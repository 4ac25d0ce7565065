//! Watching Will Messages: the subscriber that sees them, and the check that a Will is *not*
//! published, with its positive control (another Will on the same topic that must reach the
//! same watcher: a watcher that receives nothing proves nothing).

use std::time::Duration;

use mqttspec_codec::Packet;
use tokio::time::Instant;

use mqttspec_harness::client::{summary, Received};
use mqttspec_harness::scenario::{millis, Client, Ctx, Failure, Precondition};

/// The payload of the control Will of a case that checks that another Will is not published.
pub(crate) const CONTROL_WILL: &str = "control will";

/// Connects a client called `name` and subscribes it to `filter` at `qos` (setup steps).
pub(crate) async fn watcher(t: &Ctx, name: &str, filter: &str, qos: u8) -> Result<Client, Failure> {
    let mut c = t.client(name).connect().await?;
    c.subscribe(filter).qos(qos).await?;
    Ok(c)
}

/// The INCONCLUSIVE of a subscriber connection lost while a case watched it.
pub(crate) fn lost(c: &Client, got: &Received) -> Failure {
    Failure::inconclusive(
        Precondition::Connection,
        format!(
            "the connection of {} ended while it was watched: {}",
            c.name(),
            got.describe(c.protocol())
        ),
    )
}

/// Checks that the Will with payload `forbidden` is not published to `watch` within
/// `window` (FAIL naming `rule` otherwise, also if it comes later while the control is
/// awaited), with its positive control: a Will with payload [`CONTROL_WILL`] on the same
/// topic must reach the same watcher. Either the case has already made that Will due (it may
/// arrive during the window), or `trigger` is a connected client holding it, whose
/// connection is dropped once the window has passed. The control must arrive within
/// `control_within` after the window, else INCONCLUSIVE. A control arriving after the
/// window is followed by a short settle, for a forbidden Will due at the same moment.
pub(crate) async fn no_will(
    t: &Ctx,
    watch: &mut Client,
    forbidden: &[u8],
    window: Duration,
    trigger: Option<Client>,
    control_within: Duration,
    rule: &str,
) -> Result<(), Failure> {
    let end = Instant::now() + window;
    let seen = watch_wills(t, watch, forbidden, end, false, rule).await?;
    // The window passed without the Will: the absence the case checks.
    t.checked();
    t.absence_seen();
    if let Some(c) = trigger {
        c.drop_connection();
    }
    if !seen {
        let until = Instant::now() + control_within;
        let seen = watch_wills(t, watch, forbidden, until, true, rule).await?;
        t.require(seen, Precondition::Control, || {
            format!(
                "the control Will (payload {CONTROL_WILL:?}, on the same topic) published to the same subscriber within {} ms",
                control_within.as_millis()
            )
        })?;
        watch_wills(
            t,
            watch,
            forbidden,
            Instant::now() + millis(300),
            false,
            rule,
        )
        .await?;
    }
    Ok(())
}

/// Watches `watch` until `until` (with `stop_at_control`, only until the control Will has
/// arrived): a PUBLISH with payload `forbidden` is FAIL (`rule`: what should have happened);
/// the first with payload [`CONTROL_WILL`] is recorded as the positive control. Returns
/// whether the control arrived. A watcher connection that ends is INCONCLUSIVE.
async fn watch_wills(
    t: &Ctx,
    watch: &mut Client,
    forbidden: &[u8],
    until: Instant,
    stop_at_control: bool,
    rule: &str,
) -> Result<bool, Failure> {
    let mut seen = false;
    loop {
        let now = Instant::now();
        if now >= until {
            return Ok(seen);
        }
        match watch.recv(until - now).await {
            Received::Packet(Packet::Publish(p)) => {
                watch.ack(&p).await?;
                if p.payload.as_ref() == forbidden {
                    let shown = summary::packet(&Packet::Publish(p), watch.protocol());
                    t.transcript()
                        .event(watch.name(), format!("expected {rule}; got {shown}"));
                    return Err(Failure::fail(
                        rule,
                        format!("the Will was published: {shown}"),
                    ));
                }
                if !seen && p.payload.as_ref() == CONTROL_WILL.as_bytes() {
                    seen = true;
                    t.control_seen();
                    if stop_at_control {
                        return Ok(true);
                    }
                }
            }
            Received::Packet(_) => {}
            Received::Timeout => return Ok(seen),
            other => return Err(lost(watch, &other)),
        }
    }
}
