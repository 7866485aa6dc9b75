//! The OAuth `state` of a calendar connection: signed by the server, so Google's callback
//! (which carries no login) proves which business asked, and that it asked lately.
//!
//! `{customer id}.{unix expiry}.{nonce}.{HMAC-SHA256}`, signed with the JWT secret under a
//! purpose prefix of its own, as [`super::stream_token`] signs stream tokens. The nonce is
//! recorded when the callback uses the state (`oauth_states`), so a state works once. A
//! business that started from the web app rather than the portal gets
//! `{customer id}.{unix expiry}.{nonce}.app.{HMAC-SHA256}`: where the callback sends it back is
//! signed too, and is one of the server's own places ([`ReturnTo`]), never a URL from the client.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

/// How long the business has to answer Google's consent page.
pub const STATE_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// Where the callback sends the business when it is done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReturnTo {
    /// `PORTAL_URL` (the default).
    #[default]
    Portal,
    /// The web app served by this server (`{API_BASE_URL}/app/`).
    App,
}

impl ReturnTo {
    /// The value a client asks for (`return_to=app`); `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        (value == "app").then_some(ReturnTo::App)
    }
}

/// What a valid state names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// The business that asked.
    pub customer_id: i64,
    /// Its one-use nonce.
    pub nonce: String,
    /// Where to send the business back.
    pub return_to: ReturnTo,
}

/// A state for `customer_id`, valid until `expires_at`, with a fresh random nonce, that
/// returns to the portal.
pub fn sign(secret: &[u8], customer_id: i64, expires_at: DateTime<Utc>) -> String {
    sign_returning(secret, customer_id, expires_at, ReturnTo::Portal)
}

/// [`sign`], returning to `return_to`.
pub fn sign_returning(secret: &[u8], customer_id: i64, expires_at: DateTime<Utc>, return_to: ReturnTo) -> String {
    let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let expires = expires_at.timestamp();
    let tag = hmac::sign(&key(secret), &signed_bytes(customer_id, expires, &nonce, return_to));
    let tag = URL_SAFE_NO_PAD.encode(tag.as_ref());
    match return_to {
        ReturnTo::Portal => format!("{customer_id}.{expires}.{nonce}.{tag}"),
        ReturnTo::App => format!("{customer_id}.{expires}.{nonce}.app.{tag}"),
    }
}

/// What `state` names, when this server signed it and it has not expired at `now`.
pub fn verify(secret: &[u8], state: &str, now: DateTime<Utc>) -> Option<OAuthState> {
    let parts: Vec<&str> = state.split('.').collect();
    let (customer_id, expires, nonce, return_to, tag) = match parts[..] {
        [customer_id, expires, nonce, tag] => (customer_id, expires, nonce, ReturnTo::Portal, tag),
        [customer_id, expires, nonce, "app", tag] => (customer_id, expires, nonce, ReturnTo::App, tag),
        _ => return None,
    };
    let (customer_id, expires) = (customer_id.parse::<i64>().ok()?, expires.parse::<i64>().ok()?);
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let signed = hmac::verify(&key(secret), &signed_bytes(customer_id, expires, nonce, return_to), &tag).is_ok();
    (signed && expires > now.timestamp()).then(|| OAuthState { customer_id, nonce: nonce.to_owned(), return_to })
}

fn key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

/// A purpose prefix, so no other value this server signs can pass as a state; the return
/// place is signed with the rest, so it cannot be added to or cut from a state.
fn signed_bytes(customer_id: i64, expires: i64, nonce: &str, return_to: ReturnTo) -> Vec<u8> {
    let mut bytes = format!("google-calendar-oauth\n{customer_id}\n{expires}\n{nonce}");
    if return_to == ReturnTo::App {
        bytes.push_str("\napp");
    }
    bytes.into_bytes()
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
        assert_eq!(verified.return_to, ReturnTo::Portal);
    }

    #[test]
    fn where_a_state_returns_is_signed_with_it() {
        let now = Utc::now();
        let app = sign_returning(b"secret", 42, now + STATE_LIFETIME, ReturnTo::App);
        assert_eq!(verify(b"secret", &app, now).unwrap().return_to, ReturnTo::App);
        // Cutting `.app` out, or putting it into a portal state, breaks the signature.
        assert!(verify(b"secret", &app.replacen(".app.", ".", 1), now).is_none());
        let portal = sign(b"secret", 42, now + STATE_LIFETIME);
        let (head, tag) = portal.rsplit_once('.').unwrap();
        assert!(verify(b"secret", &format!("{head}.app.{tag}"), now).is_none());
        assert!(verify(b"secret", &app.replacen(".app.", ".web.", 1), now).is_none());
        assert_eq!(ReturnTo::parse("app"), Some(ReturnTo::App));
        for other in ["", "APP", "https://evil.test", "portal"] {
            assert_eq!(ReturnTo::parse(other), None, "{other}");
        }
    }
}
