//! Blocks: dag-cbor bytes addressed by CIDv1 with a sha2-256 multihash.
//!
//! Invariant: a [`Block`]'s `cid` is always the hash of its `bytes` (constructors compute it;
//! [`Block::verified`] checks it for bytes read back from storage).

use cid::Cid;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

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
                "block {cid} does not match its hash"
            )));
        }
        Ok(Block { cid, bytes })
    }
}

/// CIDv1 of `bytes` under `codec` with a sha2-256 multihash.
pub fn cid_of(codec: u64, bytes: &[u8]) -> Result<Cid> {
    let digest = Sha256::digest(bytes);
    let mh = multihash::Multihash::<64>::wrap(SHA2_256, &digest)
        .map_err(|e| Error::Internal(format!("multihash: {e}")))?;
    Ok(Cid::new_v1(codec, mh))
}

/// Encodes an IPLD value as a dag-cbor block.
pub fn encode(value: &Ipld) -> Result<Block> {
    let bytes = serde_ipld_dagcbor::to_vec(value)
        .map_err(|e| Error::Internal(format!("dag-cbor encode: {e}")))?;
    let cid = cid_of(DAG_CBOR, &bytes)?;
    Ok(Block { cid, bytes })
}

/// Decodes dag-cbor bytes into an IPLD value; malformed input is an error, never a panic.
pub fn decode(bytes: &[u8]) -> std::result::Result<Ipld, String> {
    serde_ipld_dagcbor::from_slice(bytes).map_err(|e| format!("dag-cbor decode: {e}"))
}

/// Parses a CID from its string form, as found in headers and clocks.
pub fn parse_cid(s: &str) -> Result<Cid> {
    Cid::try_from(s).map_err(|e| Error::InvalidArg(format!("bad cid {s:?}: {e}")))
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

pub(crate) fn as_links(v: Option<&Ipld>) -> Option<Vec<Cid>> {
    match v {
        Some(Ipld::List(items)) => items
            .iter()
            .map(|i| match i {
                Ipld::Link(c) => Some(*c),
                _ => None,
            })
            .collect(),
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
    fn decode_garbage_is_an_error() {
        for bytes in [&[0xff_u8][..], &[0x9f], &[0xd8, 0x2a, 0x41], &[]] {
            assert!(decode(bytes).is_err());
        }
    }
}
