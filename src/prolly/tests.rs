//! Property tests of the prolly tree against a `BTreeMap` model.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use cid::Cid;
use futures::executor::block_on;
use ipld_core::ipld::Ipld;
use proptest::prelude::*;

use super::*;
use crate::error::Error;

#[derive(Default)]
struct MapLoader(RefCell<HashMap<Cid, Rc<Node>>>);

impl NodesNow for MapLoader {
    fn node_now(&self, cid: &Cid) -> crate::error::Result<Rc<Node>> {
        block_on(self.load(cid))
    }
}

impl Loader for MapLoader {
    async fn load(&self, cid: &Cid) -> crate::error::Result<Rc<Node>> {
        self.0
            .borrow()
            .get(cid)
            .cloned()
            .ok_or_else(|| Error::MissingBlock(cid.to_string()))
    }
}

/// Edits in terms of IPLD values (the tree stores their dag-cbor encodings).
type IpldEdit = (Vec<u8>, Option<Ipld>);

fn enc(v: &Ipld) -> Vec<u8> {
    raw(v).unwrap()
}

fn dec(v: &[u8]) -> Ipld {
    crate::codec::decode(v).unwrap()
}

impl MapLoader {
    fn apply(&self, root: Option<Cid>, edits: Vec<IpldEdit>) -> Option<Cid> {
        self.apply_seq(root, edits, None)
    }

    /// [`MapLoader::apply`] for a tree whose branches record leaf seqs (`seqs`), or not (`None`).
    fn apply_seq(&self, root: Option<Cid>, edits: Vec<IpldEdit>, seqs: LeafSeq) -> Option<Cid> {
        let edits: Vec<Edit> = edits
            .into_iter()
            .map(|(k, v)| (k, v.as_ref().map(enc)))
            .collect();
        let applied = block_on(apply(self, root, edits, seqs)).unwrap();
        let mut m = self.0.borrow_mut();
        for (b, n) in applied.blocks {
            m.insert(b.cid, n);
        }
        applied.root
    }

    fn entries(&self, root: Option<Cid>, range: &Range, reverse: bool) -> Vec<(Vec<u8>, Ipld)> {
        let mut out = Vec::new();
        block_on(scan(self, root, range, reverse, |k, v| {
            out.push((k.to_vec(), dec(v)));
            true
        }))
        .unwrap();
        out
    }

    /// Checks the structural invariants of every node reachable from `root`.
    fn check_shape(&self, root: Option<Cid>) {
        let Some(root) = root else { return };
        let node = block_on(self.load(&root)).unwrap();
        assert!(
            node.level == 0 || node.entries.len() > 1,
            "root branch with one child"
        );
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            assert!(n.entries.len() <= chunk::MAX_ENTRIES);
            let before_last: u64 = n.entries[..n.entries.len() - 1]
                .iter()
                .map(chunk::entry_bytes)
                .sum();
            assert!(
                before_last < chunk::bounds(n.level).1 || (n.level > 0 && n.entries.len() == 2),
                "node kept growing past its level's MAX"
            );
            if n.level > 0 {
                for i in 0..n.entries.len() {
                    let c = block_on(self.load(&n.child(i).unwrap())).unwrap();
                    assert_eq!(c.level + 1, n.level);
                    assert_eq!(c.first_key(), n.entries[i].0.as_slice());
                    stack.push(c);
                }
            }
        }
    }
}

/// A value whose encoded size varies with `n` (0–299 bytes): nodes hold a few to ~150 entries,
/// trees of a few hundred entries span several levels, and updates change node sizes (so edits
/// exercise the byte-based boundaries' realignment).
fn val(n: i64) -> Ipld {
    Ipld::Bytes(vec![n.rem_euclid(251) as u8; n.rem_euclid(300) as usize])
}

fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

