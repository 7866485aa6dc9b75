//! Third-party secrets at rest (a Google refresh token, a Cal.com API key): sealed with
//! AES-256-GCM under `CALENDAR_TOKEN_KEY` before they reach the database.
//!
//! A sealed value is `key id (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`,
//! stored as `bytea`. The key id is authenticated with the ciphertext (it is the AEAD's
//! associated data), so a value cannot be moved under another key. Today there is one key,
//! id [`CURRENT_KEY_ID`]; rotating means adding a second id, re-sealing every row under it
//! and retiring the first (see the README, "Connected calendars").
//!
//! Without a key nothing is sealed: in development connecting a calendar answers 503 with a
//! message naming `CALENDAR_TOKEN_KEY`; no key is derived or generated silently, because a
//! key that changes at each start would make every stored token unreadable.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Length of a key in bytes (AES-256).
pub const KEY_LEN: usize = 32;
/// The id written in front of every value sealed with the configured key.
pub const CURRENT_KEY_ID: u8 = 1;

/// Why a value could not be sealed or opened. Deliberately vague: the reason an
/// authentication failed is nobody's business.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The value was sealed under a key id this server does not hold.
    #[error("the secret was sealed with key id {0}, which is not configured")]
    UnknownKey(u8),
    /// The value is too short, was altered, or was sealed under another key.
    #[error("the secret cannot be opened (altered, or sealed with another key)")]
    Unreadable,
    /// The system random generator failed.
    #[error("no random nonce available")]
    Random,
}

/// The key sealing third-party secrets.
pub struct SecretKey {
    id: u8,
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl SecretKey {
    /// A key from its 32 raw bytes; `None` when the length is wrong.
    pub fn new(id: u8, bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Self { id, key: LessSafeKey::new(key) })
    }

    /// Seals `plaintext` under a fresh random nonce: two seals of one value differ.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SecretError::Random)?;
        let mut in_out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from([self.id]), &mut in_out)
            .map_err(|_| SecretError::Unreadable)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(self.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Opens a value [`seal`](Self::seal) made; refuses one altered or sealed elsewhere.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        let (&id, rest) = sealed.split_first().ok_or(SecretError::Unreadable)?;
        if id != self.id {
            return Err(SecretError::UnknownKey(id));
        }
        if rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SecretError::Unreadable);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Unreadable)?;
        let mut in_out = ciphertext.to_vec();
        let plaintext =
            self.key.open_in_place(nonce, Aad::from([id]), &mut in_out).map_err(|_| SecretError::Unreadable)?;
        Ok(plaintext.to_vec())
    }

    /// Opens a sealed UTF-8 string (a token).
    pub fn open_string(&self, sealed: &[u8]) -> Result<String, SecretError> {
        String::from_utf8(self.open(sealed)?).map_err(|_| SecretError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::new(CURRENT_KEY_ID, &[byte; KEY_LEN]).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_to_itself() {
        let sealed = key(7).seal(b"1//refresh-token").unwrap();
        assert_eq!(sealed[0], CURRENT_KEY_ID);
        assert!(!sealed.windows(7).any(|w| w == b"refresh"), "the plaintext shows through");
        assert_eq!(key(7).open_string(&sealed).unwrap(), "1//refresh-token");
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let k = key(7);
        assert_ne!(k.seal(b"same").unwrap(), k.seal(b"same").unwrap());
    }

    #[test]
    fn an_altered_secret_is_refused() {
        let k = key(7);
        let sealed = k.seal(b"1//refresh-token").unwrap();
        for index in 1..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[index] ^= 0x01;
            assert_eq!(k.open(&tampered), Err(SecretError::Unreadable), "byte {index}");
        }
        assert_eq!(k.open(&sealed[..sealed.len() - 1]), Err(SecretError::Unreadable));
        assert_eq!(k.open(&[]), Err(SecretError::Unreadable));
        assert_eq!(k.open(&[CURRENT_KEY_ID; 10]), Err(SecretError::Unreadable));
    }

    #[test]
    fn another_key_cannot_open_it() {
        let sealed = key(7).seal(b"1//refresh-token").unwrap();
        assert_eq!(key(8).open(&sealed), Err(SecretError::Unreadable));
        let other_id = SecretKey::new(2, &[7; KEY_LEN]).unwrap();
        assert_eq!(other_id.open(&sealed), Err(SecretError::UnknownKey(CURRENT_KEY_ID)));
    }

    #[test]
    fn only_32_byte_keys_are_accepted() {
        assert!(SecretKey::new(1, &[0; 31]).is_none());
        assert!(SecretKey::new(1, &[0; 33]).is_none());
    }
}
