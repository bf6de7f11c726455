//! Write batches read from JSON straight into canonical dag-cbor: each document's fields become
//! the bytes that [`super::parse`] followed by `codec::dagcbor::encode_into` would make, without
//! building the IPLD tree in between (a bulk write spent a quarter of its engine time building,
//! re-encoding and dropping those trees).
//!
//! Invariant: for every text, a document's bytes and every error are those of that two-step path
//! (maps in canonical key order, the last of duplicate keys kept, the dag-json bytes and float
//! forms, the same depth limit); `to_cbor_matches_parse_then_encode` checks it on random documents.

use super::{Reader, MAX_DEPTH};
use crate::codec::cbor::{read_head, write_head};
use crate::codec::dagcbor::encode_into;

/// A document's nesting depth in a batch (batch array 0, entry 1), as [`super::parse`] counts it.
const DOC_DEPTH: usize = 2;

/// A batch entry: the id, and the document's fields as one dag-cbor map (`None`: a delete).
pub type Entry = (String, Option<Vec<u8>>);

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
    };
    let json = BatchError::Json;
    let mut out = Vec::new();
    r.ws();
    if r.s.get(r.i) != Some(&b'[') {
        return Err(json(r.err("a batch is an array")));
    }
    r.i += 1;
    r.ws();
    if r.s.get(r.i) == Some(&b']') {
        r.i += 1;
    } else {
        loop {
            out.push(r.entry()?);
            r.ws();
            match r.s.get(r.i) {
                Some(b',') => r.i += 1,
                Some(b']') => {
                    r.i += 1;
                    break;
                }
                _ => return Err(json(r.err("expected , or ]"))),
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
    /// One `[id, doc|null]` entry.
    fn entry(&mut self) -> Result<Entry, BatchError> {
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
        let mut doc = Vec::new();
        let body = match self.s.get(self.i) {
            Some(b'n') => {
                self.eat(b"null").map_err(json)?;
                None
            }
            Some(b'{') => match self.object_cbor(&mut doc, DOC_DEPTH, true).map_err(json)? {
                true => Some(doc),
                false => return Err(BatchError::NotObject(id)),
            },
            _ => {
                self.cbor(&mut doc, DOC_DEPTH).map_err(json)?;
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
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
        } else {
            loop {
                self.cbor(out, depth + 1)?;
                n += 1;
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected , or ]")),
                }
            }
        }
        head_before(out, mark, 4, n);
        Ok(())
    }

    /// Appends an object as a map in canonical key order; a special form `{"/": {"bytes"|"f64":
    /// text}}` as its value instead (then `false`). `top`: a document, whose `_id` is left out.
    fn object_cbor(&mut self, out: &mut Vec<u8>, depth: usize, top: bool) -> Result<bool, String> {
        self.i += 1;
        let mark = out.len();
        // each entry as written: (start, end of key, end), offsets from `mark`
        let mut spans: Vec<(usize, usize, usize)> = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
        } else {
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
                spans.push((start, key, out.len() - mark));
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected , or }")),
                }
            }
        }
        let body = out.split_off(mark);
        let key = |e: u32| {
            let (s, k, _) = spans[e as usize];
            &body[s..k]
        };
        // canonical order (shorter keys first, then bytewise) is the encoded keys' byte order:
        // a text head grows with the length; equal keys by position, so the last is kept
        let mut order: Vec<u32> = (0..spans.len() as u32).collect();
        crate::sort::heap_sort(&mut order, &|a, b| (key(a), a) < (key(b), b));
        order.dedup_by(|later, earlier| {
            let same = key(*later) == key(*earlier);
            if same {
                *earlier = *later;
            }
            same
        });
        if let [only] = order[..] {
            let (_, k, e) = spans[only as usize];
            if key(only) == b"\x61/" {
                if let Some((kind, text)) = special_form(&body[k..e]) {
                    encode_into(out, &self.special(kind, text)?).map_err(|e| self.err(e))?;
                    return Ok(false);
                }
            }
        }
        let fields: Vec<u32> = order
            .into_iter()
            .filter(|&e| !(top && key(e) == b"\x63_id"))
            .collect();
        write_head(out, 5, fields.len() as u64);
        for e in fields {
            let (s, _, end) = spans[e as usize];
            out.extend_from_slice(&body[s..end]);
        }
        Ok(true)
    }
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
