//! Native tests of files (docs/format.md §16): chunked round trip with the content CID, the
//! staged-CAR check, compaction keeping live files and dropping dead ones, re-keying, and sync
//! (pushed, never in a manifest, fetched on demand, tampering refused).

use std::collections::BTreeMap;

use futures::executor::block_on;
use ipld_core::ipld::Ipld;

use super::FILE_CHUNK_BYTES;
use crate::codec::{cid_of, cid_str, RAW};
use crate::crypto::Key;
use crate::doc::{Body, WriteOp};
use crate::error::Error;
use crate::ledger::{FileMeta, Ledger};
use crate::store::mem::MemStore;
use crate::store::Store;
use crate::sync::mem::MemRemote;
use crate::sync::{Remote, Replica, CARS, HEADS};

/// The file key of a metadata entry (base64), as the package decodes it.
fn file_key(b64: &str) -> crate::error::Result<Key> {
    let bad = || Error::InvalidArg("bad file key".into());
    Key::from_bytes(&crate::b64::decode(b64.as_bytes()).map_err(|_| bad())?).map_err(|_| bad())
}

fn open(store: &MemStore) -> Ledger<MemStore> {
    block_on(Ledger::open("t", store.clone(), None)).unwrap()
}

/// Deterministic test bytes.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// Writes `data` as a file the way the package does: chunk by chunk.
fn write_file(l: &Ledger<MemStore>, data: &[u8]) -> FileMeta {
    let mut w = block_on(l.file_writer()).unwrap();
    let mut chunks: Vec<&[u8]> = data.chunks(FILE_CHUNK_BYTES).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    for c in chunks {
        block_on(l.write_file_chunk(&mut w, c.to_vec())).unwrap();
    }
    w.finish().unwrap()
}

/// Reads a file back from its CARs (`None` if one is not stored here).
fn read_file(l: &Ledger<MemStore>, m: &FileMeta) -> Option<Vec<u8>> {
    let key = file_key(&m.key).unwrap();
    let mut out = Vec::new();
    for car in &m.cars {
        out.extend(block_on(l.file_chunk(car, &key, None)).unwrap()?);
    }
    Some(out)
}

/// A document with one file under `_files.<name>` (metadata as the package writes it).
fn doc_with(id: &str, name: &str, m: &FileMeta) -> WriteOp {
    let mut meta = BTreeMap::new();
    meta.insert("cid".to_string(), Ipld::String(m.cid.clone()));
    meta.insert("car".to_string(), Ipld::String(m.cars[0].clone()));
    meta.insert(
        "cars".to_string(),
        Ipld::List(m.cars.iter().cloned().map(Ipld::String).collect()),
    );
    meta.insert("key".to_string(), Ipld::String(m.key.clone()));
    meta.insert("name".to_string(), Ipld::String(name.into()));
    meta.insert("size".to_string(), Ipld::Integer(m.size.into()));
    meta.insert("type".to_string(), Ipld::String("text/plain".into()));
    let mut files = BTreeMap::new();
    files.insert(name.to_string(), Ipld::Map(meta));
    let mut body = Body::new();
    body.insert("_files".into(), Ipld::Map(files));
    body.insert("title".into(), Ipld::String(format!("doc {id}")));
    WriteOp::put(id, &body)
}

fn put(l: &Ledger<MemStore>, op: WriteOp, m: &FileMeta) {
    block_on(l.write_with_files(vec![op], &m.cars)).unwrap();
}

