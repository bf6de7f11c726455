//! Order-preserving binary encoding of index keys (see docs/format.md, "Index keys").
//!
//! Collation: `null < false < true < numbers < strings < arrays`; numbers by value, strings by
//! UTF-16 code unit (as JavaScript compares them), arrays element by element (a prefix first).
//! Objects, byte strings and links are not keys. Invariant: for keys `a`, `b`:
//! `encode(a) < encode(b)` (bytewise) iff `a` collates before `b`, and no encoding is a prefix
//! of another, so `encode(k) ++ suffix` still sorts by `k` first.

use std::cmp::Ordering;

use ipld_core::ipld::Ipld;

use crate::error::{Error, Result};

const NULL: u8 = 0x01;
const FALSE: u8 = 0x02;
const TRUE: u8 = 0x03;
const NUMBER: u8 = 0x04;
const STRING: u8 = 0x05;
const ARRAY: u8 = 0x06;
/// Ends a string or an array; sorts before every tag and every string byte.
const END: u8 = 0x00;
/// In string bodies, bytes 0x00 and 0x01 become `0x01 0x01` and `0x01 0x02`, so a body never
/// contains [`END`] and keeps its order.
const ESC: u8 = 0x01;
const MAX_DEPTH: usize = 32;

/// `e` (a bad key or row) naming the document that emitted it, with one "invalid argument:".
/// The most bytes (encoded keys and values) one document may emit into one index: nodes of its
/// trees stay well within a CAR section's bound (an id and 65536 rows of 3 MB keys made nodes no
/// reader accepted: the index and every later commit were `CORRUPT`).
pub const MAX_EMITTED_BYTES: usize = 1 << 20;

/// Checks `bytes` emitted by document `id` against [`MAX_EMITTED_BYTES`].
pub fn check_emitted(bytes: usize, id: &str) -> Result<()> {
    match bytes > MAX_EMITTED_BYTES {
        true => Err(emitted_by(
            Error::InvalidArg("index rows over 1 MiB encoded".into()),
            id,
        )),
        false => Ok(()),
    }
}

pub fn emitted_by(e: Error, id: &str) -> Error {
    let why = match e {
        Error::InvalidArg(why) => why,
        e => e.to_string(),
    };
    Error::InvalidArg(format!("{why} (emitted for document \"{id}\")"))
}

fn invalid(why: &str) -> Error {
    Error::InvalidArg(format!("invalid index key: {why}"))
}

fn number_bytes(f: f64) -> [u8; 8] {
    let f = if f == 0.0 { 0.0 } else { f }; // -0 sorts as 0
    let bits = f.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    ordered.to_be_bytes()
}

fn push_escaped(out: &mut Vec<u8>, b: u8) {
    if b <= ESC {
        out.push(ESC);
        out.push(b + 1);
    } else {
        out.push(b);
    }
}

/// String body without the terminator: UTF-16 code units, big-endian, bytes 0 and 1 escaped.
fn string_body(out: &mut Vec<u8>, s: &str) {
    for unit in s.encode_utf16() {
        let [hi, lo] = unit.to_be_bytes();
        push_escaped(out, hi);
        push_escaped(out, lo);
    }
}

fn encode_into(out: &mut Vec<u8>, k: &Ipld, depth: usize, terminate: bool) -> Result<()> {
    match k {
        Ipld::Null => out.push(NULL),
        Ipld::Bool(false) => out.push(FALSE),
        Ipld::Bool(true) => out.push(TRUE),
        Ipld::Integer(i) => {
            out.push(NUMBER);
            out.extend_from_slice(&number_bytes(*i as f64));
        }
        Ipld::Float(f) if f.is_nan() => return Err(invalid("NaN cannot be a key")),
        Ipld::Float(f) => {
            out.push(NUMBER);
            out.extend_from_slice(&number_bytes(*f));
        }
        Ipld::String(s) => {
            out.push(STRING);
            string_body(out, s);
            if terminate {
                out.push(END);
            }
        }
        Ipld::List(items) => {
            if depth >= MAX_DEPTH {
                return Err(invalid("arrays nested too deeply"));
            }
            out.push(ARRAY);
            for item in items {
                encode_into(out, item, depth + 1, true)?;
            }
            if terminate {
                out.push(END);
            }
        }
        Ipld::Map(_) => return Err(invalid("objects cannot be keys")),
        Ipld::Bytes(_) => return Err(invalid("byte arrays cannot be keys")),
        Ipld::Link(_) => return Err(invalid("links cannot be keys")),
    }
    Ok(())
}

/// Encodes a key; objects, bytes, links and NaN are rejected.
pub fn encode(k: &Ipld) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(16);
    encode_into(&mut out, k, 0, true)?;
    Ok(out)
}

