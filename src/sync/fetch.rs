//! A block source for merges that falls back to the remote: a block the local store lacks is
//! looked for in the next remote CARs of the manifest, newest first, fetched in growing parallel
//! batches (docs/sync.md §4).
//!
//! Invariant: a fetched CAR contributes blocks only after its name, GCM tag and every block CID
//! verified; a CAR that fails is skipped and its error kept, and reported if the block it might
//! have held is found nowhere.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use cid::Cid;

use super::record::manifest_in;
use super::{Remote, CARS};
use crate::car::open_car;
use crate::clock::merge::EventSource;
use crate::clock::Event;
use crate::codec::{cid_str, parse_cid, Block};
use crate::error::{Error, Result};
use crate::ledger::blocks::Blocks;
use crate::ledger::Source;
use crate::prolly::{Loader, Node};
use crate::store::{Store, StoredCar};

/// Largest number of CARs fetched at once.
const MAX_BATCH: usize = 16;

enum Next {
    Car(String),
    Manifest(String),
}

/// Local blocks first, then the remote's.
pub struct Fetcher<'a, S: Store, R: Remote> {
    local: &'a Blocks<S>,
    remote: &'a R,
    queue: RefCell<VecDeque<Next>>,
    /// CAR names never fetched: stored locally already, or fetched in this pull.
    skip: RefCell<HashSet<String>>,
    fetched: RefCell<HashMap<Cid, Rc<[u8]>>>,
    nodes: RefCell<HashMap<Cid, Rc<Node>>>,
    cars: RefCell<Vec<StoredCar>>,
    batch: RefCell<usize>,
    /// The first verification failure, reported if a block cannot be found.
    bad: RefCell<Option<Error>>,
    /// Bytes downloaded.
    pub bytes: RefCell<usize>,
}

impl<'a, S: Store, R: Remote> Fetcher<'a, S, R> {
    /// A fetcher over `manifest` (newest first); `local_cars` are never fetched. With `eager`,
    /// the first miss fetches everything (an empty replica needs it all).
    pub fn new(
        local: &'a Blocks<S>,
        remote: &'a R,
        manifest: &super::record::Manifest,
        local_cars: HashSet<String>,
        eager: bool,
    ) -> Self {
        let mut queue: VecDeque<Next> = manifest.cars.iter().cloned().map(Next::Car).collect();
        queue.extend(manifest.more.iter().cloned().map(Next::Manifest));
        Fetcher {
            local,
            remote,
            queue: RefCell::new(queue),
            skip: RefCell::new(local_cars),
            fetched: RefCell::new(HashMap::new()),
            nodes: RefCell::new(HashMap::new()),
            cars: RefCell::new(Vec::new()),
            batch: RefCell::new(if eager { usize::MAX } else { 1 }),
            bad: RefCell::new(None),
            bytes: RefCell::new(0),
        }
    }

    /// Takes the next batch of CAR names to fetch (manifest CARs count as CARs).
    fn next_batch(&self) -> Vec<Next> {
        let want = *self.batch.borrow();
        let mut q = self.queue.borrow_mut();
        let mut skip = self.skip.borrow_mut();
        let mut out = Vec::new();
        while out.len() < want.min(MAX_BATCH) {
            let Some(n) = q.pop_front() else { break };
            let name = match &n {
                Next::Car(s) | Next::Manifest(s) => s.clone(),
            };
            if skip.insert(name) {
                out.push(n);
            }
        }
        let mut b = self.batch.borrow_mut();
        *b = b.saturating_mul(2);
        out
    }

