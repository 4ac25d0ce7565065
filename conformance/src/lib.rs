//! # mqttspec
//!
//! The conformance suite and its tools. So far: the `decode` command.
pub mod decode;
