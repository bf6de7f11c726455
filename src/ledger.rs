//! A ledger: documents in a prolly tree, history in a Merkle clock, persisted as one sealed CAR per
//! commit through a [`Store`].
//!
//! Readers take an immutable snapshot ([`State`]) at the start of each call, so a read never sees a
//! write that lands while it runs (MVCC). Writers are serialised by a lock; each commit is a
//! compare-and-set on the stored header, and on conflict (another tab committed) the ledger adopts
//! the stored header and re-applies the same operations on it. Invariant: the in-memory state only
//! moves forward, and only to a state whose CAR and header are durable.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cid::Cid;

use crate::codec::{cid_str, parse_cid};
use crate::crypto::Key;
use crate::error::{Error, Result};
use crate::store::{Gc, Header, Indexes, Store, HEADER_VERSION};

mod archive;
pub mod blocks;
mod compact;
mod files;
pub use files::{FileMeta, FileWriter, FILE_CHUNK_BYTES};
mod history;
pub use history::gone;
mod index;
mod read;
mod recover;
mod rekey;
mod row_clock;
mod sync;
mod write;

pub use blocks::Fallback;
pub use blocks::Stats;
pub use compact::EVENTS_KEPT;
pub use index::QueryHit;
pub use read::{AllDocsOpts, DocRow};
pub use write::Committed;

/// An immutable view of the ledger at one commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Newest CAR (`None` before the first commit).
    pub car: Option<String>,
    pub head: Vec<Cid>,
    pub docs: Option<Cid>,
    pub seq: u64,
    pub count: u64,
    pub indexes: Indexes,
    /// Sync outbox (see [`Header::out`]): data CARs not yet pushed; compaction keeps them.
    pub out: Option<Vec<String>>,
    /// How many of the last `out` names are the head's merge, held back (see [`Header::held`]).
    pub held: u64,
    /// Compaction bookkeeping (see [`Header::gc`]); every sealed CAR adds its bytes.
    pub gc: Option<Gc>,
    /// The header's revision (see [`Header::rev`]): a commit writes the one above its base's.
    pub rev: u64,
}

fn opt_cid(s: &Option<String>) -> Result<Option<Cid>> {
    s.as_deref().map(parse_cid).transpose()
}

impl State {
    fn from_header(h: &Header) -> Result<State> {
        if h.v == 0 || h.v > HEADER_VERSION {
            return Err(Error::corrupt(
                "header",
                format!("unknown header version {}", h.v),
            ));
        }
        let mut head = Vec::with_capacity(h.head.len());
        for c in &h.head {
            head.push(parse_cid(c)?);
        }
        Ok(State {
            car: Some(h.car.clone()),
            head,
            docs: opt_cid(&h.docs)?,
            seq: h.seq,
            count: h.count,
            indexes: h.indexes.clone(),
            out: h.out.clone(),
            held: h.held,
            gc: h.gc,
            rev: h.rev,
        })
    }

    fn to_header(&self, car: &str) -> Header {
        Header {
            v: HEADER_VERSION,
            car: car.to_string(),
            head: self.head.iter().map(cid_str).collect(),
            docs: self.docs.map(|c| cid_str(&c)),
            seq: self.seq,
            count: self.count,
            indexes: self.indexes.clone(),
            out: self.out.clone(),
            held: self.held,
            gc: self.gc,
            rev: self.rev,
        }
    }

    /// CARs compaction must not delete: the sync outbox (not yet on the remote, or held back).
    pub(crate) fn pinned_cars(&self) -> &[String] {
        self.out.as_deref().unwrap_or(&[])
    }

    /// The outbox without the held-back merge at its end: what a push uploads.
    pub(crate) fn to_push(&self) -> &[String] {
        let out = self.pinned_cars();
        &out[..out.len().saturating_sub(self.held as usize)]
    }
}

/// One open ledger.
pub struct Ledger<S: Store> {
    name: String,
    store: Rc<S>,
    blocks: blocks::Blocks<S>,
    state: RefCell<Rc<State>>,
    write_lock: futures::lock::Mutex<()>,
    closed: Cell<bool>,
    /// Why this handle stopped, if an error did (every later call fails with it).
    failed: RefCell<Option<Error>>,
    pending: RefCell<crate::HashMap<u32, index::PendingIndex>>,
    next_token: Cell<u32>,
    /// Indexes built or updated in memory whose blocks are not stored yet, by name.
    unsaved: RefCell<crate::HashMap<String, index::Unsaved>>,
    save_lock: futures::lock::Mutex<()>,
    /// A compaction packed and not committed yet ([`Ledger::compact_prepare`]).
    packed: RefCell<Option<compact::Packed<S>>>,
    /// Opened on a store created by the open ([`Ledger::open_in`]'s `created`) and no archive
    /// imported since: nothing to re-read before publishing one.
    created: Cell<bool>,
}

