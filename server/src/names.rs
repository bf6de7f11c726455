//! Names: what may reach an object-store path. Owns the CID naming of stored bytes, ledger ids, the two
//! object kinds and their size bounds, and the envelope sanity check.
//!
//! Invariant: a string accepted here is canonical lowercase base32 (`a-z2-7`) of an exact length, so
//! no `/`, `..`, `%` or any other character reaches `object_store::path::Path`.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// CIDv1 prefix: version 1, codec raw (0x55), multihash sha2-256 (0x12) of 32 bytes (0x20).
const CID_PREFIX: [u8; 4] = [0x01, 0x55, 0x12, 0x20];
/// The same for a UCAN token: codec dag-cbor (0x71).
const DAG_CBOR_PREFIX: [u8; 4] = [0x01, 0x71, 0x12, 0x20];
/// `"b"` + base32 of 36 bytes.
pub const NAME_LEN: usize = 59;
/// base32 of 16 random bytes.
pub const LEDGER_LEN: usize = 26;
/// The engine's envelope: `"FPRS"`, version 1, 12-byte IV, then at least the 16-byte GCM tag.
const MAGIC: &[u8; 5] = b"FPRS\x01";
pub const MIN_ENVELOPE: usize = 33;

/// The two kinds of objects a ledger holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cars,
    Heads,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "cars" => Some(Kind::Cars),
            "heads" => Some(Kind::Heads),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Cars => "cars",
            Kind::Heads => "heads",
        }
    }
    /// Largest accepted body.
    pub fn max_bytes(self) -> usize {
        match self {
            Kind::Cars => 8 << 20,
            Kind::Heads => 64 << 10,
        }
    }
}

/// Lowercase RFC 4648 base32 without padding.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes canonical base32 (unused trailing bits must be zero); `None` otherwise.
fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    (acc == 0).then_some(out)
}

/// The name of stored bytes: CIDv1 raw sha2-256, multibase base32 lower.
pub fn name_of(bytes: &[u8]) -> String {
    let mut cid = CID_PREFIX.to_vec();
    cid.extend_from_slice(&Sha256::digest(bytes));
    format!("b{}", base32(&cid))
}

/// Is `s` a well-formed object name (a raw sha2-256 CIDv1 in canonical base32)?
pub fn valid_name(s: &str) -> bool {
    valid_cid(s, CID_PREFIX)
}

/// Is `s` a well-formed token name (a dag-cbor sha2-256 CIDv1 in canonical base32, `bafyrei…`)?
pub fn valid_token_name(s: &str) -> bool {
    valid_cid(s, DAG_CBOR_PREFIX)
}

fn valid_cid(s: &str, prefix: [u8; 4]) -> bool {
    s.len() == NAME_LEN
        && s.starts_with('b')
        && unbase32(&s[1..]).is_some_and(|b| b.len() == 36 && b[..4] == prefix)
}

/// Is `s` a ledger id of the authorized mode: the canonical spelling of an Ed25519 `did:key`? Such a
/// string is `did:key:z` and base58btc (alphanumeric), so it has no `/`, `.` or `%`.
pub fn valid_did_ledger(s: &str) -> bool {
    ferroproof_server::ucan::Did::parse(s).is_ok_and(|d| d.to_string() == s)
}

/// Is `s` a well-formed ledger id?
pub fn valid_ledger(s: &str) -> bool {
    s.len() == LEDGER_LEN && unbase32(s).is_some_and(|b| b.len() == 16)
}

/// A fresh random ledger id.
pub fn new_ledger_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("operating-system randomness");
    base32(&b)
}

/// Does `bytes` look like an engine envelope (magic, version, minimal length)?
pub fn looks_like_envelope(bytes: &[u8]) -> bool {
    bytes.len() >= MIN_ENVELOPE && bytes.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "my");
        assert_eq!(base32(b"fooba"), "mzxw6ytb");
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        assert_eq!(unbase32("mzxw6ytboi").unwrap(), b"foobar");
        assert!(unbase32("mzxw6ytboj").is_none(), "non-zero trailing bits");
    }

    #[test]
    fn names_are_cids() {
        // The CID of the empty raw block, as printed by every IPFS implementation.
        let n = name_of(b"");
        assert_eq!(
            n,
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert!(valid_name(&n));
        assert!(!valid_name(&n.to_uppercase()));
        assert!(!valid_name(&n[..58]));
        assert!(!valid_name(
            "../../../../../../../../../../../../../../../../../../../.."
        ));
        let id = new_ledger_id();
        assert!(valid_ledger(&id), "{id}");
        assert!(!valid_ledger(&id[..25]) && !valid_ledger("aaaaaaaaaaaaaaaaaaaaaaaaa/"));
    }

    #[test]
    fn envelope_check() {
        let mut e = b"FPRS\x01".to_vec();
        e.resize(33, 0);
        assert!(looks_like_envelope(&e));
        assert!(!looks_like_envelope(&e[..32]));
        e[4] = 2;
        assert!(!looks_like_envelope(&e));
    }
}
