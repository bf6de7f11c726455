//! Bringing in heads from another replica: fast-forward or deterministic merge, committed like a
//! local write together with the CARs the heads' blocks came from.
//!
//! Invariants: the head afterwards is a function of the set of written events held (heads that
//! are ancestors of others are dropped; one head left is adopted as is, several are merged into
//! one event that every replica computes byte for byte; a merge is held back from the outbox
//! until a write builds on it, and until then stands for its parents: docs/sync.md §4); the new
//! state's trees are complete in the store once committed (every node not shared with the
//! previous state was loaded through the source, and the CARs it came from are stored in the same
//! transaction as the header).

use std::rc::Rc;

use cid::Cid;

use super::blocks::{Blocks, Fallback};
use super::write::Committed;
use super::{Ledger, State};
use crate::clock::merge::{plan, reduce, Events, EventsNow};
use crate::clock::Event;
use crate::codec::Block;
use crate::doc::LeafMeta;
use crate::error::{Error, Result};
use crate::prolly::{walk_new, Node};
use crate::store::Store;

impl<S: Store> EventsNow for Blocks<S> {
    fn event_now(&self, cid: &Cid) -> Result<Event> {
        Event::decode(&self.now(cid)?)
            .map_err(|e| Error::corrupt(format!("event {}", crate::codec::cid_str(cid)), e))
    }
}

/// Checks that every node of the new trees not shared with the old state, and every separately
/// stored document the new documents tree references from those nodes, is in memory (run under
/// [`Blocks::settle`], which loads them: through the blocks' fallback when the store lacks them).
pub(super) fn new_state_loaded<S: Store>(src: &Blocks<S>, old: &State, new: &State) -> Result<()> {
    let mut refs = Vec::new();
    walk_new(src, old.docs, new.docs, &mut |n| {
        if n.level == 0 {
            for (_, v) in &n.entries {
                let meta = LeafMeta::read(v).map_err(|e| Error::corrupt("docs tree", e))?;
                refs.extend(meta.doc_ref);
            }
        }
        Ok(())
    })?;
    let mut missing = Ok(());
    for r in &refs {
        if let Err(e) = src.now(r) {
            missing = Err(e);
        }
    }
    missing
}

/// True if `heads` (sorted, as [`reduce`] gives them) are the local `head` (or a held merge's
/// parents).
fn same_heads(heads: &[Cid], head: &[Cid]) -> bool {
    let mut current = head.to_vec();
    crate::sort::sort_cids(&mut current);
    heads == current
}

/// `write` with the CARs `fetch` fetched that it does not hold already.
fn with_fetched(
    mut write: crate::store::CommitWrite,
    fetch: Option<&dyn Fallback>,
) -> crate::store::CommitWrite {
    if let Some(f) = fetch {
        let own = write.cars.len();
        for c in f.cars() {
            if !write.cars[..own].iter().any(|w| w.name == c.name) {
                write.cars.push(c);
            }
        }
    }
    write
}

impl<S: Store> Ledger<S> {
    /// Merges the local head with `remote` heads, reading blocks from the ledger's store.
    pub async fn merge_heads(&self, remote: &[Cid]) -> Result<Committed> {
        match self.adopt_heads(None, remote).await? {
            Some(c) => Ok(c),
            None => {
                let s = self.snapshot();
                Ok(Committed {
                    head: s.head.clone(),
                    seq: s.seq,
                })
            }
        }
    }

    /// Brings `remote` heads into the ledger: nothing if they are already in the local history
    /// (`None`), else a fast-forward or a merge event. Blocks the store lacks come through
    /// `fetch`, and the CARs it fetched are committed with the new header. A merge's CARs are
    /// held back from the sync outbox until a write builds on the merge; a fast-forward has none.
    pub async fn adopt_heads(
        &self,
        fetch: Option<Rc<dyn Fallback>>,
        remote: &[Cid],
    ) -> Result<Option<Committed>> {
        self.check_open()?;
        let _guard = self.write_lock.lock().await;
        self.blocks.set_fallback(fetch.clone());
        let done = self.adopt_locked(fetch.as_deref(), remote).await;
        self.blocks.set_fallback(None);
        done
    }

    /// The heads `state` stands for: its head, or a held merge's parents (docs/sync.md §4). A
    /// plain step over blocks in memory: run it under [`Blocks::settle`].
    pub(crate) fn announced_heads(&self, state: &State) -> Result<Vec<Cid>> {
        match (state.held, &state.head[..]) {
            (1.., [h]) => Ok(self.blocks.event_now(h)?.parents),
            _ => Ok(state.head.clone()),
        }
    }

