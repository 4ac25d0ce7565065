//! # mqttspec
//!
//! The conformance suite and its tools, behind the `mqttspec` binary.
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | [`cli`] | the command line: one subcommand per variant of [`cli::Command`], and [`cli::CommandError`] (exit statuses) |
//! | [`decode`] | `mqttspec decode`: one packet from hex to JSON |
//! | [`json`] | a decoded packet as a `serde_json::Value` (the shape every command shows packets in) |
pub mod cli;
pub mod decode;
pub mod json;
