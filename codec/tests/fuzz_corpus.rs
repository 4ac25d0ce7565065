//! The fuzz corpora under plain `cargo test` (stable): every seed in `corpus/fuzz/<target>/`
//! and every minimised finding in `corpus/fuzz/regressions/<target>/` goes through the same
//! function of `mqttspec_codec::fuzzing` that the cargo-fuzz target wraps, so CI re-checks
//! all of them without nightly or libFuzzer. A finding that panics again fails here.
//!
//! The seeds are built from the golden vectors (`corpus/golden/`) by the ignored test
//! `regenerate_seed_corpora` (see `fuzz/README.md`):
//!
//! ```text
//! cargo test -p mqttspec-codec --test fuzz_corpus -- --ignored regenerate_seed_corpora
//! ```
//!
//! The same seeds are also built in memory here and must be accepted as valid packets, so a
//! golden vector added later is covered even before the seed files are rebuilt.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use mqttspec_codec::fuzzing::{self, stream_split_header, version_byte, Outcome};
use mqttspec_codec::ProtocolVersion;

/// The function of `mqttspec_codec::fuzzing` that checks one input of a target.
type Oracle = fn(&[u8]) -> Outcome;

/// The codec targets, each with its oracle.
const TARGETS: [(&str, Oracle); 5] = [
    ("decode_v311", fuzzing::decode_v311),
    ("decode_v5", fuzzing::decode_v5),
    ("round_trip", fuzzing::round_trip),
    ("stream_split", fuzzing::stream_split),
    (
        "structured_round_trip",
        fuzzing::structured_round_trip_bytes,
    ),
];

/// Corpus folders of targets over other crates, replayed by those crates' own tests (the
/// broker-core target belongs to `reference-broker`).
const REPLAYED_ELSEWHERE: [&str; 1] = ["broker_core"];

/// The chunk-size patterns of the whole-file stream-split seeds.
const STREAM_CHUNKINGS: [&[u8]; 4] = [&[1], &[7], &[2, 5, 13], &[64, 3, 255]];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

fn target_fn(name: &str) -> Option<Oracle> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The files directly inside `dir`, sorted; none if it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable corpus directory").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            // Notes next to the inputs are not inputs.
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') || n.ends_with(".md"))
        })
        .collect();
    files.sort();
    files
}

/// The sub-directories of `dir`, by name.
fn dirs_in(dir: &Path) -> Vec<String> {
    let mut dirs: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable corpus directory").path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    dirs
}

/// Runs `f` over `data`, turning a panic (a finding) into a failure that names the file.
fn replay(target: &str, f: Oracle, path: &Path, data: &[u8]) -> Outcome {
    std::panic::catch_unwind(|| f(data)).unwrap_or_else(|_| {
        panic!(
            "{target} fails on {} ({} bytes: {data:02X?})",
            path.display(),
            data.len()
        )
    })
}

// ----- the golden vectors and the seeds built from them --------------------------------------

/// One golden vector: its name and bytes (the format is described in corpus/golden/README.md;
/// codec/tests/golden.rs checks it strictly, this reader only needs the name and the hex).
fn golden(file: &str) -> Vec<(String, Vec<u8>)> {
    let path = corpus_dir().join("golden").join(file);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split('|').map(str::trim).collect();
            assert_eq!(fields.len(), 4, "{file}: bad golden line `{line}`");
            let bytes = fields[3]
                .split_whitespace()
                .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
                .collect();
            (fields[0].to_owned(), bytes)
        })
        .collect()
}

fn golden_of(v: ProtocolVersion) -> Vec<(String, Vec<u8>)> {
    match v {
        ProtocolVersion::V311 => golden("v311.txt"),
        ProtocolVersion::V5 => golden("v5.txt"),
    }
}

fn prefix(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V311 => "v311",
        ProtocolVersion::V5 => "v5",
    }
}

/// A seed: target, file name, bytes, and what the target must make of it.
#[derive(Debug)]
struct Seed {
    target: &'static str,
    name: String,
    bytes: Vec<u8>,
    expected: Option<Outcome>,
}

