//! Compaction: rewrite the live blocks into fresh CARs sized for lazy reads, then drop the old
//! CARs. Policy and layout: docs/format.md §6.1. The automatic one is incremental: CARs that are
//! mostly live (a bulk's, an earlier compaction's) are kept as they are and only the rest of the
//! live blocks is repacked; `compact()` rewrites everything.
//!
//! Two phases, so that writes interleave: [`Ledger::compact_prepare`] lists the CARs, catches up
//! with the stored header, packs that state's live blocks and stages the packed CARs in the store,
//! one small write each (no lock held: writes go on); [`Ledger::compact_commit`] writes only a
//! header naming the newest state over them (a compare-and-set; on a conflict it re-reads the
//! header and retries), so the commit lock is held for one small transaction. A crash before that
//! leaves staged CARs no header names: garbage the next compaction deletes.
//!
//! Invariant: old CARs are deleted only after the header naming the new ones is durable, and only
//! CARs listed before the packed state was read: every block the newest state needs is then in
//! the packed CARs (it was live in the packed state) or in a CAR committed after the listing
//! (kept), or in a listed CAR kept whole. Documents, head, seq, count and indexes are unchanged;
//! pinned CARs (the sync outbox) are never deleted.

use std::collections::BTreeMap;

use crate::HashSet;
use std::rc::Rc;

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::write::{conflict, FAST_ATTEMPTS};
use super::{Ledger, State};
use crate::car::{seal_car, write_car};
use crate::clock::Event;
use crate::codec::{self, Block};
use crate::doc::{file_cars, map_get, LeafMeta};
use crate::error::{Error, Result};
use crate::prolly::Loader;
use crate::store::{CommitOutcome, CommitWrite, Gc, Store, StoredCar};

/// The budget of one CAR record (docs/format.md §6): its blocks, each counted with
/// [`BLOCK_COST`], fill at most this much (or one bigger block alone). With the CAR header, the
/// seal and the record's own framing the stored value stays under 64 KiB, above which Chromium
/// keeps an IndexedDB value in a blob file of its own (several times slower to read, and a file
/// that disk cleaners can remove without the database). A cold read decrypts at most about this
/// much to reach one leaf.
pub const COMPACT_CAR_BYTES: usize = 62 * 1024;

/// What a block adds to its CAR record beyond its bytes: its CAR framing (length and CID) and its
/// CID in the record's list of block CIDs (stored as bytes).
const BLOCK_COST: usize = 96;

/// Splits blocks, in order, into CAR groups of at most [`COMPACT_CAR_BYTES`] each, every block
/// counted with [`BLOCK_COST`] (a larger block gets a group of its own); never empty.
pub fn car_groups_by_cost<'a>(order: impl IntoIterator<Item = &'a Block>) -> Vec<Vec<&'a Block>> {
    let mut groups: Vec<Vec<&Block>> = vec![Vec::new()];
    let mut size = 0;
    for b in order {
        let cost = b.bytes.len() + BLOCK_COST;
        if size + cost > COMPACT_CAR_BYTES && size > 0 {
            groups.push(Vec::new());
            size = 0;
        }
        size += cost;
        groups.last_mut().expect("a group").push(b);
    }
    groups
}

/// Clock history compaction keeps: the events of the last this many seqs below the head. A merge
/// reads events down to its base only; an older base is fetched from the remote.
pub const EVENTS_KEPT: u64 = 1000;

/// Garbage tolerated on top of half the live bytes before compaction is due.
pub const COMPACT_SLACK_BYTES: u64 = 256 * 1024;

/// Garbage tolerated on top of the live bytes before compaction is urgent (runs even while
/// writes go on).
pub const COMPACT_URGENT_SLACK_BYTES: u64 = 8 * 1024 * 1024;

/// An incremental compaction keeps a listed CAR of at least this many blocks whose blocks are at
/// least [`KEEP_LIVE`] live (and which holds no root): the CARs of single commits (a handful of
/// blocks, soon mostly garbage) are always repacked, which also keeps the number of records low.
pub const KEEP_MIN_BLOCKS: u64 = 32;

/// The live share of a CAR's blocks (numerator, denominator) above which an incremental
/// compaction keeps it: the garbage left in kept CARs stays under a third of the live bytes, so
/// compaction is not due again right away (due: garbage over half the live bytes + slack).
pub const KEEP_LIVE: (u64, u64) = (3, 4);

