//! `export`: the ledger's current documents, merged from every head record exactly as a replica
//! merges them (an in-memory ledger with the invite's key pulls from the store folder), written as
//! JSON lines or as a plain CAR v1 of dag-cbor blocks (layout in docs/cli.md).
//!
//! Invariant: an export never skips a head record: one that does not open fails the export
//! (a replica would skip it and report it; an export must be complete or nothing).

use std::collections::BTreeMap;

use ferroproof::car::write_car;
use ferroproof::codec::{self, Block};
use ferroproof::crypto::Key;
use ferroproof::doc::IdAt;
use ferroproof::error::Error;
use ferroproof::ledger::{AllDocsOpts, DocRow, Ledger};
use ferroproof::store::mem::MemStore;
use ferroproof::sync::Replica;
use ipld_core::ipld::Ipld;

use crate::fail::Fail;
use crate::folder::LedgerDir;

/// Documents per page block of the export CAR.
pub const PAGE: usize = 1000;

/// A fresh in-memory replica of `l` under `key`, after one pull of every head record.
pub async fn pull(l: &LedgerDir, key: &Key) -> Result<Ledger<MemStore>, Fail> {
    let what = format!("ledgers/{}", l.id);
    let ledger = Ledger::open("export", MemStore::new(), Some(key.clone()))
        .await
        .map_err(|e| Fail::engine(&what, e))?;
    let replica = Replica {
        ledger: &ledger,
        remote: l.remote(),
        id: "cli".into(),
    };
    let report = replica.pull().await.map_err(|e| Fail::engine(&what, e))?;
    if let Some(first) = report.errors.first() {
        let all_decrypt = report
            .errors
            .iter()
            .all(|e| matches!(e, Error::Decrypt { .. }));
        return Err(if all_decrypt && report.errors.len() == report.records {
            Fail::WrongKey(format!(
                "{what}: no head record opens with this key ({} tried): wrong key",
                report.records
            ))
        } else {
            // a head record, or a CAR a record needs (the pull merged the others, docs/sync.md §4)
            let kind = |car: &str| match l.read("heads", car) {
                Ok(Some(_)) => "heads",
                _ => "cars",
            };
            match first {
                Error::Corrupt { car, reason } => {
                    Fail::Corrupt(format!("{}: {reason}", l.label(kind(car), car)))
                }
                Error::Decrypt { car } => Fail::engine(&l.label(kind(car), car), first.clone()),
                other => Fail::engine(&what, other.clone()),
            }
        });
    }
    Ok(ledger)
}

/// The live documents, in id order.
pub async fn rows(l: &LedgerDir, key: &Key) -> Result<Vec<DocRow>, Fail> {
    let ledger = pull(l, key).await?;
    let (rows, _) = ledger
        .all_docs(&AllDocsOpts::default())
        .await
        .map_err(|e| Fail::engine(&format!("ledgers/{}", l.id), e))?;
    Ok(rows)
}

/// One `{"_id":…, …}` line per document.
pub fn jsonl(rows: &[DocRow]) -> Result<Vec<u8>, Fail> {
    let mut out = String::new();
    for r in rows {
        if let Some(body) = &r.body {
            body.write_json(&mut out, &r.id, IdAt::First)
                .map_err(|e| Fail::Corrupt(format!("document {:?}: {e}", r.id)))?;
            out.push('\n');
        }
    }
    Ok(out.into_bytes())
}

fn encode(v: Ipld) -> Result<Block, Fail> {
    codec::encode(&v).map_err(|e| Fail::Internal(e.to_string()))
}

/// An unencrypted CAR v1: root `{format, v, ledger, count, pages}`, then each page
/// `[[id, link(doc)], …]` followed by its documents `{"_id": id, …fields}`.
pub fn car(ledger_id: &str, rows: &[DocRow]) -> Result<Vec<u8>, Fail> {
    let live: Vec<&DocRow> = rows.iter().filter(|r| r.body.is_some()).collect();
    let mut pages = Vec::new();
    let mut body_blocks = Vec::new();
    for chunk in live.chunks(PAGE) {
        let mut entries = Vec::with_capacity(chunk.len());
        let mut docs = Vec::with_capacity(chunk.len());
        for r in chunk {
            let mut body = r
                .body
                .as_ref()
                .map(|b| b.body())
                .transpose()
                .map_err(|e| Fail::Corrupt(format!("document {:?}: {e}", r.id)))?
                .unwrap_or_default();
            body.insert("_id".into(), Ipld::String(r.id.clone()));
            let doc = encode(Ipld::Map(body))?;
            entries.push(Ipld::List(vec![
                Ipld::String(r.id.clone()),
                Ipld::Link(doc.cid),
            ]));
            docs.push(doc);
        }
        pages.push(encode(Ipld::List(entries))?);
        body_blocks.push(docs);
    }
    let root = encode(Ipld::Map(BTreeMap::from([
        ("format".into(), Ipld::String("ferroproof-export".into())),
        ("v".into(), Ipld::Integer(1)),
        ("ledger".into(), Ipld::String(ledger_id.into())),
        ("count".into(), Ipld::Integer(live.len() as i128)),
        (
            "pages".into(),
            Ipld::List(pages.iter().map(|p| Ipld::Link(p.cid)).collect()),
        ),
    ])))?;
    let mut blocks = vec![root.clone()];
    for (page, docs) in pages.into_iter().zip(body_blocks) {
        blocks.push(page);
        blocks.extend(docs);
    }
    Ok(write_car(root.cid, &blocks.iter().collect::<Vec<_>>()))
}
