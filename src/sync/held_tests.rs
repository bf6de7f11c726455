//! Native tests of held-back merges (docs/sync.md §4): a merge is not pushed, every replica
//! computes it from the records' heads, it is recomputed from its parents when new heads arrive,
//! and it is pushed once a write builds on it; one sync and one pull each converge.

use futures::executor::block_on;
use proptest::prelude::*;

use super::mem::MemRemote;
use super::tests::{converged, put, run_step, step, three_devs, Dev, Step};
use super::{CARS, HEADS};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("SYNC_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1000_u32).div_ceil(4).max(1)))]
    /// Merges are held back (docs/sync.md §4), so once every write is on the remote one pull each
    /// converges: after random schedules, everyone syncs once, the pulls and pushes of different
    /// replicas interleaved at random, then pulls once: one head everywhere, and a further sync
    /// round uploads nothing (no merge is pushed).
    #[test]
    fn one_sync_and_one_pull_each_converge(
        steps in proptest::collection::vec(step(), 1..40),
        order in Just(vec![0usize, 0, 1, 1, 2, 2]).prop_shuffle(),
    ) {
        let remote = MemRemote::new();
        let mut devs = three_devs();
        for s in steps {
            run_step(&mut devs, &remote, s);
        }
        let mut pulled = [false; 3];
        for r in order {
            // each replica's first turn pulls, its second pushes
            run_step(&mut devs, &remote, if pulled[r] { Step::Push(r) } else { Step::Pull(r) });
            pulled[r] = true;
        }
        for d in &devs {
            block_on(d.replica(&remote).pull()).unwrap();
        }
        let f0 = devs[0].fingerprint();
        for d in &devs {
            prop_assert_eq!(d.fingerprint(), f0.clone());
            prop_assert_eq!(d.docs(), devs[0].docs());
        }
        let before = remote.counters().0;
        for d in &devs {
            d.sync(&remote);
        }
        prop_assert_eq!(remote.counters().0, before);
        for d in &devs {
            prop_assert_eq!(d.fingerprint(), f0.clone());
        }
    }
}

/// Ten concurrent writers: a merge is held back (not pushed), its record names the merged
/// parents, every replica computes the same merge from the remote's records, and a write on top of
/// a held merge pushes it so that a fresh replica can load everything.
#[test]
fn held_merges_are_computed_by_every_replica_and_pushed_once_built_on() {
    let remote = MemRemote::new();
    let first = Dev::new(None);
    let mut devs: Vec<Dev> = (0..9).map(|_| Dev::new(Some(&first))).collect();
    devs.push(first);
    for (i, d) in devs.iter().enumerate() {
        d.write(vec![put("shared", i as i64), put(&format!("own{i}"), 1)]);
    }
    for d in &devs {
        d.sync(&remote); // each pulls what is there, merges it (held), pushes its own write
    }
    let cars = |r: &MemRemote| r.keys().iter().filter(|k| k.starts_with(CARS)).count();
    assert_eq!(cars(&remote), 10, "one CAR per write, no merge CAR");
    for d in &devs {
        let s = d.ledger.snapshot();
        assert!(s.to_push().is_empty(), "nothing left to push");
    }
    // the last replica's record announces the merge by its parents, and covers the others'
    let heads = remote
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(HEADS))
        .count();
    assert_eq!(heads, 1, "the last push deleted the records it merged");
    for d in &devs {
        block_on(d.replica(&remote).pull()).unwrap();
    }
    let all: Vec<&Dev> = devs.iter().collect();
    converged(&all);
    let s = devs[0].ledger.snapshot();
    assert!(s.held > 0, "the merge is held back");
    assert_eq!(devs[0].docs().len(), 11);
    // a fresh replica computes the same merge from the records alone
    let fresh = Dev::new(Some(&devs[0]));
    block_on(fresh.replica(&remote).pull()).unwrap();
    converged(&[&devs[0], &fresh]);
    // a write on top of the held merge pushes the merge with it
    devs[3].write(vec![put("after", 1)]);
    let out = devs[3].ledger.snapshot().out.clone().unwrap();
    assert_eq!(out.len(), 1 + s.held as usize);
    assert_eq!(devs[3].ledger.snapshot().held, 0);
    devs[3].sync(&remote);
    assert_eq!(cars(&remote), 10 + out.len());
    for d in [&devs[0], &fresh] {
        block_on(d.replica(&remote).pull()).unwrap();
        assert_eq!(d.ledger.snapshot().held, 0, "a fast-forward");
    }
    let late = Dev::new(Some(&devs[0]));
    block_on(late.replica(&remote).pull()).unwrap();
    converged(&[&devs[0], &devs[3], &fresh, &late]);
    assert_eq!(late.docs().len(), 12);
    // compaction keeps a held merge's CARs (nothing else stores the merged tree's new nodes)
    devs[5].write(vec![put("x5", 1)]);
    devs[6].write(vec![put("x6", 1)]);
    devs[5].sync(&remote);
    devs[6].sync(&remote); // merges x5 (held), pushes x6 with the merge's parents
    block_on(devs[6].ledger.compact()).unwrap();
    devs[6].write(vec![put("x6b", 1)]); // builds on the held merge: pushes it
    devs[6].sync(&remote);
    let late2 = Dev::new(Some(&devs[0]));
    block_on(late2.replica(&remote).pull()).unwrap();
    block_on(devs[5].replica(&remote).pull()).unwrap();
    converged(&[&devs[5], &devs[6], &late2]);
    assert_eq!(late2.docs().len(), 15);
}

/// A replica offline while others merged: a held merge is recomputed from its parents and the
/// new heads, so it reaches the head a replica that saw everything at once computes.
#[test]
fn a_held_merge_is_recomputed_from_its_parents() {
    let remote = MemRemote::new();
    let mut a = Dev::new(None);
    let b = Dev::new(Some(&a));
    let c = Dev::new(Some(&a));
    a.write(vec![put("a", 1)]);
    b.write(vec![put("b", 1)]);
    a.sync(&remote);
    b.sync(&remote); // b: held merge of a and b; record [a, b]
    a.sync(&remote); // a: the same merge, held
    converged(&[&a, &b]);
    c.write(vec![put("c", 1)]);
    c.sync(&remote); // c: merge of a, b, c (held); record [a, b, c]
    a.sync(&remote);
    b.sync(&remote);
    let fresh = Dev::new(Some(&a));
    block_on(fresh.replica(&remote).pull()).unwrap();
    converged(&[&a, &b, &c, &fresh]);
    let parents = |d: &Dev| {
        let s = d.ledger.snapshot();
        let bytes = block_on(d.ledger.blocks().block(&s.head[0])).unwrap();
        crate::clock::Event::decode(&bytes).unwrap().parents.len()
    };
    assert_eq!(
        parents(&a),
        3,
        "one merge of the three writes, not a merge of merges"
    );
    a.reopen(); // the held merge survives a reload
    assert!(a.ledger.snapshot().held > 0);
    converged(&[&a, &b]);
}
