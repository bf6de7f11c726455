//! Files from JS (docs/format.md §16): `FileWriter` streams a file's chunks into staged file CARs;
//! `readFile` reads one chunk back; `fetchFile` brings one from a remote.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use super::ledger::{spawn, JsLedger};
use super::sync::{JsConnector, JsRemote};
use crate::doc::write_str;
use crate::error::Error;
use crate::ledger::{file_key, FileWriter, Ledger};
use crate::store::idb::IdbStore;
use crate::store::Store;
use crate::sync::Remote;

type Writer = FileWriter<<IdbStore as Store>::Aead>;

/// A file being written: `write` each chunk (awaiting each), then `finish`.
#[wasm_bindgen(js_name = FileWriter)]
pub struct JsFileWriter {
    ledger: Rc<Ledger<IdbStore>>,
    inner: Rc<RefCell<Option<Writer>>>,
}

#[wasm_bindgen(js_class = FileWriter)]
impl JsFileWriter {
    /// Seals and stages the next chunk (at most 1 MiB); one at a time.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn write(&self, chunk: Vec<u8>) -> js_sys::Promise {
        let (l, slot) = (self.ledger.clone(), self.inner.clone());
        spawn(async move {
            let busy = || Error::InvalidArg("file writer busy or finished".into());
            let mut w = slot.borrow_mut().take().ok_or_else(busy)?;
            let r = l.write_file_chunk(&mut w, chunk).await;
            *slot.borrow_mut() = Some(w);
            r.map(|_| JsValue::UNDEFINED)
        })
    }

    /// `{cid, cars, key, size}` JSON of the file written.
    pub fn finish(&self) -> Result<String, JsValue> {
        let busy = || super::error::to_js(Error::InvalidArg("file writer busy or finished".into()));
        let m = self
            .inner
            .borrow_mut()
            .take()
            .ok_or_else(busy)?
            .finish()
            .map_err(super::error::to_js)?;
        let mut out = String::from("{\"cid\":");
        write_str(&mut out, &m.cid);
        out.push_str(",\"cars\":[");
        for (i, c) in m.cars.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(&mut out, c);
        }
        out.push_str("],\"key\":");
        write_str(&mut out, &m.key);
        out.push_str(&format!(",\"size\":{}}}", m.size));
        Ok(out)
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

    /// The bytes of file CAR `car` (key: base64), or undefined when it is not stored here.
    #[wasm_bindgen(js_name = readFile, unchecked_return_type = "Promise<Uint8Array | undefined>")]
    pub fn read_file(&self, car: String, key: String) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let got = l.read_file_chunk(&car, &file_key(&key)?).await?;
            Ok(got.map_or(JsValue::UNDEFINED, |b| Uint8Array::from(&b[..]).into()))
        })
    }

    /// Fetches file CAR `car` from `remote`, checks and stores it; its bytes, or undefined when
    /// the remote does not have it.
    #[wasm_bindgen(js_name = fetchFile, unchecked_return_type = "Promise<Uint8Array | undefined>")]
    pub fn fetch_file(&self, remote: JsConnector, car: String, key: String) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let key = file_key(&key)?;
            let Some(stored) = JsRemote(remote)
                .get(&crate::sync::key(crate::sync::CARS, &car))
                .await?
            else {
                return Ok(JsValue::UNDEFINED);
            };
            let b = l.store_file_chunk(&car, &key, stored).await?;
            Ok(Uint8Array::from(&b[..]).into())
        })
    }
}
