//! Archives (docs/format.md §14, `db.exportCar`): a CAR whose root is an archive block
//! `{v, head, indexes}`, checked and read by importing it into an in-memory ledger with the
//! engine's `Ledger::import_archive`.
//!
//! Invariant: an archive is judged only by the engine's import, which writes nothing unless every
//! block, the root, the head event and every tree node the state reaches check out; this module
//! only recognises the root's shape to decide whether to try.

use cid::Cid;
use ferroproof::codec::{decode, Block};
use ferroproof::crypto::Key;
use ferroproof::error::Result;
use ferroproof::ledger::Ledger;
use ferroproof::store::mem::MemStore;
use ipld_core::ipld::Ipld;

/// Whether the CAR's root block has an archive block's shape (a map with `head` and `indexes`).
pub fn is_archive(roots: &[Cid], blocks: &[Block]) -> bool {
    let Some(root) = roots
        .first()
        .and_then(|r| blocks.iter().find(|b| b.cid == *r))
    else {
        return false;
    };
    matches!(decode(&root.bytes), Ok(Ipld::Map(m)) if m.contains_key("head") && m.contains_key("indexes"))
}

/// A fresh in-memory ledger started from the archive `bytes` (plain, or sealed under `key`).
pub async fn import(bytes: &[u8], key: Option<&Key>) -> Result<Ledger<MemStore>> {
    let key = match key {
        Some(k) => k.clone(),
        None => Key::generate()?,
    };
    let ledger = Ledger::open("archive", MemStore::new(), Some(key)).await?;
    ledger
        .import_archive(bytes, &mut || {}, Box::pin(async {}))
        .await?;
    Ok(ledger)
}

/// One line on an imported archive: seq, documents, head, indexes.
pub fn describe(ledger: &Ledger<MemStore>) -> String {
    let s = ledger.snapshot();
    let head: Vec<String> = s.head.iter().map(ferroproof::codec::cid_str).collect();
    let indexes: Vec<&str> = s.indexes.keys().map(String::as_str).collect();
    format!(
        "archive: seq {}, {} documents, head [{}], indexes [{}]",
        s.seq,
        s.count,
        head.join(", "),
        indexes.join(", ")
    )
}
