//! Native tests of compaction: bounded storage under the automatic (incremental) policy for each
//! write pattern, unchanged contents, mostly-live CARs kept, writes landing between the two
//! phases, and a crash at every store call of a compaction.

use std::collections::BTreeMap;

use crate::HashSet;

use futures::executor::block_on;
use ipld_core::ipld::Ipld;

use super::COMPACT_SLACK_BYTES;
use crate::doc::{Body, WriteOp};
use crate::ledger::{AllDocsOpts, Ledger};
use crate::store::mem::MemStore;
use crate::store::Store;

type Model = BTreeMap<String, i64>;

fn body(n: i64) -> Body {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    b.insert(
        "text".into(),
        Ipld::String(format!(
            "document {n}: about a hundred and eighty bytes of text, as in the benchmark, {}",
            "padding ".repeat(14)
        )),
    );
    b
}

/// Ids spread over the key space (like random ids): each bulk touches most leaves.
fn spread(i: u64) -> String {
    format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn open(store: &MemStore) -> Ledger<MemStore> {
    block_on(Ledger::open("t", store.clone(), None)).unwrap()
}

/// What the package does when compaction is due: an incremental compaction.
fn compact_auto(l: &Ledger<MemStore>) {
    if block_on(l.compact_prepare(true)).unwrap() {
        block_on(l.compact_commit()).unwrap();
    }
}

/// Writes `ops` and then does what the package does after each commit: compact when due.
fn write_auto(l: &Ledger<MemStore>, model: &mut Model, ops: Vec<(String, i64)>) {
    let batch = ops
        .iter()
        .map(|(id, n)| WriteOp::put(id.clone(), &body(*n)))
        .collect();
    block_on(l.write(batch)).unwrap();
    model.extend(ops);
    if l.compaction_due(false) {
        compact_auto(l);
    }
}

/// Every document of the model reads back, from this handle and from a fresh one.
fn check_all(store: &MemStore, l: &Ledger<MemStore>, model: &Model) {
    for l in [l, &open(store)] {
        let (rows, state) = block_on(l.all_docs(&AllDocsOpts::default())).unwrap();
        assert_eq!(rows.len(), model.len());
        assert_eq!(state.count as usize, model.len());
        for r in &rows {
            let want = crate::doc::RawDoc::from_body(&body(model[&r.id])).unwrap();
            assert_eq!(r.body.as_ref(), Some(&want), "{}", r.id);
        }
    }
}

/// Runs a write pattern under the policy, then checks: the stored bytes stay within 2× the
/// live bytes (measured by a full compaction at the end, which changes no root), everything
/// reads back.
fn bounded(pattern: impl FnOnce(&Ledger<MemStore>, &mut Model)) {
    let store = MemStore::new();
    let l = open(&store);
    let mut model = Model::new();
    pattern(&l, &mut model);
    let stored = store.stored_footprint();
    let before = l.snapshot();
    block_on(l.compact()).unwrap();
    let after = l.snapshot();
    assert_eq!(
        (&after.head, after.docs, after.seq, after.count),
        (&before.head, before.docs, before.seq, before.count)
    );
    let live = store.stored_footprint();
    eprintln!("stored {stored} B, live {live} B");
    assert!(
        stored <= 2 * live + COMPACT_SLACK_BYTES,
        "stored {stored} B for {live} live bytes"
    );
    check_all(&store, &l, &model);
}

#[test]
fn bulks_with_spread_ids_stay_bounded() {
    bounded(|l, model| {
        for k in 0..6u64 {
            let ops = (0..1000)
                .map(|i| (spread(k * 1000 + i), i as i64))
                .collect();
            write_auto(l, model, ops);
        }
    });
}

#[test]
fn single_puts_stay_bounded() {
    bounded(|l, model| {
        for i in 0..1500u64 {
            write_auto(l, model, vec![(spread(i), i as i64)]);
        }
    });
}

#[test]
fn updates_of_the_same_docs_stay_bounded() {
    bounded(|l, model| {
        let ops = (0..300).map(|i| (spread(i), 0)).collect();
        write_auto(l, model, ops);
        for round in 1..=6 {
            for i in 0..300u64 {
                write_auto(l, model, vec![(spread(i), round)]);
            }
        }
    });
}

#[test]
fn writes_between_packing_and_commit_are_kept() {
    let store = MemStore::new();
    let a = open(&store);
    let mut model = Model::new();
    for i in 0..200u64 {
        write_auto(&a, &mut model, vec![(spread(i), 1)]);
    }
    assert!(block_on(a.compact_prepare(true)).unwrap());
    // another tab and this one commit while the packed CARs wait
    let b = open(&store);
    block_on(b.write(vec![WriteOp::put("from-b", &body(7))])).unwrap();
    model.insert("from-b".into(), 7);
    write_auto(&a, &mut model, vec![(spread(3), 9), ("from-a".into(), 8)]);
    let head = a.snapshot().head.clone();
    block_on(a.compact_commit()).unwrap();
    assert_eq!(a.snapshot().head, head);
    check_all(&store, &a, &model);
    assert_eq!(block_on(b.get("from-a")).unwrap_err().code(), "ENOENT");
    assert!(block_on(b.refresh()).unwrap());
    check_all(&store, &b, &model);
}

#[test]
fn a_crash_at_any_step_of_compaction_loses_no_acknowledged_write() {
    crash_at_every_step(false);
}

/// The same for an incremental compaction over a ledger holding CARs it keeps.
#[test]
fn a_crash_at_any_step_of_an_incremental_compaction_loses_no_acknowledged_write() {
    crash_at_every_step(true);
}

fn crash_at_every_step(incremental: bool) {
    let origin = MemStore::new();
    let mut model = Model::new();
    {
        let l = open(&origin);
        if incremental {
            // big CARs of ascending ids, compacted: mostly live afterwards, so kept
            for k in 0..4u64 {
                let batch: Vec<(String, i64)> = (0..150)
                    .map(|i| (format!("doc-{:06}", k * 150 + i), 0))
                    .collect();
                write_auto(&l, &mut model, batch);
            }
            block_on(l.compact()).unwrap();
        }
        for i in 0..40u64 {
            let batch: Vec<(String, i64)> = (0..5).map(|j| (spread(i * 5 + j), i as i64)).collect();
            let writes = batch
                .iter()
                .map(|(id, n)| WriteOp::put(id.clone(), &body(*n)))
                .collect();
            block_on(l.write(writes)).unwrap();
            model.extend(batch);
        }
    }
    for step in 0.. {
        let store = origin.deep_copy();
        let cold = open(&store); // compaction reads every CAR
        store.crash_after(Some(step));
        let res = match block_on(cold.compact_prepare(incremental)) {
            Ok(_) => block_on(cold.compact_commit()),
            Err(e) => Err(e),
        };
        store.crash_after(None);
        // After the "crash" the page reloads: a new handle on what was stored.
        check_all(&store, &open(&store), &model);
        let again = open(&store);
        block_on(again.write(vec![WriteOp::put("after", &body(1))])).unwrap();
        block_on(again.compact()).unwrap();
        // CARs a crashed compaction staged (no header names them) are gone: the store holds
        // exactly what the last compaction packed.
        let gc = again.snapshot().gc.unwrap();
        assert_eq!(
            (store.stored_footprint(), gc.stored),
            (gc.live, gc.live),
            "crash at step {step} left bytes behind"
        );
        let mut model = model.clone();
        model.insert("after".into(), 1);
        check_all(&store, &again, &model);
        if res.is_ok() {
            assert!(
                step > 40,
                "a compaction of 40 CARs took only {step} store calls"
            );
            break;
        }
        assert!(step < 1000, "compaction never completes");
    }
}

#[test]
fn due_only_after_enough_garbage() {
    let store = MemStore::new();
    let l = open(&store);
    let mut model = Model::new();
    write_auto(&l, &mut model, vec![("a".into(), 1)]);
    assert!(!l.compaction_due(false));
    // rewrites "a" until compaction is due (`urgent`: past the hard cap); the number of writes
    let mut written = 0;
    let mut update_until_due = |urgent: bool| {
        let before = written;
        while !l.compaction_due(urgent) {
            written += 1;
            block_on(l.write(vec![WriteOp::put("a", &body(written))])).unwrap();
        }
        written - before
    };
    let n = update_until_due(false);
    assert!(n > 20, "due after {n} small commits");
    // urgent (compacted even during a burst of writes) only past 2 × live + 8 MiB
    assert!(!l.compaction_due(true));
    let g = l.snapshot().gc.unwrap();
    assert_eq!(g.stored, store.stored_footprint());
    let urgent = n + update_until_due(true);
    let g = l.snapshot().gc.unwrap();
    assert!(g.stored > 2 * g.live + 8 * 1024 * 1024 && urgent > 10 * n);
    block_on(l.compact()).unwrap();
    assert!(!l.compaction_due(false));
    let g = l.snapshot().gc.unwrap();
    assert_eq!(
        (g.live, g.stored),
        (store.stored_footprint(), store.stored_footprint())
    );
}

/// If a staged CAR disappears before the header commit (two compactions at once, where Web Locks
/// are missing), the commit writes nothing and fails with `STORAGE`; the ledger reads as before
/// and the next compaction succeeds.
#[test]
fn a_staged_car_gone_fails_the_commit_and_loses_nothing() {
    let store = MemStore::new();
    let l = open(&store);
    let mut model = Model::new();
    for i in 0..60u64 {
        write_auto(&l, &mut model, vec![(spread(i), 2)]);
    }
    let before: Vec<String> = block_on(store.list_cars(false)).unwrap();
    assert!(block_on(l.compact_prepare(false)).unwrap());
    let staged: Vec<String> = block_on(store.list_cars(false))
        .unwrap()
        .into_iter()
        .filter(|c| !before.contains(c))
        .collect();
    assert!(!staged.is_empty(), "nothing was staged");
    let header = l.snapshot();
    block_on(store.remove_cars(&staged[..1])).unwrap();
    let err = block_on(l.compact_commit()).unwrap_err();
    assert_eq!(err.code(), "STORAGE");
    assert_eq!(l.snapshot(), header);
    check_all(&store, &l, &model);
    block_on(l.compact()).unwrap();
    check_all(&store, &l, &model);
}

/// Compaction keeps the clock events of the last EVENTS_KEPT seqs only: storage does not grow
/// with the number of commits, and the ledger reads, writes and compacts on as before.
#[test]
fn clock_history_is_pruned_to_a_window() {
    let store = MemStore::new();
    let l = open(&store);
    let mut model = Model::new();
    let commits = super::EVENTS_KEPT + 300;
    for i in 0..commits {
        write_auto(&l, &mut model, vec![(spread(i % 50), i as i64)]);
    }
    block_on(l.compact()).unwrap();
    let fresh = open(&store);
    let mut kept = 0u64;
    let mut next = fresh.snapshot().head.clone();
    while let Some(c) = next.pop() {
        let Ok(bytes) = block_on(fresh.blocks().block(&c)) else {
            break;
        };
        kept += 1;
        next.extend(crate::clock::Event::decode(&bytes).unwrap().parents);
    }
    assert_eq!(kept, super::EVENTS_KEPT + 1, "events kept of {commits}");
    check_all(&store, &fresh, &model);
    write_auto(&l, &mut model, vec![("after".into(), 1)]);
    block_on(l.compact()).unwrap();
    check_all(&store, &open(&store), &model);
}

/// An incremental compaction keeps the mostly-live CARs of earlier bulks and compactions as they
/// are (appending documents rewrites none of them), repacks the single commits and the roots into
/// the CAR the header names, estimates what it left closely, and repacks the old CARs once updates have
/// made them mostly garbage.
#[test]
fn incremental_compaction_keeps_mostly_live_cars() {
    let store = MemStore::new();
    let l = open(&store);
    let mut model = Model::new();
    for k in 0..10u64 {
        let batch = (0..200)
            .map(|i| (format!("doc-{:06}", k * 200 + i), 1))
            .collect();
        write_auto(&l, &mut model, batch);
    }
    block_on(l.compact()).unwrap();
    let packed: HashSet<String> = block_on(store.list_cars(false))
        .unwrap()
        .into_iter()
        .collect();
    assert!(packed.len() >= 4, "{} CARs", packed.len());
    let (mut n, mut compactions) = (2000u64, 0);
    while compactions < 3 {
        let ops = vec![WriteOp::put(format!("doc-{n:06}"), &body(2))];
        block_on(l.write(ops)).unwrap();
        model.insert(format!("doc-{n:06}"), 2);
        n += 1;
        if l.compaction_due(false) {
            compact_auto(&l);
            compactions += 1;
            let g = l.snapshot().gc.unwrap();
            let real = store.stored_footprint();
            assert!(
                g.stored.abs_diff(real) * 5 <= real,
                "estimated {} B, stored {real} B",
                g.stored
            );
            assert!(!l.compaction_due(false));
        }
    }
    let now: HashSet<String> = block_on(store.list_cars(false))
        .unwrap()
        .into_iter()
        .collect();
    let kept = packed.intersection(&now).count();
    assert!(
        kept + 2 >= packed.len(),
        "kept {kept} of {} CARs",
        packed.len()
    );
    // the roots are in the new CAR the header names (cold reads open it first)
    let s = l.snapshot();
    let root = block_on(store.locate_cars(&[s.docs.unwrap()])).unwrap();
    assert_eq!(root.first().map(|(n, _)| n.as_str()), s.car.as_deref());
    assert!(
        now.len() < packed.len() + 6,
        "{} CARs after {n} documents",
        now.len()
    );
    check_all(&store, &l, &model);
    // every document updated (ids spread over the tree): the old CARs turn to garbage
    let ids: Vec<String> = model.keys().cloned().collect();
    for chunk in ids.chunks(250) {
        write_auto(
            &l,
            &mut model,
            chunk.iter().map(|id| (id.clone(), 3)).collect(),
        );
    }
    compact_auto(&l);
    let later: HashSet<String> = block_on(store.list_cars(false))
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        packed.intersection(&later).count(),
        0,
        "old CARs repacked once mostly garbage"
    );
    check_all(&store, &l, &model);
}
