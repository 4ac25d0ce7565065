//! TLS options (`--tls-ca`, `--tls-cert`, `--tls-key`, `--tls-server-name`, `--insecure`, or
//! a profile's `[tls]` table) and the rustls client configuration built from them.
//!
//! Without a CA file the system's roots are trusted (`rustls-native-certs`). `insecure` skips
//! the verification of the broker's certificate (signatures of the handshake are still
//! checked) and the reports say so.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};

/// How to set up TLS (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// PEM file of the certificate authorities to trust (instead of the system roots).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// PEM file of the client certificate chain (mutual TLS; needs `key`).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The name to verify the broker's certificate against (and send as SNI); default: the
    /// host of the address.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Skip the verification of the broker's certificate.
    #[serde(default)]
    pub insecure: bool,
}

/// Why a TLS configuration could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} {path}: {reason}")]
    Read {
        /// Which option.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file holds nothing usable.
    #[error("{what} {path}: {reason}")]
    Content {
        /// Which option.
        what: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The system roots could not be loaded and no CA file was given.
    #[error(
        "no CA file given and no system root certificates found (use --tls-ca FILE or --insecure)"
    )]
    NoRoots,
    /// `cert` without `key` or the other way round.
    #[error("--tls-cert and --tls-key go together")]
    CertWithoutKey,
    /// The server name is not a DNS name or IP address.
    #[error("server name {0:?} is not a DNS name or IP address")]
    ServerName(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// A built TLS client configuration and what it was built from.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    /// The rustls configuration.
    pub config: Arc<ClientConfig>,
    /// The name sent as SNI and verified.
    pub server_name: ServerName<'static>,
    /// The options it was built from.
    pub options: TlsOptions,
}

impl TlsOptions {
    /// Whether any option is set.
    pub fn is_set(&self) -> bool {
        *self != TlsOptions::default()
    }

    /// Whether no option is set.
    pub fn is_unset(&self) -> bool {
        !self.is_set()
    }

    /// `self`, with every option `over` sets replacing this one (command-line flags over a
    /// profile's table).
    pub fn overridden_by(&self, over: &TlsOptions) -> TlsOptions {
        TlsOptions {
            ca: over.ca.clone().or_else(|| self.ca.clone()),
            cert: over.cert.clone().or_else(|| self.cert.clone()),
            key: over.key.clone().or_else(|| self.key.clone()),
            server_name: over
                .server_name
                .clone()
                .or_else(|| self.server_name.clone()),
            insecure: over.insecure || self.insecure,
        }
    }

    /// Builds the client configuration for a broker named `host` in its address.
    pub fn build(&self, host: &str) -> Result<TlsSetup, TlsError> {
        // ring builds without cmake; rustls 0.23.48 deprecates its provider only for the
        // lack of post-quantum key exchange, which a conformance client does not need.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let mut config = match (&self.cert, &self.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = read_certs("--tls-cert", cert)?;
                let key = read_key(key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsError::Rustls(e.to_string()))?
            }
            _ => return Err(TlsError::CertWithoutKey),
        };
        config.enable_sni = true;
        let name = self.server_name.as_deref().unwrap_or(host);
        let server_name = ServerName::try_from(name.to_owned())
            .map_err(|_| TlsError::ServerName(name.to_owned()))?;
        Ok(TlsSetup {
            config: Arc::new(config),
            server_name,
            options: self.clone(),
        })
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                for cert in read_certs("--tls-ca", ca)? {
                    roots.add(cert).map_err(|e| TlsError::Content {
                        what: "--tls-ca",
                        path: ca.display().to_string(),
                        reason: e.to_string(),
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(TlsError::NoRoots);
                }
            }
        }
        Ok(roots)
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn read_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(what, path)?;
    let content = |reason: String| TlsError::Content {
        what,
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| content(e.to_string()))?;
    if certs.is_empty() {
        return Err(content("no PEM certificate in it".to_owned()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_file("--tls-key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Content {
        what: "--tls-key",
        path: path.display().to_string(),
        reason: format!("no usable PEM private key ({e})"),
    })
}

/// `--insecure`: accepts any certificate, still checks the handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
