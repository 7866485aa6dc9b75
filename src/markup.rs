//! Text made safe to place inside XML (TwiML) and HTML (emails).
//!
//! Written here rather than taken from an escaping crate because TwiML must also lose every
//! character XML 1.0 forbids (speech recognition and pasted settings carry them), which
//! HTML escapers leave in: one such character in a business's greeting would make every
//! call's TwiML unreadable to Twilio.

/// Whether `c` matches XML 1.0's `Char` production:
/// `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`.
/// (A Rust `char` is never a surrogate, so the gap at `#xD800-#xDFFF` cannot occur.)
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Escapes the five XML special characters and drops every character outside XML 1.0's
/// `Char` production (C0 controls other than tab and line breaks, U+FFFE, U+FFFF). C1
/// controls (U+007F-U+009F), which XML allows but nobody means to say or show, go too.
/// Every XML and HTML writer in the server goes through here, so no text can bypass it.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || !is_xml_char(c) => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_and_control_characters() {
        assert_eq!(escape("Bob & Sons <\"24/7\"> it's\u{7}\n"), "Bob &amp; Sons &lt;&quot;24/7&quot;&gt; it&apos;s\n");
    }

    #[test]
    fn every_character_outside_xml_char_is_dropped_and_the_edges_of_its_ranges_kept() {
        let forbidden = "\u{0}\u{1}\u{8}\u{B}\u{C}\u{E}\u{1F}\u{FFFE}\u{FFFF}";
        assert_eq!(escape(&format!("a{forbidden}b")), "ab");
        let allowed = "\t\n\r \u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFF}é😀";
        assert_eq!(escape(allowed), allowed);
        // The whole Basic Multilingual Plane and a sample beyond: what is kept parses.
        let every: String = ('\u{0}'..='\u{10FFFF}').step_by(7).chain('\u{FFF0}'..='\u{FFFF}').collect();
        let xml = format!("<a b=\"{0}\">{0}</a>", escape(&every));
        roxmltree::Document::parse(&xml).expect("escaped text is XML");
        assert!(escape(&every).chars().all(is_xml_char));
    }
}
