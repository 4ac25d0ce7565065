//! The broker-core fuzz corpus under plain `cargo test` (stable): every seed in
//! `corpus/fuzz/broker_core/` and every minimised finding in
//! `corpus/fuzz/regressions/broker_core/` is played through
//! `mqttspec_broker_core::fuzzing::run_events`, the function the cargo-fuzz target
//! `broker_core` wraps. A finding that panics again fails here.
//!
//! The seeds are scripts of events written below ([`seeds`]); rebuild the files after changing
//! them with
//!
//! ```text
//! cargo test -p mqttspec-broker-core --test fuzz_corpus -- --ignored regenerate_seed_corpus
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use mqttspec_broker_core::fuzzing::{fuzz_config, run_events, run_events_with, Event, Summary};
use mqttspec_codec::{Packet, ProtocolVersion, Publish, TopicName};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/fuzz")
}

/// The files directly inside `dir`, sorted (notes ending in `.md` and hidden files skipped).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable corpus directory").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') || n.ends_with(".md"))
        })
        .collect();
    files.sort();
    files
}

// Event shorthands. Connect flags: bit 0 MQTT 5.0, bit 1 Clean Start, bit 2 Will, bits 3-4
// Will QoS, bit 5 Will Retain, bit 6 Keep Alive 5 s, bit 7 User Name/Password. Extras (5.0):
// bits 0-1 Session Expiry (none, 0, 10 s, never), bits 2-3 Receive Maximum (none, 1, 2, 10),
// bits 4-5 Maximum Packet Size (none, 40, 128, 1024), bit 6 Will Delay 5 s.
const V5_CLEAN: u8 = 0b11;
const V311_CLEAN: u8 = 0b10;

fn open(slot: u8) -> Event {
    Event::Open { slot }
}
fn close(slot: u8) -> Event {
    Event::Close { slot }
}
fn connect(slot: u8, client: u8, flags: u8, extras: u8) -> Event {
    Event::Connect {
        slot,
        client,
        flags,
        extras,
    }
}
fn subscribe(slot: u8, filter: u8, options: u8, id: u8) -> Event {
    Event::Subscribe {
        slot,
        filter,
        options,
        id,
    }
}
fn publish(slot: u8, topic: u8, flags: u8, id: u8) -> Event {
    Event::Publish {
        slot,
        topic,
        flags,
        id,
    }
}
fn answer(slot: u8, count: u8) -> Event {
    Event::Answer { count, slot }
}
fn release(slot: u8, id: u8) -> Event {
    Event::Release { slot, id }
}
fn disconnect(slot: u8, flags: u8) -> Event {
    Event::Disconnect { slot, flags }
}
fn advance(step: u8) -> Event {
    Event::Advance { step }
}

/// A QoS 0 PUBLISH to `a` with a payload of `n` bytes, encoded for 5.0.
fn big_publish(n: usize) -> Vec<u8> {
    let p = Publish::new(TopicName::new("a").unwrap(), vec![b'x'; n]);
    Packet::Publish(p)
        .encode(ProtocolVersion::V5)
        .unwrap()
        .to_vec()
}

fn qos_flows(flags: u8) -> Vec<Event> {
    vec![
        open(0),
        connect(0, 1, flags, 0b1010),
        subscribe(0, 3, 2, 1),
        open(1),
        connect(1, 2, flags, 0),
        publish(1, 0, 1, 1),
        publish(1, 1, 2, 2),
        release(1, 2),
        publish(1, 2, 0, 0),
        answer(0, 7),
        answer(0, 7),
        answer(0, 7),
        disconnect(1, 0),
        disconnect(0, 0),
    ]
}

