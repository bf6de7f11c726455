//! Reads on a snapshot: `get`, `all_docs` (with key/keys/prefix/descending/limit) and `changes`.
//!
//! Invariant: each call reads the one [`State`] it captured when it started.

use std::rc::Rc;

use cid::Cid;

use super::{Ledger, State};
use crate::doc::{LeafMeta, RawDoc};
use crate::error::{Error, Result};
use crate::prolly::{self, Bound, Range};
use crate::store::Store;

/// Documents looked up together by [`Ledger::docs_in`]: the blocks one batch loads are kept in
/// memory until the batch is done.
const DOCS_PER_RUN: usize = 1024;

/// A document row: `body` is `None` for a deleted document.
#[derive(Clone, Debug, PartialEq)]
pub struct DocRow {
    pub id: String,
    pub body: Option<RawDoc>,
}

/// What a leaf holds: its document (still encoded), a deletion, or the CID of the document's
/// own block.
enum Found {
    Doc(RawDoc),
    Deleted,
    Block(Cid),
}

impl Found {
    fn read(id: &str, leaf: &[u8]) -> Result<Found> {
        let bad = |e: String| Error::corrupt(format!("doc {id}"), e);
        let meta = LeafMeta::read(leaf).map_err(bad)?;
        match (meta.live, meta.doc, meta.doc_ref) {
            (false, _, _) => Ok(Found::Deleted),
            (true, Some((a, b)), _) => RawDoc::from_map(&leaf[a..b]).map(Found::Doc).map_err(bad),
            (true, None, Some(cid)) => Ok(Found::Block(cid)),
            (true, None, None) => Err(bad("live leaf without a document".into())),
        }
    }
}

/// A document written with a `_deleted: true` field: allDocs leaves it out unless asked for
/// deleted ones, as Fireproof does (docs/differences.md).
fn flagged(doc: &RawDoc) -> bool {
    matches!(doc.field("_deleted"), Ok(Some([0xf5])))
}

/// Options of [`Ledger::all_docs`].
#[derive(Clone, Debug, Default)]
pub struct AllDocsOpts {
    pub limit: Option<usize>,
    pub include_deleted: bool,
    pub descending: bool,
    pub key: Option<String>,
    pub keys: Option<Vec<String>>,
    pub prefix: Option<String>,
}

/// The changes key `seq ‖ pos ‖ id` of a documents-tree leaf written after `after` (`None` if
/// older): one commit's documents in write order (`pos`), by id where it has none.
fn change_key(id: &[u8], leaf: &[u8], after: u64) -> Result<Option<Vec<u8>>> {
    let m = LeafMeta::read(leaf).map_err(|e| Error::corrupt("docs tree", e))?;
    Ok((m.seq > after).then(|| [&m.seq.to_be_bytes()[..], &m.pos.to_be_bytes(), id].concat()))
}

impl<S: Store> Ledger<S> {
    /// Resolves an encoded leaf to its document (`None` when deleted), loading a separate doc
    /// block if needed. The document stays encoded.
    async fn resolve(&self, id: &str, leaf: &[u8]) -> Result<Option<RawDoc>> {
        let found = Found::read(id, leaf)?;
        self.load_found(id, found).await
    }

    /// The document a leaf points to, loading its block if it has its own.
    async fn load_found(&self, id: &str, found: Found) -> Result<Option<RawDoc>> {
        let cid = match found {
            Found::Doc(doc) => return Ok(Some(doc)),
            Found::Deleted => return Ok(None),
            Found::Block(cid) => cid,
        };
        let bad = |e: String| Error::corrupt(format!("doc {id}"), e);
        let block = self.blocks.block(&cid).await?;
        match crate::doc::map_get(&block, "doc").map_err(bad)? {
            Some(doc) => RawDoc::from_map(doc).map(Some).map_err(bad),
            None => Err(bad("doc block has no doc map".into())),
        }
    }

