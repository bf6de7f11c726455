//! IPLD values to and from dag-cbor (docs/format.md §2): the canonical encoding and a strict
//! decoder, on the framing of [`super::cbor`].
//!
//! Encoding: shortest heads, integers in [-2^64, 2^64 - 1], floats as 64-bit (finite only), map
//! keys sorted by length then bytes, CIDs as tag 42 on `0x00 ‖ cid`. Decoding accepts one
//! well-formed item of those kinds (text map keys, no duplicates, no indefinite lengths, no
//! `undefined`, finite 16/32/64-bit floats) nested at most [`MAX_DEPTH`] deep, and rejects trailing bytes.
//! Invariant: `decode(encode(v)) == v`, and the bytes equal what `serde_ipld_dagcbor` writes for
//! the same value (property-tested against it). This file exists for size: serde's generic
//! machinery cost the wasm ~10 KB gzipped for these few shapes.

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::cbor::{read_head, write_head};

/// Deepest nesting the decoder accepts (the JSON reader's limit is lower).
pub const MAX_DEPTH: usize = 256;

/// Appends the dag-cbor encoding of `v`.
pub fn encode_into(out: &mut Vec<u8>, v: &Ipld) -> Result<(), &'static str> {
    match v {
        Ipld::Null => out.push(0xf6),
        Ipld::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Ipld::Integer(i) => {
            if *i >= 0 {
                write_head(
                    out,
                    0,
                    u64::try_from(*i).map_err(|_| "integer out of range")?,
                );
            } else {
                let n = u64::try_from(-1 - *i).map_err(|_| "integer out of range")?;
                write_head(out, 1, n);
            }
        }
        Ipld::Float(f) => {
            if !f.is_finite() {
                return Err("dag-cbor has no NaN or Infinity");
            }
            out.push(0xfb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Ipld::String(s) => {
            write_head(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Ipld::Bytes(b) => {
            write_head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Ipld::List(items) => {
            write_head(out, 4, items.len() as u64);
            for item in items {
                encode_into(out, item)?;
            }
        }
        Ipld::Map(m) => encode_map(out, m)?,
        Ipld::Link(cid) => write_link(out, cid),
    }
    Ok(())
}

/// Appends a map in canonical key order (length first, then bytes).
pub fn encode_map(out: &mut Vec<u8>, m: &BTreeMap<String, Ipld>) -> Result<(), &'static str> {
    let entries: Vec<(&String, &Ipld)> = m.iter().collect();
    write_head(out, 5, entries.len() as u64);
    // BTreeMap order is bytewise; canonical order is (length, bytes). Keys often come in that
    // order already (all of one length, or lengths ascending with their bytes).
    let canonical = |a: &str, b: &str| (a.len(), a) < (b.len(), b);
    let mut order: Vec<u32> = (0..entries.len() as u32).collect();
    if !entries.windows(2).all(|w| canonical(w[0].0, w[1].0)) {
        crate::sort::heap_sort(&mut order, &|a, b| {
            canonical(entries[a as usize].0, entries[b as usize].0)
        });
    }
    for i in order {
        let (k, v) = entries[i as usize];
        write_head(out, 3, k.len() as u64);
        out.extend_from_slice(k.as_bytes());
        encode_into(out, v)?;
    }
    Ok(())
}

/// Appends a CID link: tag 42 on the bytes `0x00 ‖ cid`.
pub fn write_link(out: &mut Vec<u8>, cid: &Cid) {
    let bytes = super::cid_bytes(cid);
    out.extend_from_slice(&[0xd8, 42]);
    write_head(out, 2, bytes.len() as u64 + 1);
    out.push(0);
    out.extend_from_slice(&bytes);
}

/// The dag-cbor encoding of `v`.
pub fn encode(v: &Ipld) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::new();
    encode_into(&mut out, v)?;
    Ok(out)
}

/// Decodes exactly one dag-cbor item.
pub fn decode(bytes: &[u8]) -> Result<Ipld, String> {
    let (v, end) = item(bytes, 0, 0)?;
    if end != bytes.len() {
        return Err("trailing bytes after the dag-cbor item".into());
    }
    Ok(v)
}

/// The `n` bytes at `pos`, or an error if the buffer is shorter.
fn take(bytes: &[u8], pos: usize, n: u64) -> Result<(&[u8], usize), String> {
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| pos.checked_add(n))
        .filter(|e| *e <= bytes.len())
        .ok_or("truncated dag-cbor")?;
    Ok((&bytes[pos..end], end))
}

fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid utf-8 in a dag-cbor string".to_string())
}

