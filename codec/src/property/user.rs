//! [`UserProperties`]: the User Properties of a property set (UTF-8 String Pairs, in order),
//! kept as received or as built.
//!
//! A decoded packet keeps its User Properties as they came: one [`Bytes`] slice of the frame
//! holding the properties' wire form (identifier, name, value, for each), validated once while
//! the block was read (the same checks, errors and order as reading each string on its own:
//! length within the block, well-formed UTF-8, no U+0000). Nothing is allocated and nothing is
//! copied; re-encoding writes the slice back as it is. Pairs are read from it on demand
//! ([`UserProperties::iter`]). A set that is built ([`UserProperties::push`], `From<Vec<_>>`,
//! [`UserProperties::pairs_mut`]) holds the pairs instead. The two forms are the same value:
//! equality, `Debug`, the length and the encoding only see the pairs.
//!
//! The wire form is only ever made by the decoder (`UserPropertyRun`) after validation, so
//! reading it again cannot fail; were it to, the iteration would end early rather than panic.

use bytes::{BufMut, Bytes, BytesMut};

use super::PropertyId;
use crate::reader::Reader;
use crate::string::MqttString;
use crate::violation::Violation;
use crate::writer::put_prefixed;

/// The User Properties of a property set (0x26, UTF-8 String Pairs), in their order.
///
/// Build with [`UserProperties::push`], `From<Vec<(MqttString, MqttString)>>` or `collect()`;
/// read with [`UserProperties::iter`] (`(name, value)` as `&str`) or
/// [`UserProperties::to_vec`]; change arbitrarily through [`UserProperties::pairs_mut`].
#[derive(Clone, Default)]
pub struct UserProperties {
    /// As received (then `pairs` is empty).
    wire: Option<Wire>,
    /// As built.
    pairs: Vec<(MqttString, MqttString)>,
}

/// `count` (at least one) User Properties in their wire form, identifiers included, validated
/// by the decoder.
#[derive(Clone)]
struct Wire {
    bytes: Bytes,
    count: usize,
}

impl UserProperties {
    /// No User Properties.
    pub const EMPTY: UserProperties = UserProperties {
        wire: None,
        pairs: Vec::new(),
    };

    /// No User Properties.
    pub const fn new() -> Self {
        Self::EMPTY
    }

    /// The number of User Properties.
    #[inline(always)]
    pub fn len(&self) -> usize {
        match &self.wire {
            Some(w) => w.count,
            None => self.pairs.len(),
        }
    }

