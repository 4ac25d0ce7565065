//! # mqttspec-harness
//!
//! Everything a conformance case needs to run, and nothing about any particular case: the
//! role h2's test-support crate plays for h2. The cases live in `mqttspec-cases`, the
//! network fuzzer in `mqttspec-netfuzz`, the load generator in `mqttspec-bench` and the
//! command line (reports, baselines, trace) in `mqttspec`; all of them build on this crate.
//!
//! | module | what it holds |
//! |---|---|
//! | [`client`] | the packet-level test client: one connection over any transport, strict decoding, deadlines, transcript |
//! | [`scenario`] | the DSL cases are written in: [`case!`], [`scenario::Case`], [`scenario::Ctx`], clients with expectations and roles (setup, check, twin, control), and the case registry |
//! | [`verdict`] | PASS, FAIL, NON-STRICT, INFORMATIONAL, UNSUPPORTED, INCONCLUSIVE (with its [`verdict::Precondition`]), ERROR |
//! | [`profile`] | broker capabilities: discovered from CONNACK, overridden by a TOML profile |
//! | [`probe`] | is the broker usable: one probe per protocol version before the cases, a health probe after each |
//! | [`limits`] | the broker's practical limits and choices measured from the wire (`mqttspec probe`, the reports' limits section), one probe per file |
//! | [`runner`] | runs cases × protocols concurrently with time bounds; the embedded reference broker; the health probe after each case and the broker restarts ([`runner::health`]) |
//! | [`broker_process`] | a third-party broker started from a shell command (`--broker-cmd`): started, watched (exit status, last output lines, memory), restarted and stopped with its process group |
//! | [`replay`] | the replay runner: regression scenarios (TOML, `corpus/regressions/`) with the "still alive" oracle |
//! | [`json`] | a decoded packet as a `serde_json::Value` (the shape every command shows packets in) |
//! | [`address`] | (re-exported from `mqttspec-transport`) the broker address every command takes (`host:port`, `mqtt://`, `mqtts://`, `ws://`, `wss://`), parsed in one place |
//! | [`transport`] | (the `mqttspec-transport` crate, re-exported) beneath the client: TCP, TLS (rustls), WebSocket and WebSocket over TLS (tungstenite) as one byte stream; connection errors as one line |
//!
//! ## How a run works
//!
//! A caller (the `mqttspec run` command) hands the [`runner`] the cases it selected. The
//! runner starts the reference broker in-process unless a broker address is given, and
//! probes each protocol version once ([`probe`]): a version refused the way the
//! specification says makes its cases UNSUPPORTED, an unusable one INCONCLUSIVE, and nothing
//! listening stops the run; the CONNACK of the MQTT 5.0 probe declares the capabilities,
//! which a profile file may override ([`profile`]). Then every selected case runs on every
//! selected protocol it supports, many at once, with a health probe after each (with the
//! embedded broker, the runs UNSUPPORTED there run again against a second, restricted
//! embedded broker). Each case run gets a fresh [`scenario::Ctx`] with unique Client
//! Identifiers and topic prefixes, so runs never see each other's messages, and a shared
//! transcript recording every byte of every client. The run function returns an outcome or
//! an unmet expectation; the runner checks that the verdict was earned and adds the duration
//! and the transcript.
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
//! accepted in the same case (`.as_twin()`), one that rests on an absence a positive control
//! (`.as_control()`); a case that checked nothing is ERROR. Use `t.non_strict(..)` for a SHOULD
//! not followed, `t.informational(..)` for an allowed choice. `send_raw` with
//! [`mqttspec_codec::RawPacket`] sends anything, malformed packets included.
//!
//! Dependencies point one way: `client` ← `scenario` ← `runner`; `verdict` and `profile` are
//! leaves the others use; `probe`, `limits` and `replay` use `client`.

pub use mqttspec_transport::address;
pub mod broker_process;
pub mod client;
pub mod embedded;
pub mod json;
pub mod limits;
pub mod probe;
pub mod profile;
pub mod replay;
pub mod runner;
pub mod scenario;
pub use mqttspec_transport as transport;
pub mod verdict;
