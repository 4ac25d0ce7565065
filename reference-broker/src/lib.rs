//! # mqttspec-reference-broker
//!
//! A broker that does what the MQTT 3.1.1 and 5.0 specifications say, built as a
//! deterministic sans-IO core ([`core`]) plus a thin tokio shell (`shell`).
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | every setting, TOML-loadable, with documented defaults |
//! | [`core`] | the sans-IO broker: events in, [`core::Action`]s out, time as an input |
//! | [`fuzzing`] | the broker-core fuzz oracle: event scripts with invariants checked |
//! | [`shell`] | the tokio shell: sockets and timers, no protocol decisions |
//! | [`scram`] | SCRAM-SHA-256 for MQTT 5.0 enhanced authentication, server and client side |
//! | [`cli`] | the flags of the `reference-broker` binary |

pub mod cli;
pub mod config;
pub mod core;
pub mod fuzzing;
pub mod scram;
pub mod shell;

pub use config::Config;
pub use core::{Action, Broker, CloseReason, ConnectionId};
pub use mqttspec_codec as codec;
