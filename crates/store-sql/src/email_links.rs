//! `EmailLinkRepository` on SQL: links in `email_links`, their mails queued
//! in `email_outbox` by the same transaction.
//!
//! Following a link is one transaction whose spend is a conditional UPDATE
//! (unspent, unexpired, of the purpose): of two concurrent consumes exactly
//! one changes the row. On PostgreSQL the other waits for the row lock and
//! then finds it spent; on SQLite writers take turns. The account is then
//! checked by the conditional UPDATE that applies the action, so the check
//! and the write cannot be told apart by any other transaction.

use async_trait::async_trait;
use latch_domain::{LinkPurpose, Timestamp, TokenHash, User, UserId};
use latch_ports::{
    AuthChange, ConsumeLinkError, EmailLinkRepository, LinkAction, NewEmailLink, QueuedEmail, RepositoryError,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, UpdateMany};

use crate::bounded::{BoundedPool, BoundedTransaction};
use crate::changes::record;
use crate::entities::{email_links, email_outbox, sessions, users};
use crate::error::{unexpected, unique_violation};
use crate::outbox::queued_row;
use crate::unique::unique_row;
use crate::users::to_domain as user_to_domain;

/// Emailed links in `email_links`; [`EmailLinkRepository::issue`] also
/// writes their mails into `email_outbox`.
#[derive(Debug, Clone)]
pub struct SqlEmailLinkRepository {
    db: BoundedPool,
}

impl SqlEmailLinkRepository {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }
}

fn link_row(link: &NewEmailLink) -> email_links::ActiveModel {
    email_links::ActiveModel {
        token_hash: Set(link.token_hash.0.to_vec()),
        user_id: Set(link.user_id.0),
        purpose: Set(link.purpose.as_str().to_owned()),
        address: Set(link.address.as_str().to_owned()),
        address_normalized: Set(link.address.normalized()),
        created_at: Set(link.created_at),
        expires_at: Set(link.expires_at),
        spent_at: Set(None),
    }
}

/// Whether the stored link may still be followed for `purpose` at `now`.
fn usable(link: &email_links::Model, purpose: LinkPurpose, now: Timestamp) -> bool {
    link.purpose == purpose.as_str() && link.spent_at.is_none() && now < link.expires_at
}

/// Whether `user` may follow a link of `purpose` sent to `link`'s address.
/// A change moves the account to a new address: only the others must still
/// reach the address they were sent to.
fn account_accepts(user: &users::Model, link: &email_links::Model, purpose: LinkPurpose) -> bool {
    let same_address =
        purpose == LinkPurpose::ChangeEmail || user.email_normalized == link.address_normalized;
    user.is_active && user.deleted_at.is_none() && same_address
}

/// The UPDATE of the link's account that applies `action`, matching only an
/// account that may still follow the link: 0 rows means `Invalid`.
fn account_update(
    action: &LinkAction,
    link: &email_links::Model,
    now: Timestamp,
) -> UpdateMany<users::Entity> {
    let update = users::Entity::update_many()
        .col_expr(users::Column::EmailVerified, Expr::value(true))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(link.user_id))
        .filter(users::Column::IsActive.eq(true))
        .filter(users::Column::DeletedAt.is_null());
    match action {
        LinkAction::VerifyEmail => {
            update.filter(users::Column::EmailNormalized.eq(link.address_normalized.clone()))
        }
        LinkAction::ResetPassword { password_hash } => update
            .col_expr(users::Column::PasswordHash, Expr::value(password_hash.0.clone()))
            .filter(users::Column::EmailNormalized.eq(link.address_normalized.clone())),
        LinkAction::ChangeEmail => update
            .col_expr(users::Column::Email, Expr::value(link.address.clone()))
            .col_expr(
                users::Column::EmailNormalized,
                Expr::value(link.address_normalized.clone()),
            ),
    }
}

