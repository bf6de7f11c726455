//! The ledger's block access: a bounded cache of blocks and decoded nodes in front of the store.
//!
//! A missing block is found through the store's location index; its whole CAR is read, decrypted
//! (the GCM tag authenticates it) and its blocks cached. Invariant: memory stays within the cache
//! budgets whatever the ledger's size, and every block handed out was verified against its CID
//! when its CAR entered the store (written here, or fetched and verified by a pull), or, for a
//! block pinned unverified (an archive being imported), when it is first handed out.

use crate::HashMap;
use std::cell::{Cell, RefCell};
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::rc::Rc;

use cid::Cid;

use crate::car::open_stored_car;
use crate::codec::{cid_of, cid_str, parse_cid, Block};
use crate::error::{Error, Result};
use crate::prolly::{Loader, Node};
use crate::store::Store;

/// Byte budget of each cache generation (two generations per cache).
const GENERATION_BYTES: usize = 16 * 1024 * 1024;

/// A two-generation cache: entries move to the young map when used; when the young map is full
/// it becomes the old one and the previous old map is dropped. Bounded by 2 × the budget.
struct GenCache<K, V> {
    young: HashMap<K, (V, usize)>,
    old: HashMap<K, (V, usize)>,
    young_bytes: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> GenCache<K, V> {
    fn new() -> Self {
        GenCache {
            young: HashMap::default(),
            old: HashMap::default(),
            young_bytes: 0,
        }
    }

    fn get(&mut self, k: &K) -> Option<V> {
        if let Some((v, _)) = self.young.get(k) {
            return Some(v.clone());
        }
        let (v, size) = self.old.remove(k)?;
        self.insert(k.clone(), v.clone(), size);
        Some(v)
    }

    fn insert(&mut self, k: K, v: V, size: usize) {
        if self.young_bytes + size > GENERATION_BYTES {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.young_bytes += size;
        if let Some((_, prev)) = self.young.insert(k, (v, size)) {
            self.young_bytes -= prev;
        }
    }
}

/// A pinned block: its pin count, bytes, decoded node, and whether its bytes are still to be
/// checked against its CID ([`Blocks::pin_unverified`]).
type Pinned = (usize, Rc<[u8]>, Option<Rc<Node>>, bool);

/// What [`Fallback::more`] returns: verified blocks, or `None` when nothing is left.
pub type MoreBlocks<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<Vec<Block>>>> + 'a>>;

/// Where blocks the store lacks can still come from (a sync remote during a pull). One dynamic
/// type, so the tree and merge code is instantiated once whatever the source.
pub trait Fallback {
    /// Fetches and verifies more blocks; `None` when there is nothing left to fetch.
    fn more(&self) -> MoreBlocks<'_>;
    /// The sealed CARs the fetched blocks came from, to store with the commit that uses them.
    fn cars(&self) -> Vec<crate::store::StoredCar>;
}

/// Counters exposed for tests and the demo's stats panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub car_reads: u64,
    pub locates: u64,
}

/// Block and node access for one ledger.
pub struct Blocks<S: Store> {
    store: Rc<S>,
    /// Replaced when the ledger takes another key ([`Blocks::set_aead`]).
    aead: RefCell<Rc<S::Aead>>,
    raw: RefCell<GenCache<Cid, Rc<[u8]>>>,
    nodes: RefCell<GenCache<Cid, Rc<Node>>>,
    /// Blocks of indexes built in memory and not stored yet (never evicted), with pin counts.
    pinned: RefCell<HashMap<Cid, Pinned>>,
    /// The newest CAR, read first on a miss instead of asking the location index.
    hint: RefCell<Option<String>>,
    stats: Cell<Stats>,
    /// While set, misses are fetched through it into `fetched` (kept until cleared).
    fallback: RefCell<Option<Rc<dyn Fallback>>>,
    fetched: RefCell<HashMap<Cid, Rc<[u8]>>>,
    /// Blocks that code running over memory ([`Blocks::now`]) missed, for [`Blocks::settle`].
    wanted: RefCell<Vec<Cid>>,
}

impl<S: Store> Blocks<S> {
    pub fn new(store: Rc<S>, aead: S::Aead) -> Self {
        Blocks {
            store,
            aead: RefCell::new(Rc::new(aead)),
            raw: RefCell::new(GenCache::new()),
            nodes: RefCell::new(GenCache::new()),
            pinned: RefCell::new(HashMap::default()),
            hint: RefCell::new(None),
            stats: Cell::new(Stats::default()),
            fallback: RefCell::new(None),
            fetched: RefCell::new(HashMap::default()),
            wanted: RefCell::new(Vec::new()),
        }
    }

