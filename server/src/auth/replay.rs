//! The replay set: one create-only marker per accepted invocation, `nonces/<window>/<name>`, where
//! `window = exp div 600` and `name = name_of(iss bytes ‖ nonce)` (docs/auth.md §7.3).
//!
//! Invariant: a marker lives at least until its invocation has expired: cleaning deletes only
//! windows that ended more than `SKEW` seconds ago, and an invocation past its `exp` is refused
//! before its marker is looked at. The in-memory throttle only limits how often this instance
//! cleans; losing it (a restart, another instance) costs a listing, never correctness.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferroproof_server::ucan::Invocation;
use serde_json::json;

use super::now;
use crate::names::name_of;
use crate::store::{Store, StoreError};

/// Seconds of one replay window.
pub const WINDOW: i64 = 600;
/// Margin kept past a window's end before its markers are deleted.
const SKEW: i64 = 60;
/// How often one instance cleans one ledger's markers at most.
const EVERY: Duration = Duration::from_secs(600);

/// Creates the marker of `inv`: `false` if it existed (a replay).
pub async fn mark(store: &Store, ledger: &str, inv: &Invocation) -> Result<bool, StoreError> {
    let exp = inv.exp.unwrap_or(0);
    let mut key = inv.iss.as_bytes().to_vec();
    key.extend_from_slice(&inv.nonce);
    let body = json!({ "exp": exp }).to_string().into_bytes();
    store
        .put_nonce(ledger, exp.div_euclid(WINDOW), &name_of(&key), body)
        .await
}

/// When this instance last cleaned each ledger's markers.
#[derive(Default)]
pub struct Cleaner {
    last: Mutex<HashMap<String, Instant>>,
}

impl Cleaner {
    /// Starts a background cleaning of `ledger`'s old markers unless one ran here recently.
    pub fn maybe_clean(&self, store: &Store, ledger: &str) {
        {
            let Ok(mut last) = self.last.lock() else {
                return;
            };
            if last.get(ledger).is_some_and(|t| t.elapsed() < EVERY) {
                return;
            }
            last.retain(|_, t| t.elapsed() < EVERY);
            last.insert(ledger.to_owned(), Instant::now());
        }
        let (store, ledger) = (store.clone(), ledger.to_owned());
        tokio::spawn(async move {
            // Windows ending before now - SKEW: window w ends at (w + 1) * WINDOW.
            let before = (now() - SKEW).div_euclid(WINDOW);
            if let Err(e) = store.clean_nonces(&ledger, before).await {
                eprintln!("cleaning replay markers of {ledger}: {e:?}");
            }
        });
    }
}
