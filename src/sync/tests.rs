//! Native sync tests against the in-memory remote: convergence, outbox, faults, tampering,
//! compaction during sync, and what the remote holds.

use std::collections::BTreeMap;

use futures::executor::block_on;
use ipld_core::ipld::Ipld;
use proptest::prelude::*;

use super::mem::MemRemote;
use super::{Remote, Replica, CARS, HEADS};
use crate::doc::{Body, WriteOp};
use crate::ledger::{AllDocsOpts, Ledger};
use crate::store::mem::MemStore;
use crate::store::Store;

pub(super) fn body(n: i64) -> Body {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    b.insert(
        "secretfield".into(),
        Ipld::String(format!("plaintext-marker-{n}")),
    );
    b
}

pub(super) fn put(id: &str, n: i64) -> WriteOp {
    WriteOp::put(id, &body(n))
}

pub(super) fn del(id: &str) -> WriteOp {
    WriteOp::del(id)
}

/// A replica's local side: its store and open ledger.
pub(super) struct Dev {
    pub store: MemStore,
    pub ledger: Ledger<MemStore>,
}

impl Dev {
    /// A new device; with `like`, it shares that device's ledger key (as an invite gives it).
    pub fn new(like: Option<&Dev>) -> Dev {
        let store = MemStore::new();
        if let Some(o) = like {
            store.share_key_from(&o.store);
        }
        let ledger = block_on(Ledger::open("t", store.clone(), None)).unwrap();
        if like.is_none() {
            // make sure the key exists before others copy it
            block_on(ledger.store().load_header()).unwrap();
        }
        Dev { store, ledger }
    }
    pub fn reopen(&mut self) {
        self.ledger = block_on(Ledger::open("t", self.store.clone(), None)).unwrap();
    }
    pub fn replica<'a>(&'a self, remote: &'a MemRemote) -> Replica<'a, MemStore, MemRemote> {
        Replica {
            ledger: &self.ledger,
            remote: remote.clone(),
            id: "r".into(),
        }
    }
    pub fn sync(&self, remote: &MemRemote) {
        block_on(self.replica(remote).sync()).unwrap();
    }
    pub fn write(&self, ops: Vec<WriteOp>) {
        block_on(self.ledger.write(ops)).unwrap();
    }
    pub fn docs(&self) -> BTreeMap<String, Option<Body>> {
        let opts = AllDocsOpts {
            include_deleted: true,
            ..Default::default()
        };
        let (rows, _) = block_on(self.ledger.all_docs(&opts)).unwrap();
        rows.into_iter()
            .map(|r| (r.id, r.body.map(|b| b.body().unwrap())))
            .collect()
    }
    /// (head, docs root, changes root, count)
    pub fn fingerprint(&self) -> (Vec<cid::Cid>, Option<cid::Cid>, u64) {
        let s = self.ledger.snapshot();
        (s.head.clone(), s.docs, s.count)
    }
}

pub(super) fn converged(devs: &[&Dev]) {
    let f0 = devs[0].fingerprint();
    for d in devs {
        assert_eq!(d.fingerprint(), f0, "same head, document root and count");
        assert_eq!(d.docs(), devs[0].docs());
    }
}

#[test]
fn offline_edits_converge_to_one_head() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    let b = Dev::new(Some(&a));
    a.write(vec![put("shared", 0), put("x", 0)]);
    a.sync(&remote);
    b.sync(&remote);
    converged(&[&a, &b]);
    // both offline: same and different documents
    a.write(vec![put("x", 1), put("only-a", 1)]);
    a.write(vec![del("shared")]);
    b.write(vec![put("x", 2), put("only-b", 2)]);
    a.sync(&remote);
    b.sync(&remote);
    a.sync(&remote);
    converged(&[&a, &b]);
    assert!(a.docs().contains_key("only-a") && a.docs().contains_key("only-b"));
    assert_eq!(a.docs()["shared"], None, "the delete survives the merge");
    // a further round changes nothing and uploads nothing
    let before = remote.counters();
    a.sync(&remote);
    b.sync(&remote);
    assert_eq!(remote.counters().0, before.0, "nothing new to upload");
    converged(&[&a, &b]);
}

