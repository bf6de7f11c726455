//! Native tests of archives: a round trip into a ledger under another key (documents, trees,
//! seq, count, index and changes equal), sealed archives, tampering and incomplete archives
//! (nothing written), a ledger with data left alone, and writes on top of an imported state.

use futures::executor::block_on;
use ipld_core::ipld::Ipld;

use crate::car::{read_car, write_car};
use crate::doc::{Body, WriteOp};
use crate::error::Error;
use crate::index::query::QueryOpts;
use crate::ledger::{AllDocsOpts, Ledger};
use crate::store::mem::MemStore;
use crate::store::Store;

fn body(n: i64, pad: usize) -> Body {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    b.insert("bucket".into(), Ipld::Integer((n % 7).into()));
    b.insert("text".into(), Ipld::String("x".repeat(pad)));
    b
}

fn open(store: &MemStore) -> Ledger<MemStore> {
    block_on(Ledger::open("t", store.clone(), None)).unwrap()
}

/// A ledger with 600 documents (some big enough for their own block), updates, deletes and a
/// field index.
fn source() -> (MemStore, Ledger<MemStore>) {
    let store = MemStore::new();
    let l = open(&store);
    for chunk in 0..6 {
        let ops = (0..100)
            .map(|i| {
                let n = chunk * 100 + i;
                WriteOp::put(
                    format!("d{n:04}"),
                    &body(n, if n % 50 == 0 { 3000 } else { 40 }),
                )
            })
            .collect();
        block_on(l.write(ops)).unwrap();
    }
    for n in (0..600).step_by(9) {
        let id = format!("d{n:04}");
        let op = match n % 2 {
            0 => WriteOp::put(id, &body(-n, 10)),
            _ => WriteOp::del(id),
        };
        block_on(l.write(vec![op])).unwrap();
    }
    block_on(l.index_query_field("bucket", &QueryOpts::default(), false)).unwrap();
    block_on(l.save_indexes()).unwrap();
    assert!(!l.snapshot().indexes.is_empty());
    (store, l)
}

fn all(l: &Ledger<MemStore>) -> Vec<(String, Option<Body>)> {
    let opts = AllDocsOpts {
        include_deleted: true,
        ..Default::default()
    };
    let (rows, _) = block_on(l.all_docs(&opts)).unwrap();
    rows.into_iter()
        .map(|r| (r.id, r.body.map(|b| b.body().unwrap())))
        .collect()
}

fn bucket_3(l: &Ledger<MemStore>) -> Vec<String> {
    let opts = QueryOpts {
        key: Some(Ipld::Integer(3)),
        ..Default::default()
    };
    let (hits, _) = block_on(l.index_query_field("bucket", &opts, false)).unwrap();
    hits.into_iter().map(|h| h.row.id).collect()
}

#[test]
fn a_plain_archive_starts_a_ledger_under_another_key_with_the_same_state() {
    let (_, src) = source();
    let bytes = block_on(src.export_archive(false, true)).unwrap();
    // standard CAR v1: the root is the archive block, every CID checks out
    let (roots, blocks) = read_car("t", &bytes).unwrap();
    assert_eq!(blocks[0].cid, roots[0]);
    let store = MemStore::new();
    let dst = open(&store);
    assert!(block_on(dst.import_archive(&bytes, &mut || {}, Box::pin(async {}))).unwrap());
    let (a, b) = (src.snapshot(), dst.snapshot());
    assert_eq!(
        (&a.head, a.docs, a.seq, a.count),
        (&b.head, b.docs, b.seq, b.count)
    );
    assert_eq!(a.indexes, b.indexes, "the index came along");
    assert_eq!(all(&dst), all(&src));
    assert_eq!(bucket_3(&dst), bucket_3(&src));
    let since = block_on(dst.changes(&[], None)).unwrap();
    assert_eq!(since.0.len(), all(&src).len());
    // a fresh handle reads it; writes commit on top; compaction keeps everything
    let dst = open(&store);
    assert_eq!(all(&dst), all(&src));
    block_on(dst.write(vec![WriteOp::put("new", &body(1, 1))])).unwrap();
    block_on(dst.compact()).unwrap();
    let dst = open(&store);
    assert_eq!(all(&dst).len(), all(&src).len() + 1);
    assert_eq!(dst.snapshot().seq, a.seq + 1);
    // importing again into a ledger with data changes nothing
    let before = dst.snapshot();
    assert!(!block_on(dst.import_archive(&bytes, &mut || {}, Box::pin(async {}))).unwrap());
    assert_eq!(dst.snapshot(), before);
}

#[test]
fn without_indexes_the_archive_is_smaller_and_queries_build_the_index() {
    let (_, src) = source();
    let with = block_on(src.export_archive(false, true)).unwrap();
    let without = block_on(src.export_archive(false, false)).unwrap();
    assert!(without.len() < with.len());
    let dst = open(&MemStore::new());
    assert!(block_on(dst.import_archive(&without, &mut || {}, Box::pin(async {}))).unwrap());
    assert!(dst.snapshot().indexes.is_empty());
    assert_eq!(bucket_3(&dst), bucket_3(&src));
}

