//! `UserRepository` on SQL.

use std::collections::HashSet;

use async_trait::async_trait;
use latch_domain::{
    AvatarUrl, DisplayName, Email, ProfilePatch, StandingChange, TierName, Timestamp, User, UserId, Username,
    check_standing_change, is_active_superuser,
};
use latch_ports::{
    AccountFlags, AuthChange, CreateUserError, DeleteUserError, ImportError, ImportedUser, NewUser,
    PasswordHash, RepositoryError, UpdateUserError, UserCredentials, UserPage, UserQuery, UserRepository,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::bounded::BoundedPool;
use crate::changes::record;
use crate::entities::tiers;
use crate::entities::users::{self, Column, Entity};
use crate::error::{foreign_key_violation, unexpected, unique_violation};
use crate::unique::unique_row;

/// Users in the `users` table.
#[derive(Debug, Clone)]
pub struct SqlUserRepository {
    db: BoundedPool,
}

impl SqlUserRepository {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }
}

pub(crate) fn to_domain(row: users::Model) -> User {
    User {
        id: UserId(row.id),
        email: Email::from_stored(row.email),
        username: row.username.map(Username::from_stored),
        name: row.name.map(DisplayName::from_stored),
        avatar_url: row.avatar_url.map(AvatarUrl::from_stored),
        is_active: row.is_active,
        is_staff: row.is_staff,
        is_superuser: row.is_superuser,
        tier: TierName::from_stored(row.tier),
        email_verified: row.email_verified,
        mfa_enabled: row.mfa_enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_login_at: row.last_login_at,
        deleted_at: row.deleted_at,
    }
}

/// `raw` with LIKE's wildcards taken literally.
fn escape_like(raw: &str) -> String {
    raw.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Which of our unique columns `err` violated, if it is a unique violation.
fn taken_column(err: &DbErr) -> Option<Column> {
    let detail = unique_violation(err)?;
    if detail.contains("username_normalized") {
        Some(Column::UsernameNormalized)
    } else if detail.contains("email_normalized") {
        Some(Column::EmailNormalized)
    } else {
        None
    }
}

/// Rows per multi-row INSERT and keys per `IN (...)` list: at 18 values a
/// row this stays under SQLite's 32766 and PostgreSQL's 65535 bind
/// parameters per statement, whatever the caller's batch size.
const ROWS_PER_STATEMENT: usize = 1000;

fn imported_row(user: &ImportedUser) -> users::ActiveModel {
    users::ActiveModel {
        id: Set(user.id.0),
        email_normalized: Set(user.email.normalized()),
        email: Set(user.email.as_str().to_owned()),
        username_normalized: Set(user.username.as_ref().map(|u| u.normalized())),
        username: Set(user.username.as_ref().map(|u| u.as_str().to_owned())),
        name: Set(user.name.as_ref().map(|n| n.as_str().to_owned())),
        avatar_url: Set(user.avatar_url.as_ref().map(|a| a.as_str().to_owned())),
        password_hash: Set(user.password_hash.0.clone()),
        is_active: Set(user.is_active),
        is_staff: Set(user.is_staff),
        is_superuser: Set(user.is_superuser),
        tier: Set(user.tier.as_str().to_owned()),
        email_verified: Set(user.email_verified),
        created_at: Set(user.created_at),
        updated_at: Set(user.imported_at),
        last_login_at: Set(None),
        deleted_at: Set(None),
        // A second factor is enrolled on Latch itself, never imported.
        mfa_enabled: Set(false),
    }
}

/// Which of `wanted` are stored in `column` of `E`'s table, looked up in chunks.
async fn existing<E, C>(
    db: &C,
    column: E::Column,
    wanted: &[String],
) -> Result<HashSet<String>, RepositoryError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut found = HashSet::new();
    for chunk in wanted.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = E::find()
            .select_only()
            .column(column)
            .filter(column.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await
            .map_err(unexpected)?;
        found.extend(values);
    }
    Ok(found)
}

/// The first row of `batch` that cannot be inserted: its email or username
/// is already stored or used by an earlier row, or its tier does not exist.
/// Checked up front so the error can name the row, which a failed multi-row
/// INSERT cannot.
async fn first_conflict<C: ConnectionTrait>(
    db: &C,
    batch: &[ImportedUser],
) -> Result<Option<ImportError>, RepositoryError> {
    let emails: Vec<String> = batch.iter().map(|u| u.email.normalized()).collect();
    let usernames: Vec<Option<String>> = batch
        .iter()
        .map(|u| u.username.as_ref().map(|n| n.normalized()))
        .collect();
    let tier_names: HashSet<&str> = batch.iter().map(|u| u.tier.as_str()).collect();
    let usernames_given: Vec<String> = usernames.iter().flatten().cloned().collect();
    let tier_names: Vec<String> = tier_names.into_iter().map(str::to_owned).collect();
    let taken_emails = existing::<Entity, _>(db, Column::EmailNormalized, &emails).await?;
    let taken_usernames = existing::<Entity, _>(db, Column::UsernameNormalized, &usernames_given).await?;
    let known_tiers = existing::<tiers::Entity, _>(db, tiers::Column::Name, &tier_names).await?;
    let mut seen_emails = HashSet::new();
    let mut seen_usernames = HashSet::new();
    for (row, ((user, email), username)) in batch.iter().zip(&emails).zip(&usernames).enumerate() {
        let row = Some(row);
        if taken_emails.contains(email) || !seen_emails.insert(email) {
            return Ok(Some(ImportError::EmailTaken { row }));
        }
        if let Some(username) = username
            && (taken_usernames.contains(username) || !seen_usernames.insert(username))
        {
            return Ok(Some(ImportError::UsernameTaken { row }));
        }
        if !known_tiers.contains(user.tier.as_str()) {
            return Ok(Some(ImportError::UnknownTier { row }));
        }
    }
    Ok(None)
}

