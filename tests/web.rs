//! The storage scenarios in headless Chromium against real IndexedDB
//! (`wasm-pack test --headless --chrome`).
#![cfg(target_arch = "wasm32")]

mod scenarios;

use ferroproof::store::idb::{IdbStore, DB_PREFIX};
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

struct Idb;

impl scenarios::Backend for Idb {
    type S = IdbStore;
    async fn open(&self, name: &str) -> IdbStore {
        IdbStore::open(name).await.unwrap().0
    }
    async fn tamper(&self, name: &str, car: &str) {
        let db = Database::open(format!("{DB_PREFIX}{name}").as_str())
            .await
            .unwrap();
        let tx = db
            .transaction("cars")
            .with_mode(TransactionMode::Readwrite)
            .build()
            .unwrap();
        let store = tx.object_store("cars").unwrap();
        let rec: Option<JsValue> = store.get(car).primitive().unwrap().await.unwrap();
        let rec = rec.unwrap();
        let b = js_sys::Reflect::get(&rec, &"b".into()).unwrap();
        let mut bytes = b.unchecked_into::<js_sys::Uint8Array>().to_vec();
        bytes[40] ^= 1;
        let arr = js_sys::Uint8Array::from(bytes.as_slice());
        js_sys::Reflect::set(&rec, &"b".into(), &arr.into()).unwrap();
        store
            .put(rec)
            .with_key(car)
            .primitive()
            .unwrap()
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.close();
    }
}

fn unique(tag: &str) -> String {
    format!("wbt-{tag}-{}", js_sys::Math::random().to_bits())
}

#[wasm_bindgen_test]
async fn persist_and_reopen() {
    scenarios::persist_and_reopen(&Idb, &unique("persist")).await;
}

#[wasm_bindgen_test]
async fn stale_writer_catches_up() {
    scenarios::stale_writer_catches_up(&Idb, &unique("stale")).await;
}

#[wasm_bindgen_test]
async fn conflicting_commit_writes_nothing() {
    scenarios::conflicting_commit_writes_nothing(&Idb, &unique("atomic")).await;
}

#[wasm_bindgen_test]
async fn tampered_car_is_corrupt() {
    scenarios::tampered_car_is_corrupt(&Idb, &unique("tamper")).await;
}

#[wasm_bindgen_test]
async fn wrong_key_is_decrypt() {
    scenarios::wrong_key_is_decrypt(&Idb, &unique("key")).await;
}

#[wasm_bindgen_test]
async fn lazy_open_reads_few_cars() {
    scenarios::lazy_open_reads_few_cars(&Idb, &unique("lazy"), 1000).await;
}

/// WebAead seals in one call into JS (`idbSeal`): the envelope opens to the same bytes, and a
/// sealed CAR's name is the hash of its stored bytes below and above the size from which
/// WebCrypto hashes it.
#[wasm_bindgen_test]
async fn webcrypto_seals_and_names_cars() {
    use ferroproof::car::seal_car;
    use ferroproof::codec::{cid_of, RAW};
    use ferroproof::crypto::{open, Key};
    use ferroproof::store::idb::WebAead;
    let aead = WebAead::new(&Key::generate().unwrap()).await.unwrap();
    for n in [0usize, 100, 16 * 1024 - 40, 16 * 1024, 200_000] {
        let car: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
        let sealed = seal_car(&aead, &car).await.unwrap();
        assert_eq!(
            sealed.name,
            cid_of(RAW, &sealed.bytes).unwrap(),
            "{n} bytes"
        );
        assert_eq!(open(&aead, &sealed.bytes).await.unwrap(), car, "{n} bytes");
    }
}

/// 200 nested dag-cbor lists each claiming a million items, over 4 MiB of nulls: every length
/// is within the bytes left, so only reserving it would fail. Reserved at every level (~8 GB),
/// it overran wasm32's 4 GiB and trapped the engine (a native run only reserves address space,
/// so this test lives here); the decoder must answer an error instead.
#[wasm_bindgen_test]
fn nested_list_lengths_are_not_reserved() {
    let mut bytes = Vec::new();
    for _ in 0..200 {
        bytes.extend_from_slice(&[0x9a, 0x00, 0x10, 0x00, 0x00]);
    }
    bytes.resize(bytes.len() + (4 << 20), 0xf6);
    assert!(ferroproof::codec::decode(&bytes).is_err());
}