/// Appends the encoding of a key to `out` (left unchanged on error).
pub fn encode_onto(out: &mut Vec<u8>, k: &Ipld) -> Result<()> {
    let start = out.len();
    encode_into(out, k, 0, true).inspect_err(|_| out.truncate(start))
}

/// Appends the key encoding of the one dag-cbor item `raw` when it is a scalar (integer, float,
/// boolean, string), straight from its bytes: `Ok(false)` (nothing appended) means another kind
/// of item (null, array, anything else), to be decoded and given to [`encode_onto`].
pub fn encode_cbor_scalar_onto(out: &mut Vec<u8>, raw: &[u8]) -> Result<bool> {
    use crate::codec::cbor::read_head;
    let Ok((major, n, at)) = read_head(raw, 0) else {
        return Ok(false);
    };
    match (major, raw.first().map(|b| b & 0x1f)) {
        (0, _) => number(out, n as f64),
        (1, _) => number(out, (-1 - i128::from(n)) as f64),
        (3, _) => {
            let body = usize::try_from(n)
                .ok()
                .and_then(|n| raw.get(at..at.checked_add(n)?));
            let Some(s) = body.and_then(|b| std::str::from_utf8(b).ok()) else {
                return Ok(false);
            };
            out.push(STRING);
            string_body(out, s);
            out.push(END);
        }
        (7, Some(20)) => out.push(FALSE),
        (7, Some(21)) => out.push(TRUE),
        (7, Some(27)) => {
            let f = f64::from_bits(n);
            if f.is_nan() {
                return Err(invalid("NaN cannot be a key"));
            }
            number(out, f);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn number(out: &mut Vec<u8>, f: f64) {
    out.push(NUMBER);
    out.extend_from_slice(&number_bytes(f));
}

/// The prefix matched by every key that starts with `p`: for an array, the keys whose leading
/// elements are `p`'s elements; for a string, the strings starting with `p`; otherwise `p` itself.
pub fn encode_prefix(p: &Ipld) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(16);
    encode_into(&mut out, p, 0, false)?;
    Ok(out)
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if b.len() < n {
        return Err(invalid("truncated key"));
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    Ok(head)
}

fn decode_from(b: &mut &[u8], depth: usize) -> Result<Ipld> {
    let tag = take(b, 1)?[0];
    Ok(match tag {
        NULL => Ipld::Null,
        FALSE => Ipld::Bool(false),
        TRUE => Ipld::Bool(true),
        NUMBER => {
            let raw = u64::from_be_bytes(
                take(b, 8)?
                    .try_into()
                    .map_err(|_| invalid("truncated number"))?,
            );
            let bits = if raw >> 63 == 1 {
                raw & !(1 << 63)
            } else {
                !raw
            };
            Ipld::Float(f64::from_bits(bits))
        }
        STRING => {
            let mut raw = Vec::new();
            loop {
                match take(b, 1)?[0] {
                    END => break,
                    ESC => match take(b, 1)?[0] {
                        e @ 1..=2 => raw.push(e - 1),
                        _ => return Err(invalid("bad string escape")),
                    },
                    x => raw.push(x),
                }
            }
            if raw.len() % 2 != 0 {
                return Err(invalid("odd string length"));
            }
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Ipld::String(
                String::from_utf16(&units).map_err(|_| invalid("string is not valid UTF-16"))?,
            )
        }
        ARRAY => {
            if depth >= MAX_DEPTH {
                return Err(invalid("arrays nested too deeply"));
            }
            let mut items = Vec::new();
            while b.first() != Some(&END) {
                items.push(decode_from(b, depth + 1)?);
            }
            take(b, 1)?;
            Ipld::List(items)
        }
        _ => return Err(invalid("unknown key tag")),
    })
}

/// Decodes one key from the front of `b`, leaving the rest (e.g. the document id) in `b`.
pub fn decode(b: &mut &[u8]) -> Result<Ipld> {
    decode_from(b, 0)
}

/// Compares two keys by collation (the model the encoding is tested against).
pub fn collate(a: &Ipld, b: &Ipld) -> Ordering {
    fn rank(k: &Ipld) -> u8 {
        match k {
            Ipld::Null => 0,
            Ipld::Bool(false) => 1,
            Ipld::Bool(true) => 2,
            Ipld::Integer(_) | Ipld::Float(_) => 3,
            Ipld::String(_) => 4,
            _ => 5,
        }
    }
    fn num(k: &Ipld) -> f64 {
        match k {
            Ipld::Integer(i) => *i as f64,
            Ipld::Float(f) => *f,
            _ => 0.0,
        }
    }
    match (a, b) {
        (Ipld::String(x), Ipld::String(y)) => x.encode_utf16().cmp(y.encode_utf16()),
        (Ipld::List(x), Ipld::List(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = collate(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ if rank(a) == 3 && rank(b) == 3 => num(a).partial_cmp(&num(b)).unwrap_or(Ordering::Equal),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = Ipld> {
        let leaf = prop_oneof![
            Just(Ipld::Null),
            any::<bool>().prop_map(Ipld::Bool),
            (-1000i64..1000).prop_map(|i| Ipld::Integer(i.into())),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Ipld::Float),
            prop::sample::select(vec![
                0.0,
                -0.0,
                1.0,
                -1.0,
                0.5,
                1e300,
                -1e-300,
                f64::MAX,
                f64::MIN
            ])
            .prop_map(Ipld::Float),
            "[a-c\\x00\\x01\u{e000}\u{ffff}\u{10000}\u{1f600}]{0,4}".prop_map(Ipld::String),
            any::<String>().prop_map(Ipld::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop::collection::vec(inner, 0..4).prop_map(Ipld::List)
        })
    }

    /// Numbers decode as floats; -0 as 0.
    fn normal(k: &Ipld) -> Ipld {
        match k {
            Ipld::Integer(i) => Ipld::Float(*i as f64),
            Ipld::Float(f) if *f == 0.0 => Ipld::Float(0.0),
            Ipld::List(l) => Ipld::List(l.iter().map(normal).collect()),
            other => other.clone(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn byte_order_is_collation_order_and_decode_inverts(a in key(), b in key()) {
            let (ea, eb) = (encode(&a).unwrap(), encode(&b).unwrap());
            prop_assert_eq!(ea.cmp(&eb), collate(&a, &b), "{:?} vs {:?}", a, b);
            let mut rest = &ea[..];
            prop_assert_eq!(decode(&mut rest).unwrap(), normal(&a));
            prop_assert!(rest.is_empty());
            // self-delimiting: a suffix never changes the order between different keys
            if collate(&a, &b) != Ordering::Equal {
                let mut sa = ea.clone();
                sa.extend_from_slice(&[0xff; 3]);
                prop_assert_eq!(sa.cmp(&eb), collate(&a, &b));
            }
        }

        #[test]
        fn scalars_encode_the_same_straight_from_their_cbor(k in key(), big in any::<i64>()) {
            for k in [k, Ipld::Integer(big.into()), Ipld::Integer(i128::from(u64::MAX) - i128::from(big.unsigned_abs()))] {
                let cbor = crate::codec::encode(&k).unwrap().bytes;
                let mut out = vec![9];
                let direct = encode_cbor_scalar_onto(&mut out, &cbor).unwrap();
                let scalar = !matches!(k, Ipld::Null | Ipld::List(_));
                prop_assert_eq!(direct, scalar, "{:?}", k);
                if direct {
                    prop_assert_eq!(&out[1..], &encode(&k).unwrap()[..], "{:?}", k);
                } else {
                    prop_assert_eq!(out, vec![9]);
                }
            }
        }

        #[test]
        fn prefixes_match_exactly_the_keys_that_start_with_them(p in key(), k in key()) {
            let enc = encode(&k).unwrap();
            let pre = encode_prefix(&p).unwrap();
            let starts = match (&p, &k) {
                (Ipld::List(pl), Ipld::List(kl)) => kl.len() >= pl.len() && pl.iter().zip(kl).all(|(x, y)| collate(x, y) == Ordering::Equal),
                (Ipld::String(ps), Ipld::String(ks)) => ks.encode_utf16().collect::<Vec<_>>().starts_with(&ps.encode_utf16().collect::<Vec<_>>()),
                (Ipld::List(_), _) | (Ipld::String(_), _) => false,
                _ => collate(&p, &k) == Ordering::Equal,
            };
            prop_assert_eq!(enc.starts_with(&pre), starts, "{:?} prefix of {:?}", p, k);
        }
    }

    #[test]
    fn rejects_non_keys_and_garbage() {
        for bad in [
            Ipld::Map(Default::default()),
            Ipld::Bytes(vec![1]),
            Ipld::Float(f64::NAN),
            Ipld::List(vec![Ipld::Map(Default::default())]),
        ] {
            assert_eq!(encode(&bad).unwrap_err().code(), "INVALID_ARG");
        }
        for junk in [
            &[][..],
            &[0x04, 1],
            &[0x05, 0x61],
            &[0x05, 0x01, 0x07, 0x00],
            &[0x06, 0x01],
            &[0x09],
            &[0x05, 0xd8, 0x00, 0x00],
        ] {
            let mut b = junk;
            assert!(decode(&mut b).is_err(), "{junk:?}");
        }
    }
}
