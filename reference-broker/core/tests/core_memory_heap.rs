//! The memory budget's charges against the real heap: for each kind of stored state, the
//! bytes the allocator holds for many items are compared with what the budget charges them
//! (a counting global allocator; this test binary only).

mod common;

use common::*;
use mqttspec_codec::QoS;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn live() -> isize {
    dhat::HeapStats::get().curr_bytes as isize
}

/// One way of filling the broker with state.
type Scenario = Box<dyn FnOnce(&mut Sim)>;

/// Runs `f` on a fresh world and returns (heap growth, charged growth).
fn measure(f: impl FnOnce(&mut Sim)) -> (isize, isize) {
    let mut sim = Sim::default_config();
    sim.log = Vec::new();
    let (h0, c0) = (live(), sim.broker.memory_used() as isize);
    f(&mut sim);
    sim.log.clear();
    sim.log.shrink_to_fit();
    for p in sim.peers.values_mut() {
        p.inbox.clear();
        p.inbox.shrink_to_fit();
    }
    (live() - h0, sim.broker.memory_used() as isize - c0)
}

#[test]
fn the_charges_cover_the_heap_each_kind_of_state_really_holds() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let cases: Vec<(&str, Scenario)> = vec![
        (
            "offline 3.1.1 sessions with one subscription",
            Box::new(|sim: &mut Sim| {
                for i in 0..2000 {
                    let (c, _) = sim.connect_persistent(V311, &format!("client-{i}"), 0);
                    sim.subscribe(c, &format!("t/{i}/+"), QoS::AtLeastOnce);
                    sim.drop_connection(c);
                }
            }),
        ),
        (
            "offline 3.1.1 sessions",
            Box::new(|sim: &mut Sim| {
                for i in 0..2000 {
                    let (c, _) = sim.connect_persistent(V311, &format!("client-{i}"), 0);
                    sim.drop_connection(c);
                }
            }),
        ),
        (
            "one session, many subscriptions",
            Box::new(|sim: &mut Sim| {
                let mut config = sim.broker.config().clone();
                config.max_subscriptions_per_session = 100_000;
                *sim = Sim::new(config);
                let c = sim.connect(V5, "s");
                for i in 0..2000 {
                    sim.subscribe(c, &format!("t/{i}/+"), QoS::AtLeastOnce);
                }
            }),
        ),
        (
            "offline sessions with a Will",
            Box::new(|sim: &mut Sim| {
                for i in 0..2000 {
                    let mut c = connect_packet(V5, &format!("w-{i}"));
                    c.properties.session_expiry_interval = Some(600);
                    let mut w = will(
                        &format!("will/{i}"),
                        &"x".repeat(50),
                        QoS::AtLeastOnce,
                        false,
                    );
                    w.properties.will_delay_interval = Some(300);
                    c.will = Some(w);
                    let (conn, _) = sim.connect_with(c);
                    sim.drop_connection(conn);
                }
            }),
        ),
        (
            "retained messages, 100-byte payload",
            Box::new(|sim: &mut Sim| {
                let c = sim.connect(V5, "p");
                for i in 0..2000 {
                    sim.publish_retained(c, &format!("r/{i}/x"), QoS::AtMostOnce, &"x".repeat(100));
                }
            }),
        ),
        (
            "offline queue, 100-byte payload",
            Box::new(|sim: &mut Sim| {
                let (sub, _) = sim.connect_persistent(V5, "s", 600);
                sim.subscribe(sub, "q/#", QoS::AtLeastOnce);
                sim.drop_connection(sub);
                let c = sim.connect(V5, "p");
                for i in 0..900 {
                    let mut p = publish("q/x", QoS::AtLeastOnce, &"x".repeat(100));
                    if i % 2 == 0 {
                        p.properties.user_properties.push(s("key"), s("value"));
                    }
                    sim.publish_msg(c, p);
                }
            }),
        ),
    ];
    let mut failed = Vec::new();
    for (name, f) in cases {
        let (heap, charged) = measure(f);
        let ratio = heap as f64 / charged as f64;
        eprintln!("{name}: heap {heap} B, charged {charged} B, heap/charged {ratio:.2}");
        // Charged at least what is held, and not wildly more (the budget would be wasted).
        if !(0.5..=1.0).contains(&ratio) {
            failed.push(format!("{name}: heap/charged {ratio:.2}"));
        }
    }
    assert!(
        failed.is_empty(),
        "charges do not match the heap: {failed:?}"
    );
}
