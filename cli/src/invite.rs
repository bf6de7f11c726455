//! Invites (`fp1.` + base64url(JSON `{v: 1, u, l, k}`), docs/sync.md §7), read from the argument
//! itself, from a file, from stdin (`-`) or from a URL carrying `#invite=…`.
//!
//! Invariant: a parsed invite has version 1, a non-empty ledger id and a 32-byte key; anything
//! else is [`Fail::Invite`] (the key never appears in a message).

use std::io::Read;
use std::path::Path;

use ferroproof::crypto::Key;

use crate::fail::Fail;

const PREFIX: &str = "fp1.";

/// What an invite carries.
#[derive(Debug)]
pub struct Invite {
    /// The remote ledger id (on a server: the folder under `ledgers/`).
    pub ledger: String,
    pub key: Key,
}

/// Reads the invite `arg` names: `-` is stdin; an `fp1.…` string or a URL with `invite=` is
/// taken as is; anything else is a file holding one of those.
pub fn load(arg: &str) -> Result<Invite, Fail> {
    let text = if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Fail::Io(format!("reading the invite from stdin: {e}")))?;
        s
    } else if arg.starts_with(PREFIX) || arg.contains("invite=") {
        arg.to_string()
    } else if Path::new(arg).is_file() {
        let bytes = std::fs::read(arg)
            .map_err(|e| Fail::Io(format!("reading the invite file {arg}: {e}")))?;
        String::from_utf8(bytes)
            .map_err(|_| Fail::Invite(format!("malformed invite: the file {arg} is not text")))?
    } else {
        return Err(Fail::Invite(format!(
            "{arg:?} is neither an fp1. invite, a URL with #invite=, nor a file"
        )));
    };
    parse(&text)
}

/// Parses an invite, alone or inside a URL (`…#invite=fp1.…`).
pub fn parse(text: &str) -> Result<Invite, Fail> {
    let text = text.trim();
    let s = match text.find("invite=") {
        Some(at) => text[at + "invite=".len()..]
            .split(['&', '#'])
            .next()
            .unwrap_or_default(),
        None => text.trim_start_matches('#'),
    };
    let bad = |why: &str| Fail::Invite(format!("malformed invite: {why}"));
    let body = s
        .strip_prefix(PREFIX)
        .ok_or_else(|| bad("it does not start with fp1."))?;
    let json = base64url(body).ok_or_else(|| bad("not base64url after fp1."))?;
    let v: serde_json::Value =
        serde_json::from_slice(&json).map_err(|_| bad("its payload is not JSON"))?;
    if v["v"] != 1 {
        return Err(bad("unknown version (this tool reads version 1)"));
    }
    if !v["u"].is_string() {
        return Err(bad("no server url (u)"));
    }
    let ledger = v["l"]
        .as_str()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("no ledger id (l)"))?;
    let key = v["k"]
        .as_str()
        .and_then(base64url)
        .and_then(|k| Key::from_bytes(&k).ok())
        .ok_or_else(|| bad("the key (k) is not 32 base64url bytes"))?;
    Ok(Invite {
        ledger: ledger.to_string(),
        key,
    })
}

/// Base64url, padding optional (what the JS side's `toBase64Url` writes).
fn base64url(s: &str) -> Option<Vec<u8>> {
    let std: String = s
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    ferroproof::b64::decode(std.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64url(bytes: &[u8]) -> String {
        let mut s = String::new();
        ferroproof::b64::encode_into(&mut s, bytes);
        s.trim_end_matches('=').replace('+', "-").replace('/', "_")
    }

    fn invite(json: &str) -> String {
        format!("fp1.{}", b64url(json.as_bytes()))
    }

    #[test]
    fn parses_plain_fragment_and_url_forms() {
        let k = b64url(&[7u8; 32]);
        let inv = invite(&format!(r#"{{"v":1,"u":"http://h","l":"abc","k":"{k}"}}"#));
        for text in [
            inv.clone(),
            format!("#invite={inv}"),
            format!("https://app.example/page?x=1#invite={inv}"),
            format!("  {inv}\n"),
        ] {
            let got = parse(&text).unwrap();
            assert_eq!(got.ledger, "abc");
            assert_eq!(got.key.as_bytes(), &[7u8; 32]);
        }
    }

    #[test]
    fn rejects_malformed_invites() {
        let k = b64url(&[7u8; 32]);
        let short = b64url(&[7u8; 31]);
        let cases = [
            "".to_string(),
            "fp2.abc".to_string(),
            "fp1.!!!".to_string(),
            invite("not json"),
            invite(&format!(r#"{{"v":2,"u":"","l":"a","k":"{k}"}}"#)),
            invite(&format!(r#"{{"v":1,"u":"","l":"","k":"{k}"}}"#)),
            invite(&format!(r#"{{"v":1,"l":"a","k":"{k}"}}"#)),
            invite(&format!(r#"{{"v":1,"u":"","l":"a","k":"{short}"}}"#)),
        ];
        for c in cases {
            assert!(matches!(parse(&c), Err(Fail::Invite(_))), "{c}");
        }
    }
}
