//! The WebSocket side of a WebSocket listener (section 6 of both specifications): the
//! upgrade, and the relay between the client's binary frames and the byte stream the broker
//! task reads.
//!
//! - The upgrade is refused with 404 on another path than the listener's, and with 400 when
//!   the client does not offer the `mqtt` subprotocol (the client must offer it,
//!   MQTT-6.0.0-3, and the server can select only what was offered); otherwise the response
//!   selects `mqtt` (MQTT-6.0.0-4).
//! - The payloads of binary frames are passed on as they come, whatever their boundaries
//!   (MQTT-6.0.0-2: a frame may hold part of a packet or several packets). A text frame closes
//!   the connection (MQTT-6.0.0-1), with close code 1003. Pings are answered by tungstenite.
//! - What the broker writes goes out in binary frames, one per read of the pipe (a long
//!   packet may span frames).
//!
//! The four faults of this layer ([`WsFaults`], from the core's fault list) bend exactly one
//! of these rules each; [`PacketCursor`] follows packet boundaries across frames for them.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::core::fault::{Fault, Faults};

/// The subprotocol of MQTT over WebSocket.
const SUBPROTOCOL: &str = "mqtt";
/// How much of the broker's output one frame carries at most.
const OUT_CHUNK: usize = 16 * 1024;
/// How long one direction may go on after the other ended.
const LINGER: Duration = Duration::from_secs(2);

/// The WebSocket faults enabled (each breaks one rule of section 6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct WsFaults {
    accept_text: bool,
    refuse_split: bool,
    refuse_shared: bool,
    no_subprotocol: bool,
}

impl WsFaults {
    pub(super) fn from(faults: &Faults) -> WsFaults {
        WsFaults {
            accept_text: faults.has(Fault::WsAcceptTextFrame),
            refuse_split: faults.has(Fault::WsRefuseSplitPacket),
            refuse_shared: faults.has(Fault::WsRefuseSharedFrame),
            no_subprotocol: faults.has(Fault::WsNoSubprotocol),
        }
    }
}

/// How a WebSocket listener works.
#[derive(Debug, Clone)]
pub(super) struct WsSettings {
    /// The path of the upgrade request.
    pub(super) path: String,
    pub(super) faults: WsFaults,
    /// The largest message (and frame) taken from a client.
    pub(super) max_message: usize,
}

fn refusal(status: StatusCode, text: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(text.to_owned()));
    *r.status_mut() = status;
    r
}

/// Whether the request offers the `mqtt` subprotocol.
fn offers_mqtt(req: &Request) -> bool {
    req.headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL)
}

/// The server's half of the upgrade (see the module docs).
pub(super) async fn accept<S>(
    stream: S,
    settings: &WsSettings,
) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let path = settings.path.clone();
    let select = !settings.faults.no_subprotocol;
    let callback = move |req: &Request, mut resp: Response| {
        if req.uri().path() != path {
            return Err(refusal(
                StatusCode::NOT_FOUND,
                "no MQTT WebSocket endpoint at this path",
            ));
        }
        if !offers_mqtt(req) {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                "the \"mqtt\" WebSocket subprotocol must be offered (MQTT-6.0.0-3)",
            ));
        }
        if select {
            resp.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static(SUBPROTOCOL),
            );
        }
        Ok(resp)
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(settings.max_message))
        .max_frame_size(Some(settings.max_message));
    tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
}

/// How the client's side of a relay ended.
enum Ending {
    /// The client closed, or the connection broke.
    Closed,
    /// The relay closes the connection: a frame broke section 6 (or a fault says so).
    Refused(CloseCode, &'static str),
}

/// Relays between the WebSocket `ws` and the broker's `pipe` until either side ends. Frames
/// from `inject` go out as they are, between the binary frames of the pipe's bytes (the
/// scripted broker of the client tests sends a text frame that way; the listeners pass none).
/// Returns why the relay closed the connection when a frame from the client broke section 6.
pub(super) async fn relay<S, P>(
    ws: WebSocketStream<S>,
    pipe: P,
    faults: WsFaults,
    mut inject: Option<mpsc::Receiver<String>>,
) -> Option<&'static str>
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut frames) = ws.split();
    let (mut from_broker, mut to_broker) = tokio::io::split(pipe);
    let ending = {
        let inbound = async {
            let mut cursor = PacketCursor::default();
            while let Some(message) = frames.next().await {
                let payload: Bytes = match message {
                    Ok(Message::Binary(b)) => b,
                    Ok(Message::Text(t)) if faults.accept_text => t.into(),
                    Ok(Message::Text(_)) => {
                        return Ending::Refused(
                            CloseCode::Unsupported,
                            "a text frame: MQTT travels in binary frames (MQTT-6.0.0-1)",
                        )
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                };
                let seen = cursor.feed(&payload);
                if faults.refuse_split && seen.ends_inside {
                    return Ending::Refused(CloseCode::Protocol, "a frame ends inside a packet");
                }
                if faults.refuse_shared && seen.started > 1 {
                    return Ending::Refused(CloseCode::Protocol, "a frame holds several packets");
                }
                if to_broker.write_all(&payload).await.is_err() {
                    break;
                }
            }
            let _ = to_broker.shutdown().await;
            Ending::Closed
        };
        let outbound = async {
            let mut buf = vec![0u8; OUT_CHUNK];
            loop {
                let frame = tokio::select! {
                    biased;
                    Some(m) = next_injected(&mut inject) => m,
                    read = from_broker.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => Message::Binary(Bytes::copy_from_slice(&buf[..n])),
                    },
                };
                if sink.send(frame).await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        };
        tokio::pin!(inbound, outbound);
        tokio::select! {
            ending = &mut inbound => {
                if let Ending::Closed = ending {
                    // The broker writes what it still has, then closes.
                    let _ = tokio::time::timeout(LINGER, &mut outbound).await;
                }
                ending
            }
            () = &mut outbound => {
                let _ = tokio::time::timeout(LINGER, &mut inbound).await;
                Ending::Closed
            }
        }
    };
    match ending {
        Ending::Refused(code, reason) => {
            let close = Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            let _ = tokio::time::timeout(LINGER, sink.send(close)).await;
            Some(reason)
        }
        Ending::Closed => None,
    }
}