/// The seed scripts: (file name, configuration variant, events).
fn seeds() -> Vec<(&'static str, u8, Vec<Event>)> {
    vec![
        ("v5_qos_flows", 0, qos_flows(V5_CLEAN)),
        ("v311_qos_flows", 0, qos_flows(V311_CLEAN)),
        (
            "retained_then_late_subscriber",
            0,
            vec![
                open(0),
                connect(0, 1, V5_CLEAN, 0),
                publish(0, 0, 0b101, 5),
                publish(0, 1, 0b100, 0),
                open(1),
                connect(1, 2, V311_CLEAN, 0),
                subscribe(1, 8, 1, 1),
                answer(1, 7),
                publish(0, 0, 0b100_0100, 0),
                close(0),
                close(1),
            ],
        ),
        (
            "persistent_session_resumed",
            0,
            vec![
                open(0),
                connect(0, 1, 0b1, 0b11),
                subscribe(0, 0, 2, 1),
                close(0),
                open(1),
                connect(1, 2, V5_CLEAN, 0),
                publish(1, 0, 1, 1),
                publish(1, 0, 2, 2),
                release(1, 2),
                open(0),
                connect(0, 1, 0b1, 0b11),
                answer(0, 7),
                answer(0, 7),
                answer(0, 7),
                advance(100),
                close(0),
                advance(120),
                advance(120),
                advance(120),
            ],
        ),
        (
            "will_on_keep_alive_timeout",
            0,
            vec![
                open(0),
                connect(0, 1, 0x6F, 0b0100_0010),
                open(1),
                connect(1, 2, V5_CLEAN, 0),
                subscribe(1, 9, 1, 1),
                advance(8),
                advance(10),
                answer(1, 7),
                advance(30),
            ],
        ),
        (
            "session_takeover",
            0,
            vec![
                open(0),
                connect(0, 3, V5_CLEAN, 0b10),
                open(1),
                connect(1, 3, 0b1, 0b10),
                Event::Ping { slot: 1 },
                disconnect(1, 1),
            ],
        ),
        (
            "backpressure_small_receive_maximum",
            0,
            vec![
                open(0),
                connect(0, 1, V5_CLEAN, 0b0100),
                subscribe(0, 0, 1, 1),
                open(1),
                connect(1, 2, V311_CLEAN, 0),
                publish(1, 0, 1, 1),
                publish(1, 0, 1, 2),
                publish(1, 0, 1, 3),
                publish(1, 0, 1, 4),
                publish(1, 0, 1, 5),
                publish(1, 0, 1, 6),
                publish(1, 0, 1, 7),
                advance(25),
                answer(0, 1),
                Event::Flushed { slot: 0 },
            ],
        ),
        (
            "shared_subscription",
            0,
            vec![
                open(0),
                connect(0, 1, V5_CLEAN, 0),
                subscribe(0, 5, 1, 1),
                open(1),
                connect(1, 2, V5_CLEAN, 0),
                subscribe(1, 5, 2, 1),
                open(2),
                connect(2, 3, V311_CLEAN, 0),
                publish(2, 0, 1, 1),
                publish(2, 0, 1, 2),
                publish(2, 0, 1, 3),
                publish(2, 0, 1, 4),
                answer(0, 7),
                answer(1, 7),
            ],
        ),
        (
            "password_required",
            0b1000,
            vec![
                open(0),
                connect(0, 1, 0x83, 0),
                open(1),
                connect(1, 2, V5_CLEAN, 0),
                open(2),
                connect(2, 0, 0x82, 0),
            ],
        ),
        (
            "oversized_for_client_maximum_packet_size",
            0,
            vec![
                open(0),
                connect(0, 1, V5_CLEAN, 0b01_0000),
                subscribe(0, 0, 0, 1),
                open(1),
                connect(1, 2, V5_CLEAN, 0),
                Event::Raw {
                    slot: 1,
                    bytes: big_publish(80),
                },
                Event::Raw {
                    slot: 1,
                    bytes: big_publish(10),
                },
            ],
        ),
        (
            "topic_alias_and_message_expiry",
            0,
            vec![
                open(0),
                connect(0, 1, V5_CLEAN, 0x80),
                subscribe(0, 3, 1, 1),
                open(1),
                connect(1, 2, V5_CLEAN, 0x80),
                publish(1, 1, 0b11_0001, 3),
                publish(1, 1, 0b10_0001, 4),
                advance(5),
                answer(0, 7),
            ],
        ),
        (
            "raw_arbitrary_and_shutdown",
            0,
            vec![
                open(0),
                Event::Raw {
                    slot: 0,
                    bytes: b"\x10\x0d\x00\x04MQTT\x05\x02\x00\x00\x00\x00\x00\x30".to_vec(),
                },
                open(1),
                Event::Arbitrary {
                    slot: 1,
                    v5: true,
                    seed: b"\x01\x00\x04MQTT\x05 arbitrary seed bytes".to_vec(),
                },
                Event::Raw {
                    slot: 1,
                    bytes: b"\xc0\x00\xe0\x00".to_vec(),
                },
                Event::Shutdown,
            ],
        ),
    ]
}

