//! Storage scenarios written once and run against every backend: natively against the memory
//! store (`tests/native.rs`) and in headless Chromium against IndexedDB (`tests/web.rs`).

use ferroproof::crypto::Key;
use ferroproof::doc::{Body, WriteOp};
use ferroproof::ledger::{AllDocsOpts, Ledger};
use ferroproof::store::{CommitOutcome, CommitWrite, Store, StoredCar};
use ipld_core::ipld::Ipld;

/// A storage backend under test. `open` twice with one name gives two handles on the same data
/// (like two tabs).
#[allow(async_fn_in_trait)]
pub trait Backend {
    type S: Store;
    async fn open(&self, name: &str) -> Self::S;
    /// Flips one byte of the stored CAR `car` in the ledger `name`.
    async fn tamper(&self, name: &str, car: &str);
}

fn put(id: &str, n: i64) -> WriteOp {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    WriteOp::put(id, &b)
}

fn n_of(doc: &ferroproof::doc::RawDoc) -> i64 {
    let b = doc.body().unwrap();
    match b.get("n") {
        Some(Ipld::Integer(i)) => *i as i64,
        _ => panic!("no n in {b:?}"),
    }
}

pub async fn persist_and_reopen<B: Backend>(b: &B, name: &str) {
    let l = Ledger::open(name, b.open(name).await, None).await.unwrap();
    l.write(vec![put("a", 1), put("b", 2)]).await.unwrap();
    l.write(vec![put("a", 3)]).await.unwrap();
    let head = l.snapshot().head.clone();
    drop(l);
    let l = Ledger::open(name, b.open(name).await, None).await.unwrap();
    assert_eq!(l.snapshot().head, head);
    assert_eq!(n_of(&l.get("a").await.unwrap()), 3);
    assert_eq!(n_of(&l.get("b").await.unwrap()), 2);
}

pub async fn stale_writer_catches_up<B: Backend>(b: &B, name: &str) {
    let one = Ledger::open(name, b.open(name).await, None).await.unwrap();
    let two = Ledger::open(name, b.open(name).await, None).await.unwrap();
    one.write(vec![put("from-one", 1)]).await.unwrap();
    two.write(vec![put("from-two", 2)]).await.unwrap(); // built on the empty state: conflicts, re-applies
    let three = Ledger::open(name, b.open(name).await, None).await.unwrap();
    let (rows, state) = three.all_docs(&AllDocsOpts::default()).await.unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["from-one", "from-two"]);
    assert_eq!(state.seq, 2);
}

pub async fn conflicting_commit_writes_nothing<B: Backend>(b: &B, name: &str) {
    let l = Ledger::open(name, b.open(name).await, None).await.unwrap();
    l.write(vec![put("a", 1)]).await.unwrap();
    let store = b.open(name).await;
    let header = store.load_header().await.unwrap().unwrap();
    let cars = store.list_cars(false).await.unwrap().len();
    let mut fake = header.clone();
    fake.seq = 99;
    let block = ferroproof::codec::cid_of(ferroproof::codec::DAG_CBOR, b"not stored").unwrap();
    let w = CommitWrite {
        expect: Some("bafkreinotthecurrentcar".into()),
        staged: vec![],
        cars: vec![StoredCar {
            name: "bafkreinewcar".into(),
            bytes: vec![1, 2, 3],
            cids: vec![block],
        }],
        header: fake,
    };
    assert_eq!(store.commit(w).await.unwrap(), CommitOutcome::Conflict);
    assert_eq!(store.load_header().await.unwrap().unwrap(), header);
    assert_eq!(store.list_cars(false).await.unwrap().len(), cars);
    assert_eq!(store.read_car("bafkreinewcar").await.unwrap(), None);
    assert!(store.locate_cars(&[block]).await.unwrap().is_empty());
    // two blocks of the one CAR and an unknown one: that CAR once, with its stored bytes
    let cid = |s: &str| ferroproof::codec::parse_cid(s).unwrap();
    let asked = [
        cid(header.docs.as_deref().unwrap()),
        block,
        cid(&header.head[0]),
    ];
    let found = store.locate_cars(&asked).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, header.car);
    assert!(found[0].1.is_some());
    assert_eq!(found[0].1, store.read_car(&header.car).await.unwrap());
}

pub async fn tampered_car_is_corrupt<B: Backend>(b: &B, name: &str) {
    let l = Ledger::open(name, b.open(name).await, None).await.unwrap();
    l.write(vec![put("a", 1)]).await.unwrap();
    let car = l.snapshot().car.clone().unwrap();
    b.tamper(name, &car).await;
    let fresh = Ledger::open(name, b.open(name).await, None).await.unwrap();
    let e = fresh.get("a").await.unwrap_err();
    assert_eq!(e.code(), "CORRUPT");
    assert!(e.to_string().contains(&car), "{e}");
}

pub async fn wrong_key_is_decrypt<B: Backend>(b: &B, name: &str) {
    let l = Ledger::open(name, b.open(name).await, None).await.unwrap();
    l.write(vec![put("a", 1)]).await.unwrap();
    let wrong = Ledger::open(name, b.open(name).await, Some(Key::generate().unwrap()))
        .await
        .unwrap();
    assert_eq!(wrong.get("a").await.unwrap_err().code(), "DECRYPT");
    let right = Ledger::open(name, b.open(name).await, None).await.unwrap();
    assert_eq!(n_of(&right.get("a").await.unwrap()), 1);
}

/// Opening a ledger of `commits` commits and getting one document reads a handful of CARs.
pub async fn lazy_open_reads_few_cars<B: Backend>(b: &B, name: &str, commits: usize) {
    let l = Ledger::open(name, b.open(name).await, None).await.unwrap();
    for i in 0..commits {
        l.write(vec![put(&format!("doc{i:05}"), i as i64)])
            .await
            .unwrap();
    }
    let fresh = Ledger::open(name, b.open(name).await, None).await.unwrap();
    assert_eq!(fresh.stats().car_reads, 0, "open reads no CAR");
    assert_eq!(n_of(&fresh.get("doc00007").await.unwrap()), 7);
    let reads = fresh.stats().car_reads;
    // one CAR per tree level (3 at fanout 16) plus the newest CAR, tried first
    assert!(
        reads <= 4,
        "a get after {commits} commits read {reads} CARs"
    );
}
