//! Sync from JS: a connector object (`put/get/list/delete` returning promises) becomes the
//! engine's [`Remote`]; `syncPull`/`syncPush` run one engine pull or push and report as JSON.

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::ledger::{spawn, JsLedger};
use crate::doc::{write_int, write_str};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::sync::{Remote, Replica};

#[wasm_bindgen(typescript_custom_section)]
const SYNC_CONNECTOR: &str = r#"
/** The engine's view of a connector (see js/connectors/connector.ts); each method may answer
 * with a promise or a plain value. */
export interface SyncConnector {
  put(key: string, bytes: Uint8Array): Promise<void> | void;
  get(key: string): Promise<ArrayBuffer | ArrayBufferView | null | undefined> | ArrayBuffer | ArrayBufferView | null | undefined;
  list(prefix: string): Promise<string[]> | string[];
  delete(key: string): Promise<void> | void;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// A connector: `put(key, bytes)`, `get(key)`, `list(prefix)`, `delete(key)`, async or not.
    #[wasm_bindgen(typescript_type = "SyncConnector")]
    #[derive(Clone)]
    pub type JsConnector;
}

// Both are `async`: whatever a connector's method does (return a plain value, throw), the engine
// gets a promise. A non-promise handed to an `async` import throws inside the future's glue, across
// the wasm frames, which leaves the module unusable for every ledger of the page.
#[wasm_bindgen(
    inline_js = "const u8 = (v) => v instanceof ArrayBuffer ? new Uint8Array(v) : ArrayBuffer.isView(v) && !(v instanceof Uint8Array) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v;
export async function getAll(c, keys) { const got = await (c.getMany && keys.length > 1 ? c.getMany(keys) : Promise.all(keys.map((k) => c.get(k)))); return Array.isArray(got) ? got.map(u8) : got; }
export async function call(c, m, k, b) { return b === undefined ? c[m](k) : c[m](k, b); }"
)]
extern "C" {
    #[wasm_bindgen(catch, js_name = getAll)]
    async fn js_get_all(c: &JsConnector, keys: Array) -> std::result::Result<JsValue, JsValue>;
    /// `c[method](key)`, or `c[method](key, bytes)` with bytes (one import for put/list/delete).
    #[wasm_bindgen(catch, js_name = call)]
    async fn js_call(
        c: &JsConnector,
        method: &str,
        key: &str,
        bytes: Option<Uint8Array>,
    ) -> std::result::Result<JsValue, JsValue>;
}

fn bytes_of(key: &str, v: JsValue) -> Result<Option<Vec<u8>>> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    let b = v
        .dyn_into::<Uint8Array>()
        .map_err(|_| Error::Remote(format!("connector get({key}) did not return bytes")))?;
    Ok(Some(b.to_vec()))
}

/// A connector failure: its `code` kept where it is `CORRUPT`, `UNAUTHORIZED`, `FORBIDDEN` or
/// `ENOENT` (the remote ledger does not exist), else `NETWORK`.
fn remote_err(e: JsValue) -> Error {
    let text = |k: &str| {
        Reflect::get(&e, &JsValue::from_str(k))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let msg = match text("message") {
        m if m.is_empty() => e.as_string().unwrap_or_else(|| "connector failed".into()),
        m => m,
    };
    match text("code").as_str() {
        "CORRUPT" => Error::corrupt("remote object", msg),
        "UNAUTHORIZED" => Error::Unauthorized(msg),
        "FORBIDDEN" => Error::Forbidden(msg),
        "ENOENT" => Error::NotFound(msg),
        _ => Error::Remote(msg),
    }
}

#[derive(Clone)]
struct JsRemote(JsConnector);

impl Remote for JsRemote {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        js_call(&self.0, "put", key, Some(Uint8Array::from(bytes)))
            .await
            .map_err(remote_err)?;
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        // through the same `getAll` glue as `get_many` (one fewer imported async function)
        Ok(self.get_many(&[key.to_string()]).await?.pop().flatten())
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let arr: Array = keys.iter().map(|k| JsValue::from_str(k)).collect();
        let got: Array = js_get_all(&self.0, arr)
            .await
            .map_err(remote_err)?
            .dyn_into()
            .map_err(|_| Error::Remote("connector get did not resolve".into()))?;
        if got.length() as usize != keys.len() {
            // a short answer would leave CARs unfetched and unreported
            return Err(Error::Remote(
                "connector getMany() did not answer each key".into(),
            ));
        }
        let mut out = Vec::with_capacity(keys.len());
        for (k, v) in keys.iter().zip(got.iter()) {
            out.push(bytes_of(k, v)?);
        }
        Ok(out)
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let v = js_call(&self.0, "list", prefix, None)
            .await
            .map_err(remote_err)?;
        let arr = v
            .dyn_into::<Array>()
            .map_err(|_| Error::Remote("connector list() did not return an array".into()))?;
        let mut out = Vec::with_capacity(arr.length() as usize);
        for k in arr.iter() {
            out.push(k.as_string().ok_or_else(|| {
                Error::Remote("connector list() returned a non-string key".into())
            })?);
        }
        Ok(out)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        js_call(&self.0, "delete", key, None)
            .await
            .map_err(remote_err)?;
        Ok(())
    }
}

