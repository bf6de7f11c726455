//! Index queries against a plain model (filter + sort over a `Vec`), through a real ledger on the
//! memory store; persistence and incrementality of index updates.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use futures::executor::block_on;
use ipld_core::ipld::Ipld;
use proptest::prelude::*;

use super::key::collate;
use super::{EmittedRows, QueryOpts};
use crate::doc::{Body, WriteOp};
use crate::ledger::{DocRow, Ledger};
use crate::store::mem::MemStore;

#[derive(Clone, Debug)]
struct Doc {
    n: i64,
    tag: String,
    year: i64,
    month: i64,
}

fn body(d: &Doc) -> Body {
    let mut b = Body::new();
    b.insert("n".into(), Ipld::Integer(d.n.into()));
    b.insert("tag".into(), Ipld::String(d.tag.clone()));
    b.insert("year".into(), Ipld::Integer(d.year.into()));
    b.insert("month".into(), Ipld::Integer(d.month.into()));
    b
}

fn int(b: &Body, k: &str) -> i64 {
    match b.get(k) {
        Some(Ipld::Integer(i)) => *i as i64,
        _ => 0,
    }
}

/// The "map function" of each test mode.
fn map(mode: u8, b: &Body) -> Vec<(Ipld, Ipld)> {
    let tag = match b.get("tag") {
        Some(t) => t.clone(),
        None => Ipld::Null,
    };
    match mode {
        0 => vec![(Ipld::Integer(int(b, "n").into()), tag)],
        1 => {
            let mut rows = vec![(
                Ipld::List(vec![
                    Ipld::Integer(int(b, "year").into()),
                    Ipld::Integer(int(b, "month").into()),
                ]),
                Ipld::Null,
            )];
            if int(b, "n") % 3 == 0 {
                rows.push((tag.clone(), Ipld::Integer(int(b, "n").into())));
            }
            if int(b, "n") % 4 == 0 {
                // an array key starting with a string: a string prefix matches it too
                let key = Ipld::List(vec![tag, Ipld::Integer(int(b, "n").into())]);
                rows.push((key, Ipld::Null));
            }
            rows
        }
        2 => vec![(tag, Ipld::Bool(true))],
        // The built-in field index on `tag` (rows without values).
        _ => vec![(tag, Ipld::Null)],
    }
}

fn emit_all(mode: u8, docs: &[DocRow]) -> Vec<EmittedRows> {
    docs.iter()
        .map(|d| EmittedRows {
            id: d.id.clone(),
            rows: map(mode, &d.body.as_ref().unwrap().body().unwrap()),
        })
        .collect()
}

/// The documents handed to the map function (`None` for the field index, which maps inside the
/// engine: nothing to count) and the rows.
fn query_counted(
    l: &Ledger<MemStore>,
    mode: u8,
    o: &QueryOpts,
) -> (Option<usize>, Vec<(String, Ipld, Ipld)>) {
    if mode == 3 {
        let (hits, _) = block_on(l.index_query_field("tag", o, false)).unwrap();
        let rows = hits.into_iter().map(|h| (h.row.id, h.row.key, h.row.value));
        return (None, rows.collect());
    }
    let (mapped, rows) = query(l, mode, o);
    (Some(mapped), rows)
}

/// A map-function index's query: the documents mapped, and the rows.
fn query(l: &Ledger<MemStore>, mode: u8, o: &QueryOpts) -> (usize, Vec<(String, Ipld, Ipld)>) {
    let (token, docs) =
        block_on(l.index_begin(&format!("m{mode}"), &format!("src{mode}"))).unwrap();
    let (hits, _) = block_on(l.index_finish(token, emit_all(mode, &docs), o, false)).unwrap();
    (
        docs.len(),
        hits.into_iter()
            .map(|h| (h.row.id, h.row.key, h.row.value))
            .collect(),
    )
}

/// Keys come back with every number as a float (JS has only one number type).
fn as_float(k: &Ipld) -> Ipld {
    match k {
        Ipld::Integer(i) => Ipld::Float(*i as f64),
        Ipld::List(l) => Ipld::List(l.iter().map(as_float).collect()),
        other => other.clone(),
    }
}

fn eq(a: &Ipld, b: &Ipld) -> bool {
    collate(a, b) == Ordering::Equal
}

