//! The registry of conformance cases: one module per area, aggregated by [`all`].
//!
//! To add a case: write it in the module of its area (its id starts with the module name),
//! add it to that module's `cases()` list, and make sure it cites statements of every
//! protocol it runs on and names the reference-broker fault(s) that make it fail. The
//! registry tests (`conformance/tests/engine_cases.rs`) check all of that.

pub mod auth;
pub mod connect;
pub mod disconnect;
pub mod flow_control;
pub mod keep_alive;
pub mod ordering;
pub mod packet_size;
pub mod publish;
pub mod qos;
pub mod retained;
pub mod session;
pub mod shared;
pub mod subscribe;
pub mod subscription_id;
pub(crate) mod support;
pub mod topic_alias;
pub mod topics;
pub mod version;
pub mod will;

use crate::scenario::Case;

/// Every case, in a stable order (module by module).
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(connect::cases());
    cases.extend(session::cases());
    cases.extend(keep_alive::cases());
    cases.extend(qos::cases());
    cases.extend(publish::cases());
    cases.extend(ordering::cases());
    cases.extend(shared::cases());
    cases.extend(topic_alias::cases());
    cases.extend(flow_control::cases());
    cases.extend(packet_size::cases());
    cases.extend(subscription_id::cases());
    cases.extend(auth::cases());
    cases.extend(will::cases());
    cases.extend(disconnect::cases());
    cases.extend(retained::cases());
    cases.extend(subscribe::cases());
    cases.extend(topics::cases());
    cases.extend(version::cases());
    cases
}
