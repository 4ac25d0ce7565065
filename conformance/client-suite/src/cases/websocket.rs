//! MQTT over WebSocket (section 6 of both specifications), the client's side: these cases run
//! over WebSocket whatever the run's transport (`wss` on a TLS run, `ws` otherwise), through
//! the reference broker's WebSocket layer.
//!
//! - the upgrade request offers the `mqtt` subprotocol (MQTT-6.0.0-3; the layer refuses the
//!   upgrade with HTTP 400 otherwise);
//! - the client's packets travel in binary frames (MQTT-6.0.0-1; the layer closes the
//!   connection on a text frame and says so);
//! - a text frame from the server makes the client close the connection (MQTT-6.0.0-1, after
//!   the well-formed twin, a PUBLISH in a binary frame, was delivered);
//! - the client reads packets split over frames and several packets in one frame
//!   (MQTT-6.0.0-2): the CONNACK goes out in two frames, two PUBLISH packets in one.

use std::time::Duration;

use mqttspec_codec::{
    ConnAck, ConnAckProperties, Packet, Publish, ReasonCode, StatementId as S, TopicName,
};
use mqttspec_harness::verdict::{Outcome, Precondition};
use serde_json::json;

use super::{expect_close, pick};
use crate::broker::{AcceptFailure, Received, ServerConn};
use crate::case::{none, CaseFuture, ClientCase, Ctx, Role, Session};
use crate::reference::Fault;

pub(crate) const CASES: &[ClientCase] = &[
    ClientCase {
        id: "websocket.mqtt-subprotocol-offered",
        title: "the WebSocket upgrade request offers the \"mqtt\" subprotocol",
        checks: &[S::V311_6_0_0_3, S::V5_6_0_0_3],
        faults: &[Fault::WsNoSubprotocol],
        run: subprotocol,
    },
    ClientCase {
        id: "websocket.binary-frames-only",
        title: "the client sends its packets in WebSocket binary frames",
        checks: &[S::V311_6_0_0_1, S::V5_6_0_0_1],
        faults: &[Fault::WsTextFrames],
        run: binary_frames,
    },
    ClientCase {
        id: "websocket.text-frame-closes",
        title: "a WebSocket text frame from the server makes the client close the connection",
        checks: &[S::V311_6_0_0_1, S::V5_6_0_0_1],
        faults: &[Fault::WsIgnoreTextFrame],
        run: text_frame_closes,
    },
    ClientCase {
        id: "websocket.packets-across-frames",
        title: "the client reads a packet split over two frames and two packets in one frame",
        checks: &[S::V311_6_0_0_2, S::V5_6_0_0_2],
        faults: &[Fault::WsFrameAligned],
        run: across_frames,
    },
];

const TOPIC: &str = "mqttspec/ws/in";

fn subprotocol(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start_websocket().await?;
        let cmd = s.connect_command(none());
        s.command(cmd).await;
        match s.broker.accept_checked(t.timing.response).await {
            Ok(conn) => {
                conn.close().await;
                t.pass()
            }
            Err(AcceptFailure::Handshake(e)) if e.no_mqtt_subprotocol() => Err(Outcome::fail(
                "the WebSocket upgrade request lists \"mqtt\" among its subprotocols",
                format!("it does not ({e})"),
            )
            .statement(pick_v(&t, S::V5_6_0_0_3, S::V311_6_0_0_3))),
            Err(AcceptFailure::Handshake(e)) => Err(Outcome::inconclusive(
                Precondition::Connection,
                format!("the client's WebSocket connection failed: {e}"),
            )),
            Err(AcceptFailure::NoConnection) => Err(s
                .setup_wait_outcome(Precondition::Connection, "connection")
                .await),
        }
    })
}

fn pick_v(t: &Ctx, v5: S, v311: S) -> S {
    if t.version.is_v5() {
        v5
    } else {
        v311
    }
}

/// FAIL of MQTT-6.0.0-1 when the WebSocket layer closed the connection because the client
/// sent a text frame; `otherwise` when it did not.
async fn text_frame_or(conn: &mut ServerConn, t: &Ctx, otherwise: Outcome) -> Outcome {
    match conn.relay_refusal(Duration::from_secs(1)).await {
        Some(why) => Outcome::fail(
            "the client's packets arrive in WebSocket binary frames",
            format!("the WebSocket layer closed the connection: {why}"),
        )
        .statement(pick_v(t, S::V5_6_0_0_1, S::V311_6_0_0_1)),
        None => otherwise,
    }
}

