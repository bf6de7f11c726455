//! Commands: `/`-separated, lowercase paths such as `/ledger/write`; a shorter path covers the longer
//! ones below it by whole segments (`/` covers everything).
//!
//! Invariant: a `Command` starts with `/`, has no empty segment, no trailing `/` (except `/` itself)
//! and no uppercase character.

use std::fmt;

/// A syntactically valid command.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Command(String);

/// Longest command accepted.
const MAX_LEN: usize = 256;

impl Command {
    /// Parses a command; the error names what is wrong with it.
    pub fn parse(s: &str) -> Result<Command, &'static str> {
        if s.len() > MAX_LEN {
            return Err("is too long");
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err("must start with '/'");
        };
        if s.chars().any(char::is_uppercase) {
            return Err("must be lowercase");
        }
        if !rest.is_empty() && rest.split('/').any(str::is_empty) {
            return Err("has an empty segment or a trailing '/'");
        }
        Ok(Command(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a delegation of `self` allows `other`: equal, or `other` is below `self` by segments
    /// (`/crypto` covers `/crypto/sign`, not `/cryptocurrency`).
    pub fn covers(&self, other: &Command) -> bool {
        self.0 == "/"
            || other
                .0
                .strip_prefix(&self.0)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Command;

    #[test]
    fn syntax_follows_the_spec_examples() {
        for ok in [
            "/",
            "/crud",
            "/crud/create",
            "/foo/bar/baz/qux/quux",
            "/ほげ/ふが",
        ] {
            assert!(Command::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "crud", "/crud/", "//", "/a//b", "/Crud", "/crud/Read"] {
            assert!(Command::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn coverage_is_by_whole_segments() {
        let c = |s| Command::parse(s).unwrap();
        assert!(c("/").covers(&c("/ledger/read")));
        assert!(c("/ledger").covers(&c("/ledger")));
        assert!(c("/ledger").covers(&c("/ledger/admin")));
        assert!(!c("/ledger").covers(&c("/ledgers")));
        assert!(!c("/ledger/read").covers(&c("/ledger")));
        assert!(!c("/ledger/read").covers(&c("/")));
    }
}
