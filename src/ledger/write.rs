//! Commits: a batch of puts and deletes becomes one event, one CAR and one header swap.
//!
//! Invariant: a failed commit changes nothing (the state is replaced only after the store reports
//! the CAR and header durable); a conflicting commit is rebuilt on the newer stored state. A write
//! is never rejected for contention: after [`FAST_ATTEMPTS`] back-to-back conflicts it returns
//! the retryable `CONFLICT` (the package retries it with backoff, without a limit).

use std::collections::BTreeMap;

use crate::HashSet;
use std::rc::Rc;

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::compact::car_groups_by_cost;
use super::{Ledger, State};
use crate::car::{seal_car, write_car};
use crate::clock::Event;
use crate::codec::cbor::{item_len, read_head};
use crate::codec::{self, Block};
use crate::doc::{doc_block, doc_leaf_raw, Leaf, LeafMeta, WriteOp, INLINE_MAX, MAX_DOC_BYTES};
use crate::error::{Error, Result};
use crate::prolly::{self, as_link, Edit, Node, Raw};
use crate::store::{CommitOutcome, CommitWrite, Gc, Store, StoredCar};

/// Back-to-back rebuilds after conflicts before handing `CONFLICT` back to the caller, who waits
/// (backoff) and calls again.
pub(crate) const FAST_ATTEMPTS: usize = 4;

/// The retryable error of a commit that lost [`FAST_ATTEMPTS`] races in a row.
pub(crate) fn conflict() -> Error {
    Error::Conflict(format!(
        "other writers committed first {FAST_ATTEMPTS} times in a row; retry"
    ))
}

/// The documents tree records the highest leaf seq under each branch (docs/format.md §4), read
/// from each leaf value's `seq`.
pub(crate) const LEAF_SEQ: prolly::LeafSeq = Some(|v| LeafMeta::read(v).map(|m| m.seq));

/// What a successful write reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub head: Vec<Cid>,
    pub seq: u64,
}

/// A document's size as its commit counts it: per field, the key's bytes + 9 + the encoded
/// value's bytes (it decides whether the document is stored inline, docs/format.md §4).
fn counted_size(doc: &[u8]) -> std::result::Result<usize, &'static str> {
    let (_, n, mut pos) = read_head(doc, 0)?;
    let mut size = 0;
    for _ in 0..n {
        let (_, klen, key) = read_head(doc, pos)?;
        let value = key + klen as usize;
        let vlen = item_len(doc, value)?;
        size += klen as usize + 9 + vlen;
        pos = value + vlen;
    }
    Ok(size)
}

/// A commit ready to be stored.
pub(super) struct Prepared {
    pub(super) state: State,
    /// Its sealed CARs: one, or for a commit over
    /// [`COMPACT_CAR_BYTES`](super::compact::COMPACT_CAR_BYTES) several of at most that much; the
    /// last holds the commit block and names the header's `car`.
    pub(super) cars: Vec<StoredCar>,
    pub(super) blocks: Vec<(Block, Option<Rc<Node>>)>,
    /// File CARs staged for this commit's documents (docs/format.md §16).
    pub(super) files: Vec<String>,
}

impl Prepared {
    /// The store write for this commit, built on the header naming `expect`.
    pub(super) fn to_write(&self, expect: Option<String>) -> CommitWrite {
        CommitWrite {
            expect,
            header: self.state.to_header(self.car_name()),
            staged: self.files.clone(),
            cars: self.cars.clone(),
        }
    }

    /// The CAR holding the commit block (the header's `car`).
    pub(super) fn car_name(&self) -> &str {
        self.cars.last().map_or("", |c| c.name.as_str())
    }
}

