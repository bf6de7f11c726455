//! The `Ledger` JS class: one open ledger backed by IndexedDB.

use std::rc::Rc;

use cid::Cid;
use ipld_core::ipld::Ipld;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::error::to_js;
use crate::codec::{cid_str, parse_cid};
use crate::doc::{parse_batch, parse_value, write_int, write_stored_doc, write_str, IdAt};
use crate::error::{Error, Result};
use crate::ledger::{gone, AllDocsOpts, DocRow, Ledger, State};
use crate::store::idb::IdbStore;

/// A ledger open in this page.
#[wasm_bindgen(js_name = Ledger)]
pub struct JsLedger {
    pub(super) inner: Rc<Ledger<IdbStore>>,
}

/// Parses allDocs options `{limit, includeDeleted, descending, key, keys, prefix}` (as the
/// wrapper writes them: anything else is one error, without details).
fn all_docs_opts(json: &str) -> Result<AllDocsOpts> {
    let bad = || Error::InvalidArg("malformed allDocs options".into());
    let Ipld::Map(m) = parse_value(json)? else {
        return Err(bad());
    };
    let text = |k: &str| match m.get(k) {
        Some(Ipld::String(s)) => Ok(Some(s.clone())),
        None | Some(Ipld::Null) => Ok(None),
        Some(_) => Err(bad()),
    };
    let keys = match m.get("keys") {
        Some(Ipld::List(l)) => Some(crate::codec::as_strs(l).ok_or_else(bad)?),
        None | Some(Ipld::Null) => None,
        Some(_) => return Err(bad()),
    };
    Ok(AllDocsOpts {
        limit: match m.get("limit") {
            Some(Ipld::Integer(n)) => Some(usize::try_from(*n).map_err(|_| bad())?),
            _ => None,
        },
        include_deleted: matches!(m.get("includeDeleted"), Some(Ipld::Bool(true))),
        descending: matches!(m.get("descending"), Some(Ipld::Bool(true))),
        key: text("key")?,
        keys,
        prefix: text("prefix")?,
    })
}

/// Appends `,"seq":<seq>}`.
fn seq_end(out: &mut String, seq: u64) {
    out.push_str(",\"seq\":");
    write_int(out, seq.into());
    out.push('}');
}

fn clock_json(out: &mut String, head: &[Cid]) {
    out.push('[');
    for (i, c) in head.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, &cid_str(c));
    }
    out.push(']');
}

/// `{rows, clock, seq}`; a row has `clock` (the event that wrote it) where `events` has one.
fn rows_json(rows: &[DocRow], events: &[Option<Cid>], state: &State) -> Result<String> {
    let mut out = String::with_capacity(rows.len() * 160 + 128);
    out.push_str("{\"rows\":[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        write_str(&mut out, &r.id);
        out.push_str(",\"value\":");
        write_stored_doc(&mut out, &r.id, r.body.as_ref(), IdAt::First)?;
        if let Some(Some(c)) = events.get(i) {
            out.push_str(",\"clock\":");
            write_str(&mut out, &cid_str(c));
        }
        out.push('}');
    }
    out.push_str("],\"clock\":");
    clock_json(&mut out, &state.head);
    seq_end(&mut out, state.seq);
    Ok(out)
}

fn parse_clock(json: &str) -> Result<Vec<Cid>> {
    match parse_value(json)? {
        Ipld::List(items) => {
            let mut clock = Vec::with_capacity(items.len());
            for s in &items {
                let Ipld::String(s) = s else {
                    return Err(Error::InvalidArg(
                        "bad clock: entries must be CID strings".into(),
                    ));
                };
                clock.push(parse_cid(s)?);
            }
            Ok(clock)
        }
        _ => Err(Error::InvalidArg("bad clock: expected an array".into())),
    }
}

/// The older state a read runs on (`db.at(clock)`): `None` for the current one.
pub(super) async fn view_at(l: &Ledger<IdbStore>, at: Option<String>) -> Result<Option<Rc<State>>> {
    match at {
        None => Ok(None),
        Some(a) => Ok(Some(l.view(&parse_clock(&a)?).await?)),
    }
}

