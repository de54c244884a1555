//! The users and sessions repositories as the use cases see them when the
//! session cache is on (or in lease coherence): `find_with_user` is served
//! from the cache, and every write the store records in the change log also
//! drops what it changed from this instance's cache once the write returns,
//! and in lease coherence then waits until every other instance holding a
//! lease has applied it (see `lease.rs`).
//!
//! Keeping this at the repository edge, rather than in each use case, means a
//! new write path cannot forget to forget. It happens whether or not the
//! write reports success: an error may still have committed.

use std::sync::Arc;

use async_trait::async_trait;
use latch_domain::{
    ProfilePatch, RefreshTokenRecord, Session, SessionId, Timestamp, TokenHash, User, UserId,
};
use latch_ports::{
    AccountFlags, AuthChange, BeginTotpError, ConfirmTotpError, CreateSessionError, CreateUserError,
    DeleteUserError, ImportError, ImportedUser, NewUser, PasswordHash, RecoveryCodeHash, RefreshContext,
    RepositoryError, RotateOutcome, SecondFactorRepository, SessionRepository, SessionWithUser,
    TotpEnrolment, UpdateUserError, UserCredentials, UserPage, UserQuery, UserRepository, VerifiedLogin,
};
use uuid::Uuid;

use crate::coherence::Coherence;
use crate::lease::Lease;

/// Wraps `users` and `sessions` so that sessions are read through `cache`
/// and recorded writes forget from it and wait for the other instances' `lease`s.
pub(crate) fn wrap(
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    cache: Option<Arc<Coherence>>,
    lease: Option<Arc<Lease>>,
) -> (Arc<dyn UserRepository>, Arc<dyn SessionRepository>) {
    let after_write = AfterWrite { cache, lease };
    (
        Arc::new(ForgettingUsers {
            inner: users,
            after_write: after_write.clone(),
        }),
        Arc::new(CachingSessions {
            inner: sessions,
            after_write,
        }),
    )
}

/// What follows every recorded write.
#[derive(Clone)]
struct AfterWrite {
    cache: Option<Arc<Coherence>>,
    lease: Option<Arc<Lease>>,
}

impl AfterWrite {
    /// Forgets what `change` made stale here, waits for the other
    /// instances to have applied it, and passes `result` through.
    async fn written<T>(&self, change: AuthChange, result: T) -> T {
        if let Some(coherence) = &self.cache {
            coherence.cache.forget(change);
        }
        if let Some(lease) = &self.lease {
            lease.wait_for_others().await;
        }
        result
    }
}

/// Wraps `second_factors` so that its recorded writes (confirming and
/// removing) forget from `cache` and wait for the other instances' `lease`s.
pub(crate) fn wrap_second_factors(
    second_factors: Arc<dyn SecondFactorRepository>,
    cache: Option<Arc<Coherence>>,
    lease: Option<Arc<Lease>>,
) -> Arc<dyn SecondFactorRepository> {
    Arc::new(ForgettingSecondFactors {
        inner: second_factors,
        after_write: AfterWrite { cache, lease },
    })
}

/// A [`UserRepository`] whose recorded writes forget the user's sessions.
struct ForgettingUsers {
    inner: Arc<dyn UserRepository>,
    after_write: AfterWrite,
}

impl ForgettingUsers {
    /// Forgets `id`'s cached sessions and passes `result` through.
    async fn forgetting<T>(&self, id: UserId, result: T) -> T {
        self.after_write.written(AuthChange::User(id), result).await
    }
}

#[async_trait]
impl UserRepository for ForgettingUsers {
    async fn create(&self, user: NewUser) -> Result<User, CreateUserError> {
        self.inner.create(user).await
    }

    async fn import_batch(&self, users: &[ImportedUser]) -> Result<(), ImportError> {
        self.inner.import_batch(users).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        self.inner.find_by_id(id).await
    }

    async fn find_credentials(&self, login: &str) -> Result<Option<UserCredentials>, RepositoryError> {
        self.inner.find_credentials(login).await
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), RepositoryError> {
        self.forgetting(id, self.inner.set_password_hash(id, hash, now).await)
            .await
    }

    async fn update_account(
        &self,
        id: UserId,
        patch: ProfilePatch,
        flags: AccountFlags,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        self.forgetting(id, self.inner.update_account(id, patch, flags, now).await)
            .await
    }

