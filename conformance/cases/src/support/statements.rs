//! The statement a failure is about, for the protocol of the run.
//!
//! A behaviour both specifications state is named by its MQTT 5.0 statement, and the MQTT
//! 3.1.1 one comes from the pairing table (`codec/data/statement-pairs.tsv`): [`of_run!`].
//! Only where the table has no single counterpart for it does a case name both, with
//! [`statement`].

use mqttspec_codec::{Spec, StatementId as S};

use mqttspec_harness::scenario::Ctx;

/// The statement of the run's protocol: `v5` on MQTT 5.0, `v311` on 3.1.1. For a pair the
/// pairing table holds, use [`of_run!`].
pub(crate) fn statement(t: &Ctx, v5: S, v311: S) -> S {
    if t.is_v5() {
        v5
    } else {
        v311
    }
}

/// The only counterpart of the MQTT 5.0 statement `v5` in the pairing table. Evaluated when
/// the crate compiles (by [`of_run!`]): a statement of another specification, or one with no
/// or several counterparts, does not compile.
pub(crate) const fn sole_counterpart(v5: S) -> S {
    assert!(
        matches!(v5.spec(), Spec::V5),
        "of_run! takes an MQTT 5.0 statement"
    );
    match v5.counterparts() {
        [one] => *one,
        _ => panic!(
            "the pairing table has no single MQTT 3.1.1 counterpart for this statement: \
             name both with statement(t, v5, v311)"
        ),
    }
}

/// `of_run!(t, V5_4_4_0_1)`: the statement of the run's protocol for the behaviour MQTT 5.0
/// states as `V5_4_4_0_1`: that statement on MQTT 5.0, its counterpart in the pairing table
/// on 3.1.1 (checked when the crate compiles, see [`sole_counterpart`]).
macro_rules! of_run {
    ($t:expr, $v5:ident) => {
        $crate::support::statement(
            $t,
            ::mqttspec_codec::StatementId::$v5,
            const { $crate::support::sole_counterpart(::mqttspec_codec::StatementId::$v5) },
        )
    };
}
pub(crate) use of_run;
