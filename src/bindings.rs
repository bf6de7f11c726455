//! wasm-bindgen translation layer: decode arguments, make one engine call, encode the result.
//!
//! Values cross as JSON text (documents in the wire format of [`crate::doc`]); errors become JS
//! `Error` objects with a stable `code`. Nothing here holds engine logic.

mod error;
mod files;
mod ledger;
mod query;
#[cfg(feature = "sync")]
mod sync;

pub use ledger::JsLedger;
