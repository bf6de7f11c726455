//! Index queries on the `Ledger` JS class: `indexBegin` → (JS map function) → `indexFinish`.

use ipld_core::ipld::Ipld;
use wasm_bindgen::prelude::*;

use super::ledger::{spawn, view_at, JsLedger};
use crate::doc::{
    parse_query_value, parse_value, write_int, write_json, write_stored_doc, write_str, IdAt,
};
use crate::error::{Error, Result};
use crate::index::{EmittedRows, QueryOpts};
use crate::ledger::{gone, QueryHit};

fn field<'a>(m: &'a std::collections::BTreeMap<String, Ipld>, k: &str) -> Option<&'a Ipld> {
    m.get(k)
}

/// Parses `{key, keys, range, prefix, limit, descending, includeDocs}`; a present `key: null`
/// means the key `null`.
fn parse_opts(json: &str) -> Result<(QueryOpts, bool)> {
    let Ipld::Map(m) = parse_query_value(json)? else {
        return Err(Error::InvalidArg("query options must be an object".into()));
    };
    let list = |k: &str| match field(&m, k) {
        Some(Ipld::List(l)) => Ok(Some(l.clone())),
        None => Ok(None),
        Some(_) => Err(Error::InvalidArg(
            "query options keys and range must be arrays".into(),
        )),
    };
    // `[low]`: open above (the wrapper sends it for an undefined or missing high end)
    let range = match list("range")? {
        Some(r) if matches!(r.len(), 1 | 2) => Some((r[0].clone(), r.get(1).cloned())),
        Some(_) => {
            return Err(Error::InvalidArg(
                "query option range must be [low, high]".into(),
            ))
        }
        None => None,
    };
    let limit = match field(&m, "limit") {
        Some(Ipld::Integer(n)) => Some(usize::try_from(*n).unwrap_or(0)),
        Some(Ipld::Float(f)) if *f >= 0.0 => Some(*f as usize),
        _ => None,
    };
    let opts = QueryOpts {
        key: field(&m, "key").cloned(),
        keys: list("keys")?,
        range,
        prefix: field(&m, "prefix").cloned(),
        limit,
        descending: matches!(field(&m, "descending"), Some(Ipld::Bool(true))),
    };
    Ok((
        opts,
        !matches!(field(&m, "includeDocs"), Some(Ipld::Bool(false))),
    ))
}

/// Parses `[[id, [[key, value], ...]], ...]`.
fn parse_rows(json: &str) -> Result<Vec<EmittedRows>> {
    let Ipld::List(items) = parse_value(json)? else {
        return Err(Error::InvalidArg("rows must be an array".into()));
    };
    let pair = |v: Ipld| match v {
        Ipld::List(p) => <[Ipld; 2]>::try_from(p).ok(),
        _ => None,
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some([Ipld::String(id), Ipld::List(rows)]) = pair(item) else {
            return Err(Error::InvalidArg("each entry must be [id, rows]".into()));
        };
        let mut kvs = Vec::with_capacity(rows.len());
        for r in rows {
            let Some([k, v]) = pair(r) else {
                return Err(Error::InvalidArg("each row must be [key, value]".into()));
            };
            kvs.push((k, v));
        }
        out.push(EmittedRows { id, rows: kvs });
    }
    Ok(out)
}

