//! Validated, zero-copy strings: [`MqttString`] (a UTF-8 Encoded String), [`TopicName`] and
//! [`TopicFilter`].
//!
//! Each wraps a [`bytestring::ByteString`], which shares the frame's [`bytes::Bytes`], so a
//! decoded string is a slice of the received packet, never a copy.

use bytes::Bytes;
use bytestring::ByteString;

use crate::violation::Violation;

/// A UTF-8 Encoded String: well-formed UTF-8 (so no surrogates), no U+0000, at most 65,535
/// bytes. A leading U+FEFF is kept as it is.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MqttString(ByteString);

impl MqttString {
    /// The longest string the two-byte length prefix can describe.
    pub const MAX_LEN: usize = 65_535;

    /// A validated string. `field` names the field in the error.
    pub fn new(s: impl Into<String>, field: &'static str) -> Result<Self, Violation> {
        let s: String = s.into();
        Self::check(&s, field)?;
        Ok(MqttString(ByteString::from(s)))
    }

    /// A string from a `'static` literal (validated).
    pub fn from_static(s: &'static str) -> Result<Self, Violation> {
        Self::check(s, "string")?;
        Ok(MqttString(ByteString::from_static(s)))
    }

    /// A string from received bytes, without copying them.
    #[inline]
    pub fn from_bytes(bytes: Bytes, field: &'static str) -> Result<Self, Violation> {
        let s = Self::utf8(bytes, field)?;
        if !cfg!(mqttspec_bench_unchecked) && contains_any(s.as_bytes(), |b| b == 0) {
            return Err(Violation::NullCharacter { field });
        }
        Ok(MqttString(s))
    }

    /// The checks of [`MqttString::from_bytes`] on received bytes (at most 65,535 of them:
    /// they came with a two-byte length), without making a string of them: well-formed
    /// UTF-8, then no U+0000, with the same errors. The common case, ASCII without U+0000,
    /// takes one pass over eight bytes at a time ([`ascii_without_nul`]).
    #[inline]
    pub(crate) fn check_received(bytes: &[u8], field: &'static str) -> Result<(), Violation> {
        if ascii_without_nul(bytes) {
            return Ok(());
        }
        Self::check_received_slow(bytes, field)
    }

    /// [`MqttString::check_received`] past its ASCII case.
    #[cold]
    #[inline(never)]
    fn check_received_slow(bytes: &[u8], field: &'static str) -> Result<(), Violation> {
        if std::str::from_utf8(bytes).is_err() {
            return Err(Violation::InvalidUtf8 { field });
        }
        if bytes.len() > Self::MAX_LEN {
            return Err(Violation::FieldTooLong {
                field,
                len: bytes.len(),
            });
        }
        if !cfg!(mqttspec_bench_unchecked) && bytes.contains(&0) {
            return Err(Violation::NullCharacter { field });
        }
        Ok(())
    }

    /// Well-formed UTF-8 of at most [`MqttString::MAX_LEN`] bytes (nothing else checked).
    #[inline]
    fn utf8(bytes: Bytes, field: &'static str) -> Result<ByteString, Violation> {
        let s = ByteString::try_from(bytes).map_err(|_| Violation::InvalidUtf8 { field })?;
        if s.len() > Self::MAX_LEN {
            return Err(Violation::FieldTooLong {
                field,
                len: s.len(),
            });
        }
        Ok(s)
    }