fn binary_frames(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start_websocket().await?;
        let (mut conn, first) = s.connect_raw(none()).await?;
        match first {
            Received::Packet(Packet::Connect(_)) => {}
            other => {
                let text = other.describe(conn.version());
                let setup = Outcome::inconclusive(
                    Precondition::Connect,
                    format!("no CONNECT from the client: {text}"),
                );
                return Err(text_frame_or(&mut conn, &t, setup).await);
            }
        }
        conn.connack(false, ReasonCode::Success, ConnAckProperties::default())
            .await;
        s.expect_event("connack", Role::Setup(Precondition::Connect))
            .await?;
        s.command(json!({"cmd": "publish", "topic": TOPIC, "payload": "ws", "qos": 0}))
            .await;
        match conn.recv_skipping_pings(t.timing.response).await {
            Received::Packet(Packet::Publish(_)) => t.pass(),
            other => {
                let text = other.describe(conn.version());
                let setup = Outcome::inconclusive(
                    Precondition::Publish,
                    format!("no PUBLISH after the publish command: {text}"),
                );
                Err(text_frame_or(&mut conn, &t, setup).await)
            }
        }
    })
}

/// Opens over WebSocket, subscribes and has a PUBLISH in a binary frame delivered (the twin).
async fn open_with_twin(t: &Ctx) -> Result<(Session, ServerConn), Outcome> {
    let mut s = t.start_websocket().await?;
    let (mut conn, _) = s.open(none(), ConnAckProperties::default()).await?;
    s.subscribe(&mut conn, "mqttspec/ws/#", 0).await?;
    let topic = TopicName::new(TOPIC).map_err(|e| Outcome::error(e.to_string()))?;
    conn.send(&Packet::Publish(Publish::new(topic, &b"twin"[..])))
        .await;
    s.expect_event("message", Role::Setup(Precondition::Twin))
        .await?;
    Ok((s, conn))
}

fn text_frame_closes(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (_s, mut conn) = open_with_twin(&t).await?;
        // A QoS 0 PUBLISH to `a` whose bytes are all ASCII, so valid text: a client that
        // hands a text frame's bytes to its MQTT parser sees a well-formed packet and stays.
        let text = if t.version.is_v5() {
            "\u{30}\u{5}\u{0}\u{1}a\u{0}b"
        } else {
            "\u{30}\u{4}\u{0}\u{1}ab"
        };
        if !conn.send_text_frame(text).await {
            return Err(Outcome::error("the WebSocket layer takes no text frame"));
        }
        let st = pick(&conn, S::V5_6_0_0_1, S::V311_6_0_0_1);
        Ok(expect_close(
            &mut conn,
            t.timing.response,
            st,
            true,
            "a WebSocket text frame",
        )
        .await)
    })
}

fn across_frames(t: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut s = t.start_websocket().await?;
        let (mut conn, _) = s.connect(none()).await?;
        let v = conn.version();
        let st = pick(&conn, S::V5_6_0_0_2, S::V311_6_0_0_2);
        let connack = Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::Success,
            properties: ConnAckProperties::default().into(),
        })
        .encode(v)
        .map_err(|e| Outcome::error(e.to_string()))?;
        // One write is one frame: the fixed header, a pause, the rest.
        let (head, rest) = connack.split_at(2);
        conn.send_raw(head, "CONNACK, first frame: the fixed header")
            .await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        conn.send_raw(rest, "CONNACK, second frame: the rest").await;
        s.expect_event("connack", Role::Check(st)).await?;
        s.subscribe(&mut conn, "mqttspec/ws/#", 0).await?;
        let topic = TopicName::new(TOPIC).map_err(|e| Outcome::error(e.to_string()))?;
        let mut both = Vec::new();
        for payload in [&b"one"[..], &b"two"[..]] {
            let p = Packet::Publish(Publish::new(topic.clone(), payload))
                .encode(v)
                .map_err(|e| Outcome::error(e.to_string()))?;
            both.extend_from_slice(&p);
        }
        conn.send_raw(&both, "two QoS 0 PUBLISH packets in one frame")
            .await;
        for n in ["first", "second"] {
            s.expect_event("message", Role::Check(st))
                .await
                .map_err(|o| {
                    if o.verdict == mqttspec_harness::verdict::Verdict::Fail {
                        Outcome::fail(
                            "both PUBLISH packets of one WebSocket frame reach the application",
                            format!("the {n} did not: {}", o.actual.unwrap_or_default()),
                        )
                        .statement(st)
                    } else {
                        o
                    }
                })?;
        }
        t.pass()
    })
}