/// A compaction packed by [`Ledger::compact_prepare`], waiting for [`Ledger::compact_commit`].
pub(super) struct Packed<S: Store> {
    /// The state whose live blocks the CARs hold.
    base: Rc<State>,
    /// The CARs listed before `base` was read and not kept: deleted once the new header is durable.
    old: Vec<String>,
    /// The packed CARs, staged in the store.
    cars: Vec<String>,
    /// The CAR holding the commit block and the tree roots: the new header's `car`.
    last: String,
    /// Storage cost of the live blocks (packed CARs plus the live part of kept ones), and of all
    /// the CARs the compaction leaves (kept ones whole; their dead blocks estimated).
    live: u64,
    stored: u64,
    /// File CARs the packed state's documents name: kept.
    files: Vec<String>,
    /// The cipher the CARs are sealed with: if the ledger has taken another key since (re-keyed
    /// while this compaction was packing), the packing is dropped, never committed.
    aead: Rc<S::Aead>,
}

/// Live blocks by role, each list in its packing order.
#[derive(Default)]
pub(super) struct Live {
    /// Leaves of every tree in key order, each lowest branch (level 1) right before its leaves,
    /// a document stored in its own block after its leaf.
    leaves: Vec<Block>,
    events: Vec<Block>,
    /// Branch nodes above level 1 with their level.
    branches: Vec<(u32, Block)>,
    /// File CARs the live documents name (kept as they are, never repacked).
    pub(super) files: Vec<String>,
}

/// What an incremental compaction keeps (see [`keep_mostly_live`]).
#[derive(Default)]
struct Kept {
    cars: Vec<String>,
    /// The blocks of `cars`.
    held: HashSet<Cid>,
    /// How many blocks `cars` hold, and how many of them are live.
    blocks: u64,
    live_blocks: u64,
}

impl Kept {
    /// The kept CARs' (live, stored) cost (docs/format.md §8), from the sizes of their live
    /// blocks (`held_bytes` for `held_live` of them); their garbage is estimated at those
    /// blocks' mean size.
    fn cost(&self, held_live: u64, held_bytes: u64) -> (u64, u64) {
        let records = self.cars.len() as u64 * 256;
        let mean = held_bytes / held_live.max(1);
        (
            held_bytes + self.live_blocks * 128 + records,
            self.blocks * (mean + 128) + records,
        )
    }
}

impl Live {
    fn blocks(&self) -> impl Iterator<Item = &Block> {
        let branches = self.branches.iter().map(|(_, b)| b);
        self.leaves.iter().chain(&self.events).chain(branches)
    }

    /// The blocks in packing order: leaves (with their level-1 branches), then events, then the
    /// higher branches from the lowest level up.
    pub(super) fn ordered(self) -> Vec<Block> {
        let Live {
            mut leaves,
            events,
            mut branches,
            ..
        } = self;
        branches.sort_by_key(|(level, _)| *level);
        leaves.extend(events);
        leaves.extend(branches.into_iter().map(|(_, b)| b));
        leaves
    }
}

impl<S: Store> Ledger<S> {
    /// True when the CARs written since the last compaction make the stored bytes exceed
    /// 1.5 × the live bytes plus [`COMPACT_SLACK_BYTES`]; with `urgent`, past the hard cap: over
    /// 2 × the live bytes plus [`COMPACT_URGENT_SLACK_BYTES`] (the package compacts a due ledger
    /// when its writes pause, and at once past the cap: docs/format.md §6.1).
    pub fn compaction_due(&self, urgent: bool) -> bool {
        let s = self.snapshot();
        s.gc.is_some_and(|g| match urgent {
            false => g.stored > g.live + g.live / 2 + COMPACT_SLACK_BYTES,
            true => g.stored > 2 * g.live + COMPACT_URGENT_SLACK_BYTES,
        })
    }

    /// Compacts everything in one go: [`Ledger::compact_prepare`] (not incremental) then
    /// [`Ledger::compact_commit`].
    pub async fn compact(&self) -> Result<()> {
        if self.compact_prepare(false).await? {
            self.compact_commit().await?;
        }
        Ok(())
    }

