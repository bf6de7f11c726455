//! In-memory [`Store`] for native tests: cloneable (clones share data, like two tabs sharing one
//! IndexedDB), with read counters, an optional byte quota and failure injection (a crash at the
//! n-th store call: that call and every later one fail until cleared).
//!
//! Invariant: a failed or conflicting commit changes nothing.

use crate::HashMap;
use std::cell::RefCell;
use std::rc::Rc;

use cid::Cid;

use super::{CommitOutcome, CommitWrite, Header, Store, StoredCar};
use crate::crypto::{Key, SoftAead};
use crate::error::{Error, Result};

#[derive(Default)]
struct Data {
    header: Option<Header>,
    key: Option<Key>,
    cars: HashMap<String, Vec<u8>>,
    /// Every CAR holding a block, newest last (like IndexedDB's multi-entry `cid` index).
    locs: HashMap<Cid, Vec<String>>,
    car_reads: u64,
    locates: u64,
    commits: u64,
    quota: Option<usize>,
    /// Store calls left before the store "crashes" (`Some(0)`: every call fails).
    fail_in: Option<u64>,
    meta: HashMap<String, String>,
}

impl Data {
    /// `QUOTA` if `add` more bytes would pass the limit set by [`MemStore::set_quota`].
    fn check_quota(&self, add: usize) -> Result<()> {
        let Some(limit) = self.quota else {
            return Ok(());
        };
        let now: usize = self.cars.values().map(Vec::len).sum();
        if now + add > limit {
            return Err(Error::Quota(format!(
                "{} bytes over the {limit}-byte limit",
                now + add - limit
            )));
        }
        Ok(())
    }

    /// Stores a CAR and notes where each of its blocks is.
    fn insert_car(&mut self, car: &StoredCar) {
        for cid in &car.cids {
            let at = self.locs.entry(*cid).or_default();
            at.push(car.name.clone());
        }
        self.cars.insert(car.name.clone(), car.bytes.clone());
    }
}

