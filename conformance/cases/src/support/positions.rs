//! Where in a string field a sequence sits ([`At`]: start, middle, end), for the cases that
//! check a string rule wherever in the field the offending sequence is.

/// Where in a string field a sequence sits.
#[derive(Debug, Clone, Copy)]
pub(crate) enum At {
    /// Before the first character.
    Start,
    /// Between the two halves.
    Middle,
    /// After the last character.
    End,
}

/// Every place, in order.
pub(crate) const POSITIONS: [At; 3] = [At::Start, At::Middle, At::End];

impl At {
    /// The place in words, for the transcript and failures.
    pub(crate) fn name(self) -> &'static str {
        match self {
            At::Start => "at the start",
            At::Middle => "in the middle",
            At::End => "at the end",
        }
    }

    /// `base` (ASCII) with `marker` placed here.
    pub(crate) fn place(self, base: &str, marker: &str) -> String {
        match self {
            At::Start => format!("{marker}{base}"),
            At::End => format!("{base}{marker}"),
            At::Middle => {
                let mid = base.len() / 2;
                match (base.get(..mid), base.get(mid..)) {
                    (Some(a), Some(b)) => format!("{a}{marker}{b}"),
                    _ => format!("{base}{marker}"),
                }
            }
        }
    }
}
