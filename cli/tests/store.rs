//! The three commands on a store folder the engine really wrote: two devices pushing concurrent
//! head records, then one merging and pushing again.

mod common;

use std::collections::BTreeMap;

use cid::Cid;
use common::{block, ferroproof, ferroproof_stdin, lines, two_writers, Dev};
use ferroproof::codec::cid_str;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};

#[test]
fn inspect_without_a_key_sees_names_and_sizes_only() {
    let (f, _, _) = two_writers();
    let r = ferroproof(&["inspect", "--store", &f.store()]);
    assert_eq!(r.code, 0, "{r:?}");
    let out = r.out();
    assert!(out.contains(&format!("ledger {}", f.id)), "{out}");
    let cars = f.objects("cars");
    let total: u64 = cars
        .iter()
        .map(|c| std::fs::metadata(f.object_path("cars", c)).unwrap().len())
        .sum();
    assert!(
        out.contains(&format!("cars: {} ({total} bytes", cars.len())),
        "{out}"
    );
    assert!(out.contains("head records: 2 ("), "{out}");
    for h in f.objects("heads") {
        let size = std::fs::metadata(f.object_path("heads", &h)).unwrap().len();
        assert!(
            out.contains(&format!("heads/{h}: {size} bytes (sealed")),
            "{out}"
        );
    }
}

#[test]
fn inspect_with_the_key_names_the_heads_and_the_merged_state() {
    let (f, a, b) = two_writers();
    let r = ferroproof(&["inspect", "--store", &f.store(), "--key-from", &f.invite()]);
    assert_eq!(r.code, 0, "{r:?}");
    let out = r.out();
    for dev in [&a, &b] {
        let head = cid_str(&dev.ledger.snapshot().head[0]);
        assert!(out.contains(&format!("heads [{head}]")), "{head} in {out}");
    }
    assert!(
        out.contains(&format!("merged: seq 4, {} documents", f.model.len())),
        "{out}"
    );
}

