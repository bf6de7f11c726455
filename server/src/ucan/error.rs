//! Errors, one type per operation: decoding a token, signing one, verifying a chain.
//!
//! Invariant: `VerifyError`'s variants are named after the reasons of the spec's fixtures
//! (`tests/fixtures/ucan-1.0.0/invocation.json`), plus the few refusals the fixtures do not cover;
//! every message is short, lowercase and names the offending value.

use ipld_core::cid::Cid;
use thiserror::Error;

use super::command::Command;
use super::did::Did;

/// Why a string is not an Ed25519 `did:key`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DidError {
    #[error("not a did:key")]
    NotDidKey,
    #[error("did:key is not base58btc (z…)")]
    NotBase58btc,
    #[error("did is too long ({0} bytes)")]
    TooLong(usize),
    #[error("did:key has no valid multicodec prefix")]
    BadMulticodec,
    #[error("unsupported did:key type 0x{0:x} (only Ed25519, 0xed)")]
    UnsupportedKeyType(u64),
    #[error("Ed25519 did:key holds {0} bytes, not 32")]
    KeyLength(usize),
    #[error("did:key is not a valid Ed25519 public key")]
    InvalidKey,
}

/// Why bytes are not a token of this subset.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("token is {0} bytes, over the limit")]
    TooLarge(usize),
    #[error("not DAG-CBOR: {0}")]
    NotDagCbor(String),
    #[error("not canonical DAG-CBOR")]
    NonCanonical,
    #[error("bad envelope: {0}")]
    Envelope(&'static str),
    #[error("unsupported varsig header {0:02x?} (only Ed25519 + DAG-CBOR)")]
    UnsupportedVarsig(Vec<u8>),
    #[error("unexpected token type {found:?} (wanted ucan/{wanted}@1.0.0)")]
    TokenType { found: String, wanted: &'static str },
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("unknown field `{0}`")]
    UnknownField(String),
    #[error("field `{field}` must be {expected}")]
    FieldType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("field `{field}`: {source}")]
    Did {
        field: &'static str,
        source: DidError,
    },
    #[error("command {command:?} {reason}")]
    Command {
        command: String,
        reason: &'static str,
    },
    #[error("bad policy: {0}")]
    Policy(String),
}

/// Why a token could not be made.
#[derive(Debug, Error)]
pub enum SignError {
    #[error("signing key is not the issuer {0}")]
    NotIssuer(Did),
    #[error("cannot encode the payload: {0}")]
    Encode(String),
}

/// Why an invocation (or a delegation) is not authorized, named as in the spec's fixtures.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// A signature does not verify against its issuer's key.
    #[error("invalid signature on {0}")]
    InvalidSignature(Cid),
    /// `now` is after a token's `exp`.
    #[error("{cid} expired at {exp}")]
    Expired { cid: Cid, exp: i64 },
    /// `now` is before a delegation's `nbf`.
    #[error("{cid} is not valid before {nbf}")]
    TooEarly { cid: Cid, nbf: i64 },
    /// A CID in `prf` is not among the proofs given.
    #[error("proof {0} is not available")]
    UnavailableProof(Cid),
    /// Principal misalignment: an audience is not the next issuer (or the invoker).
    #[error("audience {expected} is not the next issuer {found}")]
    InvalidAudience { expected: Did, found: Did },
    /// A delegation's subject is not the invocation's subject.
    #[error("subject {found} is not the invoked subject {expected}")]
    InvalidSubject { expected: Did, found: Did },
    /// The chain does not start at the subject (no proofs for another's subject, a powerline or a
    /// foreign issuer at the root).
    #[error("invalid claim: {0}")]
    InvalidClaim(&'static str),
    /// A delegation or the invocation widens the command it was given.
    #[error("command {requested} is not covered by the delegated {delegated}")]
    CommandNotDelegated {
        delegated: Command,
        requested: Command,
    },
    /// The invocation's `args` fail a delegation's policy.
    #[error("arguments do not match the policy of {0}")]
    MatchError(Cid),
}
