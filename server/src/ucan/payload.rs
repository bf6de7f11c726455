//! The two payloads, delegation and invocation, and their mapping to and from IPLD maps.
//!
//! Invariant: decoding is closed-world: every required field is present with its type, timestamps
//! are integers within ±(2^53 − 1), and a field this subset does not know is an error. `to_ipld`
//! writes exactly the fields `from_ipld` reads, so a token re-encodes to the same bytes.

use std::collections::BTreeMap;

use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;

use super::command::Command;
use super::did::Did;
use super::error::DecodeError;
use super::fields::{bytes, command, did, link, links, map, nullable, time, Fields};
use super::policy::Policy;

/// Bytes of nonce in the tokens made here.
const NONCE_LEN: usize = 16;

/// What a token type contributes to the envelope: its tag and its fields.
pub trait Payload: Sized {
    /// The `<subspec>` of the envelope's `ucan/<subspec>@<version>` key.
    const TAG: &'static str;
    fn from_ipld(value: Ipld) -> Result<Self, DecodeError>;
    fn to_ipld(&self) -> Ipld;
    /// The principal that signs the token.
    fn issuer(&self) -> &Did;
}

/// A delegation: `iss` gives `aud` the right to `cmd` on `sub` (any subject if `None`: a powerline),
/// within `pol`, between `nbf` and `exp`.
#[derive(Clone, Debug, PartialEq)]
pub struct Delegation {
    pub iss: Did,
    pub aud: Did,
    pub sub: Option<Did>,
    pub cmd: Command,
    pub pol: Policy,
    pub nonce: Vec<u8>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub meta: Option<BTreeMap<String, Ipld>>,
}

/// An invocation: `iss` asks to run `cmd` with `args` on `sub`, proven by the delegations `prf`
/// (root first).
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub iss: Did,
    pub sub: Did,
    pub aud: Option<Did>,
    pub cmd: Command,
    pub args: BTreeMap<String, Ipld>,
    pub prf: Vec<Cid>,
    pub nonce: Vec<u8>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub meta: Option<BTreeMap<String, Ipld>>,
    pub cause: Option<Cid>,
}

/// A fresh random nonce for a new token.
pub fn random_nonce() -> Result<Vec<u8>, getrandom::Error> {
    let mut nonce = vec![0; NONCE_LEN];
    getrandom::fill(&mut nonce)?;
    Ok(nonce)
}

impl Delegation {
    /// A delegation with no policy, no `nbf`, no `meta` and a fresh random nonce.
    pub fn new(
        iss: Did,
        aud: Did,
        sub: Option<Did>,
        cmd: Command,
        exp: Option<i64>,
    ) -> Result<Self, getrandom::Error> {
        Ok(Delegation {
            iss,
            aud,
            sub,
            cmd,
            pol: Policy::default(),
            nonce: random_nonce()?,
            exp,
            nbf: None,
            meta: None,
        })
    }
}

impl Invocation {
    /// An invocation with no `aud`, `iat`, `meta` or `cause` and a fresh random nonce.
    pub fn new(
        iss: Did,
        sub: Did,
        cmd: Command,
        args: BTreeMap<String, Ipld>,
        prf: Vec<Cid>,
        exp: Option<i64>,
    ) -> Result<Self, getrandom::Error> {
        Ok(Invocation {
            iss,
            sub,
            aud: None,
            cmd,
            args,
            prf,
            nonce: random_nonce()?,
            exp,
            iat: None,
            meta: None,
            cause: None,
        })
    }
}

impl Payload for Delegation {
    const TAG: &'static str = "dlg";

