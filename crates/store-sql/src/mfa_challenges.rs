//! `MfaChallengeRepository` on SQL: logins waiting for their second factor,
//! in `mfa_challenges` by the hash of their `mfa_token`.
//!
//! Counting a failure and spending are each one conditional UPDATE that
//! matches only a live challenge: PostgreSQL re-checks the WHERE under the
//! row lock and SQLite runs writers one at a time, so concurrent failures
//! each count and of concurrent spends exactly one matches.

use async_trait::async_trait;
use latch_domain::{Timestamp, TokenHash, UserId};
use latch_ports::{MfaChallenge, MfaChallengeRepository, PasswordHash, RepositoryError, VerifiedLogin};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::bounded::BoundedPool;
use crate::entities::mfa_challenges::{self, Column, Entity};
use crate::error::unexpected;
use crate::unique::unique_row;

/// The most rows one purge deletes, whatever `limit` asks: keeps the key
/// list under every backend's bind-parameter limit (SQLite's is 32,766).
const MAX_BATCH: u64 = 10_000;

/// Pending second steps in `mfa_challenges`.
#[derive(Debug, Clone)]
pub struct SqlMfaChallengeRepository {
    db: BoundedPool,
}

impl SqlMfaChallengeRepository {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }
}

/// Challenges live at `now`: unexpired, unspent, with attempts left.
fn live(hash: &TokenHash, now: Timestamp) -> Condition {
    Condition::all()
        .add(Column::TokenHash.eq(hash.0.to_vec()))
        .add(Column::ExpiresAt.gt(now))
        .add(Column::SpentAt.is_null())
        .add(Column::AttemptsLeft.gt(0))
}

fn attempts_from(stored: i32) -> Result<u32, RepositoryError> {
    u32::try_from(stored)
        .map_err(|_| RepositoryError::new(format!("an MFA challenge has {stored} attempts left")))
}

fn to_domain(row: mfa_challenges::Model) -> Result<MfaChallenge, RepositoryError> {
    let token_hash = <[u8; 32]>::try_from(row.token_hash.as_slice())
        .map_err(|_| RepositoryError::new("an MFA challenge has a malformed token hash"))?;
    Ok(MfaChallenge {
        token_hash: TokenHash(token_hash),
        user_id: UserId(row.user_id),
        login: VerifiedLogin {
            password_hash: PasswordHash(row.password_hash),
            rehash: row.rehash.map(PasswordHash),
        },
        user_agent: row.user_agent,
        ip: row.ip,
        created_at: row.created_at,
        expires_at: row.expires_at,
        attempts_left: attempts_from(row.attempts_left)?,
    })
}

#[async_trait]
impl MfaChallengeRepository for SqlMfaChallengeRepository {
    #[tracing::instrument(skip_all, fields(user_id = %challenge.user_id))]
    async fn create(&self, challenge: &MfaChallenge) -> Result<(), RepositoryError> {
        let attempts_left = i32::try_from(challenge.attempts_left)
            .map_err(|_| RepositoryError::new("an MFA challenge allows too many attempts to store"))?;
        let row = mfa_challenges::ActiveModel {
            token_hash: Set(challenge.token_hash.0.to_vec()),
            user_id: Set(challenge.user_id.0),
            password_hash: Set(challenge.login.password_hash.0.clone()),
            rehash: Set(challenge.login.rehash.as_ref().map(|hash| hash.0.clone())),
            user_agent: Set(challenge.user_agent.clone()),
            ip: Set(challenge.ip.clone()),
            created_at: Set(challenge.created_at),
            expires_at: Set(challenge.expires_at),
            attempts_left: Set(attempts_left),
            spent_at: Set(None),
        };
        Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    async fn find_live(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<MfaChallenge>, RepositoryError> {
        let row = unique_row(Entity::find().filter(live(hash, now)), &self.db)
            .await
            .map_err(unexpected)?;
        row.map(to_domain).transpose()
    }

    async fn record_failure(&self, hash: &TokenHash, now: Timestamp) -> Result<Option<u32>, RepositoryError> {
        let counted = Entity::update_many()
            .col_expr(Column::AttemptsLeft, Expr::col(Column::AttemptsLeft).sub(1))
            .filter(live(hash, now))
            .exec_with_returning(&self.db)
            .await
            .map_err(unexpected)?;
        counted
            .first()
            .map(|row| attempts_from(row.attempts_left))
            .transpose()
    }

    async fn consume(&self, hash: &TokenHash, now: Timestamp) -> Result<bool, RepositoryError> {
        let spent = Entity::update_many()
            .col_expr(Column::SpentAt, Expr::value(Some(now)))
            .filter(live(hash, now))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(spent.rows_affected == 1)
    }

    async fn purge(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        // Two short statements whose cost is set by `limit`, not the table
        // size; the first is served by the index on `expires_at`.
        let hashes: Vec<Vec<u8>> = Entity::find()
            .select_only()
            .column(Column::TokenHash)
            .filter(Column::ExpiresAt.lt(cutoff))
            .limit(Ord::min(limit, MAX_BATCH))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        if hashes.is_empty() {
            return Ok(0);
        }
        let deleted = Entity::delete_many()
            .filter(Column::TokenHash.is_in(hashes))
            .filter(Column::ExpiresAt.lt(cutoff))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(deleted.rows_affected)
    }
}
