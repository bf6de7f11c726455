//! Documents: the JSON wire format shared with the TypeScript wrapper (read here, written by
//! [`write`]), and the tree leaf values.
//!
//! Wire (JS → engine): a JSON array of `[id, body]` pairs, `body` an object or `null` (delete).
//! Byte strings travel as `{"/": {"bytes": "<base64>"}}` (the dag-json convention) and become CBOR
//! bytes. A top-level `_id` in a body is dropped: the id is the tree key.
//! Leaf value (docs tree): `{"seq": n, "doc": {..}}`, `{"seq": n, "del": true}` or, for documents
//! whose encoding exceeds [`INLINE_MAX`], `{"seq": n, "ref": <CID of {"doc": {..}}>}`.
//! Invariant: every stored body is a map of JSON-like values and bytes; ids are valid UTF-8 of
//! 1..=[`MAX_ID_BYTES`] bytes.

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;

use crate::error::{Error, Result};

pub mod raw;
mod write;
pub use raw::{write_deleted, IdAt, RawDoc};
#[cfg(all(test, not(target_arch = "wasm32")))]
pub use write::write_doc;
pub use write::{write_float, write_int, write_json, write_stored_doc, write_str, write_strs};

/// Longest accepted document id, in UTF-8 bytes.
pub const MAX_ID_BYTES: usize = 1024;
/// Encoded documents larger than this live in their own block.
pub const INLINE_MAX: usize = 1024;
/// Largest accepted encoded document.
pub const MAX_DOC_BYTES: usize = 2 * 1024 * 1024;

/// A document body: its fields without `_id`.
pub type Body = BTreeMap<String, Ipld>;

/// One write of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOp {
    pub id: String,
    /// The fields (without `_id`) as one dag-cbor map; `None` deletes the document.
    pub body: Option<RawDoc>,
}

impl WriteOp {
    /// Writes `body` (encoded here) as document `id`.
    ///
    /// # Panics
    /// If `body` holds a NaN or infinite float, which no stored document does.
    pub fn put(id: impl Into<String>, body: &Body) -> WriteOp {
        let body = RawDoc::from_body(body).expect("a body of stored values encodes");
        WriteOp {
            id: id.into(),
            body: Some(body),
        }
    }

    /// Deletes document `id`.
    pub fn del(id: impl Into<String>) -> WriteOp {
        WriteOp {
            id: id.into(),
            body: None,
        }
    }
}

/// A document as stored in a leaf.
#[derive(Clone, Debug, PartialEq)]
pub enum Leaf {
    Doc { seq: u64, body: Body },
    Ref { seq: u64, cid: Cid },
    Deleted { seq: u64 },
}

/// Borrowed view used to encode a leaf (or, without `seq`, a document block) without copying
/// its document.
enum LeafSer<'a> {
    /// The document as one encoded map.
    Doc(Option<u64>, &'a [u8]),
    Ref(u64, Cid),
    Deleted(u64),
}

impl LeafSer<'_> {
    /// `{w?, doc|ref|del: ..., pos?, seq?}`: `w` has the shortest key, so it comes first; the
    /// others have 3 bytes, so their order is bytewise (`del` < `doc` < `pos` < `ref` < `seq`).
    fn encode(&self, pos: Option<u64>, w: Option<u64>) -> Result<Vec<u8>> {
        use crate::codec::cbor::write_head;
        use crate::codec::dagcbor::write_link;
        let seq = match self {
            LeafSer::Doc(seq, _) => *seq,
            LeafSer::Ref(seq, _) | LeafSer::Deleted(seq) => Some(*seq),
        };
        let mut out = Vec::with_capacity(64);
        write_head(
            &mut out,
            5,
            1 + u64::from(seq.is_some()) + u64::from(pos.is_some()) + u64::from(w.is_some()),
        );
        if let Some(w) = w {
            out.extend_from_slice(b"\x61w");
            write_head(&mut out, 0, w);
        }
        let put_pos = |out: &mut Vec<u8>| {
            if let Some(p) = pos {
                out.extend_from_slice(b"\x63pos");
                write_head(out, 0, p);
            }
        };
        match self {
            LeafSer::Doc(_, body) => {
                out.extend_from_slice(b"\x63doc");
                out.extend_from_slice(body);
                put_pos(&mut out);
            }
            LeafSer::Ref(_, cid) => {
                put_pos(&mut out);
                out.extend_from_slice(b"\x63ref");
                write_link(&mut out, cid);
            }
            LeafSer::Deleted(_) => {
                out.extend_from_slice(b"\x63del\xf5");
                put_pos(&mut out);
            }
        }
        if let Some(seq) = seq {
            out.extend_from_slice(b"\x63seq");
            write_head(&mut out, 0, seq);
        }
        Ok(out)
    }
}

