//! The server-wide budget for object bytes held in memory (`--max-memory-mib`): an upload from
//! before its body is read until it is stored, and an answer (one object, or a `/get` batch) until
//! its last byte is handed to the connection.
//!
//! Invariant: the reservations held at once never exceed the budget (one that needs more than the
//! whole budget waits for all of it); a request that cannot get its share within the stall time
//! is answered 503 `server busy` and nothing it sent is kept. Without this, memory was bounded only
//! by `--max-connections` times the largest body (4096 × 8 MiB by default).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::reply::{stall, ApiError, ApiResult};

/// The budget in KiB (set once at start; 512 MiB until then, as the flag's default).
static BUDGET: OnceLock<(Arc<Semaphore>, u32)> = OnceLock::new();

fn budget() -> &'static (Arc<Semaphore>, u32) {
    BUDGET.get_or_init(|| (Arc::new(Semaphore::new(512 << 10)), 512 << 10))
}

/// Sets the budget (`--max-memory-mib`, at most 4 TiB); call before serving.
pub fn set_budget(mib: u32) {
    let kib = mib.saturating_mul(1024);
    let _ = BUDGET.set((Arc::new(Semaphore::new(kib as usize)), kib));
}

/// A reservation, given back when dropped.
pub struct Held(OwnedSemaphorePermit);

fn kib(bytes: usize) -> u32 {
    let total = budget().1;
    u32::try_from(bytes.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .clamp(1, total)
}

/// Reserves `bytes` of the budget, waiting at most the stall time (503 `server busy` after it).
/// An object is reserved at its kind's largest size before it is read, then [`Held::keep`]s its
/// own: no more objects are read at once than the budget holds at that size.
pub async fn reserve(bytes: usize) -> ApiResult<Held> {
    let sem = budget().0.clone();
    match tokio::time::timeout(stall(), sem.acquire_many_owned(kib(bytes))).await {
        Ok(Ok(permit)) => Ok(Held(permit)),
        _ => Err(ApiError::Plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "server busy",
        )),
    }
}

impl Held {
    /// Gives back what is reserved beyond `bytes`.
    pub fn keep(mut self, bytes: usize) -> Held {
        let n = self.0.num_permits().saturating_sub(kib(bytes) as usize);
        drop(self.0.split(n));
        self
    }
}

/// An answer's bytes that keep their reservation until the connection has taken them.
pub fn held_body(bytes: Bytes, held: Held) -> Body {
    Body::new(HeldBody {
        bytes: Some(bytes),
        _held: held,
    })
}

/// Bytes handed to hyper at a time.
const FRAME: usize = 64 << 10;

struct HeldBody {
    bytes: Option<Bytes>,
    _held: Held,
}

impl http_body::Body for HeldBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    /// In frames of [`FRAME`]: hyper asks for the next one only when its write buffer has room,
    /// so a client that reads slowly holds its reservation until it has nearly all of the answer.
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(rest) = self.bytes.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = rest.split_to(rest.len().min(FRAME));
        if rest.is_empty() {
            self.bytes = None;
        }
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }
}
