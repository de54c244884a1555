//! The `TierRepository` contract, and an in-memory fake that passes it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use latch_domain::{RateLimit, Tier, Timestamp};
use latch_ports::{Clock, RepositoryError, TierError, TierRepository};

use crate::{FixedClock, Stores, TierNames};

/// Tiers in a map. Their names, and which users hold them, are in the
/// registry shared with the users fake, which refuses deleting a tier in use
/// as the SQL store's foreign key does.
#[derive(Debug)]
pub struct InMemoryTierRepository {
    tiers: Mutex<BTreeMap<String, Tier>>,
    names: Arc<TierNames>,
}

impl InMemoryTierRepository {
    /// A repository that keeps `names` (shared with the users fake) up to
    /// date, with the default tier present as a fresh database has it.
    pub fn new(names: Arc<TierNames>) -> Self {
        let epoch = Timestamp::default();
        let free = Tier {
            name: latch_domain::DEFAULT_TIER.into(),
            description: "The default tier".into(),
            limits: Vec::new(),
            created_at: epoch,
            updated_at: epoch,
        };
        names.add(&free.name);
        Self {
            tiers: Mutex::new(BTreeMap::from([(free.name.clone(), free)])),
            names,
        }
    }

    fn tiers(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Tier>> {
        self.tiers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl TierRepository for InMemoryTierRepository {
    async fn create(&self, tier: &Tier) -> Result<(), TierError> {
        let mut tiers = self.tiers();
        if tiers.contains_key(&tier.name) {
            return Err(TierError::Exists);
        }
        tiers.insert(tier.name.clone(), tier.clone());
        self.names.add(&tier.name);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Tier>, RepositoryError> {
        Ok(self.tiers().values().cloned().collect())
    }

    async fn find(&self, name: &str) -> Result<Option<Tier>, RepositoryError> {
        Ok(self.tiers().get(name).cloned())
    }

    async fn update(
        &self,
        name: &str,
        description: Option<String>,
        limits: Option<Vec<RateLimit>>,
        now: Timestamp,
    ) -> Result<Tier, TierError> {
        let mut tiers = self.tiers();
        let tier = tiers.get_mut(name).ok_or(TierError::NotFound)?;
        if let Some(description) = description {
            tier.description = description;
        }
        if let Some(limits) = limits {
            tier.limits = limits;
        }
        tier.updated_at = now;
        Ok(tier.clone())
    }

    async fn delete(&self, name: &str) -> Result<(), TierError> {
        let mut tiers = self.tiers();
        if !tiers.contains_key(name) {
            return Err(TierError::NotFound);
        }
        if !self.names.remove_unheld(name) {
            return Err(TierError::InUse);
        }
        tiers.remove(name);
        Ok(())
    }
}

// ---- the contract ---------------------------------------------------------

/// Expands the `TierRepository` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! tier_repository_contract {
    ($make:expr) => {
        $crate::tier_repository_contract!(@tests $make;
            the_default_tier_exists,
            create_then_find_and_list,
            duplicate_name_is_exists,
            update_replaces_given_fields,
            update_unknown_is_not_found,
            delete_unused_tier,
            delete_tier_in_use_is_refused,
            delete_unknown_is_not_found,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::tiers::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use super::*;
    use crate::users::new_user;

    /// A tier named `name` with one limit, created at `now`.
    pub fn tier(name: &str, now: Timestamp) -> Tier {
        Tier {
            name: name.into(),
            description: format!("{name} plan"),
            limits: vec![RateLimit {
                path: "/api/v1/things".into(),
                limit: 100,
                period_seconds: 60,
            }],
            created_at: now,
            updated_at: now,
        }
    }

    pub async fn the_default_tier_exists(stores: &Stores) {
        assert!(
            stores
                .tiers
                .find(latch_domain::DEFAULT_TIER)
                .await
                .unwrap()
                .is_some()
        );
    }

    pub async fn create_then_find_and_list(stores: &Stores) {
        let now = FixedClock::new().now();
        let pro = tier("pro", now);
        stores.tiers.create(&pro).await.unwrap();
        assert_eq!(stores.tiers.find("pro").await.unwrap(), Some(pro.clone()));
        assert_eq!(
            stores.tiers.find("PRO").await.unwrap(),
            None,
            "names are case-sensitive"
        );
        let names: Vec<String> = stores
            .tiers
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, vec!["free".to_owned(), "pro".to_owned()]);
    }

    pub async fn duplicate_name_is_exists(stores: &Stores) {
        let now = FixedClock::new().now();
        stores.tiers.create(&tier("pro", now)).await.unwrap();
        let again = stores
            .tiers
            .create(&Tier {
                description: "other".into(),
                ..tier("pro", now)
            })
            .await;
        assert!(matches!(again, Err(TierError::Exists)), "{again:?}");
        assert_eq!(
            stores.tiers.find("pro").await.unwrap().unwrap().description,
            "pro plan"
        );
    }

    pub async fn update_replaces_given_fields(stores: &Stores) {
        let clock = FixedClock::new();
        stores.tiers.create(&tier("pro", clock.now())).await.unwrap();
        clock.advance(Duration::minutes(1));
        let limits = vec![RateLimit {
            path: "/api/v1/other".into(),
            limit: 5,
            period_seconds: 1,
        }];
        let updated = stores
            .tiers
            .update("pro", None, Some(limits.clone()), clock.now())
            .await
            .unwrap();
        assert_eq!(updated.description, "pro plan");
        assert_eq!(updated.limits, limits);
        assert_eq!(updated.updated_at, clock.now());
        assert_eq!(stores.tiers.find("pro").await.unwrap(), Some(updated));
    }

    pub async fn update_unknown_is_not_found(stores: &Stores) {
        let now = FixedClock::new().now();
        let result = stores.tiers.update("nope", Some("x".into()), None, now).await;
        assert!(matches!(result, Err(TierError::NotFound)), "{result:?}");
    }

    pub async fn delete_unused_tier(stores: &Stores) {
        let now = FixedClock::new().now();
        stores.tiers.create(&tier("pro", now)).await.unwrap();
        stores.tiers.delete("pro").await.unwrap();
        assert_eq!(stores.tiers.find("pro").await.unwrap(), None);
    }

    pub async fn delete_tier_in_use_is_refused(stores: &Stores) {
        let now = FixedClock::new().now();
        stores.tiers.create(&tier("pro", now)).await.unwrap();
        let mut user = new_user("ada@example.com", None, now);
        user.tier = latch_domain::TierName::parse("pro").unwrap();
        let user = stores.users.create(user).await.unwrap();
        // Deleted users still hold their tier: they can be restored.
        stores.users.soft_delete(user.id, now).await.unwrap();
        let result = stores.tiers.delete("pro").await;
        assert!(matches!(result, Err(TierError::InUse)), "{result:?}");
        assert!(stores.tiers.find("pro").await.unwrap().is_some());
    }

    pub async fn delete_unknown_is_not_found(stores: &Stores) {
        let result = stores.tiers.delete("nope").await;
        assert!(matches!(result, Err(TierError::NotFound)), "{result:?}");
    }
}

pub use behaviours::*;

#[cfg(test)]
mod tests {
    crate::tier_repository_contract!(async { Some(crate::Stores::in_memory()) });
}
