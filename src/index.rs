//! Map-reduce indexes: an order-preserving key encoding ([`key`]), the index trees and their
//! incremental update ([`update`]), and query options ([`query`]).
//!
//! An index is two prolly trees: `keys` maps `encode(key) ++ id ++ u16 emit#` to the emitted
//! value (so rows sort by key, then document id, then emit order), and `ids` maps a document id to
//! the list of its encoded keys, so an updated or deleted document loses its old rows. Invariant: after an update, the index holds exactly the rows the map function emitted
//! for the live documents of the snapshot it was updated to.

pub mod fresh;
pub mod key;
pub mod query;
pub mod update;

pub use fresh::FreshRows;
pub use query::{QueryOpts, QueryRow};
pub use update::{apply_rows, EmittedRows, IndexRoots};

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
