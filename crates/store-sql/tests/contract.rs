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
        signing_keys: Arc::new(store.signing_keys()),
        guard: Some(Box::new(database)),
    }
}

mod sqlite {
    use super::*;

    async fn fresh() -> Option<Stores> {
        Some(stores_on(TestDatabase::sqlite()).await)
    }

    latch_testkit::store_contracts!(fresh);
}

mod postgres {
    use super::*;

    async fn fresh() -> Option<Stores> {
        Some(stores_on(TestDatabase::postgres().await?).await)
    }

    latch_testkit::store_contracts!(fresh);

    /// A server on a loopback address, with no `sslmode` named, is reached
    /// over plain TCP (see `loopback.rs`); a named mode is obeyed.
    #[allow(clippy::expect_used)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loopback_goes_plain_unless_a_mode_is_named() {
        let Some(database) = TestDatabase::postgres().await else {
            return;
        };
        if !latch_store_sql::plaintext_on_loopback(database.url()) {
            eprintln!("SKIPPED: the test database URL is not a loopback one without sslmode");
            return;
        }
        let plain = SqlStore::connect(database.url(), &StoreOptions::default())
            .await
            .expect("connect");
        assert_eq!(plain.uses_tls().await.expect("pg_stat_ssl"), Some(false));

        let separator = if database.url().contains('?') { '&' } else { '?' };
        let named = format!("{}{separator}sslmode=prefer", database.url());
        if !server_offers_tls(&named).await {
            eprintln!("the server has TLS off: only the plain connection was checked");
            return;
        }
        let preferred = SqlStore::connect(&named, &StoreOptions::default())
            .await
            .expect("connect with sslmode=prefer");
        assert_eq!(preferred.uses_tls().await.expect("pg_stat_ssl"), Some(true));
    }

    /// `SHOW ssl` on the server at `url`.
    #[allow(clippy::expect_used)]
    async fn server_offers_tls(url: &str) -> bool {
        use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
        let db = Database::connect(url).await.expect("connect");
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, "SHOW ssl"))
            .await
            .expect("SHOW ssl")
            .expect("a row");
        row.try_get_by_index::<String>(0).expect("text") == "on"
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
