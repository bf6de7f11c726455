//! Recovery of a ledger whose header record is gone while its CARs remain (a store partly
//! cleared or damaged outside the engine): the state is rebuilt from the newest commit that the
//! stored CARs hold (docs/format.md §8.1), instead of starting an empty ledger over data that
//! compaction would then delete.
//!
//! Invariant: nothing stored is rewritten or deleted here; the rebuilt header is committed only
//! where no header exists (compare-and-set against none), so a header another tab wrote wins.

use cid::Cid;

use super::{Ledger, State};
use crate::clock::Event;
use crate::codec;
use crate::error::{Error, Result};
use crate::store::{CommitOutcome, CommitWrite, Gc, Store};

impl<S: Store> Ledger<S> {
    /// Rebuilds and commits the header from the stored CARs, if there are any (called by an open
    /// that found no header). The newest commit is the head event of highest seq (ties: the
    /// highest CID) that a commit block (a CAR's root) names. Indexes start empty (rebuilt by the
    /// next query) and the sync outbox absent (the next attach lists every stored CAR into it);
    /// `gc` counts every stored byte as garbage, so compaction is due and removes what the
    /// rebuilt state does not need. A CAR that cannot be read fails the open with its code
    /// (`CORRUPT`, `DECRYPT`), and nothing is written.
    pub(super) async fn recover(&self) -> Result<()> {
        let mut heads: Vec<(Cid, String)> = Vec::new();
        let mut stored = 0;
        for name in self.store.list_cars(false).await? {
            let (roots, blocks) = match self.blocks.load_car(&name).await {
                Ok(car) => car,
                Err(Error::MissingBlock(_)) => continue, // deleted since listed
                Err(e) => return Err(e),
            };
            for b in &blocks {
                stored += b.bytes.len() as u64;
                let links = match roots.contains(&b.cid) {
                    true => codec::decode(&b.bytes).ok(),
                    false => None,
                };
                let links = links.and_then(|v| codec::as_links(codec::field(&v, "head")));
                heads.extend(links.into_iter().flatten().map(|h| (h, name.clone())));
            }
        }
        // the events were cached with their CARs (read again if the cache let them go)
        let mut best: Option<(u64, Cid, Event, String)> = None;
        for (head, name) in heads {
            let Some(e) = self
                .blocks
                .block(&head)
                .await
                .ok()
                .and_then(|b| Event::decode(&b).ok())
            else {
                continue;
            };
            if best
                .as_ref()
                .is_none_or(|(s, c, ..)| (e.seq, head) > (*s, *c))
            {
                best = Some((e.seq, head, e, name));
            }
        }
        let Some((seq, head, event, car)) = best else {
            return Ok(());
        };
        let state = State {
            car: Some(car.clone()),
            head: vec![head],
            docs: event.root,
            seq,
            count: event.count,
            gc: Some(Gc { live: 0, stored }),
            rev: 1, // over no header (revision 0)
            ..State::default()
        };
        let write = CommitWrite {
            expect: None,
            cars: Vec::new(),
            staged: Vec::new(),
            header: state.to_header(&car),
        };
        match self.store.commit(write).await? {
            CommitOutcome::Committed => {
                self.adopt(state, true);
                Ok(())
            }
            CommitOutcome::Conflict => self.reload_forced().await,
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "recover_tests.rs"]
mod tests;
