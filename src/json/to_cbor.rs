//! Write batches read from JSON straight into canonical dag-cbor: each document's fields become
//! the bytes that [`super::parse`] followed by `codec::dagcbor::encode_into` would make, without
//! building the IPLD tree in between (a bulk write spent a quarter of its engine time building,
//! re-encoding and dropping those trees).
//!
//! Invariant: for every text, a document's bytes and every error are those of that two-step path
//! (maps in canonical key order, the last of duplicate keys kept, the dag-json bytes and float
//! forms, the same depth limit); `to_cbor_matches_parse_then_encode` checks it on random documents.

use super::{Reader, Span, MAX_DEPTH};
use crate::codec::cbor::{read_head, write_head};
use crate::codec::dagcbor::encode_into;

/// A document's nesting depth in a batch (batch array 0, entry 1), as [`super::parse`] counts it.
const DOC_DEPTH: usize = 2;

/// A batch entry: the id, and the document's fields as one dag-cbor map (`None`: a delete).
pub type Entry = (String, Option<std::rc::Rc<[u8]>>);

/// Why a batch was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BatchError {
    /// Not JSON, or not `[[id, doc|null], ...]`.
    Json(String),
    /// The document of this id is neither an object nor null.
    NotObject(String),
}

/// Reads a wire batch `[[id, doc|null], ...]`: each id with its document's fields (without a
/// top-level `_id`) as one dag-cbor map, or `None` (a delete).
pub fn batch(text: &str) -> Result<Vec<Entry>, BatchError> {
    let mut r = Reader {
        t: text,
        s: text.as_bytes(),
        i: 0,
        infinities: false,
        spans: Vec::new(),
    };
    let json = BatchError::Json;
    let mut out = Vec::new();
    // every document is transcoded into this one buffer (dag-cbor is smaller than its JSON)
    let mut docs = Vec::with_capacity(text.len());
    r.ws();
    if r.s.get(r.i) != Some(&b'[') {
        return Err(json(r.err("a batch is an array")));
    }
    r.i += 1;
    if !r.empty(b']') {
        loop {
            out.push(r.entry(&mut docs)?);
            if !r.more(b']').map_err(json)? {
                break;
            }
        }
    }
    r.ws();
    if r.i != r.s.len() {
        return Err(json(r.err("trailing characters")));
    }
    Ok(out)
}

impl Reader<'_> {
    /// One `[id, doc|null]` entry (`docs`: scratch space for the document's bytes).
    fn entry(&mut self, docs: &mut Vec<u8>) -> Result<Entry, BatchError> {
        let json = BatchError::Json;
        let shape = |r: &Self| json(r.err("each entry is [id, doc]"));
        self.ws();
        if self.s.get(self.i) != Some(&b'[') {
            return Err(shape(self));
        }
        self.i += 1;
        self.ws();
        if self.s.get(self.i) != Some(&b'"') {
            return Err(shape(self));
        }
        let id = self.string().map_err(json)?;
        self.ws();
        self.eat(b",").map_err(|_| shape(self))?;
        self.ws();
        docs.clear();
        let body = match self.s.get(self.i) {
            Some(b'n') => {
                self.eat(b"null").map_err(json)?;
                None
            }
            Some(b'{') => match self.object_cbor(docs, DOC_DEPTH, true).map_err(json)? {
                true => Some(docs.as_slice().into()),
                false => return Err(BatchError::NotObject(id)),
            },
            _ => {
                self.cbor(docs, DOC_DEPTH).map_err(json)?;
                return Err(BatchError::NotObject(id));
            }
        };
        self.ws();
        self.eat(b"]").map_err(|_| shape(self))?;
        Ok((id, body))
    }

    /// Appends one JSON value as dag-cbor.
    fn cbor(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => self.object_cbor(out, depth, false).map(|_| ()),
            Some(b'[') => self.array_cbor(out, depth),
            Some(b'"') => self.string_cbor(out),
            _ => {
                let v = self.value(depth)?;
                encode_into(out, &v).map_err(|e| self.err(e))
            }
        }
    }

    fn string_cbor(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let start = self.i + 1;
        let mut end = start;
        while let Some(&c) = self.s.get(end) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                break;
            }
            end += 1;
        }
        if self.s.get(end) == Some(&b'"') {
            // no escapes: the text's own bytes (valid UTF-8, cut at ASCII quotes)
            write_head(out, 3, (end - start) as u64);
            out.extend_from_slice(&self.s[start..end]);
            self.i = end + 1;
            return Ok(());
        }
        let s = self.string()?;
        write_head(out, 3, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn array_cbor(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
        self.i += 1;
        let mark = out.len();
        let mut n = 0;
        if !self.empty(b']') {
            loop {
                self.cbor(out, depth + 1)?;
                n += 1;
                if !self.more(b']')? {
                    break;
                }
            }
        }
        head_before(out, mark, 4, n);
        Ok(())
    }

    /// Appends an object as a map in canonical key order; a special form `{"/": {"bytes"|"f64":
    /// text}}` as its value instead (then `false`), an escaped `{"/": {"map": x}}` as the map
    /// `{"/": x}`. `top`: a document, whose `_id` is left out.
    fn object_cbor(&mut self, out: &mut Vec<u8>, depth: usize, top: bool) -> Result<bool, String> {
        self.i += 1;
        let mark = out.len();
        let base = self.spans.len();
        if !self.empty(b'}') {
            loop {
                self.ws();
                if self.s.get(self.i) != Some(&b'"') {
                    return Err(self.err("expected a key"));
                }
                let start = out.len() - mark;
                self.string_cbor(out)?;
                let key = out.len() - mark;
                self.ws();
                self.eat(b":")?;
                self.cbor(out, depth + 1)?;
                self.spans.push((start, key, out.len() - mark));
                if !self.more(b'}')? {
                    break;
                }
            }
        }
        let in_order = sort_entries(&mut self.spans, base, &out[mark..]);
        let entries = &self.spans[base..];
        let key = |(s, k, _): Span| &out[mark + s..mark + k];
        if let [only] = entries[..] {
            if key(only) == b"\x61/" {
                let value = mark + only.1..mark + only.2;
                if let Some((kind, text)) = special_form(&out[value.clone()]) {
                    let v = self.special(kind, text)?;
                    out.truncate(mark);
                    self.spans.truncate(base);
                    encode_into(out, &v).map_err(|e| self.err(e))?;
                    return Ok(false);
                }
                // an escaped map whose only key is "/": `{"/":{"map":x}}` is the map {"/": x}
                if out[value.clone()].starts_with(b"\xa1\x63map") {
                    let x = out[value.start + 5..value.end].to_vec();
                    out.truncate(mark);
                    self.spans.truncate(base);
                    out.extend_from_slice(b"\xa1\x61/");
                    out.extend_from_slice(&x);
                    return Ok(true);
                }
            }
        }
        let id = top
            .then(|| entries.iter().position(|&e| key(e) == b"\x63_id"))
            .flatten();
        if in_order && id.is_none() {
            head_before(out, mark, 5, entries.len() as u64); // as written: no copy
        } else {
            // the map after the entries as written, then moved down over them
            let written = out.len();
            write_head(out, 5, (entries.len() - usize::from(id.is_some())) as u64);
            for (i, &(s, _, e)) in entries.iter().enumerate() {
                if Some(i) != id {
                    out.extend_from_within(mark + s..mark + e);
                }
            }
            out.copy_within(written.., mark);
            out.truncate(out.len() - (written - mark));
        }
        self.spans.truncate(base);
        Ok(true)
    }
}

