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
//! | [`scenario`] | the DSL cases are written in: [`case!`], [`scenario::Case`], [`scenario::Ctx`], clients with expectations and roles (setup, check, twin, control) |
//! | [`cases`] | the conformance cases, one module per area; [`cases::all`] is the registry |
//! | [`verdict`] | PASS, FAIL, NON-STRICT, INFORMATIONAL, UNSUPPORTED, INCONCLUSIVE (with its [`verdict::Precondition`]), ERROR |
//! | [`probe`] | is the broker usable: one probe per protocol version before the cases, a health probe after each |
//! | [`profile`] | broker capabilities: discovered from CONNACK, overridden by a TOML profile |
//! | [`runner`] | runs cases × protocols concurrently with time bounds; embedded reference broker |
//! | [`baseline`] | expected non-passes per broker, and the exit-status gate |
//! | [`report`] | report.json, junit.xml, summary.md, report.html, and the comparison page |
//! | [`trace`] | coverage of the statement registry (`mqttspec trace`, `mqttspec list`) |
//! | [`repeat`] | `mqttspec run --repeat N`: verdicts that differ between repeated runs, with both transcripts |
//! | [`replay`] | `mqttspec replay`: regression scenarios (TOML, `corpus/regressions/`) with the "still alive" oracle |
//! | [`fuzz`] | `mqttspec fuzz`: the state-aware network fuzzer; findings minimised into replay scenarios |
//! | [`cmd`] | the `run`, `list`, `trace` and `report` subcommands |
//!
//! ## How the engine works
//!
//! `mqttspec run` selects cases from the registry ([`cases::all`]), starts the reference
//! broker in-process unless `--broker` is given, and probes each protocol version once
//! ([`probe`]): a version refused the way the specification says makes its cases UNSUPPORTED,
//! an unusable one INCONCLUSIVE, and nothing listening stops the run; the CONNACK of the MQTT
//! 5.0 probe declares the capabilities, which a profile file may override ([`profile`]). Then
//! the [`runner`] runs every selected case on every selected protocol it supports, many at
//! once, with a health probe after each (with the embedded broker, the runs UNSUPPORTED
//! there run again
//! against a second, restricted embedded broker: see [`runner`]). Each case run gets a
//! fresh [`scenario::Ctx`] with unique Client Identifiers and topic prefixes, so runs never
//! see each other's messages, and a shared transcript recording every byte of every client.
//! The run function returns an outcome or an unmet expectation; the runner adds the
//! duration and the transcript, the [`report`] module writes the reports (including the
//! statement traceability matrix), and the [`baseline`] gate decides the exit status.
//!
//! ## Writing a case
//!
//! A case is one [`case!`] declaration plus a function. The declaration states the id once,
//! the normative statements it checks (typed [`mqttspec_codec::StatementId`]s, so a typo does
//! not compile; a behaviour named by its MQTT 5.0 statement gets its MQTT 3.1.1 counterpart
//! from the pairing table `codec/data/statement-pairs.tsv`), the capabilities it needs, the
//! reference-broker faults that must turn it FAIL (typed too) and what it exercises (tags);
//! the protocols follow from the statements and the area from the catalogue. The function
//! reads like the specification:
//!
//! ```ignore
//! case! {
//!     /// A retained message is sent to a new subscriber, with RETAIN set
//!     RETAINED = "retain.delivered-on-subscribe",
//!     checks: [V5_3_3_1_9, V311_3_3_1_6],
//!     requires: [Retain, QoS1],
//!     faults: [NoRetainDelivery],
//!     tags: [Retained, FromBroker],
//!     run: retained,
//! }
//!
//! fn retained(t: Ctx) -> BoxFuture<'static, CaseResult> {
//!     Box::pin(async move {
//!         let topic = t.topic("r");                                  // unique to this case run
//!         let mut publisher = t.client("pub").connect().await?;      // setup: INCONCLUSIVE if refused
//!         publisher.publish(&topic).qos(1).retain().payload("kept").await?;  // setup: waits for PUBACK
//!         let mut late = t.client("sub").connect().await?;
//!         late.subscribe(&topic).qos(1).await?;                      // setup: waits for SUBACK
//!         late.expect_publish().topic(&topic).retain(true).payload("kept").await?;  // the check
//!         publisher.publish(&topic).qos(1).retain().await?;          // clear it again
//!         t.pass()
//!     })
//! }
//! ```
//!
//! Rules the DSL enforces (see [`scenario`]): every wait has a deadline (the profile's response
//! timeout, 3 s by default, or `.within(..)`); setup steps are preconditions (INCONCLUSIVE when
//! they fail) and expectations are checks (FAIL), either changed on the step with
//! `.as_check()` / `.as_setup(..)`; a verdict that rests on a refusal needs a well-formed twin
//! accepted in the same case (`.as_twin()`, [`cases`]' support helpers), one that rests on an
//! absence a positive control (`.as_control()`); a case that checked nothing is ERROR. Use
//! `t.non_strict(..)` for a SHOULD not followed, `t.informational(..)` for an allowed choice.
//! `send_raw` with [`mqttspec_codec::RawPacket`] sends anything, malformed packets included.
pub mod baseline;
pub mod bench;
pub mod cases;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod decode;
pub mod fuzz;
pub mod json;
pub mod probe;
pub mod profile;
pub mod repeat;
pub mod replay;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod trace;
pub mod verdict;
