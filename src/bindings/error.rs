//! Engine errors → JS `Error` objects carrying `code`.

use wasm_bindgen::JsValue;

use crate::error::Error;

/// Converts an engine error into a JS `Error` with `code` set.
pub fn to_js(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let _ = js_sys::Reflect::set(
        &err,
        &JsValue::from_str("code"),
        &JsValue::from_str(e.code()),
    );
    err.into()
}
