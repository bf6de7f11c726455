//! Native tests of the per-row `clock` of `changes`: each linked event is on the head's
//! first-parent chain, holds the row's version and stamped it (checked through `view`, not
//! through the seqs the walk uses), on random histories of two replicas that merge; rows are
//! unlinked only where compaction dropped their event.

use cid::Cid;
use futures::executor::block_on;
use ipld_core::ipld::Ipld;
use proptest::prelude::*;

use crate::clock::Event;
use crate::doc::{Body, WriteOp};
use crate::ledger::Ledger;
use crate::store::mem::MemStore;

fn put(id: &str, n: i64) -> WriteOp {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    WriteOp::put(id, &b)
}

fn open(store: &MemStore) -> Ledger<MemStore> {
    block_on(Ledger::open("t", store.clone(), None)).unwrap()
}

fn event(l: &Ledger<MemStore>, c: &Cid) -> Event {
    Event::decode(&block_on(l.blocks.block(c)).unwrap()).unwrap()
}

/// Every row of `changes([])` (and of `changes(since)` with a limit) is linked to an event
/// that is on the first-parent chain of the head, holds the row's version, and wrote it.
fn check_links(l: &Ledger<MemStore>) {
    let (rows, events, state) = block_on(l.changes_linked(None, &[], None)).unwrap();
    assert_eq!(rows.len(), events.len());
    // the first-parent chain of the head
    let mut chain = Vec::new();
    let mut next = state.head.first().copied();
    while let Some(c) = next {
        chain.push(c);
        next = event(l, &c).parents.first().copied();
    }
    for (row, e) in rows.iter().zip(&events) {
        let e = e.unwrap_or_else(|| panic!("{} is not linked", row.id));
        assert!(
            chain.contains(&e),
            "{}: event off the first-parent chain",
            row.id
        );
        let at = block_on(l.view(&[e])).unwrap();
        assert_eq!(
            block_on(l.get_in(&at, &row.id)).unwrap(),
            row.body,
            "{}: other version",
            row.id
        );
        let stamped = block_on(l.changes_in(&at, at.seq - 1, None)).unwrap().0;
        assert!(
            stamped.iter().any(|r| r.id == row.id),
            "{}: not written by its event",
            row.id
        );
    }
    // a window of the newest rows is linked the same way
    let (recent, linked, _) = block_on(l.changes_linked(None, &[], Some(3))).unwrap();
    let tail = events.len().saturating_sub(3);
    assert_eq!(recent, rows[tail..]);
    assert_eq!(linked, events[tail..]);
}

#[test]
fn rows_link_to_the_commit_that_wrote_them() {
    let l = open(&MemStore::new());
    let c1 = block_on(l.write(vec![put("a", 1), put("b", 1)])).unwrap();
    let c2 = block_on(l.write(vec![put("c", 2)])).unwrap();
    let c3 = block_on(l.write(vec![put("a", 3), WriteOp::del("b")])).unwrap();
    let (rows, events, _) = block_on(l.changes_linked(None, &[], None)).unwrap();
    let got: Vec<(&str, Option<Cid>)> = rows.iter().map(|r| r.id.as_str()).zip(events).collect();
    assert_eq!(
        got,
        [
            ("c", Some(c2.head[0])),
            ("a", Some(c3.head[0])),
            ("b", Some(c3.head[0]))
        ]
    );
    let (rows, events, _) = block_on(l.changes_linked(None, &c1.head, None)).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        events,
        [Some(c2.head[0]), Some(c3.head[0]), Some(c3.head[0])]
    );
    // a view links within its own history
    let at = block_on(l.view(&c2.head)).unwrap();
    let (rows, events, _) = block_on(l.changes_linked(Some(at), &[], None)).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        events,
        [Some(c1.head[0]), Some(c1.head[0]), Some(c2.head[0])]
    );
    check_links(&l);
}

#[test]
fn rows_whose_event_compaction_dropped_are_unlinked_and_the_rest_linked() {
    let l = open(&MemStore::new());
    let kept = crate::ledger::EVENTS_KEPT as usize;
    for i in 0..kept + 20 {
        block_on(l.write(vec![put(&format!("d{i:05}"), i as i64)])).unwrap();
    }
    block_on(l.compact()).unwrap();
    let l = open(&l.store().clone());
    let (rows, events, _) = block_on(l.changes_linked(None, &[], None)).unwrap();
    assert_eq!(rows.len(), kept + 20);
    let unlinked = events.iter().take_while(|e| e.is_none()).count();
    assert!(
        events[unlinked..].iter().all(Option::is_some),
        "linked rows form the newest run"
    );
    assert!((19..=21).contains(&unlinked), "{unlinked} rows unlinked");
}

/// One step: replica `r` writes a batch (ids 0–5; a negative n deletes), or the two replicas
/// exchange their CARs and merge each other's head.
#[derive(Clone, Debug)]
enum Step {
    Write(usize, Vec<(u8, i64)>),
    Sync,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..2, prop::collection::vec((0u8..6, -2i64..50), 1..4))
            .prop_map(|(r, ops)| Step::Write(r, ops)),
        1 => Just(Step::Sync),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn links_hold_on_random_histories_with_merges(steps in prop::collection::vec(step(), 1..24)) {
        // replica 1 starts from a copy of replica 0 (sharing its key)
        let stores = [MemStore::new(), MemStore::new()];
        let first = open(&stores[0]);
        block_on(first.write(vec![put("d0", 0)])).unwrap();
        stores[1].share_key_from(&stores[0]);
        stores[1].import_cars_from(&stores[0]);
        let ls = [first, open(&stores[1])];
        block_on(ls[1].merge_heads(&ls[0].snapshot().head)).unwrap();
        for s in steps {
            match s {
                Step::Write(r, ops) => {
                    let ops = ops
                        .into_iter()
                        .map(|(id, n)| match n {
                            n if n < 0 => WriteOp::del(format!("d{id}")),
                            n => put(&format!("d{id}"), n),
                        })
                        .collect();
                    block_on(ls[r].write(ops)).unwrap();
                }
                Step::Sync => {
                    let (h0, h1) = (ls[0].snapshot().head.clone(), ls[1].snapshot().head.clone());
                    stores[0].import_cars_from(&stores[1]);
                    stores[1].import_cars_from(&stores[0]);
                    block_on(ls[0].merge_heads(&h1)).unwrap();
                    block_on(ls[1].merge_heads(&h0)).unwrap();
                }
            }
        }
        check_links(&ls[0]);
        check_links(&ls[1]);
    }
}
