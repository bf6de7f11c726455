//! Reads: point lookup, ordered range scans (both directions) and a full diff of two trees.
//!
//! Invariant: reads never modify anything; they see exactly the tree under the root they were given.

use std::rc::Rc;

use cid::Cid;

use super::node::{link_max, Entry, Node, Raw};
use super::{Loader, NodesNow};
use crate::error::Result;

/// One end of a key range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    Unbounded,
    Included(Vec<u8>),
    Excluded(Vec<u8>),
}

/// A key range with its two ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub lo: Bound,
    pub hi: Bound,
}

impl Range {
    pub fn all() -> Range {
        Range {
            lo: Bound::Unbounded,
            hi: Bound::Unbounded,
        }
    }

    /// Keys starting with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Range {
        let hi = match prefix_successor(prefix) {
            Some(s) => Bound::Excluded(s),
            None => Bound::Unbounded,
        };
        Range {
            lo: Bound::Included(prefix.to_vec()),
            hi,
        }
    }

    /// Keys from `lo` to `hi`, both included (`hi` with every key it prefixes, when
    /// `hi_as_prefix`).
    pub fn between(lo: Vec<u8>, hi: &[u8], hi_as_prefix: bool) -> Range {
        let hi = if hi_as_prefix {
            Range::prefix(hi).hi
        } else {
            Bound::Included(hi.to_vec())
        };
        Range {
            lo: Bound::Included(lo),
            hi,
        }
    }

    /// The keys in both ranges.
    pub fn intersect(&self, other: &Range) -> Range {
        fn key(b: &Bound) -> Option<&Vec<u8>> {
            match b {
                Bound::Included(k) | Bound::Excluded(k) => Some(k),
                Bound::Unbounded => None,
            }
        }
        let lo = match (key(&self.lo), key(&other.lo)) {
            (None, _) => other.lo.clone(),
            (_, None) => self.lo.clone(),
            (Some(a), Some(b)) if a != b => {
                if a > b {
                    self.lo.clone()
                } else {
                    other.lo.clone()
                }
            }
            _ => {
                if matches!(self.lo, Bound::Excluded(_)) {
                    self.lo.clone()
                } else {
                    other.lo.clone()
                }
            }
        };
        let hi = match (key(&self.hi), key(&other.hi)) {
            (None, _) => other.hi.clone(),
            (_, None) => self.hi.clone(),
            (Some(a), Some(b)) if a != b => {
                if a < b {
                    self.hi.clone()
                } else {
                    other.hi.clone()
                }
            }
            _ => {
                if matches!(self.hi, Bound::Excluded(_)) {
                    self.hi.clone()
                } else {
                    other.hi.clone()
                }
            }
        };
        Range { lo, hi }
    }

    pub fn above_lo(&self, k: &[u8]) -> bool {
        match &self.lo {
            Bound::Unbounded => true,
            Bound::Included(l) => k >= l.as_slice(),
            Bound::Excluded(l) => k > l.as_slice(),
        }
    }

    pub fn below_hi(&self, k: &[u8]) -> bool {
        match &self.hi {
            Bound::Unbounded => true,
            Bound::Included(h) => k <= h.as_slice(),
            Bound::Excluded(h) => k < h.as_slice(),
        }
    }
}

/// The smallest key greater than every key starting with `prefix`, if any.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

fn child_index(node: &Node, key: &[u8]) -> usize {
    node.entries
        .partition_point(|e| e.0.as_slice() <= key)
        .saturating_sub(1)
}

/// Looks up one key.
pub async fn get<L: Loader>(loader: &L, root: Option<Cid>, key: &[u8]) -> Result<Option<Raw>> {
    let Some(root) = root else { return Ok(None) };
    let mut node = loader.load(&root).await?;
    while node.level > 0 {
        if key < node.first_key() {
            return Ok(None);
        }
        let next = node.child(child_index(&node, key))?;
        node = loader.load(&next).await?;
    }
    Ok(node
        .entries
        .binary_search_by(|e| e.0.as_slice().cmp(key))
        .ok()
        .map(|i| node.entries[i].1.clone()))
}

/// [`get`] over nodes in memory (a missing node is `Error::MissingBlock`).
pub fn get_now(src: &dyn NodesNow, root: Option<Cid>, key: &[u8]) -> Result<Option<Raw>> {
    let Some(root) = root else { return Ok(None) };
    let mut node = src.node_now(&root)?;
    while node.level > 0 {
        if key < node.first_key() {
            return Ok(None);
        }
        let next = node.child(child_index(&node, key))?;
        node = src.node_now(&next)?;
    }
    Ok(node
        .entries
        .binary_search_by(|e| e.0.as_slice().cmp(key))
        .ok()
        .map(|i| node.entries[i].1.clone()))
}

/// Visits the entries in `range` in key order (or reverse), until `visit` returns false.
pub async fn scan<L: Loader>(
    loader: &L,
    root: Option<Cid>,
    range: &Range,
    reverse: bool,
    mut visit: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    scan_dyn(loader, root, range, reverse, 0, &mut visit).await
}

/// Visits, in key order, the leaves that may hold an entry written after seq `after`: subtrees
/// whose branch value records a highest seq ≤ `after` are skipped (a bare link is descended).
/// The visitor still sees older entries of the leaves it reaches.
pub async fn scan_after<L: Loader>(
    loader: &L,
    root: Option<Cid>,
    after: u64,
    mut visit: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    scan_dyn(loader, root, &Range::all(), false, after, &mut visit).await
}

