//! The HTTP side of authorization: `guard` (every handler's check without `--open`) and the routes
//! that exist only without `--open` (docs/auth.md §7.4): creating a ledger from its root
//! delegation, registering delegations (and redeeming invites), members, revocation.
//!
//! Invariant: every record written here is create-only and written only after the request's
//! invocation passed `Auth::check`; an invite key's one redemption is made exclusive by its `spent`
//! marker, created before the delegation it issues is stored.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferroproof_server::ucan::{verify_delegation, Delegation, Did, Signed, VerifyError};
use serde::Deserialize;
use serde_json::json;

use crate::api::{known_ledger, App};
use crate::auth::{self, bearer, did_name, now, AuthError, Grant, Level, Need, Request};
use crate::names::valid_token_name;
use crate::reply::{read_limited, ApiError, ApiResult};
use crate::store::Area;

/// Without `--open`: the ledger exists and `req` carries an invocation allowing `level` on it.
pub async fn guard(
    app: &App,
    ledger: &str,
    req: &Request<'_>,
    need: Need,
) -> ApiResult<Option<Grant>> {
    let Some(auth) = &app.auth else {
        return Ok(None);
    };
    known_ledger(app, ledger).await?;
    let did = Did::parse(ledger)
        .map_err(|_| ApiError::Plain(StatusCode::BAD_REQUEST, "malformed ledger id"))?;
    Ok(Some(auth.check(&did, req, &need, None).await?))
}

/// A request's facts for `guard`, with its token (the `Authorization` header or `?auth=`).
pub fn request<'a>(
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
) -> Request<'a> {
    Request {
        method,
        path: uri.path(),
        body,
        token: bearer(headers, uri),
    }
}

/// Largest body of `POST /revoke`.
const MAX_REVOKE_BODY: usize = 1024;

fn bad(reason: impl Into<String>) -> ApiError {
    ApiError::Auth(AuthError {
        status: StatusCode::BAD_REQUEST,
        reason: reason.into(),
    })
}

fn millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// `POST /v1/ledgers` without `--open`: the body is the root delegation, the invocation uses it.
pub async fn create_ledger(app: &App, req: &auth::Request<'_>, body: &[u8]) -> ApiResult<Response> {
    if req.token.is_none() {
        return Err(AuthError::unauthorized("missing authorization").into());
    }
    let root = Signed::<Delegation>::decode(body)
        .map_err(|e| bad(format!("body is not a delegation: {e}")))?;
    let r = root.payload();
    let (Some(ledger), true, Some(_)) = (r.sub, r.cmd.to_string() == "/ledger", r.exp) else {
        return Err(bad("not a root delegation (sub, cmd /ledger, exp)"));
    };
    if r.iss != ledger {
        return Err(bad("not a root delegation (iss must be sub)"));
    }
    let Some(auth) = &app.auth else {
        return Err(bad("this server runs --open"));
    };
    let grant = auth
        .check(&ledger, req, &Need::Delegate(r.cmd.clone()), Some(&root))
        .await?;
    if grant.invocation.payload().prf != [root.cid()] {
        return Err(AuthError::forbidden("prf must be exactly the root delegation").into());
    }
    let id = ledger.to_string();
    let cid = root.cid().to_string();
    let exists = || {
        ApiError::Auth(AuthError {
            status: StatusCode::CONFLICT,
            reason: "ledger exists".into(),
        })
    };
    // an existing ledger is refused before anything is stored (only a create racing another
    // still stores its root: a delegation the ledger key signed all the same)
    if app.store.ledger_exists(&id).await? {
        return Err(exists());
    }
    app.store
        .put_record(&id, Area::Ucans, &cid, root.bytes().to_vec())
        .await?;
    let marker = json!({ "created": millis(), "root": cid }).to_string();
    if !app.store.create_ledger(&id, marker.into_bytes()).await? {
        return Err(exists());
    }
    Ok((StatusCode::CREATED, Json(json!({ "ledger": id }))).into_response())
}

