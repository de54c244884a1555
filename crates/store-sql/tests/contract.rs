//! The store passes the repository contracts on SQLite and on PostgreSQL,
//! each test on its own fresh database.

use latch_store_sql::{SqlStore, StoreOptions};
use latch_testkit::Stores;
use latch_testkit::databases::TestDatabase;
use std::sync::Arc;

#[allow(clippy::expect_used)]
async fn stores_on(database: TestDatabase) -> Stores {
    let store = SqlStore::connect(database.url(), &StoreOptions::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Stores {
        users: Arc::new(store.users()),
        sessions: Arc::new(store.sessions()),
        tiers: Arc::new(store.tiers()),
        audit: Arc::new(store.audit()),
        changes: Arc::new(store.changes()),
        leases: Arc::new(store.leases()),
        guard: Some(Box::new(database)),
    }
}

mod sqlite {
    use super::*;

    async fn fresh() -> Option<Stores> {
        Some(stores_on(TestDatabase::sqlite()).await)
    }

    mod users {
        latch_testkit::user_repository_contract!(super::fresh());
    }

    mod sessions {
        latch_testkit::session_repository_contract!(super::fresh());
    }

    mod tiers {
        latch_testkit::tier_repository_contract!(super::fresh());
    }

    mod audit {
        latch_testkit::audit_log_contract!(super::fresh());
    }

    mod changes {
        latch_testkit::auth_change_log_contract!(super::fresh());
    }

    mod leases {
        latch_testkit::cache_leases_contract!(super::fresh());
    }
}

mod postgres {
    use super::*;

    async fn fresh() -> Option<Stores> {
        Some(stores_on(TestDatabase::postgres().await?).await)
    }

    mod users {
        latch_testkit::user_repository_contract!(super::fresh());
    }

    mod sessions {
        latch_testkit::session_repository_contract!(super::fresh());
    }

    mod tiers {
        latch_testkit::tier_repository_contract!(super::fresh());
    }

    mod audit {
        latch_testkit::audit_log_contract!(super::fresh());
    }

    mod changes {
        latch_testkit::auth_change_log_contract!(super::fresh());
    }

    mod leases {
        latch_testkit::cache_leases_contract!(super::fresh());
    }

    /// `PgChangeSignal` wakes on a recorded write made through another connection.
    #[allow(clippy::expect_used, clippy::unwrap_used)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_recorded_write_wakes_the_change_signal() {
        use latch_ports::UserRepository;
        use std::time::Duration;

        let Some(database) = TestDatabase::postgres().await else {
            return;
        };
        let store = SqlStore::connect(database.url(), &StoreOptions::default())
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        let now = chrono::Utc::now();
        let users = store.users();
        let ada = users
            .create(latch_testkit::users::new_user("ada@example.com", None, now))
            .await
            .unwrap()
            .id;
        let signal = store.change_signal();
        let woken = tokio::spawn(async move { signal.changed().await });
        // The listener connects in the background: write until it has heard one.
        let heard = tokio::time::timeout(Duration::from_secs(10), async {
            while !woken.is_finished() {
                users.soft_delete(ada, now).await.unwrap();
                users.restore(ada, now).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(heard.is_ok(), "no NOTIFY reached the signal within 10 s");
    }
}
