//! Command-line flags of the `reference-broker` binary. Flags override the TOML file given
//! with `--config`, which overrides the defaults of [`Config`].
//!
//! Listeners: `--listen` (repeatable) takes `host:port` or a URL (`mqtt://`, `mqtts://`,
//! `ws://host:port/path`, `wss://`, see [`crate::listeners`]); given, it replaces the file's
//! `[[listener]]` tables; with neither, the broker listens on `127.0.0.1:1883`. The TLS flags
//! override the fields of the file's `[tls]` table one by one.
//!
//! The seed of the core ([`Config::seed`]) comes from `--seed`, else from the file, else from
//! the operating system's random source: the core draws no randomness itself, and a broker
//! whose assigned Client Identifiers and SCRAM salts and nonces are predictable is only wanted
//! when asked for.

use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;

use crate::config::{Config, InvalidConfig, User};
use crate::listeners::{BadListener, ListenerFile, ListenerSpec, TlsServerOptions};
use crate::tls::{TlsServer, TlsServerError};

/// A spec-faithful MQTT 3.1.1 and 5.0 broker (the mqttspec reference broker).
#[derive(Debug, Clone, Parser)]
#[command(name = "reference-broker", version)]
pub struct Cli {
    /// Where to listen (repeatable): `host:port` or `mqtt://host:port` (TCP),
    /// `mqtts://host:port` (TLS), `ws://host:port/path`, `wss://host:port/path` (WebSocket,
    /// path `/mqtt` by default). Default `127.0.0.1:1883`. Use loopback addresses for tests.
    #[arg(long = "listen", value_name = "ADDRESS")]
    pub listen: Vec<ListenerSpec>,
    /// PEM file of the server certificate chain (TLS listeners).
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// PEM file of the server's private key (TLS listeners).
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// PEM file of the CAs client certificates must chain to: clients are asked for a
    /// certificate, and one that does not verify fails the handshake.
    #[arg(long)]
    pub tls_client_ca: Option<PathBuf>,
    /// With --tls-client-ca: clients may also connect without a certificate.
    #[arg(long)]
    pub tls_client_cert_optional: bool,
    /// With --tls-client-ca: a verified client certificate's subject Common Name is the
    /// user name (the CONNECT's User Name and Password are then not checked).
    #[arg(long)]
    pub tls_cert_cn_as_username: bool,
    /// TOML file with settings (see `Config`); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Maximum QoS (0, 1 or 2).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub maximum_qos: Option<u8>,
    /// Retain Available.
    #[arg(long)]
    pub retain_available: Option<bool>,
    /// Maximum Packet Size the server accepts, in bytes.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub maximum_packet_size: Option<u32>,
    /// Receive Maximum of the server.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub receive_maximum: Option<u16>,
    /// Topic Alias Maximum of the server.
    #[arg(long)]
    pub topic_alias_maximum: Option<u16>,
    /// Give the Topic Names of the PUBLISH packets sent to MQTT 5.0 clients Topic Aliases,
    /// within each client's Topic Alias Maximum (`assign_topic_aliases`; off by default).
    #[arg(long)]
    pub assign_topic_aliases: bool,
    /// Wildcard Subscription Available.
    #[arg(long)]
    pub wildcard_subscription_available: Option<bool>,
    /// Subscription Identifier Available.
    #[arg(long)]
    pub subscription_identifier_available: Option<bool>,
    /// Shared Subscription Available.
    #[arg(long)]
    pub shared_subscription_available: Option<bool>,
    /// Server Keep Alive (seconds), overriding what clients ask for.
    #[arg(long)]
    pub server_keep_alive: Option<u16>,
    /// Require a user name and password.
    #[arg(long)]
    pub require_authentication: bool,
    /// An accepted `username:password` pair (repeatable).
    #[arg(long = "user", value_name = "USER:PASSWORD")]
    pub users: Vec<String>,
    /// Enable a fault (a deliberate deviation from the spec, for testing the test suite;
    /// only in builds with the `faults` feature).
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// Seed for assigned Client Identifiers and SCRAM salts and nonces (reproducible runs);
    /// random when neither this flag nor the file sets one.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Bytes of stored state (retained and queued messages, sessions, subscriptions, Wills)
    /// the broker may hold; see `memory_budget_bytes` in `Config`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub memory_budget_bytes: Option<u64>,
}

