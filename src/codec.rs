//! Blocks: dag-cbor bytes addressed by CIDv1 with a sha2-256 multihash.
//!
//! Invariant: a [`Block`]'s `cid` is always the hash of its `bytes` (constructors compute it;
//! [`Block::verified`] checks it for bytes read back from storage).

use cid::Cid;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub mod cbor;
pub mod dagcbor;

/// Multicodec code of dag-cbor.
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec code of raw bytes (used to name stored CAR files).
pub const RAW: u64 = 0x55;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;

/// An immutable content-addressed block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub cid: Cid,
    pub bytes: Vec<u8>,
}

impl Block {
    /// Wraps bytes read from storage after checking that they hash to `cid`.
    pub fn verified(cid: Cid, bytes: Vec<u8>) -> Result<Block> {
        let expect = cid_of(cid.codec(), &bytes)?;
        if expect != cid {
            return Err(Error::Internal(format!(
                "block {} does not match its hash",
                cid_str(&cid)
            )));
        }
        Ok(Block { cid, bytes })
    }
}

/// CIDv1 of `bytes` under `codec` with a sha2-256 multihash.
pub fn cid_of(codec: u64, bytes: &[u8]) -> Result<Cid> {
    cid_of_digest(codec, &Sha256::digest(bytes).into())
}

/// CIDv1 under `codec` of bytes whose sha2-256 digest is `digest`.
pub fn cid_of_digest(codec: u64, digest: &[u8; 32]) -> Result<Cid> {
    let mh = multihash::Multihash::<64>::wrap(SHA2_256, digest)
        .map_err(|_| Error::Internal("multihash: Invalid multihash size 32.".into()))?;
    Ok(Cid::new_v1(codec, mh))
}

/// Encodes an IPLD value as a dag-cbor block.
pub fn encode(value: &Ipld) -> Result<Block> {
    let bytes =
        dagcbor::encode(value).map_err(|e| Error::Internal(format!("dag-cbor encode: {e}")))?;
    let cid = cid_of(DAG_CBOR, &bytes)?;
    Ok(Block { cid, bytes })
}

/// Decodes dag-cbor bytes into an IPLD value; malformed input is an error, never a panic.
pub fn decode(bytes: &[u8]) -> std::result::Result<Ipld, String> {
    dagcbor::decode(bytes).map_err(|e| format!("dag-cbor decode: {e}"))
}

/// The binary form of a CID: for v1, version, codec, multihash code and digest length as varints,
/// then the digest; for v0, the multihash alone. (Written here because `Cid::to_bytes` goes
/// through `std::io` and unwraps, which keeps io errors' formatting in the wasm.)
pub fn cid_bytes(cid: &Cid) -> Vec<u8> {
    let mh = cid.hash();
    let digest = mh.digest();
    let mut out = Vec::with_capacity(8 + digest.len());
    let mut buf = unsigned_varint::encode::u64_buffer();
    if cid.version() == cid::Version::V1 {
        out.extend_from_slice(unsigned_varint::encode::u64(1, &mut buf));
        out.extend_from_slice(unsigned_varint::encode::u64(cid.codec(), &mut buf));
    }
    out.extend_from_slice(unsigned_varint::encode::u64(mh.code(), &mut buf));
    out.extend_from_slice(unsigned_varint::encode::u64(digest.len() as u64, &mut buf));
    out.extend_from_slice(digest);
    out
}

/// Reads one binary CID at the start of `bytes`: the CID and the number of bytes it took.
pub fn read_cid(bytes: &[u8]) -> std::result::Result<(Cid, usize), String> {
    let varint = |b: &[u8]| -> std::result::Result<(u64, usize), String> {
        let (n, rest) =
            unsigned_varint::decode::u64(b).map_err(|e| format!("bad cid varint: {e}"))?;
        Ok((n, b.len() - rest.len()))
    };
    let (first, mut at) = varint(bytes)?;
    let (v0, codec) = match first {
        0x12 if bytes.get(1) == Some(&0x20) => {
            at = 0; // CIDv0: a bare sha2-256 multihash
            (true, 0x70)
        }
        1 => {
            let (codec, n) = varint(&bytes[at..])?;
            at += n;
            (false, codec)
        }
        v => return Err(format!("unsupported cid version {v}")),
    };
    let (code, n) = varint(&bytes[at..])?;
    at += n;
    let (len, n) = varint(&bytes[at..])?;
    at += n;
    let end = usize::try_from(len)
        .ok()
        .filter(|l| *l <= 64)
        .and_then(|l| at.checked_add(l))
        .filter(|e| *e <= bytes.len())
        .ok_or("cid digest truncated or longer than 64 bytes")?;
    let mh = multihash::Multihash::<64>::wrap(code, &bytes[at..end])
        .map_err(|_| format!("bad multihash: Invalid multihash size {len}."))?;
    // (the cid and multihash crates' error types are not formatted: their Display reaches
    // `std::io::Error`'s; the messages are theirs)
    let cid = if v0 {
        Cid::new_v0(mh).map_err(|_| "bad cid: CIDv0 requires a Sha-256 multihash")?
    } else {
        Cid::new_v1(codec, mh)
    };
    Ok((cid, end))
}

