//! The fallback a pull gives the ledger's blocks: a block the local store lacks is looked for
//! in the next remote CARs of the manifest, newest first, fetched in growing batches
//! (docs/sync.md §4). Manifest CARs met on the way are expanded in place.
//!
//! Invariant: a fetched CAR contributes blocks only after its name, GCM tag and every block CID
//! verified; a CAR that fails is skipped and its error kept, and reported if the block it might
//! have held is found nowhere.

use crate::HashSet;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::record::{manifest_in, Manifest};
use super::{Remote, CARS};
use crate::car::open_car;
use crate::codec::{parse_cid, Block};
use crate::error::{Error, Result};
use crate::ledger::blocks::MoreBlocks;
use crate::ledger::Fallback;
use crate::store::{Store, StoredCar};

/// Largest number of CARs fetched at once.
const MAX_BATCH: usize = 16;

/// Remote CARs of one manifest, fetched on demand.
pub struct Fetcher<S: Store, R: Remote> {
    aead: Rc<S::Aead>,
    remote: R,
    /// CAR names still to fetch, the next one last (manifest CARs are told apart when opened).
    queue: RefCell<Vec<String>>,
    /// CAR names never fetched: stored locally already, or fetched in this pull.
    skip: RefCell<HashSet<String>>,
    cars: RefCell<Vec<StoredCar>>,
    batch: Cell<usize>,
    /// The first verification failure, reported if the manifest runs out.
    bad: RefCell<Option<Error>>,
    /// Bytes downloaded.
    pub bytes: Cell<usize>,
}

impl<S: Store, R: Remote> Fetcher<S, R> {
    /// A fetcher over `manifest` (newest first) that never fetches `local_cars`. With `eager`,
    /// the first miss fetches everything (an empty replica needs it all).
    pub fn new(
        aead: Rc<S::Aead>,
        remote: R,
        manifest: &Manifest,
        local_cars: HashSet<String>,
        eager: bool,
    ) -> Self {
        // the next one last: the manifest's names reversed
        let mut queue = Vec::with_capacity(manifest.cars.len() + manifest.more.len());
        queue.extend(manifest.more.iter().rev().cloned());
        queue.extend(manifest.cars.iter().rev().cloned());
        Fetcher {
            aead,
            remote,
            queue: RefCell::new(queue),
            skip: RefCell::new(local_cars),
            cars: RefCell::new(Vec::new()),
            batch: Cell::new(if eager { usize::MAX } else { 1 }),
            bad: RefCell::new(None),
            bytes: Cell::new(0),
        }
    }

    /// Takes the next batch of names to fetch; the batch doubles each time.
    fn next_batch(&self) -> Vec<String> {
        let b = self.batch.get();
        let want = b.min(MAX_BATCH);
        self.batch.set(b.saturating_mul(2));
        let mut q = self.queue.borrow_mut();
        let mut skip = self.skip.borrow_mut();
        let mut out = Vec::new();
        while out.len() < want {
            let Some(n) = q.pop() else { break };
            if skip.insert(n.clone()) {
                out.push(n);
            }
        }
        out
    }

    /// Fetches one batch: the verified blocks of its data CARs; `None` when nothing is left.
    async fn fetch_more(&self) -> Result<Option<Vec<Block>>> {
        let names = self.next_batch();
        if names.is_empty() {
            return Ok(None);
        }
        let mut keys = Vec::with_capacity(names.len());
        for n in &names {
            keys.push(super::key(CARS, n));
        }
        let got = self.remote.get_many(&keys).await?;
        let mut blocks = Vec::new();
        let mut front = Vec::new();
        for (name, bytes) in names.into_iter().zip(got) {
            let Some(bytes) = bytes else {
                self.note_bad(Error::corrupt(&name, "car is missing on the remote"));
                continue;
            };
            self.bytes.set(self.bytes.get() + bytes.len());
            match self.accept(&name, bytes, &mut blocks).await {
                Ok(Some(m)) => {
                    front.extend(m.cars);
                    front.extend(m.more);
                }
                Ok(None) => {}
                Err(e) => self.note_bad(e),
            }
        }
        // a manifest CAR's names come before what followed it in the queue
        front.reverse();
        self.queue.borrow_mut().append(&mut front);
        Ok(Some(blocks))
    }

    fn note_bad(&self, e: Error) {
        self.bad.borrow_mut().get_or_insert(e);
    }

    /// Verifies a fetched CAR: its blocks join `out` (data CAR) or its manifest is returned.
    async fn accept(
        &self,
        name: &str,
        bytes: Vec<u8>,
        out: &mut Vec<Block>,
    ) -> Result<Option<Manifest>> {
        let cid = parse_cid(name).map_err(|_| Error::corrupt(name, "bad car name"))?;
        let (roots, blocks) = open_car(&*self.aead, &cid, &bytes).await?;
        if let Some(m) = manifest_in(name, &roots, &blocks)? {
            return Ok(Some(m));
        }
        self.cars.borrow_mut().push(StoredCar {
            name: name.to_string(),
            bytes,
            cids: blocks.iter().map(|b| b.cid).collect(),
        });
        out.extend(blocks);
        Ok(None)
    }
}

impl<S: Store + 'static, R: Remote + 'static> Fallback for Fetcher<S, R> {
    fn more(&self) -> MoreBlocks<'_> {
        Box::pin(async move {
            match self.fetch_more().await? {
                Some(b) => Ok(Some(b)),
                None => match self.bad.borrow().clone() {
                    Some(e) => Err(e),
                    None => Ok(None),
                },
            }
        })
    }

    fn cars(&self) -> Vec<StoredCar> {
        self.cars.borrow().clone()
    }
}
