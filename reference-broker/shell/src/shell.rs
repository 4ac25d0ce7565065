//! The tokio shell: sockets, timers and nothing else. It accepts TCP connections, hands the
//! bytes it reads to the sans-IO [`Broker`] core with the current time, and carries out the
//! [`Action`]s the core returns. It makes no protocol decisions.
//!
//! Tasks: one accept loop; per connection a reader and a writer task; one broker task that
//! owns the core and is the only place where state changes. Readers feed the broker task
//! through a bounded channel, and each reader has at most `READS_IN_FLIGHT` chunks waiting
//! in it, so a flood of input is held back at the socket and one busy client cannot fill the
//! queue for everyone.
//!
//! Output waiting for a slow peer is bounded too: the core stops sending PUBLISH packets to
//! a connection with more than `max_unflushed_bytes` unwritten, and the shell stops *reading*
//! from a connection whose unwritten output exceeds that plus one `maximum_packet_size`
//! (a peer that sends requests but never reads the answers cannot grow the writer's queue
//! without bound). Writers send everything queued at once in as few writes as possible.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::core::{Action, Broker, ConnectionId};

/// How many bytes a reader asks the socket for at once.
const READ_CHUNK: usize = 16 * 1024;
/// How many reader events may wait for the broker task before readers are held back.
const EVENT_QUEUE: usize = 256;
/// How many chunks one connection's reader may have read and not yet seen processed.
const READS_IN_FLIGHT: usize = 2;
/// How long a clean shutdown waits for writers to flush.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How many queued bytes a writer gathers into one write.
const WRITE_BATCH: usize = 64 * 1024;

enum Event {
    Opened(ConnectionId, Connection),
    /// Bytes read; the permit returns the reader's credit once the event is handled.
    Data(ConnectionId, Bytes, OwnedSemaphorePermit),
    Closed(ConnectionId),
    Flushed(ConnectionId),
}

enum Write {
    Bytes(Bytes),
    Close,
}

struct Connection {
    writer: mpsc::UnboundedSender<Write>,
    backlog: Arc<Backlog>,
    paused: watch::Sender<bool>,
    reader: JoinHandle<()>,
}

/// The bytes handed to a connection's writer and not yet written to its socket.
struct Backlog {
    bytes: AtomicUsize,
    /// Above this many bytes the connection is not read from.
    limit: usize,
    drained: Notify,
}

impl Backlog {
    fn new(limit: usize) -> Self {
        Backlog {
            bytes: AtomicUsize::new(0),
            limit,
            drained: Notify::new(),
        }
    }

    fn add(&self, n: usize) {
        self.bytes.fetch_add(n, Ordering::AcqRel);
    }

    fn written(&self, n: usize) {
        let before = self.bytes.fetch_sub(n, Ordering::AcqRel);
        if before > self.limit && before.saturating_sub(n) <= self.limit {
            self.drained.notify_one();
        }
    }

    /// Waits until the backlog is at or below the limit.
    async fn below_limit(&self) {
        while self.bytes.load(Ordering::Acquire) > self.limit {
            // `notify_one` keeps a permit when nobody waits, so a drain between the check
            // and this await is not missed.
            self.drained.notified().await;
        }
    }
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
    let write_limit = config
        .max_unflushed_bytes
        .saturating_add(config.maximum_packet_size as usize);
    let accept = tokio::spawn(accept_loop(listener, events_tx, write_limit));
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
                    Event::Data(id, bytes, _credit) => {
                        if conns.contains_key(&id) && !closed_by_core.contains(&id) {
                            core.bytes_received(id, &bytes, now);
                        }
                    }
                    Event::Closed(id) => {
                        // After an Action::Close the core has already forgotten the connection.
                        let closed_by_us = closed_by_core.remove(&id);
                        if conns.remove(&id).is_some() && !closed_by_us {
                            core.connection_closed(id, now);
                        }
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
                    c.backlog.add(bytes.len());
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

async fn accept_loop(listener: TcpListener, events: mpsc::Sender<Event>, write_limit: usize) {
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
        // Reserve the slot for `Opened` before the reader task exists: the reader's first
        // `Data` then cannot overtake it (data for an unknown connection would be dropped).
        let Ok(slot) = events.reserve().await else {
            return;
        };
        slot.send(open(id, stream, events.clone(), write_limit));
    }
}

fn open(
    id: ConnectionId,
    stream: TcpStream,
    events: mpsc::Sender<Event>,
    write_limit: usize,
) -> Event {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let (writer_tx, writer_rx) = mpsc::unbounded_channel();
    let (paused_tx, paused_rx) = watch::channel(false);
    let backlog = Arc::new(Backlog::new(write_limit));
    tokio::spawn(writer_task(
        id,
        write,
        writer_rx,
        backlog.clone(),
        events.clone(),
    ));
    let reader = tokio::spawn(reader_task(id, read, paused_rx, backlog.clone(), events));
    Event::Opened(
        id,
        Connection {
            writer: writer_tx,
            backlog,
            paused: paused_tx,
            reader,
        },
    )
}

async fn reader_task(
    id: ConnectionId,
    mut read: OwnedReadHalf,
    mut paused: watch::Receiver<bool>,
    backlog: Arc<Backlog>,
    events: mpsc::Sender<Event>,
) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let credits = Arc::new(Semaphore::new(READS_IN_FLIGHT));
    loop {
        if paused.wait_for(|p| !*p).await.is_err() {
            return;
        }
        backlog.below_limit().await;
        let Ok(credit) = credits.clone().acquire_owned().await else {
            return;
        };
        buf.reserve(READ_CHUNK);
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = events.send(Event::Closed(id)).await;
                return;
            }
            Ok(_) => {
                let data = buf.split().freeze();
                if events.send(Event::Data(id, data, credit)).await.is_err() {
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
    backlog: Arc<Backlog>,
    events: mpsc::Sender<Event>,
) {
    let mut batch = BytesMut::new();
    while let Some(first) = rx.recv().await {
        // Gather what is already queued (up to a batch) into one write.
        let mut close = false;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Write::Bytes(bytes) => batch.extend_from_slice(&bytes),
                Write::Close => {
                    close = true;
                    break;
                }
            }
            if batch.len() < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let n = batch.len();
            if write.write_all(&batch).await.is_err() {
                let _ = events.send(Event::Closed(id)).await;
                return;
            }
            batch.clear();
            if batch.capacity() > 4 * WRITE_BATCH {
                // Do not keep the memory of one exceptionally large packet.
                batch = BytesMut::new();
            }
            backlog.written(n);
        }
        if close {
            let _ = write.flush().await;
            let _ = write.shutdown().await;
            let _ = events.send(Event::Closed(id)).await;
            return;
        }
        if rx.is_empty() {
            let _ = events.send(Event::Flushed(id)).await;
        }
    }
}