fn starts_with(k: &Ipld, p: &Ipld) -> bool {
    match (p, k) {
        (Ipld::List(pl), Ipld::List(kl)) => {
            kl.len() >= pl.len() && pl.iter().zip(kl).all(|(x, y)| eq(x, y))
        }
        (Ipld::String(ps), Ipld::String(ks)) => ks
            .encode_utf16()
            .collect::<Vec<_>>()
            .starts_with(&ps.encode_utf16().collect::<Vec<_>>()),
        // A scalar prefix is also the one-element array prefix (as in Fireproof).
        (_, Ipld::List(kl)) => kl.first().is_some_and(|x| eq(p, x)),
        (Ipld::List(_), _) | (Ipld::String(_), _) => false,
        _ => eq(p, k),
    }
}

/// The model: every row of every live document, filtered and ordered by the documented rules.
fn model(mode: u8, docs: &BTreeMap<String, Doc>, o: &QueryOpts) -> Vec<(String, Ipld, Ipld)> {
    let mut rows: Vec<(Ipld, String, usize, Ipld)> = Vec::new();
    for (id, d) in docs {
        for (n, (k, v)) in map(mode, &body(d)).into_iter().enumerate() {
            rows.push((k, id.clone(), n, v));
        }
    }
    rows.sort_by(|a, b| {
        collate(&a.0, &b.0)
            .then_with(|| a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
    });
    rows.retain(|(k, ..)| {
        o.range.as_ref().is_none_or(|(lo, hi)| {
            collate(lo, k) != Ordering::Greater
                && hi
                    .as_ref()
                    .is_none_or(|hi| collate(k, hi) != Ordering::Greater)
        }) && o.prefix.as_ref().is_none_or(|p| starts_with(k, p))
            && o.key.as_ref().is_none_or(|x| eq(x, k))
    });
    let groups: Vec<Vec<_>> = match &o.keys {
        Some(keys) => keys
            .iter()
            .map(|x| rows.iter().filter(|r| eq(x, &r.0)).cloned().collect())
            .collect(),
        None => vec![rows],
    };
    let mut out = Vec::new();
    for mut g in groups {
        if o.descending {
            g.reverse();
        }
        out.extend(g.into_iter().map(|(k, id, _, v)| (id, as_float(&k), v)));
    }
    out.truncate(o.limit.unwrap_or(usize::MAX));
    out
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        0i64..20,
        prop::sample::select(vec!["a", "ab", "abc", "b", "ba", "é", "\u{1f600}"]),
        2020i64..2024,
        1i64..13,
    )
        .prop_map(|(n, tag, year, month)| Doc {
            n,
            tag: tag.to_string(),
            year,
            month,
        })
}

fn key_for(mode: u8) -> BoxedStrategy<Ipld> {
    match mode {
        0 => (0i64..20).prop_map(|n| Ipld::Integer(n.into())).boxed(),
        1 => prop_oneof![
            (2020i64..2024, 1i64..13).prop_map(|(y, m)| Ipld::List(vec![
                Ipld::Integer(y.into()),
                Ipld::Integer(m.into())
            ])),
            (2020i64..2024).prop_map(|y| Ipld::List(vec![Ipld::Integer(y.into())])),
            // a scalar prefix also selects the arrays that start with it
            (2020i64..2024).prop_map(|y| Ipld::Integer(y.into())),
            prop::sample::select(vec!["a", "ab", "b"]).prop_map(|s| Ipld::String(s.into())),
        ]
        .boxed(),
        _ => prop::sample::select(vec!["", "a", "ab", "abc", "b", "é", "\u{1f600}", "z"])
            .prop_map(|s| Ipld::String(s.into()))
            .boxed(),
    }
}

fn opts(mode: u8) -> impl Strategy<Value = QueryOpts> {
    let k = key_for(mode);
    (
        prop::option::of(k.clone()),
        prop::option::of(prop::collection::vec(k.clone(), 0..4)),
        prop::option::of((k.clone(), prop::option::of(k.clone()))),
        prop::option::of(k),
        prop::option::of(0usize..12),
        any::<bool>(),
    )
        .prop_map(|(key, keys, range, prefix, limit, descending)| QueryOpts {
            key,
            keys,
            range,
            prefix,
            limit,
            descending,
        })
}

/// Batches of (doc number, put or delete).
type Batches = Vec<Vec<(u8, Option<Doc>)>>;

