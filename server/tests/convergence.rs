//! Convergence through the real server on its filesystem store: 3 replicas (the engine, natively,
//! each on an in-memory local store) × random puts, deletes and bulks × random push / pull /
//! compact / reopen schedules, all talking HTTP to one `ferroproof-server` process. After everyone
//! syncs twice: one head, one document root, the same documents everywhere. ≥ 1,000 cases
//! (`SYNC_CASES` overrides).

mod common;

use std::collections::BTreeMap;

use ferroproof::doc::{Body, WriteOp};
use ferroproof::error::{Error, Result};
use ferroproof::ledger::{AllDocsOpts, Ledger};
use ferroproof::store::mem::MemStore;
use ferroproof::sync::{Remote, Replica};
use ipld_core::ipld::Ipld;
use proptest::prelude::*;

/// The server's HTTP API as the engine's remote (what `toServer` does in the browser).
#[derive(Clone)]
struct HttpRemote {
    client: reqwest::Client,
    base: String,
}

fn net(e: impl std::fmt::Display) -> Error {
    Error::Remote(e.to_string())
}

impl Remote for HttpRemote {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let r = self
            .client
            .put(format!("{}{key}", self.base))
            .body(bytes.to_vec())
            .send()
            .await
            .map_err(net)?;
        if !r.status().is_success() {
            return Err(net(format!("put {key}: {}", r.status())));
        }
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let r = self
            .client
            .get(format!("{}{key}", self.base))
            .send()
            .await
            .map_err(net)?;
        if r.status() == 404 {
            return Ok(None);
        }
        if !r.status().is_success() {
            return Err(net(format!("get {key}: {}", r.status())));
        }
        Ok(Some(r.bytes().await.map_err(net)?.to_vec()))
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let (mut out, mut after) = (Vec::new(), String::new());
        loop {
            let q = if after.is_empty() {
                String::new()
            } else {
                format!("?after={after}")
            };
            let r = self
                .client
                .get(format!("{}{prefix}{q}", self.base))
                .send()
                .await
                .map_err(net)?;
            let v: serde_json::Value =
                serde_json::from_str(&r.text().await.map_err(net)?).map_err(net)?;
            for n in v["names"].as_array().into_iter().flatten() {
                out.push(format!("{prefix}{}", n.as_str().unwrap_or_default()));
            }
            match v["next"].as_str() {
                Some(n) => after = n.to_string(),
                None => return Ok(out),
            }
        }
    }
    async fn delete(&self, key: &str) -> Result<()> {
        let r = self
            .client
            .delete(format!("{}{key}", self.base))
            .send()
            .await
            .map_err(net)?;
        if !(r.status().is_success() || r.status() == 404) {
            return Err(net(format!("delete {key}: {}", r.status())));
        }
        Ok(())
    }
}

fn body(n: i64) -> Body {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(n.into()));
    b
}

struct Dev {
    store: MemStore,
    ledger: Ledger<MemStore>,
}

impl Dev {
    async fn new(like: Option<&MemStore>) -> Dev {
        let store = MemStore::new();
        if let Some(o) = like {
            store.share_key_from(o);
        }
        let ledger = Ledger::open("t", store.clone(), None).await.unwrap();
        Dev { store, ledger }
    }
    async fn docs(&self) -> BTreeMap<String, bool> {
        let opts = AllDocsOpts {
            include_deleted: true,
            ..Default::default()
        };
        let (rows, _) = self.ledger.all_docs(&opts).await.unwrap();
        rows.into_iter().map(|r| (r.id, r.body.is_some())).collect()
    }
}

#[derive(Clone, Debug)]
enum Step {
    Put(usize, u8, i64),
    Del(usize, u8),
    Bulk(usize, u8),
    Push(usize),
    Pull(usize),
    Compact(usize),
    Reopen(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize, 0..12u8, 0..100i64).prop_map(|(r, k, v)| Step::Put(r, k, v)),
        1 => (0..3usize, 0..12u8).prop_map(|(r, k)| Step::Del(r, k)),
        1 => (0..3usize, 0..12u8).prop_map(|(r, k)| Step::Bulk(r, k)),
        3 => (0..3usize).prop_map(Step::Push),
        3 => (0..3usize).prop_map(Step::Pull),
        1 => (0..3usize).prop_map(Step::Compact),
        1 => (0..3usize).prop_map(Step::Reopen),
    ]
}

fn replica<'a>(d: &'a Dev, remote: &HttpRemote) -> Replica<'a, MemStore, HttpRemote> {
    Replica {
        ledger: &d.ledger,
        remote: remote.clone(),
        id: "r".into(),
    }
}

async fn run_case(
    client: &reqwest::Client,
    addr: &str,
    steps: Vec<Step>,
) -> std::result::Result<(), String> {
    let created: serde_json::Value = serde_json::from_str(
        &client
            .post(format!("http://{addr}/v1/ledgers"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let remote = HttpRemote {
        client: client.clone(),
        base: format!(
            "http://{addr}/v1/ledgers/{}/",
            created["ledger"].as_str().unwrap_or_default()
        ),
    };
    let first = Dev::new(None).await;
    let mut devs = vec![
        Dev::new(Some(&first.store)).await,
        Dev::new(Some(&first.store)).await,
        first,
    ];
    let put = |k: String, v: i64| WriteOp::put(k, &body(v));
    for s in steps {
        match s {
            Step::Put(r, k, v) => drop(
                devs[r]
                    .ledger
                    .write(vec![put(format!("k{k}"), v)])
                    .await
                    .unwrap(),
            ),
            Step::Del(r, k) => drop(
                devs[r]
                    .ledger
                    .write(vec![WriteOp::del(format!("k{k}"))])
                    .await
                    .unwrap(),
            ),
            Step::Bulk(r, k) => drop(
                devs[r]
                    .ledger
                    .write((0..k).map(|i| put(format!("k{i}"), i64::from(k))).collect())
                    .await
                    .unwrap(),
            ),
            Step::Push(r) => drop(
                replica(&devs[r], &remote)
                    .push()
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            Step::Pull(r) => drop(
                replica(&devs[r], &remote)
                    .pull()
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            Step::Compact(r) => devs[r].ledger.compact().await.unwrap(),
            Step::Reopen(r) => {
                devs[r].ledger = Ledger::open("t", devs[r].store.clone(), None)
                    .await
                    .unwrap()
            }
        }
    }
    for _ in 0..2 {
        for d in &devs {
            replica(d, &remote)
                .sync()
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let s0 = devs[0].ledger.snapshot();
    let docs0 = devs[0].docs().await;
    for d in &devs {
        let s = d.ledger.snapshot();
        if (&s.head, s.docs, s.count) != (&s0.head, s0.docs, s0.count) || d.docs().await != docs0 {
            return Err(format!("diverged: {:?} vs {:?}", s.head, s0.head));
        }
    }
    Ok(())
}

#[test]
fn replicas_converge_through_the_server_on_a_folder_store() {
    let spec = common::StoreSpec::temp_folder();
    let server = common::Server::start(&spec);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let cases = std::env::var("SYNC_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000_u32)
        .max(1);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
    runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| {
            rt.block_on(run_case(&client, &server.addr, steps))
                .map_err(TestCaseError::fail)
        })
        .unwrap();
}
