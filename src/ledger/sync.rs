//! Bringing in heads from another replica (whose blocks are already in the store).
//!
//! Invariant: after [`Ledger::merge_heads`], the head is one event that descends from every head
//! given, and two replicas merging the same heads reach the same event.

use std::rc::Rc;

use cid::Cid;

use super::write::Committed;
use super::{Ledger, State};
use crate::clock::merge::{merge, EventSource};
use crate::clock::Event;
use crate::error::{Error, Result};
use crate::prolly::Node;
use crate::store::Store;

impl<S: Store> EventSource for super::blocks::Blocks<S> {
    async fn event(&self, cid: &Cid) -> Result<Event> {
        let bytes = self.block(cid).await?;
        Event::decode(&bytes)
            .map_err(|e| Error::corrupt(format!("event {}", crate::codec::cid_str(cid)), e))
    }
}

impl<S: Store> Ledger<S> {
    /// Merges the local head with `remote` heads into one merge event and commits it.
    pub async fn merge_heads(&self, remote: &[Cid]) -> Result<Committed> {
        self.check_open()?;
        let _guard = self.write_lock.lock().await;
        for _ in 0..16 {
            let base = self.snapshot();
            let mut heads = base.head.clone();
            heads.extend_from_slice(remote);
            let merged = merge(&self.blocks, &heads).await?;
            let ev = merged.event;
            let event_block = ev.encode()?;
            let state = State {
                car: None,
                head: vec![event_block.cid],
                docs: ev.root,
                changes: ev.changes,
                seq: ev.seq,
                count: ev.count,
                indexes: base.indexes.clone(),
                out: base.out.clone(),
            };
            let mut blocks: Vec<(crate::codec::Block, Option<Rc<Node>>)> =
                vec![(event_block, None)];
            blocks.extend(merged.blocks.into_iter().map(|(b, n)| (b, Some(n))));
            let p = self.seal(&base, state, blocks).await?;
            if let Some(done) = self.try_commit(&base, p).await? {
                return Ok(done);
            }
        }
        Err(Error::Storage(
            "merge kept conflicting with other writers".into(),
        ))
    }
}
