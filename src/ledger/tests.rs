//! Native tests of the ledger against the memory store (the browser suite runs the same engine
//! against IndexedDB).

use std::collections::BTreeMap;

use futures::executor::block_on;
use ipld_core::ipld::Ipld;
use proptest::prelude::*;

use super::*;
use crate::doc::{Body, WriteOp};
use crate::store::mem::MemStore;

fn body(n: i64) -> Body {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    b.insert(
        "text".into(),
        Ipld::String(format!(
            "document number {n} with some padding text to look real"
        )),
    );
    b
}

fn raw(b: Body) -> crate::doc::RawDoc {
    crate::doc::RawDoc::from_body(&b).unwrap()
}

fn put(id: &str, n: i64) -> WriteOp {
    WriteOp::put(id, &body(n))
}

fn del(id: &str) -> WriteOp {
    WriteOp::del(id)
}

fn open(store: &MemStore) -> Ledger<MemStore> {
    block_on(Ledger::open("t", store.clone(), None)).unwrap()
}

fn ids(rows: &[DocRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn put_get_delete_and_not_found() {
    let l = open(&MemStore::new());
    assert_eq!(block_on(l.get("a")).unwrap_err().code(), "ENOENT");
    let c = block_on(l.write(vec![put("a", 1), put("b", 2)])).unwrap();
    assert_eq!(c.seq, 1);
    assert_eq!(block_on(l.get("a")).unwrap(), body(1));
    block_on(l.write(vec![del("a")])).unwrap();
    let e = block_on(l.get("a")).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string()),
        ("ENOENT", "not found: a".to_string())
    );
    let (rows, state) = block_on(l.all_docs(&AllDocsOpts::default())).unwrap();
    assert_eq!(ids(&rows), ["b"]);
    assert_eq!(state.count, 1);
    let all = AllDocsOpts {
        include_deleted: true,
        ..Default::default()
    };
    let (rows, _) = block_on(l.all_docs(&all)).unwrap();
    assert_eq!(
        rows[0],
        DocRow {
            id: "a".into(),
            body: None
        }
    );
}

#[test]
fn reopen_sees_committed_data_and_large_docs() {
    let store = MemStore::new();
    let l = open(&store);
    let mut big = Body::new();
    big.insert("blob".into(), Ipld::Bytes(vec![7; 5000]));
    block_on(l.write(vec![put("x", 1), WriteOp::put("big", &big)])).unwrap();
    let l2 = open(&store);
    assert_eq!(block_on(l2.get("x")).unwrap(), body(1));
    assert_eq!(block_on(l2.get("big")).unwrap(), big);
    assert_eq!(l2.snapshot().head, l.snapshot().head);
}