    /// The documents of `ids` in a snapshot: `None` where the id is absent, `Some(None)` where
    /// it is deleted. The tree nodes and separate doc blocks they need are loaded in batches: one
    /// store round trip per tree level for all of them, not one per document.
    pub(super) async fn docs_in(
        &self,
        state: &State,
        ids: &[&str],
    ) -> Result<Vec<Option<Option<RawDoc>>>> {
        let mut out = Vec::with_capacity(ids.len());
        let one = |id: &str| -> Result<Option<Option<RawDoc>>> {
            let Some(leaf) = prolly::get_now(&self.blocks, state.docs, id.as_bytes())? else {
                return Ok(None);
            };
            let cid = match Found::read(id, &leaf)? {
                Found::Doc(doc) => return Ok(Some(Some(doc))),
                Found::Deleted => return Ok(Some(None)),
                Found::Block(cid) => cid,
            };
            let bad = |e: String| Error::corrupt(format!("doc {id}"), e);
            match crate::doc::map_get(&self.blocks.now(&cid)?, "doc").map_err(bad)? {
                Some(doc) => RawDoc::from_map(doc).map(|d| Some(Some(d))).map_err(bad),
                None => Err(bad("doc block has no doc map".into())),
            }
        };
        // In slices, so that what a run keeps in memory stays small whatever the number of ids.
        for slice in ids.chunks(DOCS_PER_RUN) {
            let mut got = Vec::with_capacity(slice.len());
            self.blocks
                .settle(&mut || {
                    got.clear();
                    // every id is tried, so that one run notes every block this level misses
                    let mut missed = Ok(());
                    for id in slice {
                        match one(id) {
                            Ok(d) => got.push(d),
                            Err(e @ Error::MissingBlock(_)) => {
                                missed = Err(e);
                                got.push(None);
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    missed
                })
                .await?;
            out.append(&mut got);
        }
        Ok(out)
    }

    /// The encoded leaf of `id` in a snapshot.
    async fn leaf(&self, state: &State, id: &str) -> Result<Option<Vec<u8>>> {
        prolly::get(&self.blocks, state.docs, id.as_bytes()).await
    }

    /// The live document `id` (without `_id`), or `ENOENT`.
    pub async fn get(&self, id: &str) -> Result<RawDoc> {
        self.check_open()?;
        let state = self.snapshot();
        self.get_in(&state, id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// The live document `id` in a given snapshot.
    pub async fn get_in(&self, state: &State, id: &str) -> Result<Option<RawDoc>> {
        match self.leaf(state, id).await? {
            Some(leaf) => self.resolve(id, &leaf).await,
            None => Ok(None),
        }
    }

    /// Documents in id order (or reverse), filtered by the options.
    pub async fn all_docs(&self, opts: &AllDocsOpts) -> Result<(Vec<DocRow>, Rc<State>)> {
        self.check_open()?;
        self.all_docs_in(self.snapshot(), opts).await
    }

    /// [`Ledger::all_docs`] in a given snapshot.
    pub async fn all_docs_in(
        &self,
        state: Rc<State>,
        opts: &AllDocsOpts,
    ) -> Result<(Vec<DocRow>, Rc<State>)> {
        let limit = opts.limit.unwrap_or(usize::MAX);
        let mut rows = Vec::new();
        if let Some(keys) = &opts.keys {
            let ids: Vec<&str> = keys.iter().map(String::as_str).collect();
            for (id, found) in keys.iter().zip(self.docs_in(&state, &ids).await?) {
                match found {
                    Some(body)
                        if rows.len() < limit
                            && (opts.include_deleted
                                || body.as_ref().is_some_and(|b| !flagged(b))) =>
                    {
                        rows.push(DocRow {
                            id: id.clone(),
                            body,
                        })
                    }
                    _ => {}
                }
            }
            return Ok((rows, state));
        }
        let mut range = match (&opts.key, &opts.prefix) {
            (Some(k), _) => Range {
                lo: Bound::Included(k.as_bytes().to_vec()),
                hi: Bound::Included(k.as_bytes().to_vec()),
            },
            (None, Some(p)) => Range::prefix(p.as_bytes()),
            (None, None) => Range::all(),
        };
        // Inline documents are taken during the scan; only separate doc blocks are loaded after.
        // Such a block may turn out to carry a `_deleted: true` field, leaving the window short
        // of `limit`: the scan then goes on after it.
        while rows.len() < limit {
            let want = limit - rows.len();
            let mut found: Vec<(String, Found)> = Vec::new();
            let mut bad = None;
            prolly::scan(&self.blocks, state.docs, &range, opts.descending, |k, v| {
                let leaf = std::str::from_utf8(k)
                    .map_err(|_| Error::corrupt("docs tree", "id is not utf-8"))
                    .and_then(|id| Ok((id, Found::read(id, v)?)));
                match leaf {
                    Ok((_, Found::Deleted)) if !opts.include_deleted => {}
                    Ok((_, Found::Doc(d))) if !opts.include_deleted && flagged(&d) => {}
                    Ok((id, f)) => found.push((id.to_string(), f)),
                    Err(e) => bad = Some(e),
                }
                bad.is_none() && found.len() < want
            })
            .await?;
            if let Some(e) = bad {
                return Err(e);
            }
            let more = found.len() == want; // the scan stopped at the limit, not at the end
            let last = found
                .last()
                .map(|(id, _)| Bound::Excluded(id.as_bytes().to_vec()));
            for (id, f) in found {
                let body = self.load_found(&id, f).await?;
                if opts.include_deleted || !body.as_ref().is_some_and(flagged) {
                    rows.push(DocRow { id, body });
                }
            }
            match last {
                Some(after) if more && opts.descending => range.hi = after,
                Some(after) if more => range.lo = after,
                _ => break,
            }
        }
        Ok((rows, state))
    }

    /// The seq of the oldest event in `since`; 0 (everything) when an event is unknown here,
    /// e.g. after compaction or for a clock of another ledger.
    pub(super) async fn since_seq(&self, since: &[Cid]) -> u64 {
        let mut min = u64::MAX;
        for c in since {
            min = min.min(self.event(c).await.map_or(0, |e| e.seq));
        }
        if min == u64::MAX {
            0
        } else {
            min
        }
    }

    /// One row per document changed after the clock `since` (all documents when empty), oldest
    /// first. With `limit`, the most recent `limit` changes (still oldest first).
    pub async fn changes(
        &self,
        since: &[Cid],
        limit: Option<usize>,
    ) -> Result<(Vec<DocRow>, Rc<State>)> {
        self.check_open()?;
        self.changes_at(self.snapshot(), since, limit).await
    }

    /// [`Ledger::changes`] in a given snapshot.
    pub async fn changes_at(
        &self,
        state: Rc<State>,
        since: &[Cid],
        limit: Option<usize>,
    ) -> Result<(Vec<DocRow>, Rc<State>)> {
        let after = self.since_seq(since).await;
        let rows = self.changes_in(&state, after, limit).await?.0;
        Ok((rows, state))
    }

    /// The changes keys `seq ‖ id` of the leaves written after `after`, in key order (reading
    /// only the paths to them: the branches record the highest seq below, docs/format.md §4).
    async fn changed_after(&self, state: &State, after: u64) -> Result<Vec<Vec<u8>>> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut bad = None;
        prolly::scan_after(&self.blocks, state.docs, after, |k, v| {
            match change_key(k, v, after) {
                Ok(Some(key)) => keys.push(key),
                Ok(None) => {}
                Err(e) => bad = Some(e),
            }
            bad.is_none()
        })
        .await?;
        bad.map_or(Ok(keys), Err)
    }

    /// Changes after a numeric seq, in a given snapshot, with each row's seq (the seq its leaf
    /// carries).
    pub async fn changes_in(
        &self,
        state: &State,
        after: u64,
        limit: Option<usize>,
    ) -> Result<(Vec<DocRow>, Vec<u64>)> {
        let keys = match limit {
            None => self.changed_after(state, after).await?,
            // The newest `n`: a window of recent seqs, widened until it holds `n` changes (each
            // try reads only the paths to leaves newer than its start).
            Some(n) => {
                let mut span = n as u64;
                loop {
                    let from = state.seq.saturating_sub(span).max(after);
                    let keys = self.changed_after(state, from).await?;
                    if keys.len() >= n || from == after {
                        break keys;
                    }
                    span = span.saturating_mul(4);
                }
            }
        };
        // oldest first (by seq, then write order); with `limit`, the newest `limit` of them
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        crate::sort::heap_sort(&mut order, &|x, y| keys[x as usize] < keys[y as usize]);
        let skip = order.len().saturating_sub(limit.unwrap_or(usize::MAX));
        let mut ids = Vec::with_capacity(order.len() - skip);
        let mut seqs = Vec::with_capacity(order.len() - skip);
        for &i in &order[skip..] {
            let key = &keys[i as usize];
            seqs.push(u64::from_be_bytes(key[..8].try_into().unwrap_or_default()));
            ids.push(
                String::from_utf8(keys[i as usize][16..].to_vec())
                    .map_err(|_| Error::corrupt("docs tree", "id is not utf-8"))?,
            );
        }
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let found = self.docs_in(state, &refs).await?;
        let mut rows = Vec::with_capacity(ids.len());
        for (id, f) in ids.into_iter().zip(found) {
            let body = f.ok_or_else(|| Error::Internal(format!("changes: {id} has no leaf")))?;
            rows.push(DocRow { id, body });
        }
        Ok((rows, seqs))
    }
}
