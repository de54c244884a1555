//! The `AuditLog` contract, and an in-memory fake that passes it.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Duration;
use latch_domain::{AuditAction, AuditEvent, Timestamp, UserId};
use latch_ports::{AuditLog, AuditPage, Clock, RepositoryError};
use uuid::Uuid;

use crate::{FixedClock, Stores};

/// The audit trail in a vector.
#[derive(Debug, Default)]
pub struct InMemoryAuditLog {
    events: Mutex<Vec<AuditEvent>>,
}

#[async_trait]
impl AuditLog for InMemoryAuditLog {
    async fn record(&self, event: &AuditEvent) -> Result<(), RepositoryError> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event.clone());
        Ok(())
    }

    async fn list(
        &self,
        user: Option<UserId>,
        page: u64,
        per_page: u64,
    ) -> Result<AuditPage, RepositoryError> {
        let mut matching: Vec<AuditEvent> = self
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .filter(|e| user.is_none_or(|u| e.actor_id == Some(u) || e.target_id == Some(u)))
            .cloned()
            .collect();
        matching.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
        let total = matching.len() as u64;
        let skip = usize::try_from(page.saturating_sub(1).saturating_mul(per_page)).unwrap_or(usize::MAX);
        let items = matching
            .into_iter()
            .skip(skip)
            .take(usize::try_from(per_page).unwrap_or(usize::MAX))
            .collect();
        Ok(AuditPage { items, total })
    }
}

// ---- the contract ---------------------------------------------------------

/// Expands the `AuditLog` contract into one `#[tokio::test]` per behaviour.
/// `$make` is an expression whose `.await` yields `Option<latch_testkit::Stores>`.
#[macro_export]
macro_rules! audit_log_contract {
    ($make:expr) => {
        $crate::audit_log_contract!(@tests $make;
            record_then_list_newest_first,
            list_filters_by_actor_or_target,
            list_pages_with_a_total,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::audit::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use super::*;

    fn event(
        action: AuditAction,
        actor: Option<UserId>,
        target: Option<UserId>,
        at: Timestamp,
    ) -> AuditEvent {
        AuditEvent {
            id: Uuid::now_v7(),
            at,
            action,
            actor_id: actor,
            target_id: target,
            ip: Some("192.0.2.1".into()),
            user_agent: Some("contract-test/1.0".into()),
        }
    }

    pub async fn record_then_list_newest_first(stores: &Stores) {
        let clock = FixedClock::new();
        let ada = Some(UserId::generate());
        let first = event(AuditAction::Signup, ada, ada, clock.now());
        clock.advance(Duration::seconds(1));
        let second = event(AuditAction::LoginFailed, None, ada, clock.now());
        stores.audit.record(&first).await.unwrap();
        stores.audit.record(&second).await.unwrap();
        let page = stores.audit.list(None, 1, 10).await.unwrap();
        assert_eq!(page.items, vec![second, first]);
        assert_eq!(page.total, 2);
    }

    pub async fn list_filters_by_actor_or_target(stores: &Stores) {
        let now = FixedClock::new().now();
        let (admin, ada, bob) = (
            Some(UserId::generate()),
            Some(UserId::generate()),
            Some(UserId::generate()),
        );
        let by_admin = event(AuditAction::AdminUserChanged, admin, ada, now);
        let by_ada = event(AuditAction::PasswordChanged, ada, ada, now);
        let by_bob = event(AuditAction::Logout, bob, bob, now);
        for e in [&by_admin, &by_ada, &by_bob] {
            stores.audit.record(e).await.unwrap();
        }
        let ada_page = stores.audit.list(ada, 1, 10).await.unwrap();
        let mut ids: Vec<Uuid> = ada_page.items.iter().map(|e| e.id).collect();
        ids.sort();
        let mut expected = vec![by_admin.id, by_ada.id];
        expected.sort();
        assert_eq!((ids, ada_page.total), (expected, 2));
        assert_eq!(
            stores.audit.list(admin, 1, 10).await.unwrap().items,
            vec![by_admin]
        );
    }

    pub async fn list_pages_with_a_total(stores: &Stores) {
        let clock = FixedClock::new();
        for _ in 0..5 {
            stores
                .audit
                .record(&event(AuditAction::Logout, None, None, clock.now()))
                .await
                .unwrap();
            clock.advance(Duration::seconds(1));
        }
        let last = stores.audit.list(None, 3, 2).await.unwrap();
        assert_eq!((last.items.len(), last.total), (1, 5));
        let beyond = stores.audit.list(None, 4, 2).await.unwrap();
        assert_eq!((beyond.items.len(), beyond.total), (0, 5));
    }
}

pub use behaviours::*;

#[cfg(test)]
mod tests {
    crate::audit_log_contract!(async { Some(crate::Stores::in_memory()) });
}
