//! The [`case!`](crate::case) macro: one declaration per case.
//!
//! ```ignore
//! case! {
//!     /// What the case checks, in one line (the title).
//!     RETAINED = "retain.delivered-on-subscribe",
//!     checks: [V5_3_3_1_9],                  // StatementId variants; a typo does not compile
//!     only: V5,                              // optional: narrow the protocols the statements give
//!     requires: [Retain, QoS1, EnhancedAuth("SCRAM-SHA-256")],   // optional
//!     faults: [NoRetainDelivery, WillAtQos0 @ V5],  // Fault variants that must turn it FAIL
//!     unfaultable: "why no fault can",      // instead of faults (avoid)
//!     tags: [Retained, FromBroker],          // optional: what it exercises
//!     run: retained,                         // fn(Ctx) -> BoxFuture<'static, CaseResult>
//! }
//! ```
//!
//! It declares `pub const RETAINED: Case` and registers it in the registry
//! ([`super::registry`]): there is no list of cases to add it to. The cases crate orders the
//! cases by module (the order of its `MODULES`) and, within a module, by the line of their
//! declaration. The protocols come from the cited statements (and their
//! counterparts in the pairing table), the area from the statement catalogue.
//!
//! Name each behaviour once, by its MQTT 5.0 statement: when every cited statement is of one
//! specification, the pairing table (`codec/data/statement-pairs.tsv`) adds the other
//! specification's statements of the same behaviours. Cite statements of both specifications
//! only when the table's counterparts are not exactly what the case checks on 3.1.1 (one
//! counterpart too many or too few): a list of both is taken as it is, without counterparts.

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
            module: ::core::module_path!(),
            line: ::core::line!(),
        };

        // The registration: one element of the registry's distributed slice.
        #[allow(unsafe_code)] // linkme's link section
        const _: () = {
            #[$crate::scenario::registry::__linkme::distributed_slice($crate::scenario::registry::CASES)]
            #[linkme(crate = $crate::scenario::registry::__linkme)]
            static CASE: $crate::scenario::Case = $name;
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
