//! Shrinking a finding to a small scenario that still reproduces it, with the replay runner
//! as the test: first whole clients are dropped (fewest clients), then steps (delta
//! debugging over the step list: halves, quarters, ... single steps), then bytes of each
//! write (tails cut, then ranges removed). A candidate reproduces when its replay fails the
//! same way as the original: for a broker that stopped serving, the "still alive" check
//! (or any step, since a dead broker fails them too); otherwise the final expectation step,
//! with the same Expected text.
//!
//! The broker is restarted before every trial whenever the fuzzer can (the embedded broker,
//! `--broker-cmd`), so each trial starts from a fresh broker and the reproducer stands alone.
//! Trials are bounded by a count and a deadline; what is left when they run out is still a
//! valid reproducer.

use std::path::PathBuf;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{FrameDecoder, Packet, ProtocolVersion, PublishProperties};
use tokio::time::Instant;

use super::oracle::FindingKind;
use super::round::LoggedStep;
use super::target::Target;
use mqttspec_harness::profile::Credentials;
use mqttspec_harness::replay::template::CLIENT_ID_LEN;
use mqttspec_harness::replay::{run_scenario, Scenario, Step};
use mqttspec_harness::verdict::Verdict;

/// Limits of one minimisation.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// The most replays.
    pub trials: usize,
    /// The latest end.
    pub deadline: Instant,
    /// How long each expectation of a replay waits.
    pub wait: Duration,
}

/// The result of a minimisation.
#[derive(Debug, Clone)]
pub struct Minimized {
    /// The remaining steps (the expectation tail excluded).
    pub steps: Vec<LoggedStep>,
    /// Whether the original reproduced at all on replay.
    pub reproduced: bool,
    /// Replays run.
    pub trials: usize,
    /// The Expected / Actual of the reproducing replay.
    pub failure: Option<(String, String)>,
    /// Why it stopped early, if it did (the broker died and cannot be restarted, ...).
    pub note: Option<String>,
}

struct Shrinker<'a> {
    target: &'a mut Target,
    kind: FindingKind,
    version: ProtocolVersion,
    tail: Vec<Step>,
    budget: Budget,
    credentials: Option<Credentials>,
    trials: usize,
    expected: Option<String>,
    failure: Option<(String, String)>,
    note: Option<String>,
}