    /// Packs the live blocks of the stored state into fresh sealed CARs, kept for
    /// [`Ledger::compact_commit`]; `incremental`: only those not in a listed CAR worth keeping
    /// as it is ([`KEEP_MIN_BLOCKS`], [`KEEP_LIVE`]). Holds no lock: writes commit meanwhile.
    /// False if the ledger is empty.
    pub async fn compact_prepare(&self, incremental: bool) -> Result<bool> {
        self.check_open()?;
        let mut old = self.store.list_cars(false).await?;
        // Read after listing: the state is at least as new as every listed CAR's commit.
        self.reload_forced().await?;
        let base = self.snapshot();
        if base.car.is_none() {
            return Ok(false);
        }
        let mut live = self.live_blocks(&base, EVENTS_KEPT).await?;
        let files = std::mem::take(&mut live.files);
        let kept = match incremental {
            true => keep_mostly_live(&base, &old, &live, self.store.car_blocks().await?)?,
            false => Kept::default(),
        };
        old.retain(|c| !kept.cars.contains(c));
        let mut blocks = live.ordered();
        let (mut held_live, mut held_bytes) = (0, 0);
        blocks.retain(|b| {
            let repack = !kept.held.contains(&b.cid);
            if !repack {
                held_live += 1;
                held_bytes += b.bytes.len() as u64;
            }
            repack
        });
        let (kept_live, kept_stored) = kept.cost(held_live, held_bytes);
        let aead = self.blocks.aead();
        let (cars, last) = self.pack(&aead, &base, blocks).await?;
        let bytes: u64 = cars.iter().map(StoredCar::footprint).sum();
        self.check_open()?;
        self.store.stage_cars(&cars).await?;
        let cars = cars.into_iter().map(|c| c.name).collect();
        *self.packed.borrow_mut() = Some(Packed {
            base,
            old,
            cars,
            last,
            live: bytes + kept_live,
            stored: bytes + kept_stored,
            files,
            aead,
        });
        Ok(true)
    }

    /// Commits the packed CARs under a header naming the newest stored state, then deletes the
    /// CARs listed before packing (pinned ones excepted). After [`FAST_ATTEMPTS`] conflicts in a
    /// row it returns `CONFLICT`, keeping the packing for the next call. Nothing packed: no-op.
    pub async fn compact_commit(&self) -> Result<()> {
        self.check_open()?;
        let _guard = self.write_lock.lock().await;
        for _ in 0..FAST_ATTEMPTS {
            self.check_open()?;
            let cur = self.snapshot();
            let (write, state) = {
                let packed = self.packed.borrow();
                let Some(p) = packed.as_ref() else {
                    return Ok(());
                };
                if !Rc::ptr_eq(&p.aead, &self.blocks.aead()) {
                    drop(packed);
                    self.packed.borrow_mut().take(); // sealed under the key the ledger had
                    return Ok(());
                }
                let mut state = (*cur).clone();
                state.car = Some(p.last.clone());
                state.rev += 1;
                // CARs committed after the packed state are kept: stored, but not counted as
                // live (writes during a compaction are mostly garbage-to-be; counting them as live
                // let a ledger rewritten in bulks hold several times its live bytes).
                let (was, now) = (p.base.gc.unwrap_or_default(), cur.gc.unwrap_or_default());
                let since = if was.live == now.live {
                    now.stored.saturating_sub(was.stored)
                } else {
                    0
                };
                state.gc = Some(Gc {
                    live: p.live,
                    stored: p.stored + since,
                });
                let write = CommitWrite {
                    expect: cur.car.clone(),
                    cars: Vec::new(),
                    staged: p.cars.clone(),
                    header: state.to_header(&p.last),
                };
                (write, state)
            };
            let outcome = match self.store.commit(write).await {
                Ok(o) => o,
                Err(e) => {
                    self.packed.borrow_mut().take();
                    return Err(e);
                }
            };
            match outcome {
                CommitOutcome::Committed => {
                    let Some(p) = self.packed.borrow_mut().take() else {
                        return Ok(());
                    };
                    self.adopt(state.clone(), true);
                    let mut keep: HashSet<&String> = p.cars.iter().chain(&p.files).collect();
                    keep.extend(p.base.pinned_cars());
                    keep.extend(state.pinned_cars());
                    let mut stale = Vec::new();
                    for c in &p.old {
                        if !keep.contains(c) {
                            stale.push(c.clone());
                        }
                    }
                    return self.store.remove_cars(&stale).await;
                }
                CommitOutcome::Conflict => self.reload_forced().await?,
            }
        }
        Err(conflict())
    }

