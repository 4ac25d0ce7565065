//! The search every size probe shares: the smallest value first (it must be accepted, or
//! nothing can be measured), then the cap (accepted: "≥ cap", one attempt), then a binary
//! search between the largest value accepted and the smallest refused, for at most a
//! given number of attempts. The probe drives it: [`Bisect::next`] says what to try,
//! [`Bisect::record`] takes the answer.

use super::report::Measure;

/// The answer to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The broker accepted the value (and did what the probe checks).
    Accepted,
    /// It did not; what happened instead.
    Refused(String),
}

/// A search for the largest accepted value in `low..=cap`.
#[derive(Debug, Clone)]
pub struct Bisect {
    low: u64,
    cap: u64,
    steps_left: u32,
    /// Largest accepted so far.
    accepted: Option<u64>,
    /// Smallest refused so far, with what happened.
    refused: Option<(u64, String)>,
    /// The smallest value was refused: nothing can be measured.
    floor_refused: Option<String>,
    cap_tried: bool,
}

impl Bisect {
    /// A search of `low..=cap` with at most `steps` attempts.
    pub fn new(low: u64, cap: u64, steps: u32) -> Bisect {
        Bisect {
            low,
            cap: cap.max(low),
            steps_left: steps.max(2),
            accepted: None,
            refused: None,
            floor_refused: None,
            cap_tried: false,
        }
    }

    /// The next value to try, or `None` when the search is over.
    pub fn next(&self) -> Option<u64> {
        if self.steps_left == 0 || self.floor_refused.is_some() {
            return None;
        }
        let Some(ok) = self.accepted else {
            return Some(self.low);
        };
        if !self.cap_tried {
            return (ok < self.cap).then_some(self.cap);
        }
        let (bad, _) = self.refused.as_ref()?;
        (bad - ok > 1).then(|| ok + (bad - ok) / 2)
    }

    /// Records the answer for `value` (the value [`Bisect::next`] gave).
    pub fn record(&mut self, value: u64, attempt: Attempt) {
        self.steps_left = self.steps_left.saturating_sub(1);
        if value == self.cap {
            self.cap_tried = true;
        }
        match attempt {
            Attempt::Accepted => {
                self.accepted = Some(self.accepted.map_or(value, |a| a.max(value)));
            }
            Attempt::Refused(why) => {
                if self.accepted.is_none() && value == self.low {
                    self.floor_refused = Some(why);
                } else if self.refused.as_ref().is_none_or(|(r, _)| value < *r) {
                    self.refused = Some((value, why));
                }
            }
        }
    }

    /// The result and a sentence on what happened at the boundary.
    pub fn result(&self) -> (Measure, String) {
        if let Some(why) = &self.floor_refused {
            return (
                Measure::Unknown {
                    reason: format!("even {} was refused: {why}", self.low),
                },
                String::new(),
            );
        }
        match (self.accepted, &self.refused) {
            (None, _) => (
                Measure::Unknown {
                    reason: "no attempt completed".to_owned(),
                },
                String::new(),
            ),
            (Some(ok), _) if ok >= self.cap => (
                Measure::AtLeast { value: self.cap },
                format!("accepted the probe's cap of {}", self.cap),
            ),
            (Some(ok), Some((bad, why))) if *bad == ok + 1 => (
                Measure::Exactly { value: ok },
                format!("{ok} accepted; {bad}: {why}"),
            ),
            (Some(ok), Some((bad, why))) => (
                Measure::Between {
                    low: ok,
                    high: *bad,
                },
                format!("the search stopped after its attempts: {ok} accepted; {bad}: {why}"),
            ),
            (Some(ok), None) => (
                Measure::Between {
                    low: ok,
                    high: self.cap,
                },
                format!("the search stopped after its attempts: {ok} accepted"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(limit: u64, low: u64, cap: u64, steps: u32) -> (Measure, u32) {
        let mut b = Bisect::new(low, cap, steps);
        let mut tries = 0;
        while let Some(n) = b.next() {
            tries += 1;
            b.record(
                n,
                if n <= limit {
                    Attempt::Accepted
                } else {
                    Attempt::Refused("too big".to_owned())
                },
            );
        }
        (b.result().0, tries)
    }

    #[test]
    fn finds_the_exact_limit_in_logarithmic_steps() {
        for limit in [10, 11, 12, 100, 1000, 65_534] {
            let (m, tries) = search(limit, 10, 65_535, 24);
            assert_eq!(m, Measure::Exactly { value: limit }, "{limit}");
            assert!(tries <= 18, "{tries}");
        }
    }

    #[test]
    fn the_cap_accepted_is_at_least_and_the_floor_refused_is_unknown() {
        assert_eq!(
            search(1 << 20, 0, 1000, 24),
            (Measure::AtLeast { value: 1000 }, 2)
        );
        assert!(matches!(search(5, 10, 1000, 24).0, Measure::Unknown { .. }));
        assert_eq!(
            search(500, 0, 1 << 20, 4).0,
            Measure::Between {
                low: 0,
                high: 1 << 18
            }
        );
    }
}