/// Errors building the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A listener address is invalid.
    #[error(transparent)]
    Listener(#[from] BadListener),
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsServerError),
    /// The TOML file is invalid.
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: toml::de::Error,
    },
    /// A flag value is invalid.
    #[error("{0}")]
    Flag(String),
    /// The resulting settings are invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidConfig),
    /// No seed was given and the operating system's random source failed.
    #[error("cannot draw a random seed ({0}); give one with --seed")]
    NoRandomSeed(getrandom::Error),
}

/// Everything the flags and the file describe.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The core's configuration.
    pub config: Config,
    /// Where to listen.
    pub listeners: Vec<ListenerSpec>,
    /// The TLS settings, when a TLS listener needs them.
    pub tls: Option<TlsServer>,
}

/// The default listener.
const DEFAULT_LISTEN: &str = "127.0.0.1:1883";

impl Cli {
    /// The configuration these flags describe.
    pub fn config(&self) -> Result<Config, ConfigError> {
        self.core_config().map(|(c, _)| c)
    }

    /// The configuration, listeners and TLS settings these flags describe.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let (config, file) = self.core_config()?;
        let mut listeners = self.listen.clone();
        if listeners.is_empty() {
            for entry in &file.listener {
                listeners.push(entry.address.parse()?);
            }
        }
        if listeners.is_empty() {
            listeners.push(DEFAULT_LISTEN.parse()?);
        }
        let f = file.tls;
        let options = TlsServerOptions {
            cert: self.tls_cert.clone().or(f.cert),
            key: self.tls_key.clone().or(f.key),
            client_ca: self.tls_client_ca.clone().or(f.client_ca),
            client_cert_optional: self.tls_client_cert_optional || f.client_cert_optional,
            cert_cn_as_username: self.tls_cert_cn_as_username || f.cert_cn_as_username,
        };
        let tls = if listeners.iter().any(|l| l.kind.is_tls()) {
            Some(TlsServer::from_options(&options)?)
        } else {
            None
        };
        Ok(Settings {
            config,
            listeners,
            tls,
        })
    }

    /// The core's configuration, and the listener part of the file.
    fn core_config(&self) -> Result<(Config, ListenerFile), ConfigError> {
        let (mut c, file) = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let parse = |source| ConfigError::Parse {
                    path: path.clone(),
                    source,
                };
                // The `[[listener]]` and `[tls]` tables are the shell's; the rest is the core's.
                let mut table: toml::Table = toml::from_str(&text).map_err(parse)?;
                let mut listeners = toml::Table::new();
                for key in ["listener", "tls"] {
                    if let Some(v) = table.remove(key) {
                        listeners.insert(key.to_owned(), v);
                    }
                }
                let file = ListenerFile::deserialize(listeners).map_err(parse)?;
                (Config::deserialize(table).map_err(parse)?, file)
            }
            None => (Config::default(), ListenerFile::default()),
        };
        if let Some(v) = self.maximum_qos {
            c.maximum_qos = v;
        }
        if let Some(v) = self.memory_budget_bytes {
            c.memory_budget_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = self.retain_available {
            c.retain_available = v;
        }
        if let Some(v) = self.maximum_packet_size {
            c.maximum_packet_size = v;
        }
        if let Some(v) = self.receive_maximum {
            c.receive_maximum = v;
        }
        if let Some(v) = self.topic_alias_maximum {
            c.topic_alias_maximum = v;
        }
        if self.assign_topic_aliases {
            c.assign_topic_aliases = true;
        }
        if let Some(v) = self.wildcard_subscription_available {
            c.wildcard_subscription_available = v;
        }
        if let Some(v) = self.subscription_identifier_available {
            c.subscription_identifier_available = v;
        }
        if let Some(v) = self.shared_subscription_available {
            c.shared_subscription_available = v;
        }
        if let Some(v) = self.server_keep_alive {
            c.server_keep_alive = Some(v);
        }
        if self.require_authentication {
            c.require_authentication = true;
        }
        for pair in &self.users {
            let (username, password) = pair.split_once(':').ok_or_else(|| {
                ConfigError::Flag(format!("--user expects USER:PASSWORD, got `{pair}`"))
            })?;
            c.users.push(User {
                username: username.to_owned(),
                password: password.to_owned(),
            });
        }
        c.faults.extend(self.faults.iter().cloned());
        if let Some(seed) = self.seed {
            c.seed = Some(seed);
        }
        if c.seed.is_none() {
            c.seed = Some(random_seed().map_err(ConfigError::NoRandomSeed)?);
        }
        c.validate()?;
        Ok((c, file))
    }
}