/// The encoded leaf value for a document: inline, or a link to its own block (pushed to `extra`).
fn leaf_for(
    seq: u64,
    pos: Option<u64>,
    body: &[u8],
    extra: &mut Vec<(Block, Option<Rc<Node>>)>,
    id: &str,
) -> Result<Raw> {
    let size = counted_size(body).map_err(|e| Error::Internal(format!("document {id}: {e}")))?;
    if size > MAX_DOC_BYTES {
        return Err(Error::invalid_doc(
            "(root)",
            format!(
                "document \"{id}\" is about {size} bytes encoded, the limit is {MAX_DOC_BYTES}"
            ),
        ));
    }
    if size <= INLINE_MAX {
        return doc_leaf_raw(seq, pos, body);
    }
    let block = doc_block(body)?;
    let cid = block.cid;
    extra.push((block, None));
    Leaf::Ref { seq, cid }.to_raw_at(pos)
}

/// The blocks of a commit (commit block first) grouped into CARs: one CAR in that order when
/// they fit in [`COMPACT_CAR_BYTES`](super::compact::COMPACT_CAR_BYTES); else CARs of at most
/// that much (or one bigger block) with each lowest branch (level 1) followed by its new leaves, then the other leaves and separately
/// stored documents, then the higher branch nodes by level, and the commit block last, so that a
/// cold read of a lowest branch brings its leaves, the last CAR (the header's, which cold reads
/// open first) holds the tree roots, and a cold read of one leaf decrypts at most about 62 KiB
/// (docs/format.md §6).
fn car_groups(blocks: &[(Block, Option<Rc<Node>>)]) -> Vec<Vec<&Block>> {
    let all = car_groups_by_cost(blocks.iter().map(|(b, _)| b));
    if all.len() == 1 {
        return all; // fits in one CAR: commit block first
    }
    let level = |n: &Option<Rc<Node>>| n.as_ref().map_or(0, |n| n.level);
    let top = blocks.iter().map(|(_, n)| level(n)).max().unwrap_or(0);
    let rest = &blocks[1..];
    // The commit makes each level in key order: a lowest branch's new leaves are the next ones
    // in the leaf list (a merge walk; a leaf it misses just goes after, with the others).
    let leaves: Vec<usize> = (0..rest.len())
        .filter(|&i| rest[i].1.as_ref().is_some_and(|n| n.level == 0))
        .collect();
    let mut placed = vec![false; rest.len()];
    let mut order: Vec<&Block> = Vec::with_capacity(rest.len());
    let mut next = 0;
    for (i, (b, n)) in rest.iter().enumerate() {
        let Some(n) = n.as_ref().filter(|n| n.level == 1) else {
            continue;
        };
        placed[i] = true;
        order.push(b);
        for (_, v) in &n.entries {
            if let Some(&j) = leaves
                .get(next)
                .filter(|&&j| as_link(v) == Some(rest[j].0.cid))
            {
                placed[j] = true;
                order.push(&rest[j].0);
                next += 1;
            }
        }
    }
    for l in (0..=top).filter(|&l| l != 1) {
        for (i, (b, n)) in rest.iter().enumerate() {
            if !placed[i] && level(n) == l {
                order.push(b);
            }
        }
    }
    let mut groups = car_groups_by_cost(order);
    groups.last_mut().expect("a group").push(&blocks[0].0);
    groups
}

/// Whether every replaced leaf holds the body its put writes again: the same inline bytes, or
/// the same separately stored block (`extra` holds the batch's new document blocks). `replaced`
/// comes in key order, like `latest`; anything else answers false (and the batch commits).
fn unchanged(
    replaced: &[(Vec<u8>, Raw)],
    latest: &BTreeMap<&str, (usize, &WriteOp)>,
    extra: &[(Block, Option<Rc<Node>>)],
) -> Result<bool> {
    for ((key, old), (id, (_, op))) in replaced.iter().zip(latest) {
        let Some(body) = op.body.as_ref().filter(|_| key == id.as_bytes()) else {
            return Ok(false);
        };
        let meta = LeafMeta::read(old).map_err(|e| Error::corrupt("docs tree", e))?;
        let same = match (meta.doc, meta.doc_ref) {
            (Some((from, to)), _) => old.get(from..to) == Some(body.bytes()),
            (None, Some(cid)) => extra.iter().any(|(b, _)| b.cid == cid),
            (None, None) => false, // a tombstone: the put brings the document back
        };
        if !same {
            return Ok(false);
        }
    }
    Ok(true)
}

