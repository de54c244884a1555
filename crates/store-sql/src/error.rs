//! Database errors, translated at the edge into port errors.

use latch_ports::RepositoryError;
use sea_orm::{DbErr, SqlErr};

/// Wraps an unexpected database error for the ports; its text goes to logs only.
pub(crate) fn unexpected(err: DbErr) -> RepositoryError {
    RepositoryError::from_source(err)
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
