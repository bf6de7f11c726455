use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;
use proptest::prelude::*;

use super::*;
use crate::codec::dagcbor::encode_map;

/// The reference: parse the whole batch into IPLD, then encode each document without `_id`.
fn reference(text: &str) -> Result<Vec<Entry>, ()> {
    let Ok(Ipld::List(items)) = super::super::parse(text) else {
        return Err(());
    };
    let mut out = Vec::new();
    for item in items {
        let Ipld::List(pair) = item else {
            return Err(());
        };
        let [Ipld::String(id), body] = &pair[..] else {
            return Err(());
        };
        out.push((
            id.clone(),
            match body {
                Ipld::Null => None,
                Ipld::Map(m) => {
                    let mut m = m.clone();
                    m.remove("_id");
                    let mut bytes = Vec::new();
                    encode_map(&mut bytes, &m).unwrap();
                    Some(bytes.into())
                }
                _ => return Err(()),
            },
        ));
    }
    Ok(out)
}

/// Wire JSON as the TypeScript wrapper writes it (floats and bytes in their `"/"` forms), with
/// each map's keys in the order `order` gives (0: bytewise, 1: reversed, 2: canonical, the order
/// the transcoder keeps without copying) and, with `dup`, its first key written twice (first with
/// `null`, which the later value replaces); with `esc`, maps whose only key is `"/"` escaped as
/// `{"/":{"map":…}}` (as the wrapper does; without, as an older wrapper did).
fn wire(v: &Ipld, order: u8, dup: bool, esc: bool, out: &mut String) {
    match v {
        Ipld::Null => out.push_str("null"),
        Ipld::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Ipld::Integer(i) => out.push_str(&i.to_string()),
        Ipld::Float(f) => out.push_str(&format!("{{\"/\":{{\"f64\":\"{:016x}\"}}}}", f.to_bits())),
        Ipld::String(s) => out.push_str(&serde_json::to_string(s).unwrap()),
        Ipld::Bytes(b) => {
            out.push_str("{\"/\":{\"bytes\":\"");
            crate::b64::encode_into(out, b);
            out.push_str("\"}}");
        }
        Ipld::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                wire(x, order, dup, esc, out);
            }
            out.push(']');
        }
        Ipld::Map(m) if esc && m.len() == 1 && m.contains_key("/") => {
            out.push_str("{\"/\":{\"map\":");
            wire(&m["/"], order, dup, esc, out);
            out.push_str("}}");
        }
        Ipld::Map(m) => {
            out.push('{');
            let mut entries: Vec<(&String, &Ipld)> = m.iter().collect();
            match order {
                1 => entries.reverse(),
                2 => entries.sort_by_key(|(k, _)| (k.len(), k.as_bytes())),
                _ => {}
            }
            if let (true, Some((k, _))) = (dup, entries.first()) {
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push_str(":null,");
            }
            for (i, (k, x)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                wire(x, order, dup, esc, out);
            }
            out.push('}');
        }
        Ipld::Link(_) => unreachable!("not generated"),
    }
}

fn value() -> impl Strategy<Value = Ipld> {
    let leaf = prop_oneof![
        Just(Ipld::Null),
        any::<bool>().prop_map(Ipld::Bool),
        any::<i64>().prop_map(|i| Ipld::Integer(i.into())),
        any::<u64>().prop_map(|i| Ipld::Integer(i.into())),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Ipld::Float),
        "(\\PC|[\"\\\\\u{1}\n/]){0,12}".prop_map(Ipld::String),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(Ipld::Bytes),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Ipld::List),
            prop::collection::btree_map(
                "(_id|/|bytes|f64|map|[a-z\u{e9}\u{1f600}]{0,5})",
                inner,
                0..6
            )
            .prop_map(Ipld::Map),
        ]
    })
}

fn doc() -> impl Strategy<Value = BTreeMap<String, Ipld>> {
    prop::collection::btree_map("(_id|/|[a-z_]{0,6})", value(), 0..24)
}

