//! Stored documents handed out as their encoded dag-cbor map ([`RawDoc`]) and written to wire
//! JSON straight from those bytes: reads never build a document tree only to print it.
//!
//! Invariant: [`RawDoc::write_json`] writes exactly what `write_doc` writes for the decoded body,
//! except that fields come in their stored (dag-cbor) order: shorter keys first, then bytewise.

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

    /// Appends the document as JS sees it: `{"_id": id, ...fields}`.
    pub fn write_json(&self, out: &mut String, id: &str) -> Result<(), String> {
        out.push_str("{\"_id\":");
        write_str(out, id);
        let (major, n, mut pos) = read_head(&self.0, 0)?;
        if major != 5 {
            return Err("document is not a map".into());
        }
        for _ in 0..n {
            out.push(',');
            pos = write_key(out, &self.0, pos)?;
            out.push(':');
            pos = write_item(out, &self.0, pos, 1)?;
        }
        out.push('}');
        Ok(())
    }
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

fn write_key(out: &mut String, raw: &[u8], pos: usize) -> Result<usize, String> {
    let (s, end) = text(raw, pos)?;
    write_str(out, s);
    Ok(end)
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
            out.push('{');
            let mut p = at;
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                p = write_key(out, raw, p)?;
                out.push(':');
                p = write_item(out, raw, p, depth + 1)?;
            }
            out.push('}');
            return Ok(p);
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
            raw.write_json(&mut direct, "id\"1").unwrap();
            let mut tree = String::new();
            crate::doc::write_doc(&mut tree, "id\"1", Some(&b));
            let direct: serde_json::Value = serde_json::from_str(&direct).unwrap();
            let tree: serde_json::Value = serde_json::from_str(&tree).unwrap();
            prop_assert_eq!(direct, tree);
        }
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
            assert!(doc.write_json(&mut String::new(), "x").is_err(), "{bad:?}");
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