/// The leaf value `{doc, pos?, seq}` of an inline document (`body`: its encoded map).
pub fn doc_leaf_raw(seq: u64, pos: Option<u64>, body: &[u8]) -> Result<Vec<u8>> {
    LeafSer::Doc(Some(seq), body).encode(pos, None)
}

/// `raw` (a leaf, `meta` its scan) re-stamped by a merge at `seq`: the same document, reference
/// or tombstone, its write seq `w` kept, no `pos` (docs/format.md §2.4, §5).
pub fn restamp_leaf(raw: &[u8], meta: &LeafMeta, seq: u64) -> Result<Vec<u8>> {
    match (meta.doc, meta.doc_ref) {
        (Some((from, to)), _) => LeafSer::Doc(Some(seq), &raw[from..to]),
        (None, Some(cid)) => LeafSer::Ref(seq, cid),
        (None, None) => LeafSer::Deleted(seq),
    }
    .encode(None, Some(meta.w))
}

/// A separately stored document block `{doc}` (`body`: the document's encoded map).
pub fn doc_block(body: &[u8]) -> Result<crate::codec::Block> {
    let bytes = LeafSer::Doc(None, body).encode(None, None)?;
    let cid = crate::codec::cid_of(crate::codec::DAG_CBOR, &bytes)?;
    Ok(crate::codec::Block { cid, bytes })
}

/// What a leaf is, read from its encoding without decoding the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafMeta {
    pub seq: u64,
    /// The seq of the commit that wrote the value (`w`, kept by merges; `seq` when absent).
    pub w: u64,
    /// Where the document came in its commit's write order (0 when the leaf has no `pos`).
    pub pos: u64,
    pub live: bool,
    /// The separately stored document block, if any.
    pub doc_ref: Option<Cid>,
    /// Where the inline document map lies in the leaf, if inline.
    pub doc: Option<(usize, usize)>,
}

impl LeafMeta {
    /// Scans an encoded leaf value (a map of `seq` and one of `doc`/`ref`/`del`).
    pub fn read(raw: &[u8]) -> std::result::Result<LeafMeta, String> {
        use crate::codec::cbor::{item_len, read_head};
        let bad = |why: &str| format!("leaf value: {why}");
        let (major, n, mut pos) = read_head(raw, 0).map_err(bad)?;
        if major != 5 || n > 4 {
            return Err(bad("not a small map"));
        }
        let (mut seq, mut kind, mut doc, mut at, mut w) = (None, None, None, 0, None);
        for _ in 0..n {
            let (major, klen, p) = read_head(raw, pos).map_err(bad)?;
            let key = raw
                .get(p..p + klen as usize)
                .filter(|_| major == 3)
                .ok_or_else(|| bad("bad key"))?;
            let vpos = p + klen as usize;
            let vlen = item_len(raw, vpos).map_err(bad)?;
            let value = &raw[vpos..vpos + vlen];
            match key {
                b"seq" | b"pos" | b"w" => {
                    let Ok((0, v, _)) = read_head(value, 0) else {
                        return Err(bad("seq, pos or w is not an unsigned integer"));
                    };
                    match key[0] {
                        b's' => seq = Some(v),
                        b'w' => w = Some(v),
                        _ => at = v,
                    }
                }
                b"doc" if value.first().is_some_and(|b| b >> 5 == 5) => {
                    kind = Some((true, None));
                    doc = Some((vpos, vpos + vlen));
                }
                b"ref" => {
                    kind = Some((
                        true,
                        Some(
                            crate::prolly::as_link(value)
                                .ok_or_else(|| bad("ref is not a link"))?,
                        ),
                    ))
                }
                b"del" if value == [0xf5] => kind = Some((false, None)),
                _ => return Err(bad("unexpected field")),
            }
            pos = vpos + vlen;
        }
        match (seq, kind) {
            (Some(seq), Some((live, doc_ref))) if pos == raw.len() => Ok(LeafMeta {
                seq,
                w: w.unwrap_or(seq),
                pos: at,
                live,
                doc_ref,
                doc,
            }),
            _ => Err(bad("needs seq and one of doc, ref, del")),
        }
    }
}

