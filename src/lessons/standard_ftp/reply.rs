//! Reply codes, and what each failure of the shared home code means in them.
//!
//! An FTP reply's first digit says how it went (RFC 959, 4.2.1): 1 preliminary (more is coming:
//! `150` before a transfer), 2 done, 3 send the next part (`331` send the password, `350` send
//! RNTO), 4 failed for now (try again), 5 failed (do not repeat it as it is). The second digit
//! says about what: x0 syntax, x2 connections, x3 login, x5 the file system.

use crate::accounts::paths::{JailError, PathError};
use crate::accounts::quota::QuotaError;

/// One reply: a code and a text for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            text: text.into(),
        }
    }
}

/// What a command that is not a transfer answers: `Ok` for success, `Err` for a refusal. Both
/// are sent; the log says which it was.
pub type Outcome = Result<Reply, Reply>;

/// A path's text refused before the disk is touched: `501` if there is none, else `550` (`..`
/// above the home, a reserved name, a NUL or a backslash: the jail's refusals).
impl From<PathError> for Reply {
    fn from(e: PathError) -> Reply {
        match e {
            PathError::Empty => Reply::new(501, "a path is needed"),
            e => Reply::new(550, e.to_string()),
        }
    }
}

/// The disk walk refused a path (a link, a missing parent): `550`; the disk itself failed:
/// `451` (local error, try again).
impl From<JailError> for Reply {
    fn from(e: JailError) -> Reply {
        match e {
            JailError::Io(e) => disk(&e),
            e => Reply::new(550, e.to_string()),
        }
    }
}

/// Over the quota or the file limit: `552` (exceeded storage allocation).
impl From<QuotaError> for Reply {
    fn from(e: QuotaError) -> Reply {
        match e {
            QuotaError::Io(e) => disk(&e),
            e => Reply::new(552, e.to_string()),
        }
    }
}

/// The server's disk failed: `452` when it is full, else `451`. (An `io::Error`'s text never
/// holds a host path.)
pub fn disk(e: &std::io::Error) -> Reply {
    let full = matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull
            | std::io::ErrorKind::FileTooLarge
            | std::io::ErrorKind::QuotaExceeded
    );
    let code = if full { 452 } else { 451 };
    Reply::new(code, format!("the server's disk said: {e}"))
}

/// A path inside a `257` reply: in quotes, with a quote in the name doubled (RFC 959,
/// appendix II).
pub fn quoted(path: &str) -> String {
    format!("\"{}\"", path.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_in_names_are_doubled() {
        assert_eq!(quoted("/a\"b"), "\"/a\"\"b\"");
    }

    #[test]
    fn jail_refusals_are_550() {
        assert_eq!(Reply::from(PathError::AboveHome).code, 550);
        assert_eq!(Reply::from(PathError::Empty).code, 501);
        assert_eq!(
            Reply::from(QuotaError::Exceeded {
                used: 1,
                need: 2,
                quota: 2
            })
            .code,
            552
        );
    }
}
