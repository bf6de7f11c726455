//! Content-defined chunking: where one node ends and the next begins.
//!
//! Invariant: whether an entry closes a node depends only on the node's level, the entry's key and
//! the number of entries since the previous boundary — never on history.

use sha2::{Digest, Sha256};

use super::node::{Entry, Node};

/// Target average number of entries per node.
pub const FANOUT: u64 = 16;
/// A node never holds more entries than this.
pub const MAX_ENTRIES: usize = 256;
const THRESHOLD: u64 = (1u64 << 32) / FANOUT;

/// First 4 bytes (big-endian) of `sha2-256(level || key)`.
pub fn boundary_hash(level: u8, key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update([level]);
    h.update(key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
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
