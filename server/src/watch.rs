//! Real time: WebSocket watchers of a ledger, fed by this instance's PUTs and by polling the store.
//!
//! Invariant: while a ledger has at least one watcher here, one poller lists its `heads/` every
//! `poll` interval and announces each name not yet in the ledger's `seen` set; a watcher gets
//! `{"type":"ready"}` only after that set holds the first listing, so a head written anywhere after
//! "ready" is announced at least once. The entry (and its poller) goes away with its last watcher.
//! Without `--open`, a watcher's proof chain is checked again before each announcement, and the
//! socket is closed with 1008 (policy violation) once it no longer holds.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use ferroproof_server::ucan::{Delegation, Signed};
use serde_json::json;
use tokio::sync::{broadcast, watch};
use tokio::task::AbortHandle;

use crate::auth::Auth;
use crate::names::Kind;
use crate::store::Store;

/// One announcement: a new object of `kind` named `name`.
#[derive(Clone, Debug)]
pub struct Put {
    pub kind: Kind,
    pub name: String,
}

struct Entry {
    tx: broadcast::Sender<Put>,
    watchers: usize,
    /// Names already announced (or present at the first listing).
    seen: HashSet<String>,
    /// Heads announced by this instance since the current poll began.
    fresh: HashSet<String>,
    ready: watch::Receiver<bool>,
    poller: AbortHandle,
}

pub struct Hub {
    store: Store,
    poll: Duration,
    ledgers: Mutex<HashMap<String, Entry>>,
}

/// Keeps a watcher counted; dropping it may stop the ledger's poller.
pub struct Subscription {
    hub: Arc<Hub>,
    ledger: String,
    pub rx: broadcast::Receiver<Put>,
    ready: watch::Receiver<bool>,
}

impl Hub {
    pub fn new(store: Store, poll: Duration) -> Arc<Hub> {
        Arc::new(Hub {
            store,
            poll,
            ledgers: Mutex::new(HashMap::new()),
        })
    }

    /// Announces an object this instance just created.
    pub fn announce(&self, ledger: &str, kind: Kind, name: &str) {
        let mut map = self.ledgers.lock().unwrap();
        let Some(e) = map.get_mut(ledger) else { return };
        if kind == Kind::Heads {
            if !e.seen.insert(name.to_owned()) {
                return;
            }
            e.fresh.insert(name.to_owned());
        }
        let _ = e.tx.send(Put {
            kind,
            name: name.to_owned(),
        });
    }

    pub fn subscribe(self: &Arc<Hub>, ledger: &str) -> Subscription {
        let mut map = self.ledgers.lock().unwrap();
        let e = map.entry(ledger.to_owned()).or_insert_with(|| {
            let (ready_tx, ready) = watch::channel(false);
            let poller =
                tokio::spawn(poll(self.clone(), ledger.to_owned(), ready_tx)).abort_handle();
            Entry {
                tx: broadcast::channel(1024).0,
                watchers: 0,
                seen: HashSet::new(),
                fresh: HashSet::new(),
                ready,
                poller,
            }
        });
        e.watchers += 1;
        Subscription {
            hub: self.clone(),
            ledger: ledger.to_owned(),
            rx: e.tx.subscribe(),
            ready: e.ready.clone(),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut map = self.hub.ledgers.lock().unwrap();
        if let Some(e) = map.get_mut(&self.ledger) {
            e.watchers -= 1;
            if e.watchers == 0 {
                e.poller.abort();
                map.remove(&self.ledger);
            }
        }
    }
}

/// Lists the ledger's heads forever; the first listing fills `seen` silently, later ones announce.
async fn poll(hub: Arc<Hub>, ledger: String, ready: watch::Sender<bool>) {
    let mut first = true;
    let mut tick = tokio::time::interval(hub.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(e) = hub.ledgers.lock().unwrap().get_mut(&ledger) {
            e.fresh.clear();
        }
        let listed = match hub.store.list_all(&ledger, Kind::Heads).await {
            Ok(names) => names,
            Err(err) => {
                eprintln!("watch {ledger}: listing heads failed: {err:?}");
                continue;
            }
        };
        let mut map = hub.ledgers.lock().unwrap();
        let Some(e) = map.get_mut(&ledger) else {
            return;
        };
        let listed: HashSet<String> = listed.into_iter().collect();
        for name in &listed {
            if e.seen.insert(name.clone()) && !first {
                let _ = e.tx.send(Put {
                    kind: Kind::Heads,
                    name: name.clone(),
                });
            }
        }
        // Forget deleted heads, but keep the ones announced while the listing ran.
        let fresh = std::mem::take(&mut e.fresh);
        e.seen.retain(|n| listed.contains(n) || fresh.contains(n));
        if first {
            first = false;
            let _ = ready.send(true);
        }
    }
}

fn put_message(p: &Put) -> Message {
    Message::Text(
        json!({"type": "put", "kind": p.kind.as_str(), "name": p.name})
            .to_string()
            .into(),
    )
}

/// What an authorized watcher's announcements are checked against.
pub struct Recheck {
    pub auth: Auth,
    pub ledger: String,
    pub chain: Vec<Signed<Delegation>>,
}

/// Serves one watcher until it closes: "ready", then every announcement. The server pings every
/// `--stall-ms`; a watcher is dropped when it sends nothing (not even the pong every WebSocket
/// client answers a ping with) for [`SILENT_PINGS`] pings, or when a send fails: the socket's
/// writes give up after `--stall-ms` without progress (`deadline.rs`), so a client that stopped
/// reading holds neither this task nor its connection's slot.
pub async fn serve(mut socket: WebSocket, mut sub: Subscription, recheck: Option<Recheck>) {
    let stall = crate::reply::stall();
    if sub.ready.wait_for(|r| *r).await.is_err() {
        return;
    }
    let ready = Message::Text(json!({"type": "ready"}).to_string().into());
    if socket.send(ready).await.is_err() {
        return;
    }
    let mut ping = tokio::time::interval(stall);
    ping.tick().await;
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            ev = sub.rx.recv() => match ev {
                Ok(p) => {
                    if let Some(r) = &recheck {
                        if let Err(reason) = r.auth.still_holds(&r.ledger, &r.chain).await {
                            let frame = CloseFrame { code: 1008, reason: reason.into() };
                            let _ = socket.send(Message::Close(Some(frame))).await;
                            return;
                        }
                    }
                    if socket.send(put_message(&p)).await.is_err() {
                        return;
                    }
                }
                // Too slow to keep up: close, so the client reconnects and lists again.
                Err(_) => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => heard = Instant::now(),
            },
            _ = ping.tick() => {
                if heard.elapsed() > stall * SILENT_PINGS
                    || socket.send(Message::Ping(Default::default())).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Pings a watcher may leave unanswered (with nothing else sent) before it is dropped.
const SILENT_PINGS: u32 = 3;
