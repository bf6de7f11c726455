//! Members: who holds access to a ledger, computed from its registered delegations (docs/auth.md
//! §7.6).
//!
//! Invariant: a DID is listed only if a path of unexpired delegations leads to it from the ledger
//! DID with no revoked audience on the way; its `can` never exceeds what the issuer on that path
//! holds, and invite keys are left out (their redeemers are listed).

use std::collections::{BTreeMap, HashSet};

use ferroproof_server::ucan::{Delegation, Did, Signed};
use serde_json::{json, Value};

use super::{did_name, is_invite, now, Level};
use crate::store::{Area, Store, StoreError};

struct Holder {
    level: Level,
    expires: Option<i64>,
    invite: bool,
}

/// `[{did, can, expires}]`, sorted by DID; `expires` is `null` for a delegation without expiry.
pub async fn members(store: &Store, ledger: &Did) -> Result<Vec<Value>, StoreError> {
    let id = ledger.to_string();
    let revoked: HashSet<String> = store
        .list_records(&id, Area::Revoked)
        .await?
        .into_iter()
        .collect();
    let now = now();
    let mut links: Vec<Delegation> = Vec::new();
    for cid in store.list_records(&id, Area::Ucans).await? {
        let Some(bytes) = store.get_record(&id, Area::Ucans, &cid).await? else {
            continue;
        };
        let Ok(d) = Signed::<Delegation>::decode(&bytes) else {
            continue;
        };
        let p = d.payload();
        let current = p.exp.is_none_or(|e| now <= e) && p.nbf.is_none_or(|n| n <= now);
        if current && p.sub == Some(*ledger) && !revoked.contains(&did_name(&p.aud)) {
            links.push(p.clone());
        }
    }
    let mut holders: BTreeMap<String, Holder> = BTreeMap::new();
    holders.insert(
        id.clone(),
        Holder {
            level: Level::Admin,
            expires: None,
            invite: false,
        },
    );
    // Levels only grow and are bounded, so this reaches a fixed point.
    loop {
        let mut changed = false;
        for d in &links {
            let Some(from) = holders.get(&d.iss.to_string()).map(|h| h.level) else {
                continue;
            };
            let Some(level) = Level::of(&d.cmd).map(|l| l.min(from)) else {
                continue;
            };
            let invite = is_invite(d);
            let Some(h) = holders.get_mut(&d.aud.to_string()) else {
                let holder = Holder {
                    level,
                    expires: d.exp,
                    invite,
                };
                holders.insert(d.aud.to_string(), holder);
                changed = true;
                continue;
            };
            let expires = match (h.expires, d.exp) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            if level > h.level || expires != h.expires || (invite && !h.invite) {
                changed = true;
                h.level = h.level.max(level);
                h.expires = expires;
                h.invite |= invite;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(holders
        .into_iter()
        .filter(|(did, h)| *did != id && !h.invite)
        .map(|(did, h)| json!({ "did": did, "can": h.level.as_str(), "expires": h.expires }))
        .collect())
}
