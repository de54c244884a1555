//! [`TierNames`]: the foreign key from users to tiers, shared by their fakes.
//!
//! The SQL schema refuses a user whose tier does not exist and the deletion of
//! a tier a user holds. The users and tiers fakes keep those rules by each
//! holding this one registry, so neither reaches into the other.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use latch_domain::UserId;

/// The tiers that exist, and which tier each user (deleted ones included) holds.
#[derive(Debug, Default)]
pub struct TierNames {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    names: HashSet<String>,
    holders: HashMap<UserId, String>,
}

impl TierNames {
    /// Whether tier `name` exists.
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.inner().names.contains(name)
    }

    /// Records that tier `name` exists.
    pub(crate) fn add(&self, name: &str) {
        self.inner().names.insert(name.to_owned());
    }

    /// Forgets tier `name` unless a user holds it; says whether it did.
    pub(crate) fn remove_unheld(&self, name: &str) -> bool {
        let mut inner = self.inner();
        if inner.holders.values().any(|tier| tier == name) {
            return false;
        }
        inner.names.remove(name);
        true
    }

    /// Records that user `id` now holds tier `tier`.
    pub(crate) fn hold(&self, id: UserId, tier: &str) {
        self.inner().holders.insert(id, tier.to_owned());
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
