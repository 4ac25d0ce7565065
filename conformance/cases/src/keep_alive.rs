//! Keep Alive: what keeps a connection alive (any packet, PINGREQ), what ends it (silence
//! for one and a half Keep Alive periods, then the Will is published), Keep Alive 0, and the
//! MQTT 5.0 Server Keep Alive.
//!
//! Timing: cases use Keep Alive 1 s, the smallest non-zero value. A broker must close a
//! silent connection after 1.5 × Keep Alive; the cases allow 1 s on top of that
//! ([`close_within`]) for brokers that check keep alive on a one-second clock. Where the
//! deadline is not the point (the Will published after a keep-alive close) they wait up to
//! 6 s more ([`eventually_within`]): Mosquitto 2.0.11, for one, closes timed-out
//! connections in sweeps about 5 s apart, so a silent Keep Alive 1 s connection is closed
//! between 2.3 and 6.1 s after its last packet (measured).
//!
//! A close for keep alive is a refusal of sorts: each case first sees the same connection
//! served while it is active (a PINGREQ answered, the twin), so a listener that closes every
//! connection passes nothing. A verdict that rests on the connection *not* being closed has
//! its control afterwards: the connection still answers a PINGREQ.

use std::time::Duration;

use mqttspec_codec::{ReasonCode, StatementId as S};

use super::support::{close_within, keep_alive_in_force, TIMED_OUT};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{millis, BoxFuture, CaseResult, Ctx, Failure, Precondition, Will};

/// The longest Keep Alive (seconds) a case waits out.
const LONGEST_WAIT: u16 = 5;

/// How long to wait for a keep-alive close when its exact time is not what is checked:
/// 1.5 × Keep Alive plus 6 s (see the module docs).
fn eventually_within(keep_alive: u16) -> Duration {
    millis(1500 * u64::from(keep_alive) + 6000)
}

// ---------------------------------------------------------------------------------------

case! {
    /// Keep Alive 0 turns the mechanism off: a silent connection is not closed for keep alive
    ZERO_DISABLES_TIMEOUT = "keepalive.zero-disables-timeout",
    checks: [V5_3_2_2_22, V5_3_1_2_22],
    faults: [KeepAliveZeroTimesOut @ V5],
    tags: [ToBroker],
    run: zero_disables_timeout,
}

fn zero_disables_timeout(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").keep_alive(0).connect().await?;
        let keep_alive = keep_alive_in_force(&c, 0);
        if keep_alive != 0 {
            return t.informational(format!(
                "the broker set Server Keep Alive {keep_alive} for a client asking for 0"
            ));
        }
        // The twin of a close: the connection is served while the client is active.
        c.alive().as_twin().await?;
        // Three seconds of silence: twice what a Keep Alive of 1 s would allow.
        match c.recv(millis(3000)).await {
            Received::Timeout => {}
            Received::Packet(mqttspec_codec::Packet::Disconnect(d))
                if d.reason_code == ReasonCode::KeepAliveTimeout =>
            {
                return Err(Failure::fail(
                    "no Keep Alive timeout: Keep Alive 0 and no Server Keep Alive",
                    "DISCONNECT 0x8D (Keep Alive timeout) after 3 s of silence",
                )
                .statement(S::V5_3_2_2_22));
            }
            Received::Packet(p) => {
                let what = mqttspec_harness::client::summary::packet(&p, t.protocol());
                t.refusal_seen();
                // A server may disconnect an idle client for its own reasons.
                return t.informational(format!(
                    "the broker ended an idle Keep Alive 0 connection: {what}"
                ));
            }
            Received::Closed => {
                t.refusal_seen();
                return t.informational(
                    "the broker closed an idle Keep Alive 0 connection (a server may close idle clients)",
                );
            }
            other => {
                return Err(Failure::fail(
                    "the connection open and silent",
                    other.describe(t.protocol()),
                ))
            }
        }
        // Nothing ended the connection during the silence ...
        t.checked();
        t.absence_seen();
        // ... and it is still open and served (the control of that absence).
        c.alive().as_control().await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Any packet restarts the Keep Alive timer (PUBLISH every 400 ms keeps a Keep Alive 1 s connection open); silence then closes it
    ACTIVITY_RESETS_TIMER = "keepalive.activity-resets-timer",
    checks: [V5_3_1_2_22, V5_3_2_2_22],
    faults: [KeepAlivePingreqOnly @ V5, NoKeepaliveTimeout],
    tags: [ToBroker],
    run: activity_resets_timer,
}

