//! Bounded deletes behind `SessionRepository::purge_ended_sessions` and
//! `purge_refresh_tokens_of_ended_sessions`.
//!
//! Each call selects at most `limit` ids, then deletes exactly those: two
//! short statements whose cost is set by `limit`, not by the table size. The
//! "ended before" filter is served by the indexes on `sessions.expires_at`
//! and `sessions.revoked_at`.

use latch_domain::Timestamp;
use latch_ports::RepositoryError;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
use uuid::Uuid;

use crate::bounded::BoundedPool;
use crate::entities::{refresh_tokens, sessions};
use crate::error::unexpected;

/// The most rows one call deletes, whatever `limit` asks: keeps the id list
/// under every backend's bind-parameter limit (SQLite's is 32,766).
const MAX_BATCH: u64 = 10_000;

/// Sessions that ended before `cutoff`: expired, or revoked. Neither column
/// ever moves back, so a session matching this keeps matching it.
fn ended_before(cutoff: Timestamp) -> Condition {
    Condition::any()
        .add(sessions::Column::ExpiresAt.lt(cutoff))
        .add(sessions::Column::RevokedAt.lt(cutoff))
}

pub(super) async fn ended_sessions(
    db: &BoundedPool,
    cutoff: Timestamp,
    limit: u64,
) -> Result<u64, RepositoryError> {
    let ids: Vec<Uuid> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Id)
        .filter(ended_before(cutoff))
        .limit(limit.min(MAX_BATCH))
        .into_tuple()
        .all(db)
        .await
        .map_err(unexpected)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let txn = db.begin().await.map_err(unexpected)?;
    // Tokens first: the foreign key would cascade, but only where it is
    // enforced; this way the order does not depend on the connection's pragmas.
    refresh_tokens::Entity::delete_many()
        .filter(refresh_tokens::Column::SessionId.is_in(ids.iter().copied()))
        .exec(&txn)
        .await
        .map_err(unexpected)?;
    let deleted = sessions::Entity::delete_many()
        .filter(sessions::Column::Id.is_in(ids))
        .exec(&txn)
        .await
        .map_err(unexpected)?;
    txn.commit().await.map_err(unexpected)?;
    Ok(deleted.rows_affected)
}

pub(super) async fn refresh_tokens_of_ended_sessions(
    db: &BoundedPool,
    cutoff: Timestamp,
    limit: u64,
) -> Result<u64, RepositoryError> {
    let ended = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Id)
        .filter(ended_before(cutoff))
        .into_query();
    let ids: Vec<Uuid> = refresh_tokens::Entity::find()
        .select_only()
        .column(refresh_tokens::Column::Id)
        .filter(refresh_tokens::Column::SessionId.in_subquery(ended))
        .limit(limit.min(MAX_BATCH))
        .into_tuple()
        .all(db)
        .await
        .map_err(unexpected)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let deleted = refresh_tokens::Entity::delete_many()
        .filter(refresh_tokens::Column::Id.is_in(ids))
        .exec(db)
        .await
        .map_err(unexpected)?;
    Ok(deleted.rows_affected)
}
