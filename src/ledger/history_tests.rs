//! Native tests of views and rollback against a plain model: random writes, random clocks,
//! `view(clock)` reads (get, allDocs, changes, a field query) equal the model's state then; a
//! rollback commits exactly that state; compaction turns old clocks into `HISTORY_GONE`.

use std::collections::BTreeMap;

use cid::Cid;
use futures::executor::block_on;
use ipld_core::ipld::Ipld;
use proptest::prelude::*;

use crate::doc::{Body, WriteOp};
use crate::index::query::QueryOpts;
use crate::ledger::{AllDocsOpts, Ledger};
use crate::store::mem::MemStore;

/// id → n (live documents only).
type Model = BTreeMap<String, i64>;

fn body(n: i64) -> Body {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    b.insert("odd".into(), Ipld::Bool(n % 2 != 0));
    b
}

fn n_of(b: &Body) -> i64 {
    match b.get("n") {
        Some(Ipld::Integer(n)) => *n as i64,
        other => panic!("bad body {other:?}"),
    }
}

#[derive(Clone, Debug)]
enum Op {
    Put(u8, i64),
    Del(u8),
    Bulk(u8, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..12u8, 0..100i64).prop_map(|(k, v)| Op::Put(k, v)),
        1 => (0..12u8).prop_map(Op::Del),
        1 => (1..12u8, 0..100i64).prop_map(|(k, v)| Op::Bulk(k, v)),
    ]
}

fn apply(l: &Ledger<MemStore>, model: &mut Model, op: &Op) -> Vec<Cid> {
    let ops: Vec<WriteOp> = match op {
        Op::Put(k, v) => vec![WriteOp::put(format!("k{k}"), &body(*v))],
        Op::Del(k) => vec![WriteOp::del(format!("k{k}"))],
        Op::Bulk(k, v) => (0..*k)
            .map(|i| WriteOp::put(format!("k{i}"), &body(v + i64::from(i))))
            .collect(),
    };
    for o in &ops {
        match &o.body {
            Some(b) => model.insert(o.id.clone(), n_of(&b.body().unwrap())),
            None => model.remove(&o.id),
        };
    }
    block_on(l.write(ops)).unwrap().head
}

/// What the view at `clock` holds, read every way, as the model's shape.
fn read_view(l: &Ledger<MemStore>, clock: &[Cid]) -> Model {
    let view = block_on(l.view(clock)).unwrap();
    let (rows, _) = block_on(l.all_docs_in(view.clone(), &AllDocsOpts::default())).unwrap();
    let docs: Model = rows
        .into_iter()
        .map(|r| (r.id, n_of(&r.body.unwrap().body().unwrap())))
        .collect();
    for k in 0..12 {
        let id = format!("k{k}");
        let got = block_on(l.get_in(&view, &id)).unwrap();
        assert_eq!(
            got.map(|d| n_of(&d.body().unwrap())),
            docs.get(&id).copied()
        );
    }
    let (changes, _) = block_on(l.changes_at(view.clone(), &[], None)).unwrap();
    let live: Model = changes
        .into_iter()
        .filter_map(|r| r.body.map(|b| (r.id, n_of(&b.body().unwrap()))))
        .collect();
    assert_eq!(live, docs, "changes agree with allDocs");
    let odd = QueryOpts {
        key: Some(Ipld::Bool(true)),
        ..Default::default()
    };
    let (hits, _) = block_on(l.index_query_field_on("odd", &odd, false, Some(view))).unwrap();
    let want: Vec<&String> = docs
        .iter()
        .filter(|(_, n)| *n % 2 != 0)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(hits.iter().map(|h| &h.row.id).collect::<Vec<_>>(), want);
    docs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn views_and_rollbacks_match_the_model(ops in proptest::collection::vec(op(), 1..30), picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..6)) {
        let l = block_on(Ledger::open("t", MemStore::new(), None)).unwrap();
        let mut model = Model::new();
        let mut history: Vec<(Vec<Cid>, Model)> = vec![(vec![], Model::new())];
        for o in &ops {
            let clock = apply(&l, &mut model, o);
            history.push((clock, model.clone()));
        }
        // the current index must not see the views' documents
        let odd = QueryOpts { key: Some(Ipld::Bool(true)), ..Default::default() };
        block_on(l.index_query_field("odd", &odd, false)).unwrap();
        for p in &picks {
            let (clock, then) = &history[p.index(history.len())];
            prop_assert_eq!(&read_view(&l, clock), then);
        }
        let (hits, _) = block_on(l.index_query_field("odd", &odd, false)).unwrap();
        let want: Vec<&String> = model.iter().filter(|(_, n)| *n % 2 != 0).map(|(k, _)| k).collect();
        prop_assert_eq!(hits.iter().map(|h| &h.row.id).collect::<Vec<_>>(), want);
        // roll back to a random clock: one commit, the documents then
        let (clock, then) = &history[picks[0].index(history.len())];
        let before = l.snapshot().seq;
        let done = block_on(l.rollback(clock)).unwrap();
        let now = read_view(&l, &done.head);
        prop_assert_eq!(&now, then);
        prop_assert!(done.seq <= before + 1);
        let (rows, _) = block_on(l.all_docs(&AllDocsOpts::default())).unwrap();
        prop_assert_eq!(rows.len(), then.len());
    }
}

