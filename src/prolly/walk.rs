//! What is new in a tree: every node of tree `new` that is not a node of tree `old`.
//!
//! The two trees are walked level by level over nodes already in memory ([`NodesNow`]); a node
//! whose CID is in both frontiers is shared with all of its subtree and is not descended into.
//! Invariant: every node reachable from `new` and not reachable from `old` is reported exactly
//! once (and was in memory), and nodes shared by both trees are never looked up. A missing node
//! ends the walk with `Error::MissingBlock` after the rest of its frontier was looked up too, so
//! one retry loads a whole frontier's blocks.

use crate::HashSet;
use std::rc::Rc;

use cid::Cid;

use super::{Node, NodesNow};
use crate::error::Result;

/// Walks the nodes of trees `a` and `b` that the other tree does not have, calling `on_node`
/// once per such node with `true` for a node of `b` (`false` for `a`). Within a side, leaves
/// come in key order (a side's frontier is one level, in key order).
pub fn walk_unshared(
    src: &dyn NodesNow,
    a: Option<Cid>,
    b: Option<Cid>,
    on_node: &mut dyn FnMut(bool, &Node) -> Result<()>,
) -> Result<()> {
    let mut sides: [Vec<Cid>; 2] = [a.into_iter().collect(), b.into_iter().collect()];
    let mut reported: [HashSet<Cid>; 2] = [HashSet::default(), HashSet::default()];
    let mut nodes: [Vec<Rc<Node>>; 2] = [Vec::new(), Vec::new()];
    while !sides[0].is_empty() || !sides[1].is_empty() {
        let in_a: HashSet<Cid> = sides[0].iter().copied().collect();
        let shared: HashSet<Cid> = sides[1]
            .iter()
            .filter(|c| in_a.contains(c))
            .copied()
            .collect();
        let mut levels = [None, None];
        for s in 0..2 {
            sides[s].retain(|c| !shared.contains(c));
            nodes[s].clear();
            let mut missing = None;
            for c in &sides[s] {
                match src.node_now(c) {
                    Ok(n) => nodes[s].push(n),
                    Err(e) => missing = Some(e),
                }
            }
            if let Some(e) = missing {
                return Err(e);
            }
            for (c, n) in sides[s].iter().zip(&nodes[s]) {
                if reported[s].insert(*c) {
                    on_node(s == 1, n)?;
                }
            }
            levels[s] = nodes[s].iter().map(|n| n.level).max();
        }
        // Frontier nodes share one level per side; descend the higher side (both when equal).
        let descend = match (levels[0], levels[1]) {
            (Some(la), Some(lb)) => [la >= lb, lb >= la],
            (x, y) => [x.is_some(), y.is_some()],
        };
        for s in 0..2 {
            if descend[s] {
                // each child once: a crafted tree whose entries share a child stays as small as
                // its distinct nodes
                let (mut next, mut queued) = (Vec::new(), HashSet::default());
                for n in &nodes[s] {
                    if n.level > 0 {
                        for i in 0..n.entries.len() {
                            let c = n.child(i)?;
                            if queued.insert(c) {
                                next.push(c);
                            }
                        }
                    }
                }
                sides[s] = next;
            }
        }
    }
    Ok(())
}

/// Every node of `new` not shared with `old`, once each.
pub fn walk_new(
    src: &dyn NodesNow,
    old: Option<Cid>,
    new: Option<Cid>,
    on_new: &mut dyn FnMut(&Node) -> Result<()>,
) -> Result<()> {
    walk_unshared(src, old, new, &mut |is_new, n| {
        if is_new {
            on_new(n)
        } else {
            Ok(())
        }
    })
}
