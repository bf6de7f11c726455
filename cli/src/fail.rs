//! Why a command failed, and the process exit code each reason maps to (documented in docs/cli.md).
//!
//! Invariant: every failure is one of these variants with a one-line, lowercase message naming the
//! offending path or object; `verify` finding problems is not a failure here (it exits with
//! [`PROBLEMS`]).

use ferroproof::Error;

/// `verify` found at least one problem.
pub const PROBLEMS: i32 = 1;
/// Command-line misuse (clap's own code for usage errors).
pub const USAGE: i32 = 2;

/// A command that could not run to its end.
#[derive(Debug)]
pub enum Fail {
    /// Bad or ambiguous arguments (exit 2).
    Usage(String),
    /// A path is missing or unreadable, or output cannot be written (exit 3).
    Io(String),
    /// The invite is malformed (exit 4).
    Invite(String),
    /// Nothing opens with the given key (exit 5).
    WrongKey(String),
    /// Input that is not what it claims: garbage, truncated, not a store, a bad object (exit 6).
    Corrupt(String),
    /// A bug: an engine error that bad input cannot explain (exit 7).
    Internal(String),
}

impl Fail {
    pub fn code(&self) -> i32 {
        match self {
            Fail::Usage(_) => USAGE,
            Fail::Io(_) => 3,
            Fail::Invite(_) => 4,
            Fail::WrongKey(_) => 5,
            Fail::Corrupt(_) => 6,
            Fail::Internal(_) => 7,
        }
    }

    /// The message, on one line.
    pub fn message(&self) -> String {
        let m = match self {
            Fail::Usage(m)
            | Fail::Io(m)
            | Fail::Invite(m)
            | Fail::WrongKey(m)
            | Fail::Corrupt(m)
            | Fail::Internal(m) => m,
        };
        m.replace(['\n', '\r'], " ")
    }

    /// An engine error met while working on `what` (a path or object label).
    pub fn engine(what: &str, e: Error) -> Fail {
        match e {
            Error::Decrypt { .. } => Fail::WrongKey(format!(
                "{what}: the GCM tag does not verify: wrong key (or bytes altered before they were named)"
            )),
            Error::Corrupt { reason, .. } => Fail::Corrupt(format!("{what}: {reason}")),
            Error::MissingBlock(cid) => {
                Fail::Corrupt(format!("{what}: block {cid} is in no stored car"))
            }
            Error::InvalidArg(m) | Error::InvalidDoc { reason: m, .. } => {
                Fail::Corrupt(format!("{what}: {m}"))
            }
            Error::Remote(m) | Error::Storage(m) => Fail::Io(format!("{what}: {m}")),
            other => Fail::Internal(format!("{what}: {other}")),
        }
    }
}

/// The reason in an engine error, without the car name the engine puts in front of it.
pub fn reason(e: &Error) -> String {
    match e {
        Error::Corrupt { reason, .. } => reason.clone(),
        Error::Decrypt { .. } => {
            "the GCM tag does not verify (wrong key, or bytes altered before they were named)"
                .into()
        }
        other => other.to_string(),
    }
}
