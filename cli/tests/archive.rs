//! Archives (`db.exportCar`, written here by the engine's `export_archive`) given as `--car`:
//! inspected, verified through the engine's import, exported; sealed ones need the key; an
//! incomplete one is a problem, not a crash.

mod common;

use common::{block, ferroproof, Fixture};

/// A device with puts, updates, deletes and a document in its own block; its archive bytes.
fn archived(sealed: bool) -> (Fixture, common::Dev, Vec<u8>) {
    let mut f = Fixture::new();
    let a = f.dev();
    a.write(
        serde_json::json!([["a", {"n": 1}], ["b", {"big": "y".repeat(2000)}], ["c", {"n": 3}]]),
        &mut f.model,
    );
    a.write(
        serde_json::json!([["a", {"n": 10}], ["c", null]]),
        &mut f.model,
    );
    let bytes = block(a.ledger.export_archive(sealed, true)).unwrap();
    (f, a, bytes)
}

fn save(f: &Fixture, name: &str, bytes: &[u8]) -> String {
    let p = f.tmp.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn a_plain_archive_is_inspected_verified_and_exported_without_a_key() {
    let (f, a, bytes) = archived(false);
    let p = save(&f, "backup.car", &bytes);
    let head = ferroproof::codec::cid_str(&a.ledger.snapshot().head[0]);
    let r = ferroproof(&["inspect", "--car", &p]);
    assert_eq!(r.code, 0, "{r:?}");
    let line = format!("archive: seq 2, {} documents, head [{head}]", f.model.len());
    assert!(r.out().contains(&line), "{r:?}");
    let r = ferroproof(&["verify", "--car", &p]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out().contains(&format!("complete {line}")), "{r:?}");
    let r = ferroproof(&["export", "--car", &p]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(common::lines(&r.out()), f.expected());
    assert_eq!(r.out(), a.jsonl());
}

#[test]
fn a_sealed_archive_needs_its_key() {
    let (f, a, bytes) = archived(true);
    let p = save(&f, "backup.car", &bytes);
    let r = ferroproof(&["inspect", "--car", &p]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out().contains("ciphertext"), "{r:?}");
    ferroproof(&["export", "--car", &p]).fails_with(2, "sealed archive");
    let r = ferroproof(&["export", "--car", &p, "--key-from", &f.invite()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.out(), a.jsonl());
    let r = ferroproof(&["verify", "--car", &p, "--key-from", &f.invite()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out().contains("GCM tag verified, complete archive"),
        "{r:?}"
    );
    let wrong = common::invite_for(&f.id, &ferroproof::crypto::Key::generate().unwrap());
    ferroproof(&["export", "--car", &p, "--key-from", &wrong]).fails_with(5, "wrong key");
}

#[test]
fn an_incomplete_archive_is_a_problem_and_a_data_car_is_not_an_archive() {
    let (f, _, bytes) = archived(false);
    let (roots, mut blocks) = ferroproof::car::read_car("t", &bytes).unwrap();
    let last = blocks.pop().unwrap(); // a tree node (the root and the head event come first)
    assert!(last.cid != roots[0]);
    let p = save(
        &f,
        "cut.car",
        &ferroproof::car::write_car(roots[0], &blocks.iter().collect::<Vec<_>>()),
    );
    let r = ferroproof(&["verify", "--car", &p]);
    r.fails_with(1, "cut.car: archive:");
    ferroproof(&["export", "--car", &p]).fails_with(6, "cut.car");
    ferroproof(&["inspect", "--car", &p]).fails_with(6, "cut.car");

    let (f, _, _) = common::two_writers();
    let car = f.object_path("cars", &f.objects("cars")[0]);
    ferroproof(&[
        "export",
        "--car",
        car.to_str().unwrap(),
        "--key-from",
        &f.invite(),
    ])
    .fails_with(6, "not an archive");
}
