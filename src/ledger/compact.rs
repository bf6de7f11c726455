//! Compaction: rewrite every live block into fresh CARs of bounded size, then drop the old CARs.
//!
//! Live blocks are the nodes of the document, changes and index trees, separately stored
//! documents, and every clock event reachable from the head. Invariant: old CARs are deleted only
//! after the header naming the new ones is durable; documents, head and indexes are unchanged.

use std::collections::{BTreeMap, HashSet};

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::{Ledger, State};
use crate::car::{seal_car, write_car};
use crate::clock::Event;
use crate::codec::{self, Block};
use crate::doc::LeafMeta;
use crate::error::{Error, Result};
use crate::prolly::Loader;
use crate::store::{CommitOutcome, CommitWrite, Store, StoredCar};

/// Plaintext size at which a compacted CAR is closed.
pub const COMPACT_CAR_BYTES: usize = 1024 * 1024;

impl<S: Store> Ledger<S> {
    /// Rewrites the live blocks into fresh CARs and deletes the old ones.
    pub async fn compact(&self) -> Result<()> {
        self.check_open()?;
        let _guard = self.write_lock.lock().await;
        for _ in 0..8 {
            let base = self.snapshot();
            if base.car.is_none() {
                return Ok(());
            }
            let old_cars = self.store.list_cars().await?;
            let live = self.live_blocks(&base).await?;
            let (cars, last) = self.pack(&base, live).await?;
            let new_names: HashSet<String> = cars.iter().map(|c| c.name.clone()).collect();
            let mut state = (*base).clone();
            state.car = Some(last.clone());
            let write = CommitWrite {
                expect: base.car.clone(),
                cars,
                header: state.to_header(&last),
            };
            match self.store.commit(write).await? {
                CommitOutcome::Committed => {
                    self.adopt(state, true);
                    let pinned: HashSet<&String> = base.pinned_cars().iter().collect();
                    let stale: Vec<String> = old_cars
                        .into_iter()
                        .filter(|c| !new_names.contains(c) && !pinned.contains(c))
                        .collect();
                    return self.store.remove_cars(&stale).await;
                }
                CommitOutcome::Conflict => self.reload_forced().await?,
            }
        }
        Err(Error::Storage(
            "compaction kept conflicting with other writers".into(),
        ))
    }

    /// Every block reachable from the state, in a stable order.
    async fn live_blocks(&self, state: &State) -> Result<Vec<Block>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut roots: Vec<(Cid, bool)> = Vec::new();
        roots.extend(state.docs.map(|c| (c, true)));
        roots.extend(state.changes.map(|c| (c, false)));
        for idx in state.indexes.values() {
            for r in [&idx.keys, &idx.ids].into_iter().flatten() {
                roots.push((codec::parse_cid(r)?, false));
            }
        }
        for (root, is_docs) in roots {
            let mut stack = vec![root];
            while let Some(cid) = stack.pop() {
                if !seen.insert(cid) {
                    continue;
                }
                let node = self.blocks.load(&cid).await?;
                out.push(Block {
                    cid,
                    bytes: self.blocks.block(&cid).await?.to_vec(),
                });
                for (i, (_, v)) in node.entries.iter().enumerate().rev() {
                    if node.level > 0 {
                        stack.push(node.child(i)?);
                    } else if is_docs {
                        let meta = LeafMeta::read(v).map_err(|e| Error::corrupt("docs tree", e))?;
                        if let Some(r) = meta.doc_ref.filter(|r| seen.insert(*r)) {
                            out.push(Block {
                                cid: r,
                                bytes: self.blocks.block(&r).await?.to_vec(),
                            });
                        }
                    }
                }
            }
        }
        let mut events: Vec<Cid> = state.head.clone();
        while let Some(cid) = events.pop() {
            if !seen.insert(cid) {
                continue;
            }
            let bytes = match self.blocks.block(&cid).await {
                Ok(b) => b,
                Err(Error::MissingBlock(_)) => continue, // history already pruned elsewhere
                Err(e) => return Err(e),
            };
            let ev = Event::decode(&bytes)
                .map_err(|e| Error::corrupt(format!("event {}", codec::cid_str(&cid)), e))?;
            events.extend(ev.parents);
            out.push(Block {
                cid,
                bytes: bytes.to_vec(),
            });
        }
        Ok(out)
    }

    /// Packs blocks into sealed CARs of bounded size; the last one holds the commit block.
    async fn pack(&self, state: &State, live: Vec<Block>) -> Result<(Vec<StoredCar>, String)> {
        let mut commit = BTreeMap::new();
        commit.insert(
            "head".to_string(),
            Ipld::List(state.head.iter().copied().map(Ipld::Link).collect()),
        );
        commit.insert("prev".to_string(), Ipld::List(vec![]));
        commit.insert("v".to_string(), Ipld::Integer(1));
        let commit = codec::encode(&Ipld::Map(commit))?;
        let root = commit.cid;
        let mut groups: Vec<Vec<Block>> = vec![Vec::new()];
        let mut size = 0;
        for b in live {
            if size + b.bytes.len() > COMPACT_CAR_BYTES && !groups.last().is_some_and(Vec::is_empty)
            {
                groups.push(Vec::new());
                size = 0;
            }
            size += b.bytes.len();
            groups.last_mut().expect("one group").push(b);
        }
        groups.last_mut().expect("one group").push(commit);
        let (mut cars, mut last) = (Vec::new(), String::new());
        for g in groups {
            let sealed = seal_car(self.blocks.aead(), &write_car(root, &g)).await?;
            last = codec::cid_str(&sealed.name);
            let cids = g.iter().map(|b| codec::cid_str(&b.cid)).collect();
            cars.push(StoredCar {
                name: last.clone(),
                bytes: sealed.bytes,
                cids,
            });
        }
        Ok((cars, last))
    }
}