#[test]
fn a_file_round_trips_in_chunks_with_its_content_cid() {
    let store = MemStore::new();
    let l = open(&store);
    let data = bytes(2 * FILE_CHUNK_BYTES + 12_345, 7);
    let m = write_file(&l, &data);
    assert_eq!(m.cars.len(), 3);
    assert_eq!(m.size, data.len() as u64);
    assert_eq!(m.cid, cid_str(&cid_of(RAW, &data).unwrap()));
    put(&l, doc_with("a", "big.bin", &m), &m);
    assert_eq!(read_file(&l, &m).unwrap(), data);
    // a fresh handle reads it too, and the store tells file CARs apart
    assert_eq!(read_file(&open(&store), &m).unwrap(), data);
    let mut files = block_on(store.list_cars(true)).unwrap();
    files.sort();
    let mut want = m.cars.clone();
    want.sort();
    assert_eq!(files, want);
    // an empty file is one empty chunk
    let empty = write_file(&l, &[]);
    assert_eq!((empty.cars.len(), empty.size), (1, 0));
    assert_eq!(read_file(&l, &empty).unwrap(), Vec::<u8>::new());
    // a chunk over the limit is refused
    let mut w = block_on(l.file_writer()).unwrap();
    let r = block_on(l.write_file_chunk(&mut w, vec![0; FILE_CHUNK_BYTES + 1]));
    assert!(matches!(r, Err(Error::InvalidArg(_))), "{r:?}");
}

#[test]
fn a_wrong_key_or_damaged_bytes_are_reported_not_returned() {
    let store = MemStore::new();
    let l = open(&store);
    let m = write_file(&l, &bytes(5000, 1));
    let other = Key::generate().unwrap();
    let r = block_on(l.file_chunk(&m.cars[0], &other, None));
    assert!(matches!(r, Err(Error::Decrypt { .. })), "{r:?}");
    store.tamper(&m.cars[0], |b| b[40] ^= 1);
    let r = block_on(l.file_chunk(&m.cars[0], &file_key(&m.key).unwrap(), None));
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
    assert!(matches!(file_key("not base64!"), Err(Error::InvalidArg(_))));
}

#[test]
fn a_commit_naming_a_file_car_that_is_gone_writes_nothing() {
    let store = MemStore::new();
    let l = open(&store);
    let m = write_file(&l, &bytes(100, 2));
    block_on(store.remove_cars(&m.cars)).unwrap();
    let r = block_on(l.write_with_files(vec![doc_with("a", "f", &m)], &m.cars));
    assert!(r.is_err(), "{r:?}");
    assert_eq!(l.snapshot().seq, 0);
    assert!(block_on(open(&store).get("a")).is_err());
}

#[test]
fn compaction_keeps_live_files_and_drops_the_bytes_of_deleted_or_replaced_ones() {
    let store = MemStore::new();
    let l = open(&store);
    let data = [
        bytes(FILE_CHUNK_BYTES + 10, 3),
        bytes(3000, 4),
        bytes(70_000, 5),
    ];
    let (a, b, c) = (
        write_file(&l, &data[0]),
        write_file(&l, &data[1]),
        write_file(&l, &data[2]),
    );
    put(&l, doc_with("a", "a.bin", &a), &a);
    put(&l, doc_with("b", "b.bin", &b), &b);
    // a big document (stored in its own block) keeps its file too
    let mut big = doc_with("c", "c.bin", &c);
    if let Some(body) = &mut big.body {
        let mut fields = body.body().unwrap();
        fields.insert("pad".into(), Ipld::String("x".repeat(5000)));
        *body = crate::doc::RawDoc::from_body(&fields).unwrap();
    }
    put(&l, big, &c);
    let orphan = write_file(&l, &bytes(10, 6)); // staged, never committed (a crash)
    block_on(l.compact()).unwrap();
    for (m, want) in [&a, &b, &c].into_iter().zip(&data) {
        assert_eq!(
            read_file(&l, m).as_ref(),
            Some(want),
            "a live file survives compaction"
        );
    }
    assert!(read_file(&l, &orphan).is_none(), "an orphan is garbage");
    // replace b's file, delete a: their bytes go with the next compaction
    let b2 = write_file(&l, &bytes(10, 8));
    put(&l, doc_with("b", "b.bin", &b2), &b2);
    block_on(l.write(vec![WriteOp::del("a")])).unwrap();
    block_on(l.compact()).unwrap();
    assert!(read_file(&l, &a).is_none());
    assert!(read_file(&l, &b).is_none());
    assert_eq!(read_file(&l, &b2), Some(bytes(10, 8)));
    assert_eq!(read_file(&l, &c).as_ref(), Some(&data[2]));
}

