//! Stored documents handed out as their encoded dag-cbor map ([`RawDoc`]) and written to wire
//! JSON straight from those bytes: reads never build a document tree only to print it.
//!
//! Invariant: [`RawDoc::write_json`] writes exactly what `write_doc` writes for the decoded body,
//! except that fields come in their stored (dag-cbor) order: shorter keys first, then bytewise
//! (and, with [`IdAt::Sorted`], `_id` among them in that order).

use std::fmt;
use std::rc::Rc;

use super::{write_float, write_int, write_str, Body};
use crate::codec::cbor::{item_len, read_head};

/// Deepest nesting the transcoder follows (stored documents come from validated writes, but a
/// block from elsewhere must not exhaust the stack).
const MAX_DEPTH: usize = 256;

/// A document body as stored: one dag-cbor map (without `_id`).
#[derive(Clone, PartialEq, Eq)]
pub struct RawDoc(Rc<[u8]>);

impl RawDoc {
    /// Wraps one complete encoded map (the bytes are checked to be exactly that).
    pub fn from_map(bytes: &[u8]) -> Result<RawDoc, String> {
        match (read_head(bytes, 0), item_len(bytes, 0)) {
            (Ok((5, _, _)), Ok(n)) if n == bytes.len() => Ok(RawDoc(Rc::from(bytes))),
            _ => Err("document is not one encoded map".into()),
        }
    }

    /// Wraps one encoded map made by the engine itself (a write batch's document).
    pub fn from_rc(bytes: Rc<[u8]>) -> RawDoc {
        RawDoc(bytes)
    }

    /// Encodes a body (tests and conversions).
    pub fn from_body(body: &Body) -> crate::error::Result<RawDoc> {
        let mut bytes = Vec::new();
        crate::codec::dagcbor::encode_map(&mut bytes, body)
            .map_err(|e| crate::error::Error::Internal(format!("dag-cbor encode: {e}")))?;
        Ok(RawDoc(Rc::from(bytes)))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Decodes the body.
    pub fn body(&self) -> Result<Body, String> {
        match crate::codec::decode(&self.0)? {
            ipld_core::ipld::Ipld::Map(m) => Ok(m),
            _ => Err("document is not a map".into()),
        }
    }

    /// The encoded value of top-level field `field`, if present.
    pub fn field(&self, field: &str) -> Result<Option<&[u8]>, String> {
        super::map_get(&self.0, field)
    }

    /// Appends the document as JS sees it: `{"_id": id, ...fields}`, `_id` first or in its
    /// dag-cbor place among the fields (`at`).
    pub fn write_json(&self, out: &mut String, id: &str, at: IdAt) -> Result<(), String> {
        let (5, n, pos) = read_head(&self.0, 0)? else {
            return Err("document is not a map".into());
        };
        out.push('{');
        if at == IdAt::First {
            write_id(out, id);
        }
        write_map(out, &self.0, pos, n, 0, (at == IdAt::Sorted).then_some(id)).map(|_| ())
    }
}

/// Where a document's `_id` goes among its fields when written to JSON.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IdAt {
    /// First (allDocs, changes, subscribers: Fireproof writes `{_id, ...doc}` there).
    First,
    /// In dag-cbor key order among the fields, where Fireproof's stored document has it (get,
    /// query): after the keys of one or two bytes and the three-byte keys below `"_id"`.
    Sorted,
}

/// `"_id"` comes before `key` in dag-cbor map order (shorter keys first, then bytewise).
fn id_sorts_before(key: &str) -> bool {
    key.len() > 3 || (key.len() == 3 && key > "_id")
}

impl fmt::Debug for RawDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.body() {
            Ok(b) => write!(f, "RawDoc({b:?})"),
            Err(_) => write!(f, "RawDoc(<{} undecodable bytes>)", self.0.len()),
        }
    }
}

impl PartialEq<Body> for RawDoc {
    fn eq(&self, other: &Body) -> bool {
        self.body().is_ok_and(|b| b == *other)
    }
}

/// Appends `{"_id": id, "_deleted": true}`.
pub fn write_deleted(out: &mut String, id: &str) {
    out.push_str("{\"_id\":");
    write_str(out, id);
    out.push_str(",\"_deleted\":true}");
}