impl<S: Store> Ledger<S> {
    /// Commits `ops` as one event. Later ops on the same id win. An empty batch commits nothing.
    pub async fn write(&self, ops: Vec<WriteOp>) -> Result<Committed> {
        self.write_with_files(ops, &[]).await
    }

    /// [`Ledger::write`] of documents naming the file CARs `files`, staged for them beforehand
    /// (docs/format.md §16): the commit fails, writing nothing, if one is no longer stored; a
    /// synced ledger's outbox gets them before the commit's own CAR.
    pub async fn write_with_files(&self, ops: Vec<WriteOp>, files: &[String]) -> Result<Committed> {
        self.check_open()?;
        let _guard = self.write_lock.lock().await;
        self.check_open()?;
        if ops.is_empty() {
            let s = self.snapshot();
            return Ok(Committed {
                head: s.head.clone(),
                seq: s.seq,
            });
        }
        for _ in 0..FAST_ATTEMPTS {
            self.check_open()?;
            let base = self.snapshot();
            let mut p = match self.prepare(&base, &ops, files.is_empty()).await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Ok(Committed {
                        head: base.head.clone(),
                        seq: base.seq,
                    })
                }
                // Built on a state whose garbage another tab's compaction just deleted: catch up.
                Err(Error::MissingBlock(m)) => {
                    self.reload_forced().await?;
                    if *self.snapshot() == *base {
                        return Err(Error::MissingBlock(m));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            if !files.is_empty() {
                if let Some(out) = &mut p.state.out {
                    let car = out.pop(); // this commit's CAR goes after its files
                    out.extend(files.iter().cloned().chain(car));
                }
                p.files = files.to_vec();
            }
            if let Some(done) = self.try_commit(&base, p).await? {
                return Ok(done);
            }
        }
        Err(conflict())
    }

    /// Stores a prepared commit built on `base`. On success the state moves to it; on a
    /// conflict the newer stored state is adopted and `None` returned (the caller rebuilds).
    pub(super) async fn try_commit(&self, base: &State, p: Prepared) -> Result<Option<Committed>> {
        match self.store.commit(p.to_write(base.car.clone())).await? {
            CommitOutcome::Committed => {
                self.blocks.insert_fresh(&p.blocks);
                let done = Committed {
                    head: p.state.head.clone(),
                    seq: p.state.seq,
                };
                self.adopt(p.state, true);
                Ok(Some(done))
            }
            CommitOutcome::Conflict => {
                self.reload_forced().await?;
                Ok(None)
            }
        }
    }

    /// The commit of `ops` on `base`; `None` when they are all puts (and `may_skip`) that each
    /// write the document already stored: as in Fireproof, nothing is committed (the same head,
    /// no new row in `changes`).
    async fn prepare(
        &self,
        base: &State,
        ops: &[WriteOp],
        may_skip: bool,
    ) -> Result<Option<Prepared>> {
        let seq = base.seq + 1;
        // each id's last write and its place in the batch
        let mut latest: BTreeMap<&str, (usize, &WriteOp)> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            latest.insert(op.id.as_str(), (i, op));
        }
        // Leaves record their place in the write order unless the batch is in id order (`changes`
        // lists one commit's documents in write order, docs/format.md §2.4).
        let in_id_order = ops.windows(2).all(|w| w[0].id < w[1].id);
        let mut doc_edits: Vec<Edit> = Vec::with_capacity(latest.len());
        let mut extra = Vec::new();
        let mut puts = 0;
        for (&id, &(i, op)) in &latest {
            let pos = (!in_id_order).then_some(i as u64);
            let leaf = match &op.body {
                None => Leaf::Deleted { seq }.to_raw_at(pos)?,
                Some(body) => {
                    puts += 1;
                    leaf_for(seq, pos, body.bytes(), &mut extra, id)?
                }
            };
            doc_edits.push((id.as_bytes().to_vec(), Some(leaf)));
        }
        let docs = prolly::apply(&self.blocks, base.docs, doc_edits, LEAF_SEQ).await?;
        let all_puts = puts == latest.len() as u64 && docs.replaced.len() == latest.len();
        if may_skip && all_puts && unchanged(&docs.replaced, &latest, &extra)? {
            return Ok(None);
        }
        // each put adds a document, each live one it replaces or deletes takes one away
        let mut gone = 0;
        for (_, old) in &docs.replaced {
            let old = LeafMeta::read(old).map_err(|e| Error::corrupt("docs tree", e))?;
            gone += u64::from(old.live);
        }
        let count = (base.count + puts).saturating_sub(gone);
        let event = Event {
            parents: base.head.clone(),
            root: docs.root,
            seq,
            count,
        }
        .encode()?;
        let state = State {
            car: None,
            head: vec![event.cid],
            docs: docs.root,
            seq,
            count,
            indexes: base.indexes.clone(),
            out: base.out.clone(),
            held: base.held,
            gc: base.gc,
            rev: base.rev,
        };
        let mut blocks: Vec<(Block, Option<Rc<Node>>)> = vec![(event, None)];
        blocks.extend(extra);
        blocks.extend(docs.blocks.into_iter().map(|(b, n)| (b, Some(n))));
        self.seal(base, state, blocks).await.map(Some)
    }

