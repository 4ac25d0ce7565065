//! # mqttspec
//!
//! The conformance suite and its tools, behind the `mqttspec` binary.
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | [`bench`] | `mqttspec bench`: the load generator (throughput, loss, ordering, latency) |
//! | [`cli`] | the command line: one subcommand per variant of [`cli::Command`], and [`cli::CommandError`] (exit statuses) |
//! | [`decode`] | `mqttspec decode`: one packet from hex to JSON |
//! | [`json`] | a decoded packet as a `serde_json::Value` (the shape every command shows packets in) |
//! | [`client`] | the packet-level test client: one TCP connection, strict decoding, deadlines, transcript |
//! | [`scenario`] | the DSL cases are written in: [`scenario::Case`], [`scenario::Ctx`], clients with expectations |
//! | [`cases`] | the conformance cases, one module per area; [`cases::all`] is the registry |
//! | [`verdict`] | PASS, FAIL, NON-STRICT, INFORMATIONAL, UNSUPPORTED, ERROR |
//! | [`profile`] | broker capabilities: discovered from CONNACK, overridden by a TOML profile |
//! | [`runner`] | runs cases × protocols concurrently with time bounds; embedded reference broker |
//! | [`baseline`] | expected non-passes per broker, and the exit-status gate |
//! | [`report`] | report.json, junit.xml, summary.md, report.html, and the comparison page |
//! | [`trace`] | coverage of the statement registry (`mqttspec trace`, `mqttspec list`) |
//! | [`replay`] | `mqttspec replay`: regression scenarios (TOML, `corpus/regressions/`) with the "still alive" oracle |
//! | [`fuzz`] | `mqttspec fuzz`: the state-aware network fuzzer; findings minimised into replay scenarios |
//! | [`cmd`] | the `run`, `list`, `trace` and `report` subcommands |
//!
//! ## How the engine works
//!
//! `mqttspec run` selects cases from the registry ([`cases::all`]), starts the reference
//! broker in-process unless `--broker` is given, and probes the broker once: the CONNACK of an
//! MQTT 5.0 probe declares its capabilities, which a profile file may override
//! ([`profile`]). Then the [`runner`] runs every selected case on every selected protocol it
//! supports, many at once (with the embedded broker, the runs UNSUPPORTED there run again
//! against a second, restricted embedded broker: see [`runner`]). Each case run gets a
//! fresh [`scenario::Ctx`] with unique Client Identifiers and topic prefixes, so runs never
//! see each other's messages, and a shared transcript recording every byte of every client.
//! The run function returns an outcome or an unmet expectation; the runner adds the
//! duration and the transcript, the [`report`] module writes the reports (including the
//! statement traceability matrix), and the [`baseline`] gate decides the exit status.
//!
//! ## Writing a case
//!
//! A case is a `const` [`scenario::Case`] plus a function. It names the normative statements
//! it checks (typed [`mqttspec_codec::StatementId`]s of both specifications, so a typo does
//! not compile), the protocols it runs on, the capabilities it needs, and the reference-broker
//! faults that must make it FAIL. The function reads like the specification:
//!
//! ```no_run
//! use mqttspec::scenario::{secs, BoxFuture, Capability, Case, CaseResult, Ctx, Protocols, Reply};
//! use mqttspec_codec::{ReasonCode, StatementId as S};
//!
//! pub const RETAINED: Case = Case {
//!     id: "retain.delivered-on-subscribe",
//!     title: "A retained message is sent to a new subscriber, with RETAIN set",
//!     area: "Retained Messages",
//!     statements: &[S::V5_3_3_1_9, S::V311_3_3_1_6],
//!     protocols: Protocols::Both,
//!     requires: &[Capability::Retain, Capability::QoS1],
//!     faults: &["no-retain-delivery"],
//!     unfaultable: None,
//!     run: retained,
//! };
//!
//! fn retained(t: Ctx) -> BoxFuture<'static, CaseResult> {
//!     Box::pin(async move {
//!         let topic = t.topic("r");                       // unique to this case run
//!         let mut publisher = t.client("pub").connect().await?;   // CONNACK 0x00 or FAIL/ERROR
//!         publisher.publish(&topic).qos(1).retain().payload("kept").await?;   // waits for PUBACK
//!         let mut late = t.client("sub").connect().await?;
//!         late.subscribe(&topic).qos(1).await?;           // waits for SUBACK
//!         late.expect_publish()                            // FAIL with Expected/Actual if not
//!             .topic(&topic)
//!             .retain(true)
//!             .payload("kept")
//!             .within(secs(2))
//!             .await?;
//!         // Clear the retained message; nothing is delivered to the next subscriber.
//!         publisher.publish(&topic).qos(1).retain().await?;
//!         let mut third = t.client("sub2").connect().await?;
//!         third.subscribe(&topic).await?;
//!         third.expect_no_publish().for_(secs(1)).await?;
//!         t.pass()
//!     })
//! }
//!
//! // Several acceptable outcomes: "DISCONNECT 0x82 or the connection closed".
//! async fn protocol_error(t: Ctx) -> CaseResult {
//!     let mut c = t.client("c").connect().await?;
//!     c.send_raw(vec![0x10, 0x00]).await?;                 // a second, empty CONNECT
//!     c.expect_closed_or_disconnect(&[ReasonCode::ProtocolError, ReasonCode::MalformedPacket])
//!         .await?;
//!     t.pass()
//! }
//! ```
//!
//! Rules the DSL enforces: every wait has a deadline (the profile's response timeout, 3 s by
//! default, or `.within(..)`); an unmet expectation returned with `?` is FAIL (the broker did
//! something else, sent malformed bytes, closed, or stayed silent) or ERROR (the harness could
//! not proceed: TCP refused, the broker refused a setup step it may refuse); a case that
//! returns `t.pass()` without any met expectation is ERROR "case observed nothing". Use
//! `t.non_strict(..)` for a SHOULD not followed, `t.informational(..)` for an allowed choice,
//! `t.unsupported(..)` for a capability found missing while running. `send_raw` with
//! [`mqttspec_codec::RawPacket`] sends anything, malformed packets included.
pub mod baseline;
pub mod bench;
pub mod cases;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod decode;
pub mod fuzz;
pub mod json;
pub mod profile;
pub mod replay;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod trace;
pub mod verdict;
