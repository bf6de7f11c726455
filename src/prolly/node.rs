//! Tree node encoding: `[level, [[key bytes, value], ...]]` in dag-cbor.
//!
//! Invariant: a decoded node has at least one entry, strictly ascending keys, and (above level 0)
//! only CID links as values; anything else is rejected as malformed.

use cid::Cid;
use ipld_core::ipld::Ipld;
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Serialize, Serializer};

use crate::codec::{cid_of, Block, DAG_CBOR};
use crate::error::{Error, Result};

/// A key and its value. Above level 0 the value is `Ipld::Link(child)`.
pub type Entry = (Vec<u8>, Ipld);

/// Highest level a node may claim; 2^32 entries need far fewer.
pub const MAX_LEVEL: u8 = 32;

/// A decoded tree node.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub level: u8,
    pub entries: Vec<Entry>,
}

struct EntriesRef<'a>(&'a [Entry]);
struct EntryRef<'a>(&'a Entry);

impl Serialize for EntryRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(serde_bytes::Bytes::new(&self.0 .0))?;
        t.serialize_element(&self.0 .1)?;
        t.end()
    }
}

impl Serialize for EntriesRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            seq.serialize_element(&EntryRef(e))?;
        }
        seq.end()
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.level)?;
        t.serialize_element(&EntriesRef(&self.entries))?;
        t.end()
    }
}

impl Node {
    /// First key of the node (its key in the parent).
    pub fn first_key(&self) -> &[u8] {
        self.entries.first().map(|e| e.0.as_slice()).unwrap_or(&[])
    }

    /// The child link of entry `i` of a branch node.
    pub fn child(&self, i: usize) -> Result<Cid> {
        match self.entries.get(i) {
            Some((_, Ipld::Link(c))) => Ok(*c),
            _ => Err(Error::Internal(format!("branch entry {i} is not a link"))),
        }
    }

    /// Encodes the node as a dag-cbor block.
    pub fn encode(&self) -> Result<Block> {
        let bytes = serde_ipld_dagcbor::to_vec(self)
            .map_err(|e| Error::Internal(format!("node encode: {e}")))?;
        let cid = cid_of(DAG_CBOR, &bytes)?;
        Ok(Block { cid, bytes })
    }

    /// Decodes and validates a node block.
    pub fn decode(bytes: &[u8]) -> std::result::Result<Node, String> {
        type Raw = (u64, Vec<(serde_bytes::ByteBuf, Ipld)>);
        let (level, raw): Raw =
            serde_ipld_dagcbor::from_slice(bytes).map_err(|e| format!("node decode: {e}"))?;
        let level = u8::try_from(level)
            .ok()
            .filter(|l| *l <= MAX_LEVEL)
            .ok_or_else(|| format!("node level {level} out of range"))?;
        if raw.is_empty() {
            return Err("empty node".into());
        }
        let entries: Vec<Entry> = raw.into_iter().map(|(k, v)| (k.into_vec(), v)).collect();
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err("node keys are not strictly ascending".into());
        }
        if level > 0 && entries.iter().any(|(_, v)| !matches!(v, Ipld::Link(_))) {
            return Err("branch entry is not a link".into());
        }
        Ok(Node { level, entries })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let n = Node {
            level: 0,
            entries: vec![
                (b"a".to_vec(), Ipld::Integer(1)),
                (b"b".to_vec(), Ipld::Null),
            ],
        };
        let b = n.encode().unwrap();
        assert_eq!(Node::decode(&b.bytes).unwrap(), n);
    }

    #[test]
    fn rejects_malformed() {
        let unsorted = Node {
            level: 0,
            entries: vec![(b"b".to_vec(), Ipld::Null), (b"a".to_vec(), Ipld::Null)],
        };
        assert!(Node::decode(&unsorted.encode().unwrap().bytes).is_err());
        let bad_branch = Node {
            level: 1,
            entries: vec![(b"a".to_vec(), Ipld::Null)],
        };
        assert!(Node::decode(&bad_branch.encode().unwrap().bytes).is_err());
        let empty = Node {
            level: 0,
            entries: vec![],
        };
        assert!(Node::decode(&empty.encode().unwrap().bytes).is_err());
        for junk in [&b""[..], b"\x82\x00", b"\x82\x18\x40\x80", b"\xff\xff"] {
            assert!(Node::decode(junk).is_err());
        }
    }
}
