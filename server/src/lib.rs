//! `ferroproof-server` as a library: the parts of the sync server that tests and other tools use
//! directly. For now only the UCAN 1.0 token codec and chain verification (`ucan`); the HTTP server
//! itself (routes, store, authorization) stays in the binary (`main.rs`), which includes `ucan` too.

pub mod ucan;
