//! Every decoder of untrusted bytes returns an error on garbage, never panics (a panic would
//! poison the wasm instance). Random bytes and mutations of valid encodings are fed to each.

use futures::executor::block_on;
use ipld_core::ipld::Ipld;
use proptest::prelude::*;

use crate::car::{open_car, read_car, seal_car, write_car};
use crate::clock::Event;
use crate::codec::{self, parse_cid};
use crate::crypto::{self, Key, SoftAead};
use crate::doc::{parse_batch, parse_value, Leaf};
use crate::index::key;
use crate::prolly::Node;

fn valid_samples() -> Vec<Vec<u8>> {
    let node = Node {
        level: 1,
        entries: vec![(
            b"k".to_vec(),
            crate::prolly::link(&codec::encode(&Ipld::Null).unwrap().cid),
        )],
    };
    let ev = Event {
        parents: vec![],
        root: None,
        seq: 1,
        count: 0,
    };
    let blocks = [node.encode().unwrap(), ev.encode().unwrap()];
    let car = write_car(blocks[0].cid, &blocks.iter().collect::<Vec<_>>());
    let mut k = key::encode(&Ipld::List(vec![
        Ipld::String("ab".into()),
        Ipld::Float(1.5),
    ]))
    .unwrap();
    k.extend_from_slice(b"tail");
    vec![blocks[0].bytes.clone(), blocks[1].bytes.clone(), car, k]
}

fn feed(bytes: &[u8]) {
    let _ = codec::decode(bytes);
    let _ = Node::decode(bytes);
    let _ = Event::decode(bytes);
    let _ = read_car("fuzz", bytes);
    let key = SoftAead::new(&Key::from_bytes(&[7; 32]).unwrap()).unwrap();
    let _ = block_on(crypto::open(&key, bytes));
    let name = codec::cid_of(codec::RAW, bytes).unwrap();
    let _ = block_on(open_car(&key, &name, bytes));
    let mut b = bytes;
    let _ = key::decode(&mut b);
    if let Ok(v) = codec::decode(bytes) {
        let _ = Leaf::from_ipld(&v);
    }
    let _ = Leaf::from_raw(bytes);
    let _ = crate::doc::LeafMeta::read(bytes);
    let _ = crate::prolly::as_link(bytes);
    let _ = crate::codec::cbor::item_len(bytes, 0);
    let _ = codec::read_cid(bytes);
    let _ = codec::cid_from_bytes(bytes);
    let text = String::from_utf8_lossy(bytes);
    let _ = parse_batch(&text);
    let _ = parse_value(&text);
    let _ = parse_cid(&text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        feed(&bytes);
    }

    #[test]
    fn mutated_valid_encodings_never_panic(which in 0usize..4, flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
        let mut v = valid_samples()[which].clone();
        for (i, x) in flips {
            let i = i.index(v.len());
            v[i] ^= x;
        }
        feed(&v);
        let n = cut.index(v.len() + 1);
        feed(&v[..n]);
    }

    #[test]
    fn json_like_garbage_never_panics(s in "[\\[\\]{}\",:0-9a-z/\\\\.eE+-]{0,80}") {
        let _ = parse_batch(&s);
        let _ = parse_value(&s);
    }
}

#[test]
fn sealed_car_with_wrong_inner_bytes_is_corrupt() {
    let key = SoftAead::new(&Key::generate().unwrap()).unwrap();
    let sealed = block_on(seal_car(&key, b"not a car at all")).unwrap();
    let e = block_on(open_car(&key, &sealed.name, &sealed.bytes)).unwrap_err();
    assert_eq!(e.code(), "CORRUPT");
}
