//! A small JSON reader producing IPLD values: the engine's only JSON input is text made by the
//! TypeScript wrapper (documents, options, clocks) and its own header, so it needs no more than
//! RFC 8259 plus the dag-json bytes convention `{"/": {"bytes": "<base64>"}}`, floats as their
//! bits, `{"/": {"f64": "<16 hex digits>"}}` (no decimal fractions), and maps whose only key is
//! `"/"` escaped as `{"/": {"map": <value>}}` (docs/format.md §2.1).
//! Write batches take a shorter way, [`batch`] (`to_cbor`): each document straight into the
//! dag-cbor map this reader and the encoder would make together.
//!
//! Invariant: any input yields a value or an error naming the byte offset, never a panic; nesting
//! is bounded ([`MAX_DEPTH`]), numbers are finite (query options: or ±Infinity), strings are valid
//! Unicode.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

mod to_cbor;
pub use to_cbor::{batch, BatchError};

/// Deepest accepted nesting of arrays and objects.
pub const MAX_DEPTH: usize = 128;

struct Reader<'a> {
    /// The text, and `s` its bytes: string runs are sliced from `t` (they start and end at ASCII
    /// bytes, so on character boundaries) instead of validating their UTF-8 again.
    t: &'a str,
    s: &'a [u8],
    i: usize,
    /// Accept ±Infinity (as f64 bits): query bounds may be infinite, stored values may not.
    infinities: bool,
    /// The entries of the objects being transcoded ([`to_cbor`]), innermost last.
    spans: Vec<Span>,
}

/// An object entry transcoded into the output: (start, end of key, end), from the object's start.
type Span = (usize, usize, usize);

/// Parses one JSON text into IPLD.
pub fn parse(text: &str) -> Result<Ipld, String> {
    parse_with(text, false)
}

/// [`parse`] for query options, whose keys and range ends may be ±Infinity (never NaN).
pub fn parse_query(text: &str) -> Result<Ipld, String> {
    parse_with(text, true)
}

fn parse_with(text: &str, infinities: bool) -> Result<Ipld, String> {
    let mut r = Reader {
        t: text,
        s: text.as_bytes(),
        i: 0,
        infinities,
        spans: Vec::new(),
    };
    let v = r.value(0)?;
    r.ws();
    if r.i != r.s.len() {
        return Err(r.err("trailing characters"));
    }
    Ok(v)
}