#[test]
fn after_compaction_old_clocks_are_history_gone_and_the_head_still_reads() {
    let store = MemStore::new();
    let l = block_on(Ledger::open("t", store.clone(), None)).unwrap();
    let mut model = Model::new();
    let first = apply(&l, &mut model, &Op::Bulk(10, 1));
    let then = model.clone();
    assert_eq!(read_view(&l, &first), then);
    for i in 0..5 {
        apply(&l, &mut model, &Op::Put(i, 100));
    }
    let head = l.snapshot().head.clone();
    block_on(l.compact()).unwrap();
    // (blocks still cached in this handle read as they were: the same bytes, so not wrong)
    let l = block_on(Ledger::open("t", store, None)).unwrap();
    let e = block_on(async {
        let v = l.view(&first).await?;
        l.all_docs_in(v, &AllDocsOpts::default()).await
    })
    .map_err(crate::ledger::gone)
    .unwrap_err();
    assert_eq!(e.code(), "HISTORY_GONE", "{e}");
    assert_eq!(
        block_on(l.rollback(&first)).unwrap_err().code(),
        "HISTORY_GONE"
    );
    assert_eq!(read_view(&l, &head), model);
    // a clock of another ledger, and one of several heads
    let other = block_on(Ledger::open("o", MemStore::new(), None)).unwrap();
    let foreign = apply(&other, &mut Model::new(), &Op::Put(1, 1));
    assert_eq!(
        block_on(l.view(&foreign)).unwrap_err().code(),
        "HISTORY_GONE"
    );
    let two = [head[0], foreign[0]];
    assert_eq!(block_on(l.view(&two)).unwrap_err().code(), "INVALID_ARG");
}

#[test]
fn a_rollback_restores_deleted_documents_and_deletes_newer_ones() {
    let l = block_on(Ledger::open("t", MemStore::new(), None)).unwrap();
    let mut model = Model::new();
    apply(&l, &mut model, &Op::Bulk(3, 10));
    let clock = apply(&l, &mut model, &Op::Put(5, 50));
    let then = model.clone();
    apply(&l, &mut model, &Op::Del(0));
    apply(&l, &mut model, &Op::Put(7, 70));
    apply(&l, &mut model, &Op::Put(1, 99));
    let before = l.snapshot().seq;
    let done = block_on(l.rollback(&clock)).unwrap();
    assert_eq!(done.seq, before + 1, "one commit");
    assert_eq!(read_view(&l, &done.head), then);
    // nothing to change: no commit
    let again = block_on(l.rollback(&clock)).unwrap();
    assert_eq!(again.seq, done.seq);
}