/// The encoded value of a map entry (`key` among string keys), without decoding the map.
pub(crate) fn map_get<'a>(
    raw: &'a [u8],
    key: &str,
) -> std::result::Result<Option<&'a [u8]>, String> {
    Ok(map_find(raw, key, true)?.map(|(v, len)| &v[..len]))
}

/// Finds `key` in the encoded map `raw`: the bytes from its value on (to the end of `raw`) and
/// the value's length; `with_len == false` leaves the length 0 (not measured).
fn map_find<'a>(
    raw: &'a [u8],
    key: &str,
    with_len: bool,
) -> std::result::Result<Option<(&'a [u8], usize)>, String> {
    use crate::codec::cbor::{item_len, read_head};
    let (major, n, mut pos) = read_head(raw, 0).map_err(str::to_string)?;
    if major != 5 {
        return Err("not a map".into());
    }
    for _ in 0..n {
        let (major, klen, p) = read_head(raw, pos).map_err(str::to_string)?;
        let vpos = p.saturating_add(klen as usize);
        let k = raw
            .get(p..vpos)
            .filter(|_| major == 3)
            .ok_or("bad map key")?;
        if k == key.as_bytes() {
            let len = if with_len {
                item_len(raw, vpos).map_err(str::to_string)?
            } else {
                0
            };
            return Ok(Some((&raw[vpos..], len)));
        }
        pos = vpos + item_len(raw, vpos).map_err(str::to_string)?;
    }
    Ok(None)
}

/// Appends the file CARs a stored document names: the `cars` of every entry of its top-level
/// `_files` and `_publicFiles` maps (docs/format.md §16). `doc` is the encoded document map.
/// Entries that are not file metadata are skipped.
pub fn file_cars(doc: &[u8], out: &mut Vec<String>) {
    for field in ["_files", "_publicFiles"] {
        let Ok(Some(files)) = map_get(doc, field) else {
            continue;
        };
        let Ok(Ipld::Map(files)) = crate::codec::decode(files) else {
            continue;
        };
        for meta in files.values() {
            if let Some(Ipld::List(cars)) = crate::codec::field(meta, "cars") {
                out.extend(cars.iter().filter_map(|c| match c {
                    Ipld::String(s) => Some(s.clone()),
                    _ => None,
                }));
            }
        }
    }
}

/// The encoded value of top-level field `field` of an inline document leaf, without decoding
/// the document: `Ok(None)` when the field is absent, `Err` when the leaf is not inline.
pub fn inline_field<'a>(
    leaf_raw: &'a [u8],
    field: &str,
) -> std::result::Result<Option<&'a [u8]>, String> {
    // The document map is read from its start only: its length need not be measured.
    match map_find(leaf_raw, "doc", false)? {
        Some((doc, _)) => map_get(doc, field),
        None => Err("not an inline document".into()),
    }
}

impl Leaf {
    /// The leaf's dag-cbor encoding (the tree value).
    pub fn to_raw(&self) -> Result<Vec<u8>> {
        self.to_raw_at(None)
    }

    /// The leaf's encoding with its position in its commit's write order (docs/format.md §2.4).
    pub fn to_raw_at(&self, pos: Option<u64>) -> Result<Vec<u8>> {
        let doc;
        (match self {
            Leaf::Doc { seq, body } => {
                doc = RawDoc::from_body(body)?;
                LeafSer::Doc(Some(*seq), doc.bytes())
            }
            Leaf::Ref { seq, cid } => LeafSer::Ref(*seq, *cid),
            Leaf::Deleted { seq } => LeafSer::Deleted(*seq),
        })
        .encode(pos, None)
    }

