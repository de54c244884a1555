use async_trait::async_trait;
use latch_domain::{
    AvatarUrl, DisplayName, Email, ProfilePatch, TierName, Timestamp, User, UserId, Username,
};

use crate::{PasswordHash, RepositoryError};

/// Everything needed to insert a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Pre-generated id (UUID v7).
    pub id: UserId,
    /// Validated email.
    pub email: Email,
    /// Validated username.
    pub username: Option<Username>,
    /// Display name.
    pub name: Option<DisplayName>,
    /// Avatar URL.
    pub avatar_url: Option<AvatarUrl>,
    /// Hash of the chosen password.
    pub password_hash: PasswordHash,
    /// Superuser flag (only `create-superuser` sets it).
    pub is_superuser: bool,
    /// Staff flag.
    pub is_staff: bool,
    /// Tier name.
    pub tier: TierName,
    /// Creation time (also `updated_at`).
    pub now: Timestamp,
}

/// A user brought over from another system, with the flags, date and
/// password hash it had there.
#[derive(Debug, Clone)]
pub struct ImportedUser {
    /// Pre-generated id (UUID v7).
    pub id: UserId,
    /// Validated email.
    pub email: Email,
    /// Validated username.
    pub username: Option<Username>,
    /// Display name.
    pub name: Option<DisplayName>,
    /// Avatar URL.
    pub avatar_url: Option<AvatarUrl>,
    /// The hash as the old system stored it (checked to be verifiable).
    pub password_hash: PasswordHash,
    /// Active flag.
    pub is_active: bool,
    /// Staff flag.
    pub is_staff: bool,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Whether the old system had confirmed the email address.
    pub email_verified: bool,
    /// Tier name.
    pub tier: TierName,
    /// When the account was created in the old system.
    pub created_at: Timestamp,
    /// When it was imported (stored as `updated_at`).
    pub imported_at: Timestamp,
}

/// Why a batch of imported users was not stored. `row` is the index in the
/// batch of the row at fault, when the store can tell (`None` when it cannot,
/// e.g. a concurrent writer took the email between check and insert).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The row's email belongs to an existing user or to an earlier row of the batch.
    #[error("email already taken")]
    EmailTaken {
        /// Index of the row in the batch.
        row: Option<usize>,
    },
    /// The row's username belongs to an existing user or to an earlier row of the batch.
    #[error("username already taken")]
    UsernameTaken {
        /// Index of the row in the batch.
        row: Option<usize>,
    },
    /// The row's tier does not exist.
    #[error("unknown tier")]
    UnknownTier {
        /// Index of the row in the batch.
        row: Option<usize>,
    },
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// A user together with their stored password hash, for login only.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The account.
    pub user: User,
    /// Its stored hash.
    pub password_hash: PasswordHash,
}

/// Flags only the admin API may change. `None` = leave as is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFlags {
    /// Active flag.
    pub is_active: Option<bool>,
    /// Staff flag.
    pub is_staff: Option<bool>,
    /// Superuser flag.
    pub is_superuser: Option<bool>,
    /// Tier name.
    pub tier: Option<TierName>,
}

impl AccountFlags {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// One page of a user listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserQuery {
    /// Case-insensitive substring of email, username or name.
    pub search: Option<String>,
    /// Include soft-deleted users.
    pub include_deleted: bool,
    /// 1-based page number.
    pub page: u64,
    /// Page size (at least 1).
    pub per_page: u64,
}

