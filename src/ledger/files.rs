//! Files: the bytes of a document's `_files`/`_publicFiles` entries, cut into 1 MiB chunks, each
//! a raw block alone in a CAR sealed under the file's own key (docs/format.md §16).
//!
//! Invariant: a file CAR holds exactly one raw block, whose CID is checked on every read; it is
//! stored (staged) before the document naming it commits and never rewritten: compaction keeps
//! the file CARs live documents name, and sync pushes them but never lists them in a manifest.

use sha2::{Digest, Sha256};

use super::Ledger;
use crate::car::{open_stored_car, write_car};
use crate::codec::{cid_of, cid_str, parse_cid, Block, RAW};
use crate::crypto::Key;
use crate::error::{Error, Result};
use crate::store::{Store, StoredCar};

/// Largest chunk: one chunk per file CAR.
pub const FILE_CHUNK_BYTES: usize = 1 << 20;

/// A file being written: its key, the hash of the bytes so far and the CARs staged for it.
pub struct FileWriter<A> {
    aead: A,
    key: Key,
    hash: Sha256,
    size: u64,
    cars: Vec<String>,
}

/// What a finished file's metadata needs (docs/format.md §16).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// `CIDv1(raw, sha2-256(content))`.
    pub cid: String,
    pub cars: Vec<String>,
    /// The file key, base64.
    pub key: String,
    pub size: u64,
}

impl<A> FileWriter<A> {
    /// The metadata of the bytes written so far (an empty file: call after one empty chunk).
    pub fn finish(self) -> Result<FileMeta> {
        let mh = multihash::Multihash::<64>::wrap(crate::codec::SHA2_256, &self.hash.finalize())
            .map_err(|_| Error::Internal("multihash".into()))?;
        let mut key = String::new();
        crate::b64::encode_into(&mut key, self.key.as_bytes());
        Ok(FileMeta {
            cid: cid_str(&cid::Cid::new_v1(RAW, mh)),
            cars: self.cars,
            key,
            size: self.size,
        })
    }
}

/// Opens a sealed file CAR named `name`: its one raw block (tag, then the block's CID checked).
async fn open_file_car<A: crate::crypto::Aead>(
    aead: &A,
    name: &str,
    stored: &[u8],
) -> Result<Block> {
    let (_, mut blocks) = open_stored_car(aead, &parse_cid(name)?, stored).await?;
    match blocks.pop() {
        Some(b) if blocks.is_empty() && b.cid.codec() == RAW => {
            Block::verified(b.cid, b.bytes).map_err(|e| Error::corrupt(name, e))
        }
        _ => Err(Error::corrupt(name, "not a file car (one raw block)")),
    }
}

impl<S: Store> Ledger<S> {
    /// Starts a file under a fresh key.
    pub async fn file_writer(&self) -> Result<FileWriter<S::Aead>> {
        self.check_open()?;
        let key = Key::generate()?;
        Ok(FileWriter {
            aead: self.store.aead(&key).await?,
            key,
            hash: Sha256::new(),
            size: 0,
            cars: Vec::new(),
        })
    }

    /// Seals the next chunk (at most [`FILE_CHUNK_BYTES`]) as a file CAR and stages it.
    pub async fn write_file_chunk(
        &self,
        w: &mut FileWriter<S::Aead>,
        chunk: Vec<u8>,
    ) -> Result<()> {
        self.check_open()?;
        if chunk.len() > FILE_CHUNK_BYTES {
            return Err(Error::InvalidArg(format!(
                "a file chunk is at most {FILE_CHUNK_BYTES} bytes"
            )));
        }
        w.hash.update(&chunk);
        w.size += chunk.len() as u64;
        let block = Block {
            cid: cid_of(RAW, &chunk)?,
            bytes: chunk,
        };
        let sealed = crate::car::seal_car(&w.aead, &write_car(block.cid, &[&block])).await?;
        let name = cid_str(&sealed.name);
        self.store
            .stage_cars(&[StoredCar {
                name: name.clone(),
                bytes: sealed.bytes,
                cids: vec![block.cid],
            }])
            .await?;
        w.cars.push(name);
        Ok(())
    }

    /// The bytes of file CAR `name` sealed under `key`: read here (`None` when it is not stored
    /// here), or, given `fetched` (its stored bytes from a remote), checked (name, tag, block)
    /// and stored.
    pub async fn file_chunk(
        &self,
        name: &str,
        key: &Key,
        fetched: Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        let fetched_here = fetched.is_some();
        let stored = match fetched {
            Some(b) if cid_of(RAW, &b)? != parse_cid(name)? => {
                return Err(Error::corrupt(
                    name,
                    "stored bytes do not match the car's name",
                ))
            }
            Some(b) => b,
            None => match self.store.read_car(name).await? {
                Some(b) => b,
                None => return Ok(None),
            },
        };
        let block = open_file_car(&self.store.aead(key).await?, name, &stored).await?;
        if fetched_here {
            let cids = vec![block.cid];
            self.store
                .stage_cars(&[StoredCar {
                    name: name.to_string(),
                    bytes: stored,
                    cids,
                }])
                .await?;
        }
        Ok(Some(block.bytes))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "files_tests.rs"]
mod tests;
