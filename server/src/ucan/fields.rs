//! Reading payload fields out of an IPLD map, one typed accessor per field kind.
//!
//! Invariant: each accessor accepts exactly its IPLD kind (and range), and names the field in its
//! error; `Fields::finish` refuses whatever was not taken, so unknown fields never pass silently.

use std::collections::BTreeMap;

use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;

use super::command::Command;
use super::did::Did;
use super::error::DecodeError;

/// Timestamps outside ±(2^53 − 1) are invalid (the spec's JavaScript-safe range).
const MAX_TIME: i128 = (1 << 53) - 1;

/// A payload map being taken apart: each field is taken once, and leftovers are unknown fields.
pub(super) struct Fields(BTreeMap<String, Ipld>);

impl Fields {
    pub(super) fn of(value: Ipld) -> Result<Fields, DecodeError> {
        match value {
            Ipld::Map(m) => Ok(Fields(m)),
            _ => Err(DecodeError::Envelope("payload is not a map")),
        }
    }

    pub(super) fn take(&mut self, name: &'static str) -> Result<Ipld, DecodeError> {
        self.0.remove(name).ok_or(DecodeError::MissingField(name))
    }

    pub(super) fn take_opt(&mut self, name: &'static str) -> Option<Ipld> {
        self.0.remove(name)
    }

    pub(super) fn finish(self) -> Result<(), DecodeError> {
        match self.0.into_keys().next() {
            Some(unknown) => Err(DecodeError::UnknownField(unknown)),
            None => Ok(()),
        }
    }
}

fn wrong(field: &'static str, expected: &'static str) -> DecodeError {
    DecodeError::FieldType { field, expected }
}

pub(super) fn nullable<T>(
    v: Ipld,
    f: impl FnOnce(Ipld) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    match v {
        Ipld::Null => Ok(None),
        v => f(v).map(Some),
    }
}

pub(super) fn did(field: &'static str, v: Ipld) -> Result<Did, DecodeError> {
    match v {
        Ipld::String(s) => Did::parse(&s).map_err(|source| DecodeError::Did { field, source }),
        _ => Err(wrong(field, "a DID string")),
    }
}

pub(super) fn command(v: Ipld) -> Result<Command, DecodeError> {
    match v {
        Ipld::String(s) => Command::parse(&s).map_err(|reason| DecodeError::Command {
            command: s.clone(),
            reason,
        }),
        _ => Err(wrong("cmd", "a string")),
    }
}

pub(super) fn bytes(field: &'static str, v: Ipld) -> Result<Vec<u8>, DecodeError> {
    match v {
        Ipld::Bytes(b) => Ok(b),
        _ => Err(wrong(field, "bytes")),
    }
}

pub(super) fn time(field: &'static str, v: Ipld) -> Result<i64, DecodeError> {
    match v {
        Ipld::Integer(t) if (-MAX_TIME..=MAX_TIME).contains(&t) => Ok(t as i64),
        Ipld::Integer(_) => Err(wrong(field, "within ±(2^53 - 1) seconds")),
        _ => Err(wrong(field, "an integer")),
    }
}

pub(super) fn map(field: &'static str, v: Ipld) -> Result<BTreeMap<String, Ipld>, DecodeError> {
    match v {
        Ipld::Map(m) => Ok(m),
        _ => Err(wrong(field, "a map")),
    }
}

pub(super) fn link(field: &'static str, v: Ipld) -> Result<Cid, DecodeError> {
    match v {
        Ipld::Link(c) => Ok(c),
        _ => Err(wrong(field, "a link")),
    }
}

pub(super) fn links(field: &'static str, v: Ipld) -> Result<Vec<Cid>, DecodeError> {
    match v {
        Ipld::List(l) => l.into_iter().map(|v| link(field, v)).collect(),
        _ => Err(wrong(field, "a list of links")),
    }
}
