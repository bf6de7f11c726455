//! One CAR v1 file per commit, sealed in the [`crate::crypto`] envelope and named by the CID of its
//! stored bytes (raw codec, sha2-256).
//!
//! Invariant: [`open_car`] yields blocks only if the stored bytes hash to the name, the tag verifies,
//! the CAR framing parses, and every block hashes to its CID. Anything else is `CORRUPT` or `DECRYPT`.

use cid::Cid;
use ipld_core::ipld::Ipld;

use crate::codec::cbor::write_head;
use crate::codec::{cid_of, cid_of_digest, decode, read_cid, Block, RAW};
use crate::crypto::{self, Aead, OpenError};
use crate::error::{Error, Result};

/// Largest section (header or block) a reader accepts, as iroh-car 0.5.1 does.
const MAX_SECTION: usize = 4 << 20;

/// Encrypted CAR bytes and their name.
#[derive(Clone, Debug)]
pub struct SealedCar {
    pub name: Cid,
    pub bytes: Vec<u8>,
}

/// Serialises `blocks` (borrowed: no block is copied but into the output) as a CAR v1 with the single root `root` (byte for byte what iroh-car 0.5.1
/// writes; framing in docs/format.md §6). CAR bytes live in memory, so this is a plain function:
/// the async reader/writer of iroh-car cost 19 KB of wasm for the same framing.
pub fn write_car(root: Cid, blocks: &[&Block]) -> Vec<u8> {
    let root = crate::codec::cid_bytes(&root);
    // H = {"roots": [root], "version": 1}; a CID link is tag 42 on the bytes 0x00 ‖ cid.
    let mut h = Vec::with_capacity(root.len() + 24);
    h.extend_from_slice(b"\xa2\x65roots\x81\xd8\x2a");
    write_head(&mut h, 2, root.len() as u64 + 1);
    h.push(0);
    h.extend_from_slice(&root);
    h.extend_from_slice(b"\x67version\x01");
    let size: usize = blocks.iter().map(|b| b.bytes.len() + 48).sum();
    let mut out = Vec::with_capacity(size + h.len() + 2);
    write_varint(&mut out, h.len());
    out.extend_from_slice(&h);
    for b in blocks {
        let cid = crate::codec::cid_bytes(&b.cid);
        write_varint(&mut out, cid.len() + b.bytes.len());
        out.extend_from_slice(&cid);
        out.extend_from_slice(&b.bytes);
    }
    out
}

fn write_varint(out: &mut Vec<u8>, n: usize) {
    let mut buf = unsigned_varint::encode::usize_buffer();
    out.extend_from_slice(unsigned_varint::encode::usize(n, &mut buf));
}

/// The next length-prefixed section at `pos`: (section, position after it).
fn section(bytes: &[u8], pos: usize) -> std::result::Result<(&[u8], usize), String> {
    let rest = &bytes[pos..];
    let (len, after) =
        unsigned_varint::decode::usize(rest).map_err(|e| format!("bad section length: {e}"))?;
    if len > MAX_SECTION {
        return Err(format!("section of {len} bytes is over the 4 MiB limit"));
    }
    let start = pos + (rest.len() - after.len());
    let body = bytes.get(start..start + len).ok_or("truncated section")?;
    Ok((body, start + len))
}

/// The roots of a CAR v1 header: `{"roots": [link, ...] (non-empty), "version": 1}`.
fn header_roots(h: &[u8]) -> std::result::Result<Vec<Cid>, String> {
    let Ipld::Map(m) = decode(h)? else {
        return Err("header is not a map".into());
    };
    if m.get("version") != Some(&Ipld::Integer(1)) {
        return Err("not a CAR v1 header".into());
    }
    let Some(Ipld::List(roots)) = m.get("roots") else {
        return Err("header has no roots".into());
    };
    let mut links = Vec::with_capacity(roots.len());
    for r in roots {
        let Ipld::Link(c) = r else {
            return Err("a root is not a link".into());
        };
        links.push(*c);
    }
    let roots = links;
    if roots.is_empty() {
        return Err("header has no roots".into());
    }
    Ok(roots)
}

/// Parses CAR v1 bytes, checking every block against its CID. `name` is used in error messages.
pub fn read_car(name: &str, bytes: &[u8]) -> Result<(Vec<Cid>, Vec<Block>)> {
    parse_car(name, bytes, true)
}

