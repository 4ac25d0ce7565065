//! The TLS and WebSocket layers of a listener, for a caller other than the broker task:
//! mqttspec's scripted broker (the client conformance suite) accepts a TCP connection itself
//! and has it terminated here, with the same handshakes (`relay`, `websocket`) and the same
//! relay tasks as the listeners use, and gets back a plain byte stream (its end of a Unix
//! socket pair). Nothing of the broker's own data path is involved.
//!
//! Two extras the listeners do not need: [`Terminated::frames`] sends a WebSocket text frame
//! to the client between the relayed bytes (a section 6 test), and [`Terminated::ended`]
//! tells why the relay closed the connection when a frame from the client broke section 6.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Error as WsError;

use super::relay::relay_bytes;
use super::websocket::{self, WsFaults, WsSettings};
use crate::tls::TlsServer;

/// Text frames that may wait to be sent, at most.
const INJECT_QUEUE: usize = 8;

/// Why a connection could not be terminated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The handshakes did not finish in time.
    #[error("the {0} handshake did not finish within {1:?}")]
    Timeout(&'static str, Duration),
    /// The TLS handshake failed.
    #[error("the TLS handshake failed: {0}")]
    Tls(String),
    /// The WebSocket upgrade was refused with an HTTP status: 400 when the client did not
    /// offer the `mqtt` subprotocol, 404 on another path.
    #[error("the WebSocket upgrade was refused with HTTP {status}: {reason}")]
    WsRefused {
        /// The HTTP status sent.
        status: u16,
        /// Why.
        reason: String,
    },
    /// The WebSocket upgrade failed otherwise (not an upgrade request, ...).
    #[error("the WebSocket upgrade failed: {0}")]
    Ws(String),
    /// No socket pair could be made.
    #[error("cannot create a socket pair: {0}")]
    Pipe(String),
}

impl HandshakeError {
    /// Whether the upgrade was refused because the client did not offer `mqtt`.
    pub fn no_mqtt_subprotocol(&self) -> bool {
        matches!(self, HandshakeError::WsRefused { status: 400, .. })
    }
}

/// TLS and/or WebSocket, as a listener of that scheme would do them.
#[derive(Debug, Clone)]
pub struct Terminator {
    tls: Option<TlsServer>,
    ws: Option<WsSettings>,
    limit: Duration,
}

/// A terminated connection.
#[derive(Debug)]
pub struct Terminated {
    /// The connection's bytes, TLS and WebSocket framing removed.
    pub pipe: UnixStream,
    /// WebSocket only: each string sent here goes to the client as one text frame.
    pub frames: Option<mpsc::Sender<String>>,
    /// Resolves when the relay ends: `Some(why)` when it closed the connection because a
    /// frame from the client broke section 6 (a text frame), `None` otherwise.
    pub ended: oneshot::Receiver<Option<&'static str>>,
}

impl Terminator {
    /// TLS with `tls` when given, then the WebSocket upgrade at `ws_path` when given; each
    /// connection's handshakes get `limit` together. WebSocket messages from the client are
    /// taken up to `max_message` bytes.
    pub fn new(
        tls: Option<TlsServer>,
        ws_path: Option<String>,
        max_message: usize,
        limit: Duration,
    ) -> Terminator {
        Terminator {
            tls,
            ws: ws_path.map(|path| WsSettings {
                path,
                faults: WsFaults::default(),
                max_message,
            }),
            limit,
        }
    }

    /// Runs the handshakes on `tcp` and starts the relay task.
    pub async fn open(&self, tcp: TcpStream) -> Result<Terminated, HandshakeError> {
        let _ = tcp.set_nodelay(true);
        let deadline = Instant::now() + self.limit;
        match &self.tls {
            None => self.after_tls(tcp, deadline).await,
            Some(tls) => {
                let acceptor = TlsAcceptor::from(Arc::clone(&tls.config));
                match timeout_at(deadline, acceptor.accept(tcp)).await {
                    Err(_) => Err(HandshakeError::Timeout("TLS", self.limit)),
                    Ok(Err(e)) => Err(HandshakeError::Tls(e.to_string())),
                    Ok(Ok(s)) => self.after_tls(s, deadline).await,
                }
            }
        }
    }

    async fn after_tls<S>(&self, stream: S, deadline: Instant) -> Result<Terminated, HandshakeError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (ours, theirs) = UnixStream::pair().map_err(|e| HandshakeError::Pipe(e.to_string()))?;
        let (done, ended) = oneshot::channel();
        let Some(settings) = &self.ws else {
            tokio::spawn(async move {
                relay_bytes(stream, theirs).await;
                let _ = done.send(None);
            });
            return Ok(Terminated {
                pipe: ours,
                frames: None,
                ended,
            });
        };
        let ws = match timeout_at(deadline, websocket::accept(stream, settings)).await {
            Err(_) => return Err(HandshakeError::Timeout("WebSocket", self.limit)),
            Ok(Err(WsError::Http(response))) => {
                let reason = response
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                return Err(HandshakeError::WsRefused {
                    status: response.status().as_u16(),
                    reason,
                });
            }
            Ok(Err(e)) => return Err(HandshakeError::Ws(e.to_string())),
            Ok(Ok(ws)) => ws,
        };
        let (text_tx, text_rx) = mpsc::channel::<String>(INJECT_QUEUE);
        tokio::spawn(async move {
            let why = websocket::relay(ws, theirs, WsFaults::default(), Some(text_rx)).await;
            let _ = done.send(why);
        });
        Ok(Terminated {
            pipe: ours,
            frames: Some(text_tx),
            ended,
        })
    }
}
