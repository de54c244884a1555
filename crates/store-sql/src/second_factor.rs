//! `SecondFactorRepository` on SQL: TOTP enrolments in `totp_enrolments`
//! (one row per user), recovery codes (hashed) in `recovery_codes`, and the
//! user's `mfa_enabled` flag.
//!
//! Every rule the port calls atomic is either one conditional statement (the
//! upsert that refuses a confirmed enrolment, the step and code spends) or a
//! transaction whose first statement is a write: on PostgreSQL that write
//! takes the row lock that orders concurrent calls, and on SQLite it makes
//! the transaction a writer at once, so writers take turns instead of
//! failing to upgrade a read snapshot.

use async_trait::async_trait;
use latch_domain::{SessionId, Timestamp, UserId};
use latch_ports::{
    AuthChange, BeginTotpError, ConfirmTotpError, RecoveryCodeHash, RepositoryError, SecondFactorRepository,
    TotpEnrolment,
};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

use crate::bounded::BoundedPool;
use crate::changes::record;
use crate::entities::{recovery_codes, sessions, totp_enrolments, users};
use crate::error::unexpected;
use crate::unique::unique_row;

/// TOTP enrolments and recovery codes in their tables.
#[derive(Debug, Clone)]
pub struct SqlSecondFactorRepository {
    db: BoundedPool,
}

impl SqlSecondFactorRepository {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }
}

fn enrolment_to_domain(row: totp_enrolments::Model) -> TotpEnrolment {
    TotpEnrolment {
        user_id: UserId(row.user_id),
        sealed_secret: row.sealed_secret,
        created_at: row.created_at,
        confirmed_at: row.confirmed_at,
        last_used_step: row.last_used_step,
    }
}

/// Replaces the user's recovery codes with `codes`, all unused, inside `txn`.
async fn store_codes<C: ConnectionTrait>(
    txn: &C,
    user: UserId,
    codes: &[RecoveryCodeHash],
    now: Timestamp,
) -> Result<(), DbErr> {
    recovery_codes::Entity::delete_many()
        .filter(recovery_codes::Column::UserId.eq(user.0))
        .exec(txn)
        .await?;
    if codes.is_empty() {
        return Ok(());
    }
    let rows = codes.iter().map(|hash| recovery_codes::ActiveModel {
        user_id: Set(user.0),
        code_hash: Set(hash.0.to_vec()),
        created_at: Set(now),
        used_at: Set(None),
    });
    recovery_codes::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Sets the user's `mfa_enabled` to `enabled` (and `updated_at`) if it is
/// not already, inside `txn`.
async fn set_mfa_enabled<C: ConnectionTrait>(
    txn: &C,
    user: UserId,
    enabled: bool,
    now: Timestamp,
) -> Result<(), DbErr> {
    users::Entity::update_many()
        .col_expr(users::Column::MfaEnabled, Expr::value(enabled))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user.0))
        .filter(users::Column::MfaEnabled.eq(!enabled))
        .exec(txn)
        .await?;
    Ok(())
}

impl SqlSecondFactorRepository {
    /// `confirm_totp`'s writes inside `txn`; the caller commits.
    async fn confirm_in(
        txn: &crate::bounded::BoundedTransaction,
        user: UserId,
        sealed_secret: &[u8],
        step: i64,
        codes: &[RecoveryCodeHash],
        now: Timestamp,
    ) -> Result<(), ConfirmTotpError> {
        // First: the counter's row lock orders recorded writes (see `record`),
        // so of two confirmations the second finds the enrolment confirmed.
        record(txn, AuthChange::User(user), now)
            .await
            .map_err(unexpected)?;
        let confirmed = totp_enrolments::Entity::update_many()
            .col_expr(totp_enrolments::Column::ConfirmedAt, Expr::value(Some(now)))
            .col_expr(totp_enrolments::Column::LastUsedStep, Expr::value(Some(step)))
            .filter(totp_enrolments::Column::UserId.eq(user.0))
            .filter(totp_enrolments::Column::SealedSecret.eq(sealed_secret.to_vec()))
            .filter(totp_enrolments::Column::ConfirmedAt.is_null())
            .exec(txn)
            .await
            .map_err(unexpected)?;
        if confirmed.rows_affected != 1 {
            return Err(ConfirmTotpError::NotPending);
        }
        store_codes(txn, user, codes, now).await.map_err(unexpected)?;
        set_mfa_enabled(txn, user, true, now).await.map_err(unexpected)?;
        Ok(())
    }
}

