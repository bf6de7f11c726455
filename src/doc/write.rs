//! The JSON text the engine hands to JS: string literals, numbers, IPLD values in the wire form
//! of [`super`] (bytes as `{"/":{"bytes":..}}`, links as `{"/":"cid"}`), and documents as JS sees
//! them (`{"_id": id, ...fields}`). Invariant: the output parses as JSON and reads back to the
//! same values (floats in their shortest round-trip form, non-finite ones as `null`).

use ipld_core::ipld::Ipld;

use super::raw::{self, write_deleted, IdAt, RawDoc};
#[cfg(all(test, not(target_arch = "wasm32")))]
use super::Body;
use crate::error::{Error, Result};

/// Appends a JSON array of strings.
pub fn write_strs(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, s);
    }
    out.push(']');
}

/// Appends `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    // The bytes that need escaping are ASCII, which never occurs inside a multi-byte UTF-8
    // sequence, so every split below is at a char boundary (`get` cannot fail; it is used instead
    // of indexing to keep the indexing panic's formatting out of the wasm).
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// Appends an IPLD value as wire JSON (bytes as `{"/":{"bytes":..}}`, links as `{"/":"cid"}`).
pub fn write_json(out: &mut String, v: &Ipld) {
    match v {
        Ipld::Null => out.push_str("null"),
        Ipld::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Ipld::Integer(i) => write_int(out, *i),
        Ipld::Float(f) => write_float(out, *f),
        Ipld::String(s) => write_str(out, s),
        Ipld::Bytes(b) => {
            out.push_str("{\"/\":{\"bytes\":\"");
            crate::b64::encode_into(out, b);
            out.push_str("\"}}");
        }
        Ipld::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Ipld::Map(m) => raw::write_map_value(out, m),
        Ipld::Link(c) => {
            out.push_str("{\"/\":\"");
            out.push_str(&crate::codec::cid_str(c));
            out.push_str("\"}");
        }
    }
}

/// Appends a float: integral ones (index keys are numbers as floats) like the integers they are,
/// others in the shortest text that reads back as the same f64; non-finite ones as `null`.
pub fn write_float(out: &mut String, f: f64) {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 && f != 0.0 {
        write_int(out, f as i128)
    } else if f.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(f));
    } else {
        out.push_str("null");
    }
}

/// Appends an integer in decimal (without the formatting machinery: this runs per number).
pub fn write_int(out: &mut String, i: i128) {
    let mut buf = [0u8; 40];
    let mut at = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        at -= 1;
        // dag-cbor integers fit 64 bits (plus sign): divide as u64 when possible
        let (q, r) = match u64::try_from(n) {
            Ok(small) => (u128::from(small / 10), (small % 10) as u8),
            Err(_) => (n / 10, (n % 10) as u8),
        };
        buf[at] = b'0' + r;
        n = q;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    for &b in &buf[at..] {
        out.push(char::from(b));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
fn write_fields(out: &mut String, m: &Body, open: bool) {
    if open {
        out.push('{');
    }
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        write_json(out, v);
    }
    out.push('}');
}

/// Appends a stored document as JS sees it: `{"_id": id, ...fields}` (`_id` placed as `at`
/// says), or `{"_id": id, "_deleted": true}` for `None`.
pub fn write_stored_doc(out: &mut String, id: &str, doc: Option<&RawDoc>, at: IdAt) -> Result<()> {
    match doc {
        None => write_deleted(out, id),
        Some(d) => d
            .write_json(out, id, at)
            .map_err(|e| Error::corrupt(format!("doc {id}"), e))?,
    }
    Ok(())
}

/// Appends a document as JS sees it: `{"_id": id, ...fields}`, or `{"_id": id, "_deleted": true}`
/// (from a decoded body: the reference the stored-bytes writer is tested against).
#[cfg(all(test, not(target_arch = "wasm32")))]
pub fn write_doc(out: &mut String, id: &str, body: Option<&Body>) {
    out.push_str("{\"_id\":");
    write_str(out, id);
    // a body's own `_id` (never written by this package; possible in a replica's data) gives way
    // to the id, as in the stored-bytes writer
    let body = body.map(|b| {
        let mut b = b.clone();
        b.remove("_id");
        b
    });
    match body {
        None => out.push_str(",\"_deleted\":true}"),
        Some(b) if b.is_empty() => out.push('}'),
        Some(b) => {
            out.push(',');
            write_fields(out, &b, false);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_in_decimal() {
        let max = i128::from(u64::MAX);
        for i in [
            0,
            7,
            -1,
            10,
            -10,
            1234567890,
            i128::from(i64::MIN),
            max,
            -1 - max,
        ] {
            let mut out = String::new();
            write_int(&mut out, i);
            assert_eq!(out, i.to_string());
        }
    }

    #[test]
    fn control_chars_and_floats() {
        let mut out = String::new();
        write_json(
            &mut out,
            &Ipld::List(vec![
                Ipld::String("\u{1}".into()),
                Ipld::Float(0.1),
                Ipld::Float(1e21),
            ]),
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0], "\u{1}");
        assert_eq!(v[1], 0.1);
        assert_eq!(v[2], 1e21);
    }

    /// Emitted values (and any map written from a tree) list keys as stored documents do.
    #[test]
    fn maps_are_written_in_dag_cbor_order() {
        let mut inner = Body::new();
        for k in ["yy", "t", "list", "b"] {
            inner.insert(k.into(), Ipld::Integer(1));
        }
        let mut out = String::new();
        write_json(&mut out, &Ipld::List(vec![Ipld::Map(inner)]));
        assert_eq!(out, r#"[{"b":1,"t":1,"yy":1,"list":1}]"#);
    }
}
