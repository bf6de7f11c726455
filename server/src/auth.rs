//! Authorization without `--open` (docs/auth.md §7): checks the invocation each request carries
//! against the ledger's registered delegations, revocations and replay set.
//!
//! Invariant: `Auth::check` returns a `Grant` only if every step of docs/auth.md §7.2 passed, in
//! that order, and the invocation's replay marker was created by this call; every refusal is a
//! 401 or 403 with a short reason, and a store failure is a 503, never a grant.

mod checks;
mod members;
mod replay;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ferroproof_server::ucan::{Command, Delegation, Did, Invocation, Ipld, Signed};
use serde_json::json;

use crate::names::name_of;
use crate::store::{Area, Store, StoreError};

pub use checks::Request;
pub use members::members;

/// Longest lifetime an invocation may ask for (5 minutes plus 60 s of clock skew).
pub const MAX_LIFETIME: i64 = 360;
/// Most delegations an invocation may cite.
pub const MAX_PROOFS: usize = 8;

/// What a request needs: a level, or (registering a delegation) exactly the delegated command.
#[derive(Clone, Debug)]
pub enum Need {
    Level(Level),
    Delegate(Command),
}

/// Request levels: read < write < admin (docs/auth.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Read,
    Write,
    Admin,
}

impl Level {
    /// The level of one of the ledger commands; `None` for any other command.
    pub fn of(cmd: &Command) -> Option<Level> {
        match cmd.to_string().as_str() {
            "/ledger/read" => Some(Level::Read),
            "/ledger/write" => Some(Level::Write),
            "/ledger/admin" | "/ledger" => Some(Level::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Admin => "admin",
        }
    }
}

/// A refusal: status and a short reason, answered as `{"error": reason}`.
#[derive(Debug)]
pub struct AuthError {
    pub status: StatusCode,
    pub reason: String,
}

impl AuthError {
    pub fn unauthorized(reason: impl Into<String>) -> AuthError {
        AuthError {
            status: StatusCode::UNAUTHORIZED,
            reason: reason.into(),
        }
    }
    pub fn forbidden(reason: impl Into<String>) -> AuthError {
        AuthError {
            status: StatusCode::FORBIDDEN,
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        if let StoreError::Unavailable(msg) = &e {
            eprintln!("store unavailable: {msg}");
        }
        AuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: "store unavailable".into(),
        }
    }
}

/// Longest reason sent back (a reason may quote a field of the client's token).
const MAX_REASON: usize = 200;

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut reason = self.reason;
        if reason.len() > MAX_REASON {
            let mut end = MAX_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push('…');
        }
        (self.status, Json(json!({ "error": reason }))).into_response()
    }
}

/// An accepted invocation and the chain that proves it (root first).
#[derive(Clone, Debug)]
pub struct Grant {
    pub invocation: Signed<Invocation>,
    pub chain: Vec<Signed<Delegation>>,
    /// The invoker is an invite key (the audience of a delegation with `meta.invite = true`).
    pub invite_key: bool,
}

/// The authorization checker of one server instance.
#[derive(Clone)]
pub struct Auth {
    pub store: Store,
    replay: Arc<replay::Cleaner>,
    /// Each ledger's revoked set as open sockets' rechecks last listed it, and when: listed at
    /// most once per [`RECHECK_TTL`] whatever the number of watchers (a revoke through this
    /// instance drops it at once).
    recent: Arc<std::sync::Mutex<HashMap<String, Listed>>>,
}

/// A ledger's revoked set and when it was listed.
type Listed = (Instant, Arc<HashSet<String>>);

/// How long an open socket's recheck may use a ledger's revoked set listed by another one.
const RECHECK_TTL: Duration = Duration::from_secs(1);

impl Auth {
    pub fn new(store: Store) -> Auth {
        Auth {
            replay: Arc::new(replay::Cleaner::default()),
            store,
            recent: Arc::default(),
        }
    }

    /// Forgets the revoked set the rechecks keep for `ledger` (after a revoke here).
    pub fn forget_revoked(&self, ledger: &str) {
        self.recent.lock().unwrap().remove(ledger);
    }

    /// [`Auth::revoked`] for a recheck: at most [`RECHECK_TTL`] old.
    async fn revoked_recently(&self, ledger: &str) -> Result<Arc<HashSet<String>>, StoreError> {
        if let Some((at, set)) = self.recent.lock().unwrap().get(ledger) {
            if at.elapsed() < RECHECK_TTL {
                return Ok(set.clone());
            }
        }
        let set = Arc::new(self.revoked(ledger).await?);
        let mut recent = self.recent.lock().unwrap();
        recent.retain(|_, (at, _)| at.elapsed() < RECHECK_TTL);
        recent.insert(ledger.to_string(), (Instant::now(), set.clone()));
        Ok(set)
    }

    /// Checks `req` against the ledger named by DID `ledger`, then records its nonce; `pending` is a
    /// proof not yet registered (the root, while the ledger is being created).
    pub async fn check(
        &self,
        ledger: &Did,
        req: &Request<'_>,
        need: &Need,
        pending: Option<&Signed<Delegation>>,
    ) -> Result<Grant, AuthError> {
        let id = ledger.to_string();
        let grant = checks::check(self, ledger, req, need, pending).await?;
        let fresh = replay::mark(&self.store, &id, grant.invocation.payload()).await?;
        if !fresh {
            return Err(AuthError::unauthorized("replayed invocation"));
        }
        self.replay.maybe_clean(&self.store, &id);
        Ok(grant)
    }

    /// The revoked DIDs' record names of a ledger.
    pub async fn revoked(&self, ledger: &str) -> Result<HashSet<String>, StoreError> {
        Ok(self
            .store
            .list_records(ledger, Area::Revoked)
            .await?
            .into_iter()
            .collect())
    }

    /// Whether a chain still holds now (for an open WebSocket): `Err(reason)` once a delegation has
    /// expired or a DID on it is revoked.
    pub async fn still_holds(
        &self,
        ledger: &str,
        chain: &[Signed<Delegation>],
    ) -> Result<(), &'static str> {
        let now = now();
        if chain
            .iter()
            .any(|d| d.payload().exp.is_some_and(|e| now > e))
        {
            return Err("delegation expired");
        }
        match self.revoked_recently(ledger).await {
            Ok(revoked)
                if chain
                    .iter()
                    .any(|d| revoked.contains(&did_name(&d.payload().aud))) =>
            {
                Err("revoked")
            }
            Ok(_) => Ok(()),
            // The store is down: keep the socket, the next notification checks again.
            Err(_) => Ok(()),
        }
    }
}

/// The record name of a DID (revocations, spent invites): `name_of` its 32 key bytes.
pub fn did_name(did: &Did) -> String {
    name_of(did.as_bytes())
}

/// Whether a delegation makes its audience an invite key.
pub fn is_invite(d: &Delegation) -> bool {
    d.meta
        .as_ref()
        .and_then(|m| m.get("invite"))
        .is_some_and(|v| *v == Ipld::Bool(true))
}

/// The token of a request: `Authorization: Bearer <base64url>`, else the query's
/// `auth=<base64url>` (a GET without headers of its own is a simple cross-origin request, so a
/// browser sends it without a CORS preflight; the WebSocket cannot set headers at all).
pub fn bearer<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    header.or_else(|| {
        uri.query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("auth=")))
    })
}

/// Decodes base64url (no padding) token text.
pub fn decode_token(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim()).ok()
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
