//! Bad input: tampered, truncated, missing and garbage objects, wrong keys, malformed invites and
//! missing folders each give a precise report or one clear line and their own exit code.

mod common;

use common::{ferroproof, two_writers, Fixture};

fn flip(path: &std::path::Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    let i = at.min(b.len() - 1);
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

#[test]
fn a_flipped_byte_in_a_car_fails_verify_naming_that_car() {
    let (f, _, _) = two_writers();
    let cars = f.objects("cars");
    flip(&f.object_path("cars", &cars[1]), 40);
    let store = f.store();
    for key in [None, Some(f.invite())] {
        let mut args = vec!["verify", "--store", &store];
        if let Some(k) = &key {
            args.extend(["--key-from", k]);
        }
        let r = ferroproof(&args);
        r.fails_with(
            1,
            &format!("ledgers/{}/cars/{}: stored bytes", f.id, cars[1]),
        );
        assert!(r.stderr.contains("do not match its name"), "{r:?}");
    }
    // export refuses it too, naming that CAR (not a head record)
    let r = ferroproof(&["export", "--store", &store, "--key-from", &f.invite()]);
    r.fails_with(6, &format!("ledgers/{}/cars/{}", f.id, cars[1]));
}

#[test]
fn verify_all_reports_every_tampered_object() {
    let (f, _, _) = two_writers();
    let cars = f.objects("cars");
    let heads = f.objects("heads");
    flip(&f.object_path("cars", &cars[0]), 100);
    flip(&f.object_path("heads", &heads[0]), 10);
    let store = f.store();
    let r = ferroproof(&["verify", "--store", &store]);
    r.fails_with(1, &cars[0]);
    let r = ferroproof(&["verify", "--store", &store, "--all"]);
    assert_eq!(r.code, 1, "{r:?}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{r:?}");
    assert!(lines[0].contains(&format!("cars/{}", cars[0])), "{r:?}");
    assert!(lines[1].contains(&format!("heads/{}", heads[0])), "{r:?}");
}

#[test]
fn a_missing_car_is_an_incomplete_tree() {
    let (f, _, _) = two_writers();
    for car in f.objects("cars") {
        std::fs::remove_file(f.object_path("cars", &car)).unwrap();
    }
    let r = ferroproof(&["verify", "--store", &f.store(), "--key-from", &f.invite()]);
    r.fails_with(1, "which is not stored");
    let r = ferroproof(&[
        "verify",
        "--store",
        &f.store(),
        "--key-from",
        &f.invite(),
        "--all",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("clock event"), "{r:?}");
    assert!(r.stderr.contains("is in no stored car"), "{r:?}");
    let r = ferroproof(&["export", "--store", &f.store(), "--key-from", &f.invite()]);
    assert_eq!(r.code, 6, "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
}

#[test]
fn a_wrong_key_is_a_clear_error_with_its_own_code() {
    let (f, _, _) = two_writers();
    let wrong = common::invite_for(&f.id, &ferroproof::crypto::Key::generate().unwrap());
    let store = f.store();
    for cmd in ["inspect", "verify", "export"] {
        ferroproof(&[cmd, "--store", &store, "--key-from", &wrong]).fails_with(5, "wrong key");
    }
    let car = f.object_path("cars", &f.objects("cars")[0]);
    ferroproof(&[
        "inspect",
        "--car",
        car.to_str().unwrap(),
        "--key-from",
        &wrong,
    ])
    .fails_with(5, "wrong key");
    ferroproof(&[
        "verify",
        "--car",
        car.to_str().unwrap(),
        "--key-from",
        &wrong,
    ])
    .fails_with(5, "wrong key");
}

#[test]
fn malformed_invites_missing_folders_and_non_stores() {
    let f = Fixture::new();
    let store = f.store();
    for bad in [
        "fp1.@@@",
        "fp1.",
        "https://x/#invite=fp2.abc",
        "no-such-file",
    ] {
        ferroproof(&["export", "--store", &store, "--key-from", bad]).fails_with(4, "invite");
    }
    let garbage = f.tmp.path().join("garbage-invite");
    std::fs::write(&garbage, b"\x00\xffnot an invite").unwrap();
    ferroproof(&[
        "export",
        "--store",
        &store,
        "--key-from",
        garbage.to_str().unwrap(),
    ])
    .fails_with(4, "malformed invite");
    let missing = f.tmp.path().join("nope");
    ferroproof(&["inspect", "--store", missing.to_str().unwrap()]).fails_with(3, "nope");
    ferroproof(&["verify", "--store", &store, "--ledger", "zzzz"]).fails_with(3, "no ledger");
    let not_a_store = tempfile::tempdir().unwrap();
    ferroproof(&["inspect", "--store", not_a_store.path().to_str().unwrap()])
        .fails_with(6, "not a ferroproof-server store");
    let r = ferroproof(&["inspect"]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn truncated_and_garbage_files_never_panic() {
    let (f, _, _) = two_writers();
    let key = f.invite();
    let good = ferroproof(&[
        "export",
        "--store",
        &f.store(),
        "--key-from",
        &key,
        "--format",
        "car",
    ]);
    assert_eq!(good.code, 0, "{good:?}");
    let cars = f.objects("cars");
    let victim = f.object_path("cars", &cars[0]);
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    let r = ferroproof(&["verify", "--store", &f.store(), "--key-from", &f.invite()]);
    r.fails_with(
        1,
        &format!("cars/{}: stored bytes ({} bytes)", cars[0], bytes.len() / 2),
    );

    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage.car", b"\xff\xfe this is not a car at all".to_vec()),
        ("zeros.car", vec![0; 64]),
        ("empty.car", Vec::new()),
        ("envelope.car", b"FPRS\x01short".to_vec()),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let p = p.to_str().unwrap();
        let r = ferroproof(&["inspect", "--car", p, "--key-from", &key]);
        assert!(r.code == 6 || r.code == 5, "{r:?}");
        r.fails_with(r.code, name);
        let r = ferroproof(&["verify", "--car", p, "--key-from", &key]);
        assert!(r.code != 0 && !r.stderr.contains("panicked"), "{r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    }
    // a plain car cut in the middle of a block
    let cut = dir.path().join("cut.car");
    std::fs::write(&cut, &good.stdout[..good.stdout.len() - 7]).unwrap();
    ferroproof(&["inspect", "--car", cut.to_str().unwrap()]).fails_with(6, "truncated");
    ferroproof(&["verify", "--car", cut.to_str().unwrap()]).fails_with(1, "truncated");
}

#[test]
fn inspect_reports_a_damaged_head_record_and_export_refuses_it() {
    let (f, _, _) = two_writers();
    let heads = f.objects("heads");
    flip(&f.object_path("heads", &heads[1]), 50);
    let store = f.store();
    let r = ferroproof(&["inspect", "--store", &store]);
    assert_eq!(r.code, 0, "without a key nothing is opened: {r:?}");
    let r = ferroproof(&["inspect", "--store", &store, "--key-from", &f.invite()]);
    r.fails_with(6, &format!("heads/{}", heads[1]));
    assert!(r.out().contains(&format!("heads/{}: ", heads[0])), "{r:?}");
    assert!(
        r.out().contains("does not open: stored bytes do not match"),
        "{r:?}"
    );
    let r = ferroproof(&["export", "--store", &store, "--key-from", &f.invite()]);
    r.fails_with(6, &heads[1]);
    assert!(r.stdout.is_empty(), "{r:?}");
}
