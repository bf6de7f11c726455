//! Re-keying: a ledger that already has data joins a shared ledger, whose key it must take.
//!
//! Every live block (the same set compaction keeps) is packed into fresh CARs sealed with the new
//! key, and those CARs, the header and the new key are written in one atomic commit; the old CARs
//! (unreadable under the new key) are deleted afterwards. Block CIDs do not depend on the key, so
//! documents, head, indexes and history are unchanged. Invariant: the stored key always opens
//! every CAR the stored header needs, and this handle seals with the stored key: it takes the new
//! cipher in the same step (a compaction packed under the old one is dropped, never committed).
//! Other handles (other tabs) must reopen.

use crate::HashSet;

use super::Ledger;
use crate::crypto::Key;
use crate::error::Result;
use crate::store::{CommitOutcome, CommitWrite, Store};

impl<S: Store> Ledger<S> {
    /// Re-encrypts the ledger under `key` and goes on under it. Its sync outbox then holds every
    /// new CAR (a remote under that key has none of them).
    pub async fn rekey(&self, key: &Key) -> Result<()> {
        self.check_open()?;
        let _guard = self.write_lock.lock().await;
        let aead = self.store.aead(key).await?;
        loop {
            self.check_open()?;
            let base = self.snapshot();
            let Some(expect) = base.car.clone() else {
                // nothing stored yet: only the key changes
                if self.store.replace_key_if_empty(key).await? {
                    self.blocks.set_aead(aead);
                    return Ok(());
                }
                self.reload_forced().await?; // another tab committed first: re-encrypt that
                continue;
            };
            let old = self.store.list_cars(false).await?;
            let mut live = self.live_blocks(&base, super::compact::EVENTS_KEPT).await?;
            // File CARs are sealed under their own keys (in the documents): kept as they are.
            // Only those stored here (a synced document's files may never have been fetched).
            let mut stored: HashSet<String> =
                self.store.list_cars(true).await?.into_iter().collect();
            let mut files = std::mem::take(&mut live.files);
            files.retain(|f| stored.remove(f)); // stored here, each once
            let (cars, last) = self.pack(&aead, &base, live.ordered()).await?;
            // the new CARs and the kept file CARs: the outbox, and all that stays stored
            let mut out = files;
            out.extend(cars.iter().map(|c| c.name.clone()));
            let keep: HashSet<&String> = out.iter().collect();
            let stale: Vec<String> = old.into_iter().filter(|c| !keep.contains(c)).collect();
            let mut state = (*base).clone();
            state.car = Some(last.clone());
            state.out = Some(out);
            state.held = 0; // every live block is in the outbox now
            state.rev += 1;
            let write = CommitWrite {
                expect: Some(expect),
                header: state.to_header(&last),
                cars,
                staged: Vec::new(),
            };
            match self.store.commit_with_key(write, key).await? {
                CommitOutcome::Committed => {
                    self.blocks.set_aead(aead);
                    self.adopt(state, true);
                    return self.store.remove_cars(&stale).await;
                }
                CommitOutcome::Conflict => self.reload_forced().await?,
            }
        }
    }
}