/// A CID from exactly `bytes` (nothing before or after it).
pub fn cid_from_bytes(bytes: &[u8]) -> std::result::Result<Cid, String> {
    match read_cid(bytes)? {
        (cid, n) if n == bytes.len() => Ok(cid),
        _ => Err("trailing bytes after a cid".into()),
    }
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The canonical string form of a CIDv1: multibase `b` + RFC 4648 base32, lowercase, unpadded.
/// (Implemented here so the wasm build does not carry every multibase alphabet.)
pub fn cid_str(cid: &Cid) -> String {
    let bytes = cid_bytes(cid);
    let mut out = String::with_capacity(1 + bytes.len() * 8 / 5 + 1);
    out.push('b');
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Parses a CID string made by [`cid_str`] (base32 CIDv1).
pub fn parse_cid(s: &str) -> Result<Cid> {
    let bad = |why: &str| Error::InvalidArg(format!("bad cid \"{s}\": {why}"));
    let body = s
        .strip_prefix('b')
        .ok_or_else(|| bad("not a base32 cidv1"))?;
    let mut bytes = Vec::with_capacity(body.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = BASE32
            .iter()
            .position(|x| *x == c)
            .ok_or_else(|| bad("invalid base32 character"))? as u32;
        acc = ((acc << 5) | v) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
        }
    }
    cid_from_bytes(&bytes).map_err(|e| bad(&e))
}

/// Field access helpers for decoded IPLD maps.
pub(crate) fn field<'a>(map: &'a Ipld, key: &str) -> Option<&'a Ipld> {
    match map {
        Ipld::Map(m) => m.get(key),
        _ => None,
    }
}

pub(crate) fn as_u64(v: Option<&Ipld>) -> Option<u64> {
    match v {
        Some(Ipld::Integer(i)) => u64::try_from(*i).ok(),
        _ => None,
    }
}

/// The strings of a list; `None` when an item is not a string.
pub(crate) fn as_strs(items: &[Ipld]) -> Option<Vec<String>> {
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        let Ipld::String(s) = i else {
            return None;
        };
        out.push(s.clone());
    }
    Some(out)
}

pub(crate) fn as_links(v: Option<&Ipld>) -> Option<Vec<Cid>> {
    match v {
        Some(Ipld::List(items)) => {
            let mut links = Vec::with_capacity(items.len());
            for i in items {
                let Ipld::Link(c) = i else {
                    return None;
                };
                links.push(*c);
            }
            Some(links)
        }
        _ => None,
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn same_value_same_cid_and_canonical_key_order() {
        let mut a = BTreeMap::new();
        a.insert("bb".to_string(), Ipld::Integer(1));
        a.insert("a".to_string(), Ipld::Bool(true));
        let b1 = encode(&Ipld::Map(a.clone())).unwrap();
        let b2 = encode(&Ipld::Map(a)).unwrap();
        assert_eq!(b1.cid, b2.cid);
        assert_eq!(b1.cid.codec(), DAG_CBOR);
        assert_eq!(decode(&b1.bytes).unwrap(), decode(&b2.bytes).unwrap());
    }

    #[test]
    fn verified_rejects_wrong_bytes() {
        let b = encode(&Ipld::String("x".into())).unwrap();
        assert!(Block::verified(b.cid, b.bytes.clone()).is_ok());
        assert!(Block::verified(b.cid, b"y".to_vec()).is_err());
    }

    #[test]
    fn cid_strings_match_the_multibase_form() {
        for i in 0..50 {
            let b = encode(&Ipld::Integer(i)).unwrap();
            let raw = cid_of(RAW, &b.bytes).unwrap();
            for c in [b.cid, raw] {
                assert_eq!(cid_str(&c), c.to_string());
                assert_eq!(parse_cid(&cid_str(&c)).unwrap(), c);
            }
        }
        for bad in ["", "b", "zQm", "bafy!", "bafyreiaaaa"] {
            assert!(parse_cid(bad).is_err(), "{bad}");
        }
    }

    /// The io-free CID reader and writer agree with the cid crate's, for v1 and v0.
    #[test]
    fn cid_bytes_match_the_cid_crate() {
        let v0 = Cid::new_v0(
            multihash::Multihash::<64>::wrap(SHA2_256, &Sha256::digest(b"v0")).unwrap(),
        )
        .unwrap();
        for i in 0..20 {
            let b = encode(&Ipld::Integer(i)).unwrap();
            for c in [b.cid, cid_of(RAW, &b.bytes).unwrap(), v0] {
                let bytes = cid_bytes(&c);
                assert_eq!(bytes, c.to_bytes());
                assert_eq!(cid_from_bytes(&bytes).unwrap(), c);
                let mut longer = bytes.clone();
                longer.extend_from_slice(b"rest");
                assert_eq!(read_cid(&longer).unwrap(), (c, bytes.len()));
                assert!(cid_from_bytes(&longer).is_err());
                for cut in 0..bytes.len() {
                    assert!(cid_from_bytes(&bytes[..cut]).is_err(), "{cut}");
                }
            }
        }
        for bad in [&[2u8, 0x71, 0x12, 0][..], &[1, 0x71, 0x12, 65], &[0xff; 12]] {
            assert!(read_cid(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn decode_garbage_is_an_error() {
        for bytes in [&[0xff_u8][..], &[0x9f], &[0xd8, 0x2a, 0x41], &[]] {
            assert!(decode(bytes).is_err());
        }
    }
}
