//! Path-only faults: a fault of one way a message reaches a subscriber (live, queued,
//! shared, retained) bends the copy on that path and leaves the copies on the others as the
//! specification says. One message reaches a connected subscriber, a disconnected session
//! and a Shared Subscription member at once; a retained message reaches a new subscription.

mod common;

use common::*;
use mqttspec_codec::{Publish, QoS};

/// The User Properties the publisher sends, in its order.
const ORDER: [(&str, &str); 2] = [("a", "1"), ("b", "2")];

/// What each path's subscriber got of one QoS 1 message with [`ORDER`], a Message Expiry
/// Interval of 60 s and Subscription Identifiers 1 (live), 2 (queued), 3 (shared), 4
/// (retained), published with RETAIN 1; the queued copy is sent 2 s after publication.
fn copies(faults: &[&str]) -> [(&'static str, Publish); 4] {
    let mut sim = Sim::with_faults(faults);
    let live = sim.connect(V5, "live");
    sim.subscribe_with(live, "t", opts(QoS::AtLeastOnce), Some(1));
    let (queued, _) = sim.connect_persistent(V5, "queued", 60);
    sim.subscribe_with(queued, "t", opts(QoS::AtLeastOnce), Some(2));
    sim.disconnect(queued);
    let shared = sim.connect(V5, "shared");
    sim.subscribe_with(shared, "$share/g/t", opts(QoS::AtLeastOnce), Some(3));
    let p = sim.connect(V5, "pub");
    let mut m = publish("t", QoS::AtLeastOnce, "x");
    m.retain = true;
    m.set_packet_id(pid(1));
    m.properties.message_expiry_interval = Some(60);
    m.properties.user_properties = ORDER
        .iter()
        .map(|(n, v)| (common::s(n), common::s(v)))
        .collect();
    sim.publish_msg(p, m);
    let retained = sim.connect(V5, "retained");
    sim.subscribe_with(retained, "t", opts(QoS::AtLeastOnce), Some(4));
    let one = |sim: &mut Sim, c| {
        let mut got = sim.take_publishes(c);
        assert_eq!(got.len(), 1, "{got:?}");
        got.remove(0)
    };
    let got_live = one(&mut sim, live);
    let got_shared = one(&mut sim, shared);
    let got_retained = one(&mut sim, retained);
    sim.advance(secs(2));
    let (queued, present) = sim.connect_persistent(V5, "queued", 60);
    assert!(present);
    let got_queued = one(&mut sim, queued);
    [
        ("live", got_live),
        ("queued", got_queued),
        ("shared", got_shared),
        ("retained", got_retained),
    ]
}

/// Whether `p` carries the User Properties in the publisher's order.
fn in_order(p: &Publish) -> bool {
    let got: Vec<(&str, &str)> = p.properties.user_properties.iter().collect();
    got == ORDER
}

/// The paths on which `bent` says the copy departs from the specification, under `fault`.
fn bent_paths(fault: &str, bent: fn(&str, &Publish) -> bool) -> Vec<&'static str> {
    copies(&[fault])
        .iter()
        .filter(|(path, p)| bent(path, p))
        .map(|(path, _)| *path)
        .collect()
}

#[test]
fn without_faults_no_path_is_bent() {
    for (path, p) in copies(&[]) {
        assert!(in_order(&p), "{path}");
        assert!(!p.properties.subscription_identifiers.is_empty(), "{path}");
        let expiry = p.properties.message_expiry_interval;
        let waited = if path == "live" || path == "shared" || path == "retained" {
            60
        } else {
            58
        };
        assert_eq!(expiry, Some(waited), "{path}");
        assert_eq!(p.retain, path == "retained", "{path}");
    }
}

#[test]
fn reverse_user_properties_of_one_path_reverses_that_path_only() {
    for path in ["live", "queued", "shared", "retained"] {
        let fault = format!("reverse-user-properties-{path}");
        assert_eq!(bent_paths(&fault, |_, p| !in_order(p)), [path], "{fault}");
    }
}

#[test]
fn no_subscription_identifiers_of_one_path_drops_them_on_that_path_only() {
    for path in ["live", "queued", "shared", "retained"] {
        let fault = format!("no-subscription-identifiers-{path}");
        let bent = bent_paths(&fault, |_, p| {
            p.properties.subscription_identifiers.is_empty()
        });
        assert_eq!(bent, [path], "{fault}");
    }
}

#[test]
fn no_message_expiry_of_the_queued_path_keeps_the_interval_of_the_queued_copy_only() {
    let queued_expiry = |faults: &[&str]| copies(faults)[1].1.properties.message_expiry_interval;
    assert_eq!(queued_expiry(&["no-message-expiry-queued"]), Some(60));
    // The fault of another path leaves the queued copy's interval less its 2 s wait.
    assert_eq!(queued_expiry(&["no-message-expiry-live"]), Some(58));
    assert_eq!(queued_expiry(&["no-message-expiry-shared"]), Some(58));
}

#[test]
fn retain_flag_on_forward_of_one_path_keeps_retain_on_that_path_only() {
    for path in ["live", "queued", "shared"] {
        let fault = format!("retain-flag-on-forward-{path}");
        let bent = bent_paths(&fault, |path, p| p.retain && path != "retained");
        assert_eq!(bent, [path], "{fault}");
    }
}
