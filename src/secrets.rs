//! Third-party secrets at rest (a Google refresh token, a Cal.com API key): sealed with
//! AES-256-GCM under `CALENDAR_TOKEN_KEY` before they reach the database.
//!
//! A sealed value is `key id (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`,
//! stored as `bytea`. The key id is authenticated with the ciphertext (it is the AEAD's
//! associated data), so a value cannot be moved under another key.
//!
//! A key's id comes from the key itself (a byte of a hash of it, 2 to 255), so an operator
//! never numbers keys: during a rotation the server holds the new key and the previous one
//! (`CALENDAR_TOKEN_KEY_PREVIOUS`), seals with the new one, and opens a value with whichever
//! key its id names; `deskringer reseal-calendar-secrets` then re-seals every stored value
//! under the new key, and the previous one can go (README, "Connected calendars"). Values
//! sealed before ids were derived carry [`LEGACY_KEY_ID`]; either key is tried for them (the
//! AEAD tag tells which one sealed it), and re-sealing gives them the derived id.
//!
//! Without a key nothing is sealed: in development connecting a calendar answers 503 with a
//! message naming `CALENDAR_TOKEN_KEY`; no key is derived or generated silently, because a
//! key that changes at each start would make every stored token unreadable.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Length of a key in bytes (AES-256).
pub const KEY_LEN: usize = 32;
/// The id in front of values sealed before key ids were derived from the keys: never a
/// derived id.
pub const LEGACY_KEY_ID: u8 = 1;

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
    /// The previous key is the current one, or has the same id (one chance in 254: make
    /// another new key).
    #[error("the previous key has the same key id as the current one")]
    SameId,
}

/// The key sealing third-party secrets, and during a rotation the previous one, which
/// still opens what it sealed.
pub struct SecretKey {
    id: u8,
    key: LessSafeKey,
    previous: Option<Box<SecretKey>>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id)
            .field("previous_id", &self.previous.as_ref().map(|key| key.id))
            .finish_non_exhaustive()
    }
}

/// The id of the key `bytes`: 2 to 255, from a hash of the key under a purpose prefix.
fn derived_id(bytes: &[u8]) -> u8 {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &[b"deskringer calendar secret key id\n".as_slice(), bytes].concat(),
    );
    2 + digest.as_ref()[0] % 254
}

impl SecretKey {
    /// The key of 32 raw bytes, with the id derived from it; `None` when the length is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Self::new(derived_id(bytes), bytes)
    }

    /// A key from its 32 raw bytes under an explicit `id` (tests, and values sealed under
    /// [`LEGACY_KEY_ID`]); `None` when the length is wrong.
    pub fn new(id: u8, bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Self { id, key: LessSafeKey::new(key), previous: None })
    }

    /// This key, also opening what `previous` sealed (a rotation under way).
    pub fn with_previous(mut self, previous: SecretKey) -> Result<Self, SecretError> {
        if previous.id == self.id {
            return Err(SecretError::SameId);
        }
        self.previous = Some(Box::new(SecretKey { previous: None, ..previous }));
        Ok(self)
    }

    /// The id this key seals under.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// Whether a previous key is held (a rotation under way).
    pub fn has_previous(&self) -> bool {
        self.previous.is_some()
    }

    /// Whether `sealed` was sealed under another key than this one (it should be re-sealed).
    pub fn is_stale(&self, sealed: &[u8]) -> bool {
        sealed.first() != Some(&self.id)
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

    /// Opens a value [`seal`](Self::seal) made, with this key or the previous one, as its
    /// key id says; refuses one altered or sealed elsewhere.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        let &id = sealed.first().ok_or(SecretError::Unreadable)?;
        let previous = self.previous.as_deref();
        if id == self.id {
            return self.open_own(sealed);
        }
        if let Some(previous) = previous.filter(|previous| previous.id == id) {
            return previous.open_own(sealed);
        }
        if id == LEGACY_KEY_ID {
            // Sealed before ids were derived: the tag says which key it was.
            return self.open_own(sealed).or_else(|error| previous.map_or(Err(error), |p| p.open_own(sealed)));
        }
        Err(SecretError::UnknownKey(id))
    }

    /// Opens `sealed` with this key alone, whatever id it carries.
    fn open_own(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        let (&id, rest) = sealed.split_first().ok_or(SecretError::Unreadable)?;
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
        SecretKey::from_bytes(&[byte; KEY_LEN]).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_to_itself() {
        let sealed = key(7).seal(b"1//refresh-token").unwrap();
        assert_eq!(sealed[0], key(7).id());
        assert!((2..=255).contains(&sealed[0]), "never the legacy id");
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
        assert_eq!(k.open(&[k.id(); 10]), Err(SecretError::Unreadable));
    }

    /// Two different keys whose derived ids differ.
    fn two_keys() -> (SecretKey, SecretKey) {
        let old = key(7);
        let new = (8..=255).map(key).find(|k| k.id() != old.id()).unwrap();
        (old, new)
    }

    #[test]
    fn another_key_cannot_open_it() {
        let sealed = key(7).seal(b"1//refresh-token").unwrap();
        let same_id_other_key = SecretKey::new(key(7).id(), &[8; KEY_LEN]).unwrap();
        assert_eq!(same_id_other_key.open(&sealed), Err(SecretError::Unreadable));
        let (_, other) = two_keys();
        assert_eq!(other.open(&sealed), Err(SecretError::UnknownKey(key(7).id())));
    }

    #[test]
    fn during_a_rotation_both_keys_open_and_only_the_new_one_seals() {
        let (old, new) = two_keys();
        let by_old = old.seal(b"old secret").unwrap();
        let legacy = SecretKey::new(LEGACY_KEY_ID, &[7; KEY_LEN]).unwrap().seal(b"legacy secret").unwrap();
        let rotating = two_keys().1.with_previous(two_keys().0).unwrap();

        assert_eq!(rotating.open(&by_old).unwrap(), b"old secret");
        assert_eq!(rotating.open(&legacy).unwrap(), b"legacy secret", "a legacy value opens with either key");
        let by_new = rotating.seal(b"new secret").unwrap();
        assert_eq!(by_new[0], new.id());
        assert_eq!(new.open(&by_new).unwrap(), b"new secret");
        assert!(rotating.is_stale(&by_old) && rotating.is_stale(&legacy) && !rotating.is_stale(&by_new));
        // Without the previous key, what it sealed no longer opens.
        assert_eq!(new.open(&by_old), Err(SecretError::UnknownKey(old.id())));
        assert_eq!(new.open(&legacy), Err(SecretError::Unreadable));
        // The same key twice is refused.
        assert_eq!(key(7).with_previous(key(7)).unwrap_err(), SecretError::SameId);
    }

    #[test]
    fn only_32_byte_keys_are_accepted() {
        assert!(SecretKey::new(1, &[0; 31]).is_none());
        assert!(SecretKey::new(1, &[0; 33]).is_none());
    }
}
