//! Answers and bodies: the one error type of the HTTP API and the bounded body reader.
//!
//! Invariant: client faults map to a 4xx with a short reason (plain text; authorization refusals
//! as `{"error": …}`), store failures to 503 (logged once here), and no body is read past its
//! bound plus a fixed slack.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{timeout, timeout_at, Instant};

use crate::auth::AuthError;
use crate::store::StoreError;

/// An error answer: a status and a short plain-text reason, or an authorization refusal (JSON).
#[derive(Debug)]
pub enum ApiError {
    Plain(StatusCode, &'static str),
    Auth(AuthError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Plain(status, reason) => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                reason,
            )
                .into_response(),
            ApiError::Auth(e) => e.into_response(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::Plain(StatusCode::NOT_FOUND, "not found"),
            StoreError::Unavailable(msg) => {
                eprintln!("store unavailable: {msg}");
                ApiError::Plain(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// How far past its bound a body is still read (and discarded) so that the client, still sending,
/// receives the 413 instead of a reset connection; beyond this the connection is dropped.
const DRAIN_SLACK: usize = 1 << 20;

/// How long a body may stall between two parts, in ms (`--stall-ms`); a whole body gets 6 times it.
static STALL_MS: AtomicU64 = AtomicU64::new(20_000);

/// Sets the time a request body may stall (once, at start).
pub fn set_stall(stall: Duration) {
    STALL_MS.store(stall.as_millis() as u64, Ordering::Relaxed);
}

/// The time a client may stall (`--stall-ms`): also a watcher's ping interval and send deadline.
pub fn stall() -> Duration {
    Duration::from_millis(STALL_MS.load(Ordering::Relaxed))
}

/// Reads a body of at most `limit` bytes; 413 beyond, without keeping more than `limit` in memory.
pub async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Bytes> {
    const TOO_LARGE: ApiError = ApiError::Plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > (limit + DRAIN_SLACK) as u64) {
        return Err(TOO_LARGE);
    }
    let mut over = declared.is_some_and(|n| n > limit as u64);
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize).min(limit));
    let mut seen = 0;
    // a client that stops sending mid-body does not hold the request (and its memory) for long
    let stall = Duration::from_millis(STALL_MS.load(Ordering::Relaxed));
    let deadline = Instant::now() + 6 * stall;
    const LATE: ApiError =
        ApiError::Plain(StatusCode::REQUEST_TIMEOUT, "body not received in time");
    while let Some(chunk) = timeout(stall, timeout_at(deadline, stream.next()))
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or(LATE)?
    {
        let chunk =
            chunk.map_err(|_| ApiError::Plain(StatusCode::BAD_REQUEST, "body read failed"))?;
        seen += chunk.len();
        if seen > limit + DRAIN_SLACK {
            return Err(TOO_LARGE);
        }
        if seen > limit {
            over = true;
            buf = Vec::new();
        } else {
            buf.extend_from_slice(&chunk);
        }
    }
    if over {
        return Err(TOO_LARGE);
    }
    Ok(buf.into())
}