/// Sorts an object's entries (`spans[base..]`; `body`: their bytes) into canonical key order
/// (shorter keys first, then bytewise: the encoded keys' byte order, as a text head grows with
/// the length) and keeps the last of equal keys, as a map insert does; true when they were
/// written in that order, without duplicates.
fn sort_entries(spans: &mut Vec<Span>, base: usize, body: &[u8]) -> bool {
    let key = |&(s, k, _): &Span| &body[s..k];
    if spans[base..].windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        return true;
    }
    let n = spans.len() - base;
    if n <= 16 {
        // few entries (most objects): an insertion sort in place, stable
        for i in base + 1..spans.len() {
            let mut j = i;
            while j > base && key(&spans[j]) < key(&spans[j - 1]) {
                spans.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        // by key, then position: equal keys in input order
        let mut order: Vec<u32> = (0..n as u32).collect();
        let at = |i: u32| &spans[base + i as usize];
        crate::sort::heap_sort(&mut order, &|a, b| (key(at(a)), a) < (key(at(b)), b));
        let sorted: Vec<Span> = order.iter().map(|&i| *at(i)).collect();
        spans[base..].copy_from_slice(&sorted);
    }
    // the last of equal keys (the last one written) stands for them
    let mut w = base;
    for r in base..spans.len() {
        if w > base && key(&spans[w - 1]) == key(&spans[r]) {
            spans[w - 1] = spans[r];
        } else {
            spans[w] = spans[r];
            w += 1;
        }
    }
    spans.truncate(w);
    false
}

/// `{"bytes"|"f64": text}` (one entry, a text value) as encoded by [`Reader::cbor`]: the kind and
/// the text.
fn special_form(v: &[u8]) -> Option<(&'static str, &str)> {
    let (5, 1, p) = read_head(v, 0).ok()? else {
        return None;
    };
    let (3, n, p) = read_head(v, p).ok()? else {
        return None;
    };
    let kind = match v.get(p..p + n as usize)? {
        b"bytes" => "bytes",
        b"f64" => "f64",
        _ => return None,
    };
    let (3, m, q) = read_head(v, p + n as usize).ok()? else {
        return None;
    };
    Some((kind, std::str::from_utf8(v.get(q..q + m as usize)?).ok()?))
}

/// Puts the head `(major, n)` in front of the items appended since `mark`.
fn head_before(out: &mut Vec<u8>, mark: usize, major: u8, n: u64) {
    let end = out.len();
    write_head(out, major, n);
    let h = out.len() - end;
    let mut head = [0u8; 9];
    head[..h].copy_from_slice(&out[end..]);
    out.copy_within(mark..end, mark + h);
    out[mark..mark + h].copy_from_slice(&head[..h]);
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "to_cbor_tests.rs"]
mod tests;
