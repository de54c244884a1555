//! The pool every repository queries through: a PostgreSQL statement that
//! gets no answer in time fails instead of hanging.
//!
//! Why here: sqlx bounds waiting for a connection (`acquire_timeout`, which
//! covers opening one) but not waiting for an answer on a connection it
//! already has. A database behind a dead network path or a stalled proxy
//! would hold requests, the cache lease and the key-ring reload forever.
//! PostgreSQL's own `statement_timeout` (sent at connect) stops slow
//! statements cleanly; this bound, a little longer, covers the answer that
//! never comes. SQLite is a file: nothing to bound.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use latch_ports::RepositoryError;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    RuntimeErr, Statement, TransactionTrait,
};

/// How much longer than PostgreSQL's `statement_timeout` Latch waits for an
/// answer: the server's cancellation, a clean error, should come first.
const ANSWER_GRACE: Duration = Duration::from_millis(500);

/// A connection pool whose statements (and transactions' statements) give
/// up when the database does not answer in time.
#[derive(Debug, Clone)]
pub(crate) struct BoundedPool {
    pool: DatabaseConnection,
    /// Waiting for a connection, then for the answer; `None` on SQLite.
    pooled: Option<Duration>,
    /// Waiting for the answer on a connection already held.
    answer: Option<Duration>,
}

impl BoundedPool {
    /// `pool`, bounded by its acquire timeout and the statement timeout
    /// (PostgreSQL only).
    pub(crate) fn new(pool: DatabaseConnection, acquire: Duration, statement: Duration) -> Self {
        let postgres = pool.get_database_backend() == DbBackend::Postgres;
        let answer = postgres.then_some(statement + ANSWER_GRACE);
        Self {
            pool,
            pooled: answer.map(|answer| acquire + answer),
            answer,
        }
    }

    /// A pool with no bound (one the embedding service opened and configures).
    pub(crate) fn unbounded(pool: DatabaseConnection) -> Self {
        Self {
            pool,
            pooled: None,
            answer: None,
        }
    }

    /// The pool itself, for what runs on a raw sqlx connection.
    pub(crate) fn inner(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// Runs `work`, which waits for a pooled connection and then for the
    /// database, within the bound ([`TimedOut`] past it).
    pub(crate) async fn within_pooled<T, E: From<TimedOut>>(
        &self,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        within(self.pooled, work).await
    }

    /// Starts a transaction; its statements are bounded too.
    pub(crate) async fn begin(&self) -> Result<BoundedTransaction, DbErr> {
        let txn = within(self.pooled, self.pool.begin()).await?;
        Ok(BoundedTransaction {
            txn,
            answer: self.answer,
        })
    }
}

/// An open transaction on a [`BoundedPool`]. Dropped uncommitted, it rolls back.
pub(crate) struct BoundedTransaction {
    txn: DatabaseTransaction,
    answer: Option<Duration>,
}

impl BoundedTransaction {
    /// Commits. A commit that times out may or may not have landed, as
    /// with any lost connection: whole, or not at all.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        within(self.answer, self.txn.commit()).await
    }

    /// Rolls back now.
    pub(crate) async fn rollback(self) -> Result<(), DbErr> {
        within(self.answer, self.txn.rollback()).await
    }
}

/// No answer came within the bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimedOut(Duration);

impl From<TimedOut> for DbErr {
    fn from(TimedOut(limit): TimedOut) -> Self {
        // `Conn`: what sea-orm reports for a lost connection; unavailable (see `error.rs`).
        DbErr::Conn(RuntimeErr::Internal(format!(
            "no answer from the database within {} ms",
            limit.as_millis()
        )))
    }
}

impl From<TimedOut> for RepositoryError {
    fn from(timed_out: TimedOut) -> Self {
        crate::error::unexpected(timed_out.into())
    }
}

async fn within<T, E: From<TimedOut>>(
    limit: Option<Duration>,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match limit {
        None => work.await,
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .unwrap_or_else(|_| Err(TimedOut(limit).into())),
    }
}

#[async_trait]
impl ConnectionTrait for BoundedPool {
    fn get_database_backend(&self) -> DbBackend {
        self.pool.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        within(self.pooled, self.pool.execute_raw(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        within(self.pooled, self.pool.execute_unprepared(sql)).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        within(self.pooled, self.pool.query_one_raw(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        within(self.pooled, self.pool.query_all_raw(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.pool.support_returning()
    }
}

#[async_trait]
impl ConnectionTrait for BoundedTransaction {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        within(self.answer, self.txn.execute_raw(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        within(self.answer, self.txn.execute_unprepared(sql)).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        within(self.answer, self.txn.query_one_raw(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        within(self.answer, self.txn.query_all_raw(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}
