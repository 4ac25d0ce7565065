//! # mqttspec-transport
//!
//! The transport beneath mqttspec's test client, replay runner, fuzzer and load generator:
//! plain TCP, TLS, WebSocket or WebSocket over TLS, seen by everything above as one byte
//! stream ([`Conn`]), and the broker address syntax every command takes ([`address`]).
//!
//! | file | what it holds |
//! |---|---|
//! | `address.rs` | the address syntax (`host:port`, `mqtt://`, `mqtts://`, `ws://`, `wss://`), parsed and resolved in one place |
//! | `lib.rs` | [`Endpoint`] (where and how to connect), [`Scheme`], [`connect`], [`TransportInfo`] |
//! | `tls.rs` | [`tls::TlsOptions`] and the rustls client configuration (CA file or system roots, client certificate, server name, `--insecure`) |
//! | `ws.rs` | the WebSocket side: the handshake with the `mqtt` subprotocol, and [`ws::WsBytes`], which turns binary messages into a byte stream (one write is one binary frame; packets may span frames) |
//! | `conn.rs` | [`Conn`], the byte stream of any transport, with the frame-level escape hatch the WebSocket cases use |
//! | `error.rs` | [`ConnectError`]: every way a connection can fail to open, each one line |
//!
//! Every step of opening a connection (TCP connect, TLS handshake, WebSocket handshake) is
//! bounded by one deadline, so a broker that answers a TLS ClientHello with silence, or an
//! HTTP server that never answers the upgrade, costs the connect timeout and no more.

pub mod address;
pub mod conn;
pub mod error;
pub mod tls;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_util::either::Either;

pub use conn::Conn;
pub use error::{ConnectError, WsFailure};

use crate::address::ParsedAddress;
use tls::TlsSetup;

/// How bytes reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain TCP (`host:port`, `mqtt://`).
    Tcp,
    /// TLS over TCP (`mqtts://`).
    Tls,
    /// WebSocket (`ws://`).
    Ws,
    /// WebSocket over TLS (`wss://`).
    Wss,
}

impl Scheme {
    /// The URL scheme (`mqtt`, `mqtts`, `ws`, `wss`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Tcp => "mqtt",
            Scheme::Tls => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }

    /// The port used when the address names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Tcp => 1883,
            Scheme::Tls => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    /// Whether the transport includes TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Tls | Scheme::Wss)
    }

    /// Whether the transport is WebSocket.
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

/// Where and how to connect to a broker: cheap to clone.
#[derive(Debug, Clone)]
pub struct Endpoint {
    addr: SocketAddr,
    scheme: Scheme,
    host: String,
    port: u16,
    path: String,
    /// Written with a scheme (shown as a URL) rather than as `host:port` (shown as the
    /// resolved socket address, as before transports existed).
    url_form: bool,
    tls: Option<Arc<TlsSetup>>,
}

impl Endpoint {
    /// An endpoint from a parsed address, its resolved socket address and (for TLS schemes)
    /// the TLS setup.
    pub fn new(addr: SocketAddr, parsed: ParsedAddress, tls: Option<TlsSetup>) -> Endpoint {
        Endpoint {
            addr,
            scheme: parsed.scheme,
            host: parsed.host,
            port: parsed.port,
            path: parsed.path,
            url_form: parsed.with_scheme,
            tls: tls.map(Arc::new),
        }
    }

    /// Plain TCP to `addr` (what `host:port` means).
    pub fn tcp(addr: SocketAddr) -> Endpoint {
        Endpoint {
            addr,
            scheme: Scheme::Tcp,
            host: addr.ip().to_string(),
            port: addr.port(),
            path: String::new(),
            url_form: false,
            tls: None,
        }
    }

    /// The resolved socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The transport.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host as written in the address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The WebSocket path (empty for TCP and TLS).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The TLS setup (TLS schemes only).
    pub fn tls(&self) -> Option<&TlsSetup> {
        self.tls.as_deref()
    }

    /// The same endpoint on another socket address (same scheme, TLS and path).
    pub fn with_addr(&self, addr: SocketAddr) -> Endpoint {
        let mut e = self.clone();
        e.addr = addr;
        e.port = addr.port();
        if !e.url_form {
            e.host = addr.ip().to_string();
        }
        e
    }

    /// The WebSocket URL of this endpoint (for the handshake request).
    pub fn ws_url(&self) -> String {
        format!(
            "{}://{}:{}{}",
            self.scheme.as_str(),
            bracket(&self.host),
            self.port,
            self.path
        )
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.url_form {
            return write!(f, "{}", self.addr);
        }
        write!(
            f,
            "{}://{}:{}{}",
            self.scheme.as_str(),
            bracket(&self.host),
            self.port,
            self.path
        )
    }
}

impl PartialEq for Endpoint {
    /// Same address, transport, path and TLS options.
    fn eq(&self, other: &Self) -> bool {
        self.addr == other.addr
            && self.scheme == other.scheme
            && self.host == other.host
            && self.port == other.port
            && self.path == other.path
            && self.url_form == other.url_form
            && self.tls.as_ref().map(|t| &t.options) == other.tls.as_ref().map(|t| &t.options)
    }
}

impl Eq for Endpoint {}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint::tcp(addr)
    }
}

impl From<&Endpoint> for Endpoint {
    fn from(e: &Endpoint) -> Self {
        e.clone()
    }
}

