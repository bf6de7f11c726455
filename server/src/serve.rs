//! Accepting connections: HTTP/1.1 (with upgrades, for the real-time socket) served by hyper,
//! with the limits a public server needs against clients that connect and stall.
//!
//! Invariant: a connection that has not sent a complete request head within `stall` of opening
//! (also one that sends nothing at all, or an idle keep-alive one), or has not taken any of an
//! answer's bytes for `stall`, is closed; at most `max` connections are open at once, a real-time
//! socket upgraded from one included (it keeps its connection's [`Slot`]; a new connection beyond
//! that is closed at once, before any byte is read); a connection opening with the HTTP/2 preface
//! is closed (h2c is not served: browsers speak HTTP/1.1 to a plain-HTTP server, and a stream
//! whose client withholds flow-control credit would hold its answer in memory with no write for
//! the deadline to see); on shutdown no new connection is accepted and open ones get [`DRAIN`] to
//! finish. Request bodies have their own deadline (`reply::read_limited`).

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

/// The first bytes of an HTTP/2 connection made with prior knowledge (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits (at most `stall`) until the client's first bytes show an HTTP/1 request: false when it
/// sends nothing in time, closes, or opens with the HTTP/2 preface. (hyper reads the first 24
/// bytes to choose the protocol before any of its timers runs.)
async fn http1_starts(stream: &tokio::net::TcpStream, stall: Duration) -> bool {
    let mut buf = [0u8; 24];
    let sniff = async {
        loop {
            let n = stream.peek(&mut buf).await.unwrap_or(0);
            if n == 0 || n == H2_PREFACE.len() && buf == *H2_PREFACE {
                return false;
            }
            if buf[..n] != H2_PREFACE[..n] {
                return true;
            }
            // a part of the preface (or of "PRI…"): peek answers at once, so wait for more
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(stall, sniff).await.unwrap_or(false)
}

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
    let builder = Arc::new(builder);
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
        let (builder, app, watcher) = (builder.clone(), app.clone(), graceful.watcher());
        tokio::spawn(async move {
            if !http1_starts(&stream, stall).await {
                return; // closed, and its slot freed
            }
            // writes give up on a client that stops reading (src/deadline.rs), also once upgraded
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(crate::deadline::WriteDeadline::new(stream, stall)),
                TowerToHyperService::new(app.layer(axum::Extension(slot.clone()))),
            );
            let _ = watcher.watch(conn.into_owned()).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}