#[test]
fn a_sealed_archive_opens_only_under_the_ledgers_key() {
    let (store, src) = source();
    let sealed = block_on(src.export_archive(true, true)).unwrap();
    assert!(
        read_car("t", &sealed).is_err(),
        "not readable as a plain CAR"
    );
    let same_key = MemStore::new();
    same_key.share_key_from(&store);
    let dst = open(&same_key);
    assert!(block_on(dst.import_archive(&sealed, &mut || {}, Box::pin(async {}))).unwrap());
    assert_eq!(all(&dst), all(&src));
    let other = MemStore::new();
    let dst = open(&other);
    let e = block_on(dst.import_archive(&sealed, &mut || {}, Box::pin(async {}))).unwrap_err();
    assert!(matches!(e, Error::Decrypt { .. }), "{e:?}");
    assert!(dst.snapshot().car.is_none() && block_on(other.list_cars(false)).unwrap().is_empty());
}

#[test]
fn a_damaged_or_incomplete_archive_writes_nothing() {
    let (_, src) = source();
    let bytes = block_on(src.export_archive(false, true)).unwrap();
    let (roots, blocks) = read_car("t", &bytes).unwrap();
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 5] {
        let mut b = bytes.clone();
        b[at] ^= 0x40;
        cases.push(b);
    }
    cases.push(bytes[..bytes.len() / 2].to_vec());
    cases.push(b"not a car at all".to_vec());
    for drop in [1, blocks.len() / 2, blocks.len() - 1] {
        let mut rest = blocks.clone();
        rest.remove(drop);
        cases.push(write_car(roots[0], &rest.iter().collect::<Vec<_>>()));
    }
    let mut no_root = blocks.clone();
    no_root.remove(0);
    cases.push(write_car(roots[0], &no_root.iter().collect::<Vec<_>>()));
    cases.push(write_car(
        blocks[1].cid,
        &blocks[1..].iter().collect::<Vec<_>>(),
    ));
    // a stored commit CAR is not an archive (its commit block has `v` and `head` too)
    let stored = src.snapshot().car.clone().unwrap();
    let sealed = block_on(src.store().read_car(&stored)).unwrap().unwrap();
    let (r, b) = block_on(crate::car::open_car(
        &*src.blocks().aead(),
        &crate::codec::parse_cid(&stored).unwrap(),
        &sealed,
    ))
    .unwrap();
    cases.push(write_car(r[0], &b.iter().collect::<Vec<_>>()));
    for (i, case) in cases.iter().enumerate() {
        let store = MemStore::new();
        let dst = open(&store);
        let e = block_on(dst.import_archive(case, &mut || {}, Box::pin(async {}))).unwrap_err();
        assert_eq!(e.code(), "CORRUPT", "case {i}: {e:?}");
        assert!(dst.snapshot().car.is_none(), "case {i}");
        assert!(
            block_on(store.list_cars(false)).unwrap().is_empty(),
            "case {i}"
        );
        assert!(block_on(store.load_header()).unwrap().is_none(), "case {i}");
        // never a document from an archive that was refused (a missing block is found after
        // the state became readable: the handle then stops with CORRUPT)
        assert!(block_on(dst.get("d0001")).is_err(), "case {i}");
    }
}

#[test]
fn an_empty_ledger_exports_an_archive_that_imports_as_nothing() {
    let src = open(&MemStore::new());
    let bytes = block_on(src.export_archive(false, true)).unwrap();
    let dst = open(&MemStore::new());
    assert!(!block_on(dst.import_archive(&bytes, &mut || {}, Box::pin(async {}))).unwrap());
    assert!(dst.snapshot().car.is_none());
}

#[test]
fn an_archive_is_readable_before_it_is_stored_and_a_failed_store_leaves_nothing() {
    let (_, src) = source();
    let bytes = block_on(src.export_archive(false, true)).unwrap();
    // readable: the state is the archive's while nothing is committed yet
    let store = MemStore::new();
    let dst = open(&store);
    let mut seen = None;
    assert!(block_on(dst.import_archive(
        &bytes,
        &mut || {
            seen = Some((dst.snapshot().seq, store.commits()));
        },
        Box::pin(async {})
    ))
    .unwrap());
    assert_eq!(seen, Some((src.snapshot().seq, 0)));
    assert_eq!(store.commits(), 1);
    // storing fails (quota): back to the empty state, the handle closed, nothing stored
    let store = MemStore::new();
    let dst = open(&store);
    store.set_quota(Some(1000));
    let mut readable = 0;
    let e = block_on(dst.import_archive(&bytes, &mut || readable += 1, Box::pin(async {})))
        .unwrap_err();
    assert_eq!((e.code(), readable), ("QUOTA", 1));
    assert_eq!(dst.snapshot().seq, 0, "the unstored state is gone");
    assert_eq!(
        block_on(dst.get("d0001")).unwrap_err().code(),
        "QUOTA",
        "nothing is committed on top of an archive that was not stored"
    );
    assert_eq!((store.commits(), store.car_count()), (0, 0));
    // a new handle starts from the archive again once there is room
    store.set_quota(None);
    let dst = open(&store);
    assert!(block_on(dst.import_archive(&bytes, &mut || {}, Box::pin(async {}))).unwrap());
    assert_eq!(all(&dst), all(&src));
}

