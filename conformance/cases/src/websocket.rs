//! MQTT over WebSocket, the server's side (section 6 of both specifications): MQTT packets
//! travel in binary frames only and a text frame gets the connection closed (MQTT-6.0.0-1),
//! packet boundaries need not match frame boundaries (MQTT-6.0.0-2), and the server selects
//! the `mqtt` subprotocol the client offers (MQTT-6.0.0-4).
//!
//! These cases need a WebSocket run (`--broker ws://...` or `wss://...`): on any other
//! transport they are UNSUPPORTED ("not a WebSocket run") and the statements stay uncovered
//! in that run's matrix. The test client's WebSocket layer sends every write as one binary
//! frame, so splitting a packet over two writes makes it span two frames and joining two
//! packets in one write puts them in one frame.
//!
//! Each names a fault of the reference broker's WebSocket listener that breaks its rule
//! (`engine_faults` runs them against the embedded broker over `ws://`);
//! `conformance/cli/tests/transports.rs` also proves them against an in-test WebSocket proxy
//! broken in the matching way.

use bytes::Bytes;
use mqttspec_codec::{Packet, PacketType, Publish, TopicName};

use mqttspec_harness::case;
use mqttspec_harness::client::{ClientOptions, TestClient};
use mqttspec_harness::scenario::{BoxFuture, CaseResult, Ctx, Failure, Precondition};
use mqttspec_harness::transport::ws::{FrameKind, SUBPROTOCOL};
use mqttspec_harness::transport::{ConnectError, WsFailure};

case! {
    /// A PUBLISH sent in a WebSocket text frame gets the connection closed, where the same PUBLISH in a binary frame is delivered
    TEXT_FRAME = "websocket.text-frame-closes",
    checks: [V5_6_0_0_1, V311_6_0_0_1],
    requires: [WebSocket],
    faults: [WsAcceptTextFrame],
    tags: [ToBroker, Live],
    run: text_frame,
}

fn text_frame(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let topic = t.topic("w");
        let mut c = t.client("c").connect().await?;
        c.subscribe(&topic).await?;
        // A QoS 0 PUBLISH whose bytes are all ASCII, so that the text frame is valid UTF-8
        // and only its opcode is wrong.
        let publish = encode(
            &t,
            Packet::Publish(Publish::new(
                TopicName::new(topic.clone())
                    .map_err(|e| Failure::error(format!("case error: {e}")))?,
                Bytes::from_static(b"text"),
            )),
        )?;
        if std::str::from_utf8(&publish).is_err() || publish.iter().any(|b| *b >= 0x80) {
            return t.error("case error: the PUBLISH is not ASCII (topic prefix too long?)");
        }
        // The twin: the same PUBLISH in a binary frame is delivered back.
        c.send_raw(publish.clone()).await?;
        c.expect_publish()
            .topic(&topic)
            .payload("text")
            .as_twin()
            .await?;
        c.raw()
            .send_ws_frame(FrameKind::Text, publish, true)
            .await
            .map_err(|e| {
                Failure::inconclusive(
                    Precondition::Connection,
                    format!("the text frame could not be sent: {e}"),
                )
            })?;
        c.expect_closed().await?;
        t.pass()
    })
}

case! {
    /// A CONNECT and a PINGREQ each split over several binary frames are read as whole packets (CONNACK, then PINGRESP)
    SPANNING = "websocket.packet-spans-frames",
    checks: [V5_6_0_0_2, V311_6_0_0_2],
    requires: [WebSocket],
    faults: [WsRefuseSplitPacket],
    tags: [ToBroker],
    run: spanning,
}