/// Minimises `steps` (+ the expectation `tail`) for a finding of `kind`.
pub async fn minimize(
    target: &mut Target,
    kind: FindingKind,
    version: ProtocolVersion,
    steps: Vec<LoggedStep>,
    tail: Vec<Step>,
    budget: Budget,
    credentials: Option<Credentials>,
) -> Minimized {
    let mut s = Shrinker {
        target,
        kind,
        version,
        tail,
        budget,
        credentials,
        trials: 0,
        expected: None,
        failure: None,
        note: None,
    };
    // The original must reproduce (twice allowed: timing).
    let mut reproduced = false;
    for _ in 0..2 {
        if s.test(&steps).await {
            reproduced = true;
            break;
        }
    }
    if !reproduced {
        return Minimized {
            steps,
            reproduced: false,
            trials: s.trials,
            failure: None,
            note: s.note,
        };
    }
    let mut steps = steps;
    // Fewest clients: drop every step of one client at a time.
    let tail_clients: Vec<String> = s.tail.iter().map(|t| step_client(t).to_owned()).collect();
    let mut names: Vec<String> = steps
        .iter()
        .map(|l| step_client(&l.step).to_owned())
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        if tail_clients.contains(&name) || !s.has_budget() {
            continue;
        }
        let candidate: Vec<LoggedStep> = steps
            .iter()
            .filter(|l| step_client(&l.step) != name)
            .cloned()
            .collect();
        if s.test(&candidate).await {
            steps = candidate;
        }
    }
    // Fewest steps: delta debugging.
    let mut n = 2usize;
    while steps.len() > 1 && s.has_budget() {
        let chunk = steps.len().div_ceil(n);
        let mut reduced = false;
        let mut start = 0;
        while start < steps.len() && s.has_budget() {
            let end = (start + chunk).min(steps.len());
            let mut candidate = steps[..start].to_vec();
            candidate.extend_from_slice(&steps[end..]);
            if !candidate.is_empty() && s.test(&candidate).await {
                steps = candidate;
                reduced = true;
                break;
            }
            start = end;
        }
        if reduced {
            n = n.saturating_sub(1).max(2);
        } else if chunk <= 1 {
            break;
        } else {
            n = (n * 2).min(steps.len());
        }
    }
    // Fewest packets and simplest packets: a write of several packets loses packets; a
    // valid packet loses its payload, properties, Will or extra filters (re-encoded, so it
    // stays valid).
    for i in 0..steps.len() {
        if !s.has_budget() {
            break;
        }
        let frames = match &steps[i].step {
            // Hand-built WebSocket frames are not MQTT packets.
            Step::Send {
                bytes,
                ws_wire: false,
                ..
            } => split_frames(bytes, version),
            _ => None,
        };
        if let Some(mut frames) = frames {
            let mut k = 0;
            while frames.len() > 1 && k < frames.len() && s.has_budget() {
                let mut fewer = frames.clone();
                fewer.remove(k);
                let mut candidate = steps.clone();
                set_bytes(&mut candidate[i].step, fewer.concat());
                candidate[i].note =
                    Some(format!("{} packets in one write (minimised)", fewer.len()));
                if s.test(&candidate).await {
                    frames = fewer;
                    steps = candidate;
                } else {
                    k += 1;
                }
            }
        }
        for simpler in simplifications(&steps[i].step, version) {
            if !s.has_budget() {
                break;
            }
            let mut candidate = steps.clone();
            candidate[i].note = step_bytes(&simpler)
                .map(|b| format!("{} (simplified)", super::round::describe(b, version)));
            candidate[i].step = simpler;
            if s.test(&candidate).await {
                steps = candidate;
            }
        }
    }
    // Fewest bytes: shorten each write.
    for i in 0..steps.len() {
        if !s.has_budget() {
            break;
        }
        let Step::Send { bytes, .. } = &steps[i].step else {
            continue;
        };
        let mut bytes = bytes.clone();
        let mut cut = bytes.len() / 2;
        while cut > 0 && s.has_budget() {
            let mut progress = false;
            let mut start = 0;
            while start < bytes.len() && s.has_budget() {
                let end = (start + cut).min(bytes.len());
                let mut shorter = bytes[..start].to_vec();
                shorter.extend_from_slice(&bytes[end..]);
                if shorter.is_empty() {
                    start = end;
                    continue;
                }
                let mut candidate = steps.clone();
                candidate[i].note = Some(format!(
                    "{} (shortened)",
                    super::round::describe(&shorter, version)
                ));
                set_bytes(&mut candidate[i].step, shorter.clone());
                if s.test(&candidate).await {
                    bytes = shorter;
                    steps = candidate;
                    progress = true;
                } else {
                    start = end;
                }
            }
            if !progress {
                cut /= 2;
            }
        }
    }
    Minimized {
        steps,
        reproduced: true,
        trials: s.trials,
        failure: s.failure,
        note: s.note,
    }
}

/// The client a step acts on; empty for a `wait`, which belongs to no client (the fuzzer
/// never writes one).
fn step_client(step: &Step) -> &str {
    match step {
        Step::Connect { client, .. }
        | Step::Send { client, .. }
        | Step::Close { client }
        | Step::Expect { client, .. } => client,
        Step::Wait { .. } => "",
    }
}

fn step_bytes(step: &Step) -> Option<&[u8]> {
    match step {
        Step::Send { bytes, .. } => Some(bytes),
        Step::Connect { raw: Some(b), .. } => Some(b),
        _ => None,
    }
}

fn set_bytes(step: &mut Step, new: Vec<u8>) {
    if let Step::Send { bytes, .. } = step {
        *bytes = new;
    }
}

