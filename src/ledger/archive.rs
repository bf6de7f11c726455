//! Archives: a ledger's current state as one CAR v1, and a new ledger started from one
//! (docs/format.md §14).
//!
//! Invariant: an import writes nothing unless every block of the archive checked out (CIDs, the
//! root, the head event, every tree node the new state reaches), and it only ever writes a
//! ledger's first commit: a ledger with data is never touched.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::{Ledger, State};
use crate::car::{parse_car, seal_car, unseal, write_car};
use crate::clock::Event;
use crate::codec::{self, cid_str, parse_cid, Block};
use crate::crypto::MAGIC;
use crate::error::{Error, Result};
use crate::store::{Gc, IndexHead, Indexes, Store};

type NewBlocks = Vec<(Block, Option<Rc<crate::prolly::Node>>)>;

/// Archive block version.
const ARCHIVE_V: i128 = 1;

fn bad(why: impl Into<String>) -> Error {
    Error::corrupt("archive", why.into())
}

fn link_or_null(c: &Option<String>) -> Result<Ipld> {
    Ok(match c {
        Some(s) => Ipld::Link(parse_cid(s)?),
        None => Ipld::Null,
    })
}

fn opt_link(v: Option<&Ipld>) -> Result<Option<String>> {
    match v {
        Some(Ipld::Link(c)) => Ok(Some(cid_str(c))),
        Some(Ipld::Null) | None => Ok(None),
        _ => Err(bad("an index root is not a link")),
    }
}

/// The archive block for `head` and `indexes`.
fn archive_block(head: &[Cid], indexes: &Indexes) -> Result<Block> {
    let mut idx = BTreeMap::new();
    for (name, h) in indexes.iter() {
        let mut m = BTreeMap::new();
        m.insert("src".to_string(), Ipld::String(h.src.clone()));
        m.insert("keys".to_string(), link_or_null(&h.keys)?);
        m.insert("ids".to_string(), link_or_null(&h.ids)?);
        m.insert("seq".to_string(), Ipld::Integer(h.seq.into()));
        idx.insert(name.clone(), Ipld::Map(m));
    }
    let mut root = BTreeMap::new();
    root.insert("v".to_string(), Ipld::Integer(ARCHIVE_V));
    root.insert(
        "head".to_string(),
        Ipld::List(head.iter().copied().map(Ipld::Link).collect()),
    );
    root.insert("indexes".to_string(), Ipld::Map(idx));
    codec::encode(&Ipld::Map(root))
}

/// The bytes of block `cid` of an archive (checked against the CID when `plain`).
fn block_of(blocks: &[Block], cid: Cid, plain: bool) -> Result<&[u8]> {
    let b = blocks
        .iter()
        .find(|b| b.cid == cid)
        .ok_or_else(|| bad(format!("block {} is missing", cid_str(&cid))))?;
    if plain && codec::cid_of(cid.codec(), &b.bytes)? != cid {
        return Err(bad(format!(
            "block {} does not match its CID",
            cid_str(&cid)
        )));
    }
    Ok(&b.bytes)
}

/// Head and indexes of a decoded archive block.
fn read_archive_block(bytes: &[u8]) -> Result<(Vec<Cid>, Indexes)> {
    let Ok(Ipld::Map(m)) = codec::decode(bytes) else {
        return Err(bad("the root is not an archive block"));
    };
    if m.get("v") != Some(&Ipld::Integer(ARCHIVE_V)) {
        return Err(bad("the root is not an archive block (v)"));
    }
    let Some(Ipld::List(h)) = m.get("head") else {
        return Err(bad("the archive block has no head"));
    };
    let mut head = Vec::new();
    for c in h {
        let Ipld::Link(c) = c else {
            return Err(bad("a head entry is not a link"));
        };
        head.push(*c);
    }
    // a commit block has `v` and `head` too: `indexes` tells an archive block apart
    let Some(Ipld::Map(idx)) = m.get("indexes") else {
        return Err(bad("the root is not an archive block (indexes)"));
    };
    let mut indexes = Indexes::default();
    for (name, v) in idx {
        let Ipld::Map(v) = v else {
            return Err(bad("an index entry is not a map"));
        };
        let (Some(Ipld::String(src)), Some(Ipld::Integer(seq))) = (v.get("src"), v.get("seq"))
        else {
            return Err(bad("an index entry lacks src or seq"));
        };
        let head = IndexHead {
            src: src.clone(),
            keys: opt_link(v.get("keys"))?,
            ids: opt_link(v.get("ids"))?,
            seq: u64::try_from(*seq).map_err(|_| bad("an index seq is out of range"))?,
        };
        indexes.insert(name.clone(), head);
    }
    Ok((head, indexes))
}

impl<S: Store> Ledger<S> {
    /// The current state as one CAR v1 (docs/format.md §14): plain IPLD, or sealed under the
    /// ledger's key; index trees included when `indexes`.
    pub async fn export_archive(&self, sealed: bool, indexes: bool) -> Result<Vec<u8>> {
        self.check_open()?;
        self.refresh().await?;
        let mut state = (*self.snapshot()).clone();
        if !indexes {
            state.indexes.clear();
        }
        let root = archive_block(&state.head, &state.indexes)?;
        let mut blocks = vec![root.clone()];
        blocks.extend(self.live_blocks(&state, 0).await?.ordered());
        let car = write_car(root.cid, &blocks.iter().collect::<Vec<_>>());
        if sealed {
            Ok(seal_car(&*self.blocks.aead(), &car).await?.bytes)
        } else {
            Ok(car)
        }
    }

