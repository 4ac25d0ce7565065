//! The tokio shell: sockets, timers and nothing else. It accepts connections on its
//! listeners (plain TCP, TLS, WebSocket, WebSocket over TLS: see [`crate::listeners`]), hands what
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
//! # TLS and WebSocket
//!
//! Connections on TLS and WebSocket listeners take another way in (`relay`): a task per
//! connection does the handshakes and the framing and passes the bytes through a Unix socket
//! pair, whose other end the broker task owns like a TCP socket (`socket`). Everything above
//! applies to it unchanged; the plain TCP path is untouched by it.
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
//! | `listener` | the accept task of a plain TCP listener, and [`Incoming`](listener::Incoming), what every accept path hands the broker task |
//! | `relay` | the TLS and WebSocket listeners: accept task, handshakes, a relay task per connection |
//! | `websocket` | the WebSocket upgrade and frame relay (section 6), and the WebSocket faults |
//! | `socket` | a connection's socket: TCP, or the pipe to a relay task |
//! | `broker_task` | the broker task: the turn, reading, writing, "flushed", carrying out actions |
//! | `connection` | one connection: socket, reader, output queue, wakers, state |
//! | `reader` | reading a socket and cutting whole packets out of the input |
//! | `output` | a connection's queue of unwritten packets and its vectored writes |
//! | `readiness` | the wakers through which tokio reports sockets ready to the broker task |
//! | `terminate` | [`Terminator`]: a listener's TLS and WebSocket layers for another caller (the client suite's scripted broker), same handshakes and relays |

mod broker_task;
mod connection;
mod listener;
mod output;
mod reader;
mod readiness;
#[cfg(unix)]
mod relay;
mod socket;
#[cfg(unix)]
mod terminate;
mod websocket;

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
use crate::core::fault::Faults;
use crate::listeners::{ListenerKind, ListenerSpec};
use crate::tls::TlsServer;
use broker_task::Shell;
use listener::{accept_loop, ACCEPT_QUEUE};
use readiness::Readiness;
#[cfg(unix)]
pub use terminate::{HandshakeError, Terminated, Terminator};

/// How long a clean shutdown waits for the last output to be written.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// The timer's deadline while the core has none (far away, but not so far that adding it
/// to the current time overflows).
const NO_DEADLINE: Duration = Duration::from_secs(365 * 24 * 3600);

/// A broker running on a tokio runtime; stop it with [`RunningBroker::stop`].
#[derive(Debug)]
pub struct RunningBroker {
    listeners: Vec<ListenerSpec>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Why the broker could not start listening.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error("cannot listen on {listener}: {source}")]
    Bind {
        /// The listener.
        listener: String,
        /// Why.
        source: std::io::Error,
    },
    /// A TLS listener without TLS settings.
    #[error(
        "{listener}: a TLS listener needs a server certificate and key (--tls-cert, --tls-key)"
    )]
    NoTls {
        /// The listener.
        listener: String,
    },
    /// TLS and WebSocket listeners need Unix socket pairs.
    #[error("{listener}: TLS and WebSocket listeners are only available on Unix")]
    Unsupported {
        /// The listener.
        listener: String,
    },
    /// No listener at all.
    #[error("no listener given")]
    NoListener,
}

impl From<StartError> for std::io::Error {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Bind { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        }
    }
}

/// A listener bound to its socket, ready to serve.
#[derive(Debug)]
pub struct BoundListener {
    /// The listener, with the address it got (the port of a `:0` bind).
    pub spec: ListenerSpec,
    listener: TcpListener,
}

/// Binds every listener of `specs`; TLS listeners need `tls`.
pub async fn bind(
    specs: &[ListenerSpec],
    tls: Option<&TlsServer>,
) -> Result<Vec<BoundListener>, StartError> {
    if specs.is_empty() {
        return Err(StartError::NoListener);
    }
    let mut bound = Vec::new();
    for spec in specs {
        if spec.kind.is_tls() && tls.is_none() {
            return Err(StartError::NoTls {
                listener: spec.to_string(),
            });
        }
        if cfg!(not(unix)) && spec.kind != ListenerKind::Tcp {
            return Err(StartError::Unsupported {
                listener: spec.to_string(),
            });
        }
        let listener = TcpListener::bind(spec.addr)
            .await
            .map_err(|source| StartError::Bind {
                listener: spec.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            listener: spec.to_string(),
            source,
        })?;
        bound.push(BoundListener {
            spec: spec.with_addr(addr),
            listener,
        });
    }
    Ok(bound)
}

