//! Index maintenance and queries on a snapshot, in two steps around the JS map function:
//! [`Ledger::index_begin`] pins a snapshot and hands out the documents changed since the index's
//! seq; [`Ledger::index_finish`] takes the rows the map function emitted for them, updates and
//! persists the index, and runs the query on that same snapshot.
//!
//! Invariant: a query sees the documents and index rows of the snapshot taken by its
//! `index_begin`, whatever commits land in between. Index updates commit no clock event: they are
//! local derived data recorded in the header.

use std::rc::Rc;

use ipld_core::ipld::Ipld;

use super::read::DocRow;
use super::{Ledger, State};
use crate::codec::{self, cid_str};
use crate::doc::{inline_field, Body, Leaf, LeafMeta};
use crate::error::{Error, Result};
use crate::index::{apply_rows, query, EmittedRows, IndexRoots, QueryOpts, QueryRow};
use crate::prolly::{self, Range};
use crate::store::{CommitOutcome, CommitWrite, IndexHead, Store};

/// At most this many index updates may be pending (begun, not finished) at once.
const MAX_PENDING: usize = 256;

/// An index update in progress.
pub(super) struct PendingIndex {
    name: String,
    src: String,
    state: Rc<State>,
    base: Option<IndexHead>,
    ids: Vec<String>,
}

/// What a projection makes of an encoded leaf during a fresh index scan.
enum Inline<T> {
    /// Projected without decoding the document (`None`/absent values included).
    Done(T),
    /// Needs the decoded document (or the leaf is deleted: then it is skipped).
    Decode,
}

/// A query result row with its document (when asked for and live).
#[derive(Clone, Debug, PartialEq)]
pub struct QueryHit {
    pub row: QueryRow,
    pub doc: Option<Body>,
}

fn roots(h: &Option<IndexHead>) -> Result<IndexRoots> {
    let parse = |s: &Option<String>| s.as_deref().map(codec::parse_cid).transpose();
    match h {
        Some(h) => Ok(IndexRoots {
            keys: parse(&h.keys)?,
            ids: parse(&h.ids)?,
        }),
        None => Ok(IndexRoots::default()),
    }
}

impl<S: Store> Ledger<S> {
    /// Pins a snapshot for a query on index `name` (whose map function's source is `src`) and
    /// returns a token with the live documents the map function must see. A different `src`
    /// under the same name rebuilds the index from scratch.
    pub async fn index_begin(&self, name: &str, src: &str) -> Result<(u32, Vec<DocRow>)> {
        self.check_open()?;
        let (state, base) = self.pin_index(name, src);
        let inline = |_: &str, raw: &[u8]| match Leaf::from_raw(raw) {
            Ok(Leaf::Doc { body, .. }) => Inline::Done(body),
            _ => Inline::Decode, // deleted, in its own block, or malformed (reported by the scan)
        };
        let (ids, docs) = self
            .changed_docs(&state, &base, inline, |_, body| body.clone())
            .await?;
        let docs = docs
            .into_iter()
            .map(|(id, body)| DocRow {
                id,
                body: Some(body),
            })
            .collect();
        Ok((self.register(name, src, state, base, ids), docs))
    }

    /// Updates the index of a top-level field (`doc[field]`, missing or null not indexed)
    /// without leaving the engine, and runs the query: the built-in map function.
    pub async fn index_query_field(
        &self,
        field: &str,
        opts: &QueryOpts,
        include_docs: bool,
    ) -> Result<(Vec<QueryHit>, Rc<State>)> {
        self.check_open()?;
        let src = format!("field:{field}");
        let (state, base) = self.pin_index(field, &src);
        let key_of = |id: &str, body: &Body| match field {
            "_id" => Some(Ipld::String(id.to_string())),
            _ => body.get(field).filter(|v| **v != Ipld::Null).cloned(),
        };
        let inline = |id: &str, raw: &[u8]| match (field, inline_field(raw, field)) {
            ("_id", _) => match LeafMeta::read(raw) {
                Ok(meta) if meta.live => Inline::Done(Some(Ipld::String(id.to_string()))),
                _ => Inline::Decode,
            },
            (_, Ok(None)) => Inline::Done(None),
            (_, Ok(Some(v))) => match crate::codec::decode(v) {
                Ok(Ipld::Null) => Inline::Done(None),
                Ok(key) => Inline::Done(Some(key)),
                Err(_) => Inline::Decode,
            },
            (_, Err(_)) => Inline::Decode, // deleted, or stored in its own block
        };
        let (ids, keys) = self.changed_docs(&state, &base, inline, key_of).await?;
        let emitted = keys
            .into_iter()
            .filter_map(|(id, k)| {
                Some(EmittedRows {
                    id,
                    rows: vec![(k?, Ipld::Null)],
                })
            })
            .collect();
        let token = self.register(field, &src, state, base, ids);
        self.index_finish(token, emitted, opts, include_docs).await
    }

