//! Tree node encoding: `[level, [[key bytes, value], ...]]` in dag-cbor, where each value is
//! kept as its own encoded dag-cbor item ([`Raw`]): nodes are framed and sliced, never decoded
//! value by value, so editing a node copies bytes instead of rebuilding document trees.
//!
//! Invariant: a decoded node has at least one entry, strictly ascending keys, every value one
//! complete CBOR item, and (above level 0) only CID links or `[link, seq]` pairs as values;
//! anything else is malformed.

use cid::Cid;

use crate::codec::cbor::{item_len, read_head, write_head};
use crate::codec::{cid_of, Block, DAG_CBOR};
use crate::error::{Error, Result};

/// One dag-cbor encoded value.
pub type Raw = Vec<u8>;

/// A key and its encoded value. Above level 0 the value is a link to the child ([`link`]).
pub type Entry = (Vec<u8>, Raw);

/// Highest level a node may claim; 2^32 entries need far fewer.
pub const MAX_LEVEL: u8 = 32;

/// Encoded `null`.
pub const NULL: [u8; 1] = [0xf6];

/// A decoded tree node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub level: u8,
    pub entries: Vec<Entry>,
}

/// The dag-cbor encoding of a link: tag 42 around the CID bytes prefixed by 0x00.
pub fn link(cid: &Cid) -> Raw {
    let mut out = Vec::with_capacity(44);
    crate::codec::dagcbor::write_link(&mut out, cid);
    out
}

/// A branch value carrying the highest leaf seq below it: `[link, seq]` (docs/format.md §4).
pub fn link_seq(cid: &Cid, seq: u64) -> Raw {
    let mut out = Vec::with_capacity(54);
    out.push(0x82);
    crate::codec::dagcbor::write_link(&mut out, cid);
    write_head(&mut out, 0, seq);
    out
}

/// A branch value's child and, for a `[link, seq]` value, the seq: `None` if `raw` is neither a
/// link nor such a pair.
pub fn split_link(raw: &[u8]) -> Option<(Cid, Option<u64>)> {
    let (inner, pair) = match raw.strip_prefix(&[0x82]) {
        Some(r) => (r, true),
        None => (raw, false),
    };
    let rest = inner.strip_prefix(&[0xd8, 0x2a])?;
    let (major, n, at) = read_head(rest, 0).ok()?;
    let end = at.checked_add(usize::try_from(n).ok()?)?;
    let body = rest.get(at..end)?;
    if major != 2 || body.first() != Some(&0) {
        return None;
    }
    let cid = crate::codec::cid_from_bytes(&body[1..]).ok()?;
    let tail = &rest[end..];
    if !pair {
        return tail.is_empty().then_some((cid, None));
    }
    match read_head(tail, 0) {
        Ok((0, seq, used)) if used == tail.len() => Some((cid, Some(seq))),
        _ => None,
    }
}

/// The CID of a branch value (a link, or `[link, seq]`), if `raw` is one.
pub fn as_link(raw: &[u8]) -> Option<Cid> {
    split_link(raw).map(|(c, _)| c)
}

/// The highest leaf seq below a `[link, seq]` branch value (`None` for a bare link: unknown).
pub fn link_max(raw: &[u8]) -> Option<u64> {
    if raw.first() != Some(&0x82) {
        return None;
    }
    split_link(raw).and_then(|(_, s)| s)
}

/// Encodes any serialisable value as one dag-cbor item.
pub fn raw(v: &ipld_core::ipld::Ipld) -> Result<Raw> {
    crate::codec::dagcbor::encode(v).map_err(|e| Error::Internal(format!("dag-cbor encode: {e}")))
}

impl Node {
    /// First key of the node (its key in the parent).
    pub fn first_key(&self) -> &[u8] {
        self.entries.first().map(|e| e.0.as_slice()).unwrap_or(&[])
    }

    /// The child link of entry `i` of a branch node.
    pub fn child(&self, i: usize) -> Result<Cid> {
        self.entries
            .get(i)
            .and_then(|(_, v)| as_link(v))
            .ok_or_else(|| Error::Internal(format!("branch entry {i} is not a link")))
    }

    /// Checks a child loaded through entry `i` of this branch: one level lower and starting at
    /// the entry's key (format.md §3). With every node's keys strictly ascending, each node of a
    /// well-formed tree is then reached along one path only, so a crafted tree whose entries share
    /// a child cannot make a scan visit that subtree many times.
    pub fn check_child(&self, i: usize, child: &Node) -> Result<()> {
        let first = child.entries.first().map(|e| &e.0);
        if child.level + 1 == self.level && first == self.entries.get(i).map(|e| &e.0) {
            Ok(())
        } else {
            Err(Error::corrupt(
                "tree",
                "a branch entry does not match its child",
            ))
        }
    }

