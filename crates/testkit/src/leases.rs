//! The `CacheLeases` contract, and leases in memory (ended by this process's
//! monotonic clock, which stands in for the database's).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use latch_ports::{CacheLeases, ChangeSignal, RepositoryError};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::Stores;

#[derive(Debug, Clone, Copy)]
struct Lease {
    applied: u64,
    ends_at: Instant,
}

/// The lease table in memory.
#[derive(Debug, Default)]
pub struct InMemoryCacheLeases {
    leases: Mutex<HashMap<Uuid, Lease>>,
}

impl InMemoryCacheLeases {
    fn leases(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Lease>> {
        self.leases
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl CacheLeases for InMemoryCacheLeases {
    async fn renew(&self, instance: Uuid, applied: u64, lease: Duration) -> Result<(), RepositoryError> {
        let ends_at = Instant::now() + lease;
        self.leases().insert(instance, Lease { applied, ends_at });
        Ok(())
    }

    async fn lagging(&self, instance: Uuid, version: u64) -> Result<u64, RepositoryError> {
        let now = Instant::now();
        let count = self
            .leases()
            .iter()
            .filter(|(id, lease)| **id != instance && lease.applied < version && lease.ends_at > now)
            .count();
        Ok(count as u64)
    }

    async fn release(&self, instance: Uuid) -> Result<(), RepositoryError> {
        self.leases().remove(&instance);
        Ok(())
    }

    async fn purge_ended(&self, age: Duration) -> Result<u64, RepositoryError> {
        let now = Instant::now();
        let mut leases = self.leases();
        let before = leases.len();
        leases.retain(|_, lease| lease.ends_at + age >= now);
        Ok((before - leases.len()) as u64)
    }
}

/// A [`ChangeSignal`] that tests fire by hand.
#[derive(Debug, Default)]
pub struct ManualChangeSignal {
    notify: Notify,
}

impl ManualChangeSignal {
    /// Wakes every instance waiting in [`ChangeSignal::changed`].
    pub fn fire(&self) {
        self.notify.notify_waiters();
    }
}

#[async_trait]
impl ChangeSignal for ManualChangeSignal {
    async fn changed(&self) {
        self.notify.notified().await;
    }
}

/// Expands the `CacheLeases` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! cache_leases_contract {
    ($make:expr) => {
        $crate::cache_leases_contract!(@tests $make;
            a_lease_lags_below_its_applied_version_only,
            an_instance_never_lags_itself,
            renewing_replaces_the_applied_version,
            an_ended_lease_does_not_lag,
            a_released_lease_does_not_lag,
            purge_deletes_only_leases_ended_long_enough,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::leases::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    pub async fn a_lease_lags_below_its_applied_version_only(stores: &Stores) {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        stores.leases.renew(a, 3, LONG).await.unwrap();
        assert_eq!(stores.leases.lagging(b, 4).await.unwrap(), 1);
        assert_eq!(stores.leases.lagging(b, 3).await.unwrap(), 0);
        assert_eq!(stores.leases.lagging(b, 0).await.unwrap(), 0);
    }

    pub async fn an_instance_never_lags_itself(stores: &Stores) {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        stores.leases.renew(a, 0, LONG).await.unwrap();
        stores.leases.renew(b, 0, LONG).await.unwrap();
        assert_eq!(stores.leases.lagging(a, 1).await.unwrap(), 1);
        assert_eq!(stores.leases.lagging(Uuid::new_v4(), 1).await.unwrap(), 2);
    }

    pub async fn renewing_replaces_the_applied_version(stores: &Stores) {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        stores.leases.renew(a, 1, LONG).await.unwrap();
        stores.leases.renew(a, 5, LONG).await.unwrap();
        assert_eq!(stores.leases.lagging(b, 5).await.unwrap(), 0);
        assert_eq!(
            stores.leases.lagging(b, 6).await.unwrap(),
            1,
            "one row per instance"
        );
    }

    pub async fn an_ended_lease_does_not_lag(stores: &Stores) {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        stores
            .leases
            .renew(a, 0, Duration::from_millis(150))
            .await
            .unwrap();
        assert_eq!(stores.leases.lagging(b, 1).await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(stores.leases.lagging(b, 1).await.unwrap(), 0);
    }

    pub async fn a_released_lease_does_not_lag(stores: &Stores) {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        stores.leases.renew(a, 0, LONG).await.unwrap();
        stores.leases.release(a).await.unwrap();
        assert_eq!(stores.leases.lagging(b, 1).await.unwrap(), 0);
        stores.leases.release(Uuid::new_v4()).await.unwrap();
    }

    pub async fn purge_deletes_only_leases_ended_long_enough(stores: &Stores) {
        let (short, long, b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        stores
            .leases
            .renew(short, 0, Duration::from_millis(50))
            .await
            .unwrap();
        stores.leases.renew(long, 0, LONG).await.unwrap();
        assert_eq!(stores.leases.purge_ended(Duration::ZERO).await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            stores.leases.purge_ended(LONG).await.unwrap(),
            0,
            "ended, but not long ago"
        );
        assert_eq!(
            stores
                .leases
                .purge_ended(Duration::from_millis(100))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            stores.leases.lagging(b, 1).await.unwrap(),
            1,
            "the live lease stays"
        );
        // Renewing a purged instance brings its row back.
        stores.leases.renew(short, 0, LONG).await.unwrap();
        assert_eq!(stores.leases.lagging(b, 1).await.unwrap(), 2);
    }
}

pub use behaviours::*;

#[cfg(test)]
mod tests {
    crate::cache_leases_contract!(async { Some(crate::Stores::in_memory()) });
}