/// How many users are superusers, active and not deleted, as `db` sees them.
async fn count_active_superusers<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::IsSuperuser.eq(true))
        .filter(Column::IsActive.eq(true))
        .filter(Column::DeletedAt.is_null())
        .count(db)
        .await
}

/// Whether `change` to user `id` would take away the last active
/// superuser, read inside the writing transaction `txn`. It must run after
/// [`record`]: the counter row that `record` locks queues every recorded
/// write, so two changes that each remove one of the last two superusers
/// cannot both count two.
async fn removes_the_last_superuser<C: ConnectionTrait>(
    txn: &C,
    id: UserId,
    change: StandingChange,
) -> Result<bool, DbErr> {
    if !change.takes_standing() {
        return Ok(false);
    }
    let Some(target) = unique_row(Entity::find_by_id(id.0), txn).await?.map(to_domain) else {
        return Ok(false);
    };
    // Counted only when it matters: most changes do not touch a superuser.
    if !is_active_superuser(&target) {
        return Ok(false);
    }
    let active = count_active_superusers(txn).await?;
    Ok(check_standing_change(&target, change, active).is_err())
}

#[async_trait]
impl UserRepository for SqlUserRepository {
    #[tracing::instrument(skip_all, fields(rows = batch.len()))]
    async fn import_batch(&self, batch: &[ImportedUser]) -> Result<(), ImportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin().await.map_err(unexpected)?;
        if let Some(conflict) = first_conflict(&txn, batch).await? {
            txn.rollback().await.map_err(unexpected)?;
            return Err(conflict);
        }
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            // Dropping `txn` on an error rolls everything back. Reaching this
            // error means a concurrent writer got in after the check above.
            Entity::insert_many(chunk.iter().map(imported_row))
                .exec_without_returning(&txn)
                .await
                .map_err(|err| {
                    if foreign_key_violation(&err) {
                        return ImportError::UnknownTier { row: None };
                    }
                    match taken_column(&err) {
                        Some(Column::UsernameNormalized) => ImportError::UsernameTaken { row: None },
                        Some(_) => ImportError::EmailTaken { row: None },
                        None => ImportError::Repository(unexpected(err)),
                    }
                })?;
        }
        txn.commit().await.map_err(unexpected)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(user_id = %new.id))]
    async fn create(&self, new: NewUser) -> Result<User, CreateUserError> {
        let row = users::ActiveModel {
            id: Set(new.id.0),
            email_normalized: Set(new.email.normalized()),
            email: Set(new.email.as_str().to_owned()),
            username_normalized: Set(new.username.as_ref().map(|u| u.normalized())),
            username: Set(new.username.map(|u| u.as_str().to_owned())),
            name: Set(new.name.map(|n| n.as_str().to_owned())),
            avatar_url: Set(new.avatar_url.map(|a| a.as_str().to_owned())),
            password_hash: Set(new.password_hash.0),
            is_active: Set(true),
            is_staff: Set(new.is_staff),
            is_superuser: Set(new.is_superuser),
            tier: Set(new.tier.as_str().to_owned()),
            email_verified: Set(false),
            created_at: Set(new.now),
            updated_at: Set(new.now),
            last_login_at: Set(None),
            deleted_at: Set(None),
            mfa_enabled: Set(false),
        };
        match row.insert(&self.db).await {
            Ok(row) => Ok(to_domain(row)),
            Err(err) => Err(match taken_column(&err) {
                Some(Column::UsernameNormalized) => CreateUserError::UsernameTaken,
                Some(_) => CreateUserError::EmailTaken,
                None => CreateUserError::Repository(unexpected(err)),
            }),
        }
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        let row = unique_row(Entity::find_by_id(id.0), &self.db)
            .await
            .map_err(unexpected)?;
        Ok(row.map(to_domain))
    }

    async fn find_credentials(&self, login: &str) -> Result<Option<UserCredentials>, RepositoryError> {
        // Usernames cannot contain '@' and emails must, so one indexed column decides.
        let normalized = login.trim().to_lowercase();
        let column = if normalized.contains('@') {
            Column::EmailNormalized
        } else {
            Column::UsernameNormalized
        };
        let row = unique_row(Entity::find().filter(column.eq(normalized)), &self.db)
            .await
            .map_err(unexpected)?;
        Ok(row.map(|row| {
            let password_hash = PasswordHash(row.password_hash.clone());
            UserCredentials {
                user: to_domain(row),
                password_hash,
            }
        }))
    }

    async fn update_account(
        &self,
        id: UserId,
        patch: ProfilePatch,
        flags: AccountFlags,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        let mut update = Entity::update_many().col_expr(Column::UpdatedAt, Expr::value(now));
        if let Some(name) = patch.name {
            update = update.col_expr(Column::Name, Expr::value(name.map(|n| n.as_str().to_owned())));
        }
        if let Some(username) = patch.username {
            update = update
                .col_expr(
                    Column::UsernameNormalized,
                    Expr::value(username.as_ref().map(|u| u.normalized())),
                )
                .col_expr(
                    Column::Username,
                    Expr::value(username.map(|u| u.as_str().to_owned())),
                );
        }
        if let Some(avatar_url) = patch.avatar_url {
            update = update.col_expr(
                Column::AvatarUrl,
                Expr::value(avatar_url.map(|a| a.as_str().to_owned())),
            );
        }
        for (column, value) in [
            (Column::IsActive, flags.is_active),
            (Column::IsStaff, flags.is_staff),
            (Column::IsSuperuser, flags.is_superuser),
        ] {
            if let Some(value) = value {
                update = update.col_expr(column, Expr::value(value));
            }
        }
        if let Some(tier) = flags.tier {
            update = update.col_expr(Column::Tier, Expr::value(tier.as_str().to_owned()));
        }
        let standing = StandingChange {
            is_superuser: flags.is_superuser,
            is_active: flags.is_active,
            delete: false,
        };
        let txn = self.db.begin().await.map_err(unexpected)?;
        record(&txn, AuthChange::User(id), now)
            .await
            .map_err(unexpected)?;
        // Dropping `txn` on an early return rolls the change record back.
        if removes_the_last_superuser(&txn, id, standing)
            .await
            .map_err(unexpected)?
        {
            return Err(UpdateUserError::LastSuperuser);
        }
        let result = update
            .filter(Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(|err| {
                // The only foreign key on `users` is its tier.
                if foreign_key_violation(&err) {
                    return UpdateUserError::UnknownTier;
                }
                match taken_column(&err) {
                    Some(_) => UpdateUserError::UsernameTaken,
                    None => UpdateUserError::Repository(unexpected(err)),
                }
            })?;
        if result.rows_affected == 0 {
            return Err(UpdateUserError::NotFound);
        }
        let row = unique_row(Entity::find_by_id(id.0), &txn)
            .await
            .map_err(unexpected)?
            .ok_or(UpdateUserError::NotFound)?;
        txn.commit().await.map_err(unexpected)?;
        Ok(to_domain(row))
    }

    async fn list(&self, query: &UserQuery) -> Result<UserPage, RepositoryError> {
        let mut select = Entity::find();
        if !query.include_deleted {
            select = select.filter(Column::DeletedAt.is_null());
        }
        if let Some(search) = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
            let like = |expr: Expr| expr.like(LikeExpr::new(pattern.clone()).escape('\\'));
            select = select.filter(
                Condition::any()
                    .add(like(Expr::col(Column::EmailNormalized)))
                    .add(like(Expr::col(Column::UsernameNormalized)))
                    .add(like(Expr::expr(Func::lower(Expr::col(Column::Name))))),
            );
        }
        let total = select.clone().count(&self.db).await.map_err(unexpected)?;
        let rows = select
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .offset(query.page.saturating_sub(1).saturating_mul(query.per_page))
            .limit(query.per_page)
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(UserPage {
            items: rows.into_iter().map(to_domain).collect(),
            total,
        })
    }

    async fn restore(&self, id: UserId, now: Timestamp) -> Result<(), RepositoryError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        record(&txn, AuthChange::User(id), now)
            .await
            .map_err(unexpected)?;
        Entity::update_many()
            .col_expr(Column::DeletedAt, Expr::value(Option::<Timestamp>::None))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::Id.eq(id.0))
            .filter(Column::DeletedAt.is_not_null())
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        txn.commit().await.map_err(unexpected)
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), RepositoryError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        record(&txn, AuthChange::User(id), now)
            .await
            .map_err(unexpected)?;
        Entity::update_many()
            .col_expr(Column::PasswordHash, Expr::value(hash.0.clone()))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        txn.commit().await.map_err(unexpected)
    }

    async fn soft_delete(&self, id: UserId, at: Timestamp) -> Result<(), DeleteUserError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        record(&txn, AuthChange::User(id), at).await.map_err(unexpected)?;
        let delete = StandingChange {
            delete: true,
            ..StandingChange::default()
        };
        if removes_the_last_superuser(&txn, id, delete)
            .await
            .map_err(unexpected)?
        {
            return Err(DeleteUserError::LastSuperuser);
        }
        Entity::update_many()
            .col_expr(Column::DeletedAt, Expr::value(Some(at)))
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .filter(Column::Id.eq(id.0))
            .filter(Column::DeletedAt.is_null())
            .exec(&txn)
            .await
            .map_err(unexpected)?;
        Ok(txn.commit().await.map_err(unexpected)?)
    }
}
