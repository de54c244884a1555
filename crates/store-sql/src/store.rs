//! Connecting to the database and running migrations.

use std::sync::Arc;
use std::time::Duration;

use latch_migrations::{Migrator, MigratorTrait};
use latch_ports::ChangeSignal;
use sea_orm::sqlx::postgres::{PgPoolOptions, PgSslMode};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseConnectionType, DbBackend,
    SqlxPostgresConnector, Statement,
};

use crate::bounded::BoundedPool;
use crate::loopback::plaintext_on_loopback;
use crate::{
    NoChangeSignal, PgChangeSignal, SqlAuditLog, SqlAuthChangeLog, SqlCacheLeases, SqlEmailLinkRepository,
    SqlEmailOutbox, SqlMfaChallengeRepository, SqlSecondFactorRepository, SqlSessionRepository,
    SqlSigningKeyRepository, SqlTierRepository, SqlUserRepository,
};

/// Over plain TCP, a pooled connection idle this long is pinged before use.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Pool settings for [`SqlStore::connect`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a request waits for a connection (a free one, or a new one
    /// opened) before failing.
    pub acquire_timeout: Duration,
    /// PostgreSQL: the server cancels a statement running longer (its
    /// `statement_timeout`), and Latch stops waiting for an answer shortly
    /// after, so a database that stops answering fails requests instead of
    /// holding them.
    pub statement_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// The connection pool's use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open, idle or in use.
    pub open: u32,
    /// Of those, the idle ones.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
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
    /// The same pool, its statements bounded by the options' timeouts.
    bounded: BoundedPool,
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
        if !is_sqlite {
            connect.statement_timeout(options.statement_timeout);
        }
        let opened = |db: DatabaseConnection| Self {
            bounded: BoundedPool::new(db.clone(), options.acquire_timeout, options.statement_timeout),
            db,
        };
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
                Ok(db) => return Ok(opened(db)),
                // E.g. a server that takes only TLS, even here: connect as the driver would.
                Err(err) => {
                    tracing::debug!(error = %err, "plain TCP to the loopback database failed; trying the driver's TLS mode")
                }
            }
        }
        let db = Database::connect(connect).await.map_err(StoreError::Connect)?;
        Ok(opened(db))
    }

    /// Wraps a pool the caller opened (Latch embedded in a service that owns
    /// the database). Its settings are the caller's: on SQLite, Latch's own
    /// pool turns on WAL, `synchronous=NORMAL`, a busy timeout and foreign keys.
    pub fn from_connection(db: DatabaseConnection) -> Self {
        Self {
            bounded: BoundedPool::unbounded(db.clone()),
            db,
        }
    }

    /// Applies every pending migration. On PostgreSQL they run on a
    /// connection of their own without `statement_timeout`: building an
    /// index on a big table may take longer than any request should.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Migrator::up(&self.db, None).await.map_err(StoreError::Migrate);
        }
        let pool = self.db.get_postgres_connection_pool();
        // A later `-c` wins: this overrides the pool's statement_timeout.
        let options = (*pool.connect_options())
            .clone()
            .options([("statement_timeout", "0")]);
        let unbounded = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(pool.options().get_acquire_timeout())
            .connect_with(options)
            .await
            .map_err(|err| {
                StoreError::Connect(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err.into())))
            })?;
        let db = SqlxPostgresConnector::from_sqlx_postgres_pool(unbounded);
        let migrated = Migrator::up(&db, None).await.map_err(StoreError::Migrate);
        let _ = db.close().await;
        migrated
    }

    /// Whether the database answers (for `/readyz`), within the acquire and
    /// statement timeouts.
    pub async fn ping(&self) -> bool {
        self.bounded.within_pooled(self.db.ping()).await.is_ok()
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

    /// How many connections the pool holds, how many of them are idle, and
    /// the most it opens; `None` for a connection that is not an sqlx pool.
    pub fn pool_usage(&self) -> Option<PoolUsage> {
        // The getters panic on the other backend: check which one this is first.
        let (open, idle, max) = match &self.db.inner {
            DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            _ => return None,
        };
        Some(PoolUsage {
            open,
            idle: u32::try_from(idle).unwrap_or(open),
            max,
        })
    }

    /// The users repository on this pool.
    pub fn users(&self) -> SqlUserRepository {
        SqlUserRepository::new(self.bounded.clone())
    }

    /// The sessions repository on this pool.
    pub fn sessions(&self) -> SqlSessionRepository {
        SqlSessionRepository::new(self.bounded.clone())
    }

    /// The audit trail on this pool.
    pub fn audit(&self) -> SqlAuditLog {
        SqlAuditLog::new(self.bounded.clone())
    }

    /// The change log the users and sessions repositories append to.
    pub fn changes(&self) -> SqlAuthChangeLog {
        SqlAuthChangeLog::new(self.bounded.clone())
    }

    /// The session-cache leases on this pool.
    pub fn leases(&self) -> SqlCacheLeases {
        SqlCacheLeases::new(self.bounded.clone())
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
        SqlTierRepository::new(self.bounded.clone())
    }

    /// The shared key ring on this pool.
    pub fn signing_keys(&self) -> SqlSigningKeyRepository {
        SqlSigningKeyRepository::new(self.bounded.clone())
    }

    /// The emailed links on this pool (issuing one queues its mails in the outbox).
    pub fn email_links(&self) -> SqlEmailLinkRepository {
        SqlEmailLinkRepository::new(self.bounded.clone())
    }

    /// The outbox of mails waiting for delivery on this pool.
    pub fn outbox(&self) -> SqlEmailOutbox {
        SqlEmailOutbox::new(self.bounded.clone())
    }

    /// The TOTP enrolments and recovery codes on this pool (confirming and
    /// removing one record the user's change).
    pub fn second_factors(&self) -> SqlSecondFactorRepository {
        SqlSecondFactorRepository::new(self.bounded.clone())
    }

    /// The logins waiting for their second factor on this pool.
    pub fn mfa_challenges(&self) -> SqlMfaChallengeRepository {
        SqlMfaChallengeRepository::new(self.bounded.clone())
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
