//! IndexedDB [`Store`] (wasm32 only): one IDB database per ledger, named [`DB_PREFIX`] + name.
//!
//! Object stores: `cars` (CAR name → `{b: sealed bytes, c: [block CIDs]}`, with a multi-entry
//! index `cid` on `c` that finds the CAR of a block) and `meta` (`"header"` → header JSON,
//! `"key"` → 32 key bytes). Invariant: a commit's CARs and header are written in one readwrite
//! transaction that first re-reads the header (compare-and-set), so after a crash the header names
//! a complete CAR or the previous one. A commit is three IDB requests whatever its size.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::KeyPath;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::{CommitOutcome, CommitWrite, Header, Store, StoredCar};
use crate::crypto::Key;

mod webcrypto;
use crate::error::{Error, Result};
pub use webcrypto::WebAead;

/// Prefix of the IDB database names; distinct from Fireproof's `fp.`.
pub const DB_PREFIX: &str = "ferroproof.";
const CARS: &str = "cars";
const CID_INDEX: &str = "cid";
const META: &str = "meta";
const DB_VERSION: u8 = 2;
const HEADER_KEY: &str = "header";
const KEY_KEY: &str = "key";

fn storage_err(e: impl std::fmt::Debug + std::fmt::Display) -> Error {
    let text = format!("{e} {e:?}");
    if text.contains("Quota") {
        Error::Quota(e.to_string())
    } else {
        Error::Storage(e.to_string())
    }
}

/// An open IndexedDB database for one ledger.
pub struct IdbStore {
    db: Database,
}

impl IdbStore {
    /// Opens (creating if needed) the IDB database of ledger `name`.
    pub async fn open(name: &str) -> Result<IdbStore> {
        let full = format!("{DB_PREFIX}{name}");
        let db = Database::open(full.as_str())
            .with_version(DB_VERSION)
            .with_on_upgrade_needed(|_evt, db| {
                // Pre-release layouts are dropped, not migrated.
                for old in db.object_store_names().collect::<Vec<_>>() {
                    db.delete_object_store(&old)?;
                }
                let cars = db.create_object_store(CARS).build()?;
                cars.create_index(CID_INDEX, KeyPath::from("c"))
                    .with_multi_entry(true)
                    .build()?;
                db.create_object_store(META).build()?;
                Ok(())
            })
            .await
            .map_err(storage_err)?;
        Ok(IdbStore { db })
    }

    fn tx(
        &self,
        stores: &[&str],
        rw: bool,
    ) -> Result<indexed_db_futures::transaction::Transaction<'_>> {
        let mode = if rw {
            TransactionMode::Readwrite
        } else {
            TransactionMode::Readonly
        };
        self.db
            .transaction(stores)
            .with_mode(mode)
            .build()
            .map_err(storage_err)
    }
}

fn car_record(car: &StoredCar) -> Result<JsValue> {
    let rec = Object::new();
    let cids: Array = car.cids.iter().map(|c| JsValue::from_str(c)).collect();
    let set = |k: &str, v: &JsValue| {
        Reflect::set(&rec, &JsValue::from_str(k), v).map_err(|_| Error::Internal("record".into()))
    };
    set("b", &Uint8Array::from(car.bytes.as_slice()).into())?;
    set("c", &cids.into())?;
    Ok(rec.into())
}

fn bytes(v: JsValue) -> Result<Vec<u8>> {
    v.dyn_into::<Uint8Array>()
        .map(|a| a.to_vec())
        .map_err(|_| Error::Storage("stored value is not bytes".into()))
}

fn header_from(v: Option<String>) -> Result<Option<Header>> {
    v.map(|s| serde_json::from_str(&s).map_err(|e| Error::corrupt("header", e)))
        .transpose()
}

impl Store for IdbStore {
    type Aead = WebAead;

    async fn aead(&self, key: &Key) -> Result<WebAead> {
        WebAead::new(key).await
    }

    async fn load_header(&self) -> Result<Option<Header>> {
        let tx = self.tx(&[META], false)?;
        let store = tx.object_store(META).map_err(storage_err)?;
        let v: Option<String> = store
            .get(HEADER_KEY)
            .primitive()
            .map_err(storage_err)?
            .await
            .map_err(storage_err)?;
        header_from(v)
    }

