//! Database errors, translated at the edge into port errors.

use latch_ports::RepositoryError;
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// Wraps a database error for the ports; its text goes to logs only. A
/// database that could not be reached or did not answer in time is marked
/// unavailable (the client may retry), anything else is unexpected.
pub(crate) fn unexpected(err: DbErr) -> RepositoryError {
    if is_unavailable(&err) {
        RepositoryError::unavailable(err)
    } else {
        RepositoryError::from_source(err)
    }
}

/// [`unexpected`] for an error from a raw sqlx call.
pub(crate) fn from_sqlx(err: sqlx::Error) -> RepositoryError {
    if sqlx_unavailable(&err) {
        RepositoryError::unavailable(err)
    } else {
        RepositoryError::from_source(err)
    }
}

/// Whether `err` says the database could not be reached or did not answer.
fn is_unavailable(err: &DbErr) -> bool {
    match err {
        // No connection within the acquire timeout (which covers opening one),
        // or a statement with no answer (see `bounded.rs`).
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            sqlx_unavailable(err)
        }
        _ => false,
    }
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(err) => err.code().is_some_and(|code| unavailable_sqlstate(&code)),
        _ => false,
    }
}

/// PostgreSQL's codes for "not now": class 08 (connection exception), the
/// server shutting down or starting (57P01-57P03), a statement cancelled by
/// `statement_timeout` (57014) and too many connections (53300).
fn unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "57014" | "53300")
}

/// The unique constraint a failed write hit, if that is why it failed.
pub(crate) fn unique_violation(err: &DbErr) -> Option<String> {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(detail)) => Some(detail),
        _ => None,
    }
}

/// Whether a write failed on a foreign key. SQLite reports `ON DELETE
/// RESTRICT` with its own code (1811), which sea-orm does not classify.
pub(crate) fn foreign_key_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_)))
        || err.to_string().contains("FOREIGN KEY constraint failed")
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnAcquireErr;

    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for err in [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::Conn(RuntimeErr::Internal("no answer".into())),
            DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Io(refused).into())),
        ] {
            assert!(unexpected(err).is_unavailable());
        }
        assert!(from_sqlx(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(unavailable_sqlstate("08006") && unavailable_sqlstate("57014"));
    }

    #[test]
    fn other_failures_are_not() {
        assert!(!unexpected(DbErr::Custom("bad row".into())).is_unavailable());
        assert!(
            !unexpected(DbErr::Query(RuntimeErr::SqlxError(
                sqlx::Error::RowNotFound.into()
            )))
            .is_unavailable()
        );
        assert!(!unavailable_sqlstate("23505"));
    }
}