    /// Decodes an encoded leaf value.
    pub fn from_raw(raw: &[u8]) -> std::result::Result<Leaf, String> {
        Leaf::from_ipld(&crate::codec::decode(raw)?)
    }

    pub fn seq(&self) -> u64 {
        match self {
            Leaf::Doc { seq, .. } | Leaf::Ref { seq, .. } | Leaf::Deleted { seq } => *seq,
        }
    }

    pub fn is_live(&self) -> bool {
        !matches!(self, Leaf::Deleted { .. })
    }

    pub fn from_ipld(v: &Ipld) -> std::result::Result<Leaf, String> {
        let Ipld::Map(m) = v else {
            return Err("leaf value is not a map".into());
        };
        let seq = match m.get("seq") {
            Some(Ipld::Integer(i)) => u64::try_from(*i).map_err(|_| "leaf seq out of range")?,
            _ => return Err("leaf value has no seq".into()),
        };
        match (m.get("doc"), m.get("ref"), m.get("del")) {
            (Some(Ipld::Map(body)), None, None) => Ok(Leaf::Doc {
                seq,
                body: body.clone(),
            }),
            (None, Some(Ipld::Link(cid)), None) => Ok(Leaf::Ref { seq, cid: *cid }),
            (None, None, Some(Ipld::Bool(true))) => Ok(Leaf::Deleted { seq }),
            _ => Err("leaf value is neither doc, ref nor del".into()),
        }
    }
}

/// A document id from a tree key: its UTF-8 text (ids are JSON strings); a damaged key keeps its
/// valid prefix and ends in U+FFFD.
pub fn id_of(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) => s.to_string(),
        Err(e) => {
            let mut s = std::str::from_utf8(&key[..e.valid_up_to()])
                .unwrap_or_default()
                .to_string();
            s.push('\u{fffd}');
            s
        }
    }
}

/// Checks an id: non-empty UTF-8 of at most [`MAX_ID_BYTES`] bytes.
pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_doc("_id", "must be a non-empty string"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::invalid_doc(
            "_id",
            format!("is {} bytes, the limit is {MAX_ID_BYTES}", id.len()),
        ));
    }
    Ok(())
}

/// Parses a wire batch `[[id, body|null], ...]`; each body is read straight into its dag-cbor
/// map (`json::batch`).
pub fn parse_batch(json: &str) -> Result<Vec<WriteOp>> {
    let entries = crate::json::batch(json).map_err(|e| match e {
        crate::json::BatchError::Json(why) => Error::invalid_doc("(batch)", why),
        crate::json::BatchError::NotObject(id) => {
            Error::invalid_doc("(root)", format!("document \"{id}\" is not an object"))
        }
    })?;
    entries
        .into_iter()
        .map(|(id, body)| {
            validate_id(&id)?;
            Ok(WriteOp {
                id,
                body: body.map(RawDoc::from_rc),
            })
        })
        .collect()
}

/// Parses one JSON value (a query key, an option) with the same rules as document fields.
pub fn parse_value(json: &str) -> Result<Ipld> {
    crate::json::parse(json).map_err(|e| Error::InvalidArg(format!("bad json value: {e}")))
}