    /// Every block reachable from the state, sorted by role: the trees in full, and the clock
    /// events of the last `window` seqs below the head (0: the head events only).
    pub(super) async fn live_blocks(&self, state: &State, window: u64) -> Result<Live> {
        let mut seen = HashSet::default();
        let mut live = Live::default();
        let mut roots: Vec<(Cid, bool)> = Vec::new();
        roots.extend(state.docs.map(|c| (c, true)));
        for idx in state.indexes.values() {
            for r in [&idx.keys, &idx.ids].into_iter().flatten() {
                roots.push((codec::parse_cid(r)?, false));
            }
        }
        for (root, is_docs) in roots {
            // Depth first, children in key order: leaves come out in key order.
            let mut stack = vec![root];
            while let Some(cid) = stack.pop() {
                if !seen.insert(cid) {
                    continue;
                }
                let node = self.blocks.load(&cid).await?;
                let block = Block {
                    cid,
                    bytes: self.blocks.block(&cid).await?.to_vec(),
                };
                if node.level > 0 {
                    // a lowest branch goes with its leaves (right before them): a cold read of
                    // the branch brings the leaves below it
                    match node.level {
                        1 => live.leaves.push(block),
                        l => live.branches.push((l.into(), block)),
                    }
                    for i in (0..node.entries.len()).rev() {
                        stack.push(node.child(i)?);
                    }
                    continue;
                }
                live.leaves.push(block);
                if !is_docs {
                    continue;
                }
                for (_, v) in &node.entries {
                    let meta = LeafMeta::read(v).map_err(|e| Error::corrupt("docs tree", e))?;
                    if let Some((s, e)) = meta.doc {
                        file_cars(&v[s..e], &mut live.files);
                    }
                    if let Some(r) = meta.doc_ref.filter(|r| seen.insert(*r)) {
                        let bytes = self.blocks.block(&r).await?.to_vec();
                        if let Ok(Some(doc)) = map_get(&bytes, "doc") {
                            file_cars(doc, &mut live.files);
                        }
                        live.leaves.push(Block { cid: r, bytes });
                    }
                }
            }
        }
        let floor = state.seq.saturating_sub(window);
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
            let ev = Event::decode(&bytes).map_err(|e| Error::corrupt("clock event", e))?;
            if ev.seq < floor {
                continue; // older history is pruned
            }
            events.extend(ev.parents);
            live.events.push(Block {
                cid,
                bytes: bytes.to_vec(),
            });
        }
        Ok(live)
    }

    /// Packs `blocks` (in [`Live::ordered`] order: leaves, then events, then branches from the
    /// lowest level up) into sealed CARs within [`COMPACT_CAR_BYTES`] (or one bigger block,
    /// [`car_groups_by_cost`]). The last CAR holds the tree roots and the commit block. CARs are sealed with `aead` (the ledger's own, or a
    /// new key's when re-keying).
    pub(super) async fn pack(
        &self,
        aead: &S::Aead,
        state: &State,
        blocks: Vec<Block>,
    ) -> Result<(Vec<StoredCar>, String)> {
        let mut commit = BTreeMap::new();
        commit.insert(
            "head".to_string(),
            Ipld::List(state.head.iter().copied().map(Ipld::Link).collect()),
        );
        commit.insert("prev".to_string(), Ipld::List(vec![]));
        commit.insert("v".to_string(), Ipld::Integer(1));
        let commit = codec::encode(&Ipld::Map(commit))?;
        let root = commit.cid;
        let mut groups = car_groups_by_cost(&blocks);
        groups.last_mut().expect("a group").push(&commit);
        let (mut cars, mut last) = (Vec::with_capacity(groups.len()), String::new());
        for g in groups {
            let sealed = seal_car(aead, &write_car(root, &g)).await?;
            last = codec::cid_str(&sealed.name);
            let cids = g.iter().map(|b| b.cid).collect();
            cars.push(StoredCar {
                name: last.clone(),
                bytes: sealed.bytes,
                cids,
            });
        }
        Ok((cars, last))
    }
}

/// Chooses the listed CARs (`old`, sorted) an incremental compaction keeps whole — at least
/// [`KEEP_MIN_BLOCKS`] blocks, at least [`KEEP_LIVE`] of them live, no tree root or head event
/// among them (those move to the new last CAR, which cold reads open first) — and notes their
/// blocks (not packed again). Block counts come from the store's block index (`index`, from
/// [`Store::car_blocks`]: no CAR is read); their cost is counted as their live blocks leave the
/// packing ([`Kept::cost`]).
fn keep_mostly_live(
    base: &State,
    old: &[String],
    live: &Live,
    index: Vec<(String, Vec<Cid>)>,
) -> Result<Kept> {
    let mut is_live = HashSet::default();
    for b in live.blocks() {
        is_live.insert(b.cid);
    }
    let mut roots: Vec<Cid> = base.head.iter().copied().chain(base.docs).collect();
    for idx in base.indexes.values() {
        for r in [&idx.keys, &idx.ids].into_iter().flatten() {
            roots.push(codec::parse_cid(r)?);
        }
    }
    let mut kept = Kept::default();
    for (car, cids) in index {
        let blocks = cids.len() as u64;
        let live_blocks = cids.iter().filter(|c| is_live.contains(*c)).count() as u64;
        // (a CAR committed after the listing is not listed: it stays anyway)
        if old.binary_search(&car).is_err()
            || blocks < KEEP_MIN_BLOCKS
            || live_blocks * KEEP_LIVE.1 < blocks * KEEP_LIVE.0
            || cids.iter().any(|c| roots.contains(c))
        {
            continue;
        }
        kept.blocks += blocks;
        kept.live_blocks += live_blocks;
        kept.cars.push(car);
        kept.held.extend(cids);
    }
    Ok(kept)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "compact_tests.rs"]
mod tests;
