//! Batched edits (puts and deletes) applied to a tree, level by level.
//!
//! At each level the edits touch some nodes. Starting at such a node (an old boundary, so the new
//! chunker is aligned there), the merged entries are rechunked, continuing into following nodes until
//! the chunker is aligned again; untouched nodes after an aligned point are reused as they are. The
//! replaced and new nodes become the edits of the level above. Invariant: the result equals a
//! from-scratch build of the same entries (see the module docs of [`super`]).

use crate::HashMap;
use std::cmp::Ordering;
use std::rc::Rc;

use cid::Cid;

use super::chunk::Chunker;
use super::node::{link, link_max, link_seq, Entry, Node, Raw};
use super::Loader;
use crate::codec::Block;
use crate::error::Result;

/// `Some(value)` puts, `None` deletes.
pub type Edit = (Vec<u8>, Option<Raw>);

/// The seq of a leaf value, for trees whose branch values carry the highest seq below them
/// (`[link, seq]`, docs/format.md §4); `None` for trees with bare links.
pub type LeafSeq = Option<fn(&[u8]) -> std::result::Result<u64, String>>;

/// The outcome of [`apply`]: the new root and the blocks that did not exist before.
pub struct Applied {
    pub root: Option<Cid>,
    pub blocks: Vec<(Block, Rc<Node>)>,
    /// The leaf entries the edits replaced or deleted, with their old values.
    pub replaced: Vec<(Vec<u8>, Raw)>,
}

struct Ctx<'a, L: Loader> {
    loader: &'a L,
    leaf_seq: LeafSeq,
    fresh: HashMap<Cid, Rc<Node>>,
    blocks: Vec<(Block, Rc<Node>)>,
    replaced: Vec<(Vec<u8>, Raw)>,
}

impl<L: Loader> Ctx<'_, L> {
    async fn load(&self, cid: &Cid) -> Result<Rc<Node>> {
        match self.fresh.get(cid) {
            Some(n) => Ok(n.clone()),
            None => self.loader.load(cid).await,
        }
    }

    /// Stores a new node; returns its entry in the level above (first key, branch value).
    fn store(&mut self, node: Node) -> Result<(Vec<u8>, Raw)> {
        let block = node.encode()?;
        let cid = block.cid;
        let first = node.first_key().to_vec();
        let value = match self.max_seq(&node)? {
            Some(seq) => link_seq(&cid, seq),
            None => link(&cid),
        };
        let rc = Rc::new(node);
        self.fresh.insert(cid, rc.clone());
        self.blocks.push((block, rc));
        Ok((first, value))
    }

    /// The highest leaf seq under `node`, for a tree that records it (`None` otherwise, or when
    /// a child's branch value lacks it: a tree written before seqs were recorded).
    fn max_seq(&self, node: &Node) -> Result<Option<u64>> {
        let Some(seq_of) = self.leaf_seq else {
            return Ok(None);
        };
        let mut max = 0;
        for (_, v) in &node.entries {
            let s = if node.level == 0 {
                seq_of(v).map_err(|e| crate::error::Error::corrupt("tree leaf", e))?
            } else {
                match link_max(v) {
                    Some(s) => s,
                    None => return Ok(None),
                }
            };
            max = max.max(s);
        }
        Ok(Some(max))
    }
}

/// Bytewise order of two keys, compared 8 bytes at a time (wasm's `memcmp` goes byte by byte).
pub fn cmp_keys(a: &[u8], b: &[u8]) -> Ordering {
    let word = |s: &[u8], i: usize| {
        s.get(i..i + 8)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u64::from_be_bytes)
    };
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        match word(a, i).cmp(&word(b, i)) {
            Ordering::Equal => i += 8,
            o => return o,
        }
    }
    a[i..].cmp(&b[i..])
}

/// Sorts edits by key, stably (the one sort of keyed edits: one copy of the sort code).
pub fn sort_edits(edits: &mut [Edit]) {
    edits.sort_by(|a, b| cmp_keys(&a.0, &b.0));
}

