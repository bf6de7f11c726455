//! Merkle clock events: `{parents: [CID], data: {root, seq, count}}`.
//!
//! `root` is the documents tree root after the event (events written before format v2 also
//! name a changes tree, which is ignored); `seq` is the
//! event's height (1 + the highest parent seq); `count` the number of live documents. The operations
//! an event applied are not repeated in it: they are the diff of its parent's tree and its own,
//! which the prolly tree computes. Invariant: an event's CID fixes the whole ledger state after it.

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;

use crate::codec::{self, Block};
use crate::error::Result;

pub mod merge;

/// One clock event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub parents: Vec<Cid>,
    pub root: Option<Cid>,
    pub seq: u64,
    pub count: u64,
}

fn link_or_null(c: &Option<Cid>) -> Ipld {
    c.map(Ipld::Link).unwrap_or(Ipld::Null)
}

fn opt_link(v: Option<&Ipld>) -> std::result::Result<Option<Cid>, String> {
    match v {
        Some(Ipld::Link(c)) => Ok(Some(*c)),
        Some(Ipld::Null) | None => Ok(None),
        _ => Err("event root is not a link".into()),
    }
}

impl Event {
    pub fn encode(&self) -> Result<Block> {
        let mut data = BTreeMap::new();
        data.insert("root".to_string(), link_or_null(&self.root));
        data.insert("seq".to_string(), Ipld::Integer(self.seq.into()));
        data.insert("count".to_string(), Ipld::Integer(self.count.into()));
        let mut m = BTreeMap::new();
        m.insert(
            "parents".to_string(),
            Ipld::List(self.parents.iter().copied().map(Ipld::Link).collect()),
        );
        m.insert("data".to_string(), Ipld::Map(data));
        codec::encode(&Ipld::Map(m))
    }

    pub fn decode(bytes: &[u8]) -> std::result::Result<Event, String> {
        let v = codec::decode(bytes)?;
        let parents =
            codec::as_links(codec::field(&v, "parents")).ok_or("event parents are not links")?;
        let data = codec::field(&v, "data").ok_or("event has no data")?;
        Ok(Event {
            parents,
            root: opt_link(codec::field(data, "root"))?,
            seq: codec::as_u64(codec::field(data, "seq")).ok_or("event seq missing")?,
            count: codec::as_u64(codec::field(data, "count")).ok_or("event count missing")?,
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn event_roundtrip_and_garbage() {
        let root = codec::encode(&Ipld::Null).unwrap().cid;
        let e = Event {
            parents: vec![root],
            root: Some(root),
            seq: 3,
            count: 2,
        };
        let b = e.encode().unwrap();
        assert_eq!(Event::decode(&b.bytes).unwrap(), e);
        let not_event = codec::encode(&Ipld::List(vec![])).unwrap();
        assert!(Event::decode(&not_event.bytes).is_err());
        assert!(Event::decode(b"\x00\x01").is_err());
    }
}
