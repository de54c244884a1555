//! The `AuthChangeLog` contract, and an in-memory log that the users and
//! sessions fakes append to.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use latch_domain::Timestamp;
use latch_ports::{AuthChange, AuthChangeLog, RepositoryError, VersionedChange};

use crate::Stores;

#[derive(Debug, Default)]
struct Log {
    latest: u64,
    entries: VecDeque<(VersionedChange, Timestamp)>,
}

/// The change log in memory. Share one between the users and sessions fakes
/// (see [`Stores::in_memory`]); they record while holding their own lock, so
/// a change is never visible before the write it describes.
#[derive(Debug, Default)]
pub struct InMemoryAuthChangeLog {
    log: Mutex<Log>,
}

impl InMemoryAuthChangeLog {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `change` with the next version.
    pub(crate) fn record(&self, change: AuthChange, at: Timestamp) {
        let mut log = self.log();
        log.latest += 1;
        let version = log.latest;
        log.entries.push_back((VersionedChange { version, change }, at));
    }
}

#[async_trait]
impl AuthChangeLog for InMemoryAuthChangeLog {
    async fn latest_version(&self) -> Result<u64, RepositoryError> {
        Ok(self.log().latest)
    }

    async fn changes_between(&self, after: u64, upto: u64) -> Result<Vec<VersionedChange>, RepositoryError> {
        Ok(self
            .log()
            .entries
            .iter()
            .map(|(change, _)| *change)
            .filter(|change| change.version > after && change.version <= upto)
            .collect())
    }

    async fn purge_before(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        let mut log = self.log();
        let mut purged = 0;
        while purged < limit && log.entries.front().is_some_and(|(_, at)| *at < cutoff) {
            log.entries.pop_front();
            purged += 1;
        }
        Ok(purged)
    }
}

