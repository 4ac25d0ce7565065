//! The network fuzzer's seeds: client-to-server packets from the project corpus (the golden
//! vectors in `corpus/golden/*.txt` and the bytes of the regression scenarios in
//! `corpus/regressions/*.toml`) and the libFuzzer dictionary `corpus/fuzz/mqtt.dict`, whose
//! tokens the mutator splices in.
//!
//! Loading never fails the campaign: a file that cannot be read or parsed is skipped and
//! counted in [`Seeds::skipped`].

use std::path::{Path, PathBuf};

use mqttspec_codec::ProtocolVersion;

use mqttspec_harness::replay::{Scenario, Step};

/// The largest seed kept (bytes): bigger ones would dominate the traffic.
pub const MAX_SEED_LEN: usize = 256 * 1024;

/// Seeds for one protocol version and the dictionary.
#[derive(Debug, Clone, Default)]
pub struct Seeds {
    /// MQTT 3.1.1 seeds (whole packets or raw byte strings a client sends).
    pub v311: Vec<Vec<u8>>,
    /// MQTT 5.0 seeds.
    pub v5: Vec<Vec<u8>>,
    /// Dictionary tokens.
    pub tokens: Vec<Vec<u8>>,
    /// Files that could not be used.
    pub skipped: Vec<String>,
}

impl Seeds {
    /// The seeds of version `v`.
    pub fn for_version(&self, v: ProtocolVersion) -> &[Vec<u8>] {
        match v {
            ProtocolVersion::V311 => &self.v311,
            ProtocolVersion::V5 => &self.v5,
        }
    }

    /// The corpus folder of this source tree, when it exists.
    pub fn default_corpus_dir() -> Option<PathBuf> {
        // This crate is `conformance/netfuzz/`; the corpus is at the top of the tree.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join("corpus");
        dir.is_dir().then_some(dir)
    }

    /// Loads `corpus_dir/golden/*.txt`, `corpus_dir/regressions/*.toml` and
    /// `corpus_dir/fuzz/mqtt.dict` (whichever exist).
    pub fn load(corpus_dir: &Path) -> Seeds {
        let mut seeds = Seeds::default();
        for (file, v) in [
            ("v311.txt", ProtocolVersion::V311),
            ("v5.txt", ProtocolVersion::V5),
        ] {
            let path = corpus_dir.join("golden").join(file);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    for bytes in golden_vectors(&text) {
                        seeds.add(v, bytes);
                    }
                }
                Err(e) => seeds.skipped.push(format!("{}: {e}", path.display())),
            }
        }
        let regressions = corpus_dir.join("regressions");
        if let Ok(files) = mqttspec_harness::replay::collect_files(&[regressions]) {
            for f in files {
                match Scenario::load(&f) {
                    Ok(s) => {
                        for bytes in scenario_bytes(&s) {
                            seeds.add(s.protocol, bytes);
                        }
                    }
                    Err(e) => seeds.skipped.push(e.to_string()),
                }
            }
        }
        let dict = corpus_dir.join("fuzz").join("mqtt.dict");
        match std::fs::read_to_string(&dict) {
            Ok(text) => seeds.tokens = dictionary(&text),
            Err(e) => seeds.skipped.push(format!("{}: {e}", dict.display())),
        }
        seeds
    }

    fn add(&mut self, v: ProtocolVersion, bytes: Vec<u8>) {
        if bytes.is_empty() || bytes.len() > MAX_SEED_LEN {
            return;
        }
        let list = match v {
            ProtocolVersion::V311 => &mut self.v311,
            ProtocolVersion::V5 => &mut self.v5,
        };
        if !list.contains(&bytes) {
            list.push(bytes);
        }
    }
}

/// The hex field of every golden vector that is a packet a client sends.
fn golden_vectors(text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(" | ").next())
        .filter_map(|h| hex::decode(h.replace(' ', "")).ok())
        .filter(|b| client_sends(b))
        .collect()
}

/// Whether the first byte is the type of a packet a client sends (CONNECT, PUBLISH, the
/// acknowledgements, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT, AUTH).
fn client_sends(bytes: &[u8]) -> bool {
    let Some(&first) = bytes.first() else {
        return false;
    };
    !matches!(first >> 4, 0 | 2 | 9 | 11 | 13)
}

/// The raw bytes a scenario sends (CONNECTs and sends), each one seed.
fn scenario_bytes(s: &Scenario) -> Vec<Vec<u8>> {
    s.steps
        .iter()
        .filter_map(|step| match step {
            Step::Connect {
                raw: Some(b),
                client_id_slots,
                ..
            } if client_id_slots.is_empty() => Some(b.clone()),
            Step::Send { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .collect()
}

/// The tokens of a libFuzzer dictionary (`name="bytes"` lines with `\xNN`, `\\`, `\"`).
pub fn dictionary(text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let start = l.find('"')?;
            let inner = l.get(start + 1..l.len().checked_sub(1)?)?;
            unescape(inner)
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn unescape(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        match bytes.get(i + 1)? {
            b'x' => {
                let hex = s.get(i + 2..i + 4)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
            }
            &c @ (b'\\' | b'"') => {
                out.push(c);
                i += 2;
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_corpus_gives_seeds_of_both_versions_and_dictionary_tokens() {
        let dir = Seeds::default_corpus_dir().expect("corpus in the source tree");
        let seeds = Seeds::load(&dir);
        assert!(seeds.skipped.is_empty(), "{:?}", seeds.skipped);
        assert!(seeds.v311.len() > 30, "{}", seeds.v311.len());
        assert!(seeds.v5.len() > 50, "{}", seeds.v5.len());
        assert!(seeds.tokens.len() > 40, "{}", seeds.tokens.len());
        assert!(seeds.tokens.contains(&vec![0xc0, 0x00]));
    }

    #[test]
    fn golden_vectors_of_packets_only_servers_send_are_not_seeds() {
        let text = "# x\nconnack | canonical | d | 20 02 00 00\npingreq | canonical | d | c0 00\n";
        assert_eq!(golden_vectors(text), vec![vec![0xc0, 0x00]]);
    }

    #[test]
    fn dictionary_lines_are_unescaped() {
        let tokens = dictionary("# c\na=\"\\x00\\x04MQTT\"\nb=\"q\\\\\\\"\"\nbad=\"\\q\"\n");
        assert_eq!(tokens, vec![b"\x00\x04MQTT".to_vec(), b"q\\\"".to_vec()]);
    }
}
