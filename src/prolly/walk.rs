//! Loading what is new in a tree: every node of tree `new` that is not a node of tree `old`.
//!
//! The two trees are walked level by level; a node whose CID is in both frontiers is shared with
//! all of its subtree and is not descended into. Invariant: every node reachable from `new` and not
//! reachable from `old` is loaded exactly once through the loader (so a fetching loader makes the
//! new tree complete), and nodes shared by both trees are never loaded.

use std::collections::HashSet;
use std::rc::Rc;

use cid::Cid;

use super::{Loader, Node};
use crate::error::Result;

async fn expand<L: Loader>(
    loader: &L,
    frontier: &[Cid],
    level_of: &mut Vec<(Cid, Rc<Node>)>,
) -> Result<()> {
    for c in frontier {
        level_of.push((*c, loader.load(c).await?));
    }
    Ok(())
}

fn children(nodes: &[(Cid, Rc<Node>)], out: &mut Vec<Cid>) -> Result<()> {
    for (_, n) in nodes {
        if n.level > 0 {
            for i in 0..n.entries.len() {
                out.push(n.child(i)?);
            }
        }
    }
    Ok(())
}

/// Walks the nodes of trees `a` and `b` that the other tree does not have, calling `on_node`
/// once per such node with `true` for a node of `b` (`false` for `a`).
pub async fn walk_unshared<L: Loader>(
    loader: &L,
    a: Option<Cid>,
    b: Option<Cid>,
    mut on_node: impl FnMut(bool, &Cid, &Node) -> Result<()>,
) -> Result<()> {
    let mut sides: [Vec<Cid>; 2] = [a.into_iter().collect(), b.into_iter().collect()];
    let mut reported: [HashSet<Cid>; 2] = [HashSet::new(), HashSet::new()];
    let mut nodes: [Vec<(Cid, Rc<Node>)>; 2] = [Vec::new(), Vec::new()];
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
            expand(loader, &sides[s], &mut nodes[s]).await?;
            for (c, n) in &nodes[s] {
                if reported[s].insert(*c) {
                    on_node(s == 1, c, n)?;
                }
            }
            levels[s] = nodes[s].iter().map(|(_, n)| n.level).max();
        }
        // Frontier nodes share one level per side; descend the higher side (both when equal).
        let descend = match (levels[0], levels[1]) {
            (Some(la), Some(lb)) => [la >= lb, lb >= la],
            (x, y) => [x.is_some(), y.is_some()],
        };
        for s in 0..2 {
            if descend[s] {
                let mut next = Vec::new();
                children(&nodes[s], &mut next)?;
                sides[s] = next;
            }
        }
    }
    Ok(())
}

/// Loads every node of `new` not shared with `old`; calls `on_new` once with each.
pub async fn walk_new<L: Loader>(
    loader: &L,
    old: Option<Cid>,
    new: Option<Cid>,
    mut on_new: impl FnMut(&Cid, &Node) -> Result<()>,
) -> Result<()> {
    walk_unshared(
        loader,
        old,
        new,
        |is_new, c, n| {
            if is_new {
                on_new(c, n)
            } else {
                Ok(())
            }
        },
    )
    .await
}
