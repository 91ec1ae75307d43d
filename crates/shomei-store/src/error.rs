//! The store's errors: one enum naming the operation, with backend unavailability told apart
//! (the service answers it with 503) from everything else.

use std::fmt;

/// An error from a store operation. `op` is the operation's name (`consume_nonce`, `put_secret`,
/// `open`, `migrate`, …).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database could not be reached or is temporarily unable to serve (connection refused
    /// or lost, pool exhausted, disk full, server shutting down, lock wait timed out, conflict
    /// that a retry may resolve). Retryable: the service maps it to 503.
    #[error("{op}: the storage backend is unavailable: {source}")]
    Unavailable {
        op: &'static str,
        #[source]
        source: BackendError,
    },
    /// Any other database failure (a bug, a schema that does not match, a constraint).
    #[error("{op}: database error: {source}")]
    Database {
        op: &'static str,
        #[source]
        source: BackendError,
    },
    /// A record that must be new already exists (an issued nonce).
    #[error("{op}: {what} already exists")]
    AlreadyExists {
        op: &'static str,
        what: &'static str,
    },
    /// An argument was refused before it reached the database.
    #[error("{op}: invalid {field}: {reason}")]
    InvalidInput {
        op: &'static str,
        field: &'static str,
        reason: String,
    },
    /// The key-encryption key given at open is not the one the store's secrets were written
    /// under (checked at open against an encrypted check value).
    #[error(
        "open: the key-encryption key does not match the one this store's secrets are encrypted under"
    )]
    WrongKek,
    /// A stored ciphertext did not authenticate under the key-encryption key: the row was altered
    /// or moved to another id.
    #[error("{op}: {what} {id:?} failed to decrypt: the row was altered or copied from another id")]
    Decrypt {
        op: &'static str,
        what: &'static str,
        id: String,
    },
    /// A stored value is not in the store's format.
    #[error("{op}: stored {what} is malformed: {detail}")]
    Corrupt {
        op: &'static str,
        what: &'static str,
        detail: String,
    },
    /// The URL names no supported backend.
    #[error(
        "open: unsupported store URL (scheme {scheme:?}): expected sqlite://PATH, sqlite::memory: or postgres://…"
    )]
    UnsupportedUrl { scheme: String },
    /// The URL names a supported backend but could not be parsed.
    #[error("open: invalid store URL: {source}")]
    InvalidUrl {
        #[source]
        source: BackendError,
    },
    /// A migration could not be applied, or the applied migrations do not match this build's.
    #[error("migrate: migration {version} ({name}): {reason}")]
    Migration {
        version: i64,
        name: String,
        reason: String,
    },
    /// The database was migrated by a newer build.
    #[error(
        "migrate: the database schema is at version {found}, newer than this build knows ({known}); upgrade shomei"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// The system random number generator or the cipher failed.
    #[error("{op}: cryptographic failure: {detail}")]
    Crypto {
        op: &'static str,
        detail: &'static str,
    },
}

impl Error {
    /// True when the failure is the backend's availability, not the request: retry later (503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }
}

/// Why a nonce was not accepted by [`crate::Store::consume_nonce`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NonceError {
    /// The nonce was never issued (or was purged after it expired).
    #[error("nonce unknown: never issued, or purged after it expired")]
    Unknown,
    /// The nonce was issued but its expiry has passed.
    #[error("nonce expired")]
    Expired,
    /// The nonce was already consumed (a replay).
    #[error("nonce already used")]
    AlreadyUsed,
    /// The store failed; [`Error::is_unavailable`] tells whether to answer 503.
    #[error(transparent)]
    Store(#[from] Error),
}

/// A database driver error, kept opaque so that the driver is not part of the public API.
pub struct BackendError(Repr);

enum Repr {
    Driver(sqlx::Error),
    /// The same failure reported to every caller of a failed SQLite write batch.
    Shared(String),
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Driver(e) => fmt::Debug::fmt(e, f),
            Repr::Shared(message) => fmt::Debug::fmt(message, f),
        }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Driver(e) => fmt::Display::fmt(e, f),
            Repr::Shared(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Repr::Driver(e) => e.source(),
            Repr::Shared(_) => None,
        }
    }
}

impl Error {
    /// A copy for another caller that shares this failure (one SQLite write batch, one commit).
    pub(crate) fn replicate(&self) -> Error {
        let shared = |source: &BackendError| BackendError(Repr::Shared(source.to_string()));
        match self {
            Error::Unavailable { op, source } => Error::Unavailable {
                op,
                source: shared(source),
            },
            Error::Database { op, source } => Error::Database {
                op,
                source: shared(source),
            },
            other => Error::Database {
                op: "commit",
                source: BackendError(Repr::Shared(other.to_string())),
            },
        }
    }
}

/// Which backend produced an error: the two report their error codes differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// Sorts a driver error into [`Error::Unavailable`] or [`Error::Database`].
pub(crate) fn backend(op: &'static str, dialect: Dialect, e: sqlx::Error) -> Error {
    if is_unavailable(dialect, &e) {
        Error::Unavailable {
            op,
            source: BackendError(Repr::Driver(e)),
        }
    } else {
        Error::Database {
            op,
            source: BackendError(Repr::Driver(e)),
        }
    }
}

pub(crate) fn invalid_url(e: sqlx::Error) -> Error {
    Error::InvalidUrl {
        source: BackendError(Repr::Driver(e)),
    }
}

fn is_unavailable(dialect: Dialect, e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| unavailable_code(dialect, &code)),
        _ => false,
    }
}

/// Error codes that mean "the database cannot serve now", not "the request is wrong".
fn unavailable_code(dialect: Dialect, code: &str) -> bool {
    match dialect {
        // SQLSTATE classes: 08 connection exception, 53 insufficient resources (disk full, out
        // of memory, too many connections), 57P operator intervention (shutdown, cannot connect
        // now), 58 system error (I/O); 40001/40P01 serialization failure / deadlock (retryable).
        Dialect::Postgres => {
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code.starts_with("58")
                || code == "40001"
                || code == "40P01"
        }
        // Extended result codes; the primary code is the low byte: 5 BUSY, 6 LOCKED, 7 NOMEM,
        // 10 IOERR, 13 FULL, 14 CANTOPEN.
        Dialect::Sqlite => code
            .parse::<u32>()
            .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 10 | 13 | 14)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_busy_and_full_are_unavailable_constraint_is_not() {
        assert!(unavailable_code(Dialect::Sqlite, "5"));
        assert!(unavailable_code(Dialect::Sqlite, "261")); // SQLITE_BUSY_RECOVERY
        assert!(unavailable_code(Dialect::Sqlite, "13"));
        assert!(!unavailable_code(Dialect::Sqlite, "2067")); // SQLITE_CONSTRAINT_UNIQUE
    }

    #[test]
    fn postgres_connection_and_shutdown_are_unavailable_syntax_is_not() {
        assert!(unavailable_code(Dialect::Postgres, "08006"));
        assert!(unavailable_code(Dialect::Postgres, "57P01"));
        assert!(unavailable_code(Dialect::Postgres, "53300"));
        assert!(!unavailable_code(Dialect::Postgres, "42601"));
        assert!(!unavailable_code(Dialect::Postgres, "23505"));
    }
}
