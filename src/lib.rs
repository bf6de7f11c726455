//! ferroproof: a local-first, encrypted, syncable document database engine.
//!
//! Layers (each uses only the ones below it): `bindings` (wasm only) → [`ledger`] → [`clock`],
//! [`prolly`] → [`car`], [`crypto`] → [`codec`]; [`store`] is the storage contract with a memory and
//! (on wasm32) an IndexedDB implementation. Nothing outside `bindings` and `store::idb` knows JS.
#![forbid(unsafe_code)]

pub mod b64;
pub mod car;
pub mod codec;
pub mod crypto;
pub mod error;
pub mod prolly;
pub mod sort;

pub use error::{Error, Result};
#[cfg(target_arch = "wasm32")]
pub mod bindings;
pub mod clock;
pub mod doc;
pub mod index;
pub mod ledger;
pub mod store;
pub mod sync;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod fuzz_tests;
pub mod json;