/// Voids every unspent link of `user` for `purpose` (the one just spent is
/// spent already), marking it spent at `at`.
async fn void_links<C: ConnectionTrait>(
    txn: &C,
    user: UserId,
    purpose: LinkPurpose,
    at: Timestamp,
) -> Result<(), DbErr> {
    email_links::Entity::update_many()
        .col_expr(email_links::Column::SpentAt, Expr::value(Some(at)))
        .filter(email_links::Column::UserId.eq(user.0))
        .filter(email_links::Column::Purpose.eq(purpose.as_str()))
        .filter(email_links::Column::SpentAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// Whether `err` is the account's new address being another's.
fn address_taken(err: &DbErr) -> bool {
    unique_violation(err).is_some_and(|detail| detail.contains("email_normalized"))
}

impl SqlEmailLinkRepository {
    /// The link stored under `token_hash`, if any.
    async fn find(&self, token_hash: &TokenHash) -> Result<Option<email_links::Model>, RepositoryError> {
        unique_row(email_links::Entity::find_by_id(token_hash.0.to_vec()), &self.db)
            .await
            .map_err(unexpected)
    }

    /// Spends `link` and applies `action` inside `txn`; the caller commits.
    async fn spend_and_apply(
        txn: &BoundedTransaction,
        link: &email_links::Model,
        action: &LinkAction,
        now: Timestamp,
    ) -> Result<User, ConsumeLinkError> {
        let purpose = action.purpose();
        let user = UserId(link.user_id);
        // First: the counter's row lock orders recorded writes (see `record`).
        record(txn, AuthChange::User(user), now)
            .await
            .map_err(unexpected)?;
        let spent = email_links::Entity::update_many()
            .col_expr(email_links::Column::SpentAt, Expr::value(Some(now)))
            .filter(email_links::Column::TokenHash.eq(link.token_hash.clone()))
            .filter(email_links::Column::Purpose.eq(purpose.as_str()))
            .filter(email_links::Column::SpentAt.is_null())
            .filter(email_links::Column::ExpiresAt.gt(now))
            .exec(txn)
            .await
            .map_err(unexpected)?;
        if spent.rows_affected != 1 {
            return Err(ConsumeLinkError::Invalid);
        }
        let applied = account_update(action, link, now).exec(txn).await.map_err(|err| {
            if address_taken(&err) {
                ConsumeLinkError::EmailTaken
            } else {
                unexpected(err).into()
            }
        })?;
        if applied.rows_affected != 1 {
            return Err(ConsumeLinkError::Invalid);
        }
        void_links(txn, user, purpose, now).await.map_err(unexpected)?;
        if matches!(action, LinkAction::ResetPassword { .. }) {
            sessions::Entity::update_many()
                .col_expr(sessions::Column::RevokedAt, Expr::value(Some(now)))
                .filter(sessions::Column::UserId.eq(user.0))
                .filter(sessions::Column::RevokedAt.is_null())
                .exec(txn)
                .await
                .map_err(unexpected)?;
        }
        let row = unique_row(users::Entity::find_by_id(user.0), txn)
            .await
            .map_err(unexpected)?
            .ok_or_else(|| RepositoryError::new("the account vanished inside its own update"))?;
        Ok(user_to_domain(row))
    }
}

#[async_trait]
impl EmailLinkRepository for SqlEmailLinkRepository {
    #[tracing::instrument(skip_all, fields(user_id = %link.user_id, purpose = link.purpose.as_str()))]
    async fn issue(&self, link: &NewEmailLink, messages: &[QueuedEmail]) -> Result<(), RepositoryError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        // Dropping `txn` on an error rolls everything back.
        void_links(&txn, link.user_id, link.purpose, link.created_at)
            .await
            .map_err(unexpected)?;
        email_links::Entity::insert(link_row(link))
            .exec_without_returning(&txn)
            .await
            .map_err(unexpected)?;
        if !messages.is_empty() {
            email_outbox::Entity::insert_many(messages.iter().map(queued_row))
                .exec_without_returning(&txn)
                .await
                .map_err(unexpected)?;
        }
        txn.commit().await.map_err(unexpected)
    }

    async fn peek(
        &self,
        token_hash: &TokenHash,
        purpose: LinkPurpose,
        now: Timestamp,
    ) -> Result<Option<User>, RepositoryError> {
        let Some(link) = self
            .find(token_hash)
            .await?
            .filter(|link| usable(link, purpose, now))
        else {
            return Ok(None);
        };
        let user = unique_row(users::Entity::find_by_id(link.user_id), &self.db)
            .await
            .map_err(unexpected)?;
        Ok(user
            .filter(|user| account_accepts(user, &link, purpose))
            .map(user_to_domain))
    }

    #[tracing::instrument(skip_all, fields(purpose = action.purpose().as_str()))]
    async fn consume(
        &self,
        token_hash: &TokenHash,
        action: LinkAction,
        now: Timestamp,
    ) -> Result<User, ConsumeLinkError> {
        // Read outside the transaction for the account's id, which the change
        // record must name before anything else is written. Every condition
        // is checked again by the writes.
        let Some(link) = self
            .find(token_hash)
            .await?
            .filter(|link| usable(link, action.purpose(), now))
        else {
            return Err(ConsumeLinkError::Invalid);
        };
        let txn = self.db.begin().await.map_err(unexpected)?;
        match Self::spend_and_apply(&txn, &link, &action, now).await {
            Ok(user) => {
                txn.commit().await.map_err(unexpected)?;
                Ok(user)
            }
            Err(err) => {
                // A failed statement has already aborted the transaction on PostgreSQL.
                let _ = txn.rollback().await;
                Err(err)
            }
        }
    }
}