    /// Whether there is none.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.wire.is_none() && self.pairs.is_empty()
    }

    /// Removes every User Property.
    pub fn clear(&mut self) {
        self.wire = None;
        self.pairs.clear();
    }

    /// Appends one User Property.
    pub fn push(&mut self, name: MqttString, value: MqttString) {
        self.pairs_mut().push((name, value));
    }

    /// The pairs in order, `(name, value)`.
    pub fn iter(&self) -> Iter<'_> {
        match &self.wire {
            Some(w) => Iter(IterRepr::Wire {
                rest: &w.bytes,
                count: w.count,
            }),
            None => Iter(IterRepr::Pairs(self.pairs.iter())),
        }
    }

    /// The `index`-th pair.
    pub fn get(&self, index: usize) -> Option<(&str, &str)> {
        self.iter().nth(index)
    }

    /// The pairs as strings (shared with the received frame, not copied).
    pub fn to_vec(&self) -> Vec<(MqttString, MqttString)> {
        match &self.wire {
            Some(w) => wire_pairs(&w.bytes),
            None => self.pairs.clone(),
        }
    }

    /// The pairs, to change them in any way (a received set is turned into pairs first; its
    /// strings stay slices of the frame).
    pub fn pairs_mut(&mut self) -> &mut Vec<(MqttString, MqttString)> {
        if let Some(w) = self.wire.take() {
            self.pairs = wire_pairs(&w.bytes);
        }
        &mut self.pairs
    }

    /// A copy that shares no buffer with a received frame (one allocation for a received
    /// set, one per string for built pairs), for keeping the properties longer than the
    /// packet they came in.
    pub fn detached(&self) -> UserProperties {
        if let Some(w) = &self.wire {
            return UserProperties {
                wire: Some(Wire {
                    bytes: Bytes::copy_from_slice(&w.bytes),
                    count: w.count,
                }),
                pairs: Vec::new(),
            };
        }
        let copy = |s: &MqttString, field| {
            MqttString::from_bytes(Bytes::copy_from_slice(s.as_bytes()), field)
                .unwrap_or_else(|_| s.clone())
        };
        self.pairs
            .iter()
            .map(|(k, v)| {
                (
                    copy(k, "User Property name"),
                    copy(v, "User Property value"),
                )
            })
            .collect()
    }

    /// The received wire form, if this set is one: the User Properties exactly as they were
    /// on the wire, identifiers included.
    pub fn as_wire(&self) -> Option<&Bytes> {
        self.wire.as_ref().map(|w| &w.bytes)
    }

    /// The size of every User Property on the wire, identifiers included, or `None` when a
    /// string is longer than a two-byte length can say (only possible for built pairs).
    #[inline(always)]
    pub(crate) fn wire_size(&self) -> Option<usize> {
        if let Some(w) = &self.wire {
            return Some(w.bytes.len());
        }
        if self.pairs.is_empty() {
            return Some(0);
        }
        // One walk without a branch per string: the sum of the sizes, and the bitwise OR of
        // every length, which is above `u16::MAX` exactly when one of them is.
        let mut n = 0usize;
        let mut any = 0usize;
        for (k, v) in &self.pairs {
            n += 5 + k.len() + v.len();
            any |= k.len() | v.len();
        }
        (any <= usize::from(u16::MAX)).then_some(n)
    }

    /// The first string too long for its length prefix, with the error the encoder gives.
    pub(crate) fn too_long(&self) -> Option<Violation> {
        self.pairs.iter().find_map(|(k, v)| {
            if k.len() > usize::from(u16::MAX) {
                Some(("User Property name", k.len()))
            } else if v.len() > usize::from(u16::MAX) {
                Some(("User Property value", v.len()))
            } else {
                None
            }
            .map(|(field, len)| Violation::FieldTooLong { field, len })
        })
    }

    /// Writes every User Property (identifier, name, value). The lengths were checked by
    /// [`UserProperties::wire_size`] or [`UserProperties::too_long`] first.
    #[inline(always)]
    pub(crate) fn write(&self, dst: &mut BytesMut) {
        if let Some(w) = &self.wire {
            dst.put_slice(&w.bytes);
        } else if !self.pairs.is_empty() {
            self.write_pairs(dst);
        }
    }

    /// [`UserProperties::write`] for built pairs.
    fn write_pairs(&self, dst: &mut BytesMut) {
        for (k, v) in &self.pairs {
            debug_assert!(k.len() <= usize::from(u16::MAX), "unchecked length");
            // The identifier and the name's length in one write.
            let [hi, lo] = (k.len() as u16).to_be_bytes();
            dst.put_slice(&[PropertyId::UserProperty as u8, hi, lo]);
            dst.put_slice(k.as_bytes());
            put_prefixed(dst, v.as_bytes());
        }
    }

    /// Appends the pairs of a validated wire form.
    fn append_wire(&mut self, wire: &Bytes) {
        let more = wire_pairs(wire);
        self.pairs_mut().extend(more);
    }
}

/// The pairs of a validated wire form as strings that share its bytes.
fn wire_pairs(bytes: &Bytes) -> Vec<(MqttString, MqttString)> {
    let mut out = Vec::new();
    let mut r = Reader::new(bytes.clone());
    while !r.is_empty() {
        let (Ok(_), Ok(k), Ok(v)) = (
            r.u8("User Property"),
            r.string("User Property name"),
            r.string("User Property value"),
        ) else {
            break;
        };
        out.push((k, v));
    }
    out
}

/// The pairs of a wire form, read again: one byte of identifier, then two length-prefixed
/// strings. Ends at the end or at anything that is not a well-formed pair.
struct WireIter<'a> {
    rest: &'a [u8],
}

impl<'a> WireIter<'a> {
    fn new(rest: &'a [u8]) -> Self {
        WireIter { rest }
    }