#[test]
fn rekeying_keeps_files_readable_and_queues_them_for_the_remote() {
    let store = MemStore::new();
    let l = open(&store);
    let m = write_file(&l, &bytes(2 * FILE_CHUNK_BYTES, 9));
    put(&l, doc_with("a", "f", &m), &m);
    block_on(l.rekey(&Key::generate().unwrap())).unwrap();
    let l = open(&store);
    assert_eq!(read_file(&l, &m).unwrap(), bytes(2 * FILE_CHUNK_BYTES, 9));
    let out = l.snapshot().out.clone().unwrap();
    assert!(m.cars.iter().all(|c| out.contains(c)), "{out:?}");
}

fn replica<'a>(l: &'a Ledger<MemStore>, remote: &MemRemote) -> Replica<'a, MemStore, MemRemote> {
    Replica {
        ledger: l,
        remote: remote.clone(),
        id: "r".into(),
    }
}

#[test]
fn files_are_pushed_but_never_in_a_manifest_and_fetched_on_demand() {
    let remote = MemRemote::new();
    let (sa, sb) = (MemStore::new(), MemStore::new());
    let a = open(&sa);
    block_on(a.store().load_header()).unwrap();
    sb.share_key_from(&sa);
    let b = open(&sb);
    block_on(replica(&a, &remote).sync()).unwrap(); // attached before the write
    let data = bytes(FILE_CHUNK_BYTES + 500, 10);
    let m = write_file(&a, &data);
    put(&a, doc_with("a", "f.bin", &m), &m);
    let out = a.snapshot().out.clone().unwrap();
    assert_eq!(out.len(), 3, "two file CARs, then the commit's: {out:?}");
    assert_eq!(&out[..2], &m.cars[..]);
    block_on(replica(&a, &remote).sync()).unwrap();
    for c in &m.cars {
        assert!(block_on(remote.get(&crate::sync::key(CARS, c)))
            .unwrap()
            .is_some());
    }
    // B merges the document without downloading a byte of the file
    assert!(remote.keys().iter().any(|k| k.starts_with(HEADS)));
    let pulled = block_on(replica(&b, &remote).pull()).unwrap();
    assert!(
        pulled.bytes < 100_000,
        "the pull downloaded {} bytes",
        pulled.bytes
    );
    assert!(block_on(b.get("a")).is_ok());
    assert!(
        read_file(&b, &m).is_none(),
        "file CARs are not pulled to merge"
    );
    // a fresh replica (eager pull of everything in the manifests) does not get them either
    let sc = MemStore::new();
    sc.share_key_from(&sa);
    let c = open(&sc);
    let pulled = block_on(replica(&c, &remote).pull()).unwrap();
    assert!(
        pulled.bytes < 100_000,
        "the pull downloaded {} bytes",
        pulled.bytes
    );
    assert!(block_on(c.get("a")).is_ok());
    assert!(block_on(sc.list_cars(true)).unwrap().is_empty());
    // file(): fetched by name, checked, stored
    let key = file_key(&m.key).unwrap();
    let mut got = Vec::new();
    for car in &m.cars {
        let stored = block_on(remote.get(&crate::sync::key(CARS, car)))
            .unwrap()
            .unwrap();
        got.extend(
            block_on(b.file_chunk(car, &key, Some(stored)))
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(got, data);
    assert_eq!(read_file(&b, &m).unwrap(), data, "stored locally now");
    // a tampered remote copy is refused, and nothing is stored
    remote.tamper(&crate::sync::key(CARS, &m.cars[0]), |b| b[50] ^= 1);
    let stored = block_on(remote.get(&crate::sync::key(CARS, &m.cars[0])))
        .unwrap()
        .unwrap();
    let r = block_on(c.file_chunk(&m.cars[0], &key, Some(stored)));
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
    assert!(block_on(sc.list_cars(true)).unwrap().is_empty());
    // B's compaction keeps the fetched file (its document is live)
    block_on(b.compact()).unwrap();
    assert_eq!(read_file(&b, &m).unwrap(), data);
}
