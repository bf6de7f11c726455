//! The local sync state of one remote, kept beside the header as JSON (docs/sync.md §6).
//!
//! Invariant: `seen` only names head records already merged (or found bad), `merged` only
//! records whose heads the local head descends from, so deleting them after a push loses nothing.

use ipld_core::ipld::Ipld;

use super::record::Manifest;
use crate::doc::write_str;
use crate::error::{Error, Result};

/// What this replica knows of one remote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncState {
    /// Remote CARs that hold every block of the heads this replica merged or pushed.
    pub manifest: Manifest,
    /// Head records already processed (merged, or skipped as bad).
    pub seen: Vec<String>,
    /// Head records the local head covers: deleted after the next push.
    pub merged: Vec<String>,
}

fn list(out: &mut String, key: &str, items: &[String]) {
    write_str(out, key);
    out.push(':');
    crate::doc::write_strs(out, items);
}

fn strings(v: Option<&Ipld>) -> Result<Vec<String>> {
    match v {
        None | Some(Ipld::Null) => Ok(Vec::new()),
        Some(Ipld::List(l)) => crate::codec::as_strs(l)
            .ok_or_else(|| Error::corrupt("sync state", "an entry is not a string")),
        Some(_) => Err(Error::corrupt("sync state", "a field is not a list")),
    }
}

impl SyncState {
    /// The meta key of the state of remote `id`.
    pub fn key(id: &str) -> String {
        crate::sync::key("sync:", id)
    }

    /// Records a pull: the records `good` were merged (with `manifest`, on top of the known
    /// one); only records still `listed` are kept.
    pub fn pulled(&mut self, manifest: &Manifest, good: Vec<String>, listed: &[String]) {
        self.manifest = manifest.union(&self.manifest);
        self.seen.extend(good.iter().cloned());
        let is_listed = |n: &String| listed.contains(n);
        self.seen.retain(is_listed);
        self.merged.extend(good);
        self.merged.retain(is_listed);
    }

    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        list(&mut out, "cars", &self.manifest.cars);
        out.push(',');
        list(&mut out, "more", &self.manifest.more);
        out.push(',');
        list(&mut out, "seen", &self.seen);
        out.push(',');
        list(&mut out, "merged", &self.merged);
        out.push('}');
        out
    }

    pub fn from_json(text: &str) -> Result<SyncState> {
        let v = crate::json::parse(text).map_err(|e| Error::corrupt("sync state", e))?;
        let Ipld::Map(m) = v else {
            return Err(Error::corrupt("sync state", "not an object"));
        };
        Ok(SyncState {
            manifest: Manifest {
                cars: strings(m.get("cars"))?,
                more: strings(m.get("more"))?,
            },
            seen: strings(m.get("seen"))?,
            merged: strings(m.get("merged"))?,
        })
    }
}
