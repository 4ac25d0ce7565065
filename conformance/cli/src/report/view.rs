//! Pieces of the HTML pages' views that `report.html` ([`super::html`]) and `compare.html`
//! ([`super::compare`]) share: a verdict with its CSS class, a link to a case run's block,
//! and the anchor of that block. Views hold plain text ([`XmlText`]) and numbers only; the
//! templates under `conformance/cli/templates/` turn them into markup, HTML-escaping every
//! value.

use super::xml_text::XmlText;
use super::CaseReport;

/// A verdict label ("PASS", "NOT COVERED", ...) and the CSS class that colours it.
#[derive(Debug, Clone)]
pub(crate) struct VerdictBadge {
    /// The label.
    pub label: XmlText,
    /// `v-pass`, `v-not-covered`, ...
    pub class: XmlText,
}

impl VerdictBadge {
    /// The badge of a verdict label.
    pub fn of(label: &str) -> VerdictBadge {
        VerdictBadge {
            label: XmlText::new(label),
            class: XmlText::new(&css_class(label)),
        }
    }
}

/// A case run that a page links to: its block's anchor, id, protocol and verdict.
#[derive(Debug, Clone)]
pub(crate) struct CaseLink {
    /// The id of the block to link to ([`anchor`]).
    pub anchor: XmlText,
    /// The case id.
    pub id: XmlText,
    /// "3.1.1" or "5".
    pub protocol: XmlText,
    /// Its verdict.
    pub verdict: VerdictBadge,
}

impl CaseLink {
    /// The link to case run `c`.
    pub fn to(c: &CaseReport) -> CaseLink {
        CaseLink {
            anchor: anchor(&c.id, &c.protocol),
            id: XmlText::new(&c.id),
            protocol: XmlText::new(&c.protocol),
            verdict: VerdictBadge::of(c.verdict.label()),
        }
    }
}

/// The id of a case's block: `case-<id>-v<protocol>` with only safe characters.
pub(crate) fn anchor(id: &str, protocol: &str) -> XmlText {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    XmlText::from(format!("case-{}-v{}", clean(id), clean(protocol)))
}

/// CSS class of a verdict label ("PASS" -> "v-pass", "NOT COVERED" -> "v-not-covered").
fn css_class(label: &str) -> String {
    format!("v-{}", label.to_ascii_lowercase().replace([' ', '_'], "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_hold_only_safe_characters() {
        assert_eq!(
            anchor("a<b>\"c.d-1", "3.1.1").as_ref(),
            "case-a_b__c.d-1-v3.1.1"
        );
    }

    #[test]
    fn verdict_classes_follow_the_label() {
        assert_eq!(VerdictBadge::of("PASS").class.as_ref(), "v-pass");
        assert_eq!(
            VerdictBadge::of("NOT COVERED").class.as_ref(),
            "v-not-covered"
        );
        assert_eq!(
            VerdictBadge::of("NON-STRICT").class.as_ref(),
            "v-non-strict"
        );
    }
}
