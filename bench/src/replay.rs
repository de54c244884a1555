//! The refresh ceiling: the statements one Latch refresh runs, replayed with
//! sqlx straight against the database Latch migrated, pgbench-style.
//!
//! A refresh (crates/core/src/refresh.rs over crates/store-sql/src/sessions.rs
//! and sessions/context.rs) reads the refresh token by hash, its session by id
//! and the user by id on one pooled connection, then rotates in one
//! transaction: the conditional `UPDATE` that claims the parent token, the
//! `INSERT ... RETURNING` of the successor and the `UPDATE` of the session's
//! `last_used_at`. Here each of `tasks` tasks holds one connection and follows
//! its own chain of rows the bench inserted for the bench account, with the
//! same statement shapes and bound types as Latch sends. What this leaves out
//! is all Latch adds: HTTP, JSON, the JWT signature, sea-orm's row mapping and
//! its connection pool (which pings each connection handed back to it: twice
//! per refresh, once after the reads and once after the transaction).

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection as _, Row as _};
use uuid::Uuid;

use crate::error::BenchError;

/// Every statement the replay sends, written once with Postgres placeholders.
const TOKEN_BY_HASH: &str = r#"SELECT "id", "session_id", "token_hash", "parent_id", "created_at", "expires_at", "rotated_at", "successor_id", "successor_sealed" FROM "refresh_tokens" WHERE "refresh_tokens"."token_hash" = $1"#;
const SESSION_BY_ID: &str = r#"SELECT "id", "user_id", "created_at", "last_used_at", "expires_at", "revoked_at", "user_agent", "ip", "auth_methods" FROM "sessions" WHERE "sessions"."id" = $1"#;
const USER_BY_ID: &str = r#"SELECT "id", "email", "email_normalized", "username", "username_normalized", "name", "avatar_url", "password_hash", "is_active", "is_staff", "is_superuser", "tier", "email_verified", "created_at", "updated_at", "last_login_at", "deleted_at", "mfa_enabled" FROM "users" WHERE "users"."id" = $1"#;
const CLAIM_TOKEN: &str = r#"UPDATE "refresh_tokens" SET "rotated_at" = $1, "successor_id" = $2, "successor_sealed" = $3 WHERE "refresh_tokens"."id" = $4 AND "refresh_tokens"."rotated_at" IS NULL"#;
const INSERT_TOKEN: &str = r#"INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "parent_id", "created_at", "expires_at", "rotated_at", "successor_id", "successor_sealed") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING "id", "session_id", "token_hash", "parent_id", "created_at", "expires_at", "rotated_at", "successor_id", "successor_sealed""#;
const TOUCH_SESSION: &str = r#"UPDATE "sessions" SET "last_used_at" = $1 WHERE "sessions"."id" = $2"#;
/// Set-up only: one session per chain.
const INSERT_SESSION: &str = r#"INSERT INTO "sessions" ("id", "user_id", "created_at", "last_used_at", "expires_at", "revoked_at", "user_agent", "ip", "auth_methods") VALUES ($1, $2, $3, $4, $5, NULL, 'latch-bench replay', '127.0.0.1', 'pwd')"#;
/// Set-up only: the account the chains belong to.
const USER_BY_EMAIL: &str = r#"SELECT "id" FROM "users" WHERE "users"."email_normalized" = $1"#;

/// The statements in one backend's placeholder syntax.
struct Statements {
    token_by_hash: String,
    session_by_id: String,
    user_by_id: String,
    claim_token: String,
    insert_token: String,
    touch_session: String,
    insert_session: String,
    user_by_email: String,
}

impl Statements {
    /// `$n` placeholders as written, or `?` for SQLite (each `$n` appears once, in order).
    fn new(sqlite: bool) -> Self {
        let convert = |sql: &str| {
            if !sqlite {
                return sql.to_owned();
            }
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' {
                    out.push('?');
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                } else {
                    out.push(c);
                }
            }
            out
        };
        Self {
            token_by_hash: convert(TOKEN_BY_HASH),
            session_by_id: convert(SESSION_BY_ID),
            user_by_id: convert(USER_BY_ID),
            claim_token: convert(CLAIM_TOKEN),
            insert_token: convert(INSERT_TOKEN),
            touch_session: convert(TOUCH_SESSION),
            insert_session: convert(INSERT_SESSION),
            user_by_email: convert(USER_BY_EMAIL),
        }
    }
}

/// One task's chain: the session and its current (unrotated) token.
struct Chain {
    session_id: Uuid,
    hash: Vec<u8>,
}