    async fn list(&self, query: &UserQuery) -> Result<UserPage, RepositoryError> {
        self.inner.list(query).await
    }

    async fn restore(&self, id: UserId, now: Timestamp) -> Result<(), RepositoryError> {
        self.forgetting(id, self.inner.restore(id, now).await).await
    }

    async fn soft_delete(&self, id: UserId, at: Timestamp) -> Result<(), DeleteUserError> {
        self.forgetting(id, self.inner.soft_delete(id, at).await).await
    }
}

/// A [`SessionRepository`] that serves `find_with_user` from the cache and
/// whose revocations forget the sessions they end.
struct CachingSessions {
    inner: Arc<dyn SessionRepository>,
    after_write: AfterWrite,
}

#[async_trait]
impl SessionRepository for CachingSessions {
    /// Not recorded, so not forgotten: logins are frequent, and a cached
    /// `last_login_at` lags by at most the cache's `max_age`.
    async fn create(
        &self,
        session: &Session,
        first_token: &RefreshTokenRecord,
        login: &VerifiedLogin,
    ) -> Result<(), CreateSessionError> {
        self.inner.create(session, first_token, login).await
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepositoryError> {
        self.inner.find(id).await
    }

    async fn find_with_user(&self, id: SessionId) -> Result<Option<SessionWithUser>, RepositoryError> {
        match &self.after_write.cache {
            Some(coherence) => {
                coherence
                    .session_with_user(id, self.inner.find_with_user(id))
                    .await
            }
            None => self.inner.find_with_user(id).await,
        }
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        self.inner.find_refresh_token(hash).await
    }

    async fn find_refresh_context(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshContext>, RepositoryError> {
        self.inner.find_refresh_context(hash).await
    }

    async fn find_refresh_token_by_id(
        &self,
        id: Uuid,
    ) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        self.inner.find_refresh_token_by_id(id).await
    }

    /// Changes only the session's `last_used_at`, which no check depends on.
    async fn rotate(
        &self,
        parent_id: Uuid,
        sealed_successor: &[u8],
        successor: &RefreshTokenRecord,
    ) -> Result<RotateOutcome, RepositoryError> {
        self.inner.rotate(parent_id, sealed_successor, successor).await
    }

    async fn touch(&self, id: SessionId, at: Timestamp) -> Result<(), RepositoryError> {
        self.inner.touch(id, at).await
    }

    async fn revoke(&self, id: SessionId, at: Timestamp) -> Result<(), RepositoryError> {
        let result = self.inner.revoke(id, at).await;
        self.after_write.written(AuthChange::Session(id), result).await
    }

    async fn revoke_all_for_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        at: Timestamp,
    ) -> Result<u64, RepositoryError> {
        let result = self.inner.revoke_all_for_user(user, keep, at).await;
        self.after_write.written(AuthChange::User(user), result).await
    }

    async fn list_live_for_user(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, RepositoryError> {
        self.inner.list_live_for_user(user, now).await
    }

    /// Only sessions that have ended go, and an ended session fails its
    /// check whether or not it is still cached.
    async fn purge_ended_sessions(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        self.inner.purge_ended_sessions(cutoff, limit).await
    }

    async fn purge_refresh_tokens_of_ended_sessions(
        &self,
        cutoff: Timestamp,
        limit: u64,
    ) -> Result<u64, RepositoryError> {
        self.inner
            .purge_refresh_tokens_of_ended_sessions(cutoff, limit)
            .await
    }
}

/// A [`SecondFactorRepository`] whose recorded writes (`confirm_totp` and
/// `remove`, which change `mfa_enabled` and may revoke) forget the user's
/// sessions.
struct ForgettingSecondFactors {
    inner: Arc<dyn SecondFactorRepository>,
    after_write: AfterWrite,
}

#[async_trait]
impl SecondFactorRepository for ForgettingSecondFactors {
    async fn begin_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        now: Timestamp,
    ) -> Result<(), BeginTotpError> {
        self.inner.begin_totp(user_id, sealed_secret, now).await
    }

    async fn find_totp(&self, user_id: UserId) -> Result<Option<TotpEnrolment>, RepositoryError> {
        self.inner.find_totp(user_id).await
    }