    async fn ensure_key(&self, candidate: &Key) -> Result<Key> {
        let tx = self.tx(&[META], true)?;
        let store = tx.object_store(META).map_err(storage_err)?;
        let v: Option<JsValue> = store
            .get(KEY_KEY)
            .primitive()
            .map_err(storage_err)?
            .await
            .map_err(storage_err)?;
        if let Some(v) = v {
            return Key::from_bytes(&bytes(v)?)
                .map_err(|_| Error::corrupt("key", "stored key is not 32 bytes"));
        }
        let arr = Uint8Array::from(&candidate.as_bytes()[..]);
        store
            .put(JsValue::from(arr))
            .with_key(KEY_KEY)
            .primitive()
            .map_err(storage_err)?
            .await
            .map_err(storage_err)?;
        tx.commit().await.map_err(storage_err)?;
        Ok(candidate.clone())
    }

    async fn read_car(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let tx = self.tx(&[CARS], false)?;
        let store = tx.object_store(CARS).map_err(storage_err)?;
        let v: Option<JsValue> = store
            .get(name)
            .primitive()
            .map_err(storage_err)?
            .await
            .map_err(storage_err)?;
        v.map(|rec| {
            bytes(Reflect::get(&rec, &JsValue::from_str("b")).unwrap_or(JsValue::UNDEFINED))
        })
        .transpose()
    }

    async fn locate(&self, cid: &str) -> Result<Option<String>> {
        let tx = self.tx(&[CARS], false)?;
        let store = tx.object_store(CARS).map_err(storage_err)?;
        let index = store.index(CID_INDEX).map_err(storage_err)?;
        index
            .get_key(cid)
            .with_key_type::<String>()
            .primitive()
            .map_err(storage_err)?
            .await
            .map_err(storage_err)
    }

    async fn commit(&self, w: CommitWrite) -> Result<CommitOutcome> {
        let tx = self.tx(&[CARS, META], true)?;
        let meta = tx.object_store(META).map_err(storage_err)?;
        let current = header_from(
            meta.get(HEADER_KEY)
                .primitive()
                .map_err(storage_err)?
                .await
                .map_err(storage_err)?,
        )?;
        if current.map(|h| h.car) != w.expect {
            return Ok(CommitOutcome::Conflict); // dropping the transaction aborts it
        }
        let cars = tx.object_store(CARS).map_err(storage_err)?;
        for car in &w.cars {
            cars.put(car_record(car)?)
                .with_key(car.name.as_str())
                .primitive()
                .map_err(storage_err)?;
        }
        let header =
            serde_json::to_string(&w.header).map_err(|e| Error::Internal(e.to_string()))?;
        meta.put(header)
            .with_key(HEADER_KEY)
            .primitive()
            .map_err(storage_err)?
            .await
            .map_err(storage_err)?;
        tx.commit().await.map_err(storage_err)?;
        Ok(CommitOutcome::Committed)
    }

    async fn list_cars(&self) -> Result<Vec<String>> {
        let tx = self.tx(&[CARS], false)?;
        let store = tx.object_store(CARS).map_err(storage_err)?;
        let keys = store
            .get_all_keys::<String>()
            .primitive()
            .map_err(storage_err)?
            .await
            .map_err(storage_err)?;
        keys.collect::<std::result::Result<Vec<String>, _>>()
            .map_err(storage_err)
    }

    async fn remove_cars(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let tx = self.tx(&[CARS], true)?;
        let cars = tx.object_store(CARS).map_err(storage_err)?;
        for n in names {
            cars.delete(n.as_str()).primitive().map_err(storage_err)?;
        }
        tx.commit().await.map_err(storage_err)
    }

    async fn destroy(&self) -> Result<()> {
        // Clearing (not deleting the database) never blocks on other tabs' open connections.
        let tx = self.tx(&[CARS, META], true)?;
        for s in [CARS, META] {
            tx.object_store(s)
                .map_err(storage_err)?
                .clear()
                .map_err(storage_err)?;
        }
        tx.commit().await.map_err(storage_err)
    }
}
