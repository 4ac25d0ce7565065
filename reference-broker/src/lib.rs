//! # mqttspec-reference-broker
//!
//! The reference broker: a deterministic sans-IO core plus a thin tokio shell. Not built yet
//! (see the issue tracker); this crate currently only re-exports the codec it will use.

pub use mqttspec_codec as codec;
