//! A test client of the authorized server (docs/auth.md §7): Ed25519 keys, delegations and
//! invocations made with the `ucan` module, sent as `Authorization: Bearer <base64url>`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ferroproof_server::ucan::{
    Cid, Command, Delegation, Did, Invocation, Ipld, Signed, SigningKey,
};
use sha2::{Digest, Sha256};

use super::{client, random_bytes, Server};

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn new_key() -> SigningKey {
    SigningKey::from_bytes(&random_bytes(32).try_into().unwrap())
}

pub fn did(k: &SigningKey) -> Did {
    Did::from(k)
}

/// `iss` delegates `cmd` on `ledger` to `aud` for an hour (an invite when `invite`).
pub fn delegate(
    iss: &SigningKey,
    aud: &Did,
    ledger: &Did,
    cmd: &str,
    invite: bool,
) -> Signed<Delegation> {
    let cmd = Command::parse(cmd).unwrap();
    let mut d = Delegation::new(did(iss), *aud, Some(*ledger), cmd, Some(now() + 3600)).unwrap();
    if invite {
        d.meta = Some(BTreeMap::from([("invite".to_owned(), Ipld::Bool(true))]));
    }
    Signed::sign(d, iss).unwrap()
}

/// An invocation bound to `method path` and `body`, valid for a minute.
pub fn invocation(
    iss: &SigningKey,
    ledger: &Did,
    cmd: &str,
    (method, path, body): (&str, &str, &[u8]),
    prf: &[Cid],
) -> Invocation {
    let args = BTreeMap::from([
        ("method".to_owned(), Ipld::String(method.into())),
        ("path".to_owned(), Ipld::String(path.into())),
        (
            "body".to_owned(),
            Ipld::Bytes(Sha256::digest(body).to_vec()),
        ),
    ]);
    let cmd = Command::parse(cmd).unwrap();
    Invocation::new(did(iss), *ledger, cmd, args, prf.to_vec(), Some(now() + 60)).unwrap()
}

pub fn token(inv: Invocation, key: &SigningKey) -> String {
    URL_SAFE_NO_PAD.encode(Signed::sign(inv, key).unwrap().bytes())
}

/// One principal acting on one ledger: its key, the command it invokes and its proof chain.
#[derive(Clone)]
pub struct Actor {
    pub key: SigningKey,
    pub ledger: Did,
    pub cmd: String,
    pub prf: Vec<Cid>,
}

impl Actor {
    pub fn did(&self) -> Did {
        did(&self.key)
    }

    /// A fresh token for `method path` with `body`.
    pub fn token(&self, method: &str, path: &str, body: &[u8]) -> String {
        let inv = invocation(
            &self.key,
            &self.ledger,
            &self.cmd,
            (method, path, body),
            &self.prf,
        );
        token(inv, &self.key)
    }

    /// The path of `rest` under this ledger (`rest` starts with `/`).
    pub fn path(&self, rest: &str) -> String {
        format!("/v1/ledgers/{}{rest}", self.ledger)
    }

    /// Sends a request with a fresh token: (status, body).
    pub async fn send(&self, s: &Server, method: &str, rest: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let path = self.path(rest);
        let t = self.token(method, &path, body);
        send(s, method, &path, body, Some(&t)).await
    }

    /// Registers `d` (issued by this actor) with the server: the status.
    pub async fn register(&self, s: &Server, d: &Signed<Delegation>) -> u16 {
        let mut me = self.clone();
        me.cmd = d.payload().cmd.to_string();
        let rest = format!("/ucans/{}", d.cid());
        me.send(s, "PUT", &rest, d.bytes()).await.0
    }

    /// Delegates `cmd` to a fresh key, registers it, and returns the new actor.
    pub async fn add(&self, s: &Server, cmd: &str) -> Actor {
        let key = new_key();
        let d = delegate(&self.key, &did(&key), &self.ledger, cmd, false);
        assert_eq!(self.register(s, &d).await, 201);
        let mut prf = self.prf.clone();
        prf.push(d.cid());
        Actor {
            key,
            ledger: self.ledger,
            cmd: cmd.to_owned(),
            prf,
        }
    }
}

/// Sends a raw request with an optional bearer token.
pub async fn send(
    s: &Server,
    method: &str,
    path: &str,
    body: &[u8],
    token: Option<&str>,
) -> (u16, Vec<u8>) {
    let mut r = client()
        .request(method.parse().unwrap(), s.url(path))
        .body(body.to_vec());
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// Creates a ledger: a fresh ledger key, its root delegation to a fresh admin device.
pub async fn create_ledger(s: &Server) -> Actor {
    let ledger_key = new_key();
    let admin = new_key();
    let ledger = did(&ledger_key);
    let root = delegate(&ledger_key, &did(&admin), &ledger, "/ledger", false);
    let req = ("POST", "/v1/ledgers", root.bytes());
    let t = token(
        invocation(&admin, &ledger, "/ledger", req, &[root.cid()]),
        &admin,
    );
    let (status, body) = send(s, "POST", "/v1/ledgers", root.bytes(), Some(&t)).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["ledger"], ledger.to_string());
    Actor {
        key: admin,
        ledger,
        cmd: "/ledger/admin".into(),
        prf: vec![root.cid()],
    }
}

/// The `error` of a JSON refusal.
pub fn reason(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}