/// Sorts edits by key; for repeated keys the last edit wins.
fn normalize(mut edits: Vec<Edit>) -> Vec<Edit> {
    if edits.windows(2).all(|w| w[0].0 < w[1].0) {
        return edits; // already sorted without repeats (e.g. one edit per id, in id order)
    }
    edits.reverse();
    sort_edits(&mut edits); // stable: the last original edit of a key comes first
    edits.dedup_by(|later, earlier| later.0 == earlier.0);
    edits
}

/// The puts of `edits` as sorted entries, the last edit of a key winning (deletes dropped).
pub fn sorted_entries(edits: Vec<Edit>) -> Vec<Entry> {
    normalize(edits)
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
}

/// Applies `edits` to the tree at `root`, returning the new root and the new blocks. With
/// `leaf_seq`, every new branch value records the highest leaf seq below it.
pub async fn apply<L: Loader>(
    loader: &L,
    root: Option<Cid>,
    edits: Vec<Edit>,
    leaf_seq: LeafSeq,
) -> Result<Applied> {
    let edits = normalize(edits);
    let mut cx = Ctx {
        loader,
        leaf_seq,
        fresh: HashMap::default(),
        blocks: Vec::new(),
        replaced: Vec::new(),
    };
    let Some(root_cid) = root else {
        let mut chunker = Chunker::new(0);
        for (k, v) in edits {
            if let Some(v) = v {
                chunker.push((k, v));
            }
        }
        let root = build_up(&mut cx, chunker.finish()).await?;
        return Ok(Applied {
            root,
            blocks: cx.blocks,
            replaced: Vec::new(),
        });
    };
    if edits.is_empty() {
        return Ok(Applied {
            root,
            blocks: Vec::new(),
            replaced: Vec::new(),
        });
    }
    let old_root = loader.load(&root_cid).await?;
    let mut level_edits = edits;
    for level in 0..old_root.level {
        let (nodes_up, _) = rechunk_level(&mut cx, &old_root, level, &level_edits).await?;
        if nodes_up.is_empty() {
            return Err(crate::error::Error::Internal(
                "edit produced no parent edits".into(),
            ));
        }
        level_edits = nodes_up;
    }
    let (_, top_nodes) = rechunk_level(&mut cx, &old_root, old_root.level, &level_edits).await?;
    let root = build_up(&mut cx, top_nodes).await?;
    Ok(Applied {
        root,
        blocks: cx.blocks,
        replaced: cx.replaced,
    })
}

/// Turns the complete node list of one level into a root: collapses single-entry branches and
/// builds levels above until one node remains.
async fn build_up<L: Loader>(cx: &mut Ctx<'_, L>, mut nodes: Vec<Node>) -> Result<Option<Cid>> {
    loop {
        match nodes.len() {
            0 => return Ok(None),
            1 => {
                let node = nodes.pop().expect("one node");
                if node.level == 0 || node.entries.len() > 1 {
                    let block = node.encode()?;
                    let cid = block.cid;
                    cx.blocks.push((block, Rc::new(node)));
                    return Ok(Some(cid));
                }
                let mut cid = node.child(0)?;
                loop {
                    let n = cx.load(&cid).await?;
                    if n.level == 0 || n.entries.len() > 1 {
                        return Ok(Some(cid));
                    }
                    cid = n.child(0)?;
                }
            }
            _ => {
                let level = nodes[0].level + 1;
                let mut chunker = Chunker::new(level);
                for n in nodes {
                    chunker.push(cx.store(n)?);
                }
                nodes = chunker.finish();
            }
        }
    }
}

/// A path from the root to one node at `level`.
struct Cursor {
    level: u8,
    /// (node, index of the child taken) for every ancestor, root first.
    ancestors: Vec<(Rc<Node>, usize)>,
    target: Rc<Node>,
}

fn child_index(node: &Node, key: &[u8]) -> usize {
    node.entries
        .partition_point(|e| e.0.as_slice() <= key)
        .saturating_sub(1)
}

impl Cursor {
    async fn seek<L: Loader>(
        cx: &Ctx<'_, L>,
        root: &Rc<Node>,
        level: u8,
        key: &[u8],
    ) -> Result<Cursor> {
        let mut cur = Cursor {
            level,
            ancestors: Vec::new(),
            target: root.clone(),
        };
        cur.descend(cx, root.clone(), Some(key)).await?;
        Ok(cur)
    }

