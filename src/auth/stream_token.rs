//! Short-lived tokens that tie a Twilio media stream to one call.
//!
//! The stream URL is the same for every call (Twilio drops query strings on stream URLs), so
//! its `X-Twilio-Signature` proves the request is Twilio's but not which call it belongs to.
//! `voice` signs a token for its call and passes it as a `<Parameter>`; the stream's `start`
//! message must bring it back, for that call, before it expires. A token is good for one
//! stream only: the stream claims its call in the database (`calls.stream_started_at`), so
//! the same `start` replayed, here or on another instance, is refused.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

/// How long after `voice` answered a stream may start.
pub const STREAM_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::minutes(2);

/// A token for `call_sid`, valid until `expires_at`: `{unix seconds}.{HMAC-SHA256}`.
pub fn sign(secret: &[u8], call_sid: &str, expires_at: DateTime<Utc>) -> String {
    let expires = expires_at.timestamp();
    let tag = hmac::sign(&key(secret), &signed_bytes(call_sid, expires));
    format!("{expires}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Whether `token` was signed for `call_sid` and has not expired at `now`.
pub fn verify(secret: &[u8], call_sid: &str, token: &str, now: DateTime<Utc>) -> bool {
    let Some((expires, tag)) = token.split_once('.') else { return false };
    let (Ok(expires), Ok(tag)) = (expires.parse::<i64>(), URL_SAFE_NO_PAD.decode(tag)) else { return false };
    expires > now.timestamp() && hmac::verify(&key(secret), &signed_bytes(call_sid, expires), &tag).is_ok()
}

fn key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

/// What is signed: a purpose prefix (so no other signed value of this server can pass as a
/// stream token), the call and the expiry.
fn signed_bytes(call_sid: &str, expires: i64) -> Vec<u8> {
    format!("media-stream\n{call_sid}\n{expires}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_its_own_call_until_it_expires() {
        let now = Utc::now();
        let token = sign(b"secret", "CA1", now + STREAM_TOKEN_LIFETIME);
        assert!(verify(b"secret", "CA1", &token, now));
        assert!(!verify(b"secret", "CA2", &token, now), "another call");
        assert!(!verify(b"other", "CA1", &token, now), "another key");
        assert!(!verify(b"secret", "CA1", &token, now + STREAM_TOKEN_LIFETIME), "expired");
        let (_, tag) = token.split_once('.').unwrap();
        let later = (now + chrono::Duration::hours(1)).timestamp();
        assert!(!verify(b"secret", "CA1", &format!("{later}.{tag}"), now), "expiry moved");
        for junk in ["", ".", "abc", "1.!!", "99999999999.AAAA"] {
            assert!(!verify(b"secret", "CA1", junk, now), "{junk}");
        }
    }
}
