//! [`Role`]: what a step of a case is for — setting the case up (a precondition) or checking
//! one of its statements — and how each role turns an unmet expectation into a verdict.
//!
//! Setup steps are the default for everything that prepares a case (`connect`, `subscribe`,
//! `publish`, `unsubscribe`, `open`, `send`): when one goes wrong the case is INCONCLUSIVE,
//! naming the [`Precondition`], never FAIL. Expectations (`expect_publish`, `expect_reply`,
//! `expect_no_publish`, `alive`, `t.check(..)`) are checks: only they can give FAIL or
//! NON-STRICT. Either default can be changed on the step: `.as_check()` makes a setup step
//! the checking step (its PUBACK is what the case is about), `.as_setup(p)` makes an
//! expectation a precondition (a message received only to set up a redelivery), and
//! `.as_twin()` / `.as_control()` mark the control observations a verdict resting on a
//! refusal or an absence needs (see [`crate::scenario`]).

use super::Failure;
use crate::verdict::{Outcome, Precondition, Verdict};

/// What a step is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The step checks a cited statement: an unmet expectation is FAIL.
    Check,
    /// The step establishes a precondition: an unmet expectation is INCONCLUSIVE.
    Setup(Precondition),
}

impl Role {
    /// The twin of a refusal: a well-formed packet accepted by the same broker.
    pub const TWIN: Role = Role::Setup(Precondition::Twin);
    /// The positive control of an absence.
    pub const CONTROL: Role = Role::Setup(Precondition::Control);

    /// `f` as this role reports it: a FAIL or NON-STRICT of a setup step becomes
    /// INCONCLUSIVE naming the precondition (ERROR and INCONCLUSIVE stay as they are).
    pub fn classify(self, f: Failure) -> Failure {
        match self {
            Role::Check => f,
            Role::Setup(p) => f.as_precondition(p),
        }
    }
}

/// Why a request step (CONNECT, SUBSCRIBE, PUBLISH) did not get what it asked for.
#[derive(Debug)]
pub(crate) enum Unmet {
    /// The broker answered with a refusal (an error reason code, or a lower QoS than
    /// needed): something a broker may do for reasons of its own.
    Refused(Failure),
    /// Anything else: no answer, the wrong answer, the connection closed.
    Other(Failure),
}

impl From<Failure> for Unmet {
    fn from(f: Failure) -> Self {
        Unmet::Other(f)
    }
}

impl Unmet {
    /// The failure as `role` reports it. A refusal of a setup step whose precondition another
    /// case tests by itself is INCONCLUSIVE for [`Precondition::Granted`], not for that
    /// precondition: the broker may grant one request and refuse the next, so the passing
    /// case does not make this one a harness bug. (A refused twin or control keeps its own
    /// precondition.)
    pub(crate) fn classify(self, role: Role) -> Failure {
        match (self, role) {
            (Unmet::Refused(f), Role::Setup(p)) if p.pointer().is_some() => {
                f.as_precondition(Precondition::Granted)
            }
            (Unmet::Refused(f) | Unmet::Other(f), role) => role.classify(f),
        }
    }
}

impl Failure {
    /// INCONCLUSIVE: `precondition` could not be established.
    pub fn inconclusive(precondition: Precondition, detail: impl Into<String>) -> Self {
        Failure(Outcome::inconclusive(precondition, detail))
    }

    /// This failure seen as the failure of a setup step establishing `p`: FAIL and
    /// NON-STRICT become INCONCLUSIVE (what was expected and what happened are kept in the
    /// detail); other verdicts are unchanged.
    pub fn as_precondition(self, p: Precondition) -> Self {
        match self.0.verdict {
            Verdict::Fail | Verdict::NonStrict => {
                let detail = match (&self.0.expected, &self.0.actual) {
                    (Some(e), Some(a)) => format!("expected {e}; got {a}"),
                    (None, Some(a)) => a.clone(),
                    (Some(e), None) => format!("expected {e}"),
                    (None, None) => String::new(),
                };
                Failure::inconclusive(p, detail)
            }
            _ => self,
        }
    }
}

/// Role setters shared by every awaitable step of the DSL.
macro_rules! role_setters {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            /// Makes this step the one that checks the case's statement: an unmet expectation
            /// is FAIL.
            pub fn as_check(mut self) -> Self {
                self.role = Some($crate::scenario::Role::Check);
                self
            }
            /// Makes this step a precondition: an unmet expectation is INCONCLUSIVE naming `p`.
            pub fn as_setup(mut self, p: $crate::verdict::Precondition) -> Self {
                self.role = Some($crate::scenario::Role::Setup(p));
                self
            }
            /// Makes this step the well-formed twin of a refusal the case checks: it must be
            /// accepted (else INCONCLUSIVE), and its success is the twin the verdict needs.
            pub fn as_twin(mut self) -> Self {
                self.role = Some($crate::scenario::Role::TWIN);
                self
            }
            /// Makes this step the positive control of an absence the case checks: it must
            /// succeed (else INCONCLUSIVE), and its success is the control the verdict needs.
            pub fn as_control(mut self) -> Self {
                self.role = Some($crate::scenario::Role::CONTROL);
                self
            }
        }
    )*};
}
pub(crate) use role_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_failures_are_inconclusive_and_checks_stay_fail() {
        let f = Failure::fail("PUBACK", "nothing within 3000 ms");
        let setup = Role::Setup(Precondition::Publish).classify(f.clone());
        assert_eq!(setup.0.verdict, Verdict::Inconclusive);
        assert_eq!(setup.0.precondition, Some(Precondition::Publish));
        assert!(setup.0.actual.as_deref().unwrap_or("").contains("PUBACK"));
        assert_eq!(Role::Check.classify(f.clone()), f);
        let e = Failure::error("case error");
        assert_eq!(Role::TWIN.classify(e.clone()), e);
    }

    #[test]
    fn refusals_of_setup_steps_want_a_grant_not_the_basic_behaviour() {
        let refused = || Unmet::Refused(Failure::fail("SUBACK 0x00", "SUBACK 0x87"));
        // A refused setup SUBSCRIBE: INCONCLUSIVE for want of a grant, which no passing case
        // can contradict.
        let f = refused().classify(Role::Setup(Precondition::Subscribe));
        assert_eq!(f.0.verdict, Verdict::Inconclusive);
        assert_eq!(f.0.precondition, Some(Precondition::Granted));
        assert_eq!(Precondition::Granted.pointer(), None);
        // Unanswered: the basic behaviour another case tests.
        let silent = Unmet::Other(Failure::fail("SUBACK", "nothing within 3000 ms"));
        let f = silent.classify(Role::Setup(Precondition::Subscribe));
        assert_eq!(f.0.precondition, Some(Precondition::Subscribe));
        // A refused twin keeps its precondition; a refused check stays FAIL.
        let f = refused().classify(Role::TWIN);
        assert_eq!(f.0.precondition, Some(Precondition::Twin));
        assert_eq!(refused().classify(Role::Check).0.verdict, Verdict::Fail);
    }
}
