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
use crate::prolly::{self, Edit, Entry, Loader, Node, NULL};

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
        .map_err(|_| Error::InvalidArg(format!("document {id:?} emitted more than 65536 rows")))?;
    let mut out = Vec::with_capacity(encoded_key.len() + id.len() + 2);
    out.extend_from_slice(encoded_key);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    Ok(out)
}

/// Encodes an emitted key, naming the document in the error.
fn encode_key(k: &Ipld, id: &str) -> Result<Vec<u8>> {
    key::encode(k).map_err(|e| Error::InvalidArg(format!("{e} (emitted for document {id:?})")))
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
        if !doc.rows.is_empty() {
            write_head(&mut listed, 4, doc.rows.len() as u64);
        }
        for (n, (k, v)) in doc.rows.into_iter().enumerate() {
            let ek = encode_key(&k, &doc.id)?;
            let value = match v {
                Ipld::Null => NULL.to_vec(),
                v => prolly::raw(&v)?,
            };
            puts.push((row_key(&ek, &doc.id, n)?, Some(value)));
            write_head(&mut listed, 2, ek.len() as u64);
            listed.extend_from_slice(&ek);
        }
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
    let keys = prolly::apply(loader, roots.keys, key_edits).await?;
    let ids = prolly::apply(loader, roots.ids, id_edits).await?;
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

/// The first 8 bytes of a key as a big-endian integer (zero-padded).
fn head(k: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = k.len().min(8);
    b[..n].copy_from_slice(&k[..n]);
    u64::from_be_bytes(b)
}

/// The indexes of `heads` in ascending order of their values, equal values in index order
/// (a least-significant-byte-first radix sort; bytes where all heads agree are skipped).
fn radix_order(heads: &[u64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..heads.len() as u32).collect();
    let mut next = vec![0u32; heads.len()];
    let (all_or, all_and) = heads
        .iter()
        .fold((0u64, !0u64), |(o, a), &h| (o | h, a & h));
    for shift in (0..64).step_by(8) {
        if (all_or >> shift) & 0xff == (all_and >> shift) & 0xff {
            continue; // every head has the same byte here
        }
        let mut counts = [0usize; 257];
        for &i in &order {
            counts[((heads[i as usize] >> shift) & 0xff) as usize + 1] += 1;
        }
        for d in 0..256 {
            counts[d + 1] += counts[d];
        }
        for &i in &order {
            let d = ((heads[i as usize] >> shift) & 0xff) as usize;
            next[counts[d]] = i;
            counts[d] += 1;
        }
        std::mem::swap(&mut order, &mut next);
    }
    order
}

/// The entries of a freshly built index, sorted, before they become trees.
#[derive(Debug, Default, PartialEq)]
pub struct FreshRows {
    pub keys: Vec<Entry>,
    pub ids: Vec<Entry>,
}

impl FreshRows {
    /// Adds the one row of a document whose key is `k` and value null (a field index), without
    /// intermediate copies: the keys row and the ids entry are written directly. Call
    /// [`FreshRows::sort`] after the last one.
    pub fn push_key(&mut self, id: &[u8], k: &Ipld) -> Result<()> {
        self.push_with(id, |row| key::encode_onto(row, k))
    }

    /// [`FreshRows::push_key`] for a key given as one encoded dag-cbor item; `Ok(false)` if the
    /// item is null (not indexed).
    pub fn push_raw_key(&mut self, id: &[u8], raw: &[u8]) -> Result<bool> {
        if raw == NULL {
            return Ok(false);
        }
        self.push_with(id, |row| {
            if key::encode_cbor_scalar_onto(row, raw)? {
                return Ok(());
            }
            let k = crate::codec::decode(raw).map_err(|e| Error::corrupt("document", e))?;
            key::encode_onto(row, &k)
        })?;
        Ok(true)
    }

    fn push_with(
        &mut self,
        id: &[u8],
        encode: impl FnOnce(&mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        let mut row = Vec::with_capacity(16 + id.len());
        if let Err(e) = encode(&mut row) {
            let id = String::from_utf8_lossy(id);
            return Err(Error::InvalidArg(format!(
                "{e} (emitted for document {id:?})"
            )));
        }
        let ek_len = row.len();
        let mut listed = Vec::with_capacity(ek_len + 4);
        write_head(&mut listed, 4, 1);
        write_head(&mut listed, 2, ek_len as u64);
        listed.extend_from_slice(&row);
        row.extend_from_slice(id);
        row.extend_from_slice(&[0, 0]); // emit #0
        self.keys.push((row, NULL.to_vec()));
        self.ids.push((id.to_vec(), listed));
        Ok(())
    }

    /// Sorts the rows pushed by [`FreshRows::push_key`] (each id pushed once): a radix sort on
    /// the first 8 key bytes, then each run of equal heads by whole key (pushed in id order,
    /// such runs are usually in order already).
    pub fn sort(&mut self) {
        for rows in [&mut self.keys, &mut self.ids] {
            if rows.windows(2).all(|w| w[0].0 < w[1].0) {
                continue;
            }
            let heads: Vec<u64> = rows.iter().map(|e| head(&e.0)).collect();
            let order = radix_order(&heads);
            let mut slots: Vec<Option<Entry>> = rows.drain(..).map(Some).collect();
            let sorted = order
                .iter()
                .filter_map(|&i| slots.get_mut(i as usize)?.take());
            let mut edits: Vec<Edit> = sorted.map(|(k, v)| (k, Some(v))).collect();
            let mut start = 0;
            while start < edits.len() {
                let h = heads[order[start] as usize];
                let len = order[start..].partition_point(|&i| heads[i as usize] == h);
                let run = &mut edits[start..start + len];
                if !run.windows(2).all(|w| w[0].0 < w[1].0) {
                    prolly::edit::sort_edits(run);
                }
                start += len;
            }
            rows.extend(edits.into_iter().filter_map(|(k, v)| Some((k, v?))));
        }
    }

    /// The rows of a fresh index holding `batch` (no tree is read).
    pub async fn build<L: Loader>(loader: &L, batch: Vec<EmittedRows>) -> Result<FreshRows> {
        let (keys, ids) = edits_for(loader, &IndexRoots::default(), batch).await?;
        Ok(FreshRows {
            keys: prolly::edit::sorted_entries(keys),
            ids: prolly::edit::sorted_entries(ids),
        })
    }

    /// Builds the two trees (what [`apply_rows`] on an empty index gives for the same batch).
    pub async fn to_trees<L: Loader>(
        &self,
        loader: &L,
    ) -> Result<(IndexRoots, Vec<(Block, Rc<Node>)>)> {
        let as_edits = |e: &[Entry]| {
            e.iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect()
        };
        let keys = prolly::apply(loader, None, as_edits(&self.keys)).await?;
        let ids = prolly::apply(loader, None, as_edits(&self.ids)).await?;
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
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// The radix order is the stable sort order of the heads.
        #[test]
        fn radix_order_is_a_stable_sort(heads in prop::collection::vec(
            prop_oneof![any::<u64>(), 0u64..4, (0u64..4).prop_map(|x| x << 56)], 0..200)) {
            let mut want: Vec<u32> = (0..heads.len() as u32).collect();
            want.sort_by_key(|&i| heads[i as usize]);
            prop_assert_eq!(radix_order(&heads), want);
        }

        /// Fresh rows come out sorted whatever the push order.
        #[test]
        fn fresh_rows_sort(keys in prop::collection::vec((any::<u16>(), "[a-z]{0,12}"), 0..100)) {
            let mut rows = FreshRows::default();
            for (n, (k, id)) in keys.iter().enumerate() {
                let id = format!("{id}{n}");
                rows.push_key(id.as_bytes(), &Ipld::String(format!("{k:05}{id}"))).unwrap();
            }
            rows.sort();
            prop_assert!(rows.keys.windows(2).all(|w| w[0].0 < w[1].0));
            prop_assert!(rows.ids.windows(2).all(|w| w[0].0 < w[1].0));
            prop_assert_eq!(rows.keys.len(), keys.len());
        }
    }
}
