//! A freshly built index before it becomes trees: its rows in one byte arena, ordered by a radix
//! sort on the first key bytes. Queries binary-search it; [`FreshRows::to_trees`] turns it into
//! the `keys` and `ids` trees (when the index is saved).
//!
//! Invariant: after [`FreshRows::sort`], `sorted` lists every row once, in strictly ascending
//! key order (row keys are unique: they end with the document id and the emit number), and the
//! trees built from it equal those [`super::apply_rows`] builds for the same rows on an empty
//! index.

use std::rc::Rc;

use ipld_core::ipld::Ipld;

use super::key;
use super::update::{EmittedRows, IndexRoots};
use crate::codec::cbor::write_head;
use crate::codec::Block;
use crate::error::{Error, Result};
use crate::prolly::{self, Edit, Loader, Node, NULL};

/// One row: its key is `buf[at..at + ek + id + 2]` (encoded key, document id, emit number), its
/// value `buf[val..val + val_len]`.
#[derive(Clone, Copy, Debug)]
struct Row {
    at: u32,
    ek: u32,
    id: u32,
    val: u32,
    val_len: u32,
}

/// The rows of a fresh index (see the module docs).
#[derive(Debug, Default)]
pub struct FreshRows {
    buf: Vec<u8>,
    /// In push order: the rows of one document are adjacent, documents in the order pushed.
    rows: Vec<Row>,
    /// Row numbers in key order (after [`FreshRows::sort`]).
    sorted: Vec<u32>,
    /// Where an encoded null lies in `buf`, shared by every null value.
    null_at: Option<u32>,
}

fn offset(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::InvalidArg("index too large to build at once".into()))
}

impl FreshRows {
    /// The rows emitted for a batch of documents (each id once), sorted.
    pub fn build(batch: Vec<EmittedRows>) -> Result<FreshRows> {
        let mut rows = FreshRows::default();
        for doc in batch {
            let start = rows.buf.len();
            for (n, (k, v)) in doc.rows.iter().enumerate() {
                let value = match v {
                    Ipld::Null => None,
                    v => Some(prolly::raw(v)?),
                };
                rows.push(doc.id.as_bytes(), n, |out| key::encode_onto(out, k), value)?;
            }
            key::check_emitted(rows.buf.len() - start, &doc.id)?;
        }
        rows.sort();
        Ok(rows)
    }

    /// Adds the one row of a document whose key is `k` and value null (a field index). Call
    /// [`FreshRows::sort`] after the last one.
    pub fn push_key(&mut self, id: &[u8], k: &Ipld) -> Result<()> {
        self.push(id, 0, |out| key::encode_onto(out, k), None)
    }

    /// [`FreshRows::push_key`] for a key given as one encoded dag-cbor item; `Ok(false)` if the
    /// item is null (not indexed).
    pub fn push_raw_key(&mut self, id: &[u8], raw: &[u8]) -> Result<bool> {
        if raw == NULL {
            return Ok(false);
        }
        let encode = |out: &mut Vec<u8>| {
            if key::encode_cbor_scalar_onto(out, raw)? {
                return Ok(());
            }
            let k = crate::codec::decode(raw).map_err(|e| Error::corrupt("document", e))?;
            key::encode_onto(out, &k)
        };
        self.push(id, 0, encode, None)?;
        Ok(true)
    }

    /// Appends row `n` of document `id`: the key written by `encode`, the value (null if `None`).
    fn push(
        &mut self,
        id: &[u8],
        n: usize,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<()>,
        value: Option<Vec<u8>>,
    ) -> Result<()> {
        let start = self.buf.len();
        let row = self.write_row(id, n, encode, value).and_then(|r| {
            key::check_emitted(self.buf.len() - start, &crate::doc::id_of(id))?;
            Ok(r)
        });
        match row {
            Ok(row) => {
                self.rows.push(row);
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(start);
                Err(e)
            }
        }
    }