    /// Encodes the node as a dag-cbor block.
    pub fn encode(&self) -> Result<Block> {
        let size: usize = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 12)
            .sum();
        let mut out = Vec::with_capacity(size + 8);
        write_head(&mut out, 4, 2);
        write_head(&mut out, 0, u64::from(self.level));
        write_head(&mut out, 4, self.entries.len() as u64);
        for (k, v) in &self.entries {
            write_head(&mut out, 4, 2);
            write_head(&mut out, 2, k.len() as u64);
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        let cid = cid_of(DAG_CBOR, &out)?;
        Ok(Block { cid, bytes: out })
    }

    /// Decodes and validates a node block.
    pub fn decode(bytes: &[u8]) -> std::result::Result<Node, String> {
        let head = |pos, major: u8, what: &str| -> std::result::Result<(u64, usize), String> {
            match read_head(bytes, pos) {
                Ok((m, n, next)) if m == major => Ok((n, next)),
                Ok(_) => Err(format!("node {what} has the wrong type")),
                Err(e) => Err(format!("node {what}: {e}")),
            }
        };
        let (n, pos) = head(0, 4, "")?;
        if n != 2 {
            return Err("node is not a pair".into());
        }
        let (level, pos) = head(pos, 0, "level")?;
        let level = u8::try_from(level)
            .ok()
            .filter(|l| *l <= MAX_LEVEL)
            .ok_or_else(|| format!("node level {level} out of range"))?;
        let (count, mut pos) = head(pos, 4, "entries")?;
        if count == 0 {
            return Err("empty node".into());
        }
        if count > bytes.len() as u64 {
            return Err("node declares more entries than bytes".into());
        }
        // each entry takes at least 3 bytes: the count cannot reserve more than the bytes allow
        let mut entries: Vec<Entry> = Vec::with_capacity((count as usize).min(bytes.len() / 3));
        for _ in 0..count {
            let (pair, p) = head(pos, 4, "entry")?;
            if pair != 2 {
                return Err("node entry is not a pair".into());
            }
            let (klen, p) = head(p, 2, "key")?;
            let kend = p
                .checked_add(klen as usize)
                .filter(|e| *e <= bytes.len())
                .ok_or("node key truncated")?;
            let vlen = item_len(bytes, kend).map_err(|e| format!("node value: {e}"))?;
            entries.push((bytes[p..kend].to_vec(), bytes[kend..kend + vlen].to_vec()));
            pos = kend + vlen;
        }
        if pos != bytes.len() {
            return Err("trailing bytes after node".into());
        }
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err("node keys are not strictly ascending".into());
        }
        if level > 0 && entries.iter().any(|(_, v)| as_link(v).is_none()) {
            return Err("branch entry is not a link".into());
        }
        Ok(Node { level, entries })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use ipld_core::ipld::Ipld;

    #[test]
    fn roundtrip_and_same_bytes_as_generic_dag_cbor() {
        let child = crate::codec::encode(&Ipld::Null).unwrap().cid;
        let n = Node {
            level: 1,
            entries: vec![(b"a".to_vec(), link(&child)), (b"b".to_vec(), link(&child))],
        };
        let b = n.encode().unwrap();
        assert_eq!(Node::decode(&b.bytes).unwrap(), n);
        assert_eq!(n.child(1).unwrap(), child);
        let generic = Ipld::List(vec![
            Ipld::Integer(1),
            Ipld::List(vec![
                Ipld::List(vec![Ipld::Bytes(b"a".to_vec()), Ipld::Link(child)]),
                Ipld::List(vec![Ipld::Bytes(b"b".to_vec()), Ipld::Link(child)]),
            ]),
        ]);
        assert_eq!(b.bytes, serde_ipld_dagcbor::to_vec(&generic).unwrap());
        let leaf = Node {
            level: 0,
            entries: vec![(b"k".to_vec(), raw(&Ipld::String("v".into())).unwrap())],
        };
        assert_eq!(Node::decode(&leaf.encode().unwrap().bytes).unwrap(), leaf);
    }

    #[test]
    fn rejects_malformed() {
        let unsorted = Node {
            level: 0,
            entries: vec![
                (b"b".to_vec(), NULL.to_vec()),
                (b"a".to_vec(), NULL.to_vec()),
            ],
        };
        assert!(Node::decode(&unsorted.encode().unwrap().bytes).is_err());
        let bad_branch = Node {
            level: 1,
            entries: vec![(b"a".to_vec(), NULL.to_vec())],
        };
        assert!(Node::decode(&bad_branch.encode().unwrap().bytes).is_err());
        let empty = Node {
            level: 0,
            entries: vec![],
        };
        assert!(Node::decode(&empty.encode().unwrap().bytes).is_err());
        for junk in [
            &b""[..],
            b"\x82\x00",
            b"\x82\x18\x40\x80",
            b"\xff\xff",
            b"\x82\x00\x81\x82\x41\x61",
            b"\x82\x00\x9b\xff\xff\xff\xff\xff\xff\xff\xff",
        ] {
            assert!(Node::decode(junk).is_err(), "{junk:?}");
        }
    }
}