/// Every seed built from the golden vectors (see fuzz/README.md for the input layouts).
fn golden_seeds() -> Vec<Seed> {
    let mut seeds = Vec::new();
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let vectors = golden_of(v);
        let decode_target = match v {
            ProtocolVersion::V311 => "decode_v311",
            ProtocolVersion::V5 => "decode_v5",
        };
        for (i, (name, bytes)) in vectors.iter().enumerate() {
            seeds.push(Seed {
                target: decode_target,
                name: name.clone(),
                bytes: bytes.clone(),
                expected: Some(Outcome::Packets(1)),
            });
            let mut rt = vec![version_byte(v)];
            rt.extend_from_slice(bytes);
            seeds.push(Seed {
                target: "round_trip",
                name: format!("{}_{name}", prefix(v)),
                bytes: rt,
                expected: Some(Outcome::Packets(1)),
            });
            // One packet in chunks of 1 to 7 bytes, varying from vector to vector.
            let chunk = u8::try_from(i % 7 + 1).unwrap();
            let mut ss = vec![stream_split_header(v, 1), chunk];
            ss.extend_from_slice(bytes);
            seeds.push(Seed {
                target: "stream_split",
                name: format!("{}_{name}", prefix(v)),
                bytes: ss,
                expected: Some(Outcome::Packets(1)),
            });
            // The structured target reads its input through `arbitrary`; packet bytes are
            // as good a start as any and keep the corpus varied.
            let mut st = vec![version_byte(v)];
            st.extend_from_slice(bytes);
            seeds.push(Seed {
                target: "structured_round_trip",
                name: format!("{}_{name}", prefix(v)),
                bytes: st,
                expected: None,
            });
        }
        // Every vector of the file back to back, in several chunkings.
        let stream: Vec<u8> = vectors.iter().flat_map(|(_, b)| b.clone()).collect();
        for chunks in STREAM_CHUNKINGS {
            let mut ss = vec![stream_split_header(v, chunks.len())];
            ss.extend_from_slice(chunks);
            ss.extend_from_slice(&stream);
            let label: Vec<String> = chunks.iter().map(u8::to_string).collect();
            seeds.push(Seed {
                target: "stream_split",
                name: format!("{}_all_chunks_{}", prefix(v), label.join("_")),
                bytes: ss,
                expected: Some(Outcome::Packets(vectors.len())),
            });
        }
    }
    seeds
}

// ----- tests ---------------------------------------------------------------------------------

#[test]
fn seeds_built_from_the_golden_vectors_pass_every_oracle_as_valid_packets() {
    let seeds = golden_seeds();
    assert!(seeds.len() > 100, "only {} golden seeds", seeds.len());
    for seed in &seeds {
        let f = target_fn(seed.target).unwrap();
        let path = Path::new(seed.target).join(&seed.name);
        let outcome = replay(seed.target, f, &path, &seed.bytes);
        if let Some(expected) = seed.expected {
            assert_eq!(outcome, expected, "{}", path.display());
        }
    }
}

#[test]
fn every_committed_seed_replays_without_a_finding() {
    let fuzz = corpus_dir().join("fuzz");
    let mut counts = BTreeMap::new();
    for dir in dirs_in(&fuzz) {
        if dir == "regressions" || REPLAYED_ELSEWHERE.contains(&dir.as_str()) {
            continue;
        }
        let f = target_fn(&dir).unwrap_or_else(|| {
            panic!(
                "corpus/fuzz/{dir}/ belongs to no codec fuzz target; wire it in TARGETS or \
                 REPLAYED_ELSEWHERE"
            )
        });
        let files = files_in(&fuzz.join(&dir));
        for path in &files {
            let data = fs::read(path).unwrap();
            replay(&dir, f, path, &data);
        }
        counts.insert(dir, files.len());
    }
    for (target, _) in TARGETS {
        let n = counts.get(target).copied().unwrap_or(0);
        assert!(n >= 10, "corpus/fuzz/{target}/ holds {n} seeds");
    }
}

