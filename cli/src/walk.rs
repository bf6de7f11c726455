//! Completeness of what a head names: its clock event, the event's documents tree
//! (every node, level by level) and every separately stored document the documents tree links to.
//!
//! Invariant: only blocks that came out of verified CARs are in the map walked here, so "present"
//! means present and intact; the first absent or undecodable block is reported with its role.

use std::collections::{HashMap, HashSet};

use cid::Cid;
use ferroproof::clock::Event;
use ferroproof::codec::cid_str;
use ferroproof::doc::LeafMeta;
use ferroproof::prolly::Node;

/// Verified blocks by CID.
pub type Blocks = HashMap<Cid, Vec<u8>>;

fn get<'a>(blocks: &'a Blocks, cid: &Cid, role: &str) -> Result<&'a [u8], String> {
    blocks
        .get(cid)
        .map(Vec::as_slice)
        .ok_or_else(|| format!("{role} {} is in no stored car", cid_str(cid)))
}

/// Walks the documents tree from `root`, skipping subtrees in `done` (checked already, from
/// another head), and checks the document blocks its leaves link to.
fn tree(blocks: &Blocks, done: &mut HashSet<Cid>, root: Option<Cid>) -> Result<usize, String> {
    let mut todo: Vec<Cid> = root.into_iter().collect();
    let mut seen = 0;
    while let Some(cid) = todo.pop() {
        if !done.insert(cid) {
            continue;
        }
        let node = Node::decode(get(blocks, &cid, "documents tree node")?)
            .map_err(|e| format!("documents tree node {}: {e}", cid_str(&cid)))?;
        seen += 1;
        for (i, (_, value)) in node.entries.iter().enumerate() {
            if node.level > 0 {
                todo.push(node.child(i).map_err(|e| e.to_string())?);
            } else {
                let meta = LeafMeta::read(value)
                    .map_err(|e| format!("documents tree leaf in {}: {e}", cid_str(&cid)))?;
                if let Some(r) = meta.doc_ref {
                    get(blocks, &r, "document block")?;
                    seen += 1;
                }
            }
        }
    }
    Ok(seen)
}

/// Checks that everything `head` needs is present and decodes; returns the number of blocks
/// walked (event, tree nodes, document blocks) that `done` did not hold yet.
pub fn head(blocks: &Blocks, done: &mut HashSet<Cid>, head: &Cid) -> Result<usize, String> {
    let ev = Event::decode(get(blocks, head, "clock event")?)
        .map_err(|e| format!("clock event {}: {e}", cid_str(head)))?;
    Ok(1 + tree(blocks, done, ev.root)?)
}