/// A seed from the operating system's random source.
fn random_seed() -> Result<u64, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_defaults() {
        let cli = Cli::parse_from([
            "reference-broker",
            "--maximum-qos",
            "1",
            "--retain-available",
            "false",
            "--user",
            "u:p",
        ]);
        let c = cli.config().unwrap();
        assert_eq!(c.maximum_qos, 1);
        assert!(!c.retain_available);
        assert_eq!(c.users.len(), 1);
    }

    #[test]
    fn the_seed_is_random_unless_given() {
        let seed = |args: &[&str]| {
            let cli = Cli::parse_from([&["reference-broker"], args].concat());
            cli.config().unwrap().seed
        };
        assert_eq!(seed(&["--seed", "42"]), Some(42));
        let (a, b) = (seed(&[]), seed(&[]));
        assert!(a.is_some() && b.is_some());
        assert_ne!(a, b, "two random 64-bit seeds");
    }

    #[test]
    fn faults_need_the_faults_feature() {
        let cli = Cli::parse_from(["reference-broker", "--fault", "no-pingresp"]);
        match (cli.config(), mqttspec_broker_core::fault::COMPILED_IN) {
            (Ok(c), true) => assert_eq!(c.faults, ["no-pingresp"]),
            (Err(e), false) => {
                assert!(e.to_string().contains("build with feature `faults`"), "{e}");
            }
            (result, compiled_in) => panic!("{result:?} with COMPILED_IN = {compiled_in}"),
        }
        let cli = Cli::parse_from(["reference-broker", "--fault", "no-such-fault"]);
        assert!(cli.config().is_err());
    }

    #[test]
    fn a_bad_user_flag_is_an_error() {
        let cli = Cli::parse_from(["reference-broker", "--user", "nocolon"]);
        assert!(cli.config().is_err());
    }

    #[test]
    fn listeners_come_from_flags_or_the_file() {
        let settings =
            |args: &[&str]| Cli::parse_from([&["reference-broker"], args].concat()).settings();
        let s = settings(&[]).unwrap();
        assert_eq!(s.listeners.len(), 1);
        assert_eq!(s.listeners[0].to_string(), "mqtt://127.0.0.1:1883");
        assert!(s.tls.is_none());
        let s = settings(&["--listen", "127.0.0.1:0", "--listen", "ws://127.0.0.1:0"]).unwrap();
        assert_eq!(s.listeners.len(), 2);
        // A TLS listener needs a certificate and key.
        let e = settings(&["--listen", "mqtts://127.0.0.1:0"]).unwrap_err();
        assert!(e.to_string().contains("--tls-cert"), "{e}");
        assert!(
            Cli::try_parse_from(["reference-broker", "--listen", "http://127.0.0.1:0"]).is_err()
        );
        let path = std::env::temp_dir().join(format!("cli-listeners-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "maximum_qos = 1\n[[listener]]\naddress = \"ws://127.0.0.1:0/x\"\n",
        )
        .unwrap();
        let s = settings(&["--config", path.to_str().unwrap()]).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(s.config.maximum_qos, 1);
        assert_eq!(s.listeners[0].path, "/x");
    }

    #[test]
    fn maximum_qos_3_is_refused() {
        assert!(Cli::try_parse_from(["reference-broker", "--maximum-qos", "3"]).is_err());
    }
}