    fn check(s: &str, field: &'static str) -> Result<(), Violation> {
        if s.len() > Self::MAX_LEN {
            return Err(Violation::FieldTooLong {
                field,
                len: s.len(),
            });
        }
        if contains_any(s.as_bytes(), |b| b == 0) {
            return Err(Violation::NullCharacter { field });
        }
        Ok(())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying bytes (shared, not copied).
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MqttString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for MqttString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for MqttString {
    type Error = Violation;
    fn try_from(s: &str) -> Result<Self, Violation> {
        MqttString::new(s, "string")
    }
}

impl TryFrom<String> for MqttString {
    type Error = Violation;
    fn try_from(s: String) -> Result<Self, Violation> {
        MqttString::new(s, "string")
    }
}

/// A Topic Name: a UTF-8 Encoded String without the wildcard characters `+` and `#`.
///
/// It may be empty at this level: MQTT 5.0 allows an empty Topic Name in PUBLISH when a Topic
/// Alias is present, so the emptiness rule is checked where the name is used.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TopicName(MqttString);

impl TopicName {
    /// A validated Topic Name.
    pub fn new(s: impl Into<String>) -> Result<Self, Violation> {
        Self::from_string(MqttString::new(s, "Topic Name")?, "Topic Name")
    }

    /// A Topic Name from a validated string; `field` names it in the error.
    pub fn from_string(s: MqttString, field: &'static str) -> Result<Self, Violation> {
        if contains_any(s.as_bytes(), |b| b == b'+' || b == b'#') {
            return Err(Violation::WildcardInTopicName { field });
        }
        Ok(TopicName(s))
    }

    /// A Topic Name from received bytes, without copying them: the checks of
    /// [`MqttString::from_bytes`] and then of [`TopicName::from_string`] (same errors, in the
    /// same order), with U+0000 and the wildcards looked for in one pass.
    #[inline]
    pub fn from_bytes(bytes: Bytes, field: &'static str) -> Result<Self, Violation> {
        let s = MqttString::utf8(bytes, field)?;
        let found = scan_name(s.as_bytes());
        if found != 0 {
            if found & NUL != 0 {
                return Err(Violation::NullCharacter { field });
            }
            return Err(Violation::WildcardInTopicName { field });
        }
        Ok(TopicName(MqttString(s)))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// As a plain UTF-8 Encoded String.
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl std::ops::Deref for TopicName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for TopicName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for TopicName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for TopicName {
    type Error = Violation;
    fn try_from(s: &str) -> Result<Self, Violation> {
        TopicName::new(s)
    }
}

/// A Topic Filter: non-empty, `#` only as the whole last level, `+` only as a whole level.
///
/// The shared-subscription syntax (`$share/{ShareName}/{filter}`) is an MQTT 5.0 rule and is
/// checked by [`TopicFilter::check_shared`], which the v5 decoder applies.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(MqttString);

/// The prefix that marks a shared subscription in MQTT 5.0.
pub const SHARED_PREFIX: &str = "$share/";

impl TopicFilter {
    /// A validated Topic Filter (wildcard rules only; see [`TopicFilter::check_shared`]).
    pub fn new(s: impl Into<String>) -> Result<Self, Violation> {
        Self::from_string(MqttString::new(s, "Topic Filter")?)
    }

    /// A Topic Filter from a validated string.
    pub fn from_string(s: MqttString) -> Result<Self, Violation> {
        check_filter(s.as_str())?;
        Ok(TopicFilter(s))
    }

    /// A Topic Filter from received bytes, without copying them: the checks of
    /// [`MqttString::from_bytes`] and then of [`TopicFilter::from_string`] (same errors, in the
    /// same order), with U+0000 and the wildcards looked for in one pass.
    #[inline]
    pub fn from_bytes(bytes: Bytes, field: &'static str) -> Result<Self, Violation> {
        let s = MqttString::utf8(bytes, field)?;
        let found = scan_filter(s.as_bytes());
        if found & NUL != 0 {
            return Err(Violation::NullCharacter { field });
        }
        if s.is_empty() {
            return Err(Violation::EmptyTopicFilter);
        }
        if found & WILDCARD != 0 {
            check_wildcards(&s)?;
        }
        Ok(TopicFilter(MqttString(s)))
    }

    /// A validated MQTT 5.0 Topic Filter: wildcard rules and shared-subscription syntax.
    pub fn new_v5(s: impl Into<String>) -> Result<Self, Violation> {
        let f = Self::new(s)?;
        f.check_shared()?;
        Ok(f)
    }

    /// Checks the MQTT 5.0 shared-subscription syntax if the filter starts with `$share/`.
    pub fn check_shared(&self) -> Result<(), Violation> {
        let s = self.as_str();
        let Some(rest) = s.strip_prefix(SHARED_PREFIX) else {
            if s == "$share" {
                return Err(shared_error(s, "ShareName is empty"));
            }
            return Ok(());
        };
        let (share_name, filter) = match rest.split_once('/') {
            Some(parts) => parts,
            None => (rest, ""),
        };
        if share_name.is_empty() {
            return Err(shared_error(s, "ShareName is empty"));
        }
        if share_name.contains(['+', '#']) {
            return Err(shared_error(s, "ShareName contains a wildcard"));
        }
        if !rest.contains('/') {
            return Err(shared_error(
                s,
                "ShareName is not followed by '/' and a topic filter",
            ));
        }
        if filter.is_empty() {
            return Err(shared_error(s, "topic filter after the ShareName is empty"));
        }
        Ok(())
    }

    /// For a shared subscription (`$share/{ShareName}/{filter}`), the ShareName and the filter.
    pub fn shared_parts(&self) -> Option<(&str, &str)> {
        let rest = self.as_str().strip_prefix(SHARED_PREFIX)?;
        let (name, filter) = rest.split_once('/')?;
        if name.is_empty() || filter.is_empty() {
            return None;
        }
        Some((name, filter))
    }

    /// Whether the filter contains `+` or `#` (in its topic part, for a shared subscription).
    pub fn has_wildcards(&self) -> bool {
        let f = self.shared_parts().map_or(self.as_str(), |(_, f)| f);
        f.contains(['+', '#'])
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// As a plain UTF-8 Encoded String.
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }
}

/// Whether any byte matches. Without an early exit the loop vectorises, which makes the
/// common case (no match: a valid string) several times faster than `any` or `memchr` on the
/// short strings MQTT carries.
#[inline]
fn contains_any(bytes: &[u8], matches: impl Fn(u8) -> bool) -> bool {
    bytes.iter().fold(false, |found, b| found | matches(*b))
}

/// Whether every byte is in 0x01..=0x7F: ASCII (so well-formed UTF-8) without U+0000.
///
/// `(x - 0x0101…01) | x` has the high bit of a byte set when that byte is 0x00 (it borrows
/// and becomes 0xFF) or 0x80 and above, and in no other case unless a lower byte was 0x00
/// (only a 0x00 borrows), so the word test is exact.
#[inline]
pub(crate) fn ascii_without_nul(bytes: &[u8]) -> bool {
    fold_words(bytes, |x| (x.wrapping_sub(ONES) | x) & HIGH) == 0
}

/// Whether any byte is U+0000, `+` or `#`, eight bytes at a time (the tests of
/// [`nul_and_wildcard`], without keeping them apart).
#[inline]
fn nul_or_wildcard(bytes: &[u8]) -> bool {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    fold_words(bytes, |x| {
        zero(x) | zero((x & 0xF7F7_F7F7_F7F7_F7F7) ^ 0x2323_2323_2323_2323)
    }) != 0
}

/// Whether the bytes hold U+0000 ([`NUL`]) and whether they hold `+` or `#` ([`WILDCARD`]),
/// in one pass eight bytes at a time.
///
/// A 0x00 byte is found by the exact zero-byte test `(x - 0x0101…01) & !x & 0x8080…80`
/// (it may also flag bytes above a real 0x00 byte, never a word without one); `#` (0x23) and
/// `+` (0x2B) differ only in bit 3, so clearing bit 3 of every byte turns both into 0x23, and
/// the zero-byte test of that XOR 0x2323…23 finds either. The first test's flags stay in the
/// high bit of each byte, the second's are moved to the low bit, so one word carries both.
#[inline]
fn nul_and_wildcard(bytes: &[u8]) -> u8 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let found = fold_words(bytes, |x| {
        zero(x) | zero((x & 0xF7F7_F7F7_F7F7_F7F7) ^ 0x2323_2323_2323_2323) >> 7
    });
    (u8::from(found & HIGH != 0) * NUL) | (u8::from(found & ONES != 0) * WILDCARD)
}

/// 0x01 in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bitwise OR of `flagged` over the eight-byte words of `bytes` ("SWAR"): `flagged` must
/// not flag 0x01, which pads words. Strings
/// shorter than eight bytes are read as two overlapping halves (four, two or one byte) padded
/// with 0x01; longer ones as whole words plus their last eight bytes (overlapping the last
/// word). No branch per byte: the short strings MQTT carries cost a few instructions.
#[inline(always)]
fn fold_words(bytes: &[u8], flagged: impl Fn(u64) -> u64) -> u64 {
    let n = bytes.len();
    let word = if n >= 8 {
        let (words, _) = bytes.as_chunks::<8>();
        let mut acc = 0;
        for w in words {
            acc |= flagged(u64::from_le_bytes(*w));
        }
        if let Some(last) = bytes.last_chunk::<8>() {
            acc |= flagged(u64::from_le_bytes(*last));
        }
        return acc;
    } else if n >= 4 {
        let (Some(a), Some(z)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) else {
            return 0;
        };
        u64::from(u32::from_le_bytes(*a)) | u64::from(u32::from_le_bytes(*z)) << 32
    } else if n >= 2 {
        let (Some(a), Some(z)) = (bytes.first_chunk::<2>(), bytes.last_chunk::<2>()) else {
            return 0;
        };
        u64::from(u16::from_le_bytes(*a))
            | u64::from(u16::from_le_bytes(*z)) << 16
            | (ONES & !0xFFFF_FFFF)
    } else if let Some(&b) = bytes.first() {
        u64::from(b) | (ONES & !0xFF)
    } else {
        return 0;
    };
    flagged(word)
}

/// [`scan`] found U+0000.
const NUL: u8 = 1;
/// [`scan`] found `+` or `#`.
const WILDCARD: u8 = 2;

/// Whether a received string contains U+0000 ([`NUL`]) and whether it contains `+` or `#`
/// ([`WILDCARD`]), for a Topic Name: there either is an error, so the common case (none of
/// them) takes one pass eight bytes at a time that only says whether any is there
/// ([`nul_or_wildcard`]), and only a hit looks again to tell which.
///
/// Built with `--cfg mqttspec_bench_unchecked` (only ever for a benchmark run that measures
/// what these checks cost; never for a build that decodes real input) [`scan_name`] and
/// [`scan_filter`] find nothing, so the U+0000 check (MQTT-1.5.4-2), the Topic Name wildcard
/// check (MQTT-3.3.2-2) and the Topic Filter wildcard-placement check (MQTT-4.7.1-1/-2) are
/// skipped on decode.
#[inline]
fn scan_name(bytes: &[u8]) -> u8 {
    if cfg!(mqttspec_bench_unchecked) || !nul_or_wildcard(bytes) {
        return 0;
    }
    scan_hit(bytes)
}

/// [`scan_name`] past a hit.
#[cold]
#[inline(never)]
fn scan_hit(bytes: &[u8]) -> u8 {
    nul_and_wildcard(bytes)
}

/// [`scan_name`] for a Topic Filter, where wildcards are common: both answers from one pass
/// ([`nul_and_wildcard`]).
#[inline]
fn scan_filter(bytes: &[u8]) -> u8 {
    if cfg!(mqttspec_bench_unchecked) {
        return 0;
    }
    nul_and_wildcard(bytes)
}

/// The wildcard placement of a non-empty filter that contains `+` or `#`: each wildcard
/// must be a whole level, `#` the last one. One pass looking at each wildcard's neighbours;
/// on a failure [`check_levels`] finds which rule broke first (the error it has always given).
fn check_wildcards(s: &str) -> Result<(), Violation> {
    let bytes = s.as_bytes();
    let last = bytes.len().saturating_sub(1);
    let mut bad = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'+' || b == b'#' {
            let prev_ok = i == 0 || bytes.get(i - 1) == Some(&b'/');
            let next_ok = i == last || bytes.get(i + 1) == Some(&b'/');
            bad |= !(prev_ok && next_ok) || (b == b'#' && i != last);
        }
    }
    if bad {
        return check_levels(s);
    }
    Ok(())
}

fn shared_error(filter: &str, problem: &'static str) -> Violation {
    Violation::InvalidSharedSubscription {
        filter: filter.to_owned(),
        problem,
    }
}

fn check_filter(s: &str) -> Result<(), Violation> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err(Violation::EmptyTopicFilter);
    }
    // Byte-wise: '/', '#' and '+' are ASCII, and no byte of a multi-byte UTF-8 sequence can
    // equal an ASCII byte, so this is the same check as on characters. A filter without
    // wildcards needs one vectorised pass.
    if !contains_any(bytes, |b| b == b'#' || b == b'+') {
        return Ok(());
    }
    check_wildcards(s)
}

