//! AES-256-GCM through the browser's WebCrypto (`crypto.subtle`): hardware AES off the main
//! thread, where AES in wasm is software-only. Same algorithm, IV, AAD and output layout
//! (ciphertext ‖ 16-byte tag) as [`crate::crypto::SoftAead`], so either reads what the other wrote.

use js_sys::{Array, ArrayBuffer, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto};

use crate::crypto::{Aead, Key};
use crate::error::{Error, Result};

fn internal(what: &str) -> Error {
    Error::Internal(format!("webcrypto: {what}"))
}

fn subtle() -> Result<SubtleCrypto> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(|_| internal("no crypto"))?;
    if crypto.is_undefined() {
        return Err(internal("crypto is not available (not a secure context?)"));
    }
    Ok(crypto.unchecked_into::<web_sys::Crypto>().subtle())
}

/// A WebCrypto AES-GCM key.
pub struct WebAead {
    subtle: SubtleCrypto,
    key: CryptoKey,
}

impl WebAead {
    /// Imports the ledger key (not extractable; encrypt and decrypt only).
    pub async fn new(key: &Key) -> Result<WebAead> {
        let subtle = subtle()?;
        let algo = Object::new();
        Reflect::set(
            &algo,
            &JsValue::from_str("name"),
            &JsValue::from_str("AES-GCM"),
        )
        .map_err(|_| internal("algorithm"))?;
        let usages: Array = ["encrypt", "decrypt"]
            .iter()
            .map(|u| JsValue::from_str(u))
            .collect();
        let raw = Uint8Array::from(&key.as_bytes()[..]);
        let p = subtle
            .import_key_with_object("raw", &raw, &algo, false, &usages)
            .map_err(|_| internal("importKey"))?;
        let key = JsFuture::from(p)
            .await
            .map_err(|_| internal("importKey rejected"))?
            .unchecked_into::<CryptoKey>();
        Ok(WebAead { subtle, key })
    }

    fn params(iv: &[u8; 12], aad: &[u8]) -> AesGcmParams {
        let params = AesGcmParams::new_with_u8_array("AES-GCM", &Uint8Array::from(&iv[..]));
        params.set_additional_data_u8_array(&Uint8Array::from(aad));
        params
    }
}

async fn bytes(p: std::result::Result<Promise, JsValue>) -> std::result::Result<Vec<u8>, JsValue> {
    let buf = JsFuture::from(p?).await?;
    Ok(Uint8Array::new(&buf.unchecked_into::<ArrayBuffer>()).to_vec())
}

impl Aead for WebAead {
    async fn encrypt(&self, iv: &[u8; 12], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        let p =
            self.subtle
                .encrypt_with_object_and_u8_array(&Self::params(iv, aad), &self.key, plain);
        bytes(p).await.map_err(|_| internal("encrypt failed"))
    }

    async fn decrypt(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> std::result::Result<Vec<u8>, ()> {
        let p =
            self.subtle
                .decrypt_with_object_and_u8_array(&Self::params(iv, aad), &self.key, sealed);
        bytes(p).await.map_err(|_| ())
    }

    /// One call into JS (`idbSeal`): WebCrypto encrypts, the envelope is put together there, and
    /// from [`WEB_DIGEST_MIN`] bytes on WebCrypto also hashes it (native SHA-256 off the main
    /// thread takes ~0.1 ms for a 128 KiB CAR, where hashing in wasm takes several times that;
    /// below, the engine hashes it, quicker than another round trip).
    async fn seal_envelope(
        &self,
        head: &[u8],
        iv: &[u8; 12],
        plain: &[u8],
    ) -> Result<(Vec<u8>, Option<[u8; 32]>)> {
        let failed = || internal("encrypt failed");
        let done = JsFuture::from(
            idb_seal(&self.key, head, iv, plain, WEB_DIGEST_MIN).map_err(|_| failed())?,
        )
        .await
        .map_err(|_| failed())?;
        let parts: Array = done.unchecked_into();
        let sealed = parts.get(0).unchecked_into::<Uint8Array>().to_vec();
        let digest = parts.get(1).dyn_into::<Uint8Array>().ok().and_then(|d| {
            let mut out = [0u8; 32];
            (d.length() == 32).then(|| {
                d.copy_to(&mut out);
                out
            })
        });
        Ok((sealed, digest))
    }
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/store/idb/idb.js")]
extern "C" {
    #[wasm_bindgen(js_name = idbSeal, catch)]
    fn idb_seal(
        key: &CryptoKey,
        head: &[u8],
        iv: &[u8],
        plain: &[u8],
        digest_min: u32,
    ) -> std::result::Result<Promise, JsValue>;
}

/// Envelopes from this size on are hashed by WebCrypto (see `seal_envelope`).
const WEB_DIGEST_MIN: u32 = 16 * 1024;
