//! wasm-bindgen translation layer: decode arguments, make one engine call, encode the result.
//!
//! Values cross as JSON text (documents in the wire format of [`crate::doc`]); errors become JS
//! `Error` objects with a stable `code`. Nothing here holds engine logic. The exports that talk to a
//! remote (`sync`) exist only with the Cargo feature `sync`: the package's local engine build is
//! made without it (README "Two engine builds").

mod error;
mod files;
mod ledger;
mod query;
#[cfg(feature = "sync")]
mod sync;

pub use ledger::JsLedger;
