//! The tokio shell: sockets, timers and nothing else. It accepts TCP connections, hands the
//! bytes it reads to the sans-IO [`Broker`] core with the current time, and carries out the
//! [`Action`]s the core returns. It makes no protocol decisions.
//!
//! Tasks: one accept loop; per connection a reader and a writer task; one broker task that
//! owns the core and is the only place where state changes. Readers feed the broker task
//! through a bounded channel, so a flood of input is held back at the socket.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::core::{Action, Broker, ConnectionId};

/// How many bytes a reader asks the socket for at once.
const READ_CHUNK: usize = 16 * 1024;
/// How many reader events may wait for the broker task before readers are held back.
const EVENT_QUEUE: usize = 256;
/// How long a clean shutdown waits for writers to flush.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

enum Event {
    Opened(ConnectionId, Connection),
    Data(ConnectionId, Bytes),
    Closed(ConnectionId),
    Flushed(ConnectionId),
}

enum Write {
    Bytes(Bytes),
    Close,
}

struct Connection {
    writer: mpsc::UnboundedSender<Write>,
    paused: watch::Sender<bool>,
    reader: JoinHandle<()>,
}

/// A broker running on a tokio runtime; stop it with [`RunningBroker::stop`].
#[derive(Debug)]
pub struct RunningBroker {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningBroker {
    /// Binds `addr` and starts serving with `config`.
    pub async fn start(addr: SocketAddr, config: Config) -> std::io::Result<RunningBroker> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            serve(listener, config, async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(RunningBroker {
            local_addr,
            shutdown: Some(tx),
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Shuts down cleanly (DISCONNECT 0x8B to v5 clients, then close) and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Serves MQTT on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let origin = Instant::now();
    let (events_tx, mut events) = mpsc::channel::<Event>(EVENT_QUEUE);
    let accept = tokio::spawn(accept_loop(listener, events_tx));
    let mut core = Broker::new(config);
    let mut conns: HashMap<ConnectionId, Connection> = HashMap::new();
    let mut closed_by_core: HashSet<ConnectionId> = HashSet::new();
    tokio::pin!(shutdown);
    loop {
        let deadline = core.poll_timeout().map(|d| origin + d);
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                let now = origin.elapsed();
                match event {
                    Event::Opened(id, conn) => {
                        conns.insert(id, conn);
                        core.connection_opened(id, now);
                    }
                    Event::Data(id, bytes) => {
                        if conns.contains_key(&id) && !closed_by_core.contains(&id) {
                            core.bytes_received(id, &bytes, now);
                        }
                    }
                    Event::Closed(id) => {
                        if conns.remove(&id).is_some() && !closed_by_core.remove(&id) {
                            core.connection_closed(id, now);
                        }
                        closed_by_core.remove(&id);
                    }
                    Event::Flushed(id) => {
                        if conns.contains_key(&id) && !closed_by_core.contains(&id) {
                            core.connection_flushed(id, now);
                        }
                    }
                }
            }
            () = sleep_until_opt(deadline) => {
                core.handle_timeout(origin.elapsed());
            }
            () = &mut shutdown => {
                info!("shutting down");
                core.shutdown(origin.elapsed());
                carry_out(&mut core, &mut conns, &mut closed_by_core);
                break;
            }
        }
        carry_out(&mut core, &mut conns, &mut closed_by_core);
    }
    accept.abort();
    // Let writers flush what the core sent last (DISCONNECT 0x8B), within a grace period.
    for (_, conn) in conns.drain() {
        let _ = conn.writer.send(Write::Close);
        conn.reader.abort();
    }
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            e = events.recv() => if e.is_none() { break },
            () = &mut grace => break,
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn carry_out(
    core: &mut Broker,
    conns: &mut HashMap<ConnectionId, Connection>,
    closed_by_core: &mut HashSet<ConnectionId>,
) {
    while let Some(action) = core.poll_action() {
        match action {
            Action::Send { conn, bytes, .. } => {
                if let Some(c) = conns.get(&conn) {
                    let _ = c.writer.send(Write::Bytes(bytes));
                }
            }
            Action::Close { conn, reason } => {
                debug!(?conn, ?reason, "closing connection");
                if let Some(c) = conns.get(&conn) {
                    let _ = c.writer.send(Write::Close);
                    c.reader.abort();
                    closed_by_core.insert(conn);
                }
            }
            Action::PauseReading { conn } => {
                if let Some(c) = conns.get(&conn) {
                    let _ = c.paused.send(true);
                }
            }
            Action::ResumeReading { conn } => {
                if let Some(c) = conns.get(&conn) {
                    let _ = c.paused.send(false);
                }
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, events: mpsc::Sender<Event>) {
    let next_id = Arc::new(AtomicU64::new(1));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = ConnectionId(next_id.fetch_add(1, Ordering::Relaxed));
        debug!(?id, %peer, "connection accepted");
        if events.send(open(id, stream, events.clone())).await.is_err() {
            return;
        }
    }
}

fn open(id: ConnectionId, stream: TcpStream, events: mpsc::Sender<Event>) -> Event {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let (writer_tx, writer_rx) = mpsc::unbounded_channel();
    let (paused_tx, paused_rx) = watch::channel(false);
    tokio::spawn(writer_task(id, write, writer_rx, events.clone()));
    let reader = tokio::spawn(reader_task(id, read, paused_rx, events));
    Event::Opened(
        id,
        Connection {
            writer: writer_tx,
            paused: paused_tx,
            reader,
        },
    )
}

async fn reader_task(
    id: ConnectionId,
    mut read: OwnedReadHalf,
    mut paused: watch::Receiver<bool>,
    events: mpsc::Sender<Event>,
) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        if paused.wait_for(|p| !*p).await.is_err() {
            return;
        }
        buf.reserve(READ_CHUNK);
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = events.send(Event::Closed(id)).await;
                return;
            }
            Ok(_) => {
                let data = buf.split().freeze();
                if events.send(Event::Data(id, data)).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn writer_task(
    id: ConnectionId,
    mut write: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Write>,
    events: mpsc::Sender<Event>,
) {
    while let Some(msg) = rx.recv().await {
        match msg {
            Write::Bytes(bytes) => {
                if write.write_all(&bytes).await.is_err() {
                    let _ = events.send(Event::Closed(id)).await;
                    return;
                }
                if rx.is_empty() {
                    let _ = events.send(Event::Flushed(id)).await;
                }
            }
            Write::Close => {
                let _ = write.flush().await;
                let _ = write.shutdown().await;
                let _ = events.send(Event::Closed(id)).await;
                return;
            }
        }
    }
}
