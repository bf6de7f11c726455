//! Verification: a delegation on its own, and an invocation against its proof chain.
//!
//! Invariant: `verify_invocation` returns `Ok` only if every token is signed by its issuer and valid
//! at `now`, the proofs (`prf`, root first) all resolve, the root is issued by the subject (never a
//! powerline), every subject is the invoked one or null, each audience is the next issuer and the
//! last one the invoker, no link widens the command, and the arguments satisfy every policy. Checks
//! run in a fixed order (invocation signature and time, proof lookup, proof signatures and times,
//! subject, principals, commands, policies), so a token with several faults gets a stable error.

use std::collections::HashMap;

use ipld_core::cid::Cid;

use super::envelope::Signed;
use super::error::VerifyError;
use super::payload::{Delegation, Invocation, Payload};

/// The delegations an invocation may cite, each under its own CID (so none can stand in for another).
#[derive(Clone, Debug, Default)]
pub struct Proofs(HashMap<Cid, Signed<Delegation>>);

impl Proofs {
    pub fn new() -> Proofs {
        Proofs::default()
    }

    pub fn insert(&mut self, d: Signed<Delegation>) {
        self.0.insert(d.cid(), d);
    }

    pub fn get(&self, cid: &Cid) -> Option<&Signed<Delegation>> {
        self.0.get(cid)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Signed<Delegation>> for Proofs {
    fn from_iter<I: IntoIterator<Item = Signed<Delegation>>>(iter: I) -> Proofs {
        let mut proofs = Proofs::new();
        iter.into_iter().for_each(|d| proofs.insert(d));
        proofs
    }
}

/// Checks a delegation on its own: its signature and its time bounds at `now` (Unix seconds).
pub fn verify_delegation(d: &Signed<Delegation>, now: i64) -> Result<(), VerifyError> {
    signed(d)?;
    let p = d.payload();
    in_time(d.cid(), p.nbf, p.exp, now)
}

/// Checks that `inv` is authorized at `now` (Unix seconds) by the delegations it cites in `proofs`.
pub fn verify_invocation(
    inv: &Signed<Invocation>,
    proofs: &Proofs,
    now: i64,
) -> Result<(), VerifyError> {
    let i = inv.payload();
    signed(inv)?;
    in_time(inv.cid(), None, i.exp, now)?;
    if i.prf.is_empty() {
        return match i.iss == i.sub {
            true => Ok(()),
            false => Err(VerifyError::InvalidClaim(
                "no proofs, and the invoker is not the subject",
            )),
        };
    }
    let chain = i
        .prf
        .iter()
        .map(|cid| proofs.get(cid).ok_or(VerifyError::UnavailableProof(*cid)))
        .collect::<Result<Vec<_>, _>>()?;
    for d in &chain {
        verify_delegation(d, now)?;
    }
    let links: Vec<&Delegation> = chain.iter().map(|d| d.payload()).collect();
    subjects(&links, i)?;
    principals(&links, i)?;
    commands(&links, i)?;
    for d in &chain {
        if !d.payload().pol.matches(&i.args) {
            return Err(VerifyError::MatchError(d.cid()));
        }
    }
    Ok(())
}

fn signed<P: Payload>(t: &Signed<P>) -> Result<(), VerifyError> {
    match t.signature_valid() {
        true => Ok(()),
        false => Err(VerifyError::InvalidSignature(t.cid())),
    }
}

/// Valid from `nbf` through `exp`, both inclusive (the spec: invalid before `nbf`, after `exp`).
fn in_time(cid: Cid, nbf: Option<i64>, exp: Option<i64>, now: i64) -> Result<(), VerifyError> {
    if let Some(nbf) = nbf.filter(|&nbf| now < nbf) {
        return Err(VerifyError::TooEarly { cid, nbf });
    }
    if let Some(exp) = exp.filter(|&exp| now > exp) {
        return Err(VerifyError::Expired { cid, exp });
    }
    Ok(())
}

/// The root names the subject and is issued by it; every later subject is the same or null.
fn subjects(links: &[&Delegation], i: &Invocation) -> Result<(), VerifyError> {
    let Some(root) = links.first() else {
        return Err(VerifyError::InvalidClaim("no proofs"));
    };
    match root.sub {
        None => {
            return Err(VerifyError::InvalidClaim(
                "the root delegation is a powerline",
            ))
        }
        Some(sub) if sub != root.iss => {
            return Err(VerifyError::InvalidClaim(
                "the root delegation is not issued by its subject",
            ))
        }
        Some(_) => {}
    }
    for d in links {
        if let Some(found) = d.sub.filter(|s| *s != i.sub) {
            return Err(VerifyError::InvalidSubject {
                expected: i.sub,
                found,
            });
        }
    }
    Ok(())
}

/// Each audience is the next issuer; the last audience is the invoker.
fn principals(links: &[&Delegation], i: &Invocation) -> Result<(), VerifyError> {
    let issuers = links.iter().skip(1).map(|d| d.iss).chain([i.iss]);
    for (d, next) in links.iter().zip(issuers) {
        if d.aud != next {
            return Err(VerifyError::InvalidAudience {
                expected: d.aud,
                found: next,
            });
        }
    }
    Ok(())
}

/// Each command is covered by the one before it, and the invoked one by the last.
fn commands(links: &[&Delegation], i: &Invocation) -> Result<(), VerifyError> {
    let later = links.iter().skip(1).map(|d| &d.cmd).chain([&i.cmd]);
    for (d, next) in links.iter().zip(later) {
        if !d.cmd.covers(next) {
            return Err(VerifyError::CommandNotDelegated {
                delegated: d.cmd.clone(),
                requested: next.clone(),
            });
        }
    }
    Ok(())
}
