//! `inspect` over a store folder: per ledger, its CARs (count, bytes, largest) and head records
//! (names and sizes; with the key, the heads and manifests they hold, and the merged state).
//!
//! Invariant: without a key only sizes and names are read (the tool sees what the server sees);
//! with a key, a ledger where no head record opens is a wrong key ([`Fail::WrongKey`]).

use std::fmt::Write;

use ferroproof::codec::cid_str;
use ferroproof::crypto::{Key, SoftAead};
use ferroproof::error::Error;
use ferroproof::sync::record::HeadRecord;

use crate::fail::{reason, Fail};
use crate::folder::LedgerDir;

/// Appends the report of one ledger to `out` (also when it fails part way: what was read stays).
pub async fn ledger(l: &LedgerDir, key: Option<&Key>, out: &mut String) -> Result<(), Fail> {
    let cars = l.objects("cars")?;
    let heads = l.objects("heads")?;
    let total: u64 = cars.iter().map(|(_, n)| n).sum();
    let largest = cars.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let _ = writeln!(out, "ledger {}", l.id);
    let _ = writeln!(
        out,
        "  cars: {} ({total} bytes, largest {largest} bytes)",
        cars.len()
    );
    let record_bytes: u64 = heads.iter().map(|(_, n)| n).sum();
    let _ = writeln!(
        out,
        "  head records: {} ({record_bytes} bytes)",
        heads.len()
    );
    let aead = key
        .map(SoftAead::new)
        .transpose()
        .map_err(|e| Fail::Internal(e.to_string()))?;
    let (mut opened, mut wrong_key) = (0, 0);
    for (name, size) in &heads {
        let _ = write!(out, "    heads/{name}: {size} bytes");
        let Some(aead) = &aead else {
            out.push_str(" (sealed: give --key-from to read it)\n");
            continue;
        };
        let bytes = l.read("heads", name)?.unwrap_or_default();
        match HeadRecord::open(aead, name, &bytes).await {
            Ok(r) => {
                opened += 1;
                let heads: Vec<String> = r.heads.iter().map(cid_str).collect();
                let _ = writeln!(
                    out,
                    ", heads [{}], manifest {} cars + {} manifest cars",
                    heads.join(", "),
                    r.manifest.cars.len(),
                    r.manifest.more.len()
                );
            }
            Err(e) => {
                wrong_key += usize::from(matches!(e, Error::Decrypt { .. }));
                let _ = writeln!(out, ", does not open: {}", reason(&e));
            }
        }
    }
    if let Some(key) = key {
        if opened == 0 && wrong_key > 0 {
            return Err(Fail::WrongKey(format!(
                "ledgers/{}: no head record opens with this key: wrong key",
                l.id
            )));
        }
        if opened > 0 {
            let merged = crate::export::pull(l, key).await?.snapshot();
            let heads: Vec<String> = merged.head.iter().map(cid_str).collect();
            let _ = writeln!(
                out,
                "  merged: seq {}, {} documents, head [{}]",
                merged.seq,
                merged.count,
                heads.join(", ")
            );
        }
    }
    Ok(())
}
