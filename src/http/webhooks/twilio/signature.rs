//! Twilio's request signature: HMAC-SHA1, keyed with the auth token, over the public URL
//! followed by every POST parameter sorted by name (name then value), base64-encoded.
//! <https://www.twilio.com/docs/usage/security#validating-requests>

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The signature Twilio sends for `url` and `params` in `X-Twilio-Signature`.
pub fn sign(auth_token: &[u8], url: &str, params: &[(String, String)]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token);
    STANDARD.encode(hmac::sign(&key, &signed_bytes(url, params)).as_ref())
}

/// Whether `signature` (the header's value) is Twilio's for `url` and `params`. The
/// comparison runs in constant time.
pub fn verify(auth_token: &[u8], url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token);
    hmac::verify(&key, &signed_bytes(url, params), &signature).is_ok()
}

fn signed_bytes(url: &str, params: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.as_bytes().to_vec();
    for (name, value) in sorted {
        data.extend_from_slice(name.as_bytes());
        data.extend_from_slice(value.as_bytes());
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    // Expected values computed independently with Python:
    //   base64.b64encode(hmac.new(token, (url + "".join(k + v for k, v in sorted(params))).encode(),
    //                             hashlib.sha1).digest())
    // The first is also the example in Twilio's security documentation.
    #[test]
    fn matches_independently_computed_vectors() {
        let twilio_docs = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(sign(b"12345", url, &twilio_docs), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(verify(b"12345", url, &twilio_docs, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));

        let speech = params(&[("SpeechResult", "Café & <bar> \"ok\""), ("CallSid", "CA42"), ("Confidence", "0.9")]);
        let url = "https://deskringer.test/api/webhooks/twilio/gather";
        assert_eq!(sign(b"test-twilio-auth-token", url, &speech), "yC9eBJA2uejYeVS0PhjvVTzC8bc=");
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let original = params(&[("CallSid", "CA1"), ("To", "+15550001111")]);
        let url = "https://deskringer.test/api/webhooks/twilio/voice";
        let signature = sign(b"token", url, &original);
        assert!(verify(b"token", url, &original, &signature));
        assert!(!verify(b"other-token", url, &original, &signature));
        assert!(!verify(b"token", "https://evil.test/api/webhooks/twilio/voice", &original, &signature));
        assert!(!verify(b"token", url, &params(&[("CallSid", "CA1"), ("To", "+15550002222")]), &signature));
        assert!(!verify(b"token", url, &params(&[("CallSid", "CA1")]), &signature));
        assert!(!verify(b"token", url, &original, "not base64!"));
        assert!(!verify(b"token", url, &original, ""));
    }
}
