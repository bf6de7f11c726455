//! UCAN 1.0 conformance: the spec's published fixtures (`tests/fixtures/ucan-1.0.0/`), tokens made
//! here, a 3-delegation chain and every way this project's tokens can be broken.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ed25519_dalek::Signer;
use ferroproof_server::ucan::{
    verify_delegation, verify_invocation, Cid, Command, DecodeError, Delegation, Did, DidError,
    Invocation, Ipld, Payload, Policy, Proofs, SignError, Signed, SigningKey, SpecVersion,
    VerifyError, MAX_TOKEN_BYTES, VARSIG_ED25519_DAG_CBOR,
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

// ---- tokens made here ----

const NOW: i64 = 1_800_000_000;

fn cmd(s: &str) -> Command {
    Command::parse(s).unwrap()
}

/// Seeds 1..=5: the ledger key, devices A, B, C, and an outsider X.
const LEDGER: u8 = 1;
const A: u8 = 2;
const B: u8 = 3;
const C: u8 = 4;
const X: u8 = 5;

/// The key whose DID is `d` (among the five above).
fn signer(d: &Did) -> SigningKey {
    (1..=5).map(key).find(|k| did(k) == *d).unwrap()
}

/// The envelope of `payload` under `tag` and varsig `header`, signed by `k`, built by hand.
fn envelope(tag: &str, header: &[u8], payload: Ipld, k: &SigningKey) -> Vec<u8> {
    let inner = Ipld::Map(BTreeMap::from([
        ("h".to_owned(), Ipld::Bytes(header.to_vec())),
        (tag.to_owned(), payload),
    ]));
    let signed = serde_ipld_dagcbor::to_vec(&inner).unwrap();
    let signature = k.sign(&signed).to_bytes().to_vec();
    serde_ipld_dagcbor::to_vec(&Ipld::List(vec![Ipld::Bytes(signature), inner])).unwrap()
}

/// The standard chain: ledger → A (`/ledger`) → B (`/ledger/write`) → C (`/ledger/write`), each
/// expiring in an hour; `edit` changes link `i` before it is signed by its issuer.
fn chain(edit: impl Fn(usize, &mut Delegation)) -> Vec<Signed<Delegation>> {
    let links = [
        (LEDGER, A, "/ledger"),
        (A, B, "/ledger/write"),
        (B, C, "/ledger/write"),
    ];
    let ledger = did(&key(LEDGER));
    links
        .iter()
        .enumerate()
        .map(|(i, &(from, to, c))| {
            let mut d = Delegation::new(
                did(&key(from)),
                did(&key(to)),
                Some(ledger),
                cmd(c),
                Some(NOW + 3600),
            )
            .unwrap();
            edit(i, &mut d);
            Signed::sign(d.clone(), &signer(&d.iss)).unwrap()
        })
        .collect()
}

/// C invokes `/ledger/write` on the ledger with `links` as proofs; `edit` changes it before signing.
fn invoke(links: &[Signed<Delegation>], edit: impl Fn(&mut Invocation)) -> Signed<Invocation> {
    let args = BTreeMap::from([("ledger".to_owned(), Ipld::String("notes".into()))]);
    let prf = links.iter().map(|d| d.cid()).collect();
    let ledger = did(&key(LEDGER));
    let mut i = Invocation::new(
        did(&key(C)),
        ledger,
        cmd("/ledger/write"),
        args,
        prf,
        Some(NOW + 60),
    )
    .unwrap();
    edit(&mut i);
    Signed::sign(i.clone(), &signer(&i.iss)).unwrap()
}

fn proofs(links: &[Signed<Delegation>]) -> Proofs {
    links.iter().cloned().collect()
}

fn verify(links: &[Signed<Delegation>], inv: &Signed<Invocation>) -> Result<(), VerifyError> {
    verify_invocation(inv, &proofs(links), NOW)
}

/// `t` with the first byte of its signature flipped (the CBOR stays valid; the CID changes).
fn tampered(t: &Signed<Delegation>) -> Signed<Delegation> {
    let mut bytes = t.bytes().to_vec();
    assert_eq!(&bytes[..3], &[0x82, 0x58, 0x40]);
    bytes[3] ^= 1;
    Signed::decode(&bytes).unwrap()
}

#[test]
fn tokens_made_here_round_trip() {
    let (ledger, a) = (key(LEDGER), key(A));
    let mut d = Delegation::new(did(&a), did(&key(B)), None, cmd("/ledger/read"), None).unwrap();
    d.nbf = Some(NOW - 10);
    d.meta = Some(BTreeMap::from([("note".to_owned(), Ipld::Float(1.5))]));
    let pol: Value = serde_json::from_str(
        r#"[["==", ".ledger", "notes"], ["any", ".tags", ["like", ".", "a*"]]]"#,
    )
    .unwrap();
    d.pol = Policy::from_ipld(json_to_ipld(&pol)).unwrap();
    let signed = Signed::sign(d.clone(), &a).unwrap();
    let back = Signed::<Delegation>::decode(signed.bytes()).unwrap();
    assert_eq!(back.payload(), &d);
    assert_eq!((back.cid(), back.bytes()), (signed.cid(), signed.bytes()));
    assert_eq!(back.version(), SpecVersion::V1);
    assert!(back.signature_valid());
    // Ed25519 is deterministic: the same payload signs to the same bytes and CID.
    assert_eq!(Signed::sign(d.clone(), &a).unwrap().bytes(), signed.bytes());

    let mut i = Invocation::new(
        did(&a),
        did(&ledger),
        cmd("/ledger/read"),
        BTreeMap::new(),
        vec![signed.cid()],
        Some(NOW),
    )
    .unwrap();
    i.aud = Some(did(&key(X)));
    i.iat = Some(NOW - 1);
    i.meta = Some(BTreeMap::from([("n".to_owned(), Ipld::Integer(-3))]));
    i.cause = Some(signed.cid());
    let inv = Signed::sign(i.clone(), &a).unwrap();
    let back = Signed::<Invocation>::decode(inv.bytes()).unwrap();
    assert_eq!(back.payload(), &i);
    assert_eq!((back.cid(), back.bytes()), (inv.cid(), inv.bytes()));
    // A delegation is not an invocation, and the other way round.
    assert!(matches!(
        Signed::<Delegation>::decode(inv.bytes()),
        Err(DecodeError::TokenType { .. })
    ));
    assert!(matches!(
        Signed::<Invocation>::decode(signed.bytes()),
        Err(DecodeError::TokenType { .. })
    ));

    // Fresh nonces; and only the issuer's key signs.
    let again = Delegation::new(did(&a), did(&key(B)), None, cmd("/"), None).unwrap();
    assert_ne!(again.nonce, d.nonce);
    assert_eq!(again.nonce.len(), 16);
    assert!(matches!(
        Signed::sign(again, &ledger),
        Err(SignError::NotIssuer(_))
    ));
}

#[test]
fn rc1_tags_are_accepted_other_tags_and_headers_refused() {
    let a = key(A);
    let d = Delegation::new(did(&a), did(&key(B)), Some(did(&a)), cmd("/ledger"), None).unwrap();
    let rc1 = envelope(
        "ucan/dlg@1.0.0-rc.1",
        &VARSIG_ED25519_DAG_CBOR,
        d.to_ipld(),
        &a,
    );
    let token = Signed::<Delegation>::decode(&rc1).unwrap();
    assert_eq!(token.version(), SpecVersion::Rc1);
    assert_eq!(token.payload(), &d);
    verify_delegation(&token, NOW).unwrap();

    for tag in [
        "ucan/dlg@0.9.0",
        "ucan/dlg@1.0.0-rc.2",
        "ucan/inv@1.0.0",
        "ucan/dlg",
        "dlg@1.0.0",
    ] {
        let bytes = envelope(tag, &VARSIG_ED25519_DAG_CBOR, d.to_ipld(), &a);
        assert!(
            matches!(
                Signed::<Delegation>::decode(&bytes),
                Err(DecodeError::TokenType { .. })
            ),
            "{tag}"
        );
    }
    // Other varsig headers: P-256, Ed25519 over DAG-JSON (0x0129), a truncated one.
    for header in [
        &[0x34, 0x01, 0x80, 0x24, 0x12, 0x71][..],
        &[0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0xa9, 0x02],
        &VARSIG_ED25519_DAG_CBOR[..7],
    ] {
        let bytes = envelope("ucan/dlg@1.0.0", header, d.to_ipld(), &a);
        assert_eq!(
            Signed::<Delegation>::decode(&bytes).unwrap_err(),
            DecodeError::UnsupportedVarsig(header.to_vec())
        );
    }
}

#[test]
fn decoding_is_strict() {
    let a = key(A);
    let d = Delegation::new(
        did(&a),
        did(&key(B)),
        Some(did(&a)),
        cmd("/ledger"),
        Some(NOW),
    )
    .unwrap();
    let good = Signed::sign(d.clone(), &a).unwrap().bytes().to_vec();
    let decode = |b: &[u8]| Signed::<Delegation>::decode(b);

    // Not canonical: a length written in more bytes than needed; map keys out of order.
    let mut long = vec![0x98, 0x02];
    long.extend_from_slice(&good[1..]);
    assert_eq!(decode(&long).unwrap_err(), DecodeError::NonCanonical);
    let h_at = 67; // 0x82, 0x58 0x40, 64 signature bytes, then the inner map.
    assert_eq!(good[h_at], 0xa2);
    let h_entry = &good[h_at + 1..h_at + 12]; // "h" ⇒ 8-byte header
    assert_eq!(&h_entry[..3], &[0x61, b'h', 0x48]);
    let swapped = [&good[..=h_at], &good[h_at + 12..], h_entry].concat();
    assert_eq!(decode(&swapped).unwrap_err(), DecodeError::NonCanonical);
    // Trailing bytes, truncation, garbage, oversize, deep nesting: errors, never panics.
    assert!(decode(&[good.as_slice(), &[0]].concat()).is_err());
    assert!(decode(&good[..good.len() - 1]).is_err());
    assert!(decode(b"not a token").is_err());
    assert!(decode(&[]).is_err());
    let huge = vec![0x80; MAX_TOKEN_BYTES + 1];
    assert_eq!(
        decode(&huge).unwrap_err(),
        DecodeError::TooLarge(MAX_TOKEN_BYTES + 1)
    );
    let deep = [vec![0x81; MAX_TOKEN_BYTES - 1], vec![0x80]].concat();
    assert!(matches!(decode(&deep), Err(DecodeError::NotDagCbor(_))));
    // Envelope shape.
    let list = |items: Vec<Ipld>| serde_ipld_dagcbor::to_vec(&Ipld::List(items)).unwrap();
    assert!(matches!(
        decode(&list(vec![])),
        Err(DecodeError::Envelope(_))
    ));
    assert!(matches!(
        decode(&list(vec![Ipld::Bytes(vec![1]), Ipld::Null])),
        Err(DecodeError::Envelope(_))
    ));

    // Payload fields: missing, unknown, mistyped, out of range, bad DIDs and commands.
    let with = |f: &dyn Fn(&mut BTreeMap<String, Ipld>)| {
        let Ipld::Map(mut m) = d.to_ipld() else {
            unreachable!()
        };
        f(&mut m);
        decode(&envelope(
            "ucan/dlg@1.0.0",
            &VARSIG_ED25519_DAG_CBOR,
            Ipld::Map(m),
            &a,
        ))
    };
    let set = |k: &'static str, v: Ipld| {
        move |m: &mut BTreeMap<String, Ipld>| {
            m.insert(k.to_owned(), v.clone());
        }
    };
    assert_eq!(
        with(&|m| {
            m.remove("nonce");
        })
        .unwrap_err(),
        DecodeError::MissingField("nonce")
    );
    assert_eq!(
        with(&|m| {
            m.remove("exp");
        })
        .unwrap_err(),
        DecodeError::MissingField("exp")
    );
    assert_eq!(
        with(&set("foo", Ipld::Null)).unwrap_err(),
        DecodeError::UnknownField("foo".into())
    );
    for (field, value) in [
        ("exp", Ipld::String("soon".into())),
        ("exp", Ipld::Integer(1 << 53)),
        ("nbf", Ipld::Null),
        ("nonce", Ipld::String("abc".into())),
        ("iss", Ipld::Integer(1)),
        ("meta", Ipld::List(vec![])),
        ("cmd", Ipld::Bytes(vec![])),
    ] {
        let err = with(&set(field, value)).unwrap_err();
        assert!(
            matches!(err, DecodeError::FieldType { field: f, .. } if f == field),
            "{field}: {err}"
        );
    }
    let p256 = Ipld::String("did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169".into());
    assert_eq!(
        with(&set("aud", p256)).unwrap_err(),
        DecodeError::Did {
            field: "aud",
            source: DidError::UnsupportedKeyType(0x1200)
        }
    );
    for bad in ["/Ledger", "ledger", "/ledger/", "/ledger//read"] {
        let err = with(&set("cmd", Ipld::String(bad.into()))).unwrap_err();
        assert!(matches!(err, DecodeError::Command { .. }), "{bad}");
    }
    assert!(matches!(
        with(&set("pol", Ipld::Map(BTreeMap::new()))),
        Err(DecodeError::Policy(_))
    ));
}

