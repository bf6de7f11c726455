//! `--car FILE` on a CAR exactly as the engine stores it (sealed, named by its hash).

mod common;

use common::{ferroproof, two_writers};

#[test]
fn a_sealed_car_shows_ciphertext_without_the_key_and_blocks_with_it() {
    let (f, _, _) = two_writers();
    for name in f.objects("cars") {
        let path = f.object_path("cars", &name);
        let p = path.to_str().unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        let r = ferroproof(&["inspect", "--car", p]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.out().contains(&format!(
                "sealed car (FPRS envelope), {size} bytes, hash {name}"
            )),
            "{r:?}"
        );
        assert!(r.out().contains("ciphertext"), "{r:?}");
        let r = ferroproof(&["inspect", "--car", p, "--key-from", &f.invite()]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.out().contains("root bafyrei"), "{r:?}");
        assert!(r.out().contains("codec 0x71"), "{r:?}");
        let r = ferroproof(&["verify", "--car", p]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.out().contains("matches its name; without a key"), "{r:?}");
        let r = ferroproof(&["verify", "--car", p, "--key-from", &f.invite()]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.out().contains("GCM tag verified"), "{r:?}");
    }
    let name = &f.objects("cars")[0];
    let path = f.object_path("cars", name);
    let mut b = std::fs::read(&path).unwrap();
    b[30] ^= 0x80;
    std::fs::write(&path, b).unwrap();
    let r = ferroproof(&[
        "verify",
        "--car",
        path.to_str().unwrap(),
        "--key-from",
        &f.invite(),
        "--all",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!("do not match its name {name}")),
        "{r:?}"
    );
}
