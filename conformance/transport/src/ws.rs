//! The WebSocket side of the transport (MQTT 5.0 §6, MQTT 3.1.1 §6).
//!
//! [`handshake`] upgrades a TCP or TLS stream, offering the `mqtt` subprotocol
//! (MQTT-6.0.0-3); tungstenite refuses a response that selects none or another, which
//! [`super::ConnectError::Ws`] reports as [`super::WsFailure::Subprotocol`].
//!
//! [`WsBytes`] makes the WebSocket a byte stream: every write is sent as one binary frame
//! (so a case controls frame boundaries by how it splits its writes: one packet over two
//! writes spans two frames, two packets in one write share a frame), and reads return the
//! payloads of binary messages in order, whatever their boundaries. Pings are answered by
//! tungstenite; a close frame is the end of the stream. A text message from the broker is a
//! read error (MQTT-6.0.0-1 binds the server too). [`WsBytes::send_frame`] sends one frame of
//! any kind, for the cases that need a text or a continuation frame.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::conn::Base;
use super::{ConnectError, Endpoint, WsFailure};

/// The subprotocol MQTT over WebSocket uses.
pub const SUBPROTOCOL: &str = "mqtt";

/// The largest WebSocket message (and frame) accepted from the broker.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The kind of a frame sent with [`WsBytes::send_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A binary frame (opcode 2).
    Binary,
    /// A text frame (opcode 1): MQTT-6.0.0-1 says the receiver closes the connection.
    Text,
    /// A continuation frame (opcode 0) of the message begun by a non-final frame.
    Continuation,
}

/// A WebSocket connection seen as a byte stream. See the module docs.
#[derive(Debug)]
pub struct WsBytes {
    ws: WebSocketStream<Base>,
    pending: Bytes,
    eof: bool,
    subprotocol: Option<String>,
}

/// Upgrades `base` to a WebSocket at `endpoint`'s path, offering the `mqtt` subprotocol
/// (unless `offer_mqtt` is false: then none).
pub(crate) async fn handshake(
    endpoint: &Endpoint,
    base: Base,
    offer_mqtt: bool,
) -> Result<WsBytes, ConnectError> {
    let fail = |reason: String, failure: WsFailure| ConnectError::Ws {
        endpoint: endpoint.to_string(),
        reason,
        failure,
    };
    let mut request = endpoint
        .ws_url()
        .into_client_request()
        .map_err(|e| fail(e.to_string(), WsFailure::Other))?;
    if offer_mqtt {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    match tokio_tungstenite::client_async_with_config(request, base, Some(config)).await {
        Ok((ws, response)) => {
            let subprotocol = response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Ok(WsBytes {
                ws,
                pending: Bytes::new(),
                eof: false,
                subprotocol,
            })
        }
        Err(WsError::Http(response)) => {
            let status = response.status();
            let hint = if status.as_u16() == 404 {
                " (wrong WebSocket path?)"
            } else {
                ""
            };
            Err(fail(
                format!("the server answered HTTP {status}{hint}"),
                WsFailure::Http(status.as_u16()),
            ))
        }
        Err(WsError::Protocol(
            tokio_tungstenite::tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(e),
        )) => Err(fail(
            format!("the server did not select the \"mqtt\" subprotocol ({e})"),
            WsFailure::Subprotocol,
        )),
        Err(WsError::Io(e)) => Err(fail(
            format!("{e} (is it a WebSocket port?)"),
            WsFailure::Other,
        )),
        Err(e) => Err(fail(e.to_string(), WsFailure::Other)),
    }
}

fn io_err(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::NotConnected, "WebSocket closed")
        }
        other => io::Error::other(format!("WebSocket: {other}")),
    }
}

impl WsBytes {
    /// The subprotocol the server selected.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The stream beneath.
    pub(crate) fn base(&self) -> &Base {
        self.ws.get_ref()
    }

    /// Sends one frame of `kind` with `payload` (`last`: the FIN bit) and flushes it.
    pub async fn send_frame(
        &mut self,
        kind: FrameKind,
        payload: Bytes,
        last: bool,
    ) -> io::Result<()> {
        let opcode = match kind {
            FrameKind::Binary => OpCode::Data(Data::Binary),
            FrameKind::Text => OpCode::Data(Data::Text),
            FrameKind::Continuation => OpCode::Data(Data::Continue),
        };
        self.ws
            .send(Message::Frame(Frame::message(payload, opcode, last)))
            .await
            .map_err(io_err)
    }
}

impl WsBytes {
    /// Writes `wire` beneath the WebSocket layer, as it is: hand-built frames (unmasked, with
    /// reserved bits, lengths that lie, ...) for the fuzzer. What tungstenite had queued is
    /// flushed first, so the bytes never land inside one of its frames.
    pub async fn send_wire(&mut self, wire: &[u8]) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.ws.flush().await.map_err(io_err)?;
        let base = self.ws.get_mut();
        base.write_all(wire).await?;
        base.flush().await
    }
}

impl AsyncRead for WsBytes {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                let chunk = self.pending.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            if self.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                None => self.eof = true,
                Some(Ok(Message::Binary(b))) => self.pending = b,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the broker sent a WebSocket text frame (MQTT-6.0.0-1: binary only)",
                    )))
                }
                Some(Ok(Message::Close(_))) => self.eof = true,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => self.eof = true,
                Some(Err(e)) => return Poll::Ready(Err(io_err(e))),
            }
        }
    }
}

impl AsyncWrite for WsBytes {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let ws = Pin::new(&mut self.ws);
        ready!(ws.poll_ready(cx)).map_err(io_err)?;
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(io_err)?;
        // Push it out now; a flush that cannot complete yet is finished by the next call.
        if let Poll::Ready(Err(e)) = Pin::new(&mut self.ws).poll_flush(cx) {
            return Poll::Ready(Err(io_err(e)));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(io_err)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(io_err)
    }
}
