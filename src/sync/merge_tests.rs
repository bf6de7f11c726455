//! Native tests that merges never undo a write its own replica made after the value it replaced
//! (docs/format.md §5: the leaf with the highest write seq `w` wins, and a merge keeps `w`).
//! A merge re-stamps the leaves it takes with its own seq, so comparing those seqs let a value
//! merged into a busier replica win over a later write on the replica that wrote it first.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::mem::MemRemote;
use super::tests::{body, converged, del, put, run_step, step, three_devs, Dev, Step};

/// The document `id` on `dev` (`None`: deleted or never written).
fn value(dev: &Dev, id: &str) -> Option<crate::doc::Body> {
    dev.docs().get(id).cloned().flatten()
}

#[test]
fn a_later_write_wins_over_its_old_value_merged_into_a_busier_replica() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    let b = Dev::new(Some(&a));
    a.write(vec![put("x", 1)]);
    a.sync(&remote);
    // b is busier: its seq runs far ahead of a's
    for i in 0..10 {
        b.write(vec![put("b", i)]);
    }
    b.sync(&remote); // merges x = 1 in, at a seq above a's next write
    b.write(vec![put("b", 10)]); // builds on the merge, so the merge is pushed (docs/sync.md §4)
    b.sync(&remote);
    a.write(vec![put("x", 2)]); // a's later write of x
    a.sync(&remote);
    b.sync(&remote);
    a.sync(&remote);
    converged(&[&a, &b]);
    assert_eq!(value(&a, "x"), Some(body(2)), "a's later write survives");
    assert_eq!(value(&b, "x"), Some(body(2)));
    // the same for a deletion, and for a write after a deletion
    a.write(vec![del("x")]);
    a.sync(&remote);
    for i in 10..20 {
        b.write(vec![put("b", i)]);
    }
    b.sync(&remote);
    b.write(vec![put("b", 20)]);
    b.sync(&remote);
    a.write(vec![put("x", 3)]);
    for d in [&a, &b, &a] {
        d.sync(&remote);
    }
    converged(&[&a, &b]);
    assert_eq!(value(&b, "x"), Some(body(3)));
}

/// A schedule step, and maybe first a write of an id only replica `r` writes: (r, k, n).
type StepWithOwn = (Step, Option<(usize, u8, i64)>);

/// `Step`s plus writes of ids only one replica writes (`own{r}-{k}`; n < 10 deletes).
fn steps_with_own() -> impl Strategy<Value = Vec<StepWithOwn>> {
    proptest::collection::vec(
        (
            step(),
            proptest::option::weighted(0.5, (0..3usize, 0..4u8, 0..100i64)),
        ),
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("SYNC_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1000_u32).div_ceil(2).max(1)))]
    /// 3 replicas, random writes (shared ids, and ids only one replica writes) and random
    /// push/pull/compact/reopen schedules: after everyone syncs, every replica holds, for each
    /// single-writer id, its writer's last write.
    #[test]
    fn a_replicas_own_last_writes_survive_every_merge(steps in steps_with_own()) {
        let remote = MemRemote::new();
        let mut devs = three_devs();
        let mut model: BTreeMap<String, Option<i64>> = BTreeMap::new();
        for (s, own) in steps {
            if let Some((r, k, n)) = own {
                let id = format!("own{r}-{k}");
                devs[r].write(vec![if n < 10 { del(&id) } else { put(&id, n) }]);
                model.insert(id, (n >= 10).then_some(n));
            }
            run_step(&mut devs, &remote, s);
        }
        for _ in 0..2 {
            for d in &devs {
                d.sync(&remote);
            }
        }
        for d in &devs {
            for (id, want) in &model {
                prop_assert_eq!(value(d, id), want.map(body), "{}", id);
            }
        }
    }
}
