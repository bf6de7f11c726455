//! Native tests of recovery from a lost header record: the state of the newest commit comes
//! back (documents, head, seq, count) whatever wrote it (bulks split over several CARs, single
//! puts, deletes, compaction, index commits); writes and compaction go on; unreadable CARs fail
//! the open with a code, and nothing is written or deleted.

use futures::executor::block_on;
use ipld_core::ipld::Ipld;

use crate::doc::{Body, WriteOp};
use crate::index::query::QueryOpts;
use crate::ledger::{AllDocsOpts, Ledger};
use crate::store::mem::MemStore;
use crate::store::Store;

fn body(n: i64) -> Body {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    b.insert("bucket".into(), Ipld::Integer((n % 7).into()));
    b.insert("pad".into(), Ipld::String("x".repeat(150)));
    b
}

fn open(store: &MemStore) -> Ledger<MemStore> {
    block_on(Ledger::open("t", store.clone(), None)).unwrap()
}

fn all(l: &Ledger<MemStore>) -> Vec<(String, Body)> {
    let (rows, _) = block_on(l.all_docs(&AllDocsOpts::default())).unwrap();
    rows.into_iter()
        .map(|r| (r.id, r.body.unwrap().body().unwrap()))
        .collect()
}

fn bucket(l: &Ledger<MemStore>, b: i64) -> usize {
    let opts = QueryOpts {
        key: Some(Ipld::Integer(b.into())),
        ..Default::default()
    };
    block_on(l.index_query_field("bucket", &opts, false))
        .unwrap()
        .0
        .len()
}

/// A ledger written every way a header can move: a large bulk (several CARs), single puts and
/// deletes, a compaction, an index commit, then more writes.
fn written() -> (MemStore, Ledger<MemStore>) {
    let store = MemStore::new();
    let l = open(&store);
    let bulk = (0..1200).map(|n| WriteOp::put(format!("d{n:05}"), &body(n)));
    block_on(l.write(bulk.collect())).unwrap();
    for n in (0..1200).step_by(37) {
        let op = match n % 2 {
            0 => WriteOp::put(format!("d{n:05}"), &body(-n)),
            _ => WriteOp::del(format!("d{n:05}")),
        };
        block_on(l.write(vec![op])).unwrap();
    }
    block_on(l.compact()).unwrap();
    assert!(bucket(&l, 3) > 0);
    block_on(l.save_indexes()).unwrap();
    for n in 0..5 {
        block_on(l.write(vec![WriteOp::put(format!("late{n}"), &body(n))])).unwrap();
    }
    (store, l)
}

#[test]
fn a_lost_header_is_rebuilt_from_the_newest_commit() {
    let (store, l) = written();
    let (docs, before) = (all(&l), l.snapshot());
    let in_bucket = bucket(&l, 3);
    l.close();
    let cars = store.car_count();
    store.drop_header();
    let r = open(&store);
    let s = r.snapshot();
    assert_eq!(
        (&s.head, s.docs, s.seq, s.count),
        (&before.head, before.docs, before.seq, before.count)
    );
    assert_eq!(all(&r), docs);
    assert_eq!(store.car_count(), cars, "recovery deletes nothing");
    let h = block_on(store.load_header())
        .unwrap()
        .expect("the rebuilt header is stored");
    assert_eq!(h.seq, before.seq);
    // the index is rebuilt by the next query
    assert_eq!(bucket(&r, 3), in_bucket);
    // writes go on, and compaction (due: every stored byte counts as garbage) keeps the data
    assert!(r.compaction_due(false));
    block_on(r.write(vec![WriteOp::put("after", &body(1))])).unwrap();
    block_on(r.compact()).unwrap();
    assert!(store.car_count() < cars);
    let mut want = docs.clone();
    want.push(("after".into(), body(1)));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    r.close();
    assert_eq!(all(&open(&store)), want);
}

#[test]
fn unreadable_cars_fail_the_open_with_a_code_and_nothing_is_written() {
    let (store, l) = written();
    let docs = all(&l);
    l.close();
    let damaged = store.deep_copy();
    damaged.drop_header();
    for name in block_on(damaged.list_cars(false)).unwrap() {
        damaged.tamper(&name, |b| b[40] ^= 1);
    }
    let cars = damaged.car_count();
    let e = block_on(Ledger::open("t", damaged.clone(), None))
        .err()
        .unwrap();
    assert_eq!(e.code(), "CORRUPT");
    assert!(block_on(damaged.load_header()).unwrap().is_none());
    assert_eq!(damaged.car_count(), cars);
    // a store whose header is there is opened as it is
    assert_eq!(all(&open(&store)), docs);
}
