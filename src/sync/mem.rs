//! An in-memory [`Remote`] for native tests: create-only, shared between clones (like one
//! server), with counters and fault injection (offline, failing after N more writes).
//!
//! Invariant: a key once written never changes; only `heads/` keys can be deleted.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::{Remote, HEADS};
use crate::error::{Error, Result};

#[derive(Default)]
struct Data {
    objects: BTreeMap<String, Vec<u8>>,
    offline: bool,
    /// Writes allowed before the remote goes offline (`None`: unlimited).
    writes_left: Option<usize>,
    puts: usize,
    put_bytes: usize,
    get_bytes: usize,
}

/// A shared in-memory remote.
#[derive(Clone, Default)]
pub struct MemRemote(Rc<RefCell<Data>>);

impl MemRemote {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set_offline(&self, offline: bool) {
        let mut d = self.0.borrow_mut();
        d.offline = offline;
        d.writes_left = None;
    }
    /// The remote fails every request after `n` more successful writes.
    pub fn fail_after_writes(&self, n: usize) {
        self.0.borrow_mut().writes_left = Some(n);
    }
    /// (new objects written, bytes uploaded, bytes downloaded).
    pub fn counters(&self) -> (usize, usize, usize) {
        let d = self.0.borrow();
        (d.puts, d.put_bytes, d.get_bytes)
    }
    pub fn keys(&self) -> Vec<String> {
        self.0.borrow().objects.keys().cloned().collect()
    }
    /// Every stored byte, concatenated (for "what the server sees" scans).
    pub fn all_bytes(&self) -> Vec<u8> {
        self.0
            .borrow()
            .objects
            .values()
            .flatten()
            .copied()
            .collect()
    }
    /// Mutates a stored object (tamper tests).
    pub fn tamper(&self, key: &str, f: impl FnOnce(&mut Vec<u8>)) {
        if let Some(b) = self.0.borrow_mut().objects.get_mut(key) {
            f(b);
        }
    }
    fn check(&self, write: bool) -> Result<()> {
        let mut d = self.0.borrow_mut();
        if d.offline {
            return Err(Error::Remote("remote unreachable".into()));
        }
        if write {
            if let Some(n) = d.writes_left {
                if n == 0 {
                    d.offline = true;
                    return Err(Error::Remote("connection dropped".into()));
                }
                d.writes_left = Some(n - 1);
            }
        }
        Ok(())
    }
}

impl Remote for MemRemote {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.check(true)?;
        let mut d = self.0.borrow_mut();
        if !d.objects.contains_key(key) {
            d.objects.insert(key.to_string(), bytes.to_vec());
            d.puts += 1;
            d.put_bytes += bytes.len();
        }
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.check(false)?;
        let mut d = self.0.borrow_mut();
        let v = d.objects.get(key).cloned();
        d.get_bytes += v.as_ref().map_or(0, Vec::len);
        Ok(v)
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.check(false)?;
        Ok(self
            .0
            .borrow()
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.check(true)?;
        if !key.starts_with(HEADS) {
            return Err(Error::InvalidArg("only head records can be deleted".into()));
        }
        self.0.borrow_mut().objects.remove(key);
        Ok(())
    }
}
