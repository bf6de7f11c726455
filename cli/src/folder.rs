//! A sync server's store folder, read-only: `ledgers/<id>/ledger` (marker), `ledgers/<id>/cars/<name>`
//! and `ledgers/<id>/heads/<name>` (server/src/store.rs), and [`FolderRemote`], the engine's
//! [`Remote`] over one ledger of it.
//!
//! Invariant: nothing here writes; only plain files whose names are lowercase base32 (`a-z2-7`, the
//! server's object names) count as objects, so the store's in-progress upload files
//! (`<name>#<n>`) and stray files are never read as objects.

use std::path::{Path, PathBuf};

use ferroproof::error::{Error, Result as EngineResult};
use ferroproof::sync::{Remote, CARS, HEADS};

use crate::fail::Fail;

/// The two object folders of a ledger.
pub const KINDS: [&str; 2] = ["cars", "heads"];

/// A store folder with a `ledgers/` folder in it.
pub struct StoreDir {
    root: PathBuf,
}

/// One ledger of a store folder.
#[derive(Clone, Debug)]
pub struct LedgerDir {
    pub id: String,
    dir: PathBuf,
}

fn is_object_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
}

fn io(path: &Path, e: std::io::Error) -> Fail {
    Fail::Io(format!("{}: {e}", path.display()))
}

impl StoreDir {
    pub fn open(root: &Path) -> Result<StoreDir, Fail> {
        let meta = std::fs::metadata(root).map_err(|e| io(root, e))?;
        if !meta.is_dir() {
            return Err(Fail::Io(format!("{}: not a folder", root.display())));
        }
        if !root.join("ledgers").is_dir() {
            return Err(Fail::Corrupt(format!(
                "{}: not a ferroproof-server store (no ledgers/ folder)",
                root.display()
            )));
        }
        Ok(StoreDir {
            root: root.to_path_buf(),
        })
    }

    /// Every ledger id in the store, sorted.
    pub fn ledger_ids(&self) -> Result<Vec<String>, Fail> {
        let dir = self.root.join("ledgers");
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && is_object_name(&name) {
                ids.push(name);
            }
        }
        ids.sort();
        Ok(ids)
    }

    pub fn ledger(&self, id: &str) -> Result<LedgerDir, Fail> {
        let dir = self.root.join("ledgers").join(id);
        if !is_object_name(id) || !dir.is_dir() {
            return Err(Fail::Io(format!(
                "{}: no ledger {id:?} in this store",
                self.root.display()
            )));
        }
        Ok(LedgerDir {
            id: id.to_string(),
            dir,
        })
    }
}

impl LedgerDir {
    /// `ledgers/<id>/<kind>/<name>`, the label of an object in messages.
    pub fn label(&self, kind: &str, name: &str) -> String {
        format!("ledgers/{}/{kind}/{name}", self.id)
    }

    /// The objects of `kind` (`cars` or `heads`): (name, size), sorted by name.
    pub fn objects(&self, kind: &str) -> Result<Vec<(String, u64)>, Fail> {
        let dir = self.dir.join(kind);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata().map_err(|e| io(&entry.path(), e))?;
            if meta.is_file() && is_object_name(&name) {
                out.push((name, meta.len()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The bytes of an object, `None` if absent.
    pub fn read(&self, kind: &str, name: &str) -> Result<Option<Vec<u8>>, Fail> {
        if !KINDS.contains(&kind) || !is_object_name(name) {
            return Ok(None);
        }
        let path = self.dir.join(kind).join(name);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// The ledger as the engine's remote (read-only).
    pub fn remote(&self) -> FolderRemote {
        FolderRemote(self.clone())
    }
}

/// [`Remote`] over one ledger folder; `put` and `delete` refuse (the tool never writes a store).
#[derive(Clone)]
pub struct FolderRemote(LedgerDir);

fn split(key: &str) -> Option<(&str, &str)> {
    let (kind, name) = key.split_once('/')?;
    KINDS.contains(&kind).then_some((kind, name))
}

fn remote_err(f: Fail) -> Error {
    Error::Remote(f.message())
}

impl Remote for FolderRemote {
    async fn put(&self, key: &str, _bytes: &[u8]) -> EngineResult<()> {
        Err(Error::Remote(format!("{key}: the store is read-only here")))
    }
    async fn get(&self, key: &str) -> EngineResult<Option<Vec<u8>>> {
        match split(key) {
            Some((kind, name)) => self.0.read(kind, name).map_err(remote_err),
            None => Ok(None),
        }
    }
    async fn list(&self, prefix: &str) -> EngineResult<Vec<String>> {
        let mut out = Vec::new();
        for (kind, p) in [("cars", CARS), ("heads", HEADS)] {
            if p.starts_with(prefix) || prefix.starts_with(p) {
                for (name, _) in self.0.objects(kind).map_err(remote_err)? {
                    let key = format!("{p}{name}");
                    if key.starts_with(prefix) {
                        out.push(key);
                    }
                }
            }
        }
        Ok(out)
    }
    async fn delete(&self, key: &str) -> EngineResult<()> {
        Err(Error::Remote(format!("{key}: the store is read-only here")))
    }
}
