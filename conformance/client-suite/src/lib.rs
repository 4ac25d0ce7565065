//! # mqttspec-client-suite
//!
//! Client conformance: mqttspec plays the broker and judges an MQTT client library. The
//! library is driven through an *adapter* program that speaks the JSON-lines protocol of
//! `conformance/clients/ADAPTER.md`; a scripted broker on `127.0.0.1:0` (over TCP, TLS, WebSocket or WebSocket over TLS) decides every byte the
//! library receives and decodes every byte it sends with the strict codec.
//!
//! The name says "suite" because `mqttspec-harness` already has a `client`: the *test client*
//! that plays an MQTT client against a broker. This crate is the other way round — the
//! library under test is the client, and this crate's peer is a server.
//!
//! | module | what it holds |
//! |---|---|
//! | [`broker`] | the scripted broker: a loopback listener per case run, connections with bounded reads, strict decoding, raw sends |
//! | [`adapter`] | the adapter driver: spawns the adapter in its own process group, commands in, events out, every wait bounded, killed at the end |
//! | [`case`] | a case ([`case::ClientCase`]: id, statements, faults, function), its context and session, the setup/check roles |
//! | [`cases`] | the cases, one file per area |
//! | [`run`] | runs cases × versions with a time limit each; checks each FAIL names one of the case's statements |
//! | [`report`] | `client-report.json` (with the statement traceability) and `summary.md` |
//! | [`transport`] | the transports the scripted broker listens on (TCP, TLS, WebSocket, WebSocket over TLS), the reference broker's TLS and WebSocket layers beneath |
//! | [`reference`] | the reference client (`mqttspec-reference-client`) with its fault switches |
//!
//! The verdicts are the harness's ([`mqttspec_harness::verdict`]): a setup step that does not
//! happen is INCONCLUSIVE, a command the adapter cannot express UNSUPPORTED, only a step
//! checking a cited statement gives FAIL (a MUST) or NON-STRICT (a SHOULD). Nothing the client
//! does can hang a run: every read of the socket and of the adapter has a deadline, buffers
//! are bounded, each case run has a time limit, and the adapter's process group is killed.

pub mod adapter;
pub mod broker;
pub mod case;
pub mod cases;
pub mod reference;
pub mod report;
pub mod run;
pub mod transport;