    async fn adopt_locked(
        &self,
        fetch: Option<&dyn Fallback>,
        remote: &[Cid],
    ) -> Result<Option<Committed>> {
        let src = &self.blocks;
        loop {
            self.check_open()?;
            let base = self.snapshot();
            // A held-back merge stands for its parents (docs/sync.md §4): merging from them makes
            // the result depend on the written events alone, whatever this replica merged before.
            let mut local = base.head.clone();
            let mut events = Events::default();
            let mut heads = Vec::new();
            src.settle(&mut || {
                local = self.announced_heads(&base)?;
                let mut all = local.clone();
                all.extend_from_slice(remote);
                heads = reduce(src, &all, &mut events)?;
                Ok(())
            })
            .await?;
            if same_heads(&heads, &local) {
                return Ok(None);
            }
            let mut blocks: Vec<(Block, Option<Rc<Node>>)> = Vec::new();
            let fast_forward = heads.len() == 1;
            let (head, ev) = if fast_forward {
                let ev = events
                    .remove(&heads[0])
                    .ok_or_else(|| Error::Internal("reduce".into()))?;
                (heads, ev)
            } else {
                let mut p = None;
                src.settle(&mut || {
                    p = Some(plan(src, &heads, &mut events)?);
                    Ok(())
                })
                .await?;
                let p = p.ok_or_else(|| Error::Internal("merge".into()))?;
                let docs =
                    crate::prolly::apply(src, p.root, p.doc_edits, super::write::LEAF_SEQ).await?;
                blocks.extend(docs.blocks.into_iter().map(|(b, n)| (b, Some(n))));
                src.insert_fresh(&blocks);
                let ev = Event {
                    parents: p.parents,
                    root: docs.root,
                    seq: p.seq,
                    count: p.count,
                };
                let event_block = ev.encode()?;
                let head = vec![event_block.cid];
                blocks.insert(0, (event_block, None));
                (head, ev)
            };
            let state = State {
                car: None,
                head,
                docs: ev.root,
                seq: ev.seq,
                count: ev.count,
                indexes: base.indexes.clone(),
                out: base.out.clone(),
                held: 0,
                gc: base.gc,
                rev: base.rev,
            };
            src.settle(&mut || new_state_loaded(src, &base, &state))
                .await?;
            let mut p = self.seal(&base, state, blocks).await?;
            // The remote already has every block of a fast-forward: nothing to push. A merge is
            // held back at the outbox's end: every replica holding its parents computes it, so it
            // is pushed only once a write builds on it. An earlier held merge leaves the outbox:
            // nothing builds on it.
            if let Some(out) = &mut p.state.out {
                let own = if fast_forward { 0 } else { p.cars.len() };
                let keep = base.to_push().len();
                out.drain(keep..out.len() - own);
                p.state.held = own as u64;
            }
            let write = with_fetched(p.to_write(base.car.clone()), fetch);
            match self.store.commit(write).await? {
                crate::store::CommitOutcome::Committed => {
                    self.blocks.insert_fresh(&p.blocks);
                    let done = Committed {
                        head: p.state.head.clone(),
                        seq: p.state.seq,
                    };
                    self.adopt(p.state, true);
                    return Ok(Some(done));
                }
                crate::store::CommitOutcome::Conflict => self.reload_forced().await?,
            }
        }
    }
}

/// The header's sync outbox (`None` until first attached).
type Outbox = Option<Vec<String>>;

impl<S: Store> Ledger<S> {
    /// Starts tracking the sync outbox (first attach): every stored CAR is put in it once, so a
    /// remote receives everything the ledger already holds. No effect when already tracking.
    pub async fn start_outbox(&self) -> Result<()> {
        self.check_open()?;
        if self.snapshot().out.is_some() {
            return Ok(());
        }
        // The CARs are listed under the write lock, after the state each attempt builds on: a
        // commit landing after the listing moves the header, so that attempt's compare-and-set
        // fails and the next one lists again (no commit is left out of the outbox).
        self.rewrite_outbox(true, &|out, cars| match out {
            Some(o) => Some(o.clone()),
            None => Some(cars.to_vec()),
        })
        .await
    }

    /// Removes pushed CARs from the outbox (a header-only commit).
    pub async fn outbox_done(&self, pushed: &[String]) -> Result<()> {
        self.check_open()?;
        let pushed: crate::HashSet<&String> = pushed.iter().collect();
        self.rewrite_outbox(false, &|out, _| {
            let mut left = Vec::new();
            for c in out.as_deref()? {
                if !pushed.contains(c) {
                    left.push(c.clone());
                }
            }
            Some(left)
        })
        .await
    }

    /// Commits the outbox `f` makes of the current one (and, with `list`, of the stored CARs'
    /// names, listed after the state it builds on).
    async fn rewrite_outbox(
        &self,
        list: bool,
        f: &dyn Fn(&Outbox, &[String]) -> Outbox,
    ) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        loop {
            self.check_open()?;
            let base = self.snapshot();
            let cars = match list && base.out.is_none() {
                true => self.store.list_cars(false).await?,
                false => Vec::new(),
            };
            let out = f(&base.out, &cars);
            if out == base.out {
                return Ok(());
            }
            let Some(car) = base.car.clone() else {
                // nothing committed yet: the outbox starts with the first commit's header
                let mut next = (*base).clone();
                next.out = out;
                *self.state.borrow_mut() = Rc::new(next);
                return Ok(());
            };
            let mut next = (*base).clone();
            next.out = out;
            next.rev += 1;
            let write = crate::store::CommitWrite {
                expect: Some(car.clone()),
                cars: Vec::new(),
                staged: Vec::new(),
                header: next.to_header(&car),
            };
            match self.store.commit(write).await? {
                crate::store::CommitOutcome::Committed => {
                    self.adopt(next, true);
                    return Ok(());
                }
                crate::store::CommitOutcome::Conflict => self.reload_forced().await?,
            }
        }
    }
}

impl<S: Store> Ledger<S> {
    /// Whether `key` is (or has just become) this ledger's key: a ledger without commits takes
    /// it (the ledger must then be reopened); one with data keeps its own key (false).
    pub async fn adopt_key(&self, key: &crate::crypto::Key) -> Result<bool> {
        self.check_open()?;
        let current = self.store.ensure_key(key).await?;
        if current.as_bytes() == key.as_bytes() {
            return Ok(true);
        }
        if self.snapshot().car.is_some() {
            return Ok(false);
        }
        let replaced = self.store.replace_key_if_empty(key).await?;
        if replaced {
            self.blocks.set_aead(self.store.aead(key).await?); // seal with it from now on
        }
        Ok(replaced)
    }
}
