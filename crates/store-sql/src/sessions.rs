//! `SessionRepository` on SQL: sessions and their refresh-token chains.

use std::sync::Arc;

use async_trait::async_trait;
use latch_domain::{AuthMethods, RefreshTokenRecord, Session, SessionId, Timestamp, TokenHash, UserId};
use latch_ports::{
    AuthChange, CreateSessionError, RefreshContext, RepositoryError, RotateOutcome, SessionRepository,
    SessionWithUser, VerifiedLogin,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use self::context::ContextReads;
use crate::bounded::BoundedPool;
use crate::changes::record;
use crate::entities::{refresh_tokens, sessions, users};
use crate::error::unexpected;
use crate::unique::unique_row;
use crate::users::to_domain as user_to_domain;

mod context;
mod purge;

/// Sessions in `sessions`, refresh tokens (hashed) in `refresh_tokens`.
#[derive(Debug, Clone)]
pub struct SqlSessionRepository {
    db: BoundedPool,
    context_reads: Arc<ContextReads>,
}

impl SqlSessionRepository {
    pub(crate) fn new(db: BoundedPool) -> Self {
        let context_reads = Arc::new(ContextReads::new(db.get_database_backend()));
        Self { db, context_reads }
    }
}

fn session_to_domain(row: sessions::Model) -> Result<Session, RepositoryError> {
    let auth_methods = AuthMethods::parse(&row.auth_methods).ok_or_else(|| {
        RepositoryError::new(format!(
            "session {} has unknown auth methods {:?}",
            row.id, row.auth_methods
        ))
    })?;
    Ok(Session {
        id: SessionId(row.id),
        user_id: UserId(row.user_id),
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        user_agent: row.user_agent,
        ip: row.ip,
        auth_methods,
    })
}

fn session_row(session: &Session) -> sessions::ActiveModel {
    sessions::ActiveModel {
        id: Set(session.id.0),
        user_id: Set(session.user_id.0),
        created_at: Set(session.created_at),
        last_used_at: Set(session.last_used_at),
        expires_at: Set(session.expires_at),
        revoked_at: Set(session.revoked_at),
        user_agent: Set(session.user_agent.clone()),
        ip: Set(session.ip.clone()),
        auth_methods: Set(session.auth_methods.as_str().to_owned()),
    }
}

fn token_to_domain(row: refresh_tokens::Model) -> Result<RefreshTokenRecord, RepositoryError> {
    let token_hash = <[u8; 32]>::try_from(row.token_hash.as_slice())
        .map_err(|_| RepositoryError::new(format!("refresh token {} has a malformed hash", row.id)))?;
    Ok(RefreshTokenRecord {
        id: row.id,
        session_id: SessionId(row.session_id),
        token_hash: TokenHash(token_hash),
        parent_id: row.parent_id,
        created_at: row.created_at,
        expires_at: row.expires_at,
        rotated_at: row.rotated_at,
        successor_id: row.successor_id,
        successor_sealed: row.successor_sealed,
    })
}

fn token_row(token: &RefreshTokenRecord) -> refresh_tokens::ActiveModel {
    refresh_tokens::ActiveModel {
        id: Set(token.id),
        session_id: Set(token.session_id.0),
        token_hash: Set(token.token_hash.0.to_vec()),
        parent_id: Set(token.parent_id),
        created_at: Set(token.created_at),
        expires_at: Set(token.expires_at),
        rotated_at: Set(token.rotated_at),
        successor_id: Set(token.successor_id),
        successor_sealed: Set(token.successor_sealed.clone()),
    }
}

#[async_trait]
impl SessionRepository for SqlSessionRepository {
    #[tracing::instrument(skip_all, fields(session_id = %session.id))]
    async fn create(
        &self,
        session: &Session,
        first_token: &RefreshTokenRecord,
        login: &VerifiedLogin,
    ) -> Result<(), CreateSessionError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        // The user's row first: the conditional update re-checks the account
        // and holds its row lock until commit, so a deactivation, deletion,
        // password change or second-factor confirmation either came first (no
        // row matches) or waits for this session to exist before it revokes
        // the user's sessions.
        let mut update = users::Entity::update_many()
            .col_expr(users::Column::LastLoginAt, Expr::value(Some(session.created_at)));
        if let Some(rehash) = &login.rehash {
            update = update.col_expr(users::Column::PasswordHash, Expr::value(rehash.0.clone()));
        }
        if !session.auth_methods.has_second_factor() {
            // A password alone no longer opens a session once TOTP is on.
            update = update.filter(users::Column::MfaEnabled.eq(false));
        }
        let still_valid = update
            .filter(users::Column::Id.eq(session.user_id.0))
            .filter(users::Column::IsActive.eq(true))
            .filter(users::Column::DeletedAt.is_null())
            .filter(users::Column::PasswordHash.eq(login.password_hash.0.clone()))
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        if still_valid.rows_affected == 0 {
            // Dropping `txn` rolls back.
            return Err(CreateSessionError::AccountChanged);
        }
        session_row(session).insert(&txn).await.map_err(unexpected)?;
        token_row(first_token).insert(&txn).await.map_err(unexpected)?;
        Ok(txn.commit().await.map_err(unexpected)?)
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepositoryError> {
        let row = unique_row(sessions::Entity::find_by_id(id.0), &self.db)
            .await
            .map_err(unexpected)?;
        row.map(session_to_domain).transpose()
    }

    async fn find_with_user(&self, id: SessionId) -> Result<Option<SessionWithUser>, RepositoryError> {
        let Some(session) = self.find(id).await? else {
            return Ok(None);
        };
        let user = unique_row(users::Entity::find_by_id(session.user_id.0), &self.db)
            .await
            .map_err(unexpected)?;
        Ok(user.map(|row| SessionWithUser {
            session,
            user: user_to_domain(row),
        }))
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        let select =
            refresh_tokens::Entity::find().filter(refresh_tokens::Column::TokenHash.eq(hash.0.to_vec()));
        let row = unique_row(select, &self.db).await.map_err(unexpected)?;
        row.map(token_to_domain).transpose()
    }

    async fn find_refresh_context(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshContext>, RepositoryError> {
        self.context_reads.read(&self.db, hash).await
    }

    async fn find_refresh_token_by_id(
        &self,
        id: Uuid,
    ) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        let row = unique_row(refresh_tokens::Entity::find_by_id(id), &self.db)
            .await
            .map_err(unexpected)?;
        row.map(token_to_domain).transpose()
    }

    #[tracing::instrument(skip_all, fields(session_id = %successor.session_id))]
    async fn rotate(
        &self,
        parent_id: Uuid,
        sealed_successor: &[u8],
        successor: &RefreshTokenRecord,
    ) -> Result<RotateOutcome, RepositoryError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        // The conditional UPDATE is the first statement, so it is what takes
        // the write lock: of concurrent rotations exactly one sees a row.
        let claimed = refresh_tokens::Entity::update_many()
            .col_expr(
                refresh_tokens::Column::RotatedAt,
                Expr::value(Some(successor.created_at)),
            )
            .col_expr(
                refresh_tokens::Column::SuccessorId,
                Expr::value(Some(successor.id)),
            )
            .col_expr(
                refresh_tokens::Column::SuccessorSealed,
                Expr::value(Some(sealed_successor.to_vec())),
            )
            .filter(refresh_tokens::Column::Id.eq(parent_id))
            .filter(refresh_tokens::Column::RotatedAt.is_null())
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        if claimed.rows_affected == 0 {
            txn.rollback().await.map_err(unexpected)?;
            return Ok(RotateOutcome::AlreadyRotated);
        }
        token_row(successor).insert(&txn).await.map_err(unexpected)?;
        sessions::Entity::update_many()
            .col_expr(sessions::Column::LastUsedAt, Expr::value(successor.created_at))
            .filter(sessions::Column::Id.eq(successor.session_id.0))
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        txn.commit().await.map_err(unexpected)?;
        Ok(RotateOutcome::Rotated)
    }

    async fn touch(&self, id: SessionId, at: Timestamp) -> Result<(), RepositoryError> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::LastUsedAt, Expr::value(at))
            .filter(sessions::Column::Id.eq(id.0))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    async fn revoke(&self, id: SessionId, at: Timestamp) -> Result<(), RepositoryError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        record(&txn, AuthChange::Session(id), at)
            .await
            .map_err(unexpected)?;
        sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(Some(at)))
            .filter(sessions::Column::Id.eq(id.0))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        txn.commit().await.map_err(unexpected)
    }

    async fn revoke_all_for_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        at: Timestamp,
    ) -> Result<u64, RepositoryError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        record(&txn, AuthChange::User(user), at)
            .await
            .map_err(unexpected)?;
        let mut update = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(Some(at)))
            .filter(sessions::Column::UserId.eq(user.0))
            .filter(sessions::Column::RevokedAt.is_null());
        if let Some(keep) = keep {
            update = update.filter(sessions::Column::Id.ne(keep.0));
        }
        let revoked = update.exec(&txn).await.map_err(unexpected)?.rows_affected;
        txn.commit().await.map_err(unexpected)?;
        Ok(revoked)
    }

    async fn list_live_for_user(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, RepositoryError> {
        let rows = sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user.0))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .order_by_desc(sessions::Column::CreatedAt)
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        rows.into_iter().map(session_to_domain).collect()
    }

    async fn purge_ended_sessions(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        purge::ended_sessions(&self.db, cutoff, limit).await
    }

    async fn purge_refresh_tokens_of_ended_sessions(
        &self,
        cutoff: Timestamp,
        limit: u64,
    ) -> Result<u64, RepositoryError> {
        purge::refresh_tokens_of_ended_sessions(&self.db, cutoff, limit).await
    }
}