fn scenario() -> impl Strategy<Value = (u8, Batches, Vec<QueryOpts>)> {
    (0u8..4).prop_flat_map(|mode| {
        (
            Just(mode),
            prop::collection::vec(
                prop::collection::vec((0u8..30, prop::option::weighted(0.85, doc())), 1..15),
                1..5,
            ),
            prop::collection::vec(opts(mode), 1..4),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random documents, random puts and deletes between queries, random options: the query
    /// result equals the model, and each update maps only the documents changed since.
    #[test]
    fn queries_match_the_model((mode, batches, queries) in scenario()) {
        let store = MemStore::new();
        let l = block_on(Ledger::open("q", store.clone(), None)).unwrap();
        let mut docs: BTreeMap<String, Doc> = BTreeMap::new();
        for (b, batch) in batches.into_iter().enumerate() {
            let mut ops = Vec::new();
            let mut changed = std::collections::BTreeSet::new();
            for (k, d) in batch {
                let id = format!("doc{k:02}");
                changed.insert(id.clone());
                match d {
                    Some(d) => { ops.push(WriteOp::put(id.clone(), &body(&d))); docs.insert(id, d); }
                    None => { ops.push(WriteOp::del(id.clone())); docs.remove(&id); }
                }
            }
            block_on(l.write(ops)).unwrap();
            for o in &queries {
                let (mapped, got) = query_counted(&l, mode, o);
                // only the changed documents are mapped (map-function indexes)
                prop_assert!(mapped.is_none_or(|m| m <= changed.len()));
                prop_assert_eq!(got, model(mode, &docs, o), "opts {:?}", o);
            }
            // Updates build on an unsaved index or on a stored one: save after some batches.
            if b % 2 == 1 {
                block_on(l.save_indexes()).unwrap();
                prop_assert!(!l.has_unsaved_indexes());
            }
        }
        block_on(l.save_indexes()).unwrap();
        // a reopened ledger needs no mapping at all: the index is persisted
        let again = block_on(Ledger::open("q", store, None)).unwrap();
        let (mapped, got) = query_counted(&again, mode, &queries[0]);
        prop_assert!(mapped.is_none_or(|m| m == 0), "mapped {:?}", mapped);
        prop_assert_eq!(got, model(mode, &docs, &queries[0]));
    }
}

#[test]
fn changed_map_source_rebuilds_and_object_keys_are_rejected() {
    let l = block_on(Ledger::open("r", MemStore::new(), None)).unwrap();
    let d = Doc {
        n: 1,
        tag: "x".into(),
        year: 2024,
        month: 5,
    };
    block_on(l.write(vec![WriteOp::put("a", &body(&d))])).unwrap();
    let (_, docs) = block_on(l.index_begin("idx", "v1")).unwrap();
    assert_eq!(docs.len(), 1);
    let (t, docs) = block_on(l.index_begin("idx", "v1")).unwrap();
    assert_eq!(
        docs.len(),
        1,
        "the first token never finished, so the index is still unbuilt"
    );
    block_on(l.index_finish(t, emit_all(0, &docs), &QueryOpts::default(), false)).unwrap();
    let (t, docs) = block_on(l.index_begin("idx", "v1")).unwrap();
    assert!(docs.is_empty());
    l.index_abort(t);
    let (t, docs) = block_on(l.index_begin("idx", "v2")).unwrap();
    assert_eq!(docs.len(), 1, "a new source maps everything again");
    let bad = vec![EmittedRows {
        id: "a".into(),
        rows: vec![(Ipld::Map(Default::default()), Ipld::Null)],
    }];
    let e = block_on(l.index_finish(t, bad, &QueryOpts::default(), false)).unwrap_err();
    assert_eq!(e.code(), "INVALID_ARG");
    assert!(e.to_string().contains("objects cannot be keys"), "{e}");
    let (t, docs) = block_on(l.index_begin("idx", "v2")).unwrap();
    let (hits, _) =
        block_on(l.index_finish(t, emit_all(0, &docs), &QueryOpts::default(), true)).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].doc.as_ref().unwrap(), &body(&d));
}

#[test]
fn a_query_sees_its_snapshot_even_if_a_write_lands_meanwhile() {
    let l = block_on(Ledger::open("s", MemStore::new(), None)).unwrap();
    let d = |n| Doc {
        n,
        tag: "t".into(),
        year: 2024,
        month: 1,
    };
    block_on(l.write(vec![WriteOp::put("a", &body(&d(1)))])).unwrap();
    let (t, docs) = block_on(l.index_begin("n", "src")).unwrap();
    block_on(l.write(vec![WriteOp::put("b", &body(&d(2))), WriteOp::del("a")])).unwrap();
    let (hits, state) =
        block_on(l.index_finish(t, emit_all(0, &docs), &QueryOpts::default(), true)).unwrap();
    assert_eq!(state.seq, 1);
    assert_eq!(
        hits.iter().map(|h| h.row.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(hits[0].doc.as_ref().unwrap(), &body(&d(1)));
    let (t, docs) = block_on(l.index_begin("n", "src")).unwrap();
    assert_eq!(docs.len(), 1, "only b is live among the changed");
    let (hits, _) =
        block_on(l.index_finish(t, emit_all(0, &docs), &QueryOpts::default(), false)).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.row.id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
}

#[test]
fn a_query_answers_from_memory_and_the_index_is_stored_afterwards() {
    let store = MemStore::new();
    let l = block_on(Ledger::open("w", store.clone(), None)).unwrap();
    let d = |n| Doc {
        n,
        tag: "t".into(),
        year: 2024,
        month: 1,
    };
    let put = |l: &Ledger<MemStore>, id: &str, n| {
        block_on(l.write(vec![WriteOp::put(id, &body(&d(n)))])).unwrap()
    };
    put(&l, "a", 1);
    put(&l, "b", 2);
    let commits = store.commits();
    let (mapped, got) = query(&l, 0, &QueryOpts::default());
    assert_eq!((mapped, got.len()), (2, 2));
    assert_eq!(store.commits(), commits, "the query itself stores nothing");
    assert!(l.has_unsaved_indexes());

    // Not saved: another handle on the same store maps everything again.
    let other = block_on(Ledger::open("w", store.clone(), None)).unwrap();
    assert_eq!(query(&other, 0, &QueryOpts::default()).0, 2);

    // An update builds on the unsaved index (one document mapped), and a failed save (quota)
    // keeps it usable and unsaved.
    put(&l, "c", 3);
    let (mapped, got) = query(&l, 0, &QueryOpts::default());
    assert_eq!((mapped, got.len()), (1, 3));
    store.set_quota(Some(store.stored_bytes()));
    assert_eq!(block_on(l.save_indexes()).unwrap_err().code(), "QUOTA");
    assert!(l.has_unsaved_indexes());
    assert_eq!(query(&l, 0, &QueryOpts::default()), (0, got.clone()));
    store.set_quota(None);
    block_on(l.save_indexes()).unwrap();
    assert!(!l.has_unsaved_indexes());

    // Saved: a reopened ledger maps nothing and sees the same rows.
    let again = block_on(Ledger::open("w", store.clone(), None)).unwrap();
    assert_eq!(query(&again, 0, &QueryOpts::default()), (0, got));

    // A closed ledger stores nothing more.
    put(&again, "d", 4);
    assert_eq!(query(&again, 0, &QueryOpts::default()).0, 1);
    again.close();
    let before = store.commits();
    block_on(again.save_indexes()).unwrap();
    assert_eq!(store.commits(), before);
}

#[test]
fn large_emitted_keys_are_stored_and_read_back_and_oversized_ones_reject() {
    let store = MemStore::new();
    let l = block_on(Ledger::open("t", store.clone(), None)).unwrap();
    let body = |i: i64| {
        let mut b = crate::doc::Body::new();
        b.insert("n".into(), Ipld::Integer(i.into()));
        b
    };
    block_on(
        l.write(
            (0..5)
                .map(|i| WriteOp::put(format!("d{i}"), &body(i)))
                .collect(),
        ),
    )
    .unwrap();
    let rows = |docs: &[DocRow], chars: usize| -> Vec<EmittedRows> {
        docs.iter()
            .map(|d| EmittedRows {
                id: d.id.clone(),
                rows: vec![(
                    Ipld::String(format!("{}{}", d.id, "k".repeat(chars))),
                    Ipld::Null,
                )],
            })
            .collect()
    };
    // ~3 bytes per character encoded: over 1 MiB for one document is refused, naming it
    let (token, docs) = block_on(l.index_begin("huge", "src-huge")).unwrap();
    let e = block_on(l.index_finish(token, rows(&docs, 1 << 20), &QueryOpts::default(), false))
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_ARG");
    assert!(e.to_string().contains("emitted for document \"d0\""), "{e}");
    // keys of ~300 KB encoded: nodes of two such entries; stored, reopened and queried
    let (token, docs) = block_on(l.index_begin("big", "src-big")).unwrap();
    block_on(l.index_finish(token, rows(&docs, 100_000), &QueryOpts::default(), false)).unwrap();
    block_on(l.save_indexes()).unwrap();
    block_on(l.write(vec![WriteOp::put("d5", &body(5))])).unwrap();
    let l2 = block_on(Ledger::open("t", store, None)).unwrap();
    let (token, docs) = block_on(l2.index_begin("big", "src-big")).unwrap();
    assert_eq!(docs.len(), 1, "only the new document is mapped");
    let (hits, _) =
        block_on(l2.index_finish(token, rows(&docs, 100_000), &QueryOpts::default(), false))
            .unwrap();
    assert_eq!(hits.len(), 6);
    block_on(l2.save_indexes()).unwrap();
}