    fn write_row(
        &mut self,
        id: &[u8],
        n: usize,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<()>,
        value: Option<Vec<u8>>,
    ) -> Result<Row> {
        let named = |e: Error| key::emitted_by(e, &crate::doc::id_of(id));
        let n = u16::try_from(n)
            .map_err(|_| named(Error::InvalidArg("more than 65536 rows".into())))?;
        let at = offset(self.buf.len())?;
        encode(&mut self.buf).map_err(named)?;
        let ek = offset(self.buf.len())? - at;
        self.buf.extend_from_slice(id);
        self.buf.extend_from_slice(&n.to_be_bytes());
        let (val, val_len) = match (value, self.null_at) {
            (None, Some(null)) => (null, 1),
            (None, None) => {
                let null = offset(self.buf.len())?;
                self.buf.extend_from_slice(&NULL);
                self.null_at = Some(null);
                (null, 1)
            }
            (Some(v), _) => {
                let val = offset(self.buf.len())?;
                self.buf.extend_from_slice(&v);
                (val, offset(v.len())?)
            }
        };
        Ok(Row {
            at,
            ek,
            id: offset(id.len())?,
            val,
            val_len,
        })
    }

    fn key_of(&self, r: &Row) -> &[u8] {
        let (a, b) = (r.at as usize, (r.at + r.ek + r.id + 2) as usize);
        self.buf.get(a..b).unwrap_or_default()
    }

    fn value_of(&self, r: &Row) -> &[u8] {
        let (a, b) = (r.val as usize, (r.val + r.val_len) as usize);
        self.buf.get(a..b).unwrap_or_default()
    }

