//! The accept task: takes new TCP connections off the listening socket and hands them to
//! the broker task, which gives them their [`ConnectionId`](crate::core::ConnectionId). The
//! channel between them is bounded, so a flood of connections waits in the kernel's accept
//! queue rather than in memory.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// How many accepted connections may wait for the broker task.
pub(super) const ACCEPT_QUEUE: usize = 64;

/// Accepts connections until the broker task stops taking them.
pub(super) async fn accept_loop(listener: TcpListener, accepted: mpsc::Sender<TcpStream>) {
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
        if accepted.send(stream).await.is_err() {
            return;
        }
    }
}
