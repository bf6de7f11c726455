//! IndexedDB [`Store`] (wasm32 only): one IDB database per ledger, named [`DB_PREFIX`] + name.
//!
//! Object stores: `cars` (CAR name → `{b: sealed bytes, c: [block CIDs as bytes]}`, with a
//! multi-entry index `cid` on `c` that finds the CAR of a block; records written before IDB
//! version 3 list string CIDs, which lookups still find) and `meta` (`"header"` → header JSON,
//! `"key"` → 32 key bytes). Invariant: a commit's CARs and header are written in one readwrite
//! transaction that first re-reads the header (compare-and-set), so after a crash the header names
//! a complete CAR or the previous one. The IDB calls live in `idb/idb.js`: one JS call per store
//! operation (a commit is three IDB requests whatever its size).

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use cid::Cid;

use super::{CommitOutcome, CommitWrite, Header, Store, StoredCar};
use crate::codec::{cid_bytes, cid_str, parse_cid, read_cid};
use crate::crypto::Key;
use crate::error::{Error, Result};

mod webcrypto;
pub use webcrypto::WebAead;

/// Prefix of the IDB database names; distinct from Fireproof's `fp.`.
pub const DB_PREFIX: &str = "ferroproof.";

#[wasm_bindgen(module = "/src/store/idb/idb.js")]
extern "C" {
    #[wasm_bindgen(js_name = idbOpen, catch)]
    async fn idb_open(name: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbEnsureKey, catch)]
    async fn idb_ensure_key(
        db: &JsValue,
        candidate: Uint8Array,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbReadCars, catch)]
    async fn idb_read_cars(db: &JsValue, names: Array) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbLocateCars, catch)]
    async fn idb_locate_cars(
        db: &JsValue,
        bins: Array,
        strs: Array,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbCommit, catch)]
    async fn idb_commit(
        db: &JsValue,
        expect: Option<String>,
        rev: f64,
        cars: Array,
        staged: Array,
        header: String,
        key: Option<Uint8Array>,
        own: Option<Uint8Array>,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbListCars, catch)]
    async fn idb_list_cars(db: &JsValue, files: bool) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbCarBlocks, catch)]
    async fn idb_car_blocks(db: &JsValue) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbRemoveCars, catch)]
    async fn idb_remove_cars(db: &JsValue, names: Array) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbStageCars, catch)]
    async fn idb_stage_cars(db: &JsValue, cars: Array) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbReplaceKey, catch)]
    async fn idb_replace_key(
        db: &JsValue,
        key: Uint8Array,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbLoadMeta, catch)]
    async fn idb_load_meta(db: &JsValue, key: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbSaveMeta, catch)]
    async fn idb_save_meta(
        db: &JsValue,
        key: &str,
        value: &str,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbClear, catch)]
    async fn idb_clear(db: &JsValue) -> std::result::Result<JsValue, JsValue>;
}

