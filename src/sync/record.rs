//! Head records and manifest CARs: small sealed CARs with one root block.
//!
//! A head record's root is `{v: 1, heads: [event], cars: [car], more: [manifest car]}`; a manifest
//! CAR's root is `{v: 1, cars, more}` (docs/sync.md §2). Both are sealed CARs named by the hash of
//! their stored bytes, so they are verified exactly like data CARs. Invariant: a decoded record
//! came from bytes whose name, GCM tag and block CID all verified.

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;

use crate::car::{open_car, seal_car, write_car, SealedCar};
use crate::codec::{self, as_links, cid_str, field, parse_cid};
use crate::crypto::Aead;
use crate::error::{Error, Result};

/// Inline manifest names kept in a record before the older half is rolled into a manifest CAR:
/// a record stays small (it is what every replica downloads after every push).
pub const INLINE_CARS: usize = 16;
/// Manifest CAR links kept in a record's `more` before they are nested into one manifest CAR
/// (`{cars: [], more: [...]}`): a fresh replica expands the manifests level by level, each
/// level's CARs in parallel, instead of one long chain.
pub const INLINE_MORE: usize = 4;

/// A manifest: CAR names newest first, and manifest CARs holding older names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub cars: Vec<String>,
    pub more: Vec<String>,
}

impl Manifest {
    /// `self` with `other`'s names after its own (deduplicated, order kept).
    pub fn union(&self, other: &Manifest) -> Manifest {
        fn merged(a: &[String], b: &[String]) -> Vec<String> {
            let mut seen: crate::HashSet<&String> = crate::HashSet::default();
            a.iter()
                .chain(b)
                .filter(|n| seen.insert(n))
                .cloned()
                .collect()
        }
        Manifest {
            cars: merged(&self.cars, &other.cars),
            more: merged(&self.more, &other.more),
        }
    }

    /// The root of a manifest CAR holding this manifest, `{v: 1, cars, more}`, or with `heads`,
    /// of a head record, `{v: 1, heads, cars, more}`.
    pub fn root(&self, heads: Option<&[Cid]>) -> Result<Ipld> {
        let mut m = BTreeMap::new();
        m.insert("v".into(), Ipld::Integer(1));
        if let Some(heads) = heads {
            m.insert(
                "heads".into(),
                Ipld::List(heads.iter().copied().map(Ipld::Link).collect()),
            );
        }
        m.insert("cars".into(), links(&self.cars)?);
        m.insert("more".into(), links(&self.more)?);
        Ok(Ipld::Map(m))
    }
}

/// A decoded head record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadRecord {
    pub heads: Vec<Cid>,
    pub manifest: Manifest,
}

fn links(names: &[String]) -> Result<Ipld> {
    let mut links = Vec::with_capacity(names.len());
    for n in names {
        links.push(Ipld::Link(parse_cid(n)?));
    }
    Ok(Ipld::List(links))
}

/// The manifest in a decoded record or manifest root (CAR `name`, for errors).
fn manifest_of(name: &str, v: &Ipld) -> Result<Manifest> {
    let names = |what: &str, bad: &str| match field(v, what) {
        None => Ok(Vec::new()),
        l => as_links(l)
            .map(|l| l.iter().map(cid_str).collect())
            .ok_or_else(|| Error::corrupt(name, bad)),
    };
    Ok(Manifest {
        cars: names("cars", "cars is not a list of links")?,
        more: names("more", "more is not a list of links")?,
    })
}

/// Seals a single-root CAR holding `root` (a head record's or a manifest CAR's, see
/// [`Manifest::root`]); returns its name and bytes.
pub async fn seal_root<A: Aead>(aead: &A, root: &Ipld) -> Result<SealedCar> {
    let block = codec::encode(root)?;
    seal_car(aead, &write_car(block.cid, &[&block])).await
}

/// Opens a sealed single-root CAR and returns its root block's value.
async fn open_root<A: Aead>(aead: &A, name: &str, bytes: &[u8]) -> Result<Ipld> {
    let cid = parse_cid(name).map_err(|_| Error::corrupt(name, "bad name"))?;
    let (roots, blocks) = open_car(aead, &cid, bytes).await?;
    let root = roots
        .first()
        .and_then(|r| blocks.iter().find(|b| b.cid == *r))
        .ok_or_else(|| Error::corrupt(name, "root block missing"))?;
    codec::decode(&root.bytes).map_err(|e| Error::corrupt(name, e))
}

impl HeadRecord {
    /// Seals the record; returns its name and bytes.
    pub async fn seal<A: Aead>(&self, aead: &A) -> Result<SealedCar> {
        seal_root(aead, &self.manifest.root(Some(&self.heads))?).await
    }

    /// Verifies and decodes a head record fetched under `name`.
    pub async fn open<A: Aead>(aead: &A, name: &str, bytes: &[u8]) -> Result<HeadRecord> {
        let v = open_root(aead, name, bytes).await?;
        if codec::as_u64(field(&v, "v")) != Some(1) {
            return Err(Error::corrupt(name, "unknown head record version"));
        }
        let heads = as_links(field(&v, "heads"))
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::corrupt(name, "heads is not a non-empty list of links"))?;
        Ok(HeadRecord {
            heads,
            manifest: manifest_of(name, &v)?,
        })
    }
}

/// Seals a manifest CAR holding `m`.
pub async fn seal_manifest<A: Aead>(aead: &A, m: &Manifest) -> Result<SealedCar> {
    seal_root(aead, &m.root(None)?).await
}

/// The manifest in an opened CAR, if it is a manifest CAR (`None` for data CARs).
pub fn manifest_in(
    name: &str,
    roots: &[Cid],
    blocks: &[crate::codec::Block],
) -> Result<Option<Manifest>> {
    let Some(root) = roots
        .first()
        .and_then(|r| blocks.iter().find(|b| b.cid == *r))
    else {
        return Ok(None);
    };
    let Ok(v) = codec::decode(&root.bytes) else {
        return Ok(None);
    };
    if field(&v, "cars").is_none() || field(&v, "head").is_some() {
        return Ok(None);
    }
    manifest_of(name, &v).map(Some)
}
