//! Index maintenance and queries on a snapshot, in two steps around the JS map function:
//! [`Ledger::index_begin`] pins a snapshot and hands out the documents changed since the index's
//! seq; [`Ledger::index_finish`] takes the rows the map function emitted for them, updates and
//! persists the index, and runs the query on that same snapshot.
//!
//! Invariant: a query sees the documents and index rows of the snapshot taken by its
//! `index_begin`, whatever commits land in between. Index updates commit no clock event: they are
//! local derived data recorded in the header.
//!
//! Write-behind: a query answers as soon as its index is updated in memory. A fresh index is
//! first just its sorted rows ([`FreshRows`], queried by binary search); an updated one is new
//! tree blocks pinned in the block cache. Either is listed in [`Unsaved`] until
//! [`Ledger::save_indexes`] builds its trees and stores them with the header (the bindings start
//! it right after the query; `close` waits for it). A query on an unsaved index with nothing new
//! uses it as it is; one with changes to apply saves it first, so every update builds on a stored
//! index (no chains of unsaved indexes). A crash before the save only costs a rebuild.

use std::rc::Rc;

use ipld_core::ipld::Ipld;

use super::read::DocRow;
use super::{Ledger, State};
use crate::codec::{self, cid_str};
use crate::doc::{inline_field, LeafMeta, RawDoc};
use crate::error::{Error, Result};
use crate::index::{apply_rows, query, EmittedRows, FreshRows, IndexRoots, QueryOpts, QueryRow};
use crate::prolly::{self, Range};
use crate::store::{CommitOutcome, CommitWrite, IndexHead, Store};

/// At most this many index updates may be pending (begun, not finished) at once.
const MAX_PENDING: usize = 256;

/// An index update in progress.
pub(super) struct PendingIndex {
    name: String,
    src: String,
    state: Rc<State>,
    base: Base,
    /// The documents the update covers (their old rows go); `None` for a fresh build whose
    /// batch is exactly what was emitted (the field index: rows come from the engine itself).
    ids: Option<Vec<String>>,
    /// False for a query on an older state (`view`): its rows are used once, never kept.
    keep: bool,
}

type NewBlocks = Vec<(crate::codec::Block, Option<Rc<crate::prolly::Node>>)>;

/// An index built or updated in memory, not stored yet.
pub(super) struct Unsaved {
    /// The stored head it was built on (`None` for a fresh build).
    base: Option<IndexHead>,
    /// Its head; while `rows` is set, the roots are not computed yet.
    head: IndexHead,
    /// A fresh build's sorted rows, until its trees are built.
    rows: Option<Rc<FreshRows>>,
    /// The blocks of its trees that are not stored (pinned in the cache).
    blocks: NewBlocks,
}

/// What an index update brings.
enum Update {
    /// Rows emitted for the documents of the update.
    Emitted(Vec<EmittedRows>),
    /// The rows of a fresh index, already built.
    Fresh(FreshRows),
}

/// The index a query runs on.
#[derive(Clone)]
struct Base {
    head: Option<IndexHead>,
    /// Set when `head` is a fresh build not turned into trees yet.
    rows: Option<Rc<FreshRows>>,
}

/// A query result row with its document (when asked for and live).
#[derive(Clone, Debug, PartialEq)]
pub struct QueryHit {
    pub row: QueryRow,
    pub doc: Option<RawDoc>,
}

fn roots(h: &IndexHead) -> Result<IndexRoots> {
    let parse = |s: &Option<String>| s.as_deref().map(codec::parse_cid).transpose();
    Ok(IndexRoots {
        keys: parse(&h.keys)?,
        ids: parse(&h.ids)?,
    })
}

impl<S: Store> Ledger<S> {
    /// Pins a snapshot for a query on index `name` (whose map function's source is `src`) and
    /// returns a token with the live documents the map function must see. A different `src`
    /// under the same name rebuilds the index from scratch.
    pub async fn index_begin(&self, name: &str, src: &str) -> Result<(u32, Vec<DocRow>)> {
        self.index_begin_on(name, src, None).await
    }

