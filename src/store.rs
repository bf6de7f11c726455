//! The storage contract: CAR files, a block→CAR location index, the header and the key.
//!
//! A backend stores opaque sealed CARs by name (with the CIDs of their blocks, to locate blocks)
//! and a small JSON header. Contract per method below. Invariant every backend keeps:
//! [`Store::commit`] is atomic — its CARs and header are all durable, or none is — and it only
//! succeeds if the stored header still names `expect`.

use crate::crypto::{Aead, Key};
use crate::error::Result;

#[cfg(target_arch = "wasm32")]
pub mod idb;
#[cfg(not(target_arch = "wasm32"))]
pub mod mem;

/// Current header format version (2: documents-tree branches record their highest leaf seq and
/// there is no changes tree; a version-1 header is read as well, docs/format.md §4).
pub const HEADER_VERSION: u32 = 2;

/// The ledger header: where the newest state is. Replaced atomically by each commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version, [`HEADER_VERSION`].
    pub v: u32,
    /// Name (CID string) of the newest CAR.
    pub car: String,
    /// Clock head: event CIDs.
    pub head: Vec<String>,
    /// Root of the documents tree (`None` when empty).
    pub docs: Option<String>,
    /// Height of the head event: number of commits in the linear history.
    pub seq: u64,
    /// Number of live (not deleted) documents.
    pub count: u64,
    /// Persisted map-reduce indexes by name.
    pub indexes: Indexes,
    /// The sync outbox: names of data CARs (writes, and the merges they build on) not yet on a
    /// remote, oldest first; a merge held back ends it (`held`).
    /// `None` while the ledger was never attached to a remote (nothing is tracked).
    pub out: Option<Vec<String>>,
    /// How many of the last `out` names are the CARs of the head's merge, **held back** from the
    /// push (docs/sync.md §4): a merge this replica made that no write builds on yet. 0 otherwise.
    pub held: u64,
    /// Compaction bookkeeping (`None` in headers written before it existed).
    pub gc: Option<Gc>,
    /// Revision: how many commits wrote a header (0 in headers written before it existed). Every
    /// commit writes the revision above the one it was built on, so the compare-and-set sees a
    /// commit that kept `car` (an outbox or index update) as well as one that moved it.
    pub rev: u64,
}

/// What automatic compaction decides on (docs/format.md §6.1): sealed bytes of the CARs the
/// ledger wrote, counted since the last compaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gc {
    /// Bytes kept by the last compaction (its CARs; 0 before the first one).
    pub live: u64,
    /// `live` plus the bytes of every CAR committed since.
    pub stored: u64,
}

/// Index heads by name, in name order: a sorted list (a ledger has a few indexes; one map type
/// fewer in the wasm than a `BTreeMap`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Indexes(Vec<(String, IndexHead)>);

impl Indexes {
    pub fn get(&self, name: &str) -> Option<&IndexHead> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Adds or replaces the head of index `name`.
    pub fn insert(&mut self, name: String, head: IndexHead) {
        match self.0.binary_search_by(|(n, _)| n.cmp(&name)) {
            Ok(i) => self.0[i].1 = head,
            Err(i) => self.0.insert(i, (name, head)),
        }
    }

    /// Name and head of each index, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &IndexHead)> {
        self.0.iter().map(|(n, h)| (n, h))
    }

    pub fn values(&self) -> impl Iterator<Item = &IndexHead> {
        self.0.iter().map(|(_, h)| h)
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(n, _)| n)
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Where a persisted index stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexHead {
    /// Hash of the map function's source: a different source means a different index.
    pub src: String,
    /// Root of the key tree (`encoded key ++ id → value`).
    pub keys: Option<String>,
    /// Root of the by-id tree (`id → emitted keys`).
    pub ids: Option<String>,
    /// Ledger seq the index reflects.
    pub seq: u64,
}

/// A sealed CAR as stored: its name, bytes and the CIDs of the blocks inside (which the store
/// indexes, so [`Store::locate`] finds the CAR of a block).
#[derive(Clone, Debug)]
pub struct StoredCar {
    pub name: String,
    pub bytes: Vec<u8>,
    pub cids: Vec<cid::Cid>,
}