    /// Orders the rows by key: a radix sort on the first 8 key bytes, then each run of equal
    /// heads by whole key (rows pushed in key order within such a run are left as they are).
    pub fn sort(&mut self) {
        let heads: Vec<u64> = self.rows.iter().map(|r| head(self.key_of(r))).collect();
        let mut sorted = radix_order(&heads);
        let mut start = 0;
        while start < sorted.len() {
            let h = heads[sorted[start] as usize];
            let len = sorted[start..].partition_point(|&i| heads[i as usize] == h);
            let run = &mut sorted[start..start + len];
            let key = |i: u32| self.key_of(&self.rows[i as usize]);
            if !run.windows(2).all(|w| key(w[0]) < key(w[1])) {
                crate::sort::heap_sort(run, &|a, b| prolly::edit::cmp_keys(key(a), key(b)).is_lt());
            }
            start += len;
        }
        self.sorted = sorted;
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `i`-th row in key order: (key, value).
    pub fn entry(&self, i: usize) -> (&[u8], &[u8]) {
        match self.sorted.get(i).and_then(|&r| self.rows.get(r as usize)) {
            Some(r) => (self.key_of(r), self.value_of(r)),
            None => (&[], &[]),
        }
    }

    /// Builds the two trees (what [`super::apply_rows`] on an empty index gives for the same
    /// rows): `keys` from the sorted rows, `ids` from each document's encoded keys in emit order.
    pub async fn to_trees<L: Loader>(
        &self,
        loader: &L,
    ) -> Result<(IndexRoots, Vec<(Block, Rc<Node>)>)> {
        let keys: Vec<Edit> = (0..self.len())
            .map(|i| {
                let (k, v) = self.entry(i);
                (k.to_vec(), Some(v.to_vec()))
            })
            .collect();
        let mut ids: Vec<Edit> = Vec::new();
        let mut i = 0;
        while i < self.rows.len() {
            let first = &self.rows[i];
            let id = &self.key_of(first)[first.ek as usize..(first.ek + first.id) as usize];
            let doc_rows = self.rows[i..]
                .iter()
                .take_while(|r| &self.key_of(r)[r.ek as usize..(r.ek + r.id) as usize] == id)
                .count();
            let mut listed = Vec::new();
            write_head(&mut listed, 4, doc_rows as u64);
            for r in &self.rows[i..i + doc_rows] {
                let ek = &self.key_of(r)[..r.ek as usize];
                write_head(&mut listed, 2, ek.len() as u64);
                listed.extend_from_slice(ek);
            }
            ids.push((id.to_vec(), Some(listed)));
            i += doc_rows;
        }
        super::update::apply_edits(loader, &IndexRoots::default(), keys, ids).await
    }
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::HashMap;
    use futures::executor::block_on;
    use proptest::prelude::*;

    /// Nodes by CID, for building trees in tests.
    struct Nodes(std::cell::RefCell<HashMap<cid::Cid, Rc<Node>>>);

    impl Loader for Nodes {
        async fn load(&self, cid: &cid::Cid) -> Result<Rc<Node>> {
            self.0
                .borrow()
                .get(cid)
                .cloned()
                .ok_or_else(|| Error::MissingBlock(crate::codec::cid_str(cid)))
        }
    }

    fn key() -> impl Strategy<Value = Ipld> {
        prop_oneof![
            (0i64..6).prop_map(|i| Ipld::Integer(i.into())),
            "[ab]{0,10}".prop_map(Ipld::String),
            prop::collection::vec((0i64..3).prop_map(|i| Ipld::Integer(i.into())), 0..3)
                .prop_map(Ipld::List),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// The heapsort sorts.
        #[test]
        fn heap_sort_sorts(mut v in prop::collection::vec(0u32..50, 0..100)) {
            let mut want = v.clone();
            want.sort();
            crate::sort::heap_sort(&mut v, &|a, b| a < b);
            prop_assert_eq!(v, want);
        }

        /// The radix order is the stable sort order of the heads.
        #[test]
        fn radix_order_is_a_stable_sort(heads in prop::collection::vec(
            prop_oneof![any::<u64>(), 0u64..4, (0u64..4).prop_map(|x| x << 56)], 0..200)) {
            let mut want: Vec<u32> = (0..heads.len() as u32).collect();
            want.sort_by_key(|&i| heads[i as usize]);
            prop_assert_eq!(radix_order(&heads), want);
        }

        /// Fresh rows come out sorted, and make the same trees as an update of an empty index.
        #[test]
        fn fresh_rows_equal_an_update_of_an_empty_index(
            docs in prop::collection::btree_map("[a-c]{1,3}", prop::collection::vec((key(), prop_oneof![Just(Ipld::Null), (0i64..3).prop_map(|i| Ipld::Integer(i.into()))]), 0..4), 0..30),
        ) {
            let batch: Vec<EmittedRows> = docs.iter().rev().map(|(id, rows)| EmittedRows { id: id.clone(), rows: rows.clone() }).collect();
            let fresh = FreshRows::build(batch.clone()).unwrap();
            let keys: Vec<Vec<u8>> = (0..fresh.len()).map(|i| fresh.entry(i).0.to_vec()).collect();
            prop_assert!(keys.windows(2).all(|w| w[0] < w[1]));
            let nodes = Nodes(Default::default());
            let (roots, blocks) = block_on(fresh.to_trees(&nodes)).unwrap();
            let (want, _) = block_on(super::super::apply_rows(&nodes, &IndexRoots::default(), batch)).unwrap();
            prop_assert_eq!(roots, want);
            prop_assert!(blocks.len() >= usize::from(roots.keys.is_some()));
        }
    }

    #[test]
    fn a_bad_key_names_the_document_and_keeps_the_rows() {
        let mut rows = FreshRows::default();
        rows.push_key(b"a", &Ipld::Integer(1)).unwrap();
        let e = rows
            .push_key(b"b", &Ipld::Map(Default::default()))
            .unwrap_err();
        assert!(e.to_string().contains("\"b\""), "{e}");
        rows.push_key(b"c", &Ipld::Integer(0)).unwrap();
        rows.sort();
        assert_eq!(rows.len(), 2);
        let (k, v) = rows.entry(0);
        assert!(k.ends_with(b"c\0\0"));
        assert_eq!(v, NULL);
    }
}