    /// [`Ledger::index_begin`] on `view` (an older state, see [`Ledger::view`]) when given: a
    /// fresh build over its documents, used by this query only.
    pub async fn index_begin_on(
        &self,
        name: &str,
        src: &str,
        view: Option<Rc<State>>,
    ) -> Result<(u32, Vec<DocRow>)> {
        self.check_open()?;
        let (state, base, keep) = self.pin_on(name, src, view).await?;
        // The map function runs in JS: keep only rows for documents of this snapshot.
        let (ids, docs) = self.changed_docs(&state, &base.head).await?;
        Ok((self.register(name, src, state, base, Some(ids), keep), docs))
    }

    /// The state and index a query runs on: `view` with no index, or [`Ledger::pin_index`].
    async fn pin_on(
        &self,
        name: &str,
        src: &str,
        view: Option<Rc<State>>,
    ) -> Result<(Rc<State>, Base, bool)> {
        Ok(match view {
            Some(v) => (
                v,
                Base {
                    head: None,
                    rows: None,
                },
                false,
            ),
            None => {
                let (state, base) = self.pin_index(name, src).await?;
                (state, base, true)
            }
        })
    }

    /// Updates the index of a top-level field (`doc[field]`, missing or null not indexed)
    /// without leaving the engine, and runs the query: the built-in map function.
    pub async fn index_query_field(
        &self,
        field: &str,
        opts: &QueryOpts,
        include_docs: bool,
    ) -> Result<(Vec<QueryHit>, Rc<State>)> {
        self.index_query_field_on(field, opts, include_docs, None)
            .await
    }

    /// [`Ledger::index_query_field`] on `view` when given (a fresh build, not kept).
    pub async fn index_query_field_on(
        &self,
        field: &str,
        opts: &QueryOpts,
        include_docs: bool,
        view: Option<Rc<State>>,
    ) -> Result<(Vec<QueryHit>, Rc<State>)> {
        self.check_open()?;
        let src = format!("field:{field}");
        let (state, base, keep) = self.pin_on(field, &src, view).await?;
        let key_of = |id: &str, doc: &RawDoc| -> Result<Option<Ipld>> {
            let bad = |e: String| Error::corrupt(format!("doc {id}"), e);
            match (field, doc.field(field).map_err(bad)?) {
                ("_id", _) => Ok(Some(Ipld::String(id.to_string()))),
                (_, None) => Ok(None),
                (_, Some(v)) if v == crate::prolly::NULL => Ok(None),
                (_, Some(v)) => crate::codec::decode(v).map(Some).map_err(bad),
            }
        };
        let (ids, update) = match &base.head {
            None => {
                let rows = self.fresh_field_rows(&state, field, key_of).await?;
                (None, Update::Fresh(rows))
            }
            Some(head) => {
                // An existing index: the changes since its seq, not the encoded leaves.
                let rows = self.changes_since(&state, head).await?;
                let mut ids = Vec::with_capacity(rows.len());
                let mut emitted = Vec::new();
                for r in rows {
                    if let Some(body) = &r.body {
                        if let Some(k) = key_of(&r.id, body)? {
                            emitted.push(EmittedRows {
                                id: r.id.clone(),
                                rows: vec![(k, Ipld::Null)],
                            });
                        }
                    }
                    ids.push(r.id);
                }
                (Some(ids), Update::Emitted(emitted))
            }
        };
        let p = PendingIndex {
            name: field.to_string(),
            src,
            state,
            base,
            ids,
            keep,
        };
        self.finish(p, update, opts, include_docs).await
    }