fn seed_bytes(variant: u8, events: &[Event]) -> Vec<u8> {
    let mut data = vec![variant];
    data.extend(Event::encode_script(events));
    data
}

#[test]
fn every_seed_and_regression_input_replays_without_a_finding() {
    let mut played = 0;
    for dir in [
        corpus_dir().join("broker_core"),
        corpus_dir().join("regressions").join("broker_core"),
    ] {
        for path in files_in(&dir) {
            let data = fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| run_events(&data));
            assert!(result.is_ok(), "{} is a finding again", path.display());
            played += 1;
        }
    }
    assert!(
        played >= 10,
        "only {played} inputs in the broker_core corpus"
    );
}

#[test]
fn committed_seeds_match_the_scripts_they_were_built_from() {
    let dir = corpus_dir().join("broker_core");
    for (name, variant, events) in seeds() {
        let path = dir.join(name);
        let on_disk = fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; regenerate the seeds", path.display()));
        assert_eq!(
            on_disk,
            seed_bytes(variant, &events),
            "{} is stale: regenerate the seeds",
            path.display()
        );
    }
}

#[test]
fn a_script_reads_back_as_the_events_it_was_written_from() {
    for (name, _, events) in seeds() {
        let bytes = Event::encode_script(&events);
        assert_eq!(Event::parse_script(&bytes), events, "{name}");
    }
}

#[test]
fn scripts_stop_after_the_maximum_number_of_events() {
    // 200 Open events (one byte each): only the first 64 are played.
    let summary = run_events(&[0; 201]);
    assert_eq!(summary.events, mqttspec_broker_core::fuzzing::MAX_EVENTS);
}

#[test]
fn the_qos_seeds_reach_connected_clients_and_deliveries() {
    for (name, variant, events) in seeds().into_iter().take(2) {
        let summary: Summary = run_events(&seed_bytes(variant, &events));
        assert_eq!(summary.connacks_accepted, 2, "{name}: {summary:?}");
        assert!(summary.publishes_delivered >= 3, "{name}: {summary:?}");
    }
}

fn seed(name: &str) -> (u8, Vec<Event>) {
    let (_, variant, events) = seeds().into_iter().find(|(n, _, _)| *n == name).unwrap();
    (variant, events)
}

#[test]
#[should_panic(expected = "the window is 1")]
fn a_broker_ignoring_the_clients_receive_maximum_is_caught() {
    let (variant, events) = seed("backpressure_small_receive_maximum");
    let mut config = fuzz_config(variant);
    config.faults = vec!["ignore-receive-maximum".into()];
    run_events_with(config, &Event::encode_script(&events));
}

#[test]
#[should_panic(expected = "whose Maximum Packet Size is 40")]
fn a_broker_ignoring_the_clients_maximum_packet_size_is_caught() {
    let (variant, events) = seed("oversized_for_client_maximum_packet_size");
    let mut config = fuzz_config(variant);
    config.faults = vec!["ignore-maximum-packet-size".into()];
    run_events_with(config, &Event::encode_script(&events));
}

#[test]
fn the_fault_seeds_pass_on_the_faithful_broker() {
    for name in [
        "backpressure_small_receive_maximum",
        "oversized_for_client_maximum_packet_size",
    ] {
        let (variant, events) = seed(name);
        let summary = run_events_with(fuzz_config(variant), &Event::encode_script(&events));
        assert!(summary.connacks_accepted >= 2, "{name}: {summary:?}");
    }
}

/// Rebuilds the seed files from [`seeds`] (overwriting same-named files) and makes sure the
/// regressions folder exists.
#[test]
#[ignore = "writes corpus/fuzz/broker_core/; run by hand after changing the seed scripts"]
fn regenerate_seed_corpus() {
    let dir = corpus_dir().join("broker_core");
    fs::create_dir_all(&dir).unwrap();
    for (name, variant, events) in seeds() {
        fs::write(dir.join(name), seed_bytes(variant, &events)).unwrap();
    }
    fs::create_dir_all(corpus_dir().join("regressions").join("broker_core")).unwrap();
}
