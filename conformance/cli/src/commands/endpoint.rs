//! The broker-address options every command that talks to a broker shares: the TLS flags
//! (`--tls-ca`, `--tls-cert`, `--tls-key`, `--tls-server-name`, `--insecure`), their merge
//! with a profile's `[tls]` table, and the check that the endpoint can be reached before any
//! work starts (a bad endpoint is one line and exit status 2, never a hang).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqttspec_harness::address::{broker_address, AddressError};
use mqttspec_harness::transport::tls::TlsOptions;
use mqttspec_harness::transport::{self, ConnectError, Endpoint, TransportInfo};

/// TLS options for `mqtts://` and `wss://` broker addresses.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// PEM file of the CA certificates to trust (mqtts:// and wss://); default: the system
    /// roots.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// PEM file of a client certificate chain (mutual TLS; with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The name the broker's certificate must carry (and the SNI); default: the address's
    /// host.
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// Do not verify the broker's certificate (the reports say so).
    #[arg(long)]
    pub insecure: bool,
}

impl TlsArgs {
    /// The options the flags give.
    pub fn options(&self) -> TlsOptions {
        TlsOptions {
            ca: self.tls_ca.clone(),
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            server_name: self.tls_server_name.clone(),
            insecure: self.insecure,
        }
    }

    /// Resolves `--broker` with these flags over `profile`'s `[tls]` table.
    pub fn endpoint(
        &self,
        broker: Option<&str>,
        profile: &TlsOptions,
    ) -> Result<Option<Endpoint>, AddressError> {
        let tls = profile.overridden_by(&self.options());
        // A profile's TLS table is ignored for plain addresses and the embedded broker;
        // flags given for them are a mistake.
        let plain = broker
            .map(|b| mqttspec_harness::address::parse(b).map(|p| !p.scheme.is_tls()))
            .transpose()?
            .unwrap_or(true);
        if plain && !self.options().is_set() {
            return broker_address(broker, &TlsOptions::default());
        }
        broker_address(broker, &tls)
    }
}

/// Opens one connection to `endpoint` (no MQTT) and closes it: `Err` with one line when the
/// transport cannot be set up (refused, wrong CA, TLS on a plain port, HTTP 404 on the
/// WebSocket path, ...), within `limit`.
pub async fn check(endpoint: &Endpoint, limit: Duration) -> Result<TransportInfo, ConnectError> {
    let (conn, info) = transport::connect(endpoint, limit).await?;
    conn.abort();
    Ok(info)
}
