//! Accepting connections: HTTP/1 and HTTP/2 (with upgrades, for the real-time socket) served by
//! hyper, with the limits a public server needs against clients that connect and stall.
//!
//! Invariant: a connection that has not sent a complete request head within `stall` (also an
//! idle keep-alive one), or has not taken any of an answer's bytes for `stall`, is closed; at most `max` connections are open at once, a real-time socket
//! upgraded from one included (it keeps its connection's [`Slot`]; a new connection beyond that is
//! closed at once, before any byte is read); on shutdown no new connection is accepted and open
//! ones get [`DRAIN`] to finish. Request bodies have their own deadline (`reply::read_limited`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection's place among the `max` open ones, in each of its requests' extensions: a
/// WebSocket upgraded from the connection keeps it (hyper ends the connection's own task at the
/// upgrade), so open sockets count against the cap too.
#[derive(Clone)]
pub struct Slot(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

/// Time open connections get to finish once the server is told to stop.
const DRAIN: Duration = Duration::from_secs(5);

/// Concurrent HTTP/2 streams per connection.
const H2_STREAMS: u32 = 16;

/// Serves `app` on `listener` until `stop` resolves; `stall`: the time a client has to send a
/// request head (and an idle keep-alive connection stays open).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    max: usize,
    stall: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(stall);
    // HTTP/2 (h2c: browsers speak HTTP/1.1 to a plain-HTTP server) gets fewer streams per
    // connection than hyper's 200: each may hold an answer in memory while its client withholds
    // flow-control credit, which the write deadline does not see.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(stall)
        .keep_alive_timeout(stall)
        .max_concurrent_streams(H2_STREAMS);
    let slots = Arc::new(Semaphore::new(max));
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // out of file descriptors and the like: wait instead of spinning
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // full: the connection is dropped (closed) unread
        };
        let _ = stream.set_nodelay(true);
        let slot = Slot(Arc::new(slot));
        // writes give up on a client that stops reading (src/deadline.rs), also once upgraded
        let conn = builder.serve_connection_with_upgrades(
            TokioIo::new(crate::deadline::WriteDeadline::new(stream, stall)),
            TowerToHyperService::new(app.clone().layer(axum::Extension(slot.clone()))),
        );
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}
