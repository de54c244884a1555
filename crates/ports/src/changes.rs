//! The log of changes to what authenticating a request depends on, so every
//! instance can keep an in-process cache of sessions and users and still
//! honour a logout or a deactivation on the very next request.

use async_trait::async_trait;
use latch_domain::{SessionId, Timestamp, UserId};

use crate::RepositoryError;

/// What changed: one session, or a user (and with it every session of theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthChange {
    /// The session was revoked.
    Session(SessionId),
    /// The user's row changed, or all of their sessions were revoked.
    User(UserId),
}

/// A change and the version the write that made it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionedChange {
    /// 1 for the first recorded write, then one more per write: no gaps.
    pub version: u64,
    /// What changed.
    pub change: AuthChange,
}

/// Reads the change log that the user and session repositories append to.
///
/// The repositories MUST record, in the same transaction as the write itself,
/// an [`AuthChange`] for: `SessionRepository::revoke` (the session) and
/// `revoke_all_for_user`, and `UserRepository::update_profile`,
/// `update_account`, `set_password_hash`, `restore` and `soft_delete` (the
/// user). Each such write takes the next version, and versions become visible
/// in order: once `latest_version` returns `v`, every change up to `v` can be
/// read. Creating users or sessions, logins, touches and rotations are not
/// recorded: nothing cached can be made stale by them.
#[async_trait]
pub trait AuthChangeLog: Send + Sync + 'static {
    /// The version of the latest recorded change; 0 before the first.
    async fn latest_version(&self) -> Result<u64, RepositoryError>;

    /// The changes with `after < version <= upto`, oldest first. Changes
    /// purged since are missing: the caller tells by the gap in versions.
    async fn changes_between(&self, after: u64, upto: u64) -> Result<Vec<VersionedChange>, RepositoryError>;

    /// Deletes at most `limit` changes recorded before `cutoff`, oldest first;
    /// returns how many. Versions go on from the latest all the same.
    async fn purge_before(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError>;
}