fn spanning(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        // The same CONNECT in one frame is accepted (the precondition).
        t.client("twin").connect().await?.disconnect().await?;
        let builder = t.client("c");
        let connect = encode(&t, Packet::Connect(Box::new(builder.connect_packet()?)))?;
        let mut c = builder.open().await?;
        // The fixed header byte alone, then the Remaining Length, then the rest in two.
        let mid = 2 + (connect.len() - 2) / 2;
        let parts = [
            connect.slice(..1),
            connect.slice(1..2),
            connect.slice(2..mid),
            connect.slice(mid..),
        ];
        let frames = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            // A broker that takes each frame for a whole packet closes the connection on the
            // first one: the write of a later frame then fails, which is the violation.
            if let Err(e) = c.raw().send_raw(part).await {
                return t.fail(
                    "the CONNECT sent over several binary frames read as one packet",
                    format!(
                        "the connection closed after frame {i} of {frames} of the CONNECT: {e}"
                    ),
                );
            }
        }
        let ack = c.expect_packet(PacketType::ConnAck).await?;
        if let Packet::ConnAck(a) = &ack {
            t.require(!a.reason_code.is_error(), Precondition::Connect, || {
                format!("the broker refused the CONNECT: {:?}", a.reason_code)
            })?;
        }
        let ping = ping_bytes(&t)?;
        for (i, part) in [ping.slice(..1), ping.slice(1..)].into_iter().enumerate() {
            if let Err(e) = c.raw().send_raw(part).await {
                return t.fail(
                    "the PINGREQ sent over two binary frames read as one packet",
                    format!("the connection closed after frame {i} of 2 of the PINGREQ: {e}"),
                );
            }
        }
        c.expect_packet(PacketType::PingResp).await?;
        t.pass()
    })
}

case! {
    /// A CONNECT and two PINGREQs in one binary frame are all read: CONNACK and two PINGRESPs come back
    SHARED_FRAME = "websocket.packets-share-frame",
    checks: [V5_6_0_0_2, V311_6_0_0_2],
    requires: [WebSocket],
    faults: [WsRefuseSharedFrame],
    tags: [ToBroker],
    run: shared_frame,
}

fn shared_frame(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        t.client("twin").connect().await?.disconnect().await?;
        let builder = t.client("c");
        let connect = encode(&t, Packet::Connect(Box::new(builder.connect_packet()?)))?;
        let ping = ping_bytes(&t)?;
        let mut c = builder.open().await?;
        let mut frame = connect.to_vec();
        frame.extend_from_slice(&ping);
        frame.extend_from_slice(&ping);
        c.send_raw(frame).await?;
        c.expect_packet(PacketType::ConnAck).await?;
        c.expect_packet(PacketType::PingResp).await?;
        c.expect_packet(PacketType::PingResp).await?;
        t.pass()
    })
}

case! {
    /// The WebSocket handshake response selects the "mqtt" subprotocol the client offered
    SUBPROTOCOL_SELECTED = "websocket.subprotocol-selected",
    checks: [V5_6_0_0_4, V311_6_0_0_4],
    requires: [WebSocket],
    faults: [WsNoSubprotocol],
    tags: [FromBroker],
    run: subprotocol,
}

fn subprotocol(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut options = ClientOptions::new("c", t.protocol());
        options.connect_timeout = t.response_timeout().max(std::time::Duration::from_secs(1));
        match TestClient::connect_with(t.broker(), options, t.transcript().clone()).await {
            Ok(mut c) => {
                let selected = c.transport().ws_subprotocol.clone();
                c.close().await;
                t.check(
                    selected.as_deref() == Some(SUBPROTOCOL),
                    "Sec-WebSocket-Protocol: mqtt in the handshake response",
                    format!("Sec-WebSocket-Protocol: {selected:?}"),
                )?;
                t.pass()
            }
            Err(e) => match ConnectError::from_io(&e) {
                Some(ConnectError::Ws {
                    failure: WsFailure::Subprotocol,
                    reason,
                    ..
                }) => t.fail(
                    "the handshake response selects the \"mqtt\" subprotocol",
                    reason.clone(),
                ),
                _ => t.inconclusive(
                    Precondition::Connection,
                    format!("cannot open a connection to the broker: {e}"),
                ),
            },
        }
    })
}

fn encode(t: &Ctx, p: Packet) -> Result<Bytes, Failure> {
    p.encode(t.protocol())
        .map_err(|e| Failure::error(format!("case error: {e}")))
}

fn ping_bytes(t: &Ctx) -> Result<Bytes, Failure> {
    encode(t, Packet::PingReq)
}
