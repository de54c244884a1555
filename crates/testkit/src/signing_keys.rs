//! The `SigningKeyRepository` contract, and a key ring in memory.

use std::sync::Mutex;

use async_trait::async_trait;
use latch_domain::Timestamp;
use latch_ports::{ActivateKeyError, RepositoryError, SigningKeyRepository, StoredSigningKey};

use crate::Stores;

/// The key ring in a vector, newest last.
#[derive(Debug, Default)]
pub struct InMemorySigningKeyRepository {
    keys: Mutex<Vec<StoredSigningKey>>,
}

impl InMemorySigningKeyRepository {
    fn keys(&self) -> std::sync::MutexGuard<'_, Vec<StoredSigningKey>> {
        self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl SigningKeyRepository for InMemorySigningKeyRepository {
    async fn list(&self) -> Result<Vec<StoredSigningKey>, RepositoryError> {
        let mut keys = self.keys().clone();
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.kid.cmp(&a.kid)));
        Ok(keys)
    }

    async fn activate(
        &self,
        key: &StoredSigningKey,
        replacing: Option<&str>,
    ) -> Result<(), ActivateKeyError> {
        let mut keys = self.keys();
        let active = keys.iter().position(StoredSigningKey::is_active);
        let expected = active.map(|i| keys[i].kid.as_str());
        if expected != replacing || keys.iter().any(|k| k.kid == key.kid) {
            return Err(ActivateKeyError::Conflict);
        }
        if let Some(i) = active {
            keys[i].retired_at = Some(key.created_at);
        }
        keys.push(StoredSigningKey {
            retired_at: None,
            ..key.clone()
        });
        Ok(())
    }

    async fn delete_retired_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        let mut keys = self.keys();
        let before = keys.len();
        keys.retain(|k| k.retired_at.is_none_or(|at| at >= cutoff));
        Ok((before - keys.len()) as u64)
    }
}

/// A stored key named `kid`, made at `created_at`, with made-up key material.
pub fn stored_key(kid: &str, created_at: Timestamp) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.to_owned(),
        algorithm: "EdDSA".to_owned(),
        public_jwk: format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{kid}"}}"#),
        sealed_private_key: kid.as_bytes().to_vec(),
        created_at,
        retired_at: None,
    }
}

/// Expands the `SigningKeyRepository` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! signing_key_repository_contract {
    ($make:expr) => {
        $crate::signing_key_repository_contract!(@tests $make;
            an_empty_ring_lists_nothing,
            the_first_key_is_activated_replacing_none,
            activating_retires_the_replaced_key_and_lists_newest_first,
            a_stale_replacement_writes_nothing,
            a_key_id_is_stored_once,
            two_concurrent_first_keys_leave_one,
            two_concurrent_rotations_leave_one_active_key,
            delete_retired_before_keeps_the_active_key_and_recent_ones,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::signing_keys::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
    }

    fn active_kids(keys: &[StoredSigningKey]) -> Vec<&str> {
        keys.iter()
            .filter(|k| k.is_active())
            .map(|k| k.kid.as_str())
            .collect()
    }

    pub async fn an_empty_ring_lists_nothing(stores: &Stores) {
        assert!(stores.signing_keys.list().await.unwrap().is_empty());
    }

    pub async fn the_first_key_is_activated_replacing_none(stores: &Stores) {
        let first = stored_key("k1", at(0));
        stores.signing_keys.activate(&first, None).await.unwrap();
        assert_eq!(stores.signing_keys.list().await.unwrap(), vec![first]);
    }

    pub async fn activating_retires_the_replaced_key_and_lists_newest_first(stores: &Stores) {
        let ring = &stores.signing_keys;
        ring.activate(&stored_key("k1", at(0)), None).await.unwrap();
        ring.activate(&stored_key("k2", at(60)), Some("k1"))
            .await
            .unwrap();
        let keys = ring.list().await.unwrap();
        let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["k2", "k1"]);
        assert_eq!(keys[0].retired_at, None);
        assert_eq!(
            keys[1].retired_at,
            Some(at(60)),
            "retired when its successor was made"
        );
        assert_eq!(
            keys[1].sealed_private_key, b"k1",
            "a retired key keeps its material"
        );
    }

    pub async fn a_stale_replacement_writes_nothing(stores: &Stores) {
        let ring = &stores.signing_keys;
        ring.activate(&stored_key("k1", at(0)), None).await.unwrap();
        ring.activate(&stored_key("k2", at(60)), Some("k1"))
            .await
            .unwrap();
        let stale = ring.activate(&stored_key("k3", at(120)), Some("k1")).await;
        assert!(matches!(stale, Err(ActivateKeyError::Conflict)), "{stale:?}");
        let none = ring.activate(&stored_key("k4", at(120)), None).await;
        assert!(matches!(none, Err(ActivateKeyError::Conflict)), "{none:?}");
        let keys = ring.list().await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(active_kids(&keys), ["k2"]);
    }

    pub async fn a_key_id_is_stored_once(stores: &Stores) {
        let ring = &stores.signing_keys;
        ring.activate(&stored_key("k1", at(0)), None).await.unwrap();
        let again = ring.activate(&stored_key("k1", at(60)), Some("k1")).await;
        assert!(matches!(again, Err(ActivateKeyError::Conflict)), "{again:?}");
        let keys = ring.list().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(active_kids(&keys), ["k1"], "the failed swap retired nothing");
    }

    pub async fn two_concurrent_first_keys_leave_one(stores: &Stores) {
        let ring = &stores.signing_keys;
        let (a, b) = (stored_key("a", at(0)), stored_key("b", at(0)));
        let (ra, rb) = tokio::join!(ring.activate(&a, None), ring.activate(&b, None));
        assert_eq!(ra.is_ok() as u8 + rb.is_ok() as u8, 1, "{ra:?} {rb:?}");
        let keys = ring.list().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(active_kids(&keys).len(), 1);
    }

    pub async fn two_concurrent_rotations_leave_one_active_key(stores: &Stores) {
        let ring = &stores.signing_keys;
        ring.activate(&stored_key("k1", at(0)), None).await.unwrap();
        let (a, b) = (stored_key("a", at(60)), stored_key("b", at(60)));
        let (ra, rb) = tokio::join!(ring.activate(&a, Some("k1")), ring.activate(&b, Some("k1")));
        assert_eq!(ra.is_ok() as u8 + rb.is_ok() as u8, 1, "{ra:?} {rb:?}");
        let keys = ring.list().await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(active_kids(&keys).len(), 1);
    }

    pub async fn delete_retired_before_keeps_the_active_key_and_recent_ones(stores: &Stores) {
        let ring = &stores.signing_keys;
        ring.activate(&stored_key("k1", at(0)), None).await.unwrap();
        ring.activate(&stored_key("k2", at(100)), Some("k1"))
            .await
            .unwrap();
        ring.activate(&stored_key("k3", at(200)), Some("k2"))
            .await
            .unwrap();
        // k1 retired at 100, k2 at 200, k3 active.
        assert_eq!(ring.delete_retired_before(at(150)).await.unwrap(), 1);
        let kids: Vec<String> = ring.list().await.unwrap().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, ["k3", "k2"]);
        let far = at(200) + Duration::days(3650);
        assert_eq!(ring.delete_retired_before(far).await.unwrap(), 1);
        let keys = ring.list().await.unwrap();
        assert_eq!(active_kids(&keys), ["k3"], "the active key is never deleted");
    }
}

pub use behaviours::*;

#[cfg(test)]
mod tests {
    crate::signing_key_repository_contract!(async { Some(crate::Stores::in_memory()) });
}
