//! `AuthChangeLog` on SQL, and [`record`], which every recorded write calls
//! inside its own transaction.

use async_trait::async_trait;
use latch_domain::{SessionId, Timestamp, UserId};
use latch_ports::{AuthChange, AuthChangeLog, RepositoryError, VersionedChange};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::bounded::BoundedPool;
use crate::entities::{auth_changes, auth_version};
use crate::error::unexpected;
use crate::leases::NOTIFY_CHANGES;
use crate::unique::unique_row;

/// The id of the one row of `auth_version`.
const COUNTER_ROW: i16 = 1;

/// The change log in `auth_changes`, numbered by the counter in `auth_version`.
#[derive(Debug, Clone)]
pub struct SqlAuthChangeLog {
    db: BoundedPool,
}

impl SqlAuthChangeLog {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }
}

/// Appends `change` with the next version. Call it first in the transaction
/// of the write it describes: bumping the counter locks its row before any
/// other, so recorded writes queue on it in one order (no deadlocks between
/// them) and their versions commit in order, without gaps.
pub(crate) async fn record<C: ConnectionTrait>(
    txn: &C,
    change: AuthChange,
    at: Timestamp,
) -> Result<(), DbErr> {
    let bumped = auth_version::Entity::update_many()
        .col_expr(
            auth_version::Column::Version,
            Expr::col(auth_version::Column::Version).add(1),
        )
        .filter(auth_version::Column::Id.eq(COUNTER_ROW))
        .exec_with_returning(txn)
        .await?;
    let version = bumped
        .first()
        .map(|row| row.version)
        .ok_or_else(|| DbErr::RecordNotFound("the auth_version counter row".into()))?;
    let (user_id, session_id) = match change {
        AuthChange::User(user) => (Some(user.0), None),
        AuthChange::Session(session) => (None, Some(session.0)),
    };
    auth_changes::Entity::insert(auth_changes::ActiveModel {
        version: Set(version),
        user_id: Set(user_id),
        session_id: Set(session_id),
        recorded_at: Set(at),
    })
    .exec_without_returning(txn)
    .await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        // Delivered when the transaction commits, to every instance's `PgChangeSignal`.
        txn.execute_unprepared(NOTIFY_CHANGES).await?;
    }
    Ok(())
}

fn to_domain(row: auth_changes::Model) -> Result<VersionedChange, RepositoryError> {
    let change = match (row.user_id, row.session_id) {
        (Some(user), None) => AuthChange::User(UserId(user)),
        (None, Some(session)) => AuthChange::Session(SessionId(session)),
        _ => {
            return Err(RepositoryError::new(format!(
                "auth change {} names neither exactly one user nor one session",
                row.version
            )));
        }
    };
    Ok(VersionedChange {
        version: version_from(row.version),
        change,
    })
}

/// Versions are stored as `BIGINT` and start at 0, so they are never negative.
fn version_from(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or(0)
}

/// A version as stored (saturating: no log gets near 2^63 writes).
pub(crate) fn version_to(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

#[async_trait]
impl AuthChangeLog for SqlAuthChangeLog {
    async fn latest_version(&self) -> Result<u64, RepositoryError> {
        let row = unique_row(auth_version::Entity::find_by_id(COUNTER_ROW), &self.db)
            .await
            .map_err(unexpected)?
            .ok_or_else(|| RepositoryError::new("the auth_version counter row is missing"))?;
        Ok(version_from(row.version))
    }

    async fn changes_between(&self, after: u64, upto: u64) -> Result<Vec<VersionedChange>, RepositoryError> {
        auth_changes::Entity::find()
            .filter(auth_changes::Column::Version.gt(version_to(after)))
            .filter(auth_changes::Column::Version.lte(version_to(upto)))
            .order_by_asc(auth_changes::Column::Version)
            .all(&self.db)
            .await
            .map_err(unexpected)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn purge_before(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        let oldest = auth_changes::Entity::find()
            .select_only()
            .column(auth_changes::Column::Version)
            .filter(auth_changes::Column::RecordedAt.lt(cutoff))
            .order_by_asc(auth_changes::Column::Version)
            .limit(limit)
            .into_tuple::<i64>()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        let Some(&last) = oldest.last() else {
            return Ok(0);
        };
        // Versions are ordered like their times, so the oldest `limit` are a prefix.
        let deleted = auth_changes::Entity::delete_many()
            .filter(auth_changes::Column::Version.lte(last))
            .filter(auth_changes::Column::RecordedAt.lt(cutoff))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(deleted.rows_affected)
    }
}
