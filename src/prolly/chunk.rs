//! Content-defined chunking: where one node ends and the next begins.
//!
//! Invariant: whether an entry closes a node depends only on the node's level, the entry's key and
//! the number of entries since the previous boundary — never on history.

use super::node::{Entry, Node};

/// Target average number of entries per node.
pub const FANOUT: u64 = 16;
/// A node never holds more entries than this.
pub const MAX_ENTRIES: usize = 256;
const THRESHOLD: u64 = (1u64 << 32) / FANOUT;

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

/// True if an entry with `key`, being the `run`-th entry of its node, closes the node.
pub fn is_boundary(level: u8, key: &[u8], run: usize) -> bool {
    run >= MAX_ENTRIES || u64::from(boundary_hash(level, key)) < THRESHOLD
}

/// Streams sorted entries into nodes of one level.
pub struct Chunker {
    level: u8,
    buf: Vec<Entry>,
    out: Vec<Node>,
}

impl Chunker {
    pub fn new(level: u8) -> Self {
        Chunker {
            level,
            buf: Vec::new(),
            out: Vec::new(),
        }
    }

    pub fn push(&mut self, e: Entry) {
        let close = is_boundary(self.level, &e.0, self.buf.len() + 1);
        self.buf.push(e);
        if close {
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
