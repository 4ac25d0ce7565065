//! The transports the scripted broker listens on: plain TCP, TLS, WebSocket and WebSocket over
//! TLS, the schemes `mqttspec run --transport` takes.
//!
//! The TLS and WebSocket layers are the reference broker's own
//! ([`mqttspec_reference_broker::shell::Terminator`]: the handshakes and relay tasks of its
//! listeners), so the scripted broker reads and writes a plain byte stream on every transport
//! ([`Wire`]). TLS uses a throwaway CA generated once per run
//! ([`mqttspec_harness::embedded::ThrowawayTls`]); the adapter is told where its certificate
//! is (`ca_file` in the `connect` command, see `ADAPTER.md`).

use std::sync::Arc;
use std::time::Duration;

use mqttspec_harness::embedded::ThrowawayTls;
use mqttspec_harness::transport::Scheme;
use mqttspec_reference_broker::shell::{HandshakeError, Terminated, Terminator};
use serde_json::{json, Map, Value};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::either::Either;

/// The HTTP path of the WebSocket upgrade.
pub const WS_PATH: &str = "/mqtt";

/// How long the TLS and WebSocket handshakes of one connection may take together.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// The largest WebSocket message taken from a client.
const MAX_WS_MESSAGE: usize = 2 * 1024 * 1024;

/// The name of a scheme in the adapter protocol (`transport` of `connect`).
pub fn adapter_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Tcp => "tcp",
        Scheme::Tls => "tls",
        Scheme::Ws => "ws",
        Scheme::Wss => "wss",
    }
}

/// The transports of one run: the run's own, and WebSocket for the section 6 cases.
#[derive(Debug)]
pub struct Transports {
    run: Scheme,
    tls: Option<ThrowawayTls>,
}

impl Transports {
    /// The transports of a run over `run`; TLS schemes generate the throwaway CA.
    pub fn new(run: Scheme) -> Result<Transports, String> {
        let tls = if run.is_tls() {
            Some(ThrowawayTls::generate()?)
        } else {
            None
        };
        Ok(Transports { run, tls })
    }

    /// Plain TCP (no CA).
    pub fn plain() -> Transports {
        Transports {
            run: Scheme::Tcp,
            tls: None,
        }
    }

    /// The run's scheme.
    pub fn scheme(&self) -> Scheme {
        self.run
    }

    /// The WebSocket scheme of the section 6 cases: `wss` on a TLS run, `ws` otherwise.
    pub fn websocket(&self) -> Scheme {
        if self.run.is_tls() {
            Scheme::Wss
        } else {
            Scheme::Ws
        }
    }

    /// How connections of `scheme` are accepted. `None` for plain TCP.
    pub fn terminator(&self, scheme: Scheme) -> Option<Terminator> {
        if scheme == Scheme::Tcp {
            return None;
        }
        let tls = if scheme.is_tls() {
            // A TLS scheme other than the run's own is never asked for (see `websocket`).
            Some(self.tls.as_ref()?.server.clone())
        } else {
            None
        };
        let path = scheme.is_websocket().then(|| WS_PATH.to_owned());
        Some(Terminator::new(tls, path, MAX_WS_MESSAGE, HANDSHAKE_LIMIT))
    }

    /// The fields of the `connect` command that name the transport (none for plain TCP, so
    /// that TCP commands stay as they were).
    pub fn connect_fields(&self, scheme: Scheme) -> Map<String, Value> {
        let mut m = Map::new();
        if scheme == Scheme::Tcp {
            return m;
        }
        m.insert("transport".into(), json!(adapter_name(scheme)));
        if scheme.is_websocket() {
            m.insert("path".into(), json!(WS_PATH));
        }
        if let (true, Some(tls)) = (scheme.is_tls(), &self.tls) {
            m.insert("ca_file".into(), json!(tls.ca_file().display().to_string()));
        }
        m
    }
}

/// A connection's byte stream on the scripted broker's side: plain TCP, or the pipe from the
/// relay task that terminates TLS and/or WebSocket.
pub type Wire = Either<TcpStream, UnixStream>;

/// What the relay task of a TLS or WebSocket connection offers besides the bytes.
#[derive(Debug)]
pub struct Relay {
    /// WebSocket only: each string sent here reaches the client as one text frame.
    pub frames: Option<mpsc::Sender<String>>,
    /// Why the relay closed the connection, when a frame from the client broke section 6.
    pub ended: oneshot::Receiver<Option<&'static str>>,
}

/// Accepts `tcp` as `terminator` says (plain TCP without one): the byte stream, and the
/// relay's extras.
pub async fn open(
    tcp: TcpStream,
    terminator: Option<&Terminator>,
) -> Result<(Wire, Option<Relay>), HandshakeError> {
    let Some(t) = terminator else {
        let _ = tcp.set_nodelay(true);
        return Ok((Either::Left(tcp), None));
    };
    let Terminated {
        pipe,
        frames,
        ended,
    } = t.open(tcp).await?;
    Ok((Either::Right(pipe), Some(Relay { frames, ended })))
}

/// Shared by every case run of one run.
pub type SharedTransports = Arc<Transports>;