#[async_trait]
impl SecondFactorRepository for SqlSecondFactorRepository {
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn begin_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        now: Timestamp,
    ) -> Result<(), BeginTotpError> {
        let row = totp_enrolments::ActiveModel {
            user_id: Set(user_id.0),
            sealed_secret: Set(sealed_secret.to_vec()),
            created_at: Set(now),
            confirmed_at: Set(None),
            last_used_step: Set(None),
        };
        // One statement: insert, or replace the stored enrolment only while
        // it is pending. A confirmed one leaves the statement changing no row.
        let replace_pending = OnConflict::column(totp_enrolments::Column::UserId)
            .update_columns([
                totp_enrolments::Column::SealedSecret,
                totp_enrolments::Column::CreatedAt,
                totp_enrolments::Column::LastUsedStep,
            ])
            .action_and_where(
                Expr::col((totp_enrolments::Entity, totp_enrolments::Column::ConfirmedAt)).is_null(),
            )
            .to_owned();
        let written = totp_enrolments::Entity::insert(row)
            .on_conflict(replace_pending)
            .exec_without_returning(&self.db)
            .await
            .map_err(unexpected)?;
        if written == 0 {
            return Err(BeginTotpError::AlreadyEnabled);
        }
        Ok(())
    }

    async fn find_totp(&self, user_id: UserId) -> Result<Option<TotpEnrolment>, RepositoryError> {
        let row = unique_row(totp_enrolments::Entity::find_by_id(user_id.0), &self.db)
            .await
            .map_err(unexpected)?;
        Ok(row.map(enrolment_to_domain))
    }

    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn confirm_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        step: i64,
        recovery_codes: &[RecoveryCodeHash],
        now: Timestamp,
    ) -> Result<(), ConfirmTotpError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        match Self::confirm_in(&txn, user_id, sealed_secret, step, recovery_codes, now).await {
            Ok(()) => Ok(txn.commit().await.map_err(unexpected)?),
            Err(err) => {
                // A failed statement has already aborted the transaction on PostgreSQL.
                let _ = txn.rollback().await;
                Err(err)
            }
        }
    }

    async fn use_totp_step(&self, user_id: UserId, step: i64) -> Result<bool, RepositoryError> {
        // The WHERE is re-checked under the row lock: of two calls with one
        // step, the second sees the first's step and matches nothing.
        let later = Condition::any()
            .add(totp_enrolments::Column::LastUsedStep.is_null())
            .add(totp_enrolments::Column::LastUsedStep.lt(step));
        let used = totp_enrolments::Entity::update_many()
            .col_expr(totp_enrolments::Column::LastUsedStep, Expr::value(Some(step)))
            .filter(totp_enrolments::Column::UserId.eq(user_id.0))
            .filter(totp_enrolments::Column::ConfirmedAt.is_not_null())
            .filter(later)
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(used.rows_affected == 1)
    }

    async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &RecoveryCodeHash,
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let used = recovery_codes::Entity::update_many()
            .col_expr(recovery_codes::Column::UsedAt, Expr::value(Some(now)))
            .filter(recovery_codes::Column::UserId.eq(user_id.0))
            .filter(recovery_codes::Column::CodeHash.eq(hash.0.to_vec()))
            .filter(recovery_codes::Column::UsedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(used.rows_affected == 1)
    }

    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_codes: &[RecoveryCodeHash],
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        // A write that changes nothing but locks the confirmed enrolment: a
        // concurrent `remove` cannot delete it before this set is stored
        // (which would leave codes with no second factor).
        let confirmed = totp_enrolments::Entity::update_many()
            .col_expr(
                totp_enrolments::Column::ConfirmedAt,
                Expr::col(totp_enrolments::Column::ConfirmedAt),
            )
            .filter(totp_enrolments::Column::UserId.eq(user_id.0))
            .filter(totp_enrolments::Column::ConfirmedAt.is_not_null())
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        if confirmed.rows_affected != 1 {
            txn.rollback().await.map_err(unexpected)?;
            return Ok(false);
        }
        // Dropping `txn` on an error rolls everything back.
        store_codes(&txn, user_id, recovery_codes, now)
            .await
            .map_err(unexpected)?;
        txn.commit().await.map_err(unexpected)?;
        Ok(true)
    }

    async fn recovery_codes_left(&self, user_id: UserId) -> Result<u64, RepositoryError> {
        recovery_codes::Entity::find()
            .filter(recovery_codes::Column::UserId.eq(user_id.0))
            .filter(recovery_codes::Column::UsedAt.is_null())
            .count(&self.db)
            .await
            .map_err(unexpected)
    }

    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn remove(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        // One record covers the flag and the revocations: a user change
        // makes caches forget every session of the user.
        record(&txn, AuthChange::User(user_id), now)
            .await
            .map_err(unexpected)?;
        // Dropping `txn` on an error rolls everything back.
        let confirmed = totp_enrolments::Entity::delete_many()
            .filter(totp_enrolments::Column::UserId.eq(user_id.0))
            .filter(totp_enrolments::Column::ConfirmedAt.is_not_null())
            .exec(&txn)
            .await
            .map_err(unexpected)?
            .rows_affected;
        totp_enrolments::Entity::delete_many()
            .filter(totp_enrolments::Column::UserId.eq(user_id.0))
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        recovery_codes::Entity::delete_many()
            .filter(recovery_codes::Column::UserId.eq(user_id.0))
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        set_mfa_enabled(&txn, user_id, false, now)
            .await
            .map_err(unexpected)?;
        let mut revoke = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(Some(now)))
            .filter(sessions::Column::UserId.eq(user_id.0))
            .filter(sessions::Column::RevokedAt.is_null());
        if let Some(keep) = keep {
            revoke = revoke.filter(sessions::Column::Id.ne(keep.0));
        }
        revoke.exec(&txn).await.map_err(unexpected)?;
        txn.commit().await.map_err(unexpected)?;
        Ok(confirmed > 0)
    }
}
