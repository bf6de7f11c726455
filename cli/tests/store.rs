//! The three commands on a store folder the engine really wrote: two devices pushing concurrent
//! head records, then one merging and pushing again.

mod common;

use std::collections::BTreeMap;

use common::{block, ferroproof, ferroproof_stdin, lines, two_writers, Dev};
use ferroproof::codec::cid_str;

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

#[test]
fn concurrent_writes_of_one_id_resolve_as_the_engine_merges_them() {
    let (mut f, a, b) = two_writers();
    let mut scratch = BTreeMap::new();
    a.write(serde_json::json!([["shared", {"from": "a"}]]), &mut scratch);
    a.push(&f.remote);
    b.write(serde_json::json!([["shared", {"from": "b"}]]), &mut scratch);
    b.push(&f.remote);
    let r = ferroproof(&["export", "--store", &f.store(), "--key-from", &f.invite()]);
    assert_eq!(r.code, 0, "{r:?}");
    let c = f.dev();
    c.pull(&f.remote);
    assert_eq!(r.out(), c.jsonl());
    let docs = lines(&r.out());
    let shared: Vec<_> = docs.iter().filter(|d| d["_id"] == "shared").collect();
    assert_eq!(shared.len(), 1, "{docs:?}");
    assert!(
        shared[0]["from"] == "a" || shared[0]["from"] == "b",
        "{shared:?}"
    );
    f.model.insert("shared".into(), shared[0].clone());
    assert_eq!(docs, f.expected());
}

#[test]
fn a_long_history_rolled_into_a_manifest_car_is_followed() {
    let mut f = common::Fixture::new();
    let a = f.dev();
    for i in 0..70 {
        a.write(
            serde_json::json!([[format!("k{:02}", i % 30), {"i": i}]]),
            &mut f.model,
        );
    }
    a.push(&f.remote);
    assert_eq!(
        f.objects("cars").len(),
        71,
        "70 commits and one manifest car"
    );
    let store = f.store();
    let r = ferroproof(&["inspect", "--store", &store, "--key-from", &f.invite()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out().contains("+ 1 manifest cars"), "{r:?}");
    let r = ferroproof(&["verify", "--store", &store, "--key-from", &f.invite()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out().contains(": ok: 71 cars"), "{r:?}");
    let r = ferroproof(&["export", "--store", &store, "--key-from", &f.invite()]);
    assert_eq!(lines(&r.out()), f.expected());
    // the manifest car is needed: without it, the head record's manifest is incomplete
    let manifest = f
        .objects("cars")
        .into_iter()
        .find(|c| {
            let r = ferroproof(&[
                "inspect",
                "--car",
                f.object_path("cars", c).to_str().unwrap(),
                "--key-from",
                &f.invite(),
            ]);
            r.out().contains("blocks: 1 ")
        })
        .unwrap();
    std::fs::remove_file(f.object_path("cars", &manifest)).unwrap();
    let r = ferroproof(&["verify", "--store", &store, "--key-from", &f.invite()]);
    r.fails_with(
        1,
        &format!("its manifest names cars/{manifest}, which is not stored"),
    );
}
