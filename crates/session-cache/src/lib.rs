//! The session cache: sessions, with their users, that recent requests were
//! authenticated by, kept in process so an authenticated request needs no
//! query. It sits in front of the users and sessions repositories as a pair
//! of decorators ([`wrap`]); the use cases do not know it is there.
//!
//! Staleness is the danger: a logout, revocation, deactivation or deletion
//! must be honoured on the very next request. Three rules keep it out:
//! - every recorded write through the wrapped repositories (users, sessions,
//!   and second factors through [`CachedRepositories::second_factors`])
//!   forgets what it changed as it returns, before the use case answers
//!   (this instance; see `repositories.rs`);
//! - in change-log coherence every cached read first applies the changes
//!   other instances recorded since the last one it saw (see `AuthChangeLog`);
//!   in lease coherence the instance does that as changes are signalled, and
//!   writes wait for every instance to have done it (see `lease.rs`);
//! - a read that started before any forgetting is not stored (the epoch): it
//!   may have seen the row from before the write.

use std::sync::Arc;
use std::time::Duration;

use latch_ports::{
    AuthChangeLog, CacheLeases, Metrics, SecondFactorRepository, SessionRepository, UserRepository,
};

mod cache;
mod coherence;
mod lease;
mod repositories;
mod version_reads;

pub use lease::CacheLease;

use crate::cache::SessionCache;
use crate::coherence::Coherence;
use crate::lease::Lease;

/// How instances learn of each other's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheCoherence {
    /// The only process using the database (SQLite): what this process
    /// forgets is all there is to forget.
    SingleProcess,
    /// Several instances may share the database (PostgreSQL): each request
    /// learns the change log's latest version from a read that started after
    /// it arrived (shared with concurrent requests) and applies what is new
    /// before using the cache.
    ChangeLog,
    /// Like `ChangeLog`, but while this instance holds a lease (see
    /// [`CacheLease`]) requests skip the version read: the instance applies
    /// changes as they are signalled, and writes wait until every instance
    /// holding a lease has applied them.
    Lease,
}

/// The session cache's settings.
#[derive(Debug, Clone)]
pub struct SessionCacheConfig {
    /// Most sessions kept; 0 switches the cache off (two reads per request).
    pub capacity: usize,
    /// An entry is read again once this old, bounding how stale the fields
    /// no change is recorded for (`last_login_at`) can be.
    pub max_age: Duration,
    /// How instances learn of each other's writes.
    pub coherence: CacheCoherence,
    /// How long a lease lasts (`Lease` coherence): the longest a write waits
    /// for an instance that stopped without releasing its lease.
    pub lease: Duration,
}

impl Default for SessionCacheConfig {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            max_age: Duration::from_secs(60),
            coherence: CacheCoherence::ChangeLog,
            lease: Duration::from_secs(2),
        }
    }
}

/// The users and sessions repositories as the use cases should see them,
/// and this instance's lease.
pub struct CachedRepositories {
    /// Users: recorded writes forget the user's cached sessions.
    pub users: Arc<dyn UserRepository>,
    /// Sessions: `find_with_user` served from the cache; revocations forget.
    pub sessions: Arc<dyn SessionRepository>,
    /// The lease, for the background task that keeps it (inert unless the
    /// coherence is `Lease`).
    pub lease: CacheLease,
    /// What the other repositories' recorded writes must forget from and
    /// wait for (see [`CachedRepositories::second_factors`]).
    coherence: Option<Arc<Coherence>>,
    lease_state: Option<Arc<Lease>>,
}

impl CachedRepositories {
    /// `second_factors` as the use cases should see it: confirming and
    /// removing a second factor are recorded user changes (the user's
    /// `mfa_enabled`, and a removal's revocations), so they forget the
    /// user's cached sessions, and in lease coherence wait for the other
    /// instances, as the users repository's recorded writes do. Without
    /// this, single-process coherence would serve the old flag, and a
    /// revoked session, until the entry ages out.
    pub fn second_factors(
        &self,
        second_factors: Arc<dyn SecondFactorRepository>,
    ) -> Arc<dyn SecondFactorRepository> {
        if self.coherence.is_none() && self.lease_state.is_none() {
            return second_factors;
        }
        repositories::wrap_second_factors(second_factors, self.coherence.clone(), self.lease_state.clone())
    }
}

/// Puts the session cache in front of `users` and `sessions` as `config`
/// says. `changes` is the log those repositories record their writes in;
/// `leases` the table of instances' leases (used in `Lease` coherence);
/// `metrics` counts the cache's hits and misses.
/// With the cache off and no lease the repositories come back as they were.
pub fn wrap(
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    changes: Arc<dyn AuthChangeLog>,
    leases: Arc<dyn CacheLeases>,
    config: &SessionCacheConfig,
    metrics: Arc<dyn Metrics>,
) -> CachedRepositories {
    // Present in `Lease` coherence whether or not this instance caches: its
    // writes must still wait for the instances that do.
    let lease = (config.coherence == CacheCoherence::Lease)
        .then(|| Arc::new(Lease::new(config.lease, leases, Arc::clone(&changes))));
    let coherence = SessionCache::new(config).map(|cache| {
        Arc::new(Coherence::new(
            cache,
            config.coherence,
            changes,
            lease.clone(),
            metrics,
        ))
    });
    let lease_handle = CacheLease::new(coherence.clone(), lease.clone());
    let (users, sessions) = if coherence.is_none() && lease.is_none() {
        (users, sessions)
    } else {
        repositories::wrap(users, sessions, coherence.clone(), lease.clone())
    };
    CachedRepositories {
        users,
        sessions,
        lease: lease_handle,
        coherence,
        lease_state: lease,
    }
}
