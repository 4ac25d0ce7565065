//! The server side of TLS: the rustls configuration of the TLS listeners, built from
//! [`TlsServerOptions`] (PEM files) or from PEM text ([`TlsServer::from_pem`], for tests and
//! the embedded broker), and the user name a client certificate maps to.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::listeners::TlsServerOptions;

/// Why the TLS settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsServerError {
    /// A TLS listener without `--tls-cert` and `--tls-key`.
    #[error("a TLS listener (mqtts://, wss://) needs --tls-cert and --tls-key")]
    NoCertificate,
    /// A file could not be read.
    #[error("cannot read {what} {path}: {reason}")]
    Read {
        /// Which setting.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file (or PEM text) holds nothing usable.
    #[error("{what}: {reason}")]
    Content {
        /// Which setting.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// The TLS settings of the running listeners.
#[derive(Debug, Clone)]
pub struct TlsServer {
    /// The rustls configuration.
    pub config: Arc<ServerConfig>,
    /// Whether a verified client certificate's subject CN becomes the user name.
    pub cert_cn_as_username: bool,
}

/// PEM text of the server's certificate chain and key, and of the client CAs.
#[derive(Debug, Clone, Copy)]
pub struct PemSettings<'a> {
    /// The server certificate chain.
    pub cert: &'a [u8],
    /// The server key.
    pub key: &'a [u8],
    /// The CAs client certificates must chain to (asks for client certificates).
    pub client_ca: Option<&'a [u8]>,
    /// A client certificate is optional (with `client_ca`).
    pub client_cert_optional: bool,
    /// The subject CN of a client certificate is the user name.
    pub cert_cn_as_username: bool,
}

impl TlsServer {
    /// Reads the files `options` names.
    pub fn from_options(options: &TlsServerOptions) -> Result<TlsServer, TlsServerError> {
        let (Some(cert), Some(key)) = (&options.cert, &options.key) else {
            return Err(TlsServerError::NoCertificate);
        };
        let cert = read("--tls-cert", cert)?;
        let key = read("--tls-key", key)?;
        let client_ca = match &options.client_ca {
            Some(p) => Some(read("--tls-client-ca", p)?),
            None => None,
        };
        TlsServer::from_pem(PemSettings {
            cert: &cert,
            key: &key,
            client_ca: client_ca.as_deref(),
            client_cert_optional: options.client_cert_optional,
            cert_cn_as_username: options.cert_cn_as_username,
        })
    }

    /// Builds the configuration from PEM text.
    pub fn from_pem(pem: PemSettings<'_>) -> Result<TlsServer, TlsServerError> {
        let chain = certs("--tls-cert", pem.cert)?;
        let key = PrivateKeyDer::from_pem_slice(pem.key).map_err(|e| TlsServerError::Content {
            what: "--tls-key",
            reason: format!("no usable PEM private key ({e})"),
        })?;
        // ring, as everywhere in mqttspec (it builds without cmake).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsServerError::Rustls(e.to_string()))?;
        let builder = match pem.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in certs("--tls-client-ca", ca)? {
                    roots.add(c).map_err(|e| TlsServerError::Content {
                        what: "--tls-client-ca",
                        reason: e.to_string(),
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = if pem.client_cert_optional {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| TlsServerError::Rustls(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsServerError::Rustls(e.to_string()))?;
        Ok(TlsServer {
            config: Arc::new(config),
            cert_cn_as_username: pem.cert_cn_as_username && pem.client_ca.is_some(),
        })
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsServerError> {
    std::fs::read(path).map_err(|e| TlsServerError::Read {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn certs(what: &'static str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsServerError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsServerError::Content {
            what,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsServerError::Content {
            what,
            reason: "no PEM certificate in it".to_owned(),
        });
    }
    Ok(certs)
}

/// The subject Common Name of a (verified) DER certificate, if it has one that is UTF-8.
pub fn subject_common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}