    /// The rows of a fresh index of `field` over every live document of `state`, read from the
    /// encoded leaves without decoding the documents; a document stored in its own block is
    /// loaded and given to `key_of`.
    async fn fresh_field_rows(
        &self,
        state: &State,
        field: &str,
        mut key_of: impl FnMut(&str, &RawDoc) -> Result<Option<Ipld>>,
    ) -> Result<FreshRows> {
        // not sized by the stored count: a tampered header or archive may claim anything
        let mut rows = FreshRows::default();
        let mut load = Vec::new();
        let mut bad = None;
        prolly::scan(&self.blocks, state.docs, &Range::all(), false, |k, raw| {
            let inline = match field {
                "_id" => Err(()),
                _ => inline_field(raw, field).map_err(|_| ()),
            };
            let r = match inline {
                Ok(None) => Ok(()),
                Ok(Some(v)) => rows.push_raw_key(k, v).map(|_| ()),
                // deleted, stored in its own block, or the `_id` index
                Err(()) => match LeafMeta::read(raw) {
                    Ok(meta) if meta.live && field == "_id" => {
                        rows.push_key(k, &Ipld::String(crate::doc::id_of(k)))
                    }
                    Ok(meta) if meta.live => {
                        load.push(crate::doc::id_of(k));
                        Ok(())
                    }
                    Ok(_) => Ok(()),
                    Err(e) => Err(Error::corrupt("docs tree", e)),
                },
            };
            if let Err(e) = r {
                bad = Some(e);
            }
            bad.is_none()
        })
        .await?;
        if let Some(e) = bad {
            return Err(e);
        }
        for id in load {
            if let Some(body) = self.get_in(state, &id).await? {
                if let Some(key) = key_of(&id, &body)? {
                    rows.push_key(id.as_bytes(), &key)?;
                }
            }
        }
        rows.sort();
        Ok(rows)
    }

    /// The current snapshot and the newest version of index `name` built from `src` (unsaved
    /// or stored), if any. An unsaved one behind the snapshot is saved first.
    async fn pin_index(&self, name: &str, src: &str) -> Result<(Rc<State>, Base)> {
        loop {
            let state = self.snapshot();
            let stored = state.indexes.get(name).filter(|h| h.src == src).cloned();
            let unsaved = self.unsaved.borrow().get(name).and_then(|u| {
                let newer = u.head.src == src
                    && u.head.seq <= state.seq
                    && stored.as_ref().is_none_or(|s| s.seq < u.head.seq);
                newer.then(|| (u.head.clone(), u.rows.clone()))
            });
            match unsaved {
                Some((head, rows)) if head.seq == state.seq => {
                    let head = Some(head);
                    return Ok((state, Base { head, rows }));
                }
                // Changes to apply: they go on top of the stored index.
                Some(_) => self.save_indexes().await?,
                None => {
                    let head = stored;
                    return Ok((state, Base { head, rows: None }));
                }
            }
            self.check_open()?;
        }
    }

    /// Records an index built or updated in memory, pinning its new blocks, unless a newer
    /// version of it is already recorded.
    fn keep_unsaved(&self, name: &str, u: Unsaved) {
        let mut map = self.unsaved.borrow_mut();
        if let Some(old) = map.get(name) {
            if old.head.src == u.head.src && old.head.seq >= u.head.seq {
                return;
            }
        }
        self.blocks.pin(&u.blocks);
        if let Some(old) = map.insert(name.to_string(), u) {
            self.blocks.unpin(&old.blocks);
        }
    }

    /// Forgets every unsaved index (the ledger is being destroyed).
    pub(super) fn drop_unsaved(&self) {
        for (_, u) in self.unsaved.borrow_mut().drain() {
            self.blocks.unpin(&u.blocks);
        }
    }

    /// True if some index was built or updated in memory and is not stored yet.
    pub fn has_unsaved_indexes(&self) -> bool {
        !self.unsaved.borrow().is_empty()
    }

    /// Turns the sorted rows of unsaved fresh index `name` into its trees (pinned blocks).
    async fn build_trees(&self, name: &str) -> Result<()> {
        let rows = self.unsaved.borrow().get(name).and_then(|u| u.rows.clone());
        let Some(rows) = rows else { return Ok(()) };
        let built = rows.to_trees(&self.blocks).await;
        let mut map = self.unsaved.borrow_mut();
        let Some(u) = map.get_mut(name).filter(|u| u.rows.is_some()) else {
            return Ok(()); // replaced meanwhile
        };
        let (roots, blocks) = match built {
            Ok(b) => b,
            Err(e) => {
                // Without trees the rows cannot be saved: forget them (the next query rebuilds).
                map.remove(name);
                return Err(e);
            }
        };
        let blocks: NewBlocks = blocks.into_iter().map(|(b, n)| (b, Some(n))).collect();
        self.blocks.insert_fresh(&blocks);
        self.blocks.pin(&blocks);
        u.head.keys = roots.keys.map(|c| cid_str(&c));
        u.head.ids = roots.ids.map(|c| cid_str(&c));
        u.rows = None;
        u.blocks.extend(blocks);
        Ok(())
    }