/// The packets of `bytes` when it is two or more complete, valid packets and nothing else.
fn split_frames(bytes: &[u8], v: ProtocolVersion) -> Option<Vec<Vec<u8>>> {
    let mut buf = BytesMut::from(bytes);
    let mut decoder = FrameDecoder::new(v);
    let mut frames = Vec::new();
    while !buf.is_empty() {
        let frame = decoder.next_frame(&mut buf).ok()??;
        frame.decode(v).ok()?;
        frames.push(frame.bytes.to_vec());
    }
    (frames.len() > 1).then_some(frames)
}

/// Simpler versions of a step that sends (or connects with) one valid packet: the same
/// packet without payload, properties, Will, or with fewer filters.
fn simplifications(step: &Step, v: ProtocolVersion) -> Vec<Step> {
    let bytes = match step {
        Step::Send { bytes, .. } => bytes,
        Step::Connect {
            raw: Some(bytes), ..
        } => bytes,
        _ => return Vec::new(),
    };
    let Ok(packet) = Packet::decode(Bytes::copy_from_slice(bytes), v) else {
        return Vec::new();
    };
    let mut variants: Vec<Packet> = Vec::new();
    match &packet {
        Packet::Publish(p) => {
            if !p.payload.is_empty() {
                let mut q = p.clone();
                q.payload = Bytes::new();
                variants.push(Packet::Publish(q));
            }
            let mut q = p.clone();
            q.properties = PublishProperties {
                topic_alias: p.properties.topic_alias,
                ..PublishProperties::default()
            }
            .into();
            variants.push(Packet::Publish(q));
        }
        Packet::Subscribe(sub) => {
            for k in 0..sub.filters.len() {
                if sub.filters.len() > 1 {
                    let mut q = sub.clone();
                    q.filters.remove(k);
                    variants.push(Packet::Subscribe(q));
                }
            }
            let mut q = sub.clone();
            q.properties = Default::default();
            variants.push(Packet::Subscribe(q));
        }
        Packet::Connect(c) => {
            let mut q = c.clone();
            q.will = None;
            variants.push(Packet::Connect(q));
            let mut q = c.clone();
            q.properties = Default::default();
            variants.push(Packet::Connect(q));
        }
        _ => {}
    }
    variants
        .into_iter()
        .filter(|p| *p != packet)
        .filter_map(|p| p.encode(v).ok())
        .filter(|b| b.len() < bytes.len())
        .map(|b| {
            let mut step = step.clone();
            match &mut step {
                Step::Send { bytes, .. } => *bytes = b.to_vec(),
                Step::Connect {
                    raw,
                    client_id_slots,
                    ..
                } => {
                    // The Client Identifier moved: find it again (placeholder bytes or id).
                    let old = raw.as_deref().unwrap_or_default();
                    let id = client_id_slots
                        .first()
                        .and_then(|&at| old.get(at..at + CLIENT_ID_LEN))
                        .map(<[u8]>::to_vec);
                    *client_id_slots = id
                        .and_then(|id| b.windows(id.len()).position(|w| w == id.as_slice()))
                        .into_iter()
                        .collect();
                    *raw = Some(b.to_vec());
                }
                _ => {}
            }
            step
        })
        .collect()
}

/// Drops steps of clients that have not connected yet (what a removed CONNECT leaves).
pub fn normalize(steps: &[LoggedStep]) -> Vec<LoggedStep> {
    let mut connected: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(steps.len());
    for l in steps {
        if let Step::Connect { client, .. } = &l.step {
            connected.push(client);
            out.push(l.clone());
        } else if connected.contains(&step_client(&l.step)) {
            out.push(l.clone());
        }
    }
    out
}

