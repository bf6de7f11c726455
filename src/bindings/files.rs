//! Files from JS (docs/format.md §16): `FileWriter` streams a file's chunks into staged file CARs;
//! `readFile` reads one chunk back, or checks and stores one the package fetched from a remote.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use super::ledger::{spawn, JsLedger};
use crate::crypto::Key;
use crate::doc::{write_int, write_str, write_strs};
use crate::error::Error;
use crate::ledger::{FileWriter, Ledger};
use crate::store::idb::IdbStore;
use crate::store::Store;

type Writer = FileWriter<<IdbStore as Store>::Aead>;

/// A file being written: `write` each chunk, awaiting each, the last one with `last`.
#[wasm_bindgen(js_name = FileWriter)]
pub struct JsFileWriter {
    ledger: Rc<Ledger<IdbStore>>,
    inner: Rc<RefCell<Option<Writer>>>,
}

#[wasm_bindgen(js_class = FileWriter)]
impl JsFileWriter {
    /// Seals and stages the next chunk (at most 1 MiB). With `last`, resolves to the file's
    /// `{cid, cars, key, size}` JSON.
    #[wasm_bindgen(unchecked_return_type = "Promise<string | undefined>")]
    pub fn write(&self, chunk: Vec<u8>, last: bool) -> js_sys::Promise {
        let (l, slot) = (self.ledger.clone(), self.inner.clone());
        spawn(async move {
            let taken = slot.borrow_mut().take();
            let mut w =
                taken.ok_or_else(|| Error::InvalidArg("file writer busy or done".into()))?;
            l.write_file_chunk(&mut w, chunk).await?;
            if !last {
                *slot.borrow_mut() = Some(w);
                return Ok(JsValue::UNDEFINED);
            }
            let m = w.finish()?;
            let mut out = String::from("{\"cid\":");
            write_str(&mut out, &m.cid);
            out.push_str(",\"cars\":");
            write_strs(&mut out, &m.cars);
            out.push_str(",\"key\":");
            write_str(&mut out, &m.key);
            out.push_str(",\"size\":");
            write_int(&mut out, m.size.into());
            out.push('}');
            Ok(JsValue::from_str(&out))
        })
    }
}

#[wasm_bindgen(js_class = Ledger)]
impl JsLedger {
    /// Starts writing a file under a fresh key.
    #[wasm_bindgen(js_name = fileWriter, unchecked_return_type = "Promise<FileWriter>")]
    pub fn file_writer(&self) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let w = l.file_writer().await?;
            Ok(JsFileWriter {
                ledger: l,
                inner: Rc::new(RefCell::new(Some(w))),
            }
            .into())
        })
    }

    /// The bytes of file CAR `car` sealed under `key` (32 bytes): read here (undefined when it is
    /// not stored here), or, given `fetched` (its stored bytes from a remote), checked and stored.
    #[wasm_bindgen(js_name = readFile, unchecked_return_type = "Promise<Uint8Array | undefined>")]
    pub fn read_file(
        &self,
        car: String,
        key: Vec<u8>,
        fetched: Option<Vec<u8>>,
    ) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let key =
                Key::from_bytes(&key).map_err(|_| Error::InvalidArg("bad file key".into()))?;
            let got = l.file_chunk(&car, &key, fetched).await?;
            Ok(got.map_or(JsValue::UNDEFINED, |b| Uint8Array::from(&b[..]).into()))
        })
    }
}