    /// Starts an empty ledger from an archive (plain, or sealed under this ledger's key). False
    /// (and nothing written) when the ledger already has a commit or the archive is empty.
    ///
    /// `readable` is called once every block of the archive is checked and its state is this
    /// handle's state, before it is stored (docs/format.md §14): reads answer from the archive's
    /// blocks, held in memory, while its completeness is walked and the commit is written; the
    /// write lock is held until it lands. If that fails (a missing block, storage) the handle goes
    /// back to the empty state and stops (later calls fail with that error), so nothing is ever
    /// committed on top of an archive that was not stored.
    ///
    /// `locked` resolves once the caller holds the cross-tab commit lock: awaited before the header
    /// is read again and the archive published, or, on a ledger this handle created
    /// ([`Ledger::created`]: nothing to read), after publishing and before storing.
    pub async fn import_archive(
        &self,
        bytes: &[u8],
        readable: &mut dyn FnMut(),
        locked: Pin<Box<dyn Future<Output = ()>>>,
    ) -> Result<bool> {
        self.check_open()?;
        // A sealed archive's GCM tag authenticates its blocks (as for the store's own CARs); a
        // plain one's blocks are checked against their CIDs lazily: each when a read first
        // needs it, the rest before anything is stored (docs/format.md §14).
        let (blocks, plain) = match parse_car("archive", bytes, false) {
            Err(_) if bytes.starts_with(MAGIC) => (
                parse_car(
                    "archive",
                    &unseal(&*self.blocks.aead(), "archive", bytes).await?,
                    false,
                ),
                false,
            ),
            r => (r, true),
        };
        let (roots, blocks) = blocks?;
        let root = *roots.first().ok_or_else(|| bad("no root"))?;
        let (head, indexes) = read_archive_block(block_of(&blocks, root, plain)?)?;
        let [head] = head[..] else {
            return match head.len() {
                0 => Ok(false),
                _ => Err(bad("an archive head must be one event")),
            };
        };
        let ev = Event::decode(block_of(&blocks, head, plain)?).map_err(bad)?;
        let blocks: NewBlocks = blocks
            .into_iter()
            .filter(|b| b.cid != root)
            .map(|b| (b, None))
            .collect();
        let _guard = self.write_lock.lock().await;
        self.check_open()?;
        // a ledger this handle created needs no header read (the commit's compare-and-set
        // catches another tab that committed since)
        let mut locked = Some(locked);
        if !self.created.replace(false) {
            if let Some(l) = locked.take() {
                l.await;
            }
            self.reload_forced().await?;
        }
        let base = self.snapshot();
        if base.car.is_some() {
            return Ok(false);
        }
        let mut state = (*base).clone();
        state.head = vec![head];
        state.docs = ev.root;
        state.seq = ev.seq;
        state.count = ev.count;
        state.indexes = indexes;
        // Readable now, from the archive's blocks pinned in memory (the bounded cache could
        // evict the first blocks of a large archive before the walk below reaches them).
        let cids: Vec<Cid> = blocks.iter().map(|(b, _)| b.cid).collect();
        if plain {
            self.blocks.pin_unverified(&blocks)?;
        } else {
            self.blocks.pin(&blocks);
        }
        *self.state.borrow_mut() = Rc::new(state.clone());
        readable();
        if let Some(l) = locked {
            l.await;
        }
        let done = self.store_import(&base, state, blocks).await;
        self.blocks.unpin_cids(&cids);
        done
    }

    /// Seals and commits a published import; see [`Ledger::import_archive`] for a failure.
    async fn store_import(
        &self,
        base: &Rc<State>,
        state: State,
        blocks: NewBlocks,
    ) -> Result<bool> {
        // sealing is the first wait: reads go on meanwhile
        let stored = match self.seal(base, state, blocks).await {
            // every block the new state reaches is in the archive (the walk of compaction and
            // export; each block it reads is checked against its CID), then the rest is checked
            Ok(mut p) => match self
                .live_blocks(&p.state, 0)
                .await
                .and_then(|_| self.blocks.verify_pinned())
            {
                Err(Error::MissingBlock(_)) => Err(bad("a block the state needs is missing")),
                Ok(()) => {
                    let n = p.cars.iter().map(crate::store::StoredCar::footprint).sum();
                    p.state.gc = Some(Gc { live: n, stored: n });
                    self.try_commit(base, p).await
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match stored {
            Ok(Some(_)) => Ok(true),
            // another writer committed first: its state, not the unstored one
            Ok(None) => {
                *self.state.borrow_mut() = base.clone();
                self.reload_forced().await.map(|()| false)
            }
            Err(e) => {
                *self.state.borrow_mut() = base.clone();
                self.fail(e.clone());
                Err(e)
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "archive_tests.rs"]
mod tests;