/// A failed IDB operation: `QUOTA` for QuotaExceededError, `STORAGE` otherwise.
fn storage_err(e: JsValue) -> Error {
    let name = Reflect::get(&e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    let message = Reflect::get(&e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_default();
    if name == "QuotaExceededError" {
        // Chromium's message is empty: say what it means for the caller
        Error::Quota(match message.is_empty() {
            true => "the browser refused to store more; nothing of this write was kept".into(),
            false => message,
        })
    } else {
        Error::Storage(format!("indexeddb {name}: {message}"))
    }
}

fn strings(v: JsValue) -> Result<Vec<String>> {
    let arr: Array = v
        .dyn_into()
        .map_err(|_| Error::Storage("expected an array of keys".into()))?;
    let mut out = Vec::with_capacity(arr.length() as usize);
    for k in arr.iter() {
        out.push(
            k.as_string()
                .ok_or_else(|| Error::Storage("a key is not a string".into()))?,
        );
    }
    Ok(out)
}

/// An open IndexedDB database for one ledger (or, just after its creation started, the promise of
/// it: idb.js awaits it in every call).
pub struct IdbStore {
    db: JsValue,
    /// The stored key as this handle last read or wrote it (`ensure_key`, a re-key): the key its
    /// ledger seals with. Commits check it is still the stored one.
    key: std::cell::RefCell<Option<Uint8Array>>,
}

impl IdbStore {
    fn remember(&self, key: &Key) {
        *self.key.borrow_mut() = Some(Uint8Array::from(&key.as_bytes()[..]));
    }

    /// Opens (creating if needed) the IDB database of ledger `name`. With a key when this open
    /// creates the database: the key its creation stores; the ledger is new and empty
    /// (docs/format.md §9), and the store answers before the creation completes.
    pub async fn open(name: &str) -> Result<(IdbStore, bool)> {
        let v: Array = idb_open(&format!("{DB_PREFIX}{name}"))
            .await
            .map_err(storage_err)?
            .unchecked_into();
        let store = IdbStore {
            db: v.get(0),
            key: Default::default(),
        };
        Ok((store, v.get(1).is_truthy()))
    }

    /// One commit transaction; with `key`, the stored key is replaced in it too.
    async fn commit_key(&self, w: CommitWrite, key: Option<Uint8Array>) -> Result<CommitOutcome> {
        let cars = car_records(&w.cars);
        let header = w.header.to_json();
        let staged = str_array(&w.staged);
        // the revision of the header it replaces (docs/format.md §8)
        let rev = w.header.rev.saturating_sub(1) as f64;
        // a re-key writes its key; any other commit checks the stored one is its own
        let own = key.is_none().then(|| self.key.borrow().clone()).flatten();
        let outcome = idb_commit(&self.db, w.expect, rev, cars, staged, header, key, own)
            .await
            .map_err(storage_err)?
            .as_f64();
        match outcome {
            Some(1.0) => Ok(CommitOutcome::Committed),
            Some(0.0) => Ok(CommitOutcome::Conflict),
            _ => Err(Error::Storage("a staged CAR is gone".into())),
        }
    }
}

fn str_array(items: &[String]) -> Array {
    items.iter().map(|s| JsValue::from_str(s)).collect()
}

/// A CAR record's bytes as idb.js returns them (`undefined`: no such CAR).
fn car_bytes(name: &str, v: JsValue) -> Result<Option<Vec<u8>>> {
    if v.is_undefined() {
        return Ok(None);
    }
    let bytes = v
        .dyn_into::<Uint8Array>()
        .map_err(|_| Error::corrupt(name, "stored car is not bytes"))?;
    Ok(Some(bytes.to_vec()))
}

/// CIDs as their bytes (binary IndexedDB keys).
fn cid_array(cids: &[Cid]) -> Array {
    cids.iter()
        .map(|c| JsValue::from(Uint8Array::from(cid_bytes(c).as_slice())))
        .collect()
}

/// `[[name, bytes, [cid bytes…]]…]`, the shape idb.js stores.
fn car_records(cars: &[StoredCar]) -> Array {
    cars.iter()
        .map(|c| {
            let cids = cid_array(&c.cids);
            let entry: Array = [
                JsValue::from_str(&c.name),
                Uint8Array::from(c.bytes.as_slice()).into(),
                cids.into(),
            ]
            .into_iter()
            .collect();
            JsValue::from(entry)
        })
        .collect()
}

impl Store for IdbStore {
    type Aead = WebAead;

    async fn aead(&self, key: &Key) -> Result<WebAead> {
        WebAead::new(key).await
    }

    async fn load_header(&self) -> Result<Option<Header>> {
        let v = idb_load_meta(&self.db, "header")
            .await
            .map_err(storage_err)?;
        // anything but text or nothing is damage, not "no ledger yet" (which would start a new
        // ledger over the old data)
        match v.as_string() {
            None if v.is_undefined() => Ok(None),
            s => Header::from_json(&s.unwrap_or_default())
                .map(Some)
                .map_err(|e| Error::corrupt("header", e)),
        }
    }

    async fn ensure_key(&self, candidate: &Key) -> Result<Key> {
        let v = idb_ensure_key(&self.db, Uint8Array::from(&candidate.as_bytes()[..]))
            .await
            .map_err(storage_err)?;
        let bytes = v
            .dyn_into::<Uint8Array>()
            .map_err(|_| Error::corrupt("key", "stored key is not bytes"))?
            .to_vec();
        let key = Key::from_bytes(&bytes)
            .map_err(|_| Error::corrupt("key", "stored key is not 32 bytes"))?;
        self.remember(&key);
        Ok(key)
    }

    async fn read_car(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let arr = idb_read_cars(&self.db, str_array(&[name.to_string()]))
            .await
            .map_err(storage_err)?;
        car_bytes(name, arr.unchecked_into::<Array>().get(0))
    }

    async fn locate_cars(&self, cids: &[Cid]) -> Result<Vec<(String, Option<Vec<u8>>)>> {
        let strs: Array = cids.iter().map(|c| JsValue::from(cid_str(c))).collect();
        let arr = idb_locate_cars(&self.db, cid_array(cids), strs)
            .await
            .map_err(storage_err)?;
        let mut out = Vec::new();
        for e in arr.unchecked_into::<Array>().iter() {
            let e: Array = e.unchecked_into();
            let name = e.get(0).as_string().unwrap_or_default();
            let bytes = car_bytes(&name, e.get(1))?;
            out.push((name, bytes));
        }
        Ok(out)
    }

    async fn commit(&self, w: CommitWrite) -> Result<CommitOutcome> {
        self.commit_key(w, None).await
    }

    async fn commit_with_key(&self, w: CommitWrite, key: &Key) -> Result<CommitOutcome> {
        let done = self
            .commit_key(w, Some(Uint8Array::from(&key.as_bytes()[..])))
            .await?;
        if done == CommitOutcome::Committed {
            self.remember(key);
        }
        Ok(done)
    }

    async fn stage_cars(&self, cars: &[StoredCar]) -> Result<()> {
        idb_stage_cars(&self.db, car_records(cars))
            .await
            .map_err(storage_err)?;
        Ok(())
    }

    async fn list_cars(&self, files: bool) -> Result<Vec<String>> {
        strings(idb_list_cars(&self.db, files).await.map_err(storage_err)?)
    }

    async fn car_blocks(&self) -> Result<Vec<(String, Vec<Cid>)>> {
        let v: Array = idb_car_blocks(&self.db)
            .await
            .map_err(storage_err)?
            .unchecked_into();
        let mut out = Vec::with_capacity(v.length() as usize);
        for entry in v.iter() {
            let entry: Array = entry.unchecked_into();
            let bins = entry.get(1).unchecked_into::<Uint8Array>().to_vec();
            let mut cids = Vec::new();
            let mut at = 0;
            while let Ok((cid, n)) = read_cid(&bins[at..]) {
                cids.push(cid);
                at += n;
            }
            // records written at IDB version 2 list string CIDs
            let strs: Array = entry.get(2).unchecked_into();
            cids.extend(strs.iter().filter_map(|s| parse_cid(&s.as_string()?).ok()));
            out.push((entry.get(0).as_string().unwrap_or_default(), cids));
        }
        Ok(out)
    }

    async fn remove_cars(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let arr: Array = names.iter().map(|n| JsValue::from_str(n)).collect();
        idb_remove_cars(&self.db, arr).await.map_err(storage_err)?;
        Ok(())
    }

    async fn destroy(&self) -> Result<()> {
        // Clearing (not deleting the database) never blocks on other tabs' open connections.
        idb_clear(&self.db).await.map_err(storage_err)?;
        Ok(())
    }

    async fn replace_key_if_empty(&self, key: &Key) -> Result<bool> {
        let v = idb_replace_key(&self.db, Uint8Array::from(&key.as_bytes()[..]))
            .await
            .map_err(storage_err)?;
        if v.is_truthy() {
            self.remember(key);
        }
        Ok(v.is_truthy())
    }

    async fn load_meta(&self, key: &str) -> Result<Option<String>> {
        Ok(idb_load_meta(&self.db, key)
            .await
            .map_err(storage_err)?
            .as_string())
    }

    async fn save_meta(&self, key: &str, value: &str) -> Result<()> {
        idb_save_meta(&self.db, key, value)
            .await
            .map_err(storage_err)?;
        Ok(())
    }
}
