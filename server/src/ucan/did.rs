//! `did:key` principals for Ed25519: `did:key:z` + base58btc(varint 0xed ‖ 32-byte public key).
//!
//! Invariant: a `Did` always holds the 32 bytes of a valid Ed25519 public key (checked when it is made),
//! and its text form is the one canonical spelling of that key, so two `Did`s are equal exactly when
//! their keys are.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, VerifyingKey};

use super::error::DidError;

const PREFIX: &str = "did:key:z";
/// The multicodec of an Ed25519 public key (0xed), as its unsigned varint.
const ED25519_PUB: [u8; 2] = [0xed, 0x01];
/// Longest text accepted before decoding (an Ed25519 did:key is 56 characters).
const MAX_LEN: usize = 128;

/// A principal: an Ed25519 `did:key`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Did([u8; 32]);

impl Did {
    /// The DID of `key`.
    pub fn from_key(key: &VerifyingKey) -> Did {
        Did(key.to_bytes())
    }

    /// The raw Ed25519 public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `signature` is a valid signature by this principal of `message` (Ed25519, strict:
    /// no small-order keys or malleable signatures).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        VerifyingKey::from_bytes(&self.0)
            .is_ok_and(|key| key.verify_strict(message, signature).is_ok())
    }

    /// Parses `did:key:z6Mk…`; any other method, encoding or key type is an error.
    pub fn parse(s: &str) -> Result<Did, DidError> {
        if s.len() > MAX_LEN {
            return Err(DidError::TooLong(s.len()));
        }
        let Some(b58) = s.strip_prefix(PREFIX) else {
            return Err(if s.starts_with("did:key:") {
                DidError::NotBase58btc
            } else {
                DidError::NotDidKey
            });
        };
        let bytes = bs58::decode(b58)
            .into_vec()
            .map_err(|_| DidError::NotBase58btc)?;
        let (codec, rest) = read_varint(&bytes).ok_or(DidError::BadMulticodec)?;
        if codec != u64::from(ED25519_PUB[0]) || !bytes.starts_with(&ED25519_PUB) {
            return Err(DidError::UnsupportedKeyType(codec));
        }
        let key: [u8; 32] = rest
            .try_into()
            .map_err(|_| DidError::KeyLength(rest.len()))?;
        VerifyingKey::from_bytes(&key).map_err(|_| DidError::InvalidKey)?;
        Ok(Did(key))
    }
}

/// Reads one unsigned LEB128 varint (at most 9 bytes, minimal) and returns it with the bytes after it.
fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().take(9).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && *b == 0 {
                return None;
            }
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(34);
        bytes.extend_from_slice(&ED25519_PUB);
        bytes.extend_from_slice(&self.0);
        write!(f, "{PREFIX}{}", bs58::encode(bytes).into_string())
    }
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Did({self})")
    }
}

impl FromStr for Did {
    type Err = DidError;

    fn from_str(s: &str) -> Result<Did, DidError> {
        Did::parse(s)
    }
}

impl From<&ed25519_dalek::SigningKey> for Did {
    fn from(key: &ed25519_dalek::SigningKey) -> Did {
        Did(key.verifying_key().to_bytes())
    }
}
