//! Deterministic merge of concurrent clock heads.
//!
//! The base is the best common ancestor (highest seq, then highest CID). Each head's net change
//! is the diff between the base's document tree and its own; where heads changed the same
//! document, the value written at the highest seq wins (ties: the higher head CID). Changed
//! documents are re-stamped with the merge seq (1 + the highest head seq). Only the base's and
//! the heads' trees are read — never the trees of intermediate events, which compaction drops.
//! Invariant: every replica holding the same events computes the same merge event, byte for byte.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use cid::Cid;

use super::Event;
use crate::codec::Block;
use crate::doc::{Leaf, LeafMeta};
use crate::error::{Error, Result};
use crate::prolly::{self, Edit, Loader, Node, Raw, NULL};

/// Where events come from.
#[allow(async_fn_in_trait)]
pub trait EventSource: Loader {
    async fn event(&self, cid: &Cid) -> Result<Event>;
}

/// A merge event and the blocks it needs that did not exist.
pub struct Merged {
    pub event: Event,
    pub blocks: Vec<(Block, Rc<Node>)>,
}

fn seq_key(seq: u64, id: &[u8]) -> Vec<u8> {
    let mut k = seq.to_be_bytes().to_vec();
    k.extend_from_slice(id);
    k
}

async fn ancestry<E: EventSource>(
    src: &E,
    head: Cid,
    events: &mut HashMap<Cid, Event>,
) -> Result<HashSet<Cid>> {
    let mut seen = HashSet::new();
    let mut stack = vec![head];
    while let Some(c) = stack.pop() {
        if !seen.insert(c) {
            continue;
        }
        let parents = match events.get(&c) {
            Some(ev) => ev.parents.clone(),
            None => {
                let ev = src.event(&c).await?;
                let p = ev.parents.clone();
                events.insert(c, ev);
                p
            }
        };
        stack.extend(parents);
    }
    Ok(seen)
}

fn leaf(v: &[u8]) -> Result<Leaf> {
    Leaf::from_raw(v).map_err(|e| Error::corrupt("merge", e))
}

/// Merges two or more heads into one event whose parents are the sorted heads.
pub async fn merge<E: EventSource>(src: &E, heads: &[Cid]) -> Result<Merged> {
    let mut heads: Vec<Cid> = heads.to_vec();
    heads.sort_by_key(crate::codec::cid_bytes);
    heads.dedup();
    let mut events = HashMap::new();
    let mut sets = Vec::new();
    for h in &heads {
        sets.push(ancestry(src, *h, &mut events).await?);
    }
    let common: HashSet<Cid> = sets
        .iter()
        .skip(1)
        .fold(sets.first().cloned().unwrap_or_default(), |acc, s| {
            acc.intersection(s).copied().collect()
        });
    let base = common
        .iter()
        .max_by_key(|c| (events[c].seq, crate::codec::cid_bytes(c)))
        .copied();
    let base_ev = base.map(|b| events[&b].clone());
    let (base_root, base_changes, base_count) = match &base_ev {
        Some(e) => (e.root, e.changes, e.count),
        None => (None, None, 0),
    };
    let seq = heads.iter().map(|h| events[h].seq).max().unwrap_or(0) + 1;

    // Each head's net change since the base; where heads disagree on a document, the value
    // written at the highest seq wins, ties broken by the higher head CID (heads are sorted).
    let mut ops: BTreeMap<Vec<u8>, (u64, Option<Raw>)> = BTreeMap::new();
    for h in &heads {
        for (k, _, after) in prolly::diff(src, base_root, events[h].root).await? {
            let s = match &after {
                Some(v) => {
                    LeafMeta::read(v)
                        .map_err(|e| Error::corrupt("merge", e))?
                        .seq
                }
                None => 0,
            };
            match ops.get(&k) {
                Some((prev, _)) if *prev > s => {}
                _ => {
                    ops.insert(k, (s, after));
                }
            }
        }
    }
    let ops = ops.into_iter().map(|(k, (_, v))| (k, v));

    let mut doc_edits: Vec<Edit> = Vec::with_capacity(ops.len());
    let mut change_edits: Vec<Edit> = Vec::with_capacity(ops.len() * 2);
    let mut count = base_count;
    for (id, after) in ops {
        if let Some(old) = prolly::get(src, base_root, &id).await? {
            let old = LeafMeta::read(&old).map_err(|e| Error::corrupt("merge", e))?;
            change_edits.push((seq_key(old.seq, &id), None));
            if old.live {
                count = count.saturating_sub(1);
            }
        }
        let new = match after {
            None => None,
            Some(v) => {
                let l = match leaf(&v)? {
                    Leaf::Doc { body, .. } => Leaf::Doc { seq, body },
                    Leaf::Ref { cid, .. } => Leaf::Ref { seq, cid },
                    Leaf::Deleted { .. } => Leaf::Deleted { seq },
                };
                if l.is_live() {
                    count += 1;
                }
                change_edits.push((seq_key(seq, &id), Some(NULL.to_vec())));
                Some(l.to_raw()?)
            }
        };
        doc_edits.push((id, new));
    }
    let docs = prolly::apply(src, base_root, doc_edits).await?;
    let changes = prolly::apply(src, base_changes, change_edits).await?;
    let mut blocks = docs.blocks;
    blocks.extend(changes.blocks);
    let event = Event {
        parents: heads,
        root: docs.root,
        changes: changes.root,
        seq,
        count,
    };
    Ok(Merged { event, blocks })
}

/// The heads that are not ancestors of other heads (sorted by CID bytes, deduplicated). Only
/// events at or above the lowest head's seq are read.
pub async fn reduce<E: EventSource>(src: &E, heads: &[Cid]) -> Result<Vec<(Cid, Event)>> {
    let mut heads: Vec<Cid> = heads.to_vec();
    heads.sort_by_key(crate::codec::cid_bytes);
    heads.dedup();
    let mut events: HashMap<Cid, Event> = HashMap::new();
    for h in &heads {
        events.insert(*h, src.event(h).await?);
    }
    let min_seq = events.values().map(|e| e.seq).min().unwrap_or(0);
    let mut covered: HashSet<Cid> = HashSet::new();
    let mut seen: HashSet<Cid> = HashSet::new();
    let mut stack: Vec<Cid> = heads
        .iter()
        .flat_map(|h| events[h].parents.clone())
        .collect();
    while let Some(c) = stack.pop() {
        if !seen.insert(c) {
            continue;
        }
        let ev = match events.get(&c) {
            Some(e) => e.clone(),
            None => src.event(&c).await?,
        };
        if ev.seq < min_seq {
            continue;
        }
        covered.insert(c);
        stack.extend(ev.parents.iter().copied());
    }
    Ok(heads
        .into_iter()
        .filter(|h| !covered.contains(h))
        .map(|h| {
            let e = events[&h].clone();
            (h, e)
        })
        .collect())
}