impl StoredCar {
    /// What the CAR costs in storage, as compaction counts it (docs/format.md §6.1): its sealed
    /// bytes, plus 256 B for the record and 128 B per block for its `c` list entry and its `cid`
    /// index entry — many small CARs cost more than their bytes.
    pub fn footprint(&self) -> u64 {
        self.bytes.len() as u64 + 256 + 128 * self.cids.len() as u64
    }
}

fn opt_str(out: &mut String, v: &Option<String>) {
    match v {
        Some(s) => crate::doc::write_str(out, s),
        None => out.push_str("null"),
    }
}

fn field<'a>(
    m: &'a std::collections::BTreeMap<String, ipld_core::ipld::Ipld>,
    k: &str,
) -> Option<&'a ipld_core::ipld::Ipld> {
    m.get(k)
}

fn get_str(
    m: &std::collections::BTreeMap<String, ipld_core::ipld::Ipld>,
    k: &str,
) -> std::result::Result<Option<String>, String> {
    use ipld_core::ipld::Ipld;
    match field(m, k) {
        Some(Ipld::String(s)) => Ok(Some(s.clone())),
        Some(Ipld::Null) | None => Ok(None),
        Some(_) => Err(format!("header field {k} is not a string")),
    }
}

fn get_u64(
    m: &std::collections::BTreeMap<String, ipld_core::ipld::Ipld>,
    k: &str,
) -> std::result::Result<u64, String> {
    match field(m, k) {
        Some(ipld_core::ipld::Ipld::Integer(i)) => {
            u64::try_from(*i).map_err(|_| format!("header field {k} out of range"))
        }
        _ => Err(format!("header field {k} is not an integer")),
    }
}

/// An optional integer field: 0 when absent.
fn opt_u64(
    m: &std::collections::BTreeMap<String, ipld_core::ipld::Ipld>,
    k: &str,
) -> std::result::Result<u64, String> {
    match field(m, k) {
        None => Ok(0),
        Some(_) => get_u64(m, k),
    }
}

impl Header {
    /// The header as stored: JSON with the field names documented in docs/format.md.
    pub fn to_json(&self) -> String {
        use crate::doc::{write_int, write_str};
        let mut out = String::from("{\"v\":");
        write_int(&mut out, self.v.into());
        out.push_str(",\"car\":");
        write_str(&mut out, &self.car);
        out.push_str(",\"head\":");
        crate::doc::write_strs(&mut out, &self.head);
        out.push_str(",\"docs\":");
        opt_str(&mut out, &self.docs);
        out.push_str(",\"seq\":");
        write_int(&mut out, self.seq.into());
        out.push_str(",\"count\":");
        write_int(&mut out, self.count.into());
        out.push_str(",\"indexes\":{");
        for (i, (name, h)) in self.indexes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(&mut out, name);
            out.push_str(":{\"src\":");
            write_str(&mut out, &h.src);
            out.push_str(",\"keys\":");
            opt_str(&mut out, &h.keys);
            out.push_str(",\"ids\":");
            opt_str(&mut out, &h.ids);
            out.push_str(",\"seq\":");
            write_int(&mut out, h.seq.into());
            out.push('}');
        }
        out.push('}');
        if let Some(names) = &self.out {
            out.push_str(",\"out\":");
            crate::doc::write_strs(&mut out, names);
        }
        if self.held > 0 {
            out.push_str(",\"held\":");
            write_int(&mut out, self.held.into());
        }
        if let Some(g) = &self.gc {
            out.push_str(",\"gc\":{\"live\":");
            write_int(&mut out, g.live.into());
            out.push_str(",\"stored\":");
            write_int(&mut out, g.stored.into());
            out.push('}');
        }
        if self.rev > 0 {
            out.push_str(",\"rev\":");
            write_int(&mut out, self.rev.into());
        }
        out.push('}');
        out
    }

    /// Parses a stored header; anything malformed is an error naming the field.
    pub fn from_json(text: &str) -> std::result::Result<Header, String> {
        use crate::codec::as_strs;
        use ipld_core::ipld::Ipld;
        let Ipld::Map(m) = crate::json::parse(text)? else {
            return Err("header is not an object".into());
        };
        let head = match field(&m, "head") {
            Some(Ipld::List(l)) => as_strs(l).ok_or("header head entry is not a string")?,
            _ => return Err("header head is not a list".into()),
        };
        let mut indexes = Indexes::default();
        if let Some(Ipld::Map(ix)) = field(&m, "indexes") {
            for (name, v) in ix {
                let Ipld::Map(h) = v else {
                    return Err(format!("index {name} is not an object"));
                };
                let src = get_str(h, "src")?.ok_or_else(|| format!("index {name} has no src"))?;
                indexes.insert(
                    name.clone(),
                    IndexHead {
                        src,
                        keys: get_str(h, "keys")?,
                        ids: get_str(h, "ids")?,
                        seq: get_u64(h, "seq")?,
                    },
                );
            }
        }
        let out = match field(&m, "out") {
            None | Some(Ipld::Null) => None,
            Some(Ipld::List(l)) => Some(as_strs(l).ok_or("header out entry is not a string")?),
            Some(_) => return Err("header out is not a list".into()),
        };
        let gc = match field(&m, "gc") {
            None | Some(Ipld::Null) => None,
            Some(Ipld::Map(g)) => Some(Gc {
                live: get_u64(g, "live")?,
                stored: get_u64(g, "stored")?,
            }),
            Some(_) => return Err("header gc is not an object".into()),
        };
        Ok(Header {
            v: u32::try_from(get_u64(&m, "v")?).map_err(|_| "header v out of range")?,
            car: get_str(&m, "car")?.ok_or("header has no car")?,
            head,
            docs: get_str(&m, "docs")?,
            seq: get_u64(&m, "seq")?,
            count: get_u64(&m, "count")?,
            indexes,
            out,
            held: opt_u64(&m, "held")?,
            gc,
            rev: opt_u64(&m, "rev")?,
        })
    }
}

