//! Field checks shared by handlers. Each returns the cleaned value or a 422 naming the field.

use email_address::EmailAddress;

use super::error::{AppError, Result};

/// Longest free-text field (services, pricing, instructions...).
pub const MAX_TEXT_LEN: usize = 10_000;
/// Longest name-like field.
pub const MAX_NAME_LEN: usize = 200;

/// A valid email address, trimmed and lower-cased.
pub fn email(field: &str, raw: &str) -> Result<String> {
    let value = raw.trim().to_lowercase();
    if value.len() > 254 || !EmailAddress::is_valid(&value) || !value.contains('.') {
        return Err(AppError::invalid_field(field, "must be a valid email address"));
    }
    Ok(value)
}

/// An E.164 phone number: `+`, a non-zero country digit, 7 to 15 digits in all.
/// Spaces, dashes, dots and parentheses that people type are removed first.
pub fn e164(field: &str, raw: &str) -> Result<String> {
    let value: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let digits = value.strip_prefix('+').unwrap_or("");
    let valid = digits.len() >= 7
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !valid {
        return Err(AppError::invalid_field(field, "must be a phone number in E.164 form, like +14155550123"));
    }
    Ok(value)
}

/// An IANA time zone name such as `America/New_York`.
pub fn timezone(field: &str, raw: &str) -> Result<String> {
    let value = raw.trim();
    value
        .parse::<chrono_tz::Tz>()
        .map(|_| value.to_owned())
        .map_err(|_| AppError::invalid_field(field, "must be an IANA time zone such as America/New_York"))
}

/// One of `allowed`.
pub fn one_of(field: &str, raw: &str, allowed: &[&str]) -> Result<String> {
    let value = raw.trim();
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(AppError::invalid_field(field, format!("must be one of: {}", allowed.join(", "))))
    }
}

/// A count a query asks for: `sent`, or `default` when not sent, from 1 to `max`.
pub fn count(field: &str, sent: Option<i64>, default: i64, max: i64) -> Result<i64> {
    let value = sent.unwrap_or(default);
    if !(1..=max).contains(&value) {
        return Err(AppError::invalid_field(field, format!("must be between 1 and {max}")));
    }
    Ok(value)
}

/// Required text: trimmed, non-empty, at most `max` characters.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String> {
    match optional_text(field, raw, max)? {
        Some(value) => Ok(value),
        None => Err(AppError::invalid_field(field, "must not be empty")),
    }
}

/// Optional text: trimmed; blank becomes `None` (forms send "" for an empty input).
pub fn optional_text(field: &str, raw: &str, max: usize) -> Result<Option<String>> {
    let value = raw.trim();
    if value.chars().count() > max {
        return Err(AppError::invalid_field(field, format!("must be at most {max} characters")));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("email", " Owner@Example.COM ").unwrap(), "owner@example.com");
        for bad in ["", "no-at-sign", "a@b", "two@@example.com", "spa ce@example.com"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(e164("phone", "+1 (415) 555-0123").unwrap(), "+14155550123");
        for bad in ["4155550123", "+0123456789", "+1415abc0123", "+123", "+1234567890123456"] {
            assert!(e164("phone", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones() {
        assert!(timezone("timezone", "Europe/Paris").is_ok());
        assert!(timezone("timezone", "Mars/Olympus").is_err());
    }

    #[test]
    fn counts() {
        assert_eq!(count("limit", None, 10, 100).unwrap(), 10);
        assert_eq!(count("limit", Some(100), 10, 100).unwrap(), 100);
        assert!(count("limit", Some(0), 10, 100).is_err());
        assert!(count("limit", Some(101), 10, 100).unwrap_err().to_string().contains("between 1 and 100"));
    }

    #[test]
    fn texts() {
        assert_eq!(optional_text("f", "  ", 10).unwrap(), None);
        assert!(optional_text("f", "12345678901", 10).is_err());
        assert!(required_text("f", " ", 10).is_err());
    }
}
