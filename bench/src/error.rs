//! The one error type of the bench: every failure ends a scenario (or the
//! run) with a message, never a panic.

#[derive(Debug, thiserror::Error)]
pub(crate) enum BenchError {
    #[error("{0}")]
    Setup(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("wrk: {0}")]
    Wrk(String),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("latch: {0}")]
    Latch(String),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("SQL: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}
