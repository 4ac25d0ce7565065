//! The wire forms of property values, one impl per Rust type of the property table.
//!
//! [`Wire`] reads, sizes, writes and range-checks one value; [`Field`] is a property's slot in a
//! property set: `Option<T>` for a property that may appear once, a `Vec` for the two that may
//! repeat (Subscription Identifier, User Property). The slot type alone decides the wire form:
//! `NonZeroU32` alone is a Four Byte Integer (Maximum Packet Size), a list of them is the
//! Variable Byte Integers of the Subscription Identifiers.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{BufMut, Bytes, BytesMut};

use super::{PayloadFormatIndicator, PropertyId, UserProperties};
use crate::qos::QoS;
use crate::reader::Reader;
use crate::string::{MqttString, TopicName};
use crate::violation::Violation;
use crate::writer::{
    prefixed_len, put_prefixed, put_variable_byte_integer_checked, variable_byte_integer_len,
};

/// One property value on the wire (without its identifier).
pub(crate) trait Wire: Sized {
    /// Reads the value of property `id`.
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation>;
    /// The encoded size of the value.
    fn len(&self, id: PropertyId) -> Result<usize, Violation>;
    /// Writes the value.
    fn write(&self, dst: &mut BytesMut, id: PropertyId);
    /// Checks for encoding that the value is one the wire form allows.
    fn check(&self, _id: PropertyId) -> Result<(), Violation> {
        Ok(())
    }
}

fn invalid(id: PropertyId, value: u8) -> Violation {
    Violation::InvalidPropertyValue {
        property: id,
        value: u32::from(value),
    }
}

impl Wire for u32 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        r.u32(id.name())
    }
    fn len(&self, _id: PropertyId) -> Result<usize, Violation> {
        Ok(4)
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        dst.put_u32(*self);
    }
}

impl Wire for u16 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        r.u16(id.name())
    }
    fn len(&self, _id: PropertyId) -> Result<usize, Violation> {
        Ok(2)
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        dst.put_u16(*self);
    }
}

impl Wire for NonZeroU16 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        match NonZeroU16::new(r.u16(id.name())?) {
            Some(v) => Ok(v),
            None => Err(Violation::ZeroPropertyValue { property: id }),
        }
    }
    fn len(&self, _id: PropertyId) -> Result<usize, Violation> {
        Ok(2)
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        dst.put_u16(self.get());
    }
}

impl Wire for NonZeroU32 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        match NonZeroU32::new(r.u32(id.name())?) {
            Some(v) => Ok(v),
            None => Err(Violation::ZeroPropertyValue { property: id }),
        }
    }
    fn len(&self, _id: PropertyId) -> Result<usize, Violation> {
        Ok(4)
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        dst.put_u32(self.get());
    }
}

impl Wire for bool {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        match r.u8(id.name())? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(invalid(id, v)),
        }
    }
    fn len(&self, _id: PropertyId) -> Result<usize, Violation> {
        Ok(1)
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        dst.put_u8(u8::from(*self));
    }
}

impl Wire for PayloadFormatIndicator {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        match r.u8(id.name())? {
            0 => Ok(PayloadFormatIndicator::Unspecified),
            1 => Ok(PayloadFormatIndicator::Utf8),
            v => Err(invalid(id, v)),
        }
    }
    fn len(&self, _id: PropertyId) -> Result<usize, Violation> {
        Ok(1)
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        dst.put_u8(*self as u8);
    }
}

/// Maximum QoS: 0 or 1 (2 is the default a server states by leaving the property out).
impl Wire for QoS {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        match r.u8(id.name())? {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            v => Err(invalid(id, v)),
        }
    }
    fn len(&self, _id: PropertyId) -> Result<usize, Violation> {
        Ok(1)
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        dst.put_u8(self.as_u8());
    }
    fn check(&self, id: PropertyId) -> Result<(), Violation> {
        if *self == QoS::ExactlyOnce {
            return Err(invalid(id, 2));
        }
        Ok(())
    }
}

impl Wire for MqttString {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        r.string(id.name())
    }
    fn len(&self, id: PropertyId) -> Result<usize, Violation> {
        prefixed_len(MqttString::len(self), id.name())
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        put_prefixed(dst, self.as_bytes());
    }
}