impl Shrinker<'_> {
    fn has_budget(&self) -> bool {
        self.trials < self.budget.trials
            && Instant::now() < self.budget.deadline
            && self.note.is_none()
    }

    /// Replays `steps` + tail; whether it fails as the finding did.
    async fn test(&mut self, steps: &[LoggedStep]) -> bool {
        let steps = normalize(steps);
        let connected: Vec<&str> = steps
            .iter()
            .filter_map(|l| match &l.step {
                Step::Connect { client, .. } => Some(client.as_str()),
                _ => None,
            })
            .collect();
        if self
            .tail
            .iter()
            .any(|t| !connected.contains(&step_client(t)))
        {
            return false;
        }
        // A fresh broker for every trial whenever the fuzzer can start one: otherwise a trial
        // can lean on state left by the campaign (a retained message, a session) and the
        // reproducer would not stand alone.
        if self.target.can_restart() {
            if let Err(e) = self.target.restart().await {
                self.note = Some(e);
                return false;
            }
        }
        let mut all: Vec<Step> = steps.iter().map(|l| l.step.clone()).collect();
        all.extend(self.tail.iter().cloned());
        let scenario = Scenario {
            path: PathBuf::from("minimizing"),
            id: "minimizing".to_owned(),
            title: String::new(),
            source: String::new(),
            protocol: self.version,
            expect: String::new(),
            statements: Vec::new(),
            credentials: self.credentials.clone(),
            steps: all,
        };
        self.trials += 1;
        let stem = format!("mz{}", self.trials);
        let run = run_scenario(&scenario, self.target.addr(), self.budget.wait, &stem).await;
        let o = run.outcome;
        match o.verdict {
            Verdict::Fail => {}
            Verdict::Error if !self.target.can_restart() => {
                // The broker stopped serving before the trial: nothing more can be learnt.
                self.note = Some(format!(
                    "the broker stopped serving during minimisation ({})",
                    o.actual.unwrap_or_default()
                ));
                return false;
            }
            _ => return false,
        }
        let expected = o.expected.clone().unwrap_or_default();
        let actual = o.actual.clone().unwrap_or_default();
        let same = match self.kind {
            FindingKind::NotServing => true,
            _ => {
                let last = format!("step {}: ", scenario.steps.len());
                actual.starts_with(&last) && self.expected.as_ref().is_none_or(|e| *e == expected)
            }
        };
        if same {
            self.expected.get_or_insert(expected.clone());
            self.failure = Some((expected, actual));
        }
        same
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(s: Step) -> LoggedStep {
        LoggedStep {
            step: s,
            note: None,
        }
    }

    #[test]
    fn steps_of_clients_without_a_connect_are_dropped() {
        let connect = |c: &str| {
            step(Step::Connect {
                client: c.to_owned(),
                raw: None,
                client_id_slots: Vec::new(),
                keep_alive: 60,
                same_id_as: None,
                maximum_packet_size: None,
            })
        };
        let send = |c: &str| {
            step(Step::Send {
                client: c.to_owned(),
                bytes: vec![0xc0, 0x00],
                repeat: 1,
                or_closed: true,
                ws_wire: false,
            })
        };
        let out = normalize(&[
            send("a"),
            connect("b"),
            send("b"),
            send("a"),
            connect("a"),
            send("a"),
        ]);
        let kinds: Vec<(&str, bool)> = out
            .iter()
            .map(|l| (step_client(&l.step), matches!(l.step, Step::Connect { .. })))
            .collect();
        assert_eq!(
            kinds,
            vec![("b", true), ("b", false), ("a", true), ("a", false)]
        );
    }
}

#[cfg(test)]
mod simplify_tests {
    use super::*;

    #[test]
    fn a_connect_with_a_will_is_simplified_keeping_its_client_id_slot() {
        let text = "10 31 00 04 4d 51 54 54 05 0e 00 00 00 00 0c 66 7a 31 32 33 34 35 36 37 38 39 30 00 00 13 66 7a 2f 66 7a 35 70 68 72 6c 72 61 34 74 7a 2f 65 20 66 00 00";
        let bytes = hex::decode(text.replace(' ', "")).unwrap();
        let step = Step::Connect {
            client: "c".to_owned(),
            raw: Some(bytes),
            client_id_slots: vec![15],
            keep_alive: 60,
            same_id_as: None,
            maximum_packet_size: None,
        };
        let simpler = simplifications(&step, ProtocolVersion::V5);
        assert!(!simpler.is_empty());
        for s in simpler {
            let Step::Connect {
                raw: Some(b),
                client_id_slots,
                ..
            } = s
            else {
                panic!()
            };
            assert_eq!(
                &b[client_id_slots[0]..client_id_slots[0] + 12],
                b"fz1234567890"
            );
        }
    }
}