/// A page of users and the number of users matching in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// This page, oldest account first.
    pub items: Vec<User>,
    /// All matches, across pages.
    pub total: u64,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Another user has this email (case-insensitively).
    #[error("email already taken")]
    EmailTaken,
    /// Another user has this username (case-insensitively).
    #[error("username already taken")]
    UsernameTaken,
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Why a user could not be updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// Another user has this username.
    #[error("username already taken")]
    UsernameTaken,
    /// The tier does not exist.
    #[error("unknown tier")]
    UnknownTier,
    /// The change would leave no active superuser.
    #[error("this would leave no active superuser")]
    LastSuperuser,
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Why a user could not be soft-deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    /// The user is the last active superuser.
    #[error("this would leave no active superuser")]
    LastSuperuser,
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Where users are kept.
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// Inserts a user and returns it as stored.
    ///
    /// # Errors
    /// MUST return `EmailTaken` / `UsernameTaken` when another user (deleted or
    /// not) has the same email / username ignoring case, and then write nothing.
    async fn create(&self, user: NewUser) -> Result<User, CreateUserError>;

    /// Inserts every user of `users` in one transaction: all of them, or
    /// (on any error) none. An empty batch is a no-op.
    ///
    /// # Errors
    /// `EmailTaken` / `UsernameTaken` when a row's email / username (ignoring
    /// case) belongs to an existing user, deleted or not, or to an earlier row
    /// of the batch; `UnknownTier` for a tier that does not exist. `row` names
    /// the first such row whenever the store can tell.
    async fn import_batch(&self, users: &[ImportedUser]) -> Result<(), ImportError>;

    /// The user with this id, deleted or not; `None` if there is none.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError>;

    /// The user whose email or username equals `login` ignoring case, with
    /// their password hash; `None` if there is none. Deleted users are returned
    /// too (the caller decides), so lookups cost the same either way.
    async fn find_credentials(&self, login: &str) -> Result<Option<UserCredentials>, RepositoryError>;

    /// Applies a profile patch and bumps `updated_at`; returns the new state.
    ///
    /// # Errors
    /// `NotFound` for an unknown id; `UsernameTaken` if the new username
    /// belongs to another user (nothing is written then).
    /// Recorded in the [`crate::AuthChangeLog`]. It is
    /// [`Self::update_account`] with no flags, so adapters need not write it.
    async fn update_profile(
        &self,
        id: UserId,
        patch: ProfilePatch,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        self.update_account(id, patch, AccountFlags::default(), now).await
    }

    /// Replaces the stored password hash (rehash on login, password change).
    /// Recorded in the [`crate::AuthChangeLog`].
    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), RepositoryError>;

    /// Applies a profile patch and admin-only flags in one write and bumps
    /// `updated_at`; the errors of [`UserRepository::update_profile`], and
    /// `UnknownTier` (writing nothing) for a tier that does not exist.
    /// Recorded in the [`crate::AuthChangeLog`].
    ///
    /// # Errors
    /// MUST return `LastSuperuser`, writing nothing, when the flags would take
    /// the last active superuser's standing away
    /// ([`latch_domain::check_standing_change`]). The rule is decided inside
    /// the write, atomically: of two concurrent changes that each remove one of
    /// the last two superusers, at most one succeeds.
    async fn update_account(
        &self,
        id: UserId,
        patch: ProfilePatch,
        flags: AccountFlags,
        now: Timestamp,
    ) -> Result<User, UpdateUserError>;

    /// Users matching `query`, oldest account first (ties by id), and their total.
    /// A page past the end is empty, not an error.
    async fn list(&self, query: &UserQuery) -> Result<UserPage, RepositoryError>;

    /// Clears `deleted_at` (and bumps `updated_at`); a no-op for a user who is not deleted.
    /// Recorded in the [`crate::AuthChangeLog`].
    async fn restore(&self, id: UserId, now: Timestamp) -> Result<(), RepositoryError>;

    /// Soft-deletes a user: sets `deleted_at` (and `updated_at`) once, keeping
    /// the row and its data. Deleting a deleted or unknown user is a no-op.
    /// Recorded in the [`crate::AuthChangeLog`].
    ///
    /// # Errors
    /// MUST return `LastSuperuser`, writing nothing, for the last active
    /// superuser, decided atomically with the write as in
    /// [`UserRepository::update_account`].
    async fn soft_delete(&self, id: UserId, at: Timestamp) -> Result<(), DeleteUserError>;
}
