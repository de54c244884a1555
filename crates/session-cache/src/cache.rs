//! The cache itself: entries by session id, the epoch that keeps a read
//! which raced a write out, and the change-log version applied so far.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use latch_domain::SessionId;
use latch_ports::{AuthChange, SessionWithUser, VersionedChange};

use crate::SessionCacheConfig;

struct Entry {
    found: SessionWithUser,
    loaded_at: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<SessionId, Entry>,
    /// Bumped whenever anything is forgotten.
    epoch: u64,
    /// The change-log version applied so far.
    applied: u64,
}

/// Taken before reading a session and its user, handed back to [`SessionCache::fill`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

/// The cache. One per process, shared by every worker.
pub(crate) struct SessionCache {
    capacity: usize,
    max_age: Duration,
    inner: Mutex<Inner>,
}

impl SessionCache {
    /// An empty cache; `None` when `config` switches it off.
    pub(crate) fn new(config: &SessionCacheConfig) -> Option<Self> {
        (config.capacity > 0).then(|| Self {
            capacity: config.capacity,
            max_age: config.max_age,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves `Inner` consistent, so a poisoned lock is still sound.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The session with this id and its user, as last read, unless too old.
    pub(crate) fn get(&self, id: SessionId) -> Option<SessionWithUser> {
        let mut inner = self.inner();
        let entry = inner.entries.get(&id)?;
        if entry.loaded_at.elapsed() >= self.max_age {
            inner.entries.remove(&id);
            return None;
        }
        Some(entry.found.clone())
    }

    /// Call before reading the rows that [`SessionCache::fill`] will store.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.inner().epoch)
    }

    /// Stores what was read, unless something was forgotten since `ticket`
    /// (the read may then predate that write).
    pub(crate) fn fill(&self, ticket: Ticket, found: SessionWithUser) {
        let mut inner = self.inner();
        if inner.epoch != ticket.0 {
            return;
        }
        let id = found.session.id;
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(&id) {
            // Full: make room by dropping any one entry. Hash order is as good as random here.
            if let Some(victim) = inner.entries.keys().next().copied() {
                inner.entries.remove(&victim);
            }
        }
        inner.entries.insert(
            id,
            Entry {
                found,
                loaded_at: Instant::now(),
            },
        );
    }

    /// Drops what `change` may have made stale.
    pub(crate) fn forget(&self, change: AuthChange) {
        let mut inner = self.inner();
        forget(&mut inner, change);
    }

    /// The change-log version applied so far.
    pub(crate) fn applied_version(&self) -> u64 {
        self.inner().applied
    }

    /// Applies `changes`, read as those with `after < version <= latest`.
    /// A gap in their versions means some were purged before being read:
    /// then nothing cached can be trusted and everything is dropped.
    pub(crate) fn apply(&self, after: u64, latest: u64, changes: &[VersionedChange]) {
        let mut inner = self.inner();
        let complete = changes.len() as u64 == latest.saturating_sub(after)
            && changes
                .iter()
                .zip(after + 1..)
                .all(|(change, expected)| change.version == expected);
        if complete {
            for change in changes {
                forget(&mut inner, change.change);
            }
        } else {
            inner.entries.clear();
            inner.epoch += 1;
        }
        inner.applied = inner.applied.max(latest);
    }

    /// How many sessions are cached (for tests and metrics).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner().entries.len()
    }
}

fn forget(inner: &mut Inner, change: AuthChange) {
    inner.epoch += 1;
    match change {
        AuthChange::Session(id) => {
            inner.entries.remove(&id);
        }
        // A scan: user-level changes are rare (logins do not forget).
        AuthChange::User(user) => inner.entries.retain(|_, entry| entry.found.user.id != user),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use chrono::{Duration as Days, Utc};
    use latch_domain::{AuthMethods, Email, Session, TierName, User, UserId};

    use super::*;

    pub(crate) fn cache(capacity: usize) -> SessionCache {
        SessionCache::new(&SessionCacheConfig {
            capacity,
            ..SessionCacheConfig::default()
        })
        .unwrap()
    }

    pub(crate) fn principal(user: UserId) -> SessionWithUser {
        let now = Utc::now();
        let session = Session {
            id: SessionId::generate(),
            user_id: user,
            created_at: now,
            last_used_at: now,
            expires_at: now + Days::days(1),
            revoked_at: None,
            user_agent: None,
            ip: None,
            auth_methods: AuthMethods::Password,
        };
        let user = User {
            id: user,
            email: Email::from_stored("ada@example.com".into()),
            username: None,
            name: None,
            avatar_url: None,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            tier: TierName::default(),
            email_verified: false,
            mfa_enabled: false,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            deleted_at: None,
        };
        SessionWithUser { session, user }
    }

    pub(crate) fn cached(cache: &SessionCache, user: UserId) -> SessionId {
        let found = principal(user);
        let id = found.session.id;
        cache.fill(cache.ticket(), found);
        id
    }

    fn change(version: u64, change: AuthChange) -> VersionedChange {
        VersionedChange { version, change }
    }

    #[test]
    fn zero_capacity_switches_the_cache_off() {
        assert!(
            SessionCache::new(&SessionCacheConfig {
                capacity: 0,
                ..SessionCacheConfig::default()
            })
            .is_none()
        );
    }

    #[test]
    fn a_filled_session_is_served_until_forgotten() {
        let cache = cache(10);
        let ada = UserId::generate();
        let id = cached(&cache, ada);
        assert_eq!(cache.get(id).unwrap().session.id, id);
        cache.forget(AuthChange::Session(id));
        assert!(cache.get(id).is_none());
    }

    #[test]
    fn forgetting_a_user_drops_every_session_of_theirs_only() {
        let cache = cache(10);
        let (ada, grace) = (UserId::generate(), UserId::generate());
        let first = cached(&cache, ada);
        let second = cached(&cache, ada);
        let other = cached(&cache, grace);
        cache.forget(AuthChange::User(ada));
        assert!(cache.get(first).is_none());
        assert!(cache.get(second).is_none());
        assert!(cache.get(other).is_some());
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_stored() {
        let cache = cache(10);
        let found = principal(UserId::generate());
        let id = found.session.id;
        let ticket = cache.ticket();
        // The write lands (and is forgotten) while the read is in flight.
        cache.forget(AuthChange::Session(id));
        cache.fill(ticket, found);
        assert!(cache.get(id).is_none());
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = cache(2);
        let ada = UserId::generate();
        let ids: Vec<SessionId> = (0..3).map(|_| cached(&cache, ada)).collect();
        assert_eq!(cache.len(), 2);
        assert!(cache.get(ids[2]).is_some(), "the newest entry is kept");
    }

    #[test]
    fn entries_are_read_again_after_their_max_age() {
        let cache = SessionCache::new(&SessionCacheConfig {
            max_age: Duration::ZERO,
            ..SessionCacheConfig::default()
        })
        .unwrap();
        let id = cached(&cache, UserId::generate());
        assert!(cache.get(id).is_none());
    }

    #[test]
    fn applied_changes_are_forgotten_and_counted() {
        let cache = cache(10);
        let (ada, grace) = (UserId::generate(), UserId::generate());
        let revoked = cached(&cache, ada);
        let kept = cached(&cache, ada);
        let deactivated = cached(&cache, grace);
        cache.apply(
            0,
            2,
            &[
                change(1, AuthChange::Session(revoked)),
                change(2, AuthChange::User(grace)),
            ],
        );
        assert_eq!(cache.applied_version(), 2);
        assert!(cache.get(revoked).is_none());
        assert!(cache.get(deactivated).is_none());
        assert!(cache.get(kept).is_some());
    }

    #[test]
    fn a_gap_in_the_changes_empties_the_cache() {
        let cache = cache(10);
        let ada = UserId::generate();
        let kept = cached(&cache, ada);
        // Version 1 was purged before this instance read it.
        cache.apply(0, 2, &[change(2, AuthChange::User(UserId::generate()))]);
        assert!(cache.get(kept).is_none());
        assert_eq!(cache.applied_version(), 2);
    }

    #[test]
    fn an_older_read_never_moves_the_applied_version_back() {
        let cache = cache(10);
        let five: Vec<_> = (1..=5)
            .map(|v| change(v, AuthChange::User(UserId::generate())))
            .collect();
        cache.apply(0, 5, &five);
        let kept = cached(&cache, UserId::generate());
        // A request whose shared read saw version 3 applies late.
        cache.apply(0, 3, &five[..3]);
        assert_eq!(cache.applied_version(), 5);
        assert!(cache.get(kept).is_some());
    }
}
