//! [`ConnectError`]: why a connection to the broker could not be opened, as one line that
//! says what went wrong and, where the symptom points at a usual mistake (a TLS address for a
//! plain port, a wrong WebSocket path), which one.

use std::net::SocketAddr;
use std::time::Duration;

use super::Endpoint;

/// How a WebSocket handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsFailure {
    /// The server answered the upgrade with this HTTP status.
    Http(u16),
    /// The server did not select the `mqtt` subprotocol (MQTT-6.0.0-4), or selected another.
    Subprotocol,
    /// Anything else (the connection closed, not HTTP, ...).
    Other,
}

/// Why a connection could not be opened.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connection failed (refused, unreachable).
    #[error("{endpoint}: TCP connect to {addr} failed: {reason}")]
    Tcp {
        /// The endpoint as given.
        endpoint: String,
        /// The socket address.
        addr: SocketAddr,
        /// The system's reason.
        reason: String,
        /// Its kind.
        kind: std::io::ErrorKind,
    },
    /// A step did not complete in time.
    #[error(
        "{endpoint}: {stage} did not complete within {limit:?}{}",
        timeout_hint(stage)
    )]
    Timeout {
        /// The endpoint as given.
        endpoint: String,
        /// `TCP connect`, `TLS handshake` or `WebSocket handshake`.
        stage: &'static str,
        /// The limit.
        limit: Duration,
    },
    /// The TLS handshake failed.
    #[error("{endpoint}: TLS handshake failed: {reason}{hint}")]
    Tls {
        /// The endpoint as given.
        endpoint: String,
        /// rustls' reason.
        reason: String,
        /// What it probably means.
        hint: &'static str,
    },
    /// The WebSocket handshake failed.
    #[error("{endpoint}: WebSocket handshake failed: {reason}")]
    Ws {
        /// The endpoint as given.
        endpoint: String,
        /// What went wrong.
        reason: String,
        /// The kind of failure.
        failure: WsFailure,
    },
}

fn timeout_hint(stage: &str) -> &'static str {
    match stage {
        "TLS handshake" => " (no TLS answer: is it a plain MQTT port?)",
        "WebSocket handshake" => " (no HTTP answer: is it a WebSocket port?)",
        _ => "",
    }
}

impl ConnectError {
    /// A failed TLS handshake, with a hint drawn from the error.
    pub(crate) fn tls(endpoint: &Endpoint, e: &std::io::Error) -> ConnectError {
        let rustls_error = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        let hint = match rustls_error {
            Some(rustls::Error::InvalidMessage(_)) => {
                " (the peer does not speak TLS: is it a plain MQTT port?)"
            }
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. },
            )) => " (the broker's certificate has expired)",
            Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => {
                " (the broker's certificate is not signed by a trusted CA: check --tls-ca)"
            }
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => " (the certificate does not name this host: check --tls-server-name)",
            Some(rustls::Error::AlertReceived(_)) => {
                " (the broker refused the handshake: a client certificate may be required)"
            }
            Some(_) => "",
            None => match e.kind() {
                std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted => {
                    " (the peer closed the connection: is it a TLS port?)"
                }
                _ => "",
            },
        };
        ConnectError::Tls {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
            hint,
        }
    }

    /// Whether nothing listened at the address (TCP refused): a broker that is down.
    pub fn is_refused(&self) -> bool {
        matches!(self, ConnectError::Tcp { kind, .. } if *kind == std::io::ErrorKind::ConnectionRefused)
    }
}

impl From<ConnectError> for std::io::Error {
    /// Keeps the one line, and the error itself for [`ConnectError::from_io`].
    fn from(e: ConnectError) -> Self {
        let kind = match &e {
            ConnectError::Tcp { kind, .. } => *kind,
            ConnectError::Timeout { .. } => std::io::ErrorKind::TimedOut,
            ConnectError::Tls { .. } => std::io::ErrorKind::InvalidData,
            ConnectError::Ws { .. } => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}

impl ConnectError {
    /// The `ConnectError` inside an I/O error made from one.
    pub fn from_io(e: &std::io::Error) -> Option<&ConnectError> {
        e.get_ref().and_then(|i| i.downcast_ref::<ConnectError>())
    }
}
