//! AES-256-GCM envelope around stored CAR bytes, and the ledger key.
//!
//! Envelope (see docs/format.md): `"FPRS"` magic, one version byte (`1`), a random 96-bit IV, then the
//! ciphertext with its 16-byte tag. The 5 header bytes are authenticated as associated data.
//! Invariant: [`open`] returns plaintext only if the tag verifies under the given key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::error::{Error, Result};

/// Envelope magic bytes.
pub const MAGIC: &[u8; 4] = b"FPRS";
/// Envelope format version.
pub const VERSION: u8 = 1;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 1;

/// A 256-bit ledger key. Generated once per ledger and kept beside its header.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A fresh random key from the platform CSPRNG.
    pub fn generate() -> Result<Key> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|e| Error::Internal(format!("random: {e}")))?;
        Ok(Key(k))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Key> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::InvalidArg(format!("key must be 32 bytes, got {}", bytes.len())))?;
        Ok(Key(arr))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Why an envelope did not open.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Not an envelope of a known version, or too short.
    Malformed(&'static str),
    /// The tag did not verify under this key.
    Auth,
}

/// Encrypts `plain` into a fresh envelope with a random IV.
pub fn seal(key: &Key, plain: &[u8]) -> Result<Vec<u8>> {
    let mut iv = [0u8; IV_LEN];
    getrandom::fill(&mut iv).map_err(|e| Error::Internal(format!("random: {e}")))?;
    let cipher =
        Aes256Gcm::new_from_slice(key.as_bytes()).map_err(|e| Error::Internal(e.to_string()))?;
    let nonce = Nonce::try_from(&iv[..]).map_err(|_| Error::Internal("iv length".into()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + IV_LEN + plain.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plain,
                aad: &out[..HEADER_LEN],
            },
        )
        .map_err(|_| Error::Internal("encryption failed".into()))?;
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts an envelope made by [`seal`].
pub fn open(key: &Key, sealed: &[u8]) -> std::result::Result<Vec<u8>, OpenError> {
    if sealed.len() < HEADER_LEN + IV_LEN + TAG_LEN {
        return Err(OpenError::Malformed("envelope too short"));
    }
    if &sealed[..MAGIC.len()] != MAGIC {
        return Err(OpenError::Malformed("bad envelope magic"));
    }
    if sealed[MAGIC.len()] != VERSION {
        return Err(OpenError::Malformed("unknown envelope version"));
    }
    let cipher = Aes256Gcm::new_from_slice(key.as_bytes()).map_err(|_| OpenError::Auth)?;
    let iv = &sealed[HEADER_LEN..HEADER_LEN + IV_LEN];
    let nonce = Nonce::try_from(iv).map_err(|_| OpenError::Malformed("iv length"))?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &sealed[HEADER_LEN + IV_LEN..],
                aad: &sealed[..HEADER_LEN],
            },
        )
        .map_err(|_| OpenError::Auth)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_fresh_iv() {
        let k = Key::generate().unwrap();
        let a = seal(&k, b"hello").unwrap();
        let b = seal(&k, b"hello").unwrap();
        assert_ne!(a, b, "each seal uses a fresh IV");
        assert_eq!(open(&k, &a).unwrap(), b"hello");
    }

    #[test]
    fn wrong_key_and_tamper_fail_auth() {
        let k = Key::generate().unwrap();
        let other = Key::generate().unwrap();
        let mut s = seal(&k, b"secret bytes").unwrap();
        assert_eq!(open(&other, &s), Err(OpenError::Auth));
        let last = s.len() - 1;
        s[last] ^= 1;
        assert_eq!(open(&k, &s), Err(OpenError::Auth));
        s[last] ^= 1;
        s[3] = b'X';
        assert_eq!(
            open(&k, &s),
            Err(OpenError::Malformed("bad envelope magic"))
        );
    }

    #[test]
    fn garbage_never_panics() {
        let k = Key::generate().unwrap();
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 % 251) as u8).collect();
            assert!(open(&k, &junk).is_err());
        }
        assert!(Key::from_bytes(&[0; 31]).is_err());
    }
}
