//! Push and pull of one ledger against one remote (docs/sync.md §3–4).
//!
//! Invariants: CARs before heads; a pull merges only verified heads and stores fetched CARs in
//! the merge's own commit; the sync state is saved only after what it records is durable (a
//! crash re-does work, never skips it).

use crate::HashSet;
use std::rc::Rc;

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::fetch::Fetcher;
use super::record::{seal_root, HeadRecord, Manifest, INLINE_CARS, INLINE_MORE};
use super::state::SyncState;
use super::{Remote, CARS, HEADS};
use crate::codec::cid_str;
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::store::Store;

/// What a pull did.
#[derive(Debug, Default)]
pub struct PullReport {
    /// Head records read (new ones).
    pub records: usize,
    /// Whether the local head moved.
    pub changed: bool,
    /// Bytes downloaded (records and CARs).
    pub bytes: usize,
    /// Objects that failed verification and were skipped.
    pub errors: Vec<Error>,
}

/// What a push did.
#[derive(Debug, Default)]
pub struct PushReport {
    /// CARs uploaded (including manifest CARs).
    pub cars: usize,
    /// Bytes uploaded (CARs and the record).
    pub bytes: usize,
    /// The head record written, if any.
    pub record: Option<String>,
}

/// One ledger attached to one remote, identified by `id` (its sync state's key).
pub struct Replica<'a, S: Store, R: Remote> {
    pub ledger: &'a Ledger<S>,
    /// A handle on the remote (cloned into the fetcher of a pull).
    pub remote: R,
    pub id: String,
}

/// A remote object that failed its checks or is gone: reported, not fatal to a pull.
fn is_damage(e: &Error) -> bool {
    matches!(
        e,
        Error::Corrupt { .. } | Error::Decrypt { .. } | Error::MissingBlock(_)
    )
}

/// The names of the head records `keys` lists (full keys under [`HEADS`]).
fn record_names(keys: Vec<String>) -> Vec<String> {
    let mut names = Vec::with_capacity(keys.len());
    for k in &keys {
        match k.strip_prefix(HEADS) {
            Some(n) if !n.is_empty() => names.push(n.to_string()),
            _ => {}
        }
    }
    names
}

