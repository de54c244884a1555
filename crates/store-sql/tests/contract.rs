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
        email_links: Arc::new(store.email_links()),
        outbox: Arc::new(store.outbox()),
        second_factors: Arc::new(store.second_factors()),
        mfa_challenges: Arc::new(store.mfa_challenges()),
        guard: Some(Box::new(database)),
    }
}

/// A database migrated before second factors, with a user and a session in
/// it, upgrades to one where the user has none and the session was a
/// password login.
#[allow(clippy::expect_used, clippy::unwrap_used)]
async fn upgrade_keeps_old_users_and_sessions(database: TestDatabase) {
    use latch_domain::{AuthMethods, SessionId, UserId};
    use latch_migrations::{Migrator, MigratorTrait};
    use latch_ports::{SessionRepository, UserRepository};
    use sea_orm::sea_query::{Alias, Query};
    use sea_orm::{ConnectionTrait, Database};

    /// The migrations before `m20261206_000008_second_factor`.
    const BEFORE_SECOND_FACTORS: u32 = 7;
    let db = Database::connect(database.url()).await.expect("connect");
    Migrator::up(&db, Some(BEFORE_SECOND_FACTORS))
        .await
        .expect("migrate");
    let (user, session, now) = (UserId::generate(), SessionId::generate(), chrono::Utc::now());
    let insert_user = Query::insert()
        .into_table(Alias::new("users"))
        .columns(
            [
                "id",
                "email",
                "email_normalized",
                "password_hash",
                "tier",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            user.0.into(),
            "ada@example.com".into(),
            "ada@example.com".into(),
            latch_testkit::users::NEW_USER_HASH.into(),
            "free".into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    db.execute(&insert_user).await.expect("insert a user");
    let insert_session = Query::insert()
        .into_table(Alias::new("sessions"))
        .columns(["id", "user_id", "created_at", "last_used_at", "expires_at"].map(Alias::new))
        .values_panic([
            session.0.into(),
            user.0.into(),
            now.into(),
            now.into(),
            (now + chrono::Duration::days(1)).into(),
        ])
        .to_owned();
    db.execute(&insert_session).await.expect("insert a session");
    db.close().await.expect("close");

    let store = SqlStore::connect(database.url(), &StoreOptions::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate the rest");
    let found = store.users().find_by_id(user).await.unwrap().unwrap();
    assert!(!found.mfa_enabled);
    let found = store.sessions().find(session).await.unwrap().unwrap();
    assert_eq!(found.auth_methods, AuthMethods::Password);
}

mod sqlite {
    use super::*;

    async fn fresh() -> Option<Stores> {
        Some(stores_on(TestDatabase::sqlite()).await)
    }

    latch_testkit::store_contracts!(fresh);

    #[tokio::test]
    async fn upgrade_keeps_old_users_and_sessions() {
        super::upgrade_keeps_old_users_and_sessions(TestDatabase::sqlite()).await;
    }
}

mod postgres {
    use super::*;

    async fn fresh() -> Option<Stores> {
        Some(stores_on(TestDatabase::postgres().await?).await)
    }

    latch_testkit::store_contracts!(fresh);

    #[tokio::test]
    async fn upgrade_keeps_old_users_and_sessions() {
        let Some(database) = TestDatabase::postgres().await else {
            return;
        };
        super::upgrade_keeps_old_users_and_sessions(database).await;
    }

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