    /// Fetches one batch; false when the manifest is exhausted.
    async fn fetch_more(&self) -> Result<bool> {
        let batch = self.next_batch();
        if batch.is_empty() {
            return Ok(false);
        }
        let gets = batch.iter().map(|n| {
            let name = match n {
                Next::Car(s) | Next::Manifest(s) => s.clone(),
            };
            async move {
                let got = self.remote.get(&format!("{CARS}{name}")).await;
                (name, got)
            }
        });
        let results = futures::future::join_all(gets).await;
        let mut front = Vec::new();
        for (name, got) in results {
            let Some(bytes) = got? else {
                self.note_bad(Error::corrupt(&name, "car is missing on the remote"));
                continue;
            };
            *self.bytes.borrow_mut() += bytes.len();
            match self.accept(&name, bytes).await {
                Ok(Some(m)) => {
                    front.extend(m.cars.into_iter().map(Next::Car));
                    front.extend(m.more.into_iter().map(Next::Manifest));
                }
                Ok(None) => {}
                Err(e) => self.note_bad(e),
            }
        }
        // a manifest's names are older than what it was rolled behind, newer than what follows
        let mut q = self.queue.borrow_mut();
        for n in front.into_iter().rev() {
            q.push_front(n);
        }
        Ok(true)
    }

    fn note_bad(&self, e: Error) {
        self.bad.borrow_mut().get_or_insert(e);
    }

    /// Verifies a fetched CAR; keeps its blocks (data CAR) or returns its manifest.
    async fn accept(&self, name: &str, bytes: Vec<u8>) -> Result<Option<super::record::Manifest>> {
        let cid = parse_cid(name).map_err(|_| Error::corrupt(name, "bad car name"))?;
        let (roots, blocks) = open_car(self.local.aead(), &cid, &bytes).await?;
        if let Some(m) = manifest_in(name, &roots, &blocks)? {
            return Ok(Some(m));
        }
        let mut f = self.fetched.borrow_mut();
        for b in &blocks {
            f.insert(b.cid, Rc::from(b.bytes.as_slice()));
        }
        self.cars.borrow_mut().push(StoredCar {
            name: name.to_string(),
            bytes,
            cids: blocks.iter().map(|b: &Block| cid_str(&b.cid)).collect(),
        });
        Ok(None)
    }
}

impl<S: Store, R: Remote> Source for Fetcher<'_, S, R> {
    async fn raw(&self, cid: &Cid) -> Result<Rc<[u8]>> {
        loop {
            if let Some(b) = self.fetched.borrow().get(cid) {
                return Ok(b.clone());
            }
            match self.local.block(cid).await {
                Err(Error::MissingBlock(_)) => {}
                other => return other,
            }
            if !self.fetch_more().await? {
                return Err(self
                    .bad
                    .borrow()
                    .clone()
                    .unwrap_or_else(|| Error::MissingBlock(cid_str(cid))));
            }
        }
    }

    fn add_created(&self, blocks: &[(Block, Rc<Node>)]) {
        let mut f = self.fetched.borrow_mut();
        let mut n = self.nodes.borrow_mut();
        for (b, node) in blocks {
            f.insert(b.cid, Rc::from(b.bytes.as_slice()));
            n.insert(b.cid, node.clone());
        }
    }

    fn fetched_cars(&self) -> Vec<StoredCar> {
        self.cars.borrow().clone()
    }
}

impl<S: Store, R: Remote> Loader for Fetcher<'_, S, R> {
    async fn load(&self, cid: &Cid) -> Result<Rc<Node>> {
        if let Some(n) = self.nodes.borrow().get(cid) {
            return Ok(n.clone());
        }
        if !self.fetched.borrow().contains_key(cid) {
            match self.local.load(cid).await {
                Err(Error::MissingBlock(_)) => {}
                other => return other,
            }
        }
        let bytes = self.raw(cid).await?;
        let node = Rc::new(
            Node::decode(&bytes)
                .map_err(|e| Error::corrupt(format!("block {}", cid_str(cid)), e))?,
        );
        self.nodes.borrow_mut().insert(*cid, node.clone());
        Ok(node)
    }
}

impl<S: Store, R: Remote> EventSource for Fetcher<'_, S, R> {
    async fn event(&self, cid: &Cid) -> Result<Event> {
        let bytes = self.raw(cid).await?;
        Event::decode(&bytes).map_err(|e| Error::corrupt(format!("event {}", cid_str(cid)), e))
    }
}