    /// Wraps new blocks in a commit block and a sealed CAR.
    pub(super) async fn seal(
        &self,
        base: &State,
        mut state: State,
        mut blocks: Vec<(Block, Option<Rc<Node>>)>,
    ) -> Result<Prepared> {
        let mut commit = BTreeMap::new();
        commit.insert(
            "head".to_string(),
            Ipld::List(state.head.iter().copied().map(Ipld::Link).collect()),
        );
        let prev = match &base.car {
            Some(c) => vec![Ipld::Link(codec::parse_cid(c)?)],
            None => vec![],
        };
        commit.insert("prev".to_string(), Ipld::List(prev));
        commit.insert("v".to_string(), Ipld::Integer(1));
        let commit = codec::encode(&Ipld::Map(commit))?;
        let root = commit.cid;
        blocks.insert(0, (commit, None));
        let mut seen = HashSet::default();
        blocks.retain(|(b, _)| seen.insert(b.cid));
        let mut cars = Vec::new();
        for group in car_groups(&blocks) {
            let sealed = seal_car(&*self.blocks.aead(), &write_car(root, &group)).await?;
            cars.push(StoredCar {
                name: codec::cid_str(&sealed.name),
                bytes: sealed.bytes,
                cids: group.iter().map(|b| b.cid).collect(),
            });
        }
        let bytes: u64 = cars.iter().map(StoredCar::footprint).sum();
        state.rev = base.rev + 1;
        let gc = base.gc.unwrap_or_default();
        state.gc = Some(Gc {
            live: gc.live,
            stored: gc.stored + bytes,
        });
        // A commit that moves the head carries data a remote needs: it joins the sync outbox
        // (and a held-back merge it builds on is no longer held: docs/sync.md §4; a merge's own
        // commit changes this in `adopt_heads`).
        if state.head != base.head {
            state.held = 0;
            if let Some(out) = &mut state.out {
                out.extend(cars.iter().map(|c| c.name.clone()));
            }
        }
        let mut p = Prepared {
            state,
            cars,
            blocks,
            files: Vec::new(),
        };
        p.state.car = Some(p.car_name().to_string());
        Ok(p)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "write_tests.rs"]
mod tests;