    /// The current snapshot and the stored head of index `name` if it was built from `src`.
    fn pin_index(&self, name: &str, src: &str) -> (Rc<State>, Option<IndexHead>) {
        let state = self.snapshot();
        let base = state.indexes.get(name).filter(|h| h.src == src).cloned();
        (state, base)
    }

    /// The ids an index update covers and their live documents projected by `f`. A fresh index
    /// sees every live document: each encoded leaf goes to `inline` first, which may project it
    /// without decoding the document ([`Inline::Done`]); otherwise the document is decoded (or,
    /// if stored in its own block, loaded) and given to `f`. An existing index sees the changes
    /// since its seq.
    async fn changed_docs<T>(
        &self,
        state: &State,
        base: &Option<IndexHead>,
        mut inline: impl FnMut(&str, &[u8]) -> Inline<T>,
        mut f: impl FnMut(&str, &Body) -> T,
    ) -> Result<(Vec<String>, Vec<(String, T)>)> {
        if let Some(h) = base {
            if h.seq >= state.seq {
                return Ok((Vec::new(), Vec::new()));
            }
            let rows = self.changes_in(state, h.seq, None).await?;
            let ids = rows.iter().map(|r| r.id.clone()).collect();
            let live = rows
                .into_iter()
                .filter_map(|r| Some((f(&r.id, r.body.as_ref()?), r.id)))
                .map(|(t, id)| (id, t))
                .collect();
            return Ok((ids, live));
        }
        let mut out = Vec::new();
        let mut load = Vec::new();
        let mut bad = None;
        prolly::scan(&self.blocks, state.docs, &Range::all(), false, |k, raw| {
            let id = String::from_utf8_lossy(k).into_owned();
            match inline(&id, raw) {
                Inline::Done(t) => out.push((id, t)),
                Inline::Decode => match LeafMeta::read(raw) {
                    Ok(meta) if meta.live => load.push(id),
                    Ok(_) => {}
                    Err(e) => bad = Some(e),
                },
            }
            bad.is_none()
        })
        .await?;
        if let Some(e) = bad {
            return Err(Error::corrupt("docs tree", e));
        }
        for id in load {
            if let Some(body) = self.get_in(state, &id).await? {
                let t = f(&id, &body);
                out.push((id, t));
            }
        }
        let ids = out.iter().map(|(id, _)| id.clone()).collect();
        Ok((ids, out))
    }

    /// Records a begun index update and returns its token.
    fn register(
        &self,
        name: &str,
        src: &str,
        state: Rc<State>,
        base: Option<IndexHead>,
        ids: Vec<String>,
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
        let base_roots = roots(&p.base)?;
        let current = if p.ids.is_empty() && p.base.is_some() {
            base_roots
        } else {
            let mut by_id: std::collections::HashMap<String, Vec<_>> =
                emitted.into_iter().map(|e| (e.id, e.rows)).collect();
            let batch = p
                .ids
                .iter()
                .map(|id| EmittedRows {
                    id: id.clone(),
                    rows: by_id.remove(id).unwrap_or_default(),
                })
                .collect();
            let (new_roots, blocks) = apply_rows(&self.blocks, &base_roots, batch).await?;
            let head = IndexHead {
                src: p.src.clone(),
                keys: new_roots.keys.map(|c| cid_str(&c)),
                ids: new_roots.ids.map(|c| cid_str(&c)),
                seq: p.state.seq,
            };
            let blocks: Vec<_> = blocks.into_iter().map(|(b, n)| (b, Some(n))).collect();
            self.blocks.insert_fresh(&blocks);
            self.commit_index(&p.name, &p.base, head, blocks).await?;
            new_roots
        };
        let rows = query::run(&self.blocks, current.keys, opts).await?;
        let mut hits = Vec::with_capacity(rows.len());
        for row in rows {
            let doc = if include_docs {
                self.get_in(&p.state, &row.id).await?
            } else {
                None
            };
            hits.push(QueryHit { row, doc });
        }
        Ok((hits, p.state))
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
        for _ in 0..16 {
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
                CommitWrite {
                    expect: Some(car.clone()),
                    cars: vec![],
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
        Err(Error::Storage(
            "index update kept conflicting with other writers".into(),
        ))
    }
}
