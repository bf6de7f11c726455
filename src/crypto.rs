//! AES-256-GCM envelope around stored CAR bytes, and the ledger key.
//!
//! Envelope (see docs/format.md): `"FPRS"` magic, one version byte (`1`), a random 96-bit IV, then the
//! ciphertext with its 16-byte tag. The 5 header bytes are authenticated as associated data.
//! The AES-GCM primitive is an [`Aead`] supplied by the store: [`SoftAead`] (the `aes-gcm` crate)
//! natively, the browser's WebCrypto in the IndexedDB store (hardware AES, ~7× faster than AES in
//! wasm). Invariant: [`open`] returns plaintext only if the tag verifies under the given key.

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

/// Fills `buf` from the platform CSPRNG.
fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_e| {
        // getrandom's wasm_js backend fails only with this error; not formatting it keeps
        // getrandom's table of error texts out of the wasm (the message is the same)
        #[cfg(target_arch = "wasm32")]
        return Error::Internal("random: Web Crypto API is unavailable".into());
        #[cfg(not(target_arch = "wasm32"))]
        Error::Internal(format!("random: {_e}"))
    })
}

impl Key {
    /// A fresh random key from the platform CSPRNG.
    pub fn generate() -> Result<Key> {
        let mut k = [0u8; 32];
        random(&mut k)?;
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

/// AES-256-GCM under one key: `encrypt` returns ciphertext ‖ 16-byte tag; `decrypt` fails
/// (`Err(())`) unless the tag verifies.
#[allow(async_fn_in_trait)]
pub trait Aead {
    async fn encrypt(&self, iv: &[u8; IV_LEN], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>>;
    async fn decrypt(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> std::result::Result<Vec<u8>, ()>;

    /// The envelope `head ‖ iv ‖ ciphertext` of `plain` (`head` authenticated as associated
    /// data) and, where the platform hashes large inputs quicker than the engine, its SHA-256.
    async fn seal_envelope(
        &self,
        head: &[u8],
        iv: &[u8; IV_LEN],
        plain: &[u8],
    ) -> Result<(Vec<u8>, Option<[u8; 32]>)> {
        let mut out = Vec::with_capacity(head.len() + IV_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(head);
        let ct = self.encrypt(iv, head, plain).await?;
        out.extend_from_slice(iv);
        out.extend_from_slice(&ct);
        Ok((out, None))
    }
}

/// AES-256-GCM in Rust (the `aes-gcm` crate).
#[cfg(not(target_arch = "wasm32"))]
pub struct SoftAead(aes_gcm::Aes256Gcm);

#[cfg(not(target_arch = "wasm32"))]
impl SoftAead {
    pub fn new(key: &Key) -> Result<SoftAead> {
        use aes_gcm::aead::KeyInit;
        aes_gcm::Aes256Gcm::new_from_slice(key.as_bytes())
            .map(SoftAead)
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Aead for SoftAead {
    async fn encrypt(&self, iv: &[u8; IV_LEN], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        use aes_gcm::aead::{Aead as _, Payload};
        let nonce =
            aes_gcm::Nonce::try_from(&iv[..]).map_err(|_| Error::Internal("iv length".into()))?;
        self.0
            .encrypt(&nonce, Payload { msg: plain, aad })
            .map_err(|_| Error::Internal("encryption failed".into()))
    }

    async fn decrypt(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> std::result::Result<Vec<u8>, ()> {
        use aes_gcm::aead::{Aead as _, Payload};
        let nonce = aes_gcm::Nonce::try_from(&iv[..]).map_err(|_| ())?;
        self.0
            .decrypt(&nonce, Payload { msg: sealed, aad })
            .map_err(|_| ())
    }
}

/// Encrypts `plain` into a fresh envelope with a random IV; with the envelope's SHA-256 when the
/// [`Aead`] computed it.
pub async fn seal<A: Aead>(aead: &A, plain: &[u8]) -> Result<(Vec<u8>, Option<[u8; 32]>)> {
    let mut iv = [0u8; IV_LEN];
    random(&mut iv)?;
    let head = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], VERSION];
    aead.seal_envelope(&head, &iv, plain).await
}

/// Decrypts an envelope made by [`seal`].
pub async fn open<A: Aead>(aead: &A, sealed: &[u8]) -> std::result::Result<Vec<u8>, OpenError> {
    if sealed.len() < HEADER_LEN + IV_LEN + TAG_LEN {
        return Err(OpenError::Malformed("envelope too short"));
    }
    if &sealed[..MAGIC.len()] != MAGIC {
        return Err(OpenError::Malformed("bad envelope magic"));
    }
    if sealed[MAGIC.len()] != VERSION {
        return Err(OpenError::Malformed("unknown envelope version"));
    }
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&sealed[HEADER_LEN..HEADER_LEN + IV_LEN]);
    aead.decrypt(&iv, &sealed[..HEADER_LEN], &sealed[HEADER_LEN + IV_LEN..])
        .await
        .map_err(|_| OpenError::Auth)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn aead(k: &Key) -> SoftAead {
        SoftAead::new(k).unwrap()
    }

    #[test]
    fn roundtrip_and_fresh_iv() {
        let k = aead(&Key::generate().unwrap());
        let (a, digest) = block_on(seal(&k, b"hello")).unwrap();
        assert_eq!(digest, None, "the engine hashes what SoftAead seals");
        let (b, _) = block_on(seal(&k, b"hello")).unwrap();
        assert_ne!(a, b, "each seal uses a fresh IV");
        assert_eq!(block_on(open(&k, &a)).unwrap(), b"hello");
    }

    #[test]
    fn wrong_key_and_tamper_fail_auth() {
        let k = aead(&Key::generate().unwrap());
        let other = aead(&Key::generate().unwrap());
        let (mut s, _) = block_on(seal(&k, b"secret bytes")).unwrap();
        assert_eq!(block_on(open(&other, &s)), Err(OpenError::Auth));
        let last = s.len() - 1;
        s[last] ^= 1;
        assert_eq!(block_on(open(&k, &s)), Err(OpenError::Auth));
        s[last] ^= 1;
        s[3] = b'X';
        assert_eq!(
            block_on(open(&k, &s)),
            Err(OpenError::Malformed("bad envelope magic"))
        );
    }

    #[test]
    fn garbage_never_panics() {
        let k = aead(&Key::generate().unwrap());
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 % 251) as u8).collect();
            assert!(block_on(open(&k, &junk)).is_err());
        }
        assert!(Key::from_bytes(&[0; 31]).is_err());
    }
}
