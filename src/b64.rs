//! Standard-alphabet base64 for the dag-json bytes convention: encoded with padding; decoded
//! with or without padding, rejecting non-zero trailing bits. Accepts, rejects and reports
//! exactly as the `base64` crate's `STANDARD` engine with `DecodePaddingMode::Indifferent` (the
//! tests compare the two), in a fraction of its code.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the padded encoding of `bytes` to `out`.
pub fn encode_into(out: &mut String, bytes: &[u8]) {
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            out.push(if i <= c.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
}

fn value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

fn invalid(what: &str, byte: u8, at: usize) -> String {
    format!("Invalid {what} {byte}, offset {at}.")
}

/// Decodes `s`; the error is the `base64` crate's message for the same input.
pub fn decode(s: &[u8]) -> Result<Vec<u8>, String> {
    let n = s.len();
    let rem = n % 4;
    if rem == 1 && s[n - 1] != b'=' && value(s[n - 1]).is_none() {
        return Err(invalid("symbol", s[n - 1], n - 1));
    }
    // whole quads before the last (up to four) symbols
    let q = (n - rem).saturating_sub(if rem == 0 { 4 } else { 0 });
    let mut out = Vec::with_capacity(n / 4 * 3 + 3);
    let mut acc = 0u32;
    let mut m = 0usize; // symbols in `acc`
    let mut pads = 0usize;
    let mut first_pad = 0usize;
    let mut last = 0u8;
    for (i, &b) in s.iter().enumerate() {
        if i >= q && b == b'=' {
            if i - q < 2 {
                return Err(invalid("symbol", b, i));
            }
            if pads == 0 {
                first_pad = i;
            }
            pads += 1;
            continue;
        }
        if pads > 0 {
            return Err(invalid("symbol", b'=', first_pad));
        }
        let v = value(b).ok_or_else(|| invalid("symbol", b, i))?;
        last = b;
        acc = acc << 6 | v;
        m += 1;
        if m == 4 {
            out.extend_from_slice(&acc.to_be_bytes()[1..]);
            acc = 0;
            m = 0;
        }
    }
    // symbols of the suffix (the last quad, possibly complete)
    let tail = if n == 0 { 0 } else { n - q - pads };
    if n > 0 && tail < 2 {
        return Err(format!("Invalid input length: {}", q + tail));
    }
    if m > 0 {
        let bits = acc << (32 - 6 * m as u32);
        let keep = m * 6 / 8;
        if bits << (keep * 8) != 0 {
            return Err(invalid("last symbol", last, q + tail - 1));
        }
        out.extend_from_slice(&bits.to_be_bytes()[..keep]);
    }
    Ok(out)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::{alphabet, Engine as _};
    use proptest::prelude::*;

    const REF: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );

    fn check(s: &[u8]) {
        let ours = super::decode(s);
        let theirs = REF.decode(s).map_err(|e| e.to_string());
        assert_eq!(ours, theirs, "input {:?}", String::from_utf8_lossy(s));
    }

    #[test]
    fn edge_cases() {
        for s in [
            "",
            "=",
            "==",
            "===",
            "====",
            "A",
            "A=",
            "A==",
            "A===",
            "AA",
            "AA=",
            "AA==",
            "AA===",
            "AB",
            "AB==",
            "AAA",
            "AAB",
            "AAA=",
            "AAAA",
            "AAAA=",
            "AAAA==",
            "AAAAA",
            "AAAAA=",
            "AA=A",
            "A=AA",
            "=AAA",
            "AAAA====",
            "AAA==",
            "AA=====",
            "AAAA*",
            "*",
            "AA*=",
            "Zg",
            "Zh==",
            "Zm9v",
            "Zm9vYg",
            "Zm9vYmE=",
            "Zm9vYmFy",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "AAAA AAA",
            "AAAA\nAAAA",
            "AA=\u{e9}",
        ] {
            check(s.as_bytes());
        }
    }

    fn sym() -> impl Strategy<Value = u8> {
        prop_oneof![
            8 => proptest::sample::select(super::ALPHABET.to_vec()),
            2 => Just(b'='),
            1 => any::<u8>(),
        ]
    }

    proptest! {
        #[test]
        fn encodes_like_the_crate(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut s = String::new();
            super::encode_into(&mut s, &bytes);
            prop_assert_eq!(&s, &REF.encode(&bytes));
            prop_assert_eq!(super::decode(s.as_bytes()), Ok(bytes.clone()));
            check(s.trim_end_matches('=').as_bytes());
        }

        #[test]
        fn decodes_like_the_crate(s in proptest::collection::vec(sym(), 0..40)) {
            check(&s);
        }

        #[test]
        fn decodes_mutated_encodings_like_the_crate(
            bytes in proptest::collection::vec(any::<u8>(), 0..60),
            at in any::<usize>(),
            with in sym(),
            cut in 0usize..4,
        ) {
            let mut s = REF.encode(&bytes).into_bytes();
            if !s.is_empty() {
                let i = at % s.len();
                s[i] = with;
            }
            s.truncate(s.len().saturating_sub(cut));
            check(&s);
        }
    }
}