/// A shared in-memory store.
#[derive(Clone, Default)]
pub struct MemStore(Rc<RefCell<Data>>);

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of `read_car` calls so far.
    pub fn car_reads(&self) -> u64 {
        self.0.borrow().car_reads
    }

    /// Number of `locate` calls so far.
    pub fn locates(&self) -> u64 {
        self.0.borrow().locates
    }

    /// Number of successful commits.
    pub fn commits(&self) -> u64 {
        self.0.borrow().commits
    }

    pub fn car_count(&self) -> usize {
        self.0.borrow().cars.len()
    }

    /// Bytes of the largest stored CAR.
    pub fn largest_car(&self) -> usize {
        self.0
            .borrow()
            .cars
            .values()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
    }

    /// Total bytes of stored CARs.
    pub fn stored_bytes(&self) -> usize {
        self.0.borrow().cars.values().map(Vec::len).sum()
    }

    /// The stored CARs as compaction counts them ([`StoredCar::footprint`]: bytes, plus 256 per
    /// record and 128 per block named in its `c` list).
    pub fn stored_footprint(&self) -> u64 {
        let d = self.0.borrow();
        let blocks: usize = d.locs.values().map(Vec::len).sum();
        d.cars.values().map(|c| c.len() as u64 + 256).sum::<u64>() + 128 * blocks as u64
    }

    /// Commits that would push stored CAR bytes past `limit` fail with `QUOTA`.
    pub fn set_quota(&self, limit: Option<usize>) {
        self.0.borrow_mut().quota = limit;
    }

    /// An independent copy of everything stored (not shared with this store).
    pub fn deep_copy(&self) -> MemStore {
        let d = self.0.borrow();
        MemStore(Rc::new(RefCell::new(Data {
            header: d.header.clone(),
            key: d.key.clone(),
            cars: d.cars.clone(),
            locs: d.locs.clone(),
            meta: d.meta.clone(),
            ..Data::default()
        })))
    }

    /// With `Some(n)`, the store calls after the next `n` fail with `STORAGE` (as if the page
    /// died there: nothing of the failing call is written); `None` heals it.
    pub fn crash_after(&self, n: Option<u64>) {
        self.0.borrow_mut().fail_in = n;
    }

    fn step(&self) -> Result<()> {
        let mut d = self.0.borrow_mut();
        match d.fail_in {
            Some(0) => Err(Error::Storage("injected crash".into())),
            Some(n) => {
                d.fail_in = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Deletes the header record alone, CARs and key kept (for recovery tests).
    pub fn drop_header(&self) {
        self.0.borrow_mut().header = None;
    }

    /// Mutates the stored bytes of a CAR (for tamper tests).
    pub fn tamper(&self, name: &str, f: impl FnOnce(&mut Vec<u8>)) {
        if let Some(bytes) = self.0.borrow_mut().cars.get_mut(name) {
            f(bytes);
        }
    }

    /// Copies every CAR and location of `other` into this store (a dumb sync of blocks).
    pub fn import_cars_from(&self, other: &MemStore) {
        let src = other.0.borrow();
        let mut dst = self.0.borrow_mut();
        for (k, v) in &src.cars {
            dst.cars.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &src.locs {
            dst.locs.entry(*k).or_insert_with(|| v.clone());
        }
    }

    /// Installs another store's key (replicas of one ledger share it).
    pub fn share_key_from(&self, other: &MemStore) {
        let k = other.0.borrow().key.clone();
        self.0.borrow_mut().key = k;
    }
}

impl Store for MemStore {
    type Aead = SoftAead;

    async fn aead(&self, key: &Key) -> Result<SoftAead> {
        SoftAead::new(key)
    }

    async fn load_header(&self) -> Result<Option<Header>> {
        self.step()?;
        Ok(self.0.borrow().header.clone())
    }

    async fn ensure_key(&self, candidate: &Key) -> Result<Key> {
        let mut d = self.0.borrow_mut();
        Ok(d.key.get_or_insert_with(|| candidate.clone()).clone())
    }

    async fn read_car(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.step()?;
        let mut d = self.0.borrow_mut();
        d.car_reads += 1;
        Ok(d.cars.get(name).cloned())
    }

    async fn locate_cars(&self, cids: &[Cid]) -> Result<Vec<(String, Option<Vec<u8>>)>> {
        self.step()?;
        let mut d = self.0.borrow_mut();
        d.locates += 1;
        let mut out: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        for c in cids {
            if let Some(n) = d.locs.get(c).and_then(|cars| cars.last()) {
                if !out.iter().any(|(m, _)| m == n) {
                    out.push((n.clone(), None));
                }
            }
        }
        d.car_reads += out.len() as u64;
        for e in &mut out {
            e.1 = d.cars.get(&e.0).cloned();
        }
        Ok(out)
    }

    async fn commit(&self, w: CommitWrite) -> Result<CommitOutcome> {
        self.step()?;
        let mut d = self.0.borrow_mut();
        let stored = d.header.as_ref();
        if stored.map(|h| h.car.clone()) != w.expect
            || stored.map_or(0, |h| h.rev) + 1 != w.header.rev
        {
            return Ok(CommitOutcome::Conflict);
        }
        if w.staged.iter().any(|c| !d.cars.contains_key(c)) {
            return Err(Error::Storage("a staged CAR is gone".into()));
        }
        d.check_quota(w.cars.iter().map(|c| c.bytes.len()).sum())?;
        for car in &w.cars {
            d.insert_car(car);
        }
        d.header = Some(w.header);
        d.commits += 1;
        Ok(CommitOutcome::Committed)
    }

    async fn commit_with_key(&self, w: CommitWrite, key: &Key) -> Result<CommitOutcome> {
        let done = self.commit(w).await?;
        if done == CommitOutcome::Committed {
            self.0.borrow_mut().key = Some(key.clone());
        }
        Ok(done)
    }

    async fn stage_cars(&self, cars: &[StoredCar]) -> Result<()> {
        for car in cars {
            self.step()?;
            let mut d = self.0.borrow_mut();
            d.check_quota(car.bytes.len())?;
            d.insert_car(car);
        }
        Ok(())
    }

    async fn list_cars(&self, files: bool) -> Result<Vec<String>> {
        self.step()?;
        let d = self.0.borrow();
        let mut names: Vec<String> = match files {
            false => d.cars.keys().cloned().collect(),
            true => d
                .locs
                .iter()
                .filter(|(cid, _)| cid.codec() == crate::codec::RAW)
                .flat_map(|(_, at)| at.iter().filter(|n| d.cars.contains_key(*n)).cloned())
                .collect(),
        };
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn car_blocks(&self) -> Result<Vec<(String, Vec<Cid>)>> {
        self.step()?;
        let d = self.0.borrow();
        let mut by_car: HashMap<String, Vec<Cid>> = HashMap::default();
        for (cid, cars) in &d.locs {
            for car in cars {
                by_car.entry(car.clone()).or_default().push(*cid);
            }
        }
        Ok(by_car.into_iter().collect())
    }

    async fn remove_cars(&self, names: &[String]) -> Result<()> {
        self.step()?;
        let mut d = self.0.borrow_mut();
        for n in names {
            d.cars.remove(n);
        }
        for cars in d.locs.values_mut() {
            cars.retain(|car| !names.contains(car));
        }
        d.locs.retain(|_, cars| !cars.is_empty());
        Ok(())
    }

    async fn destroy(&self) -> Result<()> {
        let mut d = self.0.borrow_mut();
        let (reads, locates, key) = (d.car_reads, d.locates, d.key.take());
        *d = Data {
            car_reads: reads,
            locates,
            key,
            ..Data::default()
        };
        Ok(())
    }

    async fn replace_key_if_empty(&self, key: &Key) -> Result<bool> {
        let mut d = self.0.borrow_mut();
        if d.header.is_some() {
            return Ok(false);
        }
        d.key = Some(key.clone());
        Ok(true)
    }

    async fn load_meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self.0.borrow().meta.get(key).cloned())
    }

    async fn save_meta(&self, key: &str, value: &str) -> Result<()> {
        self.0
            .borrow_mut()
            .meta
            .insert(key.to_string(), value.to_string());
        Ok(())
    }
}
