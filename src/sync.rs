//! Replication through a create-only remote (protocol: `docs/sync.md`).
//!
//! Owns what to push (the outbox), what to pull (head records and the CARs their manifests
//! name), verification of everything fetched, and the sync state kept beside the header. The
//! ledger does the merging ([`crate::ledger::Ledger::adopt_heads`]); a [`Remote`] only moves
//! bytes. Invariants: CARs before heads (a head record is written only after every CAR it
//! names is acknowledged); nothing fetched is stored or merged before it is verified; a failed
//! pull or push changes nothing local except what was already durable.

use crate::error::Result;

pub mod fetch;
pub mod record;
pub mod replica;
pub mod state;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod held_tests;
#[cfg(not(target_arch = "wasm32"))]
pub mod mem;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod merge_tests;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

pub use replica::{PullReport, PushReport, Replica};

/// Key prefix of CARs on a remote.
pub const CARS: &str = "cars/";
/// Key prefix of head records on a remote.
pub const HEADS: &str = "heads/";

/// The remote key of `name` under `prefix` ([`CARS`] or [`HEADS`]).
pub fn key(prefix: &str, name: &str) -> String {
    let mut k = String::with_capacity(prefix.len() + name.len());
    k.push_str(prefix);
    k.push_str(name);
    k
}

/// A create-only key/value store holding one remote ledger (the connector contract).
#[allow(async_fn_in_trait)]
pub trait Remote {
    /// Stores `bytes` under `key` unless the key exists (then succeeds without change).
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;
    /// The bytes under `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Every key starting with `prefix` (full keys, any order).
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Deletes `key` (only head records are ever deleted); absent keys succeed.
    async fn delete(&self, key: &str) -> Result<()>;
    /// The bytes of several keys (a connector may fetch them in parallel).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(k).await?);
        }
        Ok(out)
    }
}
