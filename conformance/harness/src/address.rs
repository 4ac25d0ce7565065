//! The broker address every command takes (`--broker HOST:PORT`).

use std::net::{SocketAddr, ToSocketAddrs};

/// A `--broker` value that does not name a reachable address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The name did not resolve (or is not `HOST:PORT`).
    #[error("--broker {given}: {reason}")]
    Unresolved {
        /// What was given.
        given: String,
        /// Why it did not resolve.
        reason: String,
    },
    /// The name resolved to no address at all.
    #[error("--broker {0}: no address")]
    NoAddress(String),
}

/// Resolves an optional `HOST:PORT` to its first address (`None` stays `None`: the embedded
/// reference broker).
pub fn broker_address(broker: Option<&str>) -> Result<Option<SocketAddr>, AddressError> {
    let Some(b) = broker else {
        return Ok(None);
    };
    b.to_socket_addrs()
        .map_err(|e| AddressError::Unresolved {
            given: b.to_owned(),
            reason: e.to_string(),
        })?
        .next()
        .map(Some)
        .ok_or_else(|| AddressError::NoAddress(b.to_owned()))
}
