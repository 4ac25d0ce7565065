//! Shared by the engine tests: fake brokers and the case selection.

// Each test binary uses part of the fake brokers.
#[allow(dead_code)]
pub mod fake_broker;
#[allow(dead_code)]
pub mod proxy;
#[allow(dead_code)]
pub mod selection;
