//! The reference client: mqttspec's own minimal MQTT 3.1.1 / 5.0 client behind the adapter
//! protocol (the binary `mqttspec-reference-client`), with fault switches ([`Fault`]) that
//! each break one rule, so every client case is proven red in `cargo test`.
//!
//! | module | what it holds |
//! |---|---|
//! | [`fault`] | the fault switches and the environment variable that selects them |
//! | `transport` | TCP, or TLS / WebSocket / WebSocket over TLS through a bridge thread over mqttspec's client transport (and the WebSocket faults) |
//! | [`client`] | the client: blocking std networking, one thread reading stdin, one per connection reading the socket, the protocol state in the main loop |

pub mod client;
pub mod fault;
mod transport;

pub use fault::{Fault, FAULTS_ENV};
