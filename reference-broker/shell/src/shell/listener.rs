//! The accept task of a plain TCP listener: takes new TCP connections off the listening
//! socket and hands them to the broker task (as [`Incoming`], the type the TLS and WebSocket
//! relay tasks hand over too), which gives them their [`ConnectionId`](crate::core::ConnectionId). The
//! channel between them is bounded, so a flood of connections waits in the kernel's accept
//! queue rather than in memory.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::socket::Socket;

/// How many accepted connections may wait for the broker task.
pub(super) const ACCEPT_QUEUE: usize = 64;

/// A new connection for the broker task.
#[derive(Debug)]
pub(super) struct Incoming {
    /// Its socket.
    pub(super) socket: Socket,
    /// The user name its TLS client certificate maps to, if the listener maps them.
    pub(super) user: Option<String>,
}

/// Accepts connections until the broker task stops taking them.
pub(super) async fn accept_loop(listener: TcpListener, accepted: mpsc::Sender<Incoming>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Typically out of file descriptors: wait instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        debug!(%peer, "connection accepted");
        let incoming = Incoming {
            socket: Socket::Tcp(stream),
            user: None,
        };
        if accepted.send(incoming).await.is_err() {
            return;
        }
    }
}