    async fn confirm_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        step: i64,
        recovery_codes: &[RecoveryCodeHash],
        now: Timestamp,
    ) -> Result<(), ConfirmTotpError> {
        let result = self
            .inner
            .confirm_totp(user_id, sealed_secret, step, recovery_codes, now)
            .await;
        self.after_write.written(AuthChange::User(user_id), result).await
    }

    async fn use_totp_step(&self, user_id: UserId, step: i64) -> Result<bool, RepositoryError> {
        self.inner.use_totp_step(user_id, step).await
    }

    async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &RecoveryCodeHash,
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        self.inner.use_recovery_code(user_id, hash, now).await
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_codes: &[RecoveryCodeHash],
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        self.inner
            .replace_recovery_codes(user_id, recovery_codes, now)
            .await
    }

    async fn recovery_codes_left(&self, user_id: UserId) -> Result<u64, RepositoryError> {
        self.inner.recovery_codes_left(user_id).await
    }

    async fn remove(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let result = self.inner.remove(user_id, keep, now).await;
        self.after_write.written(AuthChange::User(user_id), result).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::Utc;
    use latch_ports::{Metrics, NoMetrics};
    use latch_testkit::{
        InMemoryAuthChangeLog, InMemorySecondFactorRepository, InMemorySessionRepository,
        InMemoryUserRepository,
    };

    use super::*;
    use crate::CacheCoherence;
    use crate::cache::tests::{cache, cached};

    /// A cache of ten sessions for one process.
    fn coherence() -> Arc<Coherence> {
        counted_coherence(Arc::new(NoMetrics))
    }

    /// The same, counting its hits and misses in `metrics`.
    fn counted_coherence(metrics: Arc<dyn Metrics>) -> Arc<Coherence> {
        Arc::new(Coherence::new(
            cache(10),
            CacheCoherence::SingleProcess,
            Arc::new(InMemoryAuthChangeLog::default()),
            None,
            metrics,
        ))
    }

    /// Hits and misses, as the metrics port hears of them.
    #[derive(Default)]
    struct CacheCounts {
        hits: AtomicUsize,
        misses: AtomicUsize,
    }

    impl Metrics for CacheCounts {
        fn session_cache(&self, hit: bool) {
            let counter = if hit { &self.hits } else { &self.misses };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[tokio::test]
    async fn hits_and_misses_are_counted() {
        let counts = Arc::new(CacheCounts::default());
        let coherence = counted_coherence(counts.clone());
        let (_, sessions) = wrapped(&coherence);
        let unknown = SessionId::generate();
        assert_eq!(sessions.find_with_user(unknown).await.unwrap(), None);
        let id = cached(&coherence.cache, UserId::generate());
        assert!(sessions.find_with_user(id).await.unwrap().is_some());
        assert!(sessions.find_with_user(id).await.unwrap().is_some());
        assert_eq!(counts.hits.load(Ordering::Relaxed), 2);
        assert_eq!(counts.misses.load(Ordering::Relaxed), 1);
    }

    fn wrapped(coherence: &Arc<Coherence>) -> (Arc<dyn UserRepository>, Arc<dyn SessionRepository>) {
        wrap(
            Arc::new(InMemoryUserRepository::default()),
            Arc::new(InMemorySessionRepository::default()),
            Some(Arc::clone(coherence)),
            None,
        )
    }

    fn token(session_id: SessionId) -> RefreshTokenRecord {
        let now = Utc::now();
        RefreshTokenRecord {
            id: Uuid::now_v7(),
            session_id,
            token_hash: TokenHash([7; 32]),
            parent_id: None,
            created_at: now,
            expires_at: now,
            rotated_at: None,
            successor_id: None,
            successor_sealed: None,
        }
    }

    // The writes hit an empty store (most are then no-ops or `NotFound`):
    // what is checked is the cache, which is dropped from either way.
    #[tokio::test]
    async fn every_recorded_user_write_forgets_the_users_sessions() {
        let coherence = coherence();
        let (users, _) = wrapped(&coherence);
        let cache = &coherence.cache;
        let now = Utc::now();
        let ada = UserId::generate();
        let id = cached(cache, ada);
        let _ = users.update_profile(ada, ProfilePatch::default(), now).await;
        assert!(cache.get(id).is_none(), "update_profile");

        let id = cached(cache, ada);
        let _ = users.set_password_hash(ada, &PasswordHash("x".into()), now).await;
        assert!(cache.get(id).is_none(), "set_password_hash");

        let id = cached(cache, ada);
        let _ = users
            .update_account(ada, ProfilePatch::default(), AccountFlags::default(), now)
            .await;
        assert!(cache.get(id).is_none(), "update_account");

        let id = cached(cache, ada);
        let _ = users.restore(ada, now).await;
        assert!(cache.get(id).is_none(), "restore");

        let id = cached(cache, ada);
        let _ = users.soft_delete(ada, now).await;
        assert!(cache.get(id).is_none(), "soft_delete");
    }

    /// Confirming and removing a second factor change `mfa_enabled` (and a
    /// removal revokes): both drop the user's cached sessions, whatever they
    /// answer. Enrolling, reading and spending codes change nothing cached.
    #[tokio::test]
    async fn second_factor_changes_forget_the_users_sessions() {
        let coherence = coherence();
        let factors = wrap_second_factors(
            Arc::new(InMemorySecondFactorRepository::new(
                Arc::new(InMemoryUserRepository::default()),
                Arc::new(InMemorySessionRepository::default()),
            )),
            Some(Arc::clone(&coherence)),
            None,
        );
        let cache = &coherence.cache;
        let now = Utc::now();
        let ada = UserId::generate();
        let hash = TokenHash([3; 32]);

        let id = cached(cache, ada);
        let other = cached(cache, UserId::generate());
        let _ = factors.begin_totp(ada, b"sealed", now).await;
        let _ = factors.find_totp(ada).await;
        let _ = factors.use_totp_step(ada, 1).await;
        let _ = factors.use_recovery_code(ada, &hash, now).await;
        let _ = factors.replace_recovery_codes(ada, &[hash], now).await;
        let _ = factors.recovery_codes_left(ada).await;
        assert!(cache.get(id).is_some(), "an unrecorded write forgot");

        let _ = factors.confirm_totp(ada, b"sealed", 1, &[hash], now).await;
        assert!(cache.get(id).is_none(), "confirm_totp");
        assert!(
            cache.get(other).is_some(),
            "confirm_totp drops that user's sessions only"
        );

        let id = cached(cache, ada);
        let _ = factors.remove(ada, Some(id), now).await;
        assert!(cache.get(id).is_none(), "remove");
    }

    #[tokio::test]
    async fn every_revocation_forgets_what_it_ends() {
        let coherence = coherence();
        let (_, sessions) = wrapped(&coherence);
        let cache = &coherence.cache;
        let now = Utc::now();
        let ada = UserId::generate();

        let id = cached(cache, ada);
        let other = cached(cache, UserId::generate());
        sessions.revoke(id, now).await.unwrap();
        assert!(cache.get(id).is_none(), "revoke");
        assert!(cache.get(other).is_some(), "revoke drops that session only");

        let first = cached(cache, ada);
        let second = cached(cache, ada);
        sessions.revoke_all_for_user(ada, Some(first), now).await.unwrap();
        assert!(
            cache.get(first).is_none() && cache.get(second).is_none(),
            "revoke_all_for_user"
        );
    }

    #[tokio::test]
    async fn unrecorded_writes_keep_the_cache() {
        let coherence = coherence();
        let (_, sessions) = wrapped(&coherence);
        let cache = &coherence.cache;
        let now = Utc::now();
        let ada = UserId::generate();
        let id = cached(cache, ada);

        let login = Session {
            id: SessionId::generate(),
            user_id: ada,
            created_at: now,
            last_used_at: now,
            expires_at: now,
            revoked_at: None,
            user_agent: None,
            ip: None,
            auth_methods: latch_domain::AuthMethods::Password,
        };
        let verified = VerifiedLogin {
            password_hash: PasswordHash(String::new()),
            rehash: None,
        };
        let _ = sessions.create(&login, &token(login.id), &verified).await;
        let _ = sessions.touch(id, now).await;
        let _ = sessions.rotate(Uuid::now_v7(), b"sealed", &token(id)).await;
        assert!(cache.get(id).is_some());
    }

    // The store is empty: what `find_with_user` answers comes from the cache.
    #[tokio::test]
    async fn sessions_are_read_through_the_cache() {
        let coherence = coherence();
        let (_, sessions) = wrapped(&coherence);
        let id = cached(&coherence.cache, UserId::generate());
        let found = sessions.find_with_user(id).await.unwrap().unwrap();
        assert_eq!(found.session.id, id);

        sessions.revoke(id, Utc::now()).await.unwrap();
        assert_eq!(sessions.find_with_user(id).await.unwrap(), None);
    }
}