    /// Goes down from `node` to the cursor's level, to the child holding `key` at each step (the
    /// first child without a key), and makes the node reached the target.
    async fn descend<L: Loader>(
        &mut self,
        cx: &Ctx<'_, L>,
        mut node: Rc<Node>,
        key: Option<&[u8]>,
    ) -> Result<()> {
        while node.level > self.level {
            let i = key.map_or(0, |k| child_index(&node, k));
            let child = cx.load(&node.child(i)?).await?;
            self.ancestors.push((node, i));
            node = child;
        }
        self.target = node;
        Ok(())
    }

    /// First key of the node after the target at the same level.
    fn upper(&self) -> Option<&[u8]> {
        self.ancestors
            .iter()
            .rev()
            .find(|(n, i)| i + 1 < n.entries.len())
            .map(|(n, i)| n.entries[i + 1].0.as_slice())
    }

    /// Moves to the next node at the same level; false at the end of the level.
    async fn advance<L: Loader>(&mut self, cx: &Ctx<'_, L>) -> Result<bool> {
        while let Some((n, i)) = self.ancestors.pop() {
            if i + 1 < n.entries.len() {
                let node = cx.load(&n.child(i + 1)?).await?;
                self.ancestors.push((n, i + 1));
                self.descend(cx, node, None).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Merges sorted node entries with sorted edits into the chunker; the old values of the entries
/// the edits replace or delete go to `replaced` (leaves only: `None` above them).
fn merge_into(
    entries: &[Entry],
    edits: &[Edit],
    chunker: &mut Chunker,
    mut replaced: Option<&mut Vec<(Vec<u8>, Raw)>>,
) {
    let (mut i, mut j) = (0, 0);
    while i < entries.len() || j < edits.len() {
        let take_edit = match (entries.get(i), edits.get(j)) {
            (Some(e), Some(d)) => d.0 <= e.0,
            (None, Some(_)) => true,
            _ => false,
        };
        if take_edit {
            let (k, v) = &edits[j];
            if let Some(old) = entries.get(i).filter(|e| &e.0 == k) {
                if let Some(r) = replaced.as_deref_mut() {
                    r.push((k.clone(), old.1.clone()));
                }
                i += 1; // replaced or deleted
            }
            if let Some(v) = v {
                chunker.push((k.clone(), v.clone()));
            }
            j += 1;
        } else {
            chunker.push(entries[i].clone());
            i += 1;
        }
    }
}

/// Rechunks the regions of `level` touched by `edits`. Returns the edits for the level above and
/// the new nodes (all of them when `level` is the root's level).
async fn rechunk_level<L: Loader>(
    cx: &mut Ctx<'_, L>,
    root: &Rc<Node>,
    level: u8,
    edits: &[Edit],
) -> Result<(Vec<Edit>, Vec<Node>)> {
    let mut up: Vec<Edit> = Vec::new();
    let mut new_nodes: Vec<Node> = Vec::new();
    let mut i = 0;
    while i < edits.len() {
        let mut cur = Cursor::seek(cx, root, level, &edits[i].0).await?;
        let mut chunker = Chunker::new(level);
        let mut removed: Vec<Vec<u8>> = Vec::new();
        loop {
            let node = cur.target.clone();
            removed.push(node.first_key().to_vec());
            let j = match cur.upper() {
                Some(u) => i + edits[i..].partition_point(|e| e.0.as_slice() < u),
                None => edits.len(),
            };
            let replaced = (level == 0).then_some(&mut cx.replaced);
            merge_into(&node.entries, &edits[i..j], &mut chunker, replaced);
            i = j;
            if chunker.aligned() || !cur.advance(cx).await? {
                break;
            }
        }
        let region = chunker.finish();
        if level == root.level {
            new_nodes.extend(region);
            continue;
        }
        // The region's old nodes leave the level above; its new nodes enter it (a new node with
        // an old node's first key replaces it: the later edit of a key wins).
        let mut region_up: Vec<Edit> = removed.into_iter().map(|k| (k, None)).collect();
        for n in region {
            let (first, value) = cx.store(n)?;
            region_up.push((first, Some(value)));
        }
        up.extend(normalize(region_up));
    }
    Ok((up, new_nodes))
}