/// `{rows: [{key, id, value, doc?}]}` JSON of query hits (the wrapper adds `docs`, the same
/// objects as the rows' `doc`, when documents were asked for).
fn hits_json(hits: &[QueryHit]) -> Result<String> {
    let mut out = String::with_capacity(hits.len() * 200 + 32);
    out.push_str("{\"rows\":[");
    for (i, h) in hits.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        write_json(&mut out, &h.row.key);
        out.push_str(",\"id\":");
        write_str(&mut out, &h.row.id);
        out.push_str(",\"value\":");
        write_json(&mut out, &h.row.value);
        if let Some(doc) = &h.doc {
            out.push_str(",\"doc\":");
            write_stored_doc(&mut out, &h.row.id, Some(doc), IdAt::Sorted)?;
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(out)
}

#[wasm_bindgen(js_class = Ledger)]
impl JsLedger {
    /// Pins a snapshot for a query on index `name`; resolves to `{token, docs}` JSON where `docs`
    /// are the live documents the map function must see.
    #[wasm_bindgen(js_name = indexBegin, unchecked_return_type = "Promise<string>")]
    pub fn index_begin(&self, name: String, src: String, at: Option<String>) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let view = view_at(&l, at).await?;
            let old = view.is_some();
            let (token, docs) =
                l.index_begin_on(&name, &src, view)
                    .await
                    .map_err(|e| if old { gone(e) } else { e })?;
            let mut out = String::from("{\"token\":");
            write_int(&mut out, token.into());
            out.push_str(",\"docs\":[");
            for (i, d) in docs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_stored_doc(&mut out, &d.id, d.body.as_ref(), IdAt::First)?;
            }
            out.push_str("]}");
            Ok(JsValue::from_str(&out))
        })
    }

    /// Forgets a begun query whose map function failed.
    #[wasm_bindgen(js_name = indexAbort)]
    pub fn index_abort(&self, token: u32) {
        self.inner.index_abort(token);
    }

    /// Applies the emitted rows and runs the query; resolves to `{rows, docs?}` JSON.
    #[wasm_bindgen(js_name = indexFinish, unchecked_return_type = "Promise<string>")]
    pub fn index_finish(&self, token: u32, rows: String, opts: String) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let (rows, (opts, include_docs)) =
                match parse_rows(&rows).and_then(|r| Ok((r, parse_opts(&opts)?))) {
                    Ok(parsed) => parsed,
                    Err(e) => {
                        l.index_abort(token);
                        return Err(e);
                    }
                };
            let (hits, _) = l.index_finish(token, rows, &opts, include_docs).await?;
            save_later(&l);
            Ok(JsValue::from_str(&hits_json(&hits)?))
        })
    }

    /// Queries the index of a top-level field, maintained inside the engine (no map function
    /// round trip); resolves to `{rows, docs?}` JSON.
    #[wasm_bindgen(js_name = queryField, unchecked_return_type = "Promise<string>")]
    pub fn query_field(&self, field: String, opts: String, at: Option<String>) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let (opts, include_docs) = parse_opts(&opts)?;
            let view = view_at(&l, at).await?;
            let old = view.is_some();
            let (hits, _) = l
                .index_query_field_on(&field, &opts, include_docs, view)
                .await
                .map_err(|e| if old { gone(e) } else { e })?;
            save_later(&l);
            Ok(JsValue::from_str(&hits_json(&hits)?))
        })
    }

    /// Stores the indexes that queries updated in memory; resolves when they are durable.
    #[wasm_bindgen(js_name = saveIndexes, unchecked_return_type = "Promise<void>")]
    pub fn save_indexes(&self) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            l.save_indexes().await?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// Starts storing the indexes a query just updated in memory once the page is idle (or within a
/// second): after the query's caller has its answer and out of the way of the queries that follow.
/// A failure leaves them unsaved; the next query that needs them saved (or `close`) retries.
fn save_later(l: &std::rc::Rc<crate::ledger::Ledger<crate::store::idb::IdbStore>>) {
    if l.has_unsaved_indexes() {
        let l = l.clone();
        wasm_bindgen_futures::spawn_local(async move {
            when_idle().await;
            let _ = l.save_indexes().await;
        });
    }
}

/// Resolves in an idle period (`requestIdleCallback`, at most 1 s later) or, where that does not
/// exist (workers in some browsers), in a new macrotask (`setTimeout(0)`).
async fn when_idle() {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        let g = js_sys::global();
        let get = |name: &str| {
            js_sys::Reflect::get(&g, &JsValue::from_str(name))
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        };
        let opts = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&opts, &JsValue::from_str("timeout"), &JsValue::from(1000));
        let scheduled = match (get("requestIdleCallback"), get("setTimeout")) {
            (Some(idle), _) => idle.call2(&g, &resolve, &opts).is_ok(),
            (None, Some(timer)) => timer.call2(&g, &resolve, &JsValue::from(0)).is_ok(),
            (None, None) => false,
        };
        if !scheduled {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}