// ---- chains ----

#[test]
fn a_three_link_chain_verifies() {
    let links = chain(|_, _| {});
    let inv = invoke(&links, |_| {});
    assert_eq!(verify(&links, &inv), Ok(()));
    // The payloads say what the chain grants.
    assert_eq!(
        inv.payload().prf,
        links.iter().map(|d| d.cid()).collect::<Vec<_>>()
    );
    assert_eq!(links[0].payload().sub, Some(did(&key(LEDGER))));
    // A powerline (null subject) past the root, a narrower command, `/` at the root: all fine.
    let links = chain(|i, d| {
        if i == 1 {
            d.sub = None;
        }
        if i == 0 {
            d.cmd = cmd("/");
        }
    });
    assert_eq!(verify(&links, &invoke(&links, |_| {})), Ok(()));
    let links = chain(|i, d| d.cmd = cmd(["/ledger", "/ledger", "/ledger"][i]));
    assert_eq!(verify(&links, &invoke(&links, |_| {})), Ok(()));
    // The ledger key invoking on itself needs no proof.
    let own = invoke(&[], |i| i.iss = did(&key(LEDGER)));
    assert_eq!(verify(&[], &own), Ok(()));
}

#[test]
fn broken_chains_are_refused_for_the_right_reason() {
    let ok = chain(|_, _| {});
    let ledger = did(&key(LEDGER));

    // Misaligned principal: B delegates to X, yet C invokes; or a link is issued by an outsider.
    let links = chain(|i, d| {
        if i == 2 {
            d.aud = did(&key(X))
        }
    });
    assert!(matches!(
        verify(&links, &invoke(&links, |_| {})),
        Err(VerifyError::InvalidAudience { .. })
    ));
    let links = chain(|i, d| {
        if i == 1 {
            d.iss = did(&key(X))
        }
    });
    assert!(matches!(
        verify(&links, &invoke(&links, |_| {})),
        Err(VerifyError::InvalidAudience { .. })
    ));
    let inv = invoke(&ok, |i| i.iss = did(&key(X)));
    assert!(matches!(
        verify(&ok, &inv),
        Err(VerifyError::InvalidAudience { .. })
    ));

    // Widened command: a link above what it was given, or the invocation above the last link.
    let links = chain(|i, d| {
        if i == 1 {
            d.cmd = cmd("/")
        }
    });
    assert!(matches!(
        verify(&links, &invoke(&links, |_| {})),
        Err(VerifyError::CommandNotDelegated { delegated, requested }) if delegated.as_str() == "/ledger" && requested.as_str() == "/"
    ));
    let links = chain(|i, d| {
        if i == 0 {
            d.cmd = cmd("/ledger/read")
        }
    });
    assert!(matches!(
        verify(&links, &invoke(&links, |_| {})),
        Err(VerifyError::CommandNotDelegated { .. })
    ));
    for wider in ["/ledger", "/ledger/admin", "/ledger/write2", "/"] {
        let inv = invoke(&ok, |i| i.cmd = cmd(wider));
        assert!(
            matches!(
                verify(&ok, &inv),
                Err(VerifyError::CommandNotDelegated { .. })
            ),
            "{wider}"
        );
    }

    // Expired or not-yet-valid link; expired invocation.
    let links = chain(|i, d| {
        if i == 1 {
            d.exp = Some(NOW - 1)
        }
    });
    assert!(
        matches!(verify(&links, &invoke(&links, |_| {})), Err(VerifyError::Expired { exp, .. }) if exp == NOW - 1)
    );
    let links = chain(|i, d| {
        if i == 2 {
            d.nbf = Some(NOW + 1)
        }
    });
    assert!(
        matches!(verify(&links, &invoke(&links, |_| {})), Err(VerifyError::TooEarly { nbf, .. }) if nbf == NOW + 1)
    );
    let inv = invoke(&ok, |i| i.exp = Some(NOW - 1));
    assert!(matches!(
        verify(&ok, &inv),
        Err(VerifyError::Expired { .. })
    ));

    // Bad signature on a link (its CID is what the invocation cites), or on the invocation.
    let mut links = ok.clone();
    links[1] = tampered(&links[1]);
    let inv = invoke(&links, |_| {});
    assert_eq!(
        verify(&links, &inv),
        Err(VerifyError::InvalidSignature(links[1].cid()))
    );
    let good = invoke(&ok, |_| {});
    let mut bytes = good.bytes().to_vec();
    bytes[10] ^= 0x80;
    let bad = Signed::<Invocation>::decode(&bytes).unwrap();
    assert_eq!(
        verify(&ok, &bad),
        Err(VerifyError::InvalidSignature(bad.cid()))
    );

    // Missing proof: cited but not given.
    let inv = invoke(&ok, |_| {});
    let partial = proofs(&ok[..2]);
    assert_eq!(
        verify_invocation(&inv, &partial, NOW),
        Err(VerifyError::UnavailableProof(ok[2].cid()))
    );
    // Proofs out of order (leaf first) no longer align.
    let reversed: Vec<_> = ok.iter().rev().cloned().collect();
    assert!(matches!(
        verify(&ok, &invoke(&reversed, |_| {})),
        Err(VerifyError::InvalidClaim(_))
    ));

    // Subject: another subject in a link, or invoked on another subject.
    let links = chain(|i, d| {
        if i == 2 {
            d.sub = Some(did(&key(X)))
        }
    });
    assert!(matches!(
        verify(&links, &invoke(&links, |_| {})),
        Err(VerifyError::InvalidSubject { .. })
    ));
    let inv = invoke(&ok, |i| i.sub = did(&key(X)));
    assert!(matches!(
        verify(&ok, &inv),
        Err(VerifyError::InvalidSubject { .. })
    ));
    // The root: a powerline, or issued by someone other than the subject.
    let links = chain(|i, d| {
        if i == 0 {
            d.sub = None
        }
    });
    assert!(matches!(
        verify(&links, &invoke(&links, |_| {})),
        Err(VerifyError::InvalidClaim(_))
    ));
    let links = chain(|i, d| {
        if i == 0 {
            d.iss = did(&key(X))
        }
    });
    assert!(matches!(
        verify(&links, &invoke(&links, |_| {})),
        Err(VerifyError::InvalidClaim(_))
    ));
    // No proofs for someone else's subject.
    let inv = invoke(&[], |_| {});
    assert!(matches!(
        verify(&[], &inv),
        Err(VerifyError::InvalidClaim(_))
    ));
    assert_eq!(inv.payload().sub, ledger);
}