    fn string(&mut self) -> Option<&'a str> {
        let (len, rest) = self.rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        let (s, rest) = rest.split_at_checked(len)?;
        self.rest = rest;
        std::str::from_utf8(s).ok()
    }
}

impl<'a> Iterator for WireIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let (_id, rest) = self.rest.split_first()?;
        self.rest = rest;
        let pair = (self.string()?, self.string()?);
        Some(pair)
    }
}

/// The iterator of [`UserProperties::iter`]: `(name, value)` in order.
#[derive(Debug, Clone)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Debug, Clone)]
enum IterRepr<'a> {
    Wire { rest: &'a [u8], count: usize },
    Pairs(std::slice::Iter<'a, (MqttString, MqttString)>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Wire { rest, count } => {
                let mut it = WireIter::new(rest);
                let pair = it.next();
                *rest = if pair.is_some() { it.rest } else { &[] };
                *count = if pair.is_some() {
                    count.saturating_sub(1)
                } else {
                    0
                };
                pair
            }
            IterRepr::Pairs(it) => it.next().map(|(k, v)| (k.as_str(), v.as_str())),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Wire { count, .. } => (0, Some(*count)),
            IterRepr::Pairs(it) => it.size_hint(),
        }
    }
}

impl<'a> IntoIterator for &'a UserProperties {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl From<Vec<(MqttString, MqttString)>> for UserProperties {
    fn from(v: Vec<(MqttString, MqttString)>) -> Self {
        UserProperties {
            wire: None,
            pairs: v,
        }
    }
}

impl From<UserProperties> for Vec<(MqttString, MqttString)> {
    fn from(u: UserProperties) -> Self {
        match u.wire {
            Some(w) => wire_pairs(&w.bytes),
            None => u.pairs,
        }
    }
}

impl FromIterator<(MqttString, MqttString)> for UserProperties {
    fn from_iter<I: IntoIterator<Item = (MqttString, MqttString)>>(iter: I) -> Self {
        iter.into_iter().collect::<Vec<_>>().into()
    }
}

impl PartialEq for UserProperties {
    fn eq(&self, other: &Self) -> bool {
        match (&self.wire, &other.wire) {
            // The wire form is canonical (a one-byte identifier, two-byte lengths), so equal
            // pairs are equal bytes.
            (Some(a), Some(b)) => a.bytes == b.bytes,
            _ => self.len() == other.len() && self.iter().eq(other.iter()),
        }
    }
}

impl Eq for UserProperties {}

impl std::fmt::Debug for UserProperties {
    /// As the list of pairs (the same text as a `Vec<(MqttString, MqttString)>`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for UserProperties {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(UserProperties::from(
            u.arbitrary::<Vec<(MqttString, MqttString)>>()?,
        ))
    }
}

/// The User Properties of a property block while the decoder reads it: the span of the block
/// they take, as long as they follow one another (the usual case), kept as one slice of the
/// frame when the block ends. User Properties with other properties between them are turned
/// into pairs, in order.
#[derive(Debug, Default)]
pub(crate) struct UserPropertyRun {
    start: usize,
    end: usize,
    count: usize,
}

impl UserPropertyRun {
    /// Reads one User Property; `r` is just past its identifier (one byte: a Variable Byte
    /// Integer below 128 is always one byte long). The name and then the value are checked
    /// as [`Reader::string`] checks them, with the same errors.
    #[inline]
    pub(crate) fn read(
        &mut self,
        r: &mut Reader,
        into: &mut UserProperties,
    ) -> Result<(), Violation> {
        let start = r.position().saturating_sub(1);
        r.skip_string("User Property name")?;
        r.skip_string("User Property value")?;
        if self.count > 0 && start != self.end {
            self.flush(r, into);
        }
        if self.count == 0 {
            self.start = start;
        }
        self.end = r.position();
        self.count += 1;
        Ok(())
    }

    /// Moves the run read so far into `into` (as the wire form if it is the first, as pairs
    /// otherwise).
    fn flush(&mut self, r: &Reader, into: &mut UserProperties) {
        if self.count == 0 {
            return;
        }
        if into.is_empty() {
            into.wire = Some(Wire {
                bytes: r.slice(self.start, self.end),
                count: self.count,
            });
        } else {
            into.append_wire(&r.slice(self.start, self.end));
        }
        self.count = 0;
    }