fn text(raw: &[u8], pos: usize) -> Result<(&str, usize), String> {
    let (major, n, at) = read_head(raw, pos)?;
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| at.checked_add(n))
        .filter(|&e| e <= raw.len() && major == 3)
        .ok_or("expected a string")?;
    let s = std::str::from_utf8(&raw[at..end]).map_err(|_| "string is not UTF-8")?;
    Ok((s, end))
}

/// Appends a map value (an emitted index value) with its keys in dag-cbor order, as stored
/// documents are written, not in `Body`'s bytewise order.
pub fn write_map_value(out: &mut String, m: &Body) {
    let mut bytes = Vec::new();
    if crate::codec::dagcbor::encode_map(&mut bytes, m).is_err() {
        bytes = vec![0xf6]; // null (a map decoded from dag-cbor always encodes again)
    }
    let _ = write_item(out, &bytes, 0, 1);
}

/// Appends the entries and the closing brace of the map whose `n` entries start at `p`; returns
/// the position after it. With `id` (a stored document), adds `"_id"` in its dag-cbor place.
fn write_map(
    out: &mut String,
    raw: &[u8],
    mut p: usize,
    n: u64,
    depth: usize,
    mut id: Option<&str>,
) -> Result<usize, String> {
    for _ in 0..n {
        let (k, end) = text(raw, p)?;
        if depth == 0 && k == "_id" {
            // A stored document's own `_id` field (never written by this package; possible in a
            // replica's data) gives way to its id.
            p = end + item_len(raw, end)?;
            continue;
        }
        if let Some(doc_id) = id.filter(|_| id_sorts_before(k)) {
            write_id(out, doc_id);
            id = None;
        }
        write_str(out, k);
        out.push(':');
        p = write_item(out, raw, end, depth + 1)?;
        out.push(',');
    }
    if let Some(doc_id) = id {
        write_id(out, doc_id);
    }
    if out.ends_with(',') {
        out.pop();
    }
    out.push('}');
    Ok(p)
}

fn write_id(out: &mut String, id: &str) {
    out.push_str("\"_id\":");
    write_str(out, id);
    out.push(',');
}