#[test]
fn all_docs_leaves_out_documents_with_a_deleted_true_field_unless_asked() {
    let l = open(&MemStore::new());
    let flagged = |extra: Option<Ipld>| {
        let mut b = Body::new();
        b.insert("_deleted".into(), Ipld::Bool(true));
        if let Some(x) = extra {
            b.insert("blob".into(), x); // a large document: a separate block
        }
        b
    };
    let mut not_true = Body::new();
    not_true.insert("_deleted".into(), Ipld::String("true".into()));
    let mut nested = Body::new();
    nested.insert("m".into(), Ipld::Map(flagged(None).into_iter().collect()));
    block_on(l.write(vec![
        WriteOp::put("0a", &flagged(None)),
        WriteOp::put("0b", &flagged(Some(Ipld::Bytes(vec![1; 5000])))),
        put("1", 1),
        WriteOp::put("2", &not_true),
        WriteOp::put("3", &nested),
        put("4", 4),
    ]))
    .unwrap();
    let opts = |limit, include_deleted, keys: Option<&[&str]>| AllDocsOpts {
        limit,
        include_deleted,
        keys: keys.map(|k| k.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    let run = |o: AllDocsOpts| {
        let (rows, _) = block_on(l.all_docs(&o)).unwrap();
        ids(&rows).iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(run(opts(None, false, None)), ["1", "2", "3", "4"]);
    assert_eq!(
        run(opts(Some(2), false, None)),
        ["1", "2"],
        "limit counts listed ones"
    );
    assert_eq!(run(opts(Some(2), true, None)), ["0a", "0b"]);
    assert_eq!(run(opts(None, false, Some(&["0b", "4", "0a"]))), ["4"]);
    assert_eq!(run(opts(None, true, Some(&["0b", "4"]))), ["0b", "4"]);
    // get still returns them: the field is an ordinary field
    assert_eq!(block_on(l.get("0a")).unwrap(), flagged(None));
}

#[test]
fn open_reads_no_car_and_get_reads_few_after_1000_commits() {
    let store = MemStore::new();
    let l = open(&store);
    for i in 0..1000 {
        block_on(l.write(vec![put(&format!("doc{i:04}"), i)])).unwrap();
    }
    assert_eq!(store.car_count(), 1000);
    let before = store.car_reads();
    let l2 = open(&store);
    assert_eq!(store.car_reads(), before, "opening reads no CAR");
    assert_eq!(block_on(l2.get("doc0007")).unwrap(), body(7));
    let reads = store.car_reads() - before;
    // one CAR per tree level (3 at fanout 16) plus the newest CAR, tried first
    assert!(reads <= 4, "a get after 1000 commits read {reads} CARs");
    assert_eq!(l2.stats().car_reads, reads);
}

#[test]
fn two_writers_on_one_store_lose_nothing() {
    let store = MemStore::new();
    let a = open(&store);
    let b = open(&store);
    block_on(a.write(vec![put("from-a", 1)])).unwrap();
    // b still holds the empty state: its commit conflicts, catches up and re-applies
    block_on(b.write(vec![put("from-b", 2)])).unwrap();
    block_on(a.write(vec![put("from-a2", 3)])).unwrap();
    let c = open(&store);
    let (rows, state) = block_on(c.all_docs(&AllDocsOpts::default())).unwrap();
    assert_eq!(ids(&rows), ["from-a", "from-a2", "from-b"]);
    assert_eq!(state.seq, 3);
    assert!(block_on(b.refresh()).unwrap());
    assert_eq!(b.snapshot().head, state.head);
}

#[test]
fn same_tick_writes_in_one_call_are_one_commit() {
    let store = MemStore::new();
    let l = open(&store);
    let ops: Vec<WriteOp> = (0..400).map(|i| put(&format!("k{i}"), i)).collect();
    block_on(l.write(ops)).unwrap();
    assert_eq!(store.commits(), 1);
    assert_eq!(store.car_count(), 1);
    assert_eq!(l.snapshot().count, 400);
}

#[test]
fn tampered_car_is_corrupt_and_wrong_key_is_decrypt_and_nothing_is_poisoned() {
    let store = MemStore::new();
    let l = open(&store);
    block_on(l.write(vec![put("a", 1)])).unwrap();
    let car = l.snapshot().car.clone().unwrap();
    store.tamper(&car, |b| b[30] ^= 1);
    let fresh = open(&store);
    let e = block_on(fresh.get("a")).unwrap_err();
    assert_eq!(e.code(), "CORRUPT");
    assert!(e.to_string().contains(&car), "{e}");
    store.tamper(&car, |b| b[30] ^= 1);
    assert_eq!(
        block_on(fresh.get("a")).unwrap(),
        body(1),
        "the ledger recovers once the bytes are right"
    );

    let wrong = block_on(Ledger::open(
        "t",
        store.clone(),
        Some(Key::generate().unwrap()),
    ))
    .unwrap();
    assert_eq!(block_on(wrong.get("a")).unwrap_err().code(), "DECRYPT");
    assert_eq!(
        block_on(wrong.write(vec![put("b", 2)])).unwrap_err().code(),
        "DECRYPT"
    );
    assert_eq!(block_on(l.get("a")).unwrap(), body(1));
}

#[test]
fn closed_ledger_rejects_everything() {
    let l = open(&MemStore::new());
    l.close();
    assert_eq!(block_on(l.get("a")).unwrap_err().code(), "CLOSED");
    assert_eq!(
        block_on(l.write(vec![put("a", 1)])).unwrap_err().code(),
        "CLOSED"
    );
    assert_eq!(
        block_on(l.all_docs(&AllDocsOpts::default()))
            .unwrap_err()
            .code(),
        "CLOSED"
    );
    assert_eq!(block_on(l.changes(&[], None)).unwrap_err().code(), "CLOSED");
    assert_eq!(block_on(l.compact()).unwrap_err().code(), "CLOSED");
}

#[test]
fn quota_error_loses_nothing() {
    let store = MemStore::new();
    let l = open(&store);
    block_on(l.write(vec![put("a", 1)])).unwrap();
    let head = l.snapshot();
    store.set_quota(Some(store.stored_bytes() + 100));
    let e = block_on(l.write(vec![put("b", 2)])).unwrap_err();
    assert_eq!(e.code(), "QUOTA");
    assert_eq!(l.snapshot(), head);
    assert_eq!(block_on(l.get("b")).unwrap_err().code(), "ENOENT");
    store.set_quota(None);
    block_on(l.write(vec![put("b", 2)])).unwrap();
    assert_eq!(block_on(open(&store).get("a")).unwrap(), body(1));
}

#[test]
fn changes_since_clock_and_limit() {
    let l = open(&MemStore::new());
    block_on(l.write(vec![put("a", 1), put("b", 1)])).unwrap();
    let c1 = block_on(l.write(vec![put("c", 1)])).unwrap();
    block_on(l.write(vec![put("a", 2)])).unwrap();
    block_on(l.write(vec![del("b")])).unwrap();
    let (rows, _) = block_on(l.changes(&[], None)).unwrap();
    assert_eq!(ids(&rows), ["c", "a", "b"]);
    assert_eq!(rows[2].body, None);
    let (rows, state) = block_on(l.changes(&c1.head, None)).unwrap();
    assert_eq!(ids(&rows), ["a", "b"]);
    assert_eq!(state.seq, 4);
    let (rows, _) = block_on(l.changes(&[], Some(2))).unwrap();
    assert_eq!(
        ids(&rows),
        ["a", "b"],
        "limit keeps the most recent changes, oldest first"
    );
    let (rows, _) = block_on(l.changes(&state.head, None)).unwrap();
    assert!(rows.is_empty());
}

#[test]
fn snapshot_read_does_not_see_a_later_write() {
    let l = open(&MemStore::new());
    block_on(l.write(vec![put("a", 1)])).unwrap();
    let snap = l.snapshot();
    block_on(l.write(vec![put("a", 2), put("b", 1)])).unwrap();
    assert_eq!(block_on(l.get_in(&snap, "a")).unwrap().unwrap(), body(1));
    assert_eq!(block_on(l.get_in(&snap, "b")).unwrap(), None);
    assert_eq!(block_on(l.changes_in(&snap, 0, None)).unwrap().0.len(), 1);
}

#[test]
fn compaction_keeps_documents_head_and_history() {
    let store = MemStore::new();
    let l = open(&store);
    for i in 0..60 {
        block_on(l.write(vec![put(&format!("d{}", i % 20), i)])).unwrap();
    }
    let c30 = l.snapshot();
    block_on(l.write(vec![del("d3")])).unwrap();
    let before = l.snapshot();
    let (docs_before, _) = block_on(l.all_docs(&AllDocsOpts {
        include_deleted: true,
        ..Default::default()
    }))
    .unwrap();
    let bytes_before = store.stored_bytes();
    block_on(l.compact()).unwrap();
    assert_eq!(store.car_count(), 1);
    assert!(
        store.stored_bytes() < bytes_before / 4,
        "{} vs {}",
        store.stored_bytes(),
        bytes_before
    );
    let after = l.snapshot();
    assert_eq!(
        (after.head.clone(), after.docs, after.seq),
        (before.head.clone(), before.docs, before.seq)
    );
    let reopened = open(&store);
    let (docs_after, _) = block_on(reopened.all_docs(&AllDocsOpts {
        include_deleted: true,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(docs_after, docs_before);
    let (since, _) = block_on(reopened.changes(&c30.head, None)).unwrap();
    assert_eq!(ids(&since), ["d3"], "history events survive compaction");
    block_on(reopened.write(vec![put("after", 1)])).unwrap();
    assert_eq!(block_on(open(&store).get("after")).unwrap(), body(1));
}

#[test]
fn two_branches_merge_to_the_same_head_on_both_sides() {
    let a_store = MemStore::new();
    let a = open(&a_store);
    block_on(a.write(vec![put("shared", 0), put("x", 0)])).unwrap();
    // replica b starts from a copy of a
    let b_store = MemStore::new();
    b_store.share_key_from(&a_store);
    b_store.import_cars_from(&a_store);
    let b = open(&b_store);
    block_on(b.merge_heads(&a.snapshot().head)).unwrap();
    assert_eq!(b.snapshot().docs, a.snapshot().docs);
    // concurrent branches
    block_on(a.write(vec![put("only-a", 1), put("x", 1)])).unwrap();
    block_on(a.write(vec![del("shared")])).unwrap();
    block_on(b.write(vec![put("only-b", 2), put("x", 2)])).unwrap();
    let (ha, hb) = (a.snapshot().head.clone(), b.snapshot().head.clone());
    a_store.import_cars_from(&b_store);
    b_store.import_cars_from(&a_store);
    block_on(a.merge_heads(&hb)).unwrap();
    block_on(b.merge_heads(&ha)).unwrap();
    let (sa, sb) = (a.snapshot(), b.snapshot());
    assert_eq!(
        sa.head, sb.head,
        "both replicas compute the same merge event"
    );
    assert_eq!((sa.docs, sa.count), (sb.docs, sb.count));
    let (rows, _) = block_on(a.all_docs(&AllDocsOpts::default())).unwrap();
    assert_eq!(ids(&rows), ["only-a", "only-b", "x"]);
}

#[derive(Clone, Debug)]
enum Op {
    Put(u8, i64),
    Del(u8),
    Commit,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..40, 0i64..100).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0u8..40).prop_map(Op::Del),
        2 => Just(Op::Commit),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// put/del/get/allDocs/changes agree with a BTreeMap model (id → (last seq, value)); within
    /// one commit, changes come in write order (`order`: id → place of its last write).
    #[test]
    fn ledger_matches_model(ops in prop::collection::vec(op(), 1..60), limit in 1usize..10) {
        let store = MemStore::new();
        let mut l = open(&store);
        let mut model: BTreeMap<String, (u64, Option<i64>)> = BTreeMap::new();
        let mut pending: Vec<WriteOp> = Vec::new();
        let mut seq = 0u64;
        // (a batch of puts that each write the stored document commits nothing)
        let mut order: BTreeMap<String, usize> = BTreeMap::new();
        let flush = |l: &Ledger<MemStore>, pending: &mut Vec<WriteOp>, pm: &mut Vec<(String, Option<i64>, usize)>,
                     model: &mut BTreeMap<String, (u64, Option<i64>)>, order: &mut BTreeMap<String, usize>, seq: &mut u64| {
            if pending.is_empty() { return; }
            let last: BTreeMap<&String, Option<i64>> = pm.iter().map(|(k, v, _)| (k, *v)).collect();
            let unchanged = last.iter().all(|(k, v)| v.is_some() && model.get(*k).is_some_and(|(_, m)| m == v));
            let c = block_on(l.write(std::mem::take(pending))).unwrap();
            if unchanged {
                assert_eq!(c.seq, *seq, "an unchanged batch committed");
                pm.clear();
                return;
            }
            *seq += 1;
            for (k, v, w) in pm.drain(..) { order.insert(k.clone(), w); model.insert(k, (*seq, v)); }
        };
        let mut pending_model: Vec<(String, Option<i64>, usize)> = Vec::new();
        let mut writes = 0usize;
        for o in ops {
            match o {
                Op::Put(k, v) => { let id = format!("id{k}"); writes += 1; pending.push(put(&id, v)); pending_model.push((id, Some(v), writes)); }
                Op::Del(k) => { let id = format!("id{k}"); writes += 1; pending.push(del(&id)); pending_model.push((id, None, writes)); }
                Op::Commit => flush(&l, &mut pending, &mut pending_model, &mut model, &mut order, &mut seq),
                Op::Reopen => { flush(&l, &mut pending, &mut pending_model, &mut model, &mut order, &mut seq); l = open(&store); }
            }
        }
        flush(&l, &mut pending, &mut pending_model, &mut model, &mut order, &mut seq);
        for k in 0u8..40 {
            let id = format!("id{k}");
            let want = model.get(&id).and_then(|(_, v)| *v).map(body);
            // absent (never written or deleted): ENOENT, not any error
            let got = block_on(l.get(&id)).map_err(|e| e.code());
            prop_assert_eq!(got, want.map(raw).ok_or("ENOENT"));
        }
        let (rows, state) = block_on(l.all_docs(&AllDocsOpts::default())).unwrap();
        let want: Vec<DocRow> = model.iter().filter_map(|(k, (_, v))| v.map(|v| DocRow { id: k.clone(), body: Some(raw(body(v))) })).collect();
        prop_assert_eq!(&rows, &want);
        prop_assert_eq!(state.count as usize, want.len());
        let (desc, _) = block_on(l.all_docs(&AllDocsOpts { descending: true, limit: Some(limit), include_deleted: true, ..Default::default() })).unwrap();
        let (none, _) = block_on(l.all_docs(&AllDocsOpts { limit: Some(0), ..Default::default() })).unwrap();
        prop_assert!(none.is_empty());
        let want_desc: Vec<String> = model.keys().rev().take(limit).cloned().collect();
        prop_assert_eq!(desc.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), want_desc);
        let mut by_seq: Vec<(u64, usize, String, Option<i64>)> = model.iter().map(|(k, (s, v))| (*s, order[k], k.clone(), *v)).collect();
        by_seq.sort();
        let (changes, _) = block_on(l.changes(&[], None)).unwrap();
        let want_changes: Vec<DocRow> = by_seq.iter().map(|(_, _, k, v)| DocRow { id: k.clone(), body: v.map(|v| raw(body(v))) }).collect();
        prop_assert_eq!(&changes, &want_changes);
        let (recent, _) = block_on(l.changes(&[], Some(limit))).unwrap();
        let skip = want_changes.len().saturating_sub(limit);
        prop_assert_eq!(&recent[..], &want_changes[skip..]);
        // after every seq: exactly the ids whose last write came later, oldest first
        for after in 0..=seq {
            let got = block_on(l.changes_in(&state, after, None)).unwrap().0;
            let want: Vec<DocRow> = by_seq.iter().filter(|(s, _, _, _)| *s > after)
                .map(|(_, _, k, v)| DocRow { id: k.clone(), body: v.map(|v| raw(body(v))) }).collect();
            prop_assert_eq!(&got, &want);
            let newest = block_on(l.changes_in(&state, after, Some(limit))).unwrap().0;
            prop_assert_eq!(&newest[..], &want[want.len().saturating_sub(limit)..]);
        }
    }
}

#[test]
fn reader_in_another_tab_survives_compaction() {
    // Regression: a tab whose newest-CAR hint names a CAR that another tab's compaction deleted
    // must locate blocks in the new CARs instead of failing.
    let store = MemStore::new();
    let a = open(&store);
    for i in 0..20 {
        block_on(a.write(vec![put(&format!("d{i}"), i)])).unwrap();
    }
    let b = open(&store);
    block_on(a.compact()).unwrap();
    assert_eq!(block_on(b.get("d3")).unwrap(), body(3));
    block_on(b.write(vec![put("from-b", 1)])).unwrap();
    assert_eq!(block_on(a.get("from-b")).unwrap_err().code(), "ENOENT");
    assert!(block_on(a.refresh()).unwrap());
    assert_eq!(block_on(a.get("from-b")).unwrap(), body(1));
}

/// A cold query with its documents, `allDocs` by keys and `changes` read the documents of many
/// CARs in batches: one location lookup per tree level, not one per document.
#[test]
fn cold_reads_of_many_documents_locate_in_batches() {
    use crate::index::query::QueryOpts;
    let store = MemStore::new();
    let l = block_on(Ledger::open("t", store.clone(), None)).unwrap();
    // 30 commits of 20 documents each, ids spread over the key space: leaves in many CARs
    for c in 0..30u64 {
        let ops = (0..20u64)
            .map(|i| {
                let n = c * 20 + i;
                let mut b = Body::new();
                b.insert("n".into(), Ipld::Integer(n.into()));
                b.insert("even".into(), Ipld::Bool(n % 2 == 0));
                WriteOp::put(
                    format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    &b,
                )
            })
            .collect();
        block_on(l.write(ops)).unwrap();
    }
    let even = QueryOpts {
        key: Some(Ipld::Bool(true)),
        ..Default::default()
    };
    let (warm, _) = block_on(l.index_query_field("even", &even, true)).unwrap();
    block_on(l.save_indexes()).unwrap();
    let l = block_on(Ledger::open("t", store.clone(), None)).unwrap();
    let before = store.locates();
    let (hits, _) = block_on(l.index_query_field("even", &even, true)).unwrap();
    assert_eq!(hits.len(), 300);
    assert_eq!(hits, warm, "the same rows and documents");
    let locates = store.locates() - before;
    assert!(
        locates <= 8,
        "{locates} location lookups for 300 documents in 30 CARs"
    );
    let l = block_on(Ledger::open("t", store.clone(), None)).unwrap();
    let before = store.locates();
    let (rows, _) = block_on(l.changes(&[], None)).unwrap();
    assert_eq!(rows.len(), 600);
    assert!(rows.iter().all(|r| r.body.is_some()));
    assert!(store.locates() - before <= 8);
}

#[test]
fn a_large_commit_is_split_into_bounded_cars_and_stays_whole() {
    use crate::sync::mem::MemRemote;
    use crate::sync::Replica;
    let store = MemStore::new();
    let l = open(&store);
    block_on(l.write(vec![put("small", 1)])).unwrap();
    assert_eq!(store.car_count(), 1, "a small commit is one CAR");
    let ops: Vec<WriteOp> = (0..6000i64)
        .map(|i| put(&format!("{:08x}", i as u64 * 2_654_435_761 % (1 << 32)), i))
        .collect();
    block_on(l.write(ops)).unwrap();
    let cars = store.car_count() - 1;
    assert!(cars >= 5, "a ~1 MB commit is {cars} CARs");
    // framing and seal are within the budget: each record (with its CID list) stays < 64 KiB
    assert!(
        store.largest_car() <= super::compact::COMPACT_CAR_BYTES,
        "largest CAR {} bytes",
        store.largest_car()
    );
    // a cold read of one document opens a few bounded CARs, and everything is there
    let l2 = open(&store);
    let before = store.car_reads();
    assert_eq!(block_on(l2.get("00000000")).unwrap(), body(0));
    assert!(
        store.car_reads() - before <= 4,
        "{} CAR reads",
        store.car_reads() - before
    );
    let (rows, _) = block_on(l2.all_docs(&AllDocsOpts::default())).unwrap();
    assert_eq!(rows.len(), 6001);
    let (changes, _) = block_on(l2.changes(&[], None)).unwrap();
    assert_eq!(changes.len(), 6001);
    // synced: every CAR of the commit reaches the remote and a fresh replica
    let remote = MemRemote::new();
    let replica = |l| Replica {
        ledger: l,
        remote: remote.clone(),
        id: "r".into(),
    };
    block_on(replica(&l2).sync()).unwrap();
    let other = MemStore::new();
    other.share_key_from(&store);
    let l3 = open(&other);
    block_on(replica(&l3).sync()).unwrap();
    let (rows, _) = block_on(l3.all_docs(&AllDocsOpts::default())).unwrap();
    assert_eq!(rows.len(), 6001);
    // and compaction keeps it whole
    block_on(l2.compact()).unwrap();
    let (rows, _) = block_on(open(&store).all_docs(&AllDocsOpts::default())).unwrap();
    assert_eq!(rows.len(), 6001);
}

/// docs/format.md §11: the first commit of `[["doc1",{"n":1}]]` (everything but the CAR name,
/// which the random IV changes).
#[test]
fn format_md_first_commit_example() {
    let store = MemStore::new();
    let l = open(&store);
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(1));
    let op = WriteOp::put("doc1", &b);
    let c = block_on(l.write(vec![op])).unwrap();
    let s = l.snapshot();
    let docs = s.docs.unwrap();
    let node = crate::prolly::Node::decode(&block_on(l.blocks.block(&docs)).unwrap()).unwrap();
    assert_eq!(node.entries.len(), 1);
    assert_eq!(
        node.entries[0].1,
        b"\xa2\x63doc\xa1\x61n\x01\x63seq\x01".to_vec()
    );
    let event = block_on(l.blocks.block(&c.head[0])).unwrap();
    let mut want_event = b"\xa2\x64data\xa3\x63seq\x01\x64root\xd8\x2a\x58\x25\x00".to_vec();
    want_event.extend(crate::codec::cid_bytes(&docs));
    want_event.extend(b"\x65count\x01\x67parents\x80");
    assert_eq!(event.to_vec(), want_event);
    assert_eq!(
        (docs.to_string(), c.head[0].to_string()),
        (
            "bafyreiepjymwzv75fvdsfukuc53dfpoxpx3tgcb44fluhsshrmfad5r4fa".to_string(),
            "bafyreifbfoztfctgeebwh37kolkcmcv5oixmykigzdy7avvydtnbcaer2y".to_string()
        )
    );
    // the commit block is the CAR's root and first block
    let name = s.car.as_deref().unwrap();
    let car = block_on(store.read_car(name)).unwrap().unwrap();
    let name = crate::codec::parse_cid(name).unwrap();
    let (roots, blocks) =
        block_on(crate::car::open_stored_car(&*l.blocks.aead(), &name, &car)).unwrap();
    let commit = &blocks[0];
    assert_eq!(roots, vec![commit.cid]);
    let order: Vec<Cid> = blocks.iter().map(|b| b.cid).collect();
    assert_eq!(order, vec![commit.cid, c.head[0], docs]);
    assert_eq!(commit.bytes.len(), 57);
    assert_eq!(
        commit.cid.to_string(),
        "bafyreignqvjyyfhlcz3iv55ouessthxplrtu4bcswie6d2fvy5jwrste7y"
    );
}

/// `changes` with a limit opens the subtrees with the newest seqs first and stops when the rest
/// are older: the 3 newest changes of 2,000 commits read a few CARs, not the ledger.
#[test]
fn the_newest_changes_read_few_cars() {
    let store = MemStore::new();
    let l = open(&store);
    for i in 0..2000 {
        block_on(l.write(vec![put(&format!("doc{:04}", (i * 7919) % 2000), i)])).unwrap();
    }
    block_on(l.write(vec![put("doc0001", -1), put("doc1999", -2)])).unwrap();
    let cold = open(&store);
    let before = store.car_reads();
    let (rows, _) = block_on(cold.changes(&[], Some(3))).unwrap();
    let got: Vec<(String, Option<crate::doc::RawDoc>)> =
        rows.into_iter().map(|r| (r.id, r.body)).collect();
    let last = format!("doc{:04}", (1999 * 7919) % 2000);
    assert_eq!(
        got,
        vec![
            (last, Some(raw(body(1999)))),
            ("doc0001".to_string(), Some(raw(body(-1)))),
            ("doc1999".to_string(), Some(raw(body(-2)))),
        ]
    );
    let reads = store.car_reads() - before;
    assert!(reads <= 12, "3 newest changes of 2,000 read {reads} CARs");
    let before = store.car_reads();
    let (all, _) = block_on(cold.changes(&[], None)).unwrap();
    assert_eq!(all.len(), 2000);
    assert!(
        store.car_reads() - before > 100,
        "the full feed reads the ledger"
    );
}

/// One commit's documents come in write order in `changes` (a document written twice takes the
/// place of its last write); a batch in id order stores no `pos` (docs/format.md §2.4).
#[test]
fn changes_list_one_commit_in_write_order() {
    let store = MemStore::new();
    let l = open(&store);
    block_on(l.write(vec![put("a", 1), put("b", 2), put("c", 3)])).unwrap();
    let leaf = |id: &str| {
        let s = l.snapshot();
        let raw = block_on(crate::prolly::get(&l.blocks, s.docs, id.as_bytes()))
            .unwrap()
            .unwrap();
        (crate::doc::LeafMeta::read(&raw).unwrap().pos, raw)
    };
    assert!(!leaf("b").1.windows(4).any(|w| w == b"\x63pos"));
    block_on(l.write(vec![put("z", 1), put("y", 2), put("z", 3), del("a")])).unwrap();
    let (rows, _) = block_on(l.changes(&[], None)).unwrap();
    assert_eq!(ids(&rows), ["b", "c", "y", "z", "a"]);
    assert_eq!((leaf("y").0, leaf("z").0, leaf("a").0), (1, 2, 3));
    let (newest, _) = block_on(l.changes(&[], Some(2))).unwrap();
    assert_eq!(ids(&newest), ["z", "a"]);
}

/// A lowest branch is stored with its leaves (docs/format.md §6, §6.1): a cold `get` opens the
/// header's CAR and mostly one more, after a large commit's split and after compaction. Long ids
/// make the branches of 4,000 documents span several CARs.
#[test]
fn a_cold_get_finds_the_lowest_branch_and_its_leaf_in_one_car() {
    let store = MemStore::new();
    let l = open(&store);
    let id = |i: u64| format!("{}{:08x}", "k".repeat(60), i * 2_654_435_761 % (1 << 32));
    let ops: Vec<WriteOp> = (0..4000u64).map(|i| put(&id(i), i as i64)).collect();
    block_on(l.write(ops)).unwrap();
    let cold_reads = || {
        let mut reads = Vec::new();
        for i in (0..4000).step_by(97) {
            let cold = open(&store);
            let before = store.car_reads();
            assert_eq!(block_on(cold.get(&id(i))).unwrap(), body(i as i64));
            reads.push(store.car_reads() - before);
        }
        reads
    };
    for (when, reads) in [
        ("split", cold_reads()),
        ("compacted", {
            block_on(l.compact()).unwrap();
            cold_reads()
        }),
    ] {
        let total: u64 = reads.iter().sum();
        assert!(
            total * 10 <= reads.len() as u64 * 25 && reads.iter().all(|&r| r <= 4),
            "{when}: CAR reads per cold get {reads:?}"
        );
    }
}
