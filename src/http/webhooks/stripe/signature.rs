//! Stripe's webhook signature: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, where
//! each `v1` is HMAC-SHA256 with the endpoint secret over `"<t>.<raw body>"`. Several `v1`
//! values appear while a secret is being rolled; any one matching is enough.
//! <https://docs.stripe.com/webhooks#verify-manually>

use aws_lc_rs::hmac;

/// How far the signature's time may be from ours.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `t` or no `v1` in the header.
    #[error("malformed Stripe-Signature header")]
    Malformed,
    /// No `v1` matches.
    #[error("no matching signature")]
    Mismatch,
    /// The timestamp is outside the tolerance (a replay, or a wrong clock).
    #[error("signature timestamp outside the tolerance")]
    Stale,
}

/// Checks `header` for `payload` with `secret` at time `now` (Unix seconds). Comparisons
/// run in constant time.
pub fn verify(payload: &[u8], header: &str, secret: &str, now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => candidates.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(payload);
    let matches = candidates
        .iter()
        .filter_map(|candidate| decode_hex(candidate))
        .any(|signature| hmac::verify(&key, &signed, &signature).is_ok());
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The header Stripe would send for `payload` at `timestamp` (used by tests and tools).
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(payload);
    let tag = hmac::sign(&key, &signed);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const PAYLOAD: &[u8] = br#"{"id":"evt_1","type":"invoice.payment_failed"}"#;
    const T: i64 = 1_767_225_600;
    // Computed independently with Python:
    //   hmac.new(b"whsec_test_secret", f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    const EXPECTED: &str = "4242f20e2567e6d48f161b1f1552cf09b3230e71d53537243c238abe47a2a9af";

    #[test]
    fn matches_an_independently_computed_signature() {
        assert_eq!(sign(PAYLOAD, SECRET, T), format!("t={T},v1={EXPECTED}"));
        assert_eq!(verify(PAYLOAD, &format!("t={T},v1={EXPECTED}"), SECRET, T + 10), Ok(()));
    }

    #[test]
    fn any_of_several_v1_values_may_match() {
        let header = format!("t={T},v1={},v0=abc,v1={EXPECTED}", "00".repeat(32));
        assert_eq!(verify(PAYLOAD, &header, SECRET, T), Ok(()));
    }

    #[test]
    fn wrong_stale_and_malformed_signatures_are_refused() {
        let header = format!("t={T},v1={EXPECTED}");
        assert_eq!(verify(b"{}", &header, SECRET, T), Err(SignatureError::Mismatch));
        assert_eq!(verify(PAYLOAD, &header, "whsec_other", T), Err(SignatureError::Mismatch));
        assert_eq!(verify(PAYLOAD, &header, SECRET, T + 301), Err(SignatureError::Stale));
        assert_eq!(verify(PAYLOAD, &header, SECRET, T - 301), Err(SignatureError::Stale));
        assert_eq!(verify(PAYLOAD, &format!("v1={EXPECTED}"), SECRET, T), Err(SignatureError::Malformed));
        assert_eq!(verify(PAYLOAD, &format!("t={T}"), SECRET, T), Err(SignatureError::Malformed));
        assert_eq!(verify(PAYLOAD, "garbage", SECRET, T), Err(SignatureError::Malformed));
        assert_eq!(verify(PAYLOAD, &format!("t={T},v1=zz"), SECRET, T), Err(SignatureError::Mismatch));
    }
}
