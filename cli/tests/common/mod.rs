//! Test harness: stores written the way they really are (the engine, natively, pushing through a
//! [`Remote`] that writes a temp folder in `ferroproof-server`'s exact layout), and runs of the
//! built `ferroproof` binary on them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferroproof::crypto::Key;
use ferroproof::error::{Error, Result};
use ferroproof::ledger::{AllDocsOpts, Ledger};
use ferroproof::store::mem::MemStore;
use ferroproof::store::Store;
use ferroproof::sync::{Remote, Replica};
use serde_json::Value;

/// One ledger of a server store folder, written like `server/src/store.rs` does: a marker file
/// `ledgers/<id>/ledger`, create-only objects `ledgers/<id>/cars/<name>` and `.../heads/<name>`.
#[derive(Clone)]
pub struct DirRemote {
    pub dir: PathBuf,
}

impl DirRemote {
    pub fn create(root: &Path, id: &str) -> DirRemote {
        let dir = root.join("ledgers").join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ledger"), br#"{"created":1}"#).unwrap();
        DirRemote { dir }
    }
    fn path(&self, key: &str) -> PathBuf {
        let (kind, name) = key.split_once('/').unwrap();
        assert!(kind == "cars" || kind == "heads", "{key}");
        self.dir.join(kind).join(name)
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Remote(e.to_string())
}

impl Remote for DirRemote {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let p = self.path(key);
        if !p.exists() {
            std::fs::create_dir_all(p.parent().unwrap()).map_err(io)?;
            std::fs::write(&p, bytes).map_err(io)?;
        }
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(key)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let kind = prefix.trim_end_matches('/');
        let Ok(entries) = std::fs::read_dir(self.dir.join(kind)) else {
            return Ok(Vec::new());
        };
        Ok(entries
            .map(|e| format!("{kind}/{}", e.unwrap().file_name().to_string_lossy()))
            .collect())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        let _ = std::fs::remove_file(self.path(key));
        Ok(())
    }
}

/// A device: one engine ledger on its own in-memory store.
pub struct Dev {
    pub ledger: Ledger<MemStore>,
}

impl Dev {
    pub fn new(key: &Key) -> Dev {
        let store = MemStore::new();
        block(store.ensure_key(key)).unwrap();
        Dev {
            ledger: block(Ledger::open("t", store, None)).unwrap(),
        }
    }
    /// Writes a wire batch (`[[id, body|null], …]`) and records it in `model`.
    pub fn write(&self, batch: Value, model: &mut BTreeMap<String, Value>) {
        for op in batch.as_array().unwrap() {
            let id = op[0].as_str().unwrap().to_string();
            match &op[1] {
                Value::Null => model.remove(&id),
                body => {
                    let mut doc = serde_json::Map::new();
                    doc.insert("_id".into(), Value::String(id.clone()));
                    doc.extend(body.as_object().unwrap().clone());
                    model.insert(id, Value::Object(doc))
                }
            };
        }
        let ops = ferroproof::doc::parse_batch(&batch.to_string()).unwrap();
        block(self.ledger.write(ops)).unwrap();
    }
    pub fn replica<'a>(&'a self, r: &DirRemote) -> Replica<'a, MemStore, DirRemote> {
        Replica {
            ledger: &self.ledger,
            remote: r.clone(),
            id: "t".into(),
        }
    }
    pub fn push(&self, r: &DirRemote) {
        block(self.replica(r).push()).unwrap();
    }
    pub fn pull(&self, r: &DirRemote) {
        let report = block(self.replica(r).pull()).unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }
    /// `allDocs` as JSON lines, the way the engine writes documents for JS.
    pub fn jsonl(&self) -> String {
        let (rows, _) = block(self.ledger.all_docs(&AllDocsOpts::default())).unwrap();
        let mut out = String::new();
        for r in rows {
            r.body
                .unwrap()
                .write_json(&mut out, &r.id, ferroproof::doc::IdAt::First)
                .unwrap();
            out.push('\n');
        }
        out
    }
}

