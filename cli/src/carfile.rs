//! `--car FILE`: one CAR file, sealed as the engine stores them (`FPRS` envelope, named by the
//! hash of its bytes) or a plain CAR v1, possibly an archive (`db.exportCar`). `inspect` lists roots
//! and blocks; `verify` checks the name (when the file is named by a CID), the GCM tag (with a key),
//! every block's CID and, for an archive, that the engine imports it; `export` reads an archive.
//!
//! Invariant: blocks are only listed after the engine's reader verified every one of them.

use std::fmt::Write;
use std::path::Path;

use cid::Cid;
use ferroproof::car::{open_car, read_car};
use ferroproof::codec::{cid_of, cid_str, parse_cid, Block, RAW};
use ferroproof::crypto::{Key, SoftAead, MAGIC};
use ferroproof::error::Error;

use ferroproof::ledger::{AllDocsOpts, DocRow};

use crate::archive;
use crate::fail::{reason, Fail};

/// The file's bytes and what they are.
struct CarFile {
    label: String,
    bytes: Vec<u8>,
    sealed: bool,
    /// The CID the file name claims, if it is one.
    claimed: Option<Cid>,
    actual: Cid,
}

fn load(path: &Path) -> Result<CarFile, Fail> {
    let label = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Fail::Io(format!("{label}: {e}")))?;
    if bytes.is_empty() {
        return Err(Fail::Corrupt(format!("{label}: empty file, not a car")));
    }
    let claimed = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| parse_cid(n.strip_suffix(".car").unwrap_or(n)).ok());
    let actual = cid_of(RAW, &bytes).map_err(|e| Fail::Internal(e.to_string()))?;
    Ok(CarFile {
        sealed: bytes.starts_with(MAGIC),
        label,
        bytes,
        claimed,
        actual,
    })
}

/// Roots and blocks, verified; a sealed file needs the key.
async fn open(f: &CarFile, key: Option<&Key>) -> Result<Option<(Vec<Cid>, Vec<Block>)>, Error> {
    if !f.sealed {
        return read_car(&f.label, &f.bytes).map(Some);
    }
    let Some(key) = key else { return Ok(None) };
    open_car(&SoftAead::new(key)?, &f.actual, &f.bytes)
        .await
        .map(Some)
}

fn list(out: &mut String, roots: &[Cid], blocks: &[Block]) {
    let bytes: usize = blocks.iter().map(|b| b.bytes.len()).sum();
    for r in roots {
        let _ = writeln!(out, "root {}", cid_str(r));
    }
    let _ = writeln!(
        out,
        "blocks: {} ({bytes} bytes of block data)",
        blocks.len()
    );
    for b in blocks {
        let _ = writeln!(
            out,
            "  {} codec 0x{:x} {} bytes",
            cid_str(&b.cid),
            b.cid.codec(),
            b.bytes.len()
        );
    }
}

fn describe(f: &CarFile) -> String {
    let kind = if f.sealed {
        "sealed car (FPRS envelope)"
    } else {
        "plain car v1"
    };
    let mut s = format!("{}: {kind}, {} bytes", f.label, f.bytes.len());
    if f.sealed {
        let _ = write!(s, ", hash {}", cid_str(&f.actual));
    }
    s.push('\n');
    s
}

pub async fn inspect(path: &Path, key: Option<&Key>) -> Result<String, Fail> {
    let f = load(path)?;
    let mut out = describe(&f);
    match open(&f, key).await.map_err(|e| Fail::engine(&f.label, e))? {
        Some((roots, blocks)) => {
            if archive::is_archive(&roots, &blocks) {
                let l = archive::import(&f.bytes, key)
                    .await
                    .map_err(|e| Fail::engine(&f.label, e))?;
                out.push_str(&archive::describe(&l));
                out.push('\n');
            }
            list(&mut out, &roots, &blocks)
        }
        None => out.push_str("contents are ciphertext: give --key-from to list roots and blocks\n"),
    }
    Ok(out)
}

/// The summary line and the problems found.
pub async fn verify(path: &Path, key: Option<&Key>) -> Result<(String, Vec<String>), Fail> {
    let f = load(path)?;
    let mut problems = Vec::new();
    if let Some(claimed) = f.claimed.filter(|c| *c != f.actual) {
        problems.push(format!(
            "{}: stored bytes do not match its name {} (they hash to {})",
            f.label,
            cid_str(&claimed),
            cid_str(&f.actual)
        ));
    }
    let summary = match open(&f, key).await {
        Ok(Some((roots, blocks))) => {
            let mut s = format!(
                "{}: ok: {} blocks, every block's CID matches its bytes{}",
                f.label,
                blocks.len(),
                if f.sealed { ", GCM tag verified" } else { "" }
            );
            if archive::is_archive(&roots, &blocks) {
                match archive::import(&f.bytes, key).await {
                    Ok(l) => {
                        let _ = write!(s, ", complete {}", archive::describe(&l));
                    }
                    Err(e) => problems.push(format!("{}: archive: {}", f.label, reason(&e))),
                }
            }
            s
        }
        Ok(None) => format!(
            "{}: sealed car{}; without a key its GCM tag and blocks cannot be checked",
            f.label,
            if f.claimed.is_some() {
                " matches its name"
            } else {
                ""
            }
        ),
        Err(Error::Decrypt { .. }) if problems.is_empty() => {
            return Err(Fail::WrongKey(format!(
                "{}: the GCM tag does not verify: wrong key (or the file is damaged)",
                f.label
            )))
        }
        Err(e) => {
            problems.push(format!("{}: {}", f.label, reason(&e)));
            String::new()
        }
    };
    Ok((summary, problems))
}

/// The live documents of an archive file, in id order.
pub async fn archive_rows(path: &Path, key: Option<&Key>) -> Result<Vec<DocRow>, Fail> {
    let f = load(path)?;
    if f.sealed && key.is_none() {
        return Err(Fail::Usage(format!(
            "{}: a sealed archive: give --key-from",
            f.label
        )));
    }
    if let Some((roots, blocks)) = open(&f, key).await.map_err(|e| Fail::engine(&f.label, e))? {
        if !archive::is_archive(&roots, &blocks) {
            return Err(Fail::Corrupt(format!(
                "{}: not an archive (its root is no {{v, head, indexes}} block)",
                f.label
            )));
        }
    }
    let l = archive::import(&f.bytes, key)
        .await
        .map_err(|e| Fail::engine(&f.label, e))?;
    let (rows, _) = l
        .all_docs(&AllDocsOpts::default())
        .await
        .map_err(|e| Fail::engine(&f.label, e))?;
    Ok(rows)
}
