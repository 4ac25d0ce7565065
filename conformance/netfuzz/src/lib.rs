//! # mqttspec-netfuzz
//!
//! The network fuzzer behind `mqttspec fuzz`: a state-aware fuzzer for any MQTT broker over
//! TCP (not to be confused with the cargo-fuzz targets in `fuzz/`, which fuzz the codec and
//! the broker core in-process).
//!
//! A campaign is a sequence of rounds ([`round`]). In each round a few clients connect with
//! valid CONNECTs and subscribe, then a random sequence of actions mixes valid packets for
//! their state ([`generate`]), mutated packets ([`mutate`]), seeds from the project corpus
//! ([`seeds`]), split writes, bursts, reconnects and closes; over WebSocket also hand-built
//! frames broken at the frame layer ([`ws_frame`]). The [`oracle`]s judge the
//! broker's answers as they arrive and, after the round, whether a fresh client is still
//! served. Each new finding is minimised ([`minimize`]: fewest clients, steps, bytes) with the
//! replay runner as the test, and written as a scenario file that `mqttspec replay`
//! reproduces ([`finding`]). [`target`] starts or restarts the broker; [`campaign`] runs the
//! loop and writes the report.
//!
//! Credentials (`mqttspec fuzz --profile` / `--username`, for a broker that refuses anonymous
//! clients): every CONNECT generated to be accepted carries the User Name and Password, the
//! CONNECTs the mutator damages start from one that carries them (so a mutation may keep,
//! damage or drop them), corpus CONNECTs are sent as they are, and the liveness probe logs in
//! too. The reproducers record the credentials (`[credentials]`), so that the replay runner's
//! own CONNECTs log in the same way.
//!
//! Determinism: every action draws its random choices from a generator seeded by (seed,
//! round, action), so a seed always makes the same choices. What is actually written also
//! depends on the broker's answers (a connection the broker closed is reconnected rather than
//! written to; answers are acknowledged), so two runs are identical only as far as the broker
//! answers identically and in time. A finding's scenario file is the exact record.
//!
//! | file | role |
//! |---|---|
//! | [`campaign`] | the loop, deduplication of findings, restarts, reports |
//! | [`round`] | one round: clients, actions, PINGREQ barrier, liveness probe; the step log |
//! | [`generate`] | valid packets for a client's state and the broker's CONNACK limits |
//! | [`mutate`] | byte-level mutations aware of MQTT framing |
//! | [`seeds`] | corpus seeds and dictionary tokens |
//! | [`oracle`] | the checks, one [`oracle::FindingKind`] each |
//! | [`minimize`] | delta debugging of a finding with replays |
//! | [`finding`] | findings, reproducer files, `summary.json` / `summary.md` |
//! | [`target`] | embedded broker, external broker, `--broker-cmd` restarts |
//! | [`ws_frame`] | WebSocket frame-layer mutations (`ws://` and `wss://` targets only) |

pub mod campaign;
pub mod finding;
pub mod generate;
pub mod minimize;
pub mod mutate;
pub mod oracle;
pub mod round;
pub mod seeds;
pub mod target;
pub mod ws_frame;

use mqttspec_codec::ProtocolVersion;

/// The random generator of the fuzzer (value-stable across releases of its crate).
pub type Rng = rand_xorshift::XorShiftRng;

/// Parses `--protocol`.
pub fn parse_protocols(s: &str) -> Result<Vec<ProtocolVersion>, String> {
    match s {
        "both" | "all" => Ok(vec![ProtocolVersion::V311, ProtocolVersion::V5]),
        other => other.parse::<ProtocolVersion>().map(|v| vec![v]),
    }
}
