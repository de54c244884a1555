//! `CacheLeases` on SQL, and the PostgreSQL `ChangeSignal` (`LISTEN`).
//!
//! Lease ends are computed and compared by the database's clock, never an
//! instance's: it is the one clock every instance and every writer share.

use std::time::Duration;

use async_trait::async_trait;
use latch_ports::{CacheLeases, ChangeSignal, RepositoryError};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query, SimpleExpr};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::bounded::BoundedPool;
use crate::changes::version_to;
use crate::entities::cache_leases::{self, Column};
use crate::error::unexpected;

/// The channel every recorded write notifies on PostgreSQL.
const CHANGES_CHANNEL: &str = "latch_auth_changes";

/// What a recorded write runs in its transaction on PostgreSQL (the same channel).
pub(crate) const NOTIFY_CHANGES: &str = "NOTIFY latch_auth_changes";

/// The leases in `cache_leases`.
#[derive(Debug, Clone)]
pub struct SqlCacheLeases {
    db: BoundedPool,
}

impl SqlCacheLeases {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }

    /// The database's now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> SimpleExpr {
        match self.db.get_database_backend() {
            // clock_timestamp(), not now(): the time of the statement, not of its transaction.
            DbBackend::Postgres => Expr::cust("(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint"),
            _ => Expr::cust("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"),
        }
    }
}

/// Milliseconds, saturating (no lease is near 2^63 ms).
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl CacheLeases for SqlCacheLeases {
    async fn renew(&self, instance: Uuid, applied: u64, lease: Duration) -> Result<(), RepositoryError> {
        let upsert = Query::insert()
            .into_table(cache_leases::Entity)
            .columns([Column::Instance, Column::AppliedVersion, Column::EndsAtMs])
            .values([
                instance.into(),
                version_to(applied).into(),
                self.now_ms().add(millis(lease)),
            ])
            .map_err(RepositoryError::from_source)?
            .on_conflict(
                OnConflict::column(Column::Instance)
                    .update_columns([Column::AppliedVersion, Column::EndsAtMs])
                    .to_owned(),
            )
            .to_owned();
        self.db.execute(&upsert).await.map_err(unexpected)?;
        Ok(())
    }

    async fn lagging(&self, instance: Uuid, version: u64) -> Result<u64, RepositoryError> {
        let count = cache_leases::Entity::find()
            .filter(Column::Instance.ne(instance))
            .filter(Column::AppliedVersion.lt(version_to(version)))
            .filter(Expr::col(Column::EndsAtMs).gt(self.now_ms()))
            .count(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(count)
    }

    async fn release(&self, instance: Uuid) -> Result<(), RepositoryError> {
        cache_leases::Entity::delete_by_id(instance)
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    async fn purge_ended(&self, age: Duration) -> Result<u64, RepositoryError> {
        let deleted = cache_leases::Entity::delete_many()
            .filter(Expr::col(Column::EndsAtMs).lt(self.now_ms().sub(millis(age))))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(deleted.rows_affected)
    }
}

/// Wakes on PostgreSQL's `NOTIFY latch_auth_changes`, sent by every recorded
/// write as it commits. One dedicated connection, re-opened after a failure.
#[derive(Debug)]
pub struct PgChangeSignal {
    db: DatabaseConnection,
    listener: Mutex<Option<PgListener>>,
}

impl PgChangeSignal {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            listener: Mutex::new(None),
        }
    }

    async fn listen(&self) -> Result<PgListener, sea_orm::sqlx::Error> {
        let mut listener = PgListener::connect_with(self.db.get_postgres_connection_pool()).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        Ok(listener)
    }
}

#[async_trait]
impl ChangeSignal for PgChangeSignal {
    async fn changed(&self) {
        let mut slot = self.listener.lock().await;
        if slot.is_none() {
            match self.listen().await {
                Ok(listener) => *slot = Some(listener),
                Err(err) => {
                    tracing::warn!(error = %err, "could not LISTEN for auth changes; relying on lease renewals");
                    // Not a busy loop: the caller renews on its timer meanwhile.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return;
                }
            }
        }
        let Some(listener) = slot.as_mut() else { return };
        if let Err(err) = listener.recv().await {
            tracing::warn!(error = %err, "lost the LISTEN connection for auth changes");
            *slot = None;
        }
    }
}

/// Never wakes: SQLite has no `NOTIFY`, so instances sharing a SQLite file
/// learn of changes at their lease renewals.
#[derive(Debug, Default)]
pub struct NoChangeSignal;

#[async_trait]
impl ChangeSignal for NoChangeSignal {
    async fn changed(&self) {
        std::future::pending::<()>().await;
    }
}