/// Parses CAR v1 bytes; `verify`: check every block against its CID.
pub fn parse_car(name: &str, bytes: &[u8], verify: bool) -> Result<(Vec<Cid>, Vec<Block>)> {
    let bad = |e: String| Error::corrupt(name, e);
    if bytes.is_empty() {
        return Err(bad("empty car".into()));
    }
    let (h, mut pos) = section(bytes, 0).map_err(bad)?;
    let roots = header_roots(h).map_err(bad)?;
    let mut blocks = Vec::new();
    while pos < bytes.len() {
        let (s, next) = section(bytes, pos).map_err(bad)?;
        let (cid, n) = read_cid(s).map_err(|e| bad(format!("bad block cid: {e}")))?;
        let bytes = s[n..].to_vec();
        let block = match verify {
            true => Block::verified(cid, bytes).map_err(|e| Error::corrupt(name, e))?,
            false => Block { cid, bytes },
        };
        blocks.push(block);
        pos = next;
    }
    Ok((roots, blocks))
}

/// Encrypts CAR bytes and names the result.
pub async fn seal_car<A: Aead>(aead: &A, car: &[u8]) -> Result<SealedCar> {
    let (bytes, digest) = crypto::seal(aead, car).await?;
    let name = match digest {
        Some(d) => cid_of_digest(RAW, &d)?,
        None => cid_of(RAW, &bytes)?,
    };
    Ok(SealedCar { name, bytes })
}

/// Decrypts sealed bytes (`DECRYPT` under another key, `CORRUPT` when malformed).
pub async fn unseal<A: Aead>(aead: &A, label: &str, stored: &[u8]) -> Result<Vec<u8>> {
    crypto::open(aead, stored).await.map_err(|e| match e {
        OpenError::Auth => Error::Decrypt {
            car: label.to_string(),
        },
        OpenError::Malformed(why) => Error::corrupt(label, why),
    })
}

/// Opens a CAR of this ledger's own store, whose blocks were checked when it entered the store
/// (written by this engine, or fetched and verified by a pull): the GCM tag authenticates the
/// bytes, so neither the name nor the blocks are hashed again. Only when the tag fails is the
/// name checked, to tell damage (`CORRUPT`) from a wrong key (`DECRYPT`) (docs/format.md §7).
pub async fn open_stored_car<A: Aead>(
    aead: &A,
    name: &Cid,
    stored: &[u8],
) -> Result<(Vec<Cid>, Vec<Block>)> {
    let label = crate::codec::cid_str(name);
    match unseal(aead, &label, stored).await {
        Ok(plain) => parse_car(&label, &plain, false),
        Err(_) if cid_of(RAW, stored)? != *name => Err(Error::corrupt(
            &label,
            "stored bytes do not match the car's name",
        )),
        Err(e) => Err(e),
    }
}