/// [`scan`] with the visitor behind a reference: one copy of the scan's state machine serves
/// every caller (seven of them, each with its own closure type). Children whose branch value
/// records a highest seq ≤ `after` are skipped (never the case for `after` = 0: seqs start at 1).
async fn scan_dyn<L: Loader>(
    loader: &L,
    root: Option<Cid>,
    range: &Range,
    reverse: bool,
    after: u64,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    let stale = |v: &[u8]| after > 0 && link_max(v).is_some_and(|m| m <= after);
    let Some(root) = root else { return Ok(()) };
    // Each frame is a node, the half-open index window still to visit, and where the children
    // announced so far end (in the direction of the scan).
    let mut stack: Vec<(Rc<Node>, usize, usize, usize)> = Vec::new();
    let push = |stack: &mut Vec<(Rc<Node>, usize, usize, usize)>, node: Rc<Node>| {
        let (a, b) = window(&node, range);
        stack.push((node, a, b, if reverse { b } else { a }));
    };
    push(&mut stack, loader.load(&root).await?);
    // Children about to be visited are announced to the loader in windows that double with each
    // descent (1, 2, 4 … 32), each announced once, when the scan reaches it: a long scan loads its
    // nodes in batches, a short one over-reads little.
    let mut ahead = 1usize;
    while let Some(frame) = stack.last_mut() {
        if frame.1 >= frame.2 {
            stack.pop();
            continue;
        }
        let i = if reverse {
            frame.2 -= 1;
            frame.2
        } else {
            frame.1 += 1;
            frame.1 - 1
        };
        let (lo, hi) = (frame.1, frame.2);
        let node = frame.0.clone();
        if node.level == 0 {
            let (k, v) = &node.entries[i];
            if !range.above_lo(k) || !range.below_hi(k) {
                let past = if reverse {
                    !range.above_lo(k)
                } else {
                    !range.below_hi(k)
                };
                if past {
                    return Ok(());
                }
                continue;
            }
            if !visit(k, v) {
                return Ok(());
            }
        } else {
            if stale(&node.entries[i].1) {
                continue;
            }
            let due = if reverse { i < frame.3 } else { i >= frame.3 };
            if ahead > 1 && due {
                let (a, b) = if reverse {
                    (lo.max((i + 1).saturating_sub(ahead)), i + 1)
                } else {
                    (i, (i + ahead).min(hi.max(i + 1)))
                };
                frame.3 = if reverse { a } else { b };
                let mut cids = Vec::with_capacity(b - a);
                for j in (a..b).filter(|&j| !stale(&node.entries[j].1)) {
                    cids.push(node.child(j)?);
                }
                loader.prefetch(&cids).await?;
            }
            ahead = (ahead * 2).min(32);
            let child = loader.load(&node.child(i)?).await?;
            node.check_child(i, &child)?;
            push(&mut stack, child);
        }
    }
    Ok(())
}

/// Index window of `node` that can hold keys in `range`.
fn window(node: &Node, range: &Range) -> (usize, usize) {
    let n = node.entries.len();
    if node.level == 0 {
        let a = match &range.lo {
            Bound::Unbounded => 0,
            Bound::Included(l) => node.entries.partition_point(|e| e.0 < *l),
            Bound::Excluded(l) => node.entries.partition_point(|e| e.0 <= *l),
        };
        let b = match &range.hi {
            Bound::Unbounded => n,
            Bound::Included(h) => node.entries.partition_point(|e| e.0 <= *h),
            Bound::Excluded(h) => node.entries.partition_point(|e| e.0 < *h),
        };
        return (a, b.max(a));
    }
    let a = match &range.lo {
        Bound::Unbounded => 0,
        Bound::Included(l) | Bound::Excluded(l) => child_index(node, l),
    };
    let b = match &range.hi {
        Bound::Unbounded => n,
        Bound::Included(h) | Bound::Excluded(h) => child_index(node, h) + 1,
    };
    (a, b.max(a))
}

/// A key whose value differs between two trees: `(key, before, after)`.
pub type Change = (Vec<u8>, Option<Raw>, Option<Raw>);

/// Every key whose value differs between the trees at `a` and `b`, in key order. Only the leaves
/// the two trees do not share are read (from memory: a missing one is `Error::MissingBlock`): a
/// key in a shared leaf has the same value on both sides.
pub fn diff(src: &dyn NodesNow, a: Option<Cid>, b: Option<Cid>) -> Result<Vec<Change>> {
    if a == b {
        return Ok(Vec::new());
    }
    // each side's leaves come in key order (walk_unshared), so both lists are sorted
    let (mut left, mut right): (Vec<Entry>, Vec<Entry>) = (Vec::new(), Vec::new());
    super::walk::walk_unshared(src, a, b, &mut |is_b, n| {
        if n.level == 0 {
            let side = if is_b { &mut right } else { &mut left };
            side.extend(n.entries.iter().cloned());
        }
        Ok(())
    })?;
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < left.len() || j < right.len() {
        match (left.get(i), right.get(j)) {
            (Some(l), Some(r)) if l.0 == r.0 => {
                if l.1 != r.1 {
                    out.push((l.0.clone(), Some(l.1.clone()), Some(r.1.clone())));
                }
                i += 1;
                j += 1;
            }
            (Some(l), Some(r)) if l.0 < r.0 => {
                out.push((l.0.clone(), Some(l.1.clone()), None));
                i += 1;
            }
            (Some(l), None) => {
                out.push((l.0.clone(), Some(l.1.clone()), None));
                i += 1;
            }
            (_, Some(r)) => {
                out.push((r.0.clone(), None, Some(r.1.clone())));
                j += 1;
            }
            (None, None) => break,
        }
    }
    Ok(out)
}