#[test]
fn detached_commits_are_pushed_after_reopen_and_nothing_twice() {
    let remote = MemRemote::new();
    let mut a = Dev::new(None);
    a.write(vec![put("d1", 1)]);
    a.sync(&remote);
    let (puts, bytes, _) = remote.counters();
    remote.set_offline(true);
    a.write(vec![put("d2", 2)]);
    a.write(vec![put("d3", 3)]);
    assert!(
        block_on(a.replica(&remote).sync()).is_err(),
        "offline sync reports an error"
    );
    a.reopen(); // a reload: the outbox is in the header
    assert_eq!(a.ledger.snapshot().out.as_ref().map(Vec::len), Some(2));
    remote.set_offline(false);
    a.sync(&remote);
    let (puts2, bytes2, _) = remote.counters();
    assert_eq!(puts2 - puts, 3, "two commit CARs and one head record");
    assert!(
        bytes2 - bytes < 4000,
        "only the new commits: {} bytes",
        bytes2 - bytes
    );
    let b = Dev::new(Some(&a));
    b.sync(&remote);
    converged(&[&a, &b]);
}

#[test]
fn a_push_cut_off_midway_loses_nothing() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    let b = Dev::new(Some(&a));
    for i in 0..5 {
        a.write(vec![put(&format!("a{i}"), i)]);
    }
    remote.fail_after_writes(2); // the server dies after two CARs
    assert_eq!(
        block_on(a.replica(&remote).push()).unwrap_err().code(),
        "NETWORK"
    );
    remote.set_offline(false); // restarted on the same store
    b.write(vec![put("b", 1)]);
    b.sync(&remote);
    a.sync(&remote);
    b.sync(&remote);
    converged(&[&a, &b]);
    assert_eq!(b.docs().len(), 6);
}

#[test]
fn tampered_objects_are_reported_and_skipped() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    let b = Dev::new(Some(&a));
    b.write(vec![put("local", 1)]);
    b.sync(&remote);
    let b_before = b.docs();
    a.write(vec![put("x", 1)]);
    let pushed = block_on(a.replica(&remote).push()).unwrap();
    let record = pushed.record.unwrap();
    // flip a byte in every CAR a pushed and in its head record
    for k in remote.keys() {
        if k.starts_with(CARS) || k == format!("{HEADS}{record}") {
            remote.tamper(&k, |b| {
                let n = b.len() - 5;
                b[n] ^= 1;
            });
        }
    }
    let r = block_on(b.replica(&remote).pull()).unwrap();
    assert_eq!(r.errors.len(), 1, "the bad record is reported");
    assert_eq!(r.errors[0].code(), "CORRUPT");
    assert_eq!(b.docs(), b_before, "local data untouched");
    let again = block_on(b.replica(&remote).pull()).unwrap();
    assert_eq!(again.errors.len(), 1, "reported again while it is listed");
    b.write(vec![put("still", 2)]); // still usable
    assert!(b.docs().contains_key("still"));
}

/// Two handles on one store (two tabs): the one that pushes, and another.
fn two_tabs() -> (MemRemote, Dev, Ledger<MemStore>) {
    let lead = Dev::new(None);
    let other = block_on(Ledger::open("t", lead.store.clone(), None)).unwrap();
    (MemRemote::new(), lead, other)
}

#[test]
fn names_another_tab_carries_back_into_the_outbox_are_not_uploaded_again() {
    // `other` commits on the header as it was before `lead`'s push removed the pushed names
    let (remote, lead, other) = two_tabs();
    lead.write(vec![put("a", 1)]);
    lead.sync(&remote);
    let mut uploads = Vec::new();
    for i in 0..4 {
        block_on(other.refresh()).unwrap();
        block_on(other.write(vec![put(&format!("o{i}"), i)])).unwrap();
        // before the fix the stale outbox grew: each write re-uploaded the earlier ones
        block_on(other.write(vec![put(&format!("p{i}"), i)])).unwrap();
        block_on(lead.ledger.refresh()).unwrap();
        uploads.push(block_on(lead.replica(&remote).push()).unwrap().cars);
    }
    // each push uploads the two new CARs only (the remote create-only store would not count the
    // others, but they were sent: 2, 4, 6, 8 before)
    assert_eq!(uploads, [2, 2, 2, 2]);
    let c = Dev::new(Some(&lead));
    c.sync(&remote);
    assert_eq!(c.docs().len(), 9);
}

