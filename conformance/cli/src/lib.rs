//! # mqttspec
//!
//! The `mqttspec` command: argument parsing, one module per subcommand, reports, baselines,
//! coverage traces. It puts the other crates of `conformance/` together and is the only
//! place that decides exit statuses.
//!
//! | crate | what it holds |
//! |---|---|
//! | `mqttspec-harness` | test client, scenario DSL, verdicts, profile, probes, runner, replay runner |
//! | `mqttspec-cases` | the broker conformance cases and their support helpers |
//! | `mqttspec-netfuzz` | the network fuzzer (`mqttspec fuzz`) |
//! | `mqttspec-bench` | the load generator (`mqttspec bench`) |
//! | `mqttspec-client-suite` | client conformance: scripted broker, adapter driver, client cases, reference client (`mqttspec client`) |
//! | `mqttspec` (this one) | the CLI, reports, baselines, trace |
//!
//! | module | what it holds |
//! |---|---|
//! | [`cli`] | the command line: one [`cli::Command`] per subcommand; maps each command's error to an exit status |
//! | [`commands`] | one module per subcommand (`run`, `list`, `trace`, `report`, `decode`, `bench`, `replay`, `fuzz`, `probe`, `client`, `broker`) with its arguments and error type |
//! | [`report`] | report.json, junit.xml, summary.md, report.html, and the comparison page |
//! | [`baseline`] | expected non-passes per broker, and the exit-status gate |
//! | [`repeat`] | `mqttspec run --repeat N`: verdicts that differ between repeated runs, with both transcripts |
//! | [`console`] | printing to stdout that stops quietly when the reader has gone (`mqttspec trace \| head`) |
//! | [`trace`] | coverage of the statement registry (`mqttspec trace`, `mqttspec list`) and the depth table of the forwarding rules (`mqttspec trace --depth`) |
//!
//! The library crates are re-exported under their old module names ([`cases`], [`client`],
//! [`scenario`], [`runner`], ...) so that tests and tools can reach everything through one
//! path; new code should name the crate that owns a thing.
//!
//! Dependencies between modules point one way: `cli` → `commands` → (`report`, `baseline`,
//! `repeat`, `trace`) → the library crates.

pub mod baseline;
pub mod cli;
pub mod commands;
pub mod console;
pub mod repeat;
pub mod report;
pub mod trace;

pub use mqttspec_bench as bench;
pub use mqttspec_cases as cases;
pub use mqttspec_harness::{
    address, case, client, embedded, json, limits, probe, profile, replay, runner, scenario,
    transport, verdict,
};
pub use mqttspec_netfuzz as fuzz;