    /// Stores every index updated in memory (its blocks in one CAR, its head in the header).
    /// On error the indexes stay unsaved (and usable); a later call retries. A closed ledger
    /// saves nothing.
    pub async fn save_indexes(&self) -> Result<()> {
        // One save at a time: a caller that waited finds the indexes already stored.
        let _saving = self.save_lock.lock().await;
        loop {
            if self.closed.get() {
                return Ok(());
            }
            let Some(name) = self.unsaved.borrow().keys().next().cloned() else {
                return Ok(());
            };
            self.build_trees(&name).await?;
            let next = self
                .unsaved
                .borrow()
                .get(&name)
                .map(|u| (u.base.clone(), u.head.clone(), u.blocks.clone()));
            let Some((base, head, blocks)) = next else {
                continue;
            };
            self.commit_index(&name, &base, head.clone(), blocks)
                .await?;
            let mut map = self.unsaved.borrow_mut();
            if map.get(&name).is_some_and(|u| u.head == head) {
                if let Some(u) = map.remove(&name) {
                    self.blocks.unpin(&u.blocks);
                }
            }
        }
    }

    /// The document rows changed in `state` since index `head` was built (none if it is not
    /// behind).
    async fn changes_since(&self, state: &State, head: &IndexHead) -> Result<Vec<DocRow>> {
        if head.seq >= state.seq {
            return Ok(Vec::new());
        }
        Ok(self.changes_in(state, head.seq, None).await?.0)
    }

    /// The ids an index update covers and their live documents: for an existing index the
    /// changes since its seq; for a fresh one every live document (decoded from its encoded
    /// leaf, or loaded when stored in its own block).
    async fn changed_docs(
        &self,
        state: &State,
        base: &Option<IndexHead>,
    ) -> Result<(Vec<String>, Vec<DocRow>)> {
        if let Some(h) = base {
            let mut rows = self.changes_since(state, h).await?;
            let ids = ids_of(&rows);
            rows.retain(|r| r.body.is_some());
            return Ok((ids, rows));
        }
        let mut out = Vec::new();
        let mut load = Vec::new();
        let mut bad = None;
        prolly::scan(&self.blocks, state.docs, &Range::all(), false, |k, raw| {
            let id = crate::doc::id_of(k);
            match LeafMeta::read(raw) {
                Ok(meta) if meta.live => {
                    match meta.doc.map(|(a, b)| RawDoc::from_map(&raw[a..b])) {
                        Some(Ok(doc)) => out.push(DocRow {
                            id,
                            body: Some(doc),
                        }),
                        // in its own block, or malformed (reported by the load)
                        _ => load.push(id),
                    }
                }
                Ok(_) => {}
                Err(e) => bad = Some(e),
            }
            bad.is_none()
        })
        .await?;
        if let Some(e) = bad {
            return Err(Error::corrupt("docs tree", e));
        }
        for id in load {
            if let Some(body) = self.get_in(state, &id).await? {
                out.push(DocRow {
                    id,
                    body: Some(body),
                });
            }
        }
        let ids = ids_of(&out);
        Ok((ids, out))
    }

    /// Records a begun index update and returns its token.
    fn register(
        &self,
        name: &str,
        src: &str,
        state: Rc<State>,
        base: Base,
        ids: Option<Vec<String>>,
        keep: bool,
    ) -> u32 {
        let token = self.next_token.get().wrapping_add(1);
        self.next_token.set(token);
        let mut pending = self.pending.borrow_mut();
        if pending.len() >= MAX_PENDING {
            pending.clear(); // abandoned queries (their map function threw without abort)
        }
        pending.insert(
            token,
            PendingIndex {
                name: name.to_string(),
                src: src.to_string(),
                state,
                base,
                ids,
                keep,
            },
        );
        token
    }

