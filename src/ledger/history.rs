//! History: read-only views of older states (`db.at(clock)`) and rollback to one
//! (docs/format.md §15).
//!
//! A view is the state an event records (its trees, seq and count), with no indexes. Invariant:
//! a view answers from exactly that state or fails with `HISTORY_GONE` (an event or tree node
//! compaction removed, or a clock this ledger never had) — never with partial data. A rollback is
//! one ordinary commit, built on the state it replaces, whose documents equal the view's.

use std::rc::Rc;

use cid::Cid;

use super::write::{conflict, Committed, FAST_ATTEMPTS};
use super::{Ledger, State};
use crate::clock::Event;
use crate::doc::WriteOp;
use crate::error::{Error, Result};
use crate::prolly::{self, Loader};
use crate::store::Store;

/// A read of an older state that needed a block this ledger no longer stores.
pub fn gone(e: Error) -> Error {
    match e {
        Error::MissingBlock(c) => Error::HistoryGone(format!(
            "block {c} of that state is not stored (compacted away, or another ledger's clock)"
        )),
        e => e,
    }
}

impl<S: Store> Ledger<S> {
    /// The state at `clock` (a clock returned by a write, `allDocs` or `changes`): the empty
    /// state for `[]`, the current one for the current head.
    pub async fn view(&self, clock: &[Cid]) -> Result<Rc<State>> {
        self.check_open()?;
        let cur = self.snapshot();
        let c = match clock {
            [] => return Ok(Rc::new(State::default())),
            [c] => c,
            _ => return Err(Error::InvalidArg("a clock of several heads".into())),
        };
        if cur.head.as_slice() == [*c] {
            return Ok(cur);
        }
        let bytes = self.blocks.block(c).await.map_err(gone)?;
        let ev = Event::decode(&bytes).map_err(|e| Error::corrupt("clock event", e))?;
        // a compacted tree is gone from its root down: check the roots now
        if let Some(r) = ev.root {
            self.blocks.load(&r).await.map_err(gone)?;
        }
        Ok(Rc::new(State {
            head: vec![*c],
            docs: ev.root,
            seq: ev.seq,
            count: ev.count,
            ..State::default()
        }))
    }

    /// Commits the documents of the state at `clock` as one new write (documents written since
    /// then are restored or deleted). Nothing to change: no commit. A write that lands between
    /// the diff and the commit (the package runs this under the commit lock, so only without Web
    /// Locks) is diffed again and undone by a second commit.
    pub async fn rollback(&self, clock: &[Cid]) -> Result<Committed> {
        let view = self.view(clock).await?;
        for _ in 0..FAST_ATTEMPTS {
            let base = self.snapshot();
            let ops = self.rollback_ops(&base, &view).await.map_err(gone)?;
            if ops.is_empty() {
                return Ok(Committed {
                    head: base.head.clone(),
                    seq: base.seq,
                });
            }
            let done = self.write(ops).await?;
            if done.seq == base.seq + 1 {
                return Ok(done);
            }
        }
        Err(conflict())
    }

    /// The writes that turn `base`'s documents into `view`'s.
    async fn rollback_ops(&self, base: &State, view: &State) -> Result<Vec<WriteOp>> {
        let mut changed = Vec::new();
        self.blocks
            .settle(&mut || {
                changed = prolly::diff(&self.blocks, base.docs, view.docs)?;
                Ok(())
            })
            .await?;
        let mut ops = Vec::new();
        for (k, _, then) in changed {
            let id =
                String::from_utf8(k).map_err(|_| Error::corrupt("docs tree", "id is not utf-8"))?;
            let want = match then {
                Some(_) => self.get_in(view, &id).await?,
                None => None,
            };
            if want == self.get_in(base, &id).await? {
                continue; // the same document (or deleted on both sides), written again since
            }
            ops.push(WriteOp { id, body: want });
        }
        Ok(ops)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "history_tests.rs"]
mod tests;
