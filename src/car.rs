//! One CAR v1 file per commit, sealed in the [`crate::crypto`] envelope and named by the CID of its
//! stored bytes (raw codec, sha2-256).
//!
//! Invariant: [`open_car`] yields blocks only if the stored bytes hash to the name, the tag verifies,
//! the CAR framing parses, and every block hashes to its CID. Anything else is `CORRUPT` or `DECRYPT`.

use cid::Cid;
use iroh_car::{CarHeader, CarReader, CarWriter};

use crate::codec::{cid_of, Block, RAW};
use crate::crypto::{self, Aead, OpenError};
use crate::error::{Error, Result};

/// Encrypted CAR bytes and their name.
#[derive(Clone, Debug)]
pub struct SealedCar {
    pub name: Cid,
    pub bytes: Vec<u8>,
}

/// Serialises `blocks` as a CAR v1 with the single root `root`.
pub async fn write_car(root: Cid, blocks: &[Block]) -> Result<Vec<u8>> {
    let size: usize = blocks.iter().map(|b| b.bytes.len() + 48).sum();
    let mut buf = Vec::with_capacity(size + 64);
    let mut w = CarWriter::new(CarHeader::new_v1(vec![root]), &mut buf);
    for b in blocks {
        w.write(b.cid, &b.bytes)
            .await
            .map_err(|e| Error::Internal(format!("car write: {e}")))?;
    }
    w.finish()
        .await
        .map_err(|e| Error::Internal(format!("car write: {e}")))?;
    Ok(buf)
}

/// Parses CAR v1 bytes, checking every block against its CID. `name` is used in error messages.
pub async fn read_car(name: &str, bytes: &[u8]) -> Result<(Vec<Cid>, Vec<Block>)> {
    let mut reader = CarReader::new(bytes)
        .await
        .map_err(|e| Error::corrupt(name, e))?;
    let roots = reader.header().roots().to_vec();
    let mut blocks = Vec::new();
    while let Some((cid, data)) = reader
        .next_block()
        .await
        .map_err(|e| Error::corrupt(name, e))?
    {
        let block = Block::verified(cid, data).map_err(|e| Error::corrupt(name, e))?;
        blocks.push(block);
    }
    Ok((roots, blocks))
}

/// Encrypts CAR bytes and names the result.
pub async fn seal_car<A: Aead>(aead: &A, car: &[u8]) -> Result<SealedCar> {
    let bytes = crypto::seal(aead, car).await?;
    let name = cid_of(RAW, &bytes)?;
    Ok(SealedCar { name, bytes })
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
    let plain = crypto::open(aead, stored).await.map_err(|e| match e {
        OpenError::Auth => Error::Decrypt { car: label.clone() },
        OpenError::Malformed(why) => Error::corrupt(&label, why),
    })?;
    read_car(&label, &plain).await
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
        let car = block_on(write_car(bs[0].cid, &bs)).unwrap();
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
        let car = block_on(write_car(bs[0].cid, &bs)).unwrap();
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

    #[test]
    fn garbage_car_bytes_are_corrupt() {
        let junk: Vec<Vec<u8>> = vec![vec![], vec![0xff; 10], vec![0x05, 1, 2], vec![0x80; 40]];
        for j in junk {
            assert_eq!(block_on(read_car("x", &j)).unwrap_err().code(), "CORRUPT");
        }
        let bs = blocks();
        let mut car = block_on(write_car(bs[0].cid, &bs)).unwrap();
        let n = car.len();
        car[n - 1] ^= 1; // last block's data no longer matches its cid
        assert_eq!(block_on(read_car("x", &car)).unwrap_err().code(), "CORRUPT");
        car.truncate(n - 3);
        assert!(block_on(read_car("x", &car)).is_err());
    }
}