    /// Forgets a begun index update (the map function failed).
    pub fn index_abort(&self, token: u32) {
        self.pending.borrow_mut().remove(&token);
    }

    /// Applies the emitted rows, persists the index and runs the query on the pinned snapshot.
    pub async fn index_finish(
        &self,
        token: u32,
        emitted: Vec<EmittedRows>,
        opts: &QueryOpts,
        include_docs: bool,
    ) -> Result<(Vec<QueryHit>, Rc<State>)> {
        self.check_open()?;
        let p = self
            .pending
            .borrow_mut()
            .remove(&token)
            .ok_or_else(|| Error::InvalidArg(format!("unknown index token {token}")))?;
        self.finish(p, Update::Emitted(emitted), opts, include_docs)
            .await
    }

    /// Applies an update to the index of `p`, keeps the result unsaved, and runs the query on
    /// `p`'s snapshot.
    async fn finish(
        &self,
        mut p: PendingIndex,
        update: Update,
        opts: &QueryOpts,
        include_docs: bool,
    ) -> Result<(Vec<QueryHit>, Rc<State>)> {
        let no_changes = p.ids.as_ref().is_some_and(|ids| ids.is_empty());
        // The rows of a fresh build (`Some`), or else the `keys` tree the query runs on.
        let (sorted, keys) = match (&p.base.head, &p.base.rows) {
            (Some(_), Some(fresh)) if no_changes => (Some(query::run_sorted(fresh, opts)?), None),
            (Some(head), None) if no_changes => (None, roots(head)?.keys),
            (None, _) => (Some(self.fresh_query(&mut p, update, opts)?), None),
            (Some(_), Some(_)) => {
                return Err(Error::Internal("update on an unsaved index".into()));
            }
            (Some(base), None) => {
                let Update::Emitted(emitted) = update else {
                    return Err(Error::Internal("fresh rows for an existing index".into()));
                };
                let batch = batch(p.ids.take(), emitted);
                let (new_roots, blocks) = apply_rows(&self.blocks, &roots(base)?, batch).await?;
                self.keep_updated(&p, base.clone(), new_roots, blocks);
                (None, new_roots.keys)
            }
        };
        let rows = match sorted {
            Some(rows) => rows,
            None => query::run(&self.blocks, keys, opts).await?,
        };
        let docs = if include_docs {
            let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
            self.docs_in(&p.state, &ids).await?
        } else {
            Vec::new()
        };
        Ok((hits(rows, docs), p.state))
    }

    /// A fresh build of the index of `p` (sorted rows now, trees when saved), kept unsaved
    /// unless `p` is a view's; the query's rows on it.
    fn fresh_query(
        &self,
        p: &mut PendingIndex,
        update: Update,
        opts: &QueryOpts,
    ) -> Result<Vec<QueryRow>> {
        let fresh = match update {
            Update::Fresh(rows) => rows,
            Update::Emitted(emitted) => FreshRows::build(batch(p.ids.take(), emitted))?,
        };
        let fresh = Rc::new(fresh);
        let rows = query::run_sorted(&fresh, opts)?;
        if p.keep {
            let u = Unsaved {
                base: None,
                head: IndexHead {
                    src: p.src.clone(),
                    keys: None,
                    ids: None,
                    seq: p.state.seq,
                },
                rows: Some(fresh),
                blocks: Vec::new(),
            };
            self.keep_unsaved(&p.name, u);
        }
        Ok(rows)
    }

    /// Keeps the update of the index of `p` on `base` (new roots `roots`, new `blocks`) unsaved.
    fn keep_updated(
        &self,
        p: &PendingIndex,
        base: IndexHead,
        roots: IndexRoots,
        blocks: Vec<(crate::codec::Block, Rc<crate::prolly::Node>)>,
    ) {
        let head = IndexHead {
            src: p.src.clone(),
            keys: roots.keys.map(|c| cid_str(&c)),
            ids: roots.ids.map(|c| cid_str(&c)),
            seq: p.state.seq,
        };
        let blocks: NewBlocks = blocks.into_iter().map(|(b, n)| (b, Some(n))).collect();
        self.blocks.insert_fresh(&blocks);
        let u = Unsaved {
            base: Some(base),
            head,
            rows: None,
            blocks,
        };
        self.keep_unsaved(&p.name, u);
    }

