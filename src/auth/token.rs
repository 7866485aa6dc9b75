//! Access tokens: HS256 JWTs that say who the bearer is (an admin or a customer) and
//! expire after 24 hours. The keys live in application state, never in a global.
//!
//! A token also carries its account's token generation: changing the password (or a
//! business being cancelled) moves the account to the next generation, and the extractors
//! refuse tokens of an older one.

use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// How long a token is valid.
pub const TOKEN_LIFETIME: Duration = Duration::hours(24);

/// The kind of principal a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// DeskRinger staff, for the admin dashboard.
    Admin,
    /// A subscribed business, for its portal.
    Customer,
}

/// The verified bearer of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// Admin or customer.
    pub role: Role,
    /// The id of the admin or customer row.
    pub id: i64,
    /// The account's token generation when the token was issued.
    pub generation: i32,
}

/// The token's claims. `sub` is the row id as a string, as RFC 7519 wants.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    /// Token generation; tokens from before generations existed are generation 0.
    #[serde(default)]
    generation: i32,
    iat: i64,
    exp: i64,
}

/// Why a token was refused. Every reason answers 401; the reason is only logged.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Signature, format, algorithm or expiry check failed.
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// The subject is not a row id.
    #[error("invalid token subject")]
    BadSubject,
}

/// Signing and verification keys built once from `JWT_SECRET_KEY`.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    /// Builds the keys from the shared secret.
    pub fn new(secret: &[u8]) -> Self {
        // Pinned to HS256: a token claiming another algorithm is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    /// Issues a 24-hour token for `principal`.
    pub fn issue(&self, principal: Principal) -> anyhow::Result<String> {
        self.issue_with_expiry(principal, Utc::now() + TOKEN_LIFETIME)
    }

    /// Issues a token expiring at `expires_at` (tests use this for expired tokens).
    pub fn issue_with_expiry(&self, principal: Principal, expires_at: chrono::DateTime<Utc>) -> anyhow::Result<String> {
        let claims = Claims {
            sub: principal.id.to_string(),
            role: principal.role,
            generation: principal.generation,
            iat: Utc::now().timestamp(),
            exp: expires_at.timestamp(),
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// Verifies signature and expiry and returns who the token speaks for.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?;
        let id = data.claims.sub.parse().map_err(|_| TokenError::BadSubject)?;
        Ok(Principal { role: data.claims.role, id, generation: data.claims.generation })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN_7: Principal = Principal { role: Role::Admin, id: 7, generation: 2 };

    #[test]
    fn a_token_round_trips() {
        let keys = JwtKeys::new(b"k");
        let token = keys.issue(ADMIN_7).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), ADMIN_7);
        let customer = Principal { role: Role::Customer, id: 3, generation: 0 };
        assert_eq!(keys.verify(&keys.issue(customer).unwrap()).unwrap(), customer);
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused() {
        let keys = JwtKeys::new(b"k");
        let expired = keys.issue_with_expiry(ADMIN_7, Utc::now() - Duration::hours(1)).unwrap();
        assert!(keys.verify(&expired).is_err());

        let token = keys.issue(ADMIN_7).unwrap();
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(keys.verify(std::str::from_utf8(&tampered).unwrap()).is_err());

        assert!(JwtKeys::new(b"other").verify(&token).is_err());
        assert!(keys.verify("not.a.token").is_err());
    }
}
