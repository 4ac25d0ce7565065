//! The registry of conformance cases: one module per area, aggregated by [`all`].
//!
//! Each area module (`connect`, `qos`, `will`, ...) holds its cases, and only private
//! helpers that no other module uses; every helper a second module needs lives in
//! [`support`] (twins and controls, raw packets, refusals and closes, sessions, receiving,
//! retained messages, Wills, waits), one concept per file. [`depth`] is no area: it maps
//! the forwarding rules and delivery paths to the cases that check them.
//!
//! To add a case: write its [`case!`](mqttspec_harness::case) declaration and its function in the
//! module of its area (its id starts with the module name). That is the only place: the
//! declaration registers the case ([`CASES`]), and [`all`] puts it after the cases declared
//! above it in the module. Make sure it cites statements of every protocol it runs on and
//! names the reference-broker fault(s) that make it fail; look in [`support`] before writing
//! a helper. A new module also gets its place in [`MODULES`]. The registry tests
//! (`conformance/cli/tests/engine_cases.rs`) check all of that.

pub mod auth;
pub mod connect;
pub mod depth;
pub mod disconnect;
pub mod flow_control;
pub mod forwarding;
pub mod forwarding_expiry;
pub mod keep_alive;
pub mod ordering;
pub mod packet_size;
pub mod packet_size_omission;
pub mod publish;
pub mod qos;
pub mod retained;
pub mod session;
pub mod shared;
pub mod strings;
pub mod subscribe;
pub mod subscription_id;
pub(crate) mod support;
pub mod topic_alias;
pub mod topics;
pub mod version;
pub mod websocket;
pub mod will;

use mqttspec_harness::scenario::registry::CASES;
use mqttspec_harness::scenario::Case;

/// The modules of this registry in the order [`all`] lists their cases (reports and
/// `mqttspec list` follow it). A module that declares a case must be here (a registry test
/// checks it); within a module, cases come in the order of their declarations.
pub const MODULES: &[&str] = &[
    "connect",
    "session",
    "keep_alive",
    "qos",
    "publish",
    "forwarding",
    "forwarding_expiry",
    "ordering",
    "shared",
    "topic_alias",
    "flow_control",
    "packet_size",
    "packet_size_omission",
    "subscription_id",
    "auth",
    "will",
    "disconnect",
    "retained",
    "subscribe",
    "topics",
    "strings",
    "version",
    "websocket",
];

/// Every case, in a stable order: module by module in the order of [`MODULES`] (a module
/// missing there comes last), then by the line of the declaration.
pub fn all() -> Vec<Case> {
    let mut cases: Vec<Case> = CASES.iter().copied().collect();
    cases.sort_by_key(|c| {
        let module = c.module_name();
        let rank = MODULES
            .iter()
            .position(|m| *m == module)
            .unwrap_or(MODULES.len());
        (rank, module, c.line)
    });
    cases
}