/// Parses query options, whose keys and range ends may be ±Infinity.
pub fn parse_query_value(json: &str) -> Result<Ipld> {
    crate::json::parse_query(json).map_err(|e| Error::InvalidArg(format!("bad json value: {e}")))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn batch_roundtrip_with_bytes_and_unicode() {
        let ops = parse_batch(
            r#"[["ü-1",{"_id":"ü-1","a":1,"b":[true,null,{"/":{"f64":"4004000000000000"}}],"c":{"/":{"bytes":"AQID"}},"s":"x\"\n☃"}],["gone",null]]"#,
        )
        .unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[1], WriteOp::del("gone"));
        let body = ops[0].body.as_ref().unwrap().body().unwrap();
        assert!(!body.contains_key("_id"));
        assert_eq!(body["c"], Ipld::Bytes(vec![1, 2, 3]));
        let mut out = String::new();
        write_doc(&mut out, &ops[0].id, Some(&body));
        assert_eq!(
            out,
            r#"{"_id":"ü-1","a":1,"b":[true,null,2.5],"c":{"/":{"bytes":"AQID"}},"s":"x\"\n☃"}"#
        );
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["s"], "x\"\n☃");
        out.clear();
        write_doc(&mut out, "gone", None);
        assert_eq!(out, r#"{"_id":"gone","_deleted":true}"#);
    }

    #[test]
    fn rejects_bad_batches() {
        for bad in [
            r#"[["",{}]]"#,
            r#"[["a",[1]]]"#,
            r#"[["a",{"x":1e999}]]"#,
            r#"{"a":1}"#,
            "[[",
            r#"[["a",{"/":{"bytes":"!!"}}]]"#,
        ] {
            let e = parse_batch(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_DOC", "{bad}");
        }
        let long = "x".repeat(MAX_ID_BYTES + 1);
        assert!(parse_batch(&format!(r#"[["{long}",{{}}]]"#)).is_err());
    }

    /// The generic IPLD form of a leaf, to check the borrowed encoder against.
    fn to_ipld(leaf: &Leaf) -> Ipld {
        let mut m = BTreeMap::new();
        m.insert("seq".to_string(), Ipld::Integer(i128::from(leaf.seq())));
        match leaf {
            Leaf::Doc { body, .. } => m.insert("doc".to_string(), Ipld::Map(body.clone())),
            Leaf::Ref { cid, .. } => m.insert("ref".to_string(), Ipld::Link(*cid)),
            Leaf::Deleted { .. } => m.insert("del".to_string(), Ipld::Bool(true)),
        };
        Ipld::Map(m)
    }

    #[test]
    fn leaf_roundtrip() {
        let mut body = Body::new();
        body.insert("n".into(), Ipld::Integer(3));
        let cid = crate::codec::encode(&Ipld::Null).unwrap().cid;
        for leaf in [
            Leaf::Doc { seq: 4, body },
            Leaf::Deleted { seq: 9 },
            Leaf::Ref { seq: 70_000, cid },
        ] {
            assert_eq!(Leaf::from_ipld(&to_ipld(&leaf)).unwrap(), leaf);
            let raw = leaf.to_raw().unwrap();
            assert_eq!(
                raw,
                crate::prolly::raw(&to_ipld(&leaf)).unwrap(),
                "same bytes as the generic encoding"
            );
            assert_eq!(Leaf::from_raw(&raw).unwrap(), leaf);
            let meta = LeafMeta::read(&raw).unwrap();
            assert_eq!((meta.seq, meta.live), (leaf.seq(), leaf.is_live()));
            assert_eq!(
                meta.doc_ref,
                if let Leaf::Ref { cid, .. } = &leaf {
                    Some(*cid)
                } else {
                    None
                }
            );
            // a merge's re-stamp: canonical bytes of the map with `w` (the written seq) and the
            // merge's `seq`, `pos` dropped; re-stamping again keeps the first `w`
            let with_pos = leaf.to_raw_at(Some(2)).unwrap();
            let merged = restamp_leaf(&with_pos, &LeafMeta::read(&with_pos).unwrap(), 100).unwrap();
            let Ipld::Map(mut m) = to_ipld(&leaf) else {
                unreachable!()
            };
            m.insert("seq".into(), Ipld::Integer(100));
            m.insert("w".into(), Ipld::Integer(leaf.seq().into()));
            assert_eq!(merged, crate::prolly::raw(&Ipld::Map(m)).unwrap());
            let again = restamp_leaf(&merged, &LeafMeta::read(&merged).unwrap(), 200).unwrap();
            let meta = LeafMeta::read(&again).unwrap();
            assert_eq!((meta.seq, meta.w, meta.pos), (200, leaf.seq(), 0));
            assert_eq!(Leaf::from_raw(&again).unwrap().is_live(), leaf.is_live());
        }
        assert!(Leaf::from_ipld(&Ipld::Null).is_err());
        for junk in [
            &[][..],
            &[0xa1, 0x63, b's', b'e', b'q', 0x01],
            &[0xa2, 0x63],
            &[0xf6],
        ] {
            assert!(LeafMeta::read(junk).is_err(), "{junk:?}");
        }
    }
}
