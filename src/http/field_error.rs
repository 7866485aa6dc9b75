//! Messages about a request's fields for the person at the form: "holiday_hours must be
//! text", never serde's wording ("invalid type: string, expected a map at line 1 column 30"),
//! type names or positions.
//!
//! serde reports problems as English sentences with a fixed shape, and no typed form of
//! them exists, so they are rewritten here from that shape. Our own validation messages
//! (written for people already) pass through, prefixed with the field they are about.

/// The sentence for a problem serde reported at `path` (`.` or empty for the whole body,
/// `faqs[1].question` inside it). `message` is serde's (or our own validation's) text.
pub fn describe(path: &str, message: &str) -> String {
    locate(path, message).1
}

/// The field a problem is about (its full path; empty for the whole body) and the sentence.
pub fn locate(path: &str, message: &str) -> (String, String) {
    let mut path = if path == "." { String::new() } else { path.to_owned() };
    let mut core = strip_position(message).trim();
    // Errors from nested documents carry their own path ("monday.open: ..."): join them.
    while let Some((prefix, rest)) = core.split_once(": ") {
        if !is_path(prefix) {
            break;
        }
        path = join(&path, prefix);
        core = rest.trim();
    }
    let sentence = sentence(&path, core);
    (path, sentence)
}

/// The sentence for `core`, serde's words about the field at `path`.
fn sentence(path: &str, core: &str) -> String {
    let path = path.to_owned();
    let subject = if path.is_empty() { "the request body".to_owned() } else { path.clone() };

    if let Some(rest) = core.strip_prefix("invalid type: ").or_else(|| core.strip_prefix("invalid value: ")) {
        let expected = rest.split_once(", expected ").map_or("", |(_, expected)| expected);
        return match expected_kind(expected) {
            Some(kind) => format!("{subject} must be {kind}"),
            None => format!("{subject} has a value of the wrong kind"),
        };
    }
    if let Some(field) = quoted_after(core, "missing field ") {
        return format!("{} is required", join(&path, field));
    }
    if let Some(field) = quoted_after(core, "unknown field ") {
        return format!("{} is not a field that can be set here", join(&path, field));
    }
    if let Some(field) = quoted_after(core, "duplicate field ") {
        return format!("{} is given twice", join(&path, field));
    }
    if let Some(value) = quoted_after(core, "unknown variant ") {
        let allowed: Vec<&str> = core
            .split_once("expected ")
            .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        return match allowed.is_empty() {
            true => format!("{subject}: `{value}` is not an allowed value"),
            false => format!("{subject} must be one of: {}", allowed.join(", ")),
        };
    }
    if core.starts_with("invalid length ") {
        return format!("{subject} has the wrong number of items");
    }
    // Query strings: the standard library's parse errors.
    if core.contains("invalid digit") || core.contains("number too large") || core.contains("cannot parse integer") {
        return format!("{subject} must be a whole number");
    }
    if core.contains("invalid float literal") {
        return format!("{subject} must be a number");
    }
    if core.contains("`true` or `false`") {
        return format!("{subject} must be true or false");
    }
    if path.is_empty() { core.to_owned() } else { format!("{path}: {core}") }
}

/// What serde's "expected ..." names, in words for people; `None` when it names something
/// without a plain name.
fn expected_kind(expected: &str) -> Option<&'static str> {
    let expected = expected.trim();
    if expected.contains("string") || expected.contains("char") {
        Some("text")
    } else if expected.contains("boolean") {
        Some("true or false")
    } else if expected.contains("map") || expected.starts_with("struct") || expected.contains("object") {
        Some("an object")
    } else if expected.contains("sequence") || expected.contains("tuple") {
        Some("a list")
    } else if matches!(expected, "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64")
        || expected.contains("integer")
    {
        Some("a whole number")
    } else if expected == "f32" || expected == "f64" || expected.contains("number") {
        Some("a number")
    } else if expected.contains("variant") || expected.starts_with("enum") {
        Some("one of the allowed values")
    } else {
        None
    }
}

/// serde_json ends data errors with " at line L column C".
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at)
            if message[at + 9..].split(" column ").all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            &message[..at]
        }
        _ => message,
    }
}

/// `x` of "<prefix>`x`...".
fn quoted_after<'a>(core: &'a str, prefix: &str) -> Option<&'a str> {
    core.strip_prefix(prefix)?.strip_prefix('`')?.split('`').next()
}

/// Whether `text` is a field path such as `monday`, `faqs[1]` or `business_hours.monday.open`.
fn is_path(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']'))
        && text.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'[')
}

fn join(path: &str, field: &str) -> String {
    if path == field || path.ends_with(&format!(".{field}")) {
        // serde names some fields both in the path and in the message.
        return path.to_owned();
    }
    match (path.is_empty(), field.starts_with('[')) {
        (true, _) => field.to_owned(),
        (false, true) => format!("{path}{field}"),
        (false, false) => format!("{path}.{field}"),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn serde_wording_becomes_a_sentence_about_the_field() {
        for (path, message, expected) in [
            (
                "business_hours",
                "invalid type: string \"9-5\", expected a map at line 1 column 45",
                "business_hours must be an object",
            ),
            ("holiday_hours", "invalid type: map, expected a string at line 1 column 3", "holiday_hours must be text"),
            (
                "send_welcome_email",
                "invalid type: string \"no\", expected a boolean",
                "send_welcome_email must be true or false",
            ),
            ("faqs", "invalid type: map, expected a sequence", "faqs must be a list"),
            ("call_ids[0]", "invalid type: string \"x\", expected i64", "call_ids[0] must be a whole number"),
            (".", "invalid type: sequence, expected struct Credentials", "the request body must be an object"),
            (".", "missing field `email` at line 1 column 2", "email is required"),
            (
                "business_hours",
                "funday: unknown field `funday`, expected one of `monday`, `tuesday`",
                "business_hours.funday is not a field that can be set here",
            ),
            (
                "appointment_handling",
                "unknown variant `whenever`, expected one of `collect_details`, `callback`",
                "appointment_handling must be one of: collect_details, callback",
            ),
            (
                "business_hours",
                "monday: give both open and close as HH:MM",
                "business_hours.monday: give both open and close as HH:MM",
            ),
            ("faqs", "row 2 has a question but no answer", "faqs: row 2 has a question but no answer"),
            ("per_page", "invalid digit found in string", "per_page must be a whole number"),
            (
                "business_hours",
                "monday.closed: invalid type: string \"yes\", expected a boolean",
                "business_hours.monday.closed must be true or false",
            ),
        ] {
            let described = describe(path, message);
            assert_eq!(described, expected, "{path}: {message}");
            for serde_word in ["invalid type", "expected", "line 1", "column", "struct", "map", "sequence"] {
                assert!(!described.contains(serde_word), "{described}");
            }
        }
    }
}