pub(super) fn spawn<F>(f: F) -> js_sys::Promise
where
    F: std::future::Future<Output = Result<JsValue>> + 'static,
{
    // One type-erased future: future_to_promise is instantiated once, not once per export.
    let f: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue>>>> = Box::pin(f);
    future_to_promise(async move { f.await.map_err(to_js) })
}

#[wasm_bindgen(js_class = Ledger)]
impl JsLedger {
    /// Opens (or creates) the ledger `name`: reads its header and key, nothing else.
    pub async fn open(name: String) -> std::result::Result<JsLedger, JsValue> {
        let (store, created) = IdbStore::open(&name).await.map_err(to_js)?;
        let inner = Ledger::open_in(&name, store, None, created)
            .await
            .map_err(to_js)?;
        Ok(JsLedger {
            inner: Rc::new(inner),
        })
    }

    /// Commits a wire batch `[[id, doc|null], ...]` (JSON as UTF-8 bytes: `TextEncoder` copies
    /// a large batch into the wasm natively, where a `String` argument goes through the glue's
    /// per-character loop) as one commit; `files`: the file CARs staged for its documents,
    /// comma-separated. Resolves to `{clock, seq}` JSON.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn write(&self, batch: Vec<u8>, files: Option<String>) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let batch = std::str::from_utf8(&batch)
                .map_err(|_| Error::invalid_doc("(batch)", "not UTF-8"))?;
            let ops = parse_batch(batch)?;
            let mut names = Vec::new();
            for s in files.as_deref().unwrap_or("").split(',') {
                if !s.is_empty() {
                    names.push(s.to_string());
                }
            }
            let c = l.write_with_files(ops, &names).await?;
            let mut out = String::from("{\"clock\":");
            clock_json(&mut out, &c.head);
            seq_end(&mut out, c.seq);
            Ok(JsValue::from_str(&out))
        })
    }

    /// Resolves to the document JSON (with `_id`), or rejects with code `ENOENT`. With `at` (a
    /// clock JSON), reads the state at that clock.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn get(&self, id: String, at: Option<String>) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let body = match view_at(&l, at).await? {
                None => l.get(&id).await?,
                Some(v) => l
                    .get_in(&v, &id)
                    .await
                    .map_err(gone)?
                    .ok_or_else(|| Error::NotFound(id.clone()))?,
            };
            let mut out = String::with_capacity(256);
            write_stored_doc(&mut out, &id, Some(&body), IdAt::Sorted)?;
            Ok(JsValue::from_str(&out))
        })
    }

    /// `opts` is JSON `{limit, includeDeleted, descending, key, keys, prefix}`.
    #[wasm_bindgen(js_name = allDocs, unchecked_return_type = "Promise<string>")]
    pub fn all_docs(&self, opts: String, at: Option<String>) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let o = all_docs_opts(&opts)?;
            let (rows, state) = match view_at(&l, at).await? {
                None => l.all_docs(&o).await?,
                Some(v) => l.all_docs_in(v, &o).await.map_err(gone)?,
            };
            Ok(JsValue::from_str(&rows_json(&rows, &[], &state)?))
        })
    }

    /// `since` is a JSON array of event CIDs. Resolves to `{rows, clock, seq}` JSON.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn changes(
        &self,
        since: String,
        limit: Option<u32>,
        at: Option<String>,
    ) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let since = parse_clock(&since)?;
            let limit = limit.map(|n| n as usize);
            let (rows, events, state) = match view_at(&l, at).await? {
                None => l.changes_linked(None, &since, limit).await?,
                Some(v) => l
                    .changes_linked(Some(v), &since, limit)
                    .await
                    .map_err(gone)?,
            };
            Ok(JsValue::from_str(&rows_json(&rows, &events, &state)?))
        })
    }

    /// Changes after a local seq number (what subscribers have already seen).
    #[wasm_bindgen(js_name = changesAfter, unchecked_return_type = "Promise<string>")]
    pub fn changes_after(&self, seq: f64) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let state = l.snapshot();
            let rows = l.changes_in(&state, seq as u64, None).await?.0;
            Ok(JsValue::from_str(&rows_json(&rows, &[], &state)?))
        })
    }

    /// Commits the documents of the state at clock JSON `clock` as one write; resolves to
    /// `{clock, seq}` JSON.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn rollback(&self, clock: String) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let c = l.rollback(&parse_clock(&clock)?).await.map_err(gone)?;
            let mut out = String::from("{\"clock\":");
            clock_json(&mut out, &c.head);
            seq_end(&mut out, c.seq);
            Ok(JsValue::from_str(&out))
        })
    }

    /// The current state as one CAR v1 (docs/format.md §14), plain or sealed.
    #[wasm_bindgen(js_name = exportCar, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_car(&self, sealed: bool, indexes: bool) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let b = l.export_archive(sealed, indexes).await?;
            Ok(js_sys::Uint8Array::from(&b[..]).into())
        })
    }

    /// Starts an empty ledger from an archive; false when it already has data. `readable` is
    /// called when reads see the archive, before it is stored (the promise resolves after);
    /// `locked` is called where the import needs the commit lock (`Ledger::import_archive`) and
    /// returns a promise that resolves once the caller holds it.
    #[wasm_bindgen(js_name = importArchive, unchecked_return_type = "Promise<boolean>")]
    pub fn import_archive(
        &self,
        bytes: Vec<u8>,
        readable: js_sys::Function,
        locked: js_sys::Function,
    ) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let mut ready = || drop(readable.call0(&JsValue::UNDEFINED));
            let locked = Box::pin(async move {
                if let Ok(p) = locked.call0(&JsValue::UNDEFINED) {
                    let _ = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(p)).await;
                }
            });
            Ok(JsValue::from_bool(
                l.import_archive(&bytes, &mut ready, locked).await?,
            ))
        })
    }

    /// Re-reads the stored header; resolves to true if another tab moved it.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn refresh(&self) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move { Ok(JsValue::from_bool(l.refresh().await?)) })
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn compact(&self) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            l.compact().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// True when automatic compaction is due; `urgent`: past the hard cap (docs/format.md §6.1).
    #[wasm_bindgen(js_name = compactionDue)]
    pub fn compaction_due(&self, urgent: bool) -> bool {
        self.inner.compaction_due(urgent)
    }

    /// Compaction, phase 1 (no lock needed): packs the live blocks (`incremental`: those not in a
    /// mostly-live CAR, which is kept); resolves to false if empty.
    #[wasm_bindgen(js_name = compactPrepare, unchecked_return_type = "Promise<boolean>")]
    pub fn compact_prepare(&self, incremental: bool) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move { Ok(JsValue::from_bool(l.compact_prepare(incremental).await?)) })
    }

    /// Compaction, phase 2 (under the commit lock): stores the packed CARs, drops the old ones.
    #[wasm_bindgen(js_name = compactCommit, unchecked_return_type = "Promise<void>")]
    pub fn compact_commit(&self) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            l.compact_commit().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// `{clock, seq, count, car, carReads, locates}` JSON of the current state.
    pub fn info(&self) -> String {
        let s = self.inner.snapshot();
        let st = self.inner.stats();
        let mut out = String::from("{\"clock\":");
        clock_json(&mut out, &s.head);
        out.push_str(&format!(
            ",\"seq\":{},\"count\":{},\"carReads\":{},\"locates\":{},\"car\":",
            s.seq, s.count, st.car_reads, st.locates
        ));
        match &s.car {
            Some(c) => write_str(&mut out, c),
            None => out.push_str("null"),
        }
        out.push('}');
        out
    }

    pub fn close(&self) {
        self.inner.close();
    }

    /// Deletes the ledger's IndexedDB database.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn destroy(&self) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            l.destroy().await?;
            Ok(JsValue::UNDEFINED)
        })
    }
}
