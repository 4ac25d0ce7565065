//! The [`case!`](crate::case) macro: one declaration per case.
//!
//! ```ignore
//! case! {
//!     /// What the case checks, in one line (the title).
//!     RETAINED = "retain.delivered-on-subscribe",
//!     checks: [V5_3_3_1_9, V311_3_3_1_6],    // StatementId variants; a typo does not compile
//!     only: V5,                              // optional: narrow the protocols the statements give
//!     requires: [Retain, QoS1, EnhancedAuth("SCRAM-SHA-256")],   // optional
//!     faults: [NoRetainDelivery, WillAtQos0 @ V5],  // Fault variants that must turn it FAIL
//!     unfaultable: "why no fault can",      // instead of faults (avoid)
//!     tags: [Retained, FromBroker],          // optional: what it exercises
//!     run: retained,                         // fn(Ctx) -> BoxFuture<'static, CaseResult>
//! }
//! ```
//!
//! It declares `pub const RETAINED: Case`. The protocols come from the cited statements
//! (and their counterparts in the pairing table), the area from the statement catalogue.

/// Declares one conformance case: see [`crate::scenario::declare`].
#[macro_export]
macro_rules! case {
    (
        #[doc = $title:literal]
        $name:ident = $id:literal,
        checks: [$($s:ident),* $(,)?],
        $(only: $only:ident,)?
        $(requires: [$($req:ident $(($arg:expr))?),* $(,)?],)?
        $(faults: [$($f:ident $(@ $fv:ident)?),* $(,)?],)?
        $(unfaultable: $why:literal,)?
        $(tags: [$($tag:ident),* $(,)?],)?
        run: $run:expr $(,)?
    ) => {
        #[doc = $title]
        pub const $name: $crate::scenario::Case = $crate::scenario::Case {
            id: $id,
            title: $crate::case!(@trim $title),
            statements: &[$(::mqttspec_codec::StatementId::$s),*],
            only: $crate::case!(@only $($only)?),
            requires: &[$($($crate::scenario::Capability::$req $(($arg))?),*)?],
            faults: &[$($($crate::scenario::FaultTarget::new(
                $crate::scenario::Fault::$f,
                $crate::case!(@version $($fv)?),
            )),*)?],
            unfaultable: $crate::case!(@why $($why)?),
            tags: &[$($($crate::scenario::Tag::$tag),*)?],
            run: $run,
        };
    };
    (@trim $title:literal) => { $crate::scenario::trim_doc($title) };
    (@only) => { None };
    (@only V5) => { Some($crate::scenario::Protocols::V5) };
    (@only V311) => { Some($crate::scenario::Protocols::V311) };
    (@only Both) => { None };
    (@version) => { None };
    (@version V5) => { Some(::mqttspec_codec::ProtocolVersion::V5) };
    (@version V311) => { Some(::mqttspec_codec::ProtocolVersion::V311) };
    (@why) => { None };
    (@why $why:literal) => { Some($why) };
}

/// A doc-comment line without the leading space rustdoc keeps (`/// Text` gives `" Text"`).
pub const fn trim_doc(s: &'static str) -> &'static str {
    match s.as_bytes() {
        [b' ', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(t) => t,
            Err(_) => s,
        },
        _ => s,
    }
}
