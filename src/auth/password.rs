//! Argon2id password hashing. Hashing is deliberately slow (OWASP's recommended cost:
//! 19 MiB, 2 iterations), so it runs on the blocking pool, never on the async runtime.

use std::sync::LazyLock;

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

/// Shortest password accepted anywhere.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted; anything longer is surely not typed by a person.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Checks a new password's length; the message names the rule.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(format!("must be at most {MAX_PASSWORD_LEN} characters"));
    }
    Ok(())
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$...`) with a random salt.
pub async fn hash_password(password: SecretString) -> anyhow::Result<String> {
    run_blocking(move || {
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
    })
    .await
}

/// Whether `password` matches `hash`. When no account exists pass `None`: a hash is still
/// checked, so the answer takes as long as for a real account and does not reveal which
/// emails are registered.
pub async fn verify_password(password: SecretString, hash: Option<String>) -> anyhow::Result<bool> {
    run_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored password hash is invalid: {e}"))?;
        let matches = Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok();
        Ok(known && matches)
    })
    .await
}

/// A hash of a random password, checked when the account does not exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random: [u8; 16] = rand::random();
    Argon2::default().hash_password(&random).expect("hashing random bytes cannot fail").to_string()
});

/// Runs CPU-heavy work on the blocking pool, inside the caller's tracing span.
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .instrument(tracing::Span::current())
        .await
        .context("password hashing task failed")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }

    #[test]
    fn new_passwords_need_eight_characters() {
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}
