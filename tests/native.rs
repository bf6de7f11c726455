//! The storage scenarios against the memory store.
#![cfg(not(target_arch = "wasm32"))]

mod scenarios;

use std::cell::RefCell;
use std::collections::HashMap;

use ferroproof::store::mem::MemStore;
use futures::executor::block_on;

#[derive(Default)]
struct Mem(RefCell<HashMap<String, MemStore>>);

impl scenarios::Backend for Mem {
    type S = MemStore;
    async fn open(&self, name: &str) -> MemStore {
        self.0
            .borrow_mut()
            .entry(name.to_string())
            .or_default()
            .clone()
    }
    async fn tamper(&self, name: &str, car: &str) {
        self.0.borrow()[name].tamper(car, |b| b[40] ^= 1);
    }
}

#[test]
fn persist_and_reopen() {
    block_on(scenarios::persist_and_reopen(&Mem::default(), "p"));
}

#[test]
fn stale_writer_catches_up() {
    block_on(scenarios::stale_writer_catches_up(&Mem::default(), "s"));
}

#[test]
fn conflicting_commit_writes_nothing() {
    block_on(scenarios::conflicting_commit_writes_nothing(
        &Mem::default(),
        "c",
    ));
}

#[test]
fn tampered_car_is_corrupt() {
    block_on(scenarios::tampered_car_is_corrupt(&Mem::default(), "t"));
}

#[test]
fn wrong_key_is_decrypt() {
    block_on(scenarios::wrong_key_is_decrypt(&Mem::default(), "w"));
}

#[test]
fn lazy_open_reads_few_cars() {
    block_on(scenarios::lazy_open_reads_few_cars(
        &Mem::default(),
        "l",
        1000,
    ));
}
