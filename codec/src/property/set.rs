//! The per-packet property sets: the `property_set!` generator and the [`PropertySet`] trait.
//!
//! `property_set!` takes a struct name, the contexts it serves and the field names it holds
//! (in identifier order); each field's type and identifier come from the table in `mod.rs`.
//! A compile-time assertion checks every set against the table: its fields are exactly the
//! properties the table allows in each of its contexts, and the repeatable ones agree.

use bytes::BytesMut;

use super::UserProperties;
use super::{Properties, PropertyContext, PropertyId, Props};
use crate::reader::Reader;
use crate::violation::Violation;

/// What every per-packet property set offers, for code that handles them generically.
pub trait PropertySet:
    Sized + Default + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static
{
    /// The contexts this set serves.
    const CONTEXTS: &'static [PropertyContext];

    /// The shared empty set (what an empty [`Props`] reads as).
    fn empty() -> &'static Self;

    /// Whether no property is set.
    fn is_empty(&self) -> bool;

    /// The identifiers of the properties that are set, each once, in identifier order.
    fn present(&self) -> Vec<PropertyId>;

    /// Takes the properties of a flat set; fails with [`Violation::PropertyNotAllowed`]
    /// (naming the first context of the set) on the first one this set cannot hold.
    fn from_flat(p: Properties) -> Result<Self, Violation>;

    /// The flat view of the set (clones the values; strings and binary data are shared).
    fn to_properties(&self) -> Properties;

    /// The User Properties, in order (every set may carry them).
    fn user_properties(&self) -> &UserProperties;

    /// The User Properties, to change them.
    fn user_properties_mut(&mut self) -> &mut UserProperties;

    /// Checks for encoding that repeats and values are allowed.
    fn validate(&self) -> Result<(), Violation>;

    /// The size of the properties, without the Property Length.
    fn body_len(&self) -> Result<usize, Violation>;

    /// The encode fast path: the checks of [`PropertySet::validate`] and the size of
    /// [`PropertySet::body_len`] in one walk over the properties; `None` when any of those
    /// checks would fail (the caller then calls the two for the exact error).
    fn fast_body_len(&self) -> Option<usize>;

    /// Writes the Property Length (`body_len`, computed once by the caller) and the
    /// properties. `body_len` must be what [`PropertySet::body_len`] returned for these
    /// properties: that call checks every length and value the write relies on (the write
    /// itself checks nothing again), so with any other value the bytes are not a valid block.
    fn encode_with_len(&self, dst: &mut BytesMut, body_len: usize) -> Result<(), Violation>;

    /// Reads a property block for `context` (one of [`PropertySet::CONTEXTS`]).
    fn decode(r: &mut Reader, context: PropertyContext) -> Result<Props<Self>, Violation>;

    /// The encoded size including the Property Length.
    fn encoded_len(&self) -> Result<usize, Violation> {
        super::block_len(self.body_len()?)
    }

    /// Writes the Property Length and the properties. Call [`PropertySet::validate`] first.
    fn encode(&self, dst: &mut BytesMut) -> Result<(), Violation> {
        let len = self.body_len()?;
        self.encode_with_len(dst, len)
    }
}

