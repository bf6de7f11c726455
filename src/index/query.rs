//! Query options over an index's `keys` tree: `key`, `keys`, `range`, `prefix`, `descending`,
//! `limit`. Options compose: `key`/`keys`/`prefix`/`range` intersect; `keys` returns rows grouped
//! in the order of `keys`; `descending` reverses within each group; `limit` caps the total.
//!
//! Invariant: rows come out in collation order of their keys (then document id, then emit order).

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::key;
use super::update::split_row_key;
use super::FreshRows;
use crate::error::{Error, Result};
use crate::prolly::{self, Bound, Loader, Range};

/// Query options (all optional).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryOpts {
    pub key: Option<Ipld>,
    pub keys: Option<Vec<Ipld>>,
    /// `[low, high]`, both included; no `high`: every key from `low` on.
    pub range: Option<(Ipld, Option<Ipld>)>,
    pub prefix: Option<Ipld>,
    pub limit: Option<usize>,
    pub descending: bool,
}

/// One result row.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryRow {
    pub id: String,
    pub key: Ipld,
    pub value: Ipld,
}

fn exact(k: &Ipld) -> Result<Range> {
    Ok(Range::prefix(&key::encode(k)?))
}

/// The ranges a `prefix` selects, in collation order. An array prefix matches the arrays that
/// start with its elements. A scalar prefix (as in Fireproof, the one-element array prefix) also
/// matches the arrays whose first element equals it, after the scalars it matches: the strings
/// starting with it (a string prefix), or the scalar itself.
fn prefix_ranges(p: &Ipld) -> Result<Vec<Range>> {
    let mut out = vec![Range::prefix(&key::encode_prefix(p)?)];
    if !matches!(p, Ipld::List(_)) {
        let one = Ipld::List(vec![p.clone()]);
        out.push(Range::prefix(&key::encode_prefix(&one)?));
    }
    Ok(out)
}

/// The key ranges to scan, in output order.
fn ranges(o: &QueryOpts) -> Result<Vec<Range>> {
    let mut base = Range::all();
    if let Some((lo, hi)) = &o.range {
        let lo = key::encode(lo)?;
        base = base.intersect(&match hi {
            Some(hi) => Range::between(lo, &key::encode(hi)?, true),
            None => Range {
                lo: Bound::Included(lo),
                hi: Bound::Unbounded,
            },
        });
    }
    if let Some(k) = &o.key {
        base = base.intersect(&exact(k)?);
    }
    let mut parts = match &o.prefix {
        Some(p) => prefix_ranges(p)?
            .iter()
            .map(|r| base.intersect(r))
            .collect(),
        None => vec![base],
    };
    if o.descending {
        parts.reverse(); // each part is scanned backwards: the whole comes out reversed
    }
    match &o.keys {
        Some(keys) => {
            let mut out = Vec::with_capacity(keys.len() * parts.len());
            for k in keys {
                let e = exact(k)?;
                out.extend(parts.iter().map(|p| p.intersect(&e)));
            }
            Ok(out)
        }
        None => Ok(parts),
    }
}

fn row(k: &[u8], v: &[u8]) -> Result<QueryRow> {
    let (key, id) = split_row_key(k)?;
    let value = crate::codec::decode(v).map_err(|e| Error::corrupt("index", e))?;
    Ok(QueryRow { id, key, value })
}

/// Runs a query against the `keys` tree rooted at `root`.
pub async fn run<L: Loader>(loader: &L, root: Option<Cid>, o: &QueryOpts) -> Result<Vec<QueryRow>> {
    let limit = o.limit.unwrap_or(usize::MAX);
    let mut out: Vec<QueryRow> = Vec::new();
    for range in ranges(o)? {
        if out.len() >= limit {
            break;
        }
        let mut bad: Option<Error> = None;
        prolly::scan(loader, root, &range, o.descending, |k, v| {
            match row(k, v) {
                Ok(r) => out.push(r),
                Err(e) => bad = Some(e),
            }
            bad.is_none() && out.len() < limit
        })
        .await?;
        if let Some(e) = bad {
            return Err(e);
        }
    }
    Ok(out)
}

/// Runs a query against a fresh index not turned into trees yet: the same rows as [`run`] on
/// the tree of its rows.
pub fn run_sorted(rows: &FreshRows, o: &QueryOpts) -> Result<Vec<QueryRow>> {
    let limit = o.limit.unwrap_or(usize::MAX);
    let mut out: Vec<QueryRow> = Vec::new();
    let find = |pred: &dyn Fn(&[u8]) -> bool| {
        // first i in 0..len where pred(key i) is false (pred holds on a prefix)
        let (mut lo, mut hi) = (0, rows.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(rows.entry(mid).0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    };
    for range in ranges(o)? {
        let a = find(&|k| !range.above_lo(k));
        let b = find(&|k| range.below_hi(k)).max(a);
        let take = limit.saturating_sub(out.len());
        let pick = |i: usize| {
            let (k, v) = rows.entry(i);
            row(k, v)
        };
        if o.descending {
            for i in (a..b).rev().take(take) {
                out.push(pick(i)?);
            }
        } else {
            for i in (a..b).take(take) {
                out.push(pick(i)?);
            }
        }
    }
    Ok(out)
}