/// Everything one commit writes. Its header's `rev` is one above the revision of the header it
/// was built on: the store commits only if the stored header still has that `car` and that
/// revision (0 when it has none).
#[derive(Clone, Debug)]
pub struct CommitWrite {
    /// The `car` of the header this commit was built on (`None`: built on an empty ledger).
    pub expect: Option<String>,
    pub cars: Vec<StoredCar>,
    /// CARs stored earlier ([`Store::stage_cars`]) that the header names: the commit fails with
    /// `STORAGE`, writing nothing, if one of them is no longer stored.
    pub staged: Vec<String>,
    pub header: Header,
}

/// Result of a compare-and-set commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Another writer moved the header; nothing was written.
    Conflict,
}

/// A storage backend. Single-threaded (`?Send`): it runs on the browser's event loop.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The AES-256-GCM implementation this backend's platform offers.
    type Aead: Aead;
    /// Prepares the cipher for `key`.
    async fn aead(&self, key: &Key) -> Result<Self::Aead>;
    /// The current header, or `None` for a new ledger.
    async fn load_header(&self) -> Result<Option<Header>>;
    /// Returns the stored key; if there is none, stores `candidate` and returns it (atomically).
    async fn ensure_key(&self, candidate: &Key) -> Result<Key>;
    /// The sealed bytes of a CAR, or `None` if no CAR has that name.
    async fn read_car(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// The CARs holding these blocks (blocks no CAR holds are left out), each once, with its
    /// sealed bytes (`None`: gone since it was located, deleted by a compaction), in one round
    /// trip: the store reads a CAR as soon as it has located it.
    async fn locate_cars(&self, cids: &[cid::Cid]) -> Result<Vec<(String, Option<Vec<u8>>)>>;
    /// Atomically writes CARs and the header if the stored header still names `expect` and has
    /// the revision below the new header's.
    async fn commit(&self, write: CommitWrite) -> Result<CommitOutcome>;
    /// Writes CARs that no header names yet, one atomic write per CAR (compaction stages its
    /// CARs so that its header commit stays small; [`CommitWrite::staged`]). A staged CAR no
    /// header ever names is garbage that the next compaction deletes.
    async fn stage_cars(&self, cars: &[StoredCar]) -> Result<()>;
    /// Names of all stored CARs in ascending order; with `files`, of the file CARs only
    /// (docs/format.md §16: those holding raw blocks).
    async fn list_cars(&self, files: bool) -> Result<Vec<String>>;
    /// Every CAR the store's block index lists, with the blocks it holds, read without reading
    /// any CAR (incremental compaction weighs each CAR's live blocks with it). A CID the store
    /// cannot parse is left out (its block is then treated as held by no CAR).
    async fn car_blocks(&self) -> Result<Vec<(String, Vec<cid::Cid>)>>;
    /// Deletes CARs (blocks only they held can no longer be located).
    async fn remove_cars(&self, names: &[String]) -> Result<()>;
    /// Deletes every CAR, the header and the meta records. IndexedDB deletes the key too (the
    /// next open stores a new one; other tabs are told to reopen); the memory store keeps it.
    async fn destroy(&self) -> Result<()>;
    /// [`Store::commit`] that also replaces the stored key, in the same atomic write (re-keying:
    /// the CARs in `write` are sealed with `key`).
    async fn commit_with_key(&self, write: CommitWrite, key: &Key) -> Result<CommitOutcome>;
    /// Replaces the key of a ledger that has no header yet (joining a shared ledger); false, and
    /// nothing changed, when a header exists.
    async fn replace_key_if_empty(&self, key: &Key) -> Result<bool>;
    /// A small record kept beside the header (sync state), or `None`.
    async fn load_meta(&self, key: &str) -> Result<Option<String>>;
    /// Replaces a small record kept beside the header (never `"header"` or `"key"`).
    async fn save_meta(&self, key: &str, value: &str) -> Result<()>;
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn header_json_roundtrip_and_errors() {
        let mut indexes = Indexes::default();
        indexes.insert(
            "by \"name\"".to_string(),
            IndexHead {
                src: "(doc) => doc.n".into(),
                keys: Some("bafyk".into()),
                ids: None,
                seq: 7,
            },
        );
        let h = Header {
            v: 1,
            car: "bafkcar".into(),
            head: vec!["bafyev".into()],
            docs: Some("bafyd".into()),
            seq: 9,
            count: 3,
            indexes,
            out: None,
            held: 0,
            gc: None,
            rev: 0,
        };
        let text = h.to_json();
        assert_eq!(Header::from_json(&text).unwrap(), h);
        let with_out = Header {
            out: Some(vec!["bafkone".into(), "bafktwo".into()]),
            ..h.clone()
        };
        let text2 = with_out.to_json();
        assert!(
            text2.ends_with(r#"},"out":["bafkone","bafktwo"]}"#),
            "{text2}"
        );
        assert_eq!(Header::from_json(&text2).unwrap(), with_out);
        let with_gc = Header {
            gc: Some(Gc {
                live: 10,
                stored: 25,
            }),
            ..with_out.clone()
        };
        let text3 = with_gc.to_json();
        assert!(
            text3.ends_with(r#"],"gc":{"live":10,"stored":25}}"#),
            "{text3}"
        );
        assert_eq!(Header::from_json(&text3).unwrap(), with_gc);
        let with_held = Header {
            held: 1,
            ..with_gc.clone()
        };
        let text4 = with_held.to_json();
        assert!(
            text4.ends_with(r#""bafktwo"],"held":1,"gc":{"live":10,"stored":25}}"#),
            "{text4}"
        );
        assert_eq!(Header::from_json(&text4).unwrap(), with_held);
        let with_rev = Header {
            rev: 12,
            ..with_held.clone()
        };
        let text5 = with_rev.to_json();
        assert!(text5.ends_with(r#""stored":25},"rev":12}"#), "{text5}");
        assert_eq!(Header::from_json(&text5).unwrap(), with_rev);
        assert!(text.starts_with(r#"{"v":1,"car":"bafkcar","head":["bafyev"],"docs":"bafyd","seq":9,"count":3,"indexes":{"#));
        for bad in [
            "",
            "[]",
            r#"{"v":1}"#,
            r#"{"v":1,"car":"c","head":[1],"seq":1,"count":1}"#,
            r#"{"v":-1,"car":"c","head":[],"seq":1,"count":1}"#,
            r#"{"v":1,"car":"c","head":[],"seq":1,"count":1,"held":"x"}"#,
            r#"{"v":1,"car":"c","head":[],"seq":1,"count":1,"held":-1}"#,
        ] {
            assert!(Header::from_json(bad).is_err(), "{bad}");
        }
    }
}
