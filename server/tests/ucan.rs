//! UCAN 1.0 conformance: the spec's published fixtures (`tests/fixtures/ucan-1.0.0/`), tokens made
//! here, a 3-delegation chain and every way this project's tokens can be broken.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ferroproof_server::ucan::{
    verify_delegation, verify_invocation, Cid, DecodeError, Delegation, Did, DidError, Invocation,
    Ipld, Policy, Proofs, Signed, SigningKey, SpecVersion, VerifyError,
};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ucan-1.0.0/");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap()
}

/// base64 with or without padding (delegation.json pads, dag-json bytes do not).
fn b64(s: &str) -> Vec<u8> {
    STANDARD_NO_PAD.decode(s.trim_end_matches('=')).unwrap()
}

/// A dag-json `{"/": {"bytes": "…"}}`.
fn dag_json_bytes(v: &Value) -> Vec<u8> {
    b64(v["/"]["bytes"].as_str().unwrap())
}

fn json_to_ipld(v: &Value) -> Ipld {
    match v {
        Value::Null => Ipld::Null,
        Value::Bool(b) => Ipld::Bool(*b),
        Value::Number(n) if n.is_i64() => Ipld::Integer(n.as_i64().unwrap().into()),
        Value::Number(n) => Ipld::Float(n.as_f64().unwrap()),
        Value::String(s) => Ipld::String(s.clone()),
        Value::Array(a) => Ipld::List(a.iter().map(json_to_ipld).collect()),
        Value::Object(o) => Ipld::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_ipld(v)))
                .collect(),
        ),
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn did(k: &SigningKey) -> Did {
    Did::from(k)
}

// ---- the spec's fixtures ----

#[test]
fn fixture_delegations_verify_and_have_the_listed_cids() {
    let f: Value = serde_json::from_str(&fixture("delegation.json")).unwrap();
    let principals: BTreeMap<String, Did> = f["principals"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, k)| {
            let raw = b64(k.as_str().unwrap());
            // base64pad(varint 0x1300 ‖ 32-byte Ed25519 private key)
            assert_eq!(&raw[..2], &[0x80, 0x26], "{name}");
            let sk = SigningKey::from_bytes(&raw[2..].try_into().unwrap());
            (name.clone(), did(&sk))
        })
        .collect();
    let valid = f["valid"].as_array().unwrap();
    assert!(!valid.is_empty());
    for case in valid {
        let name = case["name"].as_str().unwrap();
        let bytes = b64(case["token"].as_str().unwrap());
        let token = Signed::<Delegation>::decode(&bytes).unwrap();
        assert_eq!(
            token.cid(),
            Cid::try_from(case["cid"].as_str().unwrap()).unwrap(),
            "{name}"
        );
        assert_eq!(token.bytes(), bytes.as_slice());
        assert_eq!(token.version(), SpecVersion::V1);
        let want = &case["envelope"]["payload"];
        let p = token.payload();
        assert_eq!(p.iss.to_string(), want["iss"].as_str().unwrap());
        assert_eq!(p.aud.to_string(), want["aud"].as_str().unwrap());
        assert_eq!(
            p.sub.map(|s| s.to_string()).as_deref(),
            want["sub"].as_str()
        );
        assert_eq!(p.cmd.as_str(), want["cmd"].as_str().unwrap());
        assert_eq!(p.pol.to_ipld(), json_to_ipld(&want["pol"]));
        assert_eq!(p.nonce, b64(want["nonce"].as_str().unwrap()));
        let exp = want["exp"].as_i64().unwrap();
        assert_eq!(p.exp, Some(exp));
        // "bob > carol": the issuer and audience are the listed principals' keys.
        let (from, to) = name.split_once(" > ").unwrap();
        let (from, to) = (
            from.rsplit(' ').next().unwrap(),
            to.split(' ').next().unwrap(),
        );
        assert_eq!(p.iss, principals[from]);
        assert_eq!(p.aud, principals[to]);
        // Its exp is in the past by now: valid up to and including exp, expired after it.
        verify_delegation(&token, exp).unwrap();
        assert!(matches!(
            verify_delegation(&token, exp + 1),
            Err(VerifyError::Expired { exp: e, .. }) if e == exp
        ));
    }
}

/// Decodes a fixture case's invocation and its proofs (in the order listed).
fn invocation_case(case: &Value) -> (Signed<Invocation>, Proofs, i64) {
    let inv = Signed::<Invocation>::decode(&dag_json_bytes(&case["invocation"])).unwrap();
    let proofs: Proofs = case["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Signed::<Delegation>::decode(&dag_json_bytes(p)).unwrap())
        .map(|d| (d.cid(), d))
        .collect();
    (inv, proofs, case["time"].as_i64().unwrap())
}

#[test]
fn fixture_invocations_valid_ones_verify() {
    let f: Value = serde_json::from_str(&fixture("invocation.json")).unwrap();
    let valid = f["valid"].as_array().unwrap();
    assert_eq!(valid.len(), 7);
    for case in valid {
        let name = case["name"].as_str().unwrap();
        let (inv, proofs, now) = invocation_case(case);
        // The proofs are listed as `prf` cites them, root first.
        let listed: Vec<Cid> = case["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                Signed::<Delegation>::decode(&dag_json_bytes(p))
                    .unwrap()
                    .cid()
            })
            .collect();
        assert_eq!(inv.payload().prf, listed, "{name}");
        let result = verify_invocation(&inv, &proofs, now);
        assert_eq!(result, Ok(()), "{name}");
    }
}

