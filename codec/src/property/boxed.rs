//! [`Props`]: a property set behind `Option<Box<_>>`, so a packet without properties (the
//! common case) carries one null pointer and decoding it allocates nothing.

use std::ops::{Deref, DerefMut};

use super::PropertySet;

/// A packet's property set, boxed and absent when empty. Reading goes through `Deref`
/// (`p.properties.topic_alias`; an absent set reads as the empty set), writing through
/// `DerefMut` (which allocates the set on first write). Build one with `.into()` from a set,
/// or `Props::default()` for none. Equality, `Debug` and `is_empty` look at the set, not at
/// whether it is allocated.
#[derive(Clone)]
pub struct Props<T>(Option<Box<T>>);

impl<T> Props<T> {
    /// No properties.
    #[inline]
    pub const fn none() -> Self {
        Props(None)
    }

    #[inline]
    pub(crate) fn from_box(b: Box<T>) -> Self {
        Props(Some(b))
    }
}

impl<T: PropertySet> Props<T> {
    /// The set, by value (the empty set when none is allocated).
    pub fn into_inner(self) -> T {
        self.0.map(|b| *b).unwrap_or_default()
    }

    /// The flat view of the set (see [`PropertySet::to_properties`]).
    pub fn to_properties(&self) -> super::Properties {
        (**self).to_properties()
    }

    /// Whether no property is set.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|p| p.is_empty())
    }

    /// Checks the set for encoding (see [`PropertySet::validate`]).
    #[inline]
    pub fn validate(&self) -> Result<(), crate::violation::Violation> {
        self.0.as_ref().map_or(Ok(()), |p| p.validate())
    }

    /// The size of the properties without the Property Length (0 without a set).
    #[inline]
    pub fn body_len(&self) -> Result<usize, crate::violation::Violation> {
        self.0.as_ref().map_or(Ok(0), |p| p.body_len())
    }

    /// The encode fast path (see [`PropertySet::fast_body_len`]): 0 without a set.
    #[inline(always)]
    pub(crate) fn fast_body_len(&self) -> Option<usize> {
        match &self.0 {
            None => Some(0),
            Some(p) => p.fast_body_len(),
        }
    }

    /// The encoded size including the Property Length.
    #[inline]
    pub fn encoded_len(&self) -> Result<usize, crate::violation::Violation> {
        super::block_len(self.body_len()?)
    }

    /// Writes the Property Length (`body_len`, from [`Props::body_len`]) and the properties.
    #[inline(always)]
    pub(crate) fn encode_with_len(
        &self,
        dst: &mut bytes::BytesMut,
        body_len: usize,
    ) -> Result<(), crate::violation::Violation> {
        match &self.0 {
            Some(p) if body_len > 0 => p.encode_with_len(dst, body_len),
            _ => super::put_property_length(dst, 0),
        }
    }

    /// Writes the Property Length and the properties.
    pub fn encode(&self, dst: &mut bytes::BytesMut) -> Result<(), crate::violation::Violation> {
        let len = self.body_len()?;
        self.encode_with_len(dst, len)
    }
}

impl<T> Default for Props<T> {
    #[inline]
    fn default() -> Self {
        Props(None)
    }
}

impl<T: PropertySet> Deref for Props<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match &self.0 {
            Some(p) => p,
            None => T::empty(),
        }
    }
}

impl<T: PropertySet> DerefMut for Props<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: PropertySet> From<T> for Props<T> {
    fn from(p: T) -> Self {
        if p.is_empty() {
            Props(None)
        } else {
            Props(Some(Box::new(p)))
        }
    }
}

impl<T: PropertySet> PartialEq for Props<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: PropertySet + Eq> Eq for Props<T> {}

impl<T: PropertySet> std::fmt::Debug for Props<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a, T: PropertySet + arbitrary::Arbitrary<'a>> arbitrary::Arbitrary<'a> for Props<T> {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(T::arbitrary(u)?.into())
    }
}
