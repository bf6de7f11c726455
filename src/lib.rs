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

/// The engine's hash maps and sets: keys are CIDs (sha-256 digests) and names the engine made,
/// so FxHash (a multiply-rotate per word) instead of std's SipHash, which hashed each CID's 40
/// bytes through 13 rounds on every cache lookup.
pub(crate) type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;
pub(crate) type HashSet<T> = rustc_hash::FxHashSet<T>;
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