fn build_once(entries: &BTreeMap<Vec<u8>, Ipld>) -> Option<Cid> {
    let l = MapLoader::default();
    l.apply(
        None,
        entries
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The word-at-a-time key comparison is plain bytewise order.
    #[test]
    fn key_comparison_is_bytewise(
        common in prop::collection::vec(any::<u8>(), 0..20),
        a in prop::collection::vec(0u8..4, 0..20),
        b in prop::collection::vec(0u8..4, 0..20),
    ) {
        let (x, y) = ([&common[..], &a].concat(), [&common[..], &b].concat());
        prop_assert_eq!(edit::cmp_keys(&x, &y), x.cmp(&y));
        prop_assert_eq!(edit::cmp_keys(&x, &x), std::cmp::Ordering::Equal);
    }


    /// The same entries, inserted in any order and batching (with deletes of extra keys on the
    /// way), give the same root CID as a single bulk build.
    #[test]
    fn root_is_history_independent(
        keys in prop::collection::btree_set(0u32..5000, 0..400),
        extra in prop::collection::vec(5000u32..6000, 0..40),
        order_seed in any::<u64>(),
        batch_sizes in prop::collection::vec(1usize..80, 1..20),
    ) {
        let model: BTreeMap<Vec<u8>, Ipld> = keys.iter().map(|k| (key(*k), val(i64::from(*k)))).collect();
        let expected = build_once(&model);
        let mut ops: Vec<IpldEdit> = model.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        for e in &extra {
            ops.push((key(*e), Some(Ipld::Bool(true))));
        }
        // deterministic shuffle
        let mut s = order_seed | 1;
        for i in (1..ops.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            ops.swap(i, (s % (i as u64 + 1)) as usize);
        }
        for e in &extra {
            ops.push((key(*e), None));
        }
        let l = MapLoader::default();
        let mut root = None;
        let mut rest = ops.as_slice();
        let mut bi = 0;
        while !rest.is_empty() {
            let n = batch_sizes[bi % batch_sizes.len()].min(rest.len());
            root = l.apply(root, rest[..n].to_vec());
            rest = &rest[n..];
            bi += 1;
        }
        l.check_shape(root);
        prop_assert_eq!(root, expected);
    }

    /// Keys of any size up to 1,500 bytes (ids and index keys may be larger than a branch's
    /// MAX): the tree builds, is history independent and reads back every entry.
    #[test]
    fn large_keys_build_history_independent_trees(
        sizes in prop::collection::vec((0u32..5000, 1usize..1500), 1..120),
        batch in 1usize..40,
    ) {
        let model: BTreeMap<Vec<u8>, Ipld> = sizes.iter().map(|(k, n)| {
            let mut key = key(*k);
            key.resize(*n.max(&7), b'x');
            (key, val(i64::from(*k)))
        }).collect();
        let expected = build_once(&model);
        let l = MapLoader::default();
        let ops: Vec<IpldEdit> = model.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        let mut root = None;
        for part in ops.chunks(batch) {
            root = l.apply(root, part.to_vec());
        }
        l.check_shape(root);
        prop_assert_eq!(root, expected);
        let got = l.entries(root, &Range::all(), false);
        prop_assert_eq!(got, model.into_iter().collect::<Vec<_>>());
    }

    /// Random puts and deletes agree with a BTreeMap for get, forward and reverse range scans.
    #[test]
    fn matches_btreemap_model(
        batches in prop::collection::vec(
            prop::collection::vec((0u32..800, prop::option::of(0i64..1000)), 1..120), 1..8),
        lo in 0u32..800, span in 0u32..400, reverse in any::<bool>(),
    ) {
        let l = MapLoader::default();
        let mut model = BTreeMap::new();
        let mut root = None;
        for batch in batches {
            let edits: Vec<IpldEdit> = batch.iter().map(|(k, v)| (key(*k), v.map(val))).collect();
            for (k, v) in &edits {
                match v { Some(v) => { model.insert(k.clone(), v.clone()); } None => { model.remove(k); } }
            }
            root = l.apply(root, edits);
        }
        l.check_shape(root);
        prop_assert_eq!(root, build_once(&model));
        for probe in [0u32, 1, 7, 99, 400, 799] {
            prop_assert_eq!(block_on(get(&l, root, &key(probe))).unwrap().map(|v| dec(&v)), model.get(&key(probe)).cloned());
        }
        let range = Range { lo: Bound::Included(key(lo)), hi: Bound::Excluded(key(lo + span)) };
        let mut want: Vec<_> = model.range(key(lo)..key(lo + span)).map(|(k, v)| (k.clone(), v.clone())).collect();
        if reverse { want.reverse(); }
        prop_assert_eq!(l.entries(root, &range, reverse), want);
    }
}

#[test]
fn large_tree_multi_level_and_delete_all() {
    let l = MapLoader::default();
    let n = 20_000u32;
    let mut root = None;
    // insert in reverse, in uneven batches
    let mut ks: Vec<u32> = (0..n).rev().collect();
    while !ks.is_empty() {
        let take = ks.len().min(1777);
        let batch: Vec<IpldEdit> = ks
            .drain(..take)
            .map(|k| (key(k), Some(Ipld::Integer(k.into()))))
            .collect();
        root = l.apply(root, batch);
    }
    let model: BTreeMap<_, _> = (0..n).map(|k| (key(k), Ipld::Integer(k.into()))).collect();
    assert_eq!(root, build_once(&model));
    let top = block_on(l.load(&root.unwrap())).unwrap();
    assert!(
        top.level >= 2,
        "20k entries span at least 3 levels, got root level {}",
        top.level
    );
    l.check_shape(root);
    assert_eq!(l.entries(root, &Range::all(), false).len(), n as usize);
    // delete everything except one key, in two batches
    let dels: Vec<IpldEdit> = (0..n)
        .filter(|k| *k != 12_345)
        .map(|k| (key(k), None))
        .collect();
    let (a, b) = dels.split_at(9000);
    root = l.apply(root, a.to_vec());
    root = l.apply(root, b.to_vec());
    let single: BTreeMap<_, _> = [(key(12_345), Ipld::Integer(12_345))].into_iter().collect();
    assert_eq!(root, build_once(&single));
    root = l.apply(root, vec![(key(12_345), None)]);
    assert_eq!(root, None);
}

#[test]
fn prefix_range_and_diff() {
    let l = MapLoader::default();
    let edits: Vec<IpldEdit> = ["a", "ab", "abc", "abd", "b", "b\u{ff}"]
        .iter()
        .map(|k| (k.as_bytes().to_vec(), Some(Ipld::Null)))
        .collect();
    let r1 = l.apply(None, edits);
    let got: Vec<_> = l
        .entries(r1, &Range::prefix(b"ab"), false)
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(got, vec![b"ab".to_vec(), b"abc".to_vec(), b"abd".to_vec()]);
    let r2 = l.apply(
        r1,
        vec![
            (b"abc".to_vec(), None),
            (b"zz".to_vec(), Some(Ipld::Bool(true))),
        ],
    );
    let d: Vec<(Vec<u8>, Option<Ipld>, Option<Ipld>)> = diff(&l, r1, r2)
        .unwrap()
        .into_iter()
        .map(|(k, a, b)| (k, a.map(|v| dec(&v)), b.map(|v| dec(&v))))
        .collect();
    assert_eq!(
        d,
        vec![
            (b"abc".to_vec(), Some(Ipld::Null), None),
            (b"zz".to_vec(), None, Some(Ipld::Bool(true)))
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The pruned diff equals the diff of the two trees' full entry lists, and `walk_new` visits
    /// exactly the nodes of the new tree that the old tree lacks.
    #[test]
    fn pruned_diff_matches_full_scans(
        base in proptest::collection::btree_map(0u16..600, 0i64..4, 0..400),
        edits in proptest::collection::vec((0u16..600, proptest::option::of(0i64..4)), 0..60),
    ) {
        let l = MapLoader::default();
        let key = |k: u16| format!("k{k:04}").into_bytes();
        let r1 = l.apply(None, base.iter().map(|(k, v)| (key(*k), Some(Ipld::Integer(*v as i128)))).collect());
        let r2 = l.apply(r1, edits.iter().map(|(k, v)| (key(*k), v.map(|v| Ipld::Integer(v as i128)))).collect());
        let a: BTreeMap<Vec<u8>, Ipld> = l.entries(r1, &Range::all(), false).into_iter().collect();
        let b: BTreeMap<Vec<u8>, Ipld> = l.entries(r2, &Range::all(), false).into_iter().collect();
        let mut want = Vec::new();
        for k in a.keys().chain(b.keys()).collect::<std::collections::BTreeSet<_>>() {
            if a.get(k) != b.get(k) {
                want.push((k.clone(), a.get(k).cloned(), b.get(k).cloned()));
            }
        }
        let got: Vec<_> = diff(&l, r1, r2).unwrap().into_iter()
            .map(|(k, x, y)| (k, x.map(|v| dec(&v)), y.map(|v| dec(&v)))).collect();
        prop_assert_eq!(got, want);
        // walk_new: nodes of r2 not reachable from r1
        fn all_nodes(l: &MapLoader, root: Option<Cid>) -> crate::HashSet<Cid> {
            let mut out = crate::HashSet::default();
            let mut stack: Vec<Cid> = root.into_iter().collect();
            while let Some(c) = stack.pop() {
                if out.insert(c) {
                    let n = block_on(l.load(&c)).unwrap();
                    if n.level > 0 {
                        for i in 0..n.entries.len() { stack.push(n.child(i).unwrap()); }
                    }
                }
            }
            out
        }
        let (n1, n2) = (all_nodes(&l, r1), all_nodes(&l, r2));
        let want_new: crate::HashSet<Cid> = n2.difference(&n1).copied().collect();
        let mut got_new = crate::HashSet::default();
        walk_new(&l, r1, r2, &mut |n| { got_new.insert(n.encode().unwrap().cid); Ok(()) }).unwrap();
        prop_assert!(want_new.is_subset(&got_new), "walk_new missed nodes");
        prop_assert!(got_new.is_subset(&n2), "walk_new visited nodes outside the new tree");
        prop_assert_eq!(got_new, want_new, "walk_new visited nodes the old tree has");
    }
}

/// Node sizes follow the byte rule whatever the entry sizes: every node but the last of its level
/// closes inside [MIN_BYTES, MAX_BYTES + its last entry], and leaves average near the middle.
#[test]
fn node_sizes_are_bounded_and_centred() {
    for value_len in [8usize, 60, 230, 700] {
        let entries: BTreeMap<Vec<u8>, Ipld> = (0..4000u32)
            .map(|i| (key(i), Ipld::Bytes(vec![(i % 251) as u8; value_len])))
            .collect();
        let l = MapLoader::default();
        let root = l.apply(
            None,
            entries.into_iter().map(|(k, v)| (k, Some(v))).collect(),
        );
        let mut level = vec![block_on(l.load(&root.unwrap())).unwrap()];
        while level[0].level > 0 {
            let mut next = Vec::new();
            for n in &level {
                for i in 0..n.entries.len() {
                    next.push(block_on(l.load(&n.child(i).unwrap())).unwrap());
                }
            }
            level = next;
        }
        let sizes: Vec<u64> = level
            .iter()
            .map(|n| n.entries.iter().map(chunk::entry_bytes).sum())
            .collect();
        for (n, size) in level.iter().zip(&sizes).take(sizes.len() - 1) {
            assert!(*size > chunk::MIN_BYTES, "leaf of {size} B closed early");
            let last = chunk::entry_bytes(n.entries.last().unwrap());
            assert!(*size < chunk::MAX_BYTES + last, "leaf of {size} B");
        }
        let mean = sizes.iter().sum::<u64>() as f64 / sizes.len() as f64;
        assert!(
            (800.0..1400.0).contains(&mean),
            "values of {value_len} B: mean leaf {mean:.0} B"
        );
    }
}

/// The worked example of docs/format.md §3.1: five entries of 304 bytes (one-letter keys, values
/// of 300 zero bytes) make leaves [a, b] and [c, d, e] under one branch.
#[test]
fn format_md_worked_example() {
    let l = MapLoader::default();
    let edits = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|k| (k.as_bytes().to_vec(), Some(Ipld::Bytes(vec![0; 300]))))
        .collect();
    let root = l.apply(None, edits).unwrap();
    let node = block_on(l.load(&root)).unwrap();
    let firsts: Vec<&[u8]> = node.entries.iter().map(|e| e.0.as_slice()).collect();
    assert_eq!((node.level, firsts), (1, vec![&b"a"[..], &b"c"[..]]));
    let leaves: Vec<String> = (0..2).map(|i| node.child(i).unwrap().to_string()).collect();
    assert_eq!(
        (
            leaves[0].as_str(),
            leaves[1].as_str(),
            root.to_string().as_str()
        ),
        (
            "bafyreihnjorn4sob6he36ukuureqkohbfer7rmxvds7sjcflugqqcszbcm",
            "bafyreidk54t5ni7jlil3kjhj6eqcoysr6reonb6iawqvrxrpcmymhpna5q",
            "bafyreicxfq5chqnxfhj5ov2pdnsr7f55aineyfxfsxk3k7gn53i5jqrhhi"
        )
    );
}

/// Leaf values of the seq-recording tests: `[seq, padding]`.
fn seq_val(seq: u64, pad: usize) -> Ipld {
    Ipld::List(vec![Ipld::Integer(seq.into()), Ipld::Bytes(vec![7; pad])])
}

fn seq_of(v: &[u8]) -> std::result::Result<u64, String> {
    match crate::codec::decode(v)? {
        Ipld::List(l) => match l.first() {
            Some(Ipld::Integer(i)) => u64::try_from(*i).map_err(|_| "negative seq".into()),
            _ => Err("no seq".into()),
        },
        _ => Err("not a list".into()),
    }
}

impl MapLoader {
    /// The highest leaf seq under `cid`, checking on the way that every recorded seq is exact;
    /// the number of bare links met is added to `bare`.
    fn check_seqs(&self, cid: &Cid, bare: &mut usize) -> u64 {
        let n = block_on(self.load(cid)).unwrap();
        let mut max = 0;
        for (i, (_, v)) in n.entries.iter().enumerate() {
            let s = if n.level == 0 {
                seq_of(v).unwrap()
            } else {
                let below = self.check_seqs(&n.child(i).unwrap(), bare);
                match link_max(v) {
                    Some(m) => assert_eq!(m, below, "recorded seq of a branch entry"),
                    None => *bare += 1,
                }
                below
            };
            max = max.max(s);
        }
        max
    }

    fn after(&self, root: Option<Cid>, after: u64) -> (Vec<(Vec<u8>, u64)>, usize) {
        let (mut out, mut seen) = (Vec::new(), 0);
        block_on(scan_after(self, root, after, |k, v| {
            seen += 1;
            let s = seq_of(v).unwrap();
            if s > after {
                out.push((k.to_vec(), s));
            }
            true
        }))
        .unwrap();
        (out, seen)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// With a leaf-seq function, every branch value records the exact highest seq below it, the
    /// tree is the from-scratch build of its entries, and `scan_after` finds exactly the entries
    /// written after any seq. A tree first built with bare links (a ledger written before seqs
    /// were recorded) and then edited still answers exactly (its bare links are descended).
    #[test]
    fn recorded_seqs_are_exact_and_prune_scans(
        batches in prop::collection::vec(
            prop::collection::vec((0u16..500, any::<bool>(), 0usize..200), 1..120), 1..8),
        legacy in any::<bool>(),
    ) {
        let l = MapLoader::default();
        let mut model: BTreeMap<Vec<u8>, (u64, usize)> = BTreeMap::new();
        let mut root = None;
        for (b, batch) in batches.iter().enumerate() {
            let seq = b as u64 + 1;
            let mut edits = Vec::new();
            for &(k, del, pad) in batch {
                let k = key(u32::from(k));
                if del {
                    model.remove(&k);
                    edits.push((k, None));
                } else {
                    model.insert(k.clone(), (seq, pad));
                    edits.push((k, Some(seq_val(seq, pad))));
                }
            }
            let seqs: LeafSeq = if legacy && b == 0 { None } else { Some(seq_of) };
            root = l.apply_seq(root, edits, seqs);
        }
        let mut bare = 0;
        if let Some(r) = root {
            l.check_seqs(&r, &mut bare);
        }
        if !legacy {
            prop_assert_eq!(bare, 0);
            let fresh = MapLoader::default();
            let all = model.iter().map(|(k, &(s, p))| (k.clone(), Some(seq_val(s, p)))).collect();
            prop_assert_eq!(fresh.apply_seq(None, all, Some(seq_of)), root);
        }
        for after in 0..=batches.len() as u64 {
            let want: Vec<(Vec<u8>, u64)> = model
                .iter()
                .filter(|(_, (s, _))| *s > after)
                .map(|(k, (s, _))| (k.clone(), *s))
                .collect();
            prop_assert_eq!(l.after(root, after).0, want);
        }
    }
}

/// One entry rewritten in a tree of 3,000: a scan after the older seq reads one leaf.
#[test]
fn scan_after_reads_only_the_paths_to_newer_entries() {
    let l = MapLoader::default();
    let all = (0..3000).map(|i| (key(i), Some(seq_val(1, 40)))).collect();
    let root = l.apply_seq(None, all, Some(seq_of));
    let root = l.apply_seq(root, vec![(key(1234), Some(seq_val(2, 40)))], Some(seq_of));
    let (hits, seen) = l.after(root, 1);
    assert_eq!(hits, vec![(key(1234), 2)]);
    assert!(seen < 40, "visited {seen} entries to find one");
    assert_eq!(l.after(root, 0).1, 3000);
    assert_eq!(l.after(root, 2).1, 0);
}

#[test]
fn branch_values_with_seqs_round_trip_and_reject_junk() {
    let child = crate::codec::encode(&Ipld::Null).unwrap().cid;
    for seq in [0, 1, 23, 24, 255, 65_536, u64::MAX] {
        let v = link_seq(&child, seq);
        assert_eq!(split_link(&v), Some((child, Some(seq))));
        assert_eq!(as_link(&v), Some(child));
        assert_eq!(link_max(&v), Some(seq));
        let generic = Ipld::List(vec![Ipld::Link(child), Ipld::Integer(seq.into())]);
        assert_eq!(v, serde_ipld_dagcbor::to_vec(&generic).unwrap());
    }
    assert_eq!(split_link(&link(&child)), Some((child, None)));
    let mut trailing = link_seq(&child, 5);
    trailing.push(0);
    let mut bad = vec![
        trailing,
        enc(&Ipld::List(vec![Ipld::Link(child), Ipld::Integer(-1)])),
        enc(&Ipld::List(vec![
            Ipld::Link(child),
            Ipld::String("x".into()),
        ])),
        enc(&Ipld::List(vec![Ipld::Integer(1), Ipld::Link(child)])),
        enc(&Ipld::List(vec![Ipld::Link(child)])),
    ];
    let mut short = link_seq(&child, 300);
    short.pop();
    bad.push(short);
    for b in bad {
        assert_eq!(split_link(&b), None, "{b:?}");
        let n = Node {
            level: 1,
            entries: vec![(b"a".to_vec(), b)],
        };
        assert!(Node::decode(&n.encode().unwrap().bytes).is_err());
    }
}

#[test]
fn a_branch_whose_entries_share_a_child_is_corrupt_not_a_blow_up() {
    use super::node::link;
    let l = MapLoader::default();
    // one leaf, and a branch whose 200 entries (each its own key) all point at it
    let leaf = Node {
        level: 0,
        entries: vec![(key(0), enc(&val(0)))],
    };
    let leaf_cid = leaf.encode().unwrap().cid;
    let branch = Node {
        level: 1,
        entries: (0..200).map(|i| (key(i), link(&leaf_cid))).collect(),
    };
    let root = branch.encode().unwrap().cid;
    l.0.borrow_mut().insert(leaf_cid, Rc::new(leaf));
    l.0.borrow_mut().insert(root, Rc::new(branch));
    let mut seen = 0;
    let r = block_on(scan(&l, Some(root), &Range::all(), false, |_, _| {
        seen += 1;
        true
    }));
    assert_eq!(r.unwrap_err().code(), "CORRUPT");
    assert!(seen <= 1, "{seen} rows");
    // a diff against an empty tree visits the shared leaf once
    let mut nodes = 0;
    walk_new(&l, None, Some(root), &mut |_| {
        nodes += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(nodes, 2);
}