impl<S: Store + 'static, R: Remote + Clone + 'static> Replica<'_, S, R> {
    async fn load_state(&self) -> Result<SyncState> {
        match self
            .ledger
            .store()
            .load_meta(&SyncState::key(&self.id))
            .await?
        {
            Some(t) => SyncState::from_json(&t),
            None => Ok(SyncState::default()),
        }
    }

    async fn save_state(&self, s: &SyncState) -> Result<()> {
        self.ledger
            .store()
            .save_meta(&SyncState::key(&self.id), &s.to_json())
            .await
    }

    /// Reads new head records, fetches what their heads need and merges them.
    pub async fn pull(&self) -> Result<PullReport> {
        // Tracking starts before the first pull: the CARs a pull fetches are the remote's own and
        // never join the outbox (a ledger that starts tracking later would push them back, which
        // a read-only device may not).
        self.ledger.start_outbox().await?;
        let mut report = PullReport::default();
        let mut st = self.load_state().await?;
        let listed = record_names(self.remote.list(HEADS).await?);
        // the good records: name, heads, manifest
        let mut recs: Vec<(String, Vec<Cid>, Manifest)> = Vec::new();
        for name in &listed {
            if st.seen.contains(name) {
                continue;
            }
            report.records += 1;
            let Some(bytes) = self.remote.get(&super::key(HEADS, name)).await? else {
                continue; // deleted since the listing: a newer record covers it
            };
            report.bytes += bytes.len();
            match HeadRecord::open(&*self.ledger.blocks().aead(), name, &bytes).await {
                Ok(r) => recs.push((name.clone(), r.heads, r.manifest)),
                Err(e) => report.errors.push(e),
            }
        }
        // Heads already in the local history are recognised by the merge itself (an event being
        // stored here does not mean it was merged: a fetched CAR can hold events of other heads).
        // All records merge together; if a remote CAR one of them needs is damaged or gone, each
        // record is merged on its own, so that the others still arrive, and one that fails is
        // reported (and not remembered: later pulls try it again).
        let mut manifest = Manifest::default();
        let mut good: Vec<String> = Vec::new();
        // attempt 0: every record together; after a damage, attempt k: record k - 1 alone
        let mut split = false;
        for k in 0..recs.len() + 1 {
            if k > 0 && !split {
                break;
            }
            let part = if k == 0 { &recs[..] } else { &recs[k - 1..k] };
            let mut heads: Vec<Cid> = Vec::new();
            let mut m = Manifest::default();
            for r in part {
                heads.extend_from_slice(&r.1);
                m = m.union(&r.2);
            }
            let done = match heads.is_empty() {
                true => Ok(()),
                false => {
                    self.adopt(&m.union(&st.manifest), &heads, &mut report)
                        .await
                }
            };
            match done {
                Ok(()) => {
                    manifest = manifest.union(&m);
                    for r in part {
                        good.push(r.0.clone());
                    }
                }
                Err(e) if is_damage(&e) && k == 0 && part.len() > 1 => split = true,
                Err(e) if is_damage(&e) => report.errors.push(e),
                Err(e) => return Err(e),
            }
        }
        // Durable now: remember the merged records. Bad ones are not remembered: they are reported
        // again by every pull until a newer record replaces them.
        st.pulled(&manifest, good, &listed);
        self.save_state(&st).await?;
        Ok(report)
    }

    /// Fetches what `heads` need (from the CARs of `manifest` first) and merges them.
    async fn adopt(
        &self,
        manifest: &Manifest,
        heads: &[Cid],
        report: &mut PullReport,
    ) -> Result<()> {
        let store = self.ledger.store();
        let local: HashSet<String> = store.list_cars(false).await?.into_iter().collect();
        let eager = self.ledger.snapshot().head.is_empty();
        // new records' CARs first; then every CAR known to be on the remote (blocks this replica
        // never fetched, e.g. events behind a fast-forward, or dropped by compaction)
        let fetcher = Rc::new(Fetcher::<S, R>::new(
            self.ledger.blocks().aead(),
            self.remote.clone(),
            manifest,
            local,
            eager,
        ));
        let done = self.ledger.adopt_heads(Some(fetcher.clone()), heads).await;
        report.bytes += fetcher.bytes.get();
        report.changed |= done?.is_some();
        Ok(())
    }

    /// Seals `root` into a CAR and uploads it under `prefix`; returns its name.
    async fn put_root(&self, prefix: &str, root: &Ipld, report: &mut PushReport) -> Result<String> {
        let sealed = seal_root(&*self.ledger.blocks().aead(), root).await?;
        let name = cid_str(&sealed.name);
        self.remote
            .put(&super::key(prefix, &name), &sealed.bytes)
            .await?;
        report.bytes += sealed.bytes.len();
        Ok(name)
    }

    /// Seals and uploads a manifest CAR; returns its name.
    async fn put_manifest(&self, m: &Manifest, report: &mut PushReport) -> Result<String> {
        let name = self.put_root(CARS, &m.root(None)?, report).await?;
        report.cars += 1;
        Ok(name)
    }

    /// Uploads the outbox, then a head record for the local head; deletes the records it covers.
    pub async fn push(&self) -> Result<PushReport> {
        let mut report = PushReport::default();
        self.ledger.start_outbox().await?;
        let snap = self.ledger.snapshot();
        let out = snap.to_push().to_vec();
        if out.is_empty() || snap.head.is_empty() {
            return Ok(report);
        }
        let mut st = self.load_state().await?;
        for name in &out {
            let bytes = self
                .ledger
                .store()
                .read_car(name)
                .await?
                .ok_or_else(|| Error::corrupt(name, "outbox car is missing locally"))?;
            self.remote.put(&super::key(CARS, name), &bytes).await?;
            report.cars += 1;
            report.bytes += bytes.len();
        }
        // File CARs are pushed but never listed: a pull must not download them to merge
        // (docs/format.md §16); `file()` fetches them by name.
        let files: HashSet<String> = self
            .ledger
            .store()
            .list_cars(true)
            .await?
            .into_iter()
            .collect();
        let mut newest_first = Vec::with_capacity(out.len());
        for c in out.iter().rev() {
            if !files.contains(c) {
                newest_first.push(c.clone());
            }
        }
        let mut manifest = Manifest {
            cars: newest_first,
            more: Vec::new(),
        }
        .union(&st.manifest);
        // Older names roll into a manifest CAR, whose link joins `more` (newest first); too many
        // links in `more` are nested into one manifest CAR (docs/sync.md §2).
        if manifest.cars.len() > INLINE_CARS {
            let older = Manifest {
                cars: manifest.cars.split_off(INLINE_CARS / 2),
                more: Vec::new(),
            };
            let name = self.put_manifest(&older, &mut report).await?;
            manifest.more.insert(0, name);
        }
        if manifest.more.len() > INLINE_MORE {
            let nested = Manifest {
                cars: Vec::new(),
                more: std::mem::take(&mut manifest.more),
            };
            manifest.more = vec![self.put_manifest(&nested, &mut report).await?];
        }
        // A held-back merge is announced by its parents: a reader merges them into the same event
        // (docs/sync.md §4), and the merge's CARs stay local until a write builds on them.
        let mut heads = Vec::new();
        self.ledger
            .blocks()
            .settle(&mut || {
                heads = self.ledger.announced_heads(&snap)?;
                Ok(())
            })
            .await?;
        let record = manifest.root(Some(&heads))?;
        let name = self.put_root(HEADS, &record, &mut report).await?;
        for old in &st.merged {
            self.remote.delete(&super::key(HEADS, old)).await?;
        }
        self.ledger.outbox_done(&out).await?;
        st.manifest = manifest;
        st.merged = vec![name.clone()];
        st.seen.push(name.clone());
        self.save_state(&st).await?;
        report.record = Some(name);
        Ok(report)
    }

    /// Pull, then push: afterwards the remote has every local commit made before the call and
    /// the local ledger has merged every head record listed at the call.
    pub async fn sync(&self) -> Result<(PullReport, PushReport)> {
        let pulled = self.pull().await?;
        let pushed = self.push().await?;
        Ok((pulled, pushed))
    }
}
