//! The engine's one error type. Every fallible operation returns [`Result`]; nothing panics on bad input.
//!
//! Each variant maps to a stable machine-readable [`Error::code`], which the bindings copy onto the JS
//! `Error` object. Messages are lowercase and name the offending value.

/// Engine errors, one variant per failure class the caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The document id does not exist (or was deleted).
    #[error("not found: {0}")]
    NotFound(String),
    /// Stored bytes failed verification (hash, CAR framing, block encoding).
    #[error("corrupt car {car}: {reason}")]
    Corrupt { car: String, reason: String },
    /// The authentication tag did not verify: wrong key (the stored bytes hash correctly).
    #[error("cannot decrypt car {car}: wrong key")]
    Decrypt { car: String },
    /// A block referenced by the ledger is in no stored CAR.
    #[error("missing block {0}")]
    MissingBlock(String),
    /// The ledger was closed.
    #[error("ledger {0} is closed")]
    Closed(String),
    /// A document cannot be stored as given.
    #[error("invalid document: field {field}: {reason}")]
    InvalidDoc { field: String, reason: String },
    /// An argument (id, option, clock) is malformed.
    #[error("invalid argument: {0}")]
    InvalidArg(String),
    /// The storage backend refused the write for lack of space. Nothing was written.
    #[error("storage quota exceeded: {0}")]
    Quota(String),
    /// Any other storage failure. Nothing was written.
    #[error("storage error: {0}")]
    Storage(String),
    /// Other writers (tabs) kept committing first. Nothing was written; retrying later succeeds
    /// (the package retries with backoff, without a limit).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A sync remote could not be reached or failed the request. Nothing local was changed;
    /// the sync retries later.
    #[error("remote error: {0}")]
    Remote(String),
    /// A sync remote refused a request without valid credentials (HTTP 401). Nothing local was
    /// changed; the sync retries later.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A sync remote refused a request this device may not make (HTTP 403: read-only, revoked).
    /// Nothing local was changed; the sync retries later.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A clock whose state this ledger no longer stores (compacted away) or never had.
    #[error("history not available: {0}")]
    HistoryGone(String),
    /// A bug or an impossible state; reported instead of panicking.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable code surfaced to JS as `err.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "ENOENT",
            Error::Corrupt { .. } => "CORRUPT",
            Error::Decrypt { .. } => "DECRYPT",
            Error::MissingBlock(_) => "MISSING_BLOCK",
            Error::Closed(_) => "CLOSED",
            Error::InvalidDoc { .. } => "INVALID_DOC",
            Error::InvalidArg(_) => "INVALID_ARG",
            Error::Quota(_) => "QUOTA",
            Error::Storage(_) => "STORAGE",
            Error::Conflict(_) => "CONFLICT",
            Error::Remote(_) => "NETWORK",
            Error::Unauthorized(_) => "UNAUTHORIZED",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::HistoryGone(_) => "HISTORY_GONE",
            Error::Internal(_) => "INTERNAL",
        }
    }

    pub(crate) fn invalid_doc(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidDoc {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(car: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Corrupt {
            car: car.into(),
            reason: reason.to_string(),
        }
    }
}

/// Result alias used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
