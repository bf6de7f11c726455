//! UCAN 1.0 tokens: the subset this project uses for authorization (docs/auth.md).
//!
//! Owns the token format (a DAG-CBOR envelope signed with Ed25519 by a `did:key`), its decoding,
//! creation and the check of an invocation against its proof chain.
//!
//! Invariants: a decoded token is canonical DAG-CBOR (its bytes are exactly what encoding its value
//! gives back), so its CID and the signed bytes are stable; nothing here trusts a token before
//! `verify_*` has checked every signature, time bound, principal, subject, command and policy of the
//! chain; anything this subset does not understand (other key types, varsig headers, fields) is
//! refused, never ignored.

mod chain;
mod command;
mod did;
mod envelope;
mod error;
mod fields;
mod payload;
mod policy;
mod selector;

pub use chain::{verify_delegation, verify_invocation, Proofs};
pub use command::Command;
pub use did::Did;
pub use envelope::{Signed, SpecVersion, MAX_TOKEN_BYTES, VARSIG_ED25519_DAG_CBOR};
pub use error::{DecodeError, DidError, SignError, VerifyError};
pub use payload::{random_nonce, Delegation, Invocation, Payload};
pub use policy::Policy;

pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use ipld_core::cid::Cid;
pub use ipld_core::ipld::Ipld;