#[test]
fn a_plain_archives_blocks_are_checked_before_any_read_hands_them_out() {
    use futures::FutureExt;
    let (_, src) = source();
    let bytes = block_on(src.export_archive(false, true)).unwrap();
    let (roots, mut blocks) = read_car("t", &bytes).unwrap();
    // d0001's leaf, changed where it still decodes: a `text` of "x…" becomes "y…"
    let leaf = blocks
        .iter()
        .position(|b| b.bytes.windows(5).any(|w| w == b"d0001"))
        .unwrap();
    let b = &mut blocks[leaf].bytes;
    let at = b.windows(5).position(|w| w == b"d0001").unwrap();
    let x = at + b[at..].windows(8).position(|w| w == b"xxxxxxxx").unwrap();
    b[x] = b'y';
    let tampered = write_car(roots[0], &blocks.iter().collect::<Vec<_>>());
    let store = MemStore::new();
    let dst = open(&store);
    let mut during = Vec::new();
    let e = block_on(dst.import_archive(
        &tampered,
        &mut || {
            // reads while the archive is readable and not yet stored: a good block answers, the
            // changed one is refused, never handed out
            for id in ["d0001", "d0302"] {
                let r = dst.get(id).now_or_never().expect("in memory");
                during.push(r.map(|_| true).map_err(|e| e.code()));
            }
        },
        Box::pin(async {}),
    ))
    .unwrap_err();
    assert_eq!(e.code(), "CORRUPT", "{e:?}");
    let d0302_same_leaf = blocks[leaf].bytes.windows(5).any(|w| w == b"d0302");
    assert_eq!(during[0], Err("CORRUPT"));
    assert_eq!(
        during[1],
        if d0302_same_leaf {
            Err("CORRUPT")
        } else {
            Ok(true)
        }
    );
    assert!(dst.snapshot().car.is_none());
    assert!(block_on(store.list_cars(false)).unwrap().is_empty());
    assert!(block_on(store.load_header()).unwrap().is_none());
}

#[test]
fn a_ledger_created_by_its_open_imports_without_a_header_read_and_loses_no_other_commit() {
    let (_, src) = source();
    let bytes = block_on(src.export_archive(false, true)).unwrap();
    let new_store = || {
        let store = MemStore::new();
        let key = crate::crypto::Key::generate().unwrap();
        let key = block_on(store.ensure_key(&key)).unwrap(); // as the browser's creating open does
        (store, key)
    };
    let (store, key) = new_store();
    let dst = block_on(Ledger::created("t", store.clone(), key)).unwrap();
    // the archive is readable before the commit lock is held (nothing to read under it); an
    // opened ledger takes the lock first, to read its header under it
    let locked = std::rc::Rc::new(std::cell::Cell::new(false));
    let mut when = None;
    let l = locked.clone();
    let lock = Box::pin(async move { l.set(true) });
    assert!(block_on(dst.import_archive(&bytes, &mut || when = Some(locked.get()), lock)).unwrap());
    assert_eq!(when, Some(false), "published before the lock");
    assert_eq!(
        all(&open(&store)),
        all(&src),
        "stored under the created key"
    );
    let (other, _) = new_store();
    let dst = open(&other);
    let (locked, mut when) = (std::rc::Rc::new(std::cell::Cell::new(false)), None);
    let l = locked.clone();
    let lock = Box::pin(async move { l.set(true) });
    assert!(block_on(dst.import_archive(&bytes, &mut || when = Some(locked.get()), lock)).unwrap());
    assert_eq!(when, Some(true), "published holding the lock");
    // another handle committed after the creation and before the import: the import's
    // compare-and-set sees it; that commit stays and is this handle's state
    let (store, key) = new_store();
    let dst = block_on(Ledger::created("t", store.clone(), key)).unwrap();
    block_on(open(&store).write(vec![WriteOp::put("mine", &body(1, 1))])).unwrap();
    assert!(!block_on(dst.import_archive(&bytes, &mut || {}, Box::pin(async {}))).unwrap());
    assert_eq!(all(&dst), all(&open(&store)));
    assert_eq!(all(&dst).len(), 1);
}