/// The engine's replica of this ledger against a JS connector (sync state kept under `id`).
fn replica(
    l: &crate::ledger::Ledger<crate::store::idb::IdbStore>,
    remote: JsConnector,
    id: String,
) -> Replica<'_, crate::store::idb::IdbStore, JsRemote> {
    Replica {
        ledger: l,
        remote: JsRemote(remote),
        id,
    }
}

fn errors_json(out: &mut String, errors: &[Error]) {
    out.push('[');
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"code\":");
        write_str(out, e.code());
        out.push_str(",\"message\":");
        write_str(out, &e.to_string());
        out.push('}');
    }
    out.push(']');
}

#[wasm_bindgen(js_class = Ledger)]
impl JsLedger {
    /// One pull from `remote` (sync state kept under `id`). Resolves to
    /// `{records, changed, bytes, errors: [{code, message}]}` JSON.
    #[wasm_bindgen(js_name = syncPull, unchecked_return_type = "Promise<string>")]
    pub fn sync_pull(&self, remote: JsConnector, id: String) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let r = replica(&l, remote, id).pull().await?;
            let mut out = String::from("{\"records\":");
            write_int(&mut out, r.records as i128);
            out.push_str(if r.changed {
                ",\"changed\":true,\"bytes\":"
            } else {
                ",\"changed\":false,\"bytes\":"
            });
            write_int(&mut out, r.bytes as i128);
            out.push_str(",\"errors\":");
            errors_json(&mut out, &r.errors);
            out.push('}');
            Ok(JsValue::from_str(&out))
        })
    }

    /// One push to `remote`. Resolves to `{cars, bytes, record}` JSON (`record`: the head
    /// record's name, absent when nothing was pushed).
    #[wasm_bindgen(js_name = syncPush, unchecked_return_type = "Promise<string>")]
    pub fn sync_push(&self, remote: JsConnector, id: String) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let r = replica(&l, remote, id).push().await?;
            let mut out = String::from("{\"cars\":");
            write_int(&mut out, r.cars as i128);
            out.push_str(",\"bytes\":");
            write_int(&mut out, r.bytes as i128);
            if let Some(name) = &r.record {
                out.push_str(",\"record\":");
                write_str(&mut out, name);
            }
            out.push('}');
            Ok(JsValue::from_str(&out))
        })
    }

    /// Number of CARs not yet pushed: commits and file chunks (0 while never attached; a merge
    /// held back, docs/sync.md §4, is not pending).
    #[wasm_bindgen(js_name = pendingUp)]
    pub fn pending_up(&self) -> u32 {
        self.inner.snapshot().to_push().len() as u32
    }

    /// The ledger key (32 bytes) for an invite; it leaves the engine only through this call.
    #[wasm_bindgen(js_name = exportKey, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_key(&self) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let k = l
                .store()
                .ensure_key(&crate::crypto::Key::generate()?)
                .await?;
            Ok(Uint8Array::from(&k.as_bytes()[..]).into())
        })
    }
}

#[wasm_bindgen(js_class = Ledger)]
impl JsLedger {
    /// A remembered attachment detail (`attach:*` keys only), or undefined.
    #[wasm_bindgen(js_name = loadAttachMeta, unchecked_return_type = "Promise<string | undefined>")]
    pub fn load_attach_meta(&self, key: String) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let v = l.store().load_meta(&attach_key(&key)?).await?;
            Ok(v.map_or(JsValue::UNDEFINED, |s| JsValue::from_str(&s)))
        })
    }

    /// Remembers an attachment detail beside the header (`attach:*` keys only).
    #[wasm_bindgen(js_name = saveAttachMeta, unchecked_return_type = "Promise<void>")]
    pub fn save_attach_meta(&self, key: String, value: String) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            l.store().save_meta(&attach_key(&key)?, &value).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Makes `key` (32 bytes, from an invite) the ledger's key. Only for a ledger without data:
    /// resolves to false (and changes nothing) when it has commits. Reopen the ledger afterwards.
    #[wasm_bindgen(js_name = adoptKey, unchecked_return_type = "Promise<boolean>")]
    pub fn adopt_key(&self, key: Vec<u8>) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let key = crate::crypto::Key::from_bytes(&key)
                .map_err(|_| Error::InvalidArg("an invite key is 32 bytes".into()))?;
            Ok(JsValue::from_bool(l.adopt_key(&key).await?))
        })
    }
}

#[wasm_bindgen(js_class = Ledger)]
impl JsLedger {
    /// Re-encrypts a ledger that has data under `key` (32 bytes, from an invite) and makes it
    /// the ledger's key. Reopen the ledger afterwards.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn rekey(&self, key: Vec<u8>) -> js_sys::Promise {
        let l = self.inner.clone();
        spawn(async move {
            let key = crate::crypto::Key::from_bytes(&key)
                .map_err(|_| Error::InvalidArg("an invite key is 32 bytes".into()))?;
            l.rekey(&key).await?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

fn attach_key(key: &str) -> Result<String> {
    if key.starts_with("attach:") {
        Ok(key.to_string())
    } else {
        Err(Error::InvalidArg(
            "attachment keys start with attach:".into(),
        ))
    }
}