#[test]
fn fixture_invocations_invalid_ones_fail_for_the_listed_reason() {
    let f: Value = serde_json::from_str(&fixture("invocation.json")).unwrap();
    let invalid = f["invalid"].as_array().unwrap();
    assert_eq!(invalid.len(), 13);
    for case in invalid {
        let name = case["name"].as_str().unwrap();
        let reason = case["error"]["name"].as_str().unwrap();
        let (inv, proofs, now) = invocation_case(case);
        let err = verify_invocation(&inv, &proofs, now).unwrap_err();
        let expected = match reason {
            "InvalidClaim" => matches!(err, VerifyError::InvalidClaim(_)),
            "UnavailableProof" => matches!(err, VerifyError::UnavailableProof(_)),
            "Expired" => matches!(err, VerifyError::Expired { .. }),
            "TooEarly" => matches!(err, VerifyError::TooEarly { .. }),
            "InvalidAudience" => matches!(err, VerifyError::InvalidAudience { .. }),
            "InvalidSubject" => matches!(err, VerifyError::InvalidSubject { .. }),
            "InvalidSignature" => matches!(err, VerifyError::InvalidSignature(_)),
            "MatchError" => matches!(err, VerifyError::MatchError(_)),
            other => panic!("{name}: reason {other} has no mapping"),
        };
        assert!(expected, "{name}: wanted {reason}, got {err:?} ({err})");
    }
}

/// policy.json as published has one syntax error: `"newsletters": { { "christmas": … } }` (a map
/// inside a map with no key). Its statement (`all` over `.newsletters`, then `any` over
/// `.recipients`) shows the intent, `{"christmas": …}`; the repair drops the stray braces, in memory.
fn policy_fixture() -> Value {
    let text = fixture("policy.json");
    if let Ok(v) = serde_json::from_str(&text) {
        return v;
    }
    let at = text.find("\"newsletters\": {").unwrap() + "\"newsletters\": {".len();
    let open = at + text[at..].find('{').unwrap();
    assert!(text[at..open].trim().is_empty());
    let mut depth = 0;
    let close = open
        + text[open..]
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .unwrap()
            .0;
    let fixed = format!(
        "{}{}{}",
        &text[..open],
        &text[open + 1..close],
        &text[close + 1..]
    );
    serde_json::from_str(&fixed).unwrap()
}

#[test]
fn fixture_policies_match_and_fail_as_listed() {
    let f = policy_fixture();
    for (group, want) in [("valid", true), ("invalid", false)] {
        let mut checked = 0;
        for case in f[group].as_array().unwrap() {
            let Ipld::Map(args) = json_to_ipld(&case["args"]) else {
                panic!("args is not a map");
            };
            for pol in case["policies"].as_array().unwrap() {
                let policy = Policy::from_ipld(json_to_ipld(pol)).unwrap();
                assert_eq!(
                    policy.matches(&args),
                    want,
                    "{group}: {pol} on {}",
                    case["args"]
                );
                checked += 1;
            }
        }
        assert!(checked >= 5, "{group}");
    }
}

#[test]
fn malformed_policies_are_decode_errors() {
    for bad in [
        r#"{}"#,
        r#"[["=="]]"#,
        r#"[["==", "a", 1]]"#,
        r#"[["<", ".a", "1"]]"#,
        r#"[["like", ".a", 1]]"#,
        r#"[["xor", ".a", 1]]"#,
        r#"[["and", ["==", ".a", 1]]]"#,
        r#"[["all", ".a"]]"#,
    ] {
        let v: Value = serde_json::from_str(bad).unwrap();
        assert!(
            matches!(
                Policy::from_ipld(json_to_ipld(&v)),
                Err(DecodeError::Policy(_))
            ),
            "{bad}"
        );
    }
}

// ---- did:key ----

#[test]
fn did_key_round_trips_and_refuses_other_key_types() {
    for s in [
        "did:key:z6MkmT9j6fVZqzXV8u2wVVSu49gYSRYGSQnduWXF6foAJrqz",
        "did:key:z6MkmJceVoQSHs45cReEXoLtWm1wosCG8RLxfKwhxoqzoTkC",
    ] {
        assert_eq!(Did::parse(s).unwrap().to_string(), s);
    }
    let k = key(7);
    let d = did(&k);
    assert!(d.to_string().starts_with("did:key:z6Mk"));
    assert_eq!(d.to_string().parse::<Did>().unwrap(), d);
    let p256 = "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169";
    assert_eq!(Did::parse(p256), Err(DidError::UnsupportedKeyType(0x1200)));
    let secp = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme";
    assert_eq!(Did::parse(secp), Err(DidError::UnsupportedKeyType(0xe7)));
    assert_eq!(Did::parse("did:web:example.com"), Err(DidError::NotDidKey));
    assert_eq!(Did::parse("did:key:f00"), Err(DidError::NotBase58btc));
    assert_eq!(Did::parse("did:key:z0OIl"), Err(DidError::NotBase58btc));
    let short = format!(
        "did:key:z{}",
        bs58::encode([0xed, 0x01, 1, 2, 3]).into_string()
    );
    assert_eq!(Did::parse(&short), Err(DidError::KeyLength(3)));
}
