//! Fireproof's per-row `clock` in `changes`: the clock event that wrote each row's version.
//!
//! A row's leaf carries the seq of the event that stamped it, and that event lies on the
//! first-parent chain of the state's head: a commit keeps every leaf of its parent's tree it does
//! not write, and a merge keeps its first head's leaves except the ones it re-stamps with its own
//! seq (docs/format.md §5). Invariant: a row is linked to the event of its seq on that chain, or
//! to nothing when the walk cannot reach it (an event compaction dropped, a walk past
//! [`MAX_WALK`] events, a state with several heads); never to another event.

use std::rc::Rc;

use cid::Cid;

use super::{DocRow, Ledger, State};
use crate::clock::Event;
use crate::error::Result;
use crate::store::Store;

/// At most this many events are read per call: the number compaction keeps.
const MAX_WALK: usize = super::EVENTS_KEPT as usize;

impl<S: Store> Ledger<S> {
    /// [`Ledger::changes`] (`at` = `None`) or [`Ledger::changes_at`], with the event that wrote
    /// each row (see the module's doc).
    pub async fn changes_linked(
        &self,
        at: Option<Rc<State>>,
        since: &[Cid],
        limit: Option<usize>,
    ) -> Result<(Vec<DocRow>, Vec<Option<Cid>>, Rc<State>)> {
        let state = match at {
            Some(state) => state,
            None => {
                self.check_open()?;
                self.snapshot()
            }
        };
        let after = self.since_seq(since).await;
        let (rows, seqs) = self.changes_in(&state, after, limit).await?;
        let events = self.events_of(&state, &seqs).await;
        Ok((rows, events, state))
    }

    /// The event of each seq in `seqs` (ascending) on the first-parent chain of `state`'s head.
    async fn events_of(&self, state: &State, seqs: &[u64]) -> Vec<Option<Cid>> {
        let mut out = vec![None; seqs.len()];
        let mut left = seqs.len(); // rows not yet passed, from the newest down
        let mut next = match state.head.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        for _ in 0..MAX_WALK {
            let Some(cid) = next.filter(|_| left > 0) else {
                break;
            };
            // an event that cannot be read (compacted away) ends the walk: the rows below it
            // stay unlinked
            let Some(event) = self.event(&cid).await else {
                break;
            };
            while left > 0 && seqs[left - 1] >= event.seq {
                left -= 1;
                if seqs[left] == event.seq {
                    out[left] = Some(cid);
                }
            }
            next = event.parents.first().copied();
        }
        out
    }

    /// The event `cid`, if it is stored and reads.
    pub(super) async fn event(&self, cid: &Cid) -> Option<Event> {
        Event::decode(&self.blocks.block(cid).await.ok()?).ok()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "row_clock_tests.rs"]
mod tests;
