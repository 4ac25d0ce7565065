//! `mqttspec-reference-client`: the reference client behind the adapter protocol
//! (`conformance/clients/ADAPTER.md`); fault switches in `MQTTSPEC_CLIENT_FAULTS`.

fn main() {
    mqttspec_client_suite::reference::client::main();
}