    fn from_ipld(value: Ipld) -> Result<Self, DecodeError> {
        let mut f = Fields::of(value)?;
        let d = Delegation {
            iss: did("iss", f.take("iss")?)?,
            aud: did("aud", f.take("aud")?)?,
            sub: nullable(f.take("sub")?, |v| did("sub", v))?,
            cmd: command(f.take("cmd")?)?,
            pol: Policy::from_ipld(f.take("pol")?)?,
            nonce: bytes("nonce", f.take("nonce")?)?,
            exp: nullable(f.take("exp")?, |v| time("exp", v))?,
            nbf: f.take_opt("nbf").map(|v| time("nbf", v)).transpose()?,
            meta: f.take_opt("meta").map(|v| map("meta", v)).transpose()?,
        };
        f.finish()?;
        Ok(d)
    }

    fn to_ipld(&self) -> Ipld {
        let mut m = BTreeMap::new();
        put(&mut m, "iss", did_ipld(&self.iss));
        put(&mut m, "aud", did_ipld(&self.aud));
        put(
            &mut m,
            "sub",
            self.sub.as_ref().map_or(Ipld::Null, did_ipld),
        );
        put(&mut m, "cmd", Ipld::String(self.cmd.to_string()));
        put(&mut m, "pol", self.pol.to_ipld());
        put(&mut m, "nonce", Ipld::Bytes(self.nonce.clone()));
        put(&mut m, "exp", self.exp.map_or(Ipld::Null, |t| t.into()));
        if let Some(nbf) = self.nbf {
            put(&mut m, "nbf", nbf.into());
        }
        if let Some(meta) = &self.meta {
            put(&mut m, "meta", Ipld::Map(meta.clone()));
        }
        Ipld::Map(m)
    }

    fn issuer(&self) -> &Did {
        &self.iss
    }
}

impl Payload for Invocation {
    const TAG: &'static str = "inv";

    fn from_ipld(value: Ipld) -> Result<Self, DecodeError> {
        let mut f = Fields::of(value)?;
        let i = Invocation {
            iss: did("iss", f.take("iss")?)?,
            sub: did("sub", f.take("sub")?)?,
            aud: f.take_opt("aud").map(|v| did("aud", v)).transpose()?,
            cmd: command(f.take("cmd")?)?,
            args: map("args", f.take("args")?)?,
            prf: links("prf", f.take("prf")?)?,
            nonce: bytes("nonce", f.take("nonce")?)?,
            exp: nullable(f.take("exp")?, |v| time("exp", v))?,
            iat: f.take_opt("iat").map(|v| time("iat", v)).transpose()?,
            meta: f.take_opt("meta").map(|v| map("meta", v)).transpose()?,
            cause: f.take_opt("cause").map(|v| link("cause", v)).transpose()?,
        };
        f.finish()?;
        Ok(i)
    }

    fn to_ipld(&self) -> Ipld {
        let mut m = BTreeMap::new();
        put(&mut m, "iss", did_ipld(&self.iss));
        put(&mut m, "sub", did_ipld(&self.sub));
        if let Some(aud) = &self.aud {
            put(&mut m, "aud", did_ipld(aud));
        }
        put(&mut m, "cmd", Ipld::String(self.cmd.to_string()));
        put(&mut m, "args", Ipld::Map(self.args.clone()));
        let prf = self.prf.iter().map(|c| Ipld::Link(*c)).collect();
        put(&mut m, "prf", Ipld::List(prf));
        put(&mut m, "nonce", Ipld::Bytes(self.nonce.clone()));
        put(&mut m, "exp", self.exp.map_or(Ipld::Null, |t| t.into()));
        if let Some(iat) = self.iat {
            put(&mut m, "iat", iat.into());
        }
        if let Some(meta) = &self.meta {
            put(&mut m, "meta", Ipld::Map(meta.clone()));
        }
        if let Some(cause) = self.cause {
            put(&mut m, "cause", Ipld::Link(cause));
        }
        Ipld::Map(m)
    }

    fn issuer(&self) -> &Did {
        &self.iss
    }
}

fn put(m: &mut BTreeMap<String, Ipld>, key: &str, value: Ipld) {
    m.insert(key.to_owned(), value);
}

fn did_ipld(d: &Did) -> Ipld {
    Ipld::String(d.to_string())
}
