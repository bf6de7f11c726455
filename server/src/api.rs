//! HTTP routes (API v1, see docs/server.md): ledgers, create-only objects, listing, the one delete.
//!
//! Without `--open` each handler passes its request to `guard` (docs/auth.md §7) before touching
//! the ledger; the authorization-only routes are in `access`.
//!
//! Invariant: every path segment is validated by `names` before the store is touched; client input
//! is answered with a 4xx and a short plain-text reason (authorization refusals: JSON), store
//! failures with 503, never a panic.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower_http::cors::{Any, CorsLayer};

use crate::access::{self, guard, request};
use crate::auth::{Auth, Level, Need};
use crate::memory;
use crate::names::{
    looks_like_envelope, name_of, new_ledger_id, valid_did_ledger, valid_ledger, valid_name, Kind,
};
use crate::reply::{read_limited, ApiError, ApiResult};
use crate::store::Store;
use crate::watch::{self, Hub};

/// Largest (and default) page of a listing.
pub const MAX_LIST: usize = 1000;

/// The largest WebSocket message or frame a watcher may send (it sends nothing the server reads:
/// pongs, a close frame).
const WATCHER_MESSAGE_BYTES: usize = 4096;

#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub hub: Arc<Hub>,
    /// `None` with `--open`.
    pub auth: Option<Auth>,
}

impl App {
    /// A ledger id of this mode: random base32 with `--open`, a `did:key` without.
    pub fn valid_ledger(&self, id: &str) -> bool {
        match self.auth {
            None => valid_ledger(id),
            Some(_) => valid_did_ledger(id),
        }
    }
}

pub fn router(app: App) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(match app.auth {
            None => vec![header::CONTENT_TYPE],
            Some(_) => vec![header::CONTENT_TYPE, header::AUTHORIZATION],
        });
    let routes = match app.auth {
        None => Router::new(),
        Some(_) => Router::new()
            .route("/v1/ledgers/{ledger}/ucans/{cid}", put(access::register))
            .route("/v1/ledgers/{ledger}/members", get(access::members))
            .route("/v1/ledgers/{ledger}/revoke", post(access::revoke)),
    };
    routes
        .route("/health", get(|| async { "ok" }))
        .route("/v1/ledgers", post(create_ledger))
        .route("/v1/ledgers/{ledger}/watch", get(watch_ledger))
        .route("/v1/ledgers/{ledger}/get", post(crate::many::get_many))
        .route("/v1/ledgers/{ledger}/{kind}", get(list))
        .route("/v1/ledgers/{ledger}/{kind}/", get(list))
        .route(
            "/v1/ledgers/{ledger}/{kind}/{name}",
            // POST: the same create-only write, which a browser sends without a CORS preflight
            // (no headers of its own, the token in the query) where a PUT always has one
            get(get_object)
                .put(put_object)
                .post(put_object)
                .delete(delete_object),
        )
        .fallback(|| async { ApiError::Plain(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::Plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(cors)
        .with_state(app)
}

/// Checks the ledger id and that the ledger exists.
pub async fn known_ledger(app: &App, ledger: &str) -> ApiResult<()> {
    if !app.valid_ledger(ledger) {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "malformed ledger id",
        ));
    }
    if !app.store.ledger_exists(ledger).await? {
        return Err(ApiError::Plain(StatusCode::NOT_FOUND, "unknown ledger"));
    }
    Ok(())
}

fn parse_kind(kind: &str) -> ApiResult<Kind> {
    Kind::parse(kind).ok_or(ApiError::Plain(
        StatusCode::BAD_REQUEST,
        "kind must be cars or heads",
    ))
}

fn parse_name(name: &str) -> ApiResult<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "malformed object name",
        ))
    }
}

async fn create_ledger(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if app.auth.is_some() {
        let root = read_limited(&headers, body, ferroproof_server::ucan::MAX_TOKEN_BYTES).await?;
        return access::create_ledger(&app, &request(&method, &uri, &headers, &root), &root).await;
    }
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let body = json!({ "created": ms }).to_string().into_bytes();
    loop {
        let id = new_ledger_id();
        if app.store.create_ledger(&id, body.clone()).await? {
            return Ok((StatusCode::CREATED, Json(json!({ "ledger": id }))).into_response());
        }
    }
}