#[test]
fn a_commit_built_on_the_header_before_a_push_is_rebuilt_and_keeps_the_pushed_names_out() {
    // `other` holds the header from before `lead`'s push, whose header-only commit keeps `car`
    // and removes the pushed names from the outbox
    let (remote, lead, other) = two_tabs();
    block_on(lead.ledger.start_outbox()).unwrap();
    for i in 0..3 {
        block_on(other.refresh()).unwrap();
        lead.write(vec![put(&format!("a{i}"), i)]);
        block_on(other.refresh()).unwrap(); // the header with a{i}'s CAR in the outbox
        assert!(block_on(lead.replica(&remote).push()).unwrap().cars > 0);
        block_on(other.write(vec![put(&format!("o{i}"), i)])).unwrap();
        // before the fix the write committed on the older header and carried the pushed CAR back
        let h = block_on(lead.store.load_header()).unwrap().unwrap();
        assert_eq!(h.out.as_deref(), Some(&[h.car.clone()][..]), "round {i}");
        block_on(lead.ledger.refresh()).unwrap();
        assert_eq!(block_on(lead.replica(&remote).push()).unwrap().cars, 1);
    }
    let c = Dev::new(Some(&lead));
    c.sync(&remote);
    assert_eq!(c.docs().len(), 6);
}

#[test]
fn a_damaged_car_of_one_record_does_not_keep_the_other_records_out() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    let b = Dev::new(Some(&a));
    let c = Dev::new(Some(&a));
    a.write(vec![put("from-a", 1)]);
    a.sync(&remote);
    let before = remote.keys();
    b.write(vec![put("from-b", 2)]);
    block_on(b.replica(&remote).push()).unwrap();
    for k in remote.keys() {
        if k.starts_with(CARS) && !before.contains(&k) {
            remote.tamper(&k, |b| {
                let n = b.len() / 2;
                b[n] ^= 1;
            });
        }
    }
    let r = block_on(c.replica(&remote).pull()).unwrap();
    assert_eq!(r.errors.len(), 1, "b's record is reported");
    assert_eq!(r.errors[0].code(), "CORRUPT");
    assert!(r.changed);
    assert_eq!(
        c.docs().keys().collect::<Vec<_>>(),
        ["from-a"],
        "a's record merged all the same"
    );
    let again = block_on(c.replica(&remote).pull()).unwrap();
    assert_eq!(
        again.errors.len(),
        1,
        "b's record is not remembered: reported again"
    );
    assert!(!again.changed);
    c.write(vec![put("from-c", 3)]);
    block_on(c.replica(&remote).push()).unwrap();
    a.sync(&remote);
    assert!(a.docs().contains_key("from-c"), "c's pushes go on");
}

#[test]
fn a_tampered_car_is_reported_and_leaves_the_ledger_alone() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    let b = Dev::new(Some(&a));
    a.write(vec![put("x", 1)]);
    a.sync(&remote);
    for k in remote.keys() {
        if k.starts_with(CARS) {
            remote.tamper(&k, |b| {
                let n = b.len() / 2;
                b[n] ^= 1;
            });
        }
    }
    let r = block_on(b.replica(&remote).pull()).unwrap();
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].code(), "CORRUPT");
    assert!(!r.changed);
    assert!(b.ledger.snapshot().head.is_empty());
    b.write(vec![put("mine", 1)]);
}

#[test]
fn compaction_on_both_sides_during_sync_never_strands_a_block() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    let b = Dev::new(Some(&a));
    for round in 0..6 {
        a.write(
            (0..20)
                .map(|i| put(&format!("a{i}"), round * 100 + i))
                .collect(),
        );
        b.write(vec![put(&format!("b{round}"), round)]);
        if round % 2 == 0 {
            block_on(a.ledger.compact()).unwrap();
        }
        a.sync(&remote);
        if round % 3 == 1 {
            block_on(b.ledger.compact()).unwrap();
        }
        b.sync(&remote);
        block_on(b.ledger.compact()).unwrap();
    }
    a.sync(&remote);
    converged(&[&a, &b]);
    let c = Dev::new(Some(&a));
    c.sync(&remote);
    converged(&[&a, &b, &c]);
}

