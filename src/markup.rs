//! Text made safe to place inside XML (TwiML) and HTML (emails).
//!
//! Written here rather than taken from an escaping crate because TwiML must also lose the
//! control characters XML 1.0 forbids (speech recognition and pasted settings carry them),
//! which HTML escapers leave in.

/// Escapes the five XML special characters, and drops control characters XML 1.0 forbids
/// (speech recognition and pasted settings can carry them).
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
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn special_and_control_characters() {
        assert_eq!(
            super::escape("Bob & Sons <\"24/7\"> it's\u{7}\n"),
            "Bob &amp; Sons &lt;&quot;24/7&quot;&gt; it&apos;s\n"
        );
    }
}
