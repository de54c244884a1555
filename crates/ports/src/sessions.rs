use async_trait::async_trait;
use latch_domain::{RefreshTokenRecord, Session, SessionId, Timestamp, TokenHash, User, UserId};
use uuid::Uuid;

use crate::{PasswordHash, RepositoryError};

/// What happened when a rotation was attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The parent was current; it is now rotated and the successor stored.
    Rotated,
    /// Someone rotated the parent first; nothing was written.
    AlreadyRotated,
}

/// What a refresh checks, read together: a refresh token, its session and
/// the session's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshContext {
    /// The token, rotated or not.
    pub token: RefreshTokenRecord,
    /// Its session, revoked or not.
    pub session: Session,
    /// The session's user, whatever its state (inactive, deleted).
    pub user: User,
}

/// A session and the user it belongs to, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionWithUser {
    /// The session, revoked or not.
    pub session: Session,
    /// Its user, whatever their state (inactive, deleted).
    pub user: User,
}

/// What a login checked about its account, which must still hold when the
/// session is stored.
#[derive(Debug, Clone)]
pub struct VerifiedLogin {
    /// The stored hash the password matched: a password change since then
    /// replaced it, and voids this login.
    pub password_hash: PasswordHash,
    /// A fresh hash of the same password to store in its place (the stored
    /// one is of an old scheme or old parameters), if any.
    pub rehash: Option<PasswordHash>,
}

/// Why a session was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateSessionError {
    /// The account is no longer the one the login checked: deactivated,
    /// deleted, or its password changed. Nothing was written.
    #[error("the account changed during the login")]
    AccountChanged,
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Where sessions and their refresh-token chains are kept.
#[async_trait]
pub trait SessionRepository: Send + Sync + 'static {
    /// Stores a new session and its first refresh token, both or neither,
    /// only if the session's user is at that moment active, not deleted, and
    /// still has `login.password_hash`. In the same write it sets the user's
    /// `last_login_at` to the session's `created_at` and stores
    /// `login.rehash`, if any (neither is recorded in the change log: no
    /// cached state depends on them). A session whose `auth_methods` is
    /// [`latch_domain::AuthMethods::Password`] is refused the same way when
    /// the user at that moment has `mfa_enabled`.
    ///
    /// Atomic with every write that deactivates, deletes or re-passwords the
    /// user: such a write either commits first (and the login is refused) or
    /// waits for the session to be stored (and its revocation then ends it).
    ///
    /// # Errors
    /// `AccountChanged`, writing nothing, when the user no longer qualifies.
    async fn create(
        &self,
        session: &Session,
        first_token: &RefreshTokenRecord,
        login: &VerifiedLogin,
    ) -> Result<(), CreateSessionError>;

    /// The session with this id, revoked or not; `None` if unknown.
    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepositoryError>;

    /// The session with this id and its user, in whatever state each is;
    /// `None` if the session is unknown (or, in a store without foreign
    /// keys, its user is). The read behind every authenticated request.
    async fn find_with_user(&self, id: SessionId) -> Result<Option<SessionWithUser>, RepositoryError>;

    /// The refresh token with this hash, rotated or not; `None` if unknown.
    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, RepositoryError>;

    /// The refresh token with this hash, its session and the session's user,
    /// in whatever state each is; `None` if the token is unknown (or, in a
    /// store without foreign keys, its session or user is).
    ///
    /// One call so that a store can answer on one connection: on a SQL pool
    /// every statement given its own connection costs a second round trip
    /// when the connection is handed back (docs/performance.md).
    async fn find_refresh_context(&self, hash: &TokenHash)
    -> Result<Option<RefreshContext>, RepositoryError>;

    /// The refresh token with this row id; `None` if unknown.
    async fn find_refresh_token_by_id(&self, id: Uuid)
    -> Result<Option<RefreshTokenRecord>, RepositoryError>;

    /// Atomically: if `parent_id` is not yet rotated, marks it rotated at
    /// `successor.created_at` with `successor.id` and `sealed_successor`, inserts
    /// `successor`, and sets the session's `last_used_at`; returns `Rotated`.
    /// If it was already rotated, MUST write nothing and return `AlreadyRotated`.
    /// Of any number of concurrent calls for one parent exactly one MUST win.
    async fn rotate(
        &self,
        parent_id: Uuid,
        sealed_successor: &[u8],
        successor: &RefreshTokenRecord,
    ) -> Result<RotateOutcome, RepositoryError>;

    /// Sets `last_used_at`.
    async fn touch(&self, id: SessionId, at: Timestamp) -> Result<(), RepositoryError>;

    /// Revokes one session at `at`; revoking a revoked or unknown session is a no-op.
    /// Recorded in the [`crate::AuthChangeLog`].
    async fn revoke(&self, id: SessionId, at: Timestamp) -> Result<(), RepositoryError>;

    /// Revokes every live session of `user` except `keep`; returns how many were revoked.
    /// Recorded in the [`crate::AuthChangeLog`].
    async fn revoke_all_for_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        at: Timestamp,
    ) -> Result<u64, RepositoryError>;

    /// The sessions of `user` that are live at `now`, newest first.
    async fn list_live_for_user(&self, user: UserId, now: Timestamp)
    -> Result<Vec<Session>, RepositoryError>;

    /// Deletes at most `limit` sessions that ended before `cutoff` — expired
    /// (`expires_at < cutoff`) or revoked (`revoked_at < cutoff`) — together
    /// with all their refresh tokens; returns how many sessions were deleted.
    /// Any other session and its tokens MUST be left alone; a further call
    /// deletes the next ones. Not recorded in the [`crate::AuthChangeLog`]:
    /// a session that has ended stays ended when its row is gone.
    async fn purge_ended_sessions(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError>;

    /// Deletes at most `limit` refresh tokens whose session ended before
    /// `cutoff` (as in [`SessionRepository::purge_ended_sessions`]), keeping
    /// the session rows; returns how many tokens were deleted. Every token of
    /// any other session — current, expired or rotated — MUST be kept: a
    /// rotated token presented again revokes its session, as long as the
    /// session lives.
    async fn purge_refresh_tokens_of_ended_sessions(
        &self,
        cutoff: Timestamp,
        limit: u64,
    ) -> Result<u64, RepositoryError>;
}
