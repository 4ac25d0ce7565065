//! [`XmlText`]: a string that an XML 1.0 or HTML document can carry. A broker's reason
//! string, payload or client identifier may hold any character, but XML 1.0 has no way to
//! write most control characters (not even as a character reference), and HTML treats them
//! as parse errors. Every string the HTML views and the JUnit report hold passes through
//! [`XmlText::new`], which replaces those characters with U+FFFD.
//!
//! This is not escaping: markup characters (`<`, `&`, quotes) are left as they are, for the
//! template engine or the XML writer to escape.

use std::fmt;

/// Text whose every character XML 1.0 allows (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlText(String);

impl XmlText {
    /// `s` with each character XML 1.0 cannot carry (most C0 control characters, U+FFFE,
    /// U+FFFF) replaced by U+FFFD.
    pub fn new(s: &str) -> XmlText {
        XmlText(
            s.chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// Whether XML 1.0 allows `c` (escaped or not): its `Char` production.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

impl fmt::Display for XmlText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for XmlText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for XmlText {
    fn from(s: &str) -> XmlText {
        XmlText::new(s)
    }
}

impl From<&String> for XmlText {
    fn from(s: &String) -> XmlText {
        XmlText::new(s)
    }
}

impl From<String> for XmlText {
    fn from(s: String) -> XmlText {
        if s.chars().all(allowed) {
            XmlText(s)
        } else {
            XmlText::new(&s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        assert_eq!(
            XmlText::new("a\u{0}b\u{1b}c\td\u{FFFF}\u{FFFE}").as_ref(),
            "a\u{FFFD}b\u{FFFD}c\td\u{FFFD}\u{FFFD}"
        );
        assert_eq!(XmlText::from("a\u{1}b".to_owned()).as_ref(), "a\u{FFFD}b");
    }

    #[test]
    fn markup_and_other_characters_are_kept() {
        let s = "<script>alert('x' & \"y\")</script> ]]> é😀 \u{7f}\u{85}\u{9b}\r\n";
        assert_eq!(XmlText::new(s).as_ref(), s);
        assert_eq!(XmlText::from(s.to_owned()).to_string(), s);
    }
}