impl<S: Store> Ledger<S> {
    /// Opens a ledger: reads the header and the key, nothing else. With `key` set, that key is
    /// used instead of the stored one (a wrong key surfaces as `DECRYPT` on the first read).
    pub async fn open(name: &str, store: S, key: Option<Key>) -> Result<Self> {
        Self::open_in(name, store, key, false).await
    }

    /// A ledger whose store was just created, empty, with `key` stored in it.
    pub async fn created(name: &str, store: S, key: Key) -> Result<Self> {
        Self::open_in(name, store, Some(key), true).await
    }

    /// [`Ledger::open`]; with `created`, the store was just created, empty (with its key), and
    /// no header is read from it (in the browser its creation may still be finishing,
    /// docs/format.md §9).
    pub async fn open_in(name: &str, store: S, key: Option<Key>, created: bool) -> Result<Self> {
        let store = Rc::new(store);
        let key = match key {
            Some(k) => k,
            None => store.ensure_key(&Key::generate()?).await?,
        };
        let header = match created {
            true => None,
            false => store.load_header().await?,
        };
        // no header in a store that was not just created: CARs may remain (recover below)
        let recover = header.is_none() && !created;
        let state = match header {
            Some(h) => State::from_header(&h)?,
            None => State::default(),
        };
        let blocks = blocks::Blocks::new(store.clone(), store.aead(&key).await?);
        blocks.set_hint(state.car.clone());
        let ledger = Ledger {
            name: name.to_string(),
            store,
            blocks,
            state: RefCell::new(Rc::new(state)),
            write_lock: futures::lock::Mutex::new(()),
            closed: Cell::new(false),
            failed: RefCell::new(None),
            pending: RefCell::new(crate::HashMap::default()),
            next_token: Cell::new(0),
            unsaved: RefCell::new(crate::HashMap::default()),
            save_lock: futures::lock::Mutex::new(()),
            packed: RefCell::new(None),
            created: Cell::new(created),
        };
        if recover {
            ledger.recover().await?;
        }
        Ok(ledger)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current state; later writes never change it.
    pub fn snapshot(&self) -> Rc<State> {
        self.state.borrow().clone()
    }

    /// The ledger's block access (cache in front of the store).
    pub fn blocks(&self) -> &blocks::Blocks<S> {
        &self.blocks
    }

    /// The ledger's store.
    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn stats(&self) -> Stats {
        self.blocks.stats()
    }

    /// Marks the ledger closed: every later call fails with `CLOSED`.
    pub fn close(&self) {
        self.closed.set(true);
    }

    /// Stops this handle: every later call fails with `e`.
    fn fail(&self, e: Error) {
        *self.failed.borrow_mut() = Some(e);
        self.close();
    }

    fn check_open(&self) -> Result<()> {
        if let Some(e) = &*self.failed.borrow() {
            return Err(e.clone());
        }
        if self.closed.get() {
            Err(Error::Closed(self.name.clone()))
        } else {
            Ok(())
        }
    }

    /// Deletes all stored data and closes the ledger.
    pub async fn destroy(&self) -> Result<()> {
        self.closed.set(true);
        self.drop_unsaved();
        self.store.destroy().await
    }

    /// Moves to `next` if it is newer (a higher seq, or the same seq at a higher revision: a
    /// commit that kept the head) or, with `force`, if it differs at all — never to an older seq,
    /// except to an empty ledger (destroyed in another tab): a header read while this handle
    /// committed (compaction reads one without the write lock) must not undo the commit.
    fn adopt(&self, next: State, force: bool) -> bool {
        let cur = self.snapshot();
        let newer = next.seq > cur.seq
            || (next.seq == cur.seq && next.rev > cur.rev)
            || (force && next != *cur && (next.seq >= cur.seq || next.car.is_none()));
        if newer {
            self.blocks.set_hint(next.car.clone());
            *self.state.borrow_mut() = Rc::new(next);
        }
        newer
    }

    /// Re-reads the stored header (after another tab committed). True if the state moved.
    pub async fn refresh(&self) -> Result<bool> {
        self.check_open()?;
        let Some(h) = self.store.load_header().await? else {
            return Ok(false);
        };
        Ok(self.adopt(State::from_header(&h)?, false))
    }

    async fn reload_forced(&self) -> Result<()> {
        let state = match self.store.load_header().await? {
            Some(h) => State::from_header(&h)?,
            None => {
                // No header: a new ledger, or another tab's destroy() emptied the store (and its
                // key). Seal with the key stored now, or store one, never with a key the store
                // no longer holds (its CARs could not be opened by anyone).
                let key = self
                    .store
                    .ensure_key(&crate::crypto::Key::generate()?)
                    .await?;
                self.blocks.set_aead(self.store.aead(&key).await?);
                State::default()
            }
        };
        self.adopt(state, true);
        Ok(())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