    /// Sets (or clears) where misses are fetched from; clearing drops what was fetched.
    pub fn set_fallback(&self, f: Option<Rc<dyn Fallback>>) {
        if f.is_none() {
            self.fetched.borrow_mut().clear();
        }
        *self.fallback.borrow_mut() = f;
    }

    /// The current fallback, if any.
    pub fn fallback(&self) -> Option<Rc<dyn Fallback>> {
        self.fallback.borrow().clone()
    }

    /// The bytes of a block if it is in memory (fetched, cached or pinned).
    fn in_memory(&self, cid: &Cid) -> Result<Option<Rc<[u8]>>> {
        if let Some(b) = self.fetched.borrow().get(cid) {
            return Ok(Some(b.clone()));
        }
        if let Some(b) = self.raw.borrow_mut().get(cid) {
            return Ok(Some(b));
        }
        self.pinned_block(cid)
    }

    /// A pinned block's bytes, checked against its CID first if it was pinned unverified.
    fn pinned_block(&self, cid: &Cid) -> Result<Option<Rc<[u8]>>> {
        let Some((_, b, _, unverified)) = self.pinned.borrow().get(cid).cloned() else {
            return Ok(None);
        };
        if unverified {
            check_cid(cid, &b)?;
            if let Some(e) = self.pinned.borrow_mut().get_mut(cid) {
                e.3 = false;
            }
        }
        Ok(Some(b))
    }

    /// Checks every pinned block still unverified (an error names the first that fails).
    pub fn verify_pinned(&self) -> Result<()> {
        for (c, e) in self.pinned.borrow_mut().iter_mut() {
            if e.3 {
                check_cid(c, &e.1)?;
                e.3 = false;
            }
        }
        Ok(())
    }

    /// The bytes of a block in memory; else `Error::MissingBlock`, and the block is noted for
    /// [`Blocks::settle`] to load.
    pub fn now(&self, cid: &Cid) -> Result<Rc<[u8]>> {
        self.in_memory(cid)?.ok_or_else(|| {
            self.wanted.borrow_mut().push(*cid);
            Error::MissingBlock(cid_str(cid))
        })
    }

    /// Runs `step` (code over blocks in memory) until it no longer misses a block: after each
    /// miss the blocks it noted are loaded (from the store, or through the fallback) and kept
    /// in memory until the fallback is cleared, so every run gets further.
    pub async fn settle(&self, step: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let mut added = Vec::new();
        loop {
            let r = step();
            let wanted = std::mem::take(&mut *self.wanted.borrow_mut());
            match r {
                Err(Error::MissingBlock(_)) if !wanted.is_empty() => {
                    self.fetch_many(&wanted).await?;
                    for c in wanted {
                        let b = self.block(&c).await?;
                        self.fetched.borrow_mut().insert(c, b);
                        added.push(c);
                    }
                }
                r => {
                    // Without a fallback (no pull running) nothing needs them kept: the cache
                    // has them, within its budget.
                    if self.fallback.borrow().is_none() {
                        let mut fetched = self.fetched.borrow_mut();
                        for c in &added {
                            fetched.remove(c);
                        }
                    }
                    return r;
                }
            }
        }
    }

