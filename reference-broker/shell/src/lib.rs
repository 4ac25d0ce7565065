//! # mqttspec-reference-broker
//!
//! A broker that does what the MQTT 3.1.1 and 5.0 specifications say: the deterministic
//! sans-IO core of [`mqttspec_broker_core`] (no tokio, no clock, no randomness) wrapped in a
//! thin tokio shell ([`shell`]) and the `reference-broker` binary. Everything that touches the
//! outside world lives here: sockets, the clock, the operating system's random source, files
//! and flags.
//!
//! | module | what it holds |
//! |---|---|
//! | [`shell`] | the tokio shell: sockets and timers, no protocol decisions; one broker task reads, feeds the core and writes (its docs describe the data path) |
//! | [`cli`] | the flags of the `reference-broker` binary, the configuration file, the random seed |
//! | [`listeners`] | listener addresses (`host:port`, `mqtt://`, `mqtts://`, `ws://`, `wss://`) and the TLS settings, from flags or the `[[listener]]` / `[tls]` tables of the file |
//! | [`tls`] | the server's rustls configuration and the user name of a client certificate |
//! | [`scram`] | the core's SCRAM-SHA-256, plus [`scram::random_nonce`] from the OS random source |
//! | [`config`], [`core`], [`fuzzing`] | re-exported from the core crate, so paths such as `mqttspec_reference_broker::core::fault::Fault` keep working |
//!
//! # Features
//!
//! | feature | what it does |
//! |---|---|
//! | `faults` | enables fault injection in the core (`mqttspec-broker-core/faults`); the `reference-broker` binary is built without it, mqttspec enables it for `run --fault` |
//! | `arbitrary` | forwards `mqttspec-broker-core/arbitrary` (the fuzz oracle's `arbitrary` packets) |
//!
//! Cargo unifies features within one build: `cargo build -p mqttspec-reference-broker` gives a
//! binary without fault injection, a workspace-wide build (which includes mqttspec) one with it.

pub mod cli;
pub mod listeners;
pub mod scram;
pub mod shell;
pub mod tls;

/// The sans-IO broker core (the whole `mqttspec-broker-core` crate).
pub use mqttspec_broker_core as core;
pub use mqttspec_broker_core::{config, fuzzing};
pub use mqttspec_broker_core::{Action, Broker, CloseReason, Config, ConnectionId, InvalidConfig};
pub use mqttspec_codec as codec;
