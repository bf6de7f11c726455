//! Prolly tree: a deterministic, content-addressed B-tree over byte-string keys.
//!
//! Nodes are dag-cbor blocks `[level, [[key, value], ...]]`. Level 0 (leaves) holds the entries;
//! a node at level `n > 0` holds `[first key of child, child CID]` pairs for level `n - 1`
//! (in the documents tree, `[first key, [child CID, highest leaf seq below]]`).
//! A node ends after an entry whose boundary hash (see [`chunk`]) falls below a threshold that
//! grows with the node's byte size (nodes of 512–1,536 bytes of keys and values), or after
//! [`chunk::MAX_ENTRIES`] entries. The root is the lowest level that has one node.
//!
//! Invariant: the root CID is a function of the set of entries alone, whatever the order or
//! batching of the edits that produced it. [`edit::apply`] keeps it by rechunking each edited
//! region until the chunker realigns with an old boundary (property-tested in `tests`).

use std::rc::Rc;

use cid::Cid;

use crate::error::Result;

pub mod chunk;
pub mod edit;
pub mod node;
pub mod read;
pub mod walk;

pub use edit::{apply, Applied, Edit, LeafSeq};
pub use node::{as_link, link, link_max, link_seq, raw, split_link, Entry, Node, Raw, NULL};
pub use read::{diff, get, get_now, scan, scan_after, Bound, Range};
pub use walk::{walk_new, walk_unshared};

/// Where tree nodes come from: the ledger's block cache backed by the store, or a test map.
#[allow(async_fn_in_trait)]
pub trait Loader {
    /// Returns the decoded node for `cid`, or an error if it is missing or malformed.
    async fn load(&self, cid: &Cid) -> Result<Rc<Node>>;
    /// A hint that these nodes are about to be loaded (a store may fetch them in one go).
    async fn prefetch(&self, _cids: &[Cid]) -> Result<()> {
        Ok(())
    }
}

/// Nodes already in memory, for code that never waits (walks, diffs, merges): a node that is
/// not in memory is an `Error::MissingBlock` (the ledger's driver loads it and runs the code
/// again).
pub trait NodesNow {
    /// The decoded node for `cid` if it is in memory.
    fn node_now(&self, cid: &Cid) -> Result<Rc<Node>>;
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
