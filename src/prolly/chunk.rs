//! Content-defined chunking: where one node ends and the next begins.
//!
//! Invariant: whether an entry closes a node depends only on the node's level, the entry's key and
//! the entries since the previous boundary (their number and byte size) — never on history.
//!
//! Node sizes are content-defined and spread evenly over [`MIN_BYTES`, `MAX_BYTES`] of keys and
//! values for leaves ([`BRANCH_MIN_BYTES`, `BRANCH_MAX_BYTES`] for branches), whatever the size of
//! the entries: a small node keeps a single write small (a put
//! rewrites one path), a bounded one keeps a read from decoding far more than it needs.

use super::node::{Entry, Node};

/// A leaf closes only once its keys and values reach this many bytes …
pub const MIN_BYTES: u64 = 512;
/// … and always once they reach this many (or [`MAX_ENTRIES`] entries).
pub const MAX_BYTES: u64 = 1536;
/// The same two bounds for branch nodes: half as large, because every write rewrites a whole
/// branch path and a branch's children are found by binary search, not by decoding documents.
pub const BRANCH_MIN_BYTES: u64 = 256;
pub const BRANCH_MAX_BYTES: u64 = 768;

/// `(MIN, MAX)` node bytes at `level`.
pub fn bounds(level: u8) -> (u64, u64) {
    if level == 0 {
        (MIN_BYTES, MAX_BYTES)
    } else {
        (BRANCH_MIN_BYTES, BRANCH_MAX_BYTES)
    }
}
/// A node never holds more entries than this.
pub const MAX_ENTRIES: usize = 256;

/// Boundary hash of a key at a level: 64-bit FNV-1a over `level || key`, mixed by the splitmix64
/// finalizer, high 32 bits. (Not cryptographic: node sizes are capped by [`MAX_ENTRIES`] anyway,
/// and this runs once per entry written, so it must be cheap.)
pub fn boundary_hash(level: u8, key: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in std::iter::once(level).chain(key.iter().copied()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 32) as u32
}

/// Bytes an entry adds to its node: its key and its encoded value.
pub fn entry_bytes(e: &Entry) -> u64 {
    (e.0.len() + e.1.len()) as u64
}

/// True if an entry with `key`, being the `run`-th entry of its node, closes the node, where the
/// node held `before` bytes without it and holds `after` with it. Between the two bounds the
/// chance is the share of the remaining size range this entry covers,
/// `(after − max(before, MIN)) / (MAX − max(before, MIN))`, so node sizes are uniform over
/// [MIN, MAX] however large the entries are.
///
/// A branch (level > 0) never closes at its first entry: each level above the leaves then has at
/// most half as many nodes as the one below, so building up ends whatever the entries' sizes
/// (entries of a branch's size alone, such as ids or index keys of ~700 bytes and more, made one
/// single-entry node per entry at every level, and the levels never ended).
pub fn is_boundary(level: u8, key: &[u8], run: usize, before: u64, after: u64) -> bool {
    let (min, max) = bounds(level);
    if level > 0 && run < 2 {
        return false;
    }
    if run >= MAX_ENTRIES || after >= max {
        return true;
    }
    if after <= min {
        return false;
    }
    let from = before.max(min);
    let threshold = ((after - from) << 32) / (max - from);
    u64::from(boundary_hash(level, key)) < threshold
}

/// Streams sorted entries into nodes of one level.
pub struct Chunker {
    level: u8,
    buf: Vec<Entry>,
    /// Bytes of the entries in `buf`.
    bytes: u64,
    out: Vec<Node>,
}

impl Chunker {
    pub fn new(level: u8) -> Self {
        Chunker {
            level,
            buf: Vec::new(),
            bytes: 0,
            out: Vec::new(),
        }
    }

    pub fn push(&mut self, e: Entry) {
        let before = self.bytes;
        self.bytes += entry_bytes(&e);
        let close = is_boundary(self.level, &e.0, self.buf.len() + 1, before, self.bytes);
        self.buf.push(e);
        if close {
            self.bytes = 0;
            let entries = std::mem::take(&mut self.buf);
            self.out.push(Node {
                level: self.level,
                entries,
            });
        }
    }

    /// True when the last pushed entry closed a node (or nothing was pushed).
    pub fn aligned(&self) -> bool {
        self.buf.is_empty()
    }

    /// Closes the trailing partial node (only the last node of a level may end without a boundary).
    pub fn finish(mut self) -> Vec<Node> {
        if !self.buf.is_empty() {
            let entries = std::mem::take(&mut self.buf);
            self.out.push(Node {
                level: self.level,
                entries,
            });
        }
        self.out
    }
}