async fn put_object(
    State(app): State<App>,
    Path((ledger, kind, name)): Path<(String, String, String)>,
    (method, uri): (Method, Uri),
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let kind = parse_kind(&kind)?;
    parse_name(&name)?;
    if !app.valid_ledger(&ledger) {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "malformed ledger id",
        ));
    }
    // the body's memory is reserved before it is read (its declared length, else the bound)
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let _held = memory::reserve(declared.unwrap_or(usize::MAX).min(kind.max_bytes())).await?;
    let bytes = read_limited(&headers, body, kind.max_bytes()).await?;
    if name_of(&bytes) != name {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "name does not match bytes",
        ));
    }
    if !looks_like_envelope(&bytes) {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "not an FPRS v1 envelope",
        ));
    }
    known_ledger(&app, &ledger).await?;
    let req = request(&method, &uri, &headers, &bytes);
    guard(&app, &ledger, &req, Need::Level(Level::Write)).await?;
    if app.store.put(&ledger, kind, &name, bytes).await? {
        app.hub.announce(&ledger, kind, &name);
        Ok(StatusCode::CREATED)
    } else {
        Ok(StatusCode::OK)
    }
}

async fn get_object(
    State(app): State<App>,
    Path((ledger, kind, name)): Path<(String, String, String)>,
    (method, uri): (Method, Uri),
    headers: HeaderMap,
) -> ApiResult<Response> {
    let kind = parse_kind(&kind)?;
    parse_name(&name)?;
    if !app.valid_ledger(&ledger) {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "malformed ledger id",
        ));
    }
    let req = request(&method, &uri, &headers, b"");
    guard(&app, &ledger, &req, Need::Level(Level::Read)).await?;
    let held = memory::reserve(kind.max_bytes()).await?;
    let bytes = app.store.get(&ledger, kind, &name).await?;
    let held = held.keep(bytes.len());
    let body = memory::held_body(bytes, held);
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

async fn delete_object(
    State(app): State<App>,
    Path((ledger, kind, name)): Path<(String, String, String)>,
    (method, uri): (Method, Uri),
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let kind = parse_kind(&kind)?;
    parse_name(&name)?;
    if kind == Kind::Cars {
        return Err(ApiError::Plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "cars are never deleted",
        ));
    }
    known_ledger(&app, &ledger).await?;
    let req = request(&method, &uri, &headers, b"");
    guard(&app, &ledger, &req, Need::Level(Level::Write)).await?;
    app.store.delete(&ledger, kind, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Page {
    after: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(app): State<App>,
    Path((ledger, kind)): Path<(String, String)>,
    page: Result<Query<Page>, QueryRejection>,
    (method, uri): (Method, Uri),
    headers: HeaderMap,
) -> ApiResult<Response> {
    let kind = parse_kind(&kind)?;
    let Ok(Query(page)) = page else {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "query must be after=NAME&limit=N",
        ));
    };
    if let Some(a) = &page.after {
        parse_name(a)?;
    }
    let limit = page.limit.unwrap_or(MAX_LIST);
    if limit == 0 || limit > MAX_LIST {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "limit must be 1..=1000",
        ));
    }
    known_ledger(&app, &ledger).await?;
    let req = request(&method, &uri, &headers, b"");
    guard(&app, &ledger, &req, Need::Level(Level::Read)).await?;
    let (names, more) = app
        .store
        .list(&ledger, kind, page.after.as_deref(), limit)
        .await?;
    let mut out = json!({ "names": names });
    if more {
        out["next"] = json!(names.last());
    }
    Ok(Json(out).into_response())
}

async fn watch_ledger(
    State(app): State<App>,
    Path(ledger): Path<String>,
    (method, uri, headers): (Method, Uri, HeaderMap),
    slot: Option<axum::Extension<crate::serve::Slot>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    known_ledger(&app, &ledger).await?;
    let Ok(ws) = ws else {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            "expected a WebSocket upgrade",
        ));
    };
    // Browsers cannot set a WebSocket's headers: the token comes as `?auth=<base64url>`.
    let req = request(&method, &uri, &headers, b"");
    let recheck = match (
        guard(&app, &ledger, &req, Need::Level(Level::Read)).await?,
        &app.auth,
    ) {
        (Some(grant), Some(auth)) => Some(watch::Recheck {
            auth: auth.clone(),
            ledger: ledger.clone(),
            chain: grant.chain,
        }),
        _ => None,
    };
    let sub = app.hub.subscribe(&ledger);
    // A watcher sends nothing the server reads: a message over 4 KiB closes the socket instead of
    // being buffered (the default allows 64 MiB). The socket keeps its connection's slot.
    let ws = ws
        .max_message_size(WATCHER_MESSAGE_BYTES)
        .max_frame_size(WATCHER_MESSAGE_BYTES);
    Ok(ws.on_upgrade(move |socket| async move {
        let _slot = slot;
        watch::serve(socket, sub, recheck).await
    }))
}