    /// The bytes of a block: from the cache or the store, else through the fallback.
    pub async fn block(&self, cid: &Cid) -> Result<Rc<[u8]>> {
        loop {
            if let Some(b) = self.held_block(cid).await? {
                return Ok(b);
            }
            let more = match self.fallback() {
                Some(f) => f.more().await?,
                None => None,
            };
            let Some(more) = more else {
                return Err(Error::MissingBlock(cid_str(cid)));
            };
            let mut fetched = self.fetched.borrow_mut();
            for b in more {
                fetched.insert(b.cid, Rc::from(b.bytes));
            }
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// The cipher that seals and opens this ledger's CARs (shared: a pull's fetcher opens remote
    /// CARs with it).
    pub fn aead(&self) -> Rc<S::Aead> {
        self.aead.borrow().clone()
    }

    /// Makes `aead` the ledger's cipher (it took another key: re-keying, or joining while empty).
    pub fn set_aead(&self, aead: S::Aead) {
        *self.aead.borrow_mut() = Rc::new(aead);
    }

    /// Sets the CAR to try first on the next miss (the header's newest CAR).
    pub fn set_hint(&self, car: Option<String>) {
        *self.hint.borrow_mut() = car;
    }

    /// Makes freshly committed blocks readable without a store round trip.
    pub fn insert_fresh(&self, blocks: &[(Block, Option<Rc<Node>>)]) {
        let mut raw = self.raw.borrow_mut();
        let mut nodes = self.nodes.borrow_mut();
        for (b, n) in blocks {
            raw.insert(b.cid, Rc::from(b.bytes.as_slice()), b.bytes.len());
            if let Some(n) = n {
                nodes.insert(b.cid, n.clone(), b.bytes.len() * 2);
            }
        }
    }

    /// Keeps `blocks` readable, whatever the cache evicts, until as many [`Blocks::unpin`]s.
    pub fn pin(&self, blocks: &[(Block, Option<Rc<Node>>)]) {
        let _ = self.pin_as(blocks, false); // trusted blocks: nothing to check
    }

    /// [`Blocks::pin`] for blocks not checked against their CIDs yet (an archive being imported):
    /// each is checked when first handed out, and [`Blocks::verify_pinned`] checks the rest; one
    /// already pinned (whose pinned bytes are handed out instead) is checked at once.
    pub fn pin_unverified(&self, blocks: &[(Block, Option<Rc<Node>>)]) -> Result<()> {
        self.pin_as(blocks, true)
    }

    /// A block that fails its check leaves no pin behind: the pins taken before it are released.
    fn pin_as(&self, blocks: &[(Block, Option<Rc<Node>>)], unverified: bool) -> Result<()> {
        let mut pinned = self.pinned.borrow_mut();
        pinned.reserve(blocks.len());
        for (i, (b, n)) in blocks.iter().enumerate() {
            let e = match pinned.entry(b.cid) {
                Entry::Occupied(e) => {
                    if unverified {
                        if let Err(err) = check_cid(&b.cid, &b.bytes) {
                            drop(pinned);
                            self.unpin(&blocks[..i]);
                            return Err(err);
                        }
                    }
                    e.into_mut()
                }
                Entry::Vacant(e) => {
                    e.insert((0, Rc::from(b.bytes.as_slice()), n.clone(), unverified))
                }
            };
            e.0 += 1;
        }
        Ok(())
    }

    /// Releases one pin of each block.
    pub fn unpin(&self, blocks: &[(Block, Option<Rc<Node>>)]) {
        let cids: Vec<Cid> = blocks.iter().map(|(b, _)| b.cid).collect();
        self.unpin_cids(&cids);
    }

    /// Releases one pin of each block, by CID.
    pub fn unpin_cids(&self, cids: &[Cid]) {
        let mut pinned = self.pinned.borrow_mut();
        for c in cids {
            if let Some(e) = pinned.get_mut(c) {
                e.0 -= 1;
                if e.0 == 0 {
                    pinned.remove(c);
                }
            }
        }
    }

    /// The bytes of a block this replica holds (in memory, or in a stored CAR it reads), never
    /// through the fallback: `None` when it is stored nowhere here.
    async fn held_block(&self, cid: &Cid) -> Result<Option<Rc<[u8]>>> {
        if let Some(b) = self.in_memory(cid)? {
            return Ok(Some(b));
        }
        let hint = self.hint.borrow_mut().take();
        if let Some(car) = hint {
            // The hinted CAR may be gone (another tab compacted); then locate the block instead.
            match self.load_car(&car).await {
                Ok(_) | Err(Error::MissingBlock(_)) => {}
                Err(e) => return Err(e),
            }
            if let Some(b) = self.raw.borrow_mut().get(cid) {
                return Ok(Some(b));
            }
        }
        // A store may find a CAR it located deleted before it is read (compaction in another
        // tab): locating again then finds the block in its new CAR.
        for _ in 0..3 {
            let mut s = self.stats.get();
            s.locates += 1;
            self.stats.set(s);
            let Some((car, stored)) = self.store.locate_cars(&[*cid]).await?.pop() else {
                return Ok(None);
            };
            match stored {
                Some(bytes) => self.cache_car(&car, &bytes).await?,
                None => continue,
            };
            if let Some(b) = self.raw.borrow_mut().get(cid) {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    /// Loads the CARs of several blocks not in memory in one round trip (locating and reading
    /// them), caching their blocks. A block no CAR holds is left for the caller's
    /// ordinary path (which reports it, or finds it where another tab just moved it).
    pub async fn fetch_many(&self, cids: &[Cid]) -> Result<()> {
        let mut seen = crate::HashSet::default();
        let keys: Vec<Cid> = cids
            .iter()
            .filter(|c| matches!(self.in_memory(c), Ok(None)) && seen.insert(**c))
            .copied()
            .collect();
        if keys.len() < 2 {
            return Ok(()); // one block: the ordinary path, which tries the newest CAR first
        }
        let mut s = self.stats.get();
        s.locates += 1;
        self.stats.set(s);
        for (name, bytes) in self.store.locate_cars(&keys).await? {
            if let Some(bytes) = bytes {
                self.cache_car(&name, &bytes).await?;
            }
        }
        Ok(())
    }

    /// Reads, verifies and caches every block of one CAR; returns its roots and its blocks in
    /// CAR order.
    pub async fn load_car(&self, name: &str) -> Result<(Vec<Cid>, Vec<Block>)> {
        let stored = self
            .store
            .read_car(name)
            .await?
            .ok_or_else(|| Error::MissingBlock(format!("car {name}")))?;
        self.cache_car(name, &stored).await
    }

    /// Verifies, decrypts and caches the blocks of a stored CAR.
    async fn cache_car(&self, name: &str, stored: &[u8]) -> Result<(Vec<Cid>, Vec<Block>)> {
        let mut s = self.stats.get();
        s.car_reads += 1;
        self.stats.set(s);
        let cid = parse_cid(name).map_err(|_| Error::corrupt(name, "bad car name"))?;
        let car = open_stored_car(&*self.aead(), &cid, stored).await?;
        let mut raw = self.raw.borrow_mut();
        for b in &car.1 {
            raw.insert(b.cid, Rc::from(b.bytes.as_slice()), b.bytes.len());
        }
        Ok(car)
    }
}

impl<S: Store> Blocks<S> {
    fn node_cached(&self, cid: &Cid) -> Option<Rc<Node>> {
        if let Some(n) = self.nodes.borrow_mut().get(cid) {
            return Some(n);
        }
        match self.pinned.borrow().get(cid) {
            Some((_, _, Some(n), _)) => Some(n.clone()),
            _ => None,
        }
    }

    fn decode_node(&self, cid: &Cid, bytes: &[u8]) -> Result<Rc<Node>> {
        let node = Rc::new(
            Node::decode(bytes)
                .map_err(|e| Error::corrupt(format!("block {}", cid_str(cid)), e))?,
        );
        self.nodes
            .borrow_mut()
            .insert(*cid, node.clone(), bytes.len() * 2);
        Ok(node)
    }
}

impl<S: Store> crate::prolly::NodesNow for Blocks<S> {
    fn node_now(&self, cid: &Cid) -> Result<Rc<Node>> {
        match self.node_cached(cid) {
            Some(n) => Ok(n),
            None => self.decode_node(cid, &self.now(cid)?),
        }
    }
}

impl<S: Store> Loader for Blocks<S> {
    async fn prefetch(&self, cids: &[Cid]) -> Result<()> {
        self.fetch_many(cids).await
    }

    async fn load(&self, cid: &Cid) -> Result<Rc<Node>> {
        if let Some(n) = self.node_cached(cid) {
            return Ok(n);
        }
        let bytes = self.block(cid).await?;
        self.decode_node(cid, &bytes)
    }
}

/// `CORRUPT` unless `bytes` hash to `cid`.
fn check_cid(cid: &Cid, bytes: &[u8]) -> Result<()> {
    if cid_of(cid.codec(), bytes)? != *cid {
        return Err(Error::corrupt(
            format!("block {}", cid_str(cid)),
            "its bytes do not match its CID",
        ));
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::crypto::Key;
    use crate::store::mem::MemStore;
    use futures::executor::block_on;
    use ipld_core::ipld::Ipld;

    #[test]
    fn a_block_failing_its_check_leaves_no_pin_behind() {
        let store = Rc::new(MemStore::new());
        let aead = block_on(store.aead(&Key::generate().unwrap())).unwrap();
        let blocks = Blocks::new(store, aead);
        let good = encode(&Ipld::String("good".into())).unwrap();
        let other = encode(&Ipld::String("other".into())).unwrap();
        let mut tampered = other.clone();
        tampered.bytes.push(0);
        // `other` pinned already (checked), then a list whose copy of it is damaged
        blocks.pin(&[(other.clone(), None)]);
        let list = [(good.clone(), None), (tampered, None)];
        assert!(blocks.pin_unverified(&list).is_err());
        assert!(
            blocks.pinned.borrow().get(&good.cid).is_none(),
            "the pin taken before the failure is released"
        );
        assert_eq!(blocks.pinned.borrow().get(&other.cid).map(|e| e.0), Some(1));
        blocks.unpin(&[(other.clone(), None)]);
        assert!(blocks.pinned.borrow().is_empty());
    }
}
