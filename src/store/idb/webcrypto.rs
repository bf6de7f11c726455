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

    /// Large inputs through WebCrypto: native SHA-256 off the main thread takes ~0.1 ms for a
    /// 128 KiB CAR, where hashing in wasm takes several times that; below [`WEB_DIGEST_MIN`] the
    /// round trip costs more than it saves.
    async fn sha256(&self, data: &[u8]) -> Result<[u8; 32]> {
        if data.len() < WEB_DIGEST_MIN {
            return Ok(crate::codec::sha256(data));
        }
        let p = self.subtle.digest_with_str_and_u8_array("SHA-256", data);
        let mut d = [0u8; 32];
        match bytes(p).await {
            Ok(v) if v.len() == 32 => d.copy_from_slice(&v),
            _ => return Err(internal("digest failed")),
        }
        Ok(d)
    }
}

/// Sealed CARs from this size on are hashed by WebCrypto (see [`WebAead::sha256`]).
const WEB_DIGEST_MIN: usize = 16 * 1024;
