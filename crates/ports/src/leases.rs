//! Leases that let an instance serve authenticated requests from its session
//! cache without reading the change log per request, while a write that ends
//! a session still waits until every such instance has applied it.

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::RepositoryError;

/// The lease table: per instance, the change-log version it has applied and
/// when its lease ends, by the database's clock (one clock for every instance).
#[async_trait]
pub trait CacheLeases: Send + Sync + 'static {
    /// Records that `instance` has applied every change up to `applied`, and
    /// gives it a lease that ends `lease` after the database's now (taken
    /// while this call runs). Creates the instance's row when it has none.
    async fn renew(&self, instance: Uuid, applied: u64, lease: Duration) -> Result<(), RepositoryError>;

    /// How many instances other than `instance` hold a lease that has not
    /// ended and have applied less than `version`. Sees every renewal that
    /// committed before the call.
    async fn lagging(&self, instance: Uuid, version: u64) -> Result<u64, RepositoryError>;

    /// Ends `instance`'s lease at once (a clean shutdown).
    async fn release(&self, instance: Uuid) -> Result<(), RepositoryError>;

    /// Deletes the rows of leases that ended more than `age` ago; returns how many.
    async fn purge_ended(&self, age: Duration) -> Result<u64, RepositoryError>;
}

/// Wakes an instance soon after another one records a change, so it can apply
/// it without waiting for its next lease renewal.
#[async_trait]
pub trait ChangeSignal: Send + Sync + 'static {
    /// Returns when a change may have been recorded since the last return.
    /// It may return spuriously, and it may miss a change (a lost connection):
    /// callers still renew on a timer.
    async fn changed(&self);
}