macro_rules! property_set {
    (
        $(#[$doc:meta])*
        $name:ident for [$first:ident $(, $ctx:ident)*] { $($field:ident),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $(
                #[doc = concat!("See [`Properties::", stringify!($field), "`].")]
                pub $field: $crate::property::ty::$field,
            )*
        }

        impl $name {
            const EMPTY: $name = $name {
                $( $field: <$crate::property::ty::$field as $crate::property::value::Field>::EMPTY, )*
            };

            /// The identifiers this set may hold, as a mask.
            pub const MASK: u64 = 0 $(| $crate::property::id::$field.bit())*;

            /// The identifiers that may repeat, as a mask.
            const REPEAT: u64 =
                $crate::property::PropertyId::repeat_mask($crate::property::PropertyContext::$first)
                    & Self::MASK;

            /// Whether no property is set.
            #[inline]
            pub fn is_empty(&self) -> bool {
                use $crate::property::value::Field;
                true $(&& !self.$field.is_set())*
            }

            #[inline]
            fn mask(&self) -> u64 {
                use $crate::property::value::Field;
                0 $(| if self.$field.is_set() { $crate::property::id::$field.bit() } else { 0 })*
            }

            /// The flat view of the set (clones the values; strings and binary data are
            /// shared).
            pub fn to_properties(&self) -> $crate::property::Properties {
                self.into()
            }

            /// Takes the properties of a flat set; fails with
            /// [`Violation::PropertyNotAllowed`] on the first one this set cannot hold.
            pub fn from_properties(
                p: $crate::property::Properties,
                context: $crate::property::PropertyContext,
            ) -> Result<Self, Violation> {
                if let Some(property) = PropertyId::lowest_in(p.mask() & !Self::MASK) {
                    return Err(Violation::PropertyNotAllowed { property, context });
                }
                Ok($name { $( $field: p.$field, )* })
            }
        }

        const _: () = {
            use $crate::property::{PropertyContext as C, PropertyId as P};
            assert!($name::MASK == P::allowed_mask(C::$first), "set disagrees with the table");
            $(
                assert!($name::MASK == P::allowed_mask(C::$ctx), "set disagrees with the table");
                assert!(
                    $name::REPEAT == P::repeat_mask(C::$ctx) & $name::MASK,
                    "repeats differ between the contexts of one set"
                );
            )*
        };

        impl std::fmt::Debug for $name {
            /// Shown as the flat [`Properties`], so `Debug` output (and the golden snapshots)
            /// do not depend on the packet.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&$crate::property::PropertySet::to_properties(self), f)
            }
        }

        impl From<&$name> for $crate::property::Properties {
            fn from(p: &$name) -> Self {
                $crate::property::Properties {
                    $( $field: p.$field.clone(), )*
                    ..Default::default()
                }
            }
        }

        impl From<$name> for $crate::property::Properties {
            fn from(p: $name) -> Self {
                $crate::property::Properties {
                    $( $field: p.$field, )*
                    ..Default::default()
                }
            }
        }

        impl $crate::property::PropertySet for $name {
            const CONTEXTS: &'static [$crate::property::PropertyContext] =
                &[$crate::property::PropertyContext::$first $(, $crate::property::PropertyContext::$ctx)*];

            fn empty() -> &'static Self {
                static EMPTY: $name = $name::EMPTY;
                &EMPTY
            }

            #[inline]
            fn is_empty(&self) -> bool {
                $name::is_empty(self)
            }

            fn present(&self) -> Vec<PropertyId> {
                let mask = self.mask();
                PropertyId::ALL.iter().copied().filter(|p| mask & p.bit() != 0).collect()
            }

            fn from_flat(p: $crate::property::Properties) -> Result<Self, Violation> {
                $name::from_properties(p, $crate::property::PropertyContext::$first)
            }

            fn to_properties(&self) -> $crate::property::Properties {
                $name::to_properties(self)
            }

            fn user_properties(&self) -> &$crate::property::UserProperties {
                &self.user_properties
            }

            fn user_properties_mut(&mut self) -> &mut $crate::property::UserProperties {
                &mut self.user_properties
            }

            fn validate(&self) -> Result<(), Violation> {
                use $crate::property::value::Field;
                let mask = self.mask();
                if mask == 0 {
                    return Ok(());
                }
                $(
                    self.$field.check_all(
                        $crate::property::id::$field,
                        Self::REPEAT & $crate::property::id::$field.bit() != 0,
                    )?;
                )*
                $crate::property::check_auth_pair(mask)
            }

            #[inline]
            fn body_len(&self) -> Result<usize, Violation> {
                use $crate::property::value::Field;
                let mut len = 0usize;
                $( len += self.$field.wire_len($crate::property::id::$field)?; )*
                Ok(len)
            }

            #[inline(always)]
            fn fast_body_len(&self) -> Option<usize> {
                use $crate::property::value::Field;
                let mut len = 0usize;
                $(
                    len += self.$field.fast_len(
                        $crate::property::id::$field,
                        Self::REPEAT & $crate::property::id::$field.bit() != 0,
                    )?;
                )*
                $crate::property::check_auth_pair(self.mask()).ok()?;
                Some(len)
            }

            #[inline(always)]
            fn encode_with_len(&self, dst: &mut BytesMut, body_len: usize) -> Result<(), Violation> {
                use $crate::property::value::Field;
                $crate::property::put_property_length(dst, body_len)?;
                if body_len == 0 {
                    return Ok(());
                }
                $( self.$field.write_all(dst, $crate::property::id::$field); )*
                Ok(())
            }

            #[inline(always)]
            fn decode(
                r: &mut Reader,
                context: $crate::property::PropertyContext,
            ) -> Result<Props<Self>, Violation> {
                // The common case, an empty block (a Property Length of 0), without a call.
                if r.skip_zero() {
                    return Ok(Props::none());
                }
                $name::decode_block(r, context)
            }
        }

        impl $name {
            /// [`PropertySet::decode`] past its empty-block case.
            #[inline(never)]
            fn decode_block(
                r: &mut Reader,
                context: $crate::property::PropertyContext,
            ) -> Result<Props<Self>, Violation> {
                use $crate::property::value::Field;
                // The block is read by narrowing `r` (no sub-reader, no slice of the frame);
                // on an error the reader is abandoned with the packet, so only the success
                // path widens it again.
                let Some(outer) = $crate::property::narrow_to_block(r)? else {
                    return Ok(Props::none());
                };
                let mut p = Box::new($name::EMPTY);
                let mut seen = 0u64;
                // The User Properties are validated here and kept as one slice of the frame,
                // made once the block is read (`UserPropertyRun`).
                let mut users = $crate::property::UserPropertyRun::default();
                while !r.is_empty() {
                    let id = $crate::property::read_id(r)?;
                    // The generic arm of `user_properties` (one pair at a time) is never
                    // reached here: the first arm takes the User Properties.
                    #[allow(unreachable_patterns)]
                    match id {
                        $crate::property::PropertyId::UserProperty => {
                            users.read(r, &mut p.user_properties)?
                        }
                        $( $crate::property::id::$field => p.$field.read_one(r, id)?, )*
                        _ => return Err(Violation::PropertyNotAllowed { property: id, context }),
                    }
                    let bit = id.bit();
                    if seen & bit & !Self::REPEAT != 0 {
                        return Err(Violation::DuplicateProperty { property: id });
                    }
                    seen |= bit;
                }
                $crate::property::check_auth_pair(seen)?;
                users.finish(r, &mut p.user_properties);
                r.widen(outer);
                Ok(Props::from_box(p))
            }
        }

        #[cfg(feature = "arbitrary")]
        impl<'a> arbitrary::Arbitrary<'a> for $name {
            fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
                use $crate::property::value::ArbitraryField;
                Ok($name { $( $field: ArbitraryField::arbitrary_field(u)?, )* })
            }
        }
    };
}