/// `v` with its floats made integers (the engine writes floats as decimals, which [`wire`] does
/// not).
fn no_floats(v: &Ipld) -> Ipld {
    match v {
        Ipld::Float(f) => Ipld::Integer(*f as i64 as i128),
        Ipld::List(l) => Ipld::List(l.iter().map(no_floats).collect()),
        Ipld::Map(m) => Ipld::Map(m.iter().map(|(k, x)| (k.clone(), no_floats(x))).collect()),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Every document of a batch: the bytes (or the refusal) of parsing then encoding.
    #[test]
    fn to_cbor_matches_parse_then_encode(
        docs in prop::collection::vec((doc(), 0u8..3, any::<bool>()), 1..4),
        null_at in 0usize..6,
    ) {
        let mut text = String::from("[");
        for (i, (d, order, dup)) in docs.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!("[\"id{i}\","));
            if i == null_at {
                text.push_str("null");
            } else {
                wire(&Ipld::Map(d.clone()), *order, *dup, false, &mut text);
            }
            text.push(']');
        }
        text.push(']');
        let ours = batch(&text).map_err(|_| ());
        prop_assert_eq!(ours, reference(&text), "{}", text);
    }

    /// Mangled batches: refused by both, or read alike.
    #[test]
    fn mangled_batches_agree(d in doc(), cut in 0usize..400, junk in "[\\[\\]{}:,\"0-9a-z/\\\\ ]{0,3}") {
        let mut good = String::from("[[\"a\",");
        wire(&Ipld::Map(d), 0, false, false, &mut good);
        good.push_str("]]");
        let at = cut.min(good.len());
        if good.is_char_boundary(at) {
            let text = format!("{}{}{}", &good[..at], junk, &good[at..]);
            prop_assert_eq!(batch(&text).map_err(|_| ()), reference(&text), "{}", text);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever its maps look like (`"/"`, `bytes`, `f64` and `map` keys included), a document
    /// sent as the wrapper escapes it is stored as itself, and written back escaped the same way.
    #[test]
    fn escaped_documents_round_trip(d in doc()) {
        let Ipld::Map(mut body) = no_floats(&Ipld::Map(d)) else { unreachable!() };
        body.remove("_id");
        let mut text = String::from("[[\"x\",");
        wire(&Ipld::Map(body.clone()), 0, false, true, &mut text);
        text.push_str("]]");
        let stored = batch(&text).unwrap();
        let bytes = stored[0].1.as_ref().unwrap();
        let back: Ipld = crate::codec::dagcbor::decode(bytes).unwrap();
        prop_assert_eq!(&back, &Ipld::Map(body.clone()), "{}", text);
        let mut written = String::new();
        crate::doc::RawDoc::from_map(bytes).unwrap().write_json(&mut written, "x", crate::doc::IdAt::First).unwrap();
        // the document itself (with its `_id`) is not escaped, its values are
        let mut want = String::from("{\"_id\":\"x\"");
        for (k, x) in &body {
            want.push_str(&format!(",{}:", serde_json::to_string(k).unwrap()));
            wire(x, 0, false, true, &mut want);
        }
        want.push('}');
        // the same but for key order (dag-cbor's): compare as JSON values
        let got: serde_json::Value = serde_json::from_str(&written).unwrap();
        let want: serde_json::Value = serde_json::from_str(&want).unwrap();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn special_forms_and_ids() {
    let one = |doc: &str| batch(&format!("[[\"x\",{doc}]]"));
    // the bytes form alone is bytes, not a document; beside `_id` it is an ordinary field
    assert_eq!(
        one(r#"{"/":{"bytes":"AQ=="}}"#),
        Err(BatchError::NotObject("x".into()))
    );
    let beside = one(r#"{"_id":"x","/":{"bytes":"AQ=="}}"#).unwrap();
    assert_eq!(
        Ok(beside),
        reference(r#"[["x",{"_id":"x","/":{"bytes":"AQ=="}}]]"#)
    );
    // nested forms become bytes and floats
    let nested = one(r#"{"b":{"/":{"bytes":"AQI="}},"f":{"/":{"f64":"4004000000000000"}}}"#);
    let mut want = Vec::new();
    let mut m = BTreeMap::new();
    m.insert("b".to_string(), Ipld::Bytes(vec![1, 2]));
    m.insert("f".to_string(), Ipld::Float(2.5));
    encode_map(&mut want, &m).unwrap();
    assert_eq!(nested, Ok(vec![("x".into(), Some(want.into()))]));
    // refusals
    for bad in [
        r#"{"b":{"/":{"bytes":"!!"}}}"#,
        r#"{"f":{"/":{"f64":"7ff0000000000000"}}}"#,
        r#"{"f":{"/":{"f64":"12"}}}"#,
        r#"{"n":1.5}"#,
        r#"{"n":99999999999999999999}"#,
    ] {
        assert!(matches!(one(bad), Err(BatchError::Json(_))), "{bad}");
    }
    assert_eq!(one("[1]"), Err(BatchError::NotObject("x".into())));
    assert_eq!(one("\"s\""), Err(BatchError::NotObject("x".into())));
    assert!(matches!(batch("{}"), Err(BatchError::Json(_))));
    assert!(matches!(batch(r#"[["x",{},1]]"#), Err(BatchError::Json(_))));
    assert_eq!(batch("[]"), Ok(vec![]));
    // the depth limit counts as the IPLD reader does
    for depth in [super::MAX_DEPTH - 3, super::MAX_DEPTH - 2, super::MAX_DEPTH] {
        let text = format!(
            "[[\"x\",{{\"a\":{}1{}}}]]",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert_eq!(
            batch(&text).map_err(|_| ()),
            reference(&text),
            "depth {depth}"
        );
    }
}

/// Objects past the insertion sort's size, with duplicate keys anywhere: the last one is kept.
#[test]
fn large_objects_keep_the_last_of_duplicate_keys() {
    for n in [17usize, 18, 23, 31, 40] {
        for dup in 0..n {
            let mut fields: Vec<String> =
                (0..n).rev().map(|i| format!("\"k{i:02}\":{i}")).collect();
            let at = (dup * 7) % n;
            fields.insert(at, format!("\"k{dup:02}\":null"));
            fields.push(format!("\"k{dup:02}\":\"last\""));
            let text = format!("[[\"x\",{{{}}}]]", fields.join(","));
            assert_eq!(batch(&text).map_err(|_| ()), reference(&text), "{text}");
        }
    }
}