    /// Records a new index head (and its blocks) in the header, unless another writer already
    /// moved this index; the caller's query uses its own roots either way.
    async fn commit_index(
        &self,
        name: &str,
        expected: &Option<IndexHead>,
        head: IndexHead,
        blocks: Vec<(crate::codec::Block, Option<Rc<crate::prolly::Node>>)>,
    ) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        // No attempt limit: a conflict means another writer committed (progress), and a save
        // runs in the background or under a query that must not fail for contention.
        loop {
            if self.closed.get() {
                return Ok(());
            }
            let cur = self.snapshot();
            let Some(car) = cur.car.clone() else {
                return Ok(());
            };
            let stored = cur.indexes.get(name).filter(|h| h.src == head.src);
            if stored != expected.as_ref() && stored.is_some_and(|s| s.seq >= head.seq) {
                return Ok(());
            }
            let mut state = (*cur).clone();
            state.indexes.insert(name.to_string(), head.clone());
            let write = if blocks.is_empty() {
                state.rev += 1;
                CommitWrite {
                    expect: Some(car.clone()),
                    cars: vec![],
                    staged: vec![],
                    header: state.to_header(&car),
                }
            } else {
                let p = self.seal(&cur, state.clone(), blocks.clone()).await?;
                state = p.state.clone();
                p.to_write(Some(car.clone()))
            };
            match self.store.commit(write).await? {
                CommitOutcome::Committed => {
                    self.adopt(state, true);
                    return Ok(());
                }
                CommitOutcome::Conflict => self.reload_forced().await?,
            }
        }
    }
}

/// The ids of `rows`, in order.
fn ids_of(rows: &[DocRow]) -> Vec<String> {
    let mut ids = Vec::with_capacity(rows.len());
    for r in rows {
        ids.push(r.id.clone());
    }
    ids
}

/// The batch of an update: `emitted` aligned on the ids it covers, if known.
fn batch(ids: Option<Vec<String>>, emitted: Vec<EmittedRows>) -> Vec<EmittedRows> {
    match ids {
        Some(ids) => align(ids, emitted),
        None => emitted,
    }
}

/// The query hits of `rows`, with their documents `docs` (in the same order; none if empty).
fn hits(rows: Vec<QueryRow>, docs: Vec<Option<Option<RawDoc>>>) -> Vec<QueryHit> {
    let mut docs = docs.into_iter();
    let mut hits = Vec::with_capacity(rows.len());
    for row in rows {
        let doc = docs.next().flatten().flatten();
        hits.push(QueryHit { row, doc });
    }
    hits
}

/// One batch entry per id of `ids` (in that order) with the rows emitted for it (none if it
/// emitted nothing). Emitted rows normally follow the order of `ids`: then this is one merge walk.
fn align(ids: Vec<String>, emitted: Vec<EmittedRows>) -> Vec<EmittedRows> {
    let mut j = 0;
    for id in &ids {
        if emitted.get(j).is_some_and(|e| e.id == *id) {
            j += 1;
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    if j == emitted.len() {
        let mut rest = emitted.into_iter().peekable();
        for id in ids {
            let rows = rest.next_if(|e| e.id == id).map(|e| e.rows);
            out.push(EmittedRows {
                id,
                rows: rows.unwrap_or_default(),
            });
        }
        return out;
    }
    let mut by_id: crate::HashMap<String, Vec<_>> = crate::HashMap::default();
    by_id.reserve(emitted.len());
    for e in emitted {
        by_id.insert(e.id, e.rows);
    }
    for id in ids {
        let rows = by_id.remove(&id).unwrap_or_default();
        out.push(EmittedRows { id, rows });
    }
    out
}
