//! Test harness: spawns the real `ferroproof-server` binary on 127.0.0.1:0 (killed on drop), talks to
//! it over HTTP, raw TCP (for paths a URL library would normalise) and WebSocket, and makes envelopes.
#![allow(dead_code)]

pub mod authz;
pub mod scenarios;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::Message;

/// Where servers keep their data: a local folder or an `s3://` URL plus the environment it needs.
#[derive(Clone, Debug)]
pub struct StoreSpec {
    pub store: String,
    pub env: Vec<(String, String)>,
    /// Removes a temporary folder store when the last clone is dropped.
    pub cleanup: Option<std::sync::Arc<RemoveOnDrop>>,
}

#[derive(Debug)]
pub struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl StoreSpec {
    /// A fresh, empty folder under the system temp dir, removed when the spec is dropped.
    pub fn temp_folder() -> StoreSpec {
        let dir = std::env::temp_dir().join(format!("ferroproof-server-test-{}", random_hex(8)));
        StoreSpec {
            store: dir.to_string_lossy().into_owned(),
            env: vec![],
            cleanup: Some(std::sync::Arc::new(RemoveOnDrop(dir))),
        }
    }
}

/// A running server; killed (and reaped) when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    /// Keeps a temporary store folder alive until the child is dead (fields drop after `drop`).
    _spec: StoreSpec,
}

impl Server {
    pub fn start(spec: &StoreSpec) -> Server {
        Server::start_with(spec, &[])
    }

    pub fn start_with(spec: &StoreSpec, extra: &[&str]) -> Server {
        Server::spawn(spec, &[&["--open"], extra].concat())
    }

    /// A server enforcing authorization (no `--open`).
    pub fn start_secure(spec: &StoreSpec, extra: &[&str]) -> Server {
        Server::spawn(spec, extra)
    }

    fn spawn(spec: &StoreSpec, extra: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferroproof-server"));
        cmd.args(["--listen", "127.0.0.1:0", "--store", &spec.store])
            .args(extra)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn ferroproof-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read stdout");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("unexpected first line: {line:?}")
            })
            .to_owned();
        Server {
            child,
            addr,
            _spec: spec.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        self.child.wait().unwrap()
    }

    pub async fn new_ledger(&self) -> String {
        let r = client().post(self.url("/v1/ledgers")).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        v["ledger"].as_str().unwrap().to_owned()
    }

    /// PUT `bytes` under their own name; returns (status, name).
    pub async fn put(&self, ledger: &str, kind: &str, bytes: &[u8]) -> (u16, String) {
        let name = name_of(bytes);
        let status = self.put_as(ledger, kind, &name, bytes).await;
        (status, name)
    }

    pub async fn put_as(&self, ledger: &str, kind: &str, name: &str, bytes: &[u8]) -> u16 {
        let url = self.url(&format!("/v1/ledgers/{ledger}/{kind}/{name}"));
        let r = client()
            .put(url)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }

    /// `POST /v1/ledgers/{ledger}/get` with `body` (keys, one per line): (status, answer bytes).
    pub async fn get_many(&self, ledger: &str, body: &str) -> (u16, Vec<u8>) {
        let url = self.url(&format!("/v1/ledgers/{ledger}/get"));
        let r = client()
            .post(url)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    /// POST `bytes` under their own name, without a content type (as the browser client does).
    pub async fn post(&self, ledger: &str, kind: &str, bytes: &[u8]) -> u16 {
        let url = self.url(&format!("/v1/ledgers/{ledger}/{kind}/{}", name_of(bytes)));
        let r = client()
            .post(url)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }

    pub async fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let r = client().get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    pub async fn delete(&self, path: &str) -> u16 {
        client()
            .delete(self.url(path))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub async fn list(&self, ledger: &str, kind: &str, query: &str) -> serde_json::Value {
        let (status, body) = self
            .get(&format!("/v1/ledgers/{ledger}/{kind}/{query}"))
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    /// The status line of a raw HTTP/1.1 request (the path is sent exactly as given).
    pub fn raw_status(&self, method: &str, path: &str) -> u16 {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    pub async fn watch(&self, ledger: &str) -> Watcher {
        let url = format!("ws://{}/v1/ledgers/{ledger}/watch", self.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        let mut w = Watcher { ws };
        let first = w
            .next_json(Duration::from_secs(10))
            .await
            .expect("ready message");
        assert_eq!(first["type"], "ready");
        w
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Watcher {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Watcher {
    /// The next JSON text message within `wait`, or `None`.
    pub async fn next_json(&mut self, wait: Duration) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??
                .ok()?;
            if let Message::Text(t) = msg {
                return Some(serde_json::from_str(t.as_str()).unwrap());
            }
        }
    }

    /// Sends a text message of `n` bytes (the server reads nothing a watcher sends).
    pub async fn send_text(&mut self, n: usize) {
        use futures::SinkExt;
        let _ = self.ws.send(Message::Text("x".repeat(n).into())).await;
    }

    /// True if the server closes the socket (a close frame, an error or the end) within `wait`;
    /// reading answers its pings meanwhile.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Waits up to `wait` for a `put` of `name`; returns its kind.
    pub async fn expect_put(&mut self, name: &str, wait: Duration) -> String {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(m) = self.next_json(left).await else {
                panic!("no put of {name} within {wait:?}")
            };
            if m["type"] == "put" && m["name"] == name {
                return m["kind"].as_str().unwrap().to_owned();
            }
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    b
}

pub fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// A plausible envelope: magic, version 1, random IV and `payload` random bytes (≥ 16 for the tag).
pub fn envelope(payload: usize) -> Vec<u8> {
    let mut e = b"FPRS\x01".to_vec();
    e.extend(random_bytes(12 + payload));
    e
}

/// The entries of a `get` answer: `Ok(bytes)`, or `Err(marker)` (`u32::MAX` absent, `- 1` later).
pub fn frames(mut b: &[u8]) -> Vec<Result<Vec<u8>, u32>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let n = u32::from_be_bytes(b[..4].try_into().unwrap());
        b = &b[4..];
        if n >= u32::MAX - 1 {
            out.push(Err(n));
        } else {
            out.push(Ok(b[..n as usize].to_vec()));
            b = &b[n as usize..];
        }
    }
    out
}

/// `"b"` + base32lower(0x01 0x55 0x12 0x20 ‖ sha256(bytes)), written independently of the server.
pub fn name_of(bytes: &[u8]) -> String {
    let mut cid = vec![0x01, 0x55, 0x12, 0x20];
    cid.extend_from_slice(&Sha256::digest(bytes));
    let bits: String = cid.iter().map(|b| format!("{b:08b}")).collect();
    let mut out = String::from("b");
    for chunk in bits.as_bytes().chunks(5) {
        let mut v = 0;
        for i in 0..5 {
            v = v * 2 + u8::from(chunk.get(i) == Some(&b'1'));
        }
        out.push(b"abcdefghijklmnopqrstuvwxyz234567"[v as usize] as char);
    }
    out
}
