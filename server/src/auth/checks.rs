//! The checks of one invocation against one request (docs/auth.md §7.2, steps 2–9).
//!
//! Invariant: the steps run in the documented order and stop at the first failure; a proof is only
//! ever one of the ledger's registered delegations (or the pending root of a ledger being created),
//! decoded from the store's bytes and looked up under its own CID.

use std::collections::BTreeMap;

use axum::http::Method;
use ferroproof_server::ucan::{
    verify_invocation, Delegation, Did, Invocation, Ipld, Proofs, Signed, VerifyError,
};
use sha2::{Digest, Sha256};

use super::{
    decode_token, did_name, is_invite, now, Auth, AuthError, Grant, Level, Need, MAX_LIFETIME,
    MAX_PROOFS,
};
use crate::store::Area;

/// What the invocation must be bound to, and the token that came with the request.
pub struct Request<'a> {
    pub method: &'a Method,
    /// The request's path exactly as sent, without the query.
    pub path: &'a str,
    pub body: &'a [u8],
    /// The base64url token (`Authorization: Bearer …` or the `auth` query parameter).
    pub token: Option<&'a str>,
}

impl Request<'_> {
    /// The `args` an invocation for this request must carry.
    fn args(&self) -> BTreeMap<String, Ipld> {
        BTreeMap::from([
            ("method".into(), Ipld::String(self.method.as_str().into())),
            ("path".into(), Ipld::String(self.path.into())),
            (
                "body".into(),
                Ipld::Bytes(Sha256::digest(self.body).to_vec()),
            ),
        ])
    }
}

pub async fn check(
    auth: &Auth,
    ledger: &Did,
    req: &Request<'_>,
    need: &Need,
    pending: Option<&Signed<Delegation>>,
) -> Result<Grant, AuthError> {
    let Some(text) = req.token else {
        return Err(AuthError::unauthorized("missing authorization"));
    };
    let bytes = decode_token(text).ok_or(AuthError::unauthorized("malformed authorization"))?;
    let inv = Signed::<Invocation>::decode(&bytes)
        .map_err(|e| AuthError::unauthorized(format!("malformed invocation: {e}")))?;
    let i = inv.payload();
    let now = now();
    match i.exp {
        None => return Err(AuthError::unauthorized("invocation needs an exp")),
        Some(exp) if exp > now + MAX_LIFETIME => {
            return Err(AuthError::unauthorized(
                "invocation lifetime over 5 minutes",
            ))
        }
        Some(_) => {}
    }
    if !(12..=64).contains(&i.nonce.len()) {
        return Err(AuthError::unauthorized("nonce must be 12 to 64 bytes"));
    }
    if i.sub != *ledger {
        return Err(AuthError::forbidden("token is for another ledger"));
    }
    if i.aud.is_some_and(|a| a != *ledger) {
        return Err(AuthError::forbidden("token is addressed to someone else"));
    }
    let allowed = match need {
        Need::Level(level) => Level::of(&i.cmd).is_some_and(|l| l >= *level),
        Need::Delegate(cmd) => i.cmd == *cmd,
    };
    if !allowed {
        return Err(AuthError::forbidden(format!(
            "command {} does not allow this request",
            i.cmd
        )));
    }
    if i.args != req.args() {
        return Err(AuthError::forbidden(
            "invocation is bound to another request",
        ));
    }
    // the invocation's own signature before any store read: a forged token costs none
    if !inv.signature_valid() {
        return Err(refusal(VerifyError::InvalidSignature(inv.cid())));
    }
    let chain = load_chain(auth, ledger, i, pending).await?;
    let proofs: Proofs = chain.iter().cloned().collect();
    verify_invocation(&inv, &proofs, now).map_err(refusal)?;
    let id = ledger.to_string();
    let revoked = auth.revoked(&id).await?;
    if let Some(d) = chain
        .iter()
        .find(|d| revoked.contains(&did_name(&d.payload().aud)))
    {
        return Err(AuthError::forbidden(format!(
            "{} is revoked",
            d.payload().aud
        )));
    }
    let invite_key = chain.last().is_some_and(|d| is_invite(d.payload()));
    if invite_key && !matches!(need, Need::Delegate(_)) {
        return Err(AuthError::forbidden("an invite key can only redeem"));
    }
    Ok(Grant {
        invocation: inv,
        chain,
        invite_key,
    })
}

/// The delegations `prf` cites, root first, from the store (or `pending`).
async fn load_chain(
    auth: &Auth,
    ledger: &Did,
    i: &Invocation,
    pending: Option<&Signed<Delegation>>,
) -> Result<Vec<Signed<Delegation>>, AuthError> {
    if i.prf.len() > MAX_PROOFS {
        return Err(AuthError::unauthorized("too many proofs"));
    }
    let id = ledger.to_string();
    let mut chain = Vec::with_capacity(i.prf.len());
    for cid in &i.prf {
        if let Some(p) = pending.filter(|p| p.cid() == *cid) {
            chain.push(p.clone());
            continue;
        }
        let stored = auth
            .store
            .get_record(&id, Area::Ucans, &cid.to_string())
            .await?;
        let d = stored
            .and_then(|b| Signed::<Delegation>::decode(&b).ok())
            .ok_or_else(|| AuthError::unauthorized(format!("proof {cid} is not registered")))?;
        chain.push(d);
    }
    Ok(chain)
}

/// 401 for a token that is not genuine or not current, 403 for a genuine one without the right.
fn refusal(e: VerifyError) -> AuthError {
    let reason = e.to_string();
    match e {
        VerifyError::InvalidSignature(_)
        | VerifyError::Expired { .. }
        | VerifyError::TooEarly { .. }
        | VerifyError::UnavailableProof(_) => AuthError::unauthorized(reason),
        VerifyError::InvalidAudience { .. }
        | VerifyError::InvalidSubject { .. }
        | VerifyError::InvalidClaim(_)
        | VerifyError::CommandNotDelegated { .. }
        | VerifyError::MatchError(_) => AuthError::forbidden(reason),
    }
}
