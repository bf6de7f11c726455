//! The signed envelope: DAG-CBOR `[signature, {"h": varsig header, "ucan/<tag>@<version>": payload}]`,
//! named by the CIDv1 (dag-cbor, sha2-256) of its bytes.
//!
//! Invariant: a `Signed` holds the exact bytes it was decoded from (or encoded to); they are canonical
//! DAG-CBOR, so `signed_bytes` (the inner map) is what the issuer signed and `cid` is stable. Decoding
//! checks the shape, never the signature: `signature_valid` (called by the chain check) does that.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey};
use ipld_core::cid::multihash::Multihash;
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};

use super::did::Did;
use super::error::{DecodeError, SignError};
use super::payload::Payload;

/// Varsig v1 header for Ed25519 signatures over DAG-CBOR: `0x34` varsig, `0x01` version, `0xed`
/// Ed25519 public key, `0xed` EdDSA, `0x13` SHA2-512, `0x71` DAG-CBOR (each an unsigned varint).
pub const VARSIG_ED25519_DAG_CBOR: [u8; 8] = [0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71];
/// Largest token accepted, checked before parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

const DAG_CBOR: u64 = 0x71;
const SHA2_256: u64 = 0x12;

/// The spec version named in a token's tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecVersion {
    /// `@1.0.0`, what tokens made here carry.
    V1,
    /// `@1.0.0-rc.1`, accepted on decode.
    Rc1,
}

/// A decoded (not yet verified) token with its bytes and CID.
#[derive(Clone, Debug)]
pub struct Signed<P> {
    payload: P,
    version: SpecVersion,
    signature: Vec<u8>,
    signed_bytes: Vec<u8>,
    bytes: Vec<u8>,
    cid: Cid,
}

impl<P: Payload> Signed<P> {
    /// Decodes a token of type `P`; refuses anything not canonical or not Ed25519 + DAG-CBOR.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_TOKEN_BYTES {
            return Err(DecodeError::TooLarge(bytes.len()));
        }
        let value: Ipld = serde_ipld_dagcbor::from_slice(bytes)
            .map_err(|e| DecodeError::NotDagCbor(e.to_string()))?;
        if encode(&value).ok().as_deref() != Some(bytes) {
            return Err(DecodeError::NonCanonical);
        }
        let Ipld::List(parts) = value else {
            return Err(DecodeError::Envelope("not a list"));
        };
        let [Ipld::Bytes(signature), Ipld::Map(mut inner)] = <[Ipld; 2]>::try_from(parts)
            .map_err(|_| DecodeError::Envelope("not [signature, payload]"))?
        else {
            return Err(DecodeError::Envelope("not [bytes, map]"));
        };
        let signed_bytes =
            encode(&Ipld::Map(inner.clone())).map_err(|_| DecodeError::NonCanonical)?;
        match inner.remove("h") {
            Some(Ipld::Bytes(h)) if h == VARSIG_ED25519_DAG_CBOR => {}
            Some(Ipld::Bytes(h)) => return Err(DecodeError::UnsupportedVarsig(h)),
            _ => return Err(DecodeError::Envelope("no varsig header `h`")),
        }
        let mut rest = inner.into_iter();
        let (Some((tag, payload)), None) = (rest.next(), rest.next()) else {
            return Err(DecodeError::Envelope("not exactly one payload beside `h`"));
        };
        let version = version_of::<P>(&tag)?;
        Ok(Signed {
            payload: P::from_ipld(payload)?,
            version,
            signature,
            signed_bytes,
            bytes: bytes.to_vec(),
            cid: cid_of(bytes),
        })
    }

    /// Signs `payload` with `key`, which must be the payload's issuer; the token carries `@1.0.0`.
    pub fn sign(payload: P, key: &SigningKey) -> Result<Self, SignError> {
        let issuer = *payload.issuer();
        if Did::from(key) != issuer {
            return Err(SignError::NotIssuer(issuer));
        }
        let tag = format!("ucan/{}@1.0.0", P::TAG);
        let header = Ipld::Bytes(VARSIG_ED25519_DAG_CBOR.to_vec());
        let inner = Ipld::Map(BTreeMap::from([
            ("h".into(), header),
            (tag, payload.to_ipld()),
        ]));
        let signed_bytes = encode(&inner).map_err(SignError::Encode)?;
        let signature = key.sign(&signed_bytes).to_bytes().to_vec();
        let envelope = Ipld::List(vec![Ipld::Bytes(signature.clone()), inner]);
        let bytes = encode(&envelope).map_err(SignError::Encode)?;
        Ok(Signed {
            payload,
            version: SpecVersion::V1,
            signature,
            signed_bytes,
            cid: cid_of(&bytes),
            bytes,
        })
    }

    /// Whether the signature is a valid (strict) Ed25519 signature by the payload's issuer.
    pub fn signature_valid(&self) -> bool {
        let Ok(signature) = <[u8; 64]>::try_from(self.signature.as_slice()) else {
            return false;
        };
        let signature = Signature::from_bytes(&signature);
        self.payload.issuer().verify(&self.signed_bytes, &signature)
    }

    pub fn payload(&self) -> &P {
        &self.payload
    }

    pub fn version(&self) -> SpecVersion {
        self.version
    }

    /// The envelope's bytes (what is sent and what the CID names).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn cid(&self) -> Cid {
        self.cid
    }
}

fn version_of<P: Payload>(tag: &str) -> Result<SpecVersion, DecodeError> {
    let wrong = || DecodeError::TokenType {
        found: tag.to_owned(),
        wanted: P::TAG,
    };
    let rest = tag
        .strip_prefix("ucan/")
        .and_then(|t| t.strip_prefix(P::TAG))
        .and_then(|t| t.strip_prefix('@'))
        .ok_or_else(wrong)?;
    match rest {
        "1.0.0" => Ok(SpecVersion::V1),
        "1.0.0-rc.1" => Ok(SpecVersion::Rc1),
        _ => Err(wrong()),
    }
}

fn encode(value: &Ipld) -> Result<Vec<u8>, String> {
    serde_ipld_dagcbor::to_vec(value).map_err(|e| e.to_string())
}

/// CIDv1, dag-cbor, sha2-256 of `bytes`.
fn cid_of(bytes: &[u8]) -> Cid {
    let digest = Sha256::digest(bytes);
    // A 32-byte digest always fits the 64-byte multihash; the fallback is unreachable.
    let hash = Multihash::wrap(SHA2_256, &digest).unwrap_or_default();
    Cid::new_v1(DAG_CBOR, hash)
}