fn item(bytes: &[u8], pos: usize, depth: usize) -> Result<(Ipld, usize), String> {
    if depth > MAX_DEPTH {
        return Err("dag-cbor nested too deeply".into());
    }
    let (major, n, at) = read_head(bytes, pos)?;
    // Every item takes at least one byte: a count beyond the bytes left is malformed.
    let left = (bytes.len() - at) as u64;
    Ok(match major {
        0 => (Ipld::Integer(i128::from(n)), at),
        1 => (Ipld::Integer(-1 - i128::from(n)), at),
        2 => {
            let (b, end) = take(bytes, at, n)?;
            (Ipld::Bytes(b.to_vec()), end)
        }
        3 => {
            let (b, end) = take(bytes, at, n)?;
            (Ipld::String(text(b)?), end)
        }
        4 => {
            if n > left {
                return Err("dag-cbor list longer than its bytes".into());
            }
            // a hint only: a length the bytes allow can still be far more than memory does
            // (each nested list would reserve ~100 B per byte left)
            let mut items = Vec::with_capacity((n as usize).min(256));
            let mut at = at;
            for _ in 0..n {
                let (v, next) = item(bytes, at, depth + 1)?;
                items.push(v);
                at = next;
            }
            (Ipld::List(items), at)
        }
        5 => {
            if n > left {
                return Err("dag-cbor map longer than its bytes".into());
            }
            let mut m = BTreeMap::new();
            let mut at = at;
            for _ in 0..n {
                let (kmajor, klen, kat) = read_head(bytes, at)?;
                if kmajor != 3 {
                    return Err("dag-cbor map key is not a string".into());
                }
                let (k, next) = take(bytes, kat, klen)?;
                let (v, next) = item(bytes, next, depth + 1)?;
                if m.insert(text(k)?, v).is_some() {
                    return Err("duplicate dag-cbor map key".into());
                }
                at = next;
            }
            (Ipld::Map(m), at)
        }
        6 => {
            if n != 42 {
                return Err(format!("dag-cbor tag {n} is not allowed"));
            }
            let (m, len, bat) = read_head(bytes, at)?;
            let (b, end) = take(bytes, bat, len)?;
            match (m, b.split_first()) {
                (2, Some((0, cid))) => {
                    let cid = super::cid_from_bytes(cid)?;
                    (Ipld::Link(cid), end)
                }
                _ => return Err("tag 42 is not a cid".into()),
            }
        }
        _ => {
            let b = bytes[pos] & 0x1f;
            let v = match b {
                20 => Ipld::Bool(false),
                21 => Ipld::Bool(true),
                22 => Ipld::Null,
                25 => Ipld::Float(f64::from(super::cbor::half(n as u16))),
                26 => Ipld::Float(f64::from(f32::from_bits(n as u32))),
                27 => Ipld::Float(f64::from_bits(n)),
                _ => return Err(format!("dag-cbor simple value {b} is not allowed")),
            };
            if matches!(v, Ipld::Float(f) if !f.is_finite()) {
                return Err("dag-cbor has no NaN or Infinity".into());
            }
            (v, at)
        }
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Ipld> {
        let link = crate::codec::cid_of(0x71, b"x").unwrap();
        let leaf = prop_oneof![
            Just(Ipld::Null),
            any::<bool>().prop_map(Ipld::Bool),
            any::<i64>().prop_map(|i| Ipld::Integer(i.into())),
            any::<u64>().prop_map(|i| Ipld::Integer(i.into())),
            (0u64..=u64::MAX).prop_map(|i| Ipld::Integer(-1 - i128::from(i))),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Ipld::Float),
            ".{0,12}".prop_map(Ipld::String),
            prop::collection::vec(any::<u8>(), 0..40).prop_map(Ipld::Bytes),
            Just(Ipld::Link(link)),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Ipld::List),
                prop::collection::btree_map(".{0,6}", inner, 0..8).prop_map(Ipld::Map),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The same bytes as serde_ipld_dagcbor (the reference), and a lossless round trip
        /// through both decoders.
        #[test]
        fn same_bytes_as_serde_ipld_dagcbor(v in value()) {
            let ours = encode(&v).unwrap();
            let theirs = serde_ipld_dagcbor::to_vec(&v).unwrap();
            prop_assert_eq!(&ours, &theirs);
            prop_assert_eq!(decode(&ours).unwrap(), v.clone());
            let back: Ipld = serde_ipld_dagcbor::from_slice(&ours).unwrap();
            prop_assert_eq!(back, v);
        }

        /// Garbage never panics, and what decodes re-encodes to a value the reference agrees on.
        #[test]
        fn garbage_is_an_error_or_a_value(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(v) = decode(&bytes) {
                if let Ok(enc) = encode(&v) {
                    let back: Ipld = serde_ipld_dagcbor::from_slice(&enc).unwrap();
                    prop_assert_eq!(back, v);
                }
            }
        }
    }

    #[test]
    fn rejects_what_dag_cbor_forbids() {
        let cases: &[&[u8]] = &[
            &[0xf7],                                                 // undefined
            &[0x9f, 0xff],                                           // indefinite list
            &[0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02],             // duplicate key
            &[0xa1, 0x01, 0x01],                                     // integer key
            &[0xc1, 0x01],                                           // tag 1
            &[0xd8, 0x2a, 0x41, 0x01], // tag 42 without the 0x00 prefix
            &[0x62, 0xff, 0xfe],       // invalid utf-8
            &[0x01, 0x01],             // trailing bytes
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // absurd length
            &[],
        ];
        for c in cases {
            assert!(decode(c).is_err(), "{c:02x?}");
        }
        let deep = [vec![0x81; MAX_DEPTH + 2], vec![0xf6]].concat();
        assert!(decode(&deep).is_err());

        assert!(encode(&Ipld::Float(f64::NAN)).is_err());
        assert!(encode(&Ipld::Integer(i128::from(u64::MAX) + 1)).is_err());
    }
}
