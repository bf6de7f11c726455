//! `POST /v1/ledgers/{ledger}/get`: several objects in one request (docs/server.md), so that a
//! replica catching up does not pay a request per CAR. The body names them, one `cars/<name>` or
//! `heads/<name>` per line (at most [`MAX_KEYS`]); the answer is, for each in order, a 4-byte
//! big-endian length and the object's bytes, or [`ABSENT`] (no such object) or [`LATER`] (not
//! sent: the answer had reached [`MAX_BYTES`]; ask for it again).
//!
//! Invariant: the checks of a single GET (names before the store is touched, the ledger known, the
//! read level); an answer holds at most [`MAX_BYTES`] plus one object, and at most [`ANSWERS`]
//! are put together at once (each also reads one batch of [`PARALLEL`] objects).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::access::{guard, request};
use crate::api::{known_ledger, App};
use crate::auth::{Level, Need};
use crate::memory;
use crate::names::{valid_name, Kind};
use crate::reply::{read_limited, ApiError, ApiResult};
use crate::store::StoreError;

/// Most keys one request may name.
pub const MAX_KEYS: usize = 64;
/// Answer size past which the remaining objects are [`LATER`].
const MAX_BYTES: usize = 16 << 20;
/// Objects read from the store at once.
const PARALLEL: usize = 8;
/// Answers put together at once (the others wait their turn).
const ANSWERS: usize = 4;
/// Length marker of an absent object.
const ABSENT: u32 = u32::MAX;
/// Length marker of an object left out of this answer.
const LATER: u32 = u32::MAX - 1;

fn bad(reason: &'static str) -> ApiError {
    ApiError::Plain(StatusCode::BAD_REQUEST, reason)
}

/// The keys of a request body: `(kind, name)` per line.
fn keys(body: &[u8]) -> ApiResult<Vec<(Kind, &str)>> {
    const SHAPE: &str = "body must be 1 to 64 lines of cars/NAME or heads/NAME";
    let text = std::str::from_utf8(body).map_err(|_| bad(SHAPE))?;
    let mut out = Vec::new();
    for line in text.split('\n') {
        let (kind, name) = line.split_once('/').ok_or(bad(SHAPE))?;
        let kind = Kind::parse(kind).ok_or(bad(SHAPE))?;
        if !valid_name(name) {
            return Err(bad("malformed object name"));
        }
        out.push((kind, name));
    }
    if out.len() > MAX_KEYS {
        return Err(bad(SHAPE));
    }
    Ok(out)
}

pub async fn get_many(
    State(app): State<App>,
    Path(ledger): Path<String>,
    (method, uri): (Method, Uri),
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let body = read_limited(&headers, body, MAX_KEYS * 80).await?;
    let keys = keys(&body)?;
    known_ledger(&app, &ledger).await?;
    guard(
        &app,
        &ledger,
        &request(&method, &uri, &headers, &body),
        Need::Level(Level::Read),
    )
    .await?;
    // answers being put together at once (each holds up to MAX_BYTES plus a batch in memory)
    static ANSWERING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(ANSWERS);
    let _turn = ANSWERING
        .acquire()
        .await
        .map_err(|_| ApiError::Plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    // an answer holds up to MAX_BYTES plus one object until it is sent
    let held = memory::reserve(MAX_BYTES + Kind::Cars.max_bytes()).await?;
    let mut out = Vec::new();
    for batch in keys.chunks(PARALLEL) {
        if out.len() >= MAX_BYTES {
            for _ in batch {
                out.extend(LATER.to_be_bytes());
            }
            continue;
        }
        let reads = batch.iter().map(|(k, n)| app.store.get(&ledger, *k, n));
        for got in futures::future::join_all(reads).await {
            match got {
                // the budget is checked at each object, not only between batches
                Ok(_) if out.len() >= MAX_BYTES => out.extend(LATER.to_be_bytes()),
                Ok(b) => {
                    out.extend((b.len() as u32).to_be_bytes());
                    out.extend_from_slice(&b);
                }
                Err(StoreError::NotFound) => out.extend(ABSENT.to_be_bytes()),
                Err(e) => return Err(e.into()),
            }
        }
    }
    let held = held.keep(out.len());
    let body = memory::held_body(out.into(), held);
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}