/// The next injected frame; never ready without a channel (or once it closed).
async fn next_injected(inject: &mut Option<mpsc::Receiver<String>>) -> Option<Message> {
    match inject {
        Some(rx) => match rx.recv().await {
            Some(text) => Some(Message::text(text)),
            None => {
                *inject = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// What one frame's payload held, as far as packet boundaries go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Seen {
    /// Packets whose first byte is in the frame.
    pub(super) started: usize,
    /// The frame ends inside a packet.
    pub(super) ends_inside: bool,
}

/// Follows MQTT packet boundaries across a stream of frames (the fixed header's Remaining
/// Length only). A Remaining Length of more than four bytes stops it: from then on nothing is
/// reported (the core refuses the stream anyway).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum PacketCursor {
    /// At a packet boundary.
    #[default]
    Start,
    /// In a fixed header: `read` bytes of the Remaining Length so far, worth `value`.
    Header { read: u32, value: usize },
    /// In a packet's body, this many bytes to go.
    Body(usize),
    /// The boundaries are lost.
    Lost,
}

impl PacketCursor {
    /// Moves over one frame's payload.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> Seen {
        let mut seen = Seen::default();
        while let Some((&first, rest)) = bytes.split_first() {
            match *self {
                PacketCursor::Start => {
                    seen.started += 1;
                    *self = PacketCursor::Header { read: 0, value: 0 };
                    bytes = rest;
                }
                PacketCursor::Header { read, value } => {
                    let value = value | (usize::from(first & 0x7F) << (7 * read));
                    *self = if first & 0x80 == 0 {
                        if value == 0 {
                            PacketCursor::Start
                        } else {
                            PacketCursor::Body(value)
                        }
                    } else if read == 3 {
                        PacketCursor::Lost
                    } else {
                        PacketCursor::Header {
                            read: read + 1,
                            value,
                        }
                    };
                    bytes = rest;
                }
                PacketCursor::Body(left) => {
                    let take = left.min(bytes.len());
                    bytes = &bytes[take..];
                    *self = if take == left {
                        PacketCursor::Start
                    } else {
                        PacketCursor::Body(left - take)
                    };
                }
                PacketCursor::Lost => break,
            }
        }
        seen.ends_inside = !matches!(self, PacketCursor::Start | PacketCursor::Lost);
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_follows_packets_across_frames() {
        let mut c = PacketCursor::default();
        // PINGREQ, then a PUBLISH of 3 bytes split after its first body byte.
        let seen = c.feed(&[0xC0, 0x00, 0x30, 0x03, 0x00]);
        assert_eq!(
            seen,
            Seen {
                started: 2,
                ends_inside: true
            }
        );
        let seen = c.feed(&[0x01, b'a']);
        assert_eq!(
            seen,
            Seen {
                started: 0,
                ends_inside: false
            }
        );
        // The fixed header byte alone.
        assert!(c.feed(&[0xC0]).ends_inside);
        assert!(!c.feed(&[0x00]).ends_inside);
        // A two-byte Remaining Length (128) split between frames.
        assert!(c.feed(&[0x30, 0x80]).ends_inside);
        assert!(c.feed(&[0x01]).ends_inside);
        assert!(!c.feed(&[0u8; 128]).ends_inside);
        // Five length bytes: lost.
        c.feed(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(c, PacketCursor::Lost);
        assert_eq!(c.feed(&[0xC0, 0x00]), Seen::default());
    }
}
