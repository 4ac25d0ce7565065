//! The TLS and WebSocket listeners: an accept task per listener, and a relay task per
//! connection that terminates TLS and/or WebSocket and hands the broker task a plain byte
//! stream, the broker's end of a Unix socket pair.
//!
//! Why a task and a socket pair: the broker task reads and writes every plain TCP socket
//! itself, with non-blocking calls and readiness wakers (see the module docs of
//! [`shell`](super)); that path is what the latency measurements look at and stays as it was.
//! TLS records and WebSocket frames need buffering state machines of their own (rustls,
//! tungstenite) that want to be polled as async streams. Running them in a task per
//! connection and passing the bytes through a socket pair gives the broker task a socket
//! with readiness exactly like a TCP one (the same generic read and write code), keeps all
//! framing of the transports out of the broker task, and gives backpressure for free: when
//! the broker does not read, the pipe fills, the relay stops reading from the client, and TCP
//! holds the client back. The price, one copy and a task hop per direction, is paid by the
//! TLS and WebSocket connections only.
//!
//! Bounds: at most [`MAX_HANDSHAKES`] connections may be in their TLS or WebSocket handshake
//! at once (the accept task waits for a slot), each handshake has [`HANDSHAKE_TIMEOUT`], and a
//! WebSocket message is at most the listener's `max_message` bytes.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use super::listener::Incoming;
use super::socket::Socket;
use super::websocket::{self, WsSettings};
use crate::tls::{subject_common_name, TlsServer};

/// Connections in their TLS or WebSocket handshake at once, at most.
pub(super) const MAX_HANDSHAKES: usize = 256;
/// How long the TLS and WebSocket handshakes of one connection may take together.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one direction may go on after the other ended.
const LINGER: Duration = Duration::from_secs(2);

/// What a TLS or WebSocket listener does with a connection.
#[derive(Debug, Clone)]
pub(super) struct Relayed {
    /// TLS first (`mqtts://`, `wss://`).
    pub(super) tls: Option<TlsServer>,
    /// Then the WebSocket upgrade (`ws://`, `wss://`).
    pub(super) ws: Option<WsSettings>,
}

/// Accepts connections on `listener` and starts a relay task for each.
pub(super) async fn accept_loop(
    listener: TcpListener,
    relayed: Relayed,
    accepted: mpsc::Sender<Incoming>,
) {
    let relayed = Arc::new(relayed);
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = Arc::clone(&handshakes).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if accepted.is_closed() {
            return;
        }
        debug!(%peer, "connection accepted (relayed)");
        tokio::spawn(connection(
            stream,
            Arc::clone(&relayed),
            permit,
            accepted.clone(),
        ));
    }
}

/// One connection: handshakes within [`HANDSHAKE_TIMEOUT`], then the relay.
async fn connection(
    tcp: TcpStream,
    relayed: Arc<Relayed>,
    permit: OwnedSemaphorePermit,
    accepted: mpsc::Sender<Incoming>,
) {
    let _ = tcp.set_nodelay(true);
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let Some(tls) = &relayed.tls else {
        after_tls(tcp, None, &relayed, deadline, permit, accepted).await;
        return;
    };
    let acceptor = TlsAcceptor::from(Arc::clone(&tls.config));
    let stream = match timeout_at(deadline, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            debug!("TLS handshake timed out");
            return;
        }
    };
    let user = if tls.cert_cn_as_username {
        let (_, session) = stream.get_ref();
        session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|cert| subject_common_name(cert))
    } else {
        None
    };
    after_tls(stream, user, &relayed, deadline, permit, accepted).await;
}

/// The WebSocket upgrade if any, the hand-off to the broker task, the relay.
async fn after_tls<S>(
    stream: S,
    user: Option<String>,
    relayed: &Relayed,
    deadline: Instant,
    permit: OwnedSemaphorePermit,
    accepted: mpsc::Sender<Incoming>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match &relayed.ws {
        None => {
            drop(permit);
            let Some(pipe) = hand_off(user, &accepted).await else {
                return;
            };
            relay_bytes(stream, pipe).await;
        }
        Some(settings) => {
            let ws = match timeout_at(deadline, websocket::accept(stream, settings)).await {
                Ok(Ok(ws)) => ws,
                Ok(Err(e)) => {
                    debug!(error = %e, "WebSocket handshake failed");
                    return;
                }
                Err(_) => {
                    debug!("WebSocket handshake timed out");
                    return;
                }
            };
            drop(permit);
            let Some(pipe) = hand_off(user, &accepted).await else {
                return;
            };
            let _ = websocket::relay(ws, pipe, settings.faults, None).await;
        }
    }
}

/// Gives the broker task its end of a new socket pair; returns ours.
async fn hand_off(user: Option<String>, accepted: &mpsc::Sender<Incoming>) -> Option<UnixStream> {
    let (ours, theirs) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "cannot create a socket pair");
            return None;
        }
    };
    let incoming = Incoming {
        socket: Socket::Pipe(theirs),
        user,
    };
    accepted.send(incoming).await.ok()?;
    Some(ours)
}

/// Copies both ways between the client's stream and the pipe until either side ends (then
/// the other gets [`LINGER`] to finish).
pub(super) async fn relay_bytes<S>(stream: S, pipe: UnixStream)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_in, mut client_out) = tokio::io::split(stream);
    let (mut broker_in, mut broker_out) = pipe.into_split();
    let inbound = async {
        let _ = tokio::io::copy(&mut client_in, &mut broker_out).await;
        let _ = broker_out.shutdown().await;
    };
    let outbound = async {
        let _ = tokio::io::copy(&mut broker_in, &mut client_out).await;
        let _ = client_out.shutdown().await;
    };
    tokio::pin!(inbound, outbound);
    tokio::select! {
        () = &mut inbound => {
            let _ = tokio::time::timeout(LINGER, &mut outbound).await;
        }
        () = &mut outbound => {
            let _ = tokio::time::timeout(LINGER, &mut inbound).await;
        }
    }
}