    /// Ends the block: what was read goes into `into`.
    #[inline]
    pub(crate) fn finish(mut self, r: &Reader, into: &mut UserProperties) {
        self.flush(r, into);
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{decode_packet, Packet, ProtocolVersion, RawPacket};

    fn s(text: &str) -> MqttString {
        MqttString::new(text, "test").unwrap()
    }

    /// A 5.0 PUBLISH to "t" with this property block; its decoded properties.
    fn decoded(props: &[u8]) -> (Bytes, crate::PublishProperties) {
        let wire = RawPacket::new(0x30).string("t").properties(props).build();
        let (Packet::Publish(p), _) = decode_packet(&wire, ProtocolVersion::V5).unwrap() else {
            panic!("not a PUBLISH");
        };
        (wire, p.properties.into_inner())
    }

    const TWO: &[u8] = b"\x26\x00\x01k\x00\x01v\x26\x00\x02k2\x00\x00";

    #[test]
    fn received_user_properties_are_kept_as_one_slice_and_read_as_pairs() {
        let (wire, p) = decoded(TWO);
        let users = &p.user_properties;
        assert_eq!(users.as_wire().map(|b| &b[..]), Some(TWO));
        assert_eq!(users.len(), 2);
        assert_eq!(users.iter().collect::<Vec<_>>(), [("k", "v"), ("k2", "")]);
        assert_eq!(users.get(1), Some(("k2", "")));
        assert_eq!(users.get(2), None);
        let built = UserProperties::from(vec![(s("k"), s("v")), (s("k2"), s(""))]);
        assert_eq!(*users, built);
        assert_eq!(built, *users);
        assert_eq!(format!("{users:?}"), format!("{:?}", built.to_vec()));
        assert_eq!(format!("{users:#?}"), format!("{:#?}", built.to_vec()));
        // The slice shares the frame.
        let inside = wire.as_ptr_range();
        assert!(inside.contains(&users.as_wire().unwrap().as_ptr()));
        // Written back as it came.
        let mut out = BytesMut::new();
        users.write(&mut out);
        assert_eq!(&out[..], TWO);
        assert_eq!(users.wire_size(), Some(TWO.len()));
    }

    #[test]
    fn user_properties_between_other_properties_keep_their_order() {
        // User Property, Payload Format Indicator, User Property, Message Expiry, User Property.
        let props = b"\x26\x00\x01a\x00\x011\x01\x01\x26\x00\x01b\x00\x012\x02\x00\x00\x00\x05\x26\x00\x01c\x00\x013";
        let (_, p) = decoded(props);
        assert_eq!(
            p.user_properties.iter().collect::<Vec<_>>(),
            [("a", "1"), ("b", "2"), ("c", "3")]
        );
        assert_eq!(p.user_properties.len(), 3);
        assert_eq!(p.message_expiry_interval, Some(5));
    }

    #[test]
    fn a_received_set_can_be_changed_like_a_vec() {
        let (_, mut p) = decoded(TWO);
        let before = p.user_properties.clone();
        p.user_properties.push(s("x"), s("y"));
        assert_eq!(p.user_properties.as_wire(), None);
        assert_eq!(p.user_properties.len(), 3);
        assert_ne!(p.user_properties, before);
        p.user_properties.pairs_mut().pop();
        assert_eq!(p.user_properties, before);
        p.user_properties.pairs_mut().reverse();
        assert_eq!(p.user_properties.get(0), Some(("k2", "")));
        p.user_properties.clear();
        assert!(p.user_properties.is_empty());
        assert_eq!(p.user_properties, UserProperties::EMPTY);
    }

    #[test]
    fn both_forms_convert_to_the_same_pairs() {
        let (_, p) = decoded(TWO);
        let pairs: Vec<(MqttString, MqttString)> = p.user_properties.clone().into();
        assert_eq!(pairs, p.user_properties.to_vec());
        let collected: UserProperties = pairs.iter().cloned().collect();
        assert_eq!(collected, p.user_properties);
        assert_eq!(collected.wire_size(), p.user_properties.wire_size());
    }
}
