//! Deterministic merge of concurrent clock heads.
//!
//! The base is the best common ancestor (highest seq, then highest CID). Each head's net change
//! is the diff between the base's document tree and its own; where heads changed the same
//! document, the value written at the highest seq wins (ties: the higher head CID). Changed
//! documents are re-stamped with the merge seq (1 + the highest head seq). Only the base's and
//! the heads' trees are read — never the trees of intermediate events, which compaction drops.
//! Invariant: every replica holding the same events computes the same merge event, byte for byte.
//!
//! The base is found by walking down from the heads only as far as the base itself, so a merge
//! reads recent history only, and compaction may prune older events (docs/format.md §6.1).
//!
//! Both steps are plain functions over blocks already in memory ([`EventsNow`]): a missing block
//! is an `Error::MissingBlock`, and the ledger's driver loads it and runs the step again (decoded
//! events are kept in the caller's map across runs).

use std::collections::{HashMap, HashSet};

use cid::Cid;

use super::Event;
use crate::doc::{Leaf, LeafMeta};
use crate::error::{Error, Result};
use crate::prolly::{self, Edit, NodesNow, Raw, NULL};
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
    pub changes: Option<Cid>,
    pub doc_edits: Vec<Edit>,
    pub change_edits: Vec<Edit>,
}

fn seq_key(seq: u64, id: &[u8]) -> Vec<u8> {
    let mut k = seq.to_be_bytes().to_vec();
    k.extend_from_slice(id);
    k
}

fn corrupt(e: String) -> Error {
    Error::corrupt("merge", e)
}

/// The best common ancestor of `heads` (highest seq, then highest CID bytes), or `None`.
///
/// Events are visited from the heads down in descending (seq, CID bytes) order, each carrying the
/// set of heads it is reachable from. A parent's seq is always below its child's, so when an event
/// is visited every event above it has passed on its set: the first event reachable from all heads
/// is the answer, and nothing below it is read (history older than the base may be pruned).
fn best_common<E: EventsNow>(src: &E, heads: &[Cid], events: &mut Events) -> Result<Option<Cid>> {
    if heads.len() > 128 {
        return Ok(None); // merged as from the empty tree (as deterministic, more re-stamping)
    }
    let full = u128::MAX >> (128 - heads.len());
    // Events waiting to be visited, each with the heads it is reachable from (an event is only
    // ever reached from above, so its set is complete when it is the highest left).
    let mut frontier: Vec<(Cid, u128)> = Vec::new();
    let reach = |frontier: &mut Vec<(Cid, u128)>, c: Cid, from: u128| match frontier
        .iter_mut()
        .find(|(f, _)| *f == c)
    {
        Some(e) => e.1 |= from,
        None => frontier.push((c, from)),
    };
    for (i, h) in heads.iter().enumerate() {
        reach(&mut frontier, *h, 1 << i);
    }
    while !frontier.is_empty() {
        let mut top = 0;
        for i in 1..frontier.len() {
            let (a, b) = (&frontier[i].0, &frontier[top].0);
            let (sa, sb) = (event(src, events, a)?.seq, event(src, events, b)?.seq);
            if (sa, crate::codec::cid_bytes(a)) > (sb, crate::codec::cid_bytes(b)) {
                top = i;
            }
        }
        let (c, from) = frontier.swap_remove(top);
        if from == full {
            return Ok(Some(c));
        }
        for p in event(src, events, &c)?.parents.clone() {
            reach(&mut frontier, p, from);
        }
    }
    Ok(None)
}

/// Plans the merge of two or more heads into one event whose parents are the sorted heads.
pub fn plan<E: EventsNow>(src: &E, heads: &[Cid], events: &mut Events) -> Result<Plan> {
    let mut heads: Vec<Cid> = heads.to_vec();
    sort_cids(&mut heads);
    heads.dedup();
    let base = best_common(src, &heads, events)?;
    let (root, changes, mut count) = match &base {
        Some(b) => {
            let e = &events[b];
            (e.root, e.changes, e.count)
        }
        None => (None, None, 0),
    };
    let seq = heads.iter().map(|h| events[h].seq).max().unwrap_or(0) + 1;

    // Each head's net change since the base; where heads disagree on a document, the value
    // written at the highest seq wins, ties broken by the higher head CID (heads are sorted):
    // ordered by (key, seq, position), the last of each key wins.
    let mut all: Vec<(Vec<u8>, u64, Option<Raw>)> = Vec::new();
    for h in &heads {
        for (k, _, after) in prolly::diff(src, root, events[h].root)? {
            let s = match &after {
                Some(v) => LeafMeta::read(v).map_err(corrupt)?.seq,
                None => 0,
            };
            all.push((k, s, after));
        }
    }
    let mut order: Vec<u32> = (0..all.len() as u32).collect();
    heap_sort(&mut order, &|x, y| {
        let (a, b) = (&all[x as usize], &all[y as usize]);
        (&a.0, a.1, x) < (&b.0, b.1, y)
    });

    let mut doc_edits: Vec<Edit> = Vec::new();
    let mut change_edits: Vec<Edit> = Vec::new();
    for (n, &i) in order.iter().enumerate() {
        let next = order.get(n + 1).map(|&j| &all[j as usize].0);
        if next == Some(&all[i as usize].0) {
            continue; // not the winner of its key
        }
        let (id, _, after) = std::mem::take(&mut all[i as usize]);
        if let Some(old) = prolly::get_now(src, root, &id)? {
            let old = LeafMeta::read(&old).map_err(corrupt)?;
            change_edits.push((seq_key(old.seq, &id), None));
            if old.live {
                count = count.saturating_sub(1);
            }
        }
        let new = match after {
            None => None,
            Some(v) => {
                let l = match Leaf::from_raw(&v).map_err(corrupt)? {
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
    Ok(Plan {
        parents: heads,
        seq,
        count,
        root,
        changes,
        doc_edits,
        change_edits,
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
    let mut covered: HashSet<Cid> = HashSet::new();
    let mut seen: HashSet<Cid> = HashSet::new();
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