#[test]
fn verify_passes_with_and_without_the_key() {
    let (f, _, _) = two_writers();
    let r = ferroproof(&["verify", "--store", &f.store()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out()
            .contains("without a key nothing else can be checked"),
        "{r:?}"
    );
    let r = ferroproof(&[
        "verify",
        "--store",
        &f.store(),
        "--key-from",
        &f.invite(),
        "--all",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let cars = f.objects("cars").len();
    assert!(r.out().contains(&format!(": ok: {cars} cars")), "{r:?}");
    assert!(r.out().contains("naming 2 heads"), "{r:?}");
}

#[test]
fn export_jsonl_merges_every_head_record_as_a_replica_does() {
    let (mut f, a, _b) = two_writers();
    let expect = f.expected();
    let r = ferroproof(&["export", "--store", &f.store(), "--key-from", &f.invite()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(lines(&r.out()), expect);
    // byte for byte what a fresh replica pulling the same store sees
    let c = f.dev();
    c.pull(&f.remote);
    assert_eq!(r.out(), c.jsonl());

    // one device merges both records, writes on and pushes: one record left
    a.pull(&f.remote);
    a.write(
        serde_json::json!([["apple", null], ["grape", {"n": 7}]]),
        &mut f.model,
    );
    a.push(&f.remote);
    assert_eq!(f.objects("heads").len(), 1);
    let r = ferroproof(&["export", "--store", &f.store(), "--key-from", &f.invite()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(lines(&r.out()), f.expected());
    assert_eq!(r.out(), a.jsonl());
}

#[test]
fn the_invite_comes_from_a_file_stdin_or_a_url() {
    let (f, _, _) = two_writers();
    let expect = f.expected();
    let file = f.tmp.path().join("invite.txt");
    std::fs::write(&file, format!("{}\n", f.invite())).unwrap();
    let url = format!("https://app.example/#invite={}", f.invite());
    let store = f.store();
    let runs = [
        ferroproof(&[
            "export",
            "--store",
            &store,
            "--key-from",
            file.to_str().unwrap(),
        ]),
        ferroproof_stdin(
            &["export", "--store", &store, "--key-from", "-"],
            f.invite().as_bytes(),
        ),
        ferroproof(&["export", "--store", &store, "--key-from", &url]),
        ferroproof(&[
            "export",
            "--store",
            &store,
            "--ledger",
            &f.id,
            "--key-from",
            &url,
        ]),
    ];
    for r in runs {
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(lines(&r.out()), expect);
    }
    let out = f.tmp.path().join("docs.jsonl");
    let r = ferroproof(&[
        "export",
        "--store",
        &store,
        "--key-from",
        &url,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!((r.code, r.stdout.len()), (0, 0), "{r:?}");
    assert_eq!(lines(&std::fs::read_to_string(out).unwrap()), expect);
}

/// Reads a CAR with the reference implementation; checks each block's CID against its bytes.
fn reference_read(car: &[u8]) -> (Vec<Cid>, BTreeMap<Cid, Vec<u8>>) {
    block(async {
        let mut r = iroh_car::CarReader::new(car).await.unwrap();
        let roots = r.header().roots().to_vec();
        let mut blocks = BTreeMap::new();
        while let Some((cid, data)) = r.next_block().await.unwrap() {
            assert_eq!(
                (cid.version(), cid.codec(), cid.hash().code()),
                (cid::Version::V1, 0x71, 0x12)
            );
            assert_eq!(
                cid.hash().digest(),
                Sha256::digest(&data).as_slice(),
                "{cid}"
            );
            assert!(
                blocks.insert(cid, data).is_none(),
                "block {cid} written twice"
            );
        }
        (roots, blocks)
    })
}

fn ipld_to_json(v: &Ipld) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Ipld::Null => Value::Null,
        Ipld::Bool(b) => Value::Bool(*b),
        Ipld::Integer(i) => Value::from(i64::try_from(*i).unwrap()),
        Ipld::String(s) => Value::String(s.clone()),
        Ipld::List(l) => Value::Array(l.iter().map(ipld_to_json).collect()),
        Ipld::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), ipld_to_json(v)))
                .collect(),
        ),
        other => panic!("unexpected value in a test document: {other:?}"),
    }
}

#[test]
fn export_car_is_a_plain_car_v1_of_dag_cbor_blocks() {
    let (f, _, _) = two_writers();
    let r = ferroproof(&[
        "export",
        "--store",
        &f.store(),
        "--key-from",
        &f.invite(),
        "--format",
        "car",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let (roots, blocks) = reference_read(&r.stdout);
    assert_eq!(roots.len(), 1);
    let decode = |c: &Cid| ferroproof::codec::decode(&blocks[c]).unwrap();
    let Ipld::Map(root) = decode(&roots[0]) else {
        panic!("root is not a map")
    };
    assert_eq!(root["format"], Ipld::String("ferroproof-export".into()));
    assert_eq!(root["ledger"], Ipld::String(f.id.clone()));
    assert_eq!(root["count"], Ipld::Integer(f.model.len() as i128));
    let Ipld::List(pages) = &root["pages"] else {
        panic!("pages is not a list")
    };
    let mut docs = Vec::new();
    for p in pages {
        let Ipld::Link(p) = p else {
            panic!("page is not a link")
        };
        let Ipld::List(entries) = decode(p) else {
            panic!("page is not a list")
        };
        for e in entries {
            let Ipld::List(pair) = e else {
                panic!("entry is not a pair")
            };
            let (Ipld::String(id), Ipld::Link(doc)) = (&pair[0], &pair[1]) else {
                panic!("bad entry")
            };
            let doc = ipld_to_json(&decode(doc));
            assert_eq!(doc["_id"], serde_json::Value::String(id.clone()));
            docs.push(doc);
        }
    }
    assert_eq!(docs, f.expected());
    assert_eq!(blocks.len(), 1 + pages.len() + f.model.len());
    // the tool reads its own export back as a plain car
    let file = f.tmp.path().join("export.car");
    std::fs::write(&file, &r.stdout).unwrap();
    let r = ferroproof(&["inspect", "--car", file.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out().contains(&format!("root {}", cid_str(&roots[0]))),
        "{r:?}"
    );
    assert!(
        r.out().contains(&format!("blocks: {}", blocks.len())),
        "{r:?}"
    );
    let r = ferroproof(&["verify", "--car", file.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn an_empty_store_and_several_ledgers() {
    let f = common::Fixture::new();
    let r = ferroproof(&["inspect", "--store", &f.store()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out().contains("head records: 0"), "{r:?}");
    let r = ferroproof(&["export", "--store", &f.store(), "--key-from", &f.invite()]);
    assert_eq!((r.code, r.stdout.len()), (0, 0), "{r:?}");
    // a second ledger in the same folder: each invite picks its own
    let other = common::DirRemote::create(f.tmp.path(), "bbbbbbbbbbbbbbbbbbbbbbbbbb");
    let key = ferroproof::crypto::Key::generate().unwrap();
    let d = Dev::new(&key);
    let mut model = BTreeMap::new();
    d.write(serde_json::json!([["only", {"here": 1}]]), &mut model);
    block(d.replica(&other).push()).unwrap();
    let inv = common::invite_for("bbbbbbbbbbbbbbbbbbbbbbbbbb", &key);
    let r = ferroproof(&["export", "--store", &f.store(), "--key-from", &inv]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(lines(&r.out()), model.into_values().collect::<Vec<_>>());
    let r = ferroproof(&["inspect", "--store", &f.store()]);
    assert!(
        r.out().contains(&format!("ledger {}", f.id)) && r.out().contains("ledger bbbb"),
        "{r:?}"
    );
}