/// Response Topic: a Topic Name, never empty.
impl Wire for TopicName {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        let name = id.name();
        let t = r.topic_name(name)?;
        if t.is_empty() {
            return Err(Violation::EmptyTopicName { field: name });
        }
        Ok(t)
    }
    fn len(&self, id: PropertyId) -> Result<usize, Violation> {
        prefixed_len(TopicName::len(self), id.name())
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        put_prefixed(dst, self.as_mqtt_str().as_bytes());
    }
}

impl Wire for Bytes {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        r.binary(id.name())
    }
    fn len(&self, id: PropertyId) -> Result<usize, Violation> {
        prefixed_len(Bytes::len(self), id.name())
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        put_prefixed(dst, self);
    }
}

/// A Subscription Identifier: a non-zero Variable Byte Integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubscriptionId(pub(crate) NonZeroU32);

impl Wire for SubscriptionId {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        let v = r.variable_byte_integer(id.name())?;
        match NonZeroU32::new(v) {
            Some(v) => Ok(SubscriptionId(v)),
            None => Err(Violation::ZeroPropertyValue { property: id }),
        }
    }
    fn len(&self, id: PropertyId) -> Result<usize, Violation> {
        variable_byte_integer_len(self.0.get() as usize, id.name())
    }
    fn write(&self, dst: &mut BytesMut, _id: PropertyId) {
        put_variable_byte_integer_checked(dst, self.0.get());
    }
    fn check(&self, id: PropertyId) -> Result<(), Violation> {
        if self.0.get() > crate::MAX_VARIABLE_BYTE_INTEGER {
            return Err(Violation::InvalidPropertyValue {
                property: id,
                value: self.0.get(),
            });
        }
        Ok(())
    }
}

/// A property's slot in a property set.
pub(crate) trait Field {
    /// The empty slot.
    const EMPTY: Self;
    /// Whether the property is present.
    fn is_set(&self) -> bool;
    /// Reads one occurrence (the caller checks repeats).
    fn read_one(&mut self, r: &mut Reader, id: PropertyId) -> Result<(), Violation>;
    /// Checks for encoding: repeats (when `may_repeat` is false) and value ranges.
    fn check_all(&self, id: PropertyId, may_repeat: bool) -> Result<(), Violation>;
    /// The encoded size of every occurrence, identifiers included.
    fn wire_len(&self, id: PropertyId) -> Result<usize, Violation>;
    /// Writes every occurrence, identifiers included.
    /// Writes the property (identifier and value) each time it is present. Infallible: the
    /// checks are made by [`Field::wire_len`], which every encode calls first.
    fn write_all(&self, dst: &mut BytesMut, id: PropertyId);
    /// The encode fast path: [`Field::check_all`] and [`Field::wire_len`] in one walk, `None`
    /// when either would fail (the caller then runs those two for the exact error).
    fn fast_len(&self, id: PropertyId, may_repeat: bool) -> Option<usize>;
}

impl<T: Wire> Field for Option<T> {
    const EMPTY: Self = None;
    #[inline]
    fn is_set(&self) -> bool {
        self.is_some()
    }
    #[inline]
    fn read_one(&mut self, r: &mut Reader, id: PropertyId) -> Result<(), Violation> {
        *self = Some(T::read(r, id)?);
        Ok(())
    }
    #[inline]
    fn check_all(&self, id: PropertyId, _may_repeat: bool) -> Result<(), Violation> {
        self.as_ref().map_or(Ok(()), |v| v.check(id))
    }
    #[inline]
    fn wire_len(&self, id: PropertyId) -> Result<usize, Violation> {
        self.as_ref().map_or(Ok(0), |v| Ok(1 + v.len(id)?))
    }
    #[inline]
    fn write_all(&self, dst: &mut BytesMut, id: PropertyId) {
        if let Some(v) = self {
            dst.put_u8(id as u8);
            v.write(dst, id);
        }
    }
    #[inline(always)]
    fn fast_len(&self, id: PropertyId, _may_repeat: bool) -> Option<usize> {
        match self {
            None => Some(0),
            Some(v) => {
                v.check(id).ok()?;
                Some(1 + v.len(id).ok()?)
            }
        }
    }
}