#[test]
fn time_bounds_are_inclusive() {
    let links = chain(|i, d| {
        if i == 1 {
            d.nbf = Some(NOW - 100);
            d.exp = Some(NOW + 100)
        }
    });
    let inv = invoke(&links, |i| i.exp = None);
    let at = |now| verify_invocation(&inv, &proofs(&links), now);
    assert_eq!(at(NOW - 100), Ok(()));
    assert_eq!(at(NOW + 100), Ok(()));
    assert!(matches!(at(NOW - 101), Err(VerifyError::TooEarly { .. })));
    assert!(matches!(at(NOW + 101), Err(VerifyError::Expired { .. })));
}

#[test]
fn policies_constrain_the_arguments() {
    let pol: Value = serde_json::from_str(r#"[["==", ".ledger", "notes"]]"#).unwrap();
    let pol = Policy::from_ipld(json_to_ipld(&pol)).unwrap();
    let links = chain(|i, d| {
        if i == 1 {
            d.pol = pol.clone()
        }
    });
    assert_eq!(verify(&links, &invoke(&links, |_| {})), Ok(()));
    let inv = invoke(&links, |i| {
        i.args
            .insert("ledger".into(), Ipld::String("photos".into()));
    });
    assert_eq!(
        verify(&links, &inv),
        Err(VerifyError::MatchError(links[1].cid()))
    );
    let inv = invoke(&links, |i| i.args.clear());
    assert_eq!(
        verify(&links, &inv),
        Err(VerifyError::MatchError(links[1].cid()))
    );
}

mod mutations {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any one-byte change to a valid invocation is refused: by the decoder, or by verification
        /// (never a panic, never an accepted token).
        #[test]
        fn a_changed_byte_never_verifies(at in any::<prop::sample::Index>(), xor in 1u8..=255) {
            let links = chain(|_, _| {});
            let inv = invoke(&links, |_| {});
            let mut bytes = inv.bytes().to_vec();
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
            if let Ok(changed) = Signed::<Invocation>::decode(&bytes) {
                prop_assert!(verify(&links, &changed).is_err());
            }
        }

        /// Truncated or arbitrary bytes are an error, not a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Signed::<Delegation>::decode(&bytes);
            let _ = Signed::<Invocation>::decode(&bytes);
        }
    }
}