pub fn block<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A temp store folder with one ledger, its key and a model of its documents.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub id: String,
    pub key: Key,
    pub remote: DirRemote,
    pub model: BTreeMap<String, Value>,
}

fn b64url(bytes: &[u8]) -> String {
    let mut s = String::new();
    ferroproof::b64::encode_into(&mut s, bytes);
    s.trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// A random 26-character ledger id, like the server's.
fn ledger_id() -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let k = Key::generate().unwrap();
    k.as_bytes()[..26]
        .iter()
        .map(|b| alphabet[usize::from(*b) % 32] as char)
        .collect()
}

impl Fixture {
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let id = ledger_id();
        let remote = DirRemote::create(tmp.path(), &id);
        Fixture {
            tmp,
            id,
            key: Key::generate().unwrap(),
            remote,
            model: BTreeMap::new(),
        }
    }
    pub fn store(&self) -> String {
        self.tmp.path().to_string_lossy().into_owned()
    }
    pub fn invite(&self) -> String {
        invite_for(&self.id, &self.key)
    }
    pub fn dev(&self) -> Dev {
        Dev::new(&self.key)
    }
    /// The objects of one kind (`cars`/`heads`), sorted names.
    pub fn objects(&self, kind: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.remote.dir.join(kind))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
    pub fn object_path(&self, kind: &str, name: &str) -> PathBuf {
        self.remote.dir.join(kind).join(name)
    }
    /// The model as JSON values, in id order.
    pub fn expected(&self) -> Vec<Value> {
        self.model.values().cloned().collect()
    }
}

pub fn invite_for(ledger: &str, key: &Key) -> String {
    let json = serde_json::json!({"v": 1, "u": "", "l": ledger, "k": b64url(key.as_bytes())});
    format!("fp1.{}", b64url(json.to_string().as_bytes()))
}

/// A finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let out = String::from_utf8_lossy(&self.stdout);
        write!(
            f,
            "exit {}\nstdout:\n{out}\nstderr:\n{}",
            self.code, self.stderr
        )
    }
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).unwrap()
    }
    /// Asserts a failure reported as one clear line on stderr, without a panic or backtrace.
    pub fn fails_with(&self, code: i32, needle: &str) {
        assert_eq!(self.code, code, "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:?}");
        assert!(self.stderr.starts_with("ferroproof: "), "{self:?}");
        assert!(self.stderr.contains(needle), "{needle:?} in {self:?}");
        assert!(!self.stderr.contains("panicked"), "{self:?}");
    }
}

pub fn ferroproof(args: &[&str]) -> Run {
    ferroproof_stdin(args, b"")
}

pub fn ferroproof_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferroproof"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Parses JSON lines.
pub fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Two devices writing concurrently (puts, updates, deletes, a document stored in its own block),
/// each pushing without pulling: the store holds two head records.
pub fn two_writers() -> (Fixture, Dev, Dev) {
    let mut f = Fixture::new();
    let (a, b) = (f.dev(), f.dev());
    let big = "x".repeat(3000);
    a.write(
        serde_json::json!([
            ["apple", {"n": 1, "tags": ["red", "fruit"]}],
            ["banana", {"n": 2, "nested": {"k": true, "z": null}}],
            ["cherry", {"n": 3}],
            ["big", {"text": big}]
        ]),
        &mut f.model,
    );
    a.write(serde_json::json!([["banana", {"n": 20}]]), &mut f.model);
    a.write(serde_json::json!([["cherry", null]]), &mut f.model);
    a.push(&f.remote);
    b.write(
        serde_json::json!([["date", {"n": 4}], ["elder", {"s": "é ü \"q\""}]]),
        &mut f.model,
    );
    b.write(
        serde_json::json!([["date", {"n": 40, "more": [1, 2, 3]}], ["elder", null], ["fig", {}]]),
        &mut f.model,
    );
    b.push(&f.remote);
    assert_eq!(f.objects("heads").len(), 2);
    (f, a, b)
}
