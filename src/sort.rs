//! Sorting shared across modules, each compiled once (every closure type given to a generic sort
//! is another copy of it in the wasm).
//!
//! Invariant: [`heap_sort`] orders by `less` in place, in O(n log n), without allocating.

/// Sorts `v` in place by `less` (a plain heapsort: callers sort unique keys, so stability does not
/// matter, and this small loop costs less wasm than another instantiation of the std sorts).
pub fn heap_sort(v: &mut [u32], less: &dyn Fn(u32, u32) -> bool) {
    let sift = |v: &mut [u32], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && less(v[child], v[child + 1]) {
            child += 1;
        }
        if !less(v[root], v[child]) {
            return;
        }
        v.swap(root, child);
        root = child;
    };
    for i in (0..v.len() / 2).rev() {
        sift(v, i, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

/// Sorts CIDs by their bytes (the order of clock heads and merge parents).
pub fn sort_cids(v: &mut Vec<cid::Cid>) {
    let keys: Vec<Vec<u8>> = v.iter().map(crate::codec::cid_bytes).collect();
    let mut order: Vec<u32> = (0..v.len() as u32).collect();
    heap_sort(&mut order, &|a, b| keys[a as usize] < keys[b as usize]);
    *v = order.iter().map(|&i| v[i as usize]).collect();
}