/// The User Properties: read here one at a time (as pairs) for the flat [`super::Properties`];
/// the per-packet sets keep a run of them as received (`UserPropertyRun`).
impl Field for UserProperties {
    const EMPTY: Self = UserProperties::EMPTY;
    #[inline]
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
    fn read_one(&mut self, r: &mut Reader, _id: PropertyId) -> Result<(), Violation> {
        let k = r.string("User Property name")?;
        let v = r.string("User Property value")?;
        self.push(k, v);
        Ok(())
    }
    fn check_all(&self, id: PropertyId, may_repeat: bool) -> Result<(), Violation> {
        if self.len() > 1 && !may_repeat {
            return Err(Violation::DuplicateProperty { property: id });
        }
        Ok(())
    }
    fn wire_len(&self, _id: PropertyId) -> Result<usize, Violation> {
        match self.wire_size() {
            Some(n) => Ok(n),
            None => Err(self.too_long().unwrap_or(Violation::FieldTooLong {
                field: "User Property",
                len: usize::MAX,
            })),
        }
    }
    #[inline]
    fn write_all(&self, dst: &mut BytesMut, _id: PropertyId) {
        self.write(dst);
    }
    #[inline(always)]
    fn fast_len(&self, _id: PropertyId, may_repeat: bool) -> Option<usize> {
        if self.len() > 1 && !may_repeat {
            return None;
        }
        self.wire_size()
    }
}

impl Field for Vec<NonZeroU32> {
    const EMPTY: Self = Vec::new();
    #[inline]
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
    fn read_one(&mut self, r: &mut Reader, id: PropertyId) -> Result<(), Violation> {
        let v = SubscriptionId::read(r, id)?;
        self.push(v.0);
        Ok(())
    }
    fn check_all(&self, id: PropertyId, may_repeat: bool) -> Result<(), Violation> {
        if self.len() > 1 && !may_repeat {
            return Err(Violation::DuplicateProperty { property: id });
        }
        for v in self {
            SubscriptionId(*v).check(id)?;
        }
        Ok(())
    }
    fn wire_len(&self, id: PropertyId) -> Result<usize, Violation> {
        let mut n = 0;
        for v in self {
            n += 1 + SubscriptionId(*v).len(id)?;
        }
        Ok(n)
    }
    fn write_all(&self, dst: &mut BytesMut, id: PropertyId) {
        for v in self {
            dst.put_u8(id as u8);
            SubscriptionId(*v).write(dst, id);
        }
    }
    #[inline(always)]
    fn fast_len(&self, id: PropertyId, may_repeat: bool) -> Option<usize> {
        if self.len() > 1 && !may_repeat {
            return None;
        }
        let mut n = 0;
        for v in self {
            let v = SubscriptionId(*v);
            v.check(id).ok()?;
            n += 1 + v.len(id).ok()?;
        }
        Some(n)
    }
}

/// Arbitrary slot values for the `arbitrary` derive of the property sets (binary data at
/// most 1 KiB, like every other `Bytes` of the model).
#[cfg(feature = "arbitrary")]
pub(crate) trait ArbitraryField: Sized {
    fn arbitrary_field(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<Self>;
}

#[cfg(feature = "arbitrary")]
macro_rules! arbitrary_via_derive {
    ($($t:ty),*) => {$(
        impl ArbitraryField for $t {
            fn arbitrary_field(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<Self> {
                u.arbitrary()
            }
        }
    )*};
}

#[cfg(feature = "arbitrary")]
arbitrary_via_derive!(
    Option<u32>,
    Option<u16>,
    Option<bool>,
    Option<NonZeroU16>,
    Option<NonZeroU32>,
    Option<PayloadFormatIndicator>,
    Option<QoS>,
    Option<MqttString>,
    Option<TopicName>,
    Vec<NonZeroU32>,
    UserProperties
);

#[cfg(feature = "arbitrary")]
impl ArbitraryField for Option<Bytes> {
    fn arbitrary_field(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<Self> {
        crate::packet::arbitrary_opt_bytes(u)
    }
}