fn activity_resets_timer(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("ka");
        let mut c = t.client("c").keep_alive(1).connect().await?;
        let keep_alive = keep_alive_in_force(&c, 1);
        if keep_alive != 1 {
            return t.informational(format!(
                "the broker set Server Keep Alive {keep_alive} instead of the client's 1 s"
            ));
        }
        // Whether the broker announced a Server Keep Alive: if not, it must use the client's
        // (MQTT-3.2.2-22).
        let announced = c
            .connack()
            .and_then(|a| a.properties.server_keep_alive)
            .is_some();
        // The twin of the close that ends the case: the same connection is served, a
        // PUBLISH like those below included (the PINGRESP after it shows it was accepted).
        c.publish(&topic).payload("twin").await?;
        c.alive().as_twin().await?;
        // 2 s of QoS 0 PUBLISH packets, 400 ms apart: longer than 1.5 × Keep Alive.
        for i in 0..5 {
            match c.recv(millis(400)).await {
                Received::Timeout => {}
                Received::Packet(mqttspec_codec::Packet::Publish(_)) => {}
                other => {
                    let actual = other.describe(t.protocol());
                    // MQTT-3.1.2-22 (3.1.1: MQTT-3.1.2-24) obliges the close after silence;
                    // no tagged MUST forbids closing an active connection, and a bare close
                    // does not say why. Only a 5.0 DISCONNECT 0x8D (Keep Alive timeout) from a
                    // broker that announced no Server Keep Alive shows it did not use the
                    // client's Keep Alive as that value is defined (MQTT-3.2.2-22).
                    let timed_out_while_active = t.is_v5()
                        && !announced
                        && matches!(
                            &other,
                            Received::Packet(mqttspec_codec::Packet::Disconnect(d))
                                if d.reason_code == ReasonCode::KeepAliveTimeout
                        );
                    if !timed_out_while_active {
                        return Err(Failure::inconclusive(
                            Precondition::Other,
                            format!(
                                "the broker ended a connection publishing every 400 ms ({actual} after {} ms of activity); no tagged MUST forbids closing an active connection, so the timer restart cannot be judged",
                                400 * i
                            ),
                        ));
                    }
                    return Err(Failure::fail(
                        "the client's Keep Alive of 1 s used (no Server Keep Alive): a PUBLISH every 400 ms keeps the connection open",
                        format!("{actual} after {} ms of activity", 400 * i),
                    )
                    .statement(S::V5_3_2_2_22));
                }
            }
            c.publish(&topic).payload(format!("{i}")).await?;
        }
        // The activity kept the connection open ...
        t.checked();
        t.absence_seen();
        // ... and it is still served (the control of that absence): the PINGREQ goes out
        // right after the last PUBLISH, well inside the Keep Alive.
        c.alive().as_control().await?;
        // Now silence: the timer runs from the PINGREQ and closes the connection.
        c.expect_reply(TIMED_OUT)
            .within(close_within(keep_alive))
            .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A client that only sends PINGREQ within its Keep Alive stays connected and gets every PINGRESP
    PINGREQ_KEEPS_ALIVE = "keepalive.pingreq-keeps-connection-open",
    checks: [V5_3_1_2_22, V5_3_12_4_1],
    faults: [NoPingresp],
    tags: [ToBroker],
    run: pingreq_keeps_alive,
}

fn pingreq_keeps_alive(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut c = t.client("c").keep_alive(1).connect().await?;
        let keep_alive = keep_alive_in_force(&c, 1);
        if keep_alive == 0 {
            return t.informational("the broker set Server Keep Alive 0 (keep alive off)");
        }
        // Five PINGREQs 600 ms apart (2.5 × the Keep Alive of 1 s in all).
        let gap = millis(600).min(millis(500 * u64::from(keep_alive)));
        for _ in 0..5 {
            t.wait(gap).await;
            c.alive().await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// 5.0: a Server Keep Alive in CONNACK replaces the client's Keep Alive, and the broker enforces it
    SERVER_KEEP_ALIVE_ENFORCED = "keepalive.server-keep-alive-enforced",
    checks: [V5_3_1_2_22],
    only: V5,
    faults: [AnnounceUnusedServerKeepAlive],
    tags: [FromBroker],
    run: server_keep_alive_enforced,
}

fn server_keep_alive_enforced(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The client asks for a long Keep Alive; only a Server Keep Alive makes it short.
        let mut c = t.client("c").keep_alive(60).connect().await?;
        let server = c.connack().and_then(|a| a.properties.server_keep_alive);
        let keep_alive = match server {
            None => {
                return t.unsupported(
                    "the broker sends no Server Keep Alive (the client's 60 s applies)",
                )
            }
            Some(0) => {
                return t.informational("the broker sent Server Keep Alive 0 (keep alive off)")
            }
            Some(k) if k > LONGEST_WAIT => {
                return t.informational(format!(
                    "the broker sent Server Keep Alive {k} s: too long to wait for"
                ))
            }
            Some(k) => k,
        };
        // The twin: the connection is served while the client is active (and the timer
        // restarts with this PINGREQ).
        c.alive().as_twin().await?;
        c.expect_reply(TIMED_OUT)
            .within(close_within(keep_alive))
            .await
            .map_err(|f| f.statement(S::V5_3_1_2_22))?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A connection closed for keep alive is treated as a network failure: its Will Message is published
    TIMEOUT_PUBLISHES_WILL = "keepalive.timeout-publishes-will",
    checks: [V5_3_1_2_22, V5_3_1_2_8],
    faults: [NoKeepaliveTimeout, NoWill],
    tags: [Will],
    run: timeout_publishes_will,
}

fn timeout_publishes_will(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let will_topic = t.topic("will");
        let mut watcher = t.client("watcher").connect().await?;
        watcher.subscribe(&will_topic).await?;
        let mut silent = t
            .client("silent")
            .keep_alive(1)
            .will(Will::new(&will_topic, "timed out"))
            .connect()
            .await?;
        let keep_alive = keep_alive_in_force(&silent, 1);
        if keep_alive == 0 || keep_alive > LONGEST_WAIT {
            return t.informational(format!(
                "the broker set Server Keep Alive {keep_alive}: no timeout to wait for"
            ));
        }
        // The twin of the keep-alive close: the connection is served while active.
        silent.alive().as_twin().await?;
        // The Will is the point here; the close deadline is checked elsewhere.
        // Wait for the close first (generously), then for the Will, which is due by then:
        // a broker that never publishes it fails within the response time, not the slack.
        let within = eventually_within(keep_alive);
        silent.expect_reply(TIMED_OUT).within(within).await?;
        watcher
            .expect_publish()
            .topic(&will_topic)
            .payload("timed out")
            .within(t.response_timeout())
            .await?;
        t.pass()
    })
}