#[test]
fn committed_seeds_match_the_golden_vectors_they_were_built_from() {
    // Seeds may be added by hand or by `cargo fuzz cmin`, and a new golden vector may not have
    // been turned into a seed yet; but a seed named after a vector must hold that vector.
    let fuzz = corpus_dir().join("fuzz");
    let mut checked = 0;
    for seed in golden_seeds() {
        let path = fuzz.join(seed.target).join(&seed.name);
        if let Ok(on_disk) = fs::read(&path) {
            assert_eq!(
                on_disk,
                seed.bytes,
                "{} is stale: rebuild the seeds (see fuzz/README.md)",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} seeds found on disk");
}

#[test]
fn every_regression_input_replays_without_a_finding() {
    let regressions = corpus_dir().join("fuzz").join("regressions");
    assert!(regressions.is_dir(), "corpus/fuzz/regressions/ is missing");
    for dir in dirs_in(&regressions) {
        if REPLAYED_ELSEWHERE.contains(&dir.as_str()) {
            continue;
        }
        let f = target_fn(&dir).unwrap_or_else(|| {
            panic!("corpus/fuzz/regressions/{dir}/ belongs to no codec fuzz target")
        });
        for path in files_in(&regressions.join(&dir)) {
            let data = fs::read(&path).unwrap();
            replay(&dir, f, &path, &data);
        }
    }
}

#[test]
fn the_dictionary_parses_as_a_libfuzzer_dictionary() {
    let path = corpus_dir().join("fuzz").join("mqtt.dict");
    let text = fs::read_to_string(&path).unwrap();
    let mut tokens = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let token = parse_dict_line(line)
            .unwrap_or_else(|e| panic!("mqtt.dict line {}: {e}: `{line}`", i + 1));
        tokens.push(token);
    }
    assert!(tokens.len() > 100, "only {} tokens", tokens.len());
    for needed in [&b"\x00\x04MQTT"[..], b"$share/", b"$SYS", b"#", b"+", b"/"] {
        assert!(
            tokens.iter().any(|t| t == needed),
            "the dictionary lacks {needed:02X?}"
        );
    }
}

/// Parses `name="value"` (or `"value"`) with libFuzzer's escapes: `\\`, `\"` and `\xNN`.
fn parse_dict_line(line: &str) -> Result<Vec<u8>, String> {
    let start = line.find('"').ok_or("no opening quote")?;
    let name = &line[..start];
    if !name.is_empty() {
        let well_formed = name
            .strip_suffix('=')
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !well_formed {
            return Err(format!("bad token name `{name}`"));
        }
    }
    let body = line[start + 1..]
        .strip_suffix('"')
        .ok_or("no closing quote at the end")?;
    let bytes = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => match bytes.get(i + 1) {
                Some(b'\\') | Some(b'"') => {
                    out.push(bytes[i + 1]);
                    i += 2;
                }
                Some(b'x') => {
                    let hex = body.get(i + 2..i + 4).ok_or("short \\x escape")?;
                    out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                    i += 4;
                }
                _ => return Err("unknown escape".into()),
            },
            b'"' => return Err("unescaped quote inside the value".into()),
            b if !(0x20..0x7F).contains(&b) => return Err("non-printable byte".into()),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if out.is_empty() {
        return Err("empty token".into());
    }
    Ok(out)
}

#[test]
fn the_dictionary_line_parser_refuses_what_libfuzzer_refuses() {
    assert_eq!(
        parse_dict_line(r#"a="\x00\x04MQTT""#),
        Ok(b"\x00\x04MQTT".to_vec())
    );
    assert_eq!(parse_dict_line(r#""\\\"""#), Ok(b"\\\"".to_vec()));
    for bad in [
        r#"a="\x0""#,
        r#"a="x"#,
        r#"a b="x""#,
        r#"a="\q""#,
        r#"a="""#,
    ] {
        assert!(parse_dict_line(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_oracles_classify_what_they_are_given() {
    // A PINGREQ, a truncated PUBLISH, and a reserved packet type.
    assert_eq!(fuzzing::decode_v5(&[0xC0, 0x00]), Outcome::Packets(1));
    assert_eq!(
        fuzzing::decode_v311(&[0xC0, 0x00, 0x30, 0x05, 0x00]),
        Outcome::Refused {
            after: 1,
            class: mqttspec_codec::ErrorClass::Incomplete
        }
    );
    assert_eq!(
        fuzzing::decode_v311(&[0x00, 0x00]),
        Outcome::Refused {
            after: 0,
            class: mqttspec_codec::ErrorClass::MalformedPacket
        }
    );
    // AUTH exists in 5.0 only; the version byte picks the version.
    assert_eq!(
        fuzzing::round_trip(&[version_byte(ProtocolVersion::V5), 0xF0, 0x00]),
        Outcome::Packets(1)
    );
    assert!(matches!(
        fuzzing::round_trip(&[version_byte(ProtocolVersion::V311), 0xF0, 0x00]),
        Outcome::Refused { after: 0, .. }
    ));
    // Two PINGREQs cut into 1-byte chunks.
    let mut ss = vec![stream_split_header(ProtocolVersion::V311, 1), 1];
    ss.extend_from_slice(&[0xC0, 0x00, 0xC0, 0x00]);
    assert_eq!(fuzzing::stream_split(&ss), Outcome::Packets(2));
    assert_eq!(fuzzing::stream_split(&[]), Outcome::Invalid);
}

#[test]
fn structured_round_trip_checks_valid_packets_and_skips_invalid_ones() {
    use mqttspec_codec::{Disconnect, Packet, ReasonCode};
    assert_eq!(
        fuzzing::structured_round_trip(Packet::PingReq, ProtocolVersion::V311),
        Outcome::Packets(1)
    );
    // AUTH cannot be encoded for 3.1.1: refused by validate and by encode alike.
    let auth = Packet::Auth(Default::default());
    assert_eq!(
        fuzzing::structured_round_trip(auth, ProtocolVersion::V311),
        Outcome::Invalid
    );
    let disconnect = Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::DisconnectWithWillMessage,
        ..Default::default()
    });
    assert_eq!(
        fuzzing::structured_round_trip(disconnect, ProtocolVersion::V5),
        Outcome::Packets(1)
    );
}

/// Rebuilds the seed files from the golden vectors (overwriting same-named files; seeds no
/// longer produced must be deleted by hand) and makes sure the regressions folder exists.
#[test]
#[ignore = "writes corpus/fuzz/; run by hand after changing corpus/golden/ (fuzz/README.md)"]
fn regenerate_seed_corpora() {
    let fuzz = corpus_dir().join("fuzz");
    for seed in golden_seeds() {
        let dir = fuzz.join(seed.target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(&seed.name), &seed.bytes).unwrap();
    }
    for (target, _) in TARGETS {
        fs::create_dir_all(fuzz.join("regressions").join(target)).unwrap();
    }
}
