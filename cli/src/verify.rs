//! `verify` over a store folder: every object's name is the hash of its bytes; with the key, every
//! GCM tag, every block CID, every head record, the completeness of every head's trees, and the
//! merge of all head records as a replica would do it.
//!
//! Invariant: a problem names the object (`ledgers/<id>/<kind>/<name>`) and what is wrong; without
//! `--all` checking stops at the first one. A ledger where nothing opens with the key is a wrong
//! key ([`Fail::WrongKey`]), not a list of problems.

use cid::Cid;
use ferroproof::car::open_car;
use ferroproof::codec::{cid_of, cid_str, parse_cid, RAW};
use ferroproof::crypto::{Key, SoftAead};
use ferroproof::error::Error;
use ferroproof::sync::record::{manifest_in, HeadRecord};

use crate::fail::{reason, Fail};
use crate::folder::LedgerDir;
use crate::walk::{self, Blocks};

/// Problems found so far.
pub struct Problems {
    pub all: bool,
    pub list: Vec<String>,
}

impl Problems {
    pub fn add(&mut self, p: String) {
        self.list.push(p);
    }
    /// Whether to stop checking (the first problem, unless `--all`).
    pub fn stop(&self) -> bool {
        !self.all && !self.list.is_empty()
    }
}

/// Counts for the summary line.
#[derive(Default)]
struct Seen {
    cars: usize,
    bytes: u64,
    records: usize,
    heads: usize,
    blocks: usize,
    opened: usize,
    /// GCM failures met before any object opened.
    held: Vec<String>,
}

impl Seen {
    /// Records an object that did not open. GCM failures before anything opened are held back:
    /// if nothing ever opens, the key is wrong, and that is one error, not a problem per object.
    fn failed(&mut self, p: &mut Problems, label: &str, e: &Error) {
        let problem = format!("{label}: {}", reason(e));
        if matches!(e, Error::Decrypt { .. }) && self.opened == 0 {
            self.held.push(problem);
        } else {
            p.add(problem);
        }
    }
    /// Records an object that opened: held GCM failures were not a wrong key after all.
    fn opened(&mut self, p: &mut Problems) {
        self.opened += 1;
        for h in self.held.drain(..) {
            p.add(h);
        }
    }
}

/// The CID an object's name must equal, or the problem.
fn named(name: &str, bytes: &[u8]) -> Result<Cid, String> {
    let cid = parse_cid(name).map_err(|_| "its name is not a CID".to_string())?;
    let actual = cid_of(RAW, bytes).map_err(|e| e.to_string())?;
    if cid != actual {
        return Err(format!(
            "stored bytes ({} bytes) do not match its name (they hash to {})",
            bytes.len(),
            cid_str(&actual)
        ));
    }
    Ok(cid)
}

/// Verifies one ledger; returns its summary line (problems go to `p`).
pub async fn ledger(l: &LedgerDir, key: Option<&Key>, p: &mut Problems) -> Result<String, Fail> {
    let aead = key
        .map(SoftAead::new)
        .transpose()
        .map_err(|e| Fail::Internal(e.to_string()))?;
    let mut seen = Seen::default();
    let mut blocks = Blocks::new();
    let cars = l.objects("cars")?;
    for (name, _) in &cars {
        let label = l.label("cars", name);
        let bytes = l.read("cars", name)?.unwrap_or_default();
        seen.cars += 1;
        seen.bytes += bytes.len() as u64;
        let cid = match named(name, &bytes) {
            Ok(c) => c,
            Err(why) => {
                p.add(format!("{label}: {why}"));
                if p.stop() {
                    return Ok(String::new());
                }
                continue;
            }
        };
        let Some(aead) = &aead else { continue };
        match open_car(aead, &cid, &bytes).await {
            Ok((roots, bs)) => {
                seen.opened(p);
                if let Err(e) = manifest_in(name, &roots, &bs) {
                    p.add(format!("{label}: {}", reason(&e)));
                }
                blocks.extend(bs.into_iter().map(|b| (b.cid, b.bytes)));
            }
            Err(e) => seen.failed(p, &label, &e),
        }
        if p.stop() {
            return Ok(String::new());
        }
    }
    let mut records = Vec::new();
    for (name, _) in l.objects("heads")? {
        let label = l.label("heads", &name);
        let bytes = l.read("heads", &name)?.unwrap_or_default();
        seen.records += 1;
        if let Err(why) = named(&name, &bytes) {
            p.add(format!("{label}: {why}"));
        } else if let Some(aead) = &aead {
            match HeadRecord::open(aead, &name, &bytes).await {
                Ok(r) => {
                    seen.opened(p);
                    for car in r.manifest.cars.iter().chain(&r.manifest.more) {
                        if !cars.iter().any(|(n, _)| n == car) {
                            p.add(format!(
                                "{label}: its manifest names cars/{car}, which is not stored"
                            ));
                        }
                    }
                    records.push((label, r));
                }
                Err(e) => seen.failed(p, &label, &e),
            }
        }
        if p.stop() {
            return Ok(String::new());
        }
    }
    let Some(key) = key else {
        return Ok(format!(
            "ledgers/{}: {} cars ({} bytes) and {} head records match their names; without a key \
             nothing else can be checked (GCM tags, block CIDs, trees)",
            l.id, seen.cars, seen.bytes, seen.records
        ));
    };
    if !seen.held.is_empty() {
        return Err(Fail::WrongKey(format!(
            "ledgers/{}: no object opens with this key ({} GCM tags failed): wrong key",
            l.id,
            seen.held.len()
        )));
    }
    let mut done = std::collections::HashSet::new();
    for (label, r) in &records {
        for h in &r.heads {
            seen.heads += 1;
            match walk::head(&blocks, &mut done, h) {
                Ok(n) => seen.blocks += n,
                Err(why) => p.add(format!("{label}: head {}: {why}", cid_str(h))),
            }
            if p.stop() {
                return Ok(String::new());
            }
        }
    }
    let mut merged = String::new();
    if p.list.is_empty() && !records.is_empty() {
        match crate::export::pull(l, key).await {
            Ok(ledger) => {
                let s = ledger.snapshot();
                merged = format!(", merged: seq {}, {} documents", s.seq, s.count);
            }
            Err(f) => p.add(format!(
                "ledgers/{}: merging the head records failed: {}",
                l.id,
                f.message()
            )),
        }
    }
    Ok(format!(
        "ledgers/{}: ok: {} cars ({} bytes), {} head records naming {} heads, {} blocks walked, \
         every GCM tag and block CID verified, every tree complete{merged}",
        l.id, seen.cars, seen.bytes, seen.records, seen.heads, seen.blocks
    ))
}