/// One pass over the levels, checking each level when it ends: '#' must be the whole last
/// level, '+' a whole level. Returns the first broken rule.
fn check_levels(s: &str) -> Result<(), Violation> {
    let bytes = s.as_bytes();
    let (mut level_len, mut has_hash, mut has_plus) = (0usize, false, false);
    let mut rest = bytes.iter();
    loop {
        let next = rest.next();
        if let Some(&b) = next.filter(|b| **b != b'/') {
            level_len += 1;
            has_hash |= b == b'#';
            has_plus |= b == b'+';
            continue;
        }
        let last = next.is_none();
        if has_hash && (level_len != 1 || !last) {
            return Err(Violation::MultiLevelWildcardPlacement {
                filter: s.to_owned(),
            });
        }
        if has_plus && level_len != 1 {
            return Err(Violation::SingleLevelWildcardPlacement {
                filter: s.to_owned(),
            });
        }
        if last {
            return Ok(());
        }
        (level_len, has_hash, has_plus) = (0, false, false);
    }
}

impl std::ops::Deref for TopicFilter {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for TopicFilter {
    type Error = Violation;
    fn try_from(s: &str) -> Result<Self, Violation> {
        TopicFilter::new(s)
    }
}

#[cfg(feature = "arbitrary")]
mod arbitrary_impls {
    use super::*;
    use arbitrary::{Arbitrary, Result, Unstructured};

