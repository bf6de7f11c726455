//! The storage contract: CAR files, a block→CAR location index, the header and the key.
//!
//! A backend stores opaque sealed CARs by name (with the CIDs of their blocks, to locate blocks)
//! and a small JSON header. Contract per method below. Invariant every backend keeps:
//! [`Store::commit`] is atomic — its CARs and header are all durable, or none is — and it only
//! succeeds if the stored header still names `expect`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crypto::{Aead, Key};
use crate::error::Result;

#[cfg(target_arch = "wasm32")]
pub mod idb;
#[cfg(not(target_arch = "wasm32"))]
pub mod mem;

/// Current header format version.
pub const HEADER_VERSION: u32 = 1;

/// The ledger header: where the newest state is. Replaced atomically by each commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Format version, [`HEADER_VERSION`].
    pub v: u32,
    /// Name (CID string) of the newest CAR.
    pub car: String,
    /// Clock head: event CIDs.
    pub head: Vec<String>,
    /// Root of the documents tree (`None` when empty).
    pub docs: Option<String>,
    /// Root of the changes tree (`None` when empty).
    pub changes: Option<String>,
    /// Height of the head event: number of commits in the linear history.
    pub seq: u64,
    /// Number of live (not deleted) documents.
    pub count: u64,
    /// Persisted map-reduce indexes by name.
    #[serde(default)]
    pub indexes: BTreeMap<String, IndexHead>,
}

/// Where a persisted index stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexHead {
    /// Hash of the map function's source: a different source means a different index.
    pub src: String,
    /// Root of the key tree (`encoded key ++ id → value`).
    pub keys: Option<String>,
    /// Root of the by-id tree (`id → emitted keys`).
    pub ids: Option<String>,
    /// Ledger seq the index reflects.
    pub seq: u64,
}

/// A sealed CAR as stored: its name, bytes and the CIDs of the blocks inside (which the store
/// indexes, so [`Store::locate`] finds the CAR of a block).
#[derive(Clone, Debug)]
pub struct StoredCar {
    pub name: String,
    pub bytes: Vec<u8>,
    pub cids: Vec<String>,
}

/// Everything one commit writes.
#[derive(Clone, Debug)]
pub struct CommitWrite {
    /// The `car` of the header this commit was built on (`None`: built on an empty ledger).
    pub expect: Option<String>,
    pub cars: Vec<StoredCar>,
    pub header: Header,
}

/// Result of a compare-and-set commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Another writer moved the header; nothing was written.
    Conflict,
}

/// A storage backend. Single-threaded (`?Send`): it runs on the browser's event loop.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The AES-256-GCM implementation this backend's platform offers.
    type Aead: Aead;
    /// Prepares the cipher for `key`.
    async fn aead(&self, key: &Key) -> Result<Self::Aead>;
    /// The current header, or `None` for a new ledger.
    async fn load_header(&self) -> Result<Option<Header>>;
    /// Returns the stored key; if there is none, stores `candidate` and returns it (atomically).
    async fn ensure_key(&self, candidate: &Key) -> Result<Key>;
    /// The sealed bytes of a CAR, or `None` if no CAR has that name.
    async fn read_car(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// The CAR holding a block, or `None` if the block is unknown.
    async fn locate(&self, cid: &str) -> Result<Option<String>>;
    /// Atomically writes CARs and the header if the header still names `expect`.
    async fn commit(&self, write: CommitWrite) -> Result<CommitOutcome>;
    /// Names of all stored CARs.
    async fn list_cars(&self) -> Result<Vec<String>>;
    /// Deletes CARs (blocks only they held can no longer be located).
    async fn remove_cars(&self, names: &[String]) -> Result<()>;
    /// Deletes everything, key included.
    async fn destroy(&self) -> Result<()>;
}