impl RunningBroker {
    /// Binds `addr` (plain TCP) and starts serving with `config`.
    pub async fn start(addr: SocketAddr, config: Config) -> std::io::Result<RunningBroker> {
        Ok(RunningBroker::start_listeners(&[ListenerSpec::tcp(addr)], None, config).await?)
    }

    /// Binds every listener of `specs` (TLS listeners use `tls`) and starts serving with
    /// `config`.
    pub async fn start_listeners(
        specs: &[ListenerSpec],
        tls: Option<TlsServer>,
        config: Config,
    ) -> Result<RunningBroker, StartError> {
        let bound = bind(specs, tls.as_ref()).await?;
        let listeners = bound.iter().map(|b| b.spec.clone()).collect();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            serve_listeners(bound, tls, config, async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(RunningBroker {
            listeners,
            shutdown: Some(tx),
            task,
        })
    }

    /// The address of its first listener.
    pub fn local_addr(&self) -> SocketAddr {
        self.listeners
            .first()
            .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |l| l.addr)
    }

    /// Its listeners, with the addresses they got.
    pub fn listeners(&self) -> &[ListenerSpec] {
        &self.listeners
    }

    /// Shuts down cleanly (DISCONNECT 0x8B to v5 clients, then close) and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Serves MQTT on `listener` (plain TCP) until `shutdown` completes.
pub async fn serve(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) {
    let spec = ListenerSpec::tcp(
        listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
    );
    serve_listeners(
        vec![BoundListener { spec, listener }],
        None,
        config,
        shutdown,
    )
    .await;
}

/// The largest WebSocket message taken from a client: room for a packet of the server's
/// Maximum Packet Size, within 1 to 16 MiB.
fn max_ws_message(config: &Config) -> usize {
    (config.maximum_packet_size as usize)
        .saturating_add(16)
        .clamp(1 << 20, 16 << 20)
}

/// Starts the accept task of `bound`.
fn start_accepting(
    bound: BoundListener,
    tls: Option<&TlsServer>,
    config: &Config,
    accepted: mpsc::Sender<listener::Incoming>,
) -> JoinHandle<()> {
    let BoundListener { spec, listener } = bound;
    if spec.kind == ListenerKind::Tcp {
        return tokio::spawn(accept_loop(listener, accepted));
    }
    #[cfg(unix)]
    {
        let faults = Faults::parse(&config.faults).unwrap_or_default();
        let ws = spec.kind.is_websocket().then(|| websocket::WsSettings {
            path: spec.path.clone(),
            faults: websocket::WsFaults::from(&faults),
            max_message: max_ws_message(config),
        });
        let relayed = relay::Relayed {
            tls: tls.filter(|_| spec.kind.is_tls()).cloned(),
            ws,
        };
        tokio::spawn(relay::accept_loop(listener, relayed, accepted))
    }
    #[cfg(not(unix))]
    {
        // `bind` refuses these listeners off Unix.
        let _ = (tls, config, listener, accepted);
        tokio::spawn(async {})
    }
}

/// Serves MQTT on every listener of `bound` until `shutdown` completes.
pub async fn serve_listeners(
    bound: Vec<BoundListener>,
    tls: Option<TlsServer>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) {
    let readiness = Arc::new(Readiness::default());
    let (accepted_tx, mut accepted) = mpsc::channel(ACCEPT_QUEUE);
    let accept: Vec<JoinHandle<()>> = bound
        .into_iter()
        .map(|b| start_accepting(b, tls.as_ref(), &config, accepted_tx.clone()))
        .collect();
    drop(accepted_tx);
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
    for task in &accept {
        task.abort();
    }
    // Relay tasks still in a handshake find the channel closed.
    drop(accepted);
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
