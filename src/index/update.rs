//! Incremental index update: replace the rows of a batch of documents.
//!
//! Invariant: for every document of the batch, the `keys` tree afterwards holds exactly the rows
//! given for it (none for a deleted document), and the `ids` tree lists their encoded keys.

use std::rc::Rc;

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::key;
use crate::codec::cbor::write_head;
use crate::codec::Block;
use crate::error::{Error, Result};
use crate::prolly::{self, Edit, Loader, Node, NULL};

/// The two trees of an index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexRoots {
    pub keys: Option<Cid>,
    pub ids: Option<Cid>,
}

/// The rows one document emitted: `(key, value)` pairs, in emit order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmittedRows {
    pub id: String,
    pub rows: Vec<(Ipld, Ipld)>,
}

/// Key of a row in the `keys` tree: `encoded key ++ id (UTF-8) ++ emit# (u16, big-endian)`.
/// The encoded key is self-delimiting, and the emit number has a fixed width, so the id is what
/// lies between them.
pub fn row_key(encoded_key: &[u8], id: &str, n: usize) -> Result<Vec<u8>> {
    let n = u16::try_from(n)
        .map_err(|_| key::emitted_by(Error::InvalidArg("more than 65536 rows".into()), id))?;
    let mut out = Vec::with_capacity(encoded_key.len() + id.len() + 2);
    out.extend_from_slice(encoded_key);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    Ok(out)
}

/// Encodes an emitted key, naming the document in the error.
fn encode_key(k: &Ipld, id: &str) -> Result<Vec<u8>> {
    key::encode(k).map_err(|e| key::emitted_by(e, id))
}

/// Splits a `keys`-tree key into the emitted key and the document id.
pub fn split_row_key(mut b: &[u8]) -> Result<(Ipld, String)> {
    let k = key::decode(&mut b)?;
    let id = b
        .len()
        .checked_sub(2)
        .and_then(|n| std::str::from_utf8(&b[..n]).ok());
    match id {
        Some(id) => Ok((k, id.to_string())),
        None => Err(Error::corrupt("index", "malformed row key")),
    }
}

/// The `keys` and `ids` edits that replace the rows of every document in `batch` (old rows are
/// looked up in the `ids` tree; a fresh index has none).
async fn edits_for<L: Loader>(
    loader: &L,
    roots: &IndexRoots,
    batch: Vec<EmittedRows>,
) -> Result<(Vec<Edit>, Vec<Edit>)> {
    let mut deletes: Vec<Edit> = Vec::new();
    let mut puts: Vec<Edit> = Vec::with_capacity(batch.len());
    let mut id_edits: Vec<Edit> = Vec::with_capacity(batch.len());
    for doc in batch {
        if roots.ids.is_some() {
            if let Some(raw) = prolly::get(loader, roots.ids, doc.id.as_bytes()).await? {
                let old = crate::codec::decode(&raw).map_err(|e| Error::corrupt("index", e))?;
                if let Ipld::List(old) = old {
                    for (n, k) in old.iter().enumerate() {
                        if let Ipld::Bytes(k) = k {
                            deletes.push((row_key(k, &doc.id, n)?, None));
                        }
                    }
                }
            }
        }
        // The `ids` value, `[key bytes, ...]`, is written directly (dag-cbor heads).
        let mut listed = Vec::new();
        let mut size = 0;
        if !doc.rows.is_empty() {
            write_head(&mut listed, 4, doc.rows.len() as u64);
        }
        for (n, (k, v)) in doc.rows.into_iter().enumerate() {
            let ek = encode_key(&k, &doc.id)?;
            let value = match v {
                Ipld::Null => NULL.to_vec(),
                v => prolly::raw(&v)?,
            };
            size += value.len();
            puts.push((row_key(&ek, &doc.id, n)?, Some(value)));
            write_head(&mut listed, 2, ek.len() as u64);
            listed.extend_from_slice(&ek);
        }
        key::check_emitted(size + listed.len(), &doc.id)?;
        let ids_value = if listed.is_empty() {
            None
        } else {
            Some(listed)
        };
        id_edits.push((doc.id.into_bytes(), ids_value));
    }
    deletes.extend(puts); // a row both removed and re-added ends up present
    Ok((deletes, id_edits))
}

/// Replaces the rows of every document in `batch`.
pub async fn apply_rows<L: Loader>(
    loader: &L,
    roots: &IndexRoots,
    batch: Vec<EmittedRows>,
) -> Result<(IndexRoots, Vec<(Block, Rc<Node>)>)> {
    let (key_edits, id_edits) = edits_for(loader, roots, batch).await?;
    apply_edits(loader, roots, key_edits, id_edits).await
}

/// Applies edits to the two trees of an index.
pub(super) async fn apply_edits<L: Loader>(
    loader: &L,
    roots: &IndexRoots,
    key_edits: Vec<Edit>,
    id_edits: Vec<Edit>,
) -> Result<(IndexRoots, Vec<(Block, Rc<Node>)>)> {
    let keys = prolly::apply(loader, roots.keys, key_edits, None).await?;
    let ids = prolly::apply(loader, roots.ids, id_edits, None).await?;
    let mut blocks = keys.blocks;
    blocks.extend(ids.blocks);
    Ok((
        IndexRoots {
            keys: keys.root,
            ids: ids.root,
        },
        blocks,
    ))
}
