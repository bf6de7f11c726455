//! `export --format car`: a plain CAR v1 that the reference reader (iroh-car) parses, every block's
//! CID matching its bytes, holding exactly the documents written, in the layout of docs/cli.md.

mod common;

use std::collections::BTreeMap;

use cid::Cid;
use common::{block, ferroproof, two_writers};
use ferroproof::codec::cid_str;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};

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