/// Appends the wire JSON of the item at `pos`; returns the position after it.
fn write_item(out: &mut String, raw: &[u8], pos: usize, depth: usize) -> Result<usize, String> {
    if depth > MAX_DEPTH {
        return Err("document nested too deeply".into());
    }
    let first = *raw.get(pos).ok_or("truncated document")?;
    let (major, n, at) = read_head(raw, pos)?;
    match major {
        0 => write_int(out, i128::from(n)),
        1 => write_int(out, -1 - i128::from(n)),
        2 => {
            let end = pos + item_len(raw, pos)?;
            out.push_str("{\"/\":{\"bytes\":\"");
            crate::b64::encode_into(out, &raw[at..end]);
            out.push_str("\"}}");
            return Ok(end);
        }
        3 => {
            let (s, end) = text(raw, pos)?;
            write_str(out, s);
            return Ok(end);
        }
        4 => {
            out.push('[');
            let mut p = at;
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                p = write_item(out, raw, p, depth + 1)?;
            }
            out.push(']');
            return Ok(p);
        }
        5 => {
            // a map whose only key is "/" would read as a wire form: escaped (docs/format.md §2.2)
            if n == 1 {
                if let Ok(("/", end)) = text(raw, at) {
                    out.push_str("{\"/\":{\"map\":");
                    let p = write_item(out, raw, end, depth + 1)?;
                    out.push_str("}}");
                    return Ok(p);
                }
            }
            out.push('{');
            return write_map(out, raw, at, n, depth, None);
        }
        6 => {
            let len = item_len(raw, pos)?;
            let cid = crate::prolly::as_link(&raw[pos..pos + len]).ok_or("unsupported tag")?;
            out.push_str("{\"/\":\"");
            out.push_str(&crate::codec::cid_str(&cid));
            out.push_str("\"}");
            return Ok(pos + len);
        }
        _ => match first & 0x1f {
            20 => out.push_str("false"),
            21 => out.push_str("true"),
            22 => out.push_str("null"),
            25 => write_float(out, f64::from(crate::codec::cbor::half(n as u16))),
            26 => write_float(out, f64::from(f32::from_bits(n as u32))),
            27 => write_float(out, f64::from_bits(n)),
            _ => return Err("unsupported simple value".into()),
        },
    }
    Ok(at)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use ipld_core::ipld::Ipld;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Ipld> {
        let leaf = prop_oneof![
            Just(Ipld::Null),
            any::<bool>().prop_map(Ipld::Bool),
            any::<i64>().prop_map(|i| Ipld::Integer(i.into())),
            any::<u64>().prop_map(|i| Ipld::Integer(i.into())),
            any::<f64>().prop_map(Ipld::Float),
            prop::sample::select(vec![0.0, -0.0, 0.1, 1e21, 5e-324, 2.5]).prop_map(Ipld::Float),
            any::<String>().prop_map(Ipld::String),
            "[a-z\"\\\\\n\t\u{1}\u{7f}é😀]{0,8}".prop_map(Ipld::String),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(Ipld::Bytes),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Ipld::List),
                prop::collection::btree_map("[a-z_]{0,6}", inner, 0..5).prop_map(Ipld::Map),
            ]
        })
    }

    fn body() -> impl Strategy<Value = Body> {
        prop::collection::btree_map("[a-z_é]{1,8}", value(), 0..8)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The transcoded JSON means the same document as the JSON of the decoded body.
        #[test]
        fn raw_json_equals_tree_json(b in body()) {
            let raw = RawDoc::from_body(&b).unwrap();
            prop_assert_eq!(&raw, &b);
            let mut direct = String::new();
            raw.write_json(&mut direct, "id\"1", IdAt::First).unwrap();
            let mut tree = String::new();
            crate::doc::write_doc(&mut tree, "id\"1", Some(&b));
            let direct: serde_json::Value = serde_json::from_str(&direct).unwrap();
            let tree: serde_json::Value = serde_json::from_str(&tree).unwrap();
            let mut sorted = String::new();
            raw.write_json(&mut sorted, "id\"1", IdAt::Sorted).unwrap();
            let sorted: serde_json::Value = serde_json::from_str(&sorted).unwrap();
            prop_assert_eq!(&sorted, &tree);
            prop_assert_eq!(direct, tree);
        }
    }

    /// `get` and query documents have `_id` where Fireproof's stored map has it: dag-cbor order.
    #[test]
    fn id_goes_first_or_in_dag_cbor_order() {
        let mut b = Body::new();
        for k in ["long", "abc", "_ie", "_ia", "AAA", "zz", "a"] {
            b.insert(k.into(), Ipld::Integer(1));
        }
        let raw = RawDoc::from_body(&b).unwrap();
        let write = |raw: &RawDoc, at| {
            let mut out = String::from("[");
            raw.write_json(&mut out, "x", at).unwrap();
            out
        };
        assert_eq!(
            write(&raw, IdAt::Sorted),
            r#"[{"a":1,"zz":1,"AAA":1,"_ia":1,"_id":"x","_ie":1,"abc":1,"long":1}"#
        );
        assert_eq!(
            write(&raw, IdAt::First),
            r#"[{"_id":"x","a":1,"zz":1,"AAA":1,"_ia":1,"_ie":1,"abc":1,"long":1}"#
        );
        let short = RawDoc::from_body(&Body::from([("n".to_string(), Ipld::Bool(true))])).unwrap();
        assert_eq!(write(&short, IdAt::Sorted), r#"[{"n":true,"_id":"x"}"#);
        let empty = RawDoc::from_body(&Body::new()).unwrap();
        assert_eq!(write(&empty, IdAt::Sorted), r#"[{"_id":"x"}"#);
        assert_eq!(write(&empty, IdAt::First), r#"[{"_id":"x"}"#);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let ok = RawDoc::from_body(&Body::new()).unwrap();
        assert_eq!(ok.bytes(), [0xa0]);
        for bad in [
            &[0xa1, 0x61][..],
            &[0xa1, 0x01, 0x01],
            &[0xa1, 0x61, 0x61, 0xf7],
            &[0x80],
        ] {
            let doc = RawDoc(Rc::from(bad));
            assert!(
                doc.write_json(&mut String::new(), "x", IdAt::First)
                    .is_err(),
                "{bad:?}"
            );
        }
        // from_map checks the framing: one whole map
        for bad in [&[0xa1, 0x61][..], &[0x80], &[0xa0, 0xa0], &[]] {
            assert!(RawDoc::from_map(bad).is_err(), "{bad:?}");
        }
        assert_eq!(crate::codec::cbor::half(0x3c00), 1.0);
        assert_eq!(crate::codec::cbor::half(0xc000), -2.0);
        assert_eq!(crate::codec::cbor::half(0x0001), 2f32.powi(-24));
    }
}
