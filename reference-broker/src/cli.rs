//! Command-line flags of the `reference-broker` binary. Flags override the TOML file given
//! with `--config`, which overrides the defaults of [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{Config, User};

/// A spec-faithful MQTT 3.1.1 and 5.0 broker (the mqttspec reference broker).
#[derive(Debug, Clone, Parser)]
#[command(name = "reference-broker", version)]
pub struct Cli {
    /// Address to listen on (use a loopback address for tests).
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub listen: SocketAddr,
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
    /// Enable a fault (a deliberate deviation from the spec, for testing the test suite).
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
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
}

impl Cli {
    /// The configuration these flags describe.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut c = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => Config::default(),
        };
        if let Some(v) = self.maximum_qos {
            c.maximum_qos = v;
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
        c.validate().map_err(ConfigError::Flag)?;
        Ok(c)
    }
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
    fn a_bad_user_flag_is_an_error() {
        let cli = Cli::parse_from(["reference-broker", "--user", "nocolon"]);
        assert!(cli.config().is_err());
    }

    #[test]
    fn maximum_qos_3_is_refused() {
        assert!(Cli::try_parse_from(["reference-broker", "--maximum-qos", "3"]).is_err());
    }
}
