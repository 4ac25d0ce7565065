// Each test binary uses part of the fake brokers.
#[allow(dead_code)]
pub mod fake_broker;
