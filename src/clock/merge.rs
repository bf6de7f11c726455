//! Deterministic merge of concurrent clock heads.
//!
//! The merge is a function of the heads' document trees only: where all heads hold the same leaf
//! for an id it is kept as is; where they differ, the leaf with the highest write seq `w` wins
//! (ties: the higher head CID) and is re-stamped with the merge seq (1 + the highest head seq),
//! its `w` kept (docs/format.md §2.4: a write's `w` is above that of every value it can have
//! replaced; the re-stamped seq is not, so it must not decide). The
//! first head's trees (heads sorted by CID) are the starting point. No common ancestor is looked
//! for and no history is read: intermediate trees, which compaction drops, are never needed.
//! This equals merging each head's net change since any common ancestor, except that ids every
//! head changed the same way are not re-stamped.
//! Invariant: every replica holding the same heads computes the same merge event, byte for byte.
//!
//! Both steps are plain functions over blocks already in memory ([`EventsNow`]): a missing block
//! is an `Error::MissingBlock`, and the ledger's driver loads it and runs the step again (decoded
//! events are kept in the caller's map across runs).

use crate::{HashMap, HashSet};

use cid::Cid;

use super::Event;
use crate::doc::{restamp_leaf, LeafMeta};
use crate::error::{Error, Result};
use crate::prolly::{self, Edit, NodesNow, Raw};
use crate::sort::{heap_sort, sort_cids};

/// Events and tree nodes already in memory.
pub trait EventsNow: NodesNow {
    /// The event `cid` if its block is in memory (else `Error::MissingBlock`).
    fn event_now(&self, cid: &Cid) -> Result<Event>;
}

/// Decoded events, by CID (kept by the caller across runs of a step).
pub type Events = HashMap<Cid, Event>;

fn event<'a, E: EventsNow>(src: &E, events: &'a mut Events, c: &Cid) -> Result<&'a Event> {
    if !events.contains_key(c) {
        let ev = src.event_now(c)?;
        events.insert(*c, ev);
    }
    Ok(&events[c])
}

/// What a merge writes: the new event's fields except its tree roots, and the edits that turn
/// the base's trees into the merged ones.
pub struct Plan {
    pub parents: Vec<Cid>,
    pub seq: u64,
    pub count: u64,
    pub root: Option<Cid>,
    pub doc_edits: Vec<Edit>,
}

fn corrupt(e: String) -> Error {
    Error::corrupt("merge", e)
}

/// The write seq `w` of a raw docs-tree value (0 for an absent one).
fn stamp(v: &Option<Raw>) -> Result<u64> {
    match v {
        Some(v) => Ok(LeafMeta::read(v).map_err(corrupt)?.w),
        None => Ok(0),
    }
}

/// Plans the merge of two or more heads into one event whose parents are the sorted heads.
pub fn plan<E: EventsNow>(src: &E, heads: &[Cid], events: &mut Events) -> Result<Plan> {
    let mut heads: Vec<Cid> = heads.to_vec();
    sort_cids(&mut heads);
    heads.dedup();
    let mut seq = 0;
    for h in &heads {
        seq = seq.max(event(src, events, h)?.seq + 1);
    }
    let first = &events[&heads[0]];
    let (root, mut count) = (first.root, first.count);

    // Every id on which some head differs from the first, with each head's leaf (a head whose
    // diff lacks the id holds the first head's leaf, which is listed too). Ordered by
    // (id, write seq, head position), the last of each id wins: the leaf with the highest write
    // seq, ties broken by the higher head CID (heads are sorted).
    let mut all: Vec<(Vec<u8>, u64, usize, Option<Raw>)> = Vec::new();
    for (i, h) in heads.iter().enumerate().skip(1) {
        for (k, before, after) in prolly::diff(src, root, events[h].root)? {
            all.push((k.clone(), stamp(&before)?, 0, before));
            all.push((k, stamp(&after)?, i, after));
        }
    }
    let mut order: Vec<u32> = (0..all.len() as u32).collect();
    heap_sort(&mut order, &|x, y| {
        let (a, b) = (&all[x as usize], &all[y as usize]);
        (&a.0, a.1, a.2) < (&b.0, b.1, b.2)
    });

    let mut doc_edits: Vec<Edit> = Vec::new();
    for (n, &i) in order.iter().enumerate() {
        let next = order.get(n + 1).map(|&j| &all[j as usize].0);
        if next == Some(&all[i as usize].0) {
            continue; // not the winner of its id
        }
        let (id, _, _, after) = std::mem::take(&mut all[i as usize]);
        if let Some(old) = prolly::get_now(src, root, &id)? {
            let old = LeafMeta::read(&old).map_err(corrupt)?;
            if old.live {
                count = count.saturating_sub(1);
            }
        }
        let new = match after {
            None => None,
            Some(v) => {
                let meta = LeafMeta::read(&v).map_err(corrupt)?;
                if meta.live {
                    count += 1;
                }
                Some(restamp_leaf(&v, &meta, seq)?)
            }
        };
        doc_edits.push((id, new));
    }
    Ok(Plan {
        parents: heads,
        seq,
        count,
        root,
        doc_edits,
    })
}

/// The heads that are not ancestors of other heads (sorted by CID bytes, deduplicated). Only
/// events at or above the lowest head's seq are read.
pub fn reduce<E: EventsNow>(src: &E, heads: &[Cid], events: &mut Events) -> Result<Vec<Cid>> {
    let mut heads: Vec<Cid> = heads.to_vec();
    sort_cids(&mut heads);
    heads.dedup();
    let mut min_seq = u64::MAX;
    let mut stack: Vec<Cid> = Vec::new();
    for h in &heads {
        let ev = event(src, events, h)?;
        min_seq = min_seq.min(ev.seq);
        stack.extend_from_slice(&ev.parents);
    }
    let mut covered: HashSet<Cid> = HashSet::default();
    let mut seen: HashSet<Cid> = HashSet::default();
    while let Some(c) = stack.pop() {
        if !seen.insert(c) {
            continue;
        }
        let ev = event(src, events, &c)?;
        if ev.seq < min_seq {
            continue;
        }
        covered.insert(c);
        stack.extend_from_slice(&ev.parents);
    }
    heads.retain(|h| !covered.contains(h));
    Ok(heads)
}
