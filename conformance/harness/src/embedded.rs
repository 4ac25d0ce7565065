//! The embedded reference broker on any transport: plain TCP as always, or a TLS, WebSocket
//! or WebSocket-over-TLS listener of the reference broker itself, so that a run without
//! `--broker` can test the suite's transport layer and the section 6 (WebSocket) cases.
//!
//! TLS uses a throwaway certificate authority generated at start (rcgen): a server
//! certificate for `127.0.0.1` signed by it, and the authority's certificate written to a
//! fresh temporary directory for the test client to trust (removed when the broker stops).

use std::net::SocketAddr;
use std::path::PathBuf;

use mqttspec_reference_broker::listeners::{ListenerKind, ListenerSpec};
use mqttspec_reference_broker::shell::RunningBroker;
use mqttspec_reference_broker::tls::{PemSettings, TlsServer};
use mqttspec_reference_broker::Config as BrokerConfig;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::address::broker_address;
use crate::transport::tls::TlsOptions;
use crate::transport::{Endpoint, Scheme};

/// The reference broker started in-process, and the endpoint that reaches it.
#[derive(Debug)]
pub struct EmbeddedBroker {
    broker: RunningBroker,
    endpoint: Endpoint,
    /// Declared after `broker`: removed once the broker is gone.
    _ca_dir: Option<CaDir>,
}

/// The temporary directory of the throwaway CA, removed on drop.
#[derive(Debug)]
struct CaDir(PathBuf);

impl Drop for CaDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl EmbeddedBroker {
    /// Starts the reference broker with `config` on 127.0.0.1 (a free port) over `scheme`.
    pub async fn start(config: BrokerConfig, scheme: Scheme) -> Result<EmbeddedBroker, String> {
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        let kind = match scheme {
            Scheme::Tcp => ListenerKind::Tcp,
            Scheme::Tls => ListenerKind::Tls,
            Scheme::Ws => ListenerKind::Ws,
            Scheme::Wss => ListenerKind::Wss,
        };
        let spec = ListenerSpec {
            kind,
            addr,
            path: if kind.is_websocket() {
                "/mqtt".to_owned()
            } else {
                String::new()
            },
        };
        let (tls, ca_dir) = if scheme.is_tls() {
            let t = ThrowawayTls::generate()?;
            (Some(t.server), Some(t.dir))
        } else {
            (None, None)
        };
        let broker = RunningBroker::start_listeners(&[spec], tls, config)
            .await
            .map_err(|e| format!("cannot start the reference broker: {e}"))?;
        let bound = broker.local_addr();
        let endpoint = if scheme == Scheme::Tcp {
            Endpoint::tcp(bound)
        } else {
            let url = format!("{}://{}{}", scheme.as_str(), bound, broker_path(&broker));
            let options = TlsOptions {
                ca: ca_dir.as_ref().map(|d| d.0.join("ca.pem")),
                ..TlsOptions::default()
            };
            match broker_address(Some(&url), &options) {
                Ok(Some(e)) => e,
                Ok(None) => return Err(format!("no endpoint for {url}")),
                Err(e) => return Err(format!("the embedded broker's address {url}: {e}")),
            }
        };
        Ok(EmbeddedBroker {
            broker,
            endpoint,
            _ca_dir: ca_dir,
        })
    }

    /// Where the test client reaches it.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Stops the broker (see [`RunningBroker::stop`]) and removes the throwaway CA.
    pub async fn stop(self) {
        self.broker.stop().await;
    }
}

fn broker_path(broker: &RunningBroker) -> &str {
    broker.listeners().first().map_or("", |l| l.path.as_str())
}

/// A throwaway CA and a server certificate for `127.0.0.1` and `localhost` signed by it: the
/// TLS settings of a server (the embedded broker, the client suite's scripted broker), and the
/// CA's certificate in a temporary directory for the client to trust, removed on drop.
#[derive(Debug)]
pub struct ThrowawayTls {
    /// The server's TLS settings.
    pub server: TlsServer,
    dir: CaDir,
}

impl ThrowawayTls {
    /// Generates the CA and the server certificate.
    pub fn generate() -> Result<ThrowawayTls, String> {
        let (server, dir) = throwaway_tls()?;
        Ok(ThrowawayTls {
            server,
            dir: CaDir(dir),
        })
    }

    /// The PEM file of the CA's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.0.join("ca.pem")
    }
}

fn throwaway_tls() -> Result<(TlsServer, PathBuf), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot make a throwaway TLS certificate: {e}");
    let ca_key = KeyPair::generate().map_err(|e| fail(&e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail(&e))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mqttspec throwaway CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| fail(&e))?;
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().map_err(|e| fail(&e))?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .map_err(|e| fail(&e))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "mqttspec embedded broker");
    let cert = params.signed_by(&key, &issuer).map_err(|e| fail(&e))?;
    let tls = TlsServer::from_pem(PemSettings {
        cert: cert.pem().as_bytes(),
        key: key.serialize_pem().as_bytes(),
        client_ca: None,
        client_cert_optional: false,
        cert_cn_as_username: false,
    })
    .map_err(|e| fail(&e))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "mqttspec-embedded-ca-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| fail(&e))?;
    if let Err(e) = std::fs::write(dir.join("ca.pem"), ca_cert.pem()) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(fail(&e));
    }
    Ok((tls, dir))
}