/// Expands the `AuthChangeLog` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! auth_change_log_contract {
    ($make:expr) => {
        $crate::auth_change_log_contract!(@tests $make;
            a_new_store_is_at_version_zero,
            recorded_writes_take_consecutive_versions,
            logins_touches_and_rotations_are_not_recorded,
            a_failed_update_is_not_recorded,
            changes_between_excludes_after_and_includes_upto,
            purge_deletes_the_oldest_up_to_the_limit,
            concurrent_writes_take_distinct_versions,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::changes::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use chrono::Duration;
    use latch_domain::{
        AuthMethods, DisplayName, ProfilePatch, RefreshTokenRecord, Session, SessionId, TokenHash, UserId,
        Username,
    };
    use latch_ports::{AccountFlags, Clock, PasswordHash, UpdateUserError};
    use uuid::Uuid;

    use super::*;
    use crate::FixedClock;
    use crate::users::{new_user, verified_login};

    async fn user(stores: &Stores, email: &str, username: Option<&str>) -> UserId {
        let now = FixedClock::new().now();
        stores
            .users
            .create(new_user(email, username, now))
            .await
            .unwrap()
            .id
    }

    async fn session(stores: &Stores, user_id: UserId, now: Timestamp) -> (Session, RefreshTokenRecord) {
        let session = Session {
            id: SessionId::generate(),
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at: now + Duration::days(30),
            revoked_at: None,
            user_agent: None,
            ip: None,
            auth_methods: AuthMethods::Password,
        };
        let mut hash = [0u8; 32];
        hash[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        let token = RefreshTokenRecord {
            id: Uuid::now_v7(),
            session_id: session.id,
            token_hash: TokenHash(hash),
            parent_id: None,
            created_at: now,
            expires_at: now + Duration::days(7),
            rotated_at: None,
            successor_id: None,
            successor_sealed: None,
        };
        stores
            .sessions
            .create(&session, &token, &verified_login())
            .await
            .unwrap();
        (session, token)
    }

    fn named(name: &str) -> ProfilePatch {
        ProfilePatch {
            name: Some(Some(DisplayName::parse(name).unwrap())),
            ..ProfilePatch::default()
        }
    }

    async fn all_changes(stores: &Stores) -> Vec<VersionedChange> {
        let latest = stores.changes.latest_version().await.unwrap();
        stores.changes.changes_between(0, latest).await.unwrap()
    }

    pub async fn a_new_store_is_at_version_zero(stores: &Stores) {
        assert_eq!(stores.changes.latest_version().await.unwrap(), 0);
        assert!(stores.changes.changes_between(0, 100).await.unwrap().is_empty());
    }

    pub async fn recorded_writes_take_consecutive_versions(stores: &Stores) {
        let now = FixedClock::new().now();
        let ada = user(stores, "ada@example.com", None).await;
        let (s, _) = session(stores, ada, now).await;
        stores.sessions.revoke(s.id, now).await.unwrap();
        stores.sessions.revoke_all_for_user(ada, None, now).await.unwrap();
        stores.users.update_profile(ada, named("Ada"), now).await.unwrap();
        let flags = AccountFlags {
            is_staff: Some(true),
            ..AccountFlags::default()
        };
        stores
            .users
            .update_account(ada, ProfilePatch::default(), flags, now)
            .await
            .unwrap();
        let hash = PasswordHash("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$aGFzaA".into());
        stores.users.set_password_hash(ada, &hash, now).await.unwrap();
        stores.users.soft_delete(ada, now).await.unwrap();
        stores.users.restore(ada, now).await.unwrap();

        let changes = all_changes(stores).await;
        let versions: Vec<u64> = changes.iter().map(|c| c.version).collect();
        assert_eq!(versions, (1..=7).collect::<Vec<u64>>());
        let mut expected = vec![AuthChange::Session(s.id)];
        expected.extend([AuthChange::User(ada); 6]);
        assert_eq!(changes.iter().map(|c| c.change).collect::<Vec<_>>(), expected);
        assert_eq!(stores.changes.latest_version().await.unwrap(), 7);
    }

    pub async fn logins_touches_and_rotations_are_not_recorded(stores: &Stores) {
        let now = FixedClock::new().now();
        let ada = user(stores, "ada@example.com", None).await;
        let (s, first) = session(stores, ada, now).await;
        stores.sessions.touch(s.id, now).await.unwrap();
        let mut successor = first.clone();
        successor.id = Uuid::now_v7();
        successor.parent_id = Some(first.id);
        successor.token_hash = TokenHash([7; 32]);
        stores
            .sessions
            .rotate(first.id, b"sealed", &successor)
            .await
            .unwrap();
        assert_eq!(stores.changes.latest_version().await.unwrap(), 0);
    }

    pub async fn a_failed_update_is_not_recorded(stores: &Stores) {
        let now = FixedClock::new().now();
        user(stores, "ada@example.com", Some("ada")).await;
        let grace = user(stores, "grace@example.com", Some("grace")).await;
        let taken = ProfilePatch {
            username: Some(Some(Username::parse("ada").unwrap())),
            ..ProfilePatch::default()
        };
        let result = stores.users.update_profile(grace, taken, now).await;
        assert!(
            matches!(result, Err(UpdateUserError::UsernameTaken)),
            "{result:?}"
        );
        let result = stores
            .users
            .update_profile(UserId::generate(), named("X"), now)
            .await;
        assert!(matches!(result, Err(UpdateUserError::NotFound)), "{result:?}");
        assert_eq!(stores.changes.latest_version().await.unwrap(), 0);
    }

    pub async fn changes_between_excludes_after_and_includes_upto(stores: &Stores) {
        let now = FixedClock::new().now();
        let ada = user(stores, "ada@example.com", None).await;
        let (s, _) = session(stores, ada, now).await;
        for _ in 0..3 {
            stores.sessions.revoke(s.id, now).await.unwrap();
        }
        let middle = stores.changes.changes_between(1, 2).await.unwrap();
        assert_eq!(
            middle,
            vec![VersionedChange {
                version: 2,
                change: AuthChange::Session(s.id)
            }]
        );
        assert!(stores.changes.changes_between(3, 3).await.unwrap().is_empty());
    }

    pub async fn purge_deletes_the_oldest_up_to_the_limit(stores: &Stores) {
        let clock = FixedClock::new();
        let ada = user(stores, "ada@example.com", None).await;
        let (s, _) = session(stores, ada, clock.now()).await;
        let t0 = clock.now();
        for minutes in 0..3 {
            stores
                .sessions
                .revoke(s.id, t0 + Duration::minutes(minutes))
                .await
                .unwrap();
        }
        let cutoff = t0 + Duration::minutes(2);
        assert_eq!(stores.changes.purge_before(cutoff, 1).await.unwrap(), 1);
        let left: Vec<u64> = all_changes(stores).await.iter().map(|c| c.version).collect();
        assert_eq!(left, vec![2, 3]);
        assert_eq!(stores.changes.purge_before(cutoff, 10).await.unwrap(), 1);
        assert_eq!(stores.changes.purge_before(cutoff, 10).await.unwrap(), 0);
        assert_eq!(stores.changes.latest_version().await.unwrap(), 3);
        stores.sessions.revoke(s.id, cutoff).await.unwrap();
        let left: Vec<u64> = all_changes(stores).await.iter().map(|c| c.version).collect();
        assert_eq!(left, vec![3, 4]);
    }

    pub async fn concurrent_writes_take_distinct_versions(stores: &Stores) {
        let now = FixedClock::new().now();
        let ada = user(stores, "ada@example.com", None).await;
        let mut sessions = Vec::new();
        for _ in 0..8 {
            sessions.push(session(stores, ada, now).await.0);
        }
        let writes: Vec<_> = sessions
            .iter()
            .map(|s| {
                let (repository, id) = (stores.sessions.clone(), s.id);
                tokio::spawn(async move { repository.revoke(id, now).await })
            })
            .collect();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        let versions: Vec<u64> = all_changes(stores).await.iter().map(|c| c.version).collect();
        assert_eq!(versions, (1..=8).collect::<Vec<u64>>());
    }
}

pub use behaviours::*;

#[cfg(test)]
mod tests {
    crate::auth_change_log_contract!(async { Some(crate::Stores::in_memory()) });
}
