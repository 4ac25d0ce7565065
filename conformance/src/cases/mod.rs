//! The registry of conformance cases: one module per area, aggregated by [`all`].
//!
//! To add a case: write it in the module of its area (its id starts with the module name),
//! add it to that module's `cases()` list, and make sure it cites statements of every
//! protocol it runs on and names the reference-broker fault(s) that make it fail. The
//! registry tests (`conformance/tests/engine_cases.rs`) check all of that.

pub mod connect;

use crate::scenario::Case;

/// Every case, in a stable order (module by module).
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(connect::cases());
    cases
}
