//! The OAuth `state` of a calendar connection: signed by the server, so Google's callback
//! (which carries no login) proves which business asked, and that it asked lately.
//!
//! `{customer id}.{unix expiry}.{nonce}.{HMAC-SHA256}`, signed with the JWT secret under a
//! purpose prefix of its own, as [`super::stream_token`] signs stream tokens. The nonce is
//! recorded when the callback uses the state (`oauth_states`), so a state works once.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

/// How long the business has to answer Google's consent page.
pub const STATE_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// What a valid state names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// The business that asked.
    pub customer_id: i64,
    /// Its one-use nonce.
    pub nonce: String,
}

/// A state for `customer_id`, valid until `expires_at`, with a fresh random nonce.
pub fn sign(secret: &[u8], customer_id: i64, expires_at: DateTime<Utc>) -> String {
    let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let expires = expires_at.timestamp();
    let tag = hmac::sign(&key(secret), &signed_bytes(customer_id, expires, &nonce));
    format!("{customer_id}.{expires}.{nonce}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// What `state` names, when this server signed it and it has not expired at `now`.
pub fn verify(secret: &[u8], state: &str, now: DateTime<Utc>) -> Option<OAuthState> {
    let mut parts = state.split('.');
    let (Some(customer_id), Some(expires), Some(nonce), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let (customer_id, expires) = (customer_id.parse::<i64>().ok()?, expires.parse::<i64>().ok()?);
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let signed = hmac::verify(&key(secret), &signed_bytes(customer_id, expires, nonce), &tag).is_ok();
    (signed && expires > now.timestamp()).then(|| OAuthState { customer_id, nonce: nonce.to_owned() })
}

fn key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

/// A purpose prefix, so no other value this server signs can pass as a state.
fn signed_bytes(customer_id: i64, expires: i64, nonce: &str) -> Vec<u8> {
    format!("google-calendar-oauth\n{customer_id}\n{expires}\n{nonce}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_names_its_business_until_it_expires() {
        let now = Utc::now();
        let state = sign(b"secret", 42, now + STATE_LIFETIME);
        let verified = verify(b"secret", &state, now).unwrap();
        assert_eq!(verified.customer_id, 42);
        assert_ne!(sign(b"secret", 42, now + STATE_LIFETIME), state, "each state has its own nonce");
        assert!(verify(b"other", &state, now).is_none(), "another key");
        assert!(verify(b"secret", &state, now + STATE_LIFETIME).is_none(), "expired");
        let forged = state.replacen("42.", "43.", 1);
        assert!(verify(b"secret", &forged, now).is_none(), "another business");
        for junk in ["", "...", "1.2.3", "1.2.3.4.5", "x.1.n.AAAA"] {
            assert!(verify(b"secret", junk, now).is_none(), "{junk}");
        }
    }
}