    fn text(u: &mut Unstructured<'_>, exclude: &[char]) -> Result<String> {
        let s: String = u.arbitrary()?;
        let mut s: String = s
            .chars()
            .filter(|c| *c != '\0' && !exclude.contains(c))
            .collect();
        while s.len() > 512 {
            s.pop();
        }
        Ok(s)
    }

    impl<'a> Arbitrary<'a> for MqttString {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            MqttString::new(text(u, &[])?, "string").map_err(|_| arbitrary::Error::IncorrectFormat)
        }
    }

    impl<'a> Arbitrary<'a> for TopicName {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            let mut s = text(u, &['+', '#'])?;
            if s.is_empty() {
                s.push('t');
            }
            TopicName::new(s).map_err(|_| arbitrary::Error::IncorrectFormat)
        }
    }

    impl<'a> Arbitrary<'a> for TopicFilter {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            let levels = u.int_in_range(1..=5)?;
            let mut parts = Vec::new();
            for i in 0..levels {
                let part = match u.int_in_range(0..=5)? {
                    0 => "+".to_owned(),
                    1 if i + 1 == levels => "#".to_owned(),
                    _ => text(u, &['+', '#', '/'])?,
                };
                parts.push(part);
            }
            let mut s = parts.join("/");
            if s.starts_with("$share") {
                s.insert(0, 'x');
            }
            TopicFilter::new(s).map_err(|_| arbitrary::Error::IncorrectFormat)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_follow_the_wildcard_rules() {
        for ok in [
            "#", "+", "a/#", "a/+/b", "+/+", "/", "a//b", "$SYS/#", "sport/+",
        ] {
            assert!(TopicFilter::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(TopicFilter::new(""), Err(Violation::EmptyTopicFilter));
        for bad in ["a#", "a/#/b", "#/", "a/b#"] {
            assert!(matches!(
                TopicFilter::new(bad),
                Err(Violation::MultiLevelWildcardPlacement { .. })
            ));
        }
        for bad in ["a+", "+a/b", "a/b+/c"] {
            assert!(matches!(
                TopicFilter::new(bad),
                Err(Violation::SingleLevelWildcardPlacement { .. })
            ));
        }
    }

    #[test]
    fn shared_subscription_syntax_is_checked() {
        assert!(TopicFilter::new_v5("$share/g/a/#").is_ok());
        assert!(TopicFilter::new_v5("$share/g/#").is_ok());
        for bad in [
            "$share//a",
            "$share/g",
            "$share/g/",
            "$share/+/a",
            "$share/g#/a",
            "$share",
        ] {
            assert!(
                matches!(
                    TopicFilter::new(bad).and_then(|f| f.check_shared().map(|_| f)),
                    Err(Violation::InvalidSharedSubscription { .. })
                        | Err(Violation::MultiLevelWildcardPlacement { .. })
                        | Err(Violation::SingleLevelWildcardPlacement { .. })
                ),
                "{bad}"
            );
        }
        let f = TopicFilter::new_v5("$share/g/a/+").unwrap();
        assert_eq!(f.shared_parts(), Some(("g", "a/+")));
        assert!(f.has_wildcards());
    }

    #[test]
    fn strings_reject_null_and_keep_bom() {
        assert_eq!(
            MqttString::new("a\0b", "x"),
            Err(Violation::NullCharacter { field: "x" })
        );
        let bom = MqttString::from_bytes(Bytes::from_static(b"\xEF\xBB\xBFa"), "x").unwrap();
        assert_eq!(bom.as_str(), "\u{FEFF}a");
        assert_eq!(
            MqttString::from_bytes(Bytes::from_static(b"\xED\xA0\x80"), "x"),
            Err(Violation::InvalidUtf8 { field: "x" })
        );
    }

    /// Every string of up to `max` characters over `alphabet`.
    fn all_strings(alphabet: &[&str], max: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    #[test]
    fn contains_any_finds_a_byte_at_every_position_of_every_length_up_to_80() {
        for len in 0..=80usize {
            let clean = vec![b'a'; len];
            assert!(!contains_any(&clean, |b| b == 0 || b == b'+'), "{len}");
            for at in 0..len {
                for hit in [0u8, b'+'] {
                    let mut bytes = clean.clone();
                    bytes[at] = hit;
                    assert!(contains_any(&bytes, |b| b == 0 || b == b'+'), "{len} {at}");
                    assert_eq!(contains_any(&bytes, |b| b == 0), hit == 0, "{len} {at}");
                }
            }
        }
    }

    #[test]
    fn ascii_without_nul_finds_any_other_byte_at_every_position_of_every_length_up_to_40() {
        for len in 0..=40usize {
            for fill in [b'a', 0x01, 0x7F] {
                let clean = vec![fill; len];
                assert!(ascii_without_nul(&clean), "{len}");
                for at in 0..len {
                    for hit in [0x00, 0x80, 0xC3, 0xFF] {
                        let mut bytes = clean.clone();
                        bytes[at] = hit;
                        assert!(!ascii_without_nul(&bytes), "{len} {at} {hit:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn nul_and_wildcard_finds_each_at_every_position_of_every_length_up_to_40() {
        for len in 0..=40usize {
            for fill in [b'a', 0x01, b'/', 0x2A, 0x24, 0x2F, 0x22, 0xA3, 0xFF] {
                let clean = vec![fill; len];
                assert_eq!(nul_and_wildcard(&clean), 0, "{len} {fill:#x}");
                assert!(!nul_or_wildcard(&clean), "{len} {fill:#x}");
                for at in 0..len {
                    for (hit, want) in [(0x00, NUL), (b'+', WILDCARD), (b'#', WILDCARD)] {
                        let mut bytes = clean.clone();
                        bytes[at] = hit;
                        assert_eq!(nul_and_wildcard(&bytes), want, "{len} {at} {hit:#x}");
                        assert!(nul_or_wildcard(&bytes), "{len} {at} {hit:#x}");
                        // Both, in either order.
                        for at2 in 0..len {
                            let other = if want == NUL { b'#' } else { 0x00 };
                            if at2 != at {
                                let mut both = bytes.clone();
                                both[at2] = other;
                                assert_eq!(nul_and_wildcard(&both), NUL | WILDCARD, "{len}");
                            }
                        }
                    }
                }
            }
        }
        for b in 0..=255u8 {
            let want = match b {
                0 => NUL,
                b'+' | b'#' => WILDCARD,
                _ => 0,
            };
            assert_eq!(nul_and_wildcard(&[b'a', b, b'a']), want, "{b:#x}");
            assert_eq!(nul_and_wildcard(&[b; 9]), want, "{b:#x}");
            assert_eq!(nul_or_wildcard(&[b; 9]), want != 0, "{b:#x}");
        }
    }

    /// The checks on received bytes that make no string (`check_received`, used for the User
    /// Properties) give exactly the errors `MqttString::from_bytes` gives.
    #[test]
    fn check_received_agrees_with_from_bytes() {
        let mut inputs: Vec<Vec<u8>> = all_strings(&["a", "\0", "é", "\u{7f}"], 5)
            .into_iter()
            .map(String::into_bytes)
            .collect();
        inputs.extend([
            vec![0xC3],
            vec![b'a', 0xFF, b'b'],
            vec![0xED, 0xA0, 0x80],
            vec![0; 9],
            b"abcdefghijklmnop\0".to_vec(),
        ]);
        for bytes in inputs {
            assert_eq!(
                MqttString::check_received(&bytes, "f"),
                MqttString::from_bytes(Bytes::from(bytes.clone()), "f").map(|_| ()),
                "{bytes:?}"
            );
        }
    }

    /// The one-pass decode checks (`from_bytes`) give exactly what the string check followed
    /// by the name / filter check gives, error for error.
    #[test]
    fn one_pass_checks_agree_with_the_separate_checks() {
        for s in all_strings(&["a", "/", "+", "#", "\0", "é", "$"], 6) {
            let bytes = Bytes::from(s.clone().into_bytes());
            let string = MqttString::from_bytes(bytes.clone(), "f");
            assert_eq!(
                TopicName::from_bytes(bytes.clone(), "f"),
                string.clone().and_then(|m| TopicName::from_string(m, "f")),
                "{s:?}"
            );
            assert_eq!(
                TopicFilter::from_bytes(bytes, "f"),
                string.and_then(TopicFilter::from_string),
                "{s:?}"
            );
        }
        for s in all_strings(&["a", "/", "+", "#"], 8) {
            if !s.is_empty() {
                assert_eq!(check_wildcards(&s), check_levels(&s), "{s:?}");
            }
        }
    }

    #[test]
    fn topic_names_reject_wildcards() {
        assert!(TopicName::new("a/b").is_ok());
        assert!(TopicName::new("a/+").is_err());
        assert!(TopicName::new("#").is_err());
    }
}
