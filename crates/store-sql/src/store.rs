//! Connecting to the database and running migrations.

use std::sync::Arc;
use std::time::Duration;

use latch_migrations::{Migrator, MigratorTrait};
use latch_ports::ChangeSignal;
use sea_orm::sqlx::postgres::PgSslMode;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::loopback::plaintext_on_loopback;
use crate::{
    NoChangeSignal, PgChangeSignal, SqlAuditLog, SqlAuthChangeLog, SqlCacheLeases, SqlSessionRepository,
    SqlSigningKeyRepository, SqlTierRepository, SqlUserRepository,
};

/// Over plain TCP, a pooled connection idle this long is pinged before use.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Pool settings for [`SqlStore::connect`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Why the store could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `postgres://` nor `sqlite:`.
    #[error("database.url must start with postgres:// or sqlite: (got {0:?})")]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sea_orm::DbErr),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[source] sea_orm::DbErr),
}

/// An open connection pool and the repositories built on it.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
}

impl SqlStore {
    /// Opens a pool for `url` (`postgres://...` or `sqlite://path?mode=rwc`).
    /// SQLite gets WAL and `synchronous=NORMAL`: the durable-enough setting
    /// that keeps concurrent logins from queueing on fsync. A PostgreSQL on a
    /// loopback address with no `sslmode` gets plain TCP (see `loopback.rs`).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let is_sqlite = url.starts_with("sqlite:");
        if !is_sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        }
        let mut connect = ConnectOptions::new(url);
        connect
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .sqlx_logging(false);
        if is_sqlite {
            // A connection to a file cannot drop: no ping before each statement.
            connect.test_before_acquire(false);
            connect.map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .create_if_missing(true)
            });
        }
        if !is_sqlite && plaintext_on_loopback(url) {
            let mut plain = connect.clone();
            plain
                .map_sqlx_postgres_opts(|opts| opts.ssl_mode(PgSslMode::Disable))
                // sqlx pings every connection it hands out: a round trip per statement. Over
                // plain TCP to this host only a connection idle for a while is worth the check.
                // (Over TLS the ping stays: without it, a query split over two TLS records
                // waits for the server's delayed ACK; see docs/performance.md.)
                .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
            match Database::connect(plain).await {
                Ok(db) => return Ok(Self { db }),
                // E.g. a server that takes only TLS, even here: connect as the driver would.
                Err(err) => {
                    tracing::debug!(error = %err, "plain TCP to the loopback database failed; trying the driver's TLS mode")
                }
            }
        }
        let db = Database::connect(connect).await.map_err(StoreError::Connect)?;
        Ok(Self { db })
    }

    /// Wraps a pool the caller opened (Latch embedded in a service that owns
    /// the database). Its settings are the caller's: on SQLite, Latch's own
    /// pool turns on WAL, `synchronous=NORMAL`, a busy timeout and foreign keys.
    pub fn from_connection(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await.map_err(StoreError::Migrate)
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// Whether this pool's PostgreSQL connections use TLS (`None` on SQLite),
    /// for the start-up log.
    pub async fn uses_tls(&self) -> Result<Option<bool>, sea_orm::DbErr> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
        let row = self
            .db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?;
        row.map(|row| row.try_get_by_index::<bool>(0)).transpose()
    }

    /// `"postgres"` or `"sqlite"`, for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Postgres => "postgres",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }

    /// The users repository on this pool.
    pub fn users(&self) -> SqlUserRepository {
        SqlUserRepository::new(self.db.clone())
    }

    /// The sessions repository on this pool.
    pub fn sessions(&self) -> SqlSessionRepository {
        SqlSessionRepository::new(self.db.clone())
    }

    /// The audit trail on this pool.
    pub fn audit(&self) -> SqlAuditLog {
        SqlAuditLog::new(self.db.clone())
    }

    /// The change log the users and sessions repositories append to.
    pub fn changes(&self) -> SqlAuthChangeLog {
        SqlAuthChangeLog::new(self.db.clone())
    }

    /// The session-cache leases on this pool.
    pub fn leases(&self) -> SqlCacheLeases {
        SqlCacheLeases::new(self.db.clone())
    }

    /// What wakes this instance when another records a change: `LISTEN` on
    /// PostgreSQL, nothing on SQLite (lease renewals only).
    pub fn change_signal(&self) -> Arc<dyn ChangeSignal> {
        match self.db.get_database_backend() {
            DbBackend::Postgres => Arc::new(PgChangeSignal::new(self.db.clone())),
            _ => Arc::new(NoChangeSignal),
        }
    }

    /// The tiers repository on this pool.
    pub fn tiers(&self) -> SqlTierRepository {
        SqlTierRepository::new(self.db.clone())
    }

    /// The shared key ring on this pool.
    pub fn signing_keys(&self) -> SqlSigningKeyRepository {
        SqlSigningKeyRepository::new(self.db.clone())
    }

    /// Closes the pool.
    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}

/// `url` without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_credentials() {
        assert_eq!(redact("mysql://u:secret@h/db"), "mysql://***@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
