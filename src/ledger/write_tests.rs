//! Writes that change nothing: puts of the documents already stored commit nothing (as in
//! Fireproof); any change, however small or wherever in a large batch, commits.

use futures::executor::block_on;
use ipld_core::ipld::Ipld;

use crate::doc::{Body, WriteOp};
use crate::ledger::Ledger;
use crate::store::mem::MemStore;

fn doc(n: i64, tag: &str) -> Body {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    b.insert("tag".into(), Ipld::String(tag.into()));
    b
}

fn big(fill: u8) -> Body {
    let mut b = Body::new();
    b.insert("blob".into(), Ipld::Bytes(vec![fill; 5000])); // stored as its own block
    b
}

fn puts(n: i64, tag: &str) -> Vec<WriteOp> {
    (0..n)
        .map(|i| WriteOp::put(format!("d{i:05}"), &doc(i, tag)))
        .collect()
}

#[test]
fn puts_of_the_stored_documents_commit_nothing_and_any_change_commits() {
    let store = MemStore::new();
    let l = block_on(Ledger::open("t", store.clone(), None)).unwrap();
    // 3,000 documents: the batch spans many leaves
    let mut ops = puts(3000, "x");
    ops.push(WriteOp::put("big", &big(1)));
    let first = block_on(l.write(ops.clone())).unwrap();
    let cars = store.car_count();
    let same = block_on(l.write(ops.clone())).unwrap();
    assert_eq!(
        (same.head.clone(), same.seq),
        (first.head.clone(), first.seq)
    );
    assert_eq!(store.car_count(), cars, "nothing stored");
    let (rows, _) = block_on(l.changes(&first.head, None)).unwrap();
    assert!(rows.is_empty());
    // one document of the batch changed (in the middle, then the separately stored one), or
    // two documents' bodies swapped: a commit, and the new values are read back
    let mut one = ops.clone();
    one[1500] = WriteOp::put("d01500", &doc(1500, "y"));
    let c = block_on(l.write(one)).unwrap();
    assert_eq!(c.seq, first.seq + 1);
    assert_eq!(block_on(l.get("d01500")).unwrap(), doc(1500, "y"));
    let c2 = block_on(l.write(vec![WriteOp::put("big", &big(2))])).unwrap();
    assert_eq!(c2.seq, c.seq + 1);
    assert_eq!(block_on(l.get("big")).unwrap(), big(2));
    let swap = vec![
        WriteOp::put("d00001", &doc(2, "x")),
        WriteOp::put("d00002", &doc(1, "x")),
    ];
    let c3 = block_on(l.write(swap)).unwrap();
    assert_eq!(c3.seq, c2.seq + 1);
    assert_eq!(block_on(l.get("d00001")).unwrap(), doc(2, "x"));
    // a single unchanged put, and one written twice in a batch ending on the stored body
    let c4 = block_on(l.write(vec![WriteOp::put("d00007", &doc(7, "x"))])).unwrap();
    assert_eq!(c4.seq, c3.seq);
    let twice = vec![
        WriteOp::put("d00008", &doc(8, "changed")),
        WriteOp::put("d00008", &doc(8, "x")),
    ];
    assert_eq!(block_on(l.write(twice)).unwrap().seq, c3.seq);
    // a new document, a delete, or a put over a tombstone with the old body: commits
    let c5 = block_on(l.write(vec![
        WriteOp::put("d00007", &doc(7, "x")),
        WriteOp::put("new", &doc(0, "x")),
    ]))
    .unwrap();
    assert_eq!(c5.seq, c3.seq + 1);
    let c6 = block_on(l.write(vec![WriteOp::del("new")])).unwrap();
    assert_eq!(c6.seq, c5.seq + 1);
    let c7 = block_on(l.write(vec![WriteOp::put("new", &doc(0, "x"))])).unwrap();
    assert_eq!(c7.seq, c6.seq + 1);
    assert_eq!(block_on(l.get("new")).unwrap(), doc(0, "x"));
    // a reopened ledger agrees
    let again = block_on(Ledger::open("t", store, None)).unwrap();
    assert_eq!(again.snapshot().head, l.snapshot().head);
}

#[test]
fn ids_up_to_the_limit_mixed_with_short_ones_are_all_kept() {
    // ids longer than a branch node's MAX (768 bytes) made one single-entry branch per entry at
    // every level: the levels never ended (acknowledged writes lost, the ledger CORRUPT)
    let store = MemStore::new();
    let l = block_on(Ledger::open("t", store.clone(), None)).unwrap();
    let id = |i: i64| match i % 7 {
        0 => format!("{i:04}").repeat(256), // 1,024 bytes, the limit
        3 => format!("{i:04}") + &"i".repeat(756), // 760 bytes
        _ => format!("short{i}"),
    };
    for i in 0..200 {
        block_on(l.write(vec![WriteOp::put(id(i), &doc(i, "x"))])).unwrap();
    }
    let ops: Vec<WriteOp> = (200..400)
        .map(|i| WriteOp::put(id(i), &doc(i, "x")))
        .collect();
    block_on(l.write(ops)).unwrap();
    block_on(l.compact()).unwrap();
    let again = block_on(Ledger::open("t", store, None)).unwrap();
    for i in 0..400 {
        assert_eq!(
            block_on(again.get(&id(i))).unwrap(),
            doc(i, "x"),
            "document {i}"
        );
    }
}