/// Checks a stored CAR against its name, decrypts it and parses its blocks.
pub async fn open_car<A: Aead>(
    aead: &A,
    name: &Cid,
    stored: &[u8],
) -> Result<(Vec<Cid>, Vec<Block>)> {
    let label = crate::codec::cid_str(name);
    if cid_of(RAW, stored)? != *name {
        return Err(Error::corrupt(
            &label,
            "stored bytes do not match the car's name",
        ));
    }
    read_car(&label, &unseal(aead, &label, stored).await?)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::crypto::{Key, SoftAead};
    use futures::executor::block_on;
    use ipld_core::ipld::Ipld;

    fn blocks() -> Vec<Block> {
        (0..5).map(|i| encode(&Ipld::Integer(i)).unwrap()).collect()
    }

    #[test]
    fn seal_open_roundtrip() {
        let key = SoftAead::new(&Key::generate().unwrap()).unwrap();
        let bs = blocks();
        let car = write_car(bs[0].cid, &bs.iter().collect::<Vec<_>>());
        let sealed = block_on(seal_car(&key, &car)).unwrap();
        assert_eq!(sealed.name.codec(), RAW);
        let (roots, back) = block_on(open_car(&key, &sealed.name, &sealed.bytes)).unwrap();
        assert_eq!(roots, vec![bs[0].cid]);
        assert_eq!(back, bs);
    }

    #[test]
    fn tamper_is_corrupt_wrong_key_is_decrypt() {
        let key = SoftAead::new(&Key::generate().unwrap()).unwrap();
        let bs = blocks();
        let car = write_car(bs[0].cid, &bs.iter().collect::<Vec<_>>());
        let sealed = block_on(seal_car(&key, &car)).unwrap();
        let mut bad = sealed.bytes.clone();
        bad[20] ^= 0x40;
        let err = block_on(open_car(&key, &sealed.name, &bad)).unwrap_err();
        assert_eq!(err.code(), "CORRUPT");
        assert!(err.to_string().contains(&sealed.name.to_string()));
        let other = SoftAead::new(&Key::generate().unwrap()).unwrap();
        let err = block_on(open_car(&other, &sealed.name, &sealed.bytes)).unwrap_err();
        assert_eq!(err.code(), "DECRYPT");
    }

    /// iroh-car 0.5.1 is the reference: our bytes equal what it writes, and we read what it writes.
    #[test]
    fn same_bytes_as_iroh_car() {
        use iroh_car::{CarHeader, CarReader, CarWriter};
        for n in [1usize, 2, 5, 40] {
            let bs: Vec<Block> = (0..n)
                .map(|i| encode(&Ipld::Bytes(vec![i as u8; i * 300])).unwrap())
                .collect();
            let mut theirs = Vec::new();
            block_on(async {
                let mut w = CarWriter::new(CarHeader::new_v1(vec![bs[0].cid]), &mut theirs);
                for b in &bs {
                    w.write(b.cid, &b.bytes).await.unwrap();
                }
                w.finish().await.unwrap();
            });
            let ours = write_car(bs[0].cid, &bs.iter().collect::<Vec<_>>());
            assert_eq!(ours, theirs);
            let (roots, back) = read_car("x", &theirs).unwrap();
            assert_eq!((roots, back), (vec![bs[0].cid], bs.clone()));
            let mut r = block_on(CarReader::new(&ours[..])).unwrap();
            assert_eq!(r.header().roots(), &[bs[0].cid]);
            let mut count = 0;
            while let Some((cid, data)) = block_on(r.next_block()).unwrap() {
                assert_eq!((cid, data), (bs[count].cid, bs[count].bytes.clone()));
                count += 1;
            }
            assert_eq!(count, n);
        }
    }

    #[test]
    fn headers_other_than_v1_with_roots_are_corrupt() {
        let bs = blocks();
        let good = write_car(bs[0].cid, &bs.iter().collect::<Vec<_>>());
        let hlen = usize::from(good[0]);
        let rest = &good[1 + hlen..];
        let with_header = |h: &Ipld| {
            let h = crate::codec::encode(h).unwrap().bytes;
            let mut car = vec![h.len() as u8];
            car.extend_from_slice(&h);
            car.extend_from_slice(rest);
            car
        };
        let root = Ipld::List(vec![Ipld::Link(bs[0].cid)]);
        let cases = [
            Ipld::Map(
                [
                    ("roots".into(), root.clone()),
                    ("version".into(), Ipld::Integer(2)),
                ]
                .into(),
            ),
            Ipld::Map(
                [
                    ("roots".into(), Ipld::List(vec![])),
                    ("version".into(), Ipld::Integer(1)),
                ]
                .into(),
            ),
            Ipld::Map(
                [
                    ("roots".into(), Ipld::List(vec![Ipld::Integer(1)])),
                    ("version".into(), Ipld::Integer(1)),
                ]
                .into(),
            ),
            Ipld::Map([("version".into(), Ipld::Integer(1))].into()),
            Ipld::List(vec![root.clone()]),
        ];
        for h in &cases {
            assert_eq!(
                read_car("x", &with_header(h)).unwrap_err().code(),
                "CORRUPT",
                "{h:?}"
            );
        }
        let ok = Ipld::Map([("roots".into(), root), ("version".into(), Ipld::Integer(1))].into());
        assert_eq!(with_header(&ok), good);
        // a section longer than the 4 MiB limit
        let mut big = good[..1 + hlen].to_vec();
        big.extend_from_slice(&[0x81, 0x80, 0x80, 0x02]);
        assert!(read_car("x", &big)
            .unwrap_err()
            .to_string()
            .contains("4 MiB"));
    }

    #[test]
    fn garbage_car_bytes_are_corrupt() {
        let junk: Vec<Vec<u8>> = vec![vec![], vec![0xff; 10], vec![0x05, 1, 2], vec![0x80; 40]];
        for j in junk {
            assert_eq!(read_car("x", &j).unwrap_err().code(), "CORRUPT");
        }
        let bs = blocks();
        let mut car = write_car(bs[0].cid, &bs.iter().collect::<Vec<_>>());
        let n = car.len();
        car[n - 1] ^= 1; // last block's data no longer matches its cid
        assert_eq!(read_car("x", &car).unwrap_err().code(), "CORRUPT");
        car.truncate(n - 3);
        assert!(read_car("x", &car).is_err());
    }
}
