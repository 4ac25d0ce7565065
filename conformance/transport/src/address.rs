//! The broker address every command takes (`--broker ADDRESS`), parsed in this one place.
//!
//! | form | transport | default port | default path |
//! |---|---|---|---|
//! | `host:port` | plain TCP (as before) | none | - |
//! | `mqtt://host[:port]` | plain TCP | 1883 | - |
//! | `mqtts://host[:port]` | TLS | 8883 | - |
//! | `ws://host[:port][/path]` | WebSocket | 80 | `/mqtt` |
//! | `wss://host[:port][/path]` | WebSocket over TLS | 443 | `/mqtt` |
//!
//! IPv6 hosts are written in brackets (`mqtts://[::1]:8883`). [`broker_address`] resolves the
//! host and, for `mqtts`/`wss`, builds the TLS client configuration from
//! [`TlsOptions`]; every mistake (unknown scheme, unreadable CA file, ...) is one
//! [`AddressError`] line.

use std::net::ToSocketAddrs;

use crate::tls::{TlsError, TlsOptions};
use crate::{Endpoint, Scheme};

/// A `--broker` value (or TLS option) that does not name a usable endpoint.
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
    /// The address is not of a form in the module docs.
    #[error("--broker {given}: {reason}")]
    Syntax {
        /// What was given.
        given: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS options cannot be used.
    #[error("--broker {given}: {error}")]
    Tls {
        /// What was given.
        given: String,
        /// Why the TLS configuration could not be built.
        error: TlsError,
    },
}

/// A parsed, not yet resolved broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAddress {
    /// The transport.
    pub scheme: Scheme,
    /// The host as written (without IPv6 brackets).
    pub host: String,
    /// The port (the scheme's default when none was written).
    pub port: u16,
    /// The WebSocket path (`/mqtt` by default); empty for TCP and TLS.
    pub path: String,
    /// Written with a scheme (`mqtt://...`) rather than as bare `host:port`.
    pub with_scheme: bool,
}

/// Parses `given` (see the module docs) without resolving it.
pub fn parse(given: &str) -> Result<ParsedAddress, AddressError> {
    let syntax = |reason: &str| AddressError::Syntax {
        given: given.to_owned(),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = match given.split_once("://") {
        None => (None, given),
        Some((s, rest)) => {
            let scheme = match s.to_ascii_lowercase().as_str() {
                "mqtt" | "tcp" => Scheme::Tcp,
                "mqtts" | "ssl" | "tls" => Scheme::Tls,
                "ws" => Scheme::Ws,
                "wss" => Scheme::Wss,
                _ => {
                    return Err(syntax(
                        "unknown scheme (use host:port, mqtt://, mqtts://, ws:// or wss://)",
                    ))
                }
            };
            (Some(scheme), rest)
        }
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(authority).ok_or_else(|| syntax("bad host or port"))?;
    if host.is_empty() {
        return Err(syntax("no host"));
    }
    let scheme_or_tcp = scheme.unwrap_or(Scheme::Tcp);
    let port = match (port, scheme) {
        (Some(p), _) => p,
        (None, Some(s)) => s.default_port(),
        (None, None) => return Err(syntax("no port (write HOST:PORT or use a scheme)")),
    };
    let path = match scheme_or_tcp {
        Scheme::Ws | Scheme::Wss if path.is_empty() => "/mqtt".to_owned(),
        Scheme::Ws | Scheme::Wss => path.to_owned(),
        Scheme::Tcp | Scheme::Tls if path.is_empty() || path == "/" => String::new(),
        Scheme::Tcp | Scheme::Tls => {
            return Err(syntax("a path is only meaningful for ws:// and wss://"))
        }
    };
    Ok(ParsedAddress {
        scheme: scheme_or_tcp,
        host: host.to_owned(),
        port,
        path,
        with_scheme: scheme.is_some(),
    })
}

/// `host:port`, `host`, `[v6]:port` or `[v6]`: the host and the port if written.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            p => Some((host, Some(p.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match authority.rsplit_once(':') {
        // A bare IPv6 address without brackets is not accepted (ambiguous).
        Some((h, _)) if h.contains(':') => None,
        Some((h, p)) => Some((h, Some(p.parse().ok()?))),
        None => Some((authority, None)),
    }
}

/// Resolves an optional broker address to an [`Endpoint`] (`None` stays `None`: the embedded
/// reference broker). `tls` applies to `mqtts://` and `wss://`; it is an error to give TLS
/// options for a plain address.
pub fn broker_address(
    broker: Option<&str>,
    tls: &TlsOptions,
) -> Result<Option<Endpoint>, AddressError> {
    let Some(b) = broker else {
        if tls.is_set() {
            return Err(AddressError::Syntax {
                given: "(embedded broker)".to_owned(),
                reason: "TLS options need a --broker mqtts:// or wss:// address".to_owned(),
            });
        }
        return Ok(None);
    };
    let parsed = parse(b)?;
    if !parsed.scheme.is_tls() && tls.is_set() {
        return Err(AddressError::Syntax {
            given: b.to_owned(),
            reason: "TLS options given for a plain address (use mqtts:// or wss://)".to_owned(),
        });
    }
    let addr = (parsed.host.as_str(), parsed.port)
        .to_socket_addrs()
        .map_err(|e| AddressError::Unresolved {
            given: b.to_owned(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| AddressError::NoAddress(b.to_owned()))?;
    let tls_setup = if parsed.scheme.is_tls() {
        Some(tls.build(&parsed.host).map_err(|error| AddressError::Tls {
            given: b.to_owned(),
            error,
        })?)
    } else {
        None
    };
    Ok(Some(Endpoint::new(addr, parsed, tls_setup)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ParsedAddress {
        parse(s).unwrap()
    }

    #[test]
    fn every_form_parses_with_its_defaults() {
        assert_eq!(p("localhost:1883").scheme, Scheme::Tcp);
        assert_eq!(p("localhost:1883").port, 1883);
        assert_eq!(p("mqtt://h").port, 1883);
        assert_eq!(p("mqtts://h").port, 8883);
        assert_eq!(p("mqtts://h:9").port, 9);
        let ws = p("ws://h:8080");
        assert_eq!(
            (ws.scheme, ws.port, ws.path.as_str()),
            (Scheme::Ws, 8080, "/mqtt")
        );
        let wss = p("wss://h/x/y");
        assert_eq!(
            (wss.scheme, wss.port, wss.path.as_str()),
            (Scheme::Wss, 443, "/x/y")
        );
        let v6 = p("mqtts://[::1]:1");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1));
    }

    #[test]
    fn mistakes_are_one_line_errors() {
        for bad in [
            "localhost",
            "http://h:1",
            "h:notaport",
            "mqtt://h:1/path",
            "::1:5",
            ":1883",
            "mqtt://[::1",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("--broker ") && !e.contains('\n'),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn tls_options_need_a_tls_address() {
        let tls = TlsOptions {
            insecure: true,
            ..TlsOptions::default()
        };
        assert!(broker_address(Some("127.0.0.1:1883"), &tls).is_err());
        assert!(broker_address(None, &tls).is_err());
        assert!(broker_address(Some("mqtts://127.0.0.1:1"), &tls).is_ok());
    }
}