#[test]
fn the_remote_holds_no_plaintext_and_no_key() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    a.write(vec![put("visible-id-1234", 7), put("another-id-5678", 8)]);
    a.sync(&remote);
    let all = remote.all_bytes();
    let has = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
    for needle in [
        &b"visible-id-1234"[..],
        b"another-id",
        b"secretfield",
        b"plaintext-marker",
    ] {
        assert!(!has(needle), "{}", String::from_utf8_lossy(needle));
    }
    let key = block_on(a.store.ensure_key(&crate::crypto::Key::generate().unwrap())).unwrap();
    assert!(!has(key.as_bytes()), "the key never reaches the remote");
}

#[test]
fn a_device_with_local_data_joins_and_both_hold_the_union() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    a.write(vec![put("from-a", 1)]);
    a.sync(&remote);
    let b = Dev::new(Some(&a));
    b.write(vec![put("from-b", 2)]); // written before b ever attached
    b.sync(&remote);
    a.sync(&remote);
    converged(&[&a, &b]);
    assert_eq!(a.docs().len(), 2);
}

#[test]
fn many_pushes_roll_the_manifest_and_a_fresh_replica_still_loads_everything() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    for i in 0..150 {
        a.write(vec![put(&format!("d{i}"), i)]);
        a.sync(&remote);
    }
    let heads: Vec<String> = remote
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(HEADS))
        .collect();
    assert_eq!(heads.len(), 1, "superseded head records are deleted");
    let rec = block_on(remote.get(&heads[0])).unwrap().unwrap();
    assert!(rec.len() < 5000, "head record stays small: {}", rec.len());
    let b = Dev::new(Some(&a));
    b.sync(&remote);
    converged(&[&a, &b]);
    // an old replica that missed many pushes catches up too
    let c = Dev::new(Some(&a));
    c.write(vec![put("c", 1)]);
    c.sync(&remote);
    a.sync(&remote);
    c.sync(&remote);
    converged(&[&a, &c]);
}

#[derive(Clone, Debug)]
pub(super) enum Step {
    Put(usize, u8, i64),
    Del(usize, u8),
    Bulk(usize, u8),
    Push(usize),
    Pull(usize),
    Compact(usize),
    Reopen(usize),
}

pub(super) fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize, 0..12u8, 0..100i64).prop_map(|(r, k, v)| Step::Put(r, k, v)),
        1 => (0..3usize, 0..12u8).prop_map(|(r, k)| Step::Del(r, k)),
        1 => (0..3usize, 0..12u8).prop_map(|(r, k)| Step::Bulk(r, k)),
        3 => (0..3usize).prop_map(Step::Push),
        3 => (0..3usize).prop_map(Step::Pull),
        1 => (0..3usize).prop_map(Step::Compact),
        1 => (0..3usize).prop_map(Step::Reopen),
    ]
}

/// Three devices sharing one key.
pub(super) fn three_devs() -> [Dev; 3] {
    let first = Dev::new(None);
    [Dev::new(Some(&first)), Dev::new(Some(&first)), first]
}

/// Runs one step of a schedule.
pub(super) fn run_step(devs: &mut [Dev], remote: &MemRemote, s: Step) {
    match s {
        Step::Put(r, k, v) => devs[r].write(vec![put(&format!("k{k}"), v)]),
        Step::Del(r, k) => devs[r].write(vec![del(&format!("k{k}"))]),
        Step::Bulk(r, k) => devs[r].write(
            (0..k)
                .map(|i| put(&format!("k{i}"), i64::from(k)))
                .collect(),
        ),
        Step::Push(r) => drop(block_on(devs[r].replica(remote).push()).unwrap()),
        Step::Pull(r) => drop(block_on(devs[r].replica(remote).pull()).unwrap()),
        Step::Compact(r) => block_on(devs[r].ledger.compact()).unwrap(),
        Step::Reopen(r) => devs[r].reopen(),
    }
}

