//! Where the broker listens: plain TCP, TLS, WebSocket and WebSocket over TLS, in any mix.
//!
//! A listener is written as an address: `host:port` or `mqtt://host:port` (plain TCP),
//! `mqtts://host:port` (TLS), `ws://host:port/path` and `wss://host:port/path` (WebSocket,
//! path `/mqtt` when none is given). The TLS listeners share one server certificate
//! ([`TlsServerOptions`]: `--tls-cert`, `--tls-key`, optionally `--tls-client-ca` for client
//! certificates, and the mapping of a client certificate's subject Common Name to the user
//! name). The configuration file holds the same as `[[listener]]` tables and a `[tls]` table
//! ([`ListenerFile`]).

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;

/// The transport of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerKind {
    /// Plain TCP (`host:port`, `mqtt://`).
    Tcp,
    /// TLS over TCP (`mqtts://`).
    Tls,
    /// WebSocket (`ws://`).
    Ws,
    /// WebSocket over TLS (`wss://`).
    Wss,
}

impl ListenerKind {
    /// The URL scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            ListenerKind::Tcp => "mqtt",
            ListenerKind::Tls => "mqtts",
            ListenerKind::Ws => "ws",
            ListenerKind::Wss => "wss",
        }
    }

    /// Whether it needs the TLS settings.
    pub fn is_tls(self) -> bool {
        matches!(self, ListenerKind::Tls | ListenerKind::Wss)
    }

    /// Whether it speaks WebSocket.
    pub fn is_websocket(self) -> bool {
        matches!(self, ListenerKind::Ws | ListenerKind::Wss)
    }
}

/// One listener: transport, socket address and (WebSocket) path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// The transport.
    pub kind: ListenerKind,
    /// Where to bind.
    pub addr: SocketAddr,
    /// The HTTP path of the WebSocket upgrade (WebSocket only; empty otherwise).
    pub path: String,
}

impl ListenerSpec {
    /// A plain TCP listener.
    pub fn tcp(addr: SocketAddr) -> ListenerSpec {
        ListenerSpec {
            kind: ListenerKind::Tcp,
            addr,
            path: String::new(),
        }
    }

    /// The same listener on another address (the port a `:0` bind got).
    pub fn with_addr(&self, addr: SocketAddr) -> ListenerSpec {
        ListenerSpec {
            addr,
            ..self.clone()
        }
    }
}

impl fmt::Display for ListenerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.kind.scheme(), self.addr, self.path)
    }
}

/// A listener address that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("listener `{address}`: {reason}")]
pub struct BadListener {
    /// The address as written.
    pub address: String,
    /// What is wrong.
    pub reason: String,
}

impl FromStr for ListenerSpec {
    type Err = BadListener;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| BadListener {
            address: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (kind, rest) = match s.split_once("://") {
            None => (ListenerKind::Tcp, s),
            Some(("mqtt" | "tcp", rest)) => (ListenerKind::Tcp, rest),
            Some(("mqtts" | "ssl" | "tls", rest)) => (ListenerKind::Tls, rest),
            Some(("ws", rest)) => (ListenerKind::Ws, rest),
            Some(("wss", rest)) => (ListenerKind::Wss, rest),
            Some(_) => return Err(bad("the scheme is not one of mqtt, mqtts, ws, wss")),
        };
        let (hostport, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if !kind.is_websocket() && !path.is_empty() && path != "/" {
            return Err(bad("only WebSocket listeners (ws://, wss://) have a path"));
        }
        let path = match (kind.is_websocket(), path) {
            (false, _) => String::new(),
            (true, "") => "/mqtt".to_owned(),
            (true, p) => p.to_owned(),
        };
        let addr = match hostport.parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => hostport
                .to_socket_addrs()
                .map_err(|e| bad(&format!("expected host:port ({e})")))?
                .next()
                .ok_or_else(|| bad("the host resolves to no address"))?,
        };
        Ok(ListenerSpec { kind, addr, path })
    }
}

/// The TLS settings of the TLS listeners (`mqtts://`, `wss://`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsServerOptions {
    /// PEM file of the server certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM file of the server's private key.
    pub key: Option<PathBuf>,
    /// PEM file of the certificate authorities client certificates must chain to: with it,
    /// clients are asked for a certificate, and one that does not verify fails the handshake.
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: a client may also connect without a certificate (one it offers must
    /// still verify). Default: a certificate is required.
    pub client_cert_optional: bool,
    /// With `client_ca`: the subject Common Name of a verified client certificate becomes the
    /// user name, and the CONNECT's User Name and Password are not checked.
    pub cert_cn_as_username: bool,
}

/// The listener part of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenerFile {
    /// `[[listener]]` tables, each with an `address`.
    pub listener: Vec<ListenerEntry>,
    /// The `[tls]` table.
    pub tls: TlsServerOptions,
}

/// One `[[listener]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerEntry {
    /// The listener's address (`mqtts://127.0.0.1:8883`, ...).
    pub address: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        let l: ListenerSpec = "127.0.0.1:1883".parse().unwrap();
        assert_eq!(l, ListenerSpec::tcp("127.0.0.1:1883".parse().unwrap()));
        let l: ListenerSpec = "mqtts://127.0.0.1:8883".parse().unwrap();
        assert_eq!((l.kind, l.path.as_str()), (ListenerKind::Tls, ""));
        let l: ListenerSpec = "ws://127.0.0.1:8080".parse().unwrap();
        assert_eq!((l.kind, l.path.as_str()), (ListenerKind::Ws, "/mqtt"));
        let l: ListenerSpec = "wss://[::1]:8443/x/y".parse().unwrap();
        assert_eq!((l.kind, l.path.as_str()), (ListenerKind::Wss, "/x/y"));
        assert_eq!(l.to_string(), "wss://[::1]:8443/x/y");
        assert!("http://127.0.0.1:1".parse::<ListenerSpec>().is_err());
        assert!("mqtts://127.0.0.1:1/mqtt".parse::<ListenerSpec>().is_err());
        assert!("127.0.0.1".parse::<ListenerSpec>().is_err());
    }

    #[test]
    fn the_file_part_parses() {
        let f: ListenerFile = toml::from_str(
            r#"
            [[listener]]
            address = "127.0.0.1:1883"
            [[listener]]
            address = "wss://127.0.0.1:8443/mqtt"
            [tls]
            cert = "server.pem"
            key = "server.key"
            client_ca = "ca.pem"
            cert_cn_as_username = true
            "#,
        )
        .unwrap();
        assert_eq!(f.listener.len(), 2);
        assert!(f.tls.cert_cn_as_username);
    }
}