/// What one task did.
#[derive(Default)]
struct TaskOutcome {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// The replay's figures.
pub(crate) struct ReplayResult {
    /// Completed rotations (all eight statements) per second, over all tasks.
    pub per_second: f64,
    /// 99th percentile of one rotation's time.
    pub p99_ms: f64,
    pub rotations: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl ReplayResult {
    /// The mean of two replays' rates and p99s, with their counts added up.
    pub(crate) fn averaged_with(self, other: Self) -> Self {
        Self {
            per_second: (self.per_second + other.per_second) / 2.0,
            p99_ms: (self.p99_ms + other.p99_ms) / 2.0,
            rotations: self.rotations + other.rotations,
            errors: self.errors + other.errors,
            first_error: self.first_error.or(other.first_error),
        }
    }
}

/// 32 random bytes: a token hash or a sealed successor (their content does not matter here).
fn random_32() -> Vec<u8> {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes
}

/// Expands to the two functions one backend needs: inserting a chain and
/// running one rotation, the same code for both connection types (sqlx's
/// generic bounds for this are longer than the code).
macro_rules! backend_fns {
    ($insert_chain:ident, $rotate:ident, $conn:ty) => {
        /// Inserts a session of `user_id` and its first refresh token.
        async fn $insert_chain(
            conn: &mut $conn,
            sql: &Statements,
            user_id: Uuid,
        ) -> Result<Chain, sqlx::Error> {
            let now: DateTime<Utc> = Utc::now();
            let session_id = Uuid::now_v7();
            let hash = random_32();
            sqlx::query(AssertSqlSafe(sql.insert_session.as_str()))
                .bind(session_id)
                .bind(user_id)
                .bind(now)
                .bind(now)
                .bind(now + chrono::Duration::days(30))
                .execute(&mut *conn)
                .await?;
            sqlx::query(AssertSqlSafe(sql.insert_token.as_str()))
                .bind(Uuid::now_v7())
                .bind(session_id)
                .bind(hash.clone())
                .bind(None::<Uuid>)
                .bind(now)
                .bind(now + chrono::Duration::days(7))
                .bind(None::<DateTime<Utc>>)
                .bind(None::<Uuid>)
                .bind(None::<Vec<u8>>)
                .fetch_one(&mut *conn)
                .await?;
            Ok(Chain { session_id, hash })
        }

        /// One refresh's statements; moves `chain` on to the successor.
        async fn $rotate(conn: &mut $conn, sql: &Statements, chain: &mut Chain) -> Result<(), sqlx::Error> {
            let now: DateTime<Utc> = Utc::now();
            let token = sqlx::query(AssertSqlSafe(sql.token_by_hash.as_str()))
                .bind(chain.hash.clone())
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
            let token_id: Uuid = token.try_get("id")?;
            let session_id: Uuid = token.try_get("session_id")?;
            let session = sqlx::query(AssertSqlSafe(sql.session_by_id.as_str()))
                .bind(session_id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
            let user_id: Uuid = session.try_get("user_id")?;
            sqlx::query(AssertSqlSafe(sql.user_by_id.as_str()))
                .bind(user_id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;

            let successor_id = Uuid::now_v7();
            let successor_hash = random_32();
            let mut txn = conn.begin().await?;
            let claimed = sqlx::query(AssertSqlSafe(sql.claim_token.as_str()))
                .bind(Some(now))
                .bind(Some(successor_id))
                .bind(Some(random_32()))
                .bind(token_id)
                .execute(&mut *txn)
                .await?;
            if claimed.rows_affected() != 1 {
                txn.rollback().await?;
                return Err(sqlx::Error::RowNotFound);
            }
            sqlx::query(AssertSqlSafe(sql.insert_token.as_str()))
                .bind(successor_id)
                .bind(session_id)
                .bind(successor_hash.clone())
                .bind(Some(token_id))
                .bind(now)
                .bind(now + chrono::Duration::days(7))
                .bind(None::<DateTime<Utc>>)
                .bind(None::<Uuid>)
                .bind(None::<Vec<u8>>)
                .fetch_one(&mut *txn)
                .await?;
            sqlx::query(AssertSqlSafe(sql.touch_session.as_str()))
                .bind(now)
                .bind(chain.session_id)
                .execute(&mut *txn)
                .await?;
            txn.commit().await?;
            chain.hash = successor_hash;
            Ok(())
        }
    };
}

backend_fns!(insert_chain_pg, rotate_pg, PgConnection);
backend_fns!(insert_chain_sqlite, rotate_sqlite, SqliteConnection);

/// Rotates `chain` on `conn` until `deadline`, timing each rotation.
macro_rules! chain_loop {
    ($rotate:ident, $conn:expr, $sql:expr, $chain:expr, $deadline:expr) => {{
        let mut outcome = TaskOutcome::default();
        while Instant::now() < $deadline {
            let started = Instant::now();
            match $rotate($conn, $sql, &mut $chain).await {
                Ok(()) => outcome.latencies.push(started.elapsed()),
                Err(err) => {
                    outcome.errors += 1;
                    outcome.first_error.get_or_insert_with(|| err.to_string());
                }
            }
        }
        outcome
    }};
}

/// Runs the replay against `database_url` (Postgres, or Latch's SQLite file
/// with Latch's pragmas) with `tasks` connections for `duration`, after a
/// warm-up of `warmup`, on chains of the account whose normalized email is `email`.
pub(crate) fn refresh_ceiling(
    database_url: &str,
    email: &str,
    tasks: u32,
    warmup: Duration,
    duration: Duration,
) -> Result<ReplayResult, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let sql = std::sync::Arc::new(Statements::new(database_url.starts_with("sqlite:")));
    let outcomes = runtime.block_on(async {
        if database_url.starts_with("sqlite:") {
            // As crates/store-sql/src/store.rs opens it.
            let options = SqliteConnectOptions::from_str(database_url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(tasks)
                .connect_with(options)
                .await?;
            let mut conn = pool.acquire().await?;
            let user_id: Uuid = sqlx::query(AssertSqlSafe(sql.user_by_email.as_str()))
                .bind(email)
                .fetch_one(&mut *conn)
                .await?
                .try_get("id")?;
            drop(conn);
            let mut handles = Vec::new();
            for _ in 0..tasks {
                let pool = pool.clone();
                let sql = std::sync::Arc::clone(&sql);
                handles.push(tokio::spawn(async move {
                    let mut conn = pool.acquire().await?;
                    let mut chain = insert_chain_sqlite(&mut conn, &sql, user_id).await?;
                    let warm_until = Instant::now() + warmup;
                    chain_loop!(rotate_sqlite, &mut conn, &sql, chain, warm_until);
                    let deadline = Instant::now() + duration;
                    Ok::<_, sqlx::Error>(chain_loop!(rotate_sqlite, &mut conn, &sql, chain, deadline))
                }));
            }
            let outcomes = join(handles).await;
            pool.close().await;
            outcomes
        } else {
            let mut options = PgConnectOptions::from_str(database_url)?;
            // As crates/store-sql/src/store.rs connects (a server refusing plain TCP would fail here).
            if latch_store_sql::plaintext_on_loopback(database_url) {
                options = options.ssl_mode(PgSslMode::Disable);
            }
            let pool = PgPoolOptions::new()
                .max_connections(tasks)
                .connect_with(options)
                .await?;
            let mut conn = pool.acquire().await?;
            let user_id: Uuid = sqlx::query(AssertSqlSafe(sql.user_by_email.as_str()))
                .bind(email)
                .fetch_one(&mut *conn)
                .await?
                .try_get("id")?;
            drop(conn);
            let mut handles = Vec::new();
            for _ in 0..tasks {
                let pool = pool.clone();
                let sql = std::sync::Arc::clone(&sql);
                handles.push(tokio::spawn(async move {
                    let mut conn = pool.acquire().await?;
                    let mut chain = insert_chain_pg(&mut conn, &sql, user_id).await?;
                    let warm_until = Instant::now() + warmup;
                    chain_loop!(rotate_pg, &mut conn, &sql, chain, warm_until);
                    let deadline = Instant::now() + duration;
                    Ok::<_, sqlx::Error>(chain_loop!(rotate_pg, &mut conn, &sql, chain, deadline))
                }));
            }
            let outcomes = join(handles).await;
            pool.close().await;
            outcomes
        }
    })?;
    let mut latencies: Vec<Duration> = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for outcome in outcomes {
        latencies.extend(outcome.latencies);
        errors += outcome.errors;
        first_error = first_error.or(outcome.first_error);
    }
    latencies.sort();
    let p99 = latencies
        .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    Ok(ReplayResult {
        per_second: latencies.len() as f64 / duration.as_secs_f64(),
        p99_ms: p99.as_secs_f64() * 1000.0,
        rotations: latencies.len() as u64,
        errors,
        first_error,
    })
}

/// Waits for every task; a task that failed to set up fails the replay.
async fn join(
    handles: Vec<tokio::task::JoinHandle<Result<TaskOutcome, sqlx::Error>>>,
) -> Result<Vec<TaskOutcome>, BenchError> {
    let mut outcomes = Vec::with_capacity(handles.len());
    for handle in handles {
        let outcome = handle
            .await
            .map_err(|err| BenchError::Setup(format!("a replay task ended abnormally: {err}")))??;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