/// `PUT /v1/ledgers/{ledger}/ucans/{cid}`: registers a delegation its issuer invokes for.
pub async fn register(
    State(app): State<App>,
    Path((ledger, cid)): Path<(String, String)>,
    (method, uri): (Method, Uri),
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    if !app.valid_ledger(&ledger) {
        // plain text, as on every route (docs/server.md "Errors")
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "malformed ledger id",
        ));
    }
    if !valid_token_name(&cid) {
        return Err(bad("malformed delegation cid"));
    }
    let bytes = read_limited(&headers, body, ferroproof_server::ucan::MAX_TOKEN_BYTES).await?;
    let d = Signed::<Delegation>::decode(&bytes)
        .map_err(|e| bad(format!("body is not a delegation: {e}")))?;
    let p = d.payload();
    if d.cid().to_string() != cid {
        return Err(bad("cid does not match the delegation"));
    }
    if p.sub.is_none_or(|s| s.to_string() != ledger) {
        return Err(bad("delegation is for another ledger"));
    }
    if p.exp.is_none() {
        return Err(bad("delegation needs an exp"));
    }
    if Level::of(&p.cmd).is_none() {
        return Err(bad(
            "cmd must be /ledger, /ledger/read, /ledger/write or /ledger/admin",
        ));
    }
    match verify_delegation(&d, now()) {
        Ok(()) => {}
        Err(e @ VerifyError::InvalidSignature(_)) => return Err(bad(e.to_string())),
        Err(e) => return Err(AuthError::unauthorized(e.to_string()).into()),
    }
    let req = request(&method, &uri, &headers, &bytes);
    let Some(grant) = guard(&app, &ledger, &req, Need::Delegate(p.cmd.clone())).await? else {
        return Err(bad("this server runs --open"));
    };
    if grant.invocation.payload().iss != p.iss {
        return Err(
            AuthError::forbidden("the delegation's issuer must invoke its registration").into(),
        );
    }
    let revoked = app.store.list_records(&ledger, Area::Revoked).await?;
    if revoked.contains(&did_name(&p.aud)) {
        return Err(AuthError::forbidden(format!("{} is revoked", p.aud)).into());
    }
    if grant.invite_key {
        redeem(&app, &ledger, &p.iss, &cid).await?;
    }
    match app
        .store
        .put_record(&ledger, Area::Ucans, &cid, bytes.to_vec())
        .await?
    {
        true => Ok(StatusCode::CREATED),
        false => Ok(StatusCode::OK),
    }
}

/// Spends invite key `key` on delegation `cid`: 409 if it was spent on another one.
async fn redeem(app: &App, ledger: &str, key: &Did, cid: &str) -> ApiResult<()> {
    let name = did_name(key);
    let marker = json!({ "by": cid }).to_string().into_bytes();
    if app
        .store
        .put_record(ledger, Area::Spent, &name, marker)
        .await?
    {
        return Ok(());
    }
    let spent = app.store.get_record(ledger, Area::Spent, &name).await?;
    let by = spent.and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    if by.is_some_and(|v| v["by"] == cid) {
        return Ok(());
    }
    Err(ApiError::Auth(AuthError {
        status: StatusCode::CONFLICT,
        reason: "invite already redeemed".into(),
    }))
}

/// `GET /v1/ledgers/{ledger}/members` (admin).
pub async fn members(
    State(app): State<App>,
    Path(ledger): Path<String>,
    (method, uri): (Method, Uri),
    headers: HeaderMap,
) -> ApiResult<Response> {
    let req = request(&method, &uri, &headers, b"");
    guard(&app, &ledger, &req, Need::Level(Level::Admin)).await?;
    let did = Did::parse(&ledger).map_err(|_| bad("malformed ledger id"))?;
    Ok(Json(auth::members(&app.store, &did).await?).into_response())
}

#[derive(Deserialize)]
struct Revoke {
    did: String,
}

/// `POST /v1/ledgers/{ledger}/revoke` (admin), body `{"did": …}`.
pub async fn revoke(
    State(app): State<App>,
    Path(ledger): Path<String>,
    (method, uri): (Method, Uri),
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let bytes = read_limited(&headers, body, MAX_REVOKE_BODY).await?;
    let req = request(&method, &uri, &headers, &bytes);
    let Some(grant) = guard(&app, &ledger, &req, Need::Level(Level::Admin)).await? else {
        return Err(bad("this server runs --open"));
    };
    let Ok(Revoke { did }) = serde_json::from_slice(&bytes) else {
        return Err(bad("body must be {\"did\": \"did:key:…\"}"));
    };
    let did = Did::parse(&did).map_err(|e| bad(format!("did: {e}")))?;
    if did.to_string() == ledger {
        return Err(bad("the ledger itself cannot be revoked"));
    }
    let by = grant.invocation.payload().iss.to_string();
    let record = json!({ "did": did.to_string(), "by": by, "at": millis() });
    let created = app
        .store
        .put_record(
            &ledger,
            Area::Revoked,
            &did_name(&did),
            record.to_string().into_bytes(),
        )
        .await?;
    if let Some(auth) = &app.auth {
        auth.forget_revoked(&ledger);
    }
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}
