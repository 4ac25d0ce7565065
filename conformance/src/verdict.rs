//! Verdicts: what a case run concluded about the broker.
//!
//! | verdict | meaning |
//! |---|---|
//! | PASS | every MUST / MUST NOT the case checks was obeyed |
//! | FAIL | a MUST or MUST NOT was violated (carries Expected vs Actual and the transcript) |
//! | NON-STRICT | a SHOULD was not followed |
//! | INFORMATIONAL | the broker made one of the choices the specification allows; recorded |
//! | UNSUPPORTED | the broker declares the capability absent (CONNACK or profile) |
//! | ERROR | the harness could not run the case (connection refused, setup timeout, ...) |

use std::fmt;

use mqttspec_codec::StatementId;
use serde::{Deserialize, Serialize};

/// The verdict of one case run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// All checked requirements were met.
    #[serde(rename = "PASS")]
    Pass,
    /// The broker may choose; what it chose is recorded.
    #[serde(rename = "INFORMATIONAL")]
    Informational,
    /// The capability is absent.
    #[serde(rename = "UNSUPPORTED")]
    Unsupported,
    /// A SHOULD was not followed.
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    /// The harness could not run the case.
    #[serde(rename = "ERROR")]
    Error,
    /// A MUST / MUST NOT was violated.
    #[serde(rename = "FAIL")]
    Fail,
}

impl Verdict {
    /// All verdicts, from best to worst.
    pub const ALL: [Verdict; 6] = [
        Verdict::Pass,
        Verdict::Informational,
        Verdict::Unsupported,
        Verdict::NonStrict,
        Verdict::Error,
        Verdict::Fail,
    ];

    /// The label: `PASS`, `FAIL`, `NON-STRICT`, `INFORMATIONAL`, `UNSUPPORTED`, `ERROR`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NonStrict => "NON-STRICT",
            Verdict::Informational => "INFORMATIONAL",
            Verdict::Unsupported => "UNSUPPORTED",
            Verdict::Error => "ERROR",
        }
    }

    /// How bad the verdict is, for "worst of" (the order of [`Verdict::ALL`]): a statement's
    /// verdict in the traceability matrix is the worst verdict of its cases.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Informational => 1,
            Verdict::Unsupported => 2,
            Verdict::NonStrict => 3,
            Verdict::Error => 4,
            Verdict::Fail => 5,
        }
    }

    /// The worse of two verdicts.
    pub fn worst(self, other: Verdict) -> Verdict {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// Whether this verdict means the broker broke a requirement or the run is not
    /// trustworthy (FAIL or ERROR): these gate CI unless baselined.
    pub fn is_problem(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::Error)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.label().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown verdict `{s}` (PASS, FAIL, NON-STRICT, INFORMATIONAL, UNSUPPORTED, ERROR)")
            })
    }
}

/// A verdict with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// What the specification requires (or what the case expected).
    pub expected: Option<String>,
    /// What the broker did (or why the case could not run, for ERROR and UNSUPPORTED).
    pub actual: Option<String>,
    /// The statement found violated, when the failure points at one.
    pub statement: Option<StatementId>,
}

impl Outcome {
    /// A verdict without explanation.
    pub fn new(verdict: Verdict) -> Self {
        Outcome {
            verdict,
            expected: None,
            actual: None,
            statement: None,
        }
    }

    /// PASS.
    pub fn pass() -> Self {
        Self::new(Verdict::Pass)
    }

    /// FAIL with Expected / Actual.
    pub fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Self::with(Verdict::Fail, expected, actual)
    }

    /// NON-STRICT with Expected / Actual.
    pub fn non_strict(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Self::with(Verdict::NonStrict, expected, actual)
    }

    /// INFORMATIONAL: the allowed choice the broker made.
    pub fn informational(choice: impl Into<String>) -> Self {
        Self::new(Verdict::Informational).actual(choice)
    }

    /// UNSUPPORTED, with the reason (which capability is absent, and who says so).
    pub fn unsupported(reason: impl Into<String>) -> Self {
        Self::new(Verdict::Unsupported).actual(reason)
    }

    /// ERROR: the harness could not run the case.
    pub fn error(reason: impl Into<String>) -> Self {
        Self::new(Verdict::Error).actual(reason)
    }

    fn with(verdict: Verdict, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Outcome {
            verdict,
            expected: Some(expected.into()),
            actual: Some(actual.into()),
            statement: None,
        }
    }

    fn actual(mut self, actual: impl Into<String>) -> Self {
        self.actual = Some(actual.into());
        self
    }

    /// Names the statement this outcome is about.
    pub fn statement(mut self, statement: StatementId) -> Self {
        self.statement = Some(statement);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_is_worse_than_every_other_verdict() {
        for v in Verdict::ALL {
            assert_eq!(v.worst(Verdict::Fail), Verdict::Fail);
            assert_eq!(Verdict::Fail.worst(v), Verdict::Fail);
            assert_eq!(v.worst(Verdict::Pass), v);
        }
    }

    #[test]
    fn labels_parse_back_and_serialize_the_same() {
        for v in Verdict::ALL {
            assert_eq!(v.label().parse::<Verdict>(), Ok(v));
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                format!("\"{}\"", v.label())
            );
        }
        assert!("MAYBE".parse::<Verdict>().is_err());
        assert_eq!("non-strict".parse::<Verdict>(), Ok(Verdict::NonStrict));
    }

    #[test]
    fn only_fail_and_error_are_problems() {
        let problems: Vec<_> = Verdict::ALL
            .into_iter()
            .filter(|v| v.is_problem())
            .collect();
        assert_eq!(problems, vec![Verdict::Error, Verdict::Fail]);
    }
}
