//! The tokio shell: sockets, timers and nothing else. It accepts TCP connections, hands what
//! it reads to the sans-IO [`Broker`](crate::core::Broker) core with the current time, and
//! carries out the [`Action`](crate::core::Action)s the core returns. It makes no protocol
//! decisions.
//!
//! # The data path
//!
//! Two tasks: the accept task (`listener`) and the broker task (`broker_task`), which
//! owns the core and every connection's socket, and is the only place where state changes.
//! There is no task per connection. A PUBLISH crosses no task boundary on its way through
//! the broker, and its bytes are not copied between the socket and the core:
//!
//! 1. tokio's I/O driver finds the publisher's socket readable and wakes that connection's
//!    waker, which records it in the shared `readiness` set and wakes the broker task;
//! 2. the broker task reads once from the socket (at least 16 KiB) into the connection's
//!    buffer and cuts the whole packets out of it (`reader`), which the core decodes where
//!    they lie ([`Broker::frames_received`](crate::core::Broker::frames_received)), without
//!    copying them into an input buffer of its own first (what it keeps, such as an accepted
//!    message, it copies into bytes of its own, for its memory budget);
//! 3. the core routes the message and encodes one PUBLISH per subscriber, plus the
//!    publisher's acknowledgement; each becomes an [`Action::Send`](crate::core::Action::Send)
//!    that the broker task appends to the receiving connection's queue (`output`);
//! 4. once it has read every connection that had input, the broker task writes each queue
//!    to its socket itself, all of it in one vectored write when the socket takes it (with
//!    `TCP_NODELAY` set, it leaves at once). Packets from several publishers that arrived
//!    together thus leave in one write per subscriber; writing right after each connection's
//!    read measured slower (median latency of QoS 1 fan-in at a fixed rate).
//!
//! The `reference-broker` binary runs this on a current-thread runtime (one thread does
//! everything; a lower median latency at a fixed rate than the multi-threaded runtime, the
//! same flat-out throughput). Embedded ([`RunningBroker`], [`serve`]) it runs on whatever
//! runtime the caller has.
//!
//! # Flushed
//!
//! The core limits what it has sent and not yet seen written ([`Config::max_unflushed_bytes`],
//! PUBLISH only). When a write took a connection's whole queue, the broker task tells the
//! core at once, in the same turn
//! ([`Broker::connection_flushed`](crate::core::Broker::connection_flushed)), which may let it
//! send more; that repeats a bounded number of times in a loop (no recursion), and what is
//! still left over is done in the next turn. When the socket did not
//! take everything, the rest waits in the queue, in order, and the core hears "flushed" once
//! tokio has reported the socket writable and the queue has been written out.
//!
//! # Where bytes wait, and how much
//!
//! - Input: at most one read plus one partial packet per connection in its `reader`
//!   buffer (the partial packet is at most the server's Maximum Packet Size; a larger one is
//!   handed to the core as it is, which refuses it). A connection is read only when the
//!   broker task gets to it, so input waiting for the core stays in the kernel's socket
//!   buffer. Reading stops when the core asks
//!   ([`Action::PauseReading`](crate::core::Action::PauseReading)); the core keeps what was
//!   already read (at most one read). Nothing the core keeps refers to a read buffer, so a
//!   read's buffer is freed once its packets have been handled.
//! - Output: a connection's queue holds what its socket has not taken. The core stops
//!   sending it PUBLISH packets above `max_unflushed_bytes`; acknowledgements and other
//!   answers are never held back by the core, so the shell stops *reading* from a connection
//!   whose queue exceeds `max_unflushed_bytes` plus one `maximum_packet_size` (a peer that
//!   sends requests but never reads the answers cannot grow its queue without bound), and
//!   reads it again once the queue is back under that.
//! - Closing: a connection the core closed (or whose peer closed it) is no longer read; its
//!   queue is written out, then the socket is shut down (FIN). If the peer does not take it
//!   within 5 s, the connection is dropped with it.
//!
//! # Modules
//!
//! | module | what it holds |
//! |---|---|
//! | `listener` | the accept task |
//! | `broker_task` | the broker task: the turn, reading, writing, "flushed", carrying out actions |
//! | `connection` | one connection: socket, reader, output queue, wakers, state |
//! | `reader` | reading a socket and cutting whole packets out of the input |
//! | `output` | a connection's queue of unwritten packets and its vectored writes |
//! | `readiness` | the wakers through which tokio reports sockets ready to the broker task |

mod broker_task;
mod connection;
mod listener;
mod output;
mod reader;
mod readiness;

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::info;

use crate::config::Config;
use broker_task::Shell;
use listener::{accept_loop, ACCEPT_QUEUE};
use readiness::Readiness;

/// How long a clean shutdown waits for the last output to be written.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// The timer's deadline while the core has none (far away, but not so far that adding it
/// to the current time overflows).
const NO_DEADLINE: Duration = Duration::from_secs(365 * 24 * 3600);

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
pub async fn serve(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) {
    let readiness = Arc::new(Readiness::default());
    let (accepted_tx, mut accepted) = mpsc::channel(ACCEPT_QUEUE);
    let accept = tokio::spawn(accept_loop(listener, accepted_tx));
    let mut shell = Shell::new(config, Arc::clone(&readiness));
    let timer = tokio::time::sleep(NO_DEADLINE);
    tokio::pin!(timer);
    tokio::pin!(shutdown);
    let mut accepting = true;
    loop {
        if shell.has_work() {
            // Work is left over from the last turn: let other tasks run, then go on
            // without waiting.
            tokio::task::yield_now().await;
            let stop = tokio::select! {
                biased;
                () = &mut shutdown => true,
                () = std::future::ready(()) => false,
            };
            if stop {
                break;
            }
        } else {
            let deadline = shell
                .deadline()
                .unwrap_or_else(|| Instant::now() + NO_DEADLINE);
            // Deadlines mostly move later (every packet restarts its connection's Keep Alive
            // timer): then the timer is left to fire early, once, instead of being re-armed
            // on every turn.
            if timer.is_elapsed() || deadline < timer.deadline() {
                timer.as_mut().reset(deadline);
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = poll_fn(|cx| readiness.poll_any(cx)) => {}
                stream = accepted.recv(), if accepting => match stream {
                    Some(stream) => shell.open(stream),
                    None => accepting = false,
                },
                () = &mut timer => {}
            }
        }
        shell.take_ready();
        while let Ok(stream) = accepted.try_recv() {
            shell.open(stream);
        }
        shell.run_timers();
        shell.turn();
    }
    info!("shutting down");
    accept.abort();
    shell.shut_down();
    // Let the last output (DISCONNECT 0x8B) be written, within a grace period.
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    while !shell.all_closed() {
        if shell.has_work() {
            tokio::task::yield_now().await;
        } else {
            tokio::select! {
                () = poll_fn(|cx| readiness.poll_any(cx)) => {}
                () = &mut grace => break,
            }
        }
        shell.take_ready();
        shell.turn();
    }
}