impl Reader<'_> {
    fn err(&self, what: &str) -> String {
        format!("json: {what} at byte {}", self.i)
    }

    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// At the start of an array's or object's items: true (and consumed) if `close` ends it at once.
    fn empty(&mut self, close: u8) -> bool {
        self.ws();
        let at = self.s.get(self.i) == Some(&close);
        self.i += usize::from(at);
        at
    }

    /// After an item of an array or object: true at `,` (another item follows), false at `close`
    /// (consumed), else an error.
    fn more(&mut self, close: u8) -> Result<bool, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(&c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ if close == b']' => Err(self.err("expected , or ]")),
            _ => Err(self.err("expected , or }")),
        }
    }

    fn eat(&mut self, lit: &[u8]) -> Result<(), String> {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(self.err("unexpected character"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Ipld, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Ipld::String),
            Some(b't') => self.eat(b"true").map(|_| Ipld::Bool(true)),
            Some(b'f') => self.eat(b"false").map(|_| Ipld::Bool(false)),
            Some(b'n') => self.eat(b"null").map(|_| Ipld::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Ipld, String> {
        self.i += 1;
        let mut out = Vec::new();
        if !self.empty(b']') {
            loop {
                out.push(self.value(depth + 1)?);
                if !self.more(b']')? {
                    break;
                }
            }
        }
        Ok(Ipld::List(out))
    }

    fn object(&mut self, depth: usize) -> Result<Ipld, String> {
        self.i += 1;
        let mut out = BTreeMap::new();
        if self.empty(b'}') {
            return Ok(Ipld::Map(out));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err("expected a key"));
            }
            let k = self.string()?;
            self.ws();
            self.eat(b":")?;
            let v = self.value(depth + 1)?;
            out.insert(k, v);
            if !self.more(b'}')? {
                break;
            }
        }
        // dag-json bytes {"/": {"bytes": "<base64>"}}, floats {"/": {"f64": "<hex bits>"}}, and
        // maps whose only key is "/", escaped as {"/": {"map": x}}
        if out.len() == 1 {
            if let Some(Ipld::Map(inner)) = out.get("/") {
                for kind in ["bytes", "f64"] {
                    if let (1, Some(Ipld::String(text))) = (inner.len(), inner.get(kind)) {
                        return self.special(kind, text);
                    }
                }
                if let (1, Some(x)) = (inner.len(), inner.get("map")) {
                    let x = x.clone(); // (not `remove`: BTreeMap's removal adds ~3 KB of wasm)
                    out.insert("/".into(), x);
                }
            }
        }
        Ok(Ipld::Map(out))
    }

    /// The value of the special form `{"/": {kind: text}}` (`kind`: `bytes` or `f64`).
    fn special(&self, kind: &str, text: &str) -> Result<Ipld, String> {
        if kind == "bytes" {
            return crate::b64::decode(text.as_bytes())
                .map(Ipld::Bytes)
                .map_err(|e| self.err(&format!("bad base64 bytes: {e}")));
        }
        let bits = (text.len() == 16)
            .then(|| u64::from_str_radix(text, 16).ok())
            .flatten();
        match bits.map(f64::from_bits) {
            Some(f) if f.is_finite() || (self.infinities && f.is_infinite()) => Ok(Ipld::Float(f)),
            Some(_) => Err(self.err("non-finite number")),
            None => Err(self.err("bad f64 bits")),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("truncated escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| self.err("bad escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad escape"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&c) = self.s.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(
                self.t
                    .get(start..self.i)
                    .ok_or_else(|| self.err("invalid utf-8"))?,
            );
            match self.s.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let e = *self
                        .s
                        .get(self.i)
                        .ok_or_else(|| self.err("truncated escape"))?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xd800..0xdc00).contains(&hi) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return Err(self.err("lone surrogate"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.err("lone surrogate"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(c).ok_or_else(|| self.err("lone surrogate"))?);
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
                Some(_) => return Err(self.err("control character in string")),
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    fn number(&mut self) -> Result<Ipld, String> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let digits = |r: &mut Self| {
            let from = r.i;
            while matches!(r.s.get(r.i), Some(b'0'..=b'9')) {
                r.i += 1;
            }
            r.i > from
        };
        if !digits(self) {
            return Err(self.err("bad number"));
        }
        let mut integral = true;
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            integral = false;
            if !digits(self) {
                return Err(self.err("bad number"));
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            integral = false;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.err("bad number"));
            }
        }
        let text =
            std::str::from_utf8(&self.s[start..self.i]).map_err(|_| self.err("bad number"))?;
        if !integral {
            return Err(self.err("a fraction or exponent (floats arrive as {\"/\":{\"f64\":hex}})"));
        }
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Ipld::Integer(i.into()));
        }
        match text.parse::<u64>() {
            Ok(u) => Ok(Ipld::Integer(u.into())),
            Err(_) => Err(self.err("integer out of range")),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn f64_wire(f: f64) -> String {
        format!("{{\"/\":{{\"f64\":\"{:016x}\"}}}}", f.to_bits())
    }

    #[test]
    fn parses_what_the_wrapper_makes() {
        let floats = [
            3.5,
            1e21,
            -0.25e-3,
            0.1,
            -0.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        let listed: Vec<String> = floats.iter().map(|f| f64_wire(*f)).collect();
        let text = format!(
            r#" {{"a":[1,-2,{}],"s":"x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00","t":true,"f":false,"n":null,"b":{{"/":{{"bytes":"AQI="}}}},"o":{{}}}} "#,
            listed.join(",")
        );
        let v = parse(&text).unwrap();
        let Ipld::Map(m) = v else { panic!() };
        let mut want = vec![Ipld::Integer(1), Ipld::Integer(-2)];
        want.extend(floats.iter().map(|f| Ipld::Float(*f)));
        assert_eq!(m["a"], Ipld::List(want));
        if let Ipld::List(l) = &m["a"] {
            // -0 keeps its sign bit
            assert_eq!(l[6], Ipld::Float(-0.0));
            assert!(matches!(l[6], Ipld::Float(f) if f.is_sign_negative()));
        }
        assert_eq!(m["s"], Ipld::String("x\"\\/\u{8}\u{c}\n\r\té😀".into()));
        assert_eq!(m["b"], Ipld::Bytes(vec![1, 2]));
        assert_eq!(m["o"], Ipld::Map(BTreeMap::new()));
        assert_eq!(
            parse("18446744073709551615").unwrap(),
            Ipld::Integer(u64::MAX.into())
        );
        assert_eq!(
            parse("-9223372036854775808").unwrap(),
            Ipld::Integer(i64::MIN.into())
        );
    }

    #[test]
    fn rejects_bad_json() {
        let deep = "[".repeat(MAX_DEPTH + 2);
        for bad in [
            "",
            "[",
            "{",
            "{\"a\"}",
            "[1,]",
            "01x",
            "1e999",
            "\"\\ud800\"",
            "\"\\ud800\\u0041\"",
            "\"a",
            "tru",
            "[1 2]",
            "\"\u{1}\"",
            "-",
            "1.",
            "{\"/\":{\"bytes\":\"!!\"}}",
            "1.5",
            "1e2",
            "18446744073709551616",
            "{\"/\":{\"f64\":\"7ff0000000000000\"}}",
            "{\"/\":{\"f64\":\"7ff8000000000000\"}}",
            "{\"/\":{\"f64\":\"3ff\"}}",
            "{\"/\":{\"f64\":\"zzzzzzzzzzzzzzzz\"}}",
            &deep,
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn query_options_may_hold_infinities_documents_may_not() {
        let inf = "[{\"/\":{\"f64\":\"7ff0000000000000\"}},{\"/\":{\"f64\":\"fff0000000000000\"}}]";
        assert!(parse(inf).is_err());
        assert_eq!(
            parse_query(inf).unwrap(),
            Ipld::List(vec![
                Ipld::Float(f64::INFINITY),
                Ipld::Float(f64::NEG_INFINITY)
            ])
        );
        assert!(parse_query("{\"/\":{\"f64\":\"7ff8000000000000\"}}").is_err());
        // NaN
    }
}