/// What a connection negotiated: the reports record it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportInfo {
    /// `mqtt`, `mqtts`, `ws` or `wss`.
    pub transport: String,
    /// The endpoint as given.
    pub endpoint: String,
    /// The TLS protocol version negotiated (TLS schemes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    /// The TLS cipher suite negotiated (TLS schemes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// The certificate of the broker was not verified (`--insecure`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// A client certificate was offered (mutual TLS).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_certificate: bool,
    /// The WebSocket subprotocol the server selected (WebSocket schemes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_subprotocol: Option<String>,
}

impl TransportInfo {
    /// One line for the console: `mqtts (TLSv1_3, TLS13_AES_256_GCM_SHA384)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = &self.tls_version {
            parts.push(v.clone());
        }
        if let Some(c) = &self.cipher_suite {
            parts.push(c.clone());
        }
        if self.client_certificate {
            parts.push("client certificate".to_owned());
        }
        if self.insecure {
            parts.push("INSECURE: broker certificate not verified".to_owned());
        }
        if let Some(p) = &self.ws_subprotocol {
            parts.push(format!("subprotocol {p}"));
        }
        if parts.is_empty() {
            self.transport.clone()
        } else {
            format!("{} ({})", self.transport, parts.join(", "))
        }
    }
}

/// Opens a connection to `endpoint`: TCP, then TLS and the WebSocket handshake as the scheme
/// says, all within `limit`.
pub async fn connect(
    endpoint: &Endpoint,
    limit: Duration,
) -> Result<(Conn, TransportInfo), ConnectError> {
    connect_offering(endpoint, limit, true).await
}

/// [`connect`], with the `mqtt` WebSocket subprotocol offered only when `offer_mqtt` (a
/// client breaking MQTT-6.0.0-3 offers none: the reference client's `ws-no-subprotocol`
/// fault in the client suite).
pub async fn connect_offering(
    endpoint: &Endpoint,
    limit: Duration,
    offer_mqtt: bool,
) -> Result<(Conn, TransportInfo), ConnectError> {
    let deadline = Instant::now() + limit;
    let timed_out = |stage: &'static str| ConnectError::Timeout {
        endpoint: endpoint.to_string(),
        stage,
        limit,
    };
    let tcp = match timeout_at(deadline, TcpStream::connect(endpoint.addr)).await {
        Err(_) => return Err(timed_out("TCP connect")),
        Ok(Err(e)) => {
            return Err(ConnectError::Tcp {
                endpoint: endpoint.to_string(),
                addr: endpoint.addr,
                reason: e.to_string(),
                kind: e.kind(),
            })
        }
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);
    let mut info = TransportInfo {
        transport: endpoint.scheme.as_str().to_owned(),
        endpoint: endpoint.to_string(),
        ..TransportInfo::default()
    };
    let base = match (endpoint.scheme.is_tls(), endpoint.tls()) {
        (false, _) => Either::Left(tcp),
        (true, None) => {
            return Err(ConnectError::Tls {
                endpoint: endpoint.to_string(),
                reason: "no TLS configuration".to_owned(),
                hint: "",
            })
        }
        (true, Some(setup)) => {
            let connector = tokio_rustls::TlsConnector::from(setup.config.clone());
            let stream =
                match timeout_at(deadline, connector.connect(setup.server_name.clone(), tcp)).await
                {
                    Err(_) => return Err(timed_out("TLS handshake")),
                    Ok(Err(e)) => return Err(ConnectError::tls(endpoint, &e)),
                    Ok(Ok(s)) => s,
                };
            let (_, session) = stream.get_ref();
            info.tls_version = session.protocol_version().map(|v| format!("{v:?}"));
            info.cipher_suite = session
                .negotiated_cipher_suite()
                .map(|c| format!("{:?}", c.suite()));
            info.insecure = setup.options.insecure;
            info.client_certificate = setup.options.cert.is_some();
            Either::Right(Box::new(stream))
        }
    };
    if !endpoint.scheme.is_websocket() {
        return Ok((Conn::stream(base), info));
    }
    let ws = match timeout_at(deadline, ws::handshake(endpoint, base, offer_mqtt)).await {
        Err(_) => return Err(timed_out("WebSocket handshake")),
        Ok(r) => r?,
    };
    info.ws_subprotocol = ws.subprotocol().map(str::to_owned);
    Ok((Conn::ws(ws), info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::parse;

    #[test]
    fn endpoints_display_as_given() {
        let addr: SocketAddr = "127.0.0.1:8883".parse().unwrap();
        assert_eq!(Endpoint::tcp(addr).to_string(), "127.0.0.1:8883");
        let bare = Endpoint::new(addr, parse("localhost:8883").unwrap(), None);
        assert_eq!(bare.to_string(), "127.0.0.1:8883");
        let e = Endpoint::new(addr, parse("wss://localhost:8883").unwrap(), None);
        assert_eq!(e.to_string(), "wss://localhost:8883/mqtt");
        assert_eq!(e.ws_url(), "wss://localhost:8883/mqtt");
        let moved = e.with_addr("127.0.0.1:9".parse().unwrap());
        assert_eq!(moved.to_string(), "wss://localhost:9/mqtt");
    }

    #[tokio::test]
    async fn a_refused_connection_is_one_line() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = connect(&Endpoint::tcp(addr), Duration::from_secs(2))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("refused") && !err.contains('\n'), "{err}");
    }
}