/// Everyone syncs, twice.
fn sync_all(devs: &[Dev], remote: &MemRemote) {
    for _ in 0..2 {
        for d in devs {
            d.sync(remote);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("SYNC_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1000_u32).max(1)))]
    /// 3 replicas, random writes and random push/pull/compact/reopen schedules on one remote:
    /// after everyone syncs twice, one head, one document root, the same documents everywhere.
    #[test]
    fn replicas_converge(steps in proptest::collection::vec(step(), 1..40)) {
        let remote = MemRemote::new();
        let mut devs = three_devs();
        for s in steps {
            run_step(&mut devs, &remote, s);
        }
        sync_all(&devs, &remote);
        let f0 = devs[0].fingerprint();
        for d in &devs {
            prop_assert_eq!(d.fingerprint(), f0.clone());
            prop_assert_eq!(d.docs(), devs[0].docs());
        }
    }
}

/// A replica that fast-forwarded never fetched the events behind the new head; a later merge
/// needs them and must find them through the manifest it already knows (a shrunk proptest case;
/// CAR names are random, so it runs many times).
#[test]
fn history_behind_a_fast_forward_is_fetched_when_a_merge_needs_it() {
    use Step::*;
    let steps = [
        Pull(2),
        Push(0),
        Put(0, 6, 72),
        Del(2, 0),
        Put(2, 3, 24),
        Put(0, 11, 0),
        Compact(0),
        Put(0, 3, 4),
        Put(1, 10, 2),
        Push(0),
        Put(1, 1, 20),
        Push(1),
        Pull(2),
        Push(2),
        Pull(0),
        Put(1, 10, 34),
        Put(2, 0, 96),
        Push(1),
        Put(0, 0, 18),
        Pull(0),
        Pull(0),
        Put(2, 0, 37),
    ];
    for _ in 0..40 {
        let remote = MemRemote::new();
        let mut devs = three_devs();
        for s in steps.iter().cloned() {
            run_step(&mut devs, &remote, s);
        }
        sync_all(&devs, &remote);
        converged(&[&devs[0], &devs[1], &devs[2]]);
    }
}

#[test]
fn a_device_with_its_own_key_and_data_rekeys_to_join() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    a.write(vec![put("from-a", 1)]);
    a.sync(&remote);
    let mut b = Dev::new(None); // its own key
    b.write(vec![put("from-b", 2), put("shared", 2)]);
    b.write(vec![del("shared")]);
    let before = b.fingerprint();
    let key = block_on(a.store.ensure_key(&crate::crypto::Key::generate().unwrap())).unwrap();
    block_on(b.ledger.rekey(&key)).unwrap();
    b.reopen();
    assert_eq!(
        b.fingerprint(),
        before,
        "same head and documents under the new key"
    );
    let stored = block_on(b.store.ensure_key(&crate::crypto::Key::generate().unwrap())).unwrap();
    assert_eq!(stored.as_bytes(), key.as_bytes());
    b.sync(&remote);
    a.sync(&remote);
    converged(&[&a, &b]);
    assert_eq!(a.docs().len(), 3);
}

/// The handle that re-keyed goes on under the new key without reopening (a write queued behind
/// the re-keying, an index save), and a compaction it packed under the old key is dropped instead
/// of committed: a fresh handle reads everything with the stored key.
#[test]
fn the_rekeyed_handle_seals_with_the_new_key_and_drops_an_old_packing() {
    let mut b = Dev::new(None);
    for i in 0..40 {
        b.write(vec![put(&format!("d{i:02}"), i)]);
    }
    block_on(b.ledger.rekey(&crate::crypto::Key::generate().unwrap())).unwrap();
    b.write(vec![put("after", 1)]);
    b.reopen();
    assert_eq!(b.docs().len(), 41);
    // a compaction packed, then a re-keying, then the packing's commit: dropped
    assert!(block_on(b.ledger.compact_prepare(true)).unwrap());
    let key = crate::crypto::Key::generate().unwrap();
    block_on(b.ledger.rekey(&key)).unwrap();
    block_on(b.ledger.compact_commit()).unwrap();
    b.write(vec![put("later", 2)]);
    block_on(b.ledger.compact()).unwrap();
    b.reopen();
    assert_eq!(b.docs().len(), 42);
    let stored = block_on(b.store.ensure_key(&crate::crypto::Key::generate().unwrap())).unwrap();
    assert_eq!(stored.as_bytes(), key.as_bytes());
}

/// A replica offline for longer than the history compaction keeps: the merge's base is older
/// than every event the busy side still stores, so the merge fetches it from the remote; both
/// sides converge with everything.
#[test]
fn a_replica_offline_for_longer_than_the_history_window_merges() {
    let remote = MemRemote::new();
    let a = Dev::new(None);
    let b = Dev::new(Some(&a));
    a.write(vec![put("base", 0)]);
    a.sync(&remote);
    b.sync(&remote);
    b.write(vec![put("from-b", 1), put("base", 2)]);
    let commits = crate::ledger::EVENTS_KEPT + 100;
    for i in 0..commits {
        a.write(vec![put(&format!("a{}", i % 40), i as i64)]);
        if i % 200 == 199 {
            a.sync(&remote); // pushes, then compaction may drop what was pushed
            block_on(a.ledger.compact()).unwrap();
        }
    }
    a.sync(&remote);
    block_on(a.ledger.compact()).unwrap();
    b.sync(&remote);
    a.sync(&remote);
    converged(&[&a, &b]);
    assert_eq!(a.docs()["base"], Some(super::tests::body(2)));
    assert!(a.docs().contains_key("from-b") && b.docs().contains_key("a39"));
}

/// Two devices that never synced make the same first commit (same event, CID and all), write
/// more and compact before their first sync, so the tree of the event they share is stored
/// nowhere; one reopens (no cached blocks). Everyone syncs and converges: a merge reads only the
/// heads' trees. The shrunk case of the server convergence test (CAR names are random, so it
/// runs many times).
#[test]
fn identical_histories_compacted_before_the_first_sync_converge() {
    use Step::*;
    let steps = [
        Bulk(2, 6),
        Bulk(0, 6),
        Put(0, 0, 0),
        Compact(0),
        Put(2, 0, 1),
        Compact(2),
        Reopen(2),
    ];
    for _ in 0..40 {
        let remote = MemRemote::new();
        let mut devs = three_devs();
        for s in steps.iter().cloned() {
            run_step(&mut devs, &remote, s);
        }
        sync_all(&devs, &remote);
        converged(&[&devs[0], &devs[1], &devs[2]]);
        assert_eq!(devs[1].docs()["k5"], Some(body(6)));
        let k0 = devs[1].docs()["k0"].clone();
        assert!(
            k0 == Some(body(0)) || k0 == Some(body(1)),
            "one of the seq-2 writes"
        );
    }
}

/// Many pushes roll the older manifest names into manifest CARs and nest their links: every
/// record stays small, and a fresh replica (and one that synced long ago) still finds every CAR.
#[test]
fn long_push_histories_keep_records_small_and_complete() {
    use super::record::{HeadRecord, INLINE_CARS, INLINE_MORE};
    let remote = MemRemote::new();
    let a = Dev::new(None);
    let early = Dev::new(Some(&a));
    let pushes = 4 * INLINE_CARS * INLINE_MORE;
    let mut nested = false;
    for i in 0..pushes {
        a.write(vec![put(&format!("d{i:04}"), i as i64)]);
        a.sync(&remote);
        if i == 3 {
            early.sync(&remote);
        }
        let heads: Vec<String> = remote
            .keys()
            .into_iter()
            .filter(|k| k.starts_with(HEADS))
            .collect();
        assert_eq!(heads.len(), 1);
        let name = heads[0].rsplit('/').next().unwrap();
        let bytes = block_on(remote.get(&heads[0])).unwrap().unwrap();
        let rec = block_on(HeadRecord::open(&*a.ledger.blocks().aead(), name, &bytes)).unwrap();
        assert!(rec.manifest.cars.len() <= INLINE_CARS, "push {i}: {rec:?}");
        assert!(rec.manifest.more.len() <= INLINE_MORE, "push {i}: {rec:?}");
        nested |= rec.manifest.more.len() == 1 && i > INLINE_CARS * (INLINE_MORE + 1);
    }
    assert!(nested, "the manifest links were never nested");
    let fresh = Dev::new(Some(&a));
    fresh.sync(&remote);
    early.sync(&remote);
    assert_eq!(fresh.docs().len(), pushes);
    assert_eq!(fresh.docs(), a.docs());
    assert_eq!(early.docs(), a.docs());
}
